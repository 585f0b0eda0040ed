//! The raw task: one allocation holding the header, the future and its output.
//!
//! # Layout
//!
//! `Task<F>` is `#[repr(C)]` with the [`Header`] first, so a header pointer is
//! a task pointer; everything type-specific goes through [`TaskVTable`]. The
//! header starts with a [`DualHeader`]: the task's `Waker` (vtable `DUAL`,
//! data = header) carries its local twin (`TASK_LOCAL`, data = header).
//!
//! # References
//!
//! [`DualCounts`] holds two counts (biased reference counting):
//!
//! - *local* (owner thread): the executor's task list while the task is
//!   incomplete, each run-queue entry, the `JoinHandle`, each owned twin.
//! - *wakers* (any thread): each `Waker` clone and each queued remote wake,
//!   plus one for the local side while *local* is non-zero.
//!
//! When *local* reaches zero (owner thread) the twin is released, the stage
//! (future or output, possibly `!Send`) and the join waiter are dropped here,
//! and the local side's `Waker` count is given up. The last count of either
//! kind deallocates; by then only `Send` data is left, so any thread may.
//!
//! # State (owner thread only, `Cell<u8>`)
//!
//! - `SCHEDULED`: a run-queue entry exists; set by a local wake, cleared by
//!   the executor when it pops the entry.
//! - `RUNNING`: being polled.
//! - `COMPLETE`: the future is gone (finished, panicked, cancelled); the
//!   output waits in the stage for the `JoinHandle`. Wakes are no-ops. The
//!   executor's core is never touched again (it may be gone).
//! - `CANCELLED`: `abort()` was called; the executor drops the future at the
//!   next poll instead of polling it.
//! - `DETACHED`: the `JoinHandle` was dropped: the output is dropped as soon
//!   as it exists.
//!
//! `core` is valid while `COMPLETE` is clear: the executor completes every
//! task before its core goes away.

use core::alloc::Layout;
use core::cell::{Cell, UnsafeCell};
use core::future::Future;
use core::marker::PhantomData;
use core::mem::ManuallyDrop;
use core::pin::Pin;
use core::ptr::{self, NonNull};
use core::task::{Context, Poll, RawWaker, RawWakerVTable, Waker};
use std::panic::{catch_unwind, AssertUnwindSafe};

use hearth_task::atomic::{AtomicBool, Ordering};
use hearth_task::raw::{DualCounts, DualHeader, DualVTable};
use hearth_task::{ContextExt, LocalWaker, LocalWakerSlot};

use super::join::JoinError;
#[cfg(not(loom))]
use super::memory;
use super::trace::TaskSpan;
use super::unwind::{drop_payload, quietly};
use super::Core;
use crate::sync_shim::Arc;

pub(crate) const SCHEDULED: u8 = 1 << 0;
pub(crate) const RUNNING: u8 = 1 << 1;
pub(crate) const COMPLETE: u8 = 1 << 2;
pub(crate) const CANCELLED: u8 = 1 << 3;
pub(crate) const DETACHED: u8 = 1 << 4;

/// `slab_index` of a task that is not in the executor's table (it has not
/// returned `Pending` yet, or it is complete).
pub(crate) const UNLISTED: u32 = u32::MAX;

/// The type-independent part of a task.
///
/// Field order keeps it small (88 bytes): a trivial task fits the allocator's
/// 128-byte class, where allocation and freeing are cheapest.
#[repr(C)]
pub(crate) struct Header {
    /// The dual-waker header; must stay the first field.
    dual: DualHeader,
    /// Biased reference counts; see the module docs.
    counts: DualCounts,
    /// State bits; owner thread only.
    state: Cell<u8>,
    /// This task owns a strong count of the executor's `Arc<Core>`. Taken when
    /// the first thread-safe `Waker` of the task is made (the executor is
    /// alive then: it is polling the task or holds it), released when the
    /// task is freed. A task that never hands out a `Waker` touches no `Arc`.
    holds_core: AtomicBool,
    /// A remote wake of this task is queued (dedupes remote wakes); any thread.
    remote_queued: AtomicBool,
    /// The task's slot in the executor's table of incomplete tasks, or
    /// [`UNLISTED`]; owner thread only.
    slab_index: Cell<u32>,
    /// The executor this task runs on. Its owner-thread parts: owner thread
    /// only, while not `COMPLETE`. Its `remote` part: any thread holding a
    /// `Waker` (see `holds_core`).
    core: *const Core,
    /// Type-specific operations; immutable.
    vtable: &'static TaskVTable,
    /// The task awaiting the `JoinHandle`; owner thread only.
    join_waiter: LocalWakerSlot,
    /// The next task in the run queue while `SCHEDULED`; owner thread only.
    next_ready: Cell<Option<NonNull<Header>>>,
    /// The task's `tracing` span; zero-sized without the `tracing` feature.
    /// Immutable; dropped with the allocation (it is `Send`).
    span: TaskSpan,
    /// Model checking only: loom builds never deallocate, they mark the task
    /// freed and assert on every access through `TaskRef`/wakers.
    #[cfg(loom)]
    freed: AtomicBool,
}

