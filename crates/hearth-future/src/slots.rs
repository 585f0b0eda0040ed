//! [`Slots`]: a growable set of pinned children with precise wakes, the
//! engine of [`FuturesSet`](crate::FuturesSet) and [`Merge`](crate::Merge);
//! and the iterators over it.
//!
//! # Layout
//!
//! Children live in *segments*: a boxed slice of `Option<T>` plus a
//! [`WakeSet`] of the same capacity. A segment is never resized and a child
//! is dropped in place (its slot set to `None`), never moved, so children
//! stay pinned for as long as they are in the set. New segments double in
//! capacity (32, 64, 128, ...; the first may be sized to the children given
//! at once), so growth costs O(log n) allocations in all and never moves a
//! child. Freed slots are reused (`free`).
//!
//! # Invariants
//!
//! - `len` counts the occupied slots (`Some`), `segments[s].len` those of
//!   segment `s`; every slot that is `None` is on `free` or about to be
//!   filled by `push`.
//! - `polling` names the slot whose child is being polled. If that poll
//!   unwinds it stays set: the child is *gone* ([`Slots::len`] and the
//!   iterators no longer show it) and the next poll frees the slot and drops
//!   the child (not during the unwinding, where a second panic would abort).
//! - A child is removed by taking it out of its slot and updating the counts
//!   first, and dropping it last (its drop is user code and may panic; the
//!   set is consistent by then).

use core::mem;
use core::ops::ControlFlow;
use core::pin::Pin;
use core::task::{Context, Poll};
use std::boxed::Box;
use std::vec::Vec;

use crate::raw::{Progress, WakeSet, SMALL};

/// Capacity of the first segment made by `push`; each further one doubles.
const FIRST: usize = 32;

/// A block of slots with its own wake state.
pub(crate) struct Segment<T> {
    set: WakeSet,
    children: Box<[Option<T>]>,
    /// Slots filled since the last poll, to be marked ready then.
    pushed: Vec<u32>,
    /// Occupied slots.
    len: usize,
    /// Bit mode: the slot the next pass starts at (see [`Slots::poll`]'s
    /// `rotate`).
    next: usize,
}

/// What polling one child gave.
pub(crate) enum Polled<R> {
    /// Not ready; it will be woken.
    Pending,
    /// An item; the child stays and is due again (a stream that yielded).
    Item(R),
    /// The last output; the child is removed.
    Done(R),
    /// The child ended without an output (a stream that ended): removed,
    /// and the poll goes on with the others.
    Ended,
}

/// The set. See the module docs for the invariants.
pub(crate) struct Slots<T> {
    segments: Vec<Segment<T>>,
    /// Free slots as (segment, index).
    free: Vec<(u32, u32)>,
    len: usize,
    /// Segment to start the next poll with, for fairness.
    start: usize,
    /// The slot whose child is being polled; still set after that poll
    /// unwound.
    polling: Option<(u32, u32)>,
    /// The last poll returned `Ready(None)` and nothing was pushed since
    /// (futures' `FusedStream::is_terminated`).
    terminated: bool,
}

impl<T> Slots<T> {
    pub(crate) const fn new() -> Self {
        Slots {
            segments: Vec::new(),
            free: Vec::new(),
            len: 0,
            start: 0,
            polling: None,
            terminated: false,
        }
    }

    /// A set holding `children`, in one segment sized to them (at least
    /// [`FIRST`] slots, so a few pushes later need no second segment).
    pub(crate) fn from_children(children: impl IntoIterator<Item = T>) -> Self {
        let mut this = Slots::new();
        let mut children = children.into_iter();
        let (lo, _) = children.size_hint();
        if lo > 0 {
            let mut first: Vec<Option<T>> = Vec::with_capacity(lo.max(FIRST));
            first.extend(children.by_ref().take(lo.max(FIRST)).map(Some));
            let len = first.len();
            let cap = len.max(FIRST);
            first.resize_with(cap, || None);
            this.segments.push(Segment {
                set: WakeSet::new(cap),
                children: first.into_boxed_slice(),
                pushed: (0..len as u32).collect(),
                len,
                next: 0,
            });
            this.free
                .extend((len as u32..cap as u32).rev().map(|i| (0, i)));
            this.len = len;
        }
        this.extend(children);
        this
    }

    /// The number of children (one whose poll panicked is gone already).
    pub(crate) fn len(&self) -> usize {
        self.len - usize::from(self.polling.is_some())
    }

