//! `DualTask`: one allocation per task, the future's states, the wake paths,
//! panics, and the owner hand-over (`UnboundTask`).
#![cfg_attr(feature = "nightly", feature(local_waker))]

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::future::Future;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::rc::Rc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Poll, Waker};
use std::thread;

use hearth_task::atomic::counting::count;
use hearth_task::dual::{DualTask, Schedule};
use hearth_task::ContextExt;

/// Counts the allocations of the calling thread.
struct Counting;

thread_local! {
    static ALLOCS: Cell<usize> = const { Cell::new(0) };
}

// SAFETY: forwards to `System`; the counter is a const thread-local without
// a destructor, so it never allocates.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let _ = ALLOCS.try_with(|c| c.set(c.get() + 1));
        // SAFETY: forwarded.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn allocs() -> usize {
    ALLOCS.with(Cell::get)
}

type Queue = Rc<RefCell<VecDeque<DualTask<Sched>>>>;

/// A minimal runtime: a run queue, and a count of remote wakes.
struct Sched {
    queue: Queue,
    dropped: Rc<Cell<usize>>,
}

impl Drop for Sched {
    fn drop(&mut self) {
        self.dropped.set(self.dropped.get() + 1);
    }
}

#[derive(Default)]
struct Remote {
    wakes: AtomicUsize,
}

impl Schedule for Sched {
    type Shared = Arc<Remote>;
    fn schedule(task: &DualTask<Self>) {
        task.queue.borrow_mut().push_back(task.clone());
    }
    fn schedule_remote(shared: &Arc<Remote>, _waker: &Waker) {
        shared.wakes.fetch_add(1, Ordering::SeqCst);
    }
}

fn sched(queue: &Queue) -> (Sched, Rc<Cell<usize>>) {
    let dropped = Rc::new(Cell::new(0));
    (
        Sched {
            queue: queue.clone(),
            dropped: dropped.clone(),
        },
        dropped,
    )
}

fn run(queue: &Queue) -> usize {
    let mut polls = 0;
    loop {
        let next = queue.borrow_mut().pop_front();
        let Some(task) = next else { return polls };
        let _ = task.poll();
        polls += 1;
    }
}

/// Wakes itself through the local waker `n` times, then completes.
fn yields(n: u32) -> impl Future<Output = ()> {
    let mut left = n;
    std::future::poll_fn(move |cx| {
        if left == 0 {
            return Poll::Ready(());
        }
        left -= 1;
        ContextExt::local_waker(cx).wake_by_ref();
        Poll::Pending
    })
}

/// Sets a flag when dropped.
struct DropFlag(Rc<Cell<bool>>);
impl Drop for DropFlag {
    fn drop(&mut self) {
        self.0.set(true);
    }
}

#[test]
fn one_allocation_per_task_and_no_atomics_on_the_local_path() {
    let queue: Queue = Default::default();
    let (s, dropped) = sched(&queue);
    let remote = Arc::new(Remote::default());
    // Warm up the thread's token (one RMW, once per thread).
    let _ = ContextExt::local_waker(&std::task::Context::from_waker(Waker::noop()));
    let warm = DualTask::new(yields(1), sched(&queue).0, remote.clone());
    queue.borrow_mut().push_back(warm.clone());
    run(&queue);

    let before = allocs();
    let task = DualTask::new(yields(100), s, remote.clone());
    assert_eq!(allocs() - before, 1, "one allocation per task");
    queue.borrow_mut().push_back(task.clone());
    let (polls, rmw) = count(|| run(&queue));
    assert_eq!(polls, 101);
    assert_eq!(rmw, 0, "{rmw} atomic RMWs on the local path");
    assert!(task.is_finished());
    assert_eq!((task.local_count(), task.waker_count()), (1, 0));
    assert_eq!(dropped.get(), 0);
    drop(task);
    assert_eq!(dropped.get(), 1, "S dropped with the last handle");
}

