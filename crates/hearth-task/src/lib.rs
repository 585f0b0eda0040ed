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
//! Give each task a dual waker: [`DualRc`](dual::DualRc) ready-made, or
//! [`raw::DualHeader`] embedded at the start of your task allocation. Poll with
//! `Context::from_waker(&task.waker_ref())`: leaf futures then find the local
//! twin, and every combinator that passes `cx.waker()` on (or rebuilds a
//! `Context` from it) keeps it. What the local path promises: clone, drop and
//! wake of the twin and the lookup perform no atomic read-modify-write and take
//! no lock (a test counts them). What it costs: the lookup compares the vtable
//! and the owner thread's token, about a nanosecond; the thread-safe `Waker`
//! is the same allocation and costs one atomic operation per clone or drop,
//! only when someone uses it.
//!
//! ```
//! use std::cell::{Cell, RefCell};
//! use std::collections::VecDeque;
//! use std::future::Future;
//! use std::pin::Pin;
//! use std::rc::Rc;
//! use std::sync::{Arc, Mutex};
//! use std::task::{Context, Waker};
//! use std::thread::{self, Thread};
//! use hearth_task::dual::{DualRc, DualWake};
//!
//! type Queue = Rc<RefCell<VecDeque<DualRc<Task>>>>;
//!
//! struct Task {
//!     future: RefCell<Option<Pin<Box<dyn Future<Output = ()>>>>>,
//!     queue: Queue,
//! }
//!
//! /// What other threads can reach: where their wakes go, and who to unpark.
//! struct Remote {
//!     wakes: Mutex<Vec<Waker>>,
//!     thread: Thread,
//! }
//!
//! impl DualWake for Task {
//!     type Shared = Arc<Remote>;
//!     fn wake_local(this: &DualRc<Self>) {
//!         this.queue.borrow_mut().push_back(this.clone());
//!     }
//!     fn wake_remote(remote: &Arc<Remote>, waker: &Waker) {
//!         remote.wakes.lock().unwrap().push(waker.clone());
//!         remote.thread.unpark();
//!     }
//! }
//!
//! let queue: Queue = Default::default();
//! let remote = Arc::new(Remote { wakes: Mutex::new(Vec::new()), thread: thread::current() });
//! let (tx, rx) = futures::channel::oneshot::channel::<u32>();
//! let done = Rc::new(Cell::new(false));
//! let d = done.clone();
//! let future = async move {
//!     assert_eq!(rx.await, Ok(7)); // woken from another thread
//!     d.set(true);
//! };
//! // The runtime owns every task until it completes: a `Waker` alone does not
//! // keep its target alive (only `DualRc`s and owned twins do).
//! let mut live = vec![DualRc::new(
//!     Task { future: RefCell::new(Some(Box::pin(future))), queue: queue.clone() },
//!     remote.clone(),
//! )];
//! queue.borrow_mut().push_back(live[0].clone());
//! thread::spawn(move || tx.send(7).unwrap());
//!
//! while !live.is_empty() {
//!     // Wakes from other threads come back as `Waker`s: woken here, on the
//!     // owner thread, they take the local path and requeue their task.
//!     let wakes = std::mem::take(&mut *remote.wakes.lock().unwrap());
//!     wakes.into_iter().for_each(Waker::wake);
//!     let next = queue.borrow_mut().pop_front();
//!     let Some(task) = next else {
//!         thread::park(); // a remote wake unparks us (also if it came first)
//!         continue;
//!     };
//!     let waker = task.waker_ref();
//!     let mut cx = Context::from_waker(&waker);
//!     let mut slot = task.future.borrow_mut();
//!     if let Some(fut) = slot.as_mut() {
//!         if fut.as_mut().poll(&mut cx).is_ready() {
//!             *slot = None;
//!             live.retain(|t| !DualRc::ptr_eq(t, &task));
//!         }
//!     }
//! }
//! assert!(done.get());
//! ```
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
//!   see [`atomic`]).

#![no_std]
#![cfg_attr(feature = "nightly", feature(local_waker))]
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

#[cfg(feature = "std")]
pub use context::ContextBuilder;
pub use context::ContextExt;
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
