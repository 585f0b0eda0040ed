//! [`HearthTimer`]: hyper's timer ([`hyper::rt::Timer`]) on hearth's timer
//! wheel.
//!
//! hyper boxes its sleeps as `Pin<Box<dyn hyper::rt::Sleep>>`, and
//! `hyper::rt::Sleep` is `Send + Sync`. A [`hearth::time::Sleep`] is neither:
//! it holds an `Rc` to the timer wheel of the worker that polled it. So a
//! [`HearthSleep`] holds only its deadline and, once polled, a
//! [`Registration`]: the key of a `hearth::time::Sleep` that lives in a
//! registry of the polling thread (a thread-local slab), plus a handle to
//! that registry's *orphan list*.
//!
//! # Invariants
//!
//! - A registry's slab is touched by its own thread only (it is a
//!   thread-local), so its `hearth::time::Sleep`s never leave that thread.
//! - A [`HearthSleep`] registered with registry `R` either is on `R`'s
//!   thread, or its key is handed to `R`'s orphan list (a mutex-guarded
//!   `Vec` behind an `Arc`, the only part shared between threads) when it
//!   is dropped, reset or polled elsewhere. `R`'s thread removes orphaned
//!   entries the next time it polls a `HearthSleep`, so a sleep that moved
//!   away leaves one stale timer behind until then; that timer may wake a
//!   task spuriously once, which futures tolerate.
//! - A timer given up on its own thread (its sleep dropped, or completed)
//!   is kept armed as a spare, up to 1,024 per thread, and the next sleep
//!   polled there takes it over (see `Registry`): a spare may wake the
//!   task that last used it once, and wakes its new task early once if it
//!   was armed for an earlier deadline (the sleep then re-arms it); a
//!   sleep never completes before its own deadline.
//!
//! # A sleep polled on another thread
//!
//! It moves: its old entry is orphaned and a new one is registered with the
//! polling thread's hearth executor, so it fires there at the same deadline.
//! A poll outside any hearth executor panics with hearth's message (there is
//! no timer wheel on such a thread); nothing here is `unsafe`.

use core::fmt;
use core::future::Future;
use core::pin::Pin;
use core::task::{Context, Poll};
use std::cell::RefCell;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// hyper's timer on hearth: sleeps fire on the timer wheel of the hearth
/// executor that polls them.
///
/// Give it to hyper's connection builders (`timer(HearthTimer)`) so that
/// hyper's timeouts work: the HTTP/1 header-read timeout (protection
/// against clients that send their request headers slowly, or never) and
/// HTTP/2 keep-alive pings. Without a timer these are silently off, and
/// setting the header-read timeout explicitly panics in the connection.
///
/// The sleeps are `Send + Sync`, as hyper requires, although hearth's own
/// [`Sleep`](hearth::time::Sleep) is not; [`HearthSleep`] says how, and
/// what happens when a sleep is polled on another thread. The
/// resolution is hearth's: one millisecond, never early.
///
/// # Panics
///
/// A sleep panics when polled outside a hearth executor.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use hyper::rt::Timer;
/// use hearth_hyper::HearthTimer;
///
/// hearth::block_on(async {
///     let start = std::time::Instant::now();
///     HearthTimer.sleep(Duration::from_millis(5)).await;
///     assert!(start.elapsed() >= Duration::from_millis(5));
/// });
/// ```
#[derive(Clone, Copy, Debug, Default)]
pub struct HearthTimer;

impl hyper::rt::Timer for HearthTimer {
    fn sleep(&self, duration: Duration) -> Pin<Box<dyn hyper::rt::Sleep>> {
        Box::pin(HearthSleep::new(deadline_after(duration)))
    }

    fn sleep_until(&self, deadline: Instant) -> Pin<Box<dyn hyper::rt::Sleep>> {
        Box::pin(HearthSleep::new(deadline))
    }

    /// hearth's clock (paused with hearth's `test-util`, like its sleeps).
    fn now(&self) -> Instant {
        hearth::time::Instant::now().into_std()
    }

    fn reset(&self, sleep: &mut Pin<Box<dyn hyper::rt::Sleep>>, new_deadline: Instant) {
        match sleep.as_mut().downcast_mut_pin::<HearthSleep>() {
            Some(ours) => ours.get_mut().reset(new_deadline),
            None => *sleep = self.sleep_until(new_deadline),
        }
    }
}

/// `now + duration`, or about 30 years on from now if that overflows
/// (as hearth's `sleep` does). `now` is the executor's clock (paused, with
/// hearth's `test-util`).
fn deadline_after(duration: Duration) -> Instant {
    let now = hearth::time::Instant::now().into_std();
    now.checked_add(duration)
        .unwrap_or_else(|| now + Duration::from_secs(86_400 * 365 * 30))
}

