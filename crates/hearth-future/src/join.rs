//! `join!`, `try_join!`, [`join_all`] and [`try_join_all`]: wait for every
//! child, polling each one only on its first poll and after its own waker
//! fired.

use core::future::Future;
use core::ops::ControlFlow;
use core::pin::Pin;
use core::task::{Context, Poll};
use std::vec::Vec;

use futures_core::TryFuture;

use crate::maybe_done::{MaybeDone, Step, TryMaybeDone};
use crate::poison::Poison;
use crate::raw::{WakeSet, SMALL};

/// Drives a join over `set`: `step(i, cx)` polls child `i`. Returns
/// `Ready(Ok(()))` when every child finished, `Ready(Err(()))` when a child
/// failed (`try_` combinators).
///
/// With `rotate`, the pass starts at child `*rotate`, which then moves on by
/// one (tokio's `join!` fairness: each poll starts at the next child). Up to
/// 64 children only: above, due children are polled in wake order.
#[doc(hidden)]
pub fn poll_join(
    set: &mut WakeSet,
    remaining: &mut usize,
    rotate: Option<&mut usize>,
    cx: &mut Context<'_>,
    mut step: impl FnMut(usize, &mut Context<'_>) -> Step,
) -> Poll<Result<(), ()>> {
    if *remaining == 0 {
        return Poll::Ready(Ok(()));
    }
    set.prepare(cx);
    let n = set.len();
    if let Some(next) = rotate {
        if n <= SMALL {
            set.set_start(*next);
        }
        *next = if *next + 1 >= n { 0 } else { *next + 1 };
    }
    let mut failed = false;
    set.poll(cx, |i, cx| match step(i, cx) {
        Step::Pending | Step::Stale => ControlFlow::Continue(()),
        Step::Done => {
            *remaining -= 1;
            if *remaining == 0 {
                ControlFlow::Break(())
            } else {
                ControlFlow::Continue(())
            }
        }
        Step::Failed => {
            failed = true;
            ControlFlow::Break(())
        }
    });
    if failed {
        Poll::Ready(Err(()))
    } else if *remaining == 0 {
        Poll::Ready(Ok(()))
    } else {
        Poll::Pending
    }
}

/// Waits for every future of `iter` and returns their outputs in input order.
///
/// Each child is polled on the first poll and afterwards only when its own
/// waker fired; the wake state for all children is one allocation. Under a
/// runtime with dual wakers (hearth) a child that parks
/// `cx.local_waker()` is woken without any atomic operation.
///
/// # Examples
///
/// ```
/// use hearth_future::join_all;
///
/// let out = futures::executor::block_on(join_all((1..=3).map(|i| async move { i * 10 })));
/// assert_eq!(out, [10, 20, 30]);
/// ```
pub fn join_all<I>(iter: I) -> JoinAll<I::Item>
where
    I: IntoIterator,
    I::Item: Future,
{
    let children: Box<[MaybeDone<I::Item>]> = iter.into_iter().map(MaybeDone::new).collect();
    let n = children.len();
    JoinAll {
        set: WakeSet::new(n),
        remaining: n,
        children,
        poison: Poison::default(),
    }
}

/// The future of [`join_all`].
///
/// Polling it after it returned `Ready` panics, and so does polling it after
/// a poll panicked (in a child, or in the task's waker); dropping it then
/// drops every remaining child once.
///
/// # Examples
///
/// ```
/// use std::future::Ready;
/// use hearth_future::JoinAll;
///
/// let f: JoinAll<Ready<u8>> = hearth_future::join_all([std::future::ready(1), std::future::ready(2)]);
/// assert_eq!(futures::executor::block_on(f), [1, 2]);
/// ```
#[must_use = "futures do nothing unless polled"]
pub struct JoinAll<F: Future> {
    /// Never moved: a boxed slice is never resized.
    children: Box<[MaybeDone<F>]>,
    remaining: usize,
    set: WakeSet,
    poison: Poison,
}

impl<F: Future> Unpin for JoinAll<F> {}

impl<F: Future> Future for JoinAll<F> {
    type Output = Vec<F::Output>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Vec<F::Output>> {
        let this = self.get_mut();
        this.poison.start("JoinAll");
        let r = this.poll_inner(cx);
        this.poison.end();
        r
    }
}

impl<F: Future> JoinAll<F> {
    fn poll_inner(&mut self, cx: &mut Context<'_>) -> Poll<Vec<F::Output>> {
        let children = &mut self.children;
        let r = poll_join(&mut self.set, &mut self.remaining, None, cx, |i, cx| {
            // SAFETY: the children live in a boxed slice that is never moved
            // out of or resized while they run.
            unsafe { Pin::new_unchecked(&mut children[i]) }.poll_step(cx)
        });
        match r {
            Poll::Ready(_) => {
                assert!(
                    self.children.len() == self.set.len(),
                    "`JoinAll` polled after completion"
                );
                let out = self
                    .children
                    .iter_mut()
                    // SAFETY: as above; only finished outputs move out.
                    .map(|c| unsafe { Pin::new_unchecked(c) }.take_output())
                    .collect();
                if !self.children.is_empty() {
                    self.children = Box::new([]);
                }
                Poll::Ready(out)
            }
            Poll::Pending => Poll::Pending,
        }
    }
}

impl<F: Future> FromIterator<F> for JoinAll<F> {
    /// As [`join_all`].
    ///
    /// ```
    /// use hearth_future::JoinAll;
    ///
    /// let all: JoinAll<_> = (1..=3).map(std::future::ready).collect();
    /// assert_eq!(futures::executor::block_on(all), [1, 2, 3]);
    /// ```
    fn from_iter<I: IntoIterator<Item = F>>(iter: I) -> Self {
        join_all(iter)
    }
}

impl<F: Future> core::fmt::Debug for JoinAll<F> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("JoinAll")
            .field("len", &self.children.len())
            .field("remaining", &self.remaining)
            .finish()
    }
}

