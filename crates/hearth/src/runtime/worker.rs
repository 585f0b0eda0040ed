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

use std::cell::RefCell;
use std::panic::{catch_unwind, AssertUnwindSafe};

use hearth_sync::remote;

use super::Handle;
use crate::Executor;

/// Work sent to a worker.
pub(crate) enum Message {
    /// Run this closure on the worker thread.
    Run(Box<dyn FnOnce() + Send>),
    /// Stop serving: cancel every task and exit.
    Stop,
}

std::thread_local! {
    /// The runtime this thread belongs to, and its worker index (`None` on a
    /// thread inside `Runtime::block_on`).
    static CONTEXT: RefCell<Option<(Handle, Option<usize>)>> = const { RefCell::new(None) };
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

/// The body of worker thread `index`.
pub(crate) fn run(index: usize, handle: Handle, inbox: remote::Receiver<Message>) {
    let _context = EnterContext::new(handle, Some(index));
    let executor = Executor::new();
    executor.run_until(serve(inbox));
    // Cancels what is left, dropping each future here, inside the context.
    drop(executor);
}

/// The worker's main future: runs what arrives until told to stop.
async fn serve(mut inbox: remote::Receiver<Message>) {
    while let Some(message) = inbox.recv().await {
        match message {
            // A panicking closure must not take the worker down; the closures
            // we send report their own panics to their handles.
            Message::Run(job) => drop(catch_unwind(AssertUnwindSafe(job))),
            Message::Stop => break,
        }
        // A flood of sends must not starve the worker's tasks: `recv` stays
        // ready while the queue is not empty.
        crate::consume_budget().await;
    }
}
