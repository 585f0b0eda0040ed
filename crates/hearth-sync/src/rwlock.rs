//! `RwLock`: an async reader-writer lock for tasks on one thread, FIFO fair.
//!
//! A [`Semaphore`] with [`MAX_READS`] permits guards an `UnsafeCell`: a reader
//! takes one permit, a writer all of them. **Invariant:** a shared reference
//! into the cell exists only inside a read guard (holding one permit), a
//! mutable one only inside a write guard (holding all permits), so a writer
//! excludes everyone and readers exclude writers. Because the semaphore is
//! FIFO, a queued writer holds back the readers that arrive after it: no
//! writer starvation.
//!
//! Differences from `tokio::sync::RwLock`: `!Send`/`!Sync`; no mapped or owned
//! guards, no downgrade.

use std::cell::UnsafeCell;
use std::fmt;
use std::ops::{Deref, DerefMut};

use crate::mutex::TryLockError;
use crate::semaphore::Semaphore;

/// The most readers at once (as tokio's default).
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
    sem: Semaphore,
    value: UnsafeCell<T>,
}

impl<T> RwLock<T> {
    /// Creates an unlocked lock.
    pub const fn new(value: T) -> Self {
        RwLock {
            sem: Semaphore::new(MAX_READS as usize),
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
        match self.sem.acquire().await {
            Ok(permit) => permit.forget(),
            Err(_) => unreachable!("a lock's semaphore is never closed"),
        }
        RwLockReadGuard { lock: self }
    }

    /// Takes shared access if no writer holds or awaits the lock.
    pub fn try_read(&self) -> Result<RwLockReadGuard<'_, T>, TryLockError> {
        match self.sem.try_acquire() {
            Ok(permit) => {
                permit.forget();
                Ok(RwLockReadGuard { lock: self })
            }
            Err(_) => Err(TryLockError::new()),
        }
    }

    /// Waits for exclusive access.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: a dropped future gives up its place in the queue.
    pub async fn write(&self) -> RwLockWriteGuard<'_, T> {
        match self.sem.acquire_many(MAX_READS).await {
            Ok(permit) => permit.forget(),
            Err(_) => unreachable!("a lock's semaphore is never closed"),
        }
        RwLockWriteGuard { lock: self }
    }

    /// Takes exclusive access if nobody holds or awaits the lock.
    pub fn try_write(&self) -> Result<RwLockWriteGuard<'_, T>, TryLockError> {
        match self.sem.try_acquire_many(MAX_READS) {
            Ok(permit) => {
                permit.forget();
                Ok(RwLockWriteGuard { lock: self })
            }
            Err(_) => Err(TryLockError::new()),
        }
    }

    /// A mutable reference to the value; no locking needed.
    pub fn get_mut(&mut self) -> &mut T {
        self.value.get_mut()
    }
}

impl<T: Default> Default for RwLock<T> {
    fn default() -> Self {
        RwLock::new(T::default())
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

/// Shared access to an [`RwLock`]'s value; released when dropped.
#[must_use = "dropping a guard unlocks at once"]
pub struct RwLockReadGuard<'a, T: ?Sized> {
    lock: &'a RwLock<T>,
}

impl<T: ?Sized> Deref for RwLockReadGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: this guard holds a read permit, so no write guard (and no
        // `&mut T`) exists (module invariant).
        unsafe { &*self.lock.value.get() }
    }
}

impl<T: ?Sized> Drop for RwLockReadGuard<'_, T> {
    fn drop(&mut self) {
        self.lock.sem.release(1);
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for RwLockReadGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

/// Exclusive access to an [`RwLock`]'s value; released when dropped.
#[must_use = "dropping a guard unlocks at once"]
pub struct RwLockWriteGuard<'a, T: ?Sized> {
    lock: &'a RwLock<T>,
}

impl<T: ?Sized> Deref for RwLockWriteGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: this guard holds every permit, so no other guard exists
        // (module invariant).
        unsafe { &*self.lock.value.get() }
    }
}

impl<T: ?Sized> DerefMut for RwLockWriteGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: as in `deref`; `&mut self` makes the borrow unique.
        unsafe { &mut *self.lock.value.get() }
    }
}

impl<T: ?Sized> Drop for RwLockWriteGuard<'_, T> {
    fn drop(&mut self) {
        self.lock.sem.release(MAX_READS as usize);
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for RwLockWriteGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}
