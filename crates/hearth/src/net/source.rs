//! [`IoSource`]: a mio socket registered with the current executor's reactor.

use core::task::{Context, Poll};
use std::io;
use std::rc::Rc;

use hearth_task::ContextExt;

use super::reactor::{Reactor, ScheduledIo, READ, READABLE, WRITABLE};
use crate::executor::{coop, with_current};

/// A socket registered with the reactor of the executor that created it.
pub(crate) struct IoSource<S: mio::event::Source> {
    io: S,
    reactor: Rc<Reactor>,
    token: usize,
    sched: Rc<ScheduledIo>,
    /// Reads come from the io_uring backend's multishot receive
    /// ([`poll_recv`](Self::poll_recv)).
    ring_recv: bool,
}

fn no_executor() -> io::Error {
    io::Error::other(
        "hearth::net: a socket was created outside of a hearth executor (there is no reactor \
         on this thread); create it inside hearth::block_on, Executor::run_until or a task \
         spawned with spawn_local",
    )
}

fn other_executor() -> io::Error {
    io::Error::other(
        "hearth::net: this socket belongs to another hearth executor (or one that has shut \
         down) and cannot wait here; sockets stay with the executor that created them",
    )
}

impl<S: mio::event::Source + std::os::fd::AsRawFd> IoSource<S> {
    /// Registers `io` with the current executor's reactor (created on first
    /// use).
    pub(crate) fn new(io: S) -> io::Result<Self> {
        Self::register(io, false)
    }

    /// Registers a connected stream: under the io_uring driver its reads
    /// may come from a multishot receive ([`poll_recv`](Self::poll_recv)).
    pub(crate) fn new_stream(io: S) -> io::Result<Self> {
        Self::register(io, true)
    }

    fn register(mut io: S, stream: bool) -> io::Result<Self> {
        let reactor = with_current(|core| core.driver().reactor_or_init(&core.remote).cloned())
            .unwrap_or_else(|| Err(no_executor()))?;
        let (token, sched, ring_recv) = reactor.register(&mut io, stream)?;
        Ok(IoSource {
            io,
            reactor,
            token,
            sched,
            ring_recv,
        })
    }

    /// Whether this task may wait on this socket here: the executor that
    /// runs it is the one whose reactor the socket is registered with.
    fn on_own_executor(&self) -> bool {
        with_current(|core| {
            core.driver()
                .reactor()
                .is_some_and(|r| Rc::ptr_eq(r, &self.reactor))
        }) == Some(true)
    }

    /// A stream read of up to `buf.len()` bytes. In receive mode (io_uring)
    /// the bytes come from what the socket's multishot receive queued;
    /// with nothing queued and no receive in the kernel (the first read, or
    /// after the ring ran out of buffers) the socket is read directly with
    /// `direct`, and on `WouldBlock` a receive is armed. Otherwise this is
    /// [`poll_transfer`](Self::poll_transfer) with `direct`.
    pub(crate) fn poll_recv(
        &self,
        cx: &mut Context<'_>,
        buf: &mut [u8],
        mut direct: impl FnMut(&S, &mut [u8]) -> io::Result<usize>,
    ) -> Poll<io::Result<usize>> {
        // An empty buffer reads nothing at once, as documented (on epoll it
        // used to wait for readiness first), on both drivers alike.
        if buf.is_empty() {
            return Poll::Ready(Ok(0));
        }
        #[cfg(target_os = "linux")]
        if self.ring_recv {
            return self.poll_ring_recv(cx, buf, direct);
        }
        let len = buf.len();
        self.poll_transfer(cx, READ, len, |s| direct(s, buf))
    }

