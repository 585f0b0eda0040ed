//! Wake targets and operations of the `waker` suite.
//!
//! Shared by the harness (`suites/waker.rs`) and the criterion bench
//! (`benches/waker.rs`, which includes this file by path), so both measure
//! exactly the same code. Every wake does the least a real target of its kind
//! must: a thread-safe target (`Wake`, the remote path) records it in an
//! atomic, a local one in a `Cell`.

use std::cell::Cell;
use std::hint::black_box;
use std::rc::Rc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Wake, Waker};

use hearth_task::dual::{DualRc, DualWake};
use hearth_task::{ContextExt, LocalWake, LocalWaker};

/// A `std::task::Wake` target: wakes are counted with a relaxed `fetch_add`.
#[derive(Default)]
pub struct ArcTarget {
    pub wakes: AtomicUsize,
}

impl Wake for ArcTarget {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.wakes.fetch_add(1, Ordering::Relaxed);
    }
}

/// A `hearth_task::LocalWake` target: wakes are counted in a `Cell`.
#[derive(Default)]
pub struct RcTarget {
    pub wakes: Cell<usize>,
}

impl LocalWake for RcTarget {
    fn wake(self: Rc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Rc<Self>) {
        self.wakes.set(self.wakes.get() + 1);
    }
}

/// A `DualWake` target: local wakes are counted in a `Cell`, remote ones in
/// the shared atomic.
#[derive(Default)]
pub struct DualTarget {
    pub wakes: Cell<usize>,
}

impl DualWake for DualTarget {
    type Shared = AtomicUsize;

    fn wake_local(this: &DualRc<Self>) {
        this.wakes.set(this.wakes.get() + 1);
    }

    fn wake_remote(shared: &AtomicUsize, _waker: &Waker) {
        shared.fetch_add(1, Ordering::Relaxed);
    }
}

/// A new dual target owned by the calling thread.
pub fn dual_target() -> DualRc<DualTarget> {
    DualRc::new(DualTarget::default(), AtomicUsize::new(0))
}

/// std's own `LocalWake` (nightly): wakes are counted in a `Cell`.
#[cfg(feature = "nightly")]
#[derive(Default)]
pub struct StdRcTarget {
    pub wakes: Cell<usize>,
}

#[cfg(feature = "nightly")]
impl std::task::LocalWake for StdRcTarget {
    fn wake(self: Rc<Self>) {
        std::task::LocalWake::wake_by_ref(&self);
    }

    fn wake_by_ref(self: &Rc<Self>) {
        self.wakes.set(self.wakes.get() + 1);
    }
}

/// The measured operation of a `Waker`: clone, `wake_by_ref`, drop the clone.
#[inline(always)]
pub fn clone_wake_drop(waker: &Waker) {
    let clone = black_box(waker).clone();
    clone.wake_by_ref();
    drop(clone);
}

/// The same operation on a hearth `LocalWaker`.
#[inline(always)]
pub fn clone_wake_drop_local(waker: &LocalWaker) {
    let clone = black_box(waker).clone();
    clone.wake_by_ref();
    drop(clone);
}

/// The same operation on std's nightly `LocalWaker`.
#[cfg(feature = "nightly")]
#[inline(always)]
pub fn clone_wake_drop_std_local(waker: &std::task::LocalWaker) {
    let clone = black_box(waker).clone();
    clone.wake_by_ref();
    drop(clone);
}

/// The measured lookup: `ContextExt::local_waker`, input and output opaque.
#[inline(always)]
pub fn lookup(cx: &Context<'_>) {
    black_box(ContextExt::local_waker(black_box(cx)));
}

/// std's own lookup (nightly), input and output opaque.
#[cfg(feature = "nightly")]
#[inline(always)]
pub fn std_lookup(cx: &Context<'_>) {
    black_box(Context::local_waker(black_box(cx)));
}
