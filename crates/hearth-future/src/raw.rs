//! The wake state every combinator of this crate is built on: one allocation
//! holding a dual waker per child, a ready set, and the parent's wakers.
//!
//! # Layout
//!
//! One allocation: an [`Inner`], then `n` [`Slot`]s, then (for `n > 64`) a
//! ring of `n` `u32` child indices. Child `i`'s `Waker` and twin both point at
//! slot `i`, whose first field is a [`DualHeader`]: under a dual parent,
//! `cx.local_waker()` inside child `i` returns the twin. Up to 64 children
//! every slot is initialised when the state is made; above, slot 0 is, and
//! slot `i` right before child `i`'s first poll (the first-poll sweep, see
//! `swept`), so a join of many children that finish at once writes each slot
//! once, next to polling its child.
//!
//! # Passes
//!
//! Each poll of the combinator is one pass: every child that was due when the
//! pass began is polled once (bit mode: in cyclic order from `start`; ring
//! mode: the sweep, then the ring in FIFO order). A child woken during the
//! pass (by itself or by a sibling) waits for the next pass, and the parent is
//! woken for it, so a child that wakes itself cannot keep the combinator
//! busy. `armed` says whether the next local wake must wake the parent: it is
//! set when a pass leaves nothing due, and cleared by the wake that uses it,
//! during passes, and for good once the combinator is gone. Every poll looks
//! up the parent's local waker and compares it with the one stored
//! (`parent_ident`, the identity of the stored clone); it clones only when
//! they differ. The identity of the parent's `Waker` says nothing about its
//! local waker: a `ContextBuilder`'s `Waker` lives in the builder, so two
//! builders at one stack address look alike while carrying different local
//! wakers. The owner check (slot 0's header) runs on every poll too.
//!
//! # Modes
//!
//! The mode is fixed when the allocation is made (on the first poll):
//!
//! - **local**: the parent's `Context` carries a local twin owned by the
//!   polling thread (a thread-pinned task, e.g. hearth's), or, with the
//!   `nightly` feature, a local waker set through std's `ContextBuilder`
//!   (then a wake from another thread reaches only the parent's `Waker`,
//!   which may be a no-op). Children get twins.
//!   A wake through a twin, or through the `Waker` on the owner thread, marks
//!   the child in the ready set (`Cell`s) and wakes the parent's stored
//!   `LocalWaker`: no atomic read-modify-write, no lock. Wakes from other
//!   threads take the remote path below.
//! - **shared**: any other parent (tokio, `futures::executor`). The headers
//!   are released at once, so no twin is ever handed out and every wake takes
//!   the remote path. Then nothing but the combinator touches the `Cell`s and
//!   the combinator may move between threads freely.
//!
//! The remote path: up to 64 children, the child's bit is set in an atomic
//! `u64` (`remote_bits`, one `fetch_or`; the poll takes them all with one
//! swap); above, the slot's `queued` flag dedupes and the slot is pushed on a
//! lock-free stack (`remote_head`, Treiber push, the consumer takes the whole
//! stack with one swap, so there is no ABA). Only the wake that finds the
//! set empty wakes the parent's thread-safe `Waker` (in an [`AtomicWaker`],
//! woken by reference, so it stays registered): later wakes are drained by
//! the poll that first wake causes. A foreign parent therefore costs one
//! read-modify-write per child wake plus, once per parent poll, the
//! `AtomicWaker`'s lock (two) and the drain (one); the parent's `Waker` is
//! cloned only when it changes. The poll drains that stack into
//! the ready set. In local mode the parent's `Waker` is registered there only
//! while some child `Waker` exists (`refs > 1`, a plain load), checked after
//! the children were polled (a `Waker` can only appear during a child's
//! poll), and the stack is checked again after registering.
//!
//! A local-mode combinator that is later polled on another thread cannot
//! touch its old state (twins on the old thread may use it concurrently): it
//! abandons it (leaking it: its local count can only be released on its
//! owner thread) and starts a fresh one, polling every child once.
//!
//! # Reference counts
//!
//! - `local` (`Cell`, owner thread): the combinator's handle plus owned twins.
//! - `refs` (atomic): child `Waker`s, plus one for the local side while
//!   `local > 0`.
//!
//! When `local` reaches zero the parent's wakers are dropped; if no `Waker`
//! is left (`refs == 1`) nothing can reach the state any more and it is freed
//! at once. Otherwise the headers are released (a surviving `Waker`'s
//! `cx.local_waker()` no longer finds the twin) and the local side's `refs`
//! count is given up; the last `refs` count frees the memory, once.
//!
//! # Panics
//!
//! User code runs in a child's poll and drop (inside a pass) and in the
//! parent's wakers (`clone` in `prepare` and when registering, `wake` at the
//! end of a pass and on a child's wake, `drop` when replaced or released).
//! A panic in any of them leaves the state consistent:
//!
//! - a clone happens before anything it replaces is touched; a replaced or
//!   released waker is dropped last, when the state is consistent (and, on
//!   release, the memory already freed), so a panicking `drop` never skips a
//!   release;
//! - a pass that unwinds leaves the children it had not polled yet due, and
//!   the state armed, so the next local wake reaches the parent;
//!   the next poll resumes;
//! - a parent wake that panics did not happen: `armed` is set again (and
//!   the wakers retired during it are dropped, see below);
//! - a child waker woken by value releases its count also if the wake
//!   panics.
//!
//! The parent's local waker stays in `parent` while it is woken (woken
//! through a bitwise copy that owns nothing). User code inside that wake may
//! poll the combinator again under another parent (replacing the stored
//! waker) or drop it (taking it): while `waking` is set, the waker that
//! would be dropped is *retired* instead (`retired`), and the outermost wake
//! drops what was retired after it returned (or unwound). So the waker being
//! woken is never dropped under its own `wake_by_ref`, and the common wake
//! needs no take-out and put-back. A wake holds a count (a twin's local
//! count, or a `Waker`'s), so the state outlives every wake and `retired` is
//! empty whenever the state is freed.
//!
//! What the combinators make of a poll that unwound (poisoning, or dropping
//! the child that panicked) is theirs: see `poison.rs`.
//!
//! # Ready set
//!
//! `n <= 64`: one `u64` of flags (the seed's design); a pass walks the set
//! bits with `tzcnt`. `n > 64`: a FIFO ring of indices plus a `woken` flag per
//! slot. Both are O(1) per wake and per poll of a child; the crate docs say
//! why the cut-over is at 64.

