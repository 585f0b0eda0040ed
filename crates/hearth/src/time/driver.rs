//! The executor's timers: a [`Wheel`] plus the mapping from `Instant`s to ticks.
//!
//! Created on the first timer of an executor and shared (`Rc`) by the
//! executor and every `Sleep` registered with it, so a `Sleep` that outlives
//! its executor can still cancel itself. Owner thread only.
//!
//! It never reads a clock itself: the executor's [`Driver`] passes the
//! reading of its one [`Clock`](super::clock::Clock) (paused or not) to
//! every call that needs the time.
//!
//! [`Driver`]: crate::driver::Driver

use core::cell::RefCell;
use std::time::{Duration, Instant};

use hearth_task::LocalWaker;

use super::wheel::{Key, Wheel};

const NS_PER_TICK: u64 = 1_000_000;
/// The capacity the buffer of fired wakers keeps after a burst (24 KiB).
const FIRED_RESERVE: usize = 1024;

pub(crate) struct TimeDriver {
    /// Tick 0.
    start: Instant,
    wheel: RefCell<Wheel>,
    /// Reused buffer of fired wakers.
    fired: RefCell<Vec<(u64, LocalWaker)>>,
}

impl TimeDriver {
    /// A wheel whose tick 0 is `now`.
    pub(crate) fn new(now: Instant) -> TimeDriver {
        TimeDriver {
            start: now,
            wheel: RefCell::new(Wheel::new()),
            fired: RefCell::new(Vec::new()),
        }
    }

    /// Nanoseconds from tick 0 to `t` (0 before it).
    fn ns(&self, t: Instant) -> u64 {
        let d = t.saturating_duration_since(self.start);
        u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
    }

    /// Registers a timer for `deadline`; `None` if it is already due.
    pub(crate) fn insert(&self, deadline: Instant, waker: &LocalWaker) -> Option<Key> {
        let ns = self.ns(deadline);
        let mut wheel = self.wheel.borrow_mut();
        let key = wheel.insert(ns.div_ceil(NS_PER_TICK), ns, Some(waker.clone()));
        if wheel.is_fired(key) {
            wheel.remove(key);
            return None;
        }
        Some(key)
    }

    /// `true` if fired; otherwise stores `waker` (no clone if it would wake
    /// the same task).
    pub(crate) fn poll(&self, key: Key, waker: &LocalWaker) -> bool {
        let mut wheel = self.wheel.borrow_mut();
        if wheel.is_fired(key) {
            return true;
        }
        wheel.register(key, waker);
        false
    }

    pub(crate) fn reset(&self, key: Key, deadline: Instant) {
        let ns = self.ns(deadline);
        let waker = self
            .wheel
            .borrow_mut()
            .reset(key, ns.div_ceil(NS_PER_TICK), ns);
        if let Some(waker) = waker {
            waker.wake();
        }
    }

    pub(crate) fn remove(&self, key: Key) {
        self.wheel.borrow_mut().remove(key);
    }

    /// How long the executor may sleep, from `now`, before the next timer
    /// slot is due.
    pub(crate) fn next_timeout(&self, now: Instant) -> Option<Duration> {
        let next = self.wheel.borrow().next_expiration()?;
        let at = self.start + Duration::from_millis(next);
        Some(at.saturating_duration_since(now))
    }

    /// Fires every timer due at `now`, waking in deadline order. Returns how
    /// many.
    pub(crate) fn process(&self, now: Instant) -> usize {
        let mut wheel = self.wheel.borrow_mut();
        let Some(next) = wheel.next_expiration() else {
            return 0;
        };
        let now = self.ns(now) / NS_PER_TICK;
        if next > now {
            return 0;
        }
        let mut fired = core::mem::take(&mut *self.fired.borrow_mut());
        wheel.advance(now, &mut fired);
        drop(wheel);
        // Earlier deadlines first; equal ones in the wheel's order.
        fired.sort_by_key(|f| f.0);
        let n = fired.len();
        for (_, waker) in fired.drain(..) {
            waker.wake();
        }
        // A burst that fired many timers at once does not keep its buffer
        // (the next such burst pays O(n) to grow it again: it wakes n tasks).
        fired.shrink_to(FIRED_RESERVE);
        *self.fired.borrow_mut() = fired;
        n
    }
}
