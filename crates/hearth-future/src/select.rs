//! `select!`: wait for the first of several branches, polling each branch's
//! future only on its first poll and after its own waker fired.

use core::cell::Cell;
use core::ops::ControlFlow;
use core::task::{Context, Poll};

use hearth_task::{coop, ContextExt};

use crate::raw::WakeSet;

/// What polling one branch did (used by the `select!` expansion).
#[doc(hidden)]
#[derive(Debug)]
pub enum Branch<T> {
    /// Still running.
    Pending,
    /// Finished, but its output did not match the branch's pattern: the
    /// branch is disabled for the rest of the `select!`.
    Disabled,
    /// Finished and matched: the `select!` completes with this output.
    Won(T),
}

/// The state of one `select!` (used by its expansion): the wake state and
/// the disabled branches.
#[doc(hidden)]
pub struct Select {
    set: WakeSet,
    /// Bit `i`: branch `i` is disabled (precondition false, or its output did
    /// not match its pattern).
    disabled: u64,
    /// `biased;`: poll in declaration order instead of from a random start.
    biased: bool,
}

impl Select {
    /// The state of a `select!` of `n <= 64` branches, some of them
    /// `disabled` from the start (bit `i` for branch `i`).
    pub fn new(n: usize, biased: bool, disabled: u64) -> Self {
        assert!(n <= 64, "select! supports at most 64 branches");
        Select {
            set: WakeSet::new(n),
            disabled,
            biased,
        }
    }

    fn all(&self) -> u64 {
        let n = self.set.len();
        if n == 64 {
            u64::MAX
        } else {
            (1u64 << n) - 1
        }
    }

    /// Polls the branches that are due: `f(i, cx)` polls branch `i`.
    /// `Ready(Some(out))` when a branch won, `Ready(None)` when every branch
    /// is disabled.
    pub fn poll<T>(
        &mut self,
        cx: &mut Context<'_>,
        mut f: impl FnMut(usize, &mut Context<'_>) -> Branch<T>,
    ) -> Poll<Option<T>> {
        // As tokio's: with the task's budget spent, branches that are ready
        // would only be cut short by their own budget checks, and others
        // may not check at all: yield before polling anything.
        if !coop::has_budget_remaining() {
            ContextExt::local_waker(cx).wake_by_ref();
            return Poll::Pending;
        }
        let all = self.all();
        if self.disabled & all == all {
            return Poll::Ready(None);
        }
        let n = self.set.len();
        // A new state polls every branch (disabled ones are skipped below).
        self.set.prepare(cx);
        if !self.biased {
            self.set.set_start(random_below(n));
        }
        let disabled = &mut self.disabled;
        let mut won = None;
        self.set.poll(cx, |i, cx| {
            if *disabled & (1 << i) != 0 {
                return ControlFlow::Continue(());
            }
            match f(i, cx) {
                Branch::Pending => ControlFlow::Continue(()),
                Branch::Disabled => {
                    *disabled |= 1 << i;
                    ControlFlow::Continue(())
                }
                Branch::Won(v) => {
                    won = Some(v);
                    ControlFlow::Break(())
                }
            }
        });
        match won {
            Some(v) => Poll::Ready(Some(v)),
            None if self.disabled & all == all => Poll::Ready(None),
            None => Poll::Pending,
        }
    }
}

std::thread_local! {
    /// xorshift32 state for the start branch of unbiased `select!`s.
    static RNG: Cell<u32> = const { Cell::new(0x9E37_79B9) };
}

/// A pseudo-random number in `0..n` (`0` for `n <= 1`).
pub(crate) fn random_below(n: usize) -> usize {
    if n <= 1 {
        return 0;
    }
    RNG.with(|r| {
        let mut x = r.get();
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        r.set(x);
        // Lemire's multiply-shift: uniform enough for fairness, no division.
        ((u64::from(x) * n as u64) >> 32) as usize
    })
}

/// Waits on several branches at once and runs the handler of the first one
/// whose future completes and whose output matches its pattern.
///
/// ```text
/// select! {
///     [biased;]
///     <pattern> = <future> [, if <precondition>] => <handler>,
///     ...
///     [else => <handler>]
/// }
/// ```
///
/// The semantics are tokio's `select!`:
///
/// 1. Every precondition is evaluated; a branch whose precondition is
///    `false` is disabled. Then every `<future>` expression is evaluated, in
///    order (also those of disabled branches), and turned into a future with
///    `IntoFuture::into_future`, in order. Temporaries in a `<future>`
///    expression live as long as the `select!`.
/// 2. Each poll first checks the task's cooperative budget
///    ([`hearth_task::coop`]): when it is spent, the `select!` wakes its task
///    and returns `Pending` without polling any branch, even one that is
///    ready. Otherwise the futures of the enabled branches are polled. When
///    one completes, its output is matched against its pattern (which may
///    bind with `ref`, `ref mut` and `mut`): on a match, every branch future
///    is dropped (in declaration order) and the branch's handler runs with
///    the pattern's bindings; on a mismatch the branch is disabled and the
///    others keep running.
/// 3. When every branch is disabled, the `else` handler runs (without an
///    `else` branch, `select!` panics).
///
/// Without `biased;` each poll starts at a pseudo-random branch, so no branch
/// can starve the others; with `biased;` branches are polled in declaration
/// order. Handlers run outside of any loop of the macro, so `break`,
/// `continue`, `return` and `?` in a handler act on the code around the
/// `select!`. A handler that is a block needs no comma after it. At most 64
/// branches (as tokio's).
///
/// Differences from tokio's `select!`:
///
/// - Polling is precise: a branch's future is polled on the first poll and
///   afterwards only after its own waker fired (tokio polls every enabled
///   branch on every poll). Each branch gets its own waker from one
///   allocation (the wake state), made on the first poll. A branch woken
///   while the `select!` polls waits for the next poll, for which the task
///   is woken.
/// - The budget checked is hearth's ([`hearth_task::coop`]), which hearth's
///   executor sets; under any other executor, tokio's included, it is
///   unlimited, so a `select!` never yields because tokio's budget is spent.
/// - `else` may stand anywhere among the branches (tokio: last).
///
/// # Examples
///
/// ```
/// use std::future::{pending, ready};
///
/// futures::executor::block_on(async {
///     let out = hearth_future::select! {
///         v = pending::<u32>() => v,
///         v = ready(7) => v * 2,
///     };
///     assert_eq!(out, 14);
///
///     // A pattern that does not match disables its branch; when no branch
///     // is left, `else` runs.
///     let out = hearth_future::select! {
///         biased;
///         Some(v) = ready(None::<u32>) => v,
///         Ok(v) = ready(Err::<u32, ()>(())) => v,
///         else => 0,
///     };
///     assert_eq!(out, 0);
///
///     // Handlers may `break` out of the caller's loop.
///     let mut n = 0;
///     loop {
///         hearth_future::select! {
///             _ = ready(()), if n < 3 => n += 1,
///             else => break,
///         }
///     }
///     assert_eq!(n, 3);
/// });
/// ```
#[macro_export]
macro_rules! select {
    ($($t:tt)*) => {
        $crate::__private::select_internal! { $crate; $($t)* }
    };
}
