//! Signals: [`ctrl_c`] and, in [`unix`], a [`Signal`](unix::Signal) stream
//! for any catchable signal.
//!
//! Names and semantics follow `tokio::signal`. Any executor can listen: a
//! runtime worker, the thread inside [`Runtime::block_on`] (the body of
//! `#[hearth::main]`), a plain [`block_on`]. Every listener hears every
//! delivery of its kind, on whichever thread it lives.
//!
//! # How a signal travels
//!
//! signal-hook installs the process-wide handler; it records the signal and
//! writes a byte to a self-pipe. Each executor that listens has one such pipe,
//! registered with its own reactor (epoll), so a signal turns into an I/O
//! event on every listening thread. There the executor's signal driver
//! drains the pipe and wakes the listeners of that kind with *local* wakes.
//! No thread is spawned, nothing polls in a loop: an idle server waiting for
//! Ctrl-C sleeps in `epoll_wait`.
//!
//! ```no_run
//! #[hearth::main]
//! async fn main() -> std::io::Result<()> {
//!     // ... start serving ...
//!     hearth::signal::ctrl_c().await?;
//!     println!("Ctrl-C: shutting down");
//!     Ok(())
//! }
//! ```
//!
//! For a graceful shutdown on Ctrl-C, see
//! [`Handle::shutdown_graceful`](crate::runtime::Handle::shutdown_graceful).
//!
//! # Differences from tokio
//!
//! - [`Signal`](unix::Signal) is `!Send` (tokio's is `Send`): like hearth's
//!   sockets it belongs to the executor it was created on, and
//!   [`recv`](unix::Signal::recv) returns `None` once that executor has
//!   ended. Create listeners where they are awaited (inside the closure of
//!   `spawn_on`, say).
//! - Creating a listener needs a hearth executor on the thread (tokio: a
//!   runtime with the signal driver enabled); outside one it is an error,
//!   not a panic.
//! - Only Unix: hearth has no Windows support, so there is no `windows`
//!   module.
//!
//! As in tokio, the handler of a signal stays installed once a listener for
//! it was created: the default action (terminating, for `SIGINT` and
//! `SIGTERM`) does not come back when the listeners are dropped.
//!
//! [`Runtime::block_on`]: crate::Runtime::block_on
//! [`block_on`]: crate::block_on

mod driver;
pub mod unix;

use std::io;

/// Completes at the next Ctrl-C (`SIGINT`) received by the process.
///
/// The listener is created when the future is first polled: a Ctrl-C
/// before that is not seen (and, if nothing else listens for `SIGINT`,
/// terminates the process as usual). To be sure to catch one that arrives
/// early, create [`unix::signal(SignalKind::interrupt())`](unix::signal)
/// up front and await its [`recv`](unix::Signal::recv) later.
///
/// Once polled, the handler stays installed for the life of the process
/// (as with tokio): later Ctrl-Cs no longer terminate it by default.
///
/// # Errors
///
/// If the handler cannot be installed, if called outside a hearth executor,
/// or if the executor ends before a Ctrl-C arrives.
///
/// # Examples
///
/// ```
/// # if cfg!(miri) { return; } // Miri cannot run epoll
/// hearth::block_on(async {
///     let mut ctrl_c = std::pin::pin!(hearth::signal::ctrl_c());
///     // Poll it once so it listens, then "press" Ctrl-C.
///     assert!(futures::poll!(ctrl_c.as_mut()).is_pending());
///     signal_hook::low_level::raise(libc::SIGINT)?;
///     ctrl_c.await
/// })
/// .unwrap();
/// ```
pub async fn ctrl_c() -> io::Result<()> {
    let mut interrupts = unix::signal(unix::SignalKind::interrupt())?;
    interrupts.recv().await.ok_or_else(|| {
        io::Error::other(
            "hearth::signal::ctrl_c: the executor it was awaited on ended before a Ctrl-C arrived",
        )
    })
}
