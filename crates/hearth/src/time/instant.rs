//! [`Instant`]: std's monotonic instant, read through the executor's clock.

use core::fmt;
use core::ops::{Add, AddAssign, Sub, SubAssign};
use std::time::Duration;

/// A measurement of a monotonic clock, as `tokio::time::Instant`.
///
/// A thin wrapper of [`std::time::Instant`] (the same size, the same
/// arithmetic) whose [`now`](Instant::now) reads the clock of the hearth
/// executor running on the calling thread. That clock is the system's, so
/// without the `test-util` feature `Instant::now()` *is*
/// `std::time::Instant::now()`. With `test-util`, a paused clock
/// ([`pause`](super::pause)) stops it, and [`advance`](super::advance) or
/// auto-advance moves it; outside an executor it reads the system clock.
///
/// Convert with [`from_std`](Instant::from_std) / [`into_std`](Instant::into_std)
/// or `From`.
///
/// ```
/// use std::time::Duration;
/// use hearth::time::Instant;
///
/// let start = Instant::now();
/// let later = start + Duration::from_millis(5);
/// assert_eq!(later - start, Duration::from_millis(5));
/// assert!(start.elapsed() < Duration::from_secs(3600));
/// let std: std::time::Instant = start.into();
/// assert_eq!(Instant::from_std(std), start);
/// ```
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Instant {
    std: std::time::Instant,
}

impl Instant {
    /// The current time of the executor's clock (the system clock without
    /// `test-util`, or outside an executor).
    ///
    /// ```
    /// let a = hearth::time::Instant::now();
    /// let b = hearth::time::Instant::now();
    /// assert!(b >= a);
    /// ```
    #[inline]
    pub fn now() -> Instant {
        Instant { std: now_std() }
    }

    /// Wraps a `std::time::Instant`.
    ///
    /// ```
    /// let std = std::time::Instant::now();
    /// assert_eq!(hearth::time::Instant::from_std(std).into_std(), std);
    /// ```
    #[inline]
    pub fn from_std(std: std::time::Instant) -> Instant {
        Instant { std }
    }

    /// The `std::time::Instant` it wraps.
    ///
    /// ```
    /// let now = hearth::time::Instant::now();
    /// let _std: std::time::Instant = now.into_std();
    /// ```
    #[inline]
    pub fn into_std(self) -> std::time::Instant {
        self.std
    }

    /// The time from `earlier` to `self`; zero if `earlier` is later.
    ///
    /// ```
    /// use std::time::Duration;
    /// let a = hearth::time::Instant::now();
    /// let b = a + Duration::from_secs(1);
    /// assert_eq!(b.duration_since(a), Duration::from_secs(1));
    /// assert_eq!(a.duration_since(b), Duration::ZERO);
    /// ```
    pub fn duration_since(&self, earlier: Instant) -> Duration {
        self.std.saturating_duration_since(earlier.std)
    }

    /// The time from `earlier` to `self`, or `None` if `earlier` is later.
    ///
    /// ```
    /// use std::time::Duration;
    /// let a = hearth::time::Instant::now();
    /// let b = a + Duration::from_secs(1);
    /// assert_eq!(b.checked_duration_since(a), Some(Duration::from_secs(1)));
    /// assert_eq!(a.checked_duration_since(b), None);
    /// ```
    pub fn checked_duration_since(&self, earlier: Instant) -> Option<Duration> {
        self.std.checked_duration_since(earlier.std)
    }

    /// The time from `earlier` to `self`; zero if `earlier` is later.
    ///
    /// ```
    /// use std::time::Duration;
    /// let a = hearth::time::Instant::now();
    /// assert_eq!(a.saturating_duration_since(a + Duration::from_secs(1)), Duration::ZERO);
    /// ```
    pub fn saturating_duration_since(&self, earlier: Instant) -> Duration {
        self.std.saturating_duration_since(earlier.std)
    }

    /// The time elapsed since `self`, by the executor's clock.
    ///
    /// ```
    /// let start = hearth::time::Instant::now();
    /// assert!(start.elapsed() < std::time::Duration::from_secs(3600));
    /// ```
    pub fn elapsed(&self) -> Duration {
        Instant::now().saturating_duration_since(*self)
    }

    /// `self + duration`, or `None` on overflow.
    ///
    /// ```
    /// use std::time::Duration;
    /// let now = hearth::time::Instant::now();
    /// assert!(now.checked_add(Duration::from_secs(1)).is_some());
    /// assert!(now.checked_add(Duration::MAX).is_none());
    /// ```
    pub fn checked_add(&self, duration: Duration) -> Option<Instant> {
        self.std.checked_add(duration).map(Instant::from_std)
    }

    /// `self - duration`, or `None` on overflow.
    ///
    /// ```
    /// use std::time::Duration;
    /// let now = hearth::time::Instant::now();
    /// assert!(now.checked_sub(Duration::MAX).is_none());
    /// ```
    pub fn checked_sub(&self, duration: Duration) -> Option<Instant> {
        self.std.checked_sub(duration).map(Instant::from_std)
    }
}

#[cfg(not(feature = "test-util"))]
#[inline(always)]
fn now_std() -> std::time::Instant {
    std::time::Instant::now()
}

#[cfg(feature = "test-util")]
#[inline]
fn now_std() -> std::time::Instant {
    crate::executor::with_current(|core| core.driver().now())
        .unwrap_or_else(std::time::Instant::now)
}

impl From<std::time::Instant> for Instant {
    fn from(std: std::time::Instant) -> Instant {
        Instant::from_std(std)
    }
}

impl From<Instant> for std::time::Instant {
    fn from(instant: Instant) -> std::time::Instant {
        instant.into_std()
    }
}

impl Add<Duration> for Instant {
    type Output = Instant;

    /// # Panics
    ///
    /// On overflow, as `std::time::Instant`'s (see [`Instant::checked_add`]).
    fn add(self, rhs: Duration) -> Instant {
        Instant::from_std(self.std + rhs)
    }
}

impl AddAssign<Duration> for Instant {
    fn add_assign(&mut self, rhs: Duration) {
        *self = *self + rhs;
    }
}

impl Sub<Duration> for Instant {
    type Output = Instant;

    /// # Panics
    ///
    /// On overflow, as `std::time::Instant`'s (see [`Instant::checked_sub`]).
    fn sub(self, rhs: Duration) -> Instant {
        Instant::from_std(self.std - rhs)
    }
}

impl SubAssign<Duration> for Instant {
    fn sub_assign(&mut self, rhs: Duration) {
        *self = *self - rhs;
    }
}

impl Sub<Instant> for Instant {
    type Output = Duration;

    /// The time from `rhs` to `self`; zero if `rhs` is later.
    fn sub(self, rhs: Instant) -> Duration {
        self.saturating_duration_since(rhs)
    }
}

impl fmt::Debug for Instant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.std.fmt(f)
    }
}
