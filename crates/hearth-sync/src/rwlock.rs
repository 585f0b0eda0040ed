//! `RwLock`: an async reader-writer lock for tasks on one thread, FIFO fair.
//!
//! A [`Semaphore`] with `max_readers` permits guards an `UnsafeCell`: a
//! reader takes one permit, a writer all of them. Because the semaphore is
//! FIFO, a queued writer holds back the readers that arrive after it: no
//! writer starvation.
//!
//! # Invariants
//!
//! - A shared reference into the cell exists only through a read guard
//!   (holding one permit), a mutable one only through a write guard (holding
//!   all `max_readers` permits), so a writer excludes everyone and readers
//!   exclude writers.
//! - Every guard is a raw pointer into the cell (the whole value, or the part
//!   a `map` closure picked) plus a *permit token* that returns its permits
//!   when dropped. The guards themselves have no `Drop`: mapping or
//!   downgrading moves the token into the new guard, so permits are returned
//!   exactly once, also when a `map` closure panics (the old guard, token
//!   included, is dropped by the unwinding).
//! - A borrowed guard's pointer is valid for `'a` (the lock outlives the
//!   guard); an owned guard's token holds an `Rc` to the lock, which keeps it
//!   alive.
//!
//! # Differences from `tokio::sync::RwLock`
//!
//! - `!Send`/`!Sync`, and no `Send`/`Sync` bounds on `T`.
//! - Owned guards take an `Rc<RwLock<T>>` (`read_owned(self: Rc<Self>)`),
//!   where tokio's take an `Arc`: the tasks sharing the lock share a thread.
//! - No `blocking_read`/`blocking_write`: blocking the thread that runs the
//!   tasks that hold the lock would never return.
//! - `new` is `const` (tokio has a separate `const_new`).

use std::cell::UnsafeCell;
use std::fmt;
use std::marker::PhantomData;
use std::ops::{Deref, DerefMut};
use std::rc::Rc;

use crate::mutex::TryLockError;
use crate::semaphore::Semaphore;

/// The most readers at once (as tokio's): the default and the upper bound
/// of [`RwLock::with_max_readers`].
const MAX_READS: u32 = u32::MAX >> 3;

/// An async reader-writer lock for tasks on one thread.
///
/// # Examples
///
/// ```
/// use hearth_sync::RwLock;
///
/// futures::executor::block_on(async {
///     let lock = RwLock::new(5);
///     {
///         let a = lock.read().await;
///         let b = lock.read().await;
///         assert_eq!(*a + *b, 10);
///         assert!(lock.try_write().is_err());
///     }
///     *lock.write().await += 1;
///     assert_eq!(*lock.read().await, 6);
/// });
/// ```
pub struct RwLock<T: ?Sized> {
    /// The permits a writer takes: the most readers at once.
    max_readers: u32,
    sem: Semaphore,
    value: UnsafeCell<T>,
}

impl<T> RwLock<T> {
    /// Creates an unlocked lock that admits up to `u32::MAX >> 3` readers
    /// at once.
    pub const fn new(value: T) -> Self {
        RwLock::with_max_readers(value, MAX_READS)
    }

    /// Creates an unlocked lock that admits at most `max_reads` readers at
    /// once; the next reader waits for one of them.
    ///
    /// # Panics
    ///
    /// If `max_reads` is 0 or more than `u32::MAX >> 3` (as tokio).
    ///
    /// # Examples
    ///
    /// ```
    /// use hearth_sync::RwLock;
    ///
    /// let lock = RwLock::with_max_readers(0, 2);
    /// let _a = lock.try_read().unwrap();
    /// let _b = lock.try_read().unwrap();
    /// assert!(lock.try_read().is_err());
    /// ```
    pub const fn with_max_readers(value: T, max_reads: u32) -> Self {
        assert!(max_reads != 0, "a RwLock may not be created with 0 readers");
        assert!(
            max_reads <= MAX_READS,
            "a RwLock may not be created with more than u32::MAX >> 3 readers"
        );
        RwLock {
            max_readers: max_reads,
            sem: Semaphore::new(max_reads as usize),
            value: UnsafeCell::new(value),
        }
    }

    /// Returns the value.
    pub fn into_inner(self) -> T {
        self.value.into_inner()
    }
}

