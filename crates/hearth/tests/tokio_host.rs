//! hearth's executor hosted on tokio (`hearth::compat::tokio`): both sides
//! work inside each other, wakes cross in both directions, the local path
//! stays free of atomics, neither side starves the other, teardown is clean.
#![cfg(all(feature = "tokio-host", not(miri)))]

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::rc::Rc;
use std::time::{Duration, Instant};

use hearth::compat::tokio::LocalExecutor;
use hearth::task::atomic::counting::count;

#[path = "../examples/tokio_mixed.rs"]
mod tokio_mixed;

fn current_thread() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn multi_thread() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

#[test]
fn new_outside_tokio_is_a_clear_error() {
    let err = LocalExecutor::new().unwrap_err();
    assert!(err.to_string().contains("inside a tokio runtime"), "{err}");
}

#[test]
fn tokio_inside_hearth_tasks() {
    current_thread().block_on(async {
        let hearth = LocalExecutor::new().unwrap();
        let state = Rc::new(RefCell::new(Vec::new()));
        let s = state.clone();
        let h = hearth.spawn_local(async move {
            tokio::time::sleep(Duration::from_millis(5)).await;
            s.borrow_mut().push("tokio sleep");
            let n = tokio::spawn(async { 2 }).await.unwrap();
            s.borrow_mut().push("tokio spawn");
            // A tokio socket pair, inside a hearth task.
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr = listener.local_addr().unwrap();
            let server = tokio::spawn(async move {
                use tokio::io::{AsyncReadExt, AsyncWriteExt};
                let (mut s, _) = listener.accept().await.unwrap();
                let mut buf = [0; 5];
                s.read_exact(&mut buf).await.unwrap();
                s.write_all(&buf).await.unwrap();
            });
            use tokio::io::{AsyncReadExt, AsyncWriteExt};
            let mut c = tokio::net::TcpStream::connect(addr).await.unwrap();
            c.write_all(b"hello").await.unwrap();
            let mut back = [0; 5];
            c.read_exact(&mut back).await.unwrap();
            server.await.unwrap();
            assert_eq!(&back, b"hello");
            s.borrow_mut().push("tokio net");
            n * 21
        });
        assert_eq!(hearth.run_until(h).await.unwrap(), 42);
        assert_eq!(*state.borrow(), ["tokio sleep", "tokio spawn", "tokio net"]);
    });
}

#[test]
fn hearth_timers_and_sockets_inside_the_host() {
    current_thread().block_on(async {
        let hearth = LocalExecutor::new().unwrap();
        let out = hearth
            .run_until(async {
                let start = Instant::now();
                hearth::time::sleep(Duration::from_millis(20)).await;
                assert!(start.elapsed() >= Duration::from_millis(20));
                let listener = hearth::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
                let addr = listener.local_addr().unwrap();
                let server = hearth::spawn_local(async move {
                    let (s, _) = listener.accept().await.unwrap();
                    let mut buf = [0; 4];
                    s.read_exact(&mut buf).await.unwrap();
                    s.write_all(&buf).await.unwrap();
                });
                // A tokio client against a hearth server on the same thread.
                use tokio::io::{AsyncReadExt, AsyncWriteExt};
                let mut c = tokio::net::TcpStream::connect(addr).await.unwrap();
                c.write_all(b"ping").await.unwrap();
                let mut back = [0; 4];
                c.read_exact(&mut back).await.unwrap();
                server.await.unwrap();
                back
            })
            .await;
        assert_eq!(&out, b"ping");
    });
}

#[test]
fn tokio_tasks_await_hearth_and_wake_it_from_other_threads() {
    let rt = multi_thread();
    rt.block_on(async {
        let hearth = LocalExecutor::new().unwrap();
        // A tokio task on another thread feeds a hearth task through the
        // cross-thread channel: remote wakes of the hosted executor.
        let (tx, mut rx) = hearth_sync::remote::channel::<u64>(16);
        let producer = tokio::spawn(async move {
            for i in 0..10_000 {
                tx.send(i).await.unwrap();
            }
        });
        let sum = hearth.spawn_local(async move {
            let mut sum = 0;
            while let Some(i) = rx.recv().await {
                sum += i;
            }
            sum
        });
        // This (block_on) future is not a hearth task: it awaits a hearth
        // JoinHandle like any tokio future would.
        let total = hearth.run_until(sum).await.unwrap();
        producer.await.unwrap();
        assert_eq!(total, (0..10_000).sum::<u64>());
    });
}

