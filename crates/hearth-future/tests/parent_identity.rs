//! The parent's wakers are compared by what the combinator stored, not by
//! the identity of the `Waker` it saw: a `ContextBuilder` waker lives in the
//! builder, so two builders at the same stack address have the same
//! `(data, vtable)` while carrying different wakers. A combinator that cached
//! that identity kept waking the first parent.
#![cfg_attr(feature = "nightly", feature(local_waker))]

use std::cell::Cell;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Poll, Wake, Waker};

use hearth_task::{local_waker_fn, ContextBuilder, ContextExt, LocalWaker, LocalWakerSlot};

/// Polls `f` once with a `Context` that carries `w` and `l`. Not inlined, so
/// every call puts its builder at the same stack address.
#[inline(never)]
fn poll_with<F: Future + Unpin>(f: &mut F, w: &Waker, l: &LocalWaker) -> Poll<F::Output> {
    let mut b = ContextBuilder::from_waker(w).local_waker(l);
    let mut cx = b.build();
    Pin::new(f).poll(&mut cx)
}

fn counting_local(n: &Rc<Cell<usize>>) -> LocalWaker {
    let n = n.clone();
    local_waker_fn(move || n.set(n.get() + 1))
}

struct Count(AtomicUsize);

impl Wake for Count {
    fn wake(self: Arc<Self>) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

fn counting_waker() -> (Arc<Count>, Waker) {
    let c = Arc::new(Count(AtomicUsize::new(0)));
    (c.clone(), Waker::from(c))
}

#[test]
fn local_wake_reaches_the_latest_parent() {
    let slot = Rc::new(LocalWakerSlot::new());
    let s = slot.clone();
    let mut fut = hearth_future::join_all([std::future::poll_fn(move |cx| {
        s.register(ContextExt::local_waker(cx));
        Poll::<()>::Pending
    })]);
    let (first, second) = (Rc::new(Cell::new(0)), Rc::new(Cell::new(0)));
    let (l1, l2) = (counting_local(&first), counting_local(&second));
    let w = Waker::noop();
    assert!(poll_with(&mut fut, w, &l1).is_pending());
    assert!(poll_with(&mut fut, w, &l2).is_pending());
    slot.wake();
    assert_eq!(first.get(), 0, "the old parent was woken");
    assert_eq!(second.get(), 1, "the current parent was not woken");
}

#[test]
fn remote_wake_reaches_the_latest_parent() {
    let parked: Arc<Mutex<Option<Waker>>> = Arc::default();
    let p = parked.clone();
    let mut fut = hearth_future::join_all([std::future::poll_fn(move |cx| {
        *p.lock().unwrap() = Some(cx.waker().clone());
        Poll::<()>::Pending
    })]);
    let ((first, w1), (second, w2)) = (counting_waker(), counting_waker());
    let l = LocalWaker::noop();
    assert!(poll_with(&mut fut, &w1, l).is_pending());
    assert!(poll_with(&mut fut, &w2, l).is_pending());
    // From another thread the child's `Waker` takes the thread-safe path: the
    // parent's registered `Waker`.
    let w = parked.lock().unwrap().take().unwrap();
    std::thread::spawn(move || w.wake()).join().unwrap();
    assert_eq!(
        first.0.load(Ordering::SeqCst),
        0,
        "the old parent was woken"
    );
    assert_eq!(
        second.0.load(Ordering::SeqCst),
        1,
        "the current parent was not woken"
    );
}
