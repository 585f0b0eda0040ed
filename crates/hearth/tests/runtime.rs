//! The multi-core runtime: builder, spawn_on, blocking pool, panics, shutdown.
//!
//! These use real threads; each test bounds its waits (a hang fails the test
//! through a deadline rather than blocking the suite). They are fast enough
//! to run under Miri as well (about 15 s).

use std::cell::Cell;
use std::rc::Rc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread::{self, ThreadId};
use std::time::Duration;

use hearth::runtime::{current_worker, Handle, SpawnError};
use hearth::Runtime;

const DEADLINE: Duration = Duration::from_secs(20);

fn runtime(workers: usize) -> Runtime {
    Runtime::builder().workers(workers).build().unwrap()
}

#[test]
fn workers_zero_is_an_error_with_a_clear_message() {
    let err = Runtime::builder().workers(0).build().unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
    let msg = err.to_string();
    assert!(
        msg.contains("workers(0)") && msg.contains("at least one worker"),
        "{msg}"
    );

    let err = Runtime::builder()
        .workers(1)
        .max_blocking_threads(0)
        .build()
        .unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
    assert!(err.to_string().contains("max_blocking_threads(0)"));
}

#[test]
fn pinning_more_workers_than_cpus_is_an_error() {
    let cpus = thread::available_parallelism().unwrap().get();
    let err = Runtime::builder()
        .workers(cpus + 64)
        .pin_to_cores(true)
        .build()
        .unwrap_err();
    assert!(err.to_string().contains("pin_to_cores(true)"), "{err}");
}

#[test]
fn pinned_workers_start_and_serve() {
    let rt = Runtime::builder()
        .workers(1)
        .pin_to_cores(true)
        .build()
        .unwrap();
    let h = rt.spawn_on(0, || async { current_worker() }).unwrap();
    assert_eq!(rt.block_on(h).unwrap(), Some(0));
}

#[test]
fn default_builder_starts_one_worker_per_cpu() {
    let rt = Runtime::builder().build().unwrap();
    assert_eq!(
        rt.workers(),
        thread::available_parallelism().map_or(1, |n| n.get())
    );
}

#[test]
fn spawn_on_every_worker_runs_there() {
    let rt = runtime(3);
    let main_thread = thread::current().id();
    let handles = rt
        .spawn_on_all(move |w| async move {
            assert_ne!(thread::current().id(), main_thread);
            (
                w,
                current_worker(),
                thread::current().name().map(String::from),
            )
        })
        .unwrap();
    let outs: Vec<_> = rt.block_on(async {
        let mut outs = Vec::new();
        for h in handles {
            outs.push(h.await.unwrap());
        }
        outs
    });
    for (w, (index, seen, name)) in outs.into_iter().enumerate() {
        assert_eq!(index, w);
        assert_eq!(seen, Some(w));
        assert_eq!(name.as_deref(), Some(format!("hearth-worker-{w}").as_str()));
    }
    assert_eq!(current_worker(), None);
    rt.block_on(async { assert_eq!(current_worker(), None) });
}

#[test]
fn spawn_on_a_missing_worker_is_an_error() {
    let rt = runtime(2);
    let err = rt.spawn_on(2, || async {}).unwrap_err();
    assert_eq!(
        err,
        SpawnError::NoSuchWorker {
            worker: 2,
            workers: 2
        }
    );
    assert_eq!(
        err.to_string(),
        "no worker 2: the runtime has 2 workers (0..2)"
    );
}

#[test]
fn futures_on_a_worker_may_be_not_send() {
    let rt = runtime(1);
    let h = rt
        .spawn_on(0, || {
            let counter = Rc::new(Cell::new(0));
            async move {
                let mut tasks = Vec::new();
                for _ in 0..10 {
                    let c = counter.clone();
                    tasks.push(hearth::spawn_local(async move {
                        hearth::yield_now().await;
                        c.set(c.get() + 1);
                    }));
                }
                for t in tasks {
                    t.await.unwrap();
                }
                counter.get()
            }
        })
        .unwrap();
    assert_eq!(rt.block_on(h).unwrap(), 10);
}

#[test]
fn workers_message_each_other() {
    // A ping-pong between worker 0 and worker 1 through hearth_sync::remote
    // channels, each side awaiting on its own executor.
    let rt = runtime(2);
    let (to_1, mut rx_1) = hearth_sync::remote::unbounded_channel::<u32>();
    let (to_0, mut rx_0) = hearth_sync::remote::unbounded_channel::<u32>();
    let pong = rt
        .spawn_on(1, move || async move {
            let mut seen = 0;
            while let Some(n) = rx_1.recv().await {
                assert_eq!(current_worker(), Some(1));
                seen += 1;
                if to_0.send(n + 1).is_err() {
                    break;
                }
            }
            seen
        })
        .unwrap();
    let ping = rt
        .spawn_on(0, move || async move {
            let mut n = 0;
            for _ in 0..100 {
                to_1.send(n).unwrap();
                n = rx_0.recv().await.unwrap();
                assert_eq!(current_worker(), Some(0));
            }
            n
        })
        .unwrap();
    let (last, seen) = rt.block_on(async { (ping.await.unwrap(), pong.await.unwrap()) });
    assert_eq!(last, 100);
    assert_eq!(seen, 100);
}

