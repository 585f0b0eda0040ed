//! [`merge`] and [`Merge`]: the items of several streams, as they come,
//! polling each stream only when it may have something new; futures'
//! `select_all` and `SelectAll`, precisely.

use core::pin::Pin;
use core::task::{Context, Poll};

use futures_core::stream::{FusedStream, Stream};

use crate::slots::{IntoIter, Iter, IterMut, IterPinMut, IterPinRef, Polled, Slots};

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
    Merge {
        slots: Slots::from_children(streams),
    }
}

/// The stream of [`merge`]: futures' `SelectAll`, polled precisely.
///
/// Streams can be added while it runs ([`push`](Self::push),
/// [`Extend`]); a stream that ends is dropped at once. It yields `None`
/// whenever it holds no stream (also before the first push), and
/// [`is_terminated`](FusedStream::is_terminated) is `true` from then until
/// the next push, as `SelectAll`.
///
/// If a stream's poll panics, the panic propagates out of `poll_next` and
/// the merge stays usable, as `SelectAll` (built on `FuturesUnordered`)
/// does: that stream is gone ([`len`](Self::len) no longer counts it) and
/// the next `poll_next` drops it and goes on with the others.
///
/// # Differences from futures' `SelectAll`
///
/// - Streams need not be `Unpin` (they are pinned in place); `iter_mut`,
///   `IntoIterator` by value and by `&mut` need `Unpin`, `iter_pin_mut`
///   does not.
/// - Polling is precise (see [`merge`]); one `poll_next` polls each due
///   stream at most about once.
/// - Iteration order is the order of the slots, not of insertion.
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
///     m.push(stream::iter([3]));
///     assert!(!m.is_terminated());
///     assert_eq!(m.next().await, Some(3));
/// });
/// ```
#[must_use = "streams do nothing unless polled"]
pub struct Merge<S> {
    slots: Slots<S>,
}

impl<S> Unpin for Merge<S> {}

impl<S> Default for Merge<S> {
    fn default() -> Self {
        Self::new()
    }
}

impl<S> Merge<S> {
    /// An empty merge; allocates nothing. It yields `None` until a stream is
    /// pushed.
    ///
    /// # Examples
    ///
    /// ```
    /// use futures::stream::{self, StreamExt};
    ///
    /// futures::executor::block_on(async {
    ///     let mut m = hearth_future::Merge::new();
    ///     assert_eq!(m.next().await, None);
    ///     m.push(stream::iter([1, 2]));
    ///     assert_eq!(m.len(), 1);
    ///     assert_eq!(m.next().await, Some(1));
    /// });
    /// ```
    pub const fn new() -> Self {
        Merge {
            slots: Slots::new(),
        }
    }

    /// The number of streams that have not ended.
    pub fn len(&self) -> usize {
        self.slots.len()
    }

    /// Returns `true` if no stream is left.
    pub fn is_empty(&self) -> bool {
        self.slots.len() == 0
    }

    /// Adds a stream; it is polled on the next poll (no wake is needed).
    pub fn push(&mut self, stream: S) {
        self.slots.push(stream);
    }

    /// Drops every stream; the merge stays usable. If a stream's drop
    /// panics, the others are still dropped and the merge is empty.
    pub fn clear(&mut self) {
        self.slots.clear();
    }

    /// The streams, by reference, in no particular order.
    pub fn iter(&self) -> Iter<'_, S> {
        self.slots.iter()
    }

    /// The streams, pinned, by reference.
    pub fn iter_pin_ref(&self) -> IterPinRef<'_, S> {
        self.slots.iter_pin_ref()
    }

    /// The streams, pinned, by mutable reference (any `S`).
    pub fn iter_pin_mut(&mut self) -> IterPinMut<'_, S> {
        self.slots.iter_pin_mut()
    }
}

impl<S: Unpin> Merge<S> {
    /// The streams, by mutable reference (`S: Unpin`).
    pub fn iter_mut(&mut self) -> IterMut<'_, S> {
        self.slots.iter_mut()
    }
}

impl<S: Stream> Stream for Merge<S> {
    type Item = S::Item;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<S::Item>> {
        self.get_mut()
            .slots
            .poll(cx, true, |s, cx| match s.poll_next(cx) {
                Poll::Ready(Some(v)) => Polled::Item(v),
                Poll::Ready(None) => Polled::Ended,
                Poll::Pending => Polled::Pending,
            })
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let mut lo = 0usize;
        let mut hi = Some(0usize);
        for s in self.slots.iter() {
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

impl<S: Stream> FusedStream for Merge<S> {
    fn is_terminated(&self) -> bool {
        self.slots.is_terminated()
    }
}

impl<S> FromIterator<S> for Merge<S> {
    fn from_iter<I: IntoIterator<Item = S>>(iter: I) -> Self {
        Merge {
            slots: Slots::from_children(iter),
        }
    }
}

impl<S> Extend<S> for Merge<S> {
    fn extend<I: IntoIterator<Item = S>>(&mut self, iter: I) {
        self.slots.extend(iter);
    }
}

impl<S: Unpin> IntoIterator for Merge<S> {
    type Item = S;
    type IntoIter = IntoIter<S>;

    fn into_iter(self) -> IntoIter<S> {
        self.slots.into_iter()
    }
}

impl<'a, S> IntoIterator for &'a Merge<S> {
    type Item = &'a S;
    type IntoIter = Iter<'a, S>;

    fn into_iter(self) -> Iter<'a, S> {
        self.iter()
    }
}

impl<'a, S: Unpin> IntoIterator for &'a mut Merge<S> {
    type Item = &'a mut S;
    type IntoIter = IterMut<'a, S>;

    fn into_iter(self) -> IterMut<'a, S> {
        self.iter_mut()
    }
}

impl<S> core::fmt::Debug for Merge<S> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Merge").field("len", &self.len()).finish()
    }
}
