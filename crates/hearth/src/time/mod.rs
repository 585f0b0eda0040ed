//! Time: [`sleep`], [`sleep_until`], [`timeout`], [`interval`] on the
//! executor's timer wheel.
//!
//! Each executor has its own timer wheel (hierarchical, six levels of 64
//! slots, 1 ms per tick), created on its first timer. A [`Sleep`] registers
//! its task's *local* waker there (`ContextExt::local_waker`, no clone when the
//! same task polls again), so firing a timer is a local wake: no atomics. The
//! executor sleeps until the next timer is due (in `epoll_wait` if it does
//! I/O, in a thread park otherwise).
//!
//! Guarantees: a timer never fires before its deadline (deadlines are rounded
//! *up* to the next millisecond); timers that come due together wake their
//! tasks in deadline order; dropping a [`Sleep`] cancels it in O(1)
//! (amortized: a wheel slot is compacted once its cancelled timers
//! outnumber its live ones twice over).
//!
//! Timers must be polled inside a hearth executor (a task, [`block_on`],
//! [`Executor::run_until`]); they may be created anywhere.
//!
//! ```
//! use std::time::Duration;
//! use hearth::time::{sleep, timeout, Instant};
//!
//! hearth::block_on(async {
//!     let start = Instant::now();
//!     sleep(Duration::from_millis(10)).await;
//!     assert!(start.elapsed() >= Duration::from_millis(10));
//!
//!     let slow = sleep(Duration::from_secs(60));
//!     assert!(timeout(Duration::from_millis(5), slow).await.is_err());
//! });
//! ```
//!
//! # A paused clock for tests (feature `test-util`)
//!
//! Every executor reads one clock (`clock.rs`): its timers, and
//! [`Instant::now`] on its thread. Without `test-util` that clock is
//! `std::time::Instant::now()` and costs nothing more. With it, tests can
//! stop it and move it by hand, as with tokio's `test-util`:
//!
//! - `pause()` freezes the executor's [`Instant::now`]; `advance(d)` moves
//!   it by exactly `d` and fires the timers it passed; `resume()` lets it
//!   run on from there;
//! - *auto-advance*: a paused executor with nothing to run, no remote wake
//!   pending and no I/O event ready jumps to its next timer instead of
//!   waiting;
//! - `#[hearth::test(start_paused = true)]` (or `Builder::start_paused`)
//!   starts every executor of the test's runtime paused.
//!
//! [`sleep`], [`timeout`], [`interval`] (every [`MissedTickBehavior`]) and
//! [`Sleep::is_elapsed`] follow the paused clock. Each worker of a runtime
//! has its own clock; see `pause` for what that means with several workers.
//!
//! ```
//! # #[cfg(feature = "test-util")]
//! # {
//! use hearth::time::{self, Duration, Instant};
//!
//! hearth::block_on(async {
//!     time::pause();
//!     let start = Instant::now();
//!     // A day passes at once: nothing else is pending, so the clock jumps.
//!     time::sleep(Duration::from_secs(86_400)).await;
//!     assert_eq!(start.elapsed(), Duration::from_secs(86_400));
//! });
//! # }
//! ```
//!
//! # Differences from tokio
//!
//! - [`Instant`] is a newtype of `std::time::Instant`, as tokio's; before
//!   the paused clock existed it was std's, re-exported. Convert with
//!   `Instant::from_std`/`into_std` or `From`.
//! - With `test-util`, each executor has its own clock, so `pause` works on
//!   any executor, also a multi-worker runtime's workers (each pauses and
//!   auto-advances alone); tokio allows pausing only on a `current_thread`
//!   runtime. Outside an executor, `Instant::now` reads the system clock
//!   and `pause`/`resume`/`advance` panic.
//! - `advance` fires the timers it passed before it yields, so a `sleep`
//!   it passed completes on its next poll (tokio: "not guaranteed to
//!   complete the first time they are polled after a call to advance").
//! - Auto-advance is not held back while blocking-pool jobs run
//!   (`spawn_blocking`, `hearth::fs`): tokio holds it back until they
//!   finish. Here a paused executor waiting for such a job with a timer
//!   pending moves its clock to that timer; await the job first.
//! - A hosted executor (`compat::tokio`) never auto-advances: the host's
//!   own tasks are invisible to it. Its paused clock moves by `advance`
//!   only.
//! - [`Sleep::is_elapsed`] reads the clock: it is `true` as soon as the
//!   deadline is reached, also before the first poll (so `sleep_until(now)`
//!   is elapsed at once). tokio's reports whether its timer driver has fired
//!   the entry, which is `false` until the sleep was registered and processed.
//! - [`Sleep`] is `Unpin` (tokio's is not), so it can be polled without
//!   pinning; code written for tokio's `Pin<&mut Sleep>` works unchanged.
//! - Timers belong to the executor that first polls them; polling a
//!   [`Sleep`] outside a hearth executor panics (tokio: outside a runtime with
//!   the time driver enabled).
//!
//! [`block_on`]: crate::block_on
//! [`Executor::run_until`]: crate::Executor::run_until