/// The sleep of [`HearthTimer`]: `Send + Sync`, and fires on the timer wheel
/// of the hearth executor that polls it.
///
/// It holds only its deadline and, once polled, the key of a
/// [`hearth::time::Sleep`] kept in a slab of the polling thread: hearth's
/// sleep never leaves that thread.
///
/// # Polled on another thread
///
/// It moves: a new hearth timer is registered with the polling thread's
/// executor, for the same deadline. The old one is removed by its own
/// thread the next time that thread polls a `HearthSleep` (until then it
/// may wake its task once, spuriously). Dropping or resetting it on another
/// thread works the same way.
///
/// # Panics
///
/// When polled outside a hearth executor (as [`hearth::time::Sleep`]).
///
/// ```
/// use std::time::{Duration, Instant};
/// use hearth_hyper::HearthSleep;
///
/// let deadline = Instant::now() + Duration::from_millis(2);
/// let sleep = HearthSleep::new(deadline);
/// // It may be made on one thread and awaited on another.
/// std::thread::spawn(move || hearth::block_on(sleep)).join().unwrap();
/// assert!(Instant::now() >= deadline);
/// ```
pub struct HearthSleep {
    /// When it fires.
    deadline: Instant,
    /// The hearth timer, once polled; touched by whoever owns the sleep
    /// (the entry it names only on its registry's thread).
    registration: Option<Registration>,
}

/// Where a [`HearthSleep`]'s `hearth::time::Sleep` lives.
struct Registration {
    /// Its key in the registry's slab.
    key: usize,
    /// The registry's orphan list; also identifies the registry.
    orphans: Arc<Orphans>,
}

/// Keys of entries whose [`HearthSleep`] was dropped, reset or polled on
/// another thread than the entry's; the entry's thread removes them.
#[derive(Default)]
struct Orphans {
    /// The keys.
    keys: Mutex<Vec<usize>>,
    /// Whether `keys` may be non-empty: set by `push` and cleared by `take`
    /// under the lock, so the owner's polls check it with a load instead of
    /// locking (a key pushed just after the check waits for the next use).
    any: AtomicBool,
}

impl Orphans {
    fn lock(&self) -> MutexGuard<'_, Vec<usize>> {
        // Pushing and draining a `Vec` leaves it consistent even if a
        // panic interrupted another holder.
        self.keys.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn push(&self, key: usize) {
        let mut keys = self.lock();
        keys.push(key);
        self.any.store(true, Ordering::Release);
    }

    fn take(&self) -> Vec<usize> {
        if !self.any.load(Ordering::Acquire) {
            return Vec::new();
        }
        let mut keys = self.lock();
        self.any.store(false, Ordering::Relaxed);
        core::mem::take(&mut *keys)
    }
}

/// How many given-up timers a thread keeps armed for reuse
/// ([`Registry::spare`]); more are removed from the wheel.
const SPARE_CAP: usize = 1024;

/// A hearth timer of the registry and the deadline it is armed for, which
/// may be earlier than its [`HearthSleep`]'s (a reused spare): it then
/// fires early, and the sleep re-arms it for its own deadline.
struct Entry {
    sleep: hearth::time::Sleep,
    armed: Instant,
}

impl Entry {
    /// Polls the timer for a sleep due at `deadline`: ready once the timer
    /// fired for a deadline at or after it; a timer that fired earlier
    /// (armed for an earlier deadline) is re-armed for `deadline` first.
    fn poll(&mut self, deadline: Instant, cx: &mut Context<'_>) -> Poll<()> {
        if Pin::new(&mut self.sleep).poll(cx).is_pending() {
            return Poll::Pending;
        }
        if self.armed >= deadline {
            return Poll::Ready(());
        }
        self.armed = deadline;
        Pin::new(&mut self.sleep).reset(deadline.into());
        Pin::new(&mut self.sleep).poll(cx)
    }

    /// Moves the deadline; a later one leaves the timer armed as it is
    /// (it fires early, and [`poll`](Self::poll) re-arms it), an earlier
    /// one re-arms it now.
    fn reset(&mut self, deadline: Instant) {
        if deadline < self.armed {
            self.armed = deadline;
            Pin::new(&mut self.sleep).reset(deadline.into());
        }
    }
}

