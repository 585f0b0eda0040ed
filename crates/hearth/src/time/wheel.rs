//! The timer wheel: hierarchical, six levels of 64 slots, 1 ms per tick.
//!
//! Pure data structure, no clock: times are *ticks* (milliseconds since the
//! driver started) and every operation is given the current tick. Level `L`
//! slots span `64^L` ticks, so the wheel covers `64^6` ms (about 2.2 years)
//! ahead of `elapsed`; a later timer waits in the top level and is placed
//! again when that slot comes round.
//!
//! # Layout
//!
//! A pending timer is an [`Item`] (tick, deadline, waker, key) stored *in*
//! its slot: a slot is a chain of fixed-size chunks of items, in arrival
//! order, and all chunks come from one arena with a free list. A [`Key`]
//! indexes `locs`, which says where the key's item is (4 bytes a timer, so
//! the table stays small and in cache). So:
//!
//! - insert appends to the slot's tail chunk;
//! - cancel finds the item through `locs`, takes its waker and leaves a
//!   tombstone (`key == NIL`). A slot whose tombstones outnumber its timers
//!   twice over is compacted, so cancel is O(1) amortized and a slot's
//!   tombstones stay bounded by its timers (plus one chunk);
//! - a slot that comes due is drained chunk by chunk, reading its items in
//!   sequence: due timers fire, the others move to a lower slot (a write of
//!   the item and of its `loc`). Each drained chunk goes back to the free
//!   list, to be the next one written, while it is still in cache.
//!
//! Cascading and firing thus stream through memory instead of chasing one
//! pointer per timer, and firing needs nothing but the item.
//!
//! # Memory comes back
//!
//! A burst of timers grows the arena and `locs`; once it is over, they
//! shrink, so a burst does not pin its peak for the life of the executor:
//!
//! - when more than three quarters of the arena are free chunks (and more
//!   than [`CHUNK_RESERVE`] of them), [`release_chunks`](Wheel::release_chunks)
//!   moves the chunks in use from the end of the arena into free ones nearer
//!   the start (fixing their slot's links and their timers' `loc`s) and
//!   frees all free chunks but `CHUNK_RESERVE`. It costs O(arena), paid for
//!   by the chunks freed since it last ran (most of the arena). The lax
//!   trigger keeps moves few: each run moves at most the quarter of the
//!   arena in use, so a big wheel that drains moves about a third of its
//!   peak arena in all.
//! - when more than three quarters of the keys are free and none of the
//!   upper half is in use, [`maybe_release_keys`](Wheel::maybe_release_keys)
//!   cuts `locs` after the highest key in use (keys cannot move: a `Sleep`
//!   holds each) and rebuilds the free list lowest key first, so keys stay
//!   packed at the start and the next cut takes more. It looks every
//!   `locs.len() / 8` removals, and at once when every key is free; a look
//!   that cuts nothing stops at the highest key in use, one that cuts pays
//!   O(what it cuts).
//!
//! The checks sit where chunks and keys are freed (the end of
//! [`advance`](Wheel::advance), a compaction, a removal) and are a
//! comparison or two. After a burst, the wheel keeps at most
//! `CHUNK_RESERVE` free chunks (80 KiB) more than its timers need, and
//! `locs` up to its highest key in use (or [`KEY_RESERVE`] keys).
//!
//! A timer is owned by exactly one `Sleep`, which removes it on drop: a key
//! is never used after removal.
//!
//! # Invariants
//!
//! - A *pending* key's `loc` is the arena index (`chunk * CHUNK + offset`) of
//!   the one item with that key; the item's `pos` names its slot
//!   (`level * 64 + slot`), the slot `level_for(elapsed, when)` chose when
//!   it was last placed. `Slot::live` counts a slot's items with a key,
//!   `Slot::dead` its tombstones; a slot has chunks only while `live > 0`,
//!   and then a bit in `occupied`; `pending` is the sum of `live`.
//! - A *fired* key (`FIRED`) and a *free* key (`FREE_BIT`) have no item.
//! - Items not in use (in free chunks, or past `tail_len` in a tail chunk)
//!   are never read and hold no waker, so writing over one drops nothing.
//! - [`advance`](Wheel::advance) to tick `now` fires every pending timer with
//!   `when <= now` and leaves only timers with `when > now`. A timer's `when`
//!   is its deadline rounded *up* to a tick, so it never fires early. Timers
//!   due in the same tick are handed out in the wheel's order; the driver
//!   sorts them by their exact deadline.
//!
//! # Performance
//!
//! `cargo test -p hearth --release --lib one_million_timers -- --nocapture`:
//! 1,000,000 pending timers, deadlines spread evenly over an hour (so most
//! cascade three times); "fire" is, per timer, what the driver and a `Sleep`
//! do: advance to each next expiration, sort by deadline, wake, see it
//! fired, remove it. Medians of 3 interleaved runs on a 2-vCPU AMD EPYC VM
//! (where single runs swing by up to 1.5x): with intrusive lists, insert
//! 33.4 ns, cancel 17.2 ns, fire 299 ns; with chunks, insert 38.3 ns, cancel
//! 18.9 ns, fire 60.0 ns. The lists made cascading and firing walk each
//! slot through 48-byte entries in random memory order: one dependent cache
//! miss per timer per level, and a profile put 82% of the time on that one
//! load. Chunks are read in sequence instead. Insert pays for initializing
//! fresh chunks (safe Rust); a grown arena reuses them.
//!
//! Giving memory back (above) costs 1.8% more instructions over the whole
//! test and no more cache misses (cachegrind: 1.243 G to 1.264 G
//! instructions, D1 and LL misses unchanged), mostly two counters per
//! removal. By thread CPU time on a shared, loaded 2-vCPU VM (medians of 30
//! interleaved runs, where single runs swing by 1.3x), insert 1.0x, cancel
//! about 1.09x, fire about 1.1x of before; fire includes returning the
//! drained arena's pages to the system.