    pub(crate) fn is_terminated(&self) -> bool {
        self.terminated
    }

    /// Adds a child, due on the next poll.
    pub(crate) fn push(&mut self, child: T) {
        if self.free.is_empty() {
            let cap = FIRST << self.segments.len().min(20);
            let s = self.segments.len() as u32;
            self.segments.push(Segment {
                set: WakeSet::new(cap),
                children: (0..cap).map(|_| None).collect(),
                pushed: Vec::new(),
                len: 0,
                next: 0,
            });
            self.free.extend((0..cap as u32).rev().map(|i| (s, i)));
        }
        let (s, i) = self.free.pop().expect("a free slot was just made");
        let seg = &mut self.segments[s as usize];
        seg.children[i as usize] = Some(child);
        seg.pushed.push(i);
        seg.len += 1;
        self.len += 1;
        self.terminated = false;
    }

    pub(crate) fn extend(&mut self, children: impl IntoIterator<Item = T>) {
        for c in children {
            self.push(c);
        }
    }

    /// Drops every child. The set is empty (and consistent) before the
    /// first child's drop runs, so a drop that panics leaves an empty,
    /// usable set; the children after it are still dropped (a slice drops
    /// its other elements when one panics).
    pub(crate) fn clear(&mut self) {
        let segments = mem::take(&mut self.segments);
        self.free = Vec::new();
        self.len = 0;
        self.start = 0;
        self.polling = None;
        drop(segments);
    }

    /// Takes slot `(s, i)`'s child out and the slot out of the counts; the
    /// caller drops the child once nothing else is left to do.
    fn remove(&mut self, s: usize, i: usize) -> Option<T> {
        let seg = &mut self.segments[s];
        let child = seg.children[i].take();
        seg.len -= 1;
        self.len -= 1;
        self.free.push((s as u32, i as u32));
        child
    }

    /// One poll: polls the children that are due (each at most once) with
    /// `f` until one gives an item or an output. `Ready(None)` when the set
    /// is empty.
    ///
    /// With `rotate`, a segment's next pass starts after the child that last
    /// gave an item and the next poll starts at the next segment (fairness
    /// among streams that always have an item; up to 64 slots per segment,
    /// above due children are served in wake order). Without, the next poll
    /// starts at the segment that gave the output.
    pub(crate) fn poll<R>(
        &mut self,
        cx: &mut Context<'_>,
        rotate: bool,
        mut f: impl FnMut(Pin<&mut T>, &mut Context<'_>) -> Polled<R>,
    ) -> Poll<Option<R>> {
        if let Some((s, i)) = self.polling.take() {
            // Its poll panicked: drop it now.
            drop(self.remove(s as usize, i as usize));
        }
        'again: loop {
            if self.len == 0 {
                self.terminated = true;
                return Poll::Ready(None);
            }
            let nseg = self.segments.len();
            for k in 0..nseg {
                let s = (self.start + k) % nseg;
                let seg = &mut self.segments[s];
                if seg.len == 0 {
                    continue;
                }
                if seg.set.prepare(cx) {
                    // A new state polls every slot (empty ones are skipped).
                    seg.pushed.clear();
                }
                for i in seg.pushed.drain(..) {
                    seg.set.mark(i as usize);
                }
                if rotate && seg.children.len() <= SMALL {
                    seg.set.set_start(seg.next);
                }
                let children = &mut seg.children;
                let polling = &mut self.polling;
                let mut out = None;
                let progress = seg.set.poll(cx, |i, cx| {
                    let Some(c) = children[i].as_mut() else {
                        return ControlFlow::Continue(()); // a stale wake
                    };
                    *polling = Some((s as u32, i as u32));
                    // SAFETY: the child lives in a boxed slice that is never
                    // resized; it is dropped in place (taken out only to be
                    // dropped, or by `IntoIter` when `T: Unpin`), never moved.
                    let r = f(unsafe { Pin::new_unchecked(c) }, cx);
                    *polling = None;
                    match r {
                        Polled::Pending => ControlFlow::Continue(()),
                        r => {
                            out = Some((i, r));
                            ControlFlow::Break(())
                        }
                    }
                });
                match out {
                    Some((i, Polled::Item(v))) => {
                        seg.set.mark(i);
                        seg.next = if i + 1 == seg.children.len() {
                            0
                        } else {
                            i + 1
                        };
                        self.start = if rotate { (s + 1) % nseg } else { s };
                        return Poll::Ready(Some(v));
                    }
                    Some((i, Polled::Done(v))) => {
                        self.start = s;
                        // If its drop panics, the output is lost with the
                        // panic, but the set is consistent.
                        drop(self.remove(s, i));
                        return Poll::Ready(Some(v));
                    }
                    Some((i, Polled::Ended)) => {
                        self.start = s;
                        drop(self.remove(s, i));
                        // The pass stopped at it; the others that were due
                        // still are.
                        continue 'again;
                    }
                    Some((_, Polled::Pending)) => {
                        unreachable!("pending children do not stop a pass")
                    }
                    None => {}
                }
                if progress == Progress::Yielded {
                    self.start = (s + 1) % nseg;
                    return Poll::Pending;
                }
            }
            return Poll::Pending;
        }
    }

