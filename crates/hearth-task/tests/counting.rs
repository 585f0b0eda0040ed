//! Counted, not assumed: atomic read-modify-write operations per path, through
//! the `count-atomics` facade (always on in this crate's tests).
#![cfg_attr(feature = "nightly", feature(local_waker))]

mod common;

use std::task::{Context, Waker};

use common::probe;
use hearth_task::atomic::counting::count;
use hearth_task::ContextExt;

#[test]
fn local_path_performs_no_atomic_rmw() {
    let (rc, _obs) = probe();
    let waker = rc.waker_ref();
    // Warm up: the first lookup on a thread assigns its token (one RMW).
    let _ = ContextExt::local_waker(&Context::from_waker(&waker));

    let ((), n) = count(|| {
        for _ in 0..100 {
            let cx = Context::from_waker(&waker);
            let twin = ContextExt::local_waker(&cx);
            let clone = twin.clone();
            clone.wake_by_ref();
            twin.wake_by_ref();
            let clone2 = clone.clone();
            clone.wake();
            drop(clone2);
            // An owned twin from the handle, too.
            rc.local_waker().wake();
        }
    });
    assert_eq!(n, 0, "the local path performed {n} atomic RMW operations");
    assert_eq!(rc.local_wakes.get(), 400);
}

#[test]
fn waker_path_costs_what_the_docs_say() {
    let (rc, _obs) = probe();
    let waker = rc.waker();
    let (clone, n) = count(|| waker.clone());
    assert_eq!(n, 1, "Waker clone");
    let ((), n) = count(|| clone.wake_by_ref());
    assert_eq!(n, 0, "Waker::wake_by_ref on the owner thread");
    let ((), n) = count(|| clone.wake());
    assert_eq!(n, 1, "Waker::wake on the owner thread (the drop)");
    let (w, n) = count(|| rc.waker());
    assert_eq!(n, 1, "DualRc::waker");
    let ((), n) = count(|| drop(w));
    assert_eq!(n, 1, "Waker drop");
    let ((), n) = count(|| {
        let _borrowed = rc.waker_ref();
    });
    assert_eq!(n, 0, "waker_ref");
    // The last local drop with a Waker alive gives up the local side's count.
    let ((), n) = count(|| drop(rc));
    assert_eq!(n, 1, "last local drop with a live Waker");
    let ((), n) = count(|| drop(waker));
    assert_eq!(n, 1, "last Waker drop");

    // Without any Waker alive, the last local drop frees with no RMW.
    let (rc, obs) = probe();
    let ((), n) = count(|| drop(rc));
    assert_eq!(n, 0, "last local drop without Wakers");
    assert_eq!(obs.freed(), 1);
}

#[test]
fn foreign_waker_lookup_performs_no_atomic_rmw() {
    let waker: Waker = futures::task::noop_waker();
    let (_, n) = count(|| {
        let cx = Context::from_waker(&waker);
        ContextExt::local_waker(&cx).wake_by_ref();
    });
    assert_eq!(n, 0);
}

#[test]
fn builder_context_performs_no_atomic_rmw() {
    let local = hearth_task::local_waker_fn(|| {});
    let waker = futures::task::noop_waker();
    let build_and_wake = || {
        let mut b = hearth_task::ContextBuilder::from_waker(&waker).local_waker(&local);
        let cx = b.build();
        ContextExt::local_waker(&cx).wake_by_ref();
    };
    build_and_wake(); // the first build on a thread assigns its token (one RMW)
    let ((), n) = count(|| {
        let mut b = hearth_task::ContextBuilder::from_waker(&waker).local_waker(&local);
        let cx = b.build();
        ContextExt::local_waker(&cx).wake_by_ref();
    });
    assert_eq!(n, 0);
}
