//! `AtomicWaker`: the parent's thread-safe `Waker`, reachable from any thread.
//!
//! The protocol is the one of `futures::task::AtomicWaker` (a three-state
//! word, the `Waker` in an `UnsafeCell` guarded by it), built on
//! `hearth_task::atomic` so the counting and loom builds see its operations.
//! Two differences: the owner may ask [`AtomicWaker::is_current`] whether the
//! stored waker is still the one it would register, which costs two plain
//! loads, so a combinator registers (a clone of the parent's waker and two
//! read-modify-writes) only when its parent's waker changed; and
//! [`AtomicWaker::wake`] wakes the stored waker by reference and keeps it,
//! so a wake does not consume the registration (futures' takes the waker
//! and wakes it by value, which costs the owner a new clone per wake).
//!
//! # States
//!
//! - `WAITING`: nobody holds the cell; the stored waker (if any) is readable
//!   by whoever sets a lock bit.
//! - `REGISTERING`: the owner is replacing the waker.
//! - `WAKING`: a waker is taking it out.

use core::cell::UnsafeCell;
use core::task::{RawWakerVTable, Waker};

use hearth_task::atomic::{AtomicBool, AtomicUsize, Ordering};

/// Nobody holds the cell.
const WAITING: usize = 0;
/// The owner is registering a waker.
const REGISTERING: usize = 0b01;
/// A waker is taking the waker out.
const WAKING: usize = 0b10;

/// A `Waker` slot that any thread may wake and one owner registers into.
pub(crate) struct AtomicWaker {
    /// `WAITING`, `REGISTERING`, `WAKING` or `REGISTERING | WAKING`.
    state: AtomicUsize,
    /// The stored waker; accessed only by whoever moved `state` off `WAITING`.
    waker: UnsafeCell<Option<Waker>>,
    /// Set (under `WAKING`) when a wake took the waker; cleared by the owner
    /// when it registers again. Read by the owner only, with a plain load.
    taken: AtomicBool,
    /// Identity (data, vtable) of the last stored waker (the clone, not the
    /// `Waker` it was cloned from). Owner only.
    ident: UnsafeCell<(*const (), *const RawWakerVTable)>,
}

// SAFETY: `waker` is only accessed under the `state` protocol (mutual
// exclusion between the registering owner and one taker); `ident` only by the
// owner, who holds `&mut` to the combinator that owns this slot.
unsafe impl Send for AtomicWaker {}
// SAFETY: as above.
unsafe impl Sync for AtomicWaker {}

impl AtomicWaker {
    pub(crate) fn new() -> Self {
        AtomicWaker {
            state: AtomicUsize::new(WAITING),
            waker: UnsafeCell::new(None),
            taken: AtomicBool::new(true),
            ident: UnsafeCell::new((core::ptr::null(), core::ptr::null())),
        }
    }

    /// Returns `true` if the stored waker would wake the same task as
    /// `waker` (`will_wake`) and no wake has taken it since. No
    /// read-modify-write.
    ///
    /// The comparison is with the stored clone, never with the `Waker` it
    /// was cloned from: a clone may point elsewhere (a `ContextBuilder`'s
    /// `Waker` lives in the builder and clones into the `Waker` it wraps), so
    /// a second `Waker` at the first one's address may wake another task.
    ///
    /// # Safety
    /// Called by the owner only (no concurrent `register`).
    #[inline]
    pub(crate) unsafe fn is_current(&self, waker: &Waker) -> bool {
        // SAFETY: owner only, per the contract.
        let ident = unsafe { *self.ident.get() };
        !self.taken.load(Ordering::Acquire) && ident == ident_of(waker)
    }