use core::cell::Cell;
use core::mem::ManuallyDrop;
use core::ops::ControlFlow;
use core::ptr::{self, NonNull};
use core::task::{Context, RawWaker, RawWakerVTable, Waker};
use std::alloc::{self, Layout};
use std::vec::Vec;

use hearth_task::atomic::{fence, AtomicBool, AtomicPtr, AtomicU64, AtomicUsize, Ordering};
use hearth_task::raw::{self as hraw, DualHeader, DualVTable};
use hearth_task::{ContextExt, LocalWaker};

use crate::atomic_waker::AtomicWaker;

/// Children up to this count use the bit set; above, the ring.
pub(crate) const SMALL: usize = 64;

/// One child's wake target.
#[repr(C)]
struct Slot {
    /// Must be first: a `Waker`'s data pointer is the slot's address.
    header: DualHeader,
    /// The allocation this slot belongs to.
    inner: *const Inner,
    /// This child's index.
    index: usize,
    /// Ring mode: in the ready ring. Owner thread only.
    woken: Cell<bool>,
    /// On the remote stack (or being drained). Any thread.
    queued: AtomicBool,
    /// Next slot on the remote stack. Written by the pusher before its push.
    next: AtomicPtr<Slot>,
}

/// The shared state. See the module docs for who touches what.
struct Inner {
    /// Handle + owned twins. Owner thread only.
    local: Cell<usize>,
    /// Child `Waker`s, + 1 while `local > 0`. Any thread.
    refs: AtomicUsize,
    /// Mode; immutable.
    local_mode: bool,
    /// The next local wake wakes the parent. Set at the end of a poll that
    /// left nothing ready; cleared by that wake, while polling, and for good
    /// once the combinator is gone. Owner only.
    armed: Cell<bool>,
    /// The parent's local waker (local mode). Owner only.
    parent: Cell<Option<LocalWaker>>,
    /// Identity (data, vtable) of the waker stored in `parent` (not of the
    /// one it was cloned from): a poll whose local waker has this identity
    /// would wake the same task (`will_wake`), so it is not cloned again.
    /// Null while nothing is stored. Owner only.
    parent_ident: Cell<(*const (), *const RawWakerVTable)>,
    /// A wake of the waker in `parent` is running (wakes nest through
    /// reentrant code: each restores the value it found). Owner only.
    waking: Cell<bool>,
    /// Parent wakers replaced or taken while a wake ran: kept alive (the
    /// running wake uses one of them) and dropped when the outermost wake
    /// ends. Empty at every other time. Owner only.
    retired: Cell<Vec<LocalWaker>>,
    /// The parent's thread-safe waker. Any thread.
    remote_parent: AtomicWaker,
    /// During a pass: the parent's `Waker` (as borrowed by the parent's
    /// `Context`), where look-ups from a child's context continue
    /// (`slot_parent`). Null outside passes. Owner only.
    link: Cell<*const Waker>,
    /// During a child's poll: the address of the `Waker` lent to it. Null
    /// otherwise. Owner only.
    lent: Cell<*const Waker>,
    /// Number of slots; immutable.
    n: usize,
    /// Bit mode: ready flags. Owner only.
    bits: Cell<u64>,
    /// Bit mode: the index `pop` starts its cyclic search at (fairness of
    /// `select!` and `merge`). Owner only.
    start: Cell<u32>,
    /// Ring mode: first ready entry and number of entries. Owner only.
    q_head: Cell<usize>,
    q_len: Cell<usize>,
    /// Ring mode: children `0..swept` have had their first poll begin (the
    /// first-poll sweep, see [`WakeSet::poll`]); slots `0..max(swept, 1)`
    /// are initialised, the others are not yet. Bit mode: `n`. Owner only.
    swept: Cell<usize>,
    /// The slots and the ring; immutable pointers into this allocation.
    slots: *const Slot,
    /// Ring entries are written before they are read (`mark`, `pop`).
    ring: *mut u32,
    /// Ring mode: remote stack of woken slots. Any thread.
    remote_head: AtomicPtr<Slot>,
    /// Bit mode: children woken remotely since the last drain. Any thread.
    remote_bits: AtomicU64,
    /// The allocation's layout, for `dealloc` (loom builds never free).
    #[cfg_attr(loom, allow(dead_code))]
    layout: Layout,
    /// Model checking only: loom builds never deallocate; they mark the
    /// allocation freed and assert on every access.
    #[cfg(loom)]
    freed: AtomicBool,
}

