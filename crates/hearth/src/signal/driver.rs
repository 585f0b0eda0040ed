//! Signal delivery through the reactor: one [`SignalDriver`] per executor
//! that listens for signals.
//!
//! A driver owns a signal-hook self-pipe (signal-hook's `SignalDelivery`
//! over a mio `UnixStream` pair, as `signal_hook_mio` builds it, kept here so
//! the reactor sees the read end's descriptor) registered with its executor's
//! reactor. signal-hook's handler, which runs
//! in signal context, only records the signal and writes a byte to the pipe;
//! everything else happens on the executor's thread:
//!
//! 1. `epoll_wait` reports the pipe readable and wakes the waker parked in the
//!    pipe's reader slot. That waker is the driver itself ([`LocalWake`]), so
//!    the "wake" *is* the delivery: it drains the pipe, bumps the counter of
//!    each [`Event`] (one per signal kind) that arrived, wakes every listener
//!    of those kinds, and parks itself in the slot again.
//! 2. A listener ([`super::unix::Signal`]) completes when its event's counter
//!    has moved past the value it last saw. Signals that arrive between two
//!    `recv`s are kept (as one: they coalesce); a listener created after an
//!    arrival does not see it.
//!
//! Nothing polls in a loop and no task is spawned: an executor with idle
//! listeners sleeps in `epoll_wait` like any other.
//!
//! # Ownership
//!
//! The reactor's slot holds the driver, the driver holds only a `Weak` to the
//! reactor: when the executor ends, its reactor drops the slot and with it
//! the driver (once the last listener is gone too), which unregisters the
//! signal-hook actions and closes the pipe. A thread-local `Weak` finds the
//! driver of the current reactor. Each thread that listens has its own pipe;
//! signal-hook's handler writes to all of them, so every worker's listeners
//! hear every signal.

use core::cell::{Cell, RefCell};
use std::io;
use std::os::raw::c_int;
use std::rc::{Rc, Weak};

use hearth_task::{LocalWake, LocalWaker, LocalWakerSlot};
use signal_hook::iterator::backend::SignalDelivery;
use signal_hook::iterator::exfiltrator::SignalOnly;

/// signal-hook's self-pipe and pending set; the read end is what the reactor
/// watches.
type Signals = SignalDelivery<mio::net::UnixStream, SignalOnly>;

use crate::executor::with_current;
use crate::net::reactor::{Reactor, ScheduledIo};

std::thread_local! {
    /// The driver of the last executor on this thread that listened.
    static CURRENT: RefCell<Weak<SignalDriver>> = const { RefCell::new(Weak::new()) };
}

/// One signal kind as seen by one executor.
pub(crate) struct Event {
    /// Deliveries so far (each drain of the pipe that found this signal).
    delivered: Cell<u64>,
    /// The wakers of this kind's listeners; dead entries are dropped on the
    /// next delivery or subscription.
    listeners: RefCell<Vec<Weak<LocalWakerSlot>>>,
}

impl Event {
    /// The delivery count a new listener starts from.
    pub(crate) fn delivered(&self) -> u64 {
        self.delivered.get()
    }

    /// Adds a listener's waker slot to the ones woken on a delivery.
    pub(crate) fn subscribe(&self, slot: &Rc<LocalWakerSlot>) {
        let mut listeners = self.listeners.borrow_mut();
        listeners.retain(|l| l.strong_count() > 0);
        listeners.push(Rc::downgrade(slot));
    }

    fn deliver(&self) {
        self.delivered.set(self.delivered.get() + 1);
        // Out of the cell while waking, so a waker that subscribes (or drops
        // a listener) cannot find it borrowed.
        let mut listeners = self.listeners.take();
        listeners.retain(|l| match l.upgrade() {
            Some(slot) => {
                slot.wake();
                true
            }
            None => false,
        });
        let mut cell = self.listeners.borrow_mut();
        listeners.append(&mut cell);
        *cell = listeners;
    }
}

