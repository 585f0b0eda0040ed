//! `Notify`: wakes one task or all of them, with a stored permit.
//!
//! Semantics as `tokio::sync::Notify`:
//!
//! - [`notify_one`](Notify::notify_one) wakes the longest-waiting
//!   [`Notified`] future; with nobody waiting it stores a single permit that
//!   the next `notified().await` consumes at once.
//! - [`notify_waiters`](Notify::notify_waiters) wakes every `Notified` future
//!   that exists at the call, polled or not, and stores no permit. A
//!   generation counter lets a not-yet-polled future see that it happened.
//! - A `Notified` woken by `notify_one` and dropped before it observed the
//!   notification hands it on (to the next waiter, or back as the permit).
//!
//! - [`notify_last`](Notify::notify_last) is `notify_one` for the most
//!   recent waiter.
//! - [`Notified::enable`] queues a future without polling it, so that a
//!   `notify_one` between the check of a condition and the first poll is not
//!   lost.
//!
//! Differences: `!Send`/`!Sync` (so `Notify` needs no `Arc`, and there is no
//! `notified_owned`: borrow the `Notify`, or hold an `Rc` next to the
//! future); `notified` spends the cooperative budget (tokio's does not), see
//! the [crate docs](crate).

use std::cell::{Cell, RefCell};
use std::fmt;
use std::future::Future;
use std::panic::{RefUnwindSafe, UnwindSafe};
use std::pin::Pin;
use std::task::{Context, Poll};

use hearth_task::ContextExt;

use crate::budget::budgeted;
use crate::wait_list::{wake_all, WaitList};

/// How a queued waiter was notified.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Waiting,
    /// By `notify_one`: must be passed on if never observed.
    One,
    /// By `notify_waiters`.
    All,
}

/// Notifies one task or all of them.
///
/// # Examples
///
/// ```
/// use hearth_sync::Notify;
///
/// futures::executor::block_on(async {
///     let notify = Notify::new();
///     notify.notify_one(); // stores a permit
///     notify.notified().await; // consumes it at once
/// });
/// ```
pub struct Notify {
    /// The stored permit of a `notify_one` that found nobody waiting.
    permit: Cell<bool>,
    /// Calls of `notify_waiters` so far.
    generation: Cell<u64>,
    /// Polled `Notified` futures, in order.
    waiters: RefCell<WaitList<Outcome>>,
}

impl Notify {
    /// Creates a `Notify` without a permit.
    pub const fn new() -> Self {
        Notify {
            permit: Cell::new(false),
            generation: Cell::new(0),
            waiters: RefCell::new(WaitList::new()),
        }
    }

    /// A future that completes at the next notification (or at once if a
    /// permit is stored, consuming it).
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: a dropped `Notified` leaves the queue, and a `notify_one`
    /// notification it received passes to the next waiter.
    pub fn notified(&self) -> Notified<'_> {
        Notified {
            notify: self,
            generation: self.generation.get(),
            key: None,
            done: false,
        }
    }

    /// Wakes the longest-waiting `Notified`, or stores a permit if none waits.
    pub fn notify_one(&self) {
        let waker = self.waiters.borrow_mut().pop_front(|o| *o = Outcome::One);
        match waker {
            Some(waker) => {
                if let Some(waker) = waker {
                    waker.wake();
                }
            }
            None => self.permit.set(true),
        }
    }

    /// Wakes the most recently queued `Notified`, or stores a permit if none
    /// waits (a permit is taken by whichever `Notified` comes first).
    ///
    /// # Examples
    ///
    /// ```
    /// use hearth_sync::Notify;
    /// use std::pin::pin;
    ///
    /// let notify = Notify::new();
    /// let mut first = pin!(notify.notified());
    /// let mut last = pin!(notify.notified());
    /// first.as_mut().enable();
    /// last.as_mut().enable();
    /// notify.notify_last();
    /// assert!(last.as_mut().enable()); // notified
    /// assert!(!first.as_mut().enable()); // still waiting
    /// ```
    pub fn notify_last(&self) {
        let waker = self.waiters.borrow_mut().pop_back(|o| *o = Outcome::One);
        match waker {
            Some(waker) => {
                if let Some(waker) = waker {
                    waker.wake();
                }
            }
            None => self.permit.set(true),
        }
    }

    /// Wakes every `Notified` that exists now. Stores no permit.
    pub fn notify_waiters(&self) {
        self.generation.set(self.generation.get() + 1);
        let wakers = self.waiters.borrow_mut().drain(|o| *o = Outcome::All);
        wake_all(wakers);
    }
}

