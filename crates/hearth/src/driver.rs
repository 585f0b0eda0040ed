//! The executor's driver: its timers, its I/O reactor, and how it sleeps.
//!
//! Both parts are created on first use, so an executor that never sets a
//! timer or opens a socket pays nothing for them (no allocation, no epoll or
//! eventfd file descriptor) and never touches mio — which also keeps the
//! executor runnable under Miri, which cannot model epoll.
//!
//! # Sleeping
//!
//! With nothing to run the executor calls [`Driver::park`], which blocks until
//! the next timer is due, an I/O event arrives or another thread wakes a task:
//!
//! - with a reactor: in `epoll_wait` (`mio::Poll::poll`) or `io_uring_enter`
//!   (see [`IoDriver`]), with the time to the next timer as timeout; other
//!   threads interrupt it through the reactor's eventfd;
//! - without one: in `thread::park_timeout` (`park` with no timer), and other
//!   threads call `Thread::unpark`.
//!
//! [`Remote`] decides which signal a remote wake sends and makes sure none is
//! lost (see there). Under `cfg(loom)` there is no reactor: loom cannot model
//! epoll, so the models check the same protocol over thread park/unpark.
//!
//! # The clock
//!
//! Timers read the executor's one [`Clock`] through [`Driver::now`]. Without
//! the `test-util` feature it is `std::time::Instant::now()` and nothing
//! else. With it, a paused clock ([`crate::time::pause`]) changes how the
//! executor sleeps: with nothing to run, no remote wake pending and a timer
//! due later, it first takes ready I/O events without blocking, and only if
//! there were none it moves the clock to the next timer slot instead of
//! waiting (*auto-advance*, as tokio's `test-util` does). A runnable task, a
//! pending remote wake or a ready I/O event (a socket with data, a signal, a
//! remote wake's eventfd) always runs first; with no timer at all it blocks
//! as usual.
//!
//! # A busy executor
//!
//! An executor that always has tasks to run never parks; every
//! [`MAINTAIN_INTERVAL`] task polls it looks at its timers and polls the
//! reactor without blocking (tokio's `event_interval` is the same idea).

use core::cell::{Cell, OnceCell};
use core::fmt;
use std::io;
use std::rc::Rc;
use std::time::Duration;

use crate::executor::remote::Remote;
use crate::net::reactor::Reactor;
use crate::time::clock::Clock;
use crate::time::driver::TimeDriver;

/// Task polls between two non-blocking looks at timers and I/O while busy.
const MAINTAIN_INTERVAL: u32 = 61;

/// The environment variable that picks the I/O driver when the code asks
/// for [`IoDriver::Auto`]: `epoll`, `uring` (or `io_uring`) or `auto`.
pub const DRIVER_ENV: &str = "HEARTH_DRIVER";

/// Which kernel interface an executor's I/O reactor uses.
///
/// Both report readiness the same way (edge-triggered, both directions per
/// socket), so every socket type, the `futures-io` and tokio I/O traits and
/// hyper work the same on either; what differs is the number of system
/// calls (see the crate's DESIGN.md, "The io_uring driver").
///
/// - [`Epoll`](Self::Epoll): `epoll` through mio. Always available on Linux;
///   the only choice under Miri and for an executor hosted on tokio
///   ([`compat::tokio`](crate::compat::tokio), whose reactor watches
///   hearth's epoll descriptor).
/// - [`IoUring`](Self::IoUring): io_uring (Linux 5.13 or later): a multishot
///   poll per socket, registrations batched into the wait, one
///   `io_uring_enter` per sleep, no system call for a look at I/O while busy.
///   On Linux 6.0 and later a TCP or Unix stream's reads come from a
///   multishot receive into buffers the ring owns (no `recv` call per read;
///   `HEARTH_URING_RECV=0` turns that off). `HEARTH_URING_DEFER=1` builds
///   the ring with `IORING_SETUP_DEFER_TASKRUN` where the kernel has it
///   (6.1), so its completion work runs only inside hearth's own
///   `io_uring_enter` (see DESIGN.md for why it is not the default).
/// - [`Auto`](Self::Auto) (the default): the [`DRIVER_ENV`] environment
///   variable (`HEARTH_DRIVER=epoll|uring|auto`) if it is set, else io_uring
///   when the kernel allows it (`io_uring_setup` may be refused, e.g. by a
///   seccomp profile or `kernel.io_uring_disabled`) and epoll otherwise.
///
/// An explicit choice wins over the environment variable. Choosing
/// `IoUring` (by code or by `HEARTH_DRIVER=uring`) where io_uring is not
/// available is an error, never a silent fallback: [`Builder::build`]
/// (`crate::runtime::Builder::build`) and [`Executor::with_io_driver`]
/// (`crate::Executor::with_io_driver`) report it.
///
/// ```
/// use hearth::runtime::IoDriver;
///
/// let rt = hearth::Runtime::builder().workers(1).io_driver(IoDriver::Epoll).build()?;
/// assert_eq!(rt.io_driver(), IoDriver::Epoll);
/// // `Auto` resolves to a concrete driver when the runtime is built.
/// let rt = hearth::Runtime::builder().workers(1).build()?;
/// assert_ne!(rt.io_driver(), IoDriver::Auto);
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum IoDriver {
    /// [`DRIVER_ENV`] if set, else io_uring where available, else epoll.
    #[default]
    Auto,
    /// epoll (through mio).
    Epoll,
    /// io_uring.
    IoUring,
}