/// Runs its closure when dropped, also while unwinding.
struct OnDrop<F: FnMut()>(F);

impl<F: FnMut()> Drop for OnDrop<F> {
    fn drop(&mut self) {
        (self.0)();
    }
}

/// The identity `will_wake` compares.
#[inline]
fn ident(w: &LocalWaker) -> (*const (), *const RawWakerVTable) {
    (w.data(), w.vtable())
}

#[inline]
fn check(inner: &Inner) -> &Inner {
    #[cfg(loom)]
    assert!(
        !inner.freed.load(Ordering::SeqCst),
        "wake state used after free"
    );
    inner
}

impl Inner {
    #[inline]
    fn slot(&self, i: usize) -> &Slot {
        debug_assert!(i < self.n);
        // SAFETY: `slots` points at `n` slots in this allocation; callers
        // only ask for initialised ones (`initialised`).
        unsafe { &*self.slots.add(i) }
    }

    /// Marks child `i` ready; returns `false` if it already was (or, in ring
    /// mode, if the first-poll sweep has yet to reach it). Owner only.
    #[inline]
    fn mark(&self, i: usize) -> bool {
        if self.n <= SMALL {
            let b = self.bits.get();
            let m = 1u64 << i;
            self.bits.set(b | m);
            b & m == 0
        } else {
            if i >= self.swept.get() {
                return false;
            }
            let s = self.slot(i);
            if s.woken.replace(true) {
                return false;
            }
            let len = self.q_len.get();
            let mut at = self.q_head.get() + len;
            if at >= self.n {
                at -= self.n;
            }
            // SAFETY: `at < n`; the ring holds at most `n` entries because
            // `woken` admits each index once.
            unsafe { self.ring.add(at).write(i as u32) };
            self.q_len.set(len + 1);
            true
        }
    }

    /// Ring mode: takes the next ready child. Owner only.
    #[inline]
    fn pop(&self) -> Option<usize> {
        debug_assert!(self.n > SMALL);
        let len = self.q_len.get();
        if len == 0 {
            return None;
        }
        let head = self.q_head.get();
        // SAFETY: `head < n`.
        let i = unsafe { self.ring.add(head).read() } as usize;
        self.q_head
            .set(if head + 1 == self.n { 0 } else { head + 1 });
        self.q_len.set(len - 1);
        self.slot(i).woken.set(false);
        Some(i)
    }

    /// The number of initialised slots.
    #[inline]
    fn initialised(&self) -> usize {
        if self.n <= SMALL {
            self.n
        } else {
            self.swept.get().max(1)
        }
    }

    /// Stores the parent's local waker `lw`, unless the stored one would
    /// wake the same task (`clone_from` semantics). Owner only.
    #[inline]
    fn set_parent(&self, lw: &LocalWaker) {
        if self.parent_ident.get() != ident(lw) {
            self.replace_parent(lw);
        }
    }

    #[cold]
    #[inline(never)]
    fn replace_parent(&self, lw: &LocalWaker) {
        // The clone runs user code: nothing changes if it panics. The old
        // waker is dropped last, when the state is already consistent.
        let new = lw.clone();
        self.parent_ident.set(ident(&new));
        let old = self.parent.replace(Some(new));
        drop(self.retire(old));
    }

    /// A wake on the owner thread (twin, or `Waker` face in local mode).
    #[inline]
    fn wake_local(&self, i: usize) {
        self.mark(i);
        if self.armed.get() {
            self.armed.set(false);
            self.wake_parent_local();
        }
    }

