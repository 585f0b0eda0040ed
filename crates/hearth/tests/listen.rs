//! Per-core listeners (`Handle::serve_on_all`, `Server::builder`): every
//! worker serves, the address works as soon as the call returns, port 0,
//! taken ports refused with a clear error, stopping, graceful shutdown.
// Miri cannot run epoll.
#![cfg(not(miri))]

use std::collections::BTreeSet;
use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use hearth::runtime::{Handle, Server};

const ANY: &str = "127.0.0.1:0";

fn runtime(workers: usize) -> hearth::Runtime {
    hearth::Runtime::builder().workers(workers).build().unwrap()
}

/// A server whose handler writes the index of the worker it runs on (one
/// byte) and closes the connection; each connection's worker also goes to
/// `seen`.
fn worker_reporting_server(
    rt: &Handle,
    addr: SocketAddr,
) -> (std::io::Result<Server>, mpsc::Receiver<usize>) {
    let (seen_tx, seen) = mpsc::channel();
    let server = hearth::block_on(rt.serve_on_all(addr, move |stream, _peer| {
        let seen_tx = seen_tx.clone();
        async move {
            let worker = hearth::runtime::current_worker().expect("runs on a worker");
            let _ = seen_tx.send(worker);
            let _ = stream.write_all(&[worker as u8]).await;
        }
    }));
    (server, seen)
}

/// Connects and reads the worker index the server writes.
fn ask_worker(addr: SocketAddr) -> usize {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let mut b = [0];
    s.read_exact(&mut b).unwrap();
    b[0] as usize
}

#[test]
fn every_worker_accepts_connections_right_after_the_call() {
    const WORKERS: usize = 4;
    let rt = runtime(WORKERS);
    let (server, seen) = worker_reporting_server(rt.handle(), ANY.parse().unwrap());
    let server = server.unwrap();
    let addr = server.local_addr();
    assert_ne!(addr.port(), 0, "port 0 is replaced by the bound port");
    // No sleep: every worker listens once the call returned. The kernel
    // hashes connections over the listeners; 400 connections all missing
    // one of 4 listeners has a chance of (3/4)^400.
    let mut workers = BTreeSet::new();
    for _ in 0..400 {
        let w = ask_worker(addr);
        assert_eq!(seen.recv().unwrap(), w);
        workers.insert(w);
        if workers.len() == WORKERS {
            break;
        }
    }
    assert_eq!(workers, (0..WORKERS).collect(), "not every worker accepted");
    rt.shutdown();
}

#[test]
fn a_fixed_port_works_and_serving_it_twice_is_refused() {
    let rt = runtime(2);
    // A port that was free a moment ago.
    let port = std::net::TcpListener::bind(ANY)
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let addr: SocketAddr = ([127, 0, 0, 1], port).into();
    let (first, _seen) = worker_reporting_server(rt.handle(), addr);
    let first = first.unwrap();
    assert_eq!(first.local_addr(), addr);
    assert!(ask_worker(addr) < 2);

    // Another server on the same port (here another runtime, as another
    // process would be) is refused instead of silently splitting the
    // connections.
    let other = runtime(2);
    let (second, _) = worker_reporting_server(other.handle(), addr);
    let err = second.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::AddrInUse);
    let msg = err.to_string();
    assert!(msg.contains(&addr.to_string()), "{msg}");
    assert!(msg.contains("SO_REUSEPORT"), "{msg}");
    assert!(msg.contains("join_existing_group"), "{msg}");
    // The first one is unaffected.
    assert!(ask_worker(addr) < 2);
    other.shutdown();
    rt.shutdown();
}

#[test]
fn joining_an_existing_group_on_purpose_shares_the_connections() {
    let old = runtime(1);
    let (old_server, old_seen) = worker_reporting_server(old.handle(), ANY.parse().unwrap());
    let addr = old_server.unwrap().local_addr();

    let new = runtime(1);
    let (new_seen_tx, new_seen) = mpsc::channel();
    let joined =
        Server::builder(addr)
            .join_existing_group(true)
            .serve(new.handle(), move |stream, _| {
                let tx = new_seen_tx.clone();
                async move {
                    let _ = tx.send(());
                    let _ = stream.write_all(&[9]).await;
                }
            });
    let new_server = hearth::block_on(joined).unwrap();
    assert_eq!(new_server.local_addr(), addr);
    // Both groups' listeners get connections.
    let (mut to_old, mut to_new) = (0, 0);
    for _ in 0..200 {
        match ask_worker(addr) {
            9 => to_new += 1,
            _ => to_old += 1,
        }
        if to_old > 0 && to_new > 0 {
            break;
        }
    }
    assert!(to_old > 0 && to_new > 0, "old {to_old}, new {to_new}");
    assert_eq!(old_seen.try_iter().count(), to_old);
    assert_eq!(new_seen.try_iter().count(), to_new);

    // The take-over: stop the old server; the new one gets everything.
    old.shutdown();
    for _ in 0..20 {
        assert_eq!(ask_worker(addr), 9);
    }
    new.shutdown();
}

