//! Precise future combinators: a child is polled on its first poll and
//! afterwards only when its own waker fired.
//!
//! `futures::join!` polls every child whenever any of them wakes the task;
//! `FuturesUnordered` is precise but pays an `Arc` and atomic flags per
//! child. This crate gives each child its own waker from **one allocation per
//! combinator** and, under a runtime with dual wakers (hearth's, see
//! [`hearth_task::dual`]), wakes through the local twin with **no atomic
//! read-modify-write and no lock**. Under any other executor (tokio,
//! `futures::executor`) the same combinators work through the thread-safe
//! `Waker`, still precisely.
//!
//! | combinator | what it does |
//! |---|---|
//! | [`join!`], [`try_join!`] | a tuple of outputs, any arity |
//! | [`join_all`], [`try_join_all`] | a `Vec` of outputs, in input order |
//! | [`select!`] | the first branch to complete (and match), tokio's syntax |
//! | [`race`] | the first output |
//! | [`FuturesSet`] | an unordered set of futures, a `Stream` (futures' `FuturesUnordered`) |
//! | [`merge`], [`Merge`] | the items of several streams as they come (futures' `select_all`, `SelectAll`) |
//!
//! # How a wake reaches a child
//!
//! Child `i` gets a `Context` whose `Waker` points at slot `i` of the
//! combinator's wake state. Waking it marks `i` ready (one bit of a `u64`
//! for up to 64 children, an index in a ready ring above) and wakes the
//! parent once; the next poll of the combinator polls exactly the marked
//! children. Work per wake is O(1) whatever the number of children. See the
//! private `raw` module's docs in the source for the protocol, the two modes
//! (local and shared) and the reference counts.
//!
//! One poll of a combinator is one *pass*: each child that was due when the
//! poll began is polled once. A child woken during the pass (a child that
//! calls `yield_now`, or one woken by a sibling) waits for the next pass and
//! the task is woken for it, so no child can keep the combinator (and its
//! task) busy; `futures::join!` and `FuturesUnordered` behave the same way.
//! Children are dropped when they finish, outputs are kept in input order;
//! the comparison tests (`tests/compare.rs`, `tests/select.rs`) check
//! outputs, ordering and drop order against futures and tokio.
//!
//! # Under a foreign executor
//!
//! Under a parent `Waker` that is not hearth's, a child's wake sets one bit
//! of an atomic word (up to 64 children; a lock-free stack above) and only
//! the wake that finds the word empty wakes the parent, by reference: the
//! parent's `Waker` stays registered and is cloned again only when it
//! changes. A round of one child wake and one parent poll costs four atomic
//! read-modify-writes and no clone of the parent's `Waker`
//! (`tests/foreign_parent.rs` counts them); futures' `join_all` instead
//! polls every child, and a child that re-registers clones the parent's
//! `Waker` on each poll.
//!
//! # The 64-child cut-over
//!
//! Up to 64 children the ready set is one `u64` of flags, the seed's design:
//! a wake is one `or`, a pass walks the set bits with `tzcnt` (in cyclic
//! order from a start index, which gives [`select!`] and [`merge`] their
//! fairness), the first poll is one store of all-ones, and every slot is
//! initialised when the state is made. A second word would make each pass
//! scan `N / 64` words, which is no longer O(1) per wake, so above 64
//! children the ready set is a FIFO ring of `u32` indices with a `woken` flag
//! per slot (one push per wake, one pop per poll), and slots are initialised
//! lazily, right before each child's first poll. The cut-over is the word
//! size: the bit set is cheaper wherever it fits (no ring traffic, no
//! per-slot flag), the ring is the cheapest structure that keeps O(1) above
//! it. The `combinators` suite of `hearth-bench` measures both sides
//! (N = 8 and 64 on the bit set, N = 1024 on the ring): see BENCHMARKS.md.
//! [`select!`] is limited to 64 branches and always uses the bit set.
//!
//! # Panics in children and wakers
//!
//! A panic in a child's poll or drop, in an output's drop, or in the task's
//! waker (`clone`, `wake`, `drop`) propagates out of the combinator's poll
//! (or out of the wake or drop that ran it) and leaves nothing undefined:
//! every child and output is dropped exactly once, nothing leaks, no wake is
//! lost (after a poll that unwound, the next poll resumes where it
//! stopped). After a poll that unwound, [`join_all`], [`try_join_all`], [`race`]
//! and [`merge`] are poisoned: polling them again panics with a message
//! saying so, dropping them drops what is left. [`FuturesSet`] drops the
//! future whose poll panicked at its next poll and goes on with the others.
//! `join!`, `try_join!` and `select!` live in an `async` block, which the
//! compiler poisons. `tests/panic_safety.rs` injects panics at every such
//! point.
//!
//! ```
//! use std::cell::Cell;
//! use std::future::poll_fn;
//! use std::task::Poll;
//! use hearth_future::join_all;
//!
//! let polls = Cell::new(0);
//! let out = futures::executor::block_on(join_all((0..4).map(|i| {
//!     let polls = &polls;
//!     let mut first = true;
//!     poll_fn(move |cx| {
//!         polls.set(polls.get() + 1);
//!         if first {
//!             first = false;
//!             cx.waker().wake_by_ref(); // only this child asks again
//!             Poll::Pending
//!         } else {
//!             Poll::Ready(i)
//!         }
//!     })
//! })));
//! assert_eq!(out, [0, 1, 2, 3]);
//! assert_eq!(polls.get(), 8); // two polls per child, none spurious
//! ```
//!
//! # Features
//!
//! - `nightly` (nightly toolchain): std's own unstable `LocalWaker`
//!   (forwards to `hearth-task/nightly`). A local waker set through std's
//!   `ContextBuilder` then selects a combinator's local mode, so an executor
//!   written against std's API (even with a no-op `Waker`) runs the
//!   combinators without atomic operations. Without the feature such an
//!   executor's local waker is invisible here: see hearth-task's docs.

#![cfg_attr(feature = "nightly", feature(local_waker))]
#![cfg_attr(feature = "nightly", doc(test(attr(feature(local_waker)))))]
#![deny(missing_docs)]
#![warn(clippy::undocumented_unsafe_blocks)]

mod atomic_waker;
mod join;
mod maybe_done;
mod merge;
mod poison;
pub(crate) mod raw;
mod select;
mod set;
mod slots;

pub use join::{join_all, try_join_all, JoinAll, TryJoinAll};
pub use merge::{merge, Merge};
pub use set::{race, FuturesSet, Race};

/// The iterators of [`FuturesSet`] and [`Merge`] (the same types for both).
pub mod iter {
    pub use crate::slots::{IntoIter, Iter, IterMut, IterPinMut, IterPinRef};
}

#[doc(hidden)]
pub mod __private {
    pub use core::future::IntoFuture;
    pub use hearth_macros::select_internal;

    pub use crate::join::poll_join;
    pub use crate::maybe_done::{MaybeDone, PollStep, Step, TryMaybeDone};
    pub use crate::raw::WakeSet;
    pub use crate::select::{Branch, Select};
}
