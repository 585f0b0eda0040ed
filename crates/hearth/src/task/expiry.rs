//! What [`time::deadline`](crate::time::deadline) and
//! [`CancellationToken::scope`](super::CancellationToken::scope) share: a
//! layer's expiry signal (hearth-task's [`Deadline`], which waits below
//! hearth register with), why it fired, and the link to the expiry signal
//! of the layer around it.
//!
//! Only the innermost [`Deadline`] is found by a look-up, so a layer that
//! provides one hides the outer one from what it polls. [`Expiry::follow`]
//! makes up for it: before each poll, the layer expires its own signal (with
//! the outer cause) once the outer one expired, and until then registers to
//! be polled when it does. So a socket read inside a cancel scope inside a
//! deadline fails when either ends, with the error of the one that ended.

use core::cell::Cell;
use core::ptr;
use core::task::Context;
use std::io;

use hearth_task::provide::{self, current_deadline, Deadline, Request};
use hearth_task::ContextExt;

/// Why an [`Expiry`] fired.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Cause {
    /// A deadline's instant passed (or a foreign layer's [`Deadline`]
    /// expired: hearth cannot tell why).
    Deadline,
    /// A cancellation token in scope was cancelled.
    Cancelled,
}

/// A layer's expiry signal and its cause.
pub(crate) struct Expiry {
    signal: Deadline,
    /// Set (once) right before `signal` expires.
    cause: Cell<Option<Cause>>,
}

impl Expiry {
    pub(crate) fn new() -> Expiry {
        Expiry {
            signal: Deadline::new(),
            cause: Cell::new(None),
        }
    }

    /// Why it fired; `None` while it has not.
    #[inline]
    pub(crate) fn cause(&self) -> Option<Cause> {
        self.cause.get()
    }

    #[inline]
    pub(crate) fn is_expired(&self) -> bool {
        self.signal.is_expired()
    }

    /// Fires the signal (waking the waits that registered), for `cause`
    /// unless it fired already (the first cause stays).
    pub(crate) fn expire(&self, cause: Cause) {
        if self.cause.get().is_none() {
            self.cause.set(Some(cause));
        }
        self.signal.expire();
    }

    /// Follows the expiry signal of the layer around this one (`cx` is the
    /// context this layer wraps): fires with its cause if it fired, else
    /// registers `cx`'s local waker to be woken when it does.
    pub(crate) fn follow(&self, cx: &Context<'_>) {
        if self.is_expired() {
            return;
        }
        if let Some(outer) = current_deadline(cx) {
            if outer.is_expired() {
                self.expire(cause_of(cx, outer));
            } else {
                outer.register(ContextExt::local_waker(cx));
            }
        }
    }

    /// Offers the signal (as a [`Deadline`]) and this `Expiry` (for the
    /// cause) to `request`.
    #[inline]
    pub(crate) fn provide<'a>(&'a self, request: &mut Request<'a>) {
        request
            .provide_ref::<Deadline>(&self.signal)
            .provide_ref::<Expiry>(self);
    }
}

/// Why `signal` (a [`Deadline`] found through `cx`) fired: the cause of the
/// hearth layer that provides it, [`Cause::Deadline`] for a foreign one.
pub(crate) fn cause_of(cx: &Context<'_>, signal: &Deadline) -> Cause {
    provide::request_ref_where::<Expiry>(cx.waker(), |e| ptr::eq(&e.signal, signal))
        .and_then(Expiry::cause)
        .unwrap_or(Cause::Deadline)
}

/// The error of an I/O operation that `signal` (the expired [`Deadline`] in
/// scope for `cx`) ended: `TimedOut` for a deadline, `Other` with a
/// [`Cancelled`](super::Cancelled) inside for a cancellation.
pub(crate) fn io_error(cx: &Context<'_>, signal: &Deadline) -> io::Error {
    match cause_of(cx, signal) {
        Cause::Deadline => crate::time::timed_out(),
        Cause::Cancelled => super::Cancelled::new().into(),
    }
}
