//! A per-thread cache of task allocations, by size class.
//!
//! # Why
//!
//! A burst of spawns followed by their completions frees many task blocks at
//! once. glibc's malloc keeps them in its fast bins until a larger request
//! consolidates them into the top chunk and trims it back to the kernel; the
//! next burst then page-faults the same memory in again (measured: about a
//! third of a spawn-and-await's time in `malloc_consolidate`, `_int_malloc`
//! and the kernel's page-fault path). Keeping freed task blocks in a free
//! list of this thread, and reusing them for the next tasks of the same size
//! class, takes the allocator out of the loop; a task is still one
//! allocation (or none, when a cached block is reused).
//!
//! # Policy
//!
//! - Only blocks of at most [`MAX_CLASS`] bytes and an alignment of at most
//!   [`ALIGN`] are cached. A cached block is allocated with its class's
//!   layout, so any task of that class may reuse it. Classes are
//!   `16·k + 8` bytes: glibc's malloc (16-byte aligned) serves a request
//!   from a chunk 8 bytes larger in steps of 16, so these sizes waste
//!   nothing there (a 120-byte task takes a 128-byte chunk, as with `Box`).
//! - While an executor runs on this thread, a freed block is always kept:
//!   the executor is busy, and the next spawn will want it.
//! - Elsewhere (a `Waker` dropped last on a foreign thread, an executor's
//!   shutdown) at most [`IDLE_KEEP`] blocks per class are kept.
//! - When an executor parks (nothing to run) or drops, the cache of its
//!   thread is trimmed to [`IDLE_KEEP`] blocks per class: memory taken by a
//!   burst goes back to the allocator once the burst is over.
//! - The thread's exit frees everything.
//!
//! # Invariants
//!
//! Each class is an intrusive singly linked list through the free blocks
//! (the first word of a free block holds the next one). Every block in a
//! list was allocated by the global allocator with that class's layout and
//! is owned by the list alone. The lists are touched only by their thread.

use core::alloc::Layout;
use core::cell::Cell;
use core::ptr::{self, NonNull};

/// The alignment of every cached block (and the granularity of the classes).
pub(crate) const ALIGN: usize = 16;
/// Size classes.
const CLASSES: usize = 32;
/// The largest cached block, in bytes.
pub(crate) const MAX_CLASS: usize = CLASSES * ALIGN + 8;
/// Blocks kept per class when no executor is running on the thread.
pub(crate) const IDLE_KEEP: usize = 64;

/// One size class: a free list and its length.
struct Class {
    head: Cell<*mut u8>,
    len: Cell<usize>,
}

impl Class {
    const fn new() -> Class {
        Class {
            head: Cell::new(ptr::null_mut()),
            len: Cell::new(0),
        }
    }
}

/// This thread's lists; frees every block when the thread exits.
struct Cache {
    classes: [Class; CLASSES],
}

impl Drop for Cache {
    fn drop(&mut self) {
        for (i, class) in self.classes.iter().enumerate() {
            // SAFETY: `class` is the list of class `i`, owned by this thread.
            unsafe { release(class, class_layout(i), 0) };
        }
    }
}

std::thread_local! {
    static CACHE: Cache = const {
        Cache {
            classes: [const { Class::new() }; CLASSES],
        }
    };
}

/// The class index of `layout`, if it is cached at all.
#[inline]
fn class_of(layout: Layout) -> Option<usize> {
    if layout.align() > ALIGN || layout.size() > MAX_CLASS || layout.size() == 0 {
        return None;
    }
    // Class `i` holds `(i + 1)·16 + 8` bytes.
    Some(layout.size().saturating_sub(8).div_ceil(ALIGN).max(1) - 1)
}

/// The layout every block of class `i` is allocated with.
#[inline]
fn class_layout(i: usize) -> Layout {
    // A non-zero size of at most `MAX_CLASS` and a power-of-two alignment:
    // always a valid layout.
    Layout::from_size_align((i + 1) * ALIGN + 8, ALIGN).expect("a valid class layout")
}

/// Allocates a block for `layout` (non-zero size), from this thread's cache
/// if it has one of the class.
///
/// The block must be given back with [`dealloc`] and the same `layout`.
#[inline]
pub(crate) fn alloc(layout: Layout) -> NonNull<u8> {
    let layout = match class_of(layout) {
        Some(i) => {
            let cached = CACHE
                .try_with(|cache| {
                    let class = &cache.classes[i];
                    let head = class.head.get();
                    if head.is_null() {
                        return None;
                    }
                    // SAFETY: a free block of the list: its first word holds
                    // the next one (module invariants).
                    class.head.set(unsafe { head.cast::<*mut u8>().read() });
                    class.len.set(class.len.get() - 1);
                    NonNull::new(head)
                })
                .ok()
                .flatten();
            if let Some(block) = cached {
                return block;
            }
            class_layout(i)
        }
        None => layout,
    };
    // SAFETY: `layout` has a non-zero size (the caller's, or a class's).
    let block = unsafe { std::alloc::alloc(layout) };
    NonNull::new(block).unwrap_or_else(|| std::alloc::handle_alloc_error(layout))
}

