//! [`JoinSet`]: a collection of tasks on this thread, awaited in the order
//! they finish.
//!
//! # How `join_next` finds a finished task in O(1)
//!
//! Every member task gets, as the waker its executor wakes when it completes
//! (the task's join waiter, which a `JoinHandle`'s poll would otherwise
//! fill), a small [`Member`] `Rc` that knows the member's slot in the set.
//! Completion wakes it once: it appends the slot to the set's `done` queue
//! and wakes the task awaiting `join_next`. `join_next` pops the queue's
//! front and takes that task's output: no scan over the members, and a
//! member that has not finished is never polled. All of it is local: the
//! wakes are `LocalWaker` calls, no atomics.
//!
//! A member removed from the set without being joined (`detach_all`, the
//! set's drop) is marked dead first, so its later completion touches
//! nothing, and its slot can be reused at once.
//!
//! # Panic safety
//!
//! The set runs no user code while its own state is half updated: aborting
//! only flags tasks (their futures are dropped later by the executor, where
//! a panicking drop becomes that task's `JoinError` with `is_panic`), and a
//! detached output is dropped by the task with its panic discarded
//! (`executor` module docs). Waking the task awaiting `join_next` happens
//! inside the executor's completion, which discards a panic of that wake.

use core::cell::{Cell, RefCell};
use core::fmt;
use core::future::{poll_fn, Future};
use core::task::{Context, Poll};
use std::collections::VecDeque;
use std::rc::Rc;

use hearth_task::{ContextExt, LocalWake, LocalWaker, LocalWakerSlot};

use super::coop;
use super::join::{AbortHandle, JoinError, JoinHandle};
use super::Executor;

/// A member's slot once it is out of the set (or already queued as done).
const DEAD: u32 = u32::MAX;

/// What the set and its members' wakers share.
struct Shared {
    /// Slots of members that finished and were not joined yet, in the
    /// order they finished.
    done: RefCell<VecDeque<u32>>,
    /// The task awaiting `join_next`.
    waiter: LocalWakerSlot,
}

/// The waker a member task's completion wakes.
struct Member {
    shared: Rc<Shared>,
    /// The member's slot in the set; `DEAD` once it was queued as done or
    /// left the set.
    slot: Cell<u32>,
}

impl LocalWake for Member {
    fn wake(self: Rc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Rc<Self>) {
        let slot = self.slot.replace(DEAD);
        if slot == DEAD {
            return;
        }
        self.shared.done.borrow_mut().push_back(slot);
        self.shared.waiter.wake();
    }
}

struct Entry<T> {
    handle: JoinHandle<T>,
    member: Rc<Member>,
}

/// A collection of tasks spawned on the current thread's executor, awaited
/// in the order they finish (tokio's `JoinSet`).
///
/// [`spawn`](Self::spawn) starts a task with [`spawn_local`](crate::spawn_local)
/// semantics: on the executor running on this thread, and the future may be
/// `!Send`. [`join_next`](Self::join_next) waits for the next task to finish
/// and returns its output, or a [`JoinError`] if it panicked or was aborted.
/// Dropping the set aborts every task in it.
///
/// `join_next` costs O(1) per call: a task's completion queues it (see the
/// module's notes), so no member is looked at, or polled, until it is done.
///
/// ```
/// use std::rc::Rc;
/// use hearth::task::JoinSet;
///
/// hearth::block_on(async {
///     let shared = Rc::new(10); // !Send state is fine
///     let mut set = JoinSet::new();
///     for i in 0..3 {
///         let shared = shared.clone();
///         set.spawn(async move { *shared + i });
///     }
///     let mut seen = Vec::new();
///     while let Some(res) = set.join_next().await {
///         seen.push(res.unwrap());
///     }
///     seen.sort();
///     assert_eq!(seen, [10, 11, 12]);
/// });
/// ```
///
/// # Differences from tokio
///
/// - `spawn` takes any `'static` future, also `!Send` ones: it is tokio's
///   `spawn_local` (also offered under that name). There is no
///   `spawn_blocking` or `spawn_on(Handle)`: a set's tasks all run on the
///   thread that awaits them; use [`spawn_local_on`](Self::spawn_local_on)
///   for a given [`Executor`].
/// - The set, its [`AbortHandle`]s and its `JoinError`s' tasks are `!Send`.
/// - There are no task ids (`join_next_with_id`, `try_join_next_with_id`,
///   `JoinError::id`): hearth's tasks have none.
/// - There is no `build_task` (tasks have no names).
pub struct JoinSet<T> {
    /// Members by slot; `None` for a free slot.
    entries: Vec<Option<Entry<T>>>,
    /// Free slots of `entries`.
    free: Vec<u32>,
    /// Members in the set (spawned and not yet joined or detached).
    len: usize,
    shared: Rc<Shared>,
}

