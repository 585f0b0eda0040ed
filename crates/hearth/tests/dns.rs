//! Host names: `lookup_host` and the sockets' address arguments resolve
//! names on the blocking pool and literal addresses inline; names that do
//! not resolve and malformed addresses are clear errors. Only local names
//! (the sandbox has no external network). That the worker keeps running
//! while a lookup waits is in `tests/blocking_io.rs`.
#![cfg(not(miri))] // Miri has no resolver and cannot open sockets

use std::future::Future;
use std::io::{self, ErrorKind};
use std::net::SocketAddr;
use std::pin::pin;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use hearth::net::{lookup_host, TcpListener, TcpStream, UdpSocket};
use hearth::time::timeout;

/// Generous: a lookup in the sandbox takes milliseconds; this only turns a
/// hang into a failure.
const NO_HANG: Duration = Duration::from_secs(60);

fn run<F: Future<Output = io::Result<()>>>(f: F) {
    hearth::block_on(f).unwrap();
}

#[test]
fn localhost_resolves_to_loopback_addresses() {
    run(async {
        let addrs: Vec<SocketAddr> = lookup_host("localhost:4242").await?.collect();
        assert!(!addrs.is_empty());
        for addr in &addrs {
            assert!(addr.ip().is_loopback(), "{addr}");
            assert_eq!(addr.port(), 4242);
        }
        let tuple: Vec<SocketAddr> = lookup_host(("localhost", 7)).await?.collect();
        assert!(tuple.iter().all(|a| a.ip().is_loopback() && a.port() == 7));
        let owned: Vec<SocketAddr> = lookup_host(String::from("localhost:9")).await?.collect();
        assert!(owned.iter().all(|a| a.port() == 9));
        Ok(())
    });
}

#[test]
fn literal_addresses_resolve_on_the_first_poll() {
    // No executor, no pool: a literal address never leaves the caller.
    let mut cx = Context::from_waker(Waker::noop());
    for literal in ["127.0.0.1:80", "[::1]:443"] {
        let mut lookup = pin!(lookup_host(literal));
        match lookup.as_mut().poll(&mut cx) {
            Poll::Ready(Ok(mut addrs)) => {
                assert_eq!(addrs.next(), Some(literal.parse().unwrap()));
                assert_eq!(addrs.next(), None);
            }
            Poll::Ready(Err(e)) => panic!("{literal}: {e}"),
            Poll::Pending => panic!("{literal} did not resolve inline"),
        }
    }
    let mut lookup = pin!(lookup_host(("10.1.2.3", 8080)));
    assert!(matches!(lookup.as_mut().poll(&mut cx), Poll::Ready(Ok(_))));
}

#[test]
fn an_unknown_host_is_a_clear_error_not_a_panic_or_a_hang() {
    run(async {
        let err = timeout(NO_HANG, lookup_host("nonexistent.invalid:80"))
            .await
            .expect("lookup hung")
            .err()
            .expect("nonexistent.invalid resolved");
        let msg = err.to_string();
        assert!(
            msg.contains("could not resolve \"nonexistent.invalid:80\""),
            "{msg}"
        );

        let err = timeout(NO_HANG, TcpStream::connect("nonexistent.invalid:80"))
            .await
            .expect("connect hung")
            .expect_err("connected to nonexistent.invalid");
        assert!(err.to_string().contains("nonexistent.invalid"), "{err}");

        let err = timeout(NO_HANG, UdpSocket::bind(("nonexistent.invalid", 0)))
            .await
            .expect("bind hung")
            .expect_err("bound to nonexistent.invalid");
        assert!(err.to_string().contains("nonexistent.invalid"), "{err}");
        Ok(())
    });
}

#[test]
fn malformed_addresses_are_invalid_input() {
    run(async {
        for bad in [
            "localhost",
            "localhost:",
            "localhost:http",
            "127.0.0.1:99999",
        ] {
            let err = lookup_host(bad).await.err().expect(bad);
            assert_eq!(err.kind(), ErrorKind::InvalidInput, "{bad}: {err}");
            assert!(err.to_string().contains(bad), "{err}");
            let err = TcpListener::bind(bad).await.expect_err(bad);
            assert_eq!(err.kind(), ErrorKind::InvalidInput, "{bad}: {err}");
        }
        let none: &[SocketAddr] = &[];
        let err = TcpStream::connect(none)
            .await
            .expect_err("connected to nothing");
        assert_eq!(err.kind(), ErrorKind::InvalidInput);
        Ok(())
    });
}

#[test]
fn sockets_take_host_names() {
    run(async {
        // Bound on 127.0.0.1; "localhost" may list ::1 first, which refuses:
        // connect goes on to the next address.
        let listener = TcpListener::bind("localhost:0").await?;
        let port = listener.local_addr()?.port();
        let v4 = TcpListener::bind(("127.0.0.1", 0)).await?;
        let v4_port = v4.local_addr()?.port();
        let client = TcpStream::connect(("localhost", v4_port)).await?;
        let (server, _) = v4.accept().await?;
        client.write_all(b"hi").await?;
        let mut buf = [0; 2];
        server.read_exact(&mut buf).await?;
        assert_eq!(&buf, b"hi");
        drop(TcpStream::connect(format!("localhost:{port}")).await?);

        let a = UdpSocket::bind("localhost:0").await?;
        let a_addr = a.local_addr()?;
        let b = UdpSocket::bind((a_addr.ip(), 0)).await?;
        let host_of_a = if a_addr.is_ipv4() { "127.0.0.1" } else { "::1" };
        b.connect((host_of_a, a_addr.port())).await?;
        b.send(b"one").await?;
        a.send_to(b"two", b.local_addr()?).await?;
        let mut buf = [0; 8];
        let (n, from) = a.recv_from(&mut buf).await?;
        assert_eq!((&buf[..n], from), (&b"one"[..], b.local_addr()?));
        let n = b.recv(&mut buf).await?;
        assert_eq!(&buf[..n], b"two");
        Ok(())
    });
}

#[test]
fn lookups_work_on_runtime_workers() {
    let rt = hearth::Runtime::builder().workers(2).build().unwrap();
    let handles = rt
        .spawn_on_all(|_| async {
            let addrs: Vec<SocketAddr> = lookup_host("localhost:1").await?.collect();
            io::Result::Ok(addrs.len())
        })
        .unwrap();
    for h in handles {
        assert!(rt.block_on(h).unwrap().unwrap() > 0);
    }
    rt.shutdown();
}