use hearth_task::LocalWaker;

/// Identifies an entry of the wheel.
pub(crate) type Key = u32;

const NIL: u32 = u32::MAX;
const LEVELS: usize = 6;
const SLOT_BITS: u32 = 6;
const SLOTS: usize = 1 << SLOT_BITS;
/// The farthest tick ahead of `elapsed` the levels can tell apart.
const MAX_SPAN: u64 = (1 << (SLOT_BITS as usize * LEVELS)) - 1;
/// Items per chunk (5 KiB): long enough runs for the prefetcher.
const CHUNK: usize = 128;
/// Free chunks kept when the arena shrinks (80 KiB): enough for the churn
/// of slots draining into lower ones without growing again at once.
const CHUNK_RESERVE: usize = 16;
/// Below this many keys, `locs` (4 bytes a key) is not worth shrinking.
const KEY_RESERVE: usize = 1024;

/// Where a key's timer is: while pending, the arena index of its item
/// (`chunk * CHUNK + offset`, below `FREE_BIT`); `FIRED`; or, while free,
/// `FREE_BIT | next free key`.
type Loc = u32;
/// `Loc` of a timer that has fired (its `Sleep` is done).
const FIRED: Loc = u32::MAX;
/// Tags the `Loc` of a free key.
const FREE_BIT: Loc = 1 << 31;
/// Ends the free list of keys (and bounds keys): `FREE_BIT | NO_KEY` is not
/// `FIRED`.
const NO_KEY: u32 = FREE_BIT - 2;

/// A pending timer, or a tombstone (`key == NIL`), in a chunk.
///
/// `repr(C)`: what cancel touches (waker, key, slot) comes first, so it
/// seldom spans two cache lines.
#[repr(C)]
struct Item {
    /// The task to wake; `None` until the first poll registers it.
    waker: Option<LocalWaker>,
    /// Its key, for `locs[key]` to follow it when it moves; `NIL` once
    /// cancelled.
    key: Key,
    /// Its slot (`level * 64 + slot`), so cancel reads no other line.
    pos: u16,
    /// The tick it fires at (deadline rounded up).
    when: u64,
    /// The exact deadline (ns since the driver started): the firing order
    /// within a tick.
    deadline_ns: u64,
}

impl Item {
    const EMPTY: Item = Item {
        when: 0,
        deadline_ns: 0,
        waker: None,
        key: NIL,
        pos: 0,
    };
}

/// A run of one slot's items, in arrival order; only the slot's tail chunk
/// is partly used.
struct Chunk {
    /// Items in use: all of them, but only `..tail_len` in the slot's tail
    /// chunk. The others were moved out or never used, and hold no waker.
    items: [Item; CHUNK],
    /// The slot's next chunk, or the next free chunk; `NIL` at the end.
    next: u32,
}

/// A slot: a chain of chunks.
#[derive(Clone, Copy)]
struct Slot {
    /// First chunk, or `NIL` when the slot has none.
    head: u32,
    /// Last chunk (the one appended to).
    tail: u32,
    /// Items in use in `tail` (timers and tombstones); `CHUNK` when the
    /// slot has no chunk, so the next append takes one.
    tail_len: u32,
    /// Timers in the slot.
    live: u32,
    /// Tombstones in the slot.
    dead: u32,
}

impl Slot {
    const EMPTY: Slot = Slot {
        head: NIL,
        tail: NIL,
        tail_len: CHUNK as u32,
        live: 0,
        dead: 0,
    };

    /// Items in use in `chunk`, one of this slot's chunks.
    fn len_of(&self, chunk: u32) -> usize {
        if chunk == self.tail {
            self.tail_len as usize
        } else {
            CHUNK
        }
    }
}

/// A hierarchical timer wheel of [`LocalWaker`]s.
pub(crate) struct Wheel {
    /// The tick up to which every timer has fired.
    elapsed: u64,
    /// Per key: where its timer is. Written on insert, fire, remove, and
    /// whenever its item moves (cascade, compaction).
    locs: Vec<Loc>,
    /// Head of the free list of keys.
    free: u32,
    /// Keys on the free list.
    free_keys: usize,
    /// Removals until `locs` is looked at for shrinking again (or sooner,
    /// once every key is free).
    key_countdown: usize,
    /// The chunk arena: every slot's chunks, and free ones.
    chunks: Vec<Chunk>,
    /// Head of the free list of `chunks` (most recently freed first).
    free_chunk: u32,
    /// Chunks on the free list.
    free_chunks: usize,
    /// `slots[level * 64 + slot]`.
    slots: [Slot; LEVELS * SLOTS],
    /// One bit per slot with a timer, per level.
    occupied: [u64; LEVELS],
    /// Pending timers.
    pending: usize,
}

fn level_for(elapsed: u64, when: u64) -> usize {
    let when = when.min(elapsed.saturating_add(MAX_SPAN));
    let masked = (elapsed ^ when) | (SLOTS as u64 - 1);
    let significant = 63 - masked.leading_zeros();
    ((significant / SLOT_BITS) as usize).min(LEVELS - 1)
}

fn slot_for(elapsed: u64, when: u64, level: usize) -> usize {
    let when = when.min(elapsed.saturating_add(MAX_SPAN));
    ((when >> (level as u32 * SLOT_BITS)) & (SLOTS as u64 - 1)) as usize
}

impl Wheel {
    pub(crate) fn new() -> Wheel {
        Wheel {
            elapsed: 0,
            locs: Vec::new(),
            free: NO_KEY,
            free_keys: 0,
            key_countdown: KEY_RESERVE,
            chunks: Vec::new(),
            free_chunk: NIL,
            free_chunks: 0,
            slots: [Slot::EMPTY; LEVELS * SLOTS],
            occupied: [0; LEVELS],
            pending: 0,
        }
    }

    /// The tick up to which every timer has fired.
    #[cfg(test)]
    pub(crate) fn elapsed(&self) -> u64 {
        self.elapsed
    }

