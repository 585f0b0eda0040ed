//! hearth's executor hosted on a tokio runtime (feature `tokio-host`).
//!
//! Most services cannot leave tokio: their database driver, gRPC stack or
//! HTTP client calls `tokio::spawn`, `tokio::net` and `tokio::time` inside.
//! A [`LocalExecutor`] runs hearth's executor *as a tokio future*, on the
//! thread that polls it, the way tokio's `LocalSet` does:
//!
//! - hearth tasks get dual wakers: hearth-sync and hearth-future take their
//!   local paths (no atomic read-modify-write per wake), exactly as on
//!   hearth's own runtime;
//! - tokio works inside hearth tasks (`tokio::spawn`, `tokio::net`,
//!   `tokio::time`, `tokio::sync`), because tokio's runtime context is the
//!   thread's: hearth polls its tasks from inside a tokio poll;
//! - hearth's own timers and sockets work too: the hosted executor waits on
//!   tokio's reactor for hearth's epoll descriptor and on a tokio sleep for
//!   hearth's next timer. A hosted executor always uses the epoll driver
//!   ([`IoDriver::Epoll`](crate::runtime::IoDriver), whatever `Auto` or
//!   `HEARTH_DRIVER` would pick): an epoll descriptor turns readable as soon
//!   as a registered socket is, while io_uring's polls take effect only at
//!   hearth's next `io_uring_enter`, which a busy hosted turn does not make;
//! - when hearth has nothing to run it returns `Pending` to tokio; a wake of a
//!   hearth task (from this thread or any other) wakes the hosting tokio task.
//!   While hearth has work it yields to tokio every 256 polls, so neither
//!   side starves the other.
//!
//! Across the boundary: a hearth task can await tokio's `JoinHandle`s,
//! `tokio::sync` primitives and tokio sockets; a tokio task on the same
//! thread (`tokio::task::spawn_local`) can await a hearth
//! [`JoinHandle`] or a hearth-sync primitive; a tokio
//! task on another thread reaches hearth through thread-safe means
//! (`hearth_sync::remote` channels, or a hearth task's `Waker`).
//!
//! # When to host, when to run hearth's own runtime
//!
//! Host hearth in tokio when the program depends on tokio-only crates, or to
//! move one `!Send` subsystem at a time. Run hearth's [`Runtime`](crate::Runtime) when the
//! whole service is yours: hearth's workers park in their own `epoll_wait`
//! with no extra hop (the hosted executor's I/O goes through two epoll
//! levels: tokio's, then hearth's) and pin one worker per core.
//!
//! # Requirements
//!
//! The hosting tokio runtime needs its I/O and time drivers
//! (`enable_all()`). A [`LocalExecutor`] is `!Send`: drive it on one thread,
//! with `Runtime::block_on` (a `current_thread` runtime, or the calling thread
//! of a multi-thread one) or inside a `tokio::task::LocalSet`. For one hearth
//! executor per core, start one thread per core, each with a
//! `current_thread` tokio runtime and a `LocalExecutor`.
//!
//! # Example
//!
//! ```
//! use std::cell::Cell;
//! use std::rc::Rc;
//! use hearth::compat::tokio::LocalExecutor;
//!
//! let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
//! rt.block_on(async {
//!     let hearth = LocalExecutor::new().unwrap();
//!     let hits = Rc::new(Cell::new(0)); // !Send state in hearth tasks
//!     let (tx, rx) = hearth_sync::oneshot::channel();
//!     let h = hits.clone();
//!     hearth.spawn_local(async move {
//!         // tokio inside a hearth task: its timer and its spawn.
//!         tokio::time::sleep(std::time::Duration::from_millis(1)).await;
//!         let n = tokio::spawn(async { 41 }).await.unwrap();
//!         h.set(n + 1);
//!         tx.send(()).unwrap();
//!     });
//!     hearth.run_until(async { rx.await.unwrap() }).await;
//!     assert_eq!(hits.get(), 42);
//! });
//! ```
//!
//! # Teardown
//!
//! Dropping the [`LocalExecutor`] drops every hearth task on its thread (their
//! `JoinHandle`s yield a cancelled error); when it lives in a tokio task,
//! dropping the tokio runtime drops that task and so the executor with it.

use core::cell::Cell;
use core::fmt;
use core::future::Future;
use core::pin::{pin, Pin};
use core::task::{Context, Poll};
use std::io;
use std::os::fd::{AsRawFd, RawFd};
use std::rc::Rc;

use tokio::io::unix::AsyncFd;
use tokio::time::Sleep;

use crate::executor::host::Turn;
use crate::net::reactor::Reactor;
use crate::{Executor, JoinHandle};

/// hearth's epoll descriptor, as tokio's `AsyncFd` wants it. Holding the
/// reactor keeps the descriptor open for as long as the registration lives.
struct EpollFd(Rc<Reactor>);

impl AsRawFd for EpollFd {
    fn as_raw_fd(&self) -> RawFd {
        self.0.as_raw_fd()
    }
}

/// hearth's executor, hosted on the tokio runtime of the thread that polls it.
///
/// See the [module docs](self). Like tokio's `LocalSet`: spawn with
/// [`spawn_local`](Self::spawn_local), drive with
/// [`run_until`](Self::run_until) or [`run`](Self::run).
pub struct LocalExecutor {
    /// hearth's epoll descriptor, registered with tokio's reactor.
    io: AsyncFd<EpollFd>,
    /// A `run_until` is being driven (one at a time).
    driving: Cell<bool>,
    executor: Executor,
}

