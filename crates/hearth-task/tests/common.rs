//! Shared test fixtures (included with `mod common;`).
#![allow(dead_code)]

use std::cell::Cell;
use std::rc::Rc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::Waker;
use std::thread::{self, ThreadId};

use hearth_task::dual::{DualRc, DualWake};

/// A dual wake target that counts wakes by path and records where it dropped.
pub struct Probe {
    pub local_wakes: Cell<usize>,
    pub owner: ThreadId,
    pub dropped_on: Arc<std::sync::Mutex<Option<ThreadId>>>,
    /// A `!Send` field, so the target itself is `!Send`.
    pub _not_send: Rc<()>,
}

/// The thread-safe part of [`Probe`].
#[derive(Default)]
pub struct ProbeShared {
    pub remote_wakes: AtomicUsize,
    pub drops: Arc<AtomicUsize>,
}

impl Drop for ProbeShared {
    fn drop(&mut self) {
        self.drops.fetch_add(1, Ordering::SeqCst);
    }
}

impl Drop for Probe {
    fn drop(&mut self) {
        *self.dropped_on.lock().unwrap() = Some(thread::current().id());
    }
}

impl DualWake for Probe {
    type Shared = ProbeShared;
    fn wake_local(this: &DualRc<Self>) {
        assert_eq!(
            thread::current().id(),
            this.owner,
            "local wake off the owner thread"
        );
        this.local_wakes.set(this.local_wakes.get() + 1);
    }
    fn wake_remote(shared: &ProbeShared, _waker: &Waker) {
        shared.remote_wakes.fetch_add(1, Ordering::SeqCst);
    }
}

/// Handles to observe a probe after it is gone.
pub struct Observer {
    pub dropped_on: Arc<std::sync::Mutex<Option<ThreadId>>>,
    pub shared_drops: Arc<AtomicUsize>,
}

impl Observer {
    pub fn target_dropped_on(&self) -> Option<ThreadId> {
        *self.dropped_on.lock().unwrap()
    }
    pub fn freed(&self) -> usize {
        self.shared_drops.load(Ordering::SeqCst)
    }
}

pub fn probe() -> (DualRc<Probe>, Observer) {
    let dropped_on = Arc::new(std::sync::Mutex::new(None));
    let drops = Arc::new(AtomicUsize::new(0));
    let rc = DualRc::new(
        Probe {
            local_wakes: Cell::new(0),
            owner: thread::current().id(),
            dropped_on: dropped_on.clone(),
            _not_send: Rc::new(()),
        },
        ProbeShared {
            remote_wakes: AtomicUsize::new(0),
            drops: drops.clone(),
        },
    );
    (
        rc,
        Observer {
            dropped_on,
            shared_drops: drops,
        },
    )
}
