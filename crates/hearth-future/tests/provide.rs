//! Providers (hearth_task::provide) reach the children of every combinator,
//! nested any depth, and wakes through a linked child context stay precise
//! and local.

#![allow(unstable_name_collisions)]
#![cfg_attr(feature = "nightly", feature(local_waker))]

mod common;

use std::future::{poll_fn, Future};
use std::pin::pin;
use std::task::{Context, Poll};

use common::{leaf, Driver, Leaf, Park};
use futures::StreamExt;
use hearth_future::{join, join_all, merge, race, select, FuturesSet};
use hearth_task::provide::Provide;
use hearth_task::ContextExt;

#[derive(Debug, PartialEq)]
struct Tag(u32);

/// What a child sees: the tag in scope, looked up on its first poll.
fn seen() -> impl Future<Output = Option<u32>> {
    poll_fn(|cx: &mut Context<'_>| Poll::Ready(cx.request_ref::<Tag>().map(|t| t.0)))
}

/// Pending once (wakes itself), then reports what it sees.
fn seen_after_yield() -> impl Future<Output = Option<u32>> {
    let mut yielded = false;
    poll_fn(move |cx: &mut Context<'_>| {
        if !yielded {
            yielded = true;
            ContextExt::local_waker(cx).wake_by_ref();
            return Poll::Pending;
        }
        Poll::Ready(cx.request_ref::<Tag>().map(|t| t.0))
    })
}

/// Runs `fut` under a `Tag(7)` layer on a dual-waker task.
fn run<F: Future>(fut: F) -> F::Output {
    let driver = Driver::new();
    let mut fut = pin!(Provide::new(Tag(7), fut));
    for _ in 0..100 {
        if let Poll::Ready(v) = driver.poll(fut.as_mut()) {
            return v;
        }
    }
    panic!("not ready after 100 polls");
}

#[test]
fn join_macro() {
    assert_eq!(
        run(async { join!(seen(), seen_after_yield()) }),
        (Some(7), Some(7))
    );
}

#[test]
fn join_all_bits_and_ring() {
    let small = run(join_all((0..3).map(|_| seen_after_yield())));
    assert_eq!(small, vec![Some(7); 3]);
    // Above 64 children the ready set is a ring and slots start lazily.
    let big = run(join_all((0..100).map(|_| seen_after_yield())));
    assert_eq!(big, vec![Some(7); 100]);
}

#[test]
fn select_macro() {
    let out = run(async {
        select! {
            v = seen_after_yield() => v,
            _ = std::future::pending::<()>() => None,
        }
    });
    assert_eq!(out, Some(7));
}

#[test]
fn race_children() {
    assert_eq!(
        run(race(vec![seen_after_yield(), seen_after_yield()])),
        Some(7)
    );
}

#[test]
fn futures_set() {
    let out = run(async {
        let mut set = FuturesSet::new();
        for _ in 0..5 {
            set.push(seen_after_yield());
        }
        set.collect::<Vec<_>>().await
    });
    assert_eq!(out, vec![Some(7); 5]);
}

#[test]
fn merge_streams() {
    let stream = || {
        let mut n = 0;
        futures::stream::poll_fn(move |cx: &mut Context<'_>| {
            n += 1;
            if n > 2 {
                return Poll::Ready(None);
            }
            Poll::Ready(Some(cx.request_ref::<Tag>().map(|t| t.0)))
        })
    };
    let out = run(merge(vec![stream(), stream()]).collect::<Vec<_>>());
    assert_eq!(out, vec![Some(7); 4]);
}

#[test]
fn three_nested_combinators_and_inner_layers() {
    let out = run(async {
        join!(
            join_all(vec![race(vec![seen_after_yield()])]),
            Provide::new(Tag(9), async { join!(seen(), seen_after_yield()) }),
            seen(),
        )
    });
    assert_eq!(out, (vec![Some(7)], (Some(9), Some(9)), Some(7)));
}

