//! loom models of the dual-waker protocol: every interleaving of clone, wake
//! and drop across the owner thread and other threads frees the allocation
//! exactly once and drops the target on the owner thread.
//!
//! Run with `RUSTFLAGS="--cfg loom" cargo test -p hearth-task --release --test loom_dual`.
#![cfg(loom)]

use std::cell::Cell;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::Waker;

use hearth_task::dual::{DualRc, DualWake};
use loom::thread;

struct Target {
    local_wakes: Cell<usize>,
    owner: thread::ThreadId,
    dropped_on: Arc<Mutex<Option<thread::ThreadId>>>,
}

impl Drop for Target {
    fn drop(&mut self) {
        *self.dropped_on.lock().unwrap() = Some(thread::current().id());
    }
}

struct Shared {
    remote_wakes: loom::sync::atomic::AtomicUsize,
    frees: Arc<AtomicUsize>,
}

impl Drop for Shared {
    fn drop(&mut self) {
        self.frees.fetch_add(1, Ordering::SeqCst);
    }
}

impl DualWake for Target {
    type Shared = Shared;
    fn wake_local(this: &DualRc<Self>) {
        assert_eq!(thread::current().id(), this.owner);
        this.local_wakes.set(this.local_wakes.get() + 1);
    }
    fn wake_remote(shared: &Shared, _: &Waker) {
        shared
            .remote_wakes
            .fetch_add(1, loom::sync::atomic::Ordering::Relaxed);
    }
}

struct Observed {
    dropped_on: Arc<Mutex<Option<thread::ThreadId>>>,
    frees: Arc<AtomicUsize>,
}

fn target() -> (DualRc<Target>, Observed) {
    let dropped_on = Arc::new(Mutex::new(None));
    let frees = Arc::new(AtomicUsize::new(0));
    let rc = DualRc::new(
        Target {
            local_wakes: Cell::new(0),
            owner: thread::current().id(),
            dropped_on: dropped_on.clone(),
        },
        Shared {
            remote_wakes: loom::sync::atomic::AtomicUsize::new(0),
            frees: frees.clone(),
        },
    );
    (rc, Observed { dropped_on, frees })
}

fn check(obs: &Observed, owner: thread::ThreadId) {
    assert_eq!(obs.frees.load(Ordering::SeqCst), 1, "freed exactly once");
    assert_eq!(
        *obs.dropped_on.lock().unwrap(),
        Some(owner),
        "target dropped on the owner thread"
    );
}

#[test]
fn foreign_clone_wake_drop_vs_owner_drop() {
    loom::model(|| {
        let owner = thread::current().id();
        let (rc, obs) = target();
        let w = rc.waker();
        let h = thread::spawn(move || {
            let c = w.clone();
            c.wake_by_ref();
            c.wake();
            drop(w);
        });
        let twin = rc.local_waker();
        twin.wake_by_ref();
        rc.waker().wake_by_ref();
        drop(twin);
        drop(rc);
        h.join().unwrap();
        check(&obs, owner);
    });
}

#[test]
fn two_foreign_last_drops_vs_owner_drop() {
    loom::model(|| {
        let owner = thread::current().id();
        let (rc, obs) = target();
        let hs: Vec<_> = (0..2)
            .map(|_| {
                let w = rc.waker();
                thread::spawn(move || w.wake())
            })
            .collect();
        drop(rc);
        for h in hs {
            h.join().unwrap();
        }
        check(&obs, owner);
    });
}

#[test]
fn foreign_wake_while_owner_wakes_and_releases() {
    loom::model(|| {
        let owner = thread::current().id();
        let (rc, obs) = target();
        let w = rc.waker();
        let h = thread::spawn(move || {
            w.wake_by_ref();
            let c = w.clone();
            drop(w);
            c.wake();
        });
        let local = rc.waker();
        local.wake_by_ref();
        drop(rc);
        local.wake(); // target gone: a no-op, and maybe the last drop
        h.join().unwrap();
        check(&obs, owner);
    });
}