impl<T> JoinSet<T> {
    /// An empty set.
    ///
    /// ```
    /// let set = hearth::task::JoinSet::<()>::new();
    /// assert!(set.is_empty());
    /// ```
    pub fn new() -> JoinSet<T> {
        JoinSet {
            entries: Vec::new(),
            free: Vec::new(),
            len: 0,
            shared: Rc::new(Shared {
                done: RefCell::new(VecDeque::new()),
                waiter: LocalWakerSlot::new(),
            }),
        }
    }

    /// The number of tasks in the set, finished or not (a finished task
    /// leaves it when it is joined).
    ///
    /// ```
    /// hearth::block_on(async {
    ///     let mut set = hearth::task::JoinSet::new();
    ///     set.spawn(async {});
    ///     assert_eq!(set.len(), 1);
    ///     set.join_next().await;
    ///     assert_eq!(set.len(), 0);
    /// });
    /// ```
    pub fn len(&self) -> usize {
        self.len
    }

    /// Returns `true` if the set holds no task.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Adds a task that was spawned to the set.
    fn insert(&mut self, handle: JoinHandle<T>) -> AbortHandle {
        let abort = handle.abort_handle();
        let slot = match self.free.pop() {
            Some(slot) => slot,
            None => {
                let slot = u32::try_from(self.entries.len())
                    .ok()
                    .filter(|&s| s != DEAD)
                    .expect("hearth::task::JoinSet: more than 4 billion tasks in one set");
                self.entries.push(None);
                slot
            }
        };
        let member = Rc::new(Member {
            shared: self.shared.clone(),
            slot: Cell::new(slot),
        });
        handle.set_join_waiter(&LocalWaker::from(member.clone()));
        self.entries[slot as usize] = Some(Entry { handle, member });
        self.len += 1;
        abort
    }

    /// Takes a member out of the set; its later completion touches nothing.
    fn remove(&mut self, slot: u32) -> Option<Entry<T>> {
        let entry = self.entries.get_mut(slot as usize)?.take()?;
        entry.member.slot.set(DEAD);
        self.free.push(slot);
        self.len -= 1;
        Some(entry)
    }

    /// Spawns `future` on the executor running on this thread and adds it to
    /// the set; returns an [`AbortHandle`] for it.
    ///
    /// The task runs whether or not the set is awaited; its output waits in
    /// the set for [`join_next`](Self::join_next).
    ///
    /// # Panics
    ///
    /// If no hearth executor runs on this thread (as
    /// [`spawn_local`](crate::spawn_local)).
    ///
    /// ```
    /// hearth::block_on(async {
    ///     let mut set = hearth::task::JoinSet::new();
    ///     let abort = set.spawn(std::future::pending::<()>());
    ///     abort.abort();
    ///     assert!(set.join_next().await.unwrap().unwrap_err().is_cancelled());
    /// });
    /// ```
    #[track_caller]
    pub fn spawn<F>(&mut self, future: F) -> AbortHandle
    where
        F: Future<Output = T> + 'static,
        T: 'static,
    {
        self.insert(crate::spawn_local(future))
    }

    /// The same as [`spawn`](Self::spawn), under tokio's name for a
    /// `!Send` future.
    #[track_caller]
    pub fn spawn_local<F>(&mut self, future: F) -> AbortHandle
    where
        F: Future<Output = T> + 'static,
        T: 'static,
    {
        self.spawn(future)
    }

