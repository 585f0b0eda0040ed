//! Behaviour of the executor: spawning, joining, panics, abort, shutdown,
//! wakes from other threads, foreign futures, the cooperative budget.
#![cfg_attr(feature = "nightly", feature(local_waker))]

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};
use std::thread::{self, ThreadId};
use std::time::Duration;

use hearth::task::ContextExt;
use hearth::{block_on, spawn_local, yield_now, Executor, JoinError};

/// Records the thread its value was dropped on.
struct DropProbe(Arc<Mutex<Vec<ThreadId>>>);

impl Drop for DropProbe {
    fn drop(&mut self) {
        self.0.lock().unwrap().push(thread::current().id());
    }
}

/// A future that stores its `Waker` in `slot` and completes once `flag` is set.
fn wait_flag(flag: Arc<AtomicBool>, slot: Arc<Mutex<Option<Waker>>>) -> impl Future<Output = ()> {
    std::future::poll_fn(move |cx| {
        *slot.lock().unwrap() = Some(cx.waker().clone());
        if flag.load(Ordering::Acquire) {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    })
}

#[test]
fn spawn_and_join() {
    let out = block_on(async {
        let a = spawn_local(async { 1 });
        let b = spawn_local(async {
            yield_now().await;
            2
        });
        a.await.unwrap() + b.await.unwrap()
    });
    assert_eq!(out, 3);
}

#[test]
fn yield_now_is_fair() {
    let log = Rc::new(RefCell::new(Vec::new()));
    let ex = Executor::new();
    for id in 0..3 {
        let log = log.clone();
        ex.spawn_local(async move {
            for round in 0..3 {
                log.borrow_mut().push((round, id));
                yield_now().await;
            }
        });
    }
    ex.run_until_idle();
    let expected: Vec<_> = (0..3).flat_map(|r| (0..3).map(move |id| (r, id))).collect();
    assert_eq!(*log.borrow(), expected);
    assert_eq!(ex.task_count(), 0);
}

#[test]
fn panic_is_caught_and_executor_continues() {
    block_on(async {
        let bad = spawn_local(async {
            yield_now().await;
            panic!("task exploded");
        });
        let good = spawn_local(async { 7 });
        let err = bad.await.unwrap_err();
        assert!(err.is_panic());
        assert!(!err.is_cancelled());
        assert_eq!(
            err.to_string(),
            "task panicked with message \"task exploded\""
        );
        let payload = err.into_panic();
        assert_eq!(*payload.downcast_ref::<&str>().unwrap(), "task exploded");
        assert_eq!(good.await.unwrap(), 7);
    });
}

#[test]
fn abort_pending_task() {
    let drops = Arc::new(Mutex::new(Vec::new()));
    let d = drops.clone();
    block_on(async move {
        let probe = DropProbe(d);
        let h = spawn_local(async move {
            let _probe = probe;
            std::future::pending::<()>().await
        });
        yield_now().await; // let it start
        assert!(!h.is_finished());
        h.abort();
        let err = h.await.unwrap_err();
        assert!(err.is_cancelled());
        assert_eq!(err.to_string(), "task was cancelled");
        assert!(err.try_into_panic().is_err());
    });
    assert_eq!(*drops.lock().unwrap(), [thread::current().id()]);
}

#[test]
fn abort_before_first_poll_and_after_finish() {
    block_on(async {
        let polled = Rc::new(Cell::new(false));
        let p = polled.clone();
        let h = spawn_local(async move { p.set(true) });
        h.abort();
        assert!(h.await.unwrap_err().is_cancelled());
        assert!(!polled.get(), "an aborted task is never polled");

        let h = spawn_local(async { 5 });
        yield_now().await;
        assert!(h.is_finished());
        h.abort(); // no effect on a finished task
        assert_eq!(h.await.unwrap(), 5);
    });
}

#[test]
fn task_aborting_itself() {
    block_on(async {
        let slot: Rc<RefCell<Option<hearth::JoinHandle<()>>>> = Rc::default();
        let s = slot.clone();
        let h = spawn_local(async move {
            yield_now().await;
            // Abort our own task through a second path: the handle lives in
            // `slot`; we only check it cannot be polled again after.
            if let Some(h) = s.borrow().as_ref() {
                h.abort();
            }
            yield_now().await;
            unreachable!("an aborted task is not polled again");
        });
        // Keep a second handle-like reference: move the real handle in.
        *slot.borrow_mut() = Some(h);
        for _ in 0..5 {
            yield_now().await;
        }
        let h = slot.borrow_mut().take().unwrap();
        assert!(h.is_finished());
        assert!(h.await.unwrap_err().is_cancelled());
    });
}

#[test]
fn detached_task_runs_to_completion() {
    let done = Rc::new(Cell::new(false));
    let d = done.clone();
    block_on(async move {
        drop(spawn_local(async move {
            yield_now().await;
            d.set(true);
        }));
        for _ in 0..3 {
            yield_now().await;
        }
    });
    assert!(done.get());
}

#[test]
fn dropping_executor_drops_tasks_on_its_thread() {
    let drops = Arc::new(Mutex::new(Vec::new()));
    let (handles_out, wakers) = {
        let ex = Executor::new();
        let mut handles = Vec::new();
        let slot = Arc::new(Mutex::new(None));
        for _ in 0..10 {
            let probe = DropProbe(drops.clone());
            let flag = Arc::new(AtomicBool::new(false));
            let slot = slot.clone();
            handles.push(ex.spawn_local(async move {
                let _probe = probe;
                wait_flag(flag, slot).await;
            }));
        }
        ex.run_until_idle();
        assert_eq!(ex.task_count(), 10);
        let waker = slot.lock().unwrap().take().unwrap();
        drop(ex);
        (handles, waker)
    };
    assert_eq!(drops.lock().unwrap().len(), 10);
    assert!(drops
        .lock()
        .unwrap()
        .iter()
        .all(|t| *t == thread::current().id()));
    for h in handles_out {
        assert!(h.is_finished());
        assert!(block_on(h).unwrap_err().is_cancelled());
    }
    // The Waker outlives its task and executor: waking it is harmless.
    wakers.wake_by_ref();
    wakers.wake();
}

/// Tasks that never ran (the executor holds them only through their
/// run-queue entries until their first `Pending`) are found at shutdown too,
/// mixed with tasks that did wait; and a detached task that panics or
/// finishes in its first poll is freed.
#[test]
fn shutdown_finds_tasks_that_never_ran() {
    let drops = Arc::new(Mutex::new(Vec::new()));
    let ex = Executor::new();
    let waited = {
        let probe = DropProbe(drops.clone());
        ex.spawn_local(async move {
            let _probe = probe;
            std::future::pending::<()>().await;
        })
    };
    ex.run_until_idle();
    let mut never_ran = Vec::new();
    for _ in 0..5 {
        let probe = DropProbe(drops.clone());
        never_ran.push(ex.spawn_local(async move {
            let _probe = probe;
        }));
    }
    // Detached, never polled: only the run queue holds it.
    let probe = DropProbe(drops.clone());
    drop(ex.spawn_local(async move {
        let _probe = probe;
    }));
    assert_eq!(ex.task_count(), 7);
    assert_eq!(ex.metrics().alive_tasks, 7);
    drop(ex);
    assert_eq!(drops.lock().unwrap().len(), 7);
    assert!(block_on(waited).unwrap_err().is_cancelled());
    for h in never_ran {
        assert!(h.is_finished());
        assert!(block_on(h).unwrap_err().is_cancelled());
    }

    // Detached tasks that end in their first poll: one panics (nothing but
    // the poll holds it when the panic unwinds), one returns.
    let ex = Executor::new();
    let probe = DropProbe(drops.clone());
    drop(ex.spawn_local(async move {
        let _probe = probe;
        panic!("first poll");
    }));
    let probe = DropProbe(drops.clone());
    drop(ex.spawn_local(async move {
        let _probe = probe;
    }));
    ex.run_until_idle();
    assert_eq!(drops.lock().unwrap().len(), 9);
    assert_eq!(ex.task_count(), 0);
}

#[test]
#[allow(clippy::waker_clone_wake)] // waking a clone by value is part of the case
fn waker_outlives_task_executor_and_thread() {
    let slot = Arc::new(Mutex::new(None::<Waker>));
    let s = slot.clone();
    thread::spawn(move || {
        block_on(async move {
            let flag = Arc::new(AtomicBool::new(true));
            spawn_local(wait_flag(flag, s)).await.unwrap();
        });
    })
    .join()
    .unwrap();
    let waker = slot.lock().unwrap().take().unwrap();
    // The task, its executor and its thread are gone.
    waker.wake_by_ref();
    let cx = Context::from_waker(&waker);
    ContextExt::local_waker(&cx).wake_by_ref();
    ContextExt::local_waker(&cx).clone().wake();
    waker.clone().wake();
    thread::spawn(move || waker.wake()).join().unwrap();
}

#[test]
fn wake_from_another_thread_reschedules_promptly() {
    let flag = Arc::new(AtomicBool::new(false));
    let slot = Arc::new(Mutex::new(None::<Waker>));
    let (f, s) = (flag.clone(), slot.clone());
    let waker_thread = thread::spawn(move || {
        // Wait until the task parked its waker, then set the flag and wake.
        let waker = loop {
            if let Some(w) = s.lock().unwrap().take() {
                break w;
            }
            thread::sleep(Duration::from_millis(1));
        };
        thread::sleep(Duration::from_millis(20)); // the executor is parked by now
        f.store(true, Ordering::Release);
        waker.wake();
    });
    let start = std::time::Instant::now();
    block_on(async move { spawn_local(wait_flag(flag, slot)).await.unwrap() });
    waker_thread.join().unwrap();
    assert!(start.elapsed() < Duration::from_secs(5));
}

#[test]
fn futures_oneshot_from_another_thread() {
    let (tx, rx) = futures::channel::oneshot::channel::<u32>();
    let sender = thread::spawn(move || {
        thread::sleep(Duration::from_millis(10));
        tx.send(99).unwrap();
    });
    let got = block_on(async move { spawn_local(rx).await.unwrap().unwrap() });
    sender.join().unwrap();
    assert_eq!(got, 99);
}

#[test]
fn foreign_futures_run_unchanged() {
    block_on(async {
        // futures' local channels.
        let (mut tx, mut rx) = futures::channel::mpsc::channel::<u32>(1);
        let producer = spawn_local(async move {
            use futures::SinkExt;
            for i in 0..100 {
                tx.send(i).await.unwrap();
            }
        });
        let mut sum = 0;
        {
            use futures::StreamExt;
            while let Some(v) = rx.next().await {
                sum += v;
            }
        }
        producer.await.unwrap();
        assert_eq!(sum, 4950);

        // tokio::sync primitives that need no tokio runtime.
        let (tx, mut rx) = tokio::sync::mpsc::channel::<u32>(2);
        let p = spawn_local(async move {
            for i in 0..50 {
                tx.send(i).await.unwrap();
            }
        });
        let mut n = 0;
        while rx.recv().await.is_some() {
            n += 1;
        }
        p.await.unwrap();
        assert_eq!(n, 50);

        let notify = Rc::new(tokio::sync::Notify::new());
        let n2 = notify.clone();
        let waiter = spawn_local(async move { n2.notified().await });
        yield_now().await;
        notify.notify_one();
        waiter.await.unwrap();

        let mutex = Rc::new(tokio::sync::Mutex::new(0));
        let hs: Vec<_> = (0..10)
            .map(|_| {
                let m = mutex.clone();
                spawn_local(async move {
                    let mut g = m.lock().await;
                    yield_now().await;
                    *g += 1;
                })
            })
            .collect();
        for h in hs {
            h.await.unwrap();
        }
        assert_eq!(*mutex.lock().await, 10);

        let (otx, orx) = tokio::sync::oneshot::channel();
        spawn_local(async move { otx.send(5).unwrap() });
        assert_eq!(orx.await.unwrap(), 5);
    });
}

#[test]
fn budget_stops_an_always_ready_task_from_starving_others() {
    let flag = Rc::new(Cell::new(false));
    let iterations = block_on({
        let flag = flag.clone();
        async move {
            let f = flag.clone();
            let busy = spawn_local(async move {
                let mut n = 0u64;
                while !f.get() {
                    hearth::consume_budget().await;
                    n += 1;
                    assert!(n < 1_000_000, "the busy task starved the other one");
                }
                n
            });
            spawn_local(async move { flag.set(true) });
            busy.await.unwrap()
        }
    });
    // 128 units, then the 129th `consume_budget` yields and completes after
    // the other task ran.
    assert!(iterations <= 129, "yielded after {iterations} iterations");
}

#[test]
fn join_handle_consumes_budget() {
    // Awaiting many finished handles in a loop yields to other tasks.
    block_on(async {
        let other_ran = Rc::new(Cell::new(false));
        let o = other_ran.clone();
        let handles: Vec<_> = (0..300).map(|i| spawn_local(async move { i })).collect();
        yield_now().await; // all finished now
        spawn_local(async move { o.set(true) });
        let mut seen_other_at = None;
        for (i, h) in handles.into_iter().enumerate() {
            h.await.unwrap();
            if other_ran.get() && seen_other_at.is_none() {
                seen_other_at = Some(i);
            }
        }
        let at = seen_other_at.expect("the other task never ran");
        assert!(at <= 129, "other task ran only after {at} joins");
    });
}

#[test]
fn spawn_local_outside_executor_panics_clearly() {
    let err = std::panic::catch_unwind(|| drop(spawn_local(async {}))).unwrap_err();
    let msg = err
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| err.downcast_ref::<String>().cloned())
        .unwrap();
    assert!(msg.contains("outside of a hearth executor"), "{msg}");
}

