//! A graceful shutdown started through a [`Handle`](super::Handle), which
//! cannot join the worker threads: the workers report their own end here.
//!
//! [`Tracker::begin`] (the first call only) fixes the deadline; the caller
//! then sends every worker `Message::Drain`, exactly as
//! `Runtime::shutdown_graceful` does. Each worker thread calls
//! [`Tracker::worker_stopped`] when its executor is gone, with the number of
//! tasks it cancelled. The last one starts the blocking pool's drain on a
//! thread of its own (so no worker thread, and no `Runtime` drop joining
//! them, waits on blocking jobs), which publishes the result and wakes every
//! [`GracefulShutdown`](super::GracefulShutdown) future.
//!
//! Everything here is behind one `Mutex`: it is touched a few times per
//! shutdown, never on a hot path.

use core::task::{Context, Poll, Waker};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use super::{Shared, ShutdownTimedOut};

pub(super) struct Tracker {
    state: Mutex<State>,
}

struct State {
    /// Worker threads whose executor has not ended yet.
    alive: usize,
    /// Set by the first `begin`.
    drain: Option<Drain>,
}

struct Drain {
    timeout: Duration,
    deadline: Instant,
    /// Tasks the workers cancelled at the deadline, summed as they stop.
    cancelled_tasks: usize,
    /// Set once the workers and the blocking pool are done.
    result: Option<Result<(), ShutdownTimedOut>>,
    /// The tasks awaiting the result.
    waiters: Vec<Waker>,
}

impl Tracker {
    pub(super) fn new(workers: usize) -> Tracker {
        Tracker {
            state: Mutex::new(State {
                alive: workers,
                drain: None,
            }),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // Every critical section leaves the state consistent (and runs no
        // user code), so a poisoned lock is still good.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Starts the drain with `timeout`; returns the deadline to send the
    /// workers, or `None` if a drain started through a handle already (its
    /// deadline stands).
    pub(super) fn begin(&self, timeout: Duration, deadline: Instant) -> Option<Instant> {
        let mut state = self.lock();
        if state.drain.is_some() {
            return None;
        }
        // No worker left (the runtime was shut down already): nothing to
        // drain, and that shutdown reported its own result.
        let result = (state.alive == 0).then_some(Ok(()));
        state.drain = Some(Drain {
            timeout,
            deadline,
            cancelled_tasks: 0,
            result,
            waiters: Vec::new(),
        });
        Some(deadline)
    }

    /// Worker thread's executor has ended, cancelling `cancelled` tasks; the
    /// last one of a drain starts the blocking pool's drain.
    pub(super) fn worker_stopped(shared: &Arc<Shared>, cancelled: usize) {
        let mut state = shared.graceful.lock();
        state.alive -= 1;
        let last = state.alive == 0;
        let Some(drain) = state.drain.as_mut() else {
            return;
        };
        drain.cancelled_tasks += cancelled;
        if !last || drain.result.is_some() {
            return;
        }
        let (timeout, deadline, cancelled_tasks) =
            (drain.timeout, drain.deadline, drain.cancelled_tasks);
        drop(state);
        let finish = move |shared: Arc<Shared>| {
            let (cancelled_blocking, running_blocking) = shared.blocking.drain(deadline);
            let result = if cancelled_tasks + cancelled_blocking + running_blocking == 0 {
                Ok(())
            } else {
                Err(ShutdownTimedOut {
                    timeout,
                    cancelled_tasks,
                    cancelled_blocking,
                    running_blocking,
                })
            };
            shared.graceful.finish(result);
        };
        // On a thread of its own: the pool may wait for running jobs until
        // the deadline, and nothing but the futures awaiting the result
        // should wait on that (not this worker's join in `Runtime::drop`).
        let for_thread = shared.clone();
        let spawned = std::thread::Builder::new()
            .name("hearth-shutdown".into())
            .spawn(move || finish(for_thread));
        if spawned.is_err() {
            finish(shared.clone());
        }
    }

    fn finish(&self, result: Result<(), ShutdownTimedOut>) {
        let waiters = {
            let mut state = self.lock();
            let Some(drain) = state.drain.as_mut() else {
                return;
            };
            drain.result = Some(result);
            std::mem::take(&mut drain.waiters)
        };
        for waker in waiters {
            waker.wake();
        }
    }

    /// `Ready` with the drain's result once it is complete.
    pub(super) fn poll_done(&self, cx: &mut Context<'_>) -> Poll<Result<(), ShutdownTimedOut>> {
        let mut state = self.lock();
        let Some(drain) = state.drain.as_mut() else {
            return Poll::Ready(Ok(()));
        };
        if let Some(result) = &drain.result {
            return Poll::Ready(result.clone());
        }
        if !drain.waiters.iter().any(|w| w.will_wake(cx.waker())) {
            drain.waiters.push(cx.waker().clone());
        }
        Poll::Pending
    }
}
