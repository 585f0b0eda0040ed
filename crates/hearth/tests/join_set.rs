//! `hearth::task::JoinSet`: conformance with tokio's documented behaviour
//! (tokio's `JoinSet` docs), its O(1) wake-ups, and panic safety.

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};

use hearth::task::JoinSet;

/// Completes after `n` yields.
async fn after_yields(n: usize) {
    for _ in 0..n {
        hearth::yield_now().await;
    }
}

/// Sets its flag when dropped (finished or not).
struct DropFlag(Rc<Cell<bool>>);
impl Drop for DropFlag {
    fn drop(&mut self) {
        self.0.set(true);
    }
}

/// A future that never completes and panics when dropped.
struct PanicOnDrop;
impl Future for PanicOnDrop {
    type Output = u32;
    fn poll(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<u32> {
        Poll::Pending
    }
}
impl Drop for PanicOnDrop {
    fn drop(&mut self) {
        panic!("PanicOnDrop dropped");
    }
}

#[test]
fn join_next_returns_outputs_in_completion_order_then_none() {
    hearth::block_on(async {
        let mut set = JoinSet::new();
        for i in 0..4usize {
            // Task i finishes after 8 - 2i yields: in reverse spawn order.
            set.spawn(async move {
                after_yields(8 - 2 * i).await;
                i
            });
        }
        assert_eq!(set.len(), 4);
        let mut order = Vec::new();
        while let Some(res) = set.join_next().await {
            order.push(res.unwrap());
            assert_eq!(set.len(), 4 - order.len());
        }
        assert_eq!(order, [3, 2, 1, 0]);
        assert!(set.is_empty());
        assert!(set.join_next().await.is_none());
    });
}

#[test]
fn spawn_takes_not_send_futures() {
    hearth::block_on(async {
        let shared = Rc::new(RefCell::new(Vec::new()));
        let mut set = JoinSet::new();
        for i in 0..3 {
            let shared = shared.clone();
            set.spawn_local(async move {
                hearth::yield_now().await;
                shared.borrow_mut().push(i);
                Rc::new(i) // a !Send output too
            });
        }
        let mut sum = 0;
        while let Some(res) = set.join_next().await {
            sum += *res.unwrap();
        }
        assert_eq!(sum, 3);
        assert_eq!(shared.borrow().len(), 3);
    });
}

#[test]
fn try_join_next_does_not_wait() {
    hearth::block_on(async {
        let mut set = JoinSet::new();
        assert!(set.try_join_next().is_none(), "empty set");
        set.spawn(async { 1 });
        set.spawn(async {
            after_yields(5).await;
            2
        });
        assert!(set.try_join_next().is_none(), "nothing ran yet");
        hearth::yield_now().await;
        // The first finished; the second has not.
        assert_eq!(set.try_join_next().unwrap().unwrap(), 1);
        assert_eq!(set.len(), 1);
        assert!(set.try_join_next().is_none());
        assert_eq!(set.len(), 1);
        assert_eq!(set.join_next().await.unwrap().unwrap(), 2);
        assert!(set.try_join_next().is_none());
    });
}

#[test]
fn a_panicking_task_yields_a_panic_error() {
    hearth::block_on(async {
        let mut set = JoinSet::new();
        set.spawn(async { panic!("task failed") });
        set.spawn(async { 7 });
        let mut panics = 0;
        let mut outputs = Vec::new();
        while let Some(res) = set.join_next().await {
            match res {
                Ok(v) => outputs.push(v),
                Err(e) => {
                    assert!(e.is_panic());
                    assert_eq!(
                        *e.into_panic().downcast_ref::<&str>().unwrap(),
                        "task failed"
                    );
                    panics += 1;
                }
            }
        }
        assert_eq!((panics, outputs), (1, vec![7]));
    });
}

#[test]
fn abort_all_cancels_pending_tasks_and_keeps_them_in_the_set() {
    hearth::block_on(async {
        let mut set = JoinSet::new();
        let dropped = Rc::new(Cell::new(false));
        let flag = DropFlag(dropped.clone());
        set.spawn(async { 1 });
        hearth::yield_now().await; // the first finishes
        set.spawn(async move {
            let _flag = flag;
            std::future::pending::<u32>().await
        });
        set.abort_all();
        assert_eq!(set.len(), 2);
        let mut results = Vec::new();
        while let Some(res) = set.join_next().await {
            results.push(res.map_err(|e| e.is_cancelled()));
        }
        results.sort();
        assert_eq!(results, [Ok(1), Err(true)]);
        assert!(dropped.get());
    });
}

#[test]
fn the_abort_handle_of_spawn_aborts_that_task_only() {
    hearth::block_on(async {
        let mut set = JoinSet::new();
        let a = set.spawn(std::future::pending::<u32>());
        let _b = set.spawn(async {
            hearth::yield_now().await;
            2
        });
        a.abort();
        let mut results = Vec::new();
        while let Some(res) = set.join_next().await {
            results.push(res.map_err(|e| e.is_cancelled()));
        }
        results.sort();
        assert_eq!(results, [Ok(2), Err(true)]);
        assert!(a.is_finished());
    });
}

#[test]
fn shutdown_aborts_and_waits_for_every_task() {
    hearth::block_on(async {
        let mut set = JoinSet::new();
        let flags: Vec<_> = (0..3).map(|_| Rc::new(Cell::new(false))).collect();
        for f in &flags {
            let flag = DropFlag(f.clone());
            set.spawn(async move {
                let _flag = flag;
                std::future::pending::<()>().await
            });
        }
        set.shutdown().await;
        assert!(set.is_empty());
        assert!(flags.iter().all(|f| f.get()), "every future was dropped");
        // The set is usable afterwards.
        set.spawn(async {});
        assert!(set.join_next().await.unwrap().is_ok());
    });
}

#[test]
fn detach_all_lets_the_tasks_run_on() {
    hearth::block_on(async {
        let ran = Rc::new(Cell::new(0));
        let mut set = JoinSet::new();
        for _ in 0..3 {
            let ran = ran.clone();
            set.spawn(async move {
                after_yields(2).await;
                ran.set(ran.get() + 1);
            });
        }
        set.detach_all();
        assert!(set.is_empty());
        assert!(set.join_next().await.is_none());
        drop(set);
        after_yields(5).await;
        assert_eq!(ran.get(), 3);
    });
}

#[test]
fn dropping_the_set_aborts_every_task() {
    hearth::block_on(async {
        let flags: Vec<_> = (0..3).map(|_| Rc::new(Cell::new(false))).collect();
        let finished = Rc::new(Cell::new(false));
        {
            let mut set = JoinSet::new();
            for f in &flags {
                let flag = DropFlag(f.clone());
                let finished = finished.clone();
                set.spawn(async move {
                    let _flag = flag;
                    after_yields(3).await;
                    finished.set(true);
                });
            }
        }
        after_yields(5).await;
        assert!(flags.iter().all(|f| f.get()));
        assert!(!finished.get(), "a task ran on after its set was dropped");
    });
}

#[test]
fn a_panicking_drop_during_abort_all_becomes_that_tasks_error() {
    hearth::block_on(async {
        let mut set = JoinSet::new();
        for _ in 0..3 {
            set.spawn(PanicOnDrop);
        }
        set.spawn(async { 5 });
        hearth::yield_now().await;
        set.abort_all();
        let (mut panics, mut ok) = (0, 0);
        while let Some(res) = set.join_next().await {
            match res {
                Ok(5) => ok += 1,
                Err(e) if e.is_panic() => panics += 1,
                other => panic!("unexpected {other:?}"),
            }
        }
        assert_eq!((panics, ok), (3, 1));
        // The set and the executor still work.
        set.spawn(async { 9 });
        assert_eq!(set.join_next().await.unwrap().unwrap(), 9);
        assert!(set.is_empty());
    });
}

#[test]
fn a_panicking_drop_when_the_set_is_dropped_breaks_nothing() {
    hearth::block_on(async {
        let mut set = JoinSet::new();
        for _ in 0..3 {
            set.spawn(PanicOnDrop);
        }
        hearth::yield_now().await;
        drop(set); // aborts: the futures' drops panic in the executor
        after_yields(3).await;
        // Other tasks and new sets are unaffected.
        let mut set = JoinSet::new();
        set.spawn(async { 1 });
        assert_eq!(set.join_next().await.unwrap().unwrap(), 1);
    });
}

#[test]
fn a_panicking_output_drop_on_detach_breaks_nothing() {
    struct PanicOutput;
    impl Drop for PanicOutput {
        fn drop(&mut self) {
            panic!("output dropped");
        }
    }
    hearth::block_on(async {
        let mut set = JoinSet::new();
        set.spawn(async { PanicOutput });
        set.spawn(async { PanicOutput });
        hearth::yield_now().await; // both finished, outputs waiting
        set.detach_all(); // drops the outputs; their panics are discarded
        assert!(set.is_empty());
        set.spawn(async { PanicOutput });
        hearth::yield_now().await;
        drop(set);
        assert_eq!(hearth::spawn_local(async { 3 }).await.unwrap(), 3);
    });
}

#[test]
fn join_next_is_cancel_safe() {
    hearth::block_on(async {
        let mut set = JoinSet::new();
        set.spawn(async {
            after_yields(3).await;
            42
        });
        // Give up waiting once, before the task finishes.
        let gave_up = hearth::select! {
            _ = set.join_next() => false,
            _ = after_yields(1) => true,
        };
        assert!(gave_up);
        assert_eq!(set.join_next().await.unwrap().unwrap(), 42);
    });
}

#[test]
fn the_waiter_is_woken_once_per_finished_task() {
    // No scan and no spurious polls: with n tasks finishing one per tick,
    // the task awaiting join_next is polled about once per task.
    let n = if cfg!(miri) { 20 } else { 500 };
    hearth::block_on(async move {
        let mut set = JoinSet::new();
        for i in 0..n {
            set.spawn(after_yields(i + 1));
        }
        let polls = Rc::new(Cell::new(0usize));
        let p = polls.clone();
        let joined = hearth::spawn_local(async move {
            let mut joined = 0;
            std::future::poll_fn(|cx| {
                p.set(p.get() + 1);
                loop {
                    match set.poll_join_next(cx) {
                        Poll::Ready(Some(res)) => {
                            res.unwrap();
                            joined += 1;
                        }
                        Poll::Ready(None) => return Poll::Ready(joined),
                        Poll::Pending => return Poll::Pending,
                    }
                }
            })
            .await
        });
        assert_eq!(joined.await.unwrap(), n);
        assert!(polls.get() <= n + 1, "{} polls for {n} tasks", polls.get());
    });
}

#[test]
fn join_all_collects_and_resumes_a_panic() {
    hearth::block_on(async {
        let set: JoinSet<usize> = (0..4usize)
            .map(|i| async move {
                after_yields(4 - i).await;
                i
            })
            .collect();
        assert_eq!(set.join_all().await, [3, 2, 1, 0]);

        let mut set = JoinSet::new();
        set.spawn(async { panic!("inner") });
        set.extend([async { 1 }]);
        let caught = std::panic::AssertUnwindSafe(set.join_all());
        let err = futures::FutureExt::catch_unwind(caught).await.unwrap_err();
        assert_eq!(*err.downcast_ref::<&str>().unwrap(), "inner");
    });
}

#[test]
fn spawn_local_on_a_given_executor() {
    let executor = hearth::Executor::new();
    let mut set = JoinSet::new();
    set.spawn_local_on(async { 1 }, &executor);
    set.spawn_local_on(async { 2 }, &executor);
    let sum = executor.run_until(async move {
        let mut sum = 0;
        while let Some(res) = set.join_next().await {
            sum += res.unwrap();
        }
        sum
    });
    assert_eq!(sum, 3);
}

#[test]
fn a_set_outliving_its_executor_reports_cancelled_tasks() {
    let mut set = hearth::block_on(async {
        let mut set = JoinSet::new();
        set.spawn(std::future::pending::<()>());
        set.spawn(async {});
        hearth::yield_now().await;
        set
    });
    // The executor cancelled the pending task when it dropped.
    let mut results = Vec::new();
    while let Some(res) = set.try_join_next() {
        results.push(res.map_err(|e| e.is_cancelled()));
    }
    results.sort();
    assert_eq!(results, [Ok(()), Err(true)]);
    assert!(set.is_empty());
}

#[test]
fn slots_are_reused() {
    hearth::block_on(async {
        let mut set = JoinSet::new();
        for round in 0..if cfg!(miri) { 10 } else { 1_000 } {
            set.spawn(async move { round });
            set.spawn(async move { round });
            assert_eq!(set.join_next().await.unwrap().unwrap(), round);
            assert_eq!(set.join_next().await.unwrap().unwrap(), round);
        }
        assert!(format!("{set:?}").contains("len: 0"));
    });
}
