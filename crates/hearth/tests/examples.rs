//! The examples' servers (`examples/*.rs`, included here with `#[path]`) on
//! loopback with ephemeral ports, checked with real clients; the `metrics`
//! example's workload and what it reports. (The `http` example and its
//! load test live in hearth-hyper.)
// Miri cannot run epoll.
#![cfg(not(miri))]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

#[path = "../examples/echo.rs"]
mod echo;

#[path = "../examples/chat.rs"]
mod chat;

#[path = "../examples/metrics.rs"]
mod metrics;

const ANY: &str = "127.0.0.1:0";

fn runtime(workers: usize) -> hearth::Runtime {
    hearth::Runtime::builder().workers(workers).build().unwrap()
}

fn connect(addr: SocketAddr) -> TcpStream {
    let s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    s.set_nodelay(true).unwrap();
    s
}

#[test]
fn echo_serves_many_clients_on_every_worker() {
    let rt = runtime(2);
    let addr = echo::start(rt.handle(), ANY.parse().unwrap()).unwrap();
    assert_ne!(addr.port(), 0);
    let clients: Vec<_> = (0..16)
        .map(|i| {
            std::thread::spawn(move || {
                let mut s = connect(addr);
                for round in 0..50u32 {
                    // Sizes up to 40 KiB: more than one read on the server.
                    let len = 1 + (i * 997 + round as usize * 131) % 40_000;
                    let msg: Vec<u8> = (0..len).map(|b| (b as u32 ^ round) as u8).collect();
                    s.write_all(&msg).unwrap();
                    let mut back = vec![0; len];
                    s.read_exact(&mut back).unwrap();
                    assert_eq!(back, msg);
                }
                // Half-close: the server sees EOF and closes its side.
                s.shutdown(std::net::Shutdown::Write).unwrap();
                let mut rest = Vec::new();
                s.read_to_end(&mut rest).unwrap();
                assert!(rest.is_empty());
            })
        })
        .collect();
    for c in clients {
        c.join().unwrap();
    }
    rt.shutdown();
}

/// A graceful shutdown with live connections: the echo server stops
/// accepting, keeps serving the connections it has until their clients
/// close, and only then do the workers stop.
#[test]
fn echo_drains_live_connections_on_a_graceful_shutdown() {
    let rt = runtime(2);
    let addr = echo::start(rt.handle(), ANY.parse().unwrap()).unwrap();
    let mut live: Vec<_> = (0..8).map(|_| connect(addr)).collect();
    for s in &mut live {
        s.write_all(b"before").unwrap();
        let mut back = [0; 6];
        s.read_exact(&mut back).unwrap();
        assert_eq!(&back, b"before");
    }
    let shutdown = std::thread::spawn(move || rt.shutdown_graceful(Duration::from_secs(60)));
    // Once the listeners are gone, new connections are refused...
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect(addr).is_ok() {
        assert!(std::time::Instant::now() < deadline, "still accepting");
        std::thread::sleep(Duration::from_millis(5));
    }
    // ...while the live connections are still served.
    for s in &mut live {
        s.write_all(b"during").unwrap();
        let mut back = [0; 6];
        s.read_exact(&mut back).unwrap();
        assert_eq!(&back, b"during");
    }
    assert!(!shutdown.is_finished(), "stopped with connections open");
    drop(live);
    shutdown
        .join()
        .unwrap()
        .expect("drained before the deadline");
}

#[test]
fn echo_listens_on_every_worker() {
    // SO_REUSEPORT: binding the same port again works, and a server that
    // bound every worker keeps answering while connections come and go.
    let rt = runtime(2);
    let addr = echo::start(rt.handle(), ANY.parse().unwrap()).unwrap();
    for _ in 0..64 {
        let mut s = connect(addr);
        s.write_all(b"ping").unwrap();
        let mut buf = [0; 4];
        s.read_exact(&mut buf).unwrap();
        assert_eq!(&buf, b"ping");
    }
    // A reset peer does not take the server down.
    let mut s = connect(addr);
    s.write_all(&[0; 1024]).unwrap();
    drop(s);
    let mut s = connect(addr);
    s.write_all(b"pong").unwrap();
    let mut buf = [0; 4];
    s.read_exact(&mut buf).unwrap();
    assert_eq!(&buf, b"pong");
    rt.shutdown();
}

#[test]
fn metrics_example_counts_its_workload_and_catches_the_slow_poll() {
    let rt = metrics::runtime().unwrap();
    metrics::run(&rt).unwrap();
    let m = rt.metrics();
    let (w0, w1) = (m.worker(0).unwrap(), m.worker(1).unwrap());
    // Per worker: the spawn_on task and its 100 children (each 6 polls),
    // plus the spinner on 0 and the blocker (and its child) on 1.
    assert_eq!(w0.spawned_tasks, 1 + 100 + 1);
    assert_eq!(w1.spawned_tasks, 1 + 100 + 2);
    assert!(w0.polls >= 600 && w1.polls >= 600, "{w0:?} {w1:?}");
    // 10,000 always-ready awaits at 128 a poll.
    assert!(w0.budget_forced_yields >= 10_000 / 128, "{w0:?}");
    // The blocking call, and only it, on worker 1 (nothing else comes close
    // to 10 ms, unless the machine stalls the thread).
    assert!(w1.slow_polls >= 1, "{w1:?}");
    assert_eq!(w0.slow_polls + w1.slow_polls, m.total().slow_polls);
    assert!(m.num_blocking_threads() >= 1);
    let report = metrics::report(&m);
    assert_eq!(report.lines().count(), 4, "{report}");
    assert!(report.starts_with("worker  spawned"), "{report}");
    rt.shutdown();
}

fn read_line(r: &mut BufReader<TcpStream>) -> String {
    let mut line = String::new();
    r.read_line(&mut line).unwrap();
    line
}

#[test]
fn chat_broadcasts_to_every_other_member() {
    let rt = runtime(1);
    let addr = chat::start(rt.handle(), ANY.parse().unwrap()).unwrap();
    let mut members: Vec<_> = (0..3).map(|_| BufReader::new(connect(addr))).collect();
    // Connections are accepted in order, and the welcome means "joined".
    for (id, m) in members.iter_mut().enumerate() {
        assert_eq!(read_line(m), format!("welcome, you are user {id}\n"));
    }

    members[0].get_mut().write_all(b"hello\n").unwrap();
    assert_eq!(read_line(&mut members[1]), "user 0: hello\n");
    assert_eq!(read_line(&mut members[2]), "user 0: hello\n");

    // Two lines in one write; the sender never hears itself.
    members[1].get_mut().write_all(b"one\ntwo\n").unwrap();
    for m in [0, 2] {
        assert_eq!(read_line(&mut members[m]), "user 1: one\n");
        assert_eq!(read_line(&mut members[m]), "user 1: two\n");
    }
    members[2].get_mut().write_all(b"bye\n").unwrap();
    assert_eq!(read_line(&mut members[0]), "user 2: bye\n");
    assert_eq!(read_line(&mut members[1]), "user 2: bye\n");

    // A member that leaves gets nothing more, the others go on.
    let gone = members.remove(2);
    drop(gone);
    let mut late = BufReader::new(connect(addr));
    assert_eq!(read_line(&mut late), "welcome, you are user 3\n");
    members[0].get_mut().write_all(b"still here\n").unwrap();
    assert_eq!(read_line(&mut members[1]), "user 0: still here\n");
    assert_eq!(read_line(&mut late), "user 0: still here\n");
    rt.shutdown();
}