#[test]
fn a_port_held_by_a_plain_listener_is_a_clear_error_even_when_joining() {
    let plain = std::net::TcpListener::bind(ANY).unwrap();
    let addr = plain.local_addr().unwrap();
    let rt = runtime(2);
    for join in [false, true] {
        let start = Instant::now();
        let serve = Server::builder(addr)
            .join_existing_group(join)
            .serve(rt.handle(), |_, _| async {});
        let err = hearth::block_on(serve).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::AddrInUse, "join {join}: {err}");
        assert!(err.to_string().contains(&addr.to_string()), "{err}");
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "join {join}: took {:?}",
            start.elapsed()
        );
    }
    // The runtime is fine afterwards.
    let h = rt.spawn_on(1, || async { 5 }).unwrap();
    assert_eq!(rt.block_on(h).unwrap(), 5);
    rt.shutdown();
}

#[test]
fn a_bind_error_says_which_address() {
    let rt = runtime(2);
    // Not an address of this machine.
    let addr: SocketAddr = "192.0.2.1:0".parse().unwrap();
    let err = hearth::block_on(rt.serve_on_all(addr, |_, _| async {})).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::AddrNotAvailable, "{err}");
    assert!(err.to_string().contains("192.0.2.1"), "{err}");
    rt.shutdown();
}

#[test]
fn stop_closes_every_listener_and_keeps_open_connections() {
    let rt = runtime(2);
    let server = hearth::block_on(
        rt.serve_on_all(ANY.parse().unwrap(), |stream, _| async move {
            let mut buf = [0; 64];
            while let Ok(n @ 1..) = stream.read(&mut buf).await {
                if stream.write_all(&buf[..n]).await.is_err() {
                    break;
                }
            }
        }),
    )
    .unwrap();
    let addr = server.local_addr();
    let mut open = TcpStream::connect(addr).unwrap();
    open.set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    open.write_all(b"a").unwrap();
    let mut b = [0];
    open.read_exact(&mut b).unwrap();

    hearth::block_on(server.stop());
    // Every listener is closed once `stop` completes.
    for _ in 0..50 {
        let err = TcpStream::connect(addr).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::ConnectionRefused);
    }
    open.write_all(b"b").unwrap();
    open.read_exact(&mut b).unwrap();
    assert_eq!(&b, b"b");
    rt.shutdown();
}

#[test]
fn graceful_shutdown_stops_accepting_and_drains_connections() {
    let rt = runtime(2);
    let (accepted_tx, accepted) = mpsc::channel();
    let server = hearth::block_on(rt.serve_on_all(ANY.parse().unwrap(), move |stream, _| {
        let accepted_tx = accepted_tx.clone();
        async move {
            let _ = accepted_tx.send(());
            // Echoes one byte, sent after the shutdown began.
            let mut b = [0];
            if let Ok(1) = stream.read(&mut b).await {
                let _ = stream.write_all(&b).await;
            }
        }
    }))
    .unwrap();
    let addr = server.local_addr();
    drop(server); // it keeps serving
    let mut open = TcpStream::connect(addr).unwrap();
    open.set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    accepted.recv().unwrap();

    let shutdown = std::thread::spawn(move || rt.shutdown_graceful(Duration::from_secs(30)));
    let deadline = Instant::now() + Duration::from_secs(20);
    // Probes accepted before the listeners closed end at once (EOF).
    while TcpStream::connect(addr).is_ok() {
        assert!(Instant::now() < deadline, "still accepting");
        std::thread::yield_now();
    }
    assert!(
        !shutdown.is_finished(),
        "did not wait for the open connection"
    );
    open.write_all(b"x").unwrap();
    let mut b = [0];
    open.read_exact(&mut b).unwrap();
    assert_eq!(&b, b"x");
    shutdown.join().unwrap().expect("drained in time");
}
