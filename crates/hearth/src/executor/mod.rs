//! The executor: one per thread, tasks that may be `!Send`, dual wakers.
//!
//! # How a wake travels
//!
//! - *Local* (the task's twin from `cx.local_waker()`, or its `Waker` woken on
//!   the owner thread): the task's state gets `SCHEDULED` and a local
//!   reference goes to the back of the run queue (`RefCell<VecDeque>`). Plain
//!   memory operations only; a test counts zero atomic read-modify-writes.
//! - *Remote* (its `Waker` on another thread): see [`remote`]: a lock-free
//!   queue into the owner and an unpark.
//!
//! # The loop
//!
//! Each tick runs the tasks that were ready when it began (so a task that
//! wakes itself runs again next tick, after the others), then takes the remote
//! wakes, then polls the main future if it was woken; when there is nothing
//! to do it sleeps in its driver ([`crate::driver`]: timers, I/O, remote
//! wakes). Each poll gets a cooperative budget ([`coop`]).
//!
//! # Observability
//!
//! The executor counts spawns, polls, remote wakes, budget exhaustions,
//! slow polls and parks ([`metrics`]: one writer, plain stores, no atomic
//! read-modify-write), and with the `tracing` feature gives every task a
//! span ([`trace`]; compiled out without the feature). A poll is timed only
//! when a slow-poll threshold is set.
//!
//! # Shutdown
//!
//! Dropping the [`Executor`] closes the remote queue, then drops every
//! remaining task's future on this thread (their `JoinHandle`s yield a
//! cancelled [`JoinError`]), then empties the run queue. It finds them in its
//! table of tasks that returned `Pending` and in the run queue (a task joins
//! the table at its first `Pending`, so spawning a task that finishes in its
//! first poll costs no table slot). Task memory is freed
//! when the last reference goes, which may be a `Waker` on another thread;
//! nothing `!Send` is dropped there. Freed task memory goes to a per-thread
//! cache for the next spawns ([`memory`]), trimmed when an executor parks.
//!
//! # Panic safety
//!
//! The rule: **the executor's state is final before user code runs, and every
//! piece of user code that runs has its panic either turned into a task's
//! result or discarded; none unwinds through half-done bookkeeping.** User
//! code here is a task's poll, the drop of a future, an output, a panic
//! payload or a waker, and a wake of a waker the executor did not make.
//!
//! | user code | what a panic there does |
//! |---|---|
//! | a task's `poll` | becomes the task's [`JoinError`] (`is_panic`); the tick goes on with the next task |
//! | the drop of a task's future on abort or shutdown | becomes the task's `JoinError` (`is_panic` instead of `is_cancelled`), as in tokio |
//! | the drop of a task's future after it returned `Ready` or panicked | discarded: the output or the poll's panic is the result, as in tokio |
//! | the drop of an output or a `JoinError` nobody will read (detached task, shutdown) | discarded |
//! | the drop of a panic payload (a payload that panics when dropped) | the nested payload is dropped the same way, up to 8 levels, then leaked |
//! | the wake of the waker awaiting a `JoinHandle`, or of the idle waiter | discarded (tokio does the same) |
//! | the drop of such a waker | discarded |
//! | the main future's `poll` in [`Executor::run_until`] / [`block_on`] | unwinds to the caller, as tokio's `block_on`; the executor stays usable |
//!
//! "Final" means: a completing task is unlinked from the task table and
//! marked `COMPLETE` before its output is dropped or its waiter woken; a
//! stage slot always holds a valid stage when user code runs (a future whose
//! drop panics is never left behind as a dropped `Running`); the
//! last local reference of a task frees it even if a drop in between
//! panicked. [`Executor`]'s `Drop` completes every task and empties the run
//! queue in a guard that finishes the sweep if a panic unwinds out of it, so
//! no task ever reaches a freed core. `tests/panic_injection.rs` checks the
//! rule by injecting panics at each of these points, natively and under Miri.

