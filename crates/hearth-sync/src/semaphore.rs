//! `Semaphore`: a FIFO-fair counting semaphore for tasks on one thread.
//!
//! # How it works
//!
//! `permits` counts the free permits. A task that asks for `n` takes them at
//! once if nobody is queued and enough are free; otherwise it parks in the
//! [`WaitList`] with `n` recorded. Whenever permits come back (a permit
//! dropped, [`add_permits`](Semaphore::add_permits), a waiter cancelled), the
//! semaphore grants permits to waiters from the front **while the front
//! waiter's request fits**: it moves the permits into the waiter's node, unlinks
//! it and wakes it. Only waiters that can proceed are woken, and a large
//! request at the front holds back the smaller ones behind it (FIFO fairness,
//! no starvation).
//!
//! A waiter that is dropped while queued unlinks itself (and, if it was at the
//! front, lets the next waiters try); one dropped after being granted gives its
//! permits back, which passes them on. So no permit is ever lost.
//!
//! # Differences from `tokio::sync::Semaphore`
//!
//! - `!Send` and `!Sync`: for tasks on one thread. Owned permits hold an `Rc`.
//! - tokio hands permits to the front waiter piecemeal as they are released;
//!   here they stay free until the whole request fits. The observable order is
//!   the same (FIFO), but [`available_permits`](Semaphore::available_permits)
//!   counts permits that a partly satisfied waiter would hold in tokio.
//!   [`try_acquire`](Semaphore::try_acquire) fails while anyone is queued, so
//!   it cannot overtake a waiter either way.
//! - No `blocking_acquire*`: blocking the thread that runs the permit holders
//!   would never return.

use std::cell::{Cell, RefCell};
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};

use hearth_task::ContextExt;

use crate::budget::budgeted;
use crate::unwind::{run_to_end, then_anyway};
use crate::wait_list::{wake_all, WaitList};

/// A waiter's request and outcome.
pub(crate) struct Request {
    /// Permits asked for.
    n: usize,
    /// Set when the permits were moved to this waiter.
    granted: bool,
}

/// A counting semaphore for tasks on one thread, fair in FIFO order.
///
/// # Examples
///
/// ```
/// use hearth_sync::Semaphore;
///
/// futures::executor::block_on(async {
///     let sem = Semaphore::new(2);
///     let a = sem.acquire().await.unwrap();
///     let _b = sem.acquire().await.unwrap();
///     assert!(sem.try_acquire().is_err());
///     drop(a);
///     assert!(sem.try_acquire().is_ok());
/// });
/// ```
pub struct Semaphore {
    /// Free permits, not yet granted to anyone.
    permits: Cell<usize>,
    /// Set by [`close`](Self::close); never cleared.
    closed: Cell<bool>,
    /// Parked acquirers, in arrival order.
    waiters: RefCell<WaitList<Request>>,
    /// Whether `waiters` has a linked waiter; kept in step with every change
    /// to the list, so the uncontended paths never borrow it.
    queued: Cell<bool>,
}

/// The error of [`Semaphore::acquire`]: the semaphore was closed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AcquireError(());

impl fmt::Display for AcquireError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("semaphore closed")
    }
}

impl std::error::Error for AcquireError {}

/// The error of [`Semaphore::try_acquire`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TryAcquireError {
    /// The semaphore was closed.
    Closed,
    /// Not enough permits are free, or other tasks are queued first.
    NoPermits,
}

impl fmt::Display for TryAcquireError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TryAcquireError::Closed => f.write_str("semaphore closed"),
            TryAcquireError::NoPermits => f.write_str("no permits available"),
        }
    }
}

impl std::error::Error for TryAcquireError {}

impl Semaphore {
    /// The largest number of permits a semaphore can hold (as tokio's).
    pub const MAX_PERMITS: usize = usize::MAX >> 3;

    /// Creates a semaphore with `permits` permits.
    ///
    /// # Panics
    ///
    /// If `permits` exceeds [`MAX_PERMITS`](Self::MAX_PERMITS).
    pub const fn new(permits: usize) -> Self {
        assert!(
            permits <= Self::MAX_PERMITS,
            "a semaphore cannot hold more than Semaphore::MAX_PERMITS permits"
        );
        Semaphore {
            permits: Cell::new(permits),
            closed: Cell::new(false),
            waiters: RefCell::new(WaitList::new()),
            queued: Cell::new(false),
        }
    }

    /// As [`new`](Self::new) (tokio's name for its `const` constructor).
    pub const fn const_new(permits: usize) -> Self {
        Semaphore::new(permits)
    }

    /// The number of free permits.
    pub fn available_permits(&self) -> usize {
        self.permits.get()
    }

