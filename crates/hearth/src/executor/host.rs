//! Hosted mode: the executor driven by another runtime's task
//! ([`crate::compat::tokio`]) instead of its own loop.
//!
//! The host polls a future that runs *turns*: a turn enters the executor
//! (as `run_until` does), polls the main future if it was woken, runs ready
//! tasks for up to [`POLLS_PER_TURN`] polls and returns one of:
//!
//! - `Ready`: the main future completed;
//! - `Yield`: tasks are still ready; the host should reschedule itself (its
//!   `Waker` was woken) so other work on its thread runs in between;
//! - `Idle(timeout)`: nothing to run. Before returning it the turn parks the
//!   host: it stores the host's `Waker` in the core and sets `host_parked`,
//!   so the next *local* wake of a task or of the main future wakes the host
//!   (`Core::wake_host`). Remote wakes still go through [`Remote`]: the host
//!   registers the reactor's epoll descriptor with its own reactor, and the
//!   eventfd a remote wake writes makes that descriptor readable. The host
//!   waits for that, or `timeout` (the next hearth timer).
//!
//! The park follows the same protocol as [`Driver::park`]: `prepare_park`
//! re-arms the remote signal and then the queue is looked at one last time,
//! so a remote wake either is seen by that look or signals the eventfd.
//!
//! [`Remote`]: super::remote::Remote
//! [`Driver::park`]: crate::driver::Driver::park

use core::cell::Cell;
use core::future::Future;
use core::pin::Pin;
use core::task::{Poll, Waker};
use std::io;
use std::time::Duration;

use hearth_task::atomic::{AtomicBool, Ordering};
use hearth_task::dual::{DualRc, DualWake};

use super::{coop, Core, Enter, Executor};
use crate::sync_shim::Arc;

/// Polls (of tasks and of the main future) after which a turn yields to the
/// host. Each yield costs the host a scheduler pass (tokio's may include an
/// `epoll_wait`, a microsecond or more), so a turn is long enough to amortise
/// it and short enough that the host's own tasks wait at most a few hundred
/// hearth polls (tokio's `LocalSet` yields after 61 of its own).
const POLLS_PER_TURN: usize = 256;

/// The main future's wake target in hosted mode: a local flag plus a flag for
/// wakes from other threads (one per `run_until`, so two hosted main futures
/// never take each other's wakes).
pub(crate) struct HostedMain {
    woken: Cell<bool>,
}

pub(crate) struct HostedShared {
    remote_woken: AtomicBool,
    core: Arc<Core>,
}

impl DualWake for HostedMain {
    type Shared = HostedShared;
    fn wake_local(this: &DualRc<Self>) {
        this.woken.set(true);
        let core = &this.shared().core;
        if core.host_parked.get() {
            core.wake_host();
        }
    }
    fn wake_remote(shared: &HostedShared, _: &Waker) {
        shared.remote_woken.store(true, Ordering::Release);
        shared.core.remote.unpark();
    }
}

/// The main future's waker for one hosted `run_until`.
pub(crate) struct Main(DualRc<HostedMain>);

impl Main {
    fn take_woken(&self) -> bool {
        let shared = self.0.shared();
        let remote = shared.remote_woken.load(Ordering::Relaxed)
            && shared.remote_woken.swap(false, Ordering::Acquire);
        self.0.woken.replace(false) | remote
    }

    fn is_woken(&self) -> bool {
        self.0.woken.get() || self.0.shared().remote_woken.load(Ordering::Acquire)
    }
}

/// What a turn ended with; see the module docs.
pub(crate) enum Turn<T> {
    Ready(T),
    Yield,
    Idle(Option<Duration>),
}

impl Executor {
    /// The main future's waker for a hosted `run_until`, woken once so the
    /// first turn polls the future.
    pub(crate) fn host_main(&self) -> Main {
        Main(DualRc::new(
            HostedMain {
                woken: Cell::new(true),
            },
            HostedShared {
                remote_woken: AtomicBool::new(false),
                core: self.core.clone(),
            },
        ))
    }

    /// The reactor (created now if need be), whose epoll descriptor the host
    /// waits on; from now on remote wakes signal its eventfd.
    pub(crate) fn host_reactor(&self) -> io::Result<std::rc::Rc<crate::net::reactor::Reactor>> {
        let core = &*self.core;
        // epoll, whatever `Auto` would pick: the host's reactor watches our
        // descriptor, and an epoll descriptor reports a socket's readiness
        // as soon as it is registered, while a ring would first need an
        // `io_uring_enter` to submit its polls (see `IoDriver`).
        core.driver().use_epoll();
        let reactor = core.driver().reactor_or_init(&core.remote)?.clone();
        core.driver().set_hosted();
        Ok(reactor)
    }

    /// Takes ready I/O events and fires due timers without blocking.
    pub(crate) fn host_poll_driver(&self) {
        self.core.driver().poll_now();
    }

    /// One turn; see the module docs. `host` is the hosting task's waker.
    pub(crate) fn host_turn<F: Future>(
        &self,
        mut future: Pin<&mut F>,
        main: &Main,
        host: &Waker,
    ) -> Turn<F::Output> {
        let core = &*self.core;
        let _enter = Enter::new(core);
        core.host_parked.set(false);
        let mut polls = 0;
        while polls < POLLS_PER_TURN {
            polls += 1; // a pass that polls nothing still counts
            if main.take_woken() {
                let waker = main.0.waker_ref();
                let mut cx = hearth_task::context_from_waker(&waker);
                coop::refill();
                if let Poll::Ready(output) = future.as_mut().poll(&mut cx) {
                    return Turn::Ready(output);
                }
            }
            core.take_remote_wakes();
            let polled = core.tick();
            if polled > 0 {
                polls += polled;
                core.driver().maintain(polled);
            }
            if core.has_ready() || main.is_woken() {
                continue;
            }
            // Nothing ready: look at timers and I/O once without blocking.
            core.driver().poll_now();
            core.take_remote_wakes();
            if core.has_ready() || main.is_woken() {
                continue;
            }
            // Park the host: local wakes from now on wake it.
            let stale = core.host_waker.take();
            core.host_waker.set(Some(match stale {
                Some(w) if w.will_wake(host) => w,
                _ => host.clone(),
            }));
            core.host_parked.set(true);
            if !core.remote.prepare_park() || main.is_woken() {
                core.host_parked.set(false);
                continue;
            }
            // Idle, as in `Core::park`: give back task memory kept for a burst.
            super::memory::trim();
            return Turn::Idle(core.driver().next_timeout());
        }
        host.wake_by_ref();
        Turn::Yield
    }
}