pub(crate) mod clock;
mod deadline;
pub(crate) mod driver;
mod instant;
mod wheel;

pub(crate) use deadline::timed_out;
pub use deadline::{deadline, When, WithDeadline};

use core::fmt;
use core::future::Future;
use core::pin::Pin;
use core::task::{Context, Poll};
use std::rc::Rc;

use hearth_task::ContextExt;

use crate::executor::{coop, with_current};
use driver::TimeDriver;
use wheel::Key;

pub use instant::Instant;

/// A span of time: `std::time::Duration`, re-exported (as tokio does).
///
/// ```
/// use hearth::time::Duration;
/// assert_eq!(Duration::from_millis(1500).as_secs_f64(), 1.5);
/// ```
pub use std::time::Duration;

const NO_EXECUTOR: &str = "hearth::time: a timer was polled outside of a hearth executor \
     (there is no timer wheel on this thread); await it inside hearth::block_on, \
     Executor::run_until or a task spawned with spawn_local";

/// About 30 years: what `Instant + Duration` saturates to.
fn far_future() -> Instant {
    Instant::now() + Duration::from_secs(86_400 * 365 * 30)
}

fn after(start: Instant, d: Duration) -> Instant {
    start.checked_add(d).unwrap_or_else(far_future)
}

/// Waits until `duration` has elapsed.
///
/// Equivalent to `sleep_until(Instant::now() + duration)`. The resolution
/// is one millisecond; the sleep never ends early. Durations too large to
/// represent sleep about 30 years.
///
/// # Panics
///
/// When polled outside a hearth executor.
///
/// ```
/// use std::time::Duration;
/// hearth::block_on(async {
///     hearth::time::sleep(Duration::from_millis(1)).await;
/// });
/// ```
pub fn sleep(duration: Duration) -> Sleep {
    sleep_until(after(Instant::now(), duration))
}

/// Waits until `deadline` is reached.
///
/// # Panics
///
/// When polled outside a hearth executor.
///
/// ```
/// use std::time::Duration;
/// use hearth::time::{sleep_until, Instant};
/// hearth::block_on(async {
///     let deadline = Instant::now() + Duration::from_millis(2);
///     sleep_until(deadline).await;
///     assert!(Instant::now() >= deadline);
/// });
/// ```
pub fn sleep_until(deadline: Instant) -> Sleep {
    Sleep {
        deadline,
        entry: None,
    }
}

/// The future of [`sleep`] and [`sleep_until`].
///
/// It registers with the timer wheel of the executor that polls it, on its
/// first poll. Dropping it cancels the timer in O(1) (amortized). It is
/// `Unpin`.
///
/// ```
/// use std::time::Duration;
/// hearth::block_on(async {
///     let sleep = hearth::time::sleep(Duration::from_millis(1));
///     let deadline = sleep.deadline();
///     sleep.await;
///     assert!(hearth::time::Instant::now() >= deadline);
/// });
/// ```
pub struct Sleep {
    deadline: Instant,
    /// The wheel entry, once registered.
    entry: Option<(Rc<TimeDriver>, Key)>,
}

