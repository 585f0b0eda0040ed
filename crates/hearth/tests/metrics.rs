//! Metrics: `Executor::metrics` and `Handle::metrics` count what happened,
//! exactly where the count is deterministic.
#![cfg_attr(feature = "nightly", feature(local_waker))]

use std::cell::Cell;
use std::rc::Rc;
use std::task::Poll;
use std::time::Duration;

use hearth::task::ContextExt;
use hearth::{Executor, ExecutorMetrics};

#[test]
fn spawns_polls_and_alive_tasks_are_counted_exactly() {
    let ex = Executor::new();
    assert_eq!(ex.metrics(), ExecutorMetrics::default());
    let handles: Vec<_> = (0..5)
        .map(|i| {
            ex.spawn_local(async move {
                for _ in 0..i {
                    hearth::yield_now().await;
                }
            })
        })
        .collect();
    let m = ex.metrics();
    assert_eq!((m.spawned_tasks, m.alive_tasks, m.polls), (5, 5, 0));
    ex.run_until_idle();
    let m = ex.metrics();
    // Task i yields i times: i + 1 polls; 1 + 2 + 3 + 4 + 5.
    assert_eq!((m.spawned_tasks, m.alive_tasks, m.polls), (5, 0, 15));
    assert_eq!(m.budget_forced_yields, 0);
    assert_eq!(m.slow_polls, 0, "no threshold: polls are not timed");
    assert!(handles.iter().all(|h| h.is_finished()));
}

#[test]
fn local_queue_depth_is_the_batch_of_the_last_tick() {
    let ex = Rc::new(Executor::new());
    for _ in 0..7 {
        ex.spawn_local(async {});
    }
    // A task reads the depth published at the start of its own tick.
    let seen = Rc::new(Cell::new(None));
    let (s, weak) = (seen.clone(), Rc::downgrade(&ex));
    ex.spawn_local(async move {
        s.set(weak.upgrade().map(|ex| ex.metrics().local_queue_depth));
    });
    ex.run_until_idle();
    assert_eq!(seen.get(), Some(8));
    // `run_until_idle` ends with an empty tick.
    assert_eq!(ex.metrics().local_queue_depth, 0);
    assert_eq!(ex.metrics().polls, 8);
}

#[test]
fn wakes_from_other_threads_are_counted() {
    let ex = Executor::new();
    let (tx, rx) = std::sync::mpsc::channel();
    let mut sent = false;
    let task = ex.spawn_local(std::future::poll_fn(move |cx| {
        if sent {
            return Poll::Ready(());
        }
        sent = true;
        tx.send(cx.waker().clone()).unwrap();
        Poll::Pending
    }));
    ex.run_until_idle();
    assert_eq!(ex.metrics().remote_wakes, 0);
    let waker = rx.recv().unwrap();
    std::thread::spawn(move || waker.wake()).join().unwrap();
    ex.run_until(async {
        while !task.is_finished() {
            hearth::yield_now().await;
        }
    });
    assert_eq!(ex.metrics().remote_wakes, 1);
}

#[test]
fn a_local_wake_is_not_a_remote_wake() {
    let ex = Executor::new();
    let mut left = 3;
    ex.spawn_local(std::future::poll_fn(move |cx| {
        if left == 0 {
            return Poll::Ready(());
        }
        left -= 1;
        ContextExt::local_waker(cx).wake_by_ref();
        cx.waker().wake_by_ref(); // the thread-safe waker, on the owner thread
        Poll::Pending
    }));
    ex.run_until_idle();
    let m = ex.metrics();
    assert_eq!((m.polls, m.remote_wakes), (4, 0));
}

#[test]
fn budget_exhaustion_is_counted() {
    let ex = Executor::new();
    ex.spawn_local(async {
        // Always ready, one unit each: the budget (128) runs out every 128.
        for _ in 0..1_000 {
            hearth::consume_budget().await;
        }
    });
    ex.run_until_idle();
    let m = ex.metrics();
    assert_eq!(m.budget_forced_yields, 1_000 / 128);
    assert_eq!(m.polls, 1_000 / 128 + 1);

    // `unconstrained` never runs out.
    let ex = Executor::new();
    ex.spawn_local(hearth::unconstrained(async {
        for _ in 0..1_000 {
            hearth::consume_budget().await;
        }
    }));
    ex.run_until_idle();
    assert_eq!(ex.metrics().budget_forced_yields, 0);
}

#[test]
fn slow_polls_are_counted_only_past_the_threshold() {
    let ex = Executor::new();
    ex.set_slow_poll_threshold(Some(Duration::from_millis(20)));
    ex.spawn_local(async {
        std::thread::sleep(Duration::from_millis(40)); // slow
        hearth::yield_now().await; // the second poll is quick
    });
    for _ in 0..10 {
        ex.spawn_local(async {});
    }
    ex.run_until_idle();
    let m = ex.metrics();
    assert_eq!((m.polls, m.slow_polls), (12, 1));

    // Off again: not timed, not counted.
    ex.set_slow_poll_threshold(None);
    ex.spawn_local(async { std::thread::sleep(Duration::from_millis(40)) });
    ex.run_until_idle();
    assert_eq!(ex.metrics().slow_polls, 1);
}