pub(crate) mod coop;
#[cfg(all(feature = "tokio-host", not(loom)))]
pub(crate) mod host;
mod join;
mod join_set;
// Model checking never frees tasks (see `task::dealloc`): no cache there.
#[cfg(not(loom))]
mod memory;
pub(crate) mod metrics;
mod queue;
pub(crate) mod remote;
mod slab;
mod task;
mod trace;
pub(crate) mod unwind;

use core::cell::Cell;
use core::fmt;
use core::future::Future;
use core::pin::pin;
use core::ptr::{self, NonNull};
use core::task::{Context, Poll, Waker};
use core::time::Duration;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::Instant;

use hearth_task::dual::{DualRc, DualWake};
use hearth_task::{ContextExt, LocalWaker};

pub use hearth_task::coop::{consume_budget, unconstrained};
pub use join::{AbortHandle, JoinError, JoinHandle};
pub use join_set::JoinSet;
pub use metrics::ExecutorMetrics;

use metrics::Counters;
use remote::Remote;
use task::{Header, TaskRef, CANCELLED, COMPLETE, RUNNING, SCHEDULED, UNLISTED};
use trace::{Outcome, SpawnedAt, TaskSpan};

use crate::driver::{Driver, IoDriver};
use crate::sync_shim::Arc;

std::thread_local! {
    /// The executor running on this thread (inside `run_until`), or null.
    static CURRENT: Cell<*const Core> = const { Cell::new(ptr::null()) };
}

/// The executor's state, shared by its handle and (as a raw pointer) its tasks.
pub(crate) struct Core {
    /// This core's address, with the provenance of its whole `Arc`
    /// allocation (tasks take and release `Arc` counts through it).
    this: Cell<*const Core>,
    /// Tasks ready to run, each entry holding a local reference.
    run_queue: queue::RunQueue,
    /// Incomplete tasks that returned `Pending` (each entry holds a local
    /// reference), so shutdown can drop them all. A task is listed after its
    /// first `Pending`, not at spawn: until then its run-queue entry (or its
    /// poll) holds it, and a task that finishes in its first poll never
    /// touches the table.
    tasks: slab::TaskSlab,
    /// Incomplete tasks: listed, queued for their first poll, or being
    /// polled.
    alive: Cell<usize>,
    /// The thread-safe side: wakes from other threads.
    pub(crate) remote: Remote,
    /// `run_until` is active (the executor is not reentrant).
    running: Cell<bool>,
    /// The task whose future is being polled (to blame a panic on it), with
    /// the run-queue entry's reference, which `blame` takes over if the poll
    /// panics.
    polling: Cell<Option<NonNull<Header>>>,
    /// Timers and I/O: points into the `Executor`'s box; owner thread only,
    /// while the executor lives.
    driver: NonNull<Driver>,
    /// Woken when the last unfinished task completes ([`poll_no_tasks`]).
    idle_waiter: Cell<Option<LocalWaker>>,
    /// Hosted on another runtime ([`host`]): set while the hosted executor
    /// waits with nothing to run, so the next local wake also wakes
    /// `host_waker`. One load and branch per local wake otherwise.
    host_parked: Cell<bool>,
    /// The hosting task's `Waker` while `host_parked`; owner thread only.
    host_waker: Cell<Option<Waker>>,
    /// What the executor counts; written on the owner thread only, read from
    /// anywhere (see [`metrics`]).
    metrics: std::sync::Arc<Counters>,
    /// Polls longer than this count as slow; `None`: polls are not timed.
    slow_poll: Cell<Option<Duration>>,
    /// The runtime this executor is a worker of; set once, before it runs,
    /// and never changed (tasks provide references to it).
    runtime: std::cell::OnceCell<RuntimeContext>,
}

/// What the main future of `run_until` provides, as a task's header does.
struct MainProvider<'a> {
    /// The main future's identity (its address, while `run_until` runs).
    anchor: crate::task::Anchor,
    core: &'a Core,
}