impl Sleep {
    /// The instant at which the sleep completes.
    ///
    /// ```
    /// use std::time::Duration;
    /// use hearth::time::{sleep_until, Instant};
    /// let at = Instant::now() + Duration::from_secs(1);
    /// assert_eq!(sleep_until(at).deadline(), at);
    /// ```
    pub fn deadline(&self) -> Instant {
        self.deadline
    }

    /// Returns `true` if the deadline has been reached.
    ///
    /// This reads the clock, unlike tokio's (see the module's differences
    /// from tokio): a sleep whose deadline is now or past is elapsed before
    /// its first poll.
    ///
    /// ```
    /// use std::time::Duration;
    /// let sleep = hearth::time::sleep(Duration::ZERO);
    /// assert!(sleep.is_elapsed());
    /// ```
    pub fn is_elapsed(&self) -> bool {
        Instant::now() >= self.deadline
    }

    /// Moves the deadline to `deadline`, whether or not the sleep has
    /// completed. A task waiting on it is woken at the new deadline.
    ///
    /// ```
    /// use std::pin::Pin;
    /// use std::time::Duration;
    /// use hearth::time::{sleep, Instant};
    /// hearth::block_on(async {
    ///     let mut s = sleep(Duration::from_secs(3600));
    ///     Pin::new(&mut s).reset(Instant::now() + Duration::from_millis(1));
    ///     s.await;
    /// });
    /// ```
    pub fn reset(self: Pin<&mut Self>, deadline: Instant) {
        let this = self.get_mut();
        this.deadline = deadline;
        if let Some((driver, key)) = &this.entry {
            driver.reset(*key, deadline.into_std());
        }
    }
}

impl Future for Sleep {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.get_mut();
        let waker = ContextExt::local_waker(cx);
        let fired = with_current(|core| {
            let time = core.driver().time();
            match &this.entry {
                Some((driver, key)) if Rc::ptr_eq(driver, time) => driver.poll(*key, waker),
                _ => {
                    // First poll, or polled by another executor than before.
                    if let Some((driver, key)) = this.entry.take() {
                        driver.remove(key);
                    }
                    match time.insert(this.deadline.into_std(), waker) {
                        None => true,
                        Some(key) => {
                            this.entry = Some((time.clone(), key));
                            false
                        }
                    }
                }
            }
        })
        .unwrap_or_else(|| panic!("{NO_EXECUTOR}"));
        if fired {
            coop::poll_proceed(cx).map(coop::Progress::made_progress)
        } else {
            Poll::Pending
        }
    }
}

impl Drop for Sleep {
    fn drop(&mut self) {
        if let Some((driver, key)) = self.entry.take() {
            driver.remove(key);
        }
    }
}

impl fmt::Debug for Sleep {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sleep")
            .field("deadline", &self.deadline)
            .field("registered", &self.entry.is_some())
            .finish()
    }
}

/// The error of [`timeout`]: the deadline elapsed before the future completed.
///
/// ```
/// use std::time::Duration;
/// hearth::block_on(async {
///     let never = std::future::pending::<()>();
///     let err = hearth::time::timeout(Duration::from_millis(1), never).await.unwrap_err();
///     assert_eq!(err.to_string(), "deadline has elapsed");
///     let io: std::io::Error = err.into();
///     assert_eq!(io.kind(), std::io::ErrorKind::TimedOut);
/// });
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Elapsed(());

impl fmt::Display for Elapsed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("deadline has elapsed")
    }
}

impl std::error::Error for Elapsed {}

impl From<Elapsed> for std::io::Error {
    fn from(e: Elapsed) -> std::io::Error {
        std::io::Error::new(std::io::ErrorKind::TimedOut, e)
    }
}

