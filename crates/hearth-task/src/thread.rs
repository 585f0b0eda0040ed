//! A cheap, never-reused identity of the calling thread.
//!
//! Dual wakers hand out their `!Send` twin only on the thread that owns them
//! (see `raw`). The check needs the current thread's identity on every
//! `cx.local_waker()`, so it must be cheaper than `std::thread::current()`
//! (which clones an `Arc`). A `const`-initialised thread-local without a
//! destructor compiles to one thread-pointer-relative load. Tokens come from a
//! global counter and are never reused, so a thread that starts after an owner
//! thread died can never pass for it. Token `0` means "no thread".

use crate::atomic::{AtomicUsize, Ordering};
use core::cell::Cell;

/// A token no thread has: the owner token of a released dual waker.
pub(crate) const NO_THREAD: usize = 0;

#[cfg(not(loom))]
static NEXT: AtomicUsize = AtomicUsize::new(1);

#[cfg(not(loom))]
std::thread_local! {
    static TOKEN: Cell<usize> = const { Cell::new(NO_THREAD) };
}

#[cfg(loom)]
loom::lazy_static! {
    static ref NEXT: AtomicUsize = AtomicUsize::new(1);
}

#[cfg(loom)]
loom::thread_local! {
    static TOKEN: Cell<usize> = Cell::new(NO_THREAD);
}

/// The calling thread's token (never [`NO_THREAD`]).
#[inline]
pub(crate) fn current() -> usize {
    TOKEN.with(|t| {
        let token = t.get();
        if token != NO_THREAD {
            token
        } else {
            assign(t)
        }
    })
}

#[cold]
fn assign(slot: &Cell<usize>) -> usize {
    // Relaxed: the value only needs to be unique, not ordered with anything.
    let token = NEXT.fetch_add(1, Ordering::Relaxed);
    if token == NO_THREAD {
        // 2^64 threads later: refuse to hand out a token twice.
        std::process::abort();
    }
    slot.set(token);
    token
}
