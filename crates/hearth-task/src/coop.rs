//! The cooperative budget: a task that is always ready cannot starve others.
//!
//! A future that completes without waiting (a channel with a message queued,
//! a semaphore with permits, a `watch` whose sender is gone) never returns
//! `Pending`, so a task that loops on it would keep its thread forever. As in
//! tokio, an executor gives each task poll a budget of [`BUDGET`] units; every
//! operation that *could* have waited spends one unit when it completes, and
//! once the budget is spent such operations wake their task and return
//! `Pending`, which hands the thread back to the executor.
//!
//! The budget lives in a thread-local so that every crate agrees on it without
//! a dependency on the runtime: hearth's executor sets it ([`enter`],
//! [`refill`]); `hearth-sync`, `hearth-future` and `hearth`'s own leaf futures
//! spend it ([`poll_proceed`]). A thread on which no executor called [`enter`]
//! has an unlimited budget, so under a foreign executor (tokio, futures) the
//! budget is simply absent and nothing ever yields because of it.
//!
//! # For the author of a leaf future
//!
//! ```
//! use std::future::Future;
//! use std::pin::Pin;
//! use std::task::{ready, Context, Poll};
//! use hearth_task::coop;
//!
//! /// Always ready: exactly the kind of future that can starve a thread.
//! struct AlwaysReady;
//!
//! impl Future for AlwaysReady {
//!     type Output = ();
//!     fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
//!         let progress = ready!(coop::poll_proceed(cx));
//!         progress.made_progress(); // keep the unit spent
//!         Poll::Ready(())
//!     }
//! }
//! # futures::executor::block_on(AlwaysReady);
//! ```
//!
//! # For the author of an executor
//!
//! Call [`enter`] when your executor starts running on a thread and keep the
//! guard until it stops; call [`refill`] before each task poll.
//!
//! ```
//! use hearth_task::coop;
//!
//! assert!(!coop::is_limited()); // no executor: unlimited
//! let guard = coop::enter();
//! coop::refill();
//! assert_eq!(coop::remaining(), Some(coop::BUDGET));
//! drop(guard);
//! assert_eq!(coop::remaining(), None);
//! ```

use core::cell::Cell;
use core::future::Future;
use core::pin::Pin;
use core::task::{Context, Poll};

use crate::ContextExt;

/// Units per task poll (tokio uses 128 as well).
pub const BUDGET: u32 = 128;
const UNLIMITED: u32 = u32::MAX;

std::thread_local! {
    /// Units left in the current poll; `UNLIMITED` outside executors.
    static REMAINING: Cell<u32> = const { Cell::new(UNLIMITED) };
}

/// Restores the budget the thread had before [`enter`] (unlimited outside
/// executors) when dropped.
#[must_use = "the budget is active only while the guard lives"]
#[derive(Debug)]
pub struct EnterGuard {
    prev: u32,
    /// The guard restores a thread-local: it must stay on its thread.
    _not_send: core::marker::PhantomData<*const ()>,
}

impl Drop for EnterGuard {
    fn drop(&mut self) {
        REMAINING.with(|r| r.set(self.prev));
    }
}

/// Starts budgeting on this thread with a full budget, until the guard drops.
///
/// Guards nest: an executor entered inside another restores the outer one's
/// budget when it leaves.
pub fn enter() -> EnterGuard {
    EnterGuard {
        prev: REMAINING.with(|r| r.replace(BUDGET)),
        _not_send: core::marker::PhantomData,
    }
}

/// Gives the next poll a fresh budget (one thread-local store). Does nothing
/// useful outside [`enter`] (the budget becomes limited only for this poll).
#[inline]
pub fn refill() {
    REMAINING.with(|r| r.set(BUDGET));
}

/// Whether an executor set a budget on this thread.
#[inline]
pub fn is_limited() -> bool {
    REMAINING.with(|r| r.get() != UNLIMITED)
}

/// Units left in the current poll, or `None` when the budget is unlimited.
#[inline]
pub fn remaining() -> Option<u32> {
    REMAINING.with(|r| Some(r.get()).filter(|&n| n != UNLIMITED))
}

/// Whether an operation may still complete in this poll without yielding.
#[inline]
pub fn has_budget_remaining() -> bool {
    REMAINING.with(|r| r.get() > 0)
}