/// Waits for every future of `iter` to return `Ok`, or for the first `Err`.
///
/// On the first `Err` the other futures are dropped and the error returned;
/// otherwise the `Ok` values, in input order. Polling is precise as for
/// [`join_all`].
///
/// # Examples
///
/// ```
/// use hearth_future::try_join_all;
///
/// let ok = futures::executor::block_on(try_join_all((1..=2).map(|i| async move { Ok::<_, ()>(i) })));
/// assert_eq!(ok, Ok(vec![1, 2]));
/// let err = futures::executor::block_on(try_join_all((0..3).map(|i| async move {
///     if i == 1 { Err("one") } else { Ok(i) }
/// })));
/// assert_eq!(err, Err("one"));
/// ```
pub fn try_join_all<I>(iter: I) -> TryJoinAll<I::Item>
where
    I: IntoIterator,
    I::Item: TryFuture,
{
    let children: Box<[TryMaybeDone<I::Item>]> = iter.into_iter().map(TryMaybeDone::new).collect();
    let n = children.len();
    TryJoinAll {
        set: WakeSet::new(n),
        remaining: n,
        children,
        poison: Poison::default(),
    }
}

/// The future of [`try_join_all`].
///
/// As [`JoinAll`], it panics when polled after a poll panicked.
///
/// # Examples
///
/// ```
/// use std::future::{ready, Ready};
/// use hearth_future::TryJoinAll;
///
/// let f: TryJoinAll<Ready<Result<u8, ()>>> = hearth_future::try_join_all([ready(Ok(1)), ready(Err(()))]);
/// assert_eq!(futures::executor::block_on(f), Err(()));
/// ```
#[must_use = "futures do nothing unless polled"]
pub struct TryJoinAll<F: TryFuture> {
    /// Never moved: a boxed slice is never resized.
    children: Box<[TryMaybeDone<F>]>,
    remaining: usize,
    set: WakeSet,
    poison: Poison,
}

impl<F: TryFuture> Unpin for TryJoinAll<F> {}

impl<F: TryFuture> Future for TryJoinAll<F> {
    type Output = Result<Vec<F::Ok>, F::Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        this.poison.start("TryJoinAll");
        let r = this.poll_inner(cx);
        this.poison.end();
        r
    }
}

