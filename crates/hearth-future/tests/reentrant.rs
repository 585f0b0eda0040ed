//! A parent whose local wake drops the combinator there and then (an
//! executor that runs the task inside `wake`): the parent's local waker is
//! still dropped on its own thread, never by the last child `Waker` on
//! another.

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
