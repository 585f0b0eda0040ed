//! [`DualTask`]: a runtime's task in one allocation, without `unsafe` on the
//! runtime's side.
//!
//! A `DualTask<S>` is a [`DualRc`] whose target holds the runtime's data `S`
//! and a future, with the future's type erased: every task of a runtime has
//! the same handle type, so one run queue holds them all, and each task is
//! one allocation (dual header, both counts, `S::Shared`, `S` and the future).
//! The reference counting, the wake paths and their costs are `DualRc`'s
//! (see the [module docs](super)); this layer adds the erasure and the
//! future's states.
//!
//! # Future states
//!
//! `idle` (pollable) -> `polling` -> `idle` or `done`. The future is dropped
//! in place as soon as it completes or is [cancelled](DualTask::cancel); the
//! allocation lives on while handles or `Waker`s do. `S` is dropped with the
//! last local handle, on the owner thread.

use core::cell::{Cell, UnsafeCell};
use core::fmt;
use core::future::Future;
use core::marker::PhantomData;
use core::mem::{self, ManuallyDrop};
use core::ops::Deref;
use core::pin::Pin;
use core::ptr::NonNull;
use core::task::{Poll, Waker};

use super::{DualRc, DualWake, Inner, WakerRef};
use crate::raw::DualHeader;
use crate::LocalWaker;

/// How a runtime schedules its [`DualTask`]s: the runtime's per-task data.
///
/// # Examples
///
/// See [`DualTask`].
pub trait Schedule: Sized + 'static {
    /// The part of the task that other threads can reach (where remote wakes
    /// go: a queue into the owner thread, a handle to unpark it).
    type Shared: Send + Sync + 'static;

    /// Schedules the task on its owner thread.
    ///
    /// Called for wakes through a twin, and through the `Waker` woken on the
    /// owner thread, while a local handle exists; also after the future
    /// completed (polling a finished task returns `Ready` at once). It may
    /// clone, drop and wake any waker or handle of this task, including
    /// reentrantly. It is not called while the task is being dropped.
    fn schedule(task: &DualTask<Self>);

    /// Schedules the task from another thread.
    ///
    /// `waker` is the task's `Waker` being woken: send a clone of it to the
    /// owner thread, which wakes it there (taking the local path, which calls
    /// [`schedule`](Self::schedule)), and unpark that thread. May run
    /// concurrently with anything on the owner thread, and after the task was
    /// dropped.
    fn schedule_remote(shared: &Self::Shared, waker: &Waker);
}

const IDLE: u8 = 0;
const POLLING: u8 = 1;
/// [`DualTask::cancel`] was called during a poll: drop the future after it.
const POLLING_CANCELLED: u8 = 2;
/// Completed or cancelled; the future is dropped.
const DONE: u8 = 3;

/// The part of a task's target that does not depend on the future's type.
#[repr(C)]
struct Head<S> {
    /// The runtime's data; dropped with the target.
    sched: S,
    /// `IDLE`, `POLLING`, `POLLING_CANCELLED` or `DONE`. Owner thread only.
    state: Cell<u8>,
}

/// The target of the erased `DualRc`.
#[repr(C)]
struct Body<S, F> {
    /// First, so a `Body` pointer is a `Head` pointer.
    head: Head<S>,
    /// Dropped in place when `state` becomes `DONE`; pinned until then.
    future: UnsafeCell<ManuallyDrop<F>>,
}

impl<S, F> Drop for Body<S, F> {
    fn drop(&mut self) {
        if self.head.state.get() != DONE {
            self.head.state.set(DONE);
            // SAFETY: not `DONE`, so the future was not dropped yet; it is
            // dropped exactly once, here (`sched` drops after it, also when
            // this panics).
            unsafe { ManuallyDrop::drop(self.future.get_mut()) };
        }
    }
}

impl<S: Schedule, F: Future<Output = ()> + 'static> DualWake for Body<S, F> {
    type Shared = S::Shared;

    fn wake_local(this: &DualRc<Self>) {
        // A borrowed handle: no count changes hands.
        let task = ManuallyDrop::new(DualTask::<S> {
            ptr: this.ptr.cast(),
            vtable: vtable::<S, F>(),
            _marker: PhantomData,
        });
        S::schedule(&task);
    }

    fn wake_remote(shared: &S::Shared, waker: &Waker) {
        S::schedule_remote(shared, waker);
    }
}