impl fmt::Display for IoDriver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            IoDriver::Auto => "auto",
            IoDriver::Epoll => "epoll",
            IoDriver::IoUring => "io_uring",
        })
    }
}

impl IoDriver {
    /// The concrete driver (`Epoll` or `IoUring`) this choice means on this
    /// machine now; see the [type docs](Self).
    ///
    /// # Errors
    ///
    /// `IoUring` (asked for by code or by `HEARTH_DRIVER`) where io_uring is
    /// not available, with the kernel's reason; an unknown `HEARTH_DRIVER`
    /// value.
    ///
    /// ```
    /// use hearth::runtime::IoDriver;
    ///
    /// assert_eq!(IoDriver::Epoll.resolve()?, IoDriver::Epoll);
    /// assert_ne!(IoDriver::Auto.resolve()?, IoDriver::Auto);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn resolve(self) -> io::Result<IoDriver> {
        match self {
            IoDriver::Epoll => Ok(IoDriver::Epoll),
            IoDriver::IoUring => match uring_unsupported() {
                None => Ok(IoDriver::IoUring),
                Some(e) => Err(e),
            },
            IoDriver::Auto => match std::env::var(DRIVER_ENV) {
                Ok(v) => match v.to_ascii_lowercase().as_str() {
                    "epoll" => Ok(IoDriver::Epoll),
                    "uring" | "io_uring" | "iouring" => IoDriver::IoUring
                        .resolve()
                        .map_err(|e| io::Error::new(e.kind(), format!("{DRIVER_ENV}={v}: {e}"))),
                    "" | "auto" => Ok(auto()),
                    _ => Err(io::Error::new(
                        io::ErrorKind::InvalidInput,
                        format!(
                            "hearth: {DRIVER_ENV}={v:?} is not a driver; use epoll, uring or auto"
                        ),
                    )),
                },
                Err(_) => Ok(auto()),
            },
        }
    }
}

/// `Auto` without the environment variable.
fn auto() -> IoDriver {
    if uring_unsupported().is_none() {
        IoDriver::IoUring
    } else {
        IoDriver::Epoll
    }
}

/// Why io_uring cannot be used here, or `None`.
fn uring_unsupported() -> Option<io::Error> {
    if cfg!(miri) {
        return Some(io::Error::new(
            io::ErrorKind::Unsupported,
            "hearth: io_uring is not available under Miri (it cannot model io_uring); use epoll",
        ));
    }
    #[cfg(all(target_os = "linux", not(loom)))]
    {
        crate::net::uring::unsupported()
    }
    #[cfg(not(all(target_os = "linux", not(loom))))]
    Some(io::Error::new(
        io::ErrorKind::Unsupported,
        "hearth: io_uring is only available on Linux",
    ))
}

/// Owner thread only.
pub(crate) struct Driver {
    /// What every timer of this executor reads (zero-sized without
    /// `test-util`).
    clock: Clock,
    time: OnceCell<Rc<TimeDriver>>,
    io: OnceCell<Rc<Reactor>>,
    /// The I/O driver the reactor will use; resolved (`Epoll` or `IoUring`)
    /// unless the executor was made with `Auto`, which is resolved when the
    /// reactor is created.
    io_driver: Cell<IoDriver>,
    /// Task polls since the last look at timers and I/O.
    polls: Cell<u32>,
    /// Hosted on another runtime, which watches the reactor's descriptor and
    /// says when it has events: a busy executor then looks only at its
    /// timers between task polls (no `epoll_wait` every few polls).
    #[cfg(feature = "tokio-host")]
    hosted: Cell<bool>,
}

impl Driver {
    pub(crate) fn new(io_driver: IoDriver) -> Driver {
        Driver {
            clock: Clock::new(),
            time: OnceCell::new(),
            io: OnceCell::new(),
            io_driver: Cell::new(io_driver),
            polls: Cell::new(0),
            #[cfg(feature = "tokio-host")]
            hosted: Cell::new(false),
        }
    }

    /// The executor's clock.
    #[cfg(feature = "test-util")]
    pub(crate) fn clock(&self) -> &Clock {
        &self.clock
    }

    /// The executor's time: what timers and `hearth::time::Instant::now`
    /// read on this executor.
    #[cfg(feature = "test-util")]
    #[inline]
    pub(crate) fn now(&self) -> std::time::Instant {
        self.clock.now()
    }

    /// The timer wheel, created on first use.
    pub(crate) fn time(&self) -> &Rc<TimeDriver> {
        self.time
            .get_or_init(|| Rc::new(TimeDriver::new(self.clock.now())))
    }

    /// Fires the timers due at the clock's reading (after it was moved).
    #[cfg(feature = "test-util")]
    pub(crate) fn fire_due_timers(&self) {
        if let Some(time) = self.time.get() {
            time.process(self.clock.now());
        }
    }