/// Runs `future` for at most `duration`: its output, or [`Elapsed`].
///
/// The future is polled first, so one that is ready at once completes even
/// with a zero duration. Dropping the [`Timeout`] drops the future and
/// cancels the timer.
///
/// ```
/// use std::time::Duration;
/// use hearth::time::timeout;
/// hearth::block_on(async {
///     assert_eq!(timeout(Duration::from_secs(1), async { 7 }).await, Ok(7));
///     let slow = hearth::time::sleep(Duration::from_secs(60));
///     assert!(timeout(Duration::from_millis(1), slow).await.is_err());
/// });
/// ```
pub fn timeout<F: Future>(duration: Duration, future: F) -> Timeout<F> {
    timeout_at(after(Instant::now(), duration), future)
}

/// Runs `future` until `deadline`: its output, or [`Elapsed`].
///
/// ```
/// use std::time::Duration;
/// use hearth::time::{timeout_at, Instant};
/// hearth::block_on(async {
///     let deadline = Instant::now() + Duration::from_millis(1);
///     assert!(timeout_at(deadline, std::future::pending::<()>()).await.is_err());
/// });
/// ```
pub fn timeout_at<F: Future>(deadline: Instant, future: F) -> Timeout<F> {
    Timeout {
        value: future,
        delay: sleep_until(deadline),
    }
}

/// The future of [`timeout`] and [`timeout_at`].
///
/// ```
/// use std::time::Duration;
/// let t = hearth::time::timeout(Duration::from_secs(1), async { 1 });
/// assert_eq!(hearth::block_on(t), Ok(1));
/// ```
#[must_use = "futures do nothing unless polled"]
pub struct Timeout<F> {
    /// Structurally pinned.
    value: F,
    delay: Sleep,
}

impl<F> Timeout<F> {
    /// The wrapped future.
    ///
    /// ```
    /// use std::time::Duration;
    /// let t = hearth::time::timeout(Duration::from_secs(1), std::future::ready(3));
    /// let _inner: &std::future::Ready<i32> = t.get_ref();
    /// ```
    pub fn get_ref(&self) -> &F {
        &self.value
    }

    /// The wrapped future, mutably (only for `Unpin` futures: it is pinned).
    ///
    /// ```
    /// use std::time::Duration;
    /// let mut t = hearth::time::timeout(Duration::from_secs(1), std::future::ready(3));
    /// let _inner: &mut std::future::Ready<i32> = t.get_mut();
    /// ```
    pub fn get_mut(&mut self) -> &mut F
    where
        F: Unpin,
    {
        &mut self.value
    }

    /// Drops the timer and returns the wrapped future.
    ///
    /// ```
    /// use std::time::Duration;
    /// let t = hearth::time::timeout(Duration::from_secs(1), async { 5 });
    /// assert_eq!(hearth::block_on(t.into_inner()), 5);
    /// ```
    pub fn into_inner(self) -> F {
        self.value
    }
}

impl<F: Future> Future for Timeout<F> {
    type Output = Result<F::Output, Elapsed>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        // `value` is structurally pinned: it is never moved out of a pinned
        // `Timeout` (`into_inner` takes `self` by value, which needs
        // `Timeout: Unpin`, i.e. `F: Unpin`; `get_mut` needs `F: Unpin`),
        // `Timeout` has no `Drop` impl, and `delay` is `Unpin`.
        // SAFETY: by the above, projecting the pin is sound.
        let this = unsafe { self.get_unchecked_mut() };
        // SAFETY: see above.
        let value = unsafe { Pin::new_unchecked(&mut this.value) };
        if let Poll::Ready(v) = value.poll(cx) {
            return Poll::Ready(Ok(v));
        }
        // A deadline in scope that comes first ends this timeout then.
        if let Some(at) = deadline::deadline_at(cx) {
            if at < this.delay.deadline() {
                Pin::new(&mut this.delay).reset(at);
            }
        }
        match Pin::new(&mut this.delay).poll(cx) {
            Poll::Ready(()) => Poll::Ready(Err(Elapsed(()))),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl<F> fmt::Debug for Timeout<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Timeout")
            .field("deadline", &self.delay.deadline)
            .finish_non_exhaustive()
    }
}