    /// Wakes the parent's stored `LocalWaker`. Owner only.
    ///
    /// The waker stays in `parent` while it is woken: a reentrant poll that
    /// replaces it, or a reentrant drop of the combinator that takes it,
    /// retires it instead of dropping it (`waking`), and the outermost wake
    /// drops what was retired once it returned.
    ///
    /// If the parent's wake panics, the wake did not happen: the state is
    /// armed again, so that the next child wake tries again.
    #[inline]
    fn wake_parent_local(&self) {
        /// Runs only if the wake unwound (forgotten when it returned).
        struct Unwinding<'a> {
            inner: &'a Inner,
            prev: bool,
        }
        impl Drop for Unwinding<'_> {
            #[cold]
            fn drop(&mut self) {
                let inner = self.inner;
                if inner.local.get() != 0 {
                    inner.armed.set(true);
                }
                inner.waking.set(self.prev);
                if !self.prev {
                    inner.bury();
                }
            }
        }
        // Owner thread, and nothing else borrows the cell's content; the
        // reference ends here (its waker is copied).
        // SAFETY: by the above.
        let Some(w) = (unsafe { &*self.parent.as_ptr() }).as_ref() else {
            return;
        };
        // A copy that owns nothing: the stored waker keeps the target alive
        // until it is dropped, which `waking` defers past this wake.
        // SAFETY: read from a valid waker; never dropped.
        let w = ManuallyDrop::new(unsafe { ptr::read(w) });
        let prev = self.waking.replace(true);
        let guard = Unwinding { inner: self, prev };
        w.wake_by_ref();
        core::mem::forget(guard);
        self.waking.set(prev);
        // SAFETY: owner thread; only the length is read.
        if !prev && !unsafe { &*self.retired.as_ptr() }.is_empty() {
            self.bury();
        }
    }

    /// Drops the retired parent wakers (the outermost wake ended). They are
    /// taken out first, so a panicking drop leaves the state consistent.
    /// Owner only.
    #[cold]
    #[inline(never)]
    fn bury(&self) {
        drop(self.retired.take());
    }

    /// Returns `w` for the caller to drop, or, while a wake of the parent
    /// runs, keeps it until that wake ended (it may be the waker being
    /// woken) and returns `None`. Owner only.
    #[inline]
    fn retire(&self, w: Option<LocalWaker>) -> Option<LocalWaker> {
        match w {
            Some(w) if self.waking.get() => {
                let mut retired = self.retired.take();
                retired.push(w);
                self.retired.set(retired);
                None
            }
            w => w,
        }
    }

    /// Takes the parent's local waker out (the combinator is gone); the
    /// caller drops it once the state is consistent. Owner only.
    fn take_parent(&self) -> Option<LocalWaker> {
        self.parent_ident.set((ptr::null(), ptr::null()));
        self.retire(self.parent.take())
    }

    /// A wake from any thread: mark the child in the remote set and wake the
    /// parent if the set was empty. A non-empty set has woken the parent
    /// already and not been drained since: the drain takes this wake too
    /// (and a pass checks the set again after registering the parent's
    /// waker, so a wake between drain and registration is not lost).
    fn wake_remote(&self, slot: &Slot) {
        if self.n <= SMALL {
            // One read-modify-write per wake.
            let prev = self
                .remote_bits
                .fetch_or(1u64 << slot.index, Ordering::AcqRel);
            if prev == 0 {
                self.remote_parent.wake();
            }
            return;
        }
        if slot.queued.swap(true, Ordering::AcqRel) {
            return;
        }
        // Re-derive the slot's pointer from the allocation's, so the stack
        // holds pointers with the allocation's provenance.
        // SAFETY: `slot.index < n`.
        let me = unsafe { self.slots.add(slot.index) }.cast_mut();
        let mut head = self.remote_head.load(Ordering::Relaxed);
        loop {
            slot.next.store(head, Ordering::Relaxed);
            match self.remote_head.compare_exchange_weak(
                head,
                me,
                Ordering::AcqRel,
                Ordering::Relaxed,
            ) {
                Ok(_) => break,
                Err(h) => head = h,
            }
        }
        if head.is_null() {
            self.remote_parent.wake();
        }
    }

    /// Moves the remote stack into the ready set, in wake order. Owner
    /// only.
    #[inline]
    fn drain_remote(&self) {
        if self.n <= SMALL {
            if self.remote_bits.load(Ordering::Relaxed) != 0 {
                let b = self.remote_bits.swap(0, Ordering::Acquire);
                self.bits.set(self.bits.get() | b);
            }
            return;
        }
        if self.remote_head.load(Ordering::Relaxed).is_null() {
            return;
        }
        let mut p = self.remote_head.swap(ptr::null_mut(), Ordering::Acquire);
        // The stack is newest first: reverse it (the ring is FIFO).
        let mut rev: *mut Slot = ptr::null_mut();
        while !p.is_null() {
            // SAFETY: pushed slots belong to this allocation, alive while we
            // hold the handle; their `next` was written before the push.
            let slot = unsafe { &*p };
            let next = slot.next.load(Ordering::Relaxed);
            slot.next.store(rev, Ordering::Relaxed);
            rev = p;
            p = next;
        }
        while !rev.is_null() {
            // SAFETY: as above.
            let slot = unsafe { &*rev };
            rev = slot.next.load(Ordering::Relaxed);
            // Release: our use of `next` happens before a re-push writes it.
            slot.queued.store(false, Ordering::Release);
            self.mark(slot.index);
        }
    }
}

/// The result of [`WakeSet::poll`].
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Progress {
    /// Every ready child was polled; the parent will be woken by a child.
    Idle,
    /// The closure returned `Break`.
    Break,
    /// Children were woken during the pass: the parent was woken for
    /// another pass.
    Yielded,
}

/// The combinator's handle on its wake state.
pub struct WakeSet {
    /// `None` until the first poll.
    inner: Option<NonNull<Inner>>,
    /// Number of children.
    n: usize,
}

// In shared mode the `Cell`s are only reached through `&mut WakeSet` (no twins
// exist), so moving the handle moves their only user; in local mode every use
// first checks that the calling thread owns the state and abandons it
// otherwise (module docs).
// SAFETY: by the above, no two threads touch the `Cell`s.
unsafe impl Send for WakeSet {}
// SAFETY: no `&self` method touches the state.
unsafe impl Sync for WakeSet {}

/// Returns `true` if `cx` carries a local waker of its own: a dual `Waker`'s
/// twin owned by the calling thread or, with the `nightly` feature, a local
/// waker set through std's `ContextBuilder` (a `Context` is `!Send`, so that
/// one belongs to the calling thread too). Otherwise `cx.local_waker()` is
/// the `Waker` itself, at the same address.
fn parent_is_local(cx: &Context<'_>) -> bool {
    let w = cx.waker();
    (cfg!(feature = "nightly") || hraw::is_dual(w))
        && !ptr::addr_eq(
            ContextExt::local_waker(cx) as *const LocalWaker,
            w as *const Waker,
        )
}

impl WakeSet {
    /// A wake state for `n` children, allocated on the first poll.
    pub const fn new(n: usize) -> Self {
        WakeSet { inner: None, n }
    }

    /// The number of children.
    pub(crate) fn len(&self) -> usize {
        self.n
    }

