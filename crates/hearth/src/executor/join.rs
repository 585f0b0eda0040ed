//! `JoinHandle` and `JoinError`.

use core::any::Any;
use core::fmt;
use core::future::Future;
use core::marker::PhantomData;
use core::pin::Pin;
use core::task::{Context, Poll};

use super::coop;
use super::task::{TaskRef, COMPLETE};

/// An owned permission to await a spawned task's output.
///
/// Awaiting it yields `Ok(output)`, or a [`JoinError`] if the task panicked or
/// was aborted. Dropping it detaches the task: it keeps running and its output
/// is dropped when it finishes.
///
/// Unlike tokio's, hearth's `JoinHandle` is `!Send`: tasks never leave their
/// thread, and the handle is a local reference to the task (no atomics).
///
/// # Examples
///
/// ```
/// let out = hearth::block_on(async {
///     let handle = hearth::spawn_local(async { 6 * 7 });
///     handle.await.unwrap()
/// });
/// assert_eq!(out, 42);
/// ```
pub struct JoinHandle<T> {
    task: TaskRef,
    _output: PhantomData<T>,
}

impl<T> JoinHandle<T> {
    pub(crate) fn new(task: TaskRef) -> Self {
        JoinHandle {
            task,
            _output: PhantomData,
        }
    }

    /// Aborts the task.
    ///
    /// The future is dropped the next time the executor gets to the task
    /// (right away if it is idle), and awaiting the handle yields a
    /// [`JoinError`] for which [`is_cancelled`](JoinError::is_cancelled) is
    /// true, unless the task finished first. Aborting a finished task does
    /// nothing.
    ///
    /// ```
    /// hearth::block_on(async {
    ///     let handle = hearth::spawn_local(std::future::pending::<()>());
    ///     handle.abort();
    ///     assert!(handle.await.unwrap_err().is_cancelled());
    /// });
    /// ```
    pub fn abort(&self) {
        self.task.abort();
    }

    /// Returns `true` if the task has finished (completed, panicked or was
    /// aborted and dropped).
    pub fn is_finished(&self) -> bool {
        self.task.state() & COMPLETE != 0
    }

    /// An [`AbortHandle`] for the task: it can abort it without awaiting it.
    ///
    /// ```
    /// hearth::block_on(async {
    ///     let handle = hearth::spawn_local(std::future::pending::<()>());
    ///     handle.abort_handle().abort();
    ///     assert!(handle.await.unwrap_err().is_cancelled());
    /// });
    /// ```
    pub fn abort_handle(&self) -> AbortHandle {
        AbortHandle {
            task: self.task.clone(),
        }
    }

    /// The output, if the task has finished and it was not taken yet.
    pub(crate) fn try_take_output(&mut self) -> Option<Result<T, JoinError>> {
        // SAFETY: `T` is the task's output type (see `spawn_local`).
        unsafe { self.task.take_output::<T>() }
    }

    /// Sets the waker woken when the task finishes (see
    /// `TaskRef::set_join_waiter`).
    pub(crate) fn set_join_waiter(&self, waker: &hearth_task::LocalWaker) {
        self.task.set_join_waiter(waker);
    }
}

/// Aborts a task without awaiting it, as tokio's `AbortHandle`.
///
/// Unlike a [`JoinHandle`], dropping it does nothing to the task. It is
/// `!Send` (a local reference to the task, like `JoinHandle`).
///
/// ```
/// hearth::block_on(async {
///     let handle = hearth::spawn_local(std::future::pending::<()>());
///     let abort = handle.abort_handle();
///     assert!(!abort.is_finished());
///     abort.abort();
///     assert!(handle.await.unwrap_err().is_cancelled());
///     assert!(abort.is_finished());
/// });
/// ```
pub struct AbortHandle {
    task: TaskRef,
}

impl AbortHandle {
    /// Aborts the task, as [`JoinHandle::abort`].
    pub fn abort(&self) {
        self.task.abort();
    }

    /// Returns `true` if the task has finished (completed, panicked or was
    /// aborted and dropped).
    pub fn is_finished(&self) -> bool {
        self.task.state() & COMPLETE != 0
    }
}