/// What an [`Interval`] does when ticks were missed (the task was late by
/// more than 5 ms).
///
/// ```
/// use std::time::Duration;
/// use hearth::time::{interval, MissedTickBehavior};
/// let mut i = interval(Duration::from_millis(10));
/// i.set_missed_tick_behavior(MissedTickBehavior::Skip);
/// assert_eq!(i.missed_tick_behavior(), MissedTickBehavior::Skip);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MissedTickBehavior {
    /// Ticks as fast as possible until caught up, keeping the original
    /// schedule (`start + k * period`).
    #[default]
    Burst,
    /// The next tick is one period after the late tick was taken: the
    /// schedule shifts.
    Delay,
    /// Skips the missed ticks: the next tick is the next multiple of the
    /// period on the original schedule.
    Skip,
}

impl MissedTickBehavior {
    fn next_timeout(self, timeout: Instant, now: Instant, period: Duration) -> Instant {
        match self {
            MissedTickBehavior::Burst => after(timeout, period),
            MissedTickBehavior::Delay => after(now, period),
            MissedTickBehavior::Skip => {
                let late =
                    u64::try_from((now - timeout).as_nanos() % period.as_nanos()).unwrap_or(0);
                after(now, period - Duration::from_nanos(late))
            }
        }
    }
}

/// Ticks every `period`; the first tick completes at once.
///
/// # Panics
///
/// If `period` is zero (a contract violation: an interval must advance).
///
/// ```
/// use std::time::Duration;
/// hearth::block_on(async {
///     let mut ticks = hearth::time::interval(Duration::from_millis(2));
///     let first = ticks.tick().await;
///     let second = ticks.tick().await;
///     assert!(second - first >= Duration::from_millis(2));
/// });
/// ```
pub fn interval(period: Duration) -> Interval {
    interval_at(Instant::now(), period)
}

/// Ticks every `period`, the first time at `start`.
///
/// # Panics
///
/// If `period` is zero.
///
/// ```
/// use std::time::Duration;
/// use hearth::time::{interval_at, Instant};
/// hearth::block_on(async {
///     let start = Instant::now() + Duration::from_millis(1);
///     let mut ticks = interval_at(start, Duration::from_millis(1));
///     assert_eq!(ticks.tick().await, start);
/// });
/// ```
pub fn interval_at(start: Instant, period: Duration) -> Interval {
    assert!(
        period > Duration::ZERO,
        "hearth::time::interval: the period must be non-zero"
    );
    Interval {
        delay: sleep_until(start),
        period,
        missed_tick_behavior: MissedTickBehavior::default(),
    }
}

/// A stream of ticks, from [`interval`] or [`interval_at`].
///
/// ```
/// use std::time::Duration;
/// hearth::block_on(async {
///     let mut i = hearth::time::interval(Duration::from_millis(1));
///     for _ in 0..3 {
///         i.tick().await;
///     }
///     assert_eq!(i.period(), Duration::from_millis(1));
/// });
/// ```
#[derive(Debug)]
pub struct Interval {
    delay: Sleep,
    period: Duration,
    missed_tick_behavior: MissedTickBehavior,
}

impl Interval {
    /// Completes at the next tick; returns the instant it was scheduled for.
    ///
    /// ```
    /// use std::time::Duration;
    /// hearth::block_on(async {
    ///     let mut i = hearth::time::interval(Duration::from_millis(1));
    ///     let t = i.tick().await;
    ///     assert!(t <= hearth::time::Instant::now());
    /// });
    /// ```
    pub async fn tick(&mut self) -> Instant {
        core::future::poll_fn(|cx| self.poll_tick(cx)).await
    }

