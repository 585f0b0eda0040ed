//! [`FuturesSet`]: an unordered set of futures, polled precisely.

use core::future::Future;
use core::ops::ControlFlow;
use core::pin::Pin;
use core::task::{Context, Poll};
use std::boxed::Box;
use std::vec::Vec;

use futures_core::Stream;

use crate::poison::Poison;
use crate::raw::{Progress, WakeSet};

/// Capacity of the first segment; each further one doubles.
const FIRST: usize = 32;

/// A block of slots with its own wake state (one allocation for the wakers,
/// one for the futures). Segments never move their futures.
struct Segment<F> {
    set: WakeSet,
    futures: Box<[Option<F>]>,
    /// Slots filled since the last poll, to be marked ready then.
    pushed: Vec<u32>,
    /// Occupied slots.
    len: usize,
}

/// An unordered set of futures that yields their outputs as they finish.
///
/// The counterpart of `futures::stream::FuturesUnordered`, polled precisely:
/// a future is polled after it was pushed and afterwards only when its own
/// waker fired. Wakers come from one allocation per segment (segments of 32,
/// 64, 128, ... slots, so growth never moves a future and costs O(log n)
/// allocations in all); freed slots are reused. One call of `poll_next`
/// polls each future that is due at most once; a future woken meanwhile
/// waits for the next call, for which the task is woken, so a set whose
/// futures wake themselves cannot starve the task (futures-rs #2526).
///
/// If a future's poll panics, the panic propagates out of `poll_next` and
/// the set stays usable, as `FuturesUnordered` does: that future is gone
/// ([`len`](Self::len) no longer counts it) and the next `poll_next` drops it
/// (not during the unwinding, where a second panic would abort) and resumes.
///
/// # Examples
///
/// ```
/// use futures::StreamExt;
/// use hearth_future::FuturesSet;
///
/// futures::executor::block_on(async {
///     let mut set = FuturesSet::new();
///     for i in 0..3 {
///         set.push(async move { i * 2 });
///     }
///     assert_eq!(set.len(), 3);
///     let mut out: Vec<i32> = set.collect().await;
///     out.sort();
///     assert_eq!(out, [0, 2, 4]);
/// });
/// ```
pub struct FuturesSet<F> {
    segments: Vec<Segment<F>>,
    /// Free slots as (segment, index).
    free: Vec<(u32, u32)>,
    len: usize,
    /// Segment to start the next poll with, for fairness.
    start: usize,
    /// The slot whose future is being polled. Still set after that poll
    /// unwound: the next `poll_next` drops the future (not during the
    /// unwinding, where a second panic would abort) and frees its slot.
    polling: Option<(u32, u32)>,
}

impl<F> Unpin for FuturesSet<F> {}

impl<F> Default for FuturesSet<F> {
    fn default() -> Self {
        Self::new()
    }
}

impl<F> FuturesSet<F> {
    /// An empty set; allocates nothing.
    ///
    /// # Examples
    ///
    /// ```
    /// let set = hearth_future::FuturesSet::<std::future::Ready<()>>::new();
    /// assert!(set.is_empty());
    /// ```
    pub const fn new() -> Self {
        FuturesSet {
            segments: Vec::new(),
            free: Vec::new(),
            len: 0,
            start: 0,
            polling: None,
        }
    }

    /// The number of futures in the set.
    ///
    /// # Examples
    ///
    /// ```
    /// use futures::StreamExt;
    ///
    /// let mut set: hearth_future::FuturesSet<_> = (0..3).map(std::future::ready).collect();
    /// assert_eq!(set.len(), 3);
    /// futures::executor::block_on(set.next());
    /// assert_eq!(set.len(), 2);
    /// ```
    pub fn len(&self) -> usize {
        // A future whose poll panicked is gone, though not yet dropped.
        self.len - usize::from(self.polling.is_some())
    }

    /// Returns `true` if the set holds no future.
    ///
    /// # Examples
    ///
    /// ```
    /// let mut set = hearth_future::FuturesSet::new();
    /// assert!(set.is_empty());
    /// set.push(std::future::ready(1));
    /// assert!(!set.is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Adds a future; it is polled on the next poll of the set (no wake is
    /// needed: call `poll_next` again, as after any `push`).
    ///
    /// # Examples
    ///
    /// ```
    /// use futures::StreamExt;
    ///
    /// futures::executor::block_on(async {
    ///     let mut set = hearth_future::FuturesSet::new();
    ///     set.push(std::future::ready(1));
    ///     assert_eq!(set.next().await, Some(1));
    ///     // Push while the set is in use, e.g. from the loop that drains it.
    ///     set.push(std::future::ready(2));
    ///     assert_eq!(set.next().await, Some(2));
    ///     assert_eq!(set.next().await, None);
    /// });
    /// ```
    pub fn push(&mut self, future: F) {
        if self.free.is_empty() {
            let cap = FIRST << self.segments.len().min(20);
            let s = self.segments.len() as u32;
            self.segments.push(Segment {
                set: WakeSet::new(cap),
                futures: (0..cap).map(|_| None).collect(),
                pushed: Vec::new(),
                len: 0,
            });
            self.free.extend((0..cap as u32).rev().map(|i| (s, i)));
        }
        let (s, i) = self.free.pop().expect("a free slot was just made");
        let seg = &mut self.segments[s as usize];
        seg.futures[i as usize] = Some(future);
        seg.pushed.push(i);
        seg.len += 1;
        self.len += 1;
    }
}