/// A thread's hearth timers: those of its [`HearthSleep`]s, by key, and
/// spares.
///
/// hyper makes, polls once and drops a sleep for every HTTP/1 request (the
/// header-read timeout, 30 s ahead), so this is on the request path. Two
/// things keep it cheap: a slab, not a hash map (no hashing); and a
/// dropped sleep's timer is not taken out of the wheel but kept armed as a
/// spare, which the next sleep takes over: with a deadline at or after the
/// spare's (the next request's timeout) that only changes the waker, and
/// the wheel is touched again only if the spare fires before that
/// deadline (then [`Entry::poll`] re-arms it, after one early wake of the
/// task, which futures tolerate). A spare that fires unused wakes the task
/// that last used it, once; until then it holds that task's waker (and so
/// the task's allocation, if the task has ended). Spares beyond
/// [`SPARE_CAP`] are removed.
#[derive(Default)]
struct Registry {
    /// Touched only by this thread. A key is not reused while its
    /// [`HearthSleep`] holds it: the entry is removed only after the sleep
    /// gave the key up (fired, dropped, reset or moved).
    sleeps: RefCell<slab::Slab<Entry>>,
    /// Given-up timers, still armed (or fired); touched only by this thread.
    spare: RefCell<Vec<Entry>>,
    /// Filled by other threads, drained by this one.
    orphans: Arc<Orphans>,
}

thread_local! {
    static REGISTRY: Registry = Registry::default();
}

impl Registry {
    /// Removes the entries orphaned by other threads.
    fn collect_orphans(&self) {
        let orphans = self.orphans.take();
        if orphans.is_empty() {
            return;
        }
        let mut sleeps = self.sleeps.borrow_mut();
        for key in orphans {
            sleeps.try_remove(key);
        }
    }

    fn owns(&self, registration: &Registration) -> bool {
        Arc::ptr_eq(&self.orphans, &registration.orphans)
    }

    /// Keeps a given-up timer for reuse, or drops it (removing it from its
    /// wheel) if there are [`SPARE_CAP`] spares already, or if the spares
    /// are in use (a drop from inside a registry operation; none is known).
    fn recycle(&self, entry: Entry) {
        if let Ok(mut spare) = self.spare.try_borrow_mut() {
            if spare.len() < SPARE_CAP {
                spare.push(entry);
            }
        }
    }
}

impl HearthSleep {
    /// A sleep until `deadline`; it registers with a timer wheel on its
    /// first poll.
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// let sleep = hearth_hyper::HearthSleep::new(Instant::now() + Duration::from_millis(1));
    /// hearth::block_on(sleep);
    /// ```
    pub fn new(deadline: Instant) -> HearthSleep {
        HearthSleep {
            deadline,
            registration: None,
        }
    }

    /// The instant at which the sleep completes.
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// let at = Instant::now() + Duration::from_secs(1);
    /// assert_eq!(hearth_hyper::HearthSleep::new(at).deadline(), at);
    /// ```
    pub fn deadline(&self) -> Instant {
        self.deadline
    }

    /// Moves the deadline to `deadline`, whether or not the sleep has
    /// completed; a task waiting on it is woken at the new deadline.
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// use hearth_hyper::HearthSleep;
    /// hearth::block_on(async {
    ///     let mut sleep = HearthSleep::new(Instant::now() + Duration::from_secs(3600));
    ///     sleep.reset(Instant::now() + Duration::from_millis(1));
    ///     sleep.await;
    /// });
    /// ```
    pub fn reset(&mut self, deadline: Instant) {
        self.deadline = deadline;
        let Some(registration) = &self.registration else {
            return;
        };
        let moved = REGISTRY
            .try_with(|registry| {
                if !registry.owns(registration) {
                    return false;
                }
                match registry.sleeps.borrow_mut().get_mut(registration.key) {
                    Some(entry) => entry.reset(deadline),
                    // Fired and removed: the next poll registers anew.
                    None => return false,
                }
                true
            })
            .unwrap_or(false);
        if !moved {
            self.unregister();
        }
    }

    /// Gives up the registration: removes the entry at once on its own
    /// thread, or orphans it elsewhere.
    fn unregister(&mut self) {
        let Some(registration) = self.registration.take() else {
            return;
        };
        let removed = REGISTRY
            .try_with(|registry| {
                // `try_borrow_mut`: a drop from inside a registry operation
                // (none is known) orphans instead of panicking.
                if !registry.owns(&registration) {
                    return false;
                }
                let Ok(mut sleeps) = registry.sleeps.try_borrow_mut() else {
                    return false;
                };
                let entry = sleeps.try_remove(registration.key);
                drop(sleeps);
                if let Some(entry) = entry {
                    registry.recycle(entry);
                }
                true
            })
            .unwrap_or(false);
        if !removed {
            registration.orphans.push(registration.key);
        }
    }
}