    /// The reactor, if one was created.
    pub(crate) fn reactor(&self) -> Option<&Rc<Reactor>> {
        self.io.get()
    }

    /// The reactor, created on first use; from then on remote wakes signal
    /// its eventfd instead of unparking the thread.
    pub(crate) fn reactor_or_init(&self, remote: &Remote) -> io::Result<&Rc<Reactor>> {
        if let Some(reactor) = self.io.get() {
            return Ok(reactor);
        }
        #[cfg(loom)]
        {
            let _ = remote;
            Err(io::Error::other("hearth: I/O is not modelled under loom"))
        }
        #[cfg(not(loom))]
        {
            let driver = self.io_driver.get().resolve()?;
            self.io_driver.set(driver);
            let (reactor, waker) = Reactor::new(driver)?;
            let reactor = self.io.get_or_init(|| Rc::new(reactor));
            remote.use_reactor(waker);
            Ok(reactor)
        }
    }

    /// The I/O driver: the reactor's if it exists, else what it will be
    /// created with (possibly `Auto`).
    pub(crate) fn io_driver(&self) -> IoDriver {
        match self.io.get() {
            Some(reactor) => reactor.driver(),
            None => self.io_driver.get(),
        }
    }

    /// Hosted mode: the reactor (not created yet) will use epoll, whose
    /// descriptor the host can watch whatever is queued on our side.
    #[cfg(feature = "tokio-host")]
    pub(crate) fn use_epoll(&self) {
        self.io_driver.set(IoDriver::Epoll);
    }

    /// Time until the next timer is due, if any (hosted mode: the host
    /// sleeps that long).
    #[cfg(feature = "tokio-host")]
    /// A paused clock moves only by `advance` here: the host's own tasks
    /// are invisible to hearth, so it never auto-advances, and the host
    /// waits for wakes only.
    pub(crate) fn next_timeout(&self) -> Option<Duration> {
        #[cfg(feature = "test-util")]
        if self.clock.is_paused() {
            return None;
        }
        self.time
            .get()
            .and_then(|t| t.next_timeout(self.clock.now()))
    }

    /// Called after `polled` task polls of a busy executor.
    #[inline]
    pub(crate) fn maintain(&self, polled: usize) {
        if self.time.get().is_none() && self.io.get().is_none() {
            return;
        }
        let polls = self.polls.get().saturating_add(polled as u32);
        if polls < MAINTAIN_INTERVAL {
            self.polls.set(polls);
            return;
        }
        #[cfg(feature = "tokio-host")]
        if self.hosted.get() {
            self.polls.set(0);
            if let Some(time) = self.time.get() {
                time.process(self.clock.now());
            }
            return;
        }
        self.poll_now();
    }

    /// From now on the host watches the reactor (see `hosted`).
    #[cfg(feature = "tokio-host")]
    pub(crate) fn set_hosted(&self) {
        self.hosted.set(true);
    }

    /// Fires due timers and takes ready I/O events, without blocking.
    pub(crate) fn poll_now(&self) {
        self.polls.set(0);
        if let Some(reactor) = self.io.get() {
            reactor.poll(Some(Duration::ZERO));
        }
        if let Some(time) = self.time.get() {
            time.process(self.clock.now());
        }
    }

    /// Blocks until a timer is due, an I/O event arrives or a remote wake
    /// comes (returns at once if one is pending), then fires due timers.
    pub(crate) fn park(&self, remote: &Remote) {
        self.polls.set(0);
        let mut timeout = self
            .time
            .get()
            .and_then(|t| t.next_timeout(self.clock.now()));
        if !remote.prepare_park() {
            timeout = Some(Duration::ZERO);
        }
        #[cfg(feature = "test-util")]
        if let Some(wait) = timeout.filter(|t| !t.is_zero()) {
            if self.clock.is_paused() {
                self.auto_advance(wait);
                return;
            }
        }
        if let Some(reactor) = self.io.get() {
            reactor.poll(timeout);
        } else {
            match timeout {
                None => crate::sync_shim::park(),
                Some(Duration::ZERO) => {}
                #[cfg(not(loom))]
                Some(t) => std::thread::park_timeout(t),
                // loom has no timed park (and models no timers): just yield.
                #[cfg(loom)]
                Some(_) => loom::thread::yield_now(),
            }
        }
        if let Some(time) = self.time.get() {
            time.process(self.clock.now());
        }
    }

    /// The paused clock's park (see the module docs): ready I/O events
    /// first; only if there were none, the clock jumps by `wait` to the
    /// next timer slot. Either way the executor's loop runs again.
    #[cfg(feature = "test-util")]
    #[cold]
    fn auto_advance(&self, wait: Duration) {
        let events = self
            .io
            .get()
            .map_or(0, |reactor| reactor.poll(Some(Duration::ZERO)));
        if events == 0 {
            // `wait` came from the clock's own reading: it cannot overflow.
            let _ = self.clock.advance(wait);
        }
        self.fire_due_timers();
    }
}