#[test]
fn local_tokio_task_awaits_a_hearth_join_handle() {
    let local = tokio::task::LocalSet::new();
    current_thread().block_on(local.run_until(async {
        let hearth = Rc::new(LocalExecutor::new().unwrap());
        let (tx, rx) = hearth_sync::oneshot::channel::<u32>();
        let h = hearth.spawn_local(async move { rx.await.unwrap() + 1 });
        // A tokio task on this thread waits on a hearth JoinHandle...
        let waiter = tokio::task::spawn_local(h);
        // ...and another sends to the hearth task through hearth-sync.
        tokio::task::spawn_local(async move { tx.send(41).unwrap() });
        let driver = hearth.clone();
        tokio::task::spawn_local(async move { driver.run().await });
        assert_eq!(waiter.await.unwrap().unwrap(), 42);
    }));
}

/// Ping-pong between two hearth tasks over hearth-sync channels, `rounds`
/// times, hosted on a current-thread tokio runtime; returns the counted
/// atomic read-modify-writes of the run.
fn hosted_ping_pong(rt: &tokio::runtime::Runtime, rounds: u32) -> u64 {
    rt.block_on(async {
        let hearth = LocalExecutor::new().unwrap();
        // Warm up (thread tokens, first allocations).
        hearth.run_until(async {}).await;
        let (ping_tx, mut ping_rx) = hearth_sync::mpsc::channel::<u32>(1);
        let (pong_tx, mut pong_rx) = hearth_sync::mpsc::channel::<u32>(1);
        hearth.spawn_local(async move {
            while let Some(i) = ping_rx.recv().await {
                pong_tx.send(i).await.unwrap();
            }
        });
        let run = hearth.run_until(async move {
            for i in 0..rounds {
                ping_tx.send(i).await.unwrap();
                assert_eq!(pong_rx.recv().await, Some(i));
            }
        });
        let mut run = std::pin::pin!(run);
        // Count only hearth's polls: the counter is per thread.
        let mut rmw = 0;
        std::future::poll_fn(|cx| {
            let (poll, n) = count(|| run.as_mut().poll(cx));
            rmw += n;
            poll
        })
        .await;
        rmw
    })
}

#[test]
fn the_local_path_stays_free_of_atomics_when_hosted() {
    let rt = current_thread();
    let short = hosted_ping_pong(&rt, 1_000);
    let long = hosted_ping_pong(&rt, 5_000);
    // Setup and teardown cost a few; the rounds cost none.
    assert_eq!(
        short, long,
        "{short} vs {long} atomic RMWs: the rounds are not free"
    );
}

#[test]
fn neither_side_starves_the_other() {
    current_thread().block_on(async {
        let hearth = LocalExecutor::new().unwrap();
        let tokio_ticks = Rc::new(Cell::new(0u32));
        let t = tokio_ticks.clone();
        // A busy hearth task (always ready)...
        let stop = Rc::new(Cell::new(false));
        let s = stop.clone();
        hearth.spawn_local(async move {
            while !s.get() {
                hearth::yield_now().await;
            }
        });
        // ...and a tokio future on the same thread that must still progress.
        let tokio_side = async move {
            for _ in 0..100 {
                tokio::task::yield_now().await;
                t.set(t.get() + 1);
            }
        };
        let hearth_side = hearth.run_until(async {
            // hearth's own main future progresses too.
            for _ in 0..100 {
                hearth::yield_now().await;
            }
            std::future::pending::<()>().await
        });
        tokio::select! {
            _ = hearth_side => unreachable!(),
            _ = tokio_side => {}
        }
        assert_eq!(tokio_ticks.get(), 100);
        stop.set(true);
    });
}

