//! Local wakers on stable Rust.
//!
//! Every [`Waker`] must be thread-safe, so executors that never move a task
//! off its thread still pay for atomic reference counts and locks on every
//! wake. This crate provides what std's unstable `local_waker` feature
//! (rust-lang/rust#118959) proposes, on stable Rust and compatible with every
//! existing executor and future:
//!
//! - [`LocalWaker`]: a `!Send + !Sync` waker, and [`LocalWake`] to make one from
//!   an `Rc` (or [`local_waker_fn`] from a closure).
//! - [`ContextExt::local_waker`]: the local waker of any `Context`.
//! - [`ContextBuilder`]: a `Context` with a local waker of your choice.
//! - [`dual`]: wake targets that hand out one thread-safe `Waker` *and* any
//!   number of `LocalWaker`s from one allocation, with biased reference
//!   counting; [`raw`] is the protocol beneath, for runtimes that embed it.
//! - [`LocalWakerSlot`]: where a leaf future parks its task.
//! - [`provide`]: typed values a runtime or a wrapping layer provides to
//!   everything polled under it ([`ContextExt::request_ref`]), carried by
//!   the dual waker instead of a thread-local.
//! - [`coop`]: the cooperative budget that executors set and leaf futures
//!   spend, so an always-ready future cannot starve its thread.
//!
//! # For the author of a leaf future
//!
//! Park on `cx.local_waker()` instead of `cx.waker()` when whatever wakes you
//! runs on the same thread (a single-threaded channel, timer or reactor). Under
//! a runtime that hands out dual wakers (hearth) that costs no atomic
//! operation; under any other runtime `cx.local_waker()` is the `Waker`
//! itself, so the future still works everywhere.
//!
//! ```
//! use std::cell::Cell;
//! use std::future::Future;
//! use std::pin::Pin;
//! use std::task::{Context, Poll};
//! use hearth_task::{ContextExt, LocalWakerSlot};
//!
//! /// A single-threaded one-shot flag.
//! #[derive(Default)]
//! pub struct Flag {
//!     set: Cell<bool>,
//!     waiter: LocalWakerSlot,
//! }
//!
//! impl Flag {
//!     pub fn set(&self) {
//!         self.set.set(true);
//!         self.waiter.wake();
//!     }
//! }
//!
//! impl Future for &Flag {
//!     type Output = ();
//!     fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
//!         if self.set.get() {
//!             Poll::Ready(())
//!         } else {
//!             self.waiter.register(ContextExt::local_waker(cx));
//!             Poll::Pending
//!         }
//!     }
//! }
//!
//! // Works under any executor: here `futures`' block_on with a thread-safe Waker.
//! let flag = Flag::default();
//! futures::executor::block_on(async {
//!     let wait = async { (&flag).await };
//!     let set = async { flag.set() };
//!     futures::join!(wait, set);
//! });
//! ```
//!
//! # For the author of a runtime
//!
//! Give each task a dual waker. Three forms, from the most ready-made:
//!
//! - [`DualTask`](dual::DualTask): your runtime's per-task data and the
//!   future in one allocation, type-erased so one run queue holds every
//!   task, with `poll` and `cancel`; no `unsafe` on your side. Build it on
//!   the executor's thread, or build an [`UnboundTask`](dual::UnboundTask)
//!   anywhere and bind it there before its first poll.
//! - [`DualRc`](dual::DualRc): a dual-waker `Rc` around any wake target.
//! - [`raw::DualHeader`] embedded at the start of your own task allocation;
//!   its docs state the three rules, and `examples/raw_executor.rs` is a
//!   complete executor on it.
//!
//! Poll with [`context_from_waker`]`(&task.waker_ref())` (what
//! [`DualTask::poll`](dual::DualTask::poll) does): leaf futures then find the
//! local twin, and every combinator that passes `cx.waker()` on (or rebuilds
//! a `Context` from it) keeps it. What the local path promises: clone, drop
//! and wake of the twin and the lookup perform no atomic read-modify-write
//! and take no lock (a test counts them). What it costs: the lookup compares
//! the vtable and the owner thread's token, about a nanosecond; the
//! thread-safe `Waker` is the same allocation and costs one atomic operation
//! per clone or drop, only when someone uses it.
//!
//! ```
//! use std::cell::{Cell, RefCell};
//! use std::collections::{HashMap, VecDeque};
//! use std::rc::Rc;
//! use std::sync::atomic::{AtomicBool, Ordering};
//! use std::sync::{Arc, Mutex};
//! use std::task::Waker;
//! use std::thread::{self, Thread};
//! use hearth_task::dual::{DualTask, Schedule};
//!
//! type Queue = Rc<RefCell<VecDeque<DualTask<Sched>>>>;
//!
//! /// The runtime's data in every task.
//! struct Sched {
//!     queue: Queue,
//!     id: u64,
//! }
//!
//! /// What other threads can reach: where their wakes go, and who to unpark.
//! struct Remote {
//!     wakes: Mutex<Vec<Waker>>,
//!     /// Set after a push, so the owner locks `wakes` only when it is set.
//!     pending: AtomicBool,
//!     thread: Thread,
//! }
//!
//! impl Schedule for Sched {
//!     type Shared = Arc<Remote>;
//!     fn schedule(task: &DualTask<Self>) {
//!         task.queue.borrow_mut().push_back(task.clone());
//!     }
//!     fn schedule_remote(remote: &Arc<Remote>, waker: &Waker) {
//!         remote.wakes.lock().unwrap().push(waker.clone());
//!         remote.pending.store(true, Ordering::Release);
//!         remote.thread.unpark();
//!     }
//! }
//!
//! let queue: Queue = Default::default();
//! let remote = Arc::new(Remote {
//!     wakes: Mutex::new(Vec::new()),
//!     pending: AtomicBool::new(false),
//!     thread: thread::current(),
//! });
//! let (tx, rx) = futures::channel::oneshot::channel::<u32>();
//! let done = Rc::new(Cell::new(false));
//! let d = done.clone();
//! let future = async move {
//!     assert_eq!(rx.await, Ok(7)); // woken from another thread
//!     d.set(true);
//! };
//! // The runtime owns every task until it completes: a `Waker` alone does not
//! // keep its task alive. One allocation per task.
//! let task = DualTask::new(future, Sched { queue: queue.clone(), id: 0 }, remote.clone());
//! queue.borrow_mut().push_back(task.clone());
//! let mut live = HashMap::from([(task.id, task)]);
//! thread::spawn(move || tx.send(7).unwrap());
//!
//! while !live.is_empty() {
//!     // Wakes from other threads come back as `Waker`s: woken here, on the
//!     // owner thread, they take the local path and requeue their task.
//!     if remote.pending.swap(false, Ordering::Acquire) {
//!         let wakes = std::mem::take(&mut *remote.wakes.lock().unwrap());
//!         wakes.into_iter().for_each(Waker::wake);
//!     }
//!     let next = queue.borrow_mut().pop_front();
//!     match next {
//!         Some(task) => {
//!             if task.poll().is_ready() {
//!                 live.remove(&task.id);
//!             }
//!         }
//!         // A remote wake unparks us (also if it came before the park).
//!         None if !remote.pending.load(Ordering::Acquire) => thread::park(),
//!         None => {}
//!     }
//! }
//! assert!(done.get());
//! ```
//!
//! # Two methods named `local_waker` (the `nightly` feature)
//!
//! std's unstable `Context::local_waker` is an inherent method, so once
//! `#![feature(local_waker)]` is on, the method-call form `cx.local_waker()`
//! calls std's method, not [`ContextExt::local_waker`] (on stable the trait
//! method is called, with an `unstable_name_collisions` warning). std's
//! method returns the `LocalWaker` its `ContextBuilder` set, or else the
//! `Waker` itself viewed as a local waker: it knows nothing of dual wakers.
//! Code that calls `cx.local_waker()` would then silently lose the twin (an
//! atomic operation per clone and drop instead of none). Therefore:
//!
//! - An executor that polls with dual wakers builds its `Context` with
//!   [`context_from_waker`] (or std's
//!   `ContextBuilder::from_waker(&w).local_waker(hearth_task::raw::local_waker_of(&w))`),
//!   which sets std's field to the twin. Then both forms find the twin.
//!   hearth's executor, [`DualTask::poll`](dual::DualTask::poll) and
//!   hearth-future's children do this.
//! - A foreign executor written against std's API (a no-op or real `Waker`
//!   plus `ContextBuilder::local_waker(&lw)`) needs nothing more under the
//!   `nightly` feature: [`ContextExt::local_waker`] returns what std's builder
//!   set, hearth-sync parks on it and hearth-future's combinators select
//!   their local mode from it. Wakes from other threads go to the `Waker`
//!   only, so a no-op `Waker` suits a runtime without them.
//! - Without the feature, hearth-task cannot read std's field: such an
//!   executor's local waker is invisible, `ContextExt::local_waker` is the
//!   `Waker`, hearth-sync parks on the `Waker`, and hearth-future's
//!   combinators use their thread-safe mode. With a no-op `Waker` nothing is
//!   ever woken (the task hangs); with a real `Waker` everything works, with
//!   atomic operations. Use hearth-task's [`ContextBuilder`] (which works on
//!   stable) or a dual waker instead.
//!
//! The feature must be on for every crate of the build that calls
//! `LocalWaker` methods: with it std's `LocalWaker` is the type, and each such
//! crate needs `#![feature(local_waker)]`. hearth-future, hearth-sync and
//! hearth have a `nightly` feature that forwards here and sets it; enable
//! theirs too (cargo unifies `hearth-task/nightly` for the whole build).
//!
//! # Features
//!
//! - `std` (default): dual wakers, [`ContextBuilder`] and the twin lookup.
//!   They need a thread identity, which `no_std` lacks; without `std`,
//!   `cx.local_waker()` is always the `Waker` viewed as a local waker.
//! - `alloc`: [`LocalWake`] and [`local_waker_fn`].
//! - `nightly` (nightly toolchain): `LocalWaker` and `LocalWake` are std's own
//!   types, [`ContextBuilder`] also sets std's local waker field, and
//!   [`ContextExt::local_waker`] honours a local waker set through std's
//!   builder. The same code and tests work both ways.
//! - `count-atomics`: counts atomic read-modify-write operations (tests only;
//!   see [`atomic`]). It sees only the atomics that go through
//!   [`hearth_task::atomic`](atomic): those of hearth-task, hearth-future,
//!   hearth-sync and hearth. `Arc`, `Mutex`, channels of other crates and
//!   std's own wakers are not counted.

