//! `Barrier`: lets `n` tasks wait for each other.
//!
//! Each generation releases when its `n`-th task arrives; that task is the
//! leader. Difference from `tokio::sync::Barrier`: a `wait` future dropped
//! before its generation released withdraws its arrival (tokio keeps it
//! counted), so a cancelled task never lets the others through early; and
//! `wait` spends the cooperative budget (tokio's does not), see the
//! [crate docs](crate).

use std::cell::{Cell, RefCell};
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use hearth_task::ContextExt;

use crate::budget::budgeted;
use crate::wait_list::{wake_all, WaitList};

/// A barrier for `n` tasks.
///
/// # Examples
///
/// ```
/// use hearth_sync::Barrier;
///
/// futures::executor::block_on(async {
///     let barrier = Barrier::new(2);
///     let (a, b) = futures::join!(barrier.wait(), barrier.wait());
///     assert!(a.is_leader() != b.is_leader());
/// });
/// ```
pub struct Barrier {
    /// Tasks per generation.
    n: usize,
    /// Tasks of the current generation that arrived.
    arrived: Cell<usize>,
    /// Generations released so far.
    generation: Cell<u64>,
    waiters: RefCell<WaitList<()>>,
}

/// What [`Barrier::wait`] returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BarrierWaitResult(bool);

impl BarrierWaitResult {
    /// Whether this task released the generation (exactly one per generation).
    pub fn is_leader(&self) -> bool {
        self.0
    }
}

impl Barrier {
    /// A barrier that releases every `n` arrivals (`0` counts as `1`, as in
    /// tokio).
    pub const fn new(n: usize) -> Self {
        let n = if n == 0 { 1 } else { n };
        Barrier {
            n,
            arrived: Cell::new(0),
            generation: Cell::new(0),
            waiters: RefCell::new(WaitList::new()),
        }
    }

    /// Arrives and waits for the generation to fill.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: dropping the future before release withdraws the arrival.
    pub fn wait(&self) -> BarrierWait<'_> {
        BarrierWait {
            barrier: self,
            state: None,
            done: false,
        }
    }
}

impl fmt::Debug for Barrier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Barrier")
            .field("n", &self.n)
            .field("arrived", &self.arrived.get())
            .finish()
    }
}

/// The future of [`Barrier::wait`].
#[must_use = "futures do nothing unless awaited"]
#[derive(Debug)]
pub struct BarrierWait<'a> {
    barrier: &'a Barrier,
    /// The wait-list key and the generation joined, once arrived.
    state: Option<(usize, u64)>,
    done: bool,
}

impl Future for BarrierWait<'_> {
    type Output = BarrierWaitResult;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<BarrierWaitResult> {
        let this = &mut *self;
        assert!(
            !this.done,
            "a barrier wait future was polled after it completed"
        );
        budgeted(cx, |cx| this.poll_unbudgeted(cx))
    }
}

impl BarrierWait<'_> {
    fn poll_unbudgeted(&mut self, cx: &mut Context<'_>) -> Poll<BarrierWaitResult> {
        let b = self.barrier;
        match self.state {
            None => {
                let arrived = b.arrived.get() + 1;
                if arrived == b.n {
                    b.arrived.set(0);
                    b.generation.set(b.generation.get() + 1);
                    self.done = true;
                    // The barrier is consistent before any waker runs.
                    let wakers = b.waiters.borrow_mut().drain(|_| ());
                    wake_all(wakers);
                    return Poll::Ready(BarrierWaitResult(true));
                }
                b.arrived.set(arrived);
                let key = b
                    .waiters
                    .borrow_mut()
                    .push_back(ContextExt::local_waker(cx), ());
                self.state = Some((key, b.generation.get()));
                Poll::Pending
            }
            Some((key, generation)) => {
                let mut waiters = b.waiters.borrow_mut();
                if b.generation.get() == generation {
                    let old = waiters.register(key, ContextExt::local_waker(cx));
                    drop(waiters);
                    drop(old);
                    return Poll::Pending;
                }
                let (_, (), waker) = waiters.remove(key);
                drop(waiters);
                self.state = None;
                self.done = true;
                drop(waker);
                Poll::Ready(BarrierWaitResult(false))
            }
        }
    }
}

impl Drop for BarrierWait<'_> {
    fn drop(&mut self) {
        let Some((key, generation)) = self.state.take() else {
            return;
        };
        let b = self.barrier;
        let (_, (), waker) = b.waiters.borrow_mut().remove(key);
        if b.generation.get() == generation {
            b.arrived.set(b.arrived.get() - 1);
        }
        // Last: the waker's drop is user code and may panic.
        drop(waker);
    }
}
