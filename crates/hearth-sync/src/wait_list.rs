//! `WaitList`: the FIFO of parked tasks every local primitive is built on.
//!
//! A doubly linked list threaded through a [`Slab`] by index: push at the
//! back, pop at the front and remove from anywhere are O(1), and a waiter's
//! key stays valid until the waiter itself removes its node.
//!
//! # Invariants
//!
//! - A node is *linked* while its waiter is waiting. Whoever hands the waiter
//!   what it waited for (a permit, a notification, a close) unlinks the node
//!   and records the outcome in its `data`, but leaves it in the slab: only
//!   the waiter's future removes its node, on completion or drop. So a key
//!   never dangles and needs no generation.
//! - The list never drops or wakes a waker itself: every method that gives a
//!   waker up returns it, and the caller wakes or drops it after releasing the
//!   `RefCell` borrow around the list. A waker's `wake` or `drop` may run
//!   arbitrary code (even drop another waiter of this list), so it must never
//!   run while the list is borrowed.
//! - The state is complete before any waker runs: a waker that panics leaves
//!   the list consistent, and a loop over wakers finishes the others before
//!   the panic goes on ([`wake_all`], [`crate::unwind`]).

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use slab::Slab;

use hearth_task::{ContextExt, LocalWaker};

use crate::unwind::run_to_end;

const NIL: usize = usize::MAX;

/// One parked waiter.
struct Node<T> {
    /// The previous linked node, or `NIL`. Meaningless when unlinked.
    prev: usize,
    /// The next linked node, or `NIL`. Meaningless when unlinked.
    next: usize,
    /// Whether the node is in the list.
    linked: bool,
    /// The waiter's task; taken when the node is unlinked.
    waker: Option<LocalWaker>,
    /// What the waiter waits for, and the outcome once unlinked.
    data: T,
}

/// A FIFO of waiters keyed by slab index.
pub(crate) struct WaitList<T> {
    nodes: Slab<Node<T>>,
    head: usize,
    tail: usize,
}

impl<T> WaitList<T> {
    pub(crate) const fn new() -> Self {
        WaitList {
            nodes: Slab::new(),
            head: NIL,
            tail: NIL,
        }
    }

    /// Whether no waiter is linked.
    #[inline]
    pub(crate) fn is_empty(&self) -> bool {
        self.head == NIL
    }

    /// Links a new waiter at the back and returns its key.
    pub(crate) fn push_back(&mut self, waker: &LocalWaker, data: T) -> usize {
        let key = self.push_back_unregistered(data);
        self.nodes[key].waker = Some(waker.clone());
        key
    }

    /// Links a new waiter at the back without a waker (it gets one at its
    /// first [`register`](Self::register)); a wake finds nobody to wake.
    pub(crate) fn push_back_unregistered(&mut self, data: T) -> usize {
        let key = self.nodes.insert(Node {
            prev: self.tail,
            next: NIL,
            linked: true,
            waker: None,
            data,
        });
        match self.tail {
            NIL => self.head = key,
            tail => self.nodes[tail].next = key,
        }
        self.tail = key;
        key
    }

    /// Refreshes the waker of a linked waiter. Returns the replaced waker (to
    /// be dropped by the caller after the borrow), or `None` when the stored
    /// one already wakes the same task, which then costs no clone.
    #[inline]
    pub(crate) fn register(&mut self, key: usize, waker: &LocalWaker) -> Option<LocalWaker> {
        let slot = &mut self.nodes[key].waker;
        match slot {
            Some(old) if old.will_wake(waker) => None,
            _ => slot.replace(waker.clone()),
        }
    }

    /// Whether the waiter is still linked (has not been handed its outcome).
    #[inline]
    pub(crate) fn is_linked(&self, key: usize) -> bool {
        self.nodes[key].linked
    }

    /// The data of the first linked waiter.
    #[inline]
    pub(crate) fn front(&self) -> Option<&T> {
        match self.head {
            NIL => None,
            head => Some(&self.nodes[head].data),
        }
    }

    /// Unlinks the first waiter, records `outcome` in its data and returns its
    /// waker (to be woken after the borrow).
    pub(crate) fn pop_front(&mut self, outcome: impl FnOnce(&mut T)) -> Option<Option<LocalWaker>> {
        match self.head {
            NIL => None,
            head => {
                self.unlink(head);
                let node = &mut self.nodes[head];
                outcome(&mut node.data);
                Some(node.waker.take())
            }
        }
    }

    /// As [`pop_front`](Self::pop_front), for the last waiter.
    pub(crate) fn pop_back(&mut self, outcome: impl FnOnce(&mut T)) -> Option<Option<LocalWaker>> {
        match self.tail {
            NIL => None,
            tail => {
                self.unlink(tail);
                let node = &mut self.nodes[tail];
                outcome(&mut node.data);
                Some(node.waker.take())
            }
        }
    }

    /// Removes a waiter's node for good. Returns whether it was still linked,
    /// its data and its waker (to be dropped after the borrow).
    pub(crate) fn remove(&mut self, key: usize) -> (bool, T, Option<LocalWaker>) {
        let linked = self.nodes[key].linked;
        if linked {
            self.unlink(key);
        }
        let node = self.nodes.remove(key);
        (linked, node.data, node.waker)
    }

    /// Unlinks every waiter, recording `outcome` in each, and returns their
    /// wakers in FIFO order.
    pub(crate) fn drain(&mut self, mut outcome: impl FnMut(&mut T)) -> Vec<LocalWaker> {
        let mut wakers = Vec::new();
        while let Some(waker) = self.pop_front(&mut outcome) {
            wakers.extend(waker);
        }
        wakers
    }