    #[cfg(target_os = "linux")]
    fn poll_ring_recv(
        &self,
        cx: &mut Context<'_>,
        buf: &mut [u8],
        mut direct: impl FnMut(&S, &mut [u8]) -> io::Result<usize>,
    ) -> Poll<io::Result<usize>> {
        use super::uring::RecvRead;
        let progress = core::task::ready!(coop::poll_proceed(cx));
        // As in `poll_transfer`: a deadline or cancel scope that ended
        // fails the read with its own error.
        let deadline = hearth_task::provide::current_deadline(cx);
        if let Some(ended) = deadline.filter(|d| d.is_expired()) {
            return Poll::Ready(Err(crate::task::expiry::io_error(cx, ended)));
        }
        let Some(ring) = self.reactor.uring() else {
            return Poll::Ready(Err(other_executor()));
        };
        let result = match ring.recv_read(self.token, buf) {
            RecvRead::Data(n) => Ok(n),
            RecvRead::Eof => Ok(0),
            RecvRead::Error(e) => Err(e),
            RecvRead::Empty { armed } => {
                if !self.on_own_executor() {
                    return Poll::Ready(Err(other_executor()));
                }
                if !armed {
                    // No receive in the kernel, so reading here cannot
                    // reorder data: take what the socket has.
                    match direct(&self.io, buf) {
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                            if let Err(e) = ring.arm_recv(self.token) {
                                return Poll::Ready(Err(e));
                            }
                        }
                        result => {
                            progress.made_progress();
                            return Poll::Ready(result);
                        }
                    }
                }
                let waker = ContextExt::local_waker(cx);
                self.sched.reader.register(waker);
                if let Some(deadline) = deadline {
                    deadline.register(waker);
                }
                return Poll::Pending;
            }
        };
        progress.made_progress();
        Poll::Ready(result)
    }

    pub(crate) fn get_ref(&self) -> &S {
        &self.io
    }

    /// Runs `op` until it does not return `WouldBlock`, waiting for readiness
    /// in `dir` (`READ` or `WRITE`) in between.
    pub(crate) fn poll_io<R>(
        &self,
        cx: &mut Context<'_>,
        dir: u8,
        mut op: impl FnMut(&S) -> io::Result<R>,
    ) -> Poll<io::Result<R>> {
        let progress = core::task::ready!(coop::poll_proceed(cx));
        // A deadline or cancel scope in scope (hearth::time::deadline,
        // CancellationToken::scope) fails the operation once it ended, and
        // wakes it when it ends.
        let deadline = hearth_task::provide::current_deadline(cx);
        if let Some(ended) = deadline.filter(|d| d.is_expired()) {
            return Poll::Ready(Err(crate::task::expiry::io_error(cx, ended)));
        }
        loop {
            let readiness = self.sched.readiness.get();
            if readiness & dir == 0 {
                if !self.on_own_executor() {
                    return Poll::Ready(Err(other_executor()));
                }
                let slot = if dir == READ {
                    &self.sched.reader
                } else {
                    &self.sched.writer
                };
                let waker = ContextExt::local_waker(cx);
                slot.register(waker);
                if let Some(deadline) = deadline {
                    deadline.register(waker);
                }
                return Poll::Pending;
            }
            match op(&self.io) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    self.sched.readiness.set(readiness & !dir);
                }
                result => {
                    progress.made_progress();
                    return Poll::Ready(result);
                }
            }
        }
    }

    /// [`poll_io`](Self::poll_io) for a stream read or write of up to `len`
    /// bytes. A short transfer (`0 < n < len`) drained the socket's receive
    /// buffer (or filled its send buffer), so the direction's readiness bit
    /// is cleared (not the closed and error bits, which are final): the next
    /// call waits for the next edge (epoll reports every later arrival)
    /// instead of spending a syscall on `WouldBlock`. tokio does the same.
    pub(crate) fn poll_transfer(
        &self,
        cx: &mut Context<'_>,
        dir: u8,
        len: usize,
        op: impl FnMut(&S) -> io::Result<usize>,
    ) -> Poll<io::Result<usize>> {
        let result = self.poll_io(cx, dir, op);
        if let Poll::Ready(Ok(n)) = result {
            if n > 0 && n < len {
                let bit = if dir == READ { READABLE } else { WRITABLE };
                self.sched.readiness.set(self.sched.readiness.get() & !bit);
            }
        }
        result
    }

    /// Runs `op` as [`poll_io`](Self::poll_io) does, as a future.
    pub(crate) async fn io<R>(
        &self,
        dir: u8,
        mut op: impl FnMut(&S) -> io::Result<R>,
    ) -> io::Result<R> {
        core::future::poll_fn(|cx| self.poll_io(cx, dir, &mut op)).await
    }
}

impl<S: mio::event::Source> Drop for IoSource<S> {
    fn drop(&mut self) {
        self.reactor.deregister(&mut self.io, self.token);
    }
}
