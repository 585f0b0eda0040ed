//! The clock an executor's timers and [`Instant::now`](super::Instant::now)
//! read: one per executor, owner thread only.
//!
//! Without the `test-util` feature it is a zero-sized type whose `now` is
//! `std::time::Instant::now()`: nothing to store, nothing to branch on.
//!
//! With `test-util` it can be paused ([`super::pause`]). It keeps a `base`
//! reading and, while it runs, the std instant at which it read `base`:
//!
//! - running: `now = base + (std now - unfrozen)`;
//! - paused: `now = base`; [`advance`](Clock::advance) adds to `base`.
//!
//! [`resume`](Clock::resume) keeps the reading it stopped at and runs on from
//! there, so the clock never goes backwards (tokio's clock does the same).

#[cfg(feature = "test-util")]
use core::cell::Cell;
#[cfg(feature = "test-util")]
use std::time::Duration;
use std::time::Instant;

/// An executor's clock: the system's monotonic clock (no `test-util`).
#[cfg(not(feature = "test-util"))]
#[derive(Debug)]
pub(crate) struct Clock;

#[cfg(not(feature = "test-util"))]
impl Clock {
    pub(crate) fn new() -> Clock {
        Clock
    }

    #[inline(always)]
    pub(crate) fn now(&self) -> Instant {
        Instant::now()
    }
}

/// An executor's clock, which tests may pause and advance.
#[cfg(feature = "test-util")]
#[derive(Debug)]
pub(crate) struct Clock {
    /// The reading when `unfrozen` was taken; while paused, the reading.
    base: Cell<Instant>,
    /// While running: the std instant at which the clock read `base`.
    /// `None` while paused.
    unfrozen: Cell<Option<Instant>>,
}

#[cfg(feature = "test-util")]
impl Clock {
    /// A running clock that reads the system's time.
    pub(crate) fn new() -> Clock {
        let now = Instant::now();
        Clock {
            base: Cell::new(now),
            unfrozen: Cell::new(Some(now)),
        }
    }

    #[inline]
    pub(crate) fn now(&self) -> Instant {
        match self.unfrozen.get() {
            None => self.base.get(),
            Some(unfrozen) => self.base.get() + unfrozen.elapsed(),
        }
    }

    pub(crate) fn is_paused(&self) -> bool {
        self.unfrozen.get().is_none()
    }

    /// Stops the clock at its current reading.
    pub(crate) fn pause(&self) -> Result<(), &'static str> {
        if self.is_paused() {
            return Err("hearth::time::pause: the clock is already paused");
        }
        self.base.set(self.now());
        self.unfrozen.set(None);
        Ok(())
    }

    /// Lets the clock run on from its reading.
    pub(crate) fn resume(&self) -> Result<(), &'static str> {
        if !self.is_paused() {
            return Err("hearth::time::resume: the clock is not paused");
        }
        self.unfrozen.set(Some(Instant::now()));
        Ok(())
    }

    /// Moves a paused clock forward by exactly `duration`.
    pub(crate) fn advance(&self, duration: Duration) -> Result<(), &'static str> {
        if !self.is_paused() {
            return Err("hearth::time::advance: the clock is not paused \
                        (call hearth::time::pause first)");
        }
        let next = self
            .base
            .get()
            .checked_add(duration)
            .ok_or("hearth::time::advance: the clock would overflow")?;
        self.base.set(next);
        Ok(())
    }
}

#[cfg(all(test, feature = "test-util"))]
mod tests {
    use super::*;

    #[test]
    fn paused_reads_do_not_move_and_advance_is_exact() {
        let clock = Clock::new();
        clock.pause().unwrap();
        let t = clock.now();
        std::thread::sleep(Duration::from_millis(2));
        assert_eq!(clock.now(), t);
        clock.advance(Duration::from_nanos(1_500)).unwrap();
        assert_eq!(clock.now() - t, Duration::from_nanos(1_500));
        assert!(clock.pause().is_err());
    }

    #[test]
    fn resume_runs_on_from_the_paused_reading() {
        let clock = Clock::new();
        assert!(clock.resume().is_err());
        assert!(clock.advance(Duration::from_secs(1)).is_err());
        clock.pause().unwrap();
        clock.advance(Duration::from_secs(3600)).unwrap();
        let t = clock.now();
        clock.resume().unwrap();
        let later = clock.now();
        assert!(later >= t && later - t < Duration::from_secs(60));
        assert!(Instant::now() + Duration::from_secs(3000) < later);
    }
}
