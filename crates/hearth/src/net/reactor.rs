//! The I/O reactor: one per executor, created on the executor's first
//! socket, over one of two backends ([`IoDriver`]): a `mio::Poll` (epoll), or
//! an io_uring instance used for readiness ([`super::uring`]). Both report
//! the same edge-triggered readiness, so everything above this module is the
//! same for both.
//!
//! Each registered socket gets a [`ScheduledIo`]: its readiness bits and one
//! [`LocalWakerSlot`] per direction. `epoll_wait` runs only on the owner
//! thread, inside the executor's park, so an event turns into readiness bits
//! and a *local* wake: plain memory operations, no atomics, no lock.
//!
//! Sockets are registered edge-triggered. The I/O pattern (see
//! [`IoSource`](super::source::IoSource)): if the direction's readiness bit is
//! set, try the operation; on `WouldBlock` clear the bit and park the task's
//! local waker in the slot; the next edge sets the bit and wakes it. Readiness
//! only changes on the owner thread between task polls, so no event can slip
//! between a `WouldBlock` and the clear.

use core::cell::{Cell, RefCell};
use std::io;
use std::os::fd::{AsRawFd, OwnedFd};
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use hearth_task::LocalWakerSlot;
use mio::{Events, Interest, Poll, Token};

use crate::driver::IoDriver;

/// The token of the eventfd through which other threads wake the executor.
const WAKER_TOKEN: Token = Token(usize::MAX);

pub(crate) const READABLE: u8 = 1;
pub(crate) const WRITABLE: u8 = 2;
pub(crate) const READ_CLOSED: u8 = 4;
pub(crate) const WRITE_CLOSED: u8 = 8;
pub(crate) const ERROR: u8 = 16;
/// Every bit: what a failed registration reports (the task then tries its
/// operation and gets the real error from it).
#[cfg_attr(not(target_os = "linux"), allow(dead_code))]
pub(crate) const ALL: u8 = READABLE | WRITABLE | READ_CLOSED | WRITE_CLOSED | ERROR;

/// The readiness bits that let a read (accept, recv) proceed.
pub(crate) const READ: u8 = READABLE | READ_CLOSED | ERROR;
/// The readiness bits that let a write (connect, send) proceed.
pub(crate) const WRITE: u8 = WRITABLE | WRITE_CLOSED | ERROR;

/// A registered socket's readiness and waiting tasks; owner thread only.
pub(crate) struct ScheduledIo {
    pub(crate) readiness: Cell<u8>,
    pub(crate) reader: LocalWakerSlot,
    pub(crate) writer: LocalWakerSlot,
}

impl ScheduledIo {
    /// Records readiness and wakes the tasks waiting for it.
    fn set(&self, bits: u8) {
        self.readiness.set(self.readiness.get() | bits);
        if bits & READ != 0 {
            self.reader.wake();
        }
        if bits & WRITE != 0 {
            self.writer.wake();
        }
    }
}

/// mio's event as readiness bits.
fn epoll_bits(event: &mio::event::Event) -> u8 {
    let mut bits = 0;
    if event.is_readable() {
        bits |= READABLE;
    }
    if event.is_writable() {
        bits |= WRITABLE;
    }
    if event.is_read_closed() {
        bits |= READ_CLOSED;
    }
    if event.is_write_closed() {
        bits |= WRITE_CLOSED;
    }
    if event.is_error() {
        bits |= ERROR;
    }
    bits
}

/// How other threads interrupt the reactor's wait (see
/// [`Remote`](crate::executor::remote::Remote)).
pub(crate) enum WakeSignal {
    /// mio's eventfd waker, registered with the epoll instance.
    Epoll(mio::Waker),
    /// An eventfd the ring polls.
    #[cfg(target_os = "linux")]
    Uring(Arc<OwnedFd>),
}

impl WakeSignal {
    /// Interrupts the wait (or makes the next one return at once).
    pub(crate) fn wake(&self) -> io::Result<()> {
        match self {
            WakeSignal::Epoll(waker) => waker.wake(),
            #[cfg(target_os = "linux")]
            WakeSignal::Uring(fd) => super::uring::wake(fd),
        }
    }
}

enum Backend {
    Epoll {
        poll: RefCell<Poll>,
        events: RefCell<Events>,
    },
    /// Boxed: a ring's state is several hundred bytes, and a reactor
    /// reaches it once per wait or registration.
    #[cfg(target_os = "linux")]
    Uring(Box<super::uring::Ring>),
}

/// Owner thread only.
pub(crate) struct Reactor {
    backend: Backend,
    /// Registered sockets by token; a slab with a free list.
    ios: RefCell<Vec<Option<Rc<ScheduledIo>>>>,
    free: RefCell<Vec<usize>>,
}

