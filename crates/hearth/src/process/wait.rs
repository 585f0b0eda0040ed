//! Waiting for a child's exit without blocking a thread.
//!
//! [`ExitWaiter`] learns *when* to look; `std::process::Child::try_wait`
//! (`waitpid` with `WNOHANG`) is always what reaps the child and reads its
//! status, so the status is std's and the child is reaped exactly once.
//!
//! - **pidfd** (Linux 5.3 and later): `pidfd_open(2)` gives a descriptor
//!   that turns readable when the process exits; it is registered with the
//!   executor's reactor like a socket. We hold the unreaped child, so its
//!   pid cannot be reused before we open the descriptor.
//! - **SIGCHLD** otherwise (an older kernel, or `pidfd_open` refused by a
//!   seccomp filter): a [`Signal`] listener for `SIGCHLD`, created before
//!   the first `try_wait`, so an exit between the two is not missed. Every
//!   SIGCHLD wakes every waiting child of the executor; each looks with
//!   `try_wait` (SIGCHLDs coalesce, so one may stand for several exits).
//!
//! [`reap_in_background`] takes children dropped before they were reaped.

use core::task::{Context, Poll};
use std::io;
use std::process::ExitStatus;

use crate::net::reactor::READ;
use crate::net::source::IoSource;
use crate::signal::unix::{signal, Signal, SignalKind};

/// How a [`Child`](super::Child) learns that its process has exited.
pub(super) enum ExitWaiter {
    #[cfg(target_os = "linux")]
    PidFd(IoSource<PidFd>),
    Sigchld(Signal),
}

impl ExitWaiter {
    /// A waiter for the child `pid`, on the current executor.
    pub(super) fn new(pid: u32) -> io::Result<ExitWaiter> {
        #[cfg(target_os = "linux")]
        if let Some(pidfd) = PidFd::open(pid) {
            return Ok(ExitWaiter::PidFd(IoSource::new(pidfd)?));
        }
        #[cfg(not(target_os = "linux"))]
        let _ = pid;
        Self::sigchld()
    }

    /// A waiter on SIGCHLD, whatever the kernel offers.
    pub(super) fn sigchld() -> io::Result<ExitWaiter> {
        Ok(ExitWaiter::Sigchld(signal(SignalKind::child())?))
    }

    /// `Ready` with the status once `child` has exited (and is reaped).
    pub(super) fn poll_exit(
        &mut self,
        cx: &mut Context<'_>,
        child: &mut std::process::Child,
    ) -> Poll<io::Result<ExitStatus>> {
        match self {
            #[cfg(target_os = "linux")]
            ExitWaiter::PidFd(pidfd) => pidfd.poll_io(cx, READ, |_| match child.try_wait()? {
                Some(status) => Ok(status),
                None => Err(io::ErrorKind::WouldBlock.into()),
            }),
            ExitWaiter::Sigchld(sigchld) => loop {
                if let Some(status) = child.try_wait()? {
                    return Poll::Ready(Ok(status));
                }
                if core::task::ready!(sigchld.poll_recv(cx)).is_none() {
                    return Poll::Ready(Err(io::Error::other(
                        "hearth::process: the executor this child was waited on has ended; \
                         wait for a child on the executor that spawned it",
                    )));
                }
            },
        }
    }
}

/// A pidfd: readable once its process has exited.
#[cfg(target_os = "linux")]
pub(super) struct PidFd(std::os::fd::OwnedFd);

#[cfg(target_os = "linux")]
impl PidFd {
    /// `pidfd_open(pid)`, or `None` where the kernel does not offer it (or
    /// forbids it): the caller falls back to SIGCHLD.
    fn open(pid: u32) -> Option<PidFd> {
        use std::os::fd::FromRawFd;

        let pid = libc::pid_t::try_from(pid).ok()?;
        // SAFETY: pidfd_open(2) takes a pid and a flags word and touches no
        // memory of ours; it returns a new descriptor or -1.
        let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
        let fd = libc::c_int::try_from(fd).ok().filter(|&fd| fd >= 0)?;
        // SAFETY: `fd` was just returned by pidfd_open, is open, and is
        // owned by nothing else.
        Some(PidFd(unsafe { std::os::fd::OwnedFd::from_raw_fd(fd) }))
    }
}

#[cfg(target_os = "linux")]
impl std::os::fd::AsRawFd for PidFd {
    fn as_raw_fd(&self) -> std::os::fd::RawFd {
        std::os::fd::AsRawFd::as_raw_fd(&self.0)
    }
}

#[cfg(target_os = "linux")]
impl mio::event::Source for PidFd {
    fn register(
        &mut self,
        registry: &mio::Registry,
        token: mio::Token,
        interests: mio::Interest,
    ) -> io::Result<()> {
        use std::os::fd::AsRawFd;
        mio::unix::SourceFd(&self.0.as_raw_fd()).register(registry, token, interests)
    }

    fn reregister(
        &mut self,
        registry: &mio::Registry,
        token: mio::Token,
        interests: mio::Interest,
    ) -> io::Result<()> {
        use std::os::fd::AsRawFd;
        mio::unix::SourceFd(&self.0.as_raw_fd()).reregister(registry, token, interests)
    }

    fn deregister(&mut self, registry: &mio::Registry) -> io::Result<()> {
        use std::os::fd::AsRawFd;
        mio::unix::SourceFd(&self.0.as_raw_fd()).deregister(registry)
    }
}

/// Reaps `child`, dropped while still running, on a small thread of its
/// own, so it does not linger as a zombie. The thread blocks in `waitpid`
/// until the child exits (at once after a kill).
pub(super) fn reap_in_background(mut child: std::process::Child) {
    if let Ok(Some(_)) = child.try_wait() {
        return;
    }
    // If no thread can be started, the child stays a zombie until this
    // process exits: not worth a panic in a destructor.
    let _ = std::thread::Builder::new()
        .name("hearth-reaper".into())
        .stack_size(64 * 1024)
        .spawn(move || {
            let _ = child.wait();
        });
}