impl<T: ?Sized> RwLock<T> {
    /// Waits for shared access.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: a dropped future gives up its place in the queue.
    pub async fn read(&self) -> RwLockReadGuard<'_, T> {
        self.acquire(1).await;
        self.read_guard()
    }

    /// Takes shared access if no writer holds or awaits the lock and a
    /// reader's place is free.
    pub fn try_read(&self) -> Result<RwLockReadGuard<'_, T>, TryLockError> {
        self.try_take(1)?;
        Ok(self.read_guard())
    }

    /// Waits for exclusive access.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: a dropped future gives up its place in the queue.
    pub async fn write(&self) -> RwLockWriteGuard<'_, T> {
        self.acquire(self.max_readers).await;
        self.write_guard()
    }

    /// Takes exclusive access if nobody holds or awaits the lock.
    pub fn try_write(&self) -> Result<RwLockWriteGuard<'_, T>, TryLockError> {
        self.try_take(self.max_readers)?;
        Ok(self.write_guard())
    }

    /// As [`read`](Self::read), with a guard that owns an `Rc` to the lock.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::rc::Rc;
    /// use hearth_sync::RwLock;
    ///
    /// futures::executor::block_on(async {
    ///     let lock = Rc::new(RwLock::new(1));
    ///     let guard = lock.clone().read_owned().await;
    ///     assert_eq!(*guard, 1);
    ///     assert!(lock.try_write().is_err());
    /// });
    /// ```
    pub async fn read_owned(self: Rc<Self>) -> OwnedRwLockReadGuard<T> {
        self.acquire(1).await;
        OwnedRwLockReadGuard::new(self)
    }

    /// As [`try_read`](Self::try_read), with an owned guard.
    pub fn try_read_owned(self: Rc<Self>) -> Result<OwnedRwLockReadGuard<T>, TryLockError> {
        self.try_take(1)?;
        Ok(OwnedRwLockReadGuard::new(self))
    }

    /// As [`write`](Self::write), with a guard that owns an `Rc` to the lock.
    pub async fn write_owned(self: Rc<Self>) -> OwnedRwLockWriteGuard<T> {
        self.acquire(self.max_readers).await;
        OwnedRwLockWriteGuard::new(self)
    }

    /// As [`try_write`](Self::try_write), with an owned guard.
    pub fn try_write_owned(self: Rc<Self>) -> Result<OwnedRwLockWriteGuard<T>, TryLockError> {
        self.try_take(self.max_readers)?;
        Ok(OwnedRwLockWriteGuard::new(self))
    }

    /// A mutable reference to the value; no locking needed.
    pub fn get_mut(&mut self) -> &mut T {
        self.value.get_mut()
    }

    async fn acquire(&self, n: u32) {
        match self.sem.acquire_many(n).await {
            Ok(permit) => permit.forget(),
            Err(_) => unreachable!("a lock's semaphore is never closed"),
        }
    }

    fn try_take(&self, n: u32) -> Result<(), TryLockError> {
        self.sem
            .try_take(n as usize)
            .map_err(|_| TryLockError::new())
    }

    /// The guard of a read permit just taken.
    fn read_guard(&self) -> RwLockReadGuard<'_, T> {
        RwLockReadGuard {
            permits: Permits::new(&self.sem, 1),
            data: self.value.get(),
            _marker: PhantomData,
        }
    }

    /// The guard of the write permits just taken.
    fn write_guard(&self) -> RwLockWriteGuard<'_, T> {
        RwLockWriteGuard {
            permits: Permits::new(&self.sem, self.max_readers),
            data: self.value.get(),
            _marker: PhantomData,
        }
    }
}

impl<T: Default> Default for RwLock<T> {
    fn default() -> Self {
        RwLock::new(T::default())
    }
}

impl<T> From<T> for RwLock<T> {
    fn from(value: T) -> Self {
        RwLock::new(value)
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for RwLock<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("RwLock");
        match self.try_read() {
            Ok(guard) => d.field("data", &&*guard),
            Err(_) => d.field("data", &format_args!("<locked>")),
        };
        d.finish()
    }
}

/// Permits of a borrowed lock's semaphore, returned when dropped.
struct Permits<'a> {
    sem: &'a Semaphore,
    n: u32,
}