impl Header {
    pub(crate) fn next_ready(&self) -> Option<NonNull<Header>> {
        self.next_ready.get()
    }

    pub(crate) fn set_next_ready(&self, next: Option<NonNull<Header>>) {
        self.next_ready.set(next);
    }
}

/// Type-specific operations of a task.
struct TaskVTable {
    /// Polls the future; returns `true` when the stage became `Finished`.
    /// A panic of the future unwinds out of it (the executor catches it once
    /// per batch of polls, not per poll) and the caller then calls `panicked`.
    poll: unsafe fn(NonNull<Header>) -> bool,
    /// Replaces the future that panicked with `Finished(Err(panic))`.
    panicked: unsafe fn(NonNull<Header>, Box<dyn core::any::Any + Send>),
    /// Replaces a running future with `Finished(Err(cancelled))`.
    cancel: unsafe fn(NonNull<Header>),
    /// Drops whatever the stage holds and leaves it `Consumed`.
    drop_stage: unsafe fn(NonNull<Header>),
    /// Moves a finished output into `*mut Option<Result<T, JoinError>>`.
    take_output: unsafe fn(NonNull<Header>, *mut ()),
    /// Frees the allocation (`Send` data only is left).
    dealloc: unsafe fn(NonNull<Header>),
}

enum Stage<F: Future> {
    Running(F),
    Finished(Result<F::Output, JoinError>),
    Consumed,
}

#[repr(C)]
struct Task<F: Future> {
    header: Header,
    stage: UnsafeCell<Stage<F>>,
}

/// An owned local reference to a task (owner thread only, `!Send`).
pub(crate) struct TaskRef {
    ptr: NonNull<Header>,
    _not_send: PhantomData<*const ()>,
}

