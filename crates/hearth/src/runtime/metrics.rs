//! [`RuntimeMetrics`]: what the workers and the blocking pool are doing, read
//! from any thread through a [`Handle`]. The counters themselves are the
//! executors' (`crate::executor::metrics`).

use core::fmt;

use super::Handle;
use crate::executor::ExecutorMetrics;

impl Handle {
    /// The runtime's metrics: per worker and for the blocking pool.
    ///
    /// ```
    /// let rt = hearth::Runtime::builder().workers(2).build().unwrap();
    /// let h = rt.spawn_on(1, || async { hearth::yield_now().await }).unwrap();
    /// rt.block_on(h).unwrap();
    /// let metrics = rt.metrics();
    /// assert_eq!(metrics.num_workers(), 2);
    /// assert!(metrics.worker_poll_count(1) >= 2);
    /// ```
    pub fn metrics(&self) -> RuntimeMetrics {
        RuntimeMetrics {
            handle: self.clone(),
        }
    }
}

/// The metrics of a [`Runtime`](super::Runtime): a cheap handle that reads
/// the current values on every call.
///
/// Each worker's executor keeps its own counters ([`ExecutorMetrics`]),
/// written by the worker with plain stores and read here with relaxed
/// loads, so reading them never stops or slows a worker, even one stuck in
/// a long poll. The blocking pool's numbers are read under its lock.
///
/// # Differences from tokio
///
/// The names are tokio's (`num_workers`, `num_alive_tasks`,
/// `worker_poll_count`, ...), and so are the meanings, except:
///
/// - there is no global queue and no work stealing, so there is no
///   `global_queue_depth`, `worker_steal_count` or `worker_overflow_count`;
/// - what crosses threads is a *wake*: [`ExecutorMetrics::remote_wakes`]
///   counts wakes from other threads (including other workers), where
///   tokio's `remote_schedule_count` counts tasks scheduled from outside the
///   runtime;
/// - `worker_local_queue_depth` is sampled once per tick of the worker;
/// - slow polls ([`Builder::slow_poll_threshold`](super::Builder::slow_poll_threshold))
///   are hearth's own;
/// - the counters are always on (no `tokio_unstable`): they cost a few plain
///   stores per poll;
/// - the executor of [`Runtime::block_on`](super::Runtime::block_on) runs on
///   the caller's thread and is not a worker: its tasks are not counted.
///
/// # Examples
///
/// ```
/// let rt = hearth::Runtime::builder().workers(2).build()?;
/// let handles = rt.spawn_on_all(|_| async {
///     for _ in 0..10 {
///         hearth::yield_now().await;
///     }
/// })?;
/// for h in handles {
///     rt.block_on(h).unwrap();
/// }
/// let metrics = rt.metrics();
/// for w in 0..metrics.num_workers() {
///     let worker = metrics.worker(w).unwrap();
///     assert!(worker.spawned_tasks >= 1);
///     assert!(worker.polls >= 11);
/// }
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct RuntimeMetrics {
    handle: Handle,
}

impl RuntimeMetrics {
    /// The number of workers.
    ///
    /// ```
    /// let rt = hearth::Runtime::builder().workers(3).build().unwrap();
    /// assert_eq!(rt.metrics().num_workers(), 3);
    /// ```
    pub fn num_workers(&self) -> usize {
        self.handle.workers()
    }

    /// A snapshot of worker `worker`'s executor, or `None` if there is no
    /// such worker.
    ///
    /// ```
    /// let rt = hearth::Runtime::builder().workers(1).build().unwrap();
    /// rt.block_on(rt.spawn_on(0, || async {}).unwrap()).unwrap();
    /// let worker = rt.metrics().worker(0).unwrap();
    /// assert_eq!(worker.spawned_tasks, 1);
    /// assert!(rt.metrics().worker(1).is_none());
    /// ```
    pub fn worker(&self, worker: usize) -> Option<ExecutorMetrics> {
        Some(self.handle.shared.metrics.get(worker)?.snapshot())
    }

    /// Every worker's counters added up (gauges too: `alive_tasks` is the
    /// runtime's, `local_queue_depth` the sum of the workers' depths).
    ///
    /// ```
    /// let rt = hearth::Runtime::builder().workers(2).build().unwrap();
    /// for h in rt.spawn_on_all(|_| async {}).unwrap() {
    ///     rt.block_on(h).unwrap();
    /// }
    /// assert_eq!(rt.metrics().total().spawned_tasks, 2);
    /// ```
    pub fn total(&self) -> ExecutorMetrics {
        let mut sum = ExecutorMetrics::default();
        for w in &self.handle.shared.metrics {
            let m = w.snapshot();
            sum.alive_tasks += m.alive_tasks;
            sum.spawned_tasks += m.spawned_tasks;
            sum.polls += m.polls;
            sum.local_queue_depth += m.local_queue_depth;
            sum.remote_wakes += m.remote_wakes;
            sum.budget_forced_yields += m.budget_forced_yields;
            sum.slow_polls += m.slow_polls;
            sum.parks += m.parks;
        }
        sum
    }

    /// Tasks on the workers that have not finished.
    ///
    /// ```
    /// let rt = hearth::Runtime::builder().workers(1).build().unwrap();
    /// let (tx, rx) = std::sync::mpsc::channel();
    /// let forever = rt.spawn_on(0, move || async move {
    ///     tx.send(()).unwrap();
    ///     std::future::pending::<()>().await
    /// }).unwrap();
    /// rx.recv().unwrap(); // it runs, so it was spawned and counted
    /// assert_eq!(rt.metrics().num_alive_tasks(), 1);
    /// forever.abort();
    /// ```
    pub fn num_alive_tasks(&self) -> usize {
        self.total().alive_tasks
    }