impl Future for HearthSleep {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.get_mut();
        REGISTRY.with(|registry| {
            registry.collect_orphans();
            if let Some(registration) = &this.registration {
                if registry.owns(registration) {
                    let key = registration.key;
                    let mut sleeps = registry.sleeps.borrow_mut();
                    let poll = match sleeps.get_mut(key) {
                        Some(entry) => entry.poll(this.deadline, cx),
                        None => Poll::Ready(()),
                    };
                    if poll.is_ready() {
                        let entry = sleeps.try_remove(key);
                        drop(sleeps);
                        this.registration = None;
                        if let Some(entry) = entry {
                            registry.recycle(entry);
                        }
                    }
                    return poll;
                }
                // Polled on another thread than before: move.
                this.unregister();
            }
            // Not registered (or fired before): a spare timer, or a fresh
            // one. It is polled before it enters the slab, so a poll
            // outside an executor panics with no borrow held (and the
            // timer, dropped, leaves its wheel).
            let spare = registry.spare.borrow_mut().pop();
            let mut entry = match spare {
                Some(mut entry) => {
                    entry.reset(this.deadline);
                    entry
                }
                None => Entry {
                    sleep: hearth::time::sleep_until(this.deadline.into()),
                    armed: this.deadline,
                },
            };
            if entry.poll(this.deadline, cx).is_ready() {
                registry.recycle(entry);
                return Poll::Ready(());
            }
            let key = registry.sleeps.borrow_mut().insert(entry);
            this.registration = Some(Registration {
                key,
                orphans: registry.orphans.clone(),
            });
            Poll::Pending
        })
    }
}

impl Drop for HearthSleep {
    fn drop(&mut self) {
        self.unregister();
    }
}

impl hyper::rt::Sleep for HearthSleep {}

impl fmt::Debug for HearthSleep {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HearthSleep")
            .field("deadline", &self.deadline)
            .field("registered", &self.registration.is_some())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hyper::rt::Timer;

    /// Live entries in this thread's registry (orphans collected first).
    fn entries() -> usize {
        REGISTRY.with(|r| {
            r.collect_orphans();
            r.sleeps.borrow().len()
        })
    }

    /// Polls `f` once from the current task.
    async fn poll_here<F: Future + Unpin>(f: &mut F) -> Poll<F::Output> {
        core::future::poll_fn(|cx| Poll::Ready(Pin::new(&mut *f).poll(cx))).await
    }

    fn poll_once<F: Future + Unpin>(f: &mut F) -> Poll<F::Output> {
        let mut f = Some(f);
        hearth::block_on(core::future::poll_fn(|cx| {
            Poll::Ready(Pin::new(f.take().unwrap()).poll(cx))
        }))
    }

    #[test]
    fn is_send_and_sync() {
        fn check<T: Send + Sync + 'static>() {}
        check::<HearthSleep>();
        check::<HearthTimer>();
    }

    #[test]
    fn fires_at_the_deadline_and_leaves_no_entry() {
        let start = Instant::now();
        hearth::block_on(HearthTimer.sleep(Duration::from_millis(20)));
        assert!(start.elapsed() >= Duration::from_millis(20));
        assert_eq!(entries(), 0);
    }

    #[test]
    fn a_past_deadline_is_ready_at_once() {
        let mut sleep = HearthSleep::new(Instant::now());
        assert!(poll_once(&mut sleep).is_ready());
        assert_eq!(entries(), 0);
    }

    #[test]
    fn drop_removes_the_entry() {
        let mut sleep = HearthSleep::new(Instant::now() + Duration::from_secs(60));
        assert!(poll_once(&mut sleep).is_pending());
        assert_eq!(entries(), 1);
        drop(sleep);
        assert_eq!(entries(), 0);
    }

    #[test]
    fn reset_through_the_timer_moves_the_deadline_both_ways() {
        let mut sleep = HearthTimer.sleep(Duration::from_secs(3600));
        assert!(poll_once(&mut sleep).is_pending());
        let start = Instant::now();
        HearthTimer.reset(&mut sleep, start + Duration::from_millis(10));
        hearth::block_on(sleep.as_mut());
        assert!(start.elapsed() >= Duration::from_millis(10));
        assert!(start.elapsed() < Duration::from_secs(10));
        // After firing, a reset to the future makes it wait again.
        HearthTimer.reset(&mut sleep, Instant::now() + Duration::from_secs(3600));
        assert!(poll_once(&mut sleep).is_pending());
        drop(sleep);
        assert_eq!(entries(), 0);
    }