impl hearth_task::provide::Provider for MainProvider<'_> {
    fn provide<'a>(&'a self, request: &mut hearth_task::provide::Request<'a>) {
        request.provide_ref(&self.anchor);
        if let Some(rt) = self.core.runtime_context() {
            request.provide_ref(rt);
        }
    }
}

/// The runtime handle and worker index a task provides to its context.
pub(crate) struct RuntimeContext {
    pub(crate) handle: crate::runtime::Handle,
    pub(crate) worker: Option<usize>,
}

// `Core` lives in an `Arc` shared by the `Executor` (owner thread) and by the
// tasks that have a thread-safe `Waker` (any thread). Other threads only ever
// touch `remote` (thread-safe). Every other field is touched only on the owner
// thread, and only while the executor is alive (tasks check `COMPLETE` first;
// the executor completes every task when it drops). When the executor drops it
// empties the run queue, the task list and the idle waiter, so if the last
// `Arc` goes on another thread, dropping `Core` there drops only empty
// containers.
// SAFETY: by the above, `Core` may be sent and shared.
unsafe impl Send for Core {}
// SAFETY: as above.
unsafe impl Sync for Core {}

impl Core {
    /// The executor's timers and reactor. Owner thread only: every caller
    /// reaches the core through `CURRENT` or the `Executor`.
    #[inline]
    pub(crate) fn driver(&self) -> &Driver {
        // SAFETY: the `Executor` owns the driver and outlives every use on the
        // owner thread (`CURRENT` is set only inside its `run_*`); other
        // threads never call this (they touch `remote` only).
        unsafe { self.driver.as_ref() }
    }

    /// Sleeps until a timer, an I/O event or a remote wake.
    fn park(&self) {
        Counters::add(&self.metrics.parks, 1);
        // Idle: task memory kept for a burst goes back to the allocator.
        #[cfg(not(loom))]
        memory::trim();
        self.driver().park(&self.remote);
    }

    #[inline]
    pub(crate) fn push_ready(&self, task: TaskRef) {
        self.run_queue.push(task);
        if self.host_parked.get() {
            self.wake_host();
        }
    }

    /// Wakes the task hosting this executor (hosted mode only), once per wait.
    #[cold]
    pub(crate) fn wake_host(&self) {
        self.host_parked.set(false);
        if let Some(waker) = self.host_waker.take() {
            unwind::quietly(move || waker.wake());
        }
    }

    #[inline]
    fn pop_ready(&self) -> Option<TaskRef> {
        self.run_queue.pop()
    }

    /// Marks a finished task complete and drops the table's reference, if
    /// it is listed. Once per task.
    ///
    /// The bookkeeping comes first (unlinked, `COMPLETE`, idle waiter taken);
    /// the user code it triggers (output drop, join waiter's and idle
    /// waiter's wakes) runs after, with its panics discarded.
    fn complete(&self, task: &TaskRef, outcome: Outcome) {
        let index = task.slab_index();
        let list_ref = (index != UNLISTED).then(|| {
            task.set_slab_index(UNLISTED);
            self.tasks.remove(index)
        });
        let alive = self.alive.get() - 1;
        self.alive.set(alive);
        self.metrics.completed(alive);
        task.span().completed(outcome);
        let idle = if alive == 0 {
            self.idle_waiter.take()
        } else {
            None
        };
        task.mark_complete();
        drop(list_ref);
        if let Some(waiter) = idle {
            unwind::quietly(move || waiter.wake());
        }
    }

