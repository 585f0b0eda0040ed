//! A child that panics while polled leaves the combinator droppable, with
//! nothing leaked or dropped twice.

mod common;

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::pin;
use std::rc::Rc;
use std::task::Poll;

use common::{leaf, Driver, Leaf, Park};

#[test]
fn panicking_child_then_drop() {
    for n in [3, 70] {
        let driver = Driver::new();
        let leaves: Vec<_> = (0..n).map(|_| Leaf::new(Park::Local)).collect();
        let boom = Leaf::new(Park::Local);
        {
            let b = boom.clone();
            let mut fut = pin!(hearth_future::join_all(
                leaves
                    .iter()
                    .map(|l| futures::future::Either::Left(leaf(l.clone(), ())))
                    .chain(std::iter::once(futures::future::Either::Right(
                        std::future::poll_fn(move |_| {
                            if b.done.get() {
                                panic!("child panics");
                            }
                            Poll::<()>::Pending
                        })
                    )))
            ));
            assert!(driver.poll(fut.as_mut()).is_pending());
            // Wake the panicking child through a parked waker of another.
            boom.done.set(true);
            leaves[0].wake();
            let r = catch_unwind(AssertUnwindSafe(|| {
                let _ = driver.poll(fut.as_mut());
            }));
            // It only panics if polled: it was not woken, so it is not polled.
            assert!(r.is_ok(), "the panicking child was polled spuriously");
        }
        for l in &leaves {
            assert_eq!(Rc::strong_count(l), 1);
        }
    }
}

#[test]
fn panic_during_poll_leaves_it_droppable() {
    let driver = Driver::new();
    let leaves: Vec<_> = (0..3).map(|_| Leaf::new(Park::Local)).collect();
    let mut fut = Box::pin(hearth_future::join_all(leaves.iter().enumerate().map(
        |(i, l)| {
            let l = l.clone();
            async move {
                leaf(l, ()).await;
                if i == 1 {
                    panic!("boom");
                }
            }
        },
    )));
    assert!(driver.poll(fut.as_mut()).is_pending());
    for l in &leaves {
        l.finish();
    }
    let r = catch_unwind(AssertUnwindSafe(|| driver.poll(fut.as_mut())));
    assert!(r.is_err());
    drop(fut);
    for l in &leaves {
        assert_eq!(Rc::strong_count(l), 1);
    }
}

/// A branch, a set member or a stream that panics while polled leaves its
/// combinator droppable: every other child is dropped exactly once.
#[test]
fn panics_in_select_set_and_merge_leave_them_droppable() {
    use futures::StreamExt;
    let alive = Rc::new(());
    let boom = || -> Poll<()> { panic!("boom") };
    // select!
    let a = alive.clone();
    let r = catch_unwind(AssertUnwindSafe(|| {
        futures::executor::block_on(async move {
            hearth_future::select! {
                biased;
                _ = std::future::pending::<()>() => {}
                _ = std::future::poll_fn(|_| boom()) => {}
                _ = async move { std::future::pending::<()>().await; drop(a) } => {}
            }
        })
    }));
    assert!(r.is_err());
    // FuturesSet (above 32, so two segments) and merge (above 64: the ring).
    for n in [40usize, 70] {
        let mut set = hearth_future::FuturesSet::new();
        for i in 0..n {
            let a = alive.clone();
            set.push(futures::future::Either::Left(async move {
                if i == n / 2 {
                    let _ = boom();
                }
                std::future::pending::<()>().await;
                drop(a)
            }));
        }
        set.push(futures::future::Either::Right(std::future::pending()));
        let r = catch_unwind(AssertUnwindSafe(|| {
            let driver = Driver::new();
            let _ = driver.poll(std::pin::Pin::new(&mut set.next()));
        }));
        assert!(r.is_err());
        drop(set);
        let mut m = hearth_future::merge((0..n).map(|i| {
            let a = alive.clone();
            futures::stream::poll_fn(move |_| {
                let _ = &a;
                if i == n / 2 {
                    let _ = boom();
                }
                Poll::<Option<()>>::Pending
            })
        }));
        let r = catch_unwind(AssertUnwindSafe(|| {
            let driver = Driver::new();
            let _ = driver.poll(std::pin::Pin::new(&mut m.next()));
        }));
        assert!(r.is_err());
        drop(m);
    }
    assert_eq!(Rc::strong_count(&alive), 1, "every child dropped once");
}
