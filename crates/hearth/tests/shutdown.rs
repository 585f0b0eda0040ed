//! The graceful shutdown (`Runtime::shutdown_graceful`, `shutdown_signal`)
//! with live connections, blocking jobs and stuck tasks; and
//! `RemoteJoinHandle::abort`. Real threads; every wait is bounded.

use std::io::{Read, Write};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use futures::future::{select, Either};
use hearth::net::{TcpListener, TcpStream};
use hearth::runtime::{is_shutting_down, shutdown_signal, SpawnError};
use hearth::Runtime;

const DEADLINE: Duration = Duration::from_secs(20);

fn runtime(workers: usize) -> Runtime {
    Runtime::builder().workers(workers).build().unwrap()
}

/// Reads one "request" (a line), waits `delay`, writes "ok <line>\n"; until
/// the peer closes.
async fn serve_connection(stream: TcpStream, delay: Duration) {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 256];
    loop {
        let n = match stream.read(&mut chunk).await {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        buf.extend_from_slice(&chunk[..n]);
        while let Some(end) = buf.iter().position(|&b| b == b'\n') {
            let line: Vec<u8> = buf.drain(..=end).collect();
            hearth::time::sleep(delay).await;
            let mut reply = b"ok ".to_vec();
            reply.extend_from_slice(&line);
            if stream.write_all(&reply).await.is_err() {
                return;
            }
        }
    }
}

/// An accept loop that stops at the shutdown signal; connections it has
/// accepted run on.
async fn accept_until_shutdown(listener: TcpListener, delay: Duration, accepted: Arc<AtomicUsize>) {
    let mut signal = std::pin::pin!(shutdown_signal());
    loop {
        let accept = std::pin::pin!(listener.accept());
        match select(accept, signal.as_mut()).await {
            Either::Left((Ok((stream, _)), _)) => {
                accepted.fetch_add(1, Ordering::SeqCst);
                drop(hearth::spawn_local(serve_connection(stream, delay)));
            }
            Either::Left((Err(_), _)) => continue,
            Either::Right(((), _)) => return, // drops the listener
        }
    }
}

#[test]
#[cfg_attr(miri, ignore)] // Miri cannot run epoll
fn graceful_shutdown_finishes_live_connections_and_refuses_new_ones() {
    let rt = runtime(2);
    let accepted = Arc::new(AtomicUsize::new(0));
    let (addr_tx, addr_rx) = mpsc::channel::<SocketAddr>();
    // Both workers listen on one port (SO_REUSEPORT), like a real server.
    let first = {
        let addr_tx = addr_tx.clone();
        let accepted = accepted.clone();
        rt.spawn_on(0, move || async move {
            let listener = TcpListener::bind_reuseport("127.0.0.1:0".parse().unwrap()).unwrap();
            addr_tx.send(listener.local_addr().unwrap()).unwrap();
            accept_until_shutdown(listener, Duration::from_millis(200), accepted).await
        })
        .unwrap()
    };
    let addr = addr_rx.recv_timeout(DEADLINE).unwrap();
    let second = {
        let accepted = accepted.clone();
        rt.spawn_on(1, move || async move {
            let listener = TcpListener::bind_reuseport(addr).unwrap();
            addr_tx.send(addr).unwrap();
            accept_until_shutdown(listener, Duration::from_millis(200), accepted).await
        })
        .unwrap()
    };
    addr_rx.recv_timeout(DEADLINE).unwrap();

    // Live connections, each with a request in flight (served in 200 ms).
    let mut clients: Vec<std::net::TcpStream> = (0..8)
        .map(|i| {
            let mut c = std::net::TcpStream::connect(addr).unwrap();
            c.set_read_timeout(Some(DEADLINE)).unwrap();
            writeln!(c, "request {i}").unwrap();
            c
        })
        .collect();
    let deadline = Instant::now() + DEADLINE;
    while accepted.load(Ordering::SeqCst) < clients.len() {
        assert!(Instant::now() < deadline, "the server did not accept");
        thread::sleep(Duration::from_millis(1));
    }

    // Shut down while the requests are in flight; read the replies meanwhile.
    let shutdown = thread::spawn(move || {
        let started = Instant::now();
        let result = rt.shutdown_graceful(Duration::from_secs(30));
        (result, started.elapsed())
    });
    for (i, c) in clients.iter_mut().enumerate() {
        let mut reply = String::new();
        let mut byte = [0u8; 1];
        while !reply.ends_with('\n') {
            assert_eq!(c.read(&mut byte).unwrap(), 1, "connection {i} cut short");
            reply.push(byte[0] as char);
        }
        assert_eq!(reply, format!("ok request {i}\n"));
        // The client is done: closing lets its connection task end.
    }
    drop(clients);
    let (result, took) = shutdown.join().unwrap();
    result.expect("every connection finished before the deadline");
    assert!(took < Duration::from_secs(30));
    // The accept loops returned at the signal, and their listeners are gone.
    hearth::block_on(first).unwrap();
    hearth::block_on(second).unwrap();
    assert!(
        std::net::TcpStream::connect(addr).is_err(),
        "still accepting"
    );
}

