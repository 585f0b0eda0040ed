//! The multi-core runtime: one worker thread per core, each with its own
//! [`Executor`](crate::Executor).
//!
//! Tasks never move between workers. Work reaches a worker as a `Send`
//! closure ([`Handle::spawn_on`]) that runs *on* the worker and returns the
//! future to spawn there, so the future itself may be `!Send` (hold `Rc`s,
//! `RefCell`s, local sockets). A server binds one listener per worker
//! (`SO_REUSEPORT`) with [`Handle::serve_on_all`].
//!
//! # How work travels
//!
//! Each worker's main future owns the receiving end of a cross-thread channel
//! ([`hearth_sync::remote`]). A sender pushes onto its lock-free queue and
//! wakes the worker through the executor's thread-safe `Waker` path (a flag
//! and an unpark); an idle worker sleeps in the executor's park. The closure
//! runs on the worker, spawns the future with
//! [`spawn_local`](crate::spawn_local), and the output comes back through a
//! [`RemoteJoinHandle`], whose awaiting task is woken with its own
//! thread-safe `Waker`. [`Handle::spawn_blocking`] works the same way with a
//! small pool of threads for blocking calls.
//!
//! # What is bounded, and what is not
//!
//! - **A worker's inbox is unbounded**, by design: `spawn_on` never waits
//!   and never fails for want of room (a worker that sends to itself, or two
//!   that send to each other, cannot deadlock on a full queue). A producer
//!   faster than its worker grows the inbox by one boxed closure per send
//!   (about 900 bytes a `spawn_on` with its handle, measured in
//!   `tests/memory.rs`), and the memory comes back as the worker drains it.
//!   The bound is yours to set: cap the work in flight, e.g. with a
//!   [`hearth_sync::Semaphore`] whose permit each spawned task holds (see
//!   [`Handle::spawn_on`]).
//! - **The blocking pool caps its threads**
//!   ([`Builder::max_blocking_threads`], 16 by default); jobs beyond them
//!   wait in an unbounded queue (about 1.8 KiB a job with its handle), which
//!   shrinks back once drained. Cap the jobs in flight the same way. A job
//!   that waits on the async side is fine (the workers are not the pool's
//!   threads), but a cycle is not: if every pool thread waits on a task that
//!   itself awaits a job queued behind them, nothing moves. Keep such chains
//!   off the pool or give it more threads.
//! - **[`hearth_sync::remote`]** has both: `remote::channel(capacity)`
//!   makes senders wait when it is full, `remote::unbounded_channel` never
//!   does.
//! - **Timers** cost memory only while they are pending: after a burst the
//!   timer wheel gives back all but a small reserve (see [`crate::time`]).
//!
//! # `block_on` runs on the caller
//!
//! [`Runtime::block_on`] runs its future on the calling thread, on an executor
//! of its own, like tokio's: the workers stay free for the work sent to them,
//! and the future may borrow from the caller's stack. Inside it,
//! [`Handle::current`] is the runtime (and [`current_worker`] is `None`).
//!
//! # Shutdown: cancel now, or drain first
//!
//! [`Runtime::shutdown`] (or dropping the [`Runtime`]) cancels, like
//! tokio's: it makes every later spawn fail with [`SpawnError::ShutDown`],
//! asks every worker to stop, and joins the worker threads. A stopping worker
//! drops the work still queued for it and then every unfinished task: each
//! future is dropped **on its own worker thread**, and its handle yields a
//! cancelled [`JoinError`]. Blocking jobs that have not started are dropped
//! too; running ones are not interrupted or waited for (see
//! [`Handle::spawn_blocking`]).
//!
//! [`Runtime::shutdown_graceful`] drains first. Spawns fail from its start
//! (`spawn_local` inside the workers still works), and every worker's
//! [`shutdown_signal`] fires: an accept loop awaits it beside `accept` and
//! stops taking connections, while the connections it already has run to
//! their end. Each worker keeps serving until it has no task left, then
//! stops; the blocking pool then runs its queued jobs and waits for its
//! threads. Whatever is still unfinished at the deadline is cancelled as
//! above, and the call reports it as a [`ShutdownTimedOut`] error.
//!
//! Code that has only a [`Handle`] (the body of `#[hearth::main]`) drains
//! the same way with [`Handle::shutdown_graceful`], a future that completes
//! once the workers and the blocking pool are done.
//!
//! A task that panics does not take its worker down: the executor catches
//! the panic and gives it to the task's handle, and the worker goes on
//! serving.
//!
//! # Examples
//!
//! ```
//! use std::rc::Rc;
//!
//! let rt = hearth::Runtime::builder().workers(2).build()?;
//! let handles: Vec<_> = (0..rt.workers())
//!     .map(|w| {
//!         rt.spawn_on(w, move || {
//!             let local = Rc::new(w); // !Send state lives on the worker
//!             async move { *local * 10 + hearth::runtime::current_worker().unwrap() }
//!         })
//!     })
//!     .collect::<Result<_, _>>()?;
//! let outputs: Vec<usize> = rt.block_on(async {
//!     let mut out = Vec::new();
//!     for h in handles {
//!         out.push(h.await.unwrap());
//!     }
//!     out
//! });
//! assert_eq!(outputs, [0, 11]);
//! rt.shutdown();
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod affinity;
mod blocking;
mod graceful;
mod join;
mod listen;
mod metrics;
mod worker;

use core::fmt;
use core::future::Future;
use std::io;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use hearth_sync::remote;

pub use crate::driver::{IoDriver, DRIVER_ENV};
pub use join::RemoteJoinHandle;
pub use listen::{Server, ServerBuilder};
pub use metrics::RuntimeMetrics;

use crate::executor::JoinError;
use worker::Message;

/// The handle of a closure running on the blocking pool
/// ([`Handle::spawn_blocking`]): the same type as a [`RemoteJoinHandle`].
///
/// ```
/// let rt = hearth::Runtime::builder().workers(1).build().unwrap();
/// let h: hearth::runtime::BlockingHandle<u64> = rt.spawn_blocking(|| 2 + 2);
/// assert_eq!(rt.block_on(h).unwrap(), 4);
/// ```
pub type BlockingHandle<T> = RemoteJoinHandle<T>;

/// The index of the worker running the calling thread, or `None` outside the
/// runtime's workers (including inside [`Runtime::block_on`]).
///
/// Workers are numbered `0..runtime.workers()`.
///
/// # Examples
///
/// ```
/// assert_eq!(hearth::runtime::current_worker(), None);
/// let rt = hearth::Runtime::builder().workers(2).build().unwrap();
/// let on_1 = rt.spawn_on(1, || async { hearth::runtime::current_worker() }).unwrap();
/// assert_eq!(rt.block_on(on_1).unwrap(), Some(1));
/// ```
pub fn current_worker() -> Option<usize> {
    worker::current_worker()
}