    /// Cancels and completes every task, then empties the run queue (see
    /// [`Executor`]'s `Drop`). Safe to call again after a panic unwound out
    /// of it half way.
    fn shut_down(&self) {
        self.remote.close();
        // It may be the main future's waker, which holds the core: drop it
        // here, or the two would keep each other alive.
        if let Some(waiter) = self.idle_waiter.take() {
            unwind::quietly(move || drop(waiter));
        }
        self.host_parked.set(false);
        if let Some(host) = self.host_waker.take() {
            unwind::quietly(move || drop(host));
        }
        // Dropping a future may spawn more tasks: sweep until none is left.
        while self.tasks.len() > 0 || self.run_queue.len() > 0 {
            for index in 0..self.tasks.slots() {
                if let Some(task) = self.tasks.get(index) {
                    if task.state() & COMPLETE == 0 {
                        task.cancel_now();
                    }
                    self.complete(&task, Outcome::Cancelled);
                }
            }
            // A task that never returned `Pending` is not listed: its
            // run-queue entry is the executor's only reference to it.
            while let Some(task) = self.run_queue.pop() {
                if task.state() & COMPLETE == 0 {
                    task.cancel_now();
                    self.complete(&task, Outcome::Cancelled);
                }
            }
        }
        debug_assert_eq!(
            self.alive.get(),
            0,
            "an incomplete task was neither listed nor queued"
        );
    }

    /// The runtime this executor works for, if any.
    pub(crate) fn runtime_context(&self) -> Option<&RuntimeContext> {
        self.runtime.get()
    }

    fn spawn<F: Future + 'static>(&self, future: F, at: SpawnedAt) -> JoinHandle<F::Output> {
        let span = TaskSpan::new(at, || self.metrics.spawned_count() + 1);
        let task = TaskRef::new(future, self.this.get(), span);
        task.set_state(SCHEDULED);
        // Not listed yet: the run-queue entry holds it until its first poll.
        let alive = self.alive.get() + 1;
        self.alive.set(alive);
        self.metrics.spawned(alive);
        self.push_ready(task.clone());
        JoinHandle::new(task)
    }

    /// Runs one task from the run queue entry `task`.
    #[inline]
    fn run_task(&self, task: TaskRef) {
        task.clear_state(SCHEDULED);
        if task.state() & (COMPLETE | RUNNING) != 0 {
            // `tick` counted this entry as a poll.
            Counters::add(&self.metrics.polls, u64::MAX); // wrapping: minus one
            return;
        }
        coop::refill();
        // The entry's reference is only borrowed while the future runs: if
        // the poll panics, the unwinding leaves it to `blame`, which needs
        // the task alive (it may be held by nothing else yet). Declared
        // before the span, so the span ends first.
        let mut entry = RunEntry {
            task: core::mem::ManuallyDrop::new(task),
            running: false,
        };
        // Entered until the task's bookkeeping is done (the entry outlives it).
        let _span = entry.task.span().enter();
        let started = self
            .slow_poll
            .get()
            .map(|threshold| (threshold, Instant::now()));
        entry.running = true;
        self.polling.set(Some(entry.task.ptr()));
        let done = entry.task.run();
        self.polling.set(None);
        entry.running = false;
        let task: &TaskRef = &entry.task;
        if !done && task.slab_index() == UNLISTED {
            // Its first `Pending`: from now on only wakers may hold it.
            task.set_slab_index(self.tasks.insert(task.clone()));
        }
        if !coop::has_budget_remaining() {
            Counters::add(&self.metrics.budget_forced_yields, 1);
        }
        if let Some((threshold, start)) = started {
            let took = start.elapsed();
            if took > threshold {
                self.slow_poll(task, took, threshold);
            }
        }
        task.span().polled(done);
        if done {
            let outcome = if task.state() & CANCELLED != 0 {
                Outcome::Cancelled
            } else {
                Outcome::Finished
            };
            self.complete(task, outcome);
        }
    }

    #[cold]
    fn slow_poll(&self, task: &TaskRef, took: Duration, threshold: Duration) {
        Counters::add(&self.metrics.slow_polls, 1);
        task.span().slow_poll(took, threshold);
    }

    /// Schedules every task woken from another thread.
    fn take_remote_wakes(&self) {
        let mut woken = 0;
        while let Some(wake) = self.remote.pop() {
            wake.run();
            woken += 1;
        }
        if woken > 0 {
            Counters::add(&self.metrics.remote_wakes, woken);
        }
    }

    /// Runs the tasks that were ready when the tick began. Returns how many
    /// there were.
    ///
    /// Panics of task futures are caught here, once around the whole batch
    /// rather than around every poll (`catch_unwind` costs on every call): the
    /// task that was being polled gets the panic as its result and the batch
    /// goes on with the next task.
    fn tick(&self) -> usize {
        let n = self.run_queue.len();
        // Counts the batch's polls up front: no per-poll counting.
        self.metrics.tick(n);
        let mut left = n;
        while left > 0 {
            let batch = catch_unwind(AssertUnwindSafe(|| {
                while left > 0 {
                    left -= 1;
                    let Some(task) = self.pop_ready() else {
                        left = 0;
                        break;
                    };
                    self.run_task(task);
                }
            }));
            if let Err(payload) = batch {
                self.blame(payload);
            }
        }
        n
    }

    /// Gives a panic that unwound out of a batch to the task whose poll it
    /// came from; re-raises a panic from anywhere else (a broken waker).
    #[cold]
    fn blame(&self, payload: Box<dyn std::any::Any + Send>) {
        let Some(ptr) = self.polling.take() else {
            std::panic::resume_unwind(payload);
        };
        // SAFETY: the task was being polled, so it is incomplete, and the
        // run-queue entry's reference that `run_task` held in a `RunEntry`
        // (`running`) was not dropped by the unwinding: it is ours now.
        let task = unsafe { TaskRef::from_raw(ptr) };
        task.fail(payload);
        self.complete(&task, Outcome::Panicked);
    }

    fn has_ready(&self) -> bool {
        self.run_queue.len() > 0
    }
}