    /// Adds `n` permits, waking the waiters that can now proceed.
    ///
    /// # Panics
    ///
    /// If the total would exceed [`MAX_PERMITS`](Self::MAX_PERMITS).
    pub fn add_permits(&self, n: usize) {
        let total = self
            .permits
            .get()
            .checked_add(n)
            .filter(|&t| t <= Self::MAX_PERMITS);
        let total =
            total.expect("a semaphore cannot hold more than Semaphore::MAX_PERMITS permits");
        self.permits.set(total);
        self.grant();
    }

    /// Removes up to `n` free permits and returns how many were removed.
    pub fn forget_permits(&self, n: usize) -> usize {
        let taken = n.min(self.permits.get());
        self.permits.set(self.permits.get() - taken);
        taken
    }

    /// Closes the semaphore: every queued and future `acquire` fails with
    /// [`AcquireError`]. Permits already granted stay valid.
    pub fn close(&self) {
        if self.closed.replace(true) {
            return;
        }
        let wakers = self.waiters.borrow_mut().drain(|_| ());
        self.queued.set(false);
        wake_all(wakers);
    }

    /// Whether [`close`](Self::close) was called.
    pub fn is_closed(&self) -> bool {
        self.closed.get()
    }

    /// Waits for one permit.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: dropping the future gives up its place in the queue, and a
    /// permit granted to it but not yet returned passes to the next waiter.
    pub fn acquire(&self) -> Acquire<'_> {
        Acquire {
            sem: self,
            waiter: Waiter::new(1),
        }
    }

    /// Waits for `n` permits, granted all at once.
    ///
    /// # Cancel safety
    ///
    /// As [`acquire`](Self::acquire).
    pub fn acquire_many(&self, n: u32) -> Acquire<'_> {
        Acquire {
            sem: self,
            waiter: Waiter::new(n as usize),
        }
    }

    /// Takes one permit if one is free and nobody is queued.
    pub fn try_acquire(&self) -> Result<SemaphorePermit<'_>, TryAcquireError> {
        self.try_acquire_many(1)
    }

    /// Takes `n` permits if they are free and nobody is queued.
    pub fn try_acquire_many(&self, n: u32) -> Result<SemaphorePermit<'_>, TryAcquireError> {
        self.try_take(n as usize)?;
        Ok(SemaphorePermit {
            sem: self,
            permits: n as usize,
        })
    }

    /// Waits for one permit, returning a permit that owns an `Rc` to the
    /// semaphore. Cancel safe, as [`acquire`](Self::acquire).
    pub fn acquire_owned(self: Rc<Self>) -> AcquireOwned {
        AcquireOwned {
            sem: Some(self),
            waiter: Waiter::new(1),
        }
    }

    /// Waits for `n` permits, returning an owned permit. Cancel safe, as
    /// [`acquire`](Self::acquire).
    pub fn acquire_many_owned(self: Rc<Self>, n: u32) -> AcquireOwned {
        AcquireOwned {
            sem: Some(self),
            waiter: Waiter::new(n as usize),
        }
    }

    /// As [`try_acquire`](Self::try_acquire), returning an owned permit.
    pub fn try_acquire_owned(self: Rc<Self>) -> Result<OwnedSemaphorePermit, TryAcquireError> {
        self.try_acquire_many_owned(1)
    }

    /// As [`try_acquire_many`](Self::try_acquire_many), returning an owned
    /// permit.
    pub fn try_acquire_many_owned(
        self: Rc<Self>,
        n: u32,
    ) -> Result<OwnedSemaphorePermit, TryAcquireError> {
        self.try_take(n as usize)?;
        Ok(OwnedSemaphorePermit {
            sem: self,
            permits: n as usize,
        })
    }

    #[inline]
    pub(crate) fn try_take(&self, n: usize) -> Result<(), TryAcquireError> {
        if self.closed.get() {
            return Err(TryAcquireError::Closed);
        }
        let free = self.permits.get();
        if free >= n && !self.queued.get() {
            self.permits.set(free - n);
            Ok(())
        } else {
            Err(TryAcquireError::NoPermits)
        }
    }

    /// Returns `n` permits and grants them onwards.
    #[inline]
    pub(crate) fn release(&self, n: usize) {
        self.permits.set(self.permits.get() + n);
        self.grant();
    }

    /// Grants free permits to the front waiters while their requests fit.
    ///
    /// Each grant completes before its waker runs; if a wake panics, the
    /// waiters behind still get what fits before the panic goes on.
    #[inline]
    fn grant(&self) {
        run_to_end(|| self.grant_in_order());
    }

    #[inline]
    fn grant_in_order(&self) {
        while self.queued.get() {
            let waker = {
                let mut waiters = self.waiters.borrow_mut();
                match waiters.front() {
                    Some(req) if req.n <= self.permits.get() => {
                        self.permits.set(self.permits.get() - req.n);
                        let waker = waiters.pop_front(|req| req.granted = true);
                        self.queued.set(!waiters.is_empty());
                        waker
                    }
                    _ => return,
                }
            };
            if let Some(Some(waker)) = waker {
                waker.wake();
            }
        }
    }

    /// The state machine of every acquire future.
    #[inline]
    pub(crate) fn poll_acquire(
        &self,
        waiter: &mut Waiter,
        cx: &mut Context<'_>,
    ) -> Poll<Result<(), AcquireError>> {
        match waiter.key {
            None => {
                if self.closed.get() {
                    waiter.done = true;
                    return Poll::Ready(Err(AcquireError(())));
                }
                let free = self.permits.get();
                if free >= waiter.n && !self.queued.get() {
                    self.permits.set(free - waiter.n);
                    waiter.done = true;
                    return Poll::Ready(Ok(()));
                }
                let req = Request {
                    n: waiter.n,
                    granted: false,
                };
                let mut waiters = self.waiters.borrow_mut();
                waiter.key = Some(waiters.push_back(ContextExt::local_waker(cx), req));
                self.queued.set(true);
                Poll::Pending
            }
            Some(key) => {
                let mut waiters = self.waiters.borrow_mut();
                if waiters.is_linked(key) {
                    let old = waiters.register(key, ContextExt::local_waker(cx));
                    drop(waiters);
                    drop(old);
                    return Poll::Pending;
                }
                let (_, req, waker) = waiters.remove(key);
                drop(waiters);
                waiter.key = None;
                waiter.done = true;
                // Unlinked, so the waker was taken when the outcome was set.
                debug_assert!(waker.is_none());
                if req.granted {
                    Poll::Ready(Ok(()))
                } else {
                    Poll::Ready(Err(AcquireError(())))
                }
            }
        }
    }

    /// Cleans up after an acquire future dropped before completing.
    #[cold]
    pub(crate) fn cancel(&self, waiter: &mut Waiter) {
        let Some(key) = waiter.key.take() else { return };
        let (was_linked, req, waker) = {
            let mut waiters = self.waiters.borrow_mut();
            let removed = waiters.remove(key);
            self.queued.set(!waiters.is_empty());
            removed
        };
        // The permits move on before the waker's drop (user code) runs.
        then_anyway(
            || {
                if req.granted {
                    self.release(req.n);
                } else if was_linked {
                    // A queued waiter left: the ones behind it may fit now.
                    self.grant();
                }
            },
            || drop(waker),
        );
    }
}

