//! The run queue: an intrusive FIFO through the task headers.
//!
//! A task is in the queue at most once (its `SCHEDULED` bit dedupes wakes),
//! so one `next` link per header suffices: push and pop are a few plain
//! loads and stores, and the queue never allocates. Each queued task holds a
//! local reference, owned by the queue until popped.

use core::cell::Cell;
use core::ptr::NonNull;

use super::task::{Header, TaskRef};

pub(crate) struct RunQueue {
    head: Cell<Option<NonNull<Header>>>,
    tail: Cell<Option<NonNull<Header>>>,
    len: Cell<usize>,
}

impl RunQueue {
    pub(crate) const fn new() -> Self {
        RunQueue {
            head: Cell::new(None),
            tail: Cell::new(None),
            len: Cell::new(0),
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.len.get()
    }

    /// Appends `task`; the queue takes its reference.
    #[inline]
    pub(crate) fn push(&self, task: TaskRef) {
        let ptr = task.into_raw();
        // SAFETY: the queue owns a reference to every member, so they are alive.
        unsafe { ptr.as_ref() }.set_next_ready(None);
        match self.tail.get() {
            // SAFETY: as above.
            Some(tail) => unsafe { tail.as_ref() }.set_next_ready(Some(ptr)),
            None => self.head.set(Some(ptr)),
        }
        self.tail.set(Some(ptr));
        self.len.set(self.len.get() + 1);
    }

    /// Removes the first task and hands its reference to the caller.
    #[inline]
    pub(crate) fn pop(&self) -> Option<TaskRef> {
        let ptr = self.head.get()?;
        // SAFETY: the queue owns a reference to every member.
        let next = unsafe { ptr.as_ref() }.next_ready();
        self.head.set(next);
        if next.is_none() {
            self.tail.set(None);
        }
        self.len.set(self.len.get() - 1);
        // SAFETY: the reference the queue held moves to the caller.
        Some(unsafe { TaskRef::from_raw(ptr) })
    }
}

impl Drop for RunQueue {
    fn drop(&mut self) {
        while let Some(task) = self.pop() {
            drop(task);
        }
    }
}
