//! The executor of `raw_executor.rs` on `hearth_task::dual::DualTask`: the
//! same one allocation per task, the same local and remote wake paths, and
//! no `unsafe`. Run with `cargo run --example task_executor`, or under Miri
//! with `cargo +nightly miri run --example task_executor`.
#![cfg_attr(feature = "nightly", feature(local_waker))]

use std::cell::{Cell, RefCell};
use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Poll, Waker};
use std::thread::{self, Thread};

use hearth_task::dual::{DualTask, Schedule};
use hearth_task::ContextExt;

/// What other threads reach: wakes for the owner, and who to unpark.
struct Remote {
    wakes: Mutex<Vec<Waker>>,
    /// Set after a push: the owner locks `wakes` only when it is set.
    pending: AtomicBool,
    thread: Thread,
}

type Queue = Rc<RefCell<VecDeque<DualTask<Sched>>>>;

/// The executor's data in every task.
struct Sched {
    queue: Queue,
    id: u64,
}

impl Schedule for Sched {
    type Shared = Arc<Remote>;
    fn schedule(task: &DualTask<Self>) {
        task.queue.borrow_mut().push_back(task.clone());
    }
    fn schedule_remote(remote: &Arc<Remote>, waker: &Waker) {
        remote.wakes.lock().unwrap().push(waker.clone());
        remote.pending.store(true, Ordering::Release);
        remote.thread.unpark();
    }
}

struct Executor {
    queue: Queue,
    remote: Arc<Remote>,
    /// Every live task by id: a `Waker` keeps only the memory alive.
    live: RefCell<HashMap<u64, DualTask<Sched>>>,
    next_id: Cell<u64>,
}

impl Executor {
    fn new() -> Self {
        Executor {
            queue: Queue::default(),
            remote: Arc::new(Remote {
                wakes: Mutex::default(),
                pending: AtomicBool::new(false),
                thread: thread::current(),
            }),
            live: RefCell::default(),
            next_id: Cell::new(0),
        }
    }

    fn spawn(&self, future: impl Future<Output = ()> + 'static) {
        let id = self.next_id.replace(self.next_id.get() + 1);
        let sched = Sched {
            queue: self.queue.clone(),
            id,
        };
        let task = DualTask::new(future, sched, self.remote.clone());
        self.queue.borrow_mut().push_back(task.clone());
        self.live.borrow_mut().insert(id, task);
    }

    fn run(&self) {
        while !self.live.borrow().is_empty() {
            if self.remote.pending.swap(false, Ordering::Acquire) {
                let wakes = std::mem::take(&mut *self.remote.wakes.lock().unwrap());
                wakes.into_iter().for_each(Waker::wake); // local path here
            }
            let next = self.queue.borrow_mut().pop_front();
            match next {
                Some(task) if task.poll().is_ready() => {
                    self.live.borrow_mut().remove(&task.id);
                }
                Some(_) => {}
                None if !self.remote.pending.load(Ordering::Acquire) => thread::park(),
                None => {}
            }
        }
    }
}

impl Drop for Executor {
    fn drop(&mut self) {
        // Tasks hold the queue and the remote part: break those cycles.
        drop(std::mem::take(&mut *self.queue.borrow_mut()));
        drop(std::mem::take(&mut *self.remote.wakes.lock().unwrap()));
        drop(std::mem::take(&mut *self.live.borrow_mut()));
    }
}

fn main() {
    let ex = Executor::new();
    let hits = Rc::new(Cell::new(0));
    for i in 0..4u32 {
        let hits = hits.clone();
        ex.spawn(async move {
            // A wake through the twin (local path), `i` times.
            for _ in 0..i {
                let mut yielded = false;
                std::future::poll_fn(|cx| {
                    if yielded {
                        return Poll::Ready(());
                    }
                    yielded = true;
                    ContextExt::local_waker(cx).wake_by_ref();
                    Poll::Pending
                })
                .await;
            }
            hits.set(hits.get() + 1);
        });
    }
    // A wake from another thread (remote path).
    let (tx, rx) = futures::channel::oneshot::channel::<u32>();
    let h = hits.clone();
    ex.spawn(async move {
        assert_eq!(rx.await, Ok(7));
        h.set(h.get() + 1);
    });
    let sender = thread::spawn(move || tx.send(7).unwrap());
    ex.run();
    sender.join().unwrap();
    assert_eq!(hits.get(), 5);
    println!("5 tasks ran to completion, one allocation each");
}