#[test]
fn nested_run_until_panics_clearly() {
    let ex = Rc::new(Executor::new());
    let e2 = ex.clone();
    let err = ex
        .run_until(async move {
            let e3 = e2.clone();
            spawn_local(async move { e3.run_until(async {}) }).await
        })
        .unwrap_err();
    let payload = err.into_panic();
    let msg = payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap();
    assert!(msg.contains("inside the same executor"), "{msg}");
}

#[test]
fn wakers_of_the_same_task_will_wake_each_other() {
    block_on(async {
        spawn_local(std::future::poll_fn(|cx: &mut Context<'_>| {
            let w = cx.waker().clone();
            assert!(w.will_wake(cx.waker()));
            let twin = ContextExt::local_waker(cx);
            assert!(twin.clone().will_wake(twin));
            assert!(
                !std::ptr::addr_eq(twin, cx.waker()),
                "the local twin was found"
            );
            Poll::Ready(())
        }))
        .await
        .unwrap();
    });
}

#[test]
fn last_drop_on_foreign_thread_does_not_drop_future_there() {
    let drops = Arc::new(Mutex::new(Vec::new()));
    let slot = Arc::new(Mutex::new(None::<Waker>));
    {
        let ex = Executor::new();
        let probe = DropProbe(drops.clone());
        let flag = Arc::new(AtomicBool::new(false));
        let s = slot.clone();
        let h = ex.spawn_local(async move {
            let _probe = probe;
            let _rc = Rc::new(()); // a !Send future
            wait_flag(flag, s).await;
        });
        ex.run_until_idle();
        h.abort();
        ex.run_until_idle();
        assert!(h.is_finished());
    }
    assert_eq!(*drops.lock().unwrap(), [thread::current().id()]);
    let waker = slot.lock().unwrap().take().unwrap();
    thread::spawn(move || drop(waker)).join().unwrap(); // the last reference of all
    assert_eq!(drops.lock().unwrap().len(), 1);
}