impl<'a> Permits<'a> {
    fn new(sem: &'a Semaphore, n: u32) -> Self {
        Permits { sem, n }
    }

    /// Keeps one permit and returns the others (a write guard's downgrade).
    fn downgrade(&mut self) {
        // Count first: if a woken waiter's waker panics, the unwinding drops
        // this token, which must then return the one permit left.
        let extra = self.n - 1;
        self.n = 1;
        if extra > 0 {
            self.sem.release(extra as usize);
        }
    }
}

impl Drop for Permits<'_> {
    fn drop(&mut self) {
        self.sem.release(self.n as usize);
    }
}

/// Permits of an `Rc<RwLock<T>>`, returned when dropped.
struct OwnedPermits<T: ?Sized> {
    lock: Rc<RwLock<T>>,
    n: u32,
}

impl<T: ?Sized> OwnedPermits<T> {
    /// As [`Permits::downgrade`].
    fn downgrade(&mut self) {
        let extra = self.n - 1;
        self.n = 1;
        if extra > 0 {
            self.lock.sem.release(extra as usize);
        }
    }
}

impl<T: ?Sized> Drop for OwnedPermits<T> {
    fn drop(&mut self) {
        self.lock.sem.release(self.n as usize);
    }
}

/// `Deref`, `Debug` and `Display` of a guard.
macro_rules! guard_impls {
    ([$($gen:tt)*] $guard:ty => $target:ty) => {
        impl<$($gen)*> Deref for $guard {
            type Target = $target;
            fn deref(&self) -> &$target {
                // SAFETY: `data` points into the lock's value, alive for the
                // guard's life (module invariants); the guard holds a read
                // permit at least, so no `&mut` into the value exists elsewhere.
                unsafe { &*self.data }
            }
        }

        impl<$($gen)*> fmt::Debug for $guard
        where
            $target: fmt::Debug,
        {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Debug::fmt(&**self, f)
            }
        }

        impl<$($gen)*> fmt::Display for $guard
        where
            $target: fmt::Display,
        {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(&**self, f)
            }
        }
    };
}

/// `DerefMut` of a write guard (on top of [`guard_impls`]).
macro_rules! write_guard_impls {
    ([$($gen:tt)*] $guard:ty => $target:ty) => {
        guard_impls!([$($gen)*] $guard => $target);

        impl<$($gen)*> DerefMut for $guard {
            fn deref_mut(&mut self) -> &mut $target {
                // SAFETY: as in `deref`, and this guard holds every permit, so
                // no other guard exists; `&mut self` makes the borrow unique.
                unsafe { &mut *self.data }
            }
        }
    };
}

/// Shared access to an [`RwLock`]'s value (or a part of it, after
/// [`map`](Self::map)); released when dropped.
#[must_use = "dropping a guard unlocks at once"]
pub struct RwLockReadGuard<'a, T: ?Sized> {
    permits: Permits<'a>,
    data: *const T,
    _marker: PhantomData<&'a T>,
}

guard_impls!(['a, T: ?Sized] RwLockReadGuard<'a, T> => T);

impl<'a, T: ?Sized> RwLockReadGuard<'a, T> {
    /// A guard for a part of the value, holding the same read access.
    ///
    /// An associated function (`RwLockReadGuard::map(guard, ..)`), so that it
    /// does not hide a method of `T`. If `f` panics, the lock is released.
    ///
    /// # Examples
    ///
    /// ```
    /// use hearth_sync::{RwLock, RwLockReadGuard};
    ///
    /// futures::executor::block_on(async {
    ///     let lock = RwLock::new((1, "one"));
    ///     let name = RwLockReadGuard::map(lock.read().await, |v| &v.1);
    ///     assert_eq!(*name, "one");
    /// });
    /// ```
    pub fn map<U: ?Sized, F: FnOnce(&T) -> &U>(this: Self, f: F) -> RwLockReadGuard<'a, U> {
        let data: *const U = f(&*this);
        RwLockReadGuard {
            permits: this.permits,
            data,
            _marker: PhantomData,
        }
    }

    /// As [`map`](Self::map), if `f` returns `Some`; gives the guard back
    /// otherwise.
    pub fn try_map<U: ?Sized, F: FnOnce(&T) -> Option<&U>>(
        this: Self,
        f: F,
    ) -> Result<RwLockReadGuard<'a, U>, Self> {
        let data: *const U = match f(&*this) {
            Some(data) => data,
            None => return Err(this),
        };
        Ok(RwLockReadGuard {
            permits: this.permits,
            data,
            _marker: PhantomData,
        })
    }
}