    /// Spawns `future` on `executor` and adds it to the set (tokio's
    /// `spawn_local_on`); the set must be awaited on that executor's thread.
    ///
    /// ```
    /// let executor = hearth::Executor::new();
    /// let mut set = hearth::task::JoinSet::new();
    /// set.spawn_local_on(async { 5 }, &executor);
    /// let out = executor.run_until(async move { set.join_next().await });
    /// assert_eq!(out.unwrap().unwrap(), 5);
    /// ```
    pub fn spawn_local_on<F>(&mut self, future: F, executor: &Executor) -> AbortHandle
    where
        F: Future<Output = T> + 'static,
        T: 'static,
    {
        self.insert(executor.spawn_local(future))
    }

    /// Waits for the next task to finish and returns its output, or `None`
    /// if the set is empty.
    ///
    /// Tasks are returned in the order they finished. A task that panicked
    /// or was aborted yields `Err(JoinError)` (see
    /// [`JoinError::is_panic`] and [`JoinError::is_cancelled`]).
    ///
    /// Cancel-safe: if the future is dropped before it completes, no output
    /// is lost; the next call returns it.
    ///
    /// ```
    /// hearth::block_on(async {
    ///     let mut set = hearth::task::JoinSet::new();
    ///     set.spawn(async { panic!("boom") });
    ///     let err = set.join_next().await.unwrap().unwrap_err();
    ///     assert!(err.is_panic());
    ///     assert!(set.join_next().await.is_none());
    /// });
    /// ```
    pub async fn join_next(&mut self) -> Option<Result<T, JoinError>> {
        poll_fn(|cx| self.poll_join_next(cx)).await
    }

    /// Returns the output of a task that has finished, without waiting:
    /// `None` if no task has finished (or the set is empty).
    ///
    /// ```
    /// hearth::block_on(async {
    ///     let mut set = hearth::task::JoinSet::new();
    ///     set.spawn(async { 1 });
    ///     assert!(set.try_join_next().is_none()); // not run yet
    ///     hearth::yield_now().await;
    ///     assert_eq!(set.try_join_next().unwrap().unwrap(), 1);
    /// });
    /// ```
    pub fn try_join_next(&mut self) -> Option<Result<T, JoinError>> {
        loop {
            let slot = self.shared.done.borrow_mut().pop_front()?;
            // Every queued slot holds its member (members leave the set
            // here, or marked dead and with the queue cleared); skipping an
            // empty one keeps that an invariant of this loop, not a panic.
            if let Some(mut entry) = self.remove(slot) {
                return Some(
                    entry
                        .handle
                        .try_take_output()
                        .expect("hearth::task::JoinSet: a finished task had no output"),
                );
            }
        }
    }