#[test]
fn graceful_shutdown_cancels_what_outlives_the_deadline() {
    let rt = runtime(2);
    let dropped_on = Arc::new(Mutex::new(Vec::new()));
    struct Probe(Arc<Mutex<Vec<Option<String>>>>);
    impl Drop for Probe {
        fn drop(&mut self) {
            let name = thread::current().name().map(String::from);
            self.0.lock().unwrap().push(name);
        }
    }
    let (started_tx, started_rx) = mpsc::channel();
    let stuck: Vec<_> = (0..3)
        .map(|i| {
            let probe = Probe(dropped_on.clone());
            let started = started_tx.clone();
            rt.spawn_on(i % 2, move || async move {
                let _probe = probe;
                started.send(()).unwrap();
                std::future::pending::<()>().await
            })
            .unwrap()
        })
        .collect();
    for _ in 0..3 {
        started_rx.recv_timeout(DEADLINE).unwrap();
    }
    let quick = rt
        .spawn_on(0, || async {
            hearth::time::sleep(Duration::from_millis(10)).await;
            "done"
        })
        .unwrap();
    let handle = rt.handle().clone();
    // Under Miri the quick task's 10 ms is measured by a clock that runs with
    // the interpreter (see `parks_are_counted` in tests/metrics.rs): a longer
    // deadline there keeps the test about cancellation, not about speed.
    let deadline = Duration::from_millis(if cfg!(miri) { 5_000 } else { 100 });
    let started = Instant::now();
    let err = rt.shutdown_graceful(deadline).unwrap_err();
    let took = started.elapsed();
    assert!(took >= deadline, "returned before the deadline: {took:?}");
    assert_eq!(err.cancelled_tasks(), 3);
    assert_eq!(err.cancelled_blocking_jobs(), 0);
    assert_eq!(err.running_blocking_jobs(), 0);
    assert!(
        err.to_string().contains("3 unfinished tasks cancelled"),
        "{err}"
    );
    // Each stuck future was dropped on a worker; the quick one finished.
    let names = dropped_on.lock().unwrap().clone();
    assert_eq!(names.len(), 3);
    for name in names {
        assert!(name.unwrap().starts_with("hearth-worker-"));
    }
    for h in stuck {
        assert!(hearth::block_on(h).unwrap_err().is_cancelled());
    }
    assert_eq!(hearth::block_on(quick).unwrap(), "done");
    assert_eq!(
        handle.spawn_on(0, || async {}).unwrap_err(),
        SpawnError::ShutDown
    );
}

#[test]
fn during_a_graceful_shutdown_spawns_fail_but_local_spawns_and_queued_work_run() {
    let rt = runtime(1);
    let (seen_tx, seen_rx) = mpsc::channel();
    let (started_tx, started_rx) = mpsc::channel();
    let handle = rt.handle().clone();
    let task = rt
        .spawn_on(0, move || async move {
            started_tx.send(is_shutting_down()).unwrap();
            shutdown_signal().await;
            assert!(is_shutting_down());
            // Other runtimes' spawns fail from the start of the shutdown...
            let refused = handle.spawn_on(0, || async {}).unwrap_err();
            // ...local ones run, and the worker waits for them.
            let child = hearth::spawn_local(async {
                hearth::time::sleep(Duration::from_millis(50)).await;
                7
            });
            seen_tx.send(refused).unwrap();
            child.await.unwrap()
        })
        .unwrap();
    assert!(!started_rx.recv_timeout(DEADLINE).unwrap());
    rt.shutdown_graceful(DEADLINE).unwrap();
    assert_eq!(seen_rx.recv().unwrap(), SpawnError::ShutDown);
    assert_eq!(hearth::block_on(task).unwrap(), 7);
}

#[test]
fn graceful_shutdown_waits_for_blocking_jobs_and_runs_queued_ones() {
    let rt = Runtime::builder()
        .workers(1)
        .max_blocking_threads(1)
        .build()
        .unwrap();
    let slow = rt.spawn_blocking(|| {
        thread::sleep(Duration::from_millis(100));
        1
    });
    let queued = rt.spawn_blocking(|| 2);
    rt.shutdown_graceful(DEADLINE).unwrap();
    assert_eq!(hearth::block_on(slow).unwrap(), 1);
    assert_eq!(hearth::block_on(queued).unwrap(), 2);
}