#[test]
fn wakes_from_another_thread_take_the_remote_path() {
    let queue: Queue = Default::default();
    let remote = Arc::new(Remote::default());
    let (tx, rx) = std::sync::mpsc::channel::<Waker>();
    let task = DualTask::new(
        {
            let mut sent = false;
            std::future::poll_fn(move |cx| {
                if sent {
                    return Poll::Ready(());
                }
                sent = true;
                tx.send(cx.waker().clone()).unwrap();
                Poll::Pending
            })
        },
        sched(&queue).0,
        remote.clone(),
    );
    assert!(task.poll().is_pending());
    assert_eq!(task.waker_count(), 1);
    let waker = rx.recv().unwrap();
    thread::spawn(move || waker.wake()).join().unwrap();
    assert_eq!(task.shared().wakes.load(Ordering::SeqCst), 1);
    assert!(queue.borrow().is_empty());
    // Woken on the owner thread, a `Waker` takes the local path.
    task.waker().wake();
    assert_eq!(queue.borrow().len(), 1);
    run(&queue);
    assert!(task.is_finished());
    assert_eq!(task.waker_count(), 0);
}

#[test]
fn cancel_drops_the_future_now_or_after_the_poll() {
    let queue: Queue = Default::default();
    let remote = Arc::new(Remote::default());

    let dropped = Rc::new(Cell::new(false));
    let flag = DropFlag(dropped.clone());
    let task = DualTask::new(
        async move {
            let _flag = flag;
            std::future::pending::<()>().await
        },
        sched(&queue).0,
        remote.clone(),
    );
    assert!(task.poll().is_pending());
    assert!(task.cancel());
    assert!(dropped.get(), "cancel dropped the future");
    assert!(task.is_finished());
    assert!(!task.cancel(), "already cancelled");
    assert!(task.poll().is_ready());

    // Cancelled from inside its own poll: dropped when the poll returns.
    let me: Rc<RefCell<Option<DualTask<Sched>>>> = Default::default();
    let dropped = Rc::new(Cell::new(false));
    let flag = DropFlag(dropped.clone());
    let m = me.clone();
    let d = dropped.clone();
    let task = DualTask::new(
        async move {
            let _flag = flag;
            let me = m.borrow_mut().take().unwrap();
            assert!(me.cancel());
            assert!(!d.get(), "not dropped during its own poll");
            std::future::pending::<()>().await
        },
        sched(&queue).0,
        remote,
    );
    *me.borrow_mut() = Some(task.clone());
    assert!(task.poll().is_ready(), "a cancelled poll returns Ready");
    assert!(dropped.get());
    assert!(task.is_finished());
}

#[test]
fn a_poll_from_inside_the_same_poll_panics_and_leaves_the_task_intact() {
    let queue: Queue = Default::default();
    let me: Rc<RefCell<Option<DualTask<Sched>>>> = Default::default();
    let m = me.clone();
    let mut first = true;
    let task = DualTask::new(
        std::future::poll_fn(move |_| {
            if first {
                first = false;
                let me = m.borrow_mut().take().unwrap();
                let _ = me.poll(); // panics
            }
            Poll::Ready(())
        }),
        sched(&queue).0,
        Default::default(),
    );
    *me.borrow_mut() = Some(task.clone());
    let err = catch_unwind(AssertUnwindSafe(|| task.poll())).unwrap_err();
    let msg = err.downcast_ref::<&str>().copied().unwrap_or_default();
    assert!(msg.contains("inside the same task's poll"), "{msg}");
    assert!(!task.is_finished());
    assert!(task.poll().is_ready(), "pollable again after the panic");
    assert_eq!(task.local_count(), 1, "the handle taken inside was dropped");
}

#[test]
fn a_panicking_future_leaves_the_task_pollable_and_cancellable() {
    let queue: Queue = Default::default();
    let dropped = Rc::new(Cell::new(false));
    let flag = DropFlag(dropped.clone());
    let mut polls = 0;
    let task = DualTask::new(
        std::future::poll_fn(move |_| {
            let _ = &flag;
            polls += 1;
            if polls == 1 {
                panic!("boom");
            }
            Poll::<()>::Pending
        }),
        sched(&queue).0,
        Default::default(),
    );
    assert!(catch_unwind(AssertUnwindSafe(|| task.poll())).is_err());
    assert!(!task.is_finished());
    assert!(task.poll().is_pending());
    assert!(task.cancel());
    assert!(dropped.get());
}

