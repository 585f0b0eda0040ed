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
//! # What is where
//!
//! One dependency, `hearth`, gives the whole stack; the sibling crates are
//! re-exported, so their items are `hearth::future::..`, `hearth::sync::..`
//! and `hearth::task::..`.
//!
//! | module | what it holds | tokio's |
//! |---|---|---|
//! | crate root | [`block_on`], [`spawn_local`], [`JoinHandle`], [`yield_now`], [`main`], [`test`] | `tokio::{task, main, test}` |
//! | [`runtime`] | the multi-core [`Runtime`], `Handle`, `spawn_on`, `spawn_blocking` | `tokio::runtime` |
//! | [`net`] | TCP, UDP and Unix sockets, [`net::lookup_host`] | `tokio::net` |
//! | [`fs`] | files and directories, on the blocking pool | `tokio::fs` |
//! | [`time`] | `sleep`, `timeout`, `interval` on a timer wheel; a paused clock for tests (`test-util`) | `tokio::time` |
//! | [`future`] | [`join!`], [`try_join!`], [`select!`], `join_all`, `race`, `FuturesSet` | `tokio::{join, try_join, select}`, `futures::future` |
//! | [`sync`] | `!Send` channels and locks (`mpsc`, `oneshot`, `watch`, `Mutex`, `Semaphore`, ...) | `tokio::sync` |
//! | [`task`] | [`task::JoinSet`], `spawn_local` and its handles; local wakers: `LocalWaker`, `ContextExt::local_waker`, dual wakers | `tokio::task` |
//! | [`task::CancellationToken`] | cancellation tokens, and cancel scopes that carry one through the context to every socket and wait inside | `tokio_util::sync::CancellationToken` |
//!
//! ```
//! use hearth::sync::{mpsc, Mutex};
//!
//! hearth::block_on(async {
//!     let (tx, mut rx) = mpsc::channel(4);
//!     let total = Mutex::new(0);
//!     let produce = async move {
//!         for i in 1..=3 {
//!             tx.send(i).await.unwrap();
//!         }
//!     };
//!     let consume = async {
//!         while let Some(i) = rx.recv().await {
//!             *total.lock().await += i;
//!         }
//!     };
//!     hearth::join!(produce, consume);
//!     let first = hearth::select! {
//!         v = std::future::pending::<u32>() => v,
//!         v = async { *total.lock().await } => v,
//!     };
//!     assert_eq!(first, 6);
//! });
//! ```
//!
//! # Features
//!
//! - `tokio-io`: tokio's `AsyncRead`/`AsyncWrite` (and `AsyncSeek` for
//!   [`fs::File`]) for hearth's streams and files, next to the futures-io
//!   traits they always implement; hyper 1.x runs on them through
//!   hyper-util's `TokioIo`. Without it, a call that needs them fails to
//!   compile with "the trait bound `TcpStream: tokio::io::AsyncRead` is not
//!   satisfied" (or a hint about `futures_io::AsyncRead`): add
//!   `features = ["tokio-io"]` to the `hearth` dependency. Each type lists
//!   the traits it implements; on docs.rs the tokio ones are marked
//!   "Available on crate feature `tokio-io` only".
//! - `nightly` (nightly toolchain): std's own unstable `LocalWaker` in
//!   hearth, hearth-task, hearth-future and hearth-sync. The executor then
//!   also sets std's local-waker field of every task's `Context` to the
//!   task's twin, so std's inherent `cx.local_waker()` finds it as well (see
//!   hearth-task's docs, "Two methods named `local_waker`").
//! - `test-util`: a paused, controllable clock for tests:
//!   `time::pause`, `time::advance`, `time::resume`, auto-advance,
//!   `runtime::Builder::start_paused` and
//!   `#[hearth::test(start_paused = true)]` (tokio's `test-util`).

#![cfg_attr(feature = "nightly", feature(local_waker))]
#![cfg_attr(feature = "nightly", doc(test(attr(feature(local_waker)))))]
#![deny(missing_docs)]
#![warn(clippy::undocumented_unsafe_blocks)]
#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod compat;
mod driver;
mod executor;
pub mod fs;
pub mod net;
pub mod process;
pub mod runtime;
pub mod signal;
mod sync_shim;
mod sync_timer;
pub mod task;
pub mod time;

pub use executor::{
    block_on, consume_budget, spawn_local, unconstrained, yield_now, Executor, ExecutorMetrics,
    JoinError, JoinHandle,
};

pub use runtime::Runtime;

/// Starts a [`Runtime`] around an `async fn main`; see [`runtime`].
pub use hearth_macros::main;
/// Starts a [`Runtime`] around an `async fn` test.
pub use hearth_macros::test;

/// Precise future combinators: [`join!`], [`try_join!`], [`select!`],
/// `join_all`, `race`, `FuturesSet`, `merge` (the `hearth-future` crate).
#[doc(inline)]
pub use hearth_future as future;

/// `!Send` channels, locks and notifications for the tasks of one thread,
/// and a channel across threads (the `hearth-sync` crate).
#[doc(inline)]
pub use hearth_sync as sync;

pub use hearth_future::{join, select, try_join};

// The README's examples (the quickstart included) compile as doctests of
// this crate, so they stay true.
#[cfg(doctest)]
#[doc = include_str!("../../../README.md")]
struct ReadmeDoctests;
