//! The blocking pool: a few threads for work that would stall a worker.
//!
//! Jobs go into one `Mutex<VecDeque>`; a job is handed to an idle thread if
//! there is one (`notify_one` on a `Condvar`), otherwise a new thread starts,
//! up to `max_threads`; beyond that jobs wait in the queue. A thread that
//! finds nothing to do for `keep_alive` exits. The pool is a slow path
//! (each job costs a lock and maybe a thread), so simple beats clever here.
//!
//! `idle` counts threads waiting on the condvar that nobody has notified yet:
//! the notifier decrements it, so two jobs queued back to back wake two
//! threads rather than notifying the same sleeper twice. `notified` counts the
//! notifications not yet consumed; a thread that wakes without one (timeout
//! or spurious wake-up) takes itself off `idle`.
//!
//! Results go back through a [`RemoteJoinHandle`]: the awaiting task's
//! thread-safe `Waker` is woken from the pool thread.
//!
//! **Shutdown** drops the jobs that have not started (their handles yield a
//! cancelled `JoinError`) and tells idle threads to exit. Jobs already
//! running are not interrupted, and shutdown does not wait for them: each
//! finishes on its own thread, delivers its result, and that thread exits.
//! The **graceful** shutdown ([`Pool::drain`]) lets the queued jobs run too
//! and waits for the threads up to a deadline before it cancels what is left.

use std::collections::VecDeque;
use std::io;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use super::join::RemoteJoinHandle;
use crate::executor::JoinError;

type Job = Box<dyn FnOnce() + Send>;

/// The queue capacity kept once a flood has drained (1 KiB).
const QUEUE_RESERVE: usize = 64;

pub(crate) struct Pool {
    state: Mutex<State>,
    cond: Condvar,
    /// Notified when a thread exits (a graceful shutdown waits on it).
    exited: Condvar,
    max_threads: usize,
    keep_alive: Duration,
}

/// What the pool is doing, at one moment.
pub(crate) struct BlockingStats {
    pub(crate) threads: usize,
    pub(crate) idle: usize,
    pub(crate) queued: usize,
}

#[derive(Default)]
struct State {
    queue: VecDeque<Job>,
    /// Live pool threads.
    threads: usize,
    /// Threads waiting that no notification is meant for yet.
    idle: usize,
    /// Notifications not yet taken by a waking thread.
    notified: usize,
    shutdown: bool,
}