/// Exclusive access to an [`RwLock`]'s value; released when dropped.
#[must_use = "dropping a guard unlocks at once"]
pub struct RwLockWriteGuard<'a, T: ?Sized> {
    permits: Permits<'a>,
    data: *mut T,
    _marker: PhantomData<&'a mut T>,
}

write_guard_impls!(['a, T: ?Sized] RwLockWriteGuard<'a, T> => T);

impl<'a, T: ?Sized> RwLockWriteGuard<'a, T> {
    /// A guard for a part of the value, holding the same exclusive access.
    /// If `f` panics, the lock is released.
    ///
    /// # Examples
    ///
    /// ```
    /// use hearth_sync::{RwLock, RwLockWriteGuard};
    ///
    /// futures::executor::block_on(async {
    ///     let lock = RwLock::new((1, 2));
    ///     *RwLockWriteGuard::map(lock.write().await, |v| &mut v.1) += 10;
    ///     assert_eq!(*lock.read().await, (1, 12));
    /// });
    /// ```
    pub fn map<U: ?Sized, F: FnOnce(&mut T) -> &mut U>(
        mut this: Self,
        f: F,
    ) -> RwLockMappedWriteGuard<'a, U> {
        let data: *mut U = f(&mut *this);
        RwLockMappedWriteGuard {
            permits: this.permits,
            data,
            _marker: PhantomData,
        }
    }

    /// As [`map`](Self::map), if `f` returns `Some`; gives the guard back
    /// otherwise.
    pub fn try_map<U: ?Sized, F: FnOnce(&mut T) -> Option<&mut U>>(
        mut this: Self,
        f: F,
    ) -> Result<RwLockMappedWriteGuard<'a, U>, Self> {
        let data: *mut U = match f(&mut *this) {
            Some(data) => data,
            None => return Err(this),
        };
        Ok(RwLockMappedWriteGuard {
            permits: this.permits,
            data,
            _marker: PhantomData,
        })
    }

    /// The same exclusive access as a mapped guard of the whole value.
    pub fn into_mapped(this: Self) -> RwLockMappedWriteGuard<'a, T> {
        RwLockWriteGuard::map(this, |v| v)
    }

    /// Turns exclusive access into shared access without letting a writer
    /// in between: readers queued behind this writer proceed, a queued
    /// writer keeps waiting.
    ///
    /// # Examples
    ///
    /// ```
    /// use hearth_sync::RwLock;
    ///
    /// futures::executor::block_on(async {
    ///     let lock = RwLock::new(1);
    ///     let mut w = lock.write().await;
    ///     *w = 2;
    ///     let r = w.downgrade();
    ///     assert_eq!(*lock.try_read().unwrap(), 2); // readers get in
    ///     assert!(lock.try_write().is_err()); // writers do not
    ///     drop(r);
    /// });
    /// ```
    pub fn downgrade(self) -> RwLockReadGuard<'a, T> {
        RwLockWriteGuard::downgrade_map(self, |v| v)
    }

    /// Maps to a part of the value and downgrades to shared access, as
    /// [`map`](Self::map) then [`downgrade`](Self::downgrade). If `f`
    /// panics, the lock is released.
    pub fn downgrade_map<U: ?Sized, F: FnOnce(&T) -> &U>(
        this: Self,
        f: F,
    ) -> RwLockReadGuard<'a, U> {
        let data: *const U = f(&*this);
        let mut permits = this.permits;
        permits.downgrade();
        RwLockReadGuard {
            permits,
            data,
            _marker: PhantomData,
        }
    }

    /// As [`downgrade_map`](Self::downgrade_map), if `f` returns `Some`;
    /// gives the write guard back otherwise (not downgraded).
    pub fn try_downgrade_map<U: ?Sized, F: FnOnce(&T) -> Option<&U>>(
        this: Self,
        f: F,
    ) -> Result<RwLockReadGuard<'a, U>, Self> {
        let data: *const U = match f(&*this) {
            Some(data) => data,
            None => return Err(this),
        };
        let mut permits = this.permits;
        permits.downgrade();
        Ok(RwLockReadGuard {
            permits,
            data,
            _marker: PhantomData,
        })
    }
}