/// What the erased handle needs to know about the future's type: the
/// `DualRc<Body<S, F>>` operations, monomorphised for `F`.
struct TaskVTable<S: Schedule> {
    /// Byte offset of the target (a `Body`, whose `Head` comes first).
    head_offset: usize,
    /// Byte offset of `S::Shared`.
    shared_offset: usize,
    poll: unsafe fn(NonNull<()>) -> Poll<()>,
    /// Drops the future of an `IDLE` task; the state becomes `DONE`.
    drop_future: unsafe fn(NonNull<()>),
    clone: unsafe fn(NonNull<()>),
    drop: unsafe fn(NonNull<()>),
    waker: unsafe fn(NonNull<()>) -> Waker,
    local_waker: unsafe fn(NonNull<()>) -> LocalWaker,
    counts: unsafe fn(NonNull<()>) -> (usize, usize),
    _marker: PhantomData<fn(S)>,
}

fn vtable<S: Schedule, F: Future<Output = ()> + 'static>() -> &'static TaskVTable<S> {
    struct Table<S, F>(S, F);
    impl<S: Schedule, F: Future<Output = ()> + 'static> Table<S, F> {
        const VTABLE: TaskVTable<S> = TaskVTable {
            head_offset: mem::offset_of!(Inner<Body<S, F>>, target),
            shared_offset: mem::offset_of!(Inner<Body<S, F>>, shared),
            poll: poll::<S, F>,
            drop_future: |p| {
                // SAFETY: the caller's handle keeps the task alive.
                let rc = unsafe { borrow::<S, F>(p) };
                debug_assert_eq!(rc.head.state.get(), IDLE);
                rc.head.state.set(DONE);
                // SAFETY: `IDLE`: not being polled and not dropped yet; the
                // state is `DONE` now, so it is dropped once, here.
                unsafe { ManuallyDrop::drop(&mut *rc.future.get()) };
            },
            clone: |p| {
                // SAFETY: the caller's handle keeps the task alive (see
                // `borrow`); the new count is owned by the caller's new handle.
                mem::forget((*unsafe { borrow::<S, F>(p) }).clone())
            },
            drop: |p| {
                // SAFETY: the caller owns the count it gives up (see `borrow`).
                drop(ManuallyDrop::into_inner(unsafe { borrow::<S, F>(p) }))
            },
            waker: |p| {
                // SAFETY: the caller's handle keeps the task alive.
                unsafe { borrow::<S, F>(p) }.waker()
            },
            local_waker: |p| {
                // SAFETY: the caller's handle keeps the task alive.
                unsafe { borrow::<S, F>(p) }.local_waker()
            },
            counts: |p| {
                // SAFETY: as above.
                let rc = unsafe { borrow::<S, F>(p) };
                (rc.local_count(), rc.waker_count())
            },
            _marker: PhantomData,
        };
    }
    &Table::<S, F>::VTABLE
}

/// The `DualRc` behind an erased pointer, as a handle that does not drop.
///
/// # Safety
/// `ptr` is the allocation of a live `DualRc<Body<S, F>>`, used on its owner
/// thread while the caller holds a local count (dropping the result by
/// `ManuallyDrop::into_inner` gives up one count the caller owns).
#[inline]
unsafe fn borrow<S: Schedule, F: Future<Output = ()> + 'static>(
    ptr: NonNull<()>,
) -> ManuallyDrop<DualRc<Body<S, F>>> {
    ManuallyDrop::new(DualRc {
        ptr: ptr.cast(),
        _marker: PhantomData,
    })
}

/// # Safety
/// As for [`borrow`].
unsafe fn poll<S: Schedule, F: Future<Output = ()> + 'static>(ptr: NonNull<()>) -> Poll<()> {
    // SAFETY: forwarded.
    let rc = unsafe { borrow::<S, F>(ptr) };
    let body: &Body<S, F> = &rc;
    let state = &body.head.state;
    match state.get() {
        IDLE => {}
        DONE => return Poll::Ready(()),
        _ => panic!("DualTask::poll called from inside the same task's poll"),
    }
    state.set(POLLING);
    /// Puts the state back when the poll unwinds; drops the future if it
    /// was cancelled during the poll.
    struct Unwind<'a, S, F>(&'a Body<S, F>);
    impl<S, F> Drop for Unwind<'_, S, F> {
        fn drop(&mut self) {
            let cancelled = self.0.head.state.get() == POLLING_CANCELLED;
            self.0.head.state.set(if cancelled { DONE } else { IDLE });
            if cancelled {
                // SAFETY: the poll is over and the state is `DONE` now, so
                // the future is dropped once, here.
                unsafe { ManuallyDrop::drop(&mut *self.0.future.get()) };
            }
        }
    }
    let unwind = Unwind(body);
    let waker = rc.waker_ref();
    let mut cx = crate::context_from_waker(&waker);
    // SAFETY: the future lives in the allocation until it is dropped in place
    // (never moved), and only this poll touches it: the state excludes a
    // second poll, a cancel and the target's drop (the caller's handle).
    let future = unsafe { Pin::new_unchecked(&mut **body.future.get()) };
    let poll = future.poll(&mut cx);
    mem::forget(unwind);
    if poll.is_ready() || state.get() == POLLING_CANCELLED {
        state.set(DONE);
        // SAFETY: the poll is over and the state is `DONE` now, so the
        // future is dropped once, here.
        unsafe { ManuallyDrop::drop(&mut *body.future.get()) };
        Poll::Ready(())
    } else {
        state.set(IDLE);
        Poll::Pending
    }
}