/// Runs `f` on the current runtime's blocking pool; see
/// [`Handle::spawn_blocking`].
///
/// # Panics
///
/// If the calling thread is not a worker and not inside
/// [`Runtime::block_on`] (there is no current runtime); use
/// [`Handle::spawn_blocking`] there.
///
/// # Examples
///
/// ```
/// let rt = hearth::Runtime::builder().workers(1).build().unwrap();
/// let sum = rt.block_on(async {
///     hearth::runtime::spawn_blocking(|| (1..=10).sum::<u32>()).await.unwrap()
/// });
/// assert_eq!(sum, 55);
/// ```
pub fn spawn_blocking<F, R>(f: F) -> BlockingHandle<R>
where
    F: FnOnce() -> R + Send + 'static,
    R: Send + 'static,
{
    Handle::current().spawn_blocking(f)
}

/// Runs `f` on the current runtime's blocking pool or, on a thread with no
/// runtime (plain [`crate::block_on`], a bare [`crate::Executor`]), on a
/// process-wide pool with [`Builder`]'s defaults (16 threads, 10 s keep-alive)
/// that lives until the process exits. What `fs` and `net::lookup_host` use.
pub(crate) fn spawn_blocking_anywhere<F, R>(f: F) -> BlockingHandle<R>
where
    F: FnOnce() -> R + Send + 'static,
    R: Send + 'static,
{
    static FALLBACK: std::sync::OnceLock<Arc<blocking::Pool>> = std::sync::OnceLock::new();
    match Handle::try_current() {
        Some(handle) => handle.spawn_blocking(f),
        None => FALLBACK
            .get_or_init(|| {
                let defaults = Builder::new();
                blocking::Pool::new(defaults.max_blocking_threads, defaults.blocking_keep_alive)
            })
            .spawn(f),
    }
}

/// Runs the blocking I/O call `f` with [`spawn_blocking_anywhere`] and waits
/// for it. A job the runtime's shutdown cancelled is an `Other` error that
/// says so; a panic in `f` resumes in the caller.
pub(crate) async fn run_blocking<F, T>(f: F) -> io::Result<T>
where
    F: FnOnce() -> io::Result<T> + Send + 'static,
    T: Send + 'static,
{
    blocking_result(spawn_blocking_anywhere(f).await)
}

/// The result of a blocking I/O job, its [`JoinError`] turned into an
/// `io::Error` (cancelled) or a resumed panic; see [`run_blocking`].
pub(crate) fn blocking_result<T>(result: Result<io::Result<T>, JoinError>) -> io::Result<T> {
    match result {
        Ok(result) => result,
        Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
        Err(_) => Err(io::Error::other(
            "the blocking operation was cancelled: the runtime's blocking pool is shutting down \
             (or could not start a thread)",
        )),
    }
}

/// Why work could not be sent to a worker.
///
/// ```
/// use hearth::runtime::SpawnError;
///
/// let rt = hearth::Runtime::builder().workers(2).build().unwrap();
/// let err = rt.spawn_on(5, || async {}).unwrap_err();
/// assert_eq!(err, SpawnError::NoSuchWorker { worker: 5, workers: 2 });
/// assert_eq!(err.to_string(), "no worker 5: the runtime has 2 workers (0..2)");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SpawnError {
    /// The worker index is not below the number of workers.
    NoSuchWorker {
        /// The index asked for.
        worker: usize,
        /// The runtime's number of workers.
        workers: usize,
    },
    /// The runtime is shutting down or has shut down.
    ShutDown,
}

impl fmt::Display for SpawnError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SpawnError::NoSuchWorker { worker, workers } => write!(
                f,
                "no worker {worker}: the runtime has {workers} workers (0..{workers})"
            ),
            SpawnError::ShutDown => f.write_str("the runtime has shut down"),
        }
    }
}

impl std::error::Error for SpawnError {}

/// A graceful shutdown ([`Runtime::shutdown_graceful`]) reached its deadline
/// with work unfinished, and cancelled it.
///
/// ```
/// use std::time::Duration;
///
/// let rt = hearth::Runtime::builder().workers(1).build().unwrap();
/// rt.spawn_on(0, || std::future::pending::<()>()).unwrap();
/// let err = rt.shutdown_graceful(Duration::from_millis(10)).unwrap_err();
/// assert_eq!(
///     err.to_string(),
///     "hearth::Runtime: graceful shutdown timed out after 10ms: 1 unfinished task cancelled, \
///      0 queued blocking jobs cancelled, 0 blocking jobs still running"
/// );
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ShutdownTimedOut {
    timeout: Duration,
    cancelled_tasks: usize,
    cancelled_blocking: usize,
    running_blocking: usize,
}

impl ShutdownTimedOut {
    /// Tasks still unfinished at the deadline, cancelled on their workers
    /// (their handles yield a cancelled [`JoinError`]).
    pub fn cancelled_tasks(&self) -> usize {
        self.cancelled_tasks
    }

    /// Blocking jobs that had not started by the deadline, cancelled.
    pub fn cancelled_blocking_jobs(&self) -> usize {
        self.cancelled_blocking
    }

    /// Blocking jobs still running at the deadline: they cannot be
    /// interrupted, so they finish on their own threads, unwaited.
    pub fn running_blocking_jobs(&self) -> usize {
        self.running_blocking
    }
}

impl fmt::Display for ShutdownTimedOut {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let plural = |n: usize| if n == 1 { "" } else { "s" };
        write!(
            f,
            "hearth::Runtime: graceful shutdown timed out after {:?}: {} unfinished task{} \
             cancelled, {} queued blocking job{} cancelled, {} blocking job{} still running",
            self.timeout,
            self.cancelled_tasks,
            plural(self.cancelled_tasks),
            self.cancelled_blocking,
            plural(self.cancelled_blocking),
            self.running_blocking,
            plural(self.running_blocking),
        )
    }
}

impl std::error::Error for ShutdownTimedOut {}

/// Completes when the graceful shutdown of the runtime of the calling
/// worker begins ([`Runtime::shutdown_graceful`]); at once if it has begun.
///
/// Await it beside `accept` (or any source of new work) to stop taking work
/// and let the work in hand finish. Off the runtime's workers (for example
/// inside [`Runtime::block_on`]), it never completes: there, await
/// [`Handle::shutdown_graceful`] instead. A plain
/// [`shutdown`](Runtime::shutdown) does not fire it: it cancels the tasks
/// instead.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use hearth::runtime::shutdown_signal;
///
/// let rt = hearth::Runtime::builder().workers(1).build().unwrap();
/// let waiter = rt.spawn_on(0, || async {
///     shutdown_signal().await;
///     "told to stop"
/// }).unwrap();
/// rt.shutdown_graceful(Duration::from_secs(10)).unwrap();
/// assert_eq!(hearth::block_on(waiter).unwrap(), "told to stop");
/// ```
pub fn shutdown_signal() -> ShutdownSignal {
    let receiver = worker::shutdown_receiver();
    ShutdownSignal {
        wait: Box::pin(async move {
            match receiver {
                // Err: the worker is stopping (its sender is gone): also fire.
                Some(mut rx) => drop(rx.wait_for(|&draining| draining).await),
                None => core::future::pending().await,
            }
        }),
    }
}