#[test]
fn remote_wake_count_is_exact_under_a_storm() {
    // Many threads waking the same task: it keeps being rescheduled, never lost.
    let counter = Arc::new(AtomicUsize::new(0));
    let slot = Arc::new(Mutex::new(None::<Waker>));
    let target = if cfg!(miri) { 200 } else { 20_000 };
    let (c, s) = (counter.clone(), slot.clone());
    let ex = Executor::new();
    let task = ex.spawn_local(std::future::poll_fn(move |cx| {
        *s.lock().unwrap() = Some(cx.waker().clone());
        if c.load(Ordering::Acquire) >= target {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    }));
    ex.run_until_idle();
    let waker = slot.lock().unwrap().clone().unwrap();
    let threads: Vec<_> = (0..2)
        .map(|_| {
            let (w, c) = (waker.clone(), counter.clone());
            thread::spawn(move || {
                for _ in 0..target / 2 {
                    c.fetch_add(1, Ordering::Release);
                    w.wake_by_ref();
                }
            })
        })
        .collect();
    ex.run_until(task).unwrap();
    for t in threads {
        t.join().unwrap();
    }
    drop(waker);
    assert_eq!(counter.load(Ordering::Relaxed), target);
}

#[test]
fn join_error_is_an_error() {
    fn takes_error(_: &dyn std::error::Error) {}
    let err: JoinError = block_on(async {
        let h = spawn_local(std::future::pending::<()>());
        h.abort();
        h.await.unwrap_err()
    });
    takes_error(&err);
    assert_eq!(format!("{err:?}"), "JoinError::Cancelled");
}

#[test]
fn wait_for_waker_future_type_is_pinned_in_place() {
    // A self-referential future (an async block borrowing its own local)
    // works: the task never moves its future.
    let out = block_on(async {
        spawn_local(async {
            let data = [1u8, 2, 3];
            let r = &data;
            yield_now().await;
            r.iter().map(|&b| b as u32).sum::<u32>()
        })
        .await
        .unwrap()
    });
    assert_eq!(out, 6);
}

struct PendingOnce(bool);
impl Future for PendingOnce {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.0 {
            Poll::Ready(())
        } else {
            self.0 = true;
            cx.waker().wake_by_ref();
            Poll::Pending
        }
    }
}

