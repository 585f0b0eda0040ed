//! hearth-sync's operations spend the cooperative budget on the real
//! executor: a task that loops on an always-ready operation yields, so the
//! other tasks on its thread still run.

use std::cell::Cell;
use std::rc::Rc;

use hearth::task::coop::BUDGET;
use hearth_sync::{mpsc, watch, Mutex, Semaphore};

/// A loop gives up after this many iterations: without a budget it would
/// never yield, and the test would hang instead of failing.
const GIVE_UP: u32 = 10_000_000;

/// The other task must run within this many iterations of a loop that spends
/// one unit of budget per iteration.
const WITHIN: u32 = 2 * BUDGET;

/// Spawns the other task: it only records that it ran.
fn spawn_other_task() -> Rc<Cell<bool>> {
    let ran = Rc::new(Cell::new(false));
    let flag = ran.clone();
    drop(hearth::spawn_local(async move { flag.set(true) }));
    ran
}

#[test]
fn looping_on_changed_of_a_dropped_watch_sender_does_not_starve_other_tasks() {
    let n = hearth::block_on(async {
        let (tx, mut rx) = watch::channel(0);
        drop(tx);
        let ran = spawn_other_task();
        let mut n = 0;
        while !ran.get() && n < GIVE_UP {
            assert!(rx.changed().await.is_err());
            n += 1;
        }
        n
    });
    assert!(n <= WITHIN, "the other task waited {n} iterations");
}

#[test]
fn a_spawned_task_looping_on_changed_yields_too() {
    let executor = hearth::Executor::new();
    let n = executor.run_until(async {
        hearth::spawn_local(async {
            let (tx, mut rx) = watch::channel(0);
            tx.send(1).unwrap();
            drop(tx);
            let ran = spawn_other_task();
            let mut n = 0;
            // The first `changed` sees the unseen value, the rest fail.
            while !ran.get() && n < GIVE_UP {
                let _ = rx.changed().await;
                n += 1;
            }
            n
        })
        .await
        .unwrap()
    });
    assert!(n <= WITHIN, "the other task waited {n} iterations");
}

#[test]
fn a_channel_that_always_has_a_value_does_not_starve_other_tasks() {
    let n = hearth::block_on(async {
        let (tx, mut rx) = mpsc::unbounded_channel();
        let ran = spawn_other_task();
        let mut n = 0;
        while !ran.get() && n < GIVE_UP {
            // `send` is synchronous: only `recv` spends budget.
            tx.send(n).unwrap();
            assert_eq!(rx.recv().await, Some(n));
            n += 1;
        }
        n
    });
    assert!(n <= WITHIN, "the other task waited {n} iterations");
}

#[test]
fn looping_on_free_locks_does_not_starve_other_tasks() {
    let n = hearth::block_on(async {
        let mutex = Mutex::new(0);
        let sem = Semaphore::new(1);
        let ran = spawn_other_task();
        let mut n = 0;
        while !ran.get() && n < GIVE_UP {
            let _permit = sem.acquire().await.unwrap();
            *mutex.lock().await += 1;
            n += 1;
        }
        n
    });
    // Two operations per iteration.
    assert!(n <= WITHIN / 2, "the other task waited {n} iterations");
}