impl Default for Semaphore {
    /// A semaphore with no permits.
    fn default() -> Self {
        Semaphore::new(0)
    }
}

impl fmt::Debug for Semaphore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Semaphore")
            .field("permits", &self.permits.get())
            .field("closed", &self.closed.get())
            .finish_non_exhaustive()
    }
}

/// An acquire request in flight: how many permits, and the wait-list key
/// once queued.
#[derive(Debug)]
pub(crate) struct Waiter {
    n: usize,
    key: Option<usize>,
    /// Completed: a later poll is a contract violation.
    done: bool,
}

impl Waiter {
    #[inline]
    pub(crate) const fn new(n: usize) -> Self {
        Waiter {
            n,
            key: None,
            done: false,
        }
    }

    pub(crate) fn assert_not_done(&self) {
        assert!(
            !self.done,
            "an acquire future was polled after it completed"
        );
    }

    pub(crate) fn is_queued(&self) -> bool {
        self.key.is_some()
    }
}

/// The future of [`Semaphore::acquire`] and [`Semaphore::acquire_many`].
#[must_use = "futures do nothing unless awaited"]
#[derive(Debug)]
pub struct Acquire<'a> {
    sem: &'a Semaphore,
    waiter: Waiter,
}

impl<'a> Future for Acquire<'a> {
    type Output = Result<SemaphorePermit<'a>, AcquireError>;

    #[inline]
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = &mut *self;
        this.waiter.assert_not_done();
        budgeted(cx, |cx| this.sem.poll_acquire(&mut this.waiter, cx)).map_ok(|()| {
            SemaphorePermit {
                sem: this.sem,
                permits: this.waiter.n,
            }
        })
    }
}

impl Drop for Acquire<'_> {
    #[inline]
    fn drop(&mut self) {
        if self.waiter.is_queued() {
            self.sem.cancel(&mut self.waiter);
        }
    }
}

/// The future of [`Semaphore::acquire_owned`].
#[must_use = "futures do nothing unless awaited"]
#[derive(Debug)]
pub struct AcquireOwned {
    /// `None` once completed.
    sem: Option<Rc<Semaphore>>,
    waiter: Waiter,
}

