//! Test helpers: counting wakers, manual polling and a tiny dual-waker
//! executor.
#![allow(dead_code)]

use std::cell::RefCell;
use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Wake, Waker};

use hearth_task::dual::{DualRc, DualWake};

/// A `Waker` that counts its wakes.
#[derive(Default)]
pub struct Counter(AtomicUsize);

impl Wake for Counter {
    fn wake(self: Arc<Self>) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
    fn wake_by_ref(self: &Arc<Self>) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

/// A counting waker and its counter.
pub fn counter() -> (Waker, Arc<Counter>) {
    let c = Arc::new(Counter::default());
    (Waker::from(c.clone()), c)
}

impl Counter {
    pub fn get(&self) -> usize {
        self.0.load(Ordering::SeqCst)
    }
}

/// A future pinned on the heap, polled by hand with its own counting waker.
pub struct Probe<F: Future> {
    pub fut: Pin<Box<F>>,
    pub waker: Waker,
    pub wakes: Arc<Counter>,
}

impl<F: Future> Probe<F> {
    pub fn new(fut: F) -> Self {
        let (waker, wakes) = counter();
        Probe {
            fut: Box::pin(fut),
            waker,
            wakes,
        }
    }

    pub fn poll(&mut self) -> Poll<F::Output> {
        let mut cx = Context::from_waker(&self.waker);
        self.fut.as_mut().poll(&mut cx)
    }

    pub fn woken(&self) -> usize {
        self.wakes.get()
    }

    /// Polls and expects `Pending`.
    #[track_caller]
    pub fn pending(&mut self) {
        assert!(self.poll().is_pending(), "expected Pending");
    }

    /// Polls and expects `Ready`, returning the output.
    #[track_caller]
    pub fn ready(&mut self) -> F::Output {
        match self.poll() {
            Poll::Ready(v) => v,
            Poll::Pending => panic!("expected Ready"),
        }
    }
}

/// Polls a future once with a no-op waker.
pub fn poll_once<F: Future + Unpin>(fut: &mut F) -> Poll<F::Output> {
    Pin::new(fut).poll(&mut Context::from_waker(Waker::noop()))
}

type Queue = Rc<RefCell<VecDeque<DualRc<Task>>>>;

/// A task of [`Executor`].
pub struct Task {
    future: RefCell<Option<Pin<Box<dyn Future<Output = ()>>>>>,
    queue: Queue,
}

impl DualWake for Task {
    type Shared = Arc<Mutex<Vec<Waker>>>;
    fn wake_local(this: &DualRc<Self>) {
        this.queue.borrow_mut().push_back(this.clone());
    }
    fn wake_remote(remote: &Self::Shared, waker: &Waker) {
        remote.lock().unwrap().push(waker.clone());
    }
}

/// A single-threaded executor whose tasks have dual wakers, so leaf futures
/// find a local twin in `cx.local_waker()`.
#[derive(Default)]
pub struct Executor {
    queue: Queue,
    remote: Arc<Mutex<Vec<Waker>>>,
    /// Every task, alive until the executor drops: a dual `Waker` does not
    /// keep its target alive (only `DualRc`s and local twins do), so a task
    /// parked only through `Waker`s would otherwise be dropped.
    tasks: RefCell<Vec<DualRc<Task>>>,
}

impl Executor {
    pub fn spawn(&self, fut: impl Future<Output = ()> + 'static) {
        let task = DualRc::new(
            Task {
                future: RefCell::new(Some(Box::pin(fut))),
                queue: self.queue.clone(),
            },
            self.remote.clone(),
        );
        self.tasks.borrow_mut().push(task.clone());
        self.queue.borrow_mut().push_back(task);
    }

    /// Runs until no task is runnable; returns the number of polls.
    pub fn run(&self) -> usize {
        let mut polls = 0;
        loop {
            for w in std::mem::take(&mut *self.remote.lock().unwrap()) {
                w.wake();
            }
            let Some(task) = self.queue.borrow_mut().pop_front() else {
                break;
            };
            let waker = task.waker_ref();
            let mut cx = Context::from_waker(&waker);
            let mut slot = task.future.borrow_mut();
            if let Some(fut) = slot.as_mut() {
                polls += 1;
                if fut.as_mut().poll(&mut cx).is_ready() {
                    *slot = None;
                }
            }
        }
        polls
    }
}