impl TaskRef {
    /// Allocates a task for `future` on `core` and returns its first local
    /// reference.
    /// `core` must have the provenance of the executor's whole `Arc` (see
    /// `Core::this`).
    pub(crate) fn new<F: Future + 'static>(
        future: F,
        core: *const Core,
        span: TaskSpan,
    ) -> TaskRef {
        let vtable = task_vtable::<F>();
        // One allocation per task, reused from this thread's cache when it
        // has a block of the size class (see `memory`).
        let p: *mut Task<F> = alloc_task::<F>().as_ptr().cast();
        // SAFETY: `TASK_LOCAL` is valid on this thread for as long as the
        // header lives (it checks `is_released`); `TASK_WAKER` is thread-safe.
        // The header is written to its final address right below.
        let dual = unsafe { DualHeader::new(LocalWaker::new(p.cast(), &TASK_LOCAL), &TASK_WAKER) };
        // SAFETY: `p` is a fresh allocation for a `Task<F>`; all writes go
        // through `p`, so the twin's copy of it stays valid.
        unsafe {
            p.write(Task {
                header: Header {
                    dual,
                    counts: DualCounts::new(),
                    state: Cell::new(0),
                    holds_core: AtomicBool::new(false),
                    remote_queued: AtomicBool::new(false),
                    slab_index: Cell::new(UNLISTED),
                    core,
                    vtable,
                    join_waiter: LocalWakerSlot::new(),
                    next_ready: Cell::new(None),
                    span,
                    #[cfg(loom)]
                    freed: AtomicBool::new(false),
                },
                stage: UnsafeCell::new(Stage::Running(future)),
            });
        }
        // SAFETY: `alloc_task` never returns null.
        let ptr = unsafe { NonNull::new_unchecked(p.cast::<Header>()) };
        TaskRef {
            ptr,
            _not_send: PhantomData,
        }
    }

    /// Takes ownership of a local reference held as a raw pointer.
    ///
    /// # Safety
    /// The caller gives up a local reference of `ptr` it owns.
    pub(crate) unsafe fn from_raw(ptr: NonNull<Header>) -> TaskRef {
        TaskRef {
            ptr,
            _not_send: PhantomData,
        }
    }

    /// Gives up ownership of this reference as a raw pointer.
    pub(crate) fn into_raw(self) -> NonNull<Header> {
        ManuallyDrop::new(self).ptr
    }

    pub(crate) fn header(&self) -> &Header {
        // SAFETY: a local reference keeps the task alive.
        unsafe { header_ref(self.ptr) }
    }

    pub(crate) fn ptr(&self) -> NonNull<Header> {
        self.ptr
    }

    /// The task's `tracing` span (a no-op without the feature).
    pub(crate) fn span(&self) -> &TaskSpan {
        &self.header().span
    }

    pub(crate) fn slab_index(&self) -> u32 {
        self.header().slab_index.get()
    }

    pub(crate) fn set_slab_index(&self, index: u32) {
        self.header().slab_index.set(index);
    }

    /// The task's state bits.
    pub(crate) fn state(&self) -> u8 {
        self.header().state.get()
    }

    pub(crate) fn set_state(&self, bits: u8) {
        let h = self.header();
        h.state.set(h.state.get() | bits);
    }

    pub(crate) fn clear_state(&self, bits: u8) {
        let h = self.header();
        h.state.set(h.state.get() & !bits);
    }

    /// Polls the future (or drops it if cancelled). Returns `true` when the
    /// task is finished and must be completed. A panic of the future unwinds
    /// out of here with `RUNNING` still set: call [`TaskRef::fail`] then.
    pub(crate) fn run(&self) -> bool {
        let h = self.header();
        if h.state.get() & CANCELLED != 0 {
            // SAFETY: owner thread; the task is not complete (the caller checked).
            unsafe { (h.vtable.cancel)(self.ptr) };
            return true;
        }
        h.state.set(h.state.get() | RUNNING);
        // SAFETY: owner thread; not complete, not already running (the
        // executor never polls a task reentrantly: `RUNNING` tasks are not in
        // the run queue's pop path twice at once).
        let done = unsafe { (h.vtable.poll)(self.ptr) };
        h.state.set(h.state.get() & !RUNNING);
        done
    }

    /// Records the panic of the future that was being polled.
    pub(crate) fn fail(&self, payload: Box<dyn core::any::Any + Send>) {
        let h = self.header();
        h.state.set(h.state.get() & !RUNNING);
        // SAFETY: owner thread; the task is not complete and its poll unwound.
        unsafe { (h.vtable.panicked)(self.ptr, payload) }
    }

    /// Drops the future of an incomplete task, recording a cancellation.
    pub(crate) fn cancel_now(&self) {
        // SAFETY: owner thread; the caller checked the task is not complete
        // and not running.
        unsafe { (self.header().vtable.cancel)(self.ptr) }
    }

    /// Marks the task complete, then drops the output if nobody will read it
    /// and wakes the task awaiting the `JoinHandle`. Panics of that user code
    /// are discarded (the state is already final). The caller has unlinked
    /// it from the executor's list.
    pub(crate) fn mark_complete(&self) {
        let h = self.header();
        h.state.set(h.state.get() | COMPLETE);
        if h.state.get() & DETACHED != 0 {
            // SAFETY: owner thread.
            unsafe { (h.vtable.drop_stage)(self.ptr) };
        }
        if let Some(waiter) = h.join_waiter.take() {
            quietly(move || waiter.wake());
        }
    }

    /// For `JoinHandle::poll`: the output if complete, else registers the
    /// local waker of `cx`.
    ///
    /// # Safety
    /// `T` is the output type of the task's future.
    pub(crate) unsafe fn poll_output<T>(
        &self,
        cx: &Context<'_>,
    ) -> Poll<Option<Result<T, JoinError>>> {
        let h = self.header();
        if h.state.get() & COMPLETE == 0 {
            h.join_waiter.register(ContextExt::local_waker(cx));
            return Poll::Pending;
        }
        // SAFETY: `T` is the output type per the contract.
        Poll::Ready(unsafe { self.take_output::<T>() })
    }

    /// The output, if the task is complete and it was not taken yet.
    ///
    /// # Safety
    /// `T` is the output type of the task's future.
    pub(crate) unsafe fn take_output<T>(&self) -> Option<Result<T, JoinError>> {
        let h = self.header();
        if h.state.get() & COMPLETE == 0 {
            return None;
        }
        let mut out: Option<Result<T, JoinError>> = None;
        // SAFETY: owner thread; `T` is the output type per the contract.
        unsafe {
            (h.vtable.take_output)(
                self.ptr,
                (&mut out as *mut Option<Result<T, JoinError>>).cast(),
            )
        };
        out
    }

    /// Makes `waker` the one woken when the task completes (at once if it
    /// has), replacing the one registered before.
    pub(crate) fn set_join_waiter(&self, waker: &LocalWaker) {
        let h = self.header();
        h.join_waiter.register(waker);
        if h.state.get() & COMPLETE != 0 {
            h.join_waiter.wake();
        }
    }

    /// For `JoinHandle::drop`: never read the output.
    pub(crate) fn detach(&self) {
        let h = self.header();
        h.state.set(h.state.get() | DETACHED);
        if h.state.get() & COMPLETE != 0 {
            // SAFETY: owner thread.
            unsafe { (h.vtable.drop_stage)(self.ptr) };
        }
    }

    /// Requests cancellation (for `JoinHandle::abort`).
    pub(crate) fn abort(&self) {
        let h = self.header();
        if h.state.get() & COMPLETE != 0 {
            return;
        }
        h.state.set(h.state.get() | CANCELLED);
        // SAFETY: owner thread; `self` keeps the task alive.
        unsafe { schedule_local(self.ptr) };
    }
}