#[test]
fn a_rebuilt_context_inside_a_child() {
    let out = run(async {
        join!(poll_fn(|cx: &mut Context<'_>| {
            let rebuilt = Context::from_waker(cx.waker());
            Poll::Ready(rebuilt.request_ref::<Tag>().map(|t| t.0))
        }))
    });
    assert_eq!(out, (Some(7),));
}

#[test]
fn linked_children_stay_precise_and_local() {
    let driver = Driver::new();
    let a = Leaf::new(Park::Local);
    let b = Leaf::new(Park::Waker);
    let mut fut = pin!(Provide::new(Tag(1), async {
        join!(leaf(a.clone(), 1), leaf(b.clone(), 2))
    }));
    assert!(driver.poll(fut.as_mut()).is_pending());
    assert_eq!((a.polls.get(), b.polls.get()), (1, 1));
    a.wake();
    assert_eq!(
        driver.task.local_wakes.get(),
        1,
        "a local wake through a linked child"
    );
    assert!(driver.poll(fut.as_mut()).is_pending());
    assert_eq!(
        (a.polls.get(), b.polls.get()),
        (2, 1),
        "only the woken child is polled"
    );
    // A stored clone of the linked child's `Waker` is the child's own.
    b.finish();
    assert!(driver.poll(fut.as_mut()).is_pending());
    assert_eq!((a.polls.get(), b.polls.get()), (2, 2));
    a.finish();
    assert_eq!(driver.poll(fut.as_mut()), Poll::Ready((1, 2)));
    assert_eq!(
        driver
            .task
            .shared()
            .load(std::sync::atomic::Ordering::SeqCst),
        0,
        "no remote wake"
    );
}

#[test]
fn none_under_tokio_and_futures_without_a_layer() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let out = rt.block_on(async { join!(seen(), seen_after_yield()) });
    assert_eq!(out, (None, None));
    let out = futures::executor::block_on(join_all(vec![seen(), seen()]));
    assert_eq!(out, vec![None, None]);
    // A layer works under a foreign executor too: it is a dual waker of its own.
    let out = rt.block_on(Provide::new(Tag(3), async {
        join!(seen(), seen_after_yield())
    }));
    assert_eq!(out, (Some(3), Some(3)));
}

/// A child that parks `cx.waker()` and keeps it while it `will_wake`: under
/// a provider, its context is still its own slot's `Waker` (the link to the
/// parent is the slot's hook, not a different `Waker`), so it clones once.
#[test]
fn linked_children_keep_their_waker() {
    use std::cell::Cell;
    use std::rc::Rc;
    use std::task::Waker;

    let clones = Rc::new(Cell::new(0));
    let c = clones.clone();
    let mut parked: Option<Waker> = None;
    let mut polls = 0;
    let child = poll_fn(move |cx: &mut Context<'_>| {
        assert_eq!(cx.request_ref::<Tag>().map(|t| t.0), Some(7));
        match &parked {
            Some(w) if w.will_wake(cx.waker()) => {}
            _ => {
                c.set(c.get() + 1);
                parked = Some(cx.waker().clone());
            }
        }
        polls += 1;
        if polls == 5 {
            return Poll::Ready(());
        }
        cx.waker().wake_by_ref();
        Poll::Pending
    });
    run(join_all([child]));
    assert_eq!(clones.get(), 1, "the child re-cloned its waker");
}

/// A clone of a child's `Waker` does not reach the parent's values: a clone
/// may be leaked and borrowed for `'static`, which must not hand out a
/// reference to a layer that lives for one poll.
#[test]
fn a_clone_of_a_child_waker_does_not_reach_the_parent() {
    let out = run(join_all([poll_fn(|cx: &mut Context<'_>| {
        // (A leaked one, `&'static`, is the case that matters; a clone at
        // any other address than the lent `Waker` is treated alike.)
        let clone = Box::new(cx.waker().clone());
        let through_clone = Context::from_waker(&clone).request_ref::<Tag>().is_some();
        // The lent `Waker`, rebuilt into a new context, still does.
        let rebuilt = Context::from_waker(cx.waker())
            .request_ref::<Tag>()
            .is_some();
        Poll::Ready((through_clone, rebuilt))
    })]));
    assert_eq!(out, vec![(false, true)]);
}