    /// Tasks spawned on the workers since the runtime started.
    ///
    /// ```
    /// let rt = hearth::Runtime::builder().workers(1).build().unwrap();
    /// rt.block_on(rt.spawn_on(0, || async {}).unwrap()).unwrap();
    /// assert_eq!(rt.metrics().spawned_tasks_count(), 1);
    /// ```
    pub fn spawned_tasks_count(&self) -> u64 {
        self.total().spawned_tasks
    }

    /// Task polls, on all workers, that used up their cooperative budget.
    ///
    /// ```
    /// let rt = hearth::Runtime::builder().workers(1).build().unwrap();
    /// let busy = rt.spawn_on(0, || async {
    ///     for _ in 0..1_000 {
    ///         hearth::consume_budget().await; // always ready, spends budget
    ///     }
    /// }).unwrap();
    /// rt.block_on(busy).unwrap();
    /// assert!(rt.metrics().budget_forced_yield_count() >= 7); // 1,000 / 128
    /// ```
    pub fn budget_forced_yield_count(&self) -> u64 {
        self.total().budget_forced_yields
    }

    /// Task polls on worker `worker`.
    ///
    /// # Panics
    ///
    /// If `worker >= self.num_workers()`, as tokio's does (use
    /// [`worker`](Self::worker) for an `Option`).
    ///
    /// ```
    /// let rt = hearth::Runtime::builder().workers(1).build().unwrap();
    /// rt.block_on(rt.spawn_on(0, || async {}).unwrap()).unwrap();
    /// assert_eq!(rt.metrics().worker_poll_count(0), 1);
    /// ```
    pub fn worker_poll_count(&self, worker: usize) -> u64 {
        self.expect_worker(worker).polls
    }

    /// Times worker `worker` went to sleep with nothing to do.
    ///
    /// # Panics
    ///
    /// If `worker >= self.num_workers()`.
    ///
    /// ```
    /// let rt = hearth::Runtime::builder().workers(1).build().unwrap();
    /// rt.block_on(rt.spawn_on(0, || async {}).unwrap()).unwrap();
    /// let _parks: u64 = rt.metrics().worker_park_count(0);
    /// ```
    pub fn worker_park_count(&self, worker: usize) -> u64 {
        self.expect_worker(worker).parks
    }

    /// Tasks ready to run on worker `worker` at the start of its last tick.
    ///
    /// # Panics
    ///
    /// If `worker >= self.num_workers()`.
    ///
    /// ```
    /// let rt = hearth::Runtime::builder().workers(1).build().unwrap();
    /// assert_eq!(rt.metrics().worker_local_queue_depth(0), 0);
    /// ```
    pub fn worker_local_queue_depth(&self, worker: usize) -> usize {
        self.expect_worker(worker).local_queue_depth
    }

    /// Threads in the blocking pool, busy or idle.
    ///
    /// ```
    /// let rt = hearth::Runtime::builder().workers(1).build().unwrap();
    /// assert_eq!(rt.metrics().num_blocking_threads(), 0); // started on demand
    /// rt.block_on(rt.spawn_blocking(|| ())).unwrap();
    /// assert_eq!(rt.metrics().num_blocking_threads(), 1);
    /// ```
    pub fn num_blocking_threads(&self) -> usize {
        self.handle.shared.blocking.stats().threads
    }

    /// Blocking-pool threads waiting for a job.
    ///
    /// ```
    /// let rt = hearth::Runtime::builder().workers(1).build().unwrap();
    /// assert_eq!(rt.metrics().num_idle_blocking_threads(), 0);
    /// ```
    pub fn num_idle_blocking_threads(&self) -> usize {
        self.handle.shared.blocking.stats().idle
    }

    /// Blocking jobs waiting for a free thread (all
    /// [`max_blocking_threads`](super::Builder::max_blocking_threads) are
    /// busy).
    ///
    /// ```
    /// let rt = hearth::Runtime::builder().workers(1).max_blocking_threads(1).build().unwrap();
    /// let (go, wait) = std::sync::mpsc::channel::<()>();
    /// let (started_tx, started) = std::sync::mpsc::channel::<()>();
    /// let busy = rt.spawn_blocking(move || {
    ///     started_tx.send(()).unwrap();
    ///     wait.recv().unwrap()
    /// });
    /// started.recv().unwrap(); // the only thread is busy now
    /// let queued = rt.spawn_blocking(|| ());
    /// assert_eq!(rt.metrics().blocking_queue_depth(), 1);
    /// go.send(()).unwrap();
    /// rt.block_on(busy).unwrap();
    /// rt.block_on(queued).unwrap();
    /// assert_eq!(rt.metrics().blocking_queue_depth(), 0);
    /// ```
    pub fn blocking_queue_depth(&self) -> usize {
        self.handle.shared.blocking.stats().queued
    }

    fn expect_worker(&self, worker: usize) -> ExecutorMetrics {
        self.worker(worker).unwrap_or_else(|| {
            panic!(
                "hearth::runtime::RuntimeMetrics: no worker {worker}: the runtime has {} workers",
                self.num_workers()
            )
        })
    }
}

impl fmt::Debug for RuntimeMetrics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let stats = self.handle.shared.blocking.stats();
        let workers: Vec<_> = (0..self.num_workers())
            .filter_map(|w| self.worker(w))
            .collect();
        f.debug_struct("RuntimeMetrics")
            .field("workers", &workers)
            .field("blocking_threads", &stats.threads)
            .field("idle_blocking_threads", &stats.idle)
            .field("blocking_queue_depth", &stats.queued)
            .finish()
    }
}