impl Clone for TaskRef {
    fn clone(&self) -> TaskRef {
        // SAFETY: owner thread (`TaskRef` is `!Send`), and `self` keeps the
        // task alive.
        unsafe { self.header().counts.inc_local() };
        TaskRef {
            ptr: self.ptr,
            _not_send: PhantomData,
        }
    }
}

impl Drop for TaskRef {
    fn drop(&mut self) {
        // SAFETY: we own one local reference, on the owner thread.
        unsafe { release_local(self.ptr) }
    }
}

/// Borrows a task's header.
///
/// # Safety
/// The task is alive for `'a`.
#[inline]
unsafe fn header_ref<'a>(ptr: NonNull<Header>) -> &'a Header {
    // SAFETY: per the contract.
    let h = unsafe { ptr.as_ref() };
    #[cfg(loom)]
    assert!(!h.freed.load(Ordering::SeqCst), "task used after free");
    h
}

/// Schedules a task from its owner thread, unless it is already scheduled or
/// complete. Plain memory operations only.
///
/// `ptr` keeps the provenance of the whole task allocation (never derive it
/// from a `&Header`: the run queue entry also reaches the stage through it).
///
/// # Safety
/// Owner thread; the task is alive (the caller holds a reference to it).
unsafe fn schedule_local(ptr: NonNull<Header>) {
    // SAFETY: per the contract.
    let h = unsafe { header_ref(ptr) };
    let state = h.state.get();
    if state & (SCHEDULED | COMPLETE) != 0 {
        return;
    }
    h.state.set(state | SCHEDULED);
    // SAFETY: not complete, so the core is alive; owner thread.
    let core = unsafe { &*h.core };
    // SAFETY: owner thread; the caller's reference keeps the task alive.
    unsafe { h.counts.inc_local() };
    // SAFETY: the count taken above moves into the queue entry.
    core.push_ready(unsafe { TaskRef::from_raw(ptr) });
}

/// Releases one local reference.
///
/// # Safety
/// Owner thread; the caller owns the reference.
unsafe fn release_local(ptr: NonNull<Header>) {
    // SAFETY: the caller's reference keeps the task alive.
    let h = unsafe { header_ref(ptr) };
    // SAFETY: owner thread, our reference.
    if !unsafe { h.counts.dec_local() } {
        return;
    }
    // The last local reference: release the twin, then drop everything that
    // may be `!Send` here on the owner thread.
    h.dual.release_local();
    // SAFETY: owner thread; nothing else can reach the stage now.
    unsafe { (h.vtable.drop_stage)(ptr) };
    if let Some(waiter) = h.join_waiter.take() {
        quietly(move || drop(waiter));
    }
    // SAFETY: right after the last local reference, once.
    if unsafe { h.counts.release_local_side() } {
        // SAFETY: no reference of either kind is left.
        unsafe { (h.vtable.dealloc)(ptr) };
    }
}

