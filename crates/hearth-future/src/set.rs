//! [`FuturesSet`]: an unordered set of futures, polled precisely.

use core::future::Future;
use core::ops::ControlFlow;
use core::pin::Pin;
use core::task::{Context, Poll};
use std::boxed::Box;

use futures_core::stream::{FusedStream, Stream};

use crate::poison::Poison;
use crate::raw::WakeSet;
use crate::slots::{IntoIter, Iter, IterMut, IterPinMut, IterPinRef, Polled, Slots};

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
/// # Differences from futures' `FuturesUnordered`
///
/// - Polling is precise and wakers come from one allocation per segment
///   (`FuturesUnordered`: one `Arc` per future).
/// - `iter_mut` and `IntoIterator` by value need `F: Unpin` as futures'
///   do; `iter` does not (a shared reference cannot move a future).
/// - Iteration order is the order of the slots (freed slots are reused),
///   not the reverse order of insertion.
/// - There is no `push_back`/`push_front` ordering: this is not
///   `FuturesOrdered`.
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
    slots: Slots<F>,
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
            slots: Slots::new(),
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
        self.slots.len()
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
        self.slots.push(future);
    }

    /// Drops every future; the set stays usable.
    ///
    /// If a future's drop panics, the others are still dropped and the set
    /// is empty when the panic reaches the caller.
    ///
    /// # Examples
    ///
    /// ```
    /// let mut set: hearth_future::FuturesSet<_> = (0..3).map(std::future::ready).collect();
    /// set.clear();
    /// assert!(set.is_empty());
    /// ```
    pub fn clear(&mut self) {
        self.slots.clear();
    }

    /// The futures, by reference, in no particular order.
    ///
    /// # Examples
    ///
    /// ```
    /// let set: hearth_future::FuturesSet<_> = (0..3).map(std::future::ready).collect();
    /// assert_eq!(set.iter().count(), 3);
    /// ```
    pub fn iter(&self) -> Iter<'_, F> {
        self.slots.iter()
    }

    /// The futures, pinned, by reference.
    pub fn iter_pin_ref(&self) -> IterPinRef<'_, F> {
        self.slots.iter_pin_ref()
    }

    /// The futures, pinned, by mutable reference (any `F`; they stay in
    /// place).
    pub fn iter_pin_mut(&mut self) -> IterPinMut<'_, F> {
        self.slots.iter_pin_mut()
    }
}

impl<F: Unpin> FuturesSet<F> {
    /// The futures, by mutable reference (`F: Unpin`; use
    /// [`iter_pin_mut`](Self::iter_pin_mut) otherwise).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::future::{ready, Ready};
    ///
    /// let mut set: hearth_future::FuturesSet<Ready<u8>> = [ready(1)].into_iter().collect();
    /// for f in set.iter_mut() {
    ///     *f = ready(2);
    /// }
    /// assert_eq!(futures::executor::block_on(futures::StreamExt::next(&mut set)), Some(2));
    /// ```
    pub fn iter_mut(&mut self) -> IterMut<'_, F> {
        self.slots.iter_mut()
    }
}

impl<F: Unpin> IntoIterator for FuturesSet<F> {
    type Item = F;
    type IntoIter = IntoIter<F>;

    /// The futures, by value (`F: Unpin`), in no particular order.
    fn into_iter(self) -> IntoIter<F> {
        self.slots.into_iter()
    }
}

impl<'a, F> IntoIterator for &'a FuturesSet<F> {
    type Item = &'a F;
    type IntoIter = Iter<'a, F>;

    fn into_iter(self) -> Iter<'a, F> {
        self.iter()
    }
}

impl<'a, F: Unpin> IntoIterator for &'a mut FuturesSet<F> {
    type Item = &'a mut F;
    type IntoIter = IterMut<'a, F>;

    fn into_iter(self) -> IterMut<'a, F> {
        self.iter_mut()
    }
}

impl<F: Future> Stream for FuturesSet<F> {
    type Item = F::Output;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<F::Output>> {
        self.get_mut()
            .slots
            .poll(cx, false, |f, cx| match f.poll(cx) {
                Poll::Ready(v) => Polled::Done(v),
                Poll::Pending => Polled::Pending,
            })
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.len(), Some(self.len()))
    }
}

impl<F: Future> FusedStream for FuturesSet<F> {
    /// `true` once `poll_next` returned `Ready(None)`, until the next push
    /// (as `FuturesUnordered`).
    fn is_terminated(&self) -> bool {
        self.slots.is_terminated()
    }
}

impl<F> FromIterator<F> for FuturesSet<F> {
    /// One segment sized to the iterator's lower bound holds its futures.
    fn from_iter<I: IntoIterator<Item = F>>(iter: I) -> Self {
        FuturesSet {
            slots: Slots::from_children(iter),
        }
    }
}

impl<F> Extend<F> for FuturesSet<F> {
    fn extend<I: IntoIterator<Item = F>>(&mut self, iter: I) {
        self.slots.extend(iter);
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
