//! Dual wakers: counts, frees, threads.
#![cfg_attr(feature = "nightly", feature(local_waker))]

mod common;

use std::sync::atomic::Ordering;
use std::task::{Context, Waker};
use std::thread;

use common::probe;
use hearth_task::ContextExt;

#[test]
fn counts_follow_the_handles() {
    let (rc, obs) = probe();
    assert_eq!((rc.local_count(), rc.waker_count()), (1, 0));
    let twin = rc.local_waker();
    let twin2 = twin.clone();
    let rc2 = rc.clone();
    assert_eq!(rc.local_count(), 4);
    let w = rc.waker();
    let w2 = w.clone();
    assert_eq!(rc.waker_count(), 2);
    {
        let r = rc.waker_ref();
        let _ = r.clone();
        assert_eq!(
            rc.waker_count(),
            2,
            "waker_ref owns no count; its clone was dropped"
        );
    }
    drop((twin, twin2, rc2, w, w2));
    assert_eq!((rc.local_count(), rc.waker_count()), (1, 0));
    drop(rc);
    assert_eq!(obs.freed(), 1);
    assert_eq!(obs.target_dropped_on(), Some(thread::current().id()));
}

#[test]
#[allow(clippy::waker_clone_wake)] // waking a clone by value is the case under test
fn wakes_take_the_right_path() {
    let (rc, _obs) = probe();
    let twin = rc.local_waker();
    twin.wake_by_ref();
    twin.clone().wake();
    twin.wake();
    // The Waker on the owner thread: local path.
    let w = rc.waker();
    w.wake_by_ref();
    w.clone().wake();
    assert_eq!(rc.local_wakes.get(), 5);
    // From another thread: remote path.
    let w2 = w.clone();
    thread::spawn(move || {
        w2.wake_by_ref();
        w2.wake();
    })
    .join()
    .unwrap();
    assert_eq!(rc.shared().remote_wakes.load(Ordering::SeqCst), 2);
    assert_eq!(rc.local_wakes.get(), 5);
    assert_eq!(rc.local_count(), 1);
    assert_eq!(rc.waker_count(), 1);
}

#[test]
#[allow(clippy::waker_clone_wake)] // waking a clone by value is the case under test
fn waker_outlives_target_and_owner_thread() {
    let (waker, obs, owner) = thread::spawn(|| {
        let (rc, obs) = probe();
        let waker = rc.waker();
        drop(rc); // the target goes away while a Waker is alive
        (waker, obs, thread::current().id())
    })
    .join()
    .unwrap();
    // The owner thread is gone; the target dropped there, the memory is not freed.
    assert_eq!(obs.target_dropped_on(), Some(owner));
    assert_eq!(obs.freed(), 0);
    // Waking is harmless (a no-op), and the last drop here frees.
    waker.wake_by_ref();
    let cx = Context::from_waker(&waker);
    ContextExt::local_waker(&cx).wake_by_ref();
    waker.clone().wake();
    assert_eq!(obs.freed(), 0);
    drop(waker);
    assert_eq!(obs.freed(), 1);
}

#[test]
fn last_drop_on_foreign_thread_does_not_drop_target_there() {
    let (rc, obs) = probe();
    let w = rc.waker();
    let (tx, rx) = std::sync::mpsc::channel::<()>();
    let h = thread::spawn(move || {
        rx.recv().unwrap();
        drop(w); // the last reference of all
    });
    drop(rc); // the target drops here, on the owner thread
    assert_eq!(obs.target_dropped_on(), Some(thread::current().id()));
    assert_eq!(obs.freed(), 0);
    tx.send(()).unwrap();
    h.join().unwrap();
    assert_eq!(obs.freed(), 1);
    assert_eq!(obs.target_dropped_on(), Some(thread::current().id()));
}

#[test]
fn view_outliving_the_target_is_harmless() {
    let (rc, obs) = probe();
    let waker = rc.waker();
    let cx = Context::from_waker(&waker);
    let view = ContextExt::local_waker(&cx);
    assert!(!std::ptr::addr_eq(view, &waker), "the twin was found");
    drop(rc); // target dropped while the view is still borrowed
    assert_eq!(obs.target_dropped_on(), Some(thread::current().id()));
    view.wake_by_ref(); // no-op
    let clone = view.clone(); // a Waker-face clone, keeps the memory
    clone.wake_by_ref();
    drop(clone);
    assert_eq!(obs.freed(), 0);
    // After release, the lookup falls back to the Waker.
    assert!(std::ptr::addr_eq(
        ContextExt::local_waker(&Context::from_waker(&waker)),
        &waker
    ));
    drop(waker);
    assert_eq!(obs.freed(), 1);
}

#[test]
fn wake_local_may_drop_every_handle() {
    use hearth_task::dual::{DualRc, DualWake};
    use std::cell::RefCell;
    struct SelfDropping(RefCell<Option<DualRc<SelfDropping>>>);
    impl DualWake for SelfDropping {
        type Shared = ();
        fn wake_local(this: &DualRc<Self>) {
            // Drops the last stored handle while `this` is in use.
            let taken = this.0.borrow_mut().take();
            drop(taken);
            assert!(this.0.borrow().is_none());
        }
        fn wake_remote(_: &(), _: &Waker) {}
    }
    let rc = DualRc::new(SelfDropping(RefCell::new(None)), ());
    let twin = rc.local_waker();
    *rc.0.borrow_mut() = Some(rc.clone());
    drop(rc);
    twin.wake_by_ref(); // drops the stored handle; the twin keeps it alive
    twin.wake(); // last reference goes inside/after the wake
}

/// A `Waker` woken from many threads while the owner wakes, clones and drops
/// locally and finally drops everything: freed exactly once, target dropped
/// on the owner thread.
#[test]
fn stress_threads_clone_wake_drop() {
    let rounds = if cfg!(miri) { 3 } else { 200 };
    let per_thread = if cfg!(miri) { 20 } else { 2_000 };
    for _ in 0..rounds {
        let (rc, obs) = probe();
        let wakers: Vec<Waker> = (0..3).map(|_| rc.waker()).collect();
        let handles: Vec<_> = wakers
            .into_iter()
            .map(|w| {
                thread::spawn(move || {
                    for i in 0..per_thread {
                        let c = w.clone();
                        if i % 2 == 0 {
                            c.wake();
                        } else {
                            c.wake_by_ref();
                        }
                    }
                })
            })
            .collect();
        for _ in 0..per_thread / 4 {
            let t = rc.local_waker();
            t.clone().wake();
            rc.waker().wake_by_ref();
        }
        drop(rc);
        for h in handles {
            h.join().unwrap();
        }
        assert_eq!(obs.freed(), 1);
        assert_eq!(obs.target_dropped_on(), Some(thread::current().id()));
    }
}
