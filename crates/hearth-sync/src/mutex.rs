//! `Mutex`: an async mutex for tasks on one thread, FIFO fair.
//!
//! A [`Semaphore`] with one permit guards an `UnsafeCell`. **Invariant:** a
//! reference into the cell exists only inside a guard, and a guard exists only
//! while it holds the semaphore's single permit, so at most one guard (and one
//! `&mut T`) exists at a time. The semaphore gives the FIFO order and the
//! cancellation behaviour (see its docs).
//!
//! A mapped guard ([`MutexGuard::map`]) is a raw pointer to the part of the
//! value its closure picked, plus the permit: the same invariant holds, the
//! pointer is valid while the permit is held (the mutex outlives a borrowed
//! guard; an owned guard's `Rc` keeps it alive). Mapping moves the permit
//! from the old guard to the new one without releasing it; if the closure
//! panics, the old guard is dropped by the unwinding and unlocks, once.
//!
//! Differences from `tokio::sync::Mutex`: `!Send`/`!Sync` (no `Send` bound on
//! `T` either); owned guards hold an `Rc` (`lock_owned(self: Rc<Self>)`,
//! tokio's take an `Arc`): the tasks sharing a mutex share a thread. No
//! `blocking_lock`: blocking the thread that runs the holder never returns.

use std::cell::UnsafeCell;
use std::fmt;
use std::marker::PhantomData;
use std::ops::{Deref, DerefMut};
use std::rc::Rc;

use crate::semaphore::{Semaphore, TryAcquireError};

/// An async mutex for tasks on one thread.
///
/// Tasks that wait for the lock are served in the order they asked.
///
/// # Examples
///
/// ```
/// use hearth_sync::Mutex;
///
/// futures::executor::block_on(async {
///     let m = Mutex::new(1);
///     *m.lock().await += 1;
///     assert_eq!(*m.try_lock().unwrap(), 2);
/// });
/// ```
pub struct Mutex<T: ?Sized> {
    sem: Semaphore,
    value: UnsafeCell<T>,
}

/// The error of [`Mutex::try_lock`]: the mutex is locked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TryLockError(());

impl fmt::Display for TryLockError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("operation would block")
    }
}

impl std::error::Error for TryLockError {}

impl TryLockError {
    pub(crate) fn new() -> Self {
        TryLockError(())
    }
}

impl<T> Mutex<T> {
    /// Creates an unlocked mutex.
    pub const fn new(value: T) -> Self {
        Mutex {
            sem: Semaphore::new(1),
            value: UnsafeCell::new(value),
        }
    }

    /// Returns the value.
    pub fn into_inner(self) -> T {
        self.value.into_inner()
    }
}

impl<T: ?Sized> Mutex<T> {
    /// Waits for the lock.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: a dropped `lock` future gives up its place in the queue,
    /// and a lock handed to it passes to the next waiter.
    pub async fn lock(&self) -> MutexGuard<'_, T> {
        match self.sem.acquire().await {
            Ok(permit) => permit.forget(),
            Err(_) => unreachable!("a mutex's semaphore is never closed"),
        }
        MutexGuard { lock: self }
    }

    /// Takes the lock if it is free and nobody is queued.
    pub fn try_lock(&self) -> Result<MutexGuard<'_, T>, TryLockError> {
        match self.sem.try_acquire() {
            Ok(permit) => {
                permit.forget();
                Ok(MutexGuard { lock: self })
            }
            Err(TryAcquireError::NoPermits | TryAcquireError::Closed) => Err(TryLockError(())),
        }
    }

    /// Waits for the lock, returning a guard that owns an `Rc` to the mutex.
    /// Cancel safe, as [`lock`](Self::lock).
    pub async fn lock_owned(self: Rc<Self>) -> OwnedMutexGuard<T> {
        match self.sem.acquire().await {
            Ok(permit) => permit.forget(),
            Err(_) => unreachable!("a mutex's semaphore is never closed"),
        }
        OwnedMutexGuard {
            lock: OwnedLock(self),
        }
    }

    /// As [`try_lock`](Self::try_lock), returning an owned guard.
    pub fn try_lock_owned(self: Rc<Self>) -> Result<OwnedMutexGuard<T>, TryLockError> {
        match self.sem.try_acquire() {
            Ok(permit) => permit.forget(),
            Err(_) => return Err(TryLockError(())),
        }
        Ok(OwnedMutexGuard {
            lock: OwnedLock(self),
        })
    }

    /// A mutable reference to the value; no locking needed.
    pub fn get_mut(&mut self) -> &mut T {
        self.value.get_mut()
    }
}

impl<T: Default> Default for Mutex<T> {
    fn default() -> Self {
        Mutex::new(T::default())
    }
}

impl<T> From<T> for Mutex<T> {
    fn from(value: T) -> Self {
        Mutex::new(value)
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for Mutex<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("Mutex");
        match self.try_lock() {
            Ok(guard) => d.field("data", &&*guard),
            Err(_) => d.field("data", &format_args!("<locked>")),
        };
        d.finish()
    }
}