impl Future for AcquireOwned {
    type Output = Result<OwnedSemaphorePermit, AcquireError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = &mut *self;
        let sem = this
            .sem
            .as_ref()
            .expect("an acquire future was polled after it completed");
        let ready = std::task::ready!(budgeted(cx, |cx| sem.poll_acquire(&mut this.waiter, cx)));
        let sem = this.sem.take().expect("checked above");
        Poll::Ready(ready.map(|()| OwnedSemaphorePermit {
            sem,
            permits: this.waiter.n,
        }))
    }
}

impl Drop for AcquireOwned {
    fn drop(&mut self) {
        if let Some(sem) = &self.sem {
            sem.cancel(&mut self.waiter);
        }
    }
}

/// Permits borrowed from a [`Semaphore`]; returned when dropped.
#[must_use = "dropping a permit returns it at once"]
pub struct SemaphorePermit<'a> {
    sem: &'a Semaphore,
    permits: usize,
}

impl SemaphorePermit<'_> {
    /// Keeps the permits out of the semaphore for good.
    pub fn forget(mut self) {
        self.permits = 0;
    }

    /// How many permits this holds.
    pub fn num_permits(&self) -> usize {
        self.permits
    }

    /// Merges another permit of the same semaphore into this one.
    ///
    /// # Panics
    ///
    /// If `other` belongs to another semaphore.
    pub fn merge(&mut self, mut other: Self) {
        assert!(
            std::ptr::eq(self.sem, other.sem),
            "merging permits of different semaphores"
        );
        self.permits += std::mem::take(&mut other.permits);
    }
}

impl<'a> SemaphorePermit<'a> {
    /// Splits `n` permits off into a new permit of the same semaphore;
    /// `None` (and nothing changes) if this one holds fewer than `n`.
    ///
    /// # Examples
    ///
    /// ```
    /// use hearth_sync::Semaphore;
    ///
    /// let sem = Semaphore::new(3);
    /// let mut permit = sem.try_acquire_many(3).unwrap();
    /// let one = permit.split(1).unwrap();
    /// assert_eq!((permit.num_permits(), one.num_permits()), (2, 1));
    /// assert!(permit.split(3).is_none());
    /// drop(one);
    /// assert_eq!(sem.available_permits(), 1);
    /// ```
    pub fn split(&mut self, n: usize) -> Option<Self> {
        if n > self.permits {
            return None;
        }
        self.permits -= n;
        Some(SemaphorePermit {
            sem: self.sem,
            permits: n,
        })
    }

    /// The semaphore the permits belong to.
    pub fn semaphore(&self) -> &'a Semaphore {
        self.sem
    }
}

impl Drop for SemaphorePermit<'_> {
    #[inline]
    fn drop(&mut self) {
        if self.permits > 0 {
            self.sem.release(self.permits);
        }
    }
}

impl fmt::Debug for SemaphorePermit<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SemaphorePermit")
            .field("permits", &self.permits)
            .finish()
    }
}

/// Permits of an `Rc<Semaphore>`; returned when dropped.
#[must_use = "dropping a permit returns it at once"]
pub struct OwnedSemaphorePermit {
    sem: Rc<Semaphore>,
    permits: usize,
}

impl OwnedSemaphorePermit {
    /// Keeps the permits out of the semaphore for good.
    pub fn forget(mut self) {
        self.permits = 0;
    }

    /// How many permits this holds.
    pub fn num_permits(&self) -> usize {
        self.permits
    }

    /// The semaphore the permits belong to.
    pub fn semaphore(&self) -> &Rc<Semaphore> {
        &self.sem
    }

    /// Merges another permit of the same semaphore into this one.
    ///
    /// # Panics
    ///
    /// If `other` belongs to another semaphore.
    pub fn merge(&mut self, mut other: Self) {
        assert!(
            Rc::ptr_eq(&self.sem, &other.sem),
            "merging permits of different semaphores"
        );
        self.permits += std::mem::take(&mut other.permits);
    }
}

impl OwnedSemaphorePermit {
    /// As [`SemaphorePermit::split`].
    pub fn split(&mut self, n: usize) -> Option<Self> {
        if n > self.permits {
            return None;
        }
        self.permits -= n;
        Some(OwnedSemaphorePermit {
            sem: self.sem.clone(),
            permits: n,
        })
    }
}

impl Drop for OwnedSemaphorePermit {
    fn drop(&mut self) {
        if self.permits > 0 {
            self.sem.release(self.permits);
        }
    }
}

impl fmt::Debug for OwnedSemaphorePermit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OwnedSemaphorePermit")
            .field("permits", &self.permits)
            .finish()
    }
}
