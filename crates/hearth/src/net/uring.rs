//! The io_uring backend of the reactor: readiness through multishot polls,
//! and stream reads through multishot receives into provided buffers.
//!
//! Each registered descriptor gets one `IORING_OP_POLL_ADD` with
//! `IORING_POLL_ADD_MULTI`: the kernel posts a completion (CQE) every time
//! the descriptor's wait queue reports an event, until the poll is removed.
//! io_uring polls are edge-triggered unless `IORING_POLL_ADD_LEVEL` is asked
//! for, which is exactly the contract of the epoll backend (see
//! [`Reactor`](super::reactor::Reactor)): the sockets' code is the same for
//! both.
//!
//! # Receive mode (connected streams)
//!
//! On Linux 6.0 and later (multishot `IORING_OP_RECV`; set
//! `HEARTH_URING_RECV=0` to turn it off) a TCP or Unix stream's reads do not
//! call `read(2)` after readiness. The ring owns [`BUF_COUNT`] buffers of
//! [`BUF_SIZE`] bytes, registered as a provided-buffer ring (buffer group
//! [`BUF_GROUP`]). A stream's first read that finds nothing queued reads
//! the socket directly; on `WouldBlock` it queues one multishot receive with
//! buffer selection, which from then on posts one completion per chunk of
//! incoming data, each in a buffer the kernel took from the ring. The
//! completions go, in order, into the stream's slot ([`RecvState`]); a read
//! copies out of them (across several, as much as fits), keeps the offset
//! into a buffer it did not finish, and gives each emptied buffer back to
//! the ring. End of file and errors are queued behind the data before them.
//! The stream's poll then asks only for `POLLOUT` (and errors, hang-ups):
//! incoming data makes one completion, not two.
//!
//! When the ring has no free buffer the receive ends with `ENOBUFS`; the
//! data stays in the socket. The reader drains its queue, then reads the
//! socket directly (no receive is in the kernel then, so nothing can be
//! reordered) and arms a new receive on the next `WouldBlock`. A receive
//! that ends for another reason (end of file, an error, the kernel's
//! choice) is re-armed the same way when the reader needs one.
//!
//! Writes still go out with `write(2)` after readiness: handing them to the
//! ring would save one more system call per response, but needs a copy into
//! memory the ring owns until the send completes, `poll_flush`/`shutdown`
//! that wait for (or queue behind) sends in flight, and a close that does
//! not lose queued sends; see DESIGN.md for the measurement that kept the
//! direct write.
//!
//! # What it saves
//!
//! - Registrations and removals are submission queue entries, not
//!   `epoll_ctl` calls: they go to the kernel with the next `io_uring_enter`,
//!   which is also the wait (submit and wait in one call, the time to the
//!   next timer as its timeout through `IORING_ENTER_EXT_ARG`). Only a
//!   removal submits at once (see below).
//! - Receives: one `io_uring_enter` per executor park (or maintenance look)
//!   collects the data of every stream that received something, and arms
//!   every receive queued since; no `read(2)` per request.
//! - A look at I/O without waiting (a busy executor's maintenance, every 61
//!   polls) reads the completion queue in shared memory and makes no system
//!   call unless there is something to submit or the kernel flags pending
//!   work (`IORING_SQ_TASKRUN`, CQ overflow).
//! - The kernel's completion work (a receive's copy, a poll's completion)
//!   runs when the thread next enters the kernel for any call
//!   (`IORING_SETUP_COOP_TASKRUN`), not through an interrupt; with
//!   `HEARTH_URING_DEFER=1`, only inside the ring's own `io_uring_enter`
//!   (`DEFER_TASKRUN` + `SINGLE_ISSUER`, Linux 6.1; every enter then asks
//!   for `GETEVENTS`). Kernels that refuse a flag (`EINVAL`) get the next
//!   mode down ([`TaskRun`]).
//!
//! # Invariants
//!
//! - `user_data` of a poll is `generation << 32 | token`, of a receive the
//!   same with [`RECV_BIT`]. A slot's generation (31 bits) changes with
//!   every registration, so a completion of a request that was removed (the
//!   kernel may post one after the removal was queued) never reaches the
//!   socket that took the token next. Two values are reserved: [`WAKE_DATA`]
//!   (the eventfd's poll) and [`REMOVE_DATA`] (the completions of removals,
//!   which carry nothing).
//! - A poll or receive request holds a reference to its file until it
//!   completes, so [`Ring::remove`] submits its cancellations right away: the
//!   caller closes the descriptor next and expects the socket (and, for a
//!   listener, its port) to be released as with epoll. A request queued and
//!   not yet submitted names a descriptor *number*: the same submission
//!   takes it to the kernel before the number is closed and reused.
//! - A multishot poll may end on its own (a completion without
//!   `IORING_CQE_F_MORE`, e.g. when the completion queue overflowed): it is
//!   armed again while the slot still holds the same registration.
//! - Buffer ownership. Every provided buffer is in exactly one place: in the
//!   ring (the kernel may write into it at any time), or in one live
//!   stream's receive queue (the kernel filled it and does not touch it),
//!   from the completion that names it until the read that empties it, or
//!   the stream's removal, gives it back ([`BufRing::give_back`]). A
//!   completion that names a buffer for a slot that is gone gives it back at
//!   once. So the ring never holds two entries for one buffer, and its entry
//!   at the tail is free to write. Reads copy out (`&[u8]` views of a queued
//!   buffer only, never of one in the ring).
//! - Buffer lifetime. The buffers and the entry ring are one allocation
//!   each, owned by the [`Ring`], which lives as long as the reactor. They
//!   are freed only when no receive request is in the kernel
//!   (`recvs_in_flight`: +1 when one is queued, -1 on its completion without
//!   `IORING_CQE_F_MORE`) and the buffer ring is unregistered: the ring's
//!   drop cancels every armed receive and waits (5 s at most) for them to
//!   end; if they do not, or unregistering fails, the memory is leaked,
//!   never freed under the kernel. Dropping a stream with a receive in
//!   flight cancels it; the buffers stay the ring's.
//! - Polls and cancellations carry no pointer into memory; receives carry
//!   none either (they name the buffer group).
//!
//! Owner thread only, like the reactor around it.