/// `true` on a worker whose runtime has begun a graceful shutdown
/// ([`shutdown_signal`] has fired); `false` anywhere else.
///
/// ```
/// let rt = hearth::Runtime::builder().workers(1).build().unwrap();
/// let now = rt.spawn_on(0, || async { hearth::runtime::is_shutting_down() }).unwrap();
/// assert!(!rt.block_on(now).unwrap());
/// ```
pub fn is_shutting_down() -> bool {
    worker::shutdown_receiver().is_some_and(|rx| *rx.borrow())
}

/// The future of [`shutdown_signal`]. `!Send`: it belongs to its worker.
#[must_use = "futures do nothing unless awaited"]
pub struct ShutdownSignal {
    wait: core::pin::Pin<Box<dyn Future<Output = ()>>>,
}

impl Future for ShutdownSignal {
    type Output = ();

    fn poll(
        mut self: core::pin::Pin<&mut Self>,
        cx: &mut core::task::Context<'_>,
    ) -> core::task::Poll<()> {
        self.wait.as_mut().poll(cx)
    }
}

impl fmt::Debug for ShutdownSignal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ShutdownSignal").finish_non_exhaustive()
    }
}

/// Configures and starts a [`Runtime`].
///
/// # Examples
///
/// ```
/// use std::time::Duration;
///
/// let rt = hearth::Runtime::builder()
///     .workers(2)
///     .pin_to_cores(false)
///     .max_blocking_threads(4)
///     .blocking_keep_alive(Duration::from_secs(1))
///     .build()?;
/// assert_eq!(rt.workers(), 2);
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct Builder {
    workers: Option<usize>,
    pin_to_cores: bool,
    max_blocking_threads: usize,
    blocking_keep_alive: Duration,
    slow_poll_threshold: Option<Duration>,
    /// Every executor of the runtime starts with its clock paused.
    start_paused: bool,
    io_driver: IoDriver,
}

impl Builder {
    /// A builder with the defaults: one worker per CPU this process may use,
    /// no pinning, at most 16 blocking threads kept for 10 s when idle.
    ///
    /// ```
    /// let rt = hearth::runtime::Builder::new().build().unwrap();
    /// assert_eq!(rt.workers(), std::thread::available_parallelism().unwrap().get());
    /// ```
    pub fn new() -> Builder {
        Builder {
            workers: None,
            pin_to_cores: false,
            max_blocking_threads: 16,
            blocking_keep_alive: Duration::from_secs(10),
            slow_poll_threshold: None,
            start_paused: false,
            io_driver: IoDriver::Auto,
        }
    }

    /// The number of worker threads (at least 1; [`build`](Self::build)
    /// fails on 0). Default: [`std::thread::available_parallelism`].
    ///
    /// ```
    /// let rt = hearth::Runtime::builder().workers(3).build().unwrap();
    /// assert_eq!(rt.workers(), 3);
    /// assert!(hearth::Runtime::builder().workers(0).build().is_err());
    /// ```
    pub fn workers(&mut self, n: usize) -> &mut Builder {
        self.workers = Some(n);
        self
    }

