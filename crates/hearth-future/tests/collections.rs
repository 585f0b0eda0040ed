//! The collection API of `FuturesSet` and `Merge` (iterators, `clear`,
//! `FromIterator`, `Extend`, `FusedStream`) and `JoinAll`/`TryJoinAll` from
//! iterators, checked against what futures documents for
//! `FuturesUnordered`, `SelectAll`, `join_all` and `try_join_all`.

use std::future::{ready, Future, Ready};
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};

use futures::executor::block_on;
use futures::future::TryFuture;
use futures::stream::{self, FusedStream, FuturesUnordered, SelectAll, StreamExt};
use hearth_future::{FuturesSet, JoinAll, Merge, TryJoinAll};

fn sorted<T: Ord>(mut v: Vec<T>) -> Vec<T> {
    v.sort();
    v
}

#[test]
fn set_iterators_see_every_future_like_futures_unordered() {
    let mut ours: FuturesSet<Ready<u32>> = (0..40).map(ready).collect();
    let mut theirs: FuturesUnordered<Ready<u32>> = (0..40).map(ready).collect();
    assert_eq!(ours.iter().len(), theirs.iter().len());
    assert_eq!(ours.iter_pin_ref().len(), 40);
    // Mutate through `iter_mut` (Unpin) and `&mut` iteration.
    for f in ours.iter_mut() {
        *f = ready(7);
    }
    for f in &mut theirs {
        *f = ready(7);
    }
    let a = block_on((&mut ours).collect::<Vec<_>>());
    let b = block_on((&mut theirs).collect::<Vec<_>>());
    assert_eq!(a, b);
    assert_eq!(a, vec![7; 40]);
    // By value: every future comes out once, none polled.
    let set: FuturesSet<Ready<u32>> = (0..100).map(ready).collect();
    let mut got: Vec<u32> = set.into_iter().map(block_on).collect::<Vec<_>>();
    got.sort();
    assert_eq!(got, (0..100).collect::<Vec<_>>());
    let set: FuturesSet<Ready<u32>> = (0..3).map(ready).collect();
    assert_eq!((&set).into_iter().count(), 3);
}

#[test]
fn iter_skips_finished_futures() {
    let mut set: FuturesSet<Ready<u32>> = FuturesSet::new();
    set.extend((0..5).map(ready));
    assert_eq!(block_on(set.next()), Some(0));
    assert_eq!(set.iter().count(), 4);
    assert_eq!(set.iter().size_hint(), (4, Some(4)));
    assert_eq!(
        sorted(set.into_iter().map(block_on).collect()),
        [1, 2, 3, 4]
    );
}

#[test]
fn pinned_iteration_works_for_futures_that_are_not_unpin() {
    let mut set: FuturesSet<_> = (0..3).map(|i| async move { i }).collect();
    let mut count = 0;
    for f in set.iter_pin_mut() {
        let pinned: Pin<&mut _> = f;
        assert!(std::mem::size_of_val(&*pinned) > 0);
        count += 1;
    }
    assert_eq!(count, 3);
    assert_eq!(sorted(block_on(set.collect::<Vec<_>>())), [0, 1, 2]);
}

#[test]
fn set_is_terminated_like_futures_unordered() {
    let mut ours: FuturesSet<Ready<u8>> = FuturesSet::new();
    let mut theirs: FuturesUnordered<Ready<u8>> = FuturesUnordered::new();
    assert_eq!(ours.is_terminated(), theirs.is_terminated());
    assert_eq!(block_on(ours.next()), None);
    assert_eq!(block_on(theirs.next()), None);
    assert!(ours.is_terminated() && theirs.is_terminated());
    ours.push(ready(1));
    theirs.push(ready(1));
    assert!(!ours.is_terminated() && !theirs.is_terminated());
    assert_eq!(block_on(ours.next()), Some(1));
    assert!(!ours.is_terminated());
    assert_eq!(block_on(ours.next()), None);
    assert!(ours.is_terminated());
}

#[test]
fn clear_drops_everything_and_the_set_is_reusable() {
    let alive = Rc::new(());
    let mut set: FuturesSet<_> = (0..70)
        .map(|_| {
            let a = alive.clone();
            async move {
                std::future::pending::<()>().await;
                drop(a)
            }
        })
        .collect();
    // Polled once, so wakers exist and outlive the clear.
    block_on(async {
        assert!(futures::poll!(set.next()).is_pending());
    });
    assert_eq!(Rc::strong_count(&alive), 71);
    set.clear();
    assert!(set.is_empty());
    assert_eq!(Rc::strong_count(&alive), 1);
    assert_eq!(block_on(set.next()), None);
    let mut set2: FuturesSet<Pin<Box<dyn Future<Output = u8>>>> = FuturesSet::new();
    set2.push(Box::pin(ready(1)));
    set2.clear();
    set2.push(Box::pin(ready(2)));
    assert_eq!(block_on(set2.collect::<Vec<_>>()), [2]);
}