#![no_std]
#![cfg_attr(feature = "nightly", feature(local_waker))]
#![cfg_attr(feature = "nightly", doc(test(attr(feature(local_waker)))))]
#![deny(missing_docs)]
#![warn(clippy::undocumented_unsafe_blocks)]

#[cfg(feature = "alloc")]
extern crate alloc;
#[cfg(any(feature = "std", loom))]
extern crate std;

pub mod atomic;
mod context;
#[cfg(feature = "std")]
pub mod coop;
#[cfg(feature = "std")]
pub mod dual;
#[cfg(feature = "alloc")]
mod local_wake;
#[cfg(not(feature = "nightly"))]
mod local_waker;
#[cfg(feature = "std")]
pub mod provide;
#[cfg(feature = "std")]
pub mod raw;
mod slot;
#[cfg(feature = "std")]
mod thread;

pub use context::ContextExt;
#[cfg(feature = "std")]
pub use context::{context_from_waker, ContextBuilder};
#[cfg(feature = "nightly")]
pub use core::task::LocalWaker;
#[cfg(feature = "alloc")]
pub use local_wake::{local_raw_waker, local_waker_fn, LocalWake};
#[cfg(not(feature = "nightly"))]
pub use local_waker::LocalWaker;
pub use slot::LocalWakerSlot;

use core::task::Waker;

/// Views a thread-safe `Waker` as a `LocalWaker` (always sound: it only removes
/// `Send` and `Sync`).
#[inline]
pub(crate) fn view(waker: &Waker) -> &LocalWaker {
    #[cfg(not(feature = "nightly"))]
    {
        local_waker::as_local(waker)
    }
    #[cfg(feature = "nightly")]
    {
        waker.as_ref()
    }
}