    /// Pins worker `i` to the `i`-th CPU this process may run on. Default:
    /// `false` (pinning helps a machine dedicated to the server and hurts a
    /// shared one).
    ///
    /// [`build`](Self::build) fails if the workers cannot all be pinned: more
    /// workers than CPUs, or the system refuses. It does not fall back to
    /// unpinned workers silently.
    ///
    /// ```
    /// let rt = hearth::Runtime::builder().workers(1).pin_to_cores(true).build()?;
    /// let on_0 = rt.spawn_on(0, || async { hearth::runtime::current_worker() })?;
    /// assert_eq!(rt.block_on(on_0).unwrap(), Some(0));
    ///
    /// let too_many = hearth::Runtime::builder().workers(100_000).pin_to_cores(true).build();
    /// assert!(too_many.unwrap_err().to_string().contains("pin_to_cores(true)"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn pin_to_cores(&mut self, pin: bool) -> &mut Builder {
        self.pin_to_cores = pin;
        self
    }

    /// The most threads the blocking pool runs at once (at least 1); more
    /// blocking jobs wait for a free thread. Default: 16.
    ///
    /// ```
    /// let rt = hearth::Runtime::builder().workers(1).max_blocking_threads(1).build().unwrap();
    /// let a = rt.spawn_blocking(|| std::thread::current().id());
    /// let b = rt.spawn_blocking(|| std::thread::current().id());
    /// // One thread, so both ran on it, one after the other.
    /// assert_eq!(rt.block_on(a).unwrap(), rt.block_on(b).unwrap());
    /// ```
    pub fn max_blocking_threads(&mut self, n: usize) -> &mut Builder {
        self.max_blocking_threads = n;
        self
    }

    /// How long an idle blocking thread waits for a job before it exits.
    /// Default: 10 s.
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let rt = hearth::Runtime::builder()
    ///     .workers(1)
    ///     .blocking_keep_alive(Duration::from_millis(100))
    ///     .build()
    ///     .unwrap();
    /// assert_eq!(rt.block_on(rt.spawn_blocking(|| 1)).unwrap(), 1);
    /// ```
    pub fn blocking_keep_alive(&mut self, keep_alive: Duration) -> &mut Builder {
        self.blocking_keep_alive = keep_alive;
        self
    }

    /// Times every task poll on the workers and counts a poll longer than
    /// `threshold` as slow: [`ExecutorMetrics::slow_polls`](crate::ExecutorMetrics::slow_polls)
    /// in [`Handle::metrics`], and with the `tracing` feature a `WARN` event
    /// (target `hearth::task`) inside the task's span. Default: off (polls
    /// are not timed; timing costs two clock reads per poll).
    ///
    /// A slow poll stalls every other task of its worker: look for blocking
    /// calls or long computations in that task, and move them to
    /// [`Handle::spawn_blocking`]. tokio has no such setting.
    ///
    /// ```
    /// # if cfg!(miri) { return Ok(()); } // Miri's clock runs with the interpreter: every poll is slow
    /// use std::time::Duration;
    ///
    /// let rt = hearth::Runtime::builder()
    ///     .workers(1)
    ///     .slow_poll_threshold(Duration::from_millis(5))
    ///     .build()?;
    /// let blocking = rt.spawn_on(0, || async {
    ///     // Blocks the worker: a slow poll.
    ///     hearth::spawn_local(async { std::thread::sleep(Duration::from_millis(10)) }).await
    /// })?;
    /// rt.block_on(blocking).unwrap()?; // counted before the awaiting task ran on
    /// assert_eq!(rt.metrics().worker(0).unwrap().slow_polls, 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn slow_poll_threshold(&mut self, threshold: Duration) -> &mut Builder {
        self.slow_poll_threshold = Some(threshold);
        self
    }

    /// Starts every executor of the runtime (each worker's, and the one
    /// [`Runtime::block_on`] runs on) with its clock paused, as if each had
    /// called [`time::pause`](crate::time::pause) first (feature
    /// `test-util`; `#[hearth::test(start_paused = true)]` sets it). Each
    /// clock then advances on its own; see `pause`'s notes on several
    /// workers.
    ///
    /// ```
    /// use hearth::time::{sleep, Duration, Instant};
    ///
    /// let rt = hearth::Runtime::builder().workers(1).start_paused(true).build()?;
    /// let waited = rt.block_on(async {
    ///     let start = Instant::now();
    ///     sleep(Duration::from_secs(60)).await; // auto-advances at once
    ///     start.elapsed()
    /// });
    /// assert_eq!(waited, Duration::from_secs(60));
    /// # Ok::<(), std::io::Error>(())
    /// ```
    #[cfg(feature = "test-util")]
    #[cfg_attr(docsrs, doc(cfg(feature = "test-util")))]
    pub fn start_paused(&mut self, paused: bool) -> &mut Builder {
        self.start_paused = paused;
        self
    }

    /// The I/O driver of every worker's reactor (and of
    /// [`Runtime::block_on`]'s executor). Default: [`IoDriver::Auto`]
    /// (`HEARTH_DRIVER` if set, else io_uring where the kernel allows it,
    /// else epoll). [`build`](Self::build) resolves it and fails if io_uring
    /// is asked for where it is not available.
    ///
    /// ```
    /// use hearth::runtime::IoDriver;
    ///
    /// let rt = hearth::Runtime::builder().workers(1).io_driver(IoDriver::Epoll).build()?;
    /// assert_eq!(rt.io_driver(), IoDriver::Epoll);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn io_driver(&mut self, driver: IoDriver) -> &mut Builder {
        self.io_driver = driver;
        self
    }

    /// Starts the runtime: one thread per worker, each serving its own
    /// executor (pinned first, if asked), and an empty blocking pool.
    ///
    /// # Errors
    ///
    /// `InvalidInput` for `workers(0)` or `max_blocking_threads(0)`; the
    /// errors of [`IoDriver::resolve`] for the [`io_driver`](Self::io_driver);
    /// the pinning errors of [`pin_to_cores`](Self::pin_to_cores); the error of a
    /// thread that could not be spawned. Threads already started are stopped
    /// and joined before the error is returned.
    ///
    /// ```
    /// let err = hearth::Runtime::builder().workers(0).build().unwrap_err();
    /// assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
    /// assert!(err.to_string().contains("at least one worker"));
    /// ```
    pub fn build(&self) -> io::Result<Runtime> {
        let workers = match self.workers {
            Some(0) => {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    "hearth::Runtime: workers(0): a runtime needs at least one worker",
                ))
            }
            Some(n) => n,
            None => thread::available_parallelism().map_or(1, |n| n.get()),
        };
        if self.max_blocking_threads == 0 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "hearth::Runtime: max_blocking_threads(0): the blocking pool needs at least \
                 one thread",
            ));
        }
        let io_driver = self.io_driver.resolve()?;
        let cores = if self.pin_to_cores {
            Some(affinity::cores_for(workers)?)
        } else {
            None
        };

        let (inboxes, receivers): (Vec<_>, Vec<_>) =
            (0..workers).map(|_| remote::unbounded_channel()).unzip();
        let metrics: Vec<_> = (0..workers).map(|_| Arc::default()).collect();
        let handle = Handle {
            shared: Arc::new(Shared {
                inboxes,
                metrics: metrics.clone(),
                blocking: blocking::Pool::new(self.max_blocking_threads, self.blocking_keep_alive),
                stopping: AtomicBool::new(false),
                graceful: graceful::Tracker::new(workers),
                start_paused: self.start_paused,
                io_driver,
            }),
        };
        let mut runtime = Runtime {
            handle: handle.clone(),
            threads: Vec::with_capacity(workers),
        };
        let (ready_tx, ready_rx) = std::sync::mpsc::channel::<io::Result<()>>();
        for (index, inbox) in receivers.into_iter().enumerate() {
            let core = cores.as_ref().map(|c| c[index]);
            let handle = handle.clone();
            let ready = ready_tx.clone();
            let counters = metrics[index].clone();
            let slow_poll = self.slow_poll_threshold;
            let thread = thread::Builder::new()
                .name(format!("hearth-worker-{index}"))
                .spawn(move || {
                    if let Some(core) = core {
                        if let Err(err) = affinity::pin_current(index, core) {
                            let _ = ready.send(Err(err));
                            return 0;
                        }
                    }
                    let _ = ready.send(Ok(()));
                    drop(ready);
                    let cancelled =
                        worker::run(index, handle.clone(), inbox, counters, slow_poll, io_driver);
                    graceful::Tracker::worker_stopped(&handle.shared, cancelled);
                    cancelled
                })?; // `runtime` drops here: the workers started so far stop.
            runtime.threads.push(thread);
        }
        drop(ready_tx);
        for _ in 0..workers {
            match ready_rx.recv() {
                Ok(Ok(())) => {}
                Ok(Err(err)) => return Err(err),
                Err(_) => {
                    return Err(io::Error::other(
                        "hearth::Runtime: a worker failed to start",
                    ))
                }
            }
        }
        Ok(runtime)
    }
}

impl Default for Builder {
    fn default() -> Self {
        Builder::new()
    }
}

/// What every handle of a runtime shares.
struct Shared {
    /// Each worker's inbox, by index.
    inboxes: Vec<remote::UnboundedSender<Message>>,
    /// Each worker's executor counters, by index (see [`RuntimeMetrics`]).
    metrics: Vec<Arc<crate::executor::metrics::Counters>>,
    blocking: Arc<blocking::Pool>,
    /// Set once by shutdown: spawns fail from then on.
    stopping: AtomicBool,
    /// A graceful shutdown started through a handle
    /// ([`Handle::shutdown_graceful`]), and which workers are still running.
    graceful: graceful::Tracker,
    /// `Builder::start_paused`: executors start with their clock paused.
    start_paused: bool,
    /// The workers' I/O driver (resolved: `Epoll` or `IoUring`).
    io_driver: IoDriver,
}