/// The signal listeners of one executor; owner thread only.
pub(crate) struct SignalDriver {
    /// The reactor the pipe is registered with; gone when its executor is.
    reactor: Weak<Reactor>,
    token: usize,
    sched: Rc<ScheduledIo>,
    signals: RefCell<Signals>,
    /// One entry per signal number listened for, in first-use order.
    events: RefCell<Vec<(c_int, Rc<Event>)>>,
}

impl SignalDriver {
    /// The driver of the current executor, created on first use.
    pub(crate) fn current() -> io::Result<Rc<SignalDriver>> {
        let reactor = with_current(|core| core.driver().reactor_or_init(&core.remote).cloned())
            .unwrap_or_else(|| {
                Err(io::Error::other(
                    "hearth::signal: listening for a signal needs a hearth executor (there is \
                     no reactor on this thread); call it inside hearth::block_on, a runtime \
                     worker or a task spawned with spawn_local",
                ))
            })?;
        CURRENT.with(|current| {
            if let Some(driver) = current.borrow().upgrade() {
                if driver
                    .reactor
                    .upgrade()
                    .is_some_and(|r| Rc::ptr_eq(&r, &reactor))
                {
                    return Ok(driver);
                }
            }
            let driver = SignalDriver::new(&reactor)?;
            *current.borrow_mut() = Rc::downgrade(&driver);
            Ok(driver)
        })
    }

    fn new(reactor: &Rc<Reactor>) -> io::Result<Rc<SignalDriver>> {
        let (read, write) = mio::net::UnixStream::pair()?;
        let mut signals = Signals::with_pipe(read, write, SignalOnly, [0 as c_int; 0])?;
        let (token, sched, _) = reactor.register(signals.get_read_mut(), false)?;
        let driver = Rc::new(SignalDriver {
            reactor: Rc::downgrade(reactor),
            token,
            sched,
            signals: RefCell::new(signals),
            events: RefCell::new(Vec::new()),
        });
        // Armed before any signal is added: nothing can be missed.
        driver
            .sched
            .reader
            .register(&LocalWaker::from(driver.clone()));
        Ok(driver)
    }

    /// The event of `signum`, installing signal-hook's handler for it on
    /// first use. `signum` must be valid for signal-hook (not forbidden, in
    /// range): [`super::unix::signal`] checks that first.
    pub(crate) fn event(&self, signum: c_int) -> io::Result<Rc<Event>> {
        if let Some((_, event)) = self.events.borrow().iter().find(|(s, _)| *s == signum) {
            return Ok(event.clone());
        }
        self.signals.borrow().handle().add_signal(signum)?;
        let event = Rc::new(Event {
            delivered: Cell::new(0),
            listeners: RefCell::new(Vec::new()),
        });
        self.events.borrow_mut().push((signum, event.clone()));
        Ok(event)
    }

    /// `false` once the executor this driver belongs to has ended: no
    /// signal will be delivered any more.
    pub(crate) fn is_alive(&self) -> bool {
        self.reactor.strong_count() > 0
    }

    /// Drains the pipe and delivers what arrived.
    fn dispatch(&self) {
        let pending = self.signals.borrow_mut().pending();
        for signum in pending {
            let event = self
                .events
                .borrow()
                .iter()
                .find(|(s, _)| *s == signum)
                .map(|(_, e)| e.clone());
            if let Some(event) = event {
                event.deliver();
            }
        }
    }
}

impl LocalWake for SignalDriver {
    /// The pipe is readable: deliver, then wait for the next edge.
    fn wake(self: Rc<Self>) {
        self.dispatch();
        // The pipe is empty now (edge-triggered: a later byte is a new
        // edge), so parking again here cannot miss a signal.
        self.sched.reader.register(&LocalWaker::from(self.clone()));
    }
}

impl Drop for SignalDriver {
    fn drop(&mut self) {
        // Only while the reactor lives (it is what held us until now).
        if let Some(reactor) = self.reactor.upgrade() {
            reactor.deregister(self.signals.get_mut().get_read_mut(), self.token);
        }
    }
}
