//! The executor's table of incomplete tasks.
//!
//! Shutdown must find every task that has not finished, including those only
//! a stored `Waker` refers to, to drop their futures on the owner thread.
//! A task joins the table when it first returns `Pending` (before that, its
//! run-queue entry or its poll holds it, and shutdown finds it in the run
//! queue), so a task that finishes in its first poll never touches it. A
//! slab (a `Vec` of slots with a free list threaded through the vacant ones)
//! does it with one `u32` index in the task header instead of two list
//! pointers: insert and remove are O(1), and the table is one contiguous
//! allocation that is reused as tasks come and go.

use core::cell::{Cell, RefCell};
use core::ptr::NonNull;

use super::task::{Header, TaskRef};

/// A slot: an occupied slot holds a task pointer (owning one local
/// reference); a vacant one holds a pointer without provenance whose address
/// is `(next_free << 1) | 1` (task pointers are aligned, so their low bit is
/// 0). Pointers, not integers, so occupied slots keep their provenance.
type Slot = *mut Header;

fn vacant(next_free: u32) -> Slot {
    core::ptr::without_provenance_mut(((next_free as usize) << 1) | 1)
}

fn is_vacant(slot: Slot) -> bool {
    slot.addr() & 1 != 0
}

const NONE: u32 = u32::MAX;

pub(crate) struct TaskSlab {
    slots: RefCell<Vec<Slot>>,
    /// Head of the free list, or `NONE`.
    free: Cell<u32>,
    len: Cell<usize>,
}

impl TaskSlab {
    pub(crate) fn new() -> Self {
        TaskSlab {
            slots: RefCell::new(Vec::new()),
            free: Cell::new(NONE),
            len: Cell::new(0),
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.len.get()
    }

    /// Stores `task` (taking its reference) and returns its index.
    ///
    /// # Panics
    /// With more than `u32::MAX - 1` incomplete tasks at once.
    pub(crate) fn insert(&self, task: TaskRef) -> u32 {
        let ptr = task.into_raw().as_ptr();
        let mut slots = self.slots.borrow_mut();
        let index = match self.free.get() {
            NONE => {
                let index = u32::try_from(slots.len()).ok().filter(|&i| i != NONE);
                let index = index.expect("hearth: more than 4 billion tasks alive at once");
                slots.push(ptr);
                index
            }
            index => {
                let slot = &mut slots[index as usize];
                self.free.set((slot.addr() >> 1) as u32);
                *slot = ptr;
                index
            }
        };
        self.len.set(self.len.get() + 1);
        index
    }

    /// Removes the task at `index` and returns the table's reference to it.
    pub(crate) fn remove(&self, index: u32) -> TaskRef {
        let mut slots = self.slots.borrow_mut();
        let slot = &mut slots[index as usize];
        let ptr = *slot;
        debug_assert!(!is_vacant(ptr), "removing a vacant task slot");
        *slot = vacant(self.free.get());
        self.free.set(index);
        self.len.set(self.len.get() - 1);
        // SAFETY: an occupied slot holds a pointer that owns one local
        // reference (`insert`), which moves to the caller.
        unsafe { TaskRef::from_raw(NonNull::new_unchecked(ptr)) }
    }

    /// The number of slots (occupied or not).
    pub(crate) fn slots(&self) -> usize {
        self.slots.borrow().len()
    }

    /// A new reference to the task in slot `index`, if it is occupied.
    pub(crate) fn get(&self, index: usize) -> Option<TaskRef> {
        let ptr = *self.slots.borrow().get(index)?;
        if is_vacant(ptr) {
            return None;
        }
        // SAFETY: an occupied slot owns a reference, which keeps the task
        // alive; borrow it to take another one.
        let borrowed =
            core::mem::ManuallyDrop::new(unsafe { TaskRef::from_raw(NonNull::new_unchecked(ptr)) });
        Some(TaskRef::clone(&borrowed))
    }
}