    /// Stores a clone of `waker`, replacing the previous one.
    ///
    /// # Safety
    /// Called by the owner only (no concurrent `register`).
    pub(crate) unsafe fn register(&self, waker: &Waker) {
        // The clone runs user code: take it before the cell, so a panic
        // leaves the state as it was.
        let new = waker.clone();
        match self.state.compare_exchange(
            WAITING,
            REGISTERING,
            Ordering::Acquire,
            Ordering::Acquire,
        ) {
            Ok(_) => {
                // SAFETY: `REGISTERING` gives us the cell; ident is owner-only.
                unsafe { *self.ident.get() = ident_of(&new) };
                self.taken.store(false, Ordering::Relaxed);
                // Drop the old waker outside the lock.
                // SAFETY: we hold the cell.
                let old = unsafe { (*self.waker.get()).replace(new) };
                let res = self.state.compare_exchange(
                    REGISTERING,
                    WAITING,
                    Ordering::AcqRel,
                    Ordering::Acquire,
                );
                if res.is_err() {
                    // A wake arrived while we held the cell: it could not take
                    // the waker, so we wake it ourselves.
                    // SAFETY: only `WAKING` was added, we still hold the cell.
                    let w = unsafe { (*self.waker.get()).take() };
                    self.taken.store(true, Ordering::Relaxed);
                    self.state.swap(WAITING, Ordering::AcqRel);
                    if let Some(w) = w {
                        w.wake();
                    }
                }
                drop(old);
            }
            Err(WAKING) => {
                // A wake is in progress: it may miss this waker, so wake now.
                new.wake();
            }
            Err(_) => {
                // REGISTERING | WAKING cannot be seen here: only the owner
                // registers.
            }
        }
    }

    /// Takes the waker out, if the cell is free; the caller wakes it.
    pub(crate) fn take(&self) -> Option<Waker> {
        match self.state.fetch_or(WAKING, Ordering::AcqRel) {
            WAITING => {
                // SAFETY: `WAKING` over `WAITING` gives us the cell.
                let w = unsafe { (*self.waker.get()).take() };
                self.taken.store(true, Ordering::Release);
                // AcqRel: a concurrent wake that found `WAKING` set released its
                // queue push with its `fetch_or`; acquiring it here makes the
                // push visible to whoever our wake schedules.
                self.state.fetch_and(!WAKING, Ordering::AcqRel);
                w
            }
            // The owner is registering (it will notice `WAKING` and wake) or
            // another wake holds the cell (it wakes).
            _ => None,
        }
    }

    /// Wakes the stored waker by reference, if any, and keeps it: the owner
    /// need not register it again (no clone of the parent's waker per wake).
    ///
    /// The wake runs while this call holds the cell (`WAKING`), so a
    /// concurrent `register` wakes its new waker itself, as it does for
    /// [`take`](Self::take). If the wake panics the cell is released.
    pub(crate) fn wake(&self) {
        if self.state.fetch_or(WAKING, Ordering::AcqRel) != WAITING {
            // The owner is registering (it will notice `WAKING` and wake) or
            // another wake holds the cell (it wakes).
            return;
        }
        /// Releases the cell, also while unwinding.
        struct Release<'a>(&'a AtomicUsize);
        impl Drop for Release<'_> {
            fn drop(&mut self) {
                // AcqRel: as in `take`.
                self.0.fetch_and(!WAKING, Ordering::AcqRel);
            }
        }
        let _release = Release(&self.state);
        // SAFETY: `WAKING` over `WAITING` gives us the cell until `_release`.
        if let Some(w) = unsafe { &*self.waker.get() } {
            w.wake_by_ref();
        }
    }

    /// Returns `true` if a waker was ever registered and not yet taken
    /// (owner only; plain load).
    #[inline]
    pub(crate) fn maybe_registered(&self) -> bool {
        !self.taken.load(Ordering::Relaxed)
    }
}

/// The identity `Waker::will_wake` compares.
#[inline]
fn ident_of(w: &Waker) -> (*const (), *const RawWakerVTable) {
    (w.data(), w.vtable())
}

impl AtomicWaker {
    /// Takes the waker out through exclusive access (no protocol needed).
    pub(crate) fn take_mut(&mut self) -> Option<Waker> {
        self.taken.store(true, Ordering::Relaxed);
        self.waker.get_mut().take()
    }
}

impl Drop for AtomicWaker {
    fn drop(&mut self) {
        drop(self.take_mut());
    }
}
