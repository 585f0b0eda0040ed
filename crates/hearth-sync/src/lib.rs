//! Channels, locks and notifications for tasks on one thread, parked on local
//! wakers; plus one channel across threads.
//!
//! A thread-per-core program keeps each task on its thread, so the tasks that
//! share a channel or a lock share a thread too. The primitives here are
//! `!Send` and `!Sync` and take advantage of it: their state lives in `Cell`s
//! and `RefCell`s, a parked task is a [`LocalWaker`](hearth_task::LocalWaker)
//! found with [`ContextExt::local_waker`](hearth_task::ContextExt::local_waker),
//! and nothing takes a lock or performs an atomic read-modify-write. Under a
//! runtime with dual wakers (hearth) parking and waking are plain loads and
//! stores; under any other runtime (`futures::executor`, tokio's `LocalSet`)
//! the local waker is the task's `Waker` and everything still works.
//!
//! | module | what | tokio's |
//! |---|---|---|
//! | [`oneshot`] | one value, one sender, one receiver | `sync::oneshot` |
//! | [`mpsc`] | bounded and unbounded multi-producer queues | `sync::mpsc` |
//! | [`watch`] | one value observed by many | `sync::watch` |
//! | [`Notify`] | wake one or all, with a stored permit | `sync::Notify` |
//! | [`Semaphore`] | FIFO-fair counting semaphore | `sync::Semaphore` |
//! | [`Mutex`], [`RwLock`] | FIFO-fair async locks | `sync::Mutex`, `sync::RwLock` |
//! | [`Barrier`] | `n` tasks meet | `sync::Barrier` |
//! | [`remote`] | MPSC across threads, receiver parks on a `Waker` | `sync::mpsc` |
//!
//! Names and semantics follow `tokio::sync`; each module lists where it
//! differs. Every waiting operation documents whether it is cancel safe.
//! The methods tokio has only to be `Send` (`blocking_*` on the local
//! primitives, `Arc`-based owned guards) are left out or take an `Rc`;
//! [`mpsc::Sender::send_timeout`] sleeps through the [`timer`] hook, which
//! hearth's executor fills.
//!
//! # Guarantees
//!
//! - **Cancellation.** Dropping a waiting future removes it from its wait
//!   list in O(1); a permit, lock or notification already handed to it passes
//!   to the next waiter.
//! - **Closing.** Closing a channel or dropping its last sender or its
//!   receiver wakes every waiter with the matching result; queued values are
//!   dropped exactly once.
//! - **No wake storms.** `notify_one` wakes one task; returning permits wakes
//!   only the waiters whose requests now fit.
//! - **No needless clones.** A waiting future polled again by the same task
//!   keeps its stored waker (`will_wake`).
//! - **Panic safety.** A waker's `wake` or `drop` and a value's `drop` are
//!   user code; a panic there leaves every primitive consistent. The state is
//!   updated before any of it runs, outside every `RefCell` borrow, and a
//!   loop that wakes several waiters (a close, `notify_waiters`, a release
//!   that admits several waiters, a barrier's release) wakes the rest before
//!   the panic goes on; the receiver's drop still drops every queued value.
//!   Later panics during that unwinding are dropped, the first one reaches
//!   the caller. One loss remains, as in tokio: a `recv` whose freed slot
//!   wakes a sender with a panicking waker loses the value it took out.
//!
//! # Cooperative budget
//!
//! An operation that can complete without waiting (a channel with a value
//! queued, a semaphore with permits, a `watch` whose sender is gone) would
//! let a task that loops on it keep its thread forever. So, as in tokio,
//! each one spends a unit of the task's budget
//! ([`hearth_task::coop`]) when it completes, and once the budget is spent it
//! wakes its task and returns `Pending` instead, without touching the
//! primitive. The budget is checked at the start of every poll; a poll that
//! parks gives its unit back. hearth's executor sets the budget (128 units
//! per task poll); under any other executor it is unlimited and nothing
//! yields because of it. Yielding this way keeps every operation's cancel
//! safety.
//!
//! Operations that spend budget:
//!
//! - [`mpsc`] channels: `Receiver::recv`, `recv_many`, `poll_recv` (both
//!   receivers); `Sender::send`, `reserve`, `reserve_many`, `reserve_owned`,
//!   `send_timeout`;
//!   `Sender::closed` and `UnboundedSender::closed`.
//! - [`oneshot`] channels: awaiting the `Receiver`; `Sender::closed`,
//!   `poll_closed`.
//! - [`watch`] channels: `Receiver::changed`, `wait_for`; `Sender::closed`.
//! - [`Semaphore::acquire`], `acquire_many`, `acquire_owned`,
//!   `acquire_many_owned`.
//! - [`Mutex::lock`], `lock_owned`; [`RwLock::read`], `write`, `read_owned`,
//!   `write_owned`.
//! - [`Notify::notified`] (it completes at once on a stored permit or an
//!   earlier `notify_waiters`).
//! - [`Barrier::wait`].
//! - [`remote`] channels: `Receiver::recv`, `poll_recv`; `Sender::send`.
//!
//! Operations that do not: every `try_*` method, `Notified::enable`, the
//! `blocking_*` methods of [`remote`] (they refuse to run on an executor's
//! thread), the synchronous sends
//! (`UnboundedSender::send`, `Permit::send`, `oneshot::Sender::send`,
//! `watch::Sender::send*`) and everything that does not return a future.
//! tokio does not budget `Notify::notified`, `Barrier::wait` or
//! `mpsc::Sender::closed`; here they spend budget too, since each of them can
//! complete without waiting again and again.
//!
//! # How it is checked
//!
//! Behaviour tests per primitive (including drop-while-waiting and
//! close-while-waiting); conformance scenarios that run once against
//! `tokio::sync` and once against this crate; proptest models of the
//! semaphore and the bounded channel; compile-fail tests for the `!Send` /
//! `!Sync` promises; a test that counts zero atomic read-modify-writes for a
//! ping-pong, locks and a oneshot under a dual-waker executor; a loom model of
//! the [`remote`] wake protocol; budget tests for every operation above;
//! panic-injection tests (wakers and values that panic) for every wake loop
//! and close path. All of it also runs under Miri.
//!
//! # Cost
//!
//! Suite `sync` of hearth-bench compares the channels and locks with
//! `tokio::sync`, `local-sync`, `futures::channel`, `async-channel` and
//! `local-channel` on one executor. In short: a ping-pong hop costs about
//! what the executor's task switch costs plus 1–2 ns (the suite shows that
//! floor as a row of its own); a bounded channel moves a message for a third
//! to a half of what the fastest peer needs; the locks beat tokio's by 10–30 %
//! under 1,000 contending tasks, where the executor is again most of the cost.
//!
//! # Example
//!
//! ```
//! use hearth_sync::{mpsc, Mutex};
//!
//! futures::executor::block_on(async {
//!     let total = Mutex::new(0);
//!     let (tx, mut rx) = mpsc::channel(4);
//!     let produce = async move {
//!         for i in 1..=10 {
//!             tx.send(i).await.unwrap();
//!         }
//!     };
//!     let consume = async {
//!         while let Some(i) = rx.recv().await {
//!             *total.lock().await += i;
//!         }
//!     };
//!     futures::join!(produce, consume);
//!     assert_eq!(*total.lock().await, 55);
//! });
//! ```
//!
//! # Features
//!
//! - `nightly` (nightly toolchain): std's own unstable `LocalWaker`
//!   (forwards to `hearth-task/nightly`). The primitives then also park on a
//!   local waker set through std's `ContextBuilder`.

#![cfg_attr(feature = "nightly", feature(local_waker))]
#![cfg_attr(feature = "nightly", doc(test(attr(feature(local_waker)))))]
#![deny(missing_docs)]
#![warn(clippy::undocumented_unsafe_blocks)]

mod barrier;
mod budget;
pub mod mpsc;
mod mutex;
mod notify;
pub mod oneshot;
pub mod remote;
mod rwlock;
mod semaphore;
pub mod timer;
mod unwind;
mod wait_list;
pub mod watch;

pub use barrier::{Barrier, BarrierWait, BarrierWaitResult};
pub use mutex::{
    MappedMutexGuard, Mutex, MutexGuard, OwnedMappedMutexGuard, OwnedMutexGuard, TryLockError,
};
pub use notify::{Notified, Notify};
pub use rwlock::{
    OwnedRwLockMappedWriteGuard, OwnedRwLockReadGuard, OwnedRwLockWriteGuard, RwLock,
    RwLockMappedWriteGuard, RwLockReadGuard, RwLockWriteGuard,
};
pub use semaphore::{
    Acquire, AcquireError, AcquireOwned, OwnedSemaphorePermit, Semaphore, SemaphorePermit,
    TryAcquireError,
};
