//! `MaybeDone` and `TryMaybeDone`: a child future and, once it finished, its
//! output. Used by [`join!`](crate::join) and [`join_all`](crate::join_all).

use core::future::{Future, IntoFuture};
use core::pin::Pin;
use core::task::{Context, Poll};

use futures_core::TryFuture;

/// What polling a child did.
#[doc(hidden)]
#[derive(Debug, PartialEq, Eq, Clone, Copy)]
pub enum Step {
    /// Still running.
    Pending,
    /// Finished (for `try_` combinators: with `Ok`).
    Done,
    /// Finished with `Err` (`try_` combinators only).
    Failed,
    /// Had finished before: not polled (a stale wake).
    Stale,
}

/// A child that can be polled for one step; the `join!` expansion dispatches
/// through `Pin<&mut dyn PollStep>` (one indirect call, the same target for
/// children of one type) instead of a `match` on the child's index.
#[doc(hidden)]
pub trait PollStep {
    /// Polls the child if it is still running.
    fn poll_step(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Step;
}

impl<F: Future> PollStep for MaybeDone<F> {
    #[inline]
    fn poll_step(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Step {
        MaybeDone::poll_step(self, cx)
    }
}

impl<F: TryFuture> PollStep for TryMaybeDone<F> {
    #[inline]
    fn poll_step(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Step {
        TryMaybeDone::poll_step(self, cx)
    }
}

/// A child future, its output once it finished, or nothing once the output
/// was taken.
#[doc(hidden)]
#[derive(Debug)]
pub enum MaybeDone<F: Future> {
    /// Still running.
    Future(F),
    /// Finished.
    Done(F::Output),
    /// The output was taken.
    Gone,
}

impl<F: Future> MaybeDone<F> {
    /// Wraps a future (or what turns into one: `join!` takes `IntoFuture`).
    pub fn new(f: impl IntoFuture<IntoFuture = F>) -> Self {
        MaybeDone::Future(f.into_future())
    }

    /// Polls the future if it is still running. A finished child is not
    /// polled again (a stale wake of a finished child costs nothing).
    #[inline]
    pub fn poll_step(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Step {
        // SAFETY: the future is never moved out of its pinned place; it is
        // only dropped in place (by the assignment below).
        let this = unsafe { self.get_unchecked_mut() };
        match this {
            MaybeDone::Future(f) => {
                // SAFETY: `f` is pinned with `self`.
                match unsafe { Pin::new_unchecked(f) }.poll(cx) {
                    Poll::Ready(v) => {
                        *this = MaybeDone::Done(v);
                        Step::Done
                    }
                    Poll::Pending => Step::Pending,
                }
            }
            _ => Step::Stale,
        }
    }

    /// Takes the output.
    ///
    /// # Panics
    /// If the child has not finished or its output was taken (a bug of the
    /// combinator, not of the user).
    pub fn take_output(self: Pin<&mut Self>) -> F::Output {
        // SAFETY: only the output moves out; a running future is not touched.
        let this = unsafe { self.get_unchecked_mut() };
        match this {
            MaybeDone::Done(_) => match core::mem::replace(this, MaybeDone::Gone) {
                MaybeDone::Done(v) => v,
                _ => unreachable!(),
            },
            _ => panic!("hearth-future: output taken before the child finished (combinator bug)"),
        }
    }
}

/// A child of a `try_` combinator: `Ok` outputs are kept, an `Err` is kept
/// until the combinator takes it.
#[doc(hidden)]
#[derive(Debug)]
pub enum TryMaybeDone<F: TryFuture> {
    /// Still running.
    Future(F),
    /// Finished with `Ok`.
    Done(F::Ok),
    /// Finished with `Err`.
    Failed(F::Error),
    /// The output was taken.
    Gone,
}

impl<F: TryFuture> TryMaybeDone<F> {
    /// Wraps a future (or what turns into one: `try_join!` takes
    /// `IntoFuture`).
    pub fn new(f: impl IntoFuture<IntoFuture = F>) -> Self {
        TryMaybeDone::Future(f.into_future())
    }

    /// Polls the future if it is still running.
    #[inline]
    pub fn poll_step(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Step {
        // SAFETY: as in `MaybeDone::poll_step`.
        let this = unsafe { self.get_unchecked_mut() };
        match this {
            TryMaybeDone::Future(f) => {
                // SAFETY: `f` is pinned with `self`.
                match unsafe { Pin::new_unchecked(f) }.try_poll(cx) {
                    Poll::Ready(Ok(v)) => {
                        *this = TryMaybeDone::Done(v);
                        Step::Done
                    }
                    Poll::Ready(Err(e)) => {
                        *this = TryMaybeDone::Failed(e);
                        Step::Failed
                    }
                    Poll::Pending => Step::Pending,
                }
            }
            _ => Step::Stale,
        }
    }

    /// Takes the error, if the child failed.
    pub fn take_err(self: Pin<&mut Self>) -> Option<F::Error> {
        // SAFETY: only the error moves out.
        let this = unsafe { self.get_unchecked_mut() };
        match this {
            TryMaybeDone::Failed(_) => match core::mem::replace(this, TryMaybeDone::Gone) {
                TryMaybeDone::Failed(e) => Some(e),
                _ => unreachable!(),
            },
            _ => None,
        }
    }

    /// Takes the `Ok` output.
    ///
    /// # Panics
    /// If the child has not finished with `Ok` (a combinator bug).
    pub fn take_ok(self: Pin<&mut Self>) -> F::Ok {
        // SAFETY: only the output moves out.
        let this = unsafe { self.get_unchecked_mut() };
        match this {
            TryMaybeDone::Done(_) => match core::mem::replace(this, TryMaybeDone::Gone) {
                TryMaybeDone::Done(v) => v,
                _ => unreachable!(),
            },
            _ => panic!("hearth-future: output taken before the child finished (combinator bug)"),
        }
    }
}