    /// The number of timers waiting to fire.
    #[cfg(test)]
    pub(crate) fn pending(&self) -> usize {
        self.pending
    }

    /// Adds a timer firing at tick `when`. A timer already due
    /// (`when <= elapsed`) is created fired.
    pub(crate) fn insert(&mut self, when: u64, deadline_ns: u64, waker: Option<LocalWaker>) -> Key {
        let key = if self.free != NO_KEY {
            let key = self.free;
            self.free = self.locs[key as usize] & !FREE_BIT;
            self.free_keys -= 1;
            self.locs[key as usize] = FIRED;
            key
        } else {
            let key = u32::try_from(self.locs.len())
                .ok()
                .filter(|&k| k < NO_KEY)
                .expect("hearth: more than 2 billion timers on one executor");
            self.locs.push(FIRED);
            key
        };
        if when > self.elapsed {
            self.link(Item {
                when,
                deadline_ns,
                waker,
                key,
                pos: 0,
            });
        }
        key
    }

    /// Whether the timer has fired.
    pub(crate) fn is_fired(&self, key: Key) -> bool {
        self.locs[key as usize] == FIRED
    }

    /// The tick a pending timer fires at.
    #[cfg(test)]
    pub(crate) fn when(&self, key: Key) -> u64 {
        let loc = self.locs[key as usize] as usize;
        self.chunks[loc / CHUNK].items[loc % CHUNK].when
    }

    /// Stores the task a pending timer wakes, skipping the clone when the
    /// stored waker already wakes the same task. A fired timer keeps no
    /// waker (the driver registers none: its `poll` sees it fired); reset
    /// into the future, it needs a new `register`.
    pub(crate) fn register(&mut self, key: Key, waker: &LocalWaker) {
        let Some(item) = self.item_mut(key) else {
            return;
        };
        match &item.waker {
            Some(old) if old.will_wake(waker) => {}
            _ => item.waker = Some(waker.clone()),
        }
    }

    /// Removes the timer (fired or not) and frees its key. O(1) amortized.
    pub(crate) fn remove(&mut self, key: Key) {
        let waker = self.unlink(key);
        self.locs[key as usize] = FREE_BIT | self.free;
        self.free = key;
        self.free_keys += 1;
        self.key_countdown -= 1;
        if self.key_countdown == 0
            || (self.free_keys == self.locs.len() && self.free_keys > KEY_RESERVE)
        {
            self.maybe_release_keys();
        }
        // Dropping a waker runs foreign code: only once the wheel is consistent.
        drop(waker);
    }

    /// Moves the timer to a new deadline, keeping its waker if it is pending.
    /// Returns the waker to wake if the new deadline is already due.
    #[must_use]
    pub(crate) fn reset(&mut self, key: Key, when: u64, deadline_ns: u64) -> Option<LocalWaker> {
        let waker = self.unlink(key);
        if when > self.elapsed {
            self.link(Item {
                when,
                deadline_ns,
                waker,
                key,
                pos: 0,
            });
            None
        } else {
            self.locs[key as usize] = FIRED;
            waker
        }
    }

    /// The tick of the earliest slot that holds a timer, if any. Timers in
    /// higher levels may fire later than it; then it only moves them down.
    pub(crate) fn next_expiration(&self) -> Option<u64> {
        self.next_slot().map(|(_, _, deadline)| deadline)
    }

    fn next_slot(&self) -> Option<(usize, usize, u64)> {
        let now = self.elapsed;
        if self.occupied[0] != 0 {
            // Level 0 never wraps: its timers lie in `now`'s 64-tick block,
            // after `now`. The common case when many timers are pending.
            debug_assert!(self.occupied[0].trailing_zeros() as u64 > now % SLOTS as u64);
            let slot = (self.occupied[0] >> (now % SLOTS as u64)).trailing_zeros() as u64;
            return Some((0, (now % SLOTS as u64 + slot) as usize, now + slot));
        }
        if self.pending == 0 {
            return None;
        }
        for level in 1..LEVELS {
            let occupied = self.occupied[level];
            if occupied == 0 {
                continue;
            }
            let shift = level as u32 * SLOT_BITS;
            let slot_range = 1u64 << shift;
            let level_range = slot_range << SLOT_BITS;
            let now_slot = ((now >> shift) & (SLOTS as u64 - 1)) as u32;
            let zeros = occupied.rotate_right(now_slot).trailing_zeros();
            let slot = ((zeros + now_slot) as usize) % SLOTS;
            let level_start = now & !(level_range - 1);
            let mut deadline = level_start + slot as u64 * slot_range;
            if deadline <= now {
                // Only the top level wraps: its slot lies in the next round.
                deadline += level_range;
            }
            return Some((level, slot, deadline));
        }
        unreachable!("pending timers but no occupied slot")
    }

    /// Fires every timer with `when <= now` and sets `elapsed` to `now`.
    /// The wakers of fired timers are appended to `fired` with their exact
    /// deadlines (the caller sorts and wakes them, outside any borrow).
    pub(crate) fn advance(&mut self, now: u64, fired: &mut Vec<(u64, LocalWaker)>) {
        while let Some((level, slot, deadline)) = self.next_slot() {
            if deadline > now {
                break;
            }
            self.elapsed = self.elapsed.max(deadline);
            self.drain(level * SLOTS + slot, fired);
        }
        self.elapsed = self.elapsed.max(now);
        self.maybe_release_chunks();
    }

