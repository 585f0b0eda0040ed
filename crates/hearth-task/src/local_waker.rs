//! `LocalWaker`: a [`Waker`] without thread safety, on stable Rust.
//!
//! Stable Rust can only call a [`RawWakerVTable`] through a [`Waker`], so a
//! `LocalWaker` is a `#[repr(transparent)]` wrapper around one plus a marker that
//! removes `Send` and `Sync`. The inner `Waker` is never handed out: its vtable
//! may not be thread-safe (that is the point of a local waker), and a `Waker` may
//! travel to any thread. The opposite view, `&Waker` as `&LocalWaker`, is sound
//! because it only removes capabilities ([`AsRef`] below).
//!
//! With the `nightly` feature this module is not compiled and the crate
//! re-exports `core::task::LocalWaker` instead; the API is the same.

use core::fmt;
use core::marker::PhantomData;
use core::ptr;
use core::task::{RawWaker, RawWakerVTable, Waker};

/// A `LocalWaker` is analogous to a [`Waker`], but it does not implement
/// [`Send`] or [`Sync`].
///
/// It wakes a task from the thread that polls it, so its implementation needs
/// no synchronisation: a plain counter instead of an atomic one, a [`Cell`]
/// instead of a `Mutex`. A future obtains it with
/// [`cx.local_waker()`](crate::ContextExt::local_waker) and, if it returns
/// `Poll::Pending`, stores it and calls [`wake`](Self::wake) when it can make
/// progress again.
///
/// This is the stable counterpart of std's unstable `core::task::LocalWaker`
/// (rust-lang/rust#118959), with the same methods and signatures.
///
/// [`Cell`]: core::cell::Cell
///
/// # Examples
///
/// ```
/// use hearth_task::LocalWaker;
///
/// let waker = LocalWaker::noop().clone();
/// waker.wake_by_ref();
/// waker.wake();
/// ```
#[repr(transparent)]
pub struct LocalWaker {
    // Invariant: never exposed as a `Waker`; its vtable may not be thread-safe.
    waker: Waker,
    _not_send_sync: PhantomData<*const ()>,
}

impl Unpin for LocalWaker {}

impl LocalWaker {
    /// Creates a new `LocalWaker` from the provided `data` pointer and `vtable`.
    ///
    /// `data` is passed to every function of `vtable` as its first argument.
    ///
    /// # Safety
    ///
    /// The behaviour of the returned `LocalWaker` is undefined if the contract of
    /// [`RawWaker`] and [`RawWakerVTable`] is not upheld. Unlike for a `Waker`,
    /// the vtable functions need not be thread-safe: they are only ever called on
    /// the thread that holds the `LocalWaker`.
    #[inline]
    #[must_use]
    pub const unsafe fn new(data: *const (), vtable: &'static RawWakerVTable) -> Self {
        // SAFETY: the caller upholds the vtable contract; the result is never
        // exposed as a thread-safe `Waker` (see the field invariant).
        let waker = unsafe { Waker::new(data, vtable) };
        LocalWaker {
            waker,
            _not_send_sync: PhantomData,
        }
    }

    /// Creates a new `LocalWaker` from a [`RawWaker`].
    ///
    /// # Safety
    ///
    /// As for [`LocalWaker::new`].
    #[inline]
    #[must_use]
    pub const unsafe fn from_raw(waker: RawWaker) -> LocalWaker {
        // SAFETY: forwarded to the caller; see `new`.
        let waker = unsafe { Waker::from_raw(waker) };
        LocalWaker {
            waker,
            _not_send_sync: PhantomData,
        }
    }

    /// Returns a reference to a `LocalWaker` that does nothing when used.
    ///
    /// Useful for tests that poll futures that are not expected to wake. If an
    /// owned `LocalWaker` is needed, `clone()` this one.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::future::Future;
    /// use std::task::{Poll, Waker};
    /// use hearth_task::{ContextBuilder, LocalWaker};
    ///
    /// let mut builder = ContextBuilder::from_waker(Waker::noop()).local_waker(LocalWaker::noop());
    /// let mut cx = builder.build();
    /// let mut future = Box::pin(async { 10 });
    /// assert_eq!(future.as_mut().poll(&mut cx), Poll::Ready(10));
    /// ```
    #[inline]
    #[must_use]
    pub const fn noop() -> &'static LocalWaker {
        const NOOP: &LocalWaker = as_local(Waker::noop());
        NOOP
    }

    /// Wakes up the task associated with this `LocalWaker`, consuming it.
    ///
    /// As long as the executor keeps running and the task is not finished, each
    /// call is followed by at least one poll of the task. Several wakes may be
    /// coalesced into one poll.
    #[inline]
    pub fn wake(self) {
        self.waker.wake()
    }

    /// Wakes up the task associated with this `LocalWaker` without consuming it.
    ///
    /// Prefer this to `waker.clone().wake()`.
    #[inline]
    pub fn wake_by_ref(&self) {
        self.waker.wake_by_ref()
    }

    /// Returns `true` if this `LocalWaker` and `other` would wake the same task.
    ///
    /// Best effort: compares the data and vtable pointers, so it may return
    /// `false` for wakers that wake the same task, never `true` for wakers that
    /// do not.
    #[inline]
    #[must_use]
    pub fn will_wake(&self, other: &LocalWaker) -> bool {
        self.data() == other.data() && ptr::eq(self.vtable(), other.vtable())
    }

    /// Gets the `data` pointer used to create this `LocalWaker`.
    #[inline]
    #[must_use]
    pub fn data(&self) -> *const () {
        self.waker.data()
    }

    /// Gets the `vtable` pointer used to create this `LocalWaker`.
    #[inline]
    #[must_use]
    pub fn vtable(&self) -> &'static RawWakerVTable {
        self.waker.vtable()
    }
}

/// Views a thread-safe `Waker` as a `LocalWaker` (used by [`AsRef`] and the
/// context lookup).
#[inline]
pub(crate) const fn as_local(waker: &Waker) -> &LocalWaker {
    // SAFETY: `LocalWaker` is `repr(transparent)` over `Waker` (the other field
    // is a zero-sized marker), so the layouts are identical. The view only
    // removes `Send`/`Sync`, which never makes a thread-safe waker unsound.
    unsafe { &*(waker as *const Waker as *const LocalWaker) }
}

impl Clone for LocalWaker {
    #[inline]
    fn clone(&self) -> Self {
        LocalWaker {
            waker: self.waker.clone(),
            _not_send_sync: PhantomData,
        }
    }

    /// Skips the clone when `self` already [`will_wake`](LocalWaker::will_wake)
    /// the same task as `source`.
    #[inline]
    fn clone_from(&mut self, source: &Self) {
        if !self.will_wake(source) {
            *self = source.clone();
        }
    }
}

// Dropping a `LocalWaker` drops its inner `Waker`, which calls the vtable's
// `drop` function exactly once.

impl AsRef<LocalWaker> for Waker {
    /// Views this thread-safe `Waker` as a `LocalWaker`.
    #[inline]
    fn as_ref(&self) -> &LocalWaker {
        as_local(self)
    }
}

impl fmt::Debug for LocalWaker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LocalWaker")
            .field("data", &self.data())
            .field("vtable", &(self.vtable() as *const RawWakerVTable))
            .finish()
    }
}