/// A cheap, cloneable, `Send + Sync` reference to a [`Runtime`]: spawn on
/// its workers from any thread, including from its own tasks.
///
/// A handle does not keep the runtime running: once the runtime shuts down,
/// spawning through the handle fails with [`SpawnError::ShutDown`].
///
/// # Examples
///
/// Worker 0 sends work to worker 1 and awaits it:
///
/// ```
/// let rt = hearth::Runtime::builder().workers(2).build().unwrap();
/// let out = rt
///     .spawn_on(0, || async {
///         let rt = hearth::runtime::Handle::current();
///         let reply = rt.spawn_on(1, || async { hearth::runtime::current_worker() });
///         reply.unwrap().await.unwrap()
///     })
///     .unwrap();
/// assert_eq!(rt.block_on(out).unwrap(), Some(1));
/// ```
#[derive(Clone)]
pub struct Handle {
    shared: Arc<Shared>,
}

impl Handle {
    /// `Builder::start_paused` was set.
    pub(crate) fn starts_paused(&self) -> bool {
        self.shared.start_paused
    }

    /// The runtime of the calling thread: the one whose worker this is, or
    /// whose [`Runtime::block_on`] is running.
    ///
    /// # Panics
    ///
    /// If there is none; use [`try_current`](Self::try_current) to check.
    ///
    /// ```
    /// let rt = hearth::Runtime::builder().workers(2).build().unwrap();
    /// let workers = rt.block_on(async { hearth::runtime::Handle::current().workers() });
    /// assert_eq!(workers, 2);
    /// ```
    pub fn current() -> Handle {
        Handle::try_current().unwrap_or_else(|| {
            panic!(
                "hearth::runtime::Handle::current called outside of a hearth runtime; call it on \
                 a worker or inside Runtime::block_on, or keep a Runtime::handle()"
            )
        })
    }

    /// The runtime whose worker polls the task of `cx`, read from the
    /// task's context (no thread-local): `None` outside a worker's task,
    /// under a combinator that makes its own wakers, and on another thread.
    ///
    /// Inside [`Runtime::block_on`] the future is not a worker's task, so
    /// this is `None` there; [`try_current`](Self::try_current) (a
    /// thread-local) finds the runtime in both places.
    ///
    /// ```
    /// use std::future::poll_fn;
    /// use std::task::Poll;
    /// use hearth::runtime::Handle;
    ///
    /// let rt = hearth::Runtime::builder().workers(1).build().unwrap();
    /// let workers = rt
    ///     .spawn_on(0, || poll_fn(|cx| Poll::Ready(Handle::from_context(cx).map(|h| h.workers()))))
    ///     .unwrap();
    /// assert_eq!(rt.block_on(workers).unwrap(), Some(1));
    /// ```
    pub fn from_context(cx: &core::task::Context<'_>) -> Option<Handle> {
        use hearth_task::ContextExt;
        cx.request_ref::<crate::executor::RuntimeContext>()
            .map(|rt| rt.handle.clone())
    }

    /// The index of the worker whose task `cx` belongs to, read from the
    /// context (see [`from_context`](Self::from_context)).
    pub fn worker_from_context(cx: &core::task::Context<'_>) -> Option<usize> {
        use hearth_task::ContextExt;
        cx.request_ref::<crate::executor::RuntimeContext>()
            .and_then(|rt| rt.worker)
    }

    /// The runtime of the calling thread, or `None`.
    ///
    /// ```
    /// assert!(hearth::runtime::Handle::try_current().is_none());
    /// let rt = hearth::Runtime::builder().workers(1).build().unwrap();
    /// rt.block_on(async {
    ///     assert!(hearth::runtime::Handle::try_current().is_some());
    /// });
    /// ```
    pub fn try_current() -> Option<Handle> {
        worker::current_handle()
    }

    /// The number of workers.
    ///
    /// ```
    /// let rt = hearth::Runtime::builder().workers(3).build().unwrap();
    /// assert_eq!(rt.handle().workers(), 3);
    /// ```
    pub fn workers(&self) -> usize {
        self.shared.inboxes.len()
    }

    /// Worker `worker`'s inbox.
    fn inbox(&self, worker: usize) -> Result<&remote::UnboundedSender<Message>, SpawnError> {
        self.shared
            .inboxes
            .get(worker)
            .ok_or(SpawnError::NoSuchWorker {
                worker,
                workers: self.workers(),
            })
    }

    /// Runs `f` on worker `worker` and spawns the future it returns there.
    ///
    /// `f` must be `Send` (it travels to the worker); the future need not be
    /// (it is made on the worker and never leaves it). The returned handle
    /// yields the future's output, or a [`JoinError`] if `f` or the future
    /// panicked (the worker keeps serving) or the task was cancelled by
    /// shutdown.
    ///
    /// The worker's inbox is unbounded (see the
    /// [module docs](self#what-is-bounded-and-what-is-not)): to bound the
    /// work in flight, have each task hold a permit, as in the second
    /// example.
    ///
    /// # Errors
    ///
    /// [`SpawnError::NoSuchWorker`] if `worker >= self.workers()`;
    /// [`SpawnError::ShutDown`] once the runtime is shutting down.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::cell::RefCell;
    /// use std::rc::Rc;
    ///
    /// let rt = hearth::Runtime::builder().workers(2).build().unwrap();
    /// let h = rt
    ///     .spawn_on(1, || {
    ///         let log = Rc::new(RefCell::new(Vec::new()));
    ///         async move {
    ///             let l = log.clone();
    ///             hearth::spawn_local(async move { l.borrow_mut().push(1) }).await.unwrap();
    ///             let n = log.borrow().len();
    ///             n
    ///         }
    ///     })
    ///     .unwrap();
    /// assert_eq!(rt.block_on(h).unwrap(), 1);
    /// assert!(rt.spawn_on(2, || async {}).is_err());
    /// ```
    ///
    /// A producer on worker 0 that keeps at most 4 jobs in flight on
    /// worker 1, however fast it produces:
    ///
    /// ```
    /// use std::rc::Rc;
    /// use hearth_sync::Semaphore;
    ///
    /// let rt = hearth::Runtime::builder().workers(2).build().unwrap();
    /// let producer = rt.spawn_on(0, || async {
    ///     let in_flight = Rc::new(Semaphore::new(4));
    ///     let rt = hearth::runtime::Handle::current();
    ///     let mut done = Vec::new();
    ///     for job in 0..20u64 {
    ///         let permit = in_flight.clone().acquire_owned().await.unwrap();
    ///         let handle = rt.spawn_on(1, move || async move { job * 2 }).unwrap();
    ///         done.push(hearth::spawn_local(async move {
    ///             let out = handle.await.unwrap();
    ///             drop(permit); // the next job may go
    ///             out
    ///         }));
    ///     }
    ///     let mut sum = 0;
    ///     for d in done {
    ///         sum += d.await.unwrap();
    ///     }
    ///     sum
    /// }).unwrap();
    /// assert_eq!(rt.block_on(producer).unwrap(), 380);
    /// ```
    pub fn spawn_on<F, Fut>(
        &self,
        worker: usize,
        f: F,
    ) -> Result<RemoteJoinHandle<Fut::Output>, SpawnError>
    where
        F: FnOnce() -> Fut + Send + 'static,
        Fut: Future + 'static,
        Fut::Output: Send + 'static,
    {
        let inbox = self.inbox(worker)?;
        if self.shared.stopping.load(Ordering::Acquire) {
            return Err(SpawnError::ShutDown);
        }
        let (tx, abort, handle) = RemoteJoinHandle::new();
        let job = Box::new(move || {
            if abort.is_aborted() {
                let _ = tx.send(Err(JoinError::cancelled()));
                return;
            }
            match catch_unwind(AssertUnwindSafe(f)) {
                Ok(future) => drop(crate::spawn_local(join::run_remote(future, tx, abort))),
                Err(payload) => {
                    let _ = tx.send(Err(JoinError::panic(payload)));
                }
            }
        });
        inbox
            .send(Message::Run(job))
            .map_err(|_| SpawnError::ShutDown)?;
        Ok(handle)
    }