impl LocalExecutor {
    /// Creates a hosted executor on the calling thread.
    ///
    /// # Errors
    ///
    /// If no tokio runtime with an I/O driver is running on this thread (call
    /// it inside `Runtime::block_on` or a task of a runtime built with
    /// `enable_io()`/`enable_all()`), or if the epoll descriptor cannot be
    /// created.
    pub fn new() -> io::Result<LocalExecutor> {
        if tokio::runtime::Handle::try_current().is_err() {
            return Err(io::Error::other(
                "hearth::compat::tokio::LocalExecutor::new must be called inside a tokio runtime \
                 (in Runtime::block_on or a tokio task) with its I/O and time drivers enabled",
            ));
        }
        let executor = Executor::new();
        let reactor = EpollFd(executor.host_reactor()?);
        // SAFETY: `EpollFd` owns an `Rc` of the reactor, so the descriptor it
        // returns (always the same one: a reactor's `mio::Poll` never
        // changes) stays open for the whole life of the `AsyncFd`.
        let io = unsafe { AsyncFd::register_with_interest(reactor, tokio::io::Interest::READABLE) }
            .map_err(|e| {
                let e = e.into_parts().1;
                io::Error::new(
                    e.kind(),
                    format!(
                        "hearth::compat::tokio: cannot register with tokio's reactor ({e}); \
                         build the tokio runtime with enable_io() or enable_all()"
                    ),
                )
            })?;
        Ok(LocalExecutor {
            io,
            driving: Cell::new(false),
            executor,
        })
    }

    /// Spawns a hearth task; it runs while this executor is driven
    /// ([`run_until`](Self::run_until), [`run`](Self::run)). Inside a hearth
    /// task, [`crate::spawn_local`] spawns here as well.
    pub fn spawn_local<F>(&self, future: F) -> JoinHandle<F::Output>
    where
        F: Future + 'static,
        F::Output: 'static,
    {
        self.executor.spawn_local(future)
    }

    /// Runs hearth's tasks on this tokio thread until `future` completes, and
    /// returns its output. `future` runs as hearth's main future: inside it,
    /// [`crate::spawn_local`], hearth's timers and sockets work.
    ///
    /// # Panics
    ///
    /// If another `run_until` or `run` of this executor is being driven at the
    /// same time, or when called from inside one of its own tasks.
    pub async fn run_until<F: Future>(&self, future: F) -> F::Output {
        assert!(
            !self.driving.replace(true),
            "hearth::compat::tokio::LocalExecutor is already being driven by another run_until \
             or run; await one at a time, and spawn the rest with spawn_local"
        );
        struct Done<'a>(&'a Cell<bool>);
        impl Drop for Done<'_> {
            fn drop(&mut self) {
                self.0.set(false);
            }
        }
        let _done = Done(&self.driving);
        let mut future = pin!(future);
        let main = self.executor.host_main();
        let mut sleep: Option<Pin<Box<Sleep>>> = None;
        core::future::poll_fn(|cx| self.poll_turns(future.as_mut(), &main, &mut sleep, cx)).await
    }

    /// Runs hearth's tasks until none is left unfinished.
    pub async fn run(&self) {
        self.run_until(core::future::poll_fn(crate::executor::poll_no_tasks))
            .await
    }

    /// The hosted [`Executor`] (e.g. for [`Executor::task_count`]).
    pub fn executor(&self) -> &Executor {
        &self.executor
    }

    fn poll_turns<F: Future>(
        &self,
        mut future: Pin<&mut F>,
        main: &crate::executor::host::Main,
        sleep: &mut Option<Pin<Box<Sleep>>>,
        cx: &mut Context<'_>,
    ) -> Poll<F::Output> {
        loop {
            let timeout = match self.executor.host_turn(future.as_mut(), main, cx.waker()) {
                Turn::Ready(output) => return Poll::Ready(output),
                Turn::Yield => {
                    // Still busy (the task is woken already): take hearth's
                    // I/O events if tokio's reactor saw any. A busy turn
                    // looks only at timers (see `Driver::maintain`).
                    self.take_io_events(cx);
                    return Poll::Pending;
                }
                Turn::Idle(timeout) => timeout,
            };
            // hearth's I/O and remote wakes: its epoll descriptor is readable.
            let mut again = self.take_io_events(cx);
            // hearth's next timer: a tokio sleep until then.
            if let Some(timeout) = timeout {
                let deadline = tokio::time::Instant::now() + timeout;
                let s = sleep.get_or_insert_with(|| Box::pin(tokio::time::sleep_until(deadline)));
                if s.deadline() != deadline {
                    s.as_mut().reset(deadline);
                }
                if s.as_mut().poll(cx).is_ready() {
                    again = true;
                }
            }
            if !again {
                return Poll::Pending;
            }
        }
    }
}

impl LocalExecutor {
    /// If tokio's reactor saw hearth's epoll descriptor readable, takes the
    /// events (waking hearth's tasks); registers for the next edge otherwise.
    fn take_io_events(&self, cx: &mut Context<'_>) -> bool {
        match self.io.poll_read_ready(cx) {
            Poll::Pending => false,
            Poll::Ready(ready) => {
                match ready {
                    // Cleared before hearth's epoll_wait takes the events, so
                    // an event after the clear makes it readable again.
                    Ok(mut guard) => guard.clear_ready(),
                    Err(e) => panic!("hearth::compat::tokio: tokio's reactor failed: {e}"),
                }
                self.executor.host_poll_driver();
                true
            }
        }
    }
}

impl fmt::Debug for LocalExecutor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LocalExecutor")
            .field("executor", &self.executor)
            .finish()
    }
}