#[test]
fn waker_woken_on_owner_thread_takes_the_local_path() {
    block_on(async {
        spawn_local(PendingOnce(false)).await.unwrap();
    });
}

#[test]
fn panics_in_one_batch_hit_only_their_tasks() {
    let ex = Executor::new();
    let done = Rc::new(Cell::new(0));
    let handles: Vec<_> = (0..10)
        .map(|i| {
            let done = done.clone();
            ex.spawn_local(async move {
                if i % 3 == 0 {
                    panic!("task {i} panics");
                }
                done.set(done.get() + 1);
                i
            })
        })
        .collect();
    ex.run_until_idle();
    assert_eq!(
        done.get(),
        6,
        "the tasks after a panicking one in the same batch ran"
    );
    for (i, h) in handles.into_iter().enumerate() {
        let result = ex.run_until(h);
        if i % 3 == 0 {
            let err = result.unwrap_err();
            assert_eq!(
                err.to_string(),
                format!("task panicked with message \"task {i} panics\"")
            );
        } else {
            assert_eq!(result.unwrap(), i);
        }
    }
    assert_eq!(ex.task_count(), 0);
}

/// As tokio's: the handle holds no output, so it is `Unpin` whatever the
/// output is (and can be polled through `Pin::new`).
#[test]
fn join_handle_is_unpin_for_any_output() {
    fn poll_unpin<F: Future + Unpin>(f: &mut F, cx: &mut Context<'_>) -> Poll<F::Output> {
        Pin::new(f).poll(cx)
    }
    block_on(async {
        let mut handle = spawn_local(async { std::marker::PhantomPinned });
        let out = std::future::poll_fn(|cx| poll_unpin(&mut handle, cx)).await;
        assert!(out.is_ok());
    });
}