    fn raw_iter(&self) -> RawIter<'_, T> {
        RawIter {
            segments: self.segments.iter(),
            current: [].iter(),
            s: u32::MAX,
            i: 0,
            skip: self.polling,
            left: self.len(),
        }
    }

    fn raw_iter_mut(&mut self) -> RawIterMut<'_, T> {
        let left = self.len();
        RawIterMut {
            segments: self.segments.iter_mut(),
            current: [].iter_mut(),
            s: u32::MAX,
            i: 0,
            skip: self.polling,
            left,
        }
    }

    pub(crate) fn iter(&self) -> Iter<'_, T> {
        Iter(self.raw_iter())
    }

    pub(crate) fn iter_pin_ref(&self) -> IterPinRef<'_, T> {
        IterPinRef(self.raw_iter())
    }

    pub(crate) fn iter_pin_mut(&mut self) -> IterPinMut<'_, T> {
        IterPinMut(self.raw_iter_mut())
    }
}

impl<T: Unpin> Slots<T> {
    pub(crate) fn iter_mut(&mut self) -> IterMut<'_, T> {
        IterMut(self.raw_iter_mut())
    }

    pub(crate) fn into_iter(mut self) -> IntoIter<T> {
        // The child whose poll panicked is gone: drop it now, with the set
        // consistent.
        if let Some((s, i)) = self.polling.take() {
            drop(self.remove(s as usize, i as usize));
        }
        let left = self.len;
        IntoIter {
            segments: mem::take(&mut self.segments).into_iter(),
            current: Vec::new().into_iter(),
            left,
        }
    }
}

/// Walks `segments` slot by slot; shared by the borrowing iterators.
macro_rules! next_child {
    ($self:ident, $iter:ident) => {{
        loop {
            if let Some(slot) = $self.current.next() {
                let here = ($self.s, $self.i);
                $self.i += 1;
                if $self.skip == Some(here) {
                    continue;
                }
                if let Some(c) = slot {
                    $self.left -= 1;
                    return Some(c);
                }
                continue;
            }
            let seg = $self.segments.next()?;
            $self.current = seg.children.$iter();
            $self.s = $self.s.wrapping_add(1);
            $self.i = 0;
        }
    }};
}

/// Children by shared reference, skipping the one whose poll panicked.
struct RawIter<'a, T> {
    segments: core::slice::Iter<'a, Segment<T>>,
    current: core::slice::Iter<'a, Option<T>>,
    /// Index of the current segment (`u32::MAX` before the first) and of
    /// the next slot in it.
    s: u32,
    i: u32,
    skip: Option<(u32, u32)>,
    left: usize,
}

impl<'a, T> Iterator for RawIter<'a, T> {
    type Item = &'a T;
    fn next(&mut self) -> Option<&'a T> {
        next_child!(self, iter)
    }
    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.left, Some(self.left))
    }
}

/// Children by mutable reference, skipping the one whose poll panicked.
struct RawIterMut<'a, T> {
    segments: core::slice::IterMut<'a, Segment<T>>,
    current: core::slice::IterMut<'a, Option<T>>,
    s: u32,
    i: u32,
    skip: Option<(u32, u32)>,
    left: usize,
}

impl<'a, T> Iterator for RawIterMut<'a, T> {
    type Item = &'a mut T;
    fn next(&mut self) -> Option<&'a mut T> {
        next_child!(self, iter_mut)
    }
    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.left, Some(self.left))
    }
}