use core::cell::{Cell, RefCell};
use core::ptr::{self, NonNull};
use core::sync::atomic::{AtomicU16, Ordering};
use std::alloc::{self, Layout};
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
/// Set in the `user_data` of a socket's multishot receive (clear in its
/// poll's). Generations stay below `2^31 - 1`, so neither kind can reach the
/// two reserved values above.
const RECV_BIT: u64 = 1 << 63;
/// The largest generation (31 bits, see [`RECV_BIT`]).
const MAX_GENERATION: u32 = (1 << 31) - 2;

/// Submission queue entries; the completion queue is bigger (the kernel's
/// default is twice this) so a burst of events rarely overflows it.
const ENTRIES: u32 = 256;
/// Completion queue entries.
const CQ_ENTRIES: u32 = 4096;

/// The events every registration asks for: both directions, and hang-ups
/// and errors (which `poll` reports whether asked or not).
const POLL_MASK: u32 =
    (libc::POLLIN | libc::POLLOUT | libc::POLLRDHUP | libc::POLLERR | libc::POLLHUP) as u32;
/// The events a stream whose reads come from a multishot receive asks for:
/// its data and end of file arrive as receive completions, so incoming data
/// must not post a second completion (and a spurious wake) through the poll.
const STREAM_POLL_MASK: u32 = (libc::POLLOUT | libc::POLLERR | libc::POLLHUP) as u32;

/// A registration slot: the generation of its live poll, its descriptor
/// (`-1`: free) and, for a stream in receive mode, its receive state.
struct Slot {
    generation: u32,
    fd: RawFd,
    /// `None`: readiness only (listeners, datagram sockets, or receive mode
    /// off). Boxed: the table keeps its length after connections go, and a
    /// free slot then costs 16 bytes, not 56.
    recv: Option<Box<RecvState>>,
}

impl Slot {
    const FREE: Slot = Slot {
        generation: 0,
        fd: -1,
        recv: None,
    };
}

/// What a stream's multishot receive delivered and its reader has not
/// taken yet, in the order the kernel produced it.
#[derive(Default)]
struct RecvState {
    /// Whether this slot's receive request is in the kernel (or queued for
    /// it): then nothing else may read the socket (it would reorder data).
    armed: bool,
    /// Delivered results, oldest first.
    queue: VecDeque<Delivered>,
    /// Bytes of the front `Data` already copied out.
    offset: u32,
}

/// One receive completion kept for the reader.
#[derive(Clone, Copy)]
enum Delivered {
    /// `len` bytes in ring buffer `bid`, which this queue owns until the
    /// reader (or the socket's removal) gives it back to the ring.
    Data { bid: u16, len: u32 },
    /// End of file; stays at the front (every later read sees it again).
    Eof,
    /// The receive failed with this errno (taken once).
    Error(i32),
}

/// What [`Ring::recv_read`] found for a reader.
pub(crate) enum RecvRead {
    /// This many bytes were copied into the caller's buffer.
    Data(usize),
    /// End of file.
    Eof,
    /// The receive failed.
    Error(io::Error),
    /// Nothing queued; `armed`: a receive is in the kernel, so wait for its
    /// completion (else the socket may be read directly, then armed).
    Empty { armed: bool },
}

/// An io_uring instance used as a readiness reactor; owner thread only.
pub(crate) struct Ring {
    ring: RefCell<IoUring>,
    /// Completion work waits for our `io_uring_enter` with `GETEVENTS`
    /// ([`TaskRun::Defer`]).
    deferred: bool,
    /// Registration slots by token (the reactor's tokens).
    slots: RefCell<Vec<Slot>>,
    /// The generation the next registration gets.
    next_generation: Cell<u32>,
    /// Completions taken from the queue and not yet dispatched (reused).
    taken: RefCell<VecDeque<(u64, i32, u32)>>,
    /// The eventfd other threads write to wake this reactor.
    wake_fd: Arc<OwnedFd>,
    /// The provided buffers of streams' multishot receives; `None` if the
    /// kernel cannot do them (or `HEARTH_URING_RECV=0`).
    bufs: Option<BufRing>,
    /// Receive requests in the kernel (each ends with a completion without
    /// `IORING_CQE_F_MORE`): the buffers may be freed only at zero.
    recvs_in_flight: Cell<usize>,
}

