//! How the primitives spend the cooperative budget of
//! [`hearth_task::coop`].
//!
//! Every operation that can complete without waiting checks the budget at
//! the start of each poll: with none left it wakes its task and returns
//! `Pending` without touching the primitive (the yield looks like any other
//! wait, so the operation's cancel safety is unchanged). It keeps the unit
//! only when it completes; a poll that parks gives the unit back. Outside an
//! executor that sets a budget (under a foreign executor) the budget is
//! unlimited and nothing ever yields.

use std::future::{poll_fn, Future};
use std::pin::pin;
use std::task::{ready, Context, Poll};

use hearth_task::coop;

/// Polls `poll` if the task has budget left, keeping one unit if it is ready.
#[inline]
pub(crate) fn budgeted<T>(
    cx: &mut Context<'_>,
    poll: impl FnOnce(&mut Context<'_>) -> Poll<T>,
) -> Poll<T> {
    let progress = ready!(coop::poll_proceed(cx));
    let out = poll(cx);
    if out.is_ready() {
        progress.made_progress();
    }
    out
}

/// Runs `future` as one budgeted operation: each poll is [`budgeted`].
pub(crate) async fn cooperative<F: Future>(future: F) -> F::Output {
    let mut future = pin!(future);
    poll_fn(|cx| budgeted(cx, |cx| future.as_mut().poll(cx))).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_poll_that_parks_gives_its_unit_back() {
        let _budget = coop::enter();
        let mut cx = Context::from_waker(std::task::Waker::noop());
        assert_eq!(budgeted(&mut cx, |_| Poll::<()>::Pending), Poll::Pending);
        assert_eq!(coop::remaining(), Some(coop::BUDGET));
        assert_eq!(budgeted(&mut cx, |_| Poll::Ready(1)), Poll::Ready(1));
        assert_eq!(coop::remaining(), Some(coop::BUDGET - 1));
    }

    #[test]
    fn an_exhausted_budget_does_not_poll() {
        let _budget = coop::enter();
        let mut cx = Context::from_waker(std::task::Waker::noop());
        while budgeted(&mut cx, |_| Poll::Ready(())).is_ready() {}
        let polled = std::cell::Cell::new(false);
        let out = budgeted(&mut cx, |_| {
            polled.set(true);
            Poll::Ready(())
        });
        assert!(out.is_pending());
        assert!(!polled.get());
    }
}