    /// Empties the slot at `pos`, which is due: fires its due timers into
    /// `fired` and moves the others to the slot their `when` falls in now
    /// (lower down; past the top level's reach, back up top, possibly into
    /// this very slot, which starts afresh).
    fn drain(&mut self, pos: usize, fired: &mut Vec<(u64, LocalWaker)>) {
        let slot = self.take_slot(pos);
        let elapsed = self.elapsed;
        let mut chunk = slot.head;
        while chunk != NIL {
            let c = chunk as usize;
            for i in 0..slot.len_of(chunk) {
                let item = &mut self.chunks[c].items[i];
                if item.key == NIL {
                    continue;
                }
                let (when, deadline_ns, key) = (item.when, item.deadline_ns, item.key);
                let waker = item.waker.take();
                if when <= elapsed {
                    self.locs[key as usize] = FIRED;
                    self.pending -= 1;
                    if let Some(waker) = waker {
                        fired.push((deadline_ns, waker));
                    }
                } else {
                    let to = self.slot_for_now(when);
                    self.append(
                        to,
                        Item {
                            when,
                            deadline_ns,
                            waker,
                            key,
                            pos: 0,
                        },
                    );
                }
            }
            chunk = self.free_chunk(c);
        }
    }

    /// Rebuilds the slot at `pos` without its tombstones (and without
    /// chunks if it has no timers). O(items).
    fn compact(&mut self, pos: usize) {
        let slot = self.take_slot(pos);
        let mut chunk = slot.head;
        while chunk != NIL {
            let c = chunk as usize;
            for i in 0..slot.len_of(chunk) {
                let item = core::mem::replace(&mut self.chunks[c].items[i], Item::EMPTY);
                if item.key != NIL {
                    self.append(pos, item);
                }
            }
            chunk = self.free_chunk(c);
        }
    }

    /// Empties the slot at `pos`, returning what it held.
    fn take_slot(&mut self, pos: usize) -> Slot {
        self.occupied[pos / SLOTS] &= !(1 << (pos % SLOTS));
        core::mem::replace(&mut self.slots[pos], Slot::EMPTY)
    }

    /// Puts a fully read chunk on the free list (to be the next one
    /// written) and returns the chunk that followed it in its slot.
    fn free_chunk(&mut self, c: usize) -> u32 {
        let next = core::mem::replace(&mut self.chunks[c].next, self.free_chunk);
        self.free_chunk = c as u32;
        self.free_chunks += 1;
        next
    }

    /// Shrinks the arena if more than three quarters of it (and more than
    /// `CHUNK_RESERVE` chunks) are free.
    #[inline]
    fn maybe_release_chunks(&mut self) {
        if self.free_chunks > CHUNK_RESERVE && 4 * self.free_chunks > 3 * self.chunks.len() {
            self.release_chunks();
        }
    }

    /// Packs the chunks in use into the start of the arena and frees all
    /// free chunks but `CHUNK_RESERVE`. O(arena).
    ///
    /// With `used` chunks in use, the arena keeps `keep = used +
    /// CHUNK_RESERVE`. If `k` chunks in use lie at `keep` or beyond, the
    /// first `keep` hold `used - k` in use and so `CHUNK_RESERVE + k` free:
    /// room for all `k`.
    #[cold]
    fn release_chunks(&mut self) {
        let keep = self.chunks.len() - self.free_chunks + CHUNK_RESERVE;
        let mut in_use = vec![false; self.chunks.len()];
        for slot in &self.slots {
            let mut c = slot.head;
            while c != NIL {
                in_use[c as usize] = true;
                c = self.chunks[c as usize].next;
            }
        }
        let mut hole = 0;
        for pos in 0..LEVELS * SLOTS {
            let mut prev = NIL;
            let mut c = self.slots[pos].head;
            while c != NIL {
                let next = self.chunks[c as usize].next;
                if c as usize >= keep {
                    while in_use[hole] {
                        hole += 1;
                    }
                    in_use[hole] = true;
                    let to = hole as u32;
                    let base = self.chunks.as_mut_ptr();
                    // `hole < keep <= c < len`: two distinct chunks in
                    // bounds. The free chunk at `hole` holds no waker (an
                    // invariant), so overwriting it drops nothing. The copy
                    // left at `c` is never read again (no chain leads there
                    // once relinked below) nor dropped: everything from
                    // `keep` on is cut off without drop (`set_len` below).
                    // SAFETY: by the above.
                    unsafe {
                        core::ptr::copy_nonoverlapping(base.add(c as usize), base.add(hole), 1)
                    };
                    let slot = &mut self.slots[pos];
                    if prev == NIL {
                        slot.head = to;
                    } else {
                        self.chunks[prev as usize].next = to;
                    }
                    if slot.tail == c {
                        slot.tail = to;
                    }
                    for i in 0..slot.len_of(to) {
                        let key = self.chunks[hole].items[i].key;
                        if key != NIL {
                            self.locs[key as usize] = (hole * CHUNK + i) as Loc;
                        }
                    }
                    c = to;
                }
                prev = c;
                c = next;
            }
        }
        // `keep <= len`. From `keep` on there are free chunks, which hold
        // no waker (nothing to drop), and the stale copies of the chunks
        // moved above, which must not be dropped: cut off without dropping.
        // Dropping them would also read all of them, for nothing: a drained
        // wheel's arena is mostly these.
        // SAFETY: by the above.
        unsafe { self.chunks.set_len(keep) };
        self.chunks.shrink_to_fit();
        self.free_chunk = NIL;
        self.free_chunks = 0;
        for c in (0..keep).rev() {
            if !in_use[c] {
                self.chunks[c].next = self.free_chunk;
                self.free_chunk = c as u32;
                self.free_chunks += 1;
            }
        }
    }

    /// Cuts `locs` after the highest key in use if that frees at least
    /// half of it, and rebuilds the free list of keys, lowest first.
    /// O(the keys cut).
    #[cold]
    fn maybe_release_keys(&mut self) {
        let old_len = self.locs.len();
        self.key_countdown = (old_len / 8).max(KEY_RESERVE);
        if old_len <= KEY_RESERVE || self.free_keys <= 3 * (old_len - self.free_keys) {
            return;
        }
        let is_free = |loc: Loc| loc & FREE_BIT != 0 && loc != FIRED;
        // From the end down to the highest key in use: cheap when that is
        // high, and then nothing is cut.
        let half = old_len / 2;
        if self.locs[half..].iter().rev().any(|&loc| !is_free(loc)) {
            return;
        }
        let len = self.locs[..half]
            .iter()
            .rposition(|&loc| !is_free(loc))
            .map_or(0, |k| k + 1);
        self.locs.truncate(len);
        self.locs.shrink_to_fit();
        self.free = NO_KEY;
        self.free_keys = 0;
        for key in (0..len).rev() {
            if is_free(self.locs[key]) {
                self.locs[key] = FREE_BIT | self.free;
                self.free = key as u32;
                self.free_keys += 1;
            }
        }
    }

