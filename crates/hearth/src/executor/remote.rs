//! Wakes from other threads: a lock-free queue into the owner, plus a signal
//! (an eventfd write or a thread unpark).
//!
//! A foreign thread that wakes a task pushes a [`RemoteWake`] (which owns a
//! `Waker` count of the task) onto the owner's queue and signals the owner if
//! it may be asleep. The owner drains the queue between tasks and schedules each task
//! locally. When the executor goes away it closes the queue: later pushes fail
//! and the wake is dropped on the spot (the task is gone, nothing to wake), and
//! what was queued before is dropped by the owner. Nothing is lost or leaked.
//!
//! # Signalling the owner
//!
//! The owner sleeps in `epoll_wait` (or `io_uring_enter`) once it has an
//! I/O reactor, and in a thread park before (see `crate::driver`). A remote wake pushes first, then
//! sets `NOTIFIED` with a read-modify-write; only the wake that finds it clear
//! sends a signal: a write to the reactor's eventfd (`mio::Waker`, or the
//! eventfd an io_uring reactor polls) if
//! `REACTOR` is set, `Thread::unpark` otherwise. The owner clears `NOTIFIED`
//! (read-modify-write) right before it looks at the queue one last time and
//! sleeps. Both are read-modify-writes of one location, so one comes first:
//!
//! - the wake's: the owner's clear synchronises with it and its last look
//!   sees the pushed wake, so it does not sleep;
//! - the owner's: the wake finds `NOTIFIED` clear and signals. Both signals
//!   persist until consumed (an eventfd count; an unpark token), so the
//!   owner's sleep returns at once even if it starts after the signal.
//!
//! A busy owner never clears `NOTIFIED`, so a storm of remote wakes while it
//! runs costs no syscall at all (an eventfd write is one per signal). Remote
//! wakes of a task that is already queued are deduplicated before this point
//! (`remote_queued`). The owner switches to the eventfd (`REACTOR`) only while
//! running a task (creating the reactor), never while asleep; a wake that
//! unparked the thread just before the switch is still seen by the next last
//! look. A stale unpark token only makes some later park return early.

use concurrent_queue::ConcurrentQueue;
use hearth_task::atomic::{AtomicBool, AtomicU32, Ordering};

use super::task::RemoteWake;
use crate::sync_shim::Thread;

/// The thread-safe side of an executor, shared with its tasks' wakers.
pub(crate) struct Remote {
    queue: ConcurrentQueue<RemoteWake>,
    /// The main future (of `run_until`) was woken from another thread.
    main_woken: AtomicBool,
    /// `NOTIFIED | REACTOR`; see the module docs.
    state: AtomicU32,
    /// The owner thread (signalled while there is no reactor).
    thread: Thread,
    /// The reactor's eventfd; set once, before `REACTOR`.
    #[cfg(not(loom))]
    waker: std::sync::OnceLock<crate::net::reactor::WakeSignal>,
}

/// A signal was sent since the owner last cleared this bit.
const NOTIFIED: u32 = 1;
/// The owner sleeps in `epoll_wait`: signal through `waker`.
const REACTOR: u32 = 2;

impl Remote {
    pub(crate) fn new(thread: Thread) -> Self {
        Remote {
            queue: ConcurrentQueue::unbounded(),
            main_woken: AtomicBool::new(false),
            state: AtomicU32::new(0),
            thread,
            #[cfg(not(loom))]
            waker: std::sync::OnceLock::new(),
        }
    }

    /// Queues a wake from another thread and unparks the owner.
    pub(crate) fn push(&self, wake: RemoteWake) {
        match self.queue.push(wake) {
            Ok(()) => self.unpark(),
            // The executor is gone: drop the wake (and its count) here.
            Err(err) => drop(err.into_inner()),
        }
    }

    /// Records a wake of the main future from another thread.
    pub(crate) fn wake_main(&self) {
        self.main_woken.store(true, Ordering::Release);
        self.unpark();
    }

    /// Signals the owner (eventfd or unpark) unless a signal is pending.
    pub(crate) fn unpark(&self) {
        let prev = self.state.fetch_or(NOTIFIED, Ordering::AcqRel);
        if prev & NOTIFIED != 0 {
            return;
        }
        #[cfg(not(loom))]
        if prev & REACTOR != 0 {
            if let Some(waker) = self.waker.get() {
                // Fails only if the eventfd is gone, i.e. the reactor (and
                // so the executor) is: then nobody is left to wake.
                let _ = waker.wake();
            }
            return;
        }
        self.thread.unpark();
    }

    /// On the owner, once, when its reactor is created: signal through
    /// `waker` from now on.
    #[cfg(not(loom))]
    pub(crate) fn use_reactor(&self, waker: crate::net::reactor::WakeSignal) {
        if self.waker.set(waker).is_ok() {
            self.state.fetch_or(REACTOR, Ordering::Release);
        }
    }

    /// On the owner: takes a pending remote wake of the main future. A plain
    /// load first, so the common case costs no read-modify-write.
    pub(crate) fn take_main_woken(&self) -> bool {
        self.main_woken.load(Ordering::Relaxed) && self.main_woken.swap(false, Ordering::Acquire)
    }

    /// On the owner: the next queued remote wake.
    pub(crate) fn pop(&self) -> Option<RemoteWake> {
        if self.queue.is_empty() {
            None
        } else {
            self.queue.pop().ok()
        }
    }

    /// On the owner, right before it sleeps: re-arms the signal and returns
    /// whether it may sleep (no remote wake is pending).
    pub(crate) fn prepare_park(&self) -> bool {
        self.state.fetch_and(!NOTIFIED, Ordering::AcqRel);
        self.queue.is_empty() && !self.main_woken.load(Ordering::Relaxed)
    }

    /// On the owner, when the executor goes away: no more remote wakes.
    pub(crate) fn close(&self) {
        self.queue.close();
        while let Ok(wake) = self.queue.pop() {
            drop(wake);
        }
    }
}
