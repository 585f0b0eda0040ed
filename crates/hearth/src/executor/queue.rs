//! The run queue: a ring buffer of task pointers.
//!
//! A task is in the queue at most once (its `SCHEDULED` bit dedupes wakes).
//! Each entry holds a local reference, owned by the queue until popped.
//!
//! The entries live in a buffer of their own rather than as a link through
//! the task headers: popping a task does not have to read the previous
//! task's header first to find it, so the executor can fetch the next tasks'
//! memory while it polls this one (with a burst of spawned tasks far larger
//! than the caches, the intrusive list made every pop wait for a cache miss
//! of the task before), and the header is one word smaller. The buffer keeps
//! its capacity across bursts, so a steady workload allocates nothing; it
//! shrinks when the executor parks ([`RunQueue::shrink`]).

use core::cell::RefCell;
use core::ptr::NonNull;
use std::collections::VecDeque;

use super::task::{Header, TaskRef};

/// The capacity an idle run queue keeps (entries).
const IDLE_CAPACITY: usize = 1024;

pub(crate) struct RunQueue {
    /// `RefCell`, not `UnsafeCell`: no user code runs while it is borrowed,
    /// but the global allocator does (when the buffer grows), and it is
    /// allowed to wake tasks.
    entries: RefCell<VecDeque<NonNull<Header>>>,
}

impl RunQueue {
    pub(crate) const fn new() -> Self {
        RunQueue {
            entries: RefCell::new(VecDeque::new()),
        }
    }

    #[inline]
    pub(crate) fn len(&self) -> usize {
        self.entries.borrow().len()
    }

    /// Appends `task`; the queue takes its reference.
    #[inline]
    pub(crate) fn push(&self, task: TaskRef) {
        let ptr = task.ptr();
        // If `push_back` unwinds (capacity overflow), `task` is dropped with
        // it and the queue is unchanged.
        self.entries.borrow_mut().push_back(ptr);
        let _ = task.into_raw();
    }

    /// Removes the first task and hands its reference to the caller.
    #[inline]
    pub(crate) fn pop(&self) -> Option<TaskRef> {
        let ptr = self.entries.borrow_mut().pop_front()?;
        // SAFETY: the reference the queue held moves to the caller.
        Some(unsafe { TaskRef::from_raw(ptr) })
    }

    /// Gives memory of a burst back: an empty queue keeps at most
    /// [`IDLE_CAPACITY`] entries' worth.
    pub(crate) fn shrink(&self) {
        let mut entries = self.entries.borrow_mut();
        if entries.capacity() > IDLE_CAPACITY {
            let keep = IDLE_CAPACITY.max(entries.len());
            entries.shrink_to(keep);
        }
    }
}

impl Drop for RunQueue {
    fn drop(&mut self) {
        while let Some(task) = self.pop() {
            drop(task);
        }
    }
}
