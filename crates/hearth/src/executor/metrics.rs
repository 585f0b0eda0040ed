//! What an executor counts about itself, for [`Executor::metrics`] and the
//! runtime's [`RuntimeMetrics`](crate::runtime::RuntimeMetrics).
//!
//! # One writer, any reader, no read-modify-write
//!
//! Every counter has exactly one writer: the executor's owner thread. It
//! adds with a relaxed load and a relaxed store ([`Counters::add`]), which
//! compiles to the same plain `mov`s as a `Cell` would, so counting keeps the
//! local path free of atomic read-modify-writes (`tests/counting.rs` counts
//! them). Any thread may read a counter with a relaxed load: the value is one
//! the owner wrote, never torn, and a later read never sees an older value.
//! Counters taken in one [`Counters::snapshot`] are read one after the other,
//! so they may be a few events apart; they are statistics, not
//! synchronisation.
//!
//! The counters live in their own `Arc` so that a runtime can read the
//! counters of each worker's executor from any thread (and after the
//! executor is gone).
//!
//! To keep stores off the hottest path, polls are counted a tick at a time:
//! when a tick begins, its whole batch is added (a task that completed while
//! queued, which the tick skips, is taken back then), so during a tick the
//! count runs ahead by the polls still to come. Two gauges are sampled
//! rather than kept exact: the run-queue depth is stored at the start of
//! every tick (so a reader sees the depth of the last tick's batch), and the
//! number of alive tasks whenever a task is spawned or completes.
//!
//! [`Executor::metrics`]: super::Executor::metrics

use core::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// The counters of one executor; see the module docs.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    /// Tasks spawned and not yet complete (a gauge).
    alive: AtomicU64,
    /// Tasks spawned, ever.
    spawned: AtomicU64,
    /// Task polls (including the poll that drops a cancelled future),
    /// counted a tick at a time when the tick begins.
    pub(crate) polls: AtomicU64,
    /// Run-queue length at the start of the last tick (a gauge).
    queue_depth: AtomicU64,
    /// Wakes that arrived from other threads (tasks and the main future).
    pub(crate) remote_wakes: AtomicU64,
    /// Task polls that spent the whole cooperative budget.
    pub(crate) budget_forced_yields: AtomicU64,
    /// Task polls longer than the slow-poll threshold.
    pub(crate) slow_polls: AtomicU64,
    /// Times the executor went to sleep with nothing to do.
    pub(crate) parks: AtomicU64,
}

impl Counters {
    /// Adds `n` to `counter`. Owner thread only (the single writer).
    #[inline(always)]
    pub(crate) fn add(counter: &AtomicU64, n: u64) {
        counter.store(counter.load(Relaxed).wrapping_add(n), Relaxed);
    }

    /// A task was spawned; `alive` tasks are now incomplete. Owner thread.
    #[inline(always)]
    pub(crate) fn spawned(&self, alive: usize) {
        Counters::add(&self.spawned, 1);
        self.alive.store(alive as u64, Relaxed);
    }

    /// Tasks spawned so far.
    pub(crate) fn spawned_count(&self) -> u64 {
        self.spawned.load(Relaxed)
    }

    /// A task completed; `alive` tasks are left. Owner thread.
    #[inline(always)]
    pub(crate) fn completed(&self, alive: usize) {
        self.alive.store(alive as u64, Relaxed);
    }

    /// A tick starts with `depth` tasks ready, and will poll each of them
    /// (`run_task` takes back the rare entry it skips). Owner thread.
    #[inline(always)]
    pub(crate) fn tick(&self, depth: usize) {
        self.queue_depth.store(depth as u64, Relaxed);
        Counters::add(&self.polls, depth as u64);
    }

    /// Reads every counter; any thread.
    pub(crate) fn snapshot(&self) -> ExecutorMetrics {
        ExecutorMetrics {
            alive_tasks: self.alive.load(Relaxed) as usize,
            spawned_tasks: self.spawned.load(Relaxed),
            polls: self.polls.load(Relaxed),
            local_queue_depth: self.queue_depth.load(Relaxed) as usize,
            remote_wakes: self.remote_wakes.load(Relaxed),
            budget_forced_yields: self.budget_forced_yields.load(Relaxed),
            slow_polls: self.slow_polls.load(Relaxed),
            parks: self.parks.load(Relaxed),
        }
    }
}

/// A snapshot of an executor's counters: of an [`Executor`](crate::Executor)
/// ([`Executor::metrics`](crate::Executor::metrics)) or of one worker of a
/// runtime ([`RuntimeMetrics::worker`](crate::runtime::RuntimeMetrics::worker)).
///
/// Counters (`spawned_tasks`, `polls`, ...) only grow, from the executor's
/// creation on; subtract two snapshots to get a rate. Gauges
/// (`alive_tasks`, `local_queue_depth`) are the value at the time of the
/// snapshot, as last published by the executor. Each field names the tokio
/// metric it matches, where there is one.
///
/// Keeping them costs the executor a few plain stores per task poll (no
/// atomic read-modify-write), so they are always on.
///
/// # Examples
///
/// ```
/// let executor = hearth::Executor::new();
/// for _ in 0..3 {
///     executor.spawn_local(async { hearth::yield_now().await });
/// }
/// assert_eq!(executor.metrics().alive_tasks, 3);
/// executor.run_until_idle();
/// let m = executor.metrics();
/// assert_eq!(m.spawned_tasks, 3);
/// assert_eq!(m.alive_tasks, 0);
/// assert_eq!(m.polls, 6); // each task: one poll that yields, one that finishes
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ExecutorMetrics {
    /// Tasks spawned that have not finished yet (tokio:
    /// `num_alive_tasks`, there per runtime).
    pub alive_tasks: usize,
    /// Tasks spawned since the executor was created (tokio:
    /// `spawned_tasks_count`).
    pub spawned_tasks: u64,
    /// Times a task was polled (tokio: `worker_poll_count`). The main future
    /// of [`run_until`](crate::Executor::run_until) is not a task and is not
    /// counted. Counted a tick (a batch of ready tasks) at a time, when the
    /// tick begins: read from inside a task or from another thread, it
    /// includes the polls of the current tick still to come.
    pub polls: u64,
    /// Tasks that were ready to run at the start of the executor's last
    /// tick (tokio: `worker_local_queue_depth`). Sampled once per tick.
    pub local_queue_depth: usize,
    /// Wakes received from other threads: each one reached the executor
    /// through its lock-free queue rather than the local run queue (tokio's
    /// nearest is `remote_schedule_count`, which counts tasks scheduled from
    /// outside the runtime instead).
    pub remote_wakes: u64,
    /// Task polls that used up the cooperative budget
    /// ([`hearth::task::coop`](hearth_task::coop)), so that the task's leaf
    /// futures made it yield (tokio: `budget_forced_yield_count`).
    pub budget_forced_yields: u64,
    /// Task polls that took longer than the slow-poll threshold
    /// ([`Executor::set_slow_poll_threshold`](crate::Executor::set_slow_poll_threshold),
    /// [`Builder::slow_poll_threshold`](crate::runtime::Builder::slow_poll_threshold));
    /// always 0 without one. No tokio equivalent.
    pub slow_polls: u64,
    /// Times the executor went to sleep because nothing was ready (tokio:
    /// `worker_park_count`).
    pub parks: u64,
}