/// Why io_uring cannot be used here; `None` if it can.
///
/// The first call creates (and drops) one small ring; the answer is kept for
/// the life of the process (what the kernel offers does not change).
pub(crate) fn unsupported() -> Option<io::Error> {
    static PROBE: std::sync::OnceLock<Option<(io::ErrorKind, String)>> = std::sync::OnceLock::new();
    PROBE
        .get_or_init(|| {
            new_ring(2, TaskRun::wanted())
                .err()
                .map(|e| (e.kind(), e.to_string()))
        })
        .as_ref()
        .map(|(kind, msg)| io::Error::new(*kind, msg.clone()))
}

/// A ring with the features this backend needs, or why there is none;
/// `true` with it if its completion work is deferred (see [`TaskRun`]).
fn new_ring(entries: u32, modes: &[TaskRun]) -> io::Result<(IoUring, bool)> {
    let cq = CQ_ENTRIES.max(entries * 2);
    let build = |mode: TaskRun| {
        let mut builder = IoUring::builder();
        builder.setup_cqsize(cq);
        match mode {
            TaskRun::Defer => {
                builder
                    .setup_single_issuer()
                    .setup_defer_taskrun()
                    .setup_coop_taskrun()
                    .setup_taskrun_flag();
            }
            TaskRun::Coop => {
                builder.setup_coop_taskrun().setup_taskrun_flag();
            }
            TaskRun::Plain => {}
        }
        builder.build(entries)
    };
    // Each mode's flags are refused with `EINVAL` by kernels older than
    // them: fall back to the next mode then.
    let mut result = Err(io::Error::from_raw_os_error(libc::EINVAL));
    let mut deferred = false;
    for &mode in modes {
        result = build(mode);
        deferred = mode == TaskRun::Defer;
        match &result {
            Err(e) if e.raw_os_error() == Some(libc::EINVAL) => continue,
            _ => break,
        }
    }
    let ring = result.map_err(|e| {
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
    Ok((ring, deferred))
}

/// When the kernel does a ring's completion work (posting a receive's or a
/// poll's completion is work the kernel queues for the ring's thread).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum TaskRun {
    /// `IORING_SETUP_DEFER_TASKRUN` + `SINGLE_ISSUER` (Linux 6.1): only
    /// inside this thread's `io_uring_enter` with `IORING_ENTER_GETEVENTS`,
    /// all of it in one batch; `TASKRUN_FLAG` says when some is waiting.
    /// Only the thread that made the ring may enter it, which holds: a
    /// [`Ring`] never leaves its reactor's thread (other threads wake it
    /// through the eventfd, which needs no entry).
    Defer,
    /// `IORING_SETUP_COOP_TASKRUN` + `TASKRUN_FLAG` (Linux 5.19): when the
    /// thread next enters the kernel for any system call, without
    /// interrupting it.
    Coop,
    /// Neither flag (older kernels): the kernel interrupts the thread.
    Plain,
}

impl TaskRun {
    /// The modes to try, best first. `Defer` only if `HEARTH_URING_DEFER=1`:
    /// it measured no lower CPU per request than `Coop` here and one more
    /// `io_uring_enter` per ~30 requests (DESIGN.md, step 3).
    fn wanted() -> &'static [TaskRun] {
        static DEFER: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
        let defer =
            *DEFER.get_or_init(|| std::env::var_os("HEARTH_URING_DEFER").is_some_and(|v| v == "1"));
        if defer {
            &[TaskRun::Defer, TaskRun::Coop, TaskRun::Plain]
        } else {
            &[TaskRun::Coop, TaskRun::Plain]
        }
    }
}

/// Provided buffers: how many (a power of two, at most 32768).
const BUF_COUNT: u16 = 1024;
/// Provided buffers: the size of each.
const BUF_SIZE: u32 = 4096;
/// The buffer group of the ring's provided buffers.
const BUF_GROUP: u16 = 0;

/// One entry of a provided-buffer ring, as the kernel lays it out
/// (`struct io_uring_buf`). Entry 0's `resv` is the ring's tail (the kernel's
/// `struct io_uring_buf_ring` is a union of the two).
#[repr(C)]
struct RawBuf {
    addr: u64,
    len: u32,
    bid: u16,
    resv: u16,
}

/// The provided buffers of streams' multishot receives (buffer group
/// [`BUF_GROUP`]): [`BUF_COUNT`] buffers of [`BUF_SIZE`] bytes and the ring
/// of entries through which they go (back) to the kernel.
///
/// Every buffer is, at any time, in exactly one place: in the ring (the
/// kernel may fill it), or in one socket's [`RecvState`] queue (the kernel
/// filled it and will not touch it until it is given back with
/// [`BufRing::give_back`]). So the ring never holds more than [`BUF_COUNT`]
/// entries and the entry at the tail is always free to write.
struct BufRing {
    /// [`BUF_COUNT`] entries, page aligned, registered with the kernel.
    entries: NonNull<RawBuf>,
    /// `BUF_COUNT * BUF_SIZE` bytes.
    data: NonNull<u8>,
    /// The tail as last published to the kernel.
    tail: Cell<u16>,
}

impl BufRing {
    fn entries_layout() -> Layout {
        // 16 bytes per entry, page aligned as the kernel requires.
        Layout::from_size_align(usize::from(BUF_COUNT) * 16, 4096).expect("constant layout")
    }

    fn data_layout() -> Layout {
        Layout::from_size_align(usize::from(BUF_COUNT) * BUF_SIZE as usize, 64)
            .expect("constant layout")
    }

