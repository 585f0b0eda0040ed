//! std's own cases for `LocalWaker` and `LocalWake` (coretests, alloctests and
//! the doc examples of rust-lang/rust#118959), rewritten against hearth-task.
#![cfg_attr(feature = "nightly", feature(local_waker))]

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::ptr;
use std::rc::Rc;
use std::task::{Context, Poll, RawWaker, RawWakerVTable, Waker};

use hearth_task::{
    local_raw_waker, local_waker_fn, ContextBuilder, ContextExt, LocalWake, LocalWaker,
};

static VTABLE: RawWakerVTable = RawWakerVTable::new(
    |data| {
        RawWaker::new(
            ptr::without_provenance_mut::<()>(data as usize + 1),
            &VTABLE,
        )
    },
    |_| {},
    |_| {},
    |_| {},
);

#[test]
fn getters() {
    // SAFETY: the vtable never dereferences `data`.
    let waker = unsafe {
        LocalWaker::from_raw(RawWaker::new(
            ptr::without_provenance_mut::<()>(42),
            &VTABLE,
        ))
    };
    assert_eq!(waker.data() as usize, 42);
    assert!(ptr::eq(waker.vtable(), &VTABLE));

    let clone = waker.clone();
    assert_eq!(clone.data() as usize, 43);
    assert!(ptr::eq(clone.vtable(), &VTABLE));

    // SAFETY: as above.
    let made = unsafe { LocalWaker::new(ptr::without_provenance::<()>(7), &VTABLE) };
    assert_eq!(made.data() as usize, 7);
    assert!(!made.will_wake(&waker));
}

// Const construction, as coretests' `test_const_waker`.
const NOOP_RAW: RawWaker = {
    fn nop(_: *const ()) {}
    const VT: RawWakerVTable = RawWakerVTable::new(|_| NOOP_RAW, nop, nop, nop);
    RawWaker::new(&() as *const (), &VT)
};
// SAFETY: every function of the vtable is a no-op.
const CONST_LOCAL: &LocalWaker = &unsafe { LocalWaker::from_raw(NOOP_RAW) };
const CONST_NEW: LocalWaker = {
    fn nop(_: *const ()) {}
    const VT: RawWakerVTable = RawWakerVTable::new(|_| NOOP_RAW, nop, nop, nop);
    // SAFETY: as above.
    unsafe { LocalWaker::new(ptr::null(), &VT) }
};

#[test]
fn const_construction() {
    CONST_LOCAL.wake_by_ref();
    CONST_LOCAL.clone().wake();
    let w = CONST_NEW;
    assert!(w.data().is_null());
    w.wake();
    let mut builder = ContextBuilder::from_waker(Waker::noop()).local_waker(CONST_LOCAL);
    let mut cx = builder.build();
    assert_eq!(
        Pin::new(&mut std::future::ready(1)).poll(&mut cx),
        Poll::Ready(1)
    );
}

#[test]
fn noop() {
    let a = LocalWaker::noop();
    let b = LocalWaker::noop().clone();
    assert_eq!(a.data(), b.data());
    b.wake_by_ref();
    b.wake();
    assert!(format!("{a:?}").starts_with("LocalWaker { data: "));
    let mut builder = ContextBuilder::from_waker(Waker::noop()).local_waker(LocalWaker::noop());
    let mut cx = builder.build();
    let mut fut = Box::pin(async { 10 });
    assert_eq!(fut.as_mut().poll(&mut cx), Poll::Ready(10));
}

#[test]
#[cfg_attr(miri, ignore)] // `will_wake` is best effort; Miri may give distinct vtable addresses.
fn will_wake_clone() {
    struct Nop;
    impl LocalWake for Nop {
        fn wake(self: Rc<Self>) {}
    }
    let waker = LocalWaker::from(Rc::new(Nop));
    let clone = waker.clone();
    assert!(waker.will_wake(&clone));
    assert!(clone.will_wake(&waker));
}

#[test]
fn clone_from_skips_same_task() {
    struct Counting;
    impl LocalWake for Counting {
        fn wake(self: Rc<Self>) {}
    }
    let rc = Rc::new(Counting);
    let a: LocalWaker = rc.clone().into();
    let mut b = a.clone();
    assert_eq!(Rc::strong_count(&rc), 3);
    b.clone_from(&a); // same task: no clone, no drop
    assert_eq!(Rc::strong_count(&rc), 3);
    let other: LocalWaker = Rc::new(Counting).into();
    b.clone_from(&other); // different task: releases `rc`'s count
    assert_eq!(Rc::strong_count(&rc), 2);
    assert!(b.will_wake(&other));
}