#[test]
fn idle_hearth_lets_tokio_run_and_wakes_on_time() {
    current_thread().block_on(async {
        let hearth = LocalExecutor::new().unwrap();
        let start = Instant::now();
        let hearth_side = hearth.run_until(hearth::time::sleep(Duration::from_millis(30)));
        let tokio_side = tokio::time::sleep(Duration::from_millis(10));
        let (_, ()) = tokio::join!(hearth_side, tokio_side);
        let took = start.elapsed();
        assert!(took >= Duration::from_millis(30), "{took:?}");
        assert!(took < Duration::from_secs(5), "{took:?}");
    });
}

/// Dropped with the tokio runtime: every hearth task's future is dropped on
/// its thread, tokio resources inside included, with no panic.
#[test]
fn teardown_drops_every_hearth_task() {
    struct Flag(Rc<Cell<u32>>);
    impl Drop for Flag {
        fn drop(&mut self) {
            self.0.set(self.0.get() + 1);
        }
    }
    let dropped = Rc::new(Cell::new(0));
    let local = tokio::task::LocalSet::new();
    let rt = current_thread();
    let d = dropped.clone();
    rt.block_on(local.run_until(async move {
        let hearth = LocalExecutor::new().unwrap();
        for _ in 0..10 {
            let flag = Flag(d.clone());
            hearth.spawn_local(async move {
                let _flag = flag;
                let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
                let _ = listener.accept().await; // never completes
            });
        }
        let mut ran = false;
        let _ = tokio::time::timeout(
            Duration::from_millis(20),
            hearth.run_until(async {
                ran = true;
                std::future::pending::<()>().await
            }),
        )
        .await;
        assert!(ran);
        // The hosted executor lives on in a tokio task that never finishes.
        tokio::task::spawn_local(async move { hearth.run().await });
        tokio::task::yield_now().await;
    }));
    assert_eq!(dropped.get(), 0);
    drop(local); // drops the tokio task, hence the hosted executor
    drop(rt);
    assert_eq!(dropped.get(), 10);
}

#[test]
fn a_mixed_tokio_and_hearth_program_under_load() {
    for rt in [current_thread(), multi_thread()] {
        let summary = rt.block_on(tokio_mixed::run(3_000, 16));
        assert_eq!(summary.responses, 3_000);
        assert_eq!(
            summary.bytes,
            (0..3_000).map(|i| 1 + i % 2000).sum::<usize>()
        );
        assert_eq!(summary.per_worker.values().sum::<usize>(), 3_000);
        assert!(summary.per_worker.len() > 1, "{:?}", summary.per_worker);
        // The pool reuses keep-alive connections: about one per worker (a
        // few more when a checkout races a connection's return to the pool),
        // never one per request.
        assert!(
            summary.connections <= 64,
            "{} connections",
            summary.connections
        );
    }
}

/// A busy hosted executor (a task that is always ready) still takes its own
/// I/O events: the turns that yield look at tokio's readiness of hearth's
/// epoll descriptor.
#[test]
fn hearth_sockets_progress_while_hearth_is_busy() {
    current_thread().block_on(async {
        let hearth = LocalExecutor::new().unwrap();
        let stop = Rc::new(Cell::new(false));
        let s = stop.clone();
        hearth.spawn_local(async move {
            while !s.get() {
                hearth::yield_now().await;
            }
        });
        let out = hearth
            .run_until(async {
                let listener = hearth::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
                let addr = listener.local_addr().unwrap();
                let server = hearth::spawn_local(async move {
                    let (s, _) = listener.accept().await.unwrap();
                    let mut buf = [0; 4];
                    s.read_exact(&mut buf).await.unwrap();
                    s.write_all(&buf).await.unwrap();
                });
                let c = hearth::net::TcpStream::connect(addr).await.unwrap();
                c.write_all(b"busy").await.unwrap();
                let mut back = [0; 4];
                c.read_exact(&mut back).await.unwrap();
                server.await.unwrap();
                back
            })
            .await;
        stop.set(true);
        assert_eq!(&out, b"busy");
    });
}