    /// The item of a pending timer; `None` if it has fired.
    fn item_mut(&mut self, key: Key) -> Option<&mut Item> {
        let loc = self.locs[key as usize];
        debug_assert!(
            loc == FIRED || loc & FREE_BIT == 0,
            "hearth: timer key used after removal"
        );
        if loc == FIRED {
            return None;
        }
        Some(&mut self.chunks[loc as usize / CHUNK].items[loc as usize % CHUNK])
    }

    /// The slot (`level * 64 + slot`) a timer firing at `when` goes to now.
    fn slot_for_now(&self, when: u64) -> usize {
        let level = level_for(self.elapsed, when);
        level * SLOTS + slot_for(self.elapsed, when, level)
    }

    /// Adds a pending timer to the slot its `when` falls in now.
    #[inline(always)]
    fn link(&mut self, item: Item) {
        let to = self.slot_for_now(item.when);
        self.append(to, item);
        self.pending += 1;
    }

    /// Appends a timer's item to the slot at `pos` and points its `loc` there.
    #[inline(always)]
    fn append(&mut self, pos: usize, mut item: Item) {
        if self.slots[pos].tail_len as usize == CHUNK {
            self.add_chunk(pos);
        }
        let slot = &mut self.slots[pos];
        let (chunk, offset) = (slot.tail as usize, slot.tail_len as usize);
        slot.tail_len += 1;
        slot.live += 1;
        item.pos = pos as u16;
        self.locs[item.key as usize] = (chunk * CHUNK + offset) as Loc;
        // What is there was moved out or never used: no waker to drop, and
        // not reading it saves a wait on a line about to be overwritten.
        core::mem::forget(core::mem::replace(
            &mut self.chunks[chunk].items[offset],
            item,
        ));
    }

    /// Gives the slot at `pos` a new, empty tail chunk: off the free list
    /// (the most recently drained, likely still in cache), or a new one.
    fn add_chunk(&mut self, pos: usize) {
        let chunk = match self.free_chunk {
            NIL => self.new_chunk(),
            chunk => {
                self.free_chunk = core::mem::replace(&mut self.chunks[chunk as usize].next, NIL);
                self.free_chunks -= 1;
                chunk
            }
        };
        let slot = &mut self.slots[pos];
        if slot.head == NIL {
            slot.head = chunk;
            self.occupied[pos / SLOTS] |= 1 << (pos % SLOTS);
        } else {
            self.chunks[slot.tail as usize].next = chunk;
        }
        slot.tail = chunk;
        slot.tail_len = 0;
    }

    /// Grows the arena by a chunk.
    #[cold]
    fn new_chunk(&mut self) -> u32 {
        let chunk = u32::try_from(self.chunks.len())
            .ok()
            .filter(|&c| (c as usize + 1) * CHUNK <= FREE_BIT as usize)
            .expect("hearth: more than 2 billion timers on one executor");
        // Built in place: no 5 KiB temporary to copy.
        self.chunks.resize_with(chunk as usize + 1, || Chunk {
            items: [Item::EMPTY; CHUNK],
            next: NIL,
        });
        chunk
    }