/// Releases one `Waker` count, deallocating on the last reference.
///
/// # Safety
/// The caller owns the count; any thread.
unsafe fn release_waker(ptr: NonNull<Header>) {
    // SAFETY: the caller's count keeps the task alive.
    let h = unsafe { header_ref(ptr) };
    // SAFETY: our count.
    if unsafe { h.counts.dec_waker() } {
        // SAFETY: no reference of either kind is left; the stage was dropped
        // on the owner thread when the local references went.
        unsafe { (h.vtable.dealloc)(ptr) };
    }
}

/// A remote wake waiting in the owner's queue; owns one `Waker` count.
pub(crate) struct RemoteWake(NonNull<Header>);

// SAFETY: it only touches the header's thread-safe parts (`counts.wakers`,
// `remote_queued`, `remote`) off the owner thread; the rest only in `run`,
// which the owner thread calls.
unsafe impl Send for RemoteWake {}

impl RemoteWake {
    /// On the owner thread: clears the dedupe flag and schedules the task.
    pub(crate) fn run(self) {
        // SAFETY: our count keeps the task alive.
        let h = unsafe { header_ref(self.0) };
        // Acquire (an RMW, so it reads the latest `true`): everything the
        // wakers did before their wakes is visible to the poll that follows.
        h.remote_queued.swap(false, Ordering::Acquire);
        if h.dual.is_local() {
            // SAFETY: owner thread; our count keeps the task alive.
            unsafe { schedule_local(self.0) };
        }
    }
}

impl Drop for RemoteWake {
    fn drop(&mut self) {
        // SAFETY: we own one `Waker` count.
        unsafe { release_waker(self.0) }
    }
}

/// Wakes a task from a thread that does not own it.
///
/// # Safety
/// The caller holds a `Waker` of the task; `ptr` has the allocation's provenance.
unsafe fn wake_remote(ptr: NonNull<Header>) {
    // SAFETY: the caller's `Waker` keeps the task alive.
    let h = unsafe { header_ref(ptr) };
    if h.remote_queued.swap(true, Ordering::AcqRel) {
        return; // already queued; the owner will see our writes (see `RemoteWake::run`)
    }
    h.counts.inc_waker();
    // SAFETY: the caller's `Waker` made the task hold a count of the core.
    unsafe { &*h.core }.remote.push(RemoteWake(ptr));
}

/// Makes the task hold a strong count of its executor's core, before its
/// first thread-safe `Waker` exists.
///
/// # Safety
/// The executor is alive (the caller polls the task, or holds a reference
/// that was made while it was alive and already took the count).
unsafe fn hold_core(h: &Header) {
    if !h.holds_core.load(Ordering::Relaxed) && !h.holds_core.swap(true, Ordering::AcqRel) {
        // SAFETY: `core` came from the executor's `Arc`, alive per the contract.
        unsafe { Arc::increment_strong_count(h.core) };
    }
}

// ---- The twin's vtable (owner thread only; the same for every task) ----

static TASK_LOCAL: RawWakerVTable =
    RawWakerVTable::new(local_clone, local_wake, local_wake_by_ref, local_drop);

/// # Safety
/// `p` is the header of a live task, on its owner thread (a twin or view).
unsafe fn local_clone(p: *const ()) -> RawWaker {
    // SAFETY: a twin's count, or the `Waker` a view came from, keeps it alive.
    let h = unsafe { &*p.cast::<Header>() };
    if h.dual.is_released() {
        // A view outlived the local references: hand out a `Waker`-face
        // clone (thread-safe, hence a valid local waker; its wakes are no-ops).
        // SAFETY: a view of a released task comes from a `Waker` the caller
        // holds, which already made the task hold the core.
        unsafe { hold_core(h) };
        h.counts.inc_waker();
        return DualHeader::raw_waker(p.cast());
    }
    // SAFETY: owner thread, task alive.
    unsafe { h.counts.inc_local() };
    RawWaker::new(p, &TASK_LOCAL)
}

/// # Safety
/// As for [`local_clone`]; consumes an owned twin's local reference.
unsafe fn local_wake(p: *const ()) {
    // SAFETY: forwarded.
    unsafe {
        local_wake_by_ref(p);
        local_drop(p);
    }
}

/// # Safety
/// As for [`local_clone`].
unsafe fn local_wake_by_ref(p: *const ()) {
    // SAFETY: as in `local_clone`.
    let h = unsafe { &*p.cast::<Header>() };
    if !h.dual.is_released() {
        // SAFETY: owner thread, task alive; `p` has the allocation's provenance.
        unsafe { schedule_local(NonNull::new_unchecked(p.cast_mut().cast())) };
    }
}