/// An iterator over the children of a [`FuturesSet`](crate::FuturesSet) or
/// [`Merge`](crate::Merge) by reference, in no particular order. Made by
/// their `iter` methods.
pub struct Iter<'a, T>(RawIter<'a, T>);

/// An iterator over the children by mutable reference (`T: Unpin`). Made by
/// `iter_mut`.
pub struct IterMut<'a, T>(RawIterMut<'a, T>);

/// An iterator over the children as `Pin<&T>`. Made by `iter_pin_ref`.
pub struct IterPinRef<'a, T>(RawIter<'a, T>);

/// An iterator over the children as `Pin<&mut T>` (any `T`). Made by
/// `iter_pin_mut`.
pub struct IterPinMut<'a, T>(RawIterMut<'a, T>);

/// The children, by value (`T: Unpin`). Made by `into_iter`.
pub struct IntoIter<T> {
    segments: std::vec::IntoIter<Segment<T>>,
    current: std::vec::IntoIter<Option<T>>,
    left: usize,
}

impl<'a, T> Iterator for Iter<'a, T> {
    type Item = &'a T;
    fn next(&mut self) -> Option<&'a T> {
        self.0.next()
    }
    fn size_hint(&self) -> (usize, Option<usize>) {
        self.0.size_hint()
    }
}

impl<'a, T: Unpin> Iterator for IterMut<'a, T> {
    type Item = &'a mut T;
    fn next(&mut self) -> Option<&'a mut T> {
        self.0.next()
    }
    fn size_hint(&self) -> (usize, Option<usize>) {
        self.0.size_hint()
    }
}

impl<'a, T> Iterator for IterPinRef<'a, T> {
    type Item = Pin<&'a T>;
    fn next(&mut self) -> Option<Pin<&'a T>> {
        // SAFETY: children are pinned in their slot (module docs); a shared
        // reference cannot move them.
        self.0.next().map(|c| unsafe { Pin::new_unchecked(c) })
    }
    fn size_hint(&self) -> (usize, Option<usize>) {
        self.0.size_hint()
    }
}

impl<'a, T> Iterator for IterPinMut<'a, T> {
    type Item = Pin<&'a mut T>;
    fn next(&mut self) -> Option<Pin<&'a mut T>> {
        // SAFETY: children are pinned in their slot (module docs), and the
        // caller only gets them pinned.
        self.0.next().map(|c| unsafe { Pin::new_unchecked(c) })
    }
    fn size_hint(&self) -> (usize, Option<usize>) {
        self.0.size_hint()
    }
}

impl<T: Unpin> Iterator for IntoIter<T> {
    type Item = T;
    fn next(&mut self) -> Option<T> {
        loop {
            if let Some(slot) = self.current.next() {
                if let Some(c) = slot {
                    self.left -= 1;
                    return Some(c);
                }
                continue;
            }
            let seg = self.segments.next()?;
            // The wake state goes first; children's wakers may outlive it
            // (the allocation is shared with them).
            let Segment { set, children, .. } = seg;
            drop(set);
            self.current = children.into_vec().into_iter();
        }
    }
    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.left, Some(self.left))
    }
}

impl<T> ExactSizeIterator for Iter<'_, T> {}
impl<T: Unpin> ExactSizeIterator for IterMut<'_, T> {}
impl<T> ExactSizeIterator for IterPinRef<'_, T> {}
impl<T> ExactSizeIterator for IterPinMut<'_, T> {}
impl<T: Unpin> ExactSizeIterator for IntoIter<T> {}
impl<T> core::iter::FusedIterator for Iter<'_, T> {}
impl<T: Unpin> core::iter::FusedIterator for IterMut<'_, T> {}
impl<T> core::iter::FusedIterator for IterPinRef<'_, T> {}
impl<T> core::iter::FusedIterator for IterPinMut<'_, T> {}
impl<T: Unpin> core::iter::FusedIterator for IntoIter<T> {}

macro_rules! debug_len {
    ($($ty:ident),*) => {$(
        impl<T> core::fmt::Debug for $ty<'_, T> {
            fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
                f.debug_struct(stringify!($ty)).field("left", &self.0.left).finish()
            }
        }
    )*};
}
debug_len!(Iter, IterMut, IterPinRef, IterPinMut);

impl<T> core::fmt::Debug for IntoIter<T> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("IntoIter")
            .field("left", &self.left)
            .finish()
    }
}