    /// Takes a pending timer out of its slot, leaving a tombstone, and
    /// returns its waker; nothing for a fired one. The caller sets `loc`.
    #[inline(always)]
    fn unlink(&mut self, key: Key) -> Option<LocalWaker> {
        let item = self.item_mut(key)?;
        item.key = NIL;
        let waker = item.waker.take();
        let pos = item.pos as usize;
        let slot = &mut self.slots[pos];
        slot.live -= 1;
        slot.dead += 1;
        self.pending -= 1;
        if slot.live == 0 || (slot.dead > 2 * slot.live && slot.dead as usize > CHUNK) {
            // Paid for by the cancels that made the tombstones.
            self.compact(pos);
            self.maybe_release_chunks();
        }
        waker
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::RefCell;
    use std::rc::Rc;

    fn recorder() -> (Rc<RefCell<Vec<u32>>>, impl Fn(u32) -> LocalWaker) {
        let log = Rc::new(RefCell::new(Vec::new()));
        let l = log.clone();
        let make = move |id: u32| {
            let l = l.clone();
            hearth_task::local_waker_fn(move || l.borrow_mut().push(id))
        };
        (log, make)
    }

    fn fire(wheel: &mut Wheel, now: u64) -> Vec<u64> {
        let mut fired = Vec::new();
        wheel.advance(now, &mut fired);
        fired.sort_by_key(|f| f.0);
        fired
            .into_iter()
            .map(|(d, w)| {
                w.wake();
                d
            })
            .collect()
    }

    #[test]
    fn level_and_slot() {
        assert_eq!(level_for(0, 1), 0);
        assert_eq!(level_for(0, 63), 0);
        assert_eq!(level_for(0, 64), 1);
        assert_eq!(level_for(0, 4095), 1);
        assert_eq!(level_for(0, 4096), 2);
        assert_eq!(level_for(0, u64::MAX), LEVELS - 1);
        assert_eq!(level_for(60, 70), 1); // crosses a level-0 block
        assert_eq!(slot_for(0, 70, 1), 1);
    }

    #[test]
    fn fires_exactly_at_when_never_before() {
        let (log, make) = recorder();
        let mut wheel = Wheel::new();
        let whens = [
            1u64, 2, 63, 64, 65, 100, 4095, 4096, 5000, 300_000, 20_000_000,
        ];
        for (i, &w) in whens.iter().enumerate() {
            wheel.insert(w, w * 1_000_000, Some(make(i as u32)));
        }
        assert_eq!(wheel.pending(), whens.len());
        let mut seen = 0;
        // Step tick by tick near the deadlines and jump in between.
        let mut now = 0;
        while wheel.pending() > 0 {
            let next = wheel.next_expiration().unwrap();
            assert!(next > now);
            // Advancing to just before the next slot fires nothing.
            assert!(fire(&mut wheel, next - 1).is_empty());
            now = next;
            let fired = fire(&mut wheel, now);
            for d in &fired {
                assert_eq!(*d, now * 1_000_000, "fired at tick {now}, deadline {d}");
            }
            seen += fired.len();
        }
        assert_eq!(seen, whens.len());
        assert_eq!(*log.borrow(), (0..whens.len() as u32).collect::<Vec<_>>());
    }

    #[test]
    fn a_big_jump_fires_everything_due_in_deadline_order() {
        let mut wheel = Wheel::new();
        let (_log, make) = recorder();
        for w in [900u64, 5, 70, 4100, 64, 3] {
            wheel.insert(w, w, Some(make(0)));
        }
        wheel.insert(10_000, 10_000, Some(make(0)));
        assert_eq!(fire(&mut wheel, 5000), vec![3, 5, 64, 70, 900, 4100]);
        assert_eq!(wheel.pending(), 1);
        assert_eq!(wheel.elapsed(), 5000);
        assert!(fire(&mut wheel, 9999).is_empty());
        assert_eq!(fire(&mut wheel, 10_000), vec![10_000]);
    }

    #[test]
    fn remove_cancels_in_place_and_reuses_keys() {
        let (log, make) = recorder();
        let mut wheel = Wheel::new();
        let a = wheel.insert(10, 10, Some(make(1)));
        let b = wheel.insert(10, 10, Some(make(2)));
        let c = wheel.insert(10, 10, Some(make(3)));
        wheel.remove(b);
        assert_eq!(wheel.pending(), 2);
        let d = wheel.insert(20, 20, Some(make(4)));
        assert_eq!(d, b, "freed key reused");
        wheel.remove(a);
        wheel.remove(c);
        assert_eq!(fire(&mut wheel, 15), Vec::<u64>::new());
        assert_eq!(fire(&mut wheel, 20), vec![20]);
        assert!(wheel.is_fired(d));
        wheel.remove(d);
        assert_eq!(*log.borrow(), [4]);
        assert_eq!(wheel.pending(), 0);
        assert_eq!(wheel.next_expiration(), None);
    }

    #[test]
    fn cancelling_most_of_a_slot_compacts_it_and_keeps_the_rest() {
        let (log, make) = recorder();
        let mut wheel = Wheel::new();
        let n = 3 * CHUNK as u64 + 10;
        // One level-1 slot (ticks 64..128), several chunks long.
        let keys: Vec<Key> = (0..n)
            .map(|i| wheel.insert(64 + i % 64, 1000 * (64 + i % 64) + i, Some(make(i as u32))))
            .collect();
        let pos = SLOTS + 1;
        assert_eq!(wheel.slots[pos].live as u64, n);
        for (i, &k) in keys.iter().enumerate() {
            if i % 8 != 0 {
                wheel.remove(k);
                let slot = wheel.slots[pos];
                assert!(slot.dead as usize <= 2 * slot.live as usize + CHUNK + 1);
            }
        }
        let kept: Vec<u64> = (0..n).step_by(8).collect();
        assert_eq!(wheel.pending(), kept.len());
        // The survivors moved in the compactions: their `loc`s followed.
        for &i in &kept {
            assert!(!wheel.is_fired(keys[i as usize]));
            assert_eq!(wheel.when(keys[i as usize]), 64 + i % 64);
        }
        let mut expect: Vec<u64> = kept.iter().map(|i| 1000 * (64 + i % 64) + i).collect();
        expect.sort_unstable();
        assert_eq!(fire(&mut wheel, 127), expect);
        let mut woken = log.borrow().clone();
        woken.sort_unstable();
        assert_eq!(woken, kept.iter().map(|&i| i as u32).collect::<Vec<_>>());
        assert_eq!(wheel.pending(), 0);
    }

    #[test]
    fn resetting_a_timer_over_and_over_keeps_memory_bounded() {
        let mut wheel = Wheel::new();
        let k = wheel.insert(100_000, 100_000, Some(hearth_task::local_waker_fn(|| {})));
        let rounds = if cfg!(miri) { 2_000 } else { 200_000 };
        for i in 0..rounds {
            // Always the same level-2 slot: each reset leaves a tombstone there.
            let when = 100_000 + i % 1000;
            assert!(wheel.reset(k, when, when).is_none());
        }
        assert_eq!(wheel.pending(), 1);
        assert!(wheel.chunks.len() <= 4, "{} chunks", wheel.chunks.len());
        let when = wheel.when(k);
        assert!(fire(&mut wheel, when - 1).is_empty());
        assert_eq!(fire(&mut wheel, when), vec![when]);
    }

    /// Bytes the arena and `locs` hold (their capacity).
    fn footprint(wheel: &Wheel) -> usize {
        wheel.chunks.capacity() * core::mem::size_of::<Chunk>()
            + wheel.locs.capacity() * core::mem::size_of::<Loc>()
    }

    #[test]
    fn after_a_burst_the_arena_and_the_keys_shrink_and_survivors_keep_their_place() {
        let (log, make) = recorder();
        let mut wheel = Wheel::new();
        let n: u32 = if cfg!(miri) { 3_000 } else { 200_000 };
        // A burst over many slots, and a few long-lived timers among it: at
        // high keys and in chunks near the end of the arena.
        let mut keys = Vec::new();
        let mut survivors = Vec::new();
        let mut survive = |wheel: &mut Wheel, i: u32| {
            // Each in a slot of its own, up to levels 3 and 4.
            let when = 1_000_000 + u64::from(i) * 40;
            survivors.push((wheel.insert(when, when, Some(make(i))), when, i));
        };
        for i in 0..n {
            if i % (n / 4) == n / 4 - 1 {
                survive(&mut wheel, i);
            } else {
                let when = 1 + u64::from(i % 5000);
                keys.push(wheel.insert(when, when, Some(make(i))));
            }
        }
        // The last chunks of the arena.
        for i in n..n + 4 {
            survive(&mut wheel, i);
        }
        let locs_before: Vec<Loc> = survivors.iter().map(|s| wheel.locs[s.0 as usize]).collect();
        let peak = footprint(&wheel);
        // Half are cancelled, the rest fire.
        for k in keys.iter().step_by(2) {
            wheel.remove(*k);
        }
        let mut fired = Vec::new();
        wheel.advance(5000, &mut fired);
        assert_eq!(fired.len(), keys.len() / 2);
        drop(fired);
        for k in keys.iter().skip(1).step_by(2) {
            assert!(wheel.is_fired(*k));
            wheel.remove(*k);
        }
        assert_eq!(wheel.pending(), survivors.len());
        // What is left: the survivors' chunks plus the reserve, and `locs`
        // up to the highest survivor's key.
        let used = wheel.chunks.len() - wheel.free_chunks;
        assert!(
            used <= survivors.len(),
            "{used} chunks for {} timers",
            survivors.len()
        );
        assert!(wheel.chunks.len() <= used + CHUNK_RESERVE);
        let highest = survivors.iter().map(|s| s.0).max().unwrap() as usize;
        assert!(wheel.locs.len() <= highest + 1);
        let after = footprint(&wheel);
        assert!(after * 4 < peak, "{after} bytes after, {peak} at the peak");
        // The survivors moved: they still fire on time, and wake their tasks.
        let locs_after: Vec<Loc> = survivors.iter().map(|s| wheel.locs[s.0 as usize]).collect();
        assert_ne!(locs_before, locs_after, "no chunk moved");
        log.borrow_mut().clear();
        for &(k, when, _) in &survivors {
            assert_eq!(wheel.when(k), when);
        }
        for &(k, when, _) in &survivors {
            assert!(fire(&mut wheel, when - 1).is_empty());
            assert_eq!(fire(&mut wheel, when), vec![when]);
            wheel.remove(k);
        }
        let ids: Vec<u32> = survivors.iter().map(|s| s.2).collect();
        assert_eq!(*log.borrow(), ids);
        // Keys come back lowest first, and a new burst reuses the arena.
        assert_eq!(wheel.pending(), 0);
        let k = wheel.insert(wheel.elapsed() + 10, 0, None);
        assert!((k as usize) < KEY_RESERVE.max(highest + 1));
    }

    #[test]
    fn churn_leaves_at_most_the_reserve() {
        let mut wheel = Wheel::new();
        let rounds = if cfg!(miri) { 5 } else { 50 };
        for round in 0..rounds {
            let keys: Vec<Key> = (0..CHUNK as u64 * 8)
                .map(|i| wheel.insert(round * 100 + 1 + i % 64, 0, None))
                .collect();
            for k in keys {
                wheel.remove(k);
            }
        }
        assert!(wheel.chunks.len() <= CHUNK_RESERVE);
        assert!(wheel.locs.len() <= CHUNK * 8);
    }

    #[test]
    fn due_on_insert_is_fired_at_once() {
        let mut wheel = Wheel::new();
        fire(&mut wheel, 100);
        let k = wheel.insert(100, 0, None);
        assert!(wheel.is_fired(k));
        assert_eq!(wheel.pending(), 0);
    }

    #[test]
    fn reset_moves_the_timer_and_keeps_its_waker() {
        let (log, make) = recorder();
        let mut wheel = Wheel::new();
        let k = wheel.insert(50, 50, Some(make(7)));
        assert!(wheel.reset(k, 5000, 5000).is_none());
        assert!(fire(&mut wheel, 4999).is_empty());
        assert_eq!(fire(&mut wheel, 5000), vec![5000]);
        assert_eq!(*log.borrow(), [7]);
        // A fired timer keeps no waker (the driver's `poll` sees it fired
        // and registers none): reset into the past, it stays fired.
        wheel.register(k, &make(8));
        assert!(wheel.reset(k, 10, 10).is_none());
        assert!(wheel.is_fired(k));
        // Reset into the future: pending again, with the waker registered next.
        assert!(wheel.reset(k, 6000, 6000).is_none());
        assert_eq!(wheel.when(k), 6000);
        assert_eq!(wheel.pending(), 1);
        wheel.register(k, &make(9));
        // Reset of a pending timer into the past: due at once, its waker returned.
        let j = wheel.insert(7000, 7000, Some(make(10)));
        assert_eq!(fire(&mut wheel, 6000), vec![6000]);
        wheel.reset(j, 5000, 5000).unwrap().wake();
        assert!(wheel.is_fired(j));
        assert_eq!(wheel.pending(), 0);
        assert_eq!(*log.borrow(), [7, 9, 10]);
    }

    #[test]
    fn beyond_the_top_level_waits_and_fires_on_time() {
        let mut wheel = Wheel::new();
        let far = MAX_SPAN + 12_345;
        wheel.insert(far, far, Some(hearth_task::local_waker_fn(|| {})));
        let mut now = 0;
        let mut fired = Vec::new();
        while fired.is_empty() {
            now = wheel.next_expiration().unwrap();
            assert!(now <= far);
            wheel.advance(now, &mut fired);
        }
        assert_eq!(now, far);
    }

    #[test]
    fn random_against_a_model() {
        // Deterministic xorshift; small enough for Miri.
        let mut x = 0x2545_f491_4f6c_dd1du64;
        let mut rnd = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let mut wheel = Wheel::new();
        let mut live: Vec<(Key, u64)> = Vec::new();
        let noop = hearth_task::local_waker_fn(|| {});
        let rounds = if cfg!(miri) { 300 } else { 20_000 };
        for _ in 0..rounds {
            match rnd() % 4 {
                0 | 1 => {
                    let span = [10, 1000, 100_000, 10_000_000][(rnd() % 4) as usize];
                    let when = wheel.elapsed() + 1 + rnd() % span;
                    live.push((wheel.insert(when, when, Some(noop.clone())), when));
                }
                2 if !live.is_empty() => {
                    let (k, _) = live.swap_remove((rnd() as usize) % live.len());
                    wheel.remove(k);
                }
                _ => {
                    let now = wheel.elapsed() + rnd() % 3000;
                    let mut fired = Vec::new();
                    wheel.advance(now, &mut fired);
                    let mut expect: Vec<u64> =
                        live.iter().filter(|e| e.1 <= now).map(|e| e.1).collect();
                    expect.sort_unstable();
                    let mut got: Vec<u64> = fired.iter().map(|f| f.0).collect();
                    got.sort_unstable();
                    assert_eq!(got, expect);
                    live.retain(|&(k, when)| {
                        assert_eq!(wheel.is_fired(k), when <= now);
                        if when <= now {
                            wheel.remove(k);
                        }
                        when > now
                    });
                    assert_eq!(wheel.pending(), live.len());
                }
            }
        }
    }

    #[test]
    #[cfg_attr(miri, ignore)] // safe code, and slow there; the other tests cover it
    fn random_bursts_against_a_model() {
        // Bursts that grow the arena, cancellations and firings that shrink
        // it, long-lived timers that pin chunks and keys meanwhile.
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        let mut rnd = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let mut wheel = Wheel::new();
        let mut live: Vec<(Key, u64)> = Vec::new();
        let mut shrunk = 0;
        for _ in 0..400 {
            let before = wheel.chunks.len();
            match rnd() % 3 {
                0 => {
                    for _ in 0..rnd() % 3000 {
                        let span = [100, 5000, 300_000, 50_000_000][(rnd() % 4) as usize];
                        let when = wheel.elapsed() + 1 + rnd() % span;
                        live.push((wheel.insert(when, when, None), when));
                    }
                }
                1 => {
                    let cancel = live.len() * (rnd() % 100) as usize / 100;
                    for _ in 0..cancel {
                        let (k, _) = live.swap_remove((rnd() as usize) % live.len());
                        wheel.remove(k);
                    }
                }
                _ => {
                    let now = wheel.elapsed() + rnd() % 20_000;
                    let mut fired = Vec::new();
                    wheel.advance(now, &mut fired);
                    live.retain(|&(k, when)| {
                        assert_eq!(wheel.is_fired(k), when <= now);
                        if when <= now {
                            wheel.remove(k);
                        }
                        when > now
                    });
                }
            }
            if wheel.chunks.len() < before {
                shrunk += 1;
            }
            assert_eq!(wheel.pending(), live.len());
            for &(k, when) in &live {
                assert_eq!(wheel.when(k), when);
            }
        }
        assert!(shrunk > 0, "the arena never shrank");
    }

    /// 1,000,000 pending timers: insert, cancel, fire (ns per operation).
    /// Release numbers (see the module docs):
    /// `cargo test -p hearth --release --lib one_million_timers -- --nocapture`.
    #[test]
    #[cfg_attr(miri, ignore)]
    fn one_million_timers() {
        use std::time::Instant;
        const N: u64 = 1_000_000;
        let noop = hearth_task::local_waker_fn(|| {});
        let mut wheel = Wheel::new();
        let mut x = 88172645463325252u64;
        let whens: Vec<u64> = (0..N)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                1 + x % 3_600_000 // within an hour
            })
            .collect();

