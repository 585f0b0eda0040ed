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