    fn unlink(&mut self, key: usize) {
        let (prev, next) = {
            let node = &mut self.nodes[key];
            debug_assert!(node.linked);
            node.linked = false;
            (node.prev, node.next)
        };
        match prev {
            NIL => self.head = next,
            prev => self.nodes[prev].next = next,
        }
        match next {
            NIL => self.tail = prev,
            next => self.nodes[next].prev = prev,
        }
    }
}

/// Wakes every waker of `wakers`; call after releasing the list's borrow.
///
/// If a wake panics, the rest are still woken before the panic goes on: their
/// waiters were unlinked already and would otherwise never learn it.
#[inline]
pub(crate) fn wake_all(wakers: Vec<LocalWaker>) {
    let mut rest = wakers.into_iter();
    run_to_end(|| rest.by_ref().for_each(LocalWaker::wake));
}

/// Where a single waiter (a channel's receiver) parks: like
/// `LocalWakerSlot`, but a wake leaves the waker in place (`wake_by_ref`), so
/// the next park of the same task costs a `will_wake` compare instead of a
/// clone, and the wake no drop. `parked` says whether a wake is due.
pub(crate) struct ParkSlot {
    waker: Cell<Option<LocalWaker>>,
    parked: Cell<bool>,
}

impl ParkSlot {
    pub(crate) const fn new() -> Self {
        ParkSlot {
            waker: Cell::new(None),
            parked: Cell::new(false),
        }
    }

    /// Parks `waker` until the next [`wake`](Self::wake).
    #[inline]
    pub(crate) fn register(&self, waker: &LocalWaker) {
        self.parked.set(true);
        match self.waker.take() {
            Some(old) if old.will_wake(waker) => self.waker.set(Some(old)),
            old => {
                // Store first, drop after: the old waker's drop may reenter.
                self.waker.set(Some(waker.clone()));
                drop(old);
            }
        }
    }

    /// Wakes the parked waker, if any; keeps it for the next park.
    #[inline]
    pub(crate) fn wake(&self) {
        if !self.parked.replace(false) {
            return;
        }
        if let Some(waker) = self.waker.take() {
            waker.wake_by_ref();
            // Put it back, unless the wake reentered and parked another.
            match self.waker.take() {
                None => self.waker.set(Some(waker)),
                Some(newer) => {
                    self.waker.set(Some(newer));
                    drop(waker);
                }
            }
        }
    }

    /// Drops the stored waker (the waiter is gone for good).
    pub(crate) fn clear(&self) {
        self.parked.set(false);
        drop(self.waker.take());
    }
}

/// A condition that tasks wait for, woken all at once when it may have
/// become true (a close, a new value). Used where every waiter can proceed,
/// so waking them all is no storm.
pub(crate) struct Event {
    waiters: RefCell<WaitList<()>>,
}

impl Event {
    pub(crate) const fn new() -> Self {
        Event {
            waiters: RefCell::new(WaitList::new()),
        }
    }

    /// Wakes every waiter.
    pub(crate) fn notify_all(&self) {
        let wakers = self.waiters.borrow_mut().drain(|_| ());
        wake_all(wakers);
    }

    /// Waits until `ready()` returns `true`, re-checking after each
    /// [`notify_all`](Self::notify_all).
    pub(crate) fn wait<F: FnMut() -> bool>(&self, ready: F) -> EventWait<'_, F> {
        EventWait {
            event: self,
            ready,
            key: None,
        }
    }
}

/// The future of [`Event::wait`]; leaves the list when dropped.
pub(crate) struct EventWait<'a, F> {
    event: &'a Event,
    ready: F,
    key: Option<usize>,
}

impl<F: FnMut() -> bool + Unpin> Future for EventWait<'_, F> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.get_mut();
        let mut list = this.event.waiters.borrow_mut();
        if (this.ready)() {
            if let Some(key) = this.key.take() {
                let (_, (), waker) = list.remove(key);
                drop(list);
                drop(waker);
            }
            return Poll::Ready(());
        }
        let waker = ContextExt::local_waker(cx);
        let old = match this.key {
            Some(key) if list.is_linked(key) => list.register(key, waker),
            Some(key) => {
                // Woken, but the condition is false again: queue anew.
                let (_, (), old) = list.remove(key);
                this.key = Some(list.push_back(waker, ()));
                old
            }
            None => {
                this.key = Some(list.push_back(waker, ()));
                None
            }
        };
        drop(list);
        drop(old);
        Poll::Pending
    }
}

impl<F> Drop for EventWait<'_, F> {
    fn drop(&mut self) {
        if let Some(key) = self.key.take() {
            let (_, (), waker) = self.event.waiters.borrow_mut().remove(key);
            drop(waker);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fifo_and_remove_from_the_middle() {
        let w = LocalWaker::noop();
        let mut list = WaitList::new();
        let a = list.push_back(w, 'a');
        let b = list.push_back(w, 'b');
        let c = list.push_back(w, 'c');
        let (linked, data, _) = list.remove(b);
        assert!(linked);
        assert_eq!(data, 'b');
        assert_eq!(list.front(), Some(&'a'));
        assert!(list.pop_front(|d| *d = 'A').is_some());
        assert!(!list.is_linked(a));
        assert_eq!(list.nodes[a].data, 'A');
        assert_eq!(list.front(), Some(&'c'));
        let (linked, _, _) = list.remove(a);
        assert!(!linked);
        assert_eq!(list.drain(|_| ()).len(), 1);
        assert!(list.is_empty());
        let (linked, _, _) = list.remove(c);
        assert!(!linked);
        assert!(list.nodes.is_empty());
    }
}
