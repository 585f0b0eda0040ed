//! A single-threaded executor whose tasks embed `hearth_task::raw::DualHeader`:
//! one allocation per task (header, counts, runtime data, future), generic
//! over the future and type-erased in the run queue. This is the raw form of
//! `hearth_task::dual::DualTask` (see `task_executor.rs` for the same
//! executor on it, without `unsafe`).
//!
//! The three rules of the raw form (also in `DualHeader`'s docs):
//!
//! 1. Allocate first, then build the header with the final address and write
//!    everything through the raw pointer (the twin holds that pointer; a
//!    write through a `Box` or `&mut` would invalidate it).
//! 2. The twin's `clone` on a released header returns a clone of the `Waker`
//!    face: a `&LocalWaker` view from `cx.local_waker()` can outlive the last
//!    local reference, and its clone must not resurrect a local count.
//! 3. A wake by reference takes a temporary local count for the duration of
//!    the wake: scheduling may drop every other reference to the task.
//!
//! Panics: a panic in a future's poll or drop is not caught here (a runtime
//! would catch it around `poll` and drop the future, as `DualTask` and
//! hearth's executor do). Run with `cargo run --example raw_executor`, or
//! under Miri with `cargo +nightly miri run --example raw_executor`.
#![cfg_attr(feature = "nightly", feature(local_waker))]

use std::cell::{Cell, RefCell, UnsafeCell};
use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::mem::{ManuallyDrop, MaybeUninit};
use std::pin::Pin;
use std::ptr::NonNull;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Poll, RawWaker, RawWakerVTable, Waker};
use std::thread::{self, Thread};

use hearth_task::raw::{DualCounts, DualHeader, DualVTable};
use hearth_task::{ContextExt, LocalWaker};

/// What other threads reach: wakes for the owner, and who to unpark.
struct Remote {
    wakes: Mutex<Vec<Waker>>,
    /// Set after a push: the owner locks `wakes` only when it is set.
    pending: AtomicBool,
    thread: Thread,
}

type Queue = Rc<RefCell<VecDeque<TaskRef>>>;

/// The part of every task that does not depend on the future's type.
#[repr(C)]
struct Header {
    /// First: a `Waker`'s data pointer is the task's address.
    dual: DualHeader,
    counts: DualCounts,
    ops: &'static TaskOps,
    /// Owner thread only; dropped with the last local reference.
    queue: ManuallyDrop<Queue>,
    /// Any thread; dropped when the memory is freed.
    remote: Arc<Remote>,
    /// The future completed and was dropped. Owner thread only.
    done: Cell<bool>,
}

#[repr(C)]
struct Task<F> {
    header: Header,
    future: UnsafeCell<ManuallyDrop<F>>,
}

/// The operations that need the future's type.
struct TaskOps {
    poll: unsafe fn(NonNull<Header>, &mut std::task::Context<'_>) -> Poll<()>,
    drop_future: unsafe fn(NonNull<Header>),
    free: unsafe fn(NonNull<Header>),
}

fn ops<F: Future<Output = ()>>() -> &'static TaskOps {
    struct Table<F>(F);
    impl<F: Future<Output = ()>> Table<F> {
        const OPS: TaskOps = TaskOps {
            poll: |h, cx| {
                let t = h.cast::<Task<F>>().as_ptr();
                // SAFETY: owner thread, not done; the future never moves.
                unsafe { Pin::new_unchecked(&mut **(*t).future.get()) }.poll(cx)
            },
            // SAFETY: called once, when `done` is set or the task is released.
            drop_future: |h| unsafe {
                ManuallyDrop::drop(&mut *(*h.cast::<Task<F>>().as_ptr()).future.get())
            },
            // SAFETY: no reference is left; `h` came from `Box::into_raw`.
            free: |h| drop(unsafe { Box::from_raw(h.cast::<Task<F>>().as_ptr()) }),
        };
    }
    &Table::<F>::OPS
}

/// A handle owning one local count. `!Send` (a raw pointer).
struct TaskRef(NonNull<Header>);

