//! Test helpers: a parent task with a dual waker, and leaf futures that count
//! their polls and park the waker they are given.
#![allow(dead_code)]

use std::cell::Cell;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};

use hearth_task::dual::{DualRc, DualWake};
use hearth_task::{ContextExt, LocalWakerSlot};

/// A parent task: counts local and remote wakes.
pub struct Task {
    pub local_wakes: Cell<usize>,
}

impl DualWake for Task {
    type Shared = AtomicUsize;
    fn wake_local(this: &DualRc<Self>) {
        this.local_wakes.set(this.local_wakes.get() + 1);
    }
    fn wake_remote(shared: &AtomicUsize, _: &Waker) {
        shared.fetch_add(1, Ordering::SeqCst);
    }
}

/// A minimal driver: polls a future with the task's dual waker.
pub struct Driver {
    pub task: DualRc<Task>,
}

impl Driver {
    pub fn new() -> Self {
        Driver {
            task: DualRc::new(
                Task {
                    local_wakes: Cell::new(0),
                },
                AtomicUsize::new(0),
            ),
        }
    }
    pub fn poll<F: Future + ?Sized>(&self, f: Pin<&mut F>) -> Poll<F::Output> {
        let w = self.task.waker_ref();
        let mut cx = Context::from_waker(&w);
        f.poll(&mut cx)
    }
    pub fn wakes(&self) -> usize {
        self.task.local_wakes.get() + self.task.shared().load(Ordering::SeqCst)
    }
}

/// How a leaf parks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Park {
    /// `cx.local_waker()` into a `LocalWakerSlot`.
    Local,
    /// `cx.waker()` cloned into a mutex (thread-safe).
    Waker,
}

/// Shared state of a leaf: set `ready` and wake.
pub struct Leaf {
    pub polls: Cell<usize>,
    pub done: Cell<bool>,
    pub local: LocalWakerSlot,
    pub waker: Mutex<Option<Waker>>,
    pub park: Park,
}

impl Leaf {
    pub fn new(park: Park) -> Rc<Leaf> {
        Rc::new(Leaf {
            polls: Cell::new(0),
            done: Cell::new(false),
            local: LocalWakerSlot::new(),
            waker: Mutex::new(None),
            park,
        })
    }
    /// Wakes whatever the leaf parked (local slot or Waker).
    pub fn wake(&self) {
        self.local.wake();
        if let Some(w) = self.waker.lock().unwrap().take() {
            w.wake();
        }
    }
    pub fn finish(&self) {
        self.done.set(true);
        self.wake();
    }
    /// Takes the parked thread-safe `Waker` (to wake it elsewhere).
    pub fn take_waker(&self) -> Option<Waker> {
        self.waker.lock().unwrap().take()
    }
}

/// A future over a leaf; outputs `out` once `done`.
pub fn leaf<T>(l: Rc<Leaf>, out: T) -> impl Future<Output = T> {
    let mut out = Some(out);
    std::future::poll_fn(move |cx| {
        l.polls.set(l.polls.get() + 1);
        if l.done.get() {
            return Poll::Ready(out.take().expect("leaf polled after completion"));
        }
        match l.park {
            Park::Local => l.local.register(ContextExt::local_waker(cx)),
            Park::Waker => {
                let mut g = l.waker.lock().unwrap();
                match &mut *g {
                    Some(w) => w.clone_from(cx.waker()),
                    None => *g = Some(cx.waker().clone()),
                }
            }
        }
        Poll::Pending
    })
}

/// A thread-safe flag future: completes once `set` is true; parks its Waker.
pub struct Flag {
    pub set: std::sync::atomic::AtomicBool,
    pub polls: AtomicUsize,
    pub waker: Mutex<Option<Waker>>,
}

impl Flag {
    pub fn new() -> Arc<Flag> {
        Arc::new(Flag {
            set: Default::default(),
            polls: Default::default(),
            waker: Mutex::new(None),
        })
    }
    pub fn fire(&self) {
        self.set.store(true, Ordering::SeqCst);
        if let Some(w) = self.waker.lock().unwrap().take() {
            w.wake();
        }
    }
}

pub fn flag(f: Arc<Flag>) -> impl Future<Output = ()> + Send {
    std::future::poll_fn(move |cx| {
        f.polls.fetch_add(1, Ordering::SeqCst);
        let mut g = f.waker.lock().unwrap();
        if f.set.load(Ordering::SeqCst) {
            return Poll::Ready(());
        }
        *g = Some(cx.waker().clone());
        Poll::Pending
    })
}
