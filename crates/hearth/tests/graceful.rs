//! The graceful shutdown started from a handle (`Handle::shutdown_graceful`,
//! for `#[hearth::main]`), and the `graceful` example as a real process:
//! SIGINT in the middle of a request, which still completes, and the
//! process exits 0.
// Miri cannot run epoll, signals or processes.
#![cfg(not(miri))]
#![allow(clippy::duplicate_mod)]

mod child;

#[path = "../examples/graceful.rs"]
mod graceful;

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use hearth::runtime::{shutdown_signal, Handle, SpawnError};
use hearth::Runtime;

const DEADLINE: Duration = Duration::from_secs(20);

fn runtime(workers: usize) -> Runtime {
    Runtime::builder().workers(workers).build().unwrap()
}

#[test]
fn from_block_on_it_drains_and_reports_success() {
    let rt = runtime(2);
    let handle = rt.handle().clone();
    let (accepting, request) = rt.block_on(async {
        let accepting = handle
            .spawn_on(0, || async {
                shutdown_signal().await;
                Instant::now()
            })
            .unwrap();
        let request = handle
            .spawn_on(1, || async {
                hearth::time::sleep(Duration::from_millis(200)).await;
                Instant::now()
            })
            .unwrap();
        let started = Instant::now();
        handle
            .shutdown_graceful(Duration::from_secs(30))
            .await
            .expect("nothing was cut short");
        let done = Instant::now();
        // The request finished before the shutdown did, and took its time.
        let request = request.await.unwrap();
        assert!(request <= done && request - started >= Duration::from_millis(150));
        (accepting.await.unwrap(), request)
    });
    assert!(accepting <= request, "the signal fired at the start");
    assert_eq!(
        handle.spawn_on(0, || async {}).unwrap_err(),
        SpawnError::ShutDown
    );
    drop(rt); // joins the finished workers at once
}

#[test]
fn what_misses_the_deadline_is_cancelled_and_reported() {
    let rt = runtime(2);
    let handle = rt.handle().clone();
    let stuck = rt.spawn_on(1, std::future::pending::<()>).unwrap();
    let (started_tx, started_rx) = mpsc::channel();
    let (release_tx, release_rx) = mpsc::channel::<()>();
    let blocking = rt.spawn_blocking(move || {
        started_tx.send(()).unwrap();
        release_rx.recv_timeout(DEADLINE).is_ok()
    });
    started_rx.recv_timeout(DEADLINE).unwrap();
    let err = rt
        .block_on(handle.shutdown_graceful(Duration::from_millis(100)))
        .unwrap_err();
    assert_eq!(err.cancelled_tasks(), 1);
    assert_eq!(err.running_blocking_jobs(), 1);
    assert!(
        err.to_string().contains("1 unfinished task cancelled"),
        "{err}"
    );
    assert!(hearth::block_on(stuck).unwrap_err().is_cancelled());
    release_tx.send(()).unwrap();
    assert!(hearth::block_on(blocking).unwrap());
}

#[test]
fn every_caller_gets_the_result_of_the_one_shutdown() {
    let rt = runtime(1);
    let handle = rt.handle().clone();
    let stuck = rt.spawn_on(0, std::future::pending::<()>).unwrap();
    // The first call fixes the deadline; a later one (another thread, a
    // much longer timeout) joins it.
    let first = handle.shutdown_graceful(Duration::from_millis(50));
    let second = {
        let handle = handle.clone();
        std::thread::spawn(move || {
            hearth::block_on(handle.shutdown_graceful(Duration::from_secs(3600)))
        })
    };
    let first = rt.block_on(first).unwrap_err();
    let second = second.join().unwrap().unwrap_err();
    assert_eq!(first, second);
    assert_eq!(first.cancelled_tasks(), 1);
    assert!(hearth::block_on(stuck).unwrap_err().is_cancelled());
}

#[test]
fn on_its_own_worker_it_starts_the_shutdown_without_waiting() {
    let rt = runtime(2);
    let handle = rt.handle().clone();
    let admin = rt
        .spawn_on(0, || async {
            // An admin endpoint stopping the server from inside.
            let waited = hearth::time::timeout(
                DEADLINE,
                Handle::current().shutdown_graceful(Duration::from_secs(30)),
            )
            .await;
            waited.expect("completes at once on its own worker").is_ok()
        })
        .unwrap();
    // The owner waits for the end: the admin task finished first.
    rt.block_on(async {
        handle
            .shutdown_graceful(Duration::from_secs(30))
            .await
            .unwrap();
        assert!(admin.await.unwrap());
    });
}