    /// Runs `f(worker)` on every worker and spawns the futures it returns;
    /// the handles come back in worker order. (For a TCP server on every
    /// worker, [`serve_on_all`](Self::serve_on_all) does the binding.)
    ///
    /// # Errors
    ///
    /// [`SpawnError::ShutDown`] once the runtime is shutting down (the
    /// workers reached before that keep their task).
    ///
    /// ```
    /// let rt = hearth::Runtime::builder().workers(2).build().unwrap();
    /// let handles = rt.spawn_on_all(|worker| async move { worker * 100 }).unwrap();
    /// let outs: Vec<_> = handles.into_iter().map(|h| rt.block_on(h).unwrap()).collect();
    /// assert_eq!(outs, [0, 100]);
    /// ```
    pub fn spawn_on_all<F, Fut>(
        &self,
        f: F,
    ) -> Result<Vec<RemoteJoinHandle<Fut::Output>>, SpawnError>
    where
        F: Fn(usize) -> Fut + Clone + Send + 'static,
        Fut: Future + 'static,
        Fut::Output: Send + 'static,
    {
        (0..self.workers())
            .map(|worker| {
                let f = f.clone();
                self.spawn_on(worker, move || f(worker))
            })
            .collect()
    }

    /// The number of unfinished tasks on worker `worker`: a gauge for
    /// leaks and load (a server's connections, say).
    ///
    /// The worker counts when the request reaches it, between two turns of
    /// its tasks, and the handle yields the count: every task spawned there
    /// (by [`spawn_on`](Self::spawn_on), or by
    /// [`spawn_local`](crate::spawn_local) on the worker) that has not
    /// completed or been cancelled. The request is not a task and does not
    /// count itself. It works during a graceful shutdown too, until the
    /// worker stops.
    ///
    /// # Errors
    ///
    /// [`SpawnError::NoSuchWorker`] if `worker >= self.workers()`;
    /// [`SpawnError::ShutDown`] once the worker has stopped (a request
    /// that reaches it too late yields a cancelled [`JoinError`]).
    ///
    /// ```
    /// let rt = hearth::Runtime::builder().workers(2).build().unwrap();
    /// let (tx, rx) = std::sync::mpsc::channel::<()>();
    /// // One task that waits, on worker 1.
    /// let waiting = rt.spawn_on(1, move || async move {
    ///     hearth::runtime::spawn_blocking(move || rx.recv()).await.unwrap()
    /// }).unwrap();
    /// assert_eq!(rt.block_on(rt.task_count(1).unwrap()).unwrap(), 1);
    /// assert_eq!(rt.block_on(rt.task_count(0).unwrap()).unwrap(), 0);
    /// tx.send(()).unwrap();
    /// rt.block_on(waiting).unwrap().unwrap();
    /// assert_eq!(rt.block_on(rt.task_count(1).unwrap()).unwrap(), 0);
    /// ```
    pub fn task_count(&self, worker: usize) -> Result<RemoteJoinHandle<usize>, SpawnError> {
        let inbox = self.inbox(worker)?;
        let (tx, _abort, handle) = RemoteJoinHandle::new();
        inbox
            .send(Message::TaskCount(tx))
            .map_err(|_| SpawnError::ShutDown)?;
        Ok(handle)
    }

    /// Runs the blocking function `f` on the runtime's blocking pool, off the
    /// workers, and returns a future of its result.
    ///
    /// The pool starts threads as needed up to
    /// [`Builder::max_blocking_threads`]; beyond that jobs queue. Idle threads
    /// exit after [`Builder::blocking_keep_alive`]. The result wakes the
    /// awaiting task through its thread-safe `Waker`. A panic in `f` comes
    /// back as a [`JoinError`]; the pool thread survives it. At shutdown,
    /// jobs that have not started are cancelled; running ones finish on their
    /// own, unwaited.
    ///
    /// ```
    /// let rt = hearth::Runtime::builder().workers(1).build().unwrap();
    /// let read = rt.spawn_blocking(|| std::thread::current().name().map(String::from));
    /// assert_eq!(rt.block_on(read).unwrap().as_deref(), Some("hearth-blocking"));
    /// ```
    pub fn spawn_blocking<F, R>(&self, f: F) -> BlockingHandle<R>
    where
        F: FnOnce() -> R + Send + 'static,
        R: Send + 'static,
    {
        self.shared.blocking.spawn(f)
    }
}

impl fmt::Debug for Handle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Handle")
            .field("workers", &self.workers())
            .field("stopping", &self.shared.stopping.load(Ordering::Relaxed))
            .finish()
    }
}

/// A multi-core runtime: worker threads, each running its own executor, and
/// a blocking pool. See the [module docs](self).
///
/// `Runtime` derefs to its [`Handle`], so `rt.spawn_on(..)`,
/// `rt.spawn_blocking(..)` and `rt.workers()` work directly.
///
/// # Examples
///
/// ```
/// let rt = hearth::Runtime::builder().workers(2).build()?;
/// let h = rt.spawn_on(1, || async { "hello from worker 1" })?;
/// assert_eq!(rt.block_on(h).unwrap(), "hello from worker 1");
/// rt.shutdown();
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct Runtime {
    handle: Handle,
    /// The worker threads, joined by shutdown.
    threads: Vec<thread::JoinHandle<usize>>,
}

