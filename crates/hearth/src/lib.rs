//! hearth: a thread-per-core async runtime built on local wakers.
//!
//! Every task's `Waker` is a *dual waker* ([`hearth_task::dual`]): one
//! allocation that hands out a thread-safe `Waker` and a `!Send` local twin.
//! A task woken from its own thread — through `cx.local_waker()`, or through
//! its `Waker` on the owner thread — is scheduled with plain memory
//! operations: no atomic read-modify-write, no lock (a test counts them). A
//! task woken from any other thread still works, always: the wake is queued to
//! the owner through a lock-free queue and the owner is unparked.
//!
//! ```
//! use std::cell::RefCell;
//! use std::rc::Rc;
//!
//! let log = Rc::new(RefCell::new(Vec::new())); // tasks may hold !Send state
//! hearth::block_on(async {
//!     let mut handles = Vec::new();
//!     for i in 0..3 {
//!         let log = log.clone();
//!         handles.push(hearth::spawn_local(async move {
//!             hearth::yield_now().await;
//!             log.borrow_mut().push(i);
//!             i * 10
//!         }));
//!     }
//!     let mut sum = 0;
//!     for h in handles {
//!         sum += h.await.unwrap();
//!     }
//!     assert_eq!(sum, 30);
//! });
//! assert_eq!(*log.borrow(), [0, 1, 2]);
//! ```
//!
//! The crates below are re-exported: [`task`] (local wakers).

#![deny(missing_docs)]
#![warn(clippy::undocumented_unsafe_blocks)]

mod driver;
mod executor;
pub mod net;
pub mod process;
pub mod runtime;
pub mod signal;
mod sync;
pub mod time;

pub use executor::{
    block_on, consume_budget, spawn_local, unconstrained, yield_now, Executor, JoinError,
    JoinHandle,
};

pub use runtime::Runtime;

/// Starts a [`Runtime`] around an `async fn main`; see [`runtime`].
pub use hearth_macros::main;
/// Starts a [`Runtime`] around an `async fn` test.
pub use hearth_macros::test;

/// Local wakers: `LocalWaker`, `ContextExt::local_waker`, dual wakers
/// (the `hearth-task` crate).
pub use hearth_task as task;
