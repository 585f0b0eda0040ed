//! [`merge`]: the items of several streams, as they come, polling each
//! stream only when it may have something new.

use core::ops::ControlFlow;
use core::pin::Pin;
use core::task::{Context, Poll};
use std::boxed::Box;

use futures_core::stream::{FusedStream, Stream};

use crate::poison::Poison;
use crate::raw::{WakeSet, SMALL};

/// Merges streams into one that yields their items as they come and ends
/// when every stream ended.
///
/// Polling is precise: a stream is polled on the first poll, after its own
/// waker fired, and right after it yielded an item (it may have more), never
/// because another stream woke the task. The wakers of all streams come from
/// one allocation. Fairness: a stream that just yielded goes behind the
/// others that are due (up to 64 streams the next poll starts after it; above,
/// due streams are served first come, first served), so a stream that always
/// has an item cannot starve the rest. One call of `poll_next` polls each due
/// stream at most about once, then yields to its task.
///
/// All streams have one type; merge streams of different types by mapping
/// them to one item type and boxing them or wrapping them in an enum such as
/// `futures::future::Either`.
///
/// # Examples
///
/// ```
/// use futures::stream::{self, StreamExt};
///
/// futures::executor::block_on(async {
///     let merged = hearth_future::merge([stream::iter(vec![1, 2, 3]), stream::iter(vec![10, 20])]);
///     let mut items: Vec<i32> = merged.collect().await;
///     // Interleaved fairly; each stream's own order is kept.
///     assert_eq!(items, [1, 10, 2, 20, 3]);
///     items.sort();
///     assert_eq!(items, [1, 2, 3, 10, 20]);
/// });
/// ```
pub fn merge<I>(streams: I) -> Merge<I::Item>
where
    I: IntoIterator,
    I::Item: Stream,
{
    let streams: Box<[Option<I::Item>]> = streams.into_iter().map(Some).collect();
    let n = streams.len();
    Merge {
        set: WakeSet::new(n),
        remaining: n,
        start: 0,
        streams,
        poison: Poison::default(),
    }
}

/// The stream of [`merge`].
///
/// Polling it after a poll panicked (in a stream, or in the task's waker)
/// panics; dropping it then drops every remaining stream once.
///
/// # Examples
///
/// ```
/// use futures::stream::{self, FusedStream, StreamExt};
/// use hearth_future::Merge;
///
/// futures::executor::block_on(async {
///     let mut m: Merge<_> = hearth_future::merge([stream::iter([1]), stream::iter([2])]);
///     assert_eq!(m.next().await, Some(1));
///     assert_eq!(m.next().await, Some(2));
///     assert_eq!(m.next().await, None);
///     assert!(m.is_terminated());
/// });
/// ```
#[must_use = "streams do nothing unless polled"]
pub struct Merge<S> {
    /// Never moved: a boxed slice is never resized. `None` once ended.
    streams: Box<[Option<S>]>,
    /// Streams that have not ended.
    remaining: usize,
    /// Bit mode: the stream the next poll starts at.
    start: usize,
    set: WakeSet,
    poison: Poison,
}

impl<S> Unpin for Merge<S> {}

impl<S: Stream> Stream for Merge<S> {
    type Item = S::Item;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<S::Item>> {
        let this = self.get_mut();
        this.poison.start("Merge");
        let r = this.poll_inner(cx);
        this.poison.end();
        r
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let mut lo = 0usize;
        let mut hi = Some(0usize);
        for s in self.streams.iter().flatten() {
            let (l, h) = s.size_hint();
            lo = lo.saturating_add(l);
            hi = match (hi, h) {
                (Some(a), Some(b)) => a.checked_add(b),
                _ => None,
            };
        }
        (lo, hi)
    }
}

impl<S: Stream> Merge<S> {
    fn poll_inner(&mut self, cx: &mut Context<'_>) -> Poll<Option<S::Item>> {
        if self.remaining == 0 {
            return Poll::Ready(None);
        }
        let n = self.streams.len();
        // A new state polls every stream (ended ones are skipped below).
        self.set.prepare(cx);
        if n <= SMALL {
            self.set.set_start(self.start);
        }
        let streams = &mut self.streams;
        let remaining = &mut self.remaining;
        let mut out = None;
        self.set.poll(cx, |i, cx| {
            let Some(s) = streams[i].as_mut() else {
                return ControlFlow::Continue(()); // a stale wake
            };
            // SAFETY: the stream lives in a boxed slice that is never
            // resized; it is dropped in place (set to `None`), never moved.
            match unsafe { Pin::new_unchecked(s) }.poll_next(cx) {
                Poll::Ready(Some(v)) => {
                    out = Some((i, v));
                    ControlFlow::Break(())
                }
                Poll::Ready(None) => {
                    streams[i] = None;
                    *remaining -= 1;
                    if *remaining == 0 {
                        ControlFlow::Break(())
                    } else {
                        ControlFlow::Continue(())
                    }
                }
                Poll::Pending => ControlFlow::Continue(()),
            }
        });
        match out {
            Some((i, v)) => {
                // It may have more: due again, behind the others.
                self.set.mark(i);
                self.start = if i + 1 == n { 0 } else { i + 1 };
                Poll::Ready(Some(v))
            }
            None if self.remaining == 0 => {
                self.streams = Box::new([]);
                Poll::Ready(None)
            }
            None => Poll::Pending,
        }
    }
}

impl<S: Stream> FusedStream for Merge<S> {
    fn is_terminated(&self) -> bool {
        self.remaining == 0
    }
}

impl<S> core::fmt::Debug for Merge<S> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Merge")
            .field("len", &self.streams.len())
            .field("remaining", &self.remaining)
            .finish()
    }
}
