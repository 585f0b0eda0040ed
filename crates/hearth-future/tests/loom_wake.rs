//! loom models of the thread-safe wake path: a child's `Waker` woken and
//! dropped on another thread while the owner polls or drops the combinator.
//! Every interleaving delivers the wake (the next poll polls the child) and
//! frees the wake state exactly once (loom builds assert on use after free
//! and double free).
//!
//! Run with `RUSTFLAGS="--cfg loom" cargo test -p hearth-future --release --test loom_wake`.
#![cfg(loom)]
#![cfg_attr(feature = "nightly", feature(local_waker))]

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

use hearth_task::dual::{DualRc, DualWake};
use loom::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use loom::sync::{Arc, Mutex};
use loom::thread;

struct Parent;

impl DualWake for Parent {
    type Shared = AtomicUsize;
    fn wake_local(_: &DualRc<Self>) {}
    fn wake_remote(shared: &AtomicUsize, _: &Waker) {
        shared.fetch_add(1, Ordering::SeqCst);
    }
}

#[derive(Default)]
struct Shared {
    waker: Mutex<Option<Waker>>,
    fired: AtomicBool,
    polls: AtomicUsize,
}

/// Parks `cx.waker()` (thread-safe) until fired.
struct Child(Arc<Shared>);

impl Future for Child {
    type Output = ();
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        self.0.polls.fetch_add(1, Ordering::SeqCst);
        if self.0.fired.load(Ordering::SeqCst) {
            return Poll::Ready(());
        }
        *self.0.waker.lock().unwrap() = Some(cx.waker().clone());
        if self.0.fired.load(Ordering::SeqCst) {
            return Poll::Ready(());
        }
        Poll::Pending
    }
}

fn fire(s: &Shared) {
    s.fired.store(true, Ordering::SeqCst);
    let w = s.waker.lock().unwrap().take();
    if let Some(w) = w {
        w.wake();
    }
}

#[test]
fn remote_wake_under_a_dual_parent_is_delivered() {
    loom::model(|| {
        let parent = DualRc::new(Parent, AtomicUsize::new(0));
        let s = Arc::new(Shared::default());
        let mut fut =
            hearth_future::join_all([Child(s.clone()), Child(Arc::new(Shared::default()))]);
        let w = parent.waker_ref();
        let mut cx = Context::from_waker(&w);
        assert!(Pin::new(&mut fut).poll(&mut cx).is_pending());
        let s2 = s.clone();
        let t = thread::spawn(move || fire(&s2));
        t.join().unwrap();
        // The wake reached the parent's thread-safe waker...
        assert_eq!(parent.shared().load(Ordering::SeqCst), 1);
        // ...and the next poll polls the child (it finishes) without
        // touching the other.
        assert!(Pin::new(&mut fut).poll(&mut cx).is_pending());
        assert!(s.waker.lock().unwrap().is_none());
        drop(fut);
    });
}

#[test]
fn wake_races_with_poll_and_drop() {
    loom::model(|| {
        let parent = DualRc::new(Parent, AtomicUsize::new(0));
        let s = Arc::new(Shared::default());
        let mut fut = hearth_future::join_all([Child(s.clone())]);
        let w = parent.waker_ref();
        let mut cx = Context::from_waker(&w);
        assert!(Pin::new(&mut fut).poll(&mut cx).is_pending());
        let s2 = s.clone();
        let t = thread::spawn(move || fire(&s2));
        // Poll concurrently with the wake: either it sees the wake now, or
        // the parent was woken for a later poll.
        let ready = Pin::new(&mut fut).poll(&mut cx).is_ready();
        t.join().unwrap();
        if !ready {
            assert!(parent.shared().load(Ordering::SeqCst) >= 1, "wake lost");
            assert!(Pin::new(&mut fut).poll(&mut cx).is_ready());
        }
        drop(fut);
    });
}

#[test]
fn waker_outlives_the_combinator() {
    loom::model(|| {
        let s = Arc::new(Shared::default());
        let parent = DualRc::new(Parent, AtomicUsize::new(0));
        let mut fut = hearth_future::join_all([Child(s.clone())]);
        let w = parent.waker_ref();
        let mut cx = Context::from_waker(&w);
        assert!(Pin::new(&mut fut).poll(&mut cx).is_pending());
        let s2 = s.clone();
        let t = thread::spawn(move || fire(&s2));
        drop(fut);
        t.join().unwrap();
    });
}

/// A child that is either remote-woken or idle forever (no atomics, so the
/// model stays small).
enum Kid {
    Remote(Child),
    Idle,
}

impl Future for Kid {
    type Output = ();
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        match self.get_mut() {
            Kid::Remote(c) => Pin::new(c).poll(cx),
            Kid::Idle => Poll::Pending,
        }
    }
}

#[test]
fn two_remote_wakes_in_ring_mode_poll_each_child_once() {
    // 66 children: the ring (above 64) with the remote stack drained in wake
    // order. Two threads wake two children concurrently.
    loom::model(|| {
        let parent = DualRc::new(Parent, AtomicUsize::new(0));
        let (a, b) = (Arc::new(Shared::default()), Arc::new(Shared::default()));
        let mut fut = hearth_future::join_all((0..66).map(|i| match i {
            3 => Kid::Remote(Child(a.clone())),
            65 => Kid::Remote(Child(b.clone())),
            _ => Kid::Idle,
        }));
        let w = parent.waker_ref();
        let mut cx = Context::from_waker(&w);
        assert!(Pin::new(&mut fut).poll(&mut cx).is_pending());
        let (a2, b2) = (a.clone(), b.clone());
        let t1 = thread::spawn(move || fire(&a2));
        let t2 = thread::spawn(move || fire(&b2));
        t1.join().unwrap();
        t2.join().unwrap();
        assert!(parent.shared().load(Ordering::SeqCst) >= 1, "wake lost");
        assert!(Pin::new(&mut fut).poll(&mut cx).is_pending());
        assert_eq!(a.polls.load(Ordering::SeqCst), 2);
        assert_eq!(b.polls.load(Ordering::SeqCst), 2);
        drop(fut);
    });
}

#[test]
fn two_remote_wakes_in_bit_mode_wake_the_parent_and_poll_each_child_once() {
    // Up to 64 children: remote wakes set bits in one atomic word and only
    // the wake that finds it empty wakes the parent. Two threads wake two
    // children concurrently; whichever is second must not be lost. (A wake
    // racing with a poll: `wake_races_with_poll_and_drop`, also bit mode.)
    loom::model(|| {
        let parent = DualRc::new(Parent, AtomicUsize::new(0));
        let (a, b) = (Arc::new(Shared::default()), Arc::new(Shared::default()));
        let mut fut = hearth_future::join_all([
            Kid::Remote(Child(a.clone())),
            Kid::Idle,
            Kid::Remote(Child(b.clone())),
        ]);
        let w = parent.waker_ref();
        let mut cx = Context::from_waker(&w);
        assert!(Pin::new(&mut fut).poll(&mut cx).is_pending());
        let (a2, b2) = (a.clone(), b.clone());
        let t1 = thread::spawn(move || fire(&a2));
        let t2 = thread::spawn(move || fire(&b2));
        t1.join().unwrap();
        t2.join().unwrap();
        assert!(parent.shared().load(Ordering::SeqCst) >= 1, "wake lost");
        assert!(Pin::new(&mut fut).poll(&mut cx).is_pending());
        assert_eq!(a.polls.load(Ordering::SeqCst), 2);
        assert_eq!(b.polls.load(Ordering::SeqCst), 2);
        drop(fut);
    });
}