    #[inline]
    fn inner(&self) -> &Inner {
        let p = self.inner.expect("wake state used before its first poll");
        // SAFETY: the handle holds a local count, so the allocation is alive.
        check(unsafe { p.as_ref() })
    }

    /// Makes sure the state exists and belongs to the calling thread and, in
    /// local mode, that the parent's local waker is the one of `cx`
    /// (`clone_from` semantics: refreshed only when it changed). Returns
    /// `true` if the state is new: its next pass polls every child (their
    /// first poll; the caller's closure skips children that are gone).
    #[inline]
    pub(crate) fn prepare(&mut self, cx: &Context<'_>) -> bool {
        if let Some(p) = self.inner {
            // SAFETY: alive (we hold a count); `local_mode`, `n` and the
            // headers' owner are readable from any thread.
            let inner = check(unsafe { p.as_ref() });
            if !inner.local_mode {
                return false;
            }
            // Local mode has `n > 0` (`alloc_inner`). The owner check comes
            // first: only the owner thread may touch the `Cell`s.
            if inner.slot(0).header.is_local() {
                inner.set_parent(ContextExt::local_waker(cx));
                return false;
            }
        }
        self.prepare_slow(cx)
    }

    /// The first poll, or the first poll on a thread that does not own the
    /// state (abandoned, module docs): makes a fresh state.
    #[cold]
    #[inline(never)]
    fn prepare_slow(&mut self, cx: &Context<'_>) -> bool {
        let p = alloc_inner(self.n, parent_is_local(cx));
        self.inner = Some(p);
        // SAFETY: just made, we hold its count.
        let inner = unsafe { p.as_ref() };
        if inner.local_mode {
            inner.set_parent(ContextExt::local_waker(cx));
        }
        true
    }

    /// Marks child `i` ready (its first poll, or a push). Call after
    /// [`prepare`](Self::prepare).
    pub(crate) fn mark(&mut self, i: usize) {
        self.inner().mark(i);
    }

    /// Bit mode: ready children are polled in the cyclic order `start`,
    /// `start + 1`, ..., `n - 1`, `0`, ... (default `0`). Ignored above
    /// [`SMALL`] children (the ring is FIFO). Call after
    /// [`prepare`](Self::prepare).
    pub(crate) fn set_start(&mut self, start: usize) {
        debug_assert!(start < SMALL.max(1));
        self.inner().start.set(start as u32);
    }