#[test]
fn a_panicking_drop_of_the_future_still_frees() {
    struct PanicOnDrop;
    impl Drop for PanicOnDrop {
        fn drop(&mut self) {
            panic!("drop");
        }
    }
    let queue: Queue = Default::default();
    let (s, sched_dropped) = sched(&queue);
    let p = PanicOnDrop;
    let task = DualTask::new(
        async move {
            let _p = p;
            std::future::pending::<()>().await
        },
        s,
        Default::default(),
    );
    assert!(task.poll().is_pending());
    let waker = task.waker();
    assert!(catch_unwind(AssertUnwindSafe(|| drop(task))).is_err());
    assert_eq!(
        sched_dropped.get(),
        1,
        "S dropped although the future's drop panicked"
    );
    waker.wake_by_ref(); // harmless: the task is gone
    drop(waker); // frees (Miri checks for a leak)
}

#[test]
fn waker_outlives_the_task_and_its_thread() {
    let waker = thread::spawn(|| {
        let queue: Queue = Default::default();
        let task = DualTask::new(yields(1), sched(&queue).0, Default::default());
        let w = task.waker();
        drop(task);
        w
    })
    .join()
    .unwrap();
    waker.wake_by_ref();
    let cx = std::task::Context::from_waker(&waker);
    ContextExt::local_waker(&cx).wake_by_ref();
    drop(waker);
}

/// A scheduler that can cross threads (its queue is thread-safe).
struct SendSched(Arc<std::sync::Mutex<Vec<usize>>>);

impl Schedule for SendSched {
    type Shared = ();
    fn schedule(task: &DualTask<Self>) {
        task.0.lock().unwrap().push(1);
    }
    fn schedule_remote(_: &(), _: &Waker) {}
}

#[test]
fn unbound_task_is_built_here_and_bound_there() {
    let log = Arc::new(std::sync::Mutex::new(Vec::new()));
    let unbound = DualTask::new_unbound(yields(3), SendSched(log.clone()), ());
    let (tx, rx) = std::sync::mpsc::channel();
    thread::spawn(move || {
        let task = unbound.bind();
        let mut polls = 1;
        while task.poll().is_pending() {
            polls += 1;
        }
        tx.send(polls).unwrap();
    })
    .join()
    .unwrap();
    assert_eq!(rx.recv().unwrap(), 4);
    assert_eq!(
        log.lock().unwrap().len(),
        3,
        "three local wakes on the bound thread"
    );

    // Dropped unbound on another thread: the future and S drop there.
    let dropped = Arc::new(AtomicUsize::new(0));
    struct Flag(Arc<AtomicUsize>);
    impl Drop for Flag {
        fn drop(&mut self) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }
    let f = Flag(dropped.clone());
    let unbound = DualTask::new_unbound(
        async move {
            let _f = f;
        },
        SendSched(log),
        (),
    );
    thread::spawn(move || drop(unbound)).join().unwrap();
    assert_eq!(dropped.load(Ordering::SeqCst), 1);
}

/// A scheduler whose `schedule` panics.
struct PanickySched;

impl Schedule for PanickySched {
    type Shared = ();
    fn schedule(_: &DualTask<Self>) {
        panic!("schedule");
    }
    fn schedule_remote(_: &(), _: &Waker) {}
}

#[test]
fn a_panicking_schedule_leaves_the_counts_intact() {
    let task = DualTask::new(yields(0), PanickySched, ());
    let twin = task.local_waker();
    let waker = task.waker();
    assert!(catch_unwind(AssertUnwindSafe(|| twin.wake_by_ref())).is_err());
    assert!(catch_unwind(AssertUnwindSafe(|| waker.wake_by_ref())).is_err());
    // A wake by value still gives up its count when `schedule` panics.
    assert!(catch_unwind(AssertUnwindSafe(|| task.waker().wake())).is_err());
    assert_eq!((task.local_count(), task.waker_count()), (2, 1));
    assert!(task.poll().is_ready());
    drop((twin, waker, task)); // frees (Miri checks for a leak)
}