impl Runtime {
    /// A [`Builder`] with the defaults.
    ///
    /// ```
    /// let rt = hearth::Runtime::builder().workers(1).build().unwrap();
    /// assert_eq!(rt.workers(), 1);
    /// ```
    pub fn builder() -> Builder {
        Builder::new()
    }

    /// A handle to this runtime, for other threads and tasks.
    ///
    /// ```
    /// let rt = hearth::Runtime::builder().workers(1).build().unwrap();
    /// let handle = rt.handle().clone();
    /// let out = std::thread::spawn(move || {
    ///     let h = handle.spawn_on(0, || async { 5 }).unwrap();
    ///     hearth::block_on(h).unwrap()
    /// });
    /// assert_eq!(out.join().unwrap(), 5);
    /// ```
    pub fn handle(&self) -> &Handle {
        &self.handle
    }

    /// Runs `future` to completion on the calling thread and returns its
    /// output.
    ///
    /// The future runs on a fresh executor of this thread (it may be `!Send`,
    /// borrow locals, and [`spawn_local`](crate::spawn_local) tasks that are
    /// dropped when it returns), with this runtime as
    /// [`Handle::current`]; the workers keep serving meanwhile.
    ///
    /// # Panics
    ///
    /// If called on a worker thread (of any hearth runtime): that would
    /// block the worker's own tasks. Spawn the work and await its handle.
    ///
    /// ```
    /// let rt = hearth::Runtime::builder().workers(1).build().unwrap();
    /// let local = std::rc::Rc::new(20);
    /// let out = rt.block_on(async {
    ///     let h = hearth::runtime::Handle::current().spawn_on(0, || async { 22 }).unwrap();
    ///     *local + h.await.unwrap()
    /// });
    /// assert_eq!(out, 42);
    /// ```
    pub fn block_on<F: Future>(&self, future: F) -> F::Output {
        assert!(
            current_worker().is_none(),
            "hearth: Runtime::block_on called on a worker thread, which would stall its tasks; \
             spawn the future (spawn_local or spawn_on) and await its handle instead"
        );
        let _context = worker::EnterContext::new(self.handle.clone(), None);
        let executor = crate::Executor::with_counters(Arc::default(), self.handle.shared.io_driver);
        if self.handle.shared.start_paused {
            executor.pause_clock();
        }
        executor.run_until(future)
    }

    /// The I/O driver of this runtime's workers: `Epoll` or `IoUring` (what
    /// [`Builder::io_driver`] resolved to).
    ///
    /// ```
    /// let rt = hearth::Runtime::builder().workers(1).build()?;
    /// println!("I/O through {}", rt.io_driver());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn io_driver(&self) -> IoDriver {
        self.handle.shared.io_driver
    }

    /// Shuts the runtime down and joins its worker threads; see the
    /// [module docs](self#shutdown-cancels-like-tokios). Dropping the runtime
    /// does the same.
    ///
    /// Every unfinished task is cancelled: its future is dropped on its own
    /// worker thread and its handle yields a cancelled `JoinError`.
    ///
    /// ```
    /// let rt = hearth::Runtime::builder().workers(1).build().unwrap();
    /// let forever = rt.spawn_on(0, || std::future::pending::<()>()).unwrap();
    /// let handle = rt.handle().clone();
    /// rt.shutdown();
    /// assert!(hearth::block_on(forever).unwrap_err().is_cancelled());
    /// assert_eq!(
    ///     handle.spawn_on(0, || async {}).unwrap_err(),
    ///     hearth::runtime::SpawnError::ShutDown
    /// );
    /// ```
    pub fn shutdown(mut self) {
        self.stop();
    }

    /// Shuts the runtime down gracefully: lets the work in flight finish,
    /// for up to `timeout`, then stops every worker; see the
    /// [module docs](self#shutdown-cancel-now-or-drain-first).
    ///
    /// 1. Every later spawn fails with [`SpawnError::ShutDown`]; closures
    ///    already sent to a worker still run.
    /// 2. Every worker's [`shutdown_signal`] fires, so its tasks can stop
    ///    taking new work (an accept loop drops its listener, and new
    ///    connections are refused).
    /// 3. Each worker serves until its last task finishes, then stops.
    /// 4. The blocking pool runs its queued jobs and its threads exit.
    ///
    /// What is still unfinished when `timeout` has passed is cancelled as
    /// [`shutdown`](Self::shutdown) does, and the call returns it in the
    /// error. Either way, every worker thread has been joined on return.
    ///
    /// # Errors
    ///
    /// [`ShutdownTimedOut`] if something had to be cancelled or was still
    /// running at the deadline.
    ///
    /// # Examples
    ///
    /// A server that stops accepting at the signal and finishes the request
    /// it is serving:
    ///
    /// ```
    /// use std::time::Duration;
    /// use hearth::runtime::shutdown_signal;
    ///
    /// let rt = hearth::Runtime::builder().workers(1).build()?;
    /// let (first_tx, first_rx) = std::sync::mpsc::channel();
    /// let served = rt.spawn_on(0, move || async move {
    ///     let mut signal = std::pin::pin!(shutdown_signal());
    ///     let mut served = 0;
    ///     // Stand-in for `accept` beside the signal: a "request" every 10 ms.
    ///     loop {
    ///         match hearth::time::timeout(Duration::from_millis(10), signal.as_mut()).await {
    ///             Ok(()) => return served, // shutting down: stop accepting
    ///             Err(_elapsed) => {}
    ///         }
    ///         // A request in flight when the signal fires still completes.
    ///         hearth::spawn_local(hearth::time::sleep(Duration::from_millis(30)));
    ///         served += 1;
    ///         let _ = first_tx.send(());
    ///     }
    /// })?;
    /// first_rx.recv()?; // the server has taken a request
    /// rt.shutdown_graceful(Duration::from_secs(10))?; // nothing was cut short
    /// assert!(hearth::block_on(served).unwrap() > 0);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// A task that ignores the signal is cancelled at the deadline:
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let rt = hearth::Runtime::builder().workers(2).build().unwrap();
    /// let stuck = rt.spawn_on(1, || std::future::pending::<()>()).unwrap();
    /// let err = rt.shutdown_graceful(Duration::from_millis(50)).unwrap_err();
    /// assert_eq!(err.cancelled_tasks(), 1);
    /// assert!(hearth::block_on(stuck).unwrap_err().is_cancelled());
    /// ```
    pub fn shutdown_graceful(mut self, timeout: Duration) -> Result<(), ShutdownTimedOut> {
        let deadline = deadline_after(timeout);
        self.tell_workers(|| Message::Drain(deadline));
        let cancelled_tasks = self.join_workers();
        let (cancelled_blocking, running_blocking) = self.handle.shared.blocking.drain(deadline);
        if cancelled_tasks + cancelled_blocking + running_blocking == 0 {
            Ok(())
        } else {
            Err(ShutdownTimedOut {
                timeout,
                cancelled_tasks,
                cancelled_blocking,
                running_blocking,
            })
        }
    }

    fn stop(&mut self) {
        self.tell_workers(|| Message::Stop);
        self.handle.shared.blocking.shutdown();
        self.join_workers();
    }

    /// Makes every later spawn fail and sends `message()` to every worker.
    fn tell_workers(&self, message: impl Fn() -> Message) {
        self.handle.tell_workers(message);
    }

    /// Joins the worker threads; returns how many tasks they cancelled.
    fn join_workers(&mut self) -> usize {
        let me = thread::current().id();
        let mut cancelled = 0;
        for thread in self.threads.drain(..) {
            // A runtime dropped (or shut down) on its own worker cannot join
            // that worker; it stops once its task is done with the message.
            if thread.thread().id() != me {
                // Worker threads do not panic (tasks' panics are caught).
                cancelled += thread.join().unwrap_or(0);
            }
        }
        cancelled
    }
}