    /// Spare timers kept on this thread.
    fn spares() -> usize {
        REGISTRY.with(|r| r.spare.borrow().len())
    }

    #[test]
    fn a_reused_timer_armed_earlier_does_not_end_the_sleep_early() {
        let start = Instant::now();
        let mut first = HearthSleep::new(start + Duration::from_millis(20));
        let second = HearthSleep::new(start + Duration::from_millis(80));
        hearth::block_on(async {
            assert!(poll_here(&mut first).await.is_pending());
            drop(first);
            assert!(spares() >= 1, "the dropped sleep's timer is kept");
            let before = spares();
            let mut second = second;
            assert!(poll_here(&mut second).await.is_pending());
            assert_eq!(spares(), before - 1, "the next sleep takes it over");
            // The timer fires at 20 ms (a spurious wake), is re-armed, and
            // the sleep completes at its own deadline.
            second.await;
        });
        assert!(start.elapsed() >= Duration::from_millis(80));
        assert_eq!(entries(), 0);
    }

    #[test]
    fn a_reused_timer_armed_later_is_moved_earlier() {
        let start = Instant::now();
        let mut first = HearthSleep::new(start + Duration::from_secs(3600));
        assert!(poll_once(&mut first).is_pending());
        drop(first);
        hearth::block_on(HearthSleep::new(start + Duration::from_millis(10)));
        let elapsed = start.elapsed();
        assert!(elapsed >= Duration::from_millis(10));
        assert!(elapsed < Duration::from_secs(60), "took {elapsed:?}");
    }

    #[test]
    fn a_reset_to_later_before_firing_waits_for_the_new_deadline() {
        let start = Instant::now();
        let mut sleep = HearthSleep::new(start + Duration::from_millis(10));
        hearth::block_on(async {
            assert!(poll_here(&mut sleep).await.is_pending());
            sleep.reset(start + Duration::from_millis(60));
            (&mut sleep).await;
        });
        assert!(start.elapsed() >= Duration::from_millis(60));
        assert_eq!(entries(), 0);
    }

    #[test]
    fn spare_timers_are_capped() {
        hearth::block_on(async {
            let far = Instant::now() + Duration::from_secs(3600);
            let mut sleeps: Vec<_> = (0..SPARE_CAP + 10).map(|_| HearthSleep::new(far)).collect();
            for sleep in &mut sleeps {
                assert!(poll_here(sleep).await.is_pending());
            }
            assert_eq!(entries(), SPARE_CAP + 10);
            drop(sleeps);
            assert_eq!(entries(), 0);
            assert_eq!(spares(), SPARE_CAP);
        });
    }

    #[test]
    fn a_sleep_polled_on_a_second_thread_moves_there() {
        let deadline = Instant::now() + Duration::from_millis(50);
        let mut sleep = HearthSleep::new(deadline);
        assert!(poll_once(&mut sleep).is_pending());
        assert_eq!(entries(), 1);
        let moved = std::thread::spawn(move || {
            hearth::block_on(&mut sleep);
            (Instant::now(), entries())
        })
        .join()
        .unwrap();
        assert!(moved.0 >= deadline);
        assert_eq!(moved.1, 0, "the second thread keeps no entry after firing");
        // The first thread's entry was orphaned; its next use removes it.
        assert_eq!(entries(), 0);
    }

    #[test]
    fn a_sleep_dropped_on_a_second_thread_is_removed_here() {
        let mut sleep = HearthSleep::new(Instant::now() + Duration::from_secs(60));
        assert!(poll_once(&mut sleep).is_pending());
        std::thread::spawn(move || drop(sleep)).join().unwrap();
        assert_eq!(entries(), 0);
    }

    #[test]
    fn reset_on_a_second_thread_then_poll_there() {
        let mut sleep = HearthSleep::new(Instant::now() + Duration::from_secs(60));
        assert!(poll_once(&mut sleep).is_pending());
        std::thread::spawn(move || {
            let start = Instant::now();
            sleep.reset(start + Duration::from_millis(5));
            hearth::block_on(sleep);
            assert!(start.elapsed() >= Duration::from_millis(5));
        })
        .join()
        .unwrap();
        assert_eq!(entries(), 0);
    }

    #[test]
    #[should_panic(expected = "outside of a hearth executor")]
    fn a_poll_outside_an_executor_panics_clearly() {
        let mut sleep = HearthSleep::new(Instant::now() + Duration::from_secs(60));
        let waker = std::task::Waker::noop();
        let _ = Pin::new(&mut sleep).poll(&mut Context::from_waker(waker));
    }
}