impl fmt::Debug for AbortHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AbortHandle")
            .field("finished", &self.is_finished())
            .finish()
    }
}

// The handle holds no `T` (the output lives in the task), so it may move
// after being polled whatever `T` is, as tokio's (`impl<T> Unpin for
// JoinHandle<T>`).
impl<T> Unpin for JoinHandle<T> {}

impl<T> Future for JoinHandle<T> {
    type Output = Result<T, JoinError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let progress = core::task::ready!(coop::poll_proceed(cx));
        // SAFETY: `T` is the task's output type (see `spawn_local`).
        match unsafe { self.task.poll_output::<T>(cx) } {
            Poll::Pending => Poll::Pending,
            Poll::Ready(Some(result)) => {
                progress.made_progress();
                Poll::Ready(result)
            }
            Poll::Ready(None) => panic!("JoinHandle polled after it returned Poll::Ready"),
        }
    }
}

impl<T> Drop for JoinHandle<T> {
    fn drop(&mut self) {
        self.task.detach();
    }
}

impl<T> fmt::Debug for JoinHandle<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JoinHandle")
            .field("finished", &self.is_finished())
            .finish()
    }
}

/// Why a task did not produce its output.
pub struct JoinError {
    /// `None`: cancelled. One pointer, so that `Result<T, JoinError>` (which
    /// every task holds until its output is taken) stays small; the extra
    /// box costs only when a task panics.
    panic: Option<Box<Payload>>,
}

/// A task's panic payload.
struct Payload(Box<dyn Any + Send + 'static>);

impl JoinError {
    pub(crate) fn cancelled() -> Self {
        JoinError { panic: None }
    }

    pub(crate) fn panic(payload: Box<dyn Any + Send + 'static>) -> Self {
        JoinError {
            panic: Some(Box::new(Payload(payload))),
        }
    }

    /// Returns `true` if the task was aborted (or dropped with its executor).
    pub fn is_cancelled(&self) -> bool {
        self.panic.is_none()
    }

    /// Returns `true` if the task panicked.
    pub fn is_panic(&self) -> bool {
        self.panic.is_some()
    }

    /// The panic payload, if the task panicked; otherwise gives the error back.
    ///
    /// ```
    /// hearth::block_on(async {
    ///     let err = hearth::spawn_local(async { panic!("boom") }).await.unwrap_err();
    ///     let payload = err.try_into_panic().unwrap();
    ///     assert_eq!(*payload.downcast_ref::<&str>().unwrap(), "boom");
    /// });
    /// ```
    pub fn try_into_panic(self) -> Result<Box<dyn Any + Send + 'static>, JoinError> {
        match self.panic {
            Some(payload) => Ok(payload.0),
            None => Err(self),
        }
    }

    /// The panic payload.
    ///
    /// # Panics
    ///
    /// If the task was cancelled rather than panicked (check with
    /// [`is_panic`](Self::is_panic), or use [`try_into_panic`](Self::try_into_panic)).
    pub fn into_panic(self) -> Box<dyn Any + Send + 'static> {
        self.try_into_panic()
            .expect("JoinError::into_panic called on a cancelled task's error")
    }

    fn panic_message(&self) -> Option<&str> {
        let p = &self.panic.as_ref()?.0;
        p.downcast_ref::<&str>()
            .copied()
            .or_else(|| p.downcast_ref::<String>().map(String::as_str))
    }
}

impl fmt::Display for JoinError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.is_panic(), self.panic_message()) {
            (false, _) => f.write_str("task was cancelled"),
            (true, Some(msg)) => write!(f, "task panicked with message {msg:?}"),
            (true, None) => f.write_str("task panicked"),
        }
    }
}

impl fmt::Debug for JoinError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.is_panic(), self.panic_message()) {
            (false, _) => f.write_str("JoinError::Cancelled"),
            (true, Some(msg)) => write!(f, "JoinError::Panic({msg:?})"),
            (true, None) => f.write_str("JoinError::Panic(..)"),
        }
    }
}

impl std::error::Error for JoinError {}