impl core::ops::Deref for Runtime {
    type Target = Handle;

    fn deref(&self) -> &Handle {
        &self.handle
    }
}

impl Drop for Runtime {
    fn drop(&mut self) {
        self.stop();
    }
}

impl fmt::Debug for Runtime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Runtime")
            .field("workers", &self.handle.workers())
            .finish()
    }
}

/// The instant `timeout` from now; a timeout too large for the clock means
/// "no deadline" (a century).
fn deadline_after(timeout: Duration) -> Instant {
    let start = Instant::now();
    start
        .checked_add(timeout)
        .unwrap_or_else(|| start + Duration::from_secs(100 * 365 * 24 * 3600))
}

impl Handle {
    /// Shuts the runtime down gracefully, from a handle: the same drain as
    /// [`Runtime::shutdown_graceful`], for code that does not own the
    /// [`Runtime`], above all the body of `#[hearth::main]`.
    ///
    /// The shutdown begins at this call: spawns fail from now on, every
    /// worker's [`shutdown_signal`] fires (accept loops stop taking
    /// connections), each worker serves until its last task finishes or
    /// `timeout` passes, and then the blocking pool drains (see
    /// [`Runtime::shutdown_graceful`] for each step). The returned future
    /// completes when all of that is done, with the same result:
    /// `Err(`[`ShutdownTimedOut`]`)` if something had to be cancelled at the
    /// deadline. Dropping the future does not stop the shutdown.
    ///
    /// A second call (through any handle) joins the first shutdown; its
    /// `timeout` is ignored. After the runtime was shut down another way,
    /// the future completes at once with `Ok(())`.
    ///
    /// On one of the runtime's **own workers** (an admin endpoint that stops
    /// the server, say) the future completes at once with `Ok(())`: that
    /// worker drains only once the calling task has finished, so the task
    /// cannot wait for the end. The owner of the runtime (`main`) can.
    ///
    /// Returning from `#[hearth::main]` drops the runtime, which *cancels*
    /// what is still running (as tokio does); await this future first to let
    /// the work in flight finish.
    ///
    /// # Examples
    ///
    /// A server's `main` drains on Ctrl-C (here the signal is left out, and
    /// the shutdown starts at once):
    ///
    /// ```
    /// use std::time::Duration;
    /// use hearth::runtime::{shutdown_signal, Handle};
    ///
    /// #[hearth::main(workers = 2)]
    /// async fn main() -> Result<(), Box<dyn std::error::Error>> {
    ///     let rt = Handle::current();
    ///     // An accept loop on worker 0, a request in flight on worker 1.
    ///     let accepting = rt.spawn_on(0, || async {
    ///         shutdown_signal().await; // stop accepting here
    ///         "stopped accepting"
    ///     })?;
    ///     let request = rt.spawn_on(1, || async {
    ///         hearth::time::sleep(Duration::from_millis(50)).await;
    ///         "request done"
    ///     })?;
    ///     // A server awaits `hearth::signal::ctrl_c()` here.
    ///     rt.shutdown_graceful(Duration::from_secs(10)).await?;
    ///     assert_eq!(accepting.await?, "stopped accepting");
    ///     assert_eq!(request.await?, "request done"); // not cut short
    ///     assert!(rt.spawn_on(0, || async {}).is_err()); // shut down
    ///     Ok(())
    /// }
    /// ```
    ///
    /// What does not finish by the deadline is cancelled and reported:
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let rt = hearth::Runtime::builder().workers(1).build().unwrap();
    /// let stuck = rt.spawn_on(0, || std::future::pending::<()>()).unwrap();
    /// let handle = rt.handle().clone();
    /// let result = rt.block_on(handle.shutdown_graceful(Duration::from_millis(20)));
    /// assert_eq!(result.unwrap_err().cancelled_tasks(), 1);
    /// assert!(hearth::block_on(stuck).unwrap_err().is_cancelled());
    /// ```
    pub fn shutdown_graceful(&self, timeout: Duration) -> GracefulShutdown {
        if let Some(deadline) = self.shared.graceful.begin(timeout, deadline_after(timeout)) {
            self.tell_workers(|| Message::Drain(deadline));
        }
        let on_own_worker = current_worker().is_some()
            && Handle::try_current().is_some_and(|h| Arc::ptr_eq(&h.shared, &self.shared));
        GracefulShutdown {
            shared: self.shared.clone(),
            on_own_worker,
        }
    }

    /// Makes every later spawn fail and sends `message()` to every worker.
    fn tell_workers(&self, message: impl Fn() -> Message) {
        self.shared.stopping.store(true, Ordering::Release);
        for inbox in &self.shared.inboxes {
            // Fails only if the worker is gone already.
            let _ = inbox.send(message());
        }
    }
}

/// The future of [`Handle::shutdown_graceful`]: completes when the
/// runtime's graceful shutdown is over.
#[must_use = "the shutdown has begun; await this future to wait for its end"]
pub struct GracefulShutdown {
    shared: Arc<Shared>,
    /// Awaited on a worker of this runtime: it cannot wait for the end.
    on_own_worker: bool,
}

impl Future for GracefulShutdown {
    type Output = Result<(), ShutdownTimedOut>;

    fn poll(
        self: core::pin::Pin<&mut Self>,
        cx: &mut core::task::Context<'_>,
    ) -> core::task::Poll<Self::Output> {
        if self.on_own_worker {
            return core::task::Poll::Ready(Ok(()));
        }
        self.shared.graceful.poll_done(cx)
    }
}

impl fmt::Debug for GracefulShutdown {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GracefulShutdown")
            .field("on_own_worker", &self.on_own_worker)
            .finish_non_exhaustive()
    }
}