#[test]
fn a_panicking_poll_and_an_abort_are_polls_and_leave_no_alive_task() {
    let ex = Executor::new();
    let panics = ex.spawn_local(async { panic!("boom") });
    let forever = ex.spawn_local(std::future::pending::<()>());
    ex.run_until_idle();
    forever.abort();
    ex.run_until_idle();
    let m = ex.metrics();
    assert_eq!((m.spawned_tasks, m.alive_tasks), (2, 0));
    assert_eq!(m.polls, 3); // boom, pending, the abort's drop
    assert!(hearth::block_on(panics).unwrap_err().is_panic());
}

#[test]
fn a_queue_entry_the_tick_skips_is_not_a_poll() {
    // The task wakes itself, then panics: its run-queue entry outlives it,
    // and the next tick pops an entry of a complete task (counted with the
    // batch, then taken back).
    let ex = Executor::new();
    ex.spawn_local(std::future::poll_fn(|cx| -> Poll<()> {
        ContextExt::local_waker(cx).wake_by_ref();
        panic!("after waking itself")
    }));
    ex.run_until_idle();
    let m = ex.metrics();
    assert_eq!((m.polls, m.alive_tasks), (1, 0));
}

#[test]
fn parks_are_counted() {
    let ex = Executor::new();
    let before = ex.metrics().parks;
    // Miri's clock runs with the interpreter: the executor's first pass
    // (creating its timer wheel and reactor) takes longer than 5 ms of it, and
    // the timer is then due before the executor could park. Waits are free
    // there (the clock jumps to the timeout), so a long one costs nothing.
    let wait = Duration::from_millis(if cfg!(miri) { 2_000 } else { 5 });
    ex.run_until(hearth::time::sleep(wait));
    assert!(ex.metrics().parks > before);
}

// ---- the runtime ----

#[test]
fn runtime_metrics_are_per_worker() {
    let rt = hearth::Runtime::builder().workers(2).build().unwrap();
    let h = rt
        .spawn_on(1, || async {
            for _ in 0..3 {
                hearth::spawn_local(async { hearth::yield_now().await });
            }
        })
        .unwrap();
    rt.block_on(h).unwrap();
    // The three children may still run; wait for them through the metric.
    let metrics = rt.metrics();
    let on_1 = rt.block_on(async {
        loop {
            let m = metrics.worker(1).unwrap();
            if m.alive_tasks == 0 {
                return m;
            }
            hearth::time::sleep(Duration::from_millis(1)).await;
        }
    });
    assert_eq!(on_1.spawned_tasks, 4);
    assert_eq!(on_1.polls, 1 + 3 * 2);
    let on_0 = metrics.worker(0).unwrap();
    assert_eq!((on_0.spawned_tasks, on_0.polls), (0, 0));
    assert_eq!(metrics.spawned_tasks_count(), 4);
    assert_eq!(metrics.worker_poll_count(1), 7);
    assert_eq!(metrics.total().polls, 7);
    assert!(metrics.worker(2).is_none());
    rt.shutdown();
}

#[test]
#[should_panic(expected = "no worker 5: the runtime has 2 workers")]
fn a_worker_index_out_of_range_panics_like_tokio() {
    let rt = hearth::Runtime::builder().workers(2).build().unwrap();
    rt.metrics().worker_poll_count(5);
}

#[test]
fn runtime_slow_polls_and_blocking_pool() {
    let rt = hearth::Runtime::builder()
        .workers(1)
        .max_blocking_threads(1)
        .slow_poll_threshold(Duration::from_millis(10))
        .build()
        .unwrap();
    // The slow poll is a child's: the parent (whose last poll reports to
    // the handle) runs after the child's poll was timed and counted.
    let slow = rt
        .spawn_on(0, || async {
            hearth::spawn_local(async { std::thread::sleep(Duration::from_millis(30)) }).await
        })
        .unwrap();
    rt.block_on(slow).unwrap().unwrap();
    let slow_polls = rt.metrics().worker(0).unwrap().slow_polls;
    if cfg!(miri) {
        // Miri's clock runs with the interpreter: ordinary polls are slow too.
        assert!(slow_polls >= 1);
    } else {
        assert_eq!(slow_polls, 1);
    }

    let m = rt.metrics();
    assert_eq!((m.num_blocking_threads(), m.blocking_queue_depth()), (0, 0));
    let (started_tx, started) = std::sync::mpsc::channel();
    let (go_tx, go) = std::sync::mpsc::channel::<()>();
    let busy = rt.spawn_blocking(move || {
        started_tx.send(()).unwrap();
        go.recv().unwrap();
    });
    started.recv().unwrap();
    let queued: Vec<_> = (0..3).map(|_| rt.spawn_blocking(|| ())).collect();
    assert_eq!(m.num_blocking_threads(), 1);
    assert_eq!(m.num_idle_blocking_threads(), 0);
    assert_eq!(m.blocking_queue_depth(), 3);
    go_tx.send(()).unwrap();
    rt.block_on(busy).unwrap();
    for q in queued {
        rt.block_on(q).unwrap();
    }
    assert_eq!(m.blocking_queue_depth(), 0);
    rt.shutdown();
}