/// A run queue entry's task reference while `run_task` runs it: dropped
/// with the entry, except while the future runs (`running`): a poll that
/// unwinds leaves the reference to `blame`.
struct RunEntry {
    task: core::mem::ManuallyDrop<TaskRef>,
    running: bool,
}

impl Drop for RunEntry {
    fn drop(&mut self) {
        if !self.running {
            // SAFETY: the only drop of `task`, here, once.
            unsafe { core::mem::ManuallyDrop::drop(&mut self.task) };
        }
    }
}

/// Enters `core` as this thread's current executor for the guard's life.
struct Enter {
    prev: *const Core,
    _budget: coop::Restore,
}

impl Enter {
    fn new(core: &Core) -> Enter {
        assert!(
            !core.running.replace(true),
            "hearth: Executor::run_until (or block_on) was called from inside the same executor; \
             spawn the work with spawn_local and await its JoinHandle instead"
        );
        Enter {
            prev: CURRENT.with(|c| c.replace(core)),
            _budget: coop::enter(),
        }
    }
}

impl Drop for Enter {
    fn drop(&mut self) {
        let core = CURRENT.with(|c| c.replace(self.prev));
        // SAFETY: set in `new` from a live `Core` that outlives the guard.
        unsafe { &*core }.running.set(false);
    }
}

/// The main future's wake target: a flag, locally or from any thread.
struct MainWake {
    woken: Cell<bool>,
}

impl DualWake for MainWake {
    type Shared = Arc<Core>;
    fn wake_local(this: &DualRc<Self>) {
        this.woken.set(true);
    }
    fn wake_remote(core: &Arc<Core>, _: &Waker) {
        core.remote.wake_main();
    }
}

/// A single-threaded executor; tasks may be `!Send`.
///
/// Every task's `Waker` is a dual waker: woken through `cx.local_waker()` or on
/// this thread it schedules the task with plain memory operations; woken on
/// another thread it queues the wake to this executor and unparks it.
///
/// # Examples
///
/// ```
/// use std::rc::Rc;
/// use std::cell::Cell;
///
/// let executor = hearth::Executor::new();
/// let hits = Rc::new(Cell::new(0)); // !Send state is fine
/// for _ in 0..10 {
///     let hits = hits.clone();
///     executor.spawn_local(async move { hits.set(hits.get() + 1) });
/// }
/// executor.run_until_idle();
/// assert_eq!(hits.get(), 10);
/// ```
pub struct Executor {
    core: Arc<Core>,
    /// The executor and its tasks stay on this thread.
    _not_send: core::marker::PhantomData<*const ()>,
    /// Timers and I/O (the core points here). An `Rc`, not a `Box`: a box
    /// asserts unique access when moved, which the core's pointer would break.
    _driver: std::rc::Rc<Driver>,
}

