//! `LocalWake`: the `Rc` counterpart of `std::task::Wake`.
//!
//! Implement [`LocalWake`] for a type and an `Rc` of it becomes a
//! [`LocalWaker`] without `unsafe` code, atomics or an extra allocation.
//! Ownership rules (the ones std's rust-lang/rust#122180 got wrong once): every
//! `LocalWaker` made here owns exactly one strong count of the `Rc`; `clone`
//! adds one, `drop` and `wake` release one, `wake_by_ref` leaves the count as it
//! found it.

use alloc::rc::Rc;
use core::mem::ManuallyDrop;
use core::task::{RawWaker, RawWakerVTable};

use crate::LocalWaker;

/// The implementation of waking a task on its own thread.
///
/// This is the local counterpart of [`std::task::Wake`]: the same shape, with
/// `Rc` instead of `Arc`, so the wake target may hold `!Send` data and no
/// operation is atomic. `Rc<W>` converts into a [`LocalWaker`] with
/// [`From`]/[`Into`], or into a [`RawWaker`] with [`local_raw_waker`].
///
/// With the `nightly` feature this is `alloc::task::LocalWake` itself.
///
/// [`std::task::Wake`]: https://doc.rust-lang.org/std/task/trait.Wake.html
///
/// # Examples
///
/// A minimal `block_on` whose waker is a flag on the stack's thread:
///
/// ```
/// use std::cell::Cell;
/// use std::future::Future;
/// use std::rc::Rc;
/// use std::task::{Poll, Waker};
/// use hearth_task::{ContextBuilder, LocalWake, LocalWaker};
///
/// struct Flag(Cell<bool>);
///
/// impl LocalWake for Flag {
///     fn wake(self: Rc<Self>) {
///         self.0.set(true);
///     }
/// }
///
/// fn block_on<F: Future>(fut: F) -> F::Output {
///     let flag = Rc::new(Flag(Cell::new(true)));
///     let local: LocalWaker = flag.clone().into();
///     let mut fut = std::pin::pin!(fut);
///     let mut builder = ContextBuilder::from_waker(Waker::noop()).local_waker(&local);
///     let mut cx = builder.build();
///     loop {
///         if flag.0.replace(false) {
///             if let Poll::Ready(out) = fut.as_mut().poll(&mut cx) {
///                 return out;
///             }
///         } else {
///             // A real executor would park the thread here.
///             std::thread::yield_now();
///         }
///     }
/// }
///
/// assert_eq!(block_on(async { 1 + 2 }), 3);
/// ```
#[cfg(not(feature = "nightly"))]
pub trait LocalWake {
    /// Wakes this task, consuming the reference.
    fn wake(self: Rc<Self>);

    /// Wakes this task without consuming the reference.
    ///
    /// The default clones the `Rc` and calls [`wake`](LocalWake::wake);
    /// override it when waking by reference is cheaper.
    fn wake_by_ref(self: &Rc<Self>) {
        self.clone().wake();
    }
}

#[cfg(feature = "nightly")]
pub use alloc::task::LocalWake;

#[cfg(not(feature = "nightly"))]
impl<W: LocalWake + 'static> From<Rc<W>> for LocalWaker {
    /// Uses an `Rc` of a [`LocalWake`] type as a `LocalWaker`.
    ///
    /// No allocation and no atomic operation.
    fn from(waker: Rc<W>) -> LocalWaker {
        // SAFETY: `local_raw_waker` builds a vtable that upholds the `RawWaker`
        // contract for `Rc<W>` on one thread, and `LocalWaker` stays on it.
        unsafe { LocalWaker::from_raw(local_raw_waker(waker)) }
    }
}

/// Converts an `Rc` of a [`LocalWake`] type into a [`RawWaker`] for a
/// [`LocalWaker`].
///
/// std offers this as `impl From<Rc<W>> for RawWaker`; the orphan rule forbids
/// that impl outside std, so it is a function here. The returned `RawWaker` owns
/// one strong count of `waker`; it is only valid inside a `LocalWaker` (its
/// vtable is not thread-safe), which is why only
/// [`LocalWaker::from_raw`](crate::LocalWaker::from_raw) may consume it.
pub fn local_raw_waker<W: LocalWake + 'static>(waker: Rc<W>) -> RawWaker {
    RawWaker::new(Rc::into_raw(waker).cast(), vtable::<W>())
}

fn vtable<W: LocalWake + 'static>() -> &'static RawWakerVTable {
    // One vtable per `W`, promoted to a `'static` constant.
    struct Table<W>(W);
    impl<W: LocalWake + 'static> Table<W> {
        const VTABLE: RawWakerVTable =
            RawWakerVTable::new(clone::<W>, wake::<W>, wake_by_ref::<W>, drop::<W>);
    }
    &Table::<W>::VTABLE
}

/// # Safety
/// `data` comes from `Rc::<W>::into_raw` and its count is still held.
unsafe fn clone<W: LocalWake + 'static>(data: *const ()) -> RawWaker {
    // SAFETY: per the contract the `Rc` is alive; this adds the count that the
    // returned `RawWaker` owns.
    unsafe { Rc::increment_strong_count(data.cast::<W>()) };
    RawWaker::new(data, vtable::<W>())
}

/// # Safety
/// As for [`clone`]; consumes the count.
unsafe fn wake<W: LocalWake + 'static>(data: *const ()) {
    // SAFETY: takes back the count this waker owned; `wake` consumes it.
    let rc = unsafe { Rc::from_raw(data.cast::<W>()) };
    W::wake(rc);
}

/// # Safety
/// As for [`clone`]; leaves the count as it was.
unsafe fn wake_by_ref<W: LocalWake + 'static>(data: *const ()) {
    // SAFETY: borrows the count this waker owns without releasing it.
    let rc = ManuallyDrop::new(unsafe { Rc::from_raw(data.cast::<W>()) });
    W::wake_by_ref(&rc);
}

/// # Safety
/// As for [`clone`]; consumes the count.
unsafe fn drop<W: LocalWake + 'static>(data: *const ()) {
    // SAFETY: releases the count this waker owned.
    unsafe { Rc::decrement_strong_count(data.cast::<W>()) };
}

/// Creates a [`LocalWaker`] that calls `f` on every wake.
///
/// Unlike std's unstable `local_waker_fn`, `f` need not be `Send` or `Sync`:
/// a local waker never leaves its thread.
///
/// # Examples
///
/// ```
/// use std::cell::Cell;
/// use std::rc::Rc;
/// use hearth_task::local_waker_fn;
///
/// let hits = Rc::new(Cell::new(0));
/// let h = hits.clone();
/// let waker = local_waker_fn(move || h.set(h.get() + 1));
/// waker.wake_by_ref();
/// waker.clone().wake();
/// assert_eq!(hits.get(), 2);
/// ```
pub fn local_waker_fn<F: Fn() + 'static>(f: F) -> LocalWaker {
    struct WakeFn<F>(F);
    impl<F: Fn() + 'static> LocalWake for WakeFn<F> {
        fn wake(self: Rc<Self>) {
            (self.0)()
        }
        fn wake_by_ref(self: &Rc<Self>) {
            (self.0)()
        }
    }
    // SAFETY: see the `From<Rc<W>>` impl; valid with std's `LocalWaker` too.
    unsafe { LocalWaker::from_raw(local_raw_waker(Rc::new(WakeFn(f)))) }
}