/// Exclusive access to a [`Mutex`]'s value; unlocks when dropped.
#[must_use = "dropping a guard unlocks at once"]
pub struct MutexGuard<'a, T: ?Sized> {
    lock: &'a Mutex<T>,
}

impl<T: ?Sized> Deref for MutexGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: this guard holds the mutex's only permit (module invariant),
        // so no `&mut T` exists elsewhere.
        unsafe { &*self.lock.value.get() }
    }
}

impl<T: ?Sized> DerefMut for MutexGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: as in `deref`; `&mut self` makes the borrow unique.
        unsafe { &mut *self.lock.value.get() }
    }
}

impl<'a, T: ?Sized> MutexGuard<'a, T> {
    /// A guard for a part of the value, holding the same lock.
    ///
    /// An associated function (`MutexGuard::map(guard, ..)`), so that it does
    /// not hide a method of `T`. If `f` panics, the mutex is unlocked.
    ///
    /// # Examples
    ///
    /// ```
    /// use hearth_sync::{Mutex, MutexGuard};
    ///
    /// futures::executor::block_on(async {
    ///     let m = Mutex::new((1, 2));
    ///     let mut second = MutexGuard::map(m.lock().await, |v| &mut v.1);
    ///     *second += 10;
    ///     assert!(m.try_lock().is_err()); // still locked
    ///     drop(second);
    ///     assert_eq!(*m.lock().await, (1, 12));
    /// });
    /// ```
    pub fn map<U: ?Sized, F: FnOnce(&mut T) -> &mut U>(
        mut this: Self,
        f: F,
    ) -> MappedMutexGuard<'a, U> {
        let data: *mut U = f(&mut *this);
        let sem = &this.lock.sem;
        // The permit moves to the mapped guard.
        std::mem::forget(this);
        MappedMutexGuard {
            sem,
            data,
            _marker: PhantomData,
        }
    }

    /// As [`map`](Self::map), if `f` returns `Some`; gives the guard back
    /// otherwise.
    pub fn try_map<U: ?Sized, F: FnOnce(&mut T) -> Option<&mut U>>(
        mut this: Self,
        f: F,
    ) -> Result<MappedMutexGuard<'a, U>, Self> {
        let data: *mut U = match f(&mut *this) {
            Some(data) => data,
            None => return Err(this),
        };
        let sem = &this.lock.sem;
        std::mem::forget(this);
        Ok(MappedMutexGuard {
            sem,
            data,
            _marker: PhantomData,
        })
    }

    /// The mutex this guard locks.
    pub fn mutex(this: &Self) -> &'a Mutex<T> {
        this.lock
    }
}

impl<T: ?Sized> Drop for MutexGuard<'_, T> {
    #[inline]
    fn drop(&mut self) {
        self.lock.sem.release(1);
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for MutexGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

impl<T: ?Sized + fmt::Display> fmt::Display for MutexGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&**self, f)
    }
}

/// Exclusive access to a part of a [`Mutex`]'s value, from
/// [`MutexGuard::map`]; unlocks when dropped.
#[must_use = "dropping a guard unlocks at once"]
pub struct MappedMutexGuard<'a, T: ?Sized> {
    sem: &'a Semaphore,
    /// Into the mutex's value; valid while the permit is held.
    data: *mut T,
    _marker: PhantomData<&'a mut T>,
}

impl<'a, T: ?Sized> MappedMutexGuard<'a, T> {
    /// As [`MutexGuard::map`].
    pub fn map<U: ?Sized, F: FnOnce(&mut T) -> &mut U>(
        mut this: Self,
        f: F,
    ) -> MappedMutexGuard<'a, U> {
        let data: *mut U = f(&mut *this);
        let sem = this.sem;
        std::mem::forget(this);
        MappedMutexGuard {
            sem,
            data,
            _marker: PhantomData,
        }
    }

    /// As [`MutexGuard::try_map`].
    pub fn try_map<U: ?Sized, F: FnOnce(&mut T) -> Option<&mut U>>(
        mut this: Self,
        f: F,
    ) -> Result<MappedMutexGuard<'a, U>, Self> {
        let data: *mut U = match f(&mut *this) {
            Some(data) => data,
            None => return Err(this),
        };
        let sem = this.sem;
        std::mem::forget(this);
        Ok(MappedMutexGuard {
            sem,
            data,
            _marker: PhantomData,
        })
    }
}

impl<T: ?Sized> Deref for MappedMutexGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: `data` points into the mutex's value (or is a reference the
        // map closure returned, which outlives `'a`), and this guard holds
        // the only permit (module invariant).
        unsafe { &*self.data }
    }
}

impl<T: ?Sized> DerefMut for MappedMutexGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: as in `deref`; `&mut self` makes the borrow unique.
        unsafe { &mut *self.data }
    }
}

impl<T: ?Sized> Drop for MappedMutexGuard<'_, T> {
    fn drop(&mut self) {
        self.sem.release(1);
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for MappedMutexGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

impl<T: ?Sized + fmt::Display> fmt::Display for MappedMutexGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&**self, f)
    }
}

