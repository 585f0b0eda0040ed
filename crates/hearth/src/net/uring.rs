//! The io_uring backend of the reactor: readiness through multishot polls.
//!
//! Each registered descriptor gets one `IORING_OP_POLL_ADD` with
//! `IORING_POLL_ADD_MULTI`: the kernel posts a completion (CQE) every time
//! the descriptor's wait queue reports an event, until the poll is removed.
//! io_uring polls are edge-triggered unless `IORING_POLL_ADD_LEVEL` is asked
//! for, which is exactly the contract of the epoll backend (see
//! [`Reactor`](super::reactor::Reactor)): the sockets' code is the same for
//! both.
//!
//! # What it saves
//!
//! - Registrations and removals are submission queue entries, not
//!   `epoll_ctl` calls: they go to the kernel with the next `io_uring_enter`,
//!   which is also the wait (submit and wait in one call, the time to the
//!   next timer as its timeout through `IORING_ENTER_EXT_ARG`). Only a
//!   removal submits at once (see below).
//! - A look at I/O without waiting (a busy executor's maintenance, every 61
//!   polls) reads the completion queue in shared memory and makes no system
//!   call unless there is something to submit or the kernel flags pending
//!   work (`IORING_SQ_TASKRUN`, CQ overflow).
//!
//! # Invariants
//!
//! - `user_data` of a poll is `generation << 32 | token`. A slot's
//!   generation changes with every registration, so a completion of a poll
//!   that was removed (the kernel may post one after the removal was queued)
//!   never reaches the socket that took the token next. Two values are
//!   reserved: [`WAKE_DATA`] (the eventfd's poll) and [`REMOVE_DATA`] (the
//!   completions of removals, which carry nothing).
//! - A poll request holds a reference to its file until it completes, so
//!   [`Ring::remove`] submits its cancellation right away: the caller closes the
//!   descriptor next and expects the socket (and, for a listener, its port)
//!   to be released as with epoll.
//! - A multishot poll may end on its own (a completion without
//!   `IORING_CQE_F_MORE`, e.g. when the completion queue overflowed): it is
//!   armed again while the slot still holds the same registration.
//! - No buffer is handed to the kernel: a poll carries only a descriptor and
//!   an event mask, so nothing has to outlive a cancelled operation.
//!
//! Owner thread only, like the reactor around it.

use core::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::Arc;
use std::time::Duration;

use io_uring::{cqueue, opcode, squeue, types, IoUring};

/// The `user_data` of the eventfd's poll (remote wakes).
const WAKE_DATA: u64 = u64::MAX;
/// The `user_data` of poll removals; their completions are ignored.
const REMOVE_DATA: u64 = u64::MAX - 1;

/// Submission queue entries; the completion queue is bigger (the kernel's
/// default is twice this) so a burst of events rarely overflows it.
const ENTRIES: u32 = 256;
/// Completion queue entries.
const CQ_ENTRIES: u32 = 4096;

/// The events every registration asks for: both directions, and hang-ups
/// and errors (which `poll` reports whether asked or not).
const POLL_MASK: u32 =
    (libc::POLLIN | libc::POLLOUT | libc::POLLRDHUP | libc::POLLERR | libc::POLLHUP) as u32;

/// A registration slot: the generation of its live poll, and its descriptor
/// (`-1`: free).
#[derive(Clone, Copy)]
struct Slot {
    generation: u32,
    fd: RawFd,
}

/// An io_uring instance used as a readiness reactor; owner thread only.
pub(crate) struct Ring {
    ring: RefCell<IoUring>,
    /// Registration slots by token (the reactor's tokens).
    slots: RefCell<Vec<Slot>>,
    /// The generation the next registration gets.
    next_generation: Cell<u32>,
    /// Completions taken from the queue and not yet dispatched (reused).
    taken: RefCell<VecDeque<(u64, i32, u32)>>,
    /// The eventfd other threads write to wake this reactor.
    wake_fd: Arc<OwnedFd>,
}