/// # Safety
/// As for [`local_clone`]; consumes an owned twin's local reference.
unsafe fn local_drop(p: *const ()) {
    // SAFETY: an owned twin's reference, given up here.
    unsafe { release_local(NonNull::new_unchecked(p.cast_mut().cast())) }
}

// ---- The `Waker` face (any thread) ----

// `task_provide` hands out the header's address as the task's identity (the
// header lives as long as any `Waker` of it) and the executor's runtime
// context (set once, before any task runs, and kept until the `Core` goes,
// which outlives the task's `Waker` borrows: see `task_provide`).
// The identity is also a field: the `Anchor` at offset 0 is the first byte
// of the header itself (`Anchor::of`), so `task::Id` look-ups read it in
// place, without a call.
// SAFETY: the hooks keep `DualVTable::new`'s contract (see above); the field
// is the header's first byte, immutable while the header lives.
static TASK_WAKER: DualVTable = unsafe {
    DualVTable::new(waker_clone, waker_wake, waker_wake_by_ref, waker_drop)
        .provider(task_provide)
        .provides_only(&[core::any::TypeId::of::<super::RuntimeContext>()])
        .fields(&[hearth_task::provide::Field::new::<crate::task::Anchor>(0)])
};

/// What every hearth task provides to its context
/// ([`hearth_task::ContextExt::request_ref`]): its identity (whence
/// [`crate::task::Id`]) and,
/// on a runtime's worker, the runtime's handle and worker index.
///
/// # Safety
/// `h` is the header of a live task, on its owner thread (the look-up
/// checks both).
unsafe fn task_provide(h: *const DualHeader, request: &mut hearth_task::provide::Request<'_>) {
    // SAFETY: per the contract; the header is the start of `Header`.
    let header = unsafe { &*h.cast::<Header>() };
    // (The identity is a field of `TASK_WAKER`, read without this call.)
    if request.would_be_satisfied_by_ref_of::<super::RuntimeContext>()
        && header.state.get() & COMPLETE == 0
    {
        // `core` is valid while `COMPLETE` is clear (module docs). The
        // reference outlives this call: a `Waker` borrow is either the
        // executor's own (`waker_ref` while it polls, so it is alive), or
        // a counted `Waker`, whose task holds an `Arc` of the core
        // (`holds_core`) until the task is freed, which that `Waker`
        // prevents. The runtime context is never changed once set.
        // SAFETY: by the above.
        let core = unsafe { &*header.core };
        if let Some(rt) = core.runtime_context() {
            request.provide_ref(rt);
        }
    }
}

/// # Safety
/// `h` is the header of a live task; the caller holds a reference to it.
unsafe fn waker_clone(h: *const DualHeader) -> RawWaker {
    // SAFETY: alive per the contract; the header is the start of `Header`.
    let header = unsafe { &*h.cast::<Header>() };
    // SAFETY: the caller's reference is a borrowed `Waker` of a poll (the
    // executor is alive) or an owned one (which already took the count).
    unsafe { hold_core(header) };
    header.counts.inc_waker();
    DualHeader::raw_waker(h)
}

/// # Safety
/// As for [`waker_clone`].
unsafe fn waker_wake_by_ref(h: *const DualHeader) {
    // SAFETY: as in `waker_clone`.
    let header = unsafe { &*h.cast::<Header>() };
    // SAFETY: `h` is the `Waker`'s data: non-null, with the allocation's provenance.
    let ptr = unsafe { NonNull::new_unchecked(h.cast_mut().cast::<Header>()) };
    if header.dual.is_local() {
        // SAFETY: owner thread; the caller's `Waker` keeps the task alive.
        unsafe { schedule_local(ptr) };
    } else if !header.dual.is_released() {
        // SAFETY: the caller holds a `Waker`.
        unsafe { wake_remote(ptr) };
    }
}

/// # Safety
/// As for [`waker_clone`]; consumes the `Waker`'s count.
unsafe fn waker_wake(h: *const DualHeader) {
    // SAFETY: forwarded.
    unsafe {
        waker_wake_by_ref(h);
        waker_drop(h);
    }
}

/// # Safety
/// As for [`waker_clone`]; consumes the `Waker`'s count.
unsafe fn waker_drop(h: *const DualHeader) {
    // SAFETY: forwarded; `h` is non-null.
    unsafe { release_waker(NonNull::new_unchecked(h.cast_mut().cast())) }
}

