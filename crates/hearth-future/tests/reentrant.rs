//! A parent whose local wake drops the combinator there and then (an
//! executor that runs the task inside `wake`): the parent's local waker is
//! still dropped on its own thread, never by the last child `Waker` on
//! another.
#![cfg_attr(feature = "nightly", feature(local_waker))]

use std::cell::RefCell;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::{Arc, Mutex};
use std::task::{Poll, Waker};
use std::thread::{self, ThreadId};

use hearth_task::{local_waker_fn, ContextBuilder};

/// Panics if dropped on another thread than the one that made it.
struct OnItsThread(ThreadId);

impl Drop for OnItsThread {
    fn drop(&mut self) {
        assert_eq!(
            thread::current().id(),
            self.0,
            "a LocalWaker was dropped on another thread"
        );
    }
}

#[test]
fn a_wake_that_drops_the_combinator_keeps_the_local_waker_home() {
    let parked: Arc<Mutex<Option<Waker>>> = Arc::default();
    let p = parked.clone();
    let child = std::future::poll_fn(move |cx| {
        *p.lock().unwrap() = Some(cx.waker().clone());
        Poll::<()>::Pending
    });
    let slot = Rc::new(RefCell::new(Some(hearth_future::join_all([child]))));
    let local = {
        let slot = slot.clone();
        let home = OnItsThread(thread::current().id());
        local_waker_fn(move || {
            let _ = &home;
            drop(slot.borrow_mut().take());
        })
    };
    {
        let mut b = ContextBuilder::from_waker(Waker::noop()).local_waker(&local);
        let mut cx = b.build();
        let mut fut = slot.borrow_mut();
        assert!(Pin::new(fut.as_mut().unwrap()).poll(&mut cx).is_pending());
    }
    // The combinator holds the only other clone of the local waker.
    drop(local);
    let w = parked.lock().unwrap().take().unwrap();
    // On the owner thread the child's `Waker` wakes the parent's local
    // waker, which drops the combinator.
    w.wake_by_ref();
    assert!(slot.borrow().is_none());
    // The last `Waker` frees the wake state on another thread.
    thread::spawn(move || drop(w)).join().unwrap();
}

/// Sets its flag when dropped.
struct Dropped(Rc<std::cell::Cell<bool>>);

impl Drop for Dropped {
    fn drop(&mut self) {
        self.0.set(true);
    }
}

/// The child of the test below.
type Body = Box<dyn FnMut(&mut std::task::Context<'_>) -> Poll<()>>;
type Fut = hearth_future::JoinAll<std::future::PollFn<Body>>;

#[test]
fn a_wake_that_polls_the_combinator_under_another_parent_outlives_its_replacement() {
    use std::cell::Cell;

    // The child parks its local waker (a twin of the wake state).
    let parked: Rc<RefCell<Option<hearth_task::LocalWaker>>> = Rc::default();
    let p = parked.clone();
    let child: Body = Box::new(move |cx| {
        *p.borrow_mut() = Some(hearth_task::ContextExt::local_waker(cx).clone());
        Poll::Pending
    });
    let slot: Rc<RefCell<Option<Fut>>> = Rc::new(RefCell::new(Some(hearth_future::join_all([
        std::future::poll_fn(child),
    ]))));
    let b_wakes = Rc::new(Cell::new(0u32));
    let b = {
        let b_wakes = b_wakes.clone();
        local_waker_fn(move || b_wakes.set(b_wakes.get() + 1))
    };
    let a_dropped = Rc::new(Cell::new(false));
    let a_ran = Rc::new(Cell::new(0u32));
    let a = {
        let slot = slot.clone();
        let b = b.clone();
        let a_ran = a_ran.clone();
        let guard = Dropped(a_dropped.clone());
        local_waker_fn(move || {
            // Run the task inside its wake, under another parent: the
            // combinator replaces its stored waker (this one, its last
            // clone) while this wake runs.
            let mut builder = ContextBuilder::from_waker(Waker::noop()).local_waker(&b);
            let mut cx = builder.build();
            let mut fut = slot.borrow_mut();
            assert!(Pin::new(fut.as_mut().unwrap()).poll(&mut cx).is_pending());
            // Still alive: it is dropped once this wake returned.
            assert!(!guard.0.get(), "the waker was dropped during its own wake");
            a_ran.set(a_ran.get() + 1);
        })
    };
    {
        let mut builder = ContextBuilder::from_waker(Waker::noop()).local_waker(&a);
        let mut cx = builder.build();
        let mut fut = slot.borrow_mut();
        assert!(Pin::new(fut.as_mut().unwrap()).poll(&mut cx).is_pending());
    }
    drop(a);
    assert!(!a_dropped.get(), "the combinator keeps a clone");
    let twin = parked.borrow_mut().take().unwrap();
    twin.wake_by_ref();
    assert_eq!(a_ran.get(), 1);
    assert!(
        a_dropped.get(),
        "the replaced waker is dropped after its wake"
    );
    // The next wake reaches the new parent.
    let twin = parked.borrow_mut().take().unwrap();
    twin.wake_by_ref();
    assert_eq!(b_wakes.get(), 1);
    drop(twin);
    drop(slot.borrow_mut().take());
}
