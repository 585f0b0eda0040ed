//! `RemoteJoinHandle`: the output of a task on another thread.

use core::fmt;
use core::future::Future;
use core::pin::{pin, Pin};
use core::task::{Context, Poll, Waker};
use std::panic::{catch_unwind, AssertUnwindSafe};

use hearth_sync::remote;
use hearth_task::atomic::{AtomicBool, Ordering};

use crate::executor::JoinError;
use crate::sync_shim::{Arc, Mutex};

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
/// [`abort`](Self::abort) cancels the work from any thread.
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
    abort: Arc<AbortState>,
}

impl<T: Send> RemoteJoinHandle<T> {
    /// A handle, the sender its work completes through, and the abort state
    /// the work checks.
    pub(crate) fn new() -> (Completion<T>, Arc<AbortState>, RemoteJoinHandle<T>) {
        let (tx, rx) = remote::unbounded_channel();
        let abort = Arc::new(AbortState::new());
        (tx, abort.clone(), RemoteJoinHandle { rx, abort })
    }
}

impl<T> RemoteJoinHandle<T> {
    /// Cancels the work, from any thread; awaiting the handle then yields a
    /// cancelled [`JoinError`] (unless the work had already finished: then
    /// its output or panic stays).
    ///
    /// - A task started with [`spawn_on`](super::Handle::spawn_on) is
    ///   dropped on its worker, at its next turn there (or never started, if
    ///   its closure has not run yet).
    /// - A [`spawn_blocking`](super::Handle::spawn_blocking) closure that has
    ///   not started never runs. One that is running cannot be interrupted:
    ///   it finishes, and its output is dropped.
    ///
    /// ```
    /// let rt = hearth::Runtime::builder().workers(1).build().unwrap();
    /// let forever = rt.spawn_on(0, || std::future::pending::<()>()).unwrap();
    /// forever.abort();
    /// assert!(rt.block_on(forever).unwrap_err().is_cancelled());
    ///
    /// let done = rt.spawn_on(0, || async { 7 }).unwrap();
    /// std::thread::sleep(std::time::Duration::from_millis(50));
    /// done.abort(); // too late: it finished
    /// # // (a slow machine may not have run it yet; both outcomes are valid)
    /// # let _ = rt.block_on(done);
    /// ```
    pub fn abort(&self) {
        self.abort.abort();
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
            .field("aborted", &self.abort.is_aborted())
            .finish()
    }
}

/// An abort request, shared by a [`RemoteJoinHandle`] (any thread) and its
/// work (the worker or pool thread that runs it).
///
/// The protocol: `abort` sets the flag, then takes the registered waker under
/// the lock and wakes it. The work registers its waker under the lock, then
/// reads the flag. Either the work's read sees the flag, or the registration
/// came first and `abort` finds the waker; the lock orders the two. Checked by
/// a loom model (`tests` below).
pub(crate) struct AbortState {
    aborted: AtomicBool,
    /// The `Waker` of the task running the work; `None` before its first
    /// poll and after it finished.
    waker: Mutex<Option<Waker>>,
}

impl AbortState {
    fn new() -> AbortState {
        AbortState {
            aborted: AtomicBool::new(false),
            waker: Mutex::new(None),
        }
    }

    fn lock(&self) -> impl core::ops::DerefMut<Target = Option<Waker>> + '_ {
        // Nothing panics while holding the lock (a `Waker` clone might, and
        // leaves `None` or the old waker: still consistent).
        self.waker.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn abort(&self) {
        self.aborted.store(true, Ordering::Release);
        let waker = self.lock().take();
        // Outside the lock: the wake may run arbitrary code.
        if let Some(waker) = waker {
            waker.wake();
        }
    }

    pub(crate) fn is_aborted(&self) -> bool {
        self.aborted.load(Ordering::Acquire)
    }

    /// Registers the work's waker; `true` if the work is aborted (read after
    /// registering, so a later `abort` wakes it).
    fn register(&self, waker: &Waker) -> bool {
        *self.lock() = Some(waker.clone());
        self.is_aborted()
    }

    /// The work is done: forget its waker (it would keep the task's memory).
    fn unregister(&self) {
        drop(self.lock().take());
    }
}

/// Runs `future` (on the worker, as a task) and sends its output, its panic
/// or its cancellation to `tx`. One task per `spawn_on`.
///
/// An abort drops the future before the handle hears of it. A panic is
/// caught here (so its payload reaches the handle); the future is dropped
/// then too.
pub(crate) async fn run_remote<F: Future>(
    future: F,
    tx: Completion<F::Output>,
    abort: Arc<AbortState>,
) {
    let mut future = pin!(Some(future));
    let mut registered = false;
    let result = core::future::poll_fn(|cx| {
        let aborted = if registered {
            abort.is_aborted()
        } else {
            // The task's `Waker` identity never changes: register once.
            registered = true;
            abort.register(cx.waker())
        };
        if aborted {
            return Poll::Ready(Err(JoinError::cancelled()));
        }
        let Some(running) = future.as_mut().as_pin_mut() else {
            return Poll::Ready(Err(JoinError::cancelled()));
        };
        match catch_unwind(AssertUnwindSafe(|| running.poll(cx))) {
            Ok(Poll::Ready(output)) => Poll::Ready(Ok(output)),
            Ok(Poll::Pending) => Poll::Pending,
            Err(payload) => Poll::Ready(Err(JoinError::panic(payload))),
        }
    })
    .await;
    // A panic in the future's drop is discarded (as for a local task whose
    // output is ready): the handle still gets the result.
    crate::executor::unwind::quietly(|| future.set(None));
    abort.unregister();
    // The handle may be gone (detached): then the result just drops.
    let _ = tx.send(result);
}

#[cfg(all(test, loom))]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;
    use std::task::Wake;

    struct CountWakes(AtomicUsize);

    impl Wake for CountWakes {
        fn wake(self: std::sync::Arc<Self>) {
            self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        }
    }

    /// An abort from another thread racing the work's registration: the
    /// work either sees the flag when it registers, or is woken.
    #[test]
    fn abort_races_registration() {
        loom::model(|| {
            let state = Arc::new(AbortState::new());
            let wakes = std::sync::Arc::new(CountWakes(AtomicUsize::new(0)));
            let waker = Waker::from(wakes.clone());
            let remote = state.clone();
            let th = loom::thread::spawn(move || remote.abort());
            let saw = state.register(&waker);
            th.join().unwrap();
            let woken = wakes.0.load(std::sync::atomic::Ordering::SeqCst) > 0;
            assert!(saw || woken, "abort lost: neither seen nor woken");
        });
    }
}
