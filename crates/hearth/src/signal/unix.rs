//! Unix signals: [`signal`] gives a [`Signal`] stream for one
//! [`SignalKind`].
//!
//! See the [module docs](super) for how delivery works and how it differs
//! from tokio's.

use core::fmt;
use core::task::{Context, Poll};
use std::io;
use std::os::raw::c_int;
use std::rc::Rc;

use hearth_task::{ContextExt, LocalWakerSlot};

use super::driver::{Event, SignalDriver};
use crate::executor::coop;

/// A kind of Unix signal (a signal number), for [`signal`].
///
/// ```
/// use hearth::signal::unix::SignalKind;
///
/// assert_eq!(SignalKind::interrupt().as_raw_value(), libc::SIGINT);
/// assert_eq!(SignalKind::from_raw(libc::SIGTERM), SignalKind::terminate());
/// assert_eq!(SignalKind::hangup().to_string(), "SIGHUP");
/// assert_eq!(SignalKind::from_raw(40).to_string(), "signal 40");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct SignalKind(c_int);

impl SignalKind {
    /// The kind of signal number `signum`. Any number is accepted here;
    /// [`signal`] rejects the ones that cannot be listened for.
    pub const fn from_raw(signum: c_int) -> SignalKind {
        SignalKind(signum)
    }

    /// The signal number.
    pub const fn as_raw_value(&self) -> c_int {
        self.0
    }

    /// `SIGALRM`: a timer set with `alarm(2)` expired.
    pub const fn alarm() -> SignalKind {
        SignalKind(libc::SIGALRM)
    }

    /// `SIGCHLD`: a child process stopped or exited.
    pub const fn child() -> SignalKind {
        SignalKind(libc::SIGCHLD)
    }

    /// `SIGHUP`: the terminal went away; daemons often take it as "reload
    /// the configuration".
    pub const fn hangup() -> SignalKind {
        SignalKind(libc::SIGHUP)
    }

    /// `SIGINT`: an interrupt from the keyboard (Ctrl-C).
    pub const fn interrupt() -> SignalKind {
        SignalKind(libc::SIGINT)
    }

    /// `SIGIO`: a descriptor is ready for I/O.
    pub const fn io() -> SignalKind {
        SignalKind(libc::SIGIO)
    }

    /// `SIGPIPE`: a write to a pipe with no reader.
    pub const fn pipe() -> SignalKind {
        SignalKind(libc::SIGPIPE)
    }

    /// `SIGQUIT`: a quit from the keyboard (Ctrl-\\).
    pub const fn quit() -> SignalKind {
        SignalKind(libc::SIGQUIT)
    }

    /// `SIGTERM`: a request to terminate (what `kill` and service managers
    /// send first).
    pub const fn terminate() -> SignalKind {
        SignalKind(libc::SIGTERM)
    }

    /// `SIGUSR1`: for the application's own use.
    pub const fn user_defined1() -> SignalKind {
        SignalKind(libc::SIGUSR1)
    }

    /// `SIGUSR2`: for the application's own use.
    pub const fn user_defined2() -> SignalKind {
        SignalKind(libc::SIGUSR2)
    }

    /// `SIGWINCH`: the terminal window changed size.
    pub const fn window_change() -> SignalKind {
        SignalKind(libc::SIGWINCH)
    }

    fn name(self) -> Option<&'static str> {
        Some(match self.0 {
            libc::SIGALRM => "SIGALRM",
            libc::SIGCHLD => "SIGCHLD",
            libc::SIGHUP => "SIGHUP",
            libc::SIGINT => "SIGINT",
            libc::SIGIO => "SIGIO",
            libc::SIGPIPE => "SIGPIPE",
            libc::SIGQUIT => "SIGQUIT",
            libc::SIGTERM => "SIGTERM",
            libc::SIGUSR1 => "SIGUSR1",
            libc::SIGUSR2 => "SIGUSR2",
            libc::SIGWINCH => "SIGWINCH",
            libc::SIGKILL => "SIGKILL",
            libc::SIGSTOP => "SIGSTOP",
            libc::SIGILL => "SIGILL",
            libc::SIGFPE => "SIGFPE",
            libc::SIGSEGV => "SIGSEGV",
            _ => return None,
        })
    }
}

impl fmt::Display for SignalKind {
    /// The signal's name (`SIGINT`) if it is one of the common ones, else
    /// `signal N`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(name) => f.write_str(name),
            None => write!(f, "signal {}", self.0),
        }
    }
}

impl From<c_int> for SignalKind {
    fn from(signum: c_int) -> SignalKind {
        SignalKind(signum)
    }
}

impl From<SignalKind> for c_int {
    fn from(kind: SignalKind) -> c_int {
        kind.0
    }
}

/// Signal numbers signal-hook can hold (its table has 128 entries).
const MAX_SIGNUM: c_int = 128;