/// Spends one unit of the budget, or, when none is left, wakes the task
/// (through its local waker) and returns `Pending`.
///
/// The unit comes back when the returned [`Progress`] drops, unless
/// [`Progress::made_progress`] was called: an operation that turns out to wait
/// after all (and returns `Pending` itself) does not spend budget.
#[inline]
pub fn poll_proceed(cx: &mut Context<'_>) -> Poll<Progress> {
    REMAINING.with(|r| match r.get() {
        0 => {
            ContextExt::local_waker(cx).wake_by_ref();
            Poll::Pending
        }
        UNLIMITED => Poll::Ready(Progress { spent: false }),
        n => {
            r.set(n - 1);
            Poll::Ready(Progress { spent: true })
        }
    })
}

/// One unit of budget, taken by [`poll_proceed`]; given back on drop unless
/// the operation [made progress](Progress::made_progress).
#[must_use = "dropping it at once gives the unit back"]
#[derive(Debug)]
pub struct Progress {
    spent: bool,
}

impl Progress {
    /// Keeps the unit spent: the operation completed.
    #[inline]
    pub fn made_progress(mut self) {
        self.spent = false;
    }
}

impl Drop for Progress {
    #[inline]
    fn drop(&mut self) {
        if self.spent {
            REMAINING.with(|r| {
                // A nested `enter`/`refill` may have changed the budget since;
                // never wrap past the limit.
                let n = r.get();
                if n < BUDGET {
                    r.set(n + 1);
                }
            });
        }
    }
}

/// Spends one unit of the task's cooperative budget, yielding to the
/// executor first if it is spent.
///
/// Call it in loops that may stay ready for a long time without awaiting any
/// operation that spends budget itself.
///
/// ```
/// futures::executor::block_on(async {
///     for _ in 0..1_000 {
///         hearth_task::coop::consume_budget().await; // no executor budget: never yields
///     }
/// });
/// ```
pub async fn consume_budget() {
    ConsumeBudget.await
}

struct ConsumeBudget;

impl Future for ConsumeBudget {
    type Output = ();
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        poll_proceed(cx).map(Progress::made_progress)
    }
}

/// Runs `future` with an unlimited budget: the operations it awaits never
/// yield because of the budget (tokio's `task::unconstrained`).
///
/// Use it sparingly: the future can now starve its thread.
pub fn unconstrained<F: Future>(future: F) -> Unconstrained<F> {
    Unconstrained { future }
}

/// The future returned by [`unconstrained`].
#[derive(Debug)]
#[must_use = "futures do nothing unless polled"]
pub struct Unconstrained<F> {
    future: F,
}

impl<F: Future> Future for Unconstrained<F> {
    type Output = F::Output;
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        // Restores the caller's budget even if the poll unwinds.
        struct Reset(u32);
        impl Drop for Reset {
            fn drop(&mut self) {
                REMAINING.with(|r| r.set(self.0));
            }
        }
        let _reset = Reset(REMAINING.with(|r| r.replace(UNLIMITED)));
        // SAFETY: `future` is structurally pinned: it is never moved out of
        // `self` and `Unconstrained` has no `Drop` or `Unpin` impl of its own
        // that would move it.
        unsafe { self.map_unchecked_mut(|this| &mut this.future) }.poll(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn progress_gives_back_unless_made() {
        let _g = enter();
        let mut cx = Context::from_waker(core::task::Waker::noop());
        let Poll::Ready(p) = poll_proceed(&mut cx) else {
            panic!()
        };
        assert_eq!(remaining(), Some(BUDGET - 1));
        drop(p);
        assert_eq!(remaining(), Some(BUDGET));
        let Poll::Ready(p) = poll_proceed(&mut cx) else {
            panic!()
        };
        p.made_progress();
        assert_eq!(remaining(), Some(BUDGET - 1));
    }

    #[test]
    fn exhausted_budget_yields_and_wakes() {
        let _g = enter();
        let mut cx = Context::from_waker(core::task::Waker::noop());
        for _ in 0..BUDGET {
            assert!(poll_proceed(&mut cx)
                .map(Progress::made_progress)
                .is_ready());
        }
        assert!(poll_proceed(&mut cx).is_pending());
        assert!(!has_budget_remaining());
        refill();
        assert!(poll_proceed(&mut cx).is_ready());
    }

    #[test]
    fn unconstrained_lifts_the_budget() {
        let _g = enter();
        let mut cx = Context::from_waker(core::task::Waker::noop());
        REMAINING.with(|r| r.set(0));
        let mut f = core::pin::pin!(unconstrained(core::future::poll_fn(|cx| {
            for _ in 0..1000 {
                core::task::ready!(poll_proceed(cx)).made_progress();
            }
            Poll::Ready(())
        })));
        assert!(f.as_mut().poll(&mut cx).is_ready());
        assert_eq!(remaining(), Some(0));
    }
}