/// Why io_uring cannot be used here; `None` if it can.
///
/// The first call creates (and drops) one small ring; the answer is kept for
/// the life of the process (what the kernel offers does not change).
pub(crate) fn unsupported() -> Option<io::Error> {
    static PROBE: std::sync::OnceLock<Option<(io::ErrorKind, String)>> = std::sync::OnceLock::new();
    PROBE
        .get_or_init(|| new_ring(2).err().map(|e| (e.kind(), e.to_string())))
        .as_ref()
        .map(|(kind, msg)| io::Error::new(*kind, msg.clone()))
}

/// A ring with the features this backend needs, or why there is none.
fn new_ring(entries: u32) -> io::Result<IoUring> {
    // `COOP_TASKRUN` (Linux 5.19) runs the kernel's completion work when the
    // thread next enters the kernel instead of interrupting it; the
    // `TASKRUN_FLAG` says when such work waits. Older kernels refuse the
    // flags with `EINVAL`: build without them there.
    let ring = IoUring::builder()
        .setup_cqsize(CQ_ENTRIES.max(entries * 2))
        .setup_coop_taskrun()
        .setup_taskrun_flag()
        .build(entries)
        .or_else(|e| {
            if e.raw_os_error() == Some(libc::EINVAL) {
                IoUring::builder()
                    .setup_cqsize(CQ_ENTRIES.max(entries * 2))
                    .build(entries)
            } else {
                Err(e)
            }
        })
        .map_err(|e| {
            io::Error::new(
                e.kind(),
                format!("hearth: io_uring is not available: io_uring_setup failed ({e})"),
            )
        })?;
    let params = ring.params();
    // The wait's timeout (`EXT_ARG`, 5.11), no lost completions on overflow
    // (`NODROP`, 5.5) and multishot polls (5.13, the same release as
    // resource tags, the feature bit tested for it).
    if !(params.is_feature_ext_arg()
        && params.is_feature_nodrop()
        && params.is_feature_resource_tagging())
    {
        return Err(io::Error::new(
            io::ErrorKind::Unsupported,
            "hearth: io_uring is too old on this kernel (hearth's io_uring driver needs Linux \
             5.13 or later: multishot poll, IORING_ENTER_EXT_ARG, IORING_FEAT_NODROP)",
        ));
    }
    Ok(ring)
}