/// The lock of an owned guard: unlocks when dropped. The owned guards have
/// no `Drop` of their own, so mapping can move this out of them.
struct OwnedLock<T: ?Sized>(Rc<Mutex<T>>);

impl<T: ?Sized> Drop for OwnedLock<T> {
    fn drop(&mut self) {
        self.0.sem.release(1);
    }
}

/// Exclusive access to an `Rc<Mutex<T>>`'s value; unlocks when dropped.
#[must_use = "dropping a guard unlocks at once"]
pub struct OwnedMutexGuard<T: ?Sized> {
    lock: OwnedLock<T>,
}

impl<T: ?Sized> OwnedMutexGuard<T> {
    /// The mutex this guard locks.
    pub fn mutex(this: &Self) -> &Rc<Mutex<T>> {
        &this.lock.0
    }

    /// As [`MutexGuard::map`], keeping the `Rc`.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::rc::Rc;
    /// use hearth_sync::{Mutex, OwnedMutexGuard};
    ///
    /// futures::executor::block_on(async {
    ///     let m = Rc::new(Mutex::new(vec![1, 2]));
    ///     let mut first = OwnedMutexGuard::map(m.clone().lock_owned().await, |v| &mut v[0]);
    ///     *first = 5;
    ///     drop(first);
    ///     assert_eq!(*m.lock().await, [5, 2]);
    /// });
    /// ```
    pub fn map<U: ?Sized, F: FnOnce(&mut T) -> &mut U>(
        mut this: Self,
        f: F,
    ) -> OwnedMappedMutexGuard<T, U> {
        let data: *mut U = f(&mut *this);
        OwnedMappedMutexGuard {
            lock: this.lock,
            data,
        }
    }

    /// As [`MutexGuard::try_map`], keeping the `Rc`.
    pub fn try_map<U: ?Sized, F: FnOnce(&mut T) -> Option<&mut U>>(
        mut this: Self,
        f: F,
    ) -> Result<OwnedMappedMutexGuard<T, U>, Self> {
        let data: *mut U = match f(&mut *this) {
            Some(data) => data,
            None => return Err(this),
        };
        Ok(OwnedMappedMutexGuard {
            lock: this.lock,
            data,
        })
    }
}

impl<T: ?Sized> Deref for OwnedMutexGuard<T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: this guard holds the mutex's only permit (module invariant).
        unsafe { &*self.lock.0.value.get() }
    }
}

impl<T: ?Sized> DerefMut for OwnedMutexGuard<T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: as in `deref`; `&mut self` makes the borrow unique.
        unsafe { &mut *self.lock.0.value.get() }
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for OwnedMutexGuard<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

impl<T: ?Sized + fmt::Display> fmt::Display for OwnedMutexGuard<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&**self, f)
    }
}

/// Exclusive access to a part `U` of an `Rc<Mutex<T>>`'s value, from
/// [`OwnedMutexGuard::map`]; unlocks when dropped.
#[must_use = "dropping a guard unlocks at once"]
pub struct OwnedMappedMutexGuard<T: ?Sized, U: ?Sized = T> {
    lock: OwnedLock<T>,
    /// Into the mutex's value; valid while `lock` is held.
    data: *mut U,
}

impl<T: ?Sized, U: ?Sized> OwnedMappedMutexGuard<T, U> {
    /// As [`MutexGuard::map`].
    pub fn map<V: ?Sized, F: FnOnce(&mut U) -> &mut V>(
        mut this: Self,
        f: F,
    ) -> OwnedMappedMutexGuard<T, V> {
        let data: *mut V = f(&mut *this);
        OwnedMappedMutexGuard {
            lock: this.lock,
            data,
        }
    }

    /// As [`MutexGuard::try_map`].
    pub fn try_map<V: ?Sized, F: FnOnce(&mut U) -> Option<&mut V>>(
        mut this: Self,
        f: F,
    ) -> Result<OwnedMappedMutexGuard<T, V>, Self> {
        let data: *mut V = match f(&mut *this) {
            Some(data) => data,
            None => return Err(this),
        };
        Ok(OwnedMappedMutexGuard {
            lock: this.lock,
            data,
        })
    }

    /// The mutex this guard locks.
    pub fn mutex(this: &Self) -> &Rc<Mutex<T>> {
        &this.lock.0
    }
}

impl<T: ?Sized, U: ?Sized> Deref for OwnedMappedMutexGuard<T, U> {
    type Target = U;
    fn deref(&self) -> &U {
        // SAFETY: `data` points into the value of the mutex that `lock`
        // keeps alive and locked (module invariant).
        unsafe { &*self.data }
    }
}

impl<T: ?Sized, U: ?Sized> DerefMut for OwnedMappedMutexGuard<T, U> {
    fn deref_mut(&mut self) -> &mut U {
        // SAFETY: as in `deref`; `&mut self` makes the borrow unique.
        unsafe { &mut *self.data }
    }
}

impl<T: ?Sized, U: ?Sized + fmt::Debug> fmt::Debug for OwnedMappedMutexGuard<T, U> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

impl<T: ?Sized, U: ?Sized + fmt::Display> fmt::Display for OwnedMappedMutexGuard<T, U> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&**self, f)
    }
}