#[test]
fn after_another_shutdown_it_completes_at_once() {
    let rt = runtime(1);
    let handle = rt.handle().clone();
    rt.shutdown();
    let result = hearth::block_on(hearth::time::timeout(
        DEADLINE,
        handle.shutdown_graceful(Duration::from_secs(30)),
    ));
    assert_eq!(result, Ok(Ok(())));
}

#[test]
fn dropping_the_runtime_mid_drain_cancels_without_waiting_for_blocking_jobs() {
    let rt = runtime(1);
    let (started_tx, started_rx) = mpsc::channel();
    let (release_tx, release_rx) = mpsc::channel::<()>();
    let _blocking = rt.spawn_blocking(move || {
        started_tx.send(()).unwrap();
        let _ = release_rx.recv_timeout(DEADLINE);
    });
    started_rx.recv_timeout(DEADLINE).unwrap();
    drop(rt.handle().shutdown_graceful(Duration::from_secs(60)));
    let start = Instant::now();
    drop(rt); // cancels; must not wait for the blocking job
    assert!(
        start.elapsed() < DEADLINE / 2,
        "drop waited {:?}",
        start.elapsed()
    );
    release_tx.send(()).unwrap();
}

/// What `#[hearth::main]` expands to, as a test: the body drains the
/// runtime it runs on before returning.
#[hearth::test(workers = 2)]
async fn a_hearth_main_body_drains_before_it_returns() {
    let rt = Handle::current();
    let finished = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let flag = finished.clone();
    rt.spawn_on(1, move || async move {
        hearth::time::sleep(Duration::from_millis(100)).await;
        flag.store(true, std::sync::atomic::Ordering::SeqCst);
    })
    .unwrap();
    rt.shutdown_graceful(Duration::from_secs(30)).await.unwrap();
    assert!(finished.load(std::sync::atomic::Ordering::SeqCst));
}

const EXAMPLE_CHILD: &str = "graceful_example_child";

/// The child's part of [`the_graceful_example_finishes_a_request_on_sigint`]:
/// the example's `main` body (`#[hearth::test]` expands as
/// `#[hearth::main]` does).
#[hearth::test(workers = 2)]
async fn graceful_example_child() {
    if child::is_child(EXAMPLE_CHILD) {
        graceful::run("127.0.0.1:0".parse().unwrap()).await.unwrap();
    }
}

fn read_line(reader: &mut BufReader<TcpStream>) -> String {
    let mut line = String::new();
    reader.read_line(&mut line).unwrap();
    line
}

#[test]
fn the_graceful_example_finishes_a_request_on_sigint() {
    let mut child = child::spawn_self(EXAMPLE_CHILD);
    let line = child.expect_line("graceful: listening on ");
    let addr: SocketAddr = line
        .split("listening on ")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap()
        .parse()
        .unwrap();

    let stream = TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(DEADLINE)).unwrap();
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let idle = TcpStream::connect(addr).unwrap();
    idle.set_read_timeout(Some(DEADLINE)).unwrap();
    // One request on the idle connection first, so the server surely
    // accepted it: a connection still in the listener's backlog when the
    // listeners close is reset by the kernel (not a drain's doing).
    let mut idle_reader = BufReader::new(idle.try_clone().unwrap());
    (&idle).write_all(b"0\n").unwrap();
    assert_eq!(read_line(&mut idle_reader), "working\n");
    assert_eq!(read_line(&mut idle_reader), "done 0\n");
    (&stream).write_all(b"500\n").unwrap();
    assert_eq!(read_line(&mut reader), "working\n");

    // Ctrl-C with the request in flight.
    let signalled = Instant::now();
    child.signal(libc::SIGINT);
    child.expect_line("graceful: draining");
    // The request completes...
    assert_eq!(read_line(&mut reader), "done 500\n");
    // ...and then its connection, like the idle one, is closed.
    assert_eq!(read_line(&mut reader), "");
    let mut rest = Vec::new();
    std::io::Read::read_to_end(&mut idle_reader, &mut rest).unwrap();
    assert!(rest.is_empty());
    // New connections are refused once the listeners are gone.
    child.expect_line("graceful: drained, bye");
    assert!(TcpStream::connect(addr).is_err(), "still accepting");
    let status = child.wait();
    assert!(status.success(), "{status}");
    assert!(
        signalled.elapsed() < graceful::DRAIN_TIMEOUT,
        "drained at the deadline"
    );
}