#[test]
fn a_flood_of_spawns_does_not_starve_the_workers_tasks() {
    const JOBS: usize = 1_000;
    let rt = runtime(1);
    let ran = Arc::new(AtomicUsize::new(0));
    let (all_sent_tx, all_sent_rx) = mpsc::channel::<()>();
    let r = ran.clone();
    let first = rt
        .spawn_on(0, move || {
            // Hold the worker until every job is queued behind this one.
            all_sent_rx.recv_timeout(DEADLINE).unwrap();
            // This task becomes ready now; it must run before the whole
            // queue has been drained.
            let task = hearth::spawn_local(async move { r.load(Ordering::SeqCst) });
            async move { task.await.unwrap() }
        })
        .unwrap();
    for _ in 0..JOBS {
        let ran = ran.clone();
        drop(rt.spawn_on(0, move || {
            ran.fetch_add(1, Ordering::SeqCst);
            async {}
        }));
    }
    all_sent_tx.send(()).unwrap();
    let seen = rt.block_on(first).unwrap();
    assert!(seen < JOBS, "the task waited for all {seen} queued jobs");
}

#[test]
fn a_worker_spawns_on_another_through_the_current_handle() {
    let rt = runtime(2);
    let h = rt
        .spawn_on(0, || async {
            let other = Handle::current().spawn_on(1, || async { current_worker() });
            (current_worker(), other.unwrap().await.unwrap())
        })
        .unwrap();
    assert_eq!(rt.block_on(h).unwrap(), (Some(0), Some(1)));
}

#[test]
fn spawn_blocking_wakes_the_awaiting_task_from_the_pool_thread() {
    let rt = runtime(1);
    let h = rt
        .spawn_on(0, || async {
            let worker_thread = thread::current().id();
            let (tx, rx) = mpsc::channel::<()>();
            let job = hearth::runtime::spawn_blocking(move || {
                // Do not finish before the worker has parked on the handle.
                rx.recv_timeout(DEADLINE).unwrap();
                thread::current().id()
            });
            // Let the job start first, then unblock it from another task.
            hearth::spawn_local(async move {
                hearth::yield_now().await;
                tx.send(()).unwrap();
            });
            let pool_thread = job.await.unwrap();
            (worker_thread, pool_thread, thread::current().id())
        })
        .unwrap();
    let (worker, pool, after) = rt.block_on(h).unwrap();
    assert_ne!(worker, pool, "the job ran off the worker");
    assert_eq!(worker, after, "the task resumed on its worker");
}

#[test]
fn spawn_blocking_bounds_its_threads() {
    let rt = Runtime::builder()
        .workers(1)
        .max_blocking_threads(2)
        .build()
        .unwrap();
    let running = Arc::new(AtomicUsize::new(0));
    let peak = Arc::new(AtomicUsize::new(0));
    let handles: Vec<_> = (0..8)
        .map(|_| {
            let (running, peak) = (running.clone(), peak.clone());
            rt.spawn_blocking(move || {
                let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                peak.fetch_max(now, Ordering::SeqCst);
                thread::sleep(Duration::from_millis(5));
                running.fetch_sub(1, Ordering::SeqCst);
            })
        })
        .collect();
    rt.block_on(async {
        for h in handles {
            h.await.unwrap();
        }
    });
    let peak = peak.load(Ordering::SeqCst);
    assert!((1..=2).contains(&peak), "peak {peak}");
}

#[test]
fn a_panicking_task_keeps_its_worker_serving() {
    let rt = runtime(1);
    let boom = rt
        .spawn_on(0, || async {
            hearth::yield_now().await;
            panic!("task boom");
        })
        .unwrap();
    let err = rt.block_on(boom).unwrap_err();
    assert!(err.is_panic());
    assert_eq!(
        *err.into_panic().downcast_ref::<&str>().unwrap(),
        "task boom"
    );

    // A panic in the closure itself (before any future exists) too.
    let boom = rt.spawn_on(0, || -> std::future::Ready<()> { panic!("closure boom") });
    assert!(rt.block_on(boom.unwrap()).unwrap_err().is_panic());

    // And a task that panics while another one on the worker is parked.
    let (tx, mut rx) = hearth_sync::remote::unbounded_channel::<u32>();
    let waiter = rt
        .spawn_on(0, move || async move { rx.recv().await })
        .unwrap();
    let boom = rt.spawn_on(0, || async { panic!("again") }).unwrap();
    assert!(rt.block_on(boom).unwrap_err().is_panic());
    tx.send(7).unwrap();
    assert_eq!(rt.block_on(waiter).unwrap(), Some(7));

    let ok = rt.spawn_on(0, || async { current_worker() }).unwrap();
    assert_eq!(rt.block_on(ok).unwrap(), Some(0));
}

