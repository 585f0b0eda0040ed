//! `RemoteJoinHandle`: the output of a task on another thread.

use core::fmt;
use core::future::Future;
use core::pin::Pin;
use core::task::{Context, Poll};

use hearth_sync::remote;

use crate::executor::JoinError;

/// The sending half: the thread that runs the work sends its result here.
pub(crate) type Completion<T> = remote::UnboundedSender<Result<T, JoinError>>;

/// An owned permission to await the output of work that runs on another
/// thread: a task started with [`Handle::spawn_on`](super::Handle::spawn_on)
/// or a closure given to [`Handle::spawn_blocking`](super::Handle::spawn_blocking).
///
/// Unlike the executor's [`JoinHandle`](crate::JoinHandle) it is `Send` (the
/// output must be `Send`), so it can be awaited on any thread, from any
/// executor. The result arrives through the awaiting task's thread-safe
/// `Waker`.
///
/// Awaiting it yields `Ok(output)`, or a [`JoinError`] if the work panicked
/// ([`is_panic`](JoinError::is_panic)) or was dropped before it finished
/// ([`is_cancelled`](JoinError::is_cancelled)): its runtime shut down, or its
/// worker stopped before the work started. Dropping the handle detaches the
/// work: it keeps running and its output is dropped. Polling the handle again
/// after it returned `Ready` yields a cancelled `JoinError`.
///
/// # Examples
///
/// ```
/// let rt = hearth::Runtime::builder().workers(1).build().unwrap();
/// let handle = rt.spawn_on(0, || async { 6 * 7 }).unwrap();
/// // Awaited from the main thread's executor; the task ran on worker 0.
/// assert_eq!(rt.block_on(handle).unwrap(), 42);
/// ```
pub struct RemoteJoinHandle<T> {
    rx: remote::Receiver<Result<T, JoinError>>,
}

impl<T: Send> RemoteJoinHandle<T> {
    /// A handle and the sender its work completes through.
    pub(crate) fn new() -> (Completion<T>, RemoteJoinHandle<T>) {
        let (tx, rx) = remote::unbounded_channel();
        (tx, RemoteJoinHandle { rx })
    }
}

impl<T> Future for RemoteJoinHandle<T> {
    type Output = Result<T, JoinError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        // The sender is dropped without a send only when the work was dropped.
        self.rx
            .poll_recv(cx)
            .map(|r| r.unwrap_or_else(|| Err(JoinError::cancelled())))
    }
}

impl<T> fmt::Debug for RemoteJoinHandle<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RemoteJoinHandle")
            .field("ready", &!self.rx.is_empty())
            .finish()
    }
}