// ---- Type-specific operations ----

fn task_vtable<F: Future + 'static>() -> &'static TaskVTable {
    struct Table<F>(F);
    impl<F: Future + 'static> Table<F> {
        const VTABLE: TaskVTable = TaskVTable {
            poll: poll::<F>,
            panicked: panicked::<F>,
            cancel: cancel::<F>,
            drop_stage: drop_stage::<F>,
            take_output: take_output::<F>,
            dealloc: dealloc::<F>,
        };
    }
    &Table::<F>::VTABLE
}

/// # Safety
/// `ptr` is a live `Task<F>`; owner thread; no other access to its stage.
unsafe fn stage<'a, F: Future>(ptr: NonNull<Header>) -> &'a mut Stage<F> {
    // SAFETY: per the contract.
    unsafe { &mut *(*ptr.cast::<Task<F>>().as_ptr()).stage.get() }
}

/// Replaces the stage, dropping the old one in place (the future is pinned
/// there).
///
/// A panic in that drop is the task's result only when the task has no other
/// one (it was cancelled): an output or the poll's own panic is kept and the
/// drop's panic discarded, as tokio does. Either way the slot holds a valid
/// stage before any further user code runs (a discarded output or payload,
/// whose drop may panic too, is dropped after the write, quietly).
fn replace_stage<F: Future>(slot: &mut Stage<F>, new: Stage<F>) {
    // SAFETY: dropped exactly once, in place; `ptr::write` below overwrites
    // it without dropping again, also if the drop panicked half way.
    let dropped = catch_unwind(AssertUnwindSafe(|| unsafe { ptr::drop_in_place(slot) }));
    let Err(payload) = dropped else {
        // SAFETY: the old value was dropped above.
        unsafe { ptr::write(slot, new) };
        return;
    };
    let cancelled = matches!(&new, Stage::Finished(Err(e)) if e.is_cancelled());
    if cancelled {
        // SAFETY: the old value was dropped (its drop unwound) above.
        unsafe { ptr::write(slot, Stage::Finished(Err(JoinError::panic(payload)))) };
    } else {
        // SAFETY: as above.
        unsafe { ptr::write(slot, new) };
        drop_payload(payload);
    }
}

/// # Safety
/// Owner thread; `ptr` is a `Task<F>` that is not complete and not running.
unsafe fn poll<F: Future>(ptr: NonNull<Header>) -> bool {
    // SAFETY: the task is alive and only the executor touches the stage.
    let slot = unsafe { stage::<F>(ptr) };
    let Stage::Running(future) = slot else {
        return true;
    };
    // SAFETY: the future never moves: it lives in the task allocation until
    // it is dropped in place (`replace_stage`).
    let future = unsafe { Pin::new_unchecked(future) };
    // SAFETY: a borrowed dual `Waker` of this task; it owns no count and is
    // never dropped; the task outlives the poll.
    let waker =
        ManuallyDrop::new(unsafe { Waker::from_raw(DualHeader::raw_waker(ptr.as_ptr().cast())) });
    let mut cx = hearth_task::context_from_waker(&waker);
    match future.poll(&mut cx) {
        Poll::Pending => false,
        Poll::Ready(output) => {
            replace_stage(slot, Stage::Finished(Ok(output)));
            true
        }
    }
}

/// # Safety
/// As for [`poll`]; the future just panicked while being polled.
unsafe fn panicked<F: Future>(ptr: NonNull<Header>, payload: Box<dyn core::any::Any + Send>) {
    // SAFETY: as in `poll`.
    let slot = unsafe { stage::<F>(ptr) };
    replace_stage(slot, Stage::Finished(Err(JoinError::panic(payload))));
}

/// # Safety
/// As for [`poll`].
unsafe fn cancel<F: Future>(ptr: NonNull<Header>) {
    // SAFETY: as in `poll`.
    let slot = unsafe { stage::<F>(ptr) };
    if let Stage::Running(_) = slot {
        replace_stage(slot, Stage::Finished(Err(JoinError::cancelled())));
    }
}