    /// Polls for the next tick (for hand-written futures).
    ///
    /// ```
    /// use std::time::Duration;
    /// hearth::block_on(async {
    ///     let mut i = hearth::time::interval(Duration::from_millis(1));
    ///     std::future::poll_fn(|cx| i.poll_tick(cx)).await;
    /// });
    /// ```
    pub fn poll_tick(&mut self, cx: &mut Context<'_>) -> Poll<Instant> {
        if Pin::new(&mut self.delay).poll(cx).is_pending() {
            return Poll::Pending;
        }
        let timeout = self.delay.deadline();
        let now = Instant::now();
        let next = if now > after(timeout, Duration::from_millis(5)) {
            self.missed_tick_behavior
                .next_timeout(timeout, now, self.period)
        } else {
            after(timeout, self.period)
        };
        Pin::new(&mut self.delay).reset(next);
        Poll::Ready(timeout)
    }

    /// Restarts the schedule: the next tick is one period from now.
    ///
    /// ```
    /// use std::time::Duration;
    /// hearth::block_on(async {
    ///     let mut i = hearth::time::interval(Duration::from_millis(1));
    ///     i.reset();
    ///     i.tick().await;
    /// });
    /// ```
    pub fn reset(&mut self) {
        Pin::new(&mut self.delay).reset(after(Instant::now(), self.period));
    }

    /// What happens to missed ticks.
    ///
    /// ```
    /// use std::time::Duration;
    /// use hearth::time::MissedTickBehavior;
    /// let i = hearth::time::interval(Duration::from_millis(1));
    /// assert_eq!(i.missed_tick_behavior(), MissedTickBehavior::Burst);
    /// ```
    pub fn missed_tick_behavior(&self) -> MissedTickBehavior {
        self.missed_tick_behavior
    }

    /// Sets what happens to missed ticks.
    ///
    /// ```
    /// use std::time::Duration;
    /// use hearth::time::MissedTickBehavior;
    /// let mut i = hearth::time::interval(Duration::from_millis(1));
    /// i.set_missed_tick_behavior(MissedTickBehavior::Delay);
    /// ```
    pub fn set_missed_tick_behavior(&mut self, behavior: MissedTickBehavior) {
        self.missed_tick_behavior = behavior;
    }

    /// The period.
    ///
    /// ```
    /// use std::time::Duration;
    /// let i = hearth::time::interval(Duration::from_millis(3));
    /// assert_eq!(i.period(), Duration::from_millis(3));
    /// ```
    pub fn period(&self) -> Duration {
        self.period
    }
}

/// Runs `f` on the clock of the executor running on this thread.
#[cfg(feature = "test-util")]
fn with_clock<R>(f: impl FnOnce(&crate::driver::Driver) -> Result<R, &'static str>) -> R {
    match with_current(|core| f(core.driver())) {
        Some(Ok(r)) => r,
        Some(Err(msg)) => panic!("{msg}"),
        None => panic!(
            "hearth::time: the clock can only be paused, resumed or advanced inside a hearth \
             executor (a task, hearth::block_on, Executor::run_until, #[hearth::test])"
        ),
    }
}