/// A runtime's task: one allocation holding a dual waker, the runtime's
/// data `S` and a future, behind a handle that does not name the future's
/// type (a pointer and a vtable reference).
///
/// It is a [`DualRc`] underneath, with the same counts, wake paths and costs:
/// clones and drops of the handle and of twins are plain increments, the
/// `Waker` face costs one atomic operation per clone or drop, and a wake on
/// the owner thread calls [`Schedule::schedule`] without any atomic
/// operation. Like `DualRc`, it is `!Send`: build it on the thread that
/// runs it, or build an [`UnboundTask`] elsewhere and [`bind`](UnboundTask::bind)
/// it there.
///
/// The runtime must keep a handle for every task that can still be woken
/// (its task list): a `Waker` keeps the memory alive, not the task.
///
/// # Examples
///
/// A complete executor with one allocation per task and no `unsafe`:
///
/// ```
/// use std::cell::RefCell;
/// use std::collections::VecDeque;
/// use std::rc::Rc;
/// use std::task::{Poll, Waker};
/// use hearth_task::dual::{DualTask, Schedule};
///
/// /// The runtime's data in every task: the run queue it goes back to.
/// struct Sched(Rc<RefCell<VecDeque<DualTask<Sched>>>>);
///
/// impl Schedule for Sched {
///     type Shared = (); // this executor takes no wakes from other threads
///     fn schedule(task: &DualTask<Self>) {
///         task.0.borrow_mut().push_back(task.clone());
///     }
///     fn schedule_remote(_: &(), _: &Waker) {}
/// }
///
/// let queue = Rc::new(RefCell::new(VecDeque::new()));
/// let (tx, rx) = futures::channel::oneshot::channel::<u32>();
/// let out = Rc::new(RefCell::new(None));
/// let o = out.clone();
/// let tasks = [
///     DualTask::new(async move { *o.borrow_mut() = Some(rx.await.unwrap()) }, Sched(queue.clone()), ()),
///     DualTask::new(async move { tx.send(7).unwrap() }, Sched(queue.clone()), ()),
/// ];
/// queue.borrow_mut().extend(tasks.iter().cloned());
/// loop {
///     let next = queue.borrow_mut().pop_front();
///     let Some(task) = next else { break };
///     let _ = task.poll(); // `Ready` once done; a wake after that is harmless
/// }
/// assert!(tasks.iter().all(DualTask::is_finished));
/// assert_eq!(*out.borrow(), Some(7));
/// ```
pub struct DualTask<S: Schedule> {
    /// The `DualRc<Body<S, F>>`'s allocation; this handle owns one local count.
    ptr: NonNull<()>,
    /// The operations for the erased `F`.
    vtable: &'static TaskVTable<S>,
    /// `!Send + !Sync`, like `DualRc`.
    _marker: PhantomData<(alloc::rc::Rc<S>, S)>,
}

impl<S: Schedule> DualTask<S> {
    /// Allocates a task owned by the calling thread: one allocation for the
    /// dual waker, both counts, `shared`, `sched` and `future`.
    pub fn new<F>(future: F, sched: S, shared: S::Shared) -> Self
    where
        F: Future<Output = ()> + 'static,
    {
        let rc = DualRc::new(body(future, sched), shared);
        DualTask {
            ptr: ManuallyDrop::new(rc).ptr.cast(),
            vtable: vtable::<S, F>(),
            _marker: PhantomData,
        }
    }

