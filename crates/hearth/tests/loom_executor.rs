//! loom models of the executor's cross-thread protocol: a remote wake racing
//! completion, executor drop, abort and detach. loom builds assert on any use
//! of a task after it was freed and on a double free.
//!
//! Run with `RUSTFLAGS="--cfg loom" cargo test -p hearth --release --test loom_executor`.
#![cfg(loom)]
#![cfg_attr(feature = "nightly", feature(local_waker))]

use std::future::Future;
use std::task::{Poll, Waker};

use hearth::Executor;
use loom::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use loom::sync::{Arc, Mutex};
use loom::thread;

/// Joins a model thread without blocking in `join` while it may still
/// unpark us (loom resumes a thread blocked in `join` on an unrelated unpark
/// and then trips its own assertion); spins until it has finished instead.
fn join(th: thread::JoinHandle<()>, finished: &AtomicBool) {
    while !finished.load(Ordering::Acquire) {
        thread::yield_now();
    }
    th.join().unwrap();
}

/// Spawns `f` on a model thread; returns its handle and a "finished" flag.
fn spawn(f: impl FnOnce() + 'static) -> (thread::JoinHandle<()>, Arc<AtomicBool>) {
    let finished = Arc::new(AtomicBool::new(false));
    let fin = finished.clone();
    let th = thread::spawn(move || {
        f();
        fin.store(true, Ordering::Release);
    });
    (th, finished)
}

fn model(f: impl Fn() + Sync + Send + 'static) {
    let mut builder = loom::model::Builder::new();
    builder.preemption_bound = None;
    builder.check(f);
}

/// Stores its waker in `slot`; completes once `flag` is set. Counts drops.
fn waiting(
    flag: Arc<AtomicBool>,
    slot: Arc<Mutex<Option<Waker>>>,
    drops: Arc<AtomicUsize>,
) -> impl Future<Output = ()> {
    struct OnDrop(Arc<AtomicUsize>);
    impl Drop for OnDrop {
        fn drop(&mut self) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }
    let guard = OnDrop(drops);
    std::future::poll_fn(move |cx| {
        let _ = &guard;
        *slot.lock().unwrap() = Some(cx.waker().clone());
        if flag.load(Ordering::Acquire) {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    })
}

struct Setup {
    ex: Executor,
    handle: hearth::JoinHandle<()>,
    flag: Arc<AtomicBool>,
    waker: Waker,
    drops: Arc<AtomicUsize>,
}

fn setup() -> Setup {
    let ex = Executor::new();
    let flag = Arc::new(AtomicBool::new(false));
    let slot = Arc::new(Mutex::new(None));
    let drops = Arc::new(AtomicUsize::new(0));
    let handle = ex.spawn_local(waiting(flag.clone(), slot.clone(), drops.clone()));
    ex.run_until_idle();
    let waker = slot.lock().unwrap().take().unwrap();
    Setup {
        ex,
        handle,
        flag,
        waker,
        drops,
    }
}

#[test]
fn remote_wake_vs_completion() {
    model(|| {
        let Setup {
            ex,
            handle,
            flag,
            waker,
            drops,
        } = setup();
        let (th, fin) = spawn(move || {
            flag.store(true, Ordering::Release);
            waker.wake();
        });
        ex.run_until(handle).unwrap();
        join(th, &fin);
        assert_eq!(drops.load(Ordering::SeqCst), 1);
    });
}

#[test]
fn remote_wake_vs_executor_drop() {
    model(|| {
        let Setup {
            ex,
            handle,
            flag,
            waker,
            drops,
        } = setup();
        let (th, fin) = spawn(move || {
            flag.store(true, Ordering::Release);
            waker.wake_by_ref();
            drop(waker);
        });
        drop(ex);
        assert_eq!(
            drops.load(Ordering::SeqCst),
            1,
            "the future was dropped with the executor"
        );
        assert!(handle.is_finished());
        drop(handle);
        join(th, &fin);
    });
}

#[test]
fn remote_wake_vs_abort() {
    model(|| {
        let Setup {
            ex,
            handle,
            flag: _,
            waker,
            drops,
        } = setup();
        let (th, fin) = spawn(move || {
            let w2 = waker.clone();
            waker.wake();
            drop(w2);
        });
        handle.abort();
        let err = ex.run_until(handle).unwrap_err();
        assert!(err.is_cancelled());
        assert_eq!(drops.load(Ordering::SeqCst), 1);
        join(th, &fin);
        drop(ex);
    });
}

#[test]
fn remote_wake_vs_detach_and_completion() {
    model(|| {
        let Setup {
            ex,
            handle,
            flag,
            waker,
            drops,
        } = setup();
        drop(handle);
        let (th, fin) = spawn(move || {
            flag.store(true, Ordering::Release);
            waker.wake();
        });
        // Run until the task completed (it is detached, so poll the count).
        ex.run_until(std::future::poll_fn(|cx| {
            if ex_done(&drops) {
                Poll::Ready(())
            } else {
                // Re-check after other work; a remote wake unparks us.
                cx.waker().wake_by_ref();
                Poll::Pending
            }
        }));
        join(th, &fin);
        drop(ex);
        assert_eq!(drops.load(Ordering::SeqCst), 1);
    });

    fn ex_done(drops: &AtomicUsize) -> bool {
        if drops.load(Ordering::SeqCst) == 1 {
            true
        } else {
            loom::thread::yield_now();
            false
        }
    }
}