        let t = Instant::now();
        let keys: Vec<Key> = whens
            .iter()
            .map(|&w| wheel.insert(w, w, Some(noop.clone())))
            .collect();
        let insert = t.elapsed().as_nanos() as f64 / N as f64;
        assert_eq!(wheel.pending(), N as usize);

        // Cancel every other timer (in random order of deadline) while 1M are pending.
        let t = Instant::now();
        for k in keys.iter().step_by(2) {
            wheel.remove(*k);
        }
        let cancel = t.elapsed().as_nanos() as f64 / (N / 2) as f64;
        // Refill to 1M pending.
        let mut live: Vec<(u64, Key)> = whens
            .iter()
            .zip(&keys)
            .skip(1)
            .step_by(2)
            .map(|(&w, &k)| (w, k))
            .collect();
        for &w in whens.iter().step_by(2) {
            live.push((w, wheel.insert(w, w, Some(noop.clone()))));
        }
        assert_eq!(wheel.pending(), N as usize);
        // The order in which their tasks will see them fired.
        live.sort_unstable();

        // Fire all as `TimeDriver::process` does when it wakes at each next
        // expiration (timer or cascade): advance, sort by deadline, wake; then
        // as each woken `Sleep` does: see it fired, drop it (remove).
        let mut fired = Vec::with_capacity(4096);
        let mut done = 0;
        let t = Instant::now();
        while let Some(now) = wheel.next_expiration() {
            wheel.advance(now, &mut fired);
            fired.sort_by_key(|f| f.0);
            let n = fired.len();
            for (_, waker) in fired.drain(..) {
                waker.wake();
            }
            for &(when, key) in &live[done..done + n] {
                assert!(when <= now && wheel.is_fired(key));
                wheel.remove(key);
            }
            done += n;
        }
        let fire = t.elapsed().as_nanos() as f64 / N as f64;
        assert_eq!(done, N as usize);
        println!(
            "timer wheel at 1,000,000 pending: insert {insert:.1} ns, cancel {cancel:.1} ns, \
             fire {fire:.1} ns per timer"
        );
    }
}