    /// Allocates the buffers, puts all of them in the ring and registers it
    /// with `ring`.
    fn new(ring: &IoUring) -> io::Result<BufRing> {
        let bufs = BufRing::alloc()?;
        // `entries` holds `BUF_COUNT` entries, page aligned; it and the buffers it points to live
        // until `Ring`'s drop, which frees them only once no receive request is in the kernel and
        // the ring is unregistered (or leaks them).
        // SAFETY: by the above.
        let registered = unsafe {
            ring.submitter().register_buf_ring(
                bufs.entries.as_ptr().expose_provenance() as u64,
                BUF_COUNT,
                BUF_GROUP,
            )
        };
        if let Err(e) = registered {
            // SAFETY: never registered: the kernel does not know the memory.
            unsafe { bufs.free() };
            return Err(e);
        }
        Ok(bufs)
    }

    /// Allocates the buffers and puts all of them in the (unregistered)
    /// ring.
    fn alloc() -> io::Result<BufRing> {
        let oom = || io::Error::from(io::ErrorKind::OutOfMemory);
        // SAFETY: the layout's size is not zero.
        let entries = NonNull::new(unsafe { alloc::alloc_zeroed(Self::entries_layout()) })
            .ok_or_else(oom)?
            .cast::<RawBuf>();
        // SAFETY: the layout's size is not zero.
        let Some(data) = NonNull::new(unsafe { alloc::alloc_zeroed(Self::data_layout()) }) else {
            // SAFETY: allocated just above with this layout, never shared.
            unsafe { alloc::dealloc(entries.as_ptr().cast(), Self::entries_layout()) };
            return Err(oom());
        };
        let bufs = BufRing {
            entries,
            data,
            tail: Cell::new(0),
        };
        for bid in 0..BUF_COUNT {
            bufs.give_back(bid);
        }
        Ok(bufs)
    }

    /// Puts buffer `bid` back in the ring: the kernel may fill it again.
    /// The caller owns `bid` (it came out of a completion and was not given
    /// back since).
    fn give_back(&self, bid: u16) {
        debug_assert!(bid < BUF_COUNT);
        let tail = self.tail.get();
        let slot = usize::from(tail & (BUF_COUNT - 1));
        let addr = self
            .data
            .as_ptr()
            .wrapping_add(usize::from(bid) * BUF_SIZE as usize)
            .expose_provenance() as u64;
        // `slot < BUF_COUNT`, inside the entries allocation. The kernel reads only the entries
        // between its head and the tail; at most `BUF_COUNT - 1` buffers are in the ring while
        // the caller owns `bid`, so the entry at the tail is not one of them. Its fields are
        // written through raw pointers (no reference to an entry the kernel may read: entry 0
        // holds the tail too).
        // SAFETY: by the above.
        unsafe {
            let entry = self.entries.as_ptr().add(slot);
            ptr::addr_of_mut!((*entry).addr).write(addr);
            ptr::addr_of_mut!((*entry).len).write(BUF_SIZE);
            ptr::addr_of_mut!((*entry).bid).write(bid);
        }
        let tail = tail.wrapping_add(1);
        self.tail.set(tail);
        // SAFETY: entry 0's `resv` is the tail, two aligned bytes the kernel
        // only reads (`smp_load_acquire`) and this thread only writes here,
        // atomically; the release store publishes the entry written above.
        unsafe {
            AtomicU16::from_ptr(ptr::addr_of_mut!((*self.entries.as_ptr()).resv))
                .store(tail, Ordering::Release);
        }
    }

    /// `len` bytes of buffer `bid` from `offset`.
    ///
    /// # Safety
    ///
    /// The caller owns `bid` (a completion delivered it with at least
    /// `offset + len` bytes, and it was not given back since): the kernel
    /// does not write it.
    unsafe fn bytes(&self, bid: u16, offset: u32, len: u32) -> &[u8] {
        debug_assert!(bid < BUF_COUNT && offset + len <= BUF_SIZE);
        // SAFETY: inside the data allocation (`bid < BUF_COUNT`, `offset +
        // len <= BUF_SIZE`); the kernel wrote these bytes and, by the
        // caller's ownership, writes nothing there while the slice lives.
        unsafe {
            core::slice::from_raw_parts(
                self.data
                    .as_ptr()
                    .add(usize::from(bid) * BUF_SIZE as usize + offset as usize),
                len as usize,
            )
        }
    }

    /// Frees the memory.
    ///
    /// # Safety
    ///
    /// The kernel must not use it any more: it was never registered, or it
    /// was unregistered with no receive request left in the kernel.
    unsafe fn free(self) {
        // SAFETY: allocated in `new` with these layouts; by the caller, no
        // one uses them any more.
        unsafe {
            alloc::dealloc(self.entries.as_ptr().cast(), Self::entries_layout());
            alloc::dealloc(self.data.as_ptr(), Self::data_layout());
        }
    }
}

/// Whether streams read through multishot receives (Linux 6.0: multishot
/// `IORING_OP_RECV`; 5.19: provided-buffer rings), unless
/// `HEARTH_URING_RECV=0` turns it off (readiness and `read` then, as on
/// older kernels).
fn recv_mode_wanted() -> bool {
    static WANTED: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *WANTED.get_or_init(|| {
        if std::env::var_os("HEARTH_URING_RECV").is_some_and(|v| v == "0") {
            return false;
        }
        kernel_version().is_some_and(|v| v >= (6, 0))
    })
}