#[test]
fn graceful_shutdown_reports_a_blocking_job_still_running() {
    let rt = runtime(1);
    let (go_tx, go_rx) = mpsc::channel::<()>();
    let (started_tx, started_rx) = mpsc::channel::<()>();
    let running = rt.spawn_blocking(move || {
        started_tx.send(()).unwrap();
        go_rx.recv().is_ok()
    });
    started_rx.recv_timeout(DEADLINE).unwrap();
    let err = rt.shutdown_graceful(Duration::from_millis(20)).unwrap_err();
    assert_eq!(err.running_blocking_jobs(), 1);
    assert_eq!(err.cancelled_tasks(), 0);
    // It finishes on its own and still delivers.
    go_tx.send(()).unwrap();
    assert!(hearth::block_on(running).unwrap());
}

#[test]
fn the_signal_never_fires_on_a_plain_shutdown_or_off_the_workers() {
    // Off the workers it stays pending.
    let rt = runtime(1);
    let off = rt.block_on(async {
        let signal = std::pin::pin!(shutdown_signal());
        let timer = std::pin::pin!(hearth::time::sleep(Duration::from_millis(20)));
        matches!(select(signal, timer).await, Either::Left(_))
    });
    assert!(!off);
    // A plain shutdown cancels instead.
    let waiter = rt
        .spawn_on(0, || async {
            shutdown_signal().await;
        })
        .unwrap();
    thread::sleep(Duration::from_millis(20));
    rt.shutdown();
    assert!(hearth::block_on(waiter).unwrap_err().is_cancelled());
}

#[test]
fn abort_drops_a_task_on_its_worker() {
    let rt = runtime(2);
    let dropped = Arc::new(Mutex::new(None));
    struct Probe(Arc<Mutex<Option<Option<usize>>>>);
    impl Drop for Probe {
        fn drop(&mut self) {
            *self.0.lock().unwrap() = Some(hearth::runtime::current_worker());
        }
    }
    let (started_tx, started_rx) = mpsc::channel();
    let probe = Probe(dropped.clone());
    let task = rt
        .spawn_on(1, move || async move {
            let _probe = probe;
            started_tx.send(()).unwrap();
            std::future::pending::<()>().await
        })
        .unwrap();
    started_rx.recv_timeout(DEADLINE).unwrap();
    // Abort from a third thread, await from the main one.
    thread::scope(|s| {
        s.spawn(|| task.abort());
    });
    assert!(hearth::block_on(task).unwrap_err().is_cancelled());
    assert_eq!(*dropped.lock().unwrap(), Some(Some(1)));
    rt.shutdown();
}

#[test]
fn abort_before_the_closure_runs_never_starts_the_task() {
    let rt = runtime(1);
    let ran = Arc::new(AtomicBool::new(false));
    // Keep worker 0 busy so the next closure waits in its inbox.
    let (go_tx, go_rx) = mpsc::channel::<()>();
    let (busy_tx, busy_rx) = mpsc::channel::<()>();
    rt.spawn_on(0, move || {
        busy_tx.send(()).unwrap();
        go_rx.recv().unwrap(); // blocks the worker inside the closure
        async {}
    })
    .unwrap();
    busy_rx.recv_timeout(DEADLINE).unwrap();
    let r = ran.clone();
    let task = rt
        .spawn_on(0, move || {
            r.store(true, Ordering::SeqCst);
            async {}
        })
        .unwrap();
    task.abort();
    go_tx.send(()).unwrap();
    assert!(hearth::block_on(task).unwrap_err().is_cancelled());
    rt.shutdown();
    assert!(!ran.load(Ordering::SeqCst));
}

#[test]
fn abort_after_completion_keeps_the_output() {
    let rt = runtime(1);
    let task = rt.spawn_on(0, || async { 5 }).unwrap();
    let deadline = Instant::now() + DEADLINE;
    // Wait until the output has arrived (the Debug form shows it).
    while !format!("{task:?}").contains("ready: true") {
        assert!(Instant::now() < deadline);
        thread::sleep(Duration::from_millis(1));
    }
    task.abort();
    assert_eq!(hearth::block_on(task).unwrap(), 5);
    // A panic is reported as a panic, even with an abort after it.
    let boom = rt.spawn_on(0, || async { panic!("boom") }).unwrap();
    let err = hearth::block_on(boom).unwrap_err();
    assert!(err.is_panic());
    rt.shutdown();
}
