//! Tasks: local wakers (everything of the `hearth-task` crate, re-exported
//! here), the task's [`Id`], and task-local values ([`task_local!`]),
//! all read through the task's `Context` instead of a thread-local.
//!
//! Every hearth task's `Waker` is a dual waker whose header *provides*
//! values ([`provide`]): the task's id and, on a runtime's worker, the
//! runtime's handle. A context keeps them through rebuilt contexts and
//! through hearth-future's combinators, so a leaf future finds them however
//! deep it is polled.
//!
//! A [`CancellationToken`] (tokio-util's API, `!Send`) travels the same
//! way: [`token.scope(fut)`](CancellationToken::scope) makes every socket
//! operation inside fail and every other wait end once it is cancelled, and
//! code inside waits for it with [`cancelled()`](cancelled) without being
//! passed it (see the [`cancel`] module for the details and the
//! differences from tokio-util).
//!
//! ```
//! use std::future::poll_fn;
//! use std::task::Poll;
//! use hearth::task::{self, ContextExt, Id};
//!
//! hearth::block_on(async {
//!     // Two tasks alive at once have different ids.
//!     let a = hearth::spawn_local(task::id());
//!     let b = hearth::spawn_local(task::id());
//!     assert_ne!(a.await.unwrap(), b.await.unwrap());
//!     // Inside a hand-written poll: the same value, from the context.
//!     let here = task::id().await;
//!     let seen = poll_fn(|cx| Poll::Ready(Id::from_context(cx))).await;
//!     assert_eq!(seen, Some(here));
//! });
//! ```

pub use hearth_task::*;

pub mod cancel;
pub(crate) mod expiry;
mod local;

pub use cancel::{
    cancelled, current_token, CancelScope, CancellationToken, Cancelled, DropGuard, DropGuardRef,
    WaitForCancellationFuture, WaitForCancellationFutureOwned,
};
pub use local::{AccessError, LocalKey, TaskLocalFuture};

// tokio's `task` module: `JoinSet`, `spawn_local` and its handles, cooperative
// budgeting.
pub use crate::executor::{spawn_local, yield_now, AbortHandle, JoinError, JoinHandle, JoinSet};
pub use hearth_task::coop::{consume_budget, unconstrained};

use core::fmt;
use core::future::{poll_fn, Future};
use core::num::NonZeroU64;
use core::task::{Context, Poll};

/// The id of a hearth task (tokio's `task::Id`).
///
/// As tokio documents for its ids: unique among the tasks that exist at the
/// same time, in the whole process; a task that is gone may pass its id on.
/// (It is where the task lives: no counter is kept, and the task header,
/// which every spawn allocates anyway, grows by nothing.)
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Id(NonZeroU64);

/// What a task provides as its identity: a byte at a unique address for as
/// long as the task (or the `run_until` call, for a main future) lives.
#[repr(transparent)]
pub(crate) struct Anchor(u8);

impl Anchor {
    pub(crate) fn new() -> Anchor {
        Anchor(0)
    }
}

impl Id {
    /// The id of the task whose context this is; `None` outside a hearth
    /// task, under a combinator that makes its own wakers
    /// (`futures::FuturesUnordered`), or on another thread than the task's.
    ///
    /// Reads the context (no thread-local), so it also finds the task
    /// through layers and hearth-future's combinators.
    #[inline]
    pub fn from_context(cx: &Context<'_>) -> Option<Id> {
        cx.request_ref::<Anchor>().map(|a| {
            let addr = a as *const Anchor as usize as u64;
            Id(NonZeroU64::new(addr).expect("references are not null"))
        })
    }

    /// The id as a number.
    pub fn as_u64(self) -> u64 {
        self.0.get()
    }
}

impl fmt::Display for Id {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// The id of the task that awaits this (tokio's `task::id`).
///
/// An `async fn`, unlike tokio's: hearth reads it from the task's context
/// rather than from a thread-local, and a future reaches its context by
/// being polled. It completes on its first poll.
///
/// # Panics
///
/// When polled outside a hearth task (see [`try_id`]).
///
/// ```
/// hearth::block_on(async {
///     let outer = hearth::task::id().await;
///     let inner = hearth::spawn_local(hearth::task::id()).await.unwrap();
///     assert_ne!(outer, inner);
/// });
/// ```
pub fn id() -> impl Future<Output = Id> {
    poll_fn(|cx| {
        Poll::Ready(Id::from_context(cx).unwrap_or_else(|| {
            panic!(
                "hearth::task::id polled outside a hearth task (or under a combinator that makes its \
                 own wakers, such as futures::FuturesUnordered); use hearth::task::try_id"
            )
        }))
    })
}

/// The id of the task that awaits this, or `None` outside a hearth task
/// (tokio's `task::try_id`).
///
/// ```
/// assert_eq!(futures::executor::block_on(hearth::task::try_id()), None);
/// assert!(hearth::block_on(hearth::task::try_id()).is_some());
/// ```
pub fn try_id() -> impl Future<Output = Option<Id>> {
    poll_fn(|cx| Poll::Ready(Id::from_context(cx)))
}