impl Ring {
    /// A ring whose eventfd (returned too, for [`Remote`](crate::executor::remote::Remote))
    /// is already watched.
    pub(crate) fn new() -> io::Result<(Ring, Arc<OwnedFd>)> {
        let ring = new_ring(ENTRIES)?;
        // SAFETY: eventfd(2) takes no pointers; it returns a new descriptor
        // or -1.
        let fd = unsafe { libc::eventfd(0, libc::EFD_CLOEXEC | libc::EFD_NONBLOCK) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `fd` was just created and is owned by nothing else.
        let wake_fd = Arc::new(unsafe { OwnedFd::from_raw_fd(fd) });
        let ring = Ring {
            ring: RefCell::new(ring),
            slots: RefCell::new(Vec::new()),
            next_generation: Cell::new(1),
            taken: RefCell::new(VecDeque::with_capacity(256)),
            wake_fd: wake_fd.clone(),
        };
        ring.push(poll_entry(wake_fd.as_raw_fd(), WAKE_DATA))?;
        Ok((ring, wake_fd))
    }

    /// The ring's descriptor (readable while completions are pending).
    #[cfg(feature = "tokio-host")]
    #[allow(dead_code)] // hosted executors use epoll (see `host_reactor`)
    pub(crate) fn as_raw_fd(&self) -> RawFd {
        self.ring.borrow().as_raw_fd()
    }

    /// Queues `entry`, submitting what is queued first if the queue is full.
    fn push(&self, entry: squeue::Entry) -> io::Result<()> {
        let mut ring = self.ring.borrow_mut();
        loop {
            // The entries this module makes are polls and cancellations:
            // they carry a descriptor, an event mask and a `user_data`, no
            // pointer into memory the kernel could use after it is freed. A
            // queued poll always reaches the kernel before its descriptor is
            // closed (`remove` submits the queue, poll included, before
            // returning to the socket's drop, which closes it), so it never
            // attaches to a reused descriptor number.
            // SAFETY: by the above, no entry points at memory.
            if unsafe { ring.submission().push(&entry) }.is_ok() {
                return Ok(());
            }
            submit(&ring, 0)?;
        }
    }

    /// Watches `fd` under `token` (both directions, edge-triggered).
    pub(crate) fn add(&self, token: usize, fd: RawFd) -> io::Result<()> {
        let generation = self.next_generation.get();
        // Never `u32::MAX`: with token `u32::MAX` or `u32::MAX - 1` the
        // `user_data` would collide with the reserved values.
        self.next_generation.set(if generation >= u32::MAX - 1 {
            1
        } else {
            generation + 1
        });
        let token32 = u32::try_from(token).map_err(|_| {
            io::Error::other("hearth: more than 4 billion sockets on one io_uring reactor")
        })?;
        {
            let mut slots = self.slots.borrow_mut();
            if slots.len() <= token {
                slots.resize(
                    token + 1,
                    Slot {
                        generation: 0,
                        fd: -1,
                    },
                );
            }
            slots[token] = Slot { generation, fd };
        }
        let pushed = self.push(poll_entry(fd, user_data(generation, token32)));
        if pushed.is_err() {
            self.slots.borrow_mut()[token].fd = -1;
        }
        pushed
    }

    /// Stops watching `token`'s descriptor, which the caller closes next.
    pub(crate) fn remove(&self, token: usize) {
        let data = {
            let mut slots = self.slots.borrow_mut();
            let Some(slot) = slots.get_mut(token).filter(|s| s.fd >= 0) else {
                return;
            };
            slot.fd = -1;
            user_data(slot.generation, token as u32)
        };
        // `ASYNC_CANCEL`, not `POLL_REMOVE`: a poll whose event is being
        // delivered at this moment refuses `POLL_REMOVE` (`EALREADY`) and
        // stays armed, holding the file; a cancel marks it and it ends as
        // soon as that delivery is done.
        let removal = opcode::AsyncCancel::new(data)
            .build()
            .user_data(REMOVE_DATA);
        // Submitted now so the poll drops its file before the descriptor is
        // closed (see the module docs). A failure (no memory) leaves the
        // poll to end when its file does: the socket's port then stays bound
        // until the ring goes, which is all that is lost.
        if self.push(removal).is_ok() {
            let _ = submit(&self.ring.borrow(), 0);
        }
    }

    /// Submits what is queued, waits for completions up to `timeout`
    /// (`None`: until one arrives; zero: not at all) and hands each
    /// registered token's readiness to `dispatch`.
    /// Returns how many events it handled (remote wakes included; the
    /// completions of removals are not events).
    pub(crate) fn poll(
        &self,
        timeout: Option<Duration>,
        mut dispatch: impl FnMut(usize, u8),
    ) -> usize {
        // Completions left by a waker that panicked: deliver them first.
        let timeout = if self.taken.borrow().is_empty() {
            timeout
        } else {
            Some(Duration::ZERO)
        };
        {
            let mut ring = self.ring.borrow_mut();
            let waited = match timeout {
                Some(Duration::ZERO) => {
                    let sq = ring.submission();
                    if sq.is_empty() && !sq.taskrun() && !sq.cq_overflow() {
                        Ok(0)
                    } else {
                        drop(sq);
                        submit(&ring, 0)
                    }
                }
                None => submit(&ring, 1),
                Some(t) => {
                    let ts = types::Timespec::from(t);
                    let args = types::SubmitArgs::new().timespec(&ts);
                    match ring.submitter().submit_with_args(1, &args) {
                        Err(e) if e.raw_os_error() == Some(libc::ETIME) => Ok(0),
                        r => r,
                    }
                }
            };
            if let Err(e) = waited {
                // Interrupted by a signal, or the completion queue is full
                // (`EBUSY`): take what is there and come back.
                if !matches!(e.raw_os_error(), Some(libc::EINTR | libc::EBUSY)) {
                    panic!("hearth: io_uring_enter failed: {e}");
                }
            }
            self.taken.borrow_mut().extend(
                ring.completion()
                    .map(|c| (c.user_data(), c.result(), c.flags())),
            );
        }
        // One at a time, the queue not borrowed while a waker runs: a waker
        // that panics leaves the rest queued for the next poll, not lost.
        let mut events = 0;
        loop {
            let next = self.taken.borrow_mut().pop_front();
            let Some((data, result, flags)) = next else {
                break;
            };
            events += usize::from(data != REMOVE_DATA);
            self.complete(data, result, flags, &mut dispatch);
        }
        events
    }

    /// One completion.
    fn complete(&self, data: u64, result: i32, flags: u32, dispatch: &mut impl FnMut(usize, u8)) {
        if data == REMOVE_DATA {
            return;
        }
        let ended = !cqueue::more(flags);
        if data == WAKE_DATA {
            // Remote wakes only need the wait to return; the executor reads
            // its queue next. Re-armed if the kernel ended the poll.
            if ended {
                let _ = self.push(poll_entry(self.wake_fd.as_raw_fd(), WAKE_DATA));
            }
            return;
        }
        let token = (data & u64::from(u32::MAX)) as usize;
        let generation = (data >> 32) as u32;
        let live = self
            .slots
            .borrow()
            .get(token)
            .filter(|s| s.fd >= 0 && s.generation == generation)
            .map(|s| s.fd);
        let Some(fd) = live else {
            return; // a poll of a registration that is gone
        };
        if result >= 0 {
            dispatch(token, readiness(result as u32));
        } else if result != -libc::ECANCELED {
            // The poll itself failed (the descriptor cannot be polled):
            // report everything, so the task tries its operation and gets
            // the real error from it.
            dispatch(token, super::reactor::ALL);
            return;
        }
        if ended {
            let _ = self.push(poll_entry(fd, data));
        }
    }
}

/// `user_data` of a registration's poll.
fn user_data(generation: u32, token: u32) -> u64 {
    (u64::from(generation) << 32) | u64::from(token)
}

/// A multishot poll of `fd` for [`POLL_MASK`].
fn poll_entry(fd: RawFd, data: u64) -> squeue::Entry {
    opcode::PollAdd::new(types::Fd(fd), POLL_MASK)
        .multi(true)
        .build()
        .user_data(data)
}

/// `io_uring_enter`: submit what is queued and wait for `want` completions.
fn submit(ring: &IoUring, want: usize) -> io::Result<usize> {
    ring.submit_and_wait(want)
}

/// The reactor's readiness bits for a poll mask, as mio maps epoll's.
fn readiness(mask: u32) -> u8 {
    use super::reactor::{ERROR, READABLE, READ_CLOSED, WRITABLE, WRITE_CLOSED};
    let has = |bit: libc::c_short| mask & (bit as u16 as u32) != 0;
    let mut bits = 0;
    if has(libc::POLLIN) {
        bits |= READABLE;
    }
    if has(libc::POLLOUT) {
        bits |= WRITABLE;
    }
    if has(libc::POLLHUP) || (has(libc::POLLIN) && has(libc::POLLRDHUP)) {
        bits |= READ_CLOSED;
    }
    if has(libc::POLLHUP)
        || (has(libc::POLLOUT) && has(libc::POLLERR))
        || mask == libc::POLLERR as u32
    {
        bits |= WRITE_CLOSED;
    }
    if has(libc::POLLERR) {
        bits |= ERROR;
    }
    bits
}

/// Wakes a ring's wait from any thread: one eventfd write.
pub(crate) fn wake(fd: &OwnedFd) -> io::Result<()> {
    let one: u64 = 1;
    loop {
        // SAFETY: writes 8 bytes from a live `u64` to a descriptor we own.
        let n = unsafe { libc::write(fd.as_raw_fd(), (&one as *const u64).cast(), 8) };
        if n >= 0 {
            return Ok(());
        }
        let err = io::Error::last_os_error();
        match err.raw_os_error() {
            Some(libc::EINTR) => continue,
            // The counter is full (after 2^64 - 2 wakes nobody read): reset
            // it and write again, as mio's eventfd waker does.
            Some(libc::EAGAIN) => {
                let mut sink: u64 = 0;
                // SAFETY: reads 8 bytes into a live `u64`.
                unsafe { libc::read(fd.as_raw_fd(), (&mut sink as *mut u64).cast(), 8) };
            }
            _ => return Err(err),
        }
    }
}
