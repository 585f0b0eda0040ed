//! Wakes from other threads: a lock-free queue into the owner, plus unpark.
//!
//! A foreign thread that wakes a task pushes a [`RemoteWake`] (which owns a
//! `Waker` count of the task) onto the owner's queue and unparks the owner if
//! it sleeps. The owner drains the queue between tasks and schedules each task
//! locally. When the executor goes away it closes the queue: later pushes fail
//! and the wake is dropped on the spot (the task is gone, nothing to wake), and
//! what was queued before is dropped by the owner. Nothing is lost or leaked.
//!
//! Every remote wake unparks the owner (`Thread::unpark`: one atomic swap, plus
//! a futex wake only if the owner sleeps). An unpark that comes before `park`
//! makes `park` return at once, so a wake is never lost between the owner's
//! last look at the queue and its sleep. Remote wakes of a task that is
//! already queued are deduplicated before this point (`remote_queued`), so a
//! storm of wakes costs one push and one unpark per owner pass.

use concurrent_queue::ConcurrentQueue;
use hearth_task::atomic::{AtomicBool, Ordering};

use super::task::RemoteWake;
use crate::sync::Thread;

/// The thread-safe side of an executor, shared with its tasks' wakers.
pub(crate) struct Remote {
    queue: ConcurrentQueue<RemoteWake>,
    /// The main future (of `run_until`) was woken from another thread.
    main_woken: AtomicBool,
    /// The owner thread.
    thread: Thread,
}

impl Remote {
    pub(crate) fn new(thread: Thread) -> Self {
        Remote {
            queue: ConcurrentQueue::unbounded(),
            main_woken: AtomicBool::new(false),
            thread,
        }
    }

    /// Queues a wake from another thread and unparks the owner.
    pub(crate) fn push(&self, wake: RemoteWake) {
        match self.queue.push(wake) {
            Ok(()) => self.unpark(),
            // The executor is gone: drop the wake (and its count) here.
            Err(err) => drop(err.into_inner()),
        }
    }

    /// Records a wake of the main future from another thread.
    pub(crate) fn wake_main(&self) {
        self.main_woken.store(true, Ordering::Release);
        self.unpark();
    }

    fn unpark(&self) {
        self.thread.unpark();
    }

    /// On the owner: takes a pending remote wake of the main future. A plain
    /// load first, so the common case costs no read-modify-write.
    pub(crate) fn take_main_woken(&self) -> bool {
        self.main_woken.load(Ordering::Relaxed) && self.main_woken.swap(false, Ordering::Acquire)
    }

    /// On the owner: the next queued remote wake.
    pub(crate) fn pop(&self) -> Option<RemoteWake> {
        if self.queue.is_empty() {
            None
        } else {
            self.queue.pop().ok()
        }
    }

    /// On the owner: parks until a remote wake arrives.
    pub(crate) fn park(&self) {
        if self.queue.is_empty() && !self.main_woken.load(Ordering::Relaxed) {
            crate::sync::park();
        }
    }

    /// On the owner, when the executor goes away: no more remote wakes.
    pub(crate) fn close(&self) {
        self.queue.close();
        while let Ok(wake) = self.queue.pop() {
            drop(wake);
        }
    }
}