impl Executor {
    /// Creates an executor for the calling thread.
    ///
    /// Its I/O reactor, created with its first socket, uses
    /// [`IoDriver::Auto`](crate::runtime::IoDriver::Auto).
    pub fn new() -> Executor {
        Executor::with_counters(std::sync::Arc::default(), IoDriver::Auto)
    }

    /// Creates an executor for the calling thread whose I/O reactor uses
    /// `driver` (`Auto` is resolved now; see
    /// [`IoDriver`](crate::runtime::IoDriver)).
    ///
    /// # Errors
    ///
    /// As [`IoDriver::resolve`]: io_uring asked for where it is not
    /// available, or a bad `HEARTH_DRIVER` value.
    ///
    /// ```
    /// use hearth::runtime::IoDriver;
    ///
    /// let executor = hearth::Executor::with_io_driver(IoDriver::Epoll)?;
    /// assert_eq!(executor.io_driver(), IoDriver::Epoll);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn with_io_driver(driver: IoDriver) -> std::io::Result<Executor> {
        Ok(Executor::with_counters(
            std::sync::Arc::default(),
            driver.resolve()?,
        ))
    }

    /// The I/O driver of this executor's reactor: `Epoll` or `IoUring` once
    /// resolved (at [`with_io_driver`](Self::with_io_driver) or at the first
    /// socket), `Auto` for an executor from [`new`](Self::new) that has not
    /// opened one yet.
    pub fn io_driver(&self) -> IoDriver {
        self.core.driver().io_driver()
    }

    /// An executor that keeps its counts in `metrics` (a runtime's worker
    /// shares them with its `Handle`).
    pub(crate) fn with_counters(
        metrics: std::sync::Arc<Counters>,
        io_driver: IoDriver,
    ) -> Executor {
        crate::sync_timer::install();
        let driver = std::rc::Rc::new(Driver::new(io_driver));
        let executor = Executor {
            core: Arc::new(Core {
                driver: NonNull::from(&*driver),
                this: Cell::new(ptr::null()),
                run_queue: queue::RunQueue::new(),
                tasks: slab::TaskSlab::new(),
                alive: Cell::new(0),
                remote: Remote::new(crate::sync_shim::current()),
                running: Cell::new(false),
                polling: Cell::new(None),
                idle_waiter: Cell::new(None),
                host_parked: Cell::new(false),
                host_waker: Cell::new(None),
                metrics,
                slow_poll: Cell::new(None),
                runtime: std::cell::OnceCell::new(),
            }),
            _driver: driver,
            _not_send: core::marker::PhantomData,
        };
        executor.core.this.set(Arc::as_ptr(&executor.core));
        executor
    }

    /// Makes this executor a worker of the runtime `handle` (index
    /// `worker`): its tasks provide both through their context. Once.
    pub(crate) fn set_runtime(&self, handle: crate::runtime::Handle, worker: Option<usize>) {
        let _ = self.core.runtime.set(RuntimeContext { handle, worker });
    }

    /// Spawns a task on this executor. It runs when the executor runs
    /// ([`run_until`](Self::run_until), [`run_until_idle`](Self::run_until_idle)).
    ///
    /// One allocation per task: header, future and output together.
    #[cfg_attr(feature = "tracing", track_caller)]
    pub fn spawn_local<F>(&self, future: F) -> JoinHandle<F::Output>
    where
        F: Future + 'static,
        F::Output: 'static,
    {
        self.core.spawn(future, SpawnedAt::caller())
    }

    /// A snapshot of this executor's counters: tasks, polls, run-queue
    /// depth, remote wakes, budget exhaustions, slow polls, parks. Cheap
    /// (a few loads); see [`ExecutorMetrics`].
    ///
    /// ```
    /// let executor = hearth::Executor::new();
    /// let handle = executor.spawn_local(async { 1 + 1 });
    /// assert_eq!(executor.metrics().alive_tasks, 1);
    /// executor.run_until_idle();
    /// let m = executor.metrics();
    /// assert_eq!((m.spawned_tasks, m.alive_tasks, m.polls), (1, 0, 1));
    /// assert!(handle.is_finished());
    /// ```
    pub fn metrics(&self) -> ExecutorMetrics {
        self.core.metrics.snapshot()
    }

    /// Times every task poll from now on, and counts a poll longer than
    /// `threshold` as slow ([`ExecutorMetrics::slow_polls`]; with the
    /// `tracing` feature it also emits a `WARN` event inside the task's
    /// span). `None` (the default) stops timing.
    ///
    /// A slow poll holds up every other task of the thread: it is a task
    /// that blocks (a blocking call, a long computation) instead of
    /// awaiting. Timing costs two clock reads per poll, so it is off unless
    /// asked for.
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let executor = hearth::Executor::new();
    /// executor.set_slow_poll_threshold(Some(Duration::from_millis(5)));
    /// executor.spawn_local(async { std::thread::sleep(Duration::from_millis(10)) });
    /// executor.spawn_local(async {});
    /// executor.run_until_idle();
    /// assert_eq!(executor.metrics().slow_polls, 1);
    /// ```
    pub fn set_slow_poll_threshold(&self, threshold: Option<Duration>) {
        self.core.slow_poll.set(threshold);
    }

    /// Runs the executor until `future` completes, and returns its output.
    ///
    /// `future` need not be `'static` or `Send`; spawned tasks run meanwhile.
    ///
    /// # Panics
    ///
    /// If called from inside this executor (a task calling `run_until` or
    /// `block_on` on its own executor).
    pub fn run_until<F: Future>(&self, future: F) -> F::Output {
        let core = &*self.core;
        let _enter = Enter::new(core);
        let mut future = pin!(future);
        let main = DualRc::new(
            MainWake {
                woken: Cell::new(true),
            },
            self.core.clone(),
        );
        let waker = main.waker_ref();
        // The main future is not a task, but provides what a task does.
        let provider = MainProvider {
            anchor: crate::task::Anchor::new(),
            core,
        };
        loop {
            let mut polled = 0;
            let remote_wake = core.remote.take_main_woken();
            if remote_wake {
                Counters::add(&core.metrics.remote_wakes, 1);
            }
            if main.woken.replace(false) | remote_wake {
                let cx = hearth_task::context_from_waker(&waker);
                coop::refill();
                let poll =
                    hearth_task::provide::with(&cx, &provider, |cx| future.as_mut().poll(cx));
                if let Poll::Ready(output) = poll {
                    return output;
                }
                polled = 1;
            }
            core.take_remote_wakes();
            polled += core.tick();
            if polled > 0 {
                core.driver().maintain(polled);
            } else if !main.woken.get() && !core.has_ready() {
                core.park();
            }
        }
    }

    /// Runs tasks until none is ready and no wake from another thread, due
    /// timer or I/O event is pending. Does not wait for anything.
    pub fn run_until_idle(&self) {
        let core = &*self.core;
        let _enter = Enter::new(core);
        loop {
            core.take_remote_wakes();
            if core.tick() == 0 {
                core.driver().poll_now();
                core.take_remote_wakes();
                if !core.has_ready() {
                    break;
                }
            }
        }
    }

    /// Pauses this executor's clock (`Builder::start_paused`); a no-op
    /// without `test-util`, where nothing can set that.
    pub(crate) fn pause_clock(&self) {
        #[cfg(feature = "test-util")]
        {
            let _ = self.core.driver().clock().pause();
        }
    }

    /// The number of tasks that have not finished.
    pub fn task_count(&self) -> usize {
        self.core.alive.get()
    }
}