    /// Polls for the next finished task (for hand-written futures):
    /// `Ready(None)` if the set is empty, `Ready(Some(..))` with a finished
    /// task's output, or `Pending` (the task of `cx` is woken when a member
    /// finishes).
    ///
    /// ```
    /// use std::future::poll_fn;
    /// hearth::block_on(async {
    ///     let mut set = hearth::task::JoinSet::new();
    ///     set.spawn(async { 3 });
    ///     let out = poll_fn(|cx| set.poll_join_next(cx)).await;
    ///     assert_eq!(out.unwrap().unwrap(), 3);
    /// });
    /// ```
    pub fn poll_join_next(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<T, JoinError>>> {
        if self.len == 0 {
            return Poll::Ready(None);
        }
        let progress = core::task::ready!(coop::poll_proceed(cx));
        match self.try_join_next() {
            Some(result) => {
                progress.made_progress();
                Poll::Ready(Some(result))
            }
            None => {
                self.shared.waiter.register(ContextExt::local_waker(cx));
                Poll::Pending
            }
        }
    }

    /// Aborts every task in the set. They stay in it: [`join_next`](Self::join_next)
    /// then returns each one's result (a cancelled `JoinError`, or its
    /// output if it finished first).
    ///
    /// ```
    /// hearth::block_on(async {
    ///     let mut set = hearth::task::JoinSet::new();
    ///     for _ in 0..3 {
    ///         set.spawn(std::future::pending::<()>());
    ///     }
    ///     set.abort_all();
    ///     assert_eq!(set.len(), 3);
    ///     while let Some(res) = set.join_next().await {
    ///         assert!(res.unwrap_err().is_cancelled());
    ///     }
    /// });
    /// ```
    pub fn abort_all(&mut self) {
        for entry in self.entries.iter().flatten() {
            entry.handle.abort();
        }
    }

    /// Aborts every task and waits for all of them to finish, discarding
    /// their results. The set is empty afterwards.
    ///
    /// ```
    /// hearth::block_on(async {
    ///     let mut set = hearth::task::JoinSet::new();
    ///     set.spawn(std::future::pending::<()>());
    ///     set.shutdown().await;
    ///     assert!(set.is_empty());
    /// });
    /// ```
    pub async fn shutdown(&mut self) {
        self.abort_all();
        while self.join_next().await.is_some() {}
    }

    /// Removes every task from the set without aborting it: each runs to
    /// its end on its own and its output is dropped.
    ///
    /// ```
    /// use std::rc::Rc;
    /// use std::cell::Cell;
    /// hearth::block_on(async {
    ///     let ran = Rc::new(Cell::new(false));
    ///     let mut set = hearth::task::JoinSet::new();
    ///     let r = ran.clone();
    ///     set.spawn(async move { r.set(true) });
    ///     set.detach_all();
    ///     drop(set);
    ///     hearth::yield_now().await;
    ///     assert!(ran.get());
    /// });
    /// ```
    pub fn detach_all(&mut self) {
        for slot in 0..self.entries.len() as u32 {
            drop(self.remove(slot));
        }
        self.shared.done.borrow_mut().clear();
    }

    /// Waits for every task and returns their outputs, in the order they
    /// finished.
    ///
    /// # Panics
    ///
    /// If a task panicked, its panic resumes here; if one was aborted, this
    /// panics with the `JoinError`. The tasks still in the set are aborted
    /// then (the set is dropped). To handle errors otherwise, call
    /// [`join_next`](Self::join_next) in a loop.
    ///
    /// ```
    /// hearth::block_on(async {
    ///     let set: hearth::task::JoinSet<u32> = (1..=3).map(|i| async move { i * 2 }).collect();
    ///     let mut out = set.join_all().await;
    ///     out.sort();
    ///     assert_eq!(out, [2, 4, 6]);
    /// });
    /// ```
    pub async fn join_all(mut self) -> Vec<T> {
        let mut output = Vec::with_capacity(self.len());
        while let Some(res) = self.join_next().await {
            match res {
                Ok(t) => output.push(t),
                Err(err) if err.is_panic() => std::panic::resume_unwind(err.into_panic()),
                Err(err) => panic!("hearth::task::JoinSet::join_all: {err}"),
            }
        }
        output
    }
}

impl<T> Drop for JoinSet<T> {
    /// Aborts every task still in the set.
    fn drop(&mut self) {
        for entry in self.entries.iter().flatten() {
            entry.member.slot.set(DEAD);
            entry.handle.abort();
        }
    }
}

impl<T> Default for JoinSet<T> {
    fn default() -> Self {
        JoinSet::new()
    }
}

impl<T> fmt::Debug for JoinSet<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JoinSet")
            .field("len", &self.len)
            .field("finished", &self.shared.done.borrow().len())
            .finish()
    }
}

/// Spawns every future into a new set (each as [`JoinSet::spawn`]).
impl<T: 'static, F> FromIterator<F> for JoinSet<T>
where
    F: Future<Output = T> + 'static,
{
    fn from_iter<I: IntoIterator<Item = F>>(iter: I) -> Self {
        let mut set = JoinSet::new();
        set.extend(iter);
        set
    }
}

/// Spawns every future into the set (each as [`JoinSet::spawn`]).
impl<T: 'static, F> Extend<F> for JoinSet<T>
where
    F: Future<Output = T> + 'static,
{
    fn extend<I: IntoIterator<Item = F>>(&mut self, iter: I) {
        for future in iter {
            self.spawn(future);
        }
    }
}