/// The running kernel's `(major, minor)`, from `uname`.
fn kernel_version() -> Option<(u32, u32)> {
    // SAFETY: `utsname` is plain data; all zeroes is a valid value.
    let mut uts: libc::utsname = unsafe { std::mem::zeroed() };
    // SAFETY: `uname` writes into the live struct it is given.
    if unsafe { libc::uname(&mut uts) } != 0 {
        return None;
    }
    let release: Vec<u8> = uts
        .release
        .iter()
        .take_while(|&&c| c != 0)
        .map(|&c| c as u8)
        .collect();
    let release = std::str::from_utf8(&release).ok()?;
    let mut parts = release.split(|c: char| !c.is_ascii_digit());
    let major = parts.next()?.parse().ok()?;
    let minor = parts.next()?.parse().ok()?;
    Some((major, minor))
}

impl Ring {
    /// A ring whose eventfd (returned too, for [`Remote`](crate::executor::remote::Remote))
    /// is already watched.
    pub(crate) fn new() -> io::Result<(Ring, Arc<OwnedFd>)> {
        Ring::with_modes(TaskRun::wanted())
    }

    /// [`Ring::new`] with the first of `modes` the kernel accepts.
    fn with_modes(modes: &[TaskRun]) -> io::Result<(Ring, Arc<OwnedFd>)> {
        let (ring, deferred) = new_ring(ENTRIES, modes)?;
        // SAFETY: eventfd(2) takes no pointers; it returns a new descriptor
        // or -1.
        let fd = unsafe { libc::eventfd(0, libc::EFD_CLOEXEC | libc::EFD_NONBLOCK) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `fd` was just created and is owned by nothing else.
        let wake_fd = Arc::new(unsafe { OwnedFd::from_raw_fd(fd) });
        // Without provided buffers (an older kernel, or the registration
        // failed) streams use readiness and `read`, as listeners do.
        let bufs = if recv_mode_wanted() {
            BufRing::new(&ring).ok()
        } else {
            None
        };
        let ring = Ring {
            ring: RefCell::new(ring),
            deferred,
            slots: RefCell::new(Vec::new()),
            next_generation: Cell::new(1),
            taken: RefCell::new(VecDeque::with_capacity(256)),
            wake_fd: wake_fd.clone(),
            bufs,
            recvs_in_flight: Cell::new(0),
        };
        ring.push(poll_entry(wake_fd.as_raw_fd(), POLL_MASK, WAKE_DATA))?;
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
            // The entries this module makes are polls, multishot receives
            // and cancellations. Polls and cancellations carry a descriptor,
            // an event mask and a `user_data`, no pointer into memory. A
            // receive carries no pointer either: it names the buffer group,
            // whose memory (`bufs`) lives until no receive is in the kernel
            // (`Ring`'s drop waits for that, or leaks it). A queued entry
            // always reaches the kernel before its descriptor is closed
            // (`remove` submits the queue before returning to the socket's
            // drop, which closes it), so it never attaches to a reused
            // descriptor number.
            // SAFETY: by the above, no entry lets the kernel use freed memory.
            if unsafe { ring.submission().push(&entry) }.is_ok() {
                return Ok(());
            }
            submit(&ring, 0, self.deferred)?;
        }
    }

    /// Watches `fd` under `token` (both directions, edge-triggered).
    /// `stream`: a connected stream, whose reads may come from a multishot
    /// receive; returns whether they do (receive mode: see
    /// [`recv_read`](Self::recv_read)).
    pub(crate) fn add(&self, token: usize, fd: RawFd, stream: bool) -> io::Result<bool> {
        let generation = self.next_generation.get();
        // 31 bits (see `RECV_BIT`), never zero.
        self.next_generation.set(if generation >= MAX_GENERATION {
            1
        } else {
            generation + 1
        });
        let recv = stream && self.bufs.is_some();
        let token32 = u32::try_from(token).map_err(|_| {
            io::Error::other("hearth: more than 4 billion sockets on one io_uring reactor")
        })?;
        {
            let mut slots = self.slots.borrow_mut();
            if slots.len() <= token {
                slots.resize_with(token + 1, || Slot::FREE);
            }
            slots[token] = Slot {
                generation,
                fd,
                recv: recv.then(Box::default),
            };
        }
        let mask = if recv { STREAM_POLL_MASK } else { POLL_MASK };
        let pushed = self.push(poll_entry(fd, mask, user_data(generation, token32)));
        if let Err(e) = pushed {
            self.slots.borrow_mut()[token] = Slot::FREE;
            return Err(e);
        }
        Ok(recv)
    }

    /// Queues the multishot receive of `token`'s stream (in receive mode,
    /// none armed); it reaches the kernel with the next `io_uring_enter`.
    pub(crate) fn arm_recv(&self, token: usize) -> io::Result<()> {
        let (fd, data) = {
            let mut slots = self.slots.borrow_mut();
            let slot = slots
                .get_mut(token)
                .filter(|s| s.fd >= 0)
                .ok_or_else(|| io::Error::other("hearth: io_uring receive on a closed socket"))?;
            let (fd, generation) = (slot.fd, slot.generation);
            match &mut slot.recv {
                Some(r) if !r.armed => r.armed = true,
                _ => return Ok(()),
            }
            (fd, RECV_BIT | user_data(generation, token as u32))
        };
        let entry = opcode::RecvMulti::new(types::Fd(fd), BUF_GROUP)
            .build()
            .user_data(data);
        match self.push(entry) {
            Ok(()) => {
                self.recvs_in_flight.set(self.recvs_in_flight.get() + 1);
                Ok(())
            }
            Err(e) => {
                if let Some(r) = self.slots.borrow_mut()[token].recv.as_mut() {
                    r.armed = false;
                }
                Err(e)
            }
        }
    }