impl<F: TryFuture> TryJoinAll<F> {
    fn poll_inner(&mut self, cx: &mut Context<'_>) -> Poll<Result<Vec<F::Ok>, F::Error>> {
        let children = &mut self.children;
        let r = poll_join(&mut self.set, &mut self.remaining, None, cx, |i, cx| {
            // SAFETY: as in `JoinAll::poll`.
            unsafe { Pin::new_unchecked(&mut children[i]) }.poll_step(cx)
        });
        match r {
            Poll::Ready(Ok(())) => Poll::Ready(Ok(self
                .children
                .iter_mut()
                // SAFETY: as above.
                .map(|c| unsafe { Pin::new_unchecked(c) }.take_ok())
                .collect())),
            Poll::Ready(Err(())) => {
                let mut err = None;
                for c in self.children.iter_mut() {
                    // SAFETY: as above.
                    if let Some(e) = unsafe { Pin::new_unchecked(c) }.take_err() {
                        err = Some(e);
                        break;
                    }
                }
                // Drop the other children now, as the short-circuit promises.
                self.children = Box::new([]);
                self.remaining = 0;
                match err {
                    Some(e) => Poll::Ready(Err(e)),
                    None => unreachable!("a failed child keeps its error"),
                }
            }
            Poll::Pending => Poll::Pending,
        }
    }
}

impl<F: TryFuture> FromIterator<F> for TryJoinAll<F> {
    /// As [`try_join_all`].
    fn from_iter<I: IntoIterator<Item = F>>(iter: I) -> Self {
        try_join_all(iter)
    }
}

impl<F: TryFuture> core::fmt::Debug for TryJoinAll<F> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("TryJoinAll")
            .field("len", &self.children.len())
            .field("remaining", &self.remaining)
            .finish()
    }
}

/// Waits for every future and returns their outputs as a tuple.
///
/// Any arity, `IntoFuture` operands. Must be used inside an `async` context
/// (it awaits). Each child is polled on the first poll and afterwards only
/// when its own waker fired.
///
/// As tokio's `join!`, each poll starts at the next child (child 0 on the
/// first poll, child 1 on the second, ...), so a child that uses up the
/// task's budget cannot starve the ones after it; `biased;` as the first
/// token polls in declaration order instead. `join!()` is `()`.
///
/// Differences from tokio's `join!`:
///
/// - Polling is precise: after its first poll a child is polled only when
///   its own waker fired (tokio polls every unfinished child on every poll).
///   Within one poll the due children are polled in the rotated order.
/// - Above 64 children due children are polled in the order they were woken
///   (the ready set is a FIFO ring there), with or without `biased;`.
/// - Children are dropped as they finish; outputs are kept until the end.
///
/// # Examples
///
/// ```
/// futures::executor::block_on(async {
///     let (a, b, c) = hearth_future::join!(async { 1 }, async { "two" }, async { 3.0 });
///     assert_eq!((a, b, c), (1, "two", 3.0));
///     // `biased;`: polled in declaration order on every poll.
///     let (x, y) = hearth_future::join!(biased; async { 1 }, std::future::ready(2));
///     assert_eq!(x + y, 3);
///     let () = hearth_future::join!();
/// });
/// ```
#[macro_export]
macro_rules! join {
    (biased; $($fut:expr),* $(,)?) => {
        $crate::__join_munch!(@join [biased] [] [0usize] $($fut,)*)
    };
    ($($fut:expr),* $(,)?) => {
        $crate::__join_munch!(@join [rotate] [] [0usize] $($fut,)*)
    };
}