/// Gives back a block from [`alloc`]. `busy`: an executor is running on
/// this thread, so the block is kept whatever the class's length.
///
/// # Safety
/// `block` came from [`alloc`] with this `layout` and is not used again.
#[inline]
pub(crate) unsafe fn dealloc(block: NonNull<u8>, layout: Layout, busy: bool) {
    let Some(i) = class_of(layout) else {
        // SAFETY: allocated by the global allocator with `layout` (`alloc`).
        unsafe { std::alloc::dealloc(block.as_ptr(), layout) };
        return;
    };
    let kept = CACHE.try_with(|cache| {
        let class = &cache.classes[i];
        if !busy && class.len.get() >= IDLE_KEEP {
            return false;
        }
        // SAFETY: the block is ours, at least a word long and aligned to
        // `ALIGN`; it joins the list (module invariants).
        unsafe { block.as_ptr().cast::<*mut u8>().write(class.head.get()) };
        class.head.set(block.as_ptr());
        class.len.set(class.len.get() + 1);
        true
    });
    if kept != Ok(true) {
        // SAFETY: blocks of class `i` are allocated with its layout.
        unsafe { std::alloc::dealloc(block.as_ptr(), class_layout(i)) };
    }
}

/// Frees this thread's cached blocks beyond [`IDLE_KEEP`] per class.
pub(crate) fn trim() {
    let _ = CACHE.try_with(|cache| {
        for (i, class) in cache.classes.iter().enumerate() {
            // SAFETY: this thread's list of class `i`.
            unsafe { release(class, class_layout(i), IDLE_KEEP) };
        }
    });
}

/// Frees blocks from the front of `class` until `keep` are left.
///
/// # Safety
/// `class` is a list of this thread whose blocks have `layout`.
unsafe fn release(class: &Class, layout: Layout, keep: usize) {
    while class.len.get() > keep {
        let head = class.head.get();
        // SAFETY: `len > 0`, so `head` is a free block of the list.
        class.head.set(unsafe { head.cast::<*mut u8>().read() });
        class.len.set(class.len.get() - 1);
        // SAFETY: allocated with the class's layout; the list owned it.
        unsafe { std::alloc::dealloc(head, layout) };
    }
}

/// Blocks cached on this thread, over all classes.
#[cfg(test)]
pub(crate) fn cached() -> usize {
    CACHE.with(|cache| cache.classes.iter().map(|c| c.len.get()).sum())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_are_reused_by_class_and_trimmed() {
        trim();
        // Class sizes: 24, 40, ..., 120, 136, ..., `MAX_CLASS`.
        assert_eq!(class_of(Layout::from_size_align(1, 1).unwrap()), Some(0));
        assert_eq!(class_of(Layout::from_size_align(24, 8).unwrap()), Some(0));
        assert_eq!(class_of(Layout::from_size_align(25, 8).unwrap()), Some(1));
        assert_eq!(class_of(Layout::from_size_align(120, 8).unwrap()), Some(6));
        assert_eq!(class_layout(6).size(), 120);
        assert_eq!(class_of(Layout::from_size_align(128, 16).unwrap()), Some(7));
        assert_eq!(class_layout(7).size(), 136);
        let largest = Layout::from_size_align(MAX_CLASS, 8).unwrap();
        assert_eq!(class_layout(class_of(largest).unwrap()).size(), MAX_CLASS);
        for i in 0..CLASSES {
            assert_eq!(class_of(class_layout(i)), Some(i));
        }
        let small = Layout::from_size_align(106, 8).unwrap();
        let same_class = Layout::from_size_align(120, 8).unwrap();
        let a = alloc(small);
        let before = cached();
        // SAFETY: from `alloc` with this layout.
        unsafe { dealloc(a, small, true) };
        assert_eq!(cached(), before + 1);
        let b = alloc(same_class);
        assert_eq!(a, b, "a block of the same class is reused");
        assert_eq!(cached(), before);
        // Not cached: too large, too aligned.
        for layout in [
            Layout::from_size_align(MAX_CLASS + 1, 8).unwrap(),
            Layout::from_size_align(64, 64).unwrap(),
        ] {
            let p = alloc(layout);
            // SAFETY: as above.
            unsafe { dealloc(p, layout, true) };
            assert_eq!(cached(), before);
        }
        // Busy: kept beyond the idle limit; trimmed afterwards.
        let blocks: Vec<_> = (0..IDLE_KEEP + 10).map(|_| alloc(small)).collect();
        for p in blocks {
            // SAFETY: as above.
            unsafe { dealloc(p, small, true) };
        }
        assert!(cached() >= IDLE_KEEP + 10);
        trim();
        assert!(cached() <= IDLE_KEEP);
        // Idle: not kept beyond the limit.
        let blocks: Vec<_> = (0..IDLE_KEEP + 10).map(|_| alloc(small)).collect();
        for p in blocks {
            // SAFETY: as above.
            unsafe { dealloc(p, small, false) };
        }
        assert!(cached() <= IDLE_KEEP);
        // SAFETY: as above.
        unsafe { dealloc(b, same_class, false) };
    }
}
