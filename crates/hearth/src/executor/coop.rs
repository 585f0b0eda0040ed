//! The cooperative budget: a task that is always ready cannot starve others.
//!
//! The executor gives each poll a budget of [`BUDGET`] units. hearth's own
//! leaf futures (`JoinHandle`, [`consume_budget`]) spend one unit per ready
//! result; when the budget is spent they wake their task and return
//! `Pending`, so control returns to the executor. Outside a hearth executor
//! the budget is unlimited.

use core::cell::Cell;
use core::future::Future;
use core::pin::Pin;
use core::task::{Context, Poll};

use hearth_task::ContextExt;

/// Units per task poll (tokio uses 128 as well).
pub(crate) const BUDGET: u32 = 128;
const UNLIMITED: u32 = u32::MAX;

std::thread_local! {
    static REMAINING: Cell<u32> = const { Cell::new(UNLIMITED) };
}

/// Restores the budget a thread had before an executor ran on it (unlimited
/// outside executors).
pub(crate) struct Restore(u32);

impl Drop for Restore {
    fn drop(&mut self) {
        REMAINING.with(|r| r.set(self.0));
    }
}

/// Called when an executor starts running on this thread.
pub(crate) fn enter() -> Restore {
    Restore(REMAINING.with(|r| r.replace(BUDGET)))
}

/// Gives the next poll a fresh budget (one thread-local store).
#[inline]
pub(crate) fn refill() {
    REMAINING.with(|r| r.set(BUDGET));
}

/// Spends one unit; `Pending` (after waking the task) when none is left.
pub(crate) fn poll_proceed(cx: &mut Context<'_>) -> Poll<()> {
    REMAINING.with(|r| match r.get() {
        0 => {
            ContextExt::local_waker(cx).wake_by_ref();
            Poll::Pending
        }
        UNLIMITED => Poll::Ready(()),
        n => {
            r.set(n - 1);
            Poll::Ready(())
        }
    })
}

/// Spends one unit of the task's cooperative budget, yielding to the
/// executor first if it is spent.
///
/// Call it in loops that may stay ready for a long time without awaiting any
/// of hearth's own futures.
///
/// ```
/// hearth::block_on(async {
///     for _ in 0..1_000 {
///         hearth::consume_budget().await; // yields every 128 iterations
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
        poll_proceed(cx)
    }
}