/// Waits for every future to return `Ok`, or for the first `Err`.
///
/// Returns `Ok` with a tuple of the `Ok` values, or the first `Err` (in the
/// order the errors were observed); on an `Err` the other futures are
/// dropped before the macro returns. Operands may be `IntoFuture`.
/// Fairness, `biased;` and the differences from tokio's `try_join!` are
/// those of [`join!`]; `try_join!()` is `Ok(())`.
///
/// # Examples
///
/// ```
/// futures::executor::block_on(async {
///     let ok = hearth_future::try_join!(async { Ok::<_, &str>(1) }, async { Ok(2) });
///     assert_eq!(ok, Ok((1, 2)));
///     let err = hearth_future::try_join!(async { Ok::<i32, &str>(1) }, async { Err::<i32, _>("no") });
///     assert_eq!(err, Err("no"));
///     let biased = hearth_future::try_join!(biased; async { Ok::<_, ()>(1) });
///     assert_eq!(biased, Ok((1,)));
///     let empty: Result<(), ()> = hearth_future::try_join!();
///     assert_eq!(empty, Ok(()));
/// });
/// ```
#[macro_export]
macro_rules! try_join {
    (biased; $($fut:expr),* $(,)?) => {
        $crate::__join_munch!(@try [biased] [] [0usize] $($fut,)*)
    };
    ($($fut:expr),* $(,)?) => {
        $crate::__join_munch!(@try [rotate] [] [0usize] $($fut,)*)
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __join_munch {
    // Give each future its own (hygienic) binding, and count them.
    (@$kind:ident $order:tt [$($acc:tt)*] [$n:expr] $fut:expr, $($rest:tt)*) => {
        $crate::__join_munch!(@$kind $order [$($acc)* (__child [$fut])] [$n + 1usize] $($rest)*)
    };
    (@join $order:tt [] [$n:expr]) => {
        ()
    };
    (@try $order:tt [] [$n:expr]) => {
        ::core::result::Result::Ok(())
    };
    (@rotate [rotate] $next:ident) => {
        ::core::option::Option::Some(&mut $next)
    };
    (@rotate [biased] $next:ident) => {{
        let _ = &mut $next;
        ::core::option::Option::None
    }};
    // The result is assigned to a variable declared outside of the block
    // that holds the children and the wake state: if dropping them panics
    // (a child, or the task's waker), the result is dropped too (a block's
    // value would leak, rust-lang/rust#47949).
    (@join $order:tt [$(($name:ident [$fut:expr]))*] [$n:expr]) => {{
        let __out;
        {
            $( let mut $name = ::core::pin::pin!($crate::__private::MaybeDone::new($fut)); )*
            let mut __set = $crate::__private::WakeSet::new($n);
            let mut __remaining: usize = $n;
            let mut __next: usize = 0;
            {
                let mut __children: [::core::pin::Pin<&mut dyn $crate::__private::PollStep>; $n] =
                    [$( $name.as_mut(), )*];
                let _ = ::core::future::poll_fn(|cx| {
                    $crate::__private::poll_join(
                        &mut __set,
                        &mut __remaining,
                        $crate::__join_munch!(@rotate $order __next),
                        cx,
                        |__i, cx| __children[__i].as_mut().poll_step(cx),
                    )
                }).await;
            }
            __out = ($( $name.as_mut().take_output(), )*);
        }
        __out
    }};
    (@try $order:tt [$(($name:ident [$fut:expr]))*] [$n:expr]) => {{
        let __out;
        {
            $( let mut $name = ::core::pin::pin!($crate::__private::TryMaybeDone::new($fut)); )*
            let mut __set = $crate::__private::WakeSet::new($n);
            let mut __remaining: usize = $n;
            let mut __next: usize = 0;
            let __r = {
                let mut __children: [::core::pin::Pin<&mut dyn $crate::__private::PollStep>; $n] =
                    [$( $name.as_mut(), )*];
                ::core::future::poll_fn(|cx| {
                    $crate::__private::poll_join(
                        &mut __set,
                        &mut __remaining,
                        $crate::__join_munch!(@rotate $order __next),
                        cx,
                        |__i, cx| __children[__i].as_mut().poll_step(cx),
                    )
                }).await
            };
            __out = match __r {
                ::core::result::Result::Ok(()) => ::core::result::Result::Ok(($( $name.as_mut().take_ok(), )*)),
                ::core::result::Result::Err(()) => {
                    let mut __err = ::core::option::Option::None;
                    $( if __err.is_none() { __err = $name.as_mut().take_err(); } )*
                    match __err {
                        ::core::option::Option::Some(e) => ::core::result::Result::Err(e),
                        ::core::option::Option::None => ::core::unreachable!("a failed child keeps its error"),
                    }
                }
            };
        }
        __out
    }};
}