impl<F> FuturesSet<F> {
    /// Takes slot `(s, i)` out of the count and frees it; the caller then
    /// drops its future (user code, which may panic: the set is consistent
    /// by then).
    fn release(&mut self, s: usize, i: usize) {
        self.segments[s].len -= 1;
        self.len -= 1;
        self.free.push((s as u32, i as u32));
    }
}

impl<F: Future> Stream for FuturesSet<F> {
    type Item = F::Output;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<F::Output>> {
        let this = self.get_mut();
        if let Some((s, i)) = this.polling.take() {
            // Its poll panicked: drop it now.
            let (s, i) = (s as usize, i as usize);
            this.release(s, i);
            this.segments[s].futures[i] = None;
        }
        if this.len == 0 {
            return Poll::Ready(None);
        }
        let nseg = this.segments.len();
        for k in 0..nseg {
            let s = (this.start + k) % nseg;
            let seg = &mut this.segments[s];
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
            let futures = &mut seg.futures;
            let polling = &mut this.polling;
            let mut out = None;
            let progress = seg.set.poll(cx, |i, cx| {
                let Some(f) = futures[i].as_mut() else {
                    return ControlFlow::Continue(()); // a stale wake
                };
                *polling = Some((s as u32, i as u32));
                // SAFETY: the future lives in a boxed slice that is never
                // resized; it is dropped in place (set to `None`), never moved.
                let r = unsafe { Pin::new_unchecked(f) }.poll(cx);
                *polling = None;
                match r {
                    Poll::Ready(v) => {
                        out = Some((i, v));
                        ControlFlow::Break(())
                    }
                    Poll::Pending => ControlFlow::Continue(()),
                }
            });
            if let Some((i, v)) = out {
                this.release(s, i);
                this.start = s;
                // If its drop panics, the output is lost with the panic, but
                // the set stays consistent.
                this.segments[s].futures[i] = None;
                return Poll::Ready(Some(v));
            }
            if progress == Progress::Yielded {
                this.start = (s + 1) % nseg;
                return Poll::Pending;
            }
        }
        Poll::Pending
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.len(), Some(self.len()))
    }
}

impl<F> FromIterator<F> for FuturesSet<F> {
    fn from_iter<I: IntoIterator<Item = F>>(iter: I) -> Self {
        let mut set = FuturesSet::new();
        for f in iter {
            set.push(f);
        }
        set
    }
}

impl<F> Extend<F> for FuturesSet<F> {
    fn extend<I: IntoIterator<Item = F>>(&mut self, iter: I) {
        for f in iter {
            self.push(f);
        }
    }
}

impl<F> core::fmt::Debug for FuturesSet<F> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("FuturesSet")
            .field("len", &self.len())
            .finish()
    }
}

/// Waits for the first of `iter`'s futures to finish and returns its output;
/// the others are dropped.
///
/// Polling is precise: after the first poll a future is polled only when its
/// own waker fired. Futures finishing in the same poll: the one with the
/// lowest index wins for up to 64 futures, the first woken above.
///
/// # Panics
///
/// If `iter` is empty (a race without runners has no winner), when first polled.
///
/// # Examples
///
/// ```
/// use std::future::{pending, ready};
/// use futures::future::{Either, FutureExt};
///
/// let winner = futures::executor::block_on(hearth_future::race([
///     pending::<u8>().left_future(),
///     ready(7).right_future(),
/// ]));
/// assert_eq!(winner, 7);
/// ```
pub fn race<I>(iter: I) -> Race<I::Item>
where
    I: IntoIterator,
    I::Item: Future,
{
    let futures: Box<[Option<I::Item>]> = iter.into_iter().map(Some).collect();
    Race {
        set: WakeSet::new(futures.len()),
        futures,
        poison: Poison::default(),
    }
}

/// The future of [`race`].
///
/// Polling it after it returned `Ready`, or after a poll panicked (in a
/// future, or in the task's waker), panics; dropping it then drops every
/// remaining future once.
///
/// # Examples
///
/// ```
/// use std::future::{ready, Ready};
/// use hearth_future::Race;
///
/// let r: Race<Ready<char>> = hearth_future::race([ready('a'), ready('b')]);
/// assert_eq!(futures::executor::block_on(r), 'a'); // both ready: the lowest index wins
/// ```
#[must_use = "futures do nothing unless polled"]
pub struct Race<F> {
    futures: Box<[Option<F>]>,
    set: WakeSet,
    poison: Poison,
}

impl<F> Unpin for Race<F> {}

impl<F: Future> Future for Race<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = self.get_mut();
        this.poison.start("Race");
        let r = this.poll_inner(cx);
        this.poison.end();
        r
    }
}

impl<F: Future> Race<F> {
    fn poll_inner(&mut self, cx: &mut Context<'_>) -> Poll<F::Output> {
        assert!(
            !self.futures.is_empty(),
            "hearth_future::race called with no futures (or polled after completion)"
        );
        // A new state polls every future.
        self.set.prepare(cx);
        let futures = &mut self.futures;
        let mut out = None;
        self.set.poll(cx, |i, cx| {
            let Some(f) = futures[i].as_mut() else {
                return ControlFlow::Continue(());
            };
            // SAFETY: as in `FuturesSet::poll_next`.
            match unsafe { Pin::new_unchecked(f) }.poll(cx) {
                Poll::Ready(v) => {
                    out = Some(v);
                    ControlFlow::Break(())
                }
                Poll::Pending => ControlFlow::Continue(()),
            }
        });
        match out {
            Some(v) => {
                self.futures = Box::new([]);
                Poll::Ready(v)
            }
            None => Poll::Pending,
        }
    }
}

impl<F> core::fmt::Debug for Race<F> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Race")
            .field("len", &self.futures.len())
            .finish()
    }
}