/// The refcount rules of `LocalWake` (and the regression of
/// rust-lang/rust#122180: no leaked and no double-dropped `Rc`).
#[test]
fn local_wake_refcounts() {
    struct Target {
        wakes: Cell<usize>,
        drops: Rc<Cell<usize>>,
    }
    impl LocalWake for Target {
        fn wake(self: Rc<Self>) {
            self.wakes.set(self.wakes.get() + 1);
        }
    }
    impl Drop for Target {
        fn drop(&mut self) {
            self.drops.set(self.drops.get() + 1);
        }
    }
    let drops = Rc::new(Cell::new(0));
    let rc = Rc::new(Target {
        wakes: Cell::new(0),
        drops: drops.clone(),
    });

    let waker: LocalWaker = rc.clone().into();
    assert_eq!(
        Rc::strong_count(&rc),
        2,
        "conversion moves the Rc, no extra count"
    );
    let clone = waker.clone();
    assert_eq!(Rc::strong_count(&rc), 3, "clone adds one");
    clone.wake_by_ref();
    assert_eq!(Rc::strong_count(&rc), 3, "wake_by_ref leaves the count");
    clone.wake();
    assert_eq!(Rc::strong_count(&rc), 2, "wake consumes one");
    drop(waker);
    assert_eq!(Rc::strong_count(&rc), 1, "drop releases one");
    assert_eq!(rc.wakes.get(), 2);

    // Through the raw form as well.
    // SAFETY: `local_raw_waker` output goes straight into a `LocalWaker`.
    let raw = unsafe { LocalWaker::from_raw(local_raw_waker(rc.clone())) };
    assert_eq!(Rc::strong_count(&rc), 2);
    raw.wake();
    assert_eq!(Rc::strong_count(&rc), 1);
    assert_eq!(drops.get(), 0);
    drop(rc);
    assert_eq!(drops.get(), 1, "dropped exactly once");
}

#[test]
fn default_wake_by_ref_clones_and_wakes() {
    struct Target(Cell<usize>);
    impl LocalWake for Target {
        fn wake(self: Rc<Self>) {
            self.0.set(self.0.get() + 1);
        }
    }
    let rc = Rc::new(Target(Cell::new(0)));
    let waker: LocalWaker = rc.clone().into();
    waker.wake_by_ref();
    waker.wake_by_ref();
    assert_eq!(rc.0.get(), 2);
    assert_eq!(Rc::strong_count(&rc), 2);
}

#[test]
fn local_waker_fn_needs_no_send() {
    let log = Rc::new(RefCell::new(Vec::new())); // !Send capture
    let l = log.clone();
    let waker = local_waker_fn(move || l.borrow_mut().push(1));
    waker.wake_by_ref();
    let c = waker.clone();
    drop(waker);
    c.wake();
    assert_eq!(*log.borrow(), [1, 1]);
    assert_eq!(Rc::strong_count(&log), 1, "the closure was dropped");
}

#[test]
fn waker_as_local_waker() {
    let waker = futures::task::noop_waker();
    let local: &LocalWaker = waker.as_ref();
    assert_eq!(local.data(), waker.data());
    assert!(ptr::eq(local.vtable(), waker.vtable()));
    local.wake_by_ref();
    local.clone().wake();
}

// ---- std's doc example: a single-threaded executor on `LocalWake` ----

thread_local! {
    static RUN_QUEUE: RefCell<VecDeque<Rc<Task>>> = const { RefCell::new(VecDeque::new()) };
}

type BoxedFuture = Pin<Box<dyn Future<Output = ()>>>;

struct Task(RefCell<BoxedFuture>);

impl LocalWake for Task {
    fn wake(self: Rc<Self>) {
        RUN_QUEUE.with_borrow_mut(|queue| queue.push_back(self))
    }
}

fn spawn<F: Future<Output = ()> + 'static>(future: F) {
    let task = Rc::new(Task(RefCell::new(Box::pin(future))));
    RUN_QUEUE.with_borrow_mut(|queue| queue.push_back(task));
}

fn block_on<F: Future<Output = ()> + 'static>(future: F) {
    spawn(future);
    while let Some(task) = RUN_QUEUE.with_borrow_mut(|queue| queue.pop_front()) {
        let local_waker: LocalWaker = task.clone().into();
        let mut builder = ContextBuilder::from_waker(Waker::noop()).local_waker(&local_waker);
        let mut cx = builder.build();
        let _ = task.0.borrow_mut().as_mut().poll(&mut cx);
    }
}

/// std's `yield_now` example: returns `Pending` once, waking itself through
/// the local waker.
fn yield_now() -> impl Future<Output = ()> {
    let mut yielded = false;
    std::future::poll_fn(move |cx: &mut Context<'_>| {
        if yielded {
            return Poll::Ready(());
        }
        yielded = true;
        ContextExt::local_waker(cx).wake_by_ref();
        Poll::Pending
    })
}

#[test]
fn yield_now_and_block_on() {
    let order = Rc::new(RefCell::new(Vec::new()));
    let (a, b) = (order.clone(), order.clone());
    block_on(async move {
        spawn(async move {
            for i in 0..3 {
                b.borrow_mut().push(("b", i));
                yield_now().await;
            }
        });
        for i in 0..3 {
            a.borrow_mut().push(("a", i));
            yield_now().await;
        }
    });
    assert_eq!(
        *order.borrow(),
        [("a", 0), ("b", 0), ("a", 1), ("b", 1), ("a", 2), ("b", 2)]
    );
}