impl TaskRef {
    fn spawn<F: Future<Output = ()> + 'static>(
        future: F,
        queue: &Queue,
        remote: &Arc<Remote>,
    ) -> TaskRef {
        // Rule 1: allocate first, build the header with the final address,
        // write through the raw pointer.
        let p: *mut Task<F> = Box::into_raw(Box::<MaybeUninit<Task<F>>>::new_uninit()).cast();
        // SAFETY: `TWIN` is valid on this (the owner) thread for as long as the
        // header lives, also after release (rule 2); `FACE` is thread-safe.
        let dual = unsafe { DualHeader::new(LocalWaker::new(p.cast(), &TWIN), &FACE) };
        // SAFETY: a fresh allocation for a `Task<F>`.
        unsafe {
            p.write(Task {
                header: Header {
                    dual,
                    counts: DualCounts::new(),
                    ops: ops::<F>(),
                    queue: ManuallyDrop::new(queue.clone()),
                    remote: remote.clone(),
                    done: Cell::new(false),
                },
                future: UnsafeCell::new(ManuallyDrop::new(future)),
            })
        };
        // SAFETY: `Box::into_raw` is never null.
        TaskRef(unsafe { NonNull::new_unchecked(p.cast()) })
    }

    fn header(&self) -> &Header {
        // SAFETY: our local count keeps the task alive.
        unsafe { self.0.as_ref() }
    }

    /// Polls once; returns `true` when the future is done.
    fn poll(&self) -> bool {
        let h = self.header();
        if h.done.get() {
            return true;
        }
        // SAFETY: a borrowed dual `Waker`: owns no count, never dropped.
        let waker = ManuallyDrop::new(unsafe {
            Waker::from_raw(DualHeader::raw_waker(self.0.as_ptr().cast()))
        });
        let mut cx = hearth_task::context_from_waker(&waker);
        // SAFETY: owner thread, not done, and no other poll is running.
        if unsafe { (h.ops.poll)(self.0, &mut cx) }.is_ready() {
            h.done.set(true);
            // SAFETY: done now, dropped once.
            unsafe { (h.ops.drop_future)(self.0) };
            return true;
        }
        false
    }

    /// Takes one more local count (rule 3's temporary count, or a clone).
    ///
    /// # Safety
    /// Owner thread; the task is alive and not released.
    unsafe fn acquire(h: NonNull<Header>) -> TaskRef {
        // SAFETY: per the contract.
        unsafe { h.as_ref().counts.inc_local() };
        TaskRef(h)
    }

    fn schedule(self) {
        let queue = Rc::clone(&self.header().queue);
        queue.borrow_mut().push_back(self);
    }
}

impl Clone for TaskRef {
    fn clone(&self) -> TaskRef {
        // SAFETY: owner thread (`!Send`); our count keeps it alive.
        unsafe { TaskRef::acquire(self.0) }
    }
}

impl Drop for TaskRef {
    fn drop(&mut self) {
        // SAFETY: we own a local count, on the owner thread.
        unsafe { release_local(self.0) }
    }
}

/// # Safety
/// The caller owns a local count of `h`; owner thread.
unsafe fn release_local(h: NonNull<Header>) {
    // SAFETY: alive until the release below.
    let header = unsafe { h.as_ref() };
    // SAFETY: owner thread, our count.
    if !unsafe { header.counts.dec_local() } {
        return;
    }
    // The last local reference: stop handing out the twin, drop the
    // owner-thread parts here, then give up the local side's `Waker` count.
    header.dual.release_local();
    if !header.done.replace(true) {
        // SAFETY: not done before: dropped once.
        unsafe { (header.ops.drop_future)(h) };
    }
    // SAFETY: dropped once, here; nothing reads `queue` after release.
    unsafe { ManuallyDrop::drop(&mut *std::ptr::addr_of!((*h.as_ptr()).queue).cast_mut()) };
    // SAFETY: right after the last local reference, once.
    if unsafe { header.counts.release_local_side() } {
        // SAFETY: no reference of either kind is left.
        unsafe { (header.ops.free)(h) };
    }
}

// ---- The twin (owner thread only) ----

static TWIN: RawWakerVTable =
    RawWakerVTable::new(twin_clone, twin_wake, twin_wake_by_ref, twin_drop);

/// # Safety (the four twin functions)
/// `p` is a task's address, used on its owner thread while the caller holds
/// an owned twin, or a view borrowed from a `Waker` that keeps the memory.
unsafe fn twin_clone(p: *const ()) -> RawWaker {
    let h = NonNull::new(p.cast_mut()).unwrap().cast::<Header>();
    // SAFETY: a twin or view keeps the memory alive.
    let header = unsafe { h.as_ref() };
    if header.dual.is_released() {
        // Rule 2: a view outlived the task; clone the `Waker` face.
        // SAFETY: the memory is alive.
        return unsafe { face_clone(h.as_ptr().cast()) };
    }
    // SAFETY: owner thread, alive and not released.
    std::mem::forget(unsafe { TaskRef::acquire(h) });
    RawWaker::new(p, &TWIN)
}

/// # Safety
/// As for `twin_clone`; consumes an owned twin's count.
unsafe fn twin_wake(p: *const ()) {
    // An owned twin's count moves into the handle that is scheduled.
    TaskRef(NonNull::new(p.cast_mut()).unwrap().cast()).schedule();
}

/// # Safety
/// As for `twin_clone`.
unsafe fn twin_wake_by_ref(p: *const ()) {
    let h = NonNull::new(p.cast_mut()).unwrap().cast::<Header>();
    // SAFETY: a twin or view keeps the memory alive.
    if !unsafe { h.as_ref() }.dual.is_released() {
        // Rule 3: a temporary count across the wake.
        // SAFETY: owner thread, alive and not released.
        unsafe { TaskRef::acquire(h) }.schedule();
    }
}

/// # Safety
/// As for `twin_clone`; consumes an owned twin's count.
unsafe fn twin_drop(p: *const ()) {
    // SAFETY: an owned twin's count.
    unsafe { release_local(NonNull::new(p.cast_mut()).unwrap().cast()) }
}