/// Listens for signals of `kind` on the current executor.
///
/// The first listener of a kind in the process installs a handler for it
/// (signal-hook's), which stays installed for the life of the process:
/// from then on the signal's default action (for `SIGINT` and `SIGTERM`:
/// terminating the process) no longer happens, even after every listener is
/// dropped. tokio behaves the same.
///
/// # Errors
///
/// - `InvalidInput` for a number that is not a signal, and for the signals
///   no process can or may handle: `SIGKILL`, `SIGSTOP` (the OS does not
///   let them be caught) and `SIGILL`, `SIGFPE`, `SIGSEGV` (a handler that
///   returns from them is undefined behaviour; signal-hook refuses them).
/// - An error if called outside a hearth executor (there is no reactor to
///   deliver to), or if the OS refuses the handler (e.g. `EINVAL` for a
///   number above `SIGRTMAX`).
///
/// # Examples
///
/// ```
/// # if cfg!(miri) { return; } // Miri cannot run epoll
/// use hearth::signal::unix::{signal, SignalKind};
///
/// hearth::block_on(async {
///     let mut hangups = signal(SignalKind::hangup())?;
///     signal_hook::low_level::raise(libc::SIGHUP)?; // as `kill -HUP <pid>` would
///     hangups.recv().await; // e.g. reload the configuration here
///
///     let err = signal(SignalKind::from_raw(libc::SIGKILL)).unwrap_err();
///     assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
///     std::io::Result::Ok(())
/// })
/// .unwrap();
/// ```
pub fn signal(kind: SignalKind) -> io::Result<Signal> {
    let signum = kind.as_raw_value();
    if signum <= 0 || signum >= MAX_SIGNUM {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("hearth::signal: {signum} is not a signal number"),
        ));
    }
    if signal_hook::consts::FORBIDDEN.contains(&signum) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "hearth::signal: {kind} cannot be listened for: the OS does not let a process \
                 handle SIGKILL and SIGSTOP, and returning from a SIGILL, SIGFPE or SIGSEGV \
                 handler is undefined behaviour"
            ),
        ));
    }
    let driver = SignalDriver::current()?;
    let event = driver.event(signum).map_err(|e| {
        io::Error::new(
            e.kind(),
            format!("hearth::signal: could not install a handler for {kind}: {e}"),
        )
    })?;
    let slot = Rc::new(LocalWakerSlot::new());
    event.subscribe(&slot);
    Ok(Signal {
        seen: event.delivered(),
        driver,
        event,
        slot,
        kind,
    })
}

/// A stream of the signals of one [`SignalKind`], made by [`signal`].
///
/// Every `Signal` hears every delivery of its kind, wherever it was created:
/// several listeners in one task, in different tasks or on different
/// workers each get their own notification. Deliveries that arrive while
/// nobody is in [`recv`](Self::recv) are kept for the next call, but several
/// of them coalesce into one (the OS coalesces pending signals too).
///
/// `!Send`: it belongs to the executor it was created on.
///
/// ```
/// # if cfg!(miri) { return; } // Miri cannot run epoll
/// use hearth::signal::unix::{signal, SignalKind};
///
/// hearth::block_on(async {
///     let mut first = signal(SignalKind::user_defined1())?;
///     let mut second = signal(SignalKind::user_defined1())?;
///     signal_hook::low_level::raise(libc::SIGUSR1)?;
///     assert_eq!(first.recv().await, Some(()));
///     assert_eq!(second.recv().await, Some(())); // both heard it
///     std::io::Result::Ok(())
/// })
/// .unwrap();
/// ```
pub struct Signal {
    driver: Rc<SignalDriver>,
    event: Rc<Event>,
    /// Where the task waiting in `recv` parks its local waker.
    slot: Rc<LocalWakerSlot>,
    /// The event's delivery count when this listener last returned (or was
    /// created).
    seen: u64,
    kind: SignalKind,
}

impl Signal {
    /// Waits for the next signal: `Some(())` when one arrived (now or since
    /// the last call), `None` once no more can arrive (the executor this
    /// listener was created on has ended).
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: a delivery is only consumed when `recv` returns it.
    ///
    /// ```
    /// # if cfg!(miri) { return; } // Miri cannot run epoll
    /// use hearth::signal::unix::{signal, SignalKind};
    ///
    /// hearth::block_on(async {
    ///     let mut usr2 = signal(SignalKind::user_defined2())?;
    ///     for _ in 0..2 {
    ///         signal_hook::low_level::raise(libc::SIGUSR2)?;
    ///         usr2.recv().await;
    ///     }
    ///     std::io::Result::Ok(())
    /// })
    /// .unwrap();
    /// ```
    pub async fn recv(&mut self) -> Option<()> {
        core::future::poll_fn(|cx| self.poll_recv(cx)).await
    }

    /// Polls for the next signal; the `poll_*` form of [`recv`](Self::recv),
    /// for hand-written futures and streams.
    ///
    /// On `Pending`, the task's local waker is woken by the next delivery.
    ///
    /// ```
    /// # if cfg!(miri) { return; } // Miri cannot run epoll
    /// use std::task::Poll;
    /// use hearth::signal::unix::{signal, SignalKind};
    ///
    /// hearth::block_on(async {
    ///     let mut usr1 = signal(SignalKind::user_defined1())?;
    ///     std::future::poll_fn(|cx| {
    ///         assert!(usr1.poll_recv(cx).is_pending()); // nothing yet
    ///         Poll::Ready(())
    ///     })
    ///     .await;
    ///     signal_hook::low_level::raise(libc::SIGUSR1)?;
    ///     std::future::poll_fn(|cx| usr1.poll_recv(cx)).await;
    ///     std::io::Result::Ok(())
    /// })
    /// .unwrap();
    /// ```
    pub fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<Option<()>> {
        let progress = core::task::ready!(coop::poll_proceed(cx));
        let delivered = self.event.delivered();
        if delivered != self.seen {
            self.seen = delivered;
            progress.made_progress();
            return Poll::Ready(Some(()));
        }
        if !self.driver.is_alive() {
            progress.made_progress();
            return Poll::Ready(None);
        }
        self.slot.register(ContextExt::local_waker(cx));
        Poll::Pending
    }
}

impl fmt::Debug for Signal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Signal")
            .field("kind", &self.kind)
            .finish_non_exhaustive()
    }
}