/// Pauses time on this executor (feature `test-util`).
///
/// The current value of [`Instant::now()`] is saved, and from now on every
/// call to it on this executor returns the saved value. The saved value
/// moves only by [`advance`], or by *auto-advance*: when the executor has no
/// work to do, its clock jumps to the next pending timer. This affects
/// hearth's [`Instant`] and timers ([`sleep`], [`timeout`], [`interval`]);
/// `std::time::Instant` keeps the system's time.
///
/// To start a test with time paused, use
/// `#[hearth::test(start_paused = true)]` (or
/// [`Builder::start_paused`](crate::runtime::Builder::start_paused)).
///
/// # Auto-advance
///
/// The executor advances a paused clock only when nothing else can happen
/// first: no task is runnable (the main future included), no wake from
/// another thread is pending and no I/O event is ready (it looks at its
/// reactor without blocking first). Then the clock moves to the earliest
/// timer slot (deadlines are rounded up to the millisecond of the timer
/// wheel) and the timers due there fire. With no timer at all the executor
/// waits for I/O or wakes as usual.
///
/// # Several workers
///
/// Every executor has its own clock: a [`Runtime`](crate::Runtime)'s
/// workers and the thread of its `block_on` each have one. `pause` pauses
/// the clock of the executor it is called on only; the other workers'
/// clocks keep running (each can be paused by a task on it), and their
/// `Instant`s are not comparable with a paused one. Each paused worker
/// auto-advances on its own, when *it* has nothing to do.
/// `Builder::start_paused` pauses every executor of the runtime.
///
/// # Panics
///
/// If the clock is already paused, or if called outside a hearth executor.
///
/// ```
/// use hearth::time::{self, Duration, Instant};
///
/// hearth::block_on(async {
///     time::pause();
///     let start = Instant::now();
///     time::sleep(Duration::from_secs(3600)).await; // auto-advances: returns at once
///     assert_eq!(start.elapsed(), Duration::from_secs(3600));
/// });
/// ```
#[cfg(feature = "test-util")]
#[cfg_attr(docsrs, doc(cfg(feature = "test-util")))]
pub fn pause() {
    with_clock(|driver| driver.clock().pause());
}

/// Resumes time on this executor (feature `test-util`).
///
/// [`Instant::now()`] runs again at the system clock's pace, from the value
/// the paused clock had reached: time never goes backwards, so an executor
/// that was advanced stays ahead of `std::time::Instant::now()` by what it
/// was advanced (tokio's clock behaves the same).
///
/// # Panics
///
/// If the clock is not paused, or if called outside a hearth executor.
///
/// ```
/// use hearth::time::{self, Duration, Instant};
///
/// hearth::block_on(async {
///     time::pause();
///     time::advance(Duration::from_secs(10)).await;
///     let paused_at = Instant::now();
///     time::resume();
///     time::sleep(Duration::from_millis(1)).await; // a real millisecond
///     assert!(Instant::now() > paused_at);
/// });
/// ```
#[cfg(feature = "test-util")]
#[cfg_attr(docsrs, doc(cfg(feature = "test-util")))]
pub fn resume() {
    with_clock(|driver| driver.clock().resume());
}

/// Advances time on this executor by exactly `duration` (feature
/// `test-util`).
///
/// Adds `duration` to the paused clock in one jump, fires every timer whose
/// deadline the clock passed (they complete "at the same time"; their tasks
/// may run in any order), then yields once so the woken tasks run before the
/// caller continues. It does not wait for anything else those tasks then
/// await; to wait until a timer has fired and its task went on, `sleep` and
/// let auto-advance move the clock.
///
/// # Panics
///
/// If the clock is not paused ([`pause`]), if `duration` would overflow the
/// clock, or if called outside a hearth executor.
///
/// ```
/// use std::rc::Rc;
/// use std::cell::Cell;
/// use hearth::time::{self, Duration, Instant};
///
/// hearth::block_on(async {
///     time::pause();
///     let start = Instant::now();
///     let fired = Rc::new(Cell::new(false));
///     let f = fired.clone();
///     hearth::spawn_local(async move {
///         time::sleep(Duration::from_secs(5)).await;
///         f.set(true);
///     });
///     hearth::yield_now().await; // the task registers its timer
///     time::advance(Duration::from_secs(4)).await;
///     assert!(!fired.get());
///     time::advance(Duration::from_secs(1)).await;
///     assert!(fired.get());
///     assert_eq!(start.elapsed(), Duration::from_secs(5));
/// });
/// ```
#[cfg(feature = "test-util")]
#[cfg_attr(docsrs, doc(cfg(feature = "test-util")))]
pub async fn advance(duration: Duration) {
    with_clock(|driver| {
        driver.clock().advance(duration)?;
        driver.fire_due_timers();
        Ok(())
    });
    crate::yield_now().await;
}
