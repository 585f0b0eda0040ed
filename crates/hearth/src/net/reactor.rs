//! The I/O reactor: one `mio::Poll` (epoll) per executor, created on the
//! executor's first socket.
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
use std::rc::Rc;
use std::time::Duration;

use hearth_task::LocalWakerSlot;
use mio::{Events, Interest, Poll, Token};

/// The token of the eventfd through which other threads wake the executor.
const WAKER_TOKEN: Token = Token(usize::MAX);

pub(crate) const READABLE: u8 = 1;
pub(crate) const WRITABLE: u8 = 2;
pub(crate) const READ_CLOSED: u8 = 4;
pub(crate) const WRITE_CLOSED: u8 = 8;
pub(crate) const ERROR: u8 = 16;

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
    /// Records an event and wakes the tasks waiting for it.
    fn set(&self, event: &mio::event::Event) {
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
        self.readiness.set(self.readiness.get() | bits);
        if bits & READ != 0 {
            self.reader.wake();
        }
        if bits & WRITE != 0 {
            self.writer.wake();
        }
    }
}

/// Owner thread only.
pub(crate) struct Reactor {
    poll: RefCell<Poll>,
    events: RefCell<Events>,
    /// Registered sockets by token; a slab with a free list.
    ios: RefCell<Vec<Option<Rc<ScheduledIo>>>>,
    free: RefCell<Vec<usize>>,
}

impl Reactor {
    /// A reactor and the waker other threads signal it with.
    pub(crate) fn new() -> io::Result<(Reactor, mio::Waker)> {
        let poll = Poll::new()?;
        let waker = mio::Waker::new(poll.registry(), WAKER_TOKEN)?;
        Ok((
            Reactor {
                poll: RefCell::new(poll),
                events: RefCell::new(Events::with_capacity(1024)),
                ios: RefCell::new(Vec::new()),
                free: RefCell::new(Vec::new()),
            },
            waker,
        ))
    }

    /// Registers `source` for both directions; it starts out assumed ready
    /// (the first operation is tried at once; `WouldBlock` arms the wait).
    pub(crate) fn register(
        &self,
        source: &mut impl mio::event::Source,
    ) -> io::Result<(usize, Rc<ScheduledIo>)> {
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
        let registered = self.poll.borrow().registry().register(
            source,
            Token(token),
            Interest::READABLE | Interest::WRITABLE,
        );
        if let Err(e) = registered {
            self.free.borrow_mut().push(token);
            return Err(e);
        }
        self.ios.borrow_mut()[token] = Some(sched.clone());
        Ok((token, sched))
    }

    /// Deregisters `source` and frees its token.
    pub(crate) fn deregister(&self, source: &mut impl mio::event::Source, token: usize) {
        // The fd is closed right after; a failure here changes nothing.
        let _ = self.poll.borrow().registry().deregister(source);
        let sched = self.ios.borrow_mut()[token].take();
        self.free.borrow_mut().push(token);
        drop(sched);
    }

    /// The epoll file descriptor: readable while events are pending, so a
    /// host runtime can wait on it (`compat::tokio`).
    #[cfg(feature = "tokio-host")]
    pub(crate) fn as_raw_fd(&self) -> std::os::fd::RawFd {
        use std::os::fd::AsRawFd;
        self.poll.borrow().as_raw_fd()
    }

    /// Waits for events up to `timeout` (`None`: forever) and wakes the
    /// tasks they concern. Returns how many events there were (the remote
    /// wakes' eventfd included).
    pub(crate) fn poll(&self, timeout: Option<Duration>) -> usize {
        let mut events = self.events.borrow_mut();
        if let Err(e) = self.poll.borrow_mut().poll(&mut events, timeout) {
            if e.kind() == io::ErrorKind::Interrupted {
                return 0;
            }
            panic!("hearth: epoll_wait failed: {e}");
        }
        let mut n = 0;
        for event in events.iter() {
            n += 1;
            if event.token() == WAKER_TOKEN {
                continue;
            }
            let sched = self.ios.borrow().get(event.token().0).cloned().flatten();
            if let Some(sched) = sched {
                sched.set(event);
            }
        }
        n
    }
}