// ---- The `Waker` face (any thread) ----

static FACE: DualVTable = DualVTable::new(face_clone, face_wake, face_wake_by_ref, face_drop);

/// # Safety (the four face functions)
/// `h` is a task's header, alive because the caller holds a `Waker` (or a
/// view) of it; any thread.
unsafe fn face_clone(h: *const DualHeader) -> RawWaker {
    // SAFETY: the caller's reference keeps the memory alive.
    unsafe { (*h.cast::<Header>()).counts.inc_waker() };
    DualHeader::raw_waker(h)
}

/// # Safety
/// As for `face_clone`.
unsafe fn face_wake_by_ref(h: *const DualHeader) {
    // SAFETY: the caller's `Waker` keeps the memory alive.
    let header = unsafe { &*h.cast::<Header>() };
    if header.dual.is_local() {
        // SAFETY: owner thread, not released (rule 3).
        unsafe { TaskRef::acquire(NonNull::new(h.cast_mut()).unwrap().cast()) }.schedule();
    } else if !header.dual.is_released() {
        // SAFETY: a `Waker` of this header whose count the clone takes.
        let waker = unsafe { Waker::from_raw(face_clone(h)) };
        header.remote.wakes.lock().unwrap().push(waker);
        header.remote.pending.store(true, Ordering::Release);
        header.remote.thread.unpark();
    }
}

/// # Safety
/// As for `face_clone`; consumes the `Waker`'s count.
unsafe fn face_wake(h: *const DualHeader) {
    // SAFETY: forwarded; then the consumed `Waker`'s count goes.
    unsafe {
        face_wake_by_ref(h);
        face_drop(h);
    }
}

/// # Safety
/// As for `face_clone`; consumes the `Waker`'s count.
unsafe fn face_drop(h: *const DualHeader) {
    let h = NonNull::new(h.cast_mut()).unwrap().cast::<Header>();
    // SAFETY: the caller owns the count it gives up.
    let header = unsafe { h.as_ref() };
    // SAFETY: as above.
    if unsafe { header.counts.dec_waker() } {
        // SAFETY: that was the last reference of either kind.
        unsafe { (header.ops.free)(h) };
    }
}

// ---- The executor ----

struct Executor {
    queue: Queue,
    remote: Arc<Remote>,
    /// Every live task by address: a `Waker` keeps only the memory alive.
    live: RefCell<HashMap<NonNull<Header>, TaskRef>>,
}

impl Executor {
    fn new() -> Self {
        Executor {
            queue: Queue::default(),
            remote: Arc::new(Remote {
                wakes: Mutex::default(),
                pending: AtomicBool::new(false),
                thread: thread::current(),
            }),
            live: RefCell::default(),
        }
    }

    fn spawn(&self, future: impl Future<Output = ()> + 'static) {
        let task = TaskRef::spawn(future, &self.queue, &self.remote);
        self.queue.borrow_mut().push_back(task.clone());
        self.live.borrow_mut().insert(task.0, task);
    }

    fn run(&self) {
        while !self.live.borrow().is_empty() {
            if self.remote.pending.swap(false, Ordering::Acquire) {
                let wakes = std::mem::take(&mut *self.remote.wakes.lock().unwrap());
                wakes.into_iter().for_each(Waker::wake); // local path here
            }
            let next = self.queue.borrow_mut().pop_front();
            match next {
                Some(task) if task.poll() => {
                    self.live.borrow_mut().remove(&task.0);
                }
                Some(_) => {}
                None if !self.remote.pending.load(Ordering::Acquire) => thread::park(),
                None => {}
            }
        }
    }
}

impl Drop for Executor {
    fn drop(&mut self) {
        // Tasks hold the queue and the remote part: break those cycles.
        drop(std::mem::take(&mut *self.queue.borrow_mut()));
        drop(std::mem::take(&mut *self.remote.wakes.lock().unwrap()));
        drop(std::mem::take(&mut *self.live.borrow_mut()));
    }
}

fn main() {
    let ex = Executor::new();
    let hits = Rc::new(Cell::new(0));
    for i in 0..4u32 {
        let hits = hits.clone();
        ex.spawn(async move {
            // A wake through the twin (local path), `i` times.
            for _ in 0..i {
                let mut yielded = false;
                std::future::poll_fn(|cx| {
                    if yielded {
                        return Poll::Ready(());
                    }
                    yielded = true;
                    ContextExt::local_waker(cx).wake_by_ref();
                    Poll::Pending
                })
                .await;
            }
            hits.set(hits.get() + 1);
        });
    }
    // A wake from another thread (remote path).
    let (tx, rx) = futures::channel::oneshot::channel::<u32>();
    let h = hits.clone();
    ex.spawn(async move {
        assert_eq!(rx.await, Ok(7));
        h.set(h.get() + 1);
    });
    let sender = thread::spawn(move || tx.send(7).unwrap());
    ex.run();
    sender.join().unwrap();
    assert_eq!(hits.get(), 5);
    println!("5 tasks ran to completion, one allocation each");
}