/// Exclusive access to a part of an [`RwLock`]'s value, from
/// [`RwLockWriteGuard::map`]; released when dropped.
#[must_use = "dropping a guard unlocks at once"]
pub struct RwLockMappedWriteGuard<'a, T: ?Sized> {
    permits: Permits<'a>,
    data: *mut T,
    _marker: PhantomData<&'a mut T>,
}

write_guard_impls!(['a, T: ?Sized] RwLockMappedWriteGuard<'a, T> => T);

impl<'a, T: ?Sized> RwLockMappedWriteGuard<'a, T> {
    /// As [`RwLockWriteGuard::map`].
    pub fn map<U: ?Sized, F: FnOnce(&mut T) -> &mut U>(
        mut this: Self,
        f: F,
    ) -> RwLockMappedWriteGuard<'a, U> {
        let data: *mut U = f(&mut *this);
        RwLockMappedWriteGuard {
            permits: this.permits,
            data,
            _marker: PhantomData,
        }
    }

    /// As [`RwLockWriteGuard::try_map`].
    pub fn try_map<U: ?Sized, F: FnOnce(&mut T) -> Option<&mut U>>(
        mut this: Self,
        f: F,
    ) -> Result<RwLockMappedWriteGuard<'a, U>, Self> {
        let data: *mut U = match f(&mut *this) {
            Some(data) => data,
            None => return Err(this),
        };
        Ok(RwLockMappedWriteGuard {
            permits: this.permits,
            data,
            _marker: PhantomData,
        })
    }
}

/// Shared access to an `Rc<RwLock<T>>`'s value (or a part `U` of it, after
/// [`map`](Self::map)); released when dropped.
#[must_use = "dropping a guard unlocks at once"]
pub struct OwnedRwLockReadGuard<T: ?Sized, U: ?Sized = T> {
    permits: OwnedPermits<T>,
    data: *const U,
}

guard_impls!([T: ?Sized, U: ?Sized] OwnedRwLockReadGuard<T, U> => U);

impl<T: ?Sized> OwnedRwLockReadGuard<T> {
    fn new(lock: Rc<RwLock<T>>) -> Self {
        let data = lock.value.get();
        OwnedRwLockReadGuard {
            permits: OwnedPermits { lock, n: 1 },
            data,
        }
    }
}

impl<T: ?Sized, U: ?Sized> OwnedRwLockReadGuard<T, U> {
    /// As [`RwLockReadGuard::map`].
    pub fn map<V: ?Sized, F: FnOnce(&U) -> &V>(this: Self, f: F) -> OwnedRwLockReadGuard<T, V> {
        let data: *const V = f(&*this);
        OwnedRwLockReadGuard {
            permits: this.permits,
            data,
        }
    }

    /// As [`RwLockReadGuard::try_map`].
    pub fn try_map<V: ?Sized, F: FnOnce(&U) -> Option<&V>>(
        this: Self,
        f: F,
    ) -> Result<OwnedRwLockReadGuard<T, V>, Self> {
        let data: *const V = match f(&*this) {
            Some(data) => data,
            None => return Err(this),
        };
        Ok(OwnedRwLockReadGuard {
            permits: this.permits,
            data,
        })
    }

    /// The lock this guard reads.
    pub fn rwlock(this: &Self) -> &Rc<RwLock<T>> {
        &this.permits.lock
    }
}

/// Exclusive access to an `Rc<RwLock<T>>`'s value; released when dropped.
#[must_use = "dropping a guard unlocks at once"]
pub struct OwnedRwLockWriteGuard<T: ?Sized> {
    permits: OwnedPermits<T>,
    data: *mut T,
}

write_guard_impls!([T: ?Sized] OwnedRwLockWriteGuard<T> => T);

impl<T: ?Sized> OwnedRwLockWriteGuard<T> {
    fn new(lock: Rc<RwLock<T>>) -> Self {
        let data = lock.value.get();
        let n = lock.max_readers;
        OwnedRwLockWriteGuard {
            permits: OwnedPermits { lock, n },
            data,
        }
    }