impl Default for Executor {
    fn default() -> Self {
        Executor::new()
    }
}

impl fmt::Debug for Executor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Executor")
            .field("tasks", &self.core.alive.get())
            .field("ready", &self.core.run_queue.len())
            .field("metrics", &self.metrics())
            .finish()
    }
}

impl Drop for Executor {
    fn drop(&mut self) {
        /// Finishes the shutdown if a panic unwinds out of it: every task must
        /// be complete and the run queue empty before the core can go, or a
        /// task would reach a freed core. (Nothing in the sweep is expected to
        /// panic: user code there runs quietly. A second panic in the guard
        /// aborts the process, which is still better than a use after free.)
        struct Finish<'a>(&'a Core);
        impl Drop for Finish<'_> {
            fn drop(&mut self) {
                self.0.shut_down();
            }
        }
        let finish = Finish(&self.core);
        finish.0.shut_down();
        core::mem::forget(finish);
        #[cfg(not(loom))]
        memory::trim();
    }
}

/// Runs `f` on the executor running on this thread, if any.
pub(crate) fn with_current<R>(f: impl FnOnce(&Core) -> R) -> Option<R> {
    CURRENT.with(|c| {
        let core = c.get();
        // SAFETY: non-null only inside `run_until`/`run_until_idle` of a live
        // executor on this thread.
        (!core.is_null()).then(|| f(unsafe { &*core }))
    })
}