/// Records the thread its drop ran on.
struct DropProbe {
    log: Arc<Mutex<Vec<ThreadId>>>,
}

impl Drop for DropProbe {
    fn drop(&mut self) {
        self.log.lock().unwrap().push(thread::current().id());
    }
}

#[test]
fn shutdown_drops_live_tasks_on_their_worker_and_joins_every_thread() {
    let rt = runtime(2);
    let drops = Arc::new(Mutex::new(Vec::new()));
    let (started_tx, started_rx) = mpsc::channel();
    let mut handles = Vec::new();
    for w in 0..2 {
        for _ in 0..3 {
            let log = drops.clone();
            let started = started_tx.clone();
            handles.push(
                rt.spawn_on(w, move || {
                    let probe = DropProbe { log };
                    async move {
                        started.send(thread::current().id()).unwrap();
                        let _probe = probe;
                        std::future::pending::<()>().await;
                    }
                })
                .unwrap(),
            );
        }
    }
    let worker_threads: Vec<ThreadId> = (0..6)
        .map(|_| started_rx.recv_timeout(DEADLINE).unwrap())
        .collect();
    let handle = rt.handle().clone();
    rt.shutdown();

    // Joined: every probe has dropped by the time shutdown returns.
    let drops = drops.lock().unwrap().clone();
    assert_eq!(drops.len(), 6);
    let mut expected = worker_threads.clone();
    let mut got = drops.clone();
    expected.sort_by_key(|t| format!("{t:?}"));
    got.sort_by_key(|t| format!("{t:?}"));
    assert_eq!(got, expected, "each future dropped on its own worker");
    assert!(!drops.contains(&thread::current().id()));

    for h in handles {
        assert!(hearth::block_on(h).unwrap_err().is_cancelled());
    }
    assert_eq!(
        handle.spawn_on(0, || async {}).unwrap_err(),
        SpawnError::ShutDown
    );
    assert!(hearth::block_on(handle.spawn_blocking(|| ()))
        .unwrap_err()
        .is_cancelled());
}

#[test]
fn dropping_the_runtime_without_shutdown_is_clean() {
    let drops = Arc::new(Mutex::new(Vec::new()));
    let (started_tx, started_rx) = mpsc::channel();
    {
        let rt = runtime(2);
        for w in 0..2 {
            let log = drops.clone();
            let started = started_tx.clone();
            drop(rt.spawn_on(w, move || async move {
                let _probe = DropProbe { log };
                started.send(()).unwrap();
                std::future::pending::<()>().await;
            }));
        }
        for _ in 0..2 {
            started_rx.recv_timeout(DEADLINE).unwrap();
        }
        // A job still queued at the drop is dropped, not run.
        drop(rt.spawn_blocking(|| thread::sleep(Duration::from_millis(1))));
    }
    assert_eq!(drops.lock().unwrap().len(), 2);
}

#[test]
fn a_runtime_dropped_on_its_own_worker_does_not_deadlock() {
    let rt = runtime(2);
    let (tx, rx) = mpsc::channel();
    let holder = rt.handle().clone();
    // Move the runtime into a task on worker 1 and drop it there.
    let slot = Arc::new(Mutex::new(Some(rt)));
    let slot2 = slot.clone();
    holder
        .spawn_on(1, move || async move {
            drop(slot2.lock().unwrap().take());
            tx.send(()).unwrap();
        })
        .unwrap();
    rx.recv_timeout(DEADLINE).unwrap();
    assert!(slot.lock().unwrap().is_none());
    assert_eq!(
        holder.spawn_on(0, || async {}).unwrap_err(),
        SpawnError::ShutDown
    );
}

#[test]
fn block_on_on_a_worker_panics_with_a_clear_message() {
    let rt = Arc::new(runtime(1));
    let inner = rt.clone();
    let h = rt
        .spawn_on(0, move || async move { inner.block_on(async {}) })
        .unwrap();
    let err = rt.block_on(h).unwrap_err();
    let msg = err.into_panic();
    let msg = msg
        .downcast_ref::<&str>()
        .copied()
        .map(String::from)
        .or_else(|| msg.downcast_ref::<String>().cloned())
        .unwrap();
    assert!(msg.contains("called on a worker thread"), "{msg}");
}

#[hearth::test(workers = 2)]
async fn the_test_macro_starts_a_runtime() {
    let rt = Handle::current();
    assert_eq!(rt.workers(), 2);
    let h = rt.spawn_on(1, || async { current_worker() }).unwrap();
    assert_eq!(h.await.unwrap(), Some(1));
}

#[hearth::test]
async fn the_test_macro_defaults_to_one_worker() -> Result<(), SpawnError> {
    assert_eq!(Handle::current().workers(), 1);
    let n = Handle::current()
        .spawn_on(0, || async { 1 })?
        .await
        .unwrap();
    assert_eq!(n, 1);
    Ok(())
}
