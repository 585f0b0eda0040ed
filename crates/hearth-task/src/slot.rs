//! `LocalWakerSlot`: where a leaf future parks its task.

use core::cell::Cell;
use core::fmt;

use crate::LocalWaker;

/// A single-waiter slot for a [`LocalWaker`], the local counterpart of
/// `futures::task::AtomicWaker`.
///
/// A future registers the current local waker in the slot when it returns
/// `Poll::Pending`; whoever completes the event calls [`wake`](Self::wake).
/// It is a [`Cell`], so it costs plain loads and stores, and it is `!Sync`: the
/// future and the waker side live on one thread.
///
/// # Examples
///
/// ```
/// use std::cell::Cell;
/// use std::rc::Rc;
/// use hearth_task::{local_waker_fn, LocalWakerSlot};
///
/// let slot = LocalWakerSlot::new();
/// let hits = Rc::new(Cell::new(0));
/// let h = hits.clone();
/// let waker = local_waker_fn(move || h.set(h.get() + 1));
///
/// slot.register(&waker);
/// slot.register(&waker); // same task: no clone
/// assert!(slot.wake());
/// assert!(!slot.wake()); // the slot is empty after a wake
/// assert_eq!(hits.get(), 1);
/// ```
#[derive(Default)]
pub struct LocalWakerSlot {
    waker: Cell<Option<LocalWaker>>,
}

impl LocalWakerSlot {
    /// Creates an empty slot.
    #[inline]
    pub const fn new() -> Self {
        LocalWakerSlot {
            waker: Cell::new(None),
        }
    }

    /// Stores `waker`, replacing any previous one.
    ///
    /// Skips the clone when the stored waker already
    /// [`will_wake`](LocalWaker::will_wake) the same task (the usual case: a
    /// future polled again by the same task).
    #[inline]
    pub fn register(&self, waker: &LocalWaker) {
        match self.waker.take() {
            Some(old) if old.will_wake(waker) => self.waker.set(Some(old)),
            // Store the new waker before dropping the old one, so the old
            // waker's drop sees a consistent slot if it reenters.
            old => {
                self.waker.set(Some(waker.clone()));
                drop(old);
            }
        }
    }

    /// Takes the stored waker and wakes it. Returns whether there was one.
    #[inline]
    pub fn wake(&self) -> bool {
        match self.waker.take() {
            Some(waker) => {
                waker.wake();
                true
            }
            None => false,
        }
    }

    /// Takes the stored waker out of the slot, leaving it empty.
    #[inline]
    pub fn take(&self) -> Option<LocalWaker> {
        self.waker.take()
    }

    /// Returns `true` if a waker is stored.
    #[inline]
    pub fn is_registered(&self) -> bool {
        let waker = self.waker.take();
        let registered = waker.is_some();
        self.waker.set(waker);
        registered
    }
}

impl fmt::Debug for LocalWakerSlot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LocalWakerSlot")
            .field("registered", &self.is_registered())
            .finish()
    }
}