    /// Copies what `token`'s receive delivered into `buf` (as much as is
    /// queued and fits, across completions), giving each buffer emptied
    /// back to the ring; a partly read buffer stays queued with its offset.
    /// End of file and errors come after the data before them, in order.
    pub(crate) fn recv_read(&self, token: usize, buf: &mut [u8]) -> RecvRead {
        let mut slots = self.slots.borrow_mut();
        let Some(state) = slots.get_mut(token).and_then(|s| s.recv.as_mut()) else {
            return RecvRead::Empty { armed: false };
        };
        let Some(bufs) = self.bufs.as_ref() else {
            return RecvRead::Empty { armed: false };
        };
        let mut copied = 0;
        while let Some(&front) = state.queue.front() {
            match front {
                Delivered::Data { bid, len } => {
                    if copied == buf.len() {
                        break;
                    }
                    let start = state.offset;
                    let n = ((len - start) as usize).min(buf.len() - copied);
                    // SAFETY: the queue owns `bid` (a completion delivered
                    // `len` bytes into it; it goes back to the ring only
                    // below, when it is popped), and `start + n <= len`.
                    let bytes = unsafe { bufs.bytes(bid, start, n as u32) };
                    buf[copied..copied + n].copy_from_slice(bytes);
                    copied += n;
                    if start + n as u32 == len {
                        state.queue.pop_front();
                        state.offset = 0;
                        bufs.give_back(bid);
                    } else {
                        state.offset = start + n as u32;
                    }
                }
                _ if copied > 0 => break,
                Delivered::Eof => return RecvRead::Eof,
                Delivered::Error(errno) => {
                    state.queue.pop_front();
                    return RecvRead::Error(io::Error::from_raw_os_error(errno));
                }
            }
        }
        if copied > 0 {
            RecvRead::Data(copied)
        } else {
            RecvRead::Empty { armed: state.armed }
        }
    }

    /// Stops watching `token`'s descriptor, which the caller closes next.
    pub(crate) fn remove(&self, token: usize) {
        let (data, recv) = {
            let mut slots = self.slots.borrow_mut();
            let Some(slot) = slots.get_mut(token).filter(|s| s.fd >= 0) else {
                return;
            };
            slot.fd = -1;
            (user_data(slot.generation, token as u32), slot.recv.take())
        };
        if let Some(recv) = recv {
            // What nobody read goes back to the ring; completions still on
            // their way (the receive may deliver until the cancellation
            // reaches it) find the slot gone and give theirs back too.
            if let Some(bufs) = &self.bufs {
                for &d in &recv.queue {
                    if let Delivered::Data { bid, .. } = d {
                        bufs.give_back(bid);
                    }
                }
            }
            if recv.armed {
                let cancel = opcode::AsyncCancel::new(RECV_BIT | data)
                    .build()
                    .user_data(REMOVE_DATA);
                let _ = self.push(cancel);
            }
        }
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
            let _ = submit(&self.ring.borrow(), 0, self.deferred);
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
                        submit(&ring, 0, self.deferred)
                    }
                }
                None => submit(&ring, 1, self.deferred),
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
                let _ = self.push(poll_entry(self.wake_fd.as_raw_fd(), POLL_MASK, WAKE_DATA));
            }
            return;
        }
        if data & RECV_BIT != 0 {
            self.complete_recv(data, result, flags, dispatch);
            return;
        }
        let token = (data & u64::from(u32::MAX)) as usize;
        let generation = (data >> 32) as u32;
        let live = self
            .slots
            .borrow()
            .get(token)
            .filter(|s| s.fd >= 0 && s.generation == generation)
            .map(|s| (s.fd, s.recv.is_some()));
        let Some((fd, recv)) = live else {
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
            let mask = if recv { STREAM_POLL_MASK } else { POLL_MASK };
            let _ = self.push(poll_entry(fd, mask, data));
        }
    }

    /// A completion of a stream's multishot receive: its data (a buffer),
    /// end of file or error is queued for the reader, in order, and the
    /// reader woken. A receive ends (no `IORING_CQE_F_MORE`) at end of file,
    /// on an error, when the ring ran out of buffers (`ENOBUFS`: the reader
    /// reads the socket directly once the queue is empty, then arms a new
    /// receive), when cancelled, or when the kernel chooses to (a full
    /// completion queue): the reader arms the next one when it needs it.
    fn complete_recv(
        &self,
        data: u64,
        result: i32,
        flags: u32,
        dispatch: &mut impl FnMut(usize, u8),
    ) {
        let ended = !cqueue::more(flags);
        if ended {
            self.recvs_in_flight
                .set(self.recvs_in_flight.get().saturating_sub(1));
        }
        let bid = cqueue::buffer_select(flags);
        let token = (data & u64::from(u32::MAX)) as usize;
        let generation = ((data & !RECV_BIT) >> 32) as u32;
        let mut slots = self.slots.borrow_mut();
        let state = slots
            .get_mut(token)
            .filter(|s| s.fd >= 0 && s.generation == generation)
            .and_then(|s| s.recv.as_mut());
        let Some(state) = state else {
            // The socket is gone: its buffer goes straight back.
            if let (Some(bid), Some(bufs)) = (bid, &self.bufs) {
                bufs.give_back(bid);
            }
            return;
        };
        if ended {
            state.armed = false;
        }
        match (bid, result) {
            (Some(bid), n) if n > 0 => state.queue.push_back(Delivered::Data {
                bid,
                len: (n as u32).min(BUF_SIZE),
            }),
            (Some(bid), _) => {
                // A buffer with no bytes in it (not expected): back it goes.
                if let Some(bufs) = &self.bufs {
                    bufs.give_back(bid);
                }
                if result == 0 {
                    state.queue.push_back(Delivered::Eof);
                }
            }
            (None, 0) => state.queue.push_back(Delivered::Eof),
            (None, n) if n == -libc::ENOBUFS || n == -libc::ECANCELED => {}
            (None, n) if n < 0 => state.queue.push_back(Delivered::Error(-n)),
            (None, _) => {}
        }
        drop(slots);
        dispatch(token, super::reactor::READABLE);
    }
}