    /// Allocates a task on this thread that another thread will own: it can
    /// be sent there and [bound](UnboundTask::bind) before its first poll.
    ///
    /// The future and `S` cross threads, so both must be `Send`; a `!Send`
    /// future must be built on the thread that runs it (with
    /// [`new`](Self::new)).
    pub fn new_unbound<F>(future: F, sched: S, shared: S::Shared) -> UnboundTask<S>
    where
        F: Future<Output = ()> + Send + 'static,
        S: Send,
    {
        let rc = DualRc::new(body(future, sched), shared);
        // No thread owns the twin until `bind`: no `Waker` or twin exists
        // before it, and none can be made from an `UnboundTask`.
        rc.inner().header.release_local();
        UnboundTask {
            task: ManuallyDrop::new(DualTask {
                ptr: ManuallyDrop::new(rc).ptr.cast(),
                vtable: vtable::<S, F>(),
                _marker: PhantomData,
            }),
        }
    }

    /// Polls the future once, with a `Context` whose `Waker` is this task's
    /// dual waker (and, with the `nightly` feature, whose std local waker is
    /// its twin).
    ///
    /// Returns `Ready` when the future completed (now or before) or was
    /// cancelled; the future is dropped in place at that point. A panic of
    /// the future unwinds to the caller and leaves the task pollable (polling
    /// a future again after it panicked is safe; what it does is up to it).
    ///
    /// # Panics
    ///
    /// If called from inside this task's own poll (the future polling its own
    /// task): that would alias the future.
    pub fn poll(&self) -> Poll<()> {
        // SAFETY: this handle keeps the task alive; owner thread (`!Send`).
        unsafe { (self.vtable.poll)(self.ptr) }
    }

    /// Drops the future now, if it is neither finished nor cancelled; returns
    /// `true` if this call cancelled it. Called during the task's own poll, it
    /// takes effect when the poll returns (which then returns `Ready`).
    pub fn cancel(&self) -> bool {
        let head = self.head();
        match head.state.get() {
            IDLE => {
                // SAFETY: this handle keeps the task alive; owner thread; `IDLE`.
                unsafe { (self.vtable.drop_future)(self.ptr) };
                true
            }
            POLLING => {
                head.state.set(POLLING_CANCELLED);
                true
            }
            _ => false,
        }
    }

    /// Returns `true` once the future completed or was cancelled.
    pub fn is_finished(&self) -> bool {
        self.head().state.get() == DONE
    }

    /// The thread-safe part.
    pub fn shared(&self) -> &S::Shared {
        // SAFETY: a handle keeps the allocation alive; `shared_offset` is the
        // offset of `S::Shared` in it (the vtable is the allocation's).
        unsafe {
            &*self
                .ptr
                .as_ptr()
                .byte_add(self.vtable.shared_offset)
                .cast::<S::Shared>()
        }
    }

    /// A new thread-safe `Waker` for this task (one atomic increment).
    pub fn waker(&self) -> Waker {
        // SAFETY: this handle keeps the task alive; owner thread.
        unsafe { (self.vtable.waker)(self.ptr) }
    }

    /// A borrowed `Waker` for this task, without touching any count.
    pub fn waker_ref(&self) -> WakerRef<'_> {
        // SAFETY: the dual header starts the allocation; the `Waker` owns no
        // count and is never dropped (`ManuallyDrop`); the borrow of `self`
        // keeps the task alive while it is used (as `DualRc::waker_ref`).
        let waker = unsafe { Waker::from_raw(DualHeader::raw_waker(self.ptr.as_ptr().cast())) };
        WakerRef {
            waker: ManuallyDrop::new(waker),
            _marker: PhantomData,
        }
    }

    /// A new local waker for this task (one plain increment).
    pub fn local_waker(&self) -> LocalWaker {
        // SAFETY: this handle keeps the task alive; owner thread.
        unsafe { (self.vtable.local_waker)(self.ptr) }
    }

    /// The number of `DualTask` handles and owned twins.
    pub fn local_count(&self) -> usize {
        // SAFETY: this handle keeps the task alive; owner thread.
        unsafe { (self.vtable.counts)(self.ptr) }.0
    }

    /// The number of live `Waker`s (another thread may change it at any time).
    pub fn waker_count(&self) -> usize {
        // SAFETY: this handle keeps the task alive; owner thread.
        unsafe { (self.vtable.counts)(self.ptr) }.1
    }

    /// Returns `true` if both handles point at the same task.
    pub fn ptr_eq(a: &Self, b: &Self) -> bool {
        a.ptr == b.ptr
    }

    fn head(&self) -> &Head<S> {
        // SAFETY: a handle keeps the target alive (`local > 0`); `head_offset`
        // is where the target, whose first field is the `Head`, starts.
        unsafe {
            &*self
                .ptr
                .as_ptr()
                .byte_add(self.vtable.head_offset)
                .cast::<Head<S>>()
        }
    }
}

