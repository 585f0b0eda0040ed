//! A worker: one thread, one [`Executor`], and an inbox for work sent to it.
//!
//! The inbox is a [`hearth_sync::remote`] channel of [`Message`]s. Its
//! receiver lives in the worker's main future (the future of
//! `Executor::run_until`), so a send from any thread wakes the worker through
//! the executor's thread-safe path: the main future's `Waker` sets a flag and
//! unparks the thread. An idle worker sleeps in the executor's park.
//!
//! A [`Message::Run`] closure runs inside the main future, on the worker
//! thread, where it can `spawn_local`. [`Message::Stop`] ends the main future;
//! the worker then drops its inbox (queued messages are dropped there, their
//! handles yield cancelled) and its executor (every unfinished task's future is
//! dropped on this thread), and the thread exits.
//!
//! [`Message::Drain`] (the graceful shutdown) first fires the worker's
//! shutdown signal ([`super::shutdown_signal`]), then keeps serving: it runs
//! the closures still queued and waits until the executor has no task left or
//! the deadline passes. Only then does it stop as above; the thread's result
//! is the number of tasks that were still unfinished and got cancelled.
//!
//! [`Message::TaskCount`] answers with the executor's number of unfinished
//! tasks, from the main future (which is not a task), in either state.

use core::future::Future;
use core::pin::pin;
use core::task::Poll;
use std::cell::RefCell;
use std::sync::Arc;
use std::time::{Duration, Instant};

use hearth_sync::{remote, watch};

use super::join::Completion;
use super::Handle;
use crate::executor::metrics::Counters;
use crate::Executor;

/// Work sent to a worker.
pub(crate) enum Message {
    /// Run this closure on the worker thread.
    Run(Box<dyn FnOnce() + Send>),
    /// Stop serving: cancel every task and exit.
    Stop,
    /// Fire the shutdown signal, let the tasks finish until the deadline,
    /// then stop.
    Drain(Instant),
    /// Report the executor's number of unfinished tasks.
    TaskCount(Completion<usize>),
}

std::thread_local! {
    /// The runtime this thread belongs to, and its worker index (`None` on a
    /// thread inside `Runtime::block_on`).
    static CONTEXT: RefCell<Option<(Handle, Option<usize>)>> = const { RefCell::new(None) };

    /// On a worker thread: `true` once its graceful shutdown has begun.
    static SHUTDOWN: RefCell<Option<watch::Sender<bool>>> = const { RefCell::new(None) };
}

/// A receiver of this worker's shutdown flag, or `None` off the workers.
pub(crate) fn shutdown_receiver() -> Option<watch::Receiver<bool>> {
    SHUTDOWN
        .try_with(|s| s.borrow().as_ref().map(watch::Sender::subscribe))
        .ok()
        .flatten()
}

/// Makes `handle` (and `worker`) this thread's runtime context until dropped.
pub(crate) struct EnterContext {
    prev: Option<(Handle, Option<usize>)>,
}

impl EnterContext {
    pub(crate) fn new(handle: Handle, worker: Option<usize>) -> EnterContext {
        EnterContext {
            prev: CONTEXT.with(|c| c.replace(Some((handle, worker)))),
        }
    }
}

impl Drop for EnterContext {
    fn drop(&mut self) {
        let prev = self.prev.take();
        // The context may already be gone if the thread is exiting.
        let _ = CONTEXT.try_with(|c| c.replace(prev));
    }
}

/// The runtime handle of this thread, if it is a worker or inside
/// `Runtime::block_on`.
pub(crate) fn current_handle() -> Option<Handle> {
    CONTEXT
        .try_with(|c| c.borrow().as_ref().map(|(h, _)| h.clone()))
        .ok()
        .flatten()
}

/// This thread's worker index.
pub(crate) fn current_worker() -> Option<usize> {
    CONTEXT
        .try_with(|c| c.borrow().as_ref().and_then(|(_, w)| *w))
        .ok()
        .flatten()
}

/// The body of worker thread `index`; returns the number of tasks cancelled
/// when it stopped.
pub(crate) fn run(
    index: usize,
    handle: Handle,
    inbox: remote::Receiver<Message>,
    counters: Arc<Counters>,
    slow_poll: Option<Duration>,
    io_driver: crate::runtime::IoDriver,
) -> usize {
    let handle_for_tasks = handle.clone();
    let start_paused = handle.starts_paused();
    let _context = EnterContext::new(handle, Some(index));
    SHUTDOWN.with(|s| *s.borrow_mut() = Some(watch::channel(false).0));
    let executor = Executor::with_counters(counters, io_driver);
    executor.set_slow_poll_threshold(slow_poll);
    executor.set_runtime(handle_for_tasks, Some(index));
    if start_paused {
        executor.pause_clock();
    }
    executor.run_until(serve(&executor, inbox));
    let cancelled = executor.task_count();
    // Cancels what is left, dropping each future here, inside the context.
    drop(executor);
    SHUTDOWN.with(|s| s.borrow_mut().take());
    cancelled
}

/// The worker's main future: runs what arrives until told to stop.
async fn serve(executor: &Executor, mut inbox: remote::Receiver<Message>) {
    while let Some(message) = inbox.recv().await {
        match message {
            Message::Run(job) => run_job(job),
            Message::Stop => break,
            Message::Drain(deadline) => {
                drain(executor, &mut inbox, deadline).await;
                break;
            }
            Message::TaskCount(tx) => drop(tx.send(Ok(executor.task_count()))),
        }
        // A flood of sends must not starve the worker's tasks: `recv` stays
        // ready while the queue is not empty.
        crate::consume_budget().await;
    }
}

fn run_job(job: Box<dyn FnOnce() + Send>) {
    // A panicking closure must not take the worker down; the closures we
    // send report their own panics to their handles. (A payload whose own
    // drop panics is dropped safely too.)
    crate::executor::unwind::quietly(job);
}

/// The graceful part of a shutdown: signal the tasks, then serve until no
/// task is left or `deadline` passes.
async fn drain(executor: &Executor, inbox: &mut remote::Receiver<Message>, deadline: Instant) {
    SHUTDOWN.with(|s| {
        if let Some(flag) = s.borrow().as_ref() {
            flag.send_replace(true);
        }
    });
    let mut timer = pin!(crate::time::sleep_until(deadline.into()));
    core::future::poll_fn(|cx| {
        // Closures sent before the shutdown began still run: their handles
        // were handed out. (Spawns fail from the start of the shutdown; one
        // that raced it runs if it lands before this worker stops, and its
        // handle yields cancelled if it lands after.)
        let mut budget = 64;
        loop {
            match inbox.poll_recv(cx) {
                Poll::Ready(Some(Message::Run(job))) => run_job(job),
                Poll::Ready(Some(Message::Stop)) => return Poll::Ready(()),
                Poll::Ready(Some(Message::Drain(_))) => {}
                Poll::Ready(Some(Message::TaskCount(tx))) => {
                    drop(tx.send(Ok(executor.task_count())))
                }
                Poll::Ready(None) | Poll::Pending => break,
            }
            budget -= 1;
            if budget == 0 {
                // Let the tasks run; come back on the next turn.
                hearth_task::ContextExt::local_waker(cx).wake_by_ref();
                return Poll::Pending;
            }
        }
        if crate::executor::poll_no_tasks(cx).is_ready() || timer.as_mut().poll(cx).is_ready() {
            return Poll::Ready(());
        }
        Poll::Pending
    })
    .await
}