impl Drop for Ring {
    fn drop(&mut self) {
        let Some(bufs) = self.bufs.take() else {
            return;
        };
        // The buffers may be freed only when no receive can write into them:
        // cancel every receive still armed, then wait (a bounded time) for
        // each to end. Whatever does not end in time is leaked, never freed
        // under the kernel.
        let armed: Vec<u64> = self
            .slots
            .borrow()
            .iter()
            .enumerate()
            .filter(|(_, s)| s.fd >= 0 && s.recv.as_ref().is_some_and(|r| r.armed))
            .map(|(token, s)| RECV_BIT | user_data(s.generation, token as u32))
            .collect();
        for data in armed {
            let cancel = opcode::AsyncCancel::new(data)
                .build()
                .user_data(REMOVE_DATA);
            let _ = self.push(cancel);
        }
        // Completions already taken count too.
        let taken: Vec<(u64, i32, u32)> = self.taken.borrow_mut().drain(..).collect();
        self.count_ended_recvs(taken);
        let give_up = std::time::Instant::now() + Duration::from_secs(5);
        while self.recvs_in_flight.get() > 0 && std::time::Instant::now() < give_up {
            let ring = self.ring.get_mut();
            let ts = types::Timespec::from(Duration::from_millis(100));
            let args = types::SubmitArgs::new().timespec(&ts);
            match ring.submitter().submit_with_args(1, &args) {
                Ok(_) => {}
                Err(e) if matches!(e.raw_os_error(), Some(libc::ETIME | libc::EINTR)) => {}
                Err(_) => break,
            }
            let done: Vec<(u64, i32, u32)> = ring
                .completion()
                .map(|c| (c.user_data(), c.result(), c.flags()))
                .collect();
            self.count_ended_recvs(done);
        }
        if self.recvs_in_flight.get() == 0
            && self
                .ring
                .get_mut()
                .submitter()
                .unregister_buf_ring(BUF_GROUP)
                .is_ok()
        {
            // SAFETY: no receive is in the kernel and the ring is
            // unregistered: nothing can use the memory any more.
            unsafe { bufs.free() };
        } else {
            // The kernel may still write into the buffers: keep them
            // (`BufRing` has no destructor; not calling `free` leaks them).
            let _leaked = bufs;
        }
    }
}

impl Ring {
    /// Counts the receives that `completions` end (for `Drop`).
    fn count_ended_recvs(&self, completions: Vec<(u64, i32, u32)>) {
        for (data, _, flags) in completions {
            if data & RECV_BIT != 0
                && data != WAKE_DATA
                && data != REMOVE_DATA
                && !cqueue::more(flags)
            {
                self.recvs_in_flight
                    .set(self.recvs_in_flight.get().saturating_sub(1));
            }
        }
    }
}

/// `user_data` of a registration's poll.
fn user_data(generation: u32, token: u32) -> u64 {
    (u64::from(generation) << 32) | u64::from(token)
}

/// A multishot poll of `fd` for `mask`.
fn poll_entry(fd: RawFd, mask: u32, data: u64) -> squeue::Entry {
    opcode::PollAdd::new(types::Fd(fd), mask)
        .multi(true)
        .build()
        .user_data(data)
}

/// `io_uring_enter`: submit what is queued and wait for `want` completions.
/// `deferred`: the ring's completion work waits for an enter with
/// `IORING_ENTER_GETEVENTS` ([`TaskRun::Defer`]), so every enter asks for it
/// (with `want == 0` the kernel runs the work and returns without waiting):
/// a cancellation's completion, which lets go of the socket's file, is such
/// work, and so is every receive that collects data.
fn submit(ring: &IoUring, want: usize, deferred: bool) -> io::Result<usize> {
    if want > 0 || !deferred {
        return ring.submit_and_wait(want);
    }
    let queued = ring_queued(ring);
    // No argument (`None`, size 0) and no flag beyond `GETEVENTS`: the same
    // call as `submit_and_wait(0)` with that flag, which only makes the
    // kernel run the ring's pending completion work. The queued entries are
    // valid (see `Ring::push`).
    // SAFETY: by the above.
    unsafe {
        ring.submitter()
            .enter::<libc::sigset_t>(queued, 0, IORING_ENTER_GETEVENTS, None)
    }
}