    /// As [`RwLockWriteGuard::map`].
    pub fn map<U: ?Sized, F: FnOnce(&mut T) -> &mut U>(
        mut this: Self,
        f: F,
    ) -> OwnedRwLockMappedWriteGuard<T, U> {
        let data: *mut U = f(&mut *this);
        OwnedRwLockMappedWriteGuard {
            permits: this.permits,
            data,
        }
    }

    /// As [`RwLockWriteGuard::try_map`].
    pub fn try_map<U: ?Sized, F: FnOnce(&mut T) -> Option<&mut U>>(
        mut this: Self,
        f: F,
    ) -> Result<OwnedRwLockMappedWriteGuard<T, U>, Self> {
        let data: *mut U = match f(&mut *this) {
            Some(data) => data,
            None => return Err(this),
        };
        Ok(OwnedRwLockMappedWriteGuard {
            permits: this.permits,
            data,
        })
    }

    /// As [`RwLockWriteGuard::into_mapped`].
    pub fn into_mapped(this: Self) -> OwnedRwLockMappedWriteGuard<T> {
        OwnedRwLockWriteGuard::map(this, |v| v)
    }

    /// As [`RwLockWriteGuard::downgrade`].
    pub fn downgrade(self) -> OwnedRwLockReadGuard<T> {
        OwnedRwLockWriteGuard::downgrade_map(self, |v| v)
    }

    /// As [`RwLockWriteGuard::downgrade_map`].
    pub fn downgrade_map<U: ?Sized, F: FnOnce(&T) -> &U>(
        this: Self,
        f: F,
    ) -> OwnedRwLockReadGuard<T, U> {
        let data: *const U = f(&*this);
        let mut permits = this.permits;
        permits.downgrade();
        OwnedRwLockReadGuard { permits, data }
    }

    /// As [`RwLockWriteGuard::try_downgrade_map`].
    pub fn try_downgrade_map<U: ?Sized, F: FnOnce(&T) -> Option<&U>>(
        this: Self,
        f: F,
    ) -> Result<OwnedRwLockReadGuard<T, U>, Self> {
        let data: *const U = match f(&*this) {
            Some(data) => data,
            None => return Err(this),
        };
        let mut permits = this.permits;
        permits.downgrade();
        Ok(OwnedRwLockReadGuard { permits, data })
    }

    /// The lock this guard writes.
    pub fn rwlock(this: &Self) -> &Rc<RwLock<T>> {
        &this.permits.lock
    }
}

/// Exclusive access to a part `U` of an `Rc<RwLock<T>>`'s value, from
/// [`OwnedRwLockWriteGuard::map`]; released when dropped.
#[must_use = "dropping a guard unlocks at once"]
pub struct OwnedRwLockMappedWriteGuard<T: ?Sized, U: ?Sized = T> {
    permits: OwnedPermits<T>,
    data: *mut U,
}

write_guard_impls!([T: ?Sized, U: ?Sized] OwnedRwLockMappedWriteGuard<T, U> => U);

impl<T: ?Sized, U: ?Sized> OwnedRwLockMappedWriteGuard<T, U> {
    /// As [`RwLockWriteGuard::map`].
    pub fn map<V: ?Sized, F: FnOnce(&mut U) -> &mut V>(
        mut this: Self,
        f: F,
    ) -> OwnedRwLockMappedWriteGuard<T, V> {
        let data: *mut V = f(&mut *this);
        OwnedRwLockMappedWriteGuard {
            permits: this.permits,
            data,
        }
    }

    /// As [`RwLockWriteGuard::try_map`].
    pub fn try_map<V: ?Sized, F: FnOnce(&mut U) -> Option<&mut V>>(
        mut this: Self,
        f: F,
    ) -> Result<OwnedRwLockMappedWriteGuard<T, V>, Self> {
        let data: *mut V = match f(&mut *this) {
            Some(data) => data,
            None => return Err(this),
        };
        Ok(OwnedRwLockMappedWriteGuard {
            permits: this.permits,
            data,
        })
    }

    /// The lock this guard writes.
    pub fn rwlock(this: &Self) -> &Rc<RwLock<T>> {
        &this.permits.lock
    }
}