// As tokio's: a panicking waker leaves the wait list consistent (see the
// crate's panic-safety guarantees).
impl UnwindSafe for Notify {}
impl RefUnwindSafe for Notify {}

impl Default for Notify {
    fn default() -> Self {
        Notify::new()
    }
}

impl fmt::Debug for Notify {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Notify")
            .field("permit", &self.permit.get())
            .finish_non_exhaustive()
    }
}

/// The future of [`Notify::notified`].
#[must_use = "futures do nothing unless awaited"]
pub struct Notified<'a> {
    notify: &'a Notify,
    /// `notify.generation` when this future was made.
    generation: u64,
    /// The wait-list key once queued.
    key: Option<usize>,
    done: bool,
}

impl Future for Notified<'_> {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = &mut *self;
        budgeted(cx, |cx| this.poll_with(Some(cx)))
    }
}

impl Notified<'_> {
    /// Queues this future for notifications without polling it; returns
    /// whether it is notified already (its next poll is then `Ready`).
    ///
    /// As tokio's: a first `enable` (or poll) consumes a stored permit, or
    /// sees a `notify_waiters` made since the future was created; later it
    /// reports whether a `notify_one`, `notify_last` or `notify_waiters`
    /// reached the queued future. No waker is registered: the task is woken
    /// only once it has polled the future. Spends no budget.
    ///
    /// # Examples
    ///
    /// ```
    /// use hearth_sync::Notify;
    /// use std::pin::pin;
    ///
    /// let notify = Notify::new();
    /// let mut notified = pin!(notify.notified());
    /// assert!(!notified.as_mut().enable()); // queued
    /// notify.notify_one(); // reaches the queued future, stores no permit
    /// assert!(notified.as_mut().enable());
    /// ```
    pub fn enable(self: Pin<&mut Self>) -> bool {
        self.get_mut().poll_with(None).is_ready()
    }

    /// Polls with the task's local waker, or only queues when `cx` is `None`
    /// (`enable`).
    fn poll_with(&mut self, cx: Option<&mut Context<'_>>) -> Poll<()> {
        if self.done {
            return Poll::Ready(());
        }
        let notify = self.notify;
        let mut waiters = notify.waiters.borrow_mut();
        match self.key {
            None => {
                if notify.generation.get() != self.generation || notify.permit.replace(false) {
                    self.done = true;
                    return Poll::Ready(());
                }
                self.key = Some(match cx {
                    Some(cx) => waiters.push_back(ContextExt::local_waker(cx), Outcome::Waiting),
                    None => waiters.push_back_unregistered(Outcome::Waiting),
                });
                Poll::Pending
            }
            Some(key) => {
                if waiters.is_linked(key) {
                    let Some(cx) = cx else {
                        return Poll::Pending;
                    };
                    let old = waiters.register(key, ContextExt::local_waker(cx));
                    drop(waiters);
                    drop(old);
                    return Poll::Pending;
                }
                let (_, _, waker) = waiters.remove(key);
                drop(waiters);
                self.key = None;
                self.done = true;
                drop(waker);
                Poll::Ready(())
            }
        }
    }
}

impl Drop for Notified<'_> {
    fn drop(&mut self) {
        let Some(key) = self.key.take() else { return };
        let (_, outcome, waker) = self.notify.waiters.borrow_mut().remove(key);
        drop(waker);
        if outcome == Outcome::One {
            self.notify.notify_one();
        }
    }
}

impl fmt::Debug for Notified<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Notified")
            .field("queued", &self.key.is_some())
            .field("done", &self.done)
            .finish()
    }
}