/// `IORING_ENTER_GETEVENTS` (`io_uring` does not export its constants).
const IORING_ENTER_GETEVENTS: u32 = 1;

/// Entries queued and not yet submitted.
fn ring_queued(ring: &IoUring) -> u32 {
    // The submission queue is read (its length), not written; no other
    // handle to it is alive (the ring is borrowed by one caller).
    // SAFETY: by the above.
    let len = unsafe { ring.submission_shared() }.len();
    len as u32
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The entry ring as the kernel reads it: every buffer once, at its own
    /// address, the tail published in entry 0's last two bytes; buffers
    /// given back land at the tail, wrapping around. (No kernel here: this
    /// runs under Miri too.)
    #[test]
    fn buffers_go_back_at_the_tail() {
        let bufs = BufRing::alloc().unwrap();
        let entry = |i: usize| {
            // SAFETY: `i < BUF_COUNT`; nothing else uses the entries.
            unsafe { &*bufs.entries.as_ptr().add(i) }
        };
        let tail = || {
            // SAFETY: entry 0's `resv`, written only through this atomic.
            unsafe { AtomicU16::from_ptr(ptr::addr_of_mut!((*bufs.entries.as_ptr()).resv)) }
                .load(Ordering::Acquire)
        };
        assert_eq!(tail(), BUF_COUNT);
        let base = bufs.data.as_ptr().expose_provenance() as u64;
        for i in [0, 1, usize::from(BUF_COUNT) - 1] {
            assert_eq!(entry(i).bid, i as u16);
            assert_eq!(entry(i).len, BUF_SIZE);
            assert_eq!(entry(i).addr, base + (i as u64) * u64::from(BUF_SIZE));
        }
        // The kernel took buffers 5 and 9 (and filled 5); they come back.
        // SAFETY: buffer 5 is ours (as if a completion named it).
        assert!(unsafe { bufs.bytes(5, 10, 20) }.iter().all(|&b| b == 0));
        bufs.give_back(9);
        bufs.give_back(5);
        assert_eq!(tail(), BUF_COUNT.wrapping_add(2));
        assert_eq!(entry(0).bid, 9);
        assert_eq!(entry(1).bid, 5);
        assert_eq!(entry(1).addr, base + 5 * u64::from(BUF_SIZE));
        // SAFETY: never registered.
        unsafe { bufs.free() };
    }

    /// A ring whose completion work is deferred to its thread's
    /// `io_uring_enter` (`DEFER_TASKRUN`) still takes remote wakes, hands a
    /// busy executor's look (a zero timeout) the data that arrived, and
    /// lets go of a removed socket at once (its port can be bound again).
    #[test]
    #[cfg_attr(miri, ignore)] // no io_uring under Miri
    fn deferred_task_work_runs_in_every_enter() {
        use std::io::Write;
        use std::net::{TcpListener, TcpStream};
        use std::time::Instant;

        if unsupported().is_some() || kernel_version().is_none_or(|v| v < (6, 1)) {
            eprintln!("no DEFER_TASKRUN here (io_uring off or Linux < 6.1): skipped");
            return;
        }
        let (ring, wake_fd) = Ring::with_modes(&[TaskRun::Defer]).unwrap();
        assert!(ring.deferred);

        // A wake from another thread ends a long wait.
        let start = Instant::now();
        let waker = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(50));
            wake(&wake_fd).unwrap();
        });
        while ring.poll(Some(Duration::from_secs(5)), |_, _| {}) == 0 {
            assert!(
                start.elapsed() < Duration::from_secs(5),
                "the wake was lost"
            );
        }
        assert!(start.elapsed() < Duration::from_secs(4));
        waker.join().unwrap();

        // Data reaches a look that does not wait.
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let mut client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (server, _) = listener.accept().unwrap();
        server.set_nonblocking(true).unwrap();
        let recv = ring.add(0, server.as_raw_fd(), true).unwrap();
        let mut buf = [0; 16];
        if recv {
            ring.arm_recv(0).unwrap();
            ring.poll(Some(Duration::ZERO), |_, _| {});
            client.write_all(b"hello").unwrap();
            let start = Instant::now();
            let mut got = 0;
            while got == 0 {
                assert!(
                    start.elapsed() < Duration::from_secs(5),
                    "the receive never came"
                );
                std::thread::sleep(Duration::from_millis(5));
                ring.poll(Some(Duration::ZERO), |token, _| assert_eq!(token, 0));
                if let RecvRead::Data(n) = ring.recv_read(0, &mut buf) {
                    got = n;
                }
            }
            assert_eq!(&buf[..got], b"hello");
        }
        ring.remove(0);
        drop(server);

        // A listener's poll ends with its removal: the port is free again.
        let addr = listener.local_addr().unwrap();
        listener.set_nonblocking(true).unwrap();
        ring.add(1, listener.as_raw_fd(), false).unwrap();
        ring.poll(Some(Duration::ZERO), |_, _| {});
        ring.remove(1);
        drop(listener);
        TcpListener::bind(addr).expect("the removed listener's port is still held");
    }
}