    /// One pass over the children that are due: `f(i, cx_i)` polls child
    /// `i` with its own context. A child is polled at most once per pass;
    /// children woken during the pass (by themselves or by a sibling) wait
    /// for the next pass, for which the parent is woken (`Yielded`), as
    /// `futures::join!` and `FuturesUnordered` (futures-rs #2526) do. Call
    /// after [`prepare`](Self::prepare).
    ///
    /// If the pass unwinds (a child's poll or drop, or the parent's waker,
    /// panicked), the state stays consistent: the children that were due
    /// and not polled yet stay due for the next pass, and the state is armed
    /// again so that the next local wake reaches the parent.
    #[inline]
    pub(crate) fn poll(
        &mut self,
        cx: &mut Context<'_>,
        f: impl FnMut(usize, &mut Context<'_>) -> ControlFlow<()>,
    ) -> Progress {
        let p = self
            .inner
            .expect("wake state used before its first poll")
            .as_ptr();
        let inner = self.inner();
        // Children's look-ups continue in the parent's `Waker` while the
        // pass runs (`slot_parent`); the links are cut when it ends, also by
        // unwinding.
        inner.link.set(cx.waker());
        let _unlink = OnDrop(|| {
            inner.link.set(ptr::null());
            inner.lent.set(ptr::null());
        });
        let rearm = OnDrop(|| inner.armed.set(true));
        let progress = pass(inner, p, cx, f);
        core::mem::forget(rearm);
        progress
    }
}

/// The body of [`WakeSet::poll`]; `p` is the state's raw pointer.
#[inline(always)]
fn pass(
    inner: &Inner,
    p: *const Inner,
    cx: &mut Context<'_>,
    mut f: impl FnMut(usize, &mut Context<'_>) -> ControlFlow<()>,
) -> Progress {
    // `n` and the mode are immutable; read once (after the children's
    // polls, opaque calls, a field behind `&Inner` would be read again).
    let small = inner.n <= SMALL;
    let local_mode = inner.local_mode;
    // During the pass local wakes only mark.
    inner.armed.set(false);
    inner.drain_remote();
    if small {
        // The children due now, in cyclic order from `start`: rotated
        // so that bit 0 is child `start`. A bit is cleared right before
        // its child is polled, so a panicking child leaves the rest of
        // the pass due.
        let start = inner.start.get();
        let mut batch = inner.bits.get().rotate_right(start);
        while batch != 0 {
            let i = (batch.trailing_zeros() + start) as usize & 63;
            batch &= batch - 1;
            inner.bits.set(inner.bits.get() & !(1u64 << i));
            if poll_child(inner, i, &mut f).is_break() {
                return Progress::Break;
            }
        }
    } else {
        // The entries present now are this pass (the ring is FIFO).
        let due = inner.q_len.get();
        // The first-poll sweep: each child's slot is initialised right
        // before its first poll, so a join of children that finish at
        // once touches each slot once, in order. It runs before the
        // ring, so a child that is due again (a stream that yielded)
        // waits until every child had its first poll.
        while inner.swept.get() < inner.n {
            let i = inner.swept.get();
            if i > 0 {
                // SAFETY: slots `0..max(swept, 1)` are initialised; `p`
                // is the state's raw pointer.
                unsafe { init_slot(p, i) };
            }
            inner.swept.set(i + 1);
            if poll_child(inner, i, &mut f).is_break() {
                return Progress::Break;
            }
        }
        for _ in 0..due {
            let Some(i) = inner.pop() else { break };
            if poll_child(inner, i, &mut f).is_break() {
                return Progress::Break;
            }
        }
    }
    // A child `Waker` exists (or every wake is remote): the parent's
    // thread-safe waker must be reachable from other threads. A `Waker`
    // can only appear during a child's poll, so checking after the pass
    // is enough.
    if !local_mode || inner.refs.load(Ordering::Acquire) > 1 {
        // SAFETY: only the owner registers, in `WakeSet::poll(&mut self)`.
        unsafe {
            if !inner.remote_parent.is_current(cx.waker()) {
                inner.remote_parent.register(cx.waker());
            }
        }
    }
    // Woken during the pass, or a remote wake raced with the
    // registration: another pass, later.
    let again = if small {
        inner.bits.get() != 0 || inner.remote_bits.load(Ordering::Acquire) != 0
    } else {
        inner.q_len.get() != 0 || !inner.remote_head.load(Ordering::Acquire).is_null()
    };
    if again {
        if local_mode {
            inner.wake_parent_local();
        } else {
            cx.waker().wake_by_ref();
        }
        return Progress::Yielded;
    }
    inner.armed.set(true);
    Progress::Idle
}

/// Polls child `i` with a context whose waker is slot `i`.
///
/// The child's look-ups (`hearth_task::provide`) reach the parent's
/// providers through the slot's `linked` hook, not through a different
/// `Waker`: the child sees the same `Waker` on every poll, so a child that
/// keeps its waker while it `will_wake` never re-clones it.
#[inline(always)]
fn poll_child(
    inner: &Inner,
    i: usize,
    f: &mut impl FnMut(usize, &mut Context<'_>) -> ControlFlow<()>,
) -> ControlFlow<()> {
    // The slot pointer keeps the allocation's provenance (a pointer made
    // from a field reference could not reach the rest of the slot).
    // SAFETY: `i < n`, in bounds.
    let slot = unsafe { inner.slots.add(i) };
    // SAFETY: the `Waker` is borrowed for the child's poll only and never
    // dropped; the allocation outlives it.
    let waker = ManuallyDrop::new(unsafe { Waker::from_raw(DualHeader::raw_waker(slot.cast())) });
    inner.lent.set(&*waker);
    // On nightly this also sets std's local-waker field to the twin.
    let flow = f(i, &mut hearth_task::context_from_waker(&waker));
    // (If `f` unwinds, `WakeSet::poll`'s guard clears it.)
    inner.lent.set(ptr::null());
    flow
}

impl Drop for WakeSet {
    fn drop(&mut self) {
        let Some(p) = self.inner else { return };
        // SAFETY: we hold a count.
        let inner = check(unsafe { p.as_ref() });
        if inner.local_mode && inner.n > 0 && !inner.slot(0).header.is_local() {
            // Dropped away from its owner thread: abandoned (module docs).
            return;
        }
        inner.armed.set(false);
        // The parent's wakers are dropped last: their `drop` is user code,
        // and a panic there must not skip the release of the state.
        let parent = inner.take_parent();
        let remote = if inner.remote_parent.maybe_registered() {
            inner.remote_parent.take()
        } else {
            None
        };
        // SAFETY: the handle's local count, on the owner thread (or shared
        // mode, where only the handle touches the `Cell`s).
        unsafe { dec_local(p.as_ptr()) };
        drop(parent);
        drop(remote);
    }
}

/// Initialises slot `i`.
///
/// # Safety
/// `p` is a live state, as the raw pointer it was allocated as (a slot
/// keeps it to free the state); slot `i` (`i < n`) is not initialised;
/// owner thread (or shared mode through the handle).
#[inline]
unsafe fn init_slot(p: *const Inner, i: usize) {
    // SAFETY: live, per the contract.
    let this = unsafe { &*p };
    // SAFETY: in bounds; the pointer keeps the allocation's provenance.
    let s = unsafe { this.slots.add(i) }.cast_mut();
    // The twin's vtable functions are valid on this thread for as long as the
    // allocation lives, also after release (they check `is_released`); the
    // face's functions are thread-safe and follow the `RawWakerVTable`
    // contract for a `Waker` whose data is `s`.
    // SAFETY: the contract of `DualHeader::new`, as shown above.
    let header = unsafe { DualHeader::new(LocalWaker::new(s.cast_const().cast(), &TWIN), &FACE) };
    // SAFETY: in bounds, uninitialised (per the contract), written once.
    unsafe {
        s.write(Slot {
            header,
            inner: p,
            index: i,
            woken: Cell::new(false),
            queued: AtomicBool::new(false),
            next: AtomicPtr::new(ptr::null_mut()),
        })
    };
    if !this.local_mode {
        // SAFETY: just written.
        unsafe { (*s).header.release_local() };
    }
}

/// Allocates the state for `n` children.
fn alloc_inner(n: usize, local_mode: bool) -> NonNull<Inner> {
    // Without children there is no slot to check the owner with, and
    // nothing to wake locally.
    let local_mode = local_mode && n > 0;
    assert!(
        n <= u32::MAX as usize,
        "too many children for one combinator"
    );
    let (layout, slots_off) = Layout::new::<Inner>()
        .extend(Layout::array::<Slot>(n).expect("combinator too large"))
        .expect("combinator too large");
    let (layout, ring_off) = if n > SMALL {
        layout
            .extend(Layout::array::<u32>(n).expect("combinator too large"))
            .expect("combinator too large")
    } else {
        (layout, layout.size())
    };
    let layout = layout.pad_to_align();
    // SAFETY: the layout has a non-zero size (`Inner` is not zero-sized).
    let base = unsafe { alloc::alloc(layout) };
    if base.is_null() {
        alloc::handle_alloc_error(layout);
    }
    let p = base.cast::<Inner>();
    // SAFETY: offsets computed by `Layout::extend` for this allocation.
    let slots = unsafe { base.add(slots_off) }.cast::<Slot>();
    // SAFETY: as above (one past the slots when there is no ring).
    let ring = unsafe { base.add(ring_off) }.cast::<u32>();
    // SAFETY: `p` is fresh memory laid out for an `Inner`.
    unsafe {
        p.write(Inner {
            local: Cell::new(1),
            refs: AtomicUsize::new(1),
            local_mode,
            armed: Cell::new(false),
            parent: Cell::new(None),
            parent_ident: Cell::new((ptr::null(), ptr::null())),
            waking: Cell::new(false),
            retired: Cell::new(Vec::new()),
            remote_parent: AtomicWaker::new(),
            link: Cell::new(ptr::null()),
            lent: Cell::new(ptr::null()),
            n,
            // Bit mode: every child is due for its first poll.
            bits: Cell::new(if n == 0 {
                0
            } else {
                u64::MAX >> (64 - n.min(SMALL))
            }),
            start: Cell::new(0),
            q_head: Cell::new(0),
            q_len: Cell::new(0),
            swept: Cell::new(if n > SMALL { 0 } else { n }),
            slots,
            ring,
            remote_head: AtomicPtr::new(ptr::null_mut()),
            remote_bits: AtomicU64::new(0),
            layout,
            #[cfg(loom)]
            freed: AtomicBool::new(false),
        })
    };
    // Ring mode: slot 0 now (the owner check reads it), the others during
    // the first-poll sweep.
    for i in 0..n.min(if n > SMALL { 1 } else { SMALL }) {
        // SAFETY: not initialised yet; we are the only user; `p` is the raw
        // pointer of the allocation.
        unsafe { init_slot(p, i) };
    }
    // SAFETY: `alloc` returned non-null.
    unsafe { NonNull::new_unchecked(p) }
}

/// Releases one local count.
///
/// # Safety
/// The caller owns a local count of `p` and is allowed to touch its `Cell`s
/// (owner thread, or shared mode through the handle).
unsafe fn dec_local(p: *const Inner) {
    // SAFETY: the count keeps the allocation alive.
    let inner = check(unsafe { &*p });
    let n = inner.local.get() - 1;
    inner.local.set(n);
    if n != 0 {
        return;
    }
    inner.armed.set(false);
    // Dropped last (user code; see `WakeSet::drop`).
    let parent = inner.take_parent();
    // No `Waker` alive (only the local side's count): nothing can reach the
    // headers any more (no twin, no `Waker`, and views only live during a
    // child's poll), so free without releasing them and without an RMW.
    if inner.refs.load(Ordering::Acquire) == 1 {
        // SAFETY: sole owner: `Waker`s only come from twins or `Waker`s.
        unsafe { free(p) };
    } else {
        // `Waker`s live on: their `cx.local_waker()` must no longer find the
        // twins.
        for i in 0..inner.initialised() {
            inner.slot(i).header.release_local();
        }
        // SAFETY: we own the local side's count.
        unsafe { release_ref(p) };
    }
    drop(parent);
}

/// Releases one `refs` count, freeing on the last.
///
/// # Safety
/// The caller owns a `refs` count of `p`.
unsafe fn release_ref(p: *const Inner) {
    // SAFETY: the count keeps the allocation alive.
    let inner = check(unsafe { &*p });
    if inner.refs.fetch_sub(1, Ordering::Release) == 1 {
        fence(Ordering::Acquire);
        // SAFETY: last count of either kind.
        unsafe { free(p) };
    }
}

/// Frees the state; its parent wakers are dropped after the memory is
/// released (their `drop` is user code and may panic).
///
/// # Safety
/// No count remains.
unsafe fn free(p: *const Inner) {
    // SAFETY: no count remains, so nothing else can reach `p`.
    let inner = unsafe { &mut *p.cast_mut() };
    let parent = inner.parent.take();
    // Wakers are retired only while a wake runs, which holds a count.
    debug_assert!(inner.retired.get_mut().is_empty());
    let remote = inner.remote_parent.take_mut();
    #[cfg(not(loom))]
    {
        let layout = inner.layout;
        // SAFETY: as above; the slots need no drop (headers never drop
        // their twin view), `Inner` owns nothing else that needs it.
        unsafe {
            ptr::drop_in_place(p.cast_mut());
            alloc::dealloc(p.cast_mut().cast(), layout);
        }
    }
    #[cfg(loom)]
    assert!(
        !check(inner).freed.swap(true, Ordering::SeqCst),
        "wake state freed twice"
    );
    drop(parent);
    drop(remote);
}

#[inline]
fn inc_local(inner: &Inner) {
    let n = inner.local.get();
    if n >= isize::MAX as usize {
        std::process::abort();
    }
    inner.local.set(n + 1);
}

/// # Safety
/// `s` points at a slot whose allocation is alive.
#[inline]
unsafe fn slot_inner<'a>(s: *const ()) -> (&'a Slot, &'a Inner) {
    // SAFETY: per the contract.
    let slot = unsafe { &*s.cast::<Slot>() };
    // SAFETY: a live slot's allocation is alive.
    let inner = check(unsafe { &*slot.inner });
    (slot, inner)
}

/// The allocation of the slot at `s`, as the raw pointer it was made from
/// (frees must go through it, not through a shared reference).
///
/// # Safety
/// `s` points at a live slot.
#[inline]
unsafe fn slot_base(s: *const ()) -> *const Inner {
    // SAFETY: per the contract.
    unsafe { (*s.cast::<Slot>()).inner }
}

// ---- The twin (owner thread only) ----

static TWIN: RawWakerVTable =
    RawWakerVTable::new(twin_clone, twin_wake, twin_wake_by_ref, twin_drop);

/// # Safety
/// `s` is a twin's data: a live slot; owner thread.
unsafe fn twin_clone(s: *const ()) -> RawWaker {
    // SAFETY: a twin or view keeps the allocation alive.
    let (slot, inner) = unsafe { slot_inner(s) };
    if slot.header.is_released() {
        // A view outlived the local side: hand out a `Waker` instead.
        // SAFETY: alive, see above.
        return unsafe { face_clone(s) };
    }
    inc_local(inner);
    RawWaker::new(s, &TWIN)
}

/// # Safety
/// As for [`twin_clone`]; consumes an owned twin's count.
unsafe fn twin_wake(s: *const ()) {
    // The count is released also if the parent's wake panics.
    let _release = OnDrop(|| {
        // SAFETY: forwarded; runs once, after the wake.
        unsafe { twin_drop(s) }
    });
    // SAFETY: forwarded.
    unsafe { twin_wake_by_ref(s) };
}

/// # Safety
/// As for [`twin_clone`].
unsafe fn twin_wake_by_ref(s: *const ()) {
    // SAFETY: see `twin_clone`.
    let (slot, inner) = unsafe { slot_inner(s) };
    if !slot.header.is_released() {
        inner.wake_local(slot.index);
    }
}

/// # Safety
/// As for [`twin_clone`]; consumes an owned twin's count.
unsafe fn twin_drop(s: *const ()) {
    // SAFETY: an owned twin holds a local count of a live slot; owner thread.
    unsafe { dec_local(slot_base(s)) };
}

// ---- The `Waker` face (any thread) ----

// `slot_parent` returns the parent's `Waker` only for the `Waker` lent to
// the child being polled (never for a clone), and only during the pass,
// whose parent `Context` borrows that `Waker` for longer than the child's
// poll: `DualVTable::linked`'s contract.
// SAFETY: as above.
static FACE: DualVTable = unsafe {
    DualVTable::new(face_clone_h, face_wake, face_wake_by_ref, face_drop).linked(slot_parent)
};

/// Where a look-up from a child's context continues: the parent's `Waker`,
/// if `via` is the `Waker` lent to the child being polled.
///
/// # Safety
/// `h` is the header of a live slot, on its owner thread.
unsafe fn slot_parent(h: *const DualHeader, via: *const Waker) -> *const Waker {
    // SAFETY: per the contract: a live slot's allocation is alive.
    let (_, inner) = unsafe { slot_inner(h.cast()) };
    if !via.is_null() && ptr::eq(via, inner.lent.get()) {
        inner.link.get()
    } else {
        ptr::null()
    }
}

/// # Safety
/// `s` points at a slot whose allocation is alive.
unsafe fn face_clone(s: *const ()) -> RawWaker {
    // SAFETY: per the contract.
    let (_, inner) = unsafe { slot_inner(s) };
    if inner.refs.fetch_add(1, Ordering::Relaxed) >= isize::MAX as usize {
        std::process::abort();
    }
    DualHeader::raw_waker(s.cast())
}

/// # Safety
/// `h` is the header of a live slot.
unsafe fn face_clone_h(h: *const DualHeader) -> RawWaker {
    // SAFETY: the header is the slot's first field.
    unsafe { face_clone(h.cast()) }
}

/// # Safety
/// `h` is the header of a live slot whose `Waker` the caller holds.
unsafe fn face_wake_by_ref(h: *const DualHeader) {
    // SAFETY: the caller's `Waker` keeps the allocation alive.
    let (slot, inner) = unsafe { slot_inner(h.cast()) };
    if slot.header.is_local() {
        inner.wake_local(slot.index);
    } else {
        inner.wake_remote(slot);
    }
}

/// # Safety
/// As for [`face_wake_by_ref`]; consumes the `Waker`'s count.
unsafe fn face_wake(h: *const DualHeader) {
    // The count is released also if the parent's wake panics.
    let _release = OnDrop(|| {
        // SAFETY: forwarded; runs once, after the wake.
        unsafe { face_drop(h) }
    });
    // SAFETY: forwarded.
    unsafe { face_wake_by_ref(h) };
}

/// # Safety
/// `h` is the header of a live slot; consumes a `Waker` count.
unsafe fn face_drop(h: *const DualHeader) {
    // SAFETY: the count keeps the allocation alive; forwarded.
    unsafe { release_ref(slot_base(h.cast())) };
}