fn body<S, F>(future: F, sched: S) -> Body<S, F> {
    Body {
        head: Head {
            sched,
            state: Cell::new(IDLE),
        },
        future: UnsafeCell::new(ManuallyDrop::new(future)),
    }
}

impl<S: Schedule> Clone for DualTask<S> {
    fn clone(&self) -> Self {
        // SAFETY: this handle keeps the task alive; owner thread. The count
        // taken is owned by the new handle.
        unsafe { (self.vtable.clone)(self.ptr) };
        DualTask {
            ptr: self.ptr,
            vtable: self.vtable,
            _marker: PhantomData,
        }
    }
}

impl<S: Schedule> Drop for DualTask<S> {
    fn drop(&mut self) {
        // SAFETY: this handle owns one local count; owner thread.
        unsafe { (self.vtable.drop)(self.ptr) }
    }
}

impl<S: Schedule> Deref for DualTask<S> {
    type Target = S;
    fn deref(&self) -> &S {
        &self.head().sched
    }
}

impl<S: Schedule + fmt::Debug> fmt::Debug for DualTask<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DualTask")
            .field("sched", &**self)
            .field("finished", &self.is_finished())
            .field("local_count", &self.local_count())
            .field("waker_count", &self.waker_count())
            .finish()
    }
}

/// A [`DualTask`] built on one thread for another: `Send`, and without any
/// waker until [`bind`](Self::bind) makes the calling thread its owner.
///
/// This is the owner hand-over: `spawn_on(core, future)` can allocate the
/// task on the spawning thread, send it, and the executor thread binds it
/// before its first poll. It is sound because nothing can reach the twin
/// before `bind` (no `Waker`, twin or handle exists; dropping an unbound task
/// drops its future and `S`, both `Send`, wherever it is).
///
/// # Examples
///
/// ```
/// use std::task::Waker;
/// use hearth_task::dual::{DualTask, Schedule};
///
/// struct Sched;
/// impl Schedule for Sched {
///     type Shared = ();
///     fn schedule(_: &DualTask<Self>) {}
///     fn schedule_remote(_: &(), _: &Waker) {}
/// }
///
/// let unbound = DualTask::new_unbound(async { println!("ran on the executor thread") }, Sched, ());
/// std::thread::spawn(move || {
///     let task = unbound.bind();
///     assert!(task.poll().is_ready());
/// })
/// .join()
/// .unwrap();
/// ```
pub struct UnboundTask<S: Schedule> {
    task: ManuallyDrop<DualTask<S>>,
}

// SAFETY: `new_unbound` requires the future and `S` to be `Send`
// (`S::Shared` is `Send + Sync`); no `Waker`, twin or other handle of the
// allocation exists, so moving the only handle moves its only user.
unsafe impl<S: Schedule + Send> Send for UnboundTask<S> {}

impl<S: Schedule> UnboundTask<S> {
    /// Makes the calling thread the task's owner and returns its handle.
    pub fn bind(self) -> DualTask<S> {
        let mut this = ManuallyDrop::new(self);
        // SAFETY: taken once; `this` is never dropped.
        let task = unsafe { ManuallyDrop::take(&mut this.task) };
        // SAFETY: no `Waker`, twin or view of the header exists (see the
        // type's docs), so nobody observes the owner change.
        unsafe { task.header().bind() };
        task
    }
}

impl<S: Schedule> Drop for UnboundTask<S> {
    fn drop(&mut self) {
        // Dropping the only handle drops the future and `S` (both `Send`)
        // here; the header is released, so the release path accepts any
        // thread, and with no `Waker` alive the memory is freed at once.
        // SAFETY: dropped once, here.
        unsafe { ManuallyDrop::drop(&mut self.task) }
    }
}

impl<S: Schedule> fmt::Debug for UnboundTask<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UnboundTask").finish_non_exhaustive()
    }
}

impl<S: Schedule> DualTask<S> {
    fn header(&self) -> &DualHeader {
        // SAFETY: the dual header starts the allocation, which a handle keeps
        // alive.
        unsafe { self.ptr.cast::<DualHeader>().as_ref() }
    }
}