#[test]
fn merge_is_a_select_all() {
    // Same items as futures' `select_all`, built through `FromIterator`,
    // `push` and `Extend`.
    let make = |i: u32| stream::iter(i * 10..i * 10 + i);
    let mut ours: Merge<_> = (0..3).map(make).collect();
    let mut theirs: SelectAll<_> = (0..3).map(make).collect();
    ours.push(make(3));
    theirs.push(make(3));
    ours.extend((4..6).map(make));
    theirs.extend((4..6).map(make));
    assert_eq!(ours.len(), theirs.len());
    assert_eq!(ours.len(), 6);
    assert!(!ours.is_empty());
    assert_eq!(ours.iter().count(), 6);
    let a = sorted(block_on((&mut ours).collect::<Vec<_>>()));
    let b = sorted(block_on((&mut theirs).collect::<Vec<_>>()));
    assert_eq!(a, b);
    // Ended streams are gone.
    assert!(ours.is_empty() && theirs.is_empty());
    assert!(ours.is_terminated() && theirs.is_terminated());
    // Reusable after the end, as `SelectAll`.
    ours.push(make(2));
    theirs.push(make(2));
    assert!(!ours.is_terminated());
    assert_eq!(
        block_on((&mut ours).collect::<Vec<_>>()),
        block_on((&mut theirs).collect::<Vec<_>>())
    );
}

#[test]
fn merge_removes_a_stream_when_it_ends() {
    let mut m = Merge::new();
    assert_eq!(block_on(m.next()), None::<u8>);
    m.push(stream::iter(vec![1u8]));
    m.push(stream::iter(vec![2u8, 3]));
    assert_eq!(m.len(), 2);
    let first = block_on(m.next()).unwrap();
    let _second = block_on(m.next()).unwrap();
    let _third = block_on(m.next()).unwrap();
    assert!(first == 1 || first == 2);
    assert_eq!(block_on(m.next()), None);
    assert_eq!(m.len(), 0);
}

#[test]
fn merge_iterators_and_clear() {
    let mut m: Merge<stream::Iter<std::vec::IntoIter<u8>>> =
        (0..4u8).map(|i| stream::iter(vec![i])).collect();
    for s in m.iter_mut() {
        *s = stream::iter(vec![9]);
    }
    assert_eq!(m.iter_pin_mut().count(), 4);
    assert_eq!((&m).into_iter().count(), 4);
    assert_eq!((&mut m).into_iter().count(), 4);
    let owned: Vec<_> = m.into_iter().collect();
    assert_eq!(owned.len(), 4);
    let mut m: Merge<_> = owned.into_iter().collect();
    assert_eq!(block_on(m.next()), Some(9));
    m.clear();
    assert!(m.is_empty());
    assert_eq!(block_on(m.next()), None);
}

#[test]
fn join_all_and_try_join_all_from_iterators() {
    let all: JoinAll<Ready<u8>> = (1..=3).map(ready).collect();
    assert_eq!(block_on(all), [1, 2, 3]);
    let ok: TryJoinAll<Ready<Result<u8, ()>>> = (1..=3).map(|i| ready(Ok(i))).collect();
    assert_eq!(block_on(ok), Ok(vec![1, 2, 3]));
    // Nameable with one parameter, any `TryFuture`, like futures'.
    fn named<F: TryFuture>(f: TryJoinAll<F>) -> TryJoinAll<F> {
        f
    }
    let err = named(hearth_future::try_join_all([
        ready(Ok(1)),
        ready(Err("no")),
        ready(Ok(3)),
    ]));
    assert_eq!(block_on(err), Err("no"));
    let theirs = futures::future::try_join_all([ready(Ok(1)), ready(Err("no")), ready(Ok(3))]);
    assert_eq!(block_on(theirs), Err("no"));
    // Empty: ready at once, as futures'.
    let empty: JoinAll<Ready<u8>> = std::iter::empty().collect();
    assert_eq!(block_on(empty), Vec::<u8>::new());
}

/// A `TryFuture` that is a plain future with a `Result` output, pending once.
struct Later(u8, bool);

impl Future for Later {
    type Output = Result<u8, String>;
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        if self.1 {
            Poll::Ready(Ok(self.0))
        } else {
            self.1 = true;
            cx.waker().wake_by_ref();
            Poll::Pending
        }
    }
}

#[test]
fn try_join_all_of_pending_futures() {
    let f: TryJoinAll<Later> = (0..5).map(|i| Later(i, false)).collect();
    assert_eq!(block_on(f), Ok(vec![0, 1, 2, 3, 4]));
}