impl Pool {
    pub(crate) fn new(max_threads: usize, keep_alive: Duration) -> Arc<Pool> {
        Arc::new(Pool {
            state: Mutex::new(State::default()),
            cond: Condvar::new(),
            exited: Condvar::new(),
            max_threads,
            keep_alive,
        })
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // Jobs run outside the lock and every critical section leaves the
        // state consistent, so a poisoned lock is still good.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Runs `f` on a pool thread; its result (or panic) goes to the handle.
    pub(crate) fn spawn<F, R>(self: &Arc<Self>, f: F) -> RemoteJoinHandle<R>
    where
        F: FnOnce() -> R + Send + 'static,
        R: Send + 'static,
    {
        let (tx, abort, handle) = RemoteJoinHandle::new();
        let job: Job = Box::new(move || {
            // Aborted before it started: never run it.
            let result = if abort.is_aborted() {
                Err(JoinError::cancelled())
            } else {
                catch_unwind(AssertUnwindSafe(f)).map_err(JoinError::panic)
            };
            // The handle may be gone (detached): then the result just drops.
            let _ = tx.send(result);
        });
        let mut state = self.lock();
        if state.shutdown {
            // Dropping the job drops its sender: the handle yields cancelled.
            return handle;
        }
        state.queue.push_back(job);
        if state.idle > 0 {
            state.idle -= 1;
            state.notified += 1;
            self.cond.notify_one();
        } else if state.threads < self.max_threads {
            state.threads += 1;
            drop(state);
            if self.start_thread().is_err() {
                let mut state = self.lock();
                state.threads -= 1;
                if state.threads == 0 {
                    // Nobody will ever run what is queued; cancel it.
                    state.queue.clear();
                }
            }
        }
        handle
    }

    fn start_thread(self: &Arc<Self>) -> io::Result<()> {
        let pool = self.clone();
        std::thread::Builder::new()
            .name("hearth-blocking".into())
            .spawn(move || pool.serve())
            .map(drop)
    }

    /// A pool thread: runs jobs until idle for `keep_alive` or shut down.
    fn serve(&self) {
        let mut state = self.lock();
        loop {
            if let Some(job) = state.queue.pop_front() {
                if state.queue.is_empty() && state.queue.capacity() > QUEUE_RESERVE {
                    // A flood does not keep its queue.
                    state.queue.shrink_to(QUEUE_RESERVE);
                }
                drop(state);
                // The job catches `f`'s panic itself; what can still unwind
                // is the drop of a result nobody awaits (an output or panic
                // payload whose drop panics): it must not end this thread,
                // or the pool would count a thread that is gone.
                crate::executor::unwind::quietly(job);
                state = self.lock();
                continue;
            }
            if state.shutdown {
                break;
            }
            state.idle += 1;
            let (guard, wait) = self
                .cond
                .wait_timeout(state, self.keep_alive)
                .unwrap_or_else(|e| e.into_inner());
            state = guard;
            if state.notified > 0 {
                state.notified -= 1;
            } else {
                state.idle -= 1;
                if wait.timed_out() && state.queue.is_empty() {
                    break;
                }
            }
        }
        state.threads -= 1;
        drop(state);
        self.exited.notify_all();
    }

    /// Cancels the jobs that have not started and lets the threads go: a
    /// drain whose deadline has passed.
    pub(crate) fn shutdown(&self) {
        self.drain(Instant::now());
    }

    /// The graceful shutdown: no new jobs; the queued ones still run; waits
    /// until `deadline` for every thread to finish and exit. Then cancels the
    /// jobs still queued. Returns how many were cancelled and how many were
    /// still running (they finish on their own, unwaited).
    pub(crate) fn drain(&self, deadline: Instant) -> (usize, usize) {
        let mut state = self.lock();
        state.shutdown = true;
        // Idle threads run what is queued, then exit.
        self.cond.notify_all();
        while state.threads > 0 {
            let now = Instant::now();
            if now >= deadline {
                break;
            }
            state = self
                .exited
                .wait_timeout(state, deadline - now)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
        let jobs = std::mem::take(&mut state.queue);
        // Every thread left is busy with a job (idle ones exit at shutdown).
        let running = state.threads;
        drop(state);
        let cancelled = jobs.len();
        // Outside the lock: a job's drop may run arbitrary code.
        drop(jobs);
        (cancelled, running)
    }

    /// Live threads, idle threads and queued jobs, for `RuntimeMetrics`.
    pub(crate) fn stats(&self) -> BlockingStats {
        let state = self.lock();
        BlockingStats {
            threads: state.threads,
            idle: state.idle,
            queued: state.queue.len(),
        }
    }

    #[cfg(test)]
    fn threads(&self) -> usize {
        self.lock().threads
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_jobs_and_bounds_threads() {
        let pool = Pool::new(2, Duration::from_secs(5));
        let handles: Vec<_> = (0..8).map(|i| pool.spawn(move || i * 2)).collect();
        assert!(pool.threads() <= 2);
        let sum: i32 = handles
            .into_iter()
            .map(|h| crate::block_on(h).unwrap())
            .sum();
        assert_eq!(sum, 56);
        pool.shutdown();
    }

    #[test]
    fn idle_threads_exit_after_keep_alive() {
        let pool = Pool::new(4, Duration::from_millis(10));
        assert_eq!(crate::block_on(pool.spawn(|| 1)).unwrap(), 1);
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while pool.threads() > 0 {
            assert!(
                std::time::Instant::now() < deadline,
                "idle thread never exited"
            );
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    #[test]
    fn panics_become_join_errors_and_the_thread_survives() {
        let pool = Pool::new(1, Duration::from_secs(5));
        let err = crate::block_on(pool.spawn(|| panic!("blocking boom"))).unwrap_err();
        assert!(err.is_panic());
        assert_eq!(crate::block_on(pool.spawn(|| 3)).unwrap(), 3);
        pool.shutdown();
    }

    #[test]
    fn drain_runs_queued_jobs_and_waits_for_them() {
        let pool = Pool::new(1, Duration::from_secs(5));
        let slow = pool.spawn(|| std::thread::sleep(Duration::from_millis(50)));
        let queued = pool.spawn(|| 5);
        let deadline = Instant::now() + Duration::from_secs(10);
        assert_eq!(pool.drain(deadline), (0, 0));
        assert_eq!(pool.threads(), 0);
        crate::block_on(slow).unwrap();
        assert_eq!(crate::block_on(queued).unwrap(), 5);
        assert!(crate::block_on(pool.spawn(|| 1))
            .unwrap_err()
            .is_cancelled());
    }

    #[test]
    fn drain_past_its_deadline_cancels_the_queue() {
        let pool = Pool::new(1, Duration::from_secs(5));
        let (go_tx, go_rx) = std::sync::mpsc::channel::<()>();
        let (started_tx, started_rx) = std::sync::mpsc::channel::<()>();
        let running = pool.spawn(move || {
            started_tx.send(()).unwrap();
            go_rx.recv().is_ok()
        });
        started_rx.recv().unwrap();
        let queued = pool.spawn(|| 5);
        let deadline = Instant::now() + Duration::from_millis(20);
        assert_eq!(pool.drain(deadline), (1, 1));
        assert!(crate::block_on(queued).unwrap_err().is_cancelled());
        go_tx.send(()).unwrap();
        assert!(crate::block_on(running).unwrap());
    }

    #[test]
    fn abort_before_start_never_runs() {
        let pool = Pool::new(1, Duration::from_secs(5));
        let (go_tx, go_rx) = std::sync::mpsc::channel::<()>();
        let first = pool.spawn(move || go_rx.recv().is_ok());
        let ran = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let r = ran.clone();
        let second = pool.spawn(move || r.store(true, std::sync::atomic::Ordering::SeqCst));
        second.abort();
        go_tx.send(()).unwrap();
        assert!(crate::block_on(first).unwrap());
        assert!(crate::block_on(second).unwrap_err().is_cancelled());
        pool.shutdown();
        assert!(!ran.load(std::sync::atomic::Ordering::SeqCst));
    }

    #[test]
    fn after_shutdown_jobs_are_cancelled() {
        let pool = Pool::new(1, Duration::from_secs(5));
        pool.shutdown();
        assert!(crate::block_on(pool.spawn(|| 1))
            .unwrap_err()
            .is_cancelled());
    }
}
