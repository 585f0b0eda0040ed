//! What the fault tests read from `/proc` and the resource limits they set
//! (Linux, where `rlim_t` is `u64`). Included with `mod support;` by the tests that use it.
#![allow(dead_code)] // each includer uses a part

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

/// The system allocator, counting the bytes live in it (allocated and not
/// yet freed, by every thread). A test binary that wants the count makes it
/// its global allocator:
///
/// ```ignore
/// #[global_allocator]
/// static ALLOC: support::Counting = support::Counting;
/// ```
pub struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);

/// Heap bytes live now, if [`Counting`] is the global allocator.
pub fn heap_bytes() -> usize {
    LIVE.load(Ordering::Relaxed)
}

// SAFETY: every call is forwarded to `System` with the caller's arguments;
// the counter only observes sizes.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded, same contract.
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            LIVE.fetch_add(layout.size(), Ordering::Relaxed);
        }
        p
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded, same contract.
        let p = unsafe { System.alloc_zeroed(layout) };
        if !p.is_null() {
            LIVE.fetch_add(layout.size(), Ordering::Relaxed);
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded, same contract.
        unsafe { System.dealloc(ptr, layout) };
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: forwarded, same contract.
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            LIVE.fetch_add(new_size, Ordering::Relaxed);
            LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        }
        p
    }
}

/// Asks the C allocator to give the memory it keeps free back to the system
/// (`malloc_trim`), so that RSS shows what is in use rather than what the
/// allocator caches for reuse.
pub fn trim_heap() {
    // SAFETY: `malloc_trim` only releases free memory; it has no
    // preconditions.
    unsafe { libc::malloc_trim(0) };
}

/// The file descriptors this process has open, by number.
pub fn open_fds() -> Vec<u32> {
    let dir = std::fs::read_dir("/proc/self/fd").expect("/proc/self/fd");
    let mut fds: Vec<u32> = dir
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .collect();
    // One of them was the directory being read; it is closed now.
    fds.retain(|&fd| std::fs::metadata(format!("/proc/self/fd/{fd}")).is_ok());
    fds.sort_unstable();
    fds
}

/// This process's resident set size, in bytes (`/proc/self/statm`).
pub fn rss_bytes() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").expect("/proc/self/statm");
    let pages: u64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .expect("statm: resident pages");
    // SAFETY: `sysconf` only reads a configuration value.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    pages * page as u64
}

/// The CPU time (user + system) process `pid` has used so far
/// (`/proc/<pid>/stat`, fields 14 and 15).
pub fn cpu_time(pid: u32) -> Duration {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("/proc/<pid>/stat");
    // The command name (field 2) may hold spaces: count from its closing ')'.
    let rest = &stat[stat.rfind(')').expect("stat: comm") + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: u64 = fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap();
    // SAFETY: `sysconf` only reads a configuration value.
    let per_second = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as u64;
    Duration::from_nanos(ticks * 1_000_000_000 / per_second)
}

/// The soft and hard `RLIMIT_NOFILE` of this process.
pub fn nofile_limit() -> (u64, u64) {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `lim` is a valid `rlimit` for the call to fill in.
    let rc = unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) };
    assert_eq!(rc, 0, "getrlimit: {}", std::io::Error::last_os_error());
    (lim.rlim_cur, lim.rlim_max)
}

/// The soft `RLIMIT_NOFILE` under which exactly `free` more descriptors can
/// be opened (new descriptors take the lowest free numbers, and a limit
/// below an open descriptor leaves that one open).
pub fn limit_leaving_free(free: u64) -> u64 {
    let open = open_fds();
    let mut limit = 0;
    let mut left = free;
    while left > 0 {
        if !open.contains(&(limit as u32)) {
            left -= 1;
        }
        limit += 1;
    }
    limit
}

/// Sets the soft `RLIMIT_NOFILE` of this process (the hard one stays): no
/// descriptor numbered `soft` or above can be opened from then on.
pub fn set_nofile_soft_limit(soft: u64) {
    let (_, hard) = nofile_limit();
    assert!(
        soft <= hard,
        "want {soft} descriptors, the hard limit is {hard}"
    );
    let lim = libc::rlimit {
        rlim_cur: soft,
        rlim_max: hard,
    };
    // SAFETY: `lim` is a valid `rlimit`; lowering or raising the soft limit
    // up to the hard one is always allowed.
    let rc = unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &lim) };
    assert_eq!(rc, 0, "setrlimit: {}", std::io::Error::last_os_error());
}