/// `Ready` when the executor running on this thread (if any) has no
/// unfinished task; otherwise the caller's local waker is woken when the last
/// one completes. One waiter at a time (the runtime's worker loop): a later
/// registration replaces the earlier one.
pub(crate) fn poll_no_tasks(cx: &mut Context<'_>) -> Poll<()> {
    with_current(|core| {
        if core.alive.get() == 0 {
            Poll::Ready(())
        } else {
            core.idle_waiter
                .set(Some(ContextExt::local_waker(cx).clone()));
            Poll::Pending
        }
    })
    .unwrap_or(Poll::Ready(()))
}

/// Spawns a task on the executor running on this thread.
///
/// # Panics
///
/// If no hearth executor is running on this thread (call it from a task, or
/// from inside [`block_on`] / [`Executor::run_until`]; or use
/// [`Executor::spawn_local`]).
///
/// ```
/// hearth::block_on(async {
///     let a = hearth::spawn_local(async { 1 });
///     let b = hearth::spawn_local(async { 2 });
///     assert_eq!(a.await.unwrap() + b.await.unwrap(), 3);
/// });
/// ```
#[cfg_attr(feature = "tracing", track_caller)]
pub fn spawn_local<F>(future: F) -> JoinHandle<F::Output>
where
    F: Future + 'static,
    F::Output: 'static,
{
    let at = SpawnedAt::caller();
    with_current(|core| core.spawn(future, at)).unwrap_or_else(|| {
        panic!(
            "hearth::spawn_local called outside of a hearth executor; call it from a task or from \
             inside hearth::block_on / Executor::run_until, or use Executor::spawn_local"
        )
    })
}

/// Runs `future` to completion on a new executor on this thread.
///
/// Tasks spawned meanwhile run too; those still unfinished when `future`
/// completes are dropped with the executor.
///
/// ```
/// assert_eq!(hearth::block_on(async { 1 + 1 }), 2);
/// ```
pub fn block_on<F: Future>(future: F) -> F::Output {
    Executor::new().run_until(future)
}

/// Yields to the executor once: the task goes to the back of the run queue.
///
/// ```
/// hearth::block_on(async {
///     hearth::yield_now().await;
/// });
/// ```
pub async fn yield_now() {
    let mut yielded = false;
    core::future::poll_fn(move |cx| {
        if yielded {
            return Poll::Ready(());
        }
        yielded = true;
        ContextExt::local_waker(cx).wake_by_ref();
        Poll::Pending
    })
    .await
}