impl Reactor {
    /// A reactor on `driver` (`Epoll` or `IoUring`, already resolved) and
    /// the signal other threads wake it with.
    pub(crate) fn new(driver: IoDriver) -> io::Result<(Reactor, WakeSignal)> {
        let (backend, signal) = match driver {
            #[cfg(target_os = "linux")]
            IoDriver::IoUring => {
                let (ring, fd) = super::uring::Ring::new()?;
                (Backend::Uring(Box::new(ring)), WakeSignal::Uring(fd))
            }
            _ => {
                let poll = Poll::new()?;
                let waker = mio::Waker::new(poll.registry(), WAKER_TOKEN)?;
                (
                    Backend::Epoll {
                        poll: RefCell::new(poll),
                        events: RefCell::new(Events::with_capacity(1024)),
                    },
                    WakeSignal::Epoll(waker),
                )
            }
        };
        Ok((
            Reactor {
                backend,
                ios: RefCell::new(Vec::new()),
                free: RefCell::new(Vec::new()),
            },
            signal,
        ))
    }

    /// The backend in use: `Epoll` or `IoUring`.
    pub(crate) fn driver(&self) -> IoDriver {
        match self.backend {
            Backend::Epoll { .. } => IoDriver::Epoll,
            #[cfg(target_os = "linux")]
            Backend::Uring(_) => IoDriver::IoUring,
        }
    }

    /// The io_uring backend, if that is the one in use.
    #[cfg(target_os = "linux")]
    pub(crate) fn uring(&self) -> Option<&super::uring::Ring> {
        match &self.backend {
            Backend::Uring(ring) => Some(ring),
            Backend::Epoll { .. } => None,
        }
    }

    /// Registers `source` for both directions; it starts out assumed ready
    /// (the first operation is tried at once; `WouldBlock` arms the wait).
    /// `stream`: a connected stream, whose reads the io_uring backend may
    /// take over (multishot receive); the returned `bool` says whether it
    /// did (see [`super::uring`]).
    pub(crate) fn register(
        &self,
        source: &mut (impl mio::event::Source + AsRawFd),
        stream: bool,
    ) -> io::Result<(usize, Rc<ScheduledIo>, bool)> {
        let sched = Rc::new(ScheduledIo {
            readiness: Cell::new(READABLE | WRITABLE),
            reader: LocalWakerSlot::new(),
            writer: LocalWakerSlot::new(),
        });
        let token = match self.free.borrow_mut().pop() {
            Some(t) => t,
            None => {
                let mut ios = self.ios.borrow_mut();
                ios.push(None);
                ios.len() - 1
            }
        };
        let registered = match &self.backend {
            Backend::Epoll { poll, .. } => poll
                .borrow()
                .registry()
                .register(
                    source,
                    Token(token),
                    Interest::READABLE | Interest::WRITABLE,
                )
                .map(|()| false),
            #[cfg(target_os = "linux")]
            Backend::Uring(ring) => ring.add(token, source.as_raw_fd(), stream),
        };
        let recv = match registered {
            Ok(recv) => recv,
            Err(e) => {
                self.free.borrow_mut().push(token);
                return Err(e);
            }
        };
        #[cfg(not(target_os = "linux"))]
        let _ = stream;
        self.ios.borrow_mut()[token] = Some(sched.clone());
        Ok((token, sched, recv))
    }

    /// Deregisters `source` and frees its token.
    pub(crate) fn deregister(&self, source: &mut impl mio::event::Source, token: usize) {
        match &self.backend {
            // The fd is closed right after; a failure here changes nothing.
            Backend::Epoll { poll, .. } => {
                let _ = poll.borrow().registry().deregister(source);
            }
            #[cfg(target_os = "linux")]
            Backend::Uring(ring) => ring.remove(token),
        }
        let sched = self.ios.borrow_mut()[token].take();
        self.free.borrow_mut().push(token);
        drop(sched);
    }

    /// The epoll (or io_uring) file descriptor: readable while events are
    /// pending, so a host runtime can wait on it (`compat::tokio`).
    #[cfg(feature = "tokio-host")]
    pub(crate) fn as_raw_fd(&self) -> std::os::fd::RawFd {
        match &self.backend {
            Backend::Epoll { poll, .. } => poll.borrow().as_raw_fd(),
            #[cfg(target_os = "linux")]
            Backend::Uring(ring) => ring.as_raw_fd(),
        }
    }

    /// Waits for events up to `timeout` (`None`: forever) and wakes the
    /// tasks they concern. Returns how many events there were (the remote
    /// wakes' eventfd included).
    pub(crate) fn poll(&self, timeout: Option<Duration>) -> usize {
        match &self.backend {
            Backend::Epoll { poll, events } => {
                let mut events = events.borrow_mut();
                if let Err(e) = poll.borrow_mut().poll(&mut events, timeout) {
                    if e.kind() == io::ErrorKind::Interrupted {
                        return 0;
                    }
                    panic!("hearth: epoll_wait failed: {e}");
                }
                let mut n = 0;
                for event in events.iter() {
                    n += 1;
                    if event.token() != WAKER_TOKEN {
                        self.dispatch(event.token().0, epoll_bits(event));
                    }
                }
                n
            }
            #[cfg(target_os = "linux")]
            Backend::Uring(ring) => ring.poll(timeout, |token, bits| self.dispatch(token, bits)),
        }
    }

    /// Hands `bits` to the socket registered under `token`, if any.
    fn dispatch(&self, token: usize, bits: u8) {
        let sched = self.ios.borrow().get(token).cloned().flatten();
        if let Some(sched) = sched {
            sched.set(bits);
        }
    }
}