/// # Safety
/// Owner thread; `ptr` is a `Task<F>` that is not running.
unsafe fn drop_stage<F: Future>(ptr: NonNull<Header>) {
    // SAFETY: as in `poll`.
    let slot = unsafe { stage::<F>(ptr) };
    if !matches!(slot, Stage::Consumed) {
        // SAFETY: dropped exactly once, in place; overwritten below without
        // a second drop whether or not the drop unwound.
        let dropped = catch_unwind(AssertUnwindSafe(|| unsafe { ptr::drop_in_place(slot) }));
        // SAFETY: the old value is gone.
        unsafe { ptr::write(slot, Stage::Consumed) };
        // A panic in a future's or output's drop here has nobody to report
        // to (the task is cancelled with its executor, or detached).
        if let Err(payload) = dropped {
            drop_payload(payload);
        }
    }
}

/// # Safety
/// Owner thread; `ptr` is a complete `Task<F>`; `dst` points at an
/// `Option<Result<F::Output, JoinError>>`.
unsafe fn take_output<F: Future>(ptr: NonNull<Header>, dst: *mut ()) {
    // SAFETY: as in `poll`.
    let slot = unsafe { stage::<F>(ptr) };
    if let Stage::Finished(_) = slot {
        // Moving the output out is fine: only the future is pinned.
        let Stage::Finished(result) = core::mem::replace(slot, Stage::Consumed) else {
            unreachable!()
        };
        // SAFETY: `dst` has this type per the contract.
        unsafe { *dst.cast::<Option<Result<F::Output, JoinError>>>() = Some(result) };
    }
}

/// The memory of a new `Task<F>` (uninitialised).
#[cfg(not(loom))]
fn alloc_task<F: Future>() -> NonNull<u8> {
    memory::alloc(Layout::new::<Task<F>>())
}

/// The memory of a new `Task<F>`: model checking never frees tasks (see
/// `dealloc`), so no cache.
#[cfg(loom)]
fn alloc_task<F: Future>() -> NonNull<u8> {
    let layout = Layout::new::<Task<F>>();
    // SAFETY: a task has a non-zero size (its header).
    NonNull::new(unsafe { std::alloc::alloc(layout) })
        .unwrap_or_else(|| std::alloc::handle_alloc_error(layout))
}

/// # Safety
/// No reference of either kind is left; `ptr` is a `Task<F>` whose stage is
/// `Consumed`.
unsafe fn dealloc<F: Future>(ptr: NonNull<Header>) {
    // SAFETY: no other reference is left; read what outlives the task first.
    let (core, holds_core) = unsafe {
        let h = header_ref(ptr);
        (h.core, h.holds_core.load(Ordering::Acquire))
    };
    #[cfg(not(loom))]
    {
        let task = ptr.cast::<Task<F>>();
        // SAFETY: the stage holds nothing and the header holds only `Send`
        // data, so any thread may drop them; dropped once, then freed.
        unsafe { ptr::drop_in_place(task.as_ptr()) };
        // An executor running on this thread keeps the block for its next
        // spawn; elsewhere the cache keeps only a few (see `memory`).
        let busy = super::with_current(|_| ()).is_some();
        // SAFETY: allocated by `alloc_task::<F>` (`TaskRef::new`) with this
        // layout; nothing uses it any more.
        unsafe { memory::dealloc(task.cast(), Layout::new::<Task<F>>(), busy) };
    }
    #[cfg(loom)]
    {
        // SAFETY: as above; loom builds leak the memory and mark it freed.
        let h = unsafe { header_ref(ptr) };
        assert!(!h.freed.swap(true, Ordering::SeqCst), "task freed twice");
    }
    if holds_core {
        // SAFETY: the task owned this count (`hold_core`).
        unsafe { Arc::decrement_strong_count(core) };
    }
}

// The `tracing` feature adds the task's span to the header.
#[cfg(all(test, target_pointer_width = "64", not(loom), not(feature = "tracing")))]
mod tests {
    use super::*;

    fn task_size<F: Future>(_: &F) -> usize {
        core::mem::size_of::<Task<F>>()
    }

    #[test]
    fn a_trivial_task_fits_the_128_byte_class() {
        assert_eq!(core::mem::size_of::<Header>(), 88);
        // A thin `JoinError` keeps a finished stage small: one word beside
        // the output and the tag (a two-word error made this 24 bytes).
        assert_eq!(core::mem::size_of::<JoinError>(), 8);
        assert_eq!(core::mem::size_of::<Result<u64, JoinError>>(), 16);
        let i = 7usize;
        // glibc serves 120 bytes from a 128-byte chunk; the task-memory
        // cache's classes follow the same steps (`memory`).
        assert!(
            task_size(&async move { i }) <= 120,
            "{}",
            task_size(&async move { i })
        );
    }
}
