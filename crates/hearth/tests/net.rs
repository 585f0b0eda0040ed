//! Sockets on loopback: TCP connect/accept/read/write/EOF/reset/half-close,
//! split halves, UDP (async and poll methods), Unix sockets and their split
//! halves; remote wakes while blocked in epoll.
#![cfg(not(miri))] // Miri cannot run epoll

use std::future::poll_fn;
use std::io::{self, ErrorKind};
use std::net::Shutdown;
use std::pin::pin;
use std::time::Duration;

use futures::{AsyncReadExt, AsyncWriteExt};
use hearth::net::{TcpListener, TcpStream, UdpSocket, UnixListener, UnixStream};
use hearth::time::{sleep, timeout};

fn run<F: std::future::Future<Output = io::Result<()>>>(f: F) {
    hearth::block_on(f).unwrap();
}

async fn pair() -> io::Result<(TcpStream, TcpStream)> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let client = TcpStream::connect(listener.local_addr()?).await?;
    let (server, _) = listener.accept().await?;
    Ok((client, server))
}

#[test]
fn echo_many_connections_concurrently() {
    run(async {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let server = hearth::spawn_local(async move {
            for _ in 0..20 {
                let (stream, _) = listener.accept().await?;
                hearth::spawn_local(async move {
                    let mut buf = [0; 1024];
                    loop {
                        let n = stream.read(&mut buf).await?;
                        if n == 0 {
                            return io::Result::Ok(());
                        }
                        stream.write_all(&buf[..n]).await?;
                    }
                });
            }
            io::Result::Ok(())
        });
        let mut clients = Vec::new();
        for c in 0..20u8 {
            clients.push(hearth::spawn_local(async move {
                let mut stream = TcpStream::connect(addr).await?;
                stream.set_nodelay(true)?;
                let msg = vec![c; 10_000];
                let (mut r, mut w) = TcpStream::split(&mut stream);
                let write = async {
                    w.write_all(&msg).await?;
                    w.close().await // half-close: server sees EOF
                };
                let read = async {
                    let mut got = Vec::new();
                    r.read_to_end(&mut got).await?;
                    io::Result::Ok(got)
                };
                let (wr, got) = futures::join!(write, read);
                wr?;
                assert_eq!(got?, msg);
                io::Result::Ok(())
            }));
        }
        for c in clients {
            c.await.unwrap()?;
        }
        server.await.unwrap()
    });
}

#[test]
fn eof_and_half_close() {
    run(async {
        let (client, server) = pair().await?;
        client.write_all(b"abc").await?;
        client.shutdown(Shutdown::Write)?;
        let mut buf = Vec::new();
        (&server).read_to_end(&mut buf).await?;
        assert_eq!(buf, b"abc");
        // EOF again, and again: no panic.
        assert_eq!(server.read(&mut [0; 8]).await?, 0);
        // The other direction still works after the half-close.
        server.write_all(b"back").await?;
        let mut back = [0; 4];
        client.read_exact(&mut back).await?;
        assert_eq!(&back, b"back");
        Ok(())
    });
}

#[test]
fn peer_reset_is_an_error_not_a_panic() {
    run(async {
        let (client, server) = pair().await?;
        // Linger 0: close sends RST.
        socket2::SockRef::from(&client).set_linger(Some(Duration::ZERO))?;
        drop(client);
        sleep(Duration::from_millis(5)).await;
        let mut buf = [0; 16];
        let r = server.read(&mut buf).await;
        assert!(
            matches!(&r, Err(e) if e.kind() == ErrorKind::ConnectionReset),
            "{r:?}"
        );
        // Writes after the reset fail too (EPIPE or ECONNRESET), no panic.
        let mut failed = false;
        for _ in 0..10 {
            if server.write_all(&[0; 1024]).await.is_err() {
                failed = true;
                break;
            }
        }
        assert!(failed);
        Ok(())
    });
}

#[test]
fn connect_refused_is_an_error() {
    run(async {
        let addr = {
            let l = std::net::TcpListener::bind("127.0.0.1:0")?;
            l.local_addr()?
        }; // closed: nothing listens there now
        let err = TcpStream::connect(addr).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::ConnectionRefused);
        Ok(())
    });
}

/// The owned halves of one end in two tasks: the writer's data, then end of
/// file when it drops its half (again and again), while the read half still
/// gets what `server`, the other end, sends back. TCP and Unix alike.
async fn owned_halves_in_two_tasks<R, W, S>((mut r, mut w): (R, W), server: S) -> io::Result<()>
where
    R: futures::AsyncRead + Unpin,
    W: futures::AsyncWrite + Unpin + 'static,
    for<'a> &'a S: futures::AsyncRead + futures::AsyncWrite,
{
    let writer = hearth::spawn_local(async move {
        for i in 0..100u32 {
            w.write_all(&i.to_le_bytes()).await?;
        }
        drop(w); // shuts down the write side
        io::Result::Ok(())
    });
    let mut got = Vec::new();
    (&server).read_to_end(&mut got).await?;
    let want: Vec<u8> = (0..100u32).flat_map(u32::to_le_bytes).collect();
    assert_eq!(got, want);
    writer.await.unwrap()?;
    assert_eq!((&server).read(&mut [0; 8]).await?, 0);
    assert_eq!((&server).read(&mut [0; 8]).await?, 0);
    (&server).write_all(b"z").await?;
    let mut z = [0];
    r.read_exact(&mut z).await?;
    assert_eq!(&z, b"z");
    drop(server);
    assert_eq!(r.read(&mut z).await?, 0);
    Ok(())
}

#[test]
fn owned_halves_in_two_tasks_and_shutdown_on_drop() {
    run(async {
        let (client, server) = pair().await?;
        owned_halves_in_two_tasks(client.into_split(), server).await
    });
}

#[test]
fn addresses_nodelay_from_std() {
    run(async {
        let std_listener = std::net::TcpListener::bind("127.0.0.1:0")?;
        let addr = std_listener.local_addr()?;
        let listener = TcpListener::from_std(std_listener)?;
        let client = TcpStream::connect(addr).await?;
        let (server, peer) = listener.accept().await?;
        assert_eq!(peer, client.local_addr()?);
        assert_eq!(server.local_addr()?, addr);
        assert_eq!(client.peer_addr()?, addr);
        client.set_nodelay(true)?;
        assert!(client.nodelay()?);
        client.set_nodelay(false)?;
        assert!(!client.nodelay()?);
        Ok(())
    });
}

#[test]
fn reuseport_listeners_share_an_address() {
    run(async {
        let a = TcpListener::bind_reuseport("127.0.0.1:0".parse().unwrap())?;
        let b = TcpListener::bind_reuseport(a.local_addr()?)?;
        assert_eq!(a.local_addr()?, b.local_addr()?);
        let mut accepted = 0;
        let mut clients = Vec::new();
        for _ in 0..16 {
            clients.push(TcpStream::connect(a.local_addr()?).await?);
        }
        // Every connection lands on one of the two.
        while accepted < 16 {
            let one = timeout(Duration::from_millis(50), a.accept()).await;
            let two = timeout(Duration::from_millis(50), b.accept()).await;
            accepted += one.is_ok() as usize + two.is_ok() as usize;
        }
        Ok(())
    });
}

#[test]
fn udp_send_recv_and_send_to_recv_from() {
    run(async {
        let a = UdpSocket::bind("127.0.0.1:0").await?;
        let b = UdpSocket::bind("127.0.0.1:0").await?;
        a.send_to(b"one", b.local_addr()?).await?;
        let mut buf = [0; 16];
        let (n, from) = b.recv_from(&mut buf).await?;
        assert_eq!((&buf[..n], from), (&b"one"[..], a.local_addr()?));

        a.connect(b.local_addr()?).await?;
        b.connect(a.local_addr()?).await?;
        assert_eq!(a.peer_addr()?, b.local_addr()?);
        // The receiver waits first: readiness wakes it.
        let recv = hearth::spawn_local(async move {
            let mut buf = [0; 16];
            let n = b.recv(&mut buf).await?;
            io::Result::Ok(buf[..n].to_vec())
        });
        hearth::yield_now().await;
        a.send(b"two").await?;
        assert_eq!(recv.await.unwrap()?, b"two");
        Ok(())
    });
}

#[test]
fn udp_poll_send_to_recv_from_and_peek_from() {
    run(async {
        let a = UdpSocket::bind("127.0.0.1:0").await?;
        let b = UdpSocket::bind("127.0.0.1:0").await?;
        let (a_addr, b_addr) = (a.local_addr()?, b.local_addr()?);
        let mut buf = [0; 16];

        // Nothing queued yet: the poll registers the task and stays pending,
        // and the datagram's arrival wakes it.
        let mut recv = pin!(poll_fn(|cx| b.poll_recv_from(cx, &mut buf)));
        assert!(futures::poll!(recv.as_mut()).is_pending());
        let sent = poll_fn(|cx| a.poll_send_to(cx, b"first", b_addr)).await?;
        assert_eq!(sent, 5);
        let got = timeout(Duration::from_secs(5), recv).await.unwrap()?;
        assert_eq!(got, (5, a_addr));
        assert_eq!(&buf[..5], b"first");

        // Peeking leaves the datagram queued, however often; a short buffer
        // gets its first bytes.
        poll_fn(|cx| a.poll_send_to(cx, b"second", b_addr)).await?;
        let mut small = [0; 3];
        let peeked = poll_fn(|cx| b.poll_peek_from(cx, &mut small)).await?;
        assert_eq!((peeked, &small), ((3, a_addr), b"sec"));
        let mut buf = [0; 16];
        assert_eq!(b.peek_from(&mut buf).await?, (6, a_addr));
        assert_eq!(&buf[..6], b"second");
        let got = poll_fn(|cx| b.poll_recv_from(cx, &mut buf)).await?;
        assert_eq!((got, &buf[..6]), ((6, a_addr), &b"second"[..]));

        // Consumed now: a peek waits again.
        let mut peek = pin!(poll_fn(|cx| b.poll_peek_from(cx, &mut buf)));
        assert!(futures::poll!(peek.as_mut()).is_pending());
        Ok(())
    });
}

#[test]
fn udp_connected_poll_send_recv_and_peek() {
    run(async {
        let a = UdpSocket::bind("127.0.0.1:0").await?;
        let b = UdpSocket::bind("127.0.0.1:0").await?;
        let stranger = UdpSocket::bind("127.0.0.1:0").await?;
        a.connect(b.local_addr()?).await?;
        b.connect(a.local_addr()?).await?;

        // A connected socket only takes datagrams from its peer.
        stranger.send_to(b"not for you", b.local_addr()?).await?;
        let receiver = hearth::spawn_local(async move {
            let mut buf = [0; 16];
            let n = poll_fn(|cx| b.poll_peek(cx, &mut buf)).await?;
            assert_eq!(&buf[..n], b"hello");
            let mut again = [0; 16];
            let m = poll_fn(|cx| b.poll_recv(cx, &mut again)).await?;
            assert_eq!(&again[..m], b"hello");
            io::Result::Ok(b)
        });
        hearth::yield_now().await;
        assert_eq!(poll_fn(|cx| a.poll_send(cx, b"hello")).await?, 5);
        let b = timeout(Duration::from_secs(5), receiver)
            .await
            .unwrap()
            .unwrap()?;

        // The async forms go through the same poll methods.
        b.send(b"back").await?;
        let mut buf = [0; 16];
        assert_eq!(a.peek(&mut buf).await?, 4);
        assert_eq!(a.recv(&mut buf).await?, 4);
        assert_eq!(&buf[..4], b"back");
        Ok(())
    });
}

#[test]
fn udp_misuse_is_an_error_not_a_panic() {
    run(async {
        let a = UdpSocket::bind("127.0.0.1:0").await?;
        // Not connected: there is no destination for `send`.
        let err = poll_fn(|cx| a.poll_send(cx, b"x")).await.unwrap_err();
        assert!(!err.to_string().is_empty());
        assert!(a.peer_addr().is_err());
        // An IPv4 socket cannot send to an IPv6 address.
        let v6 = "[::1]:9".parse().unwrap();
        assert!(poll_fn(|cx| a.poll_send_to(cx, b"x", v6)).await.is_err());
        // A name that resolves to nothing.
        let err = a.send_to(b"x", &[][..]).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidInput);
        Ok(())
    });
}

#[test]
fn udp_broadcast_and_ttl() {
    run(async {
        let s = UdpSocket::bind("127.0.0.1:0").await?;
        assert!(!s.broadcast()?);
        s.set_broadcast(true)?;
        assert!(s.broadcast()?);
        s.set_broadcast(false)?;
        assert!(!s.broadcast()?);
        s.set_ttl(7)?;
        assert_eq!(s.ttl()?, 7);
        // 0 is not a valid TTL on Linux; other systems may take it.
        if cfg!(target_os = "linux") {
            assert!(s.set_ttl(0).is_err());
            assert_eq!(s.ttl()?, 7);
        }
        Ok(())
    });
}

#[test]
fn unix_listener_stream_and_pair() {
    let dir = std::env::temp_dir().join(format!("hearth-net-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("s.sock");
    let _ = std::fs::remove_file(&path);
    run(async {
        let listener = UnixListener::bind(&path)?;
        assert_eq!(listener.local_addr()?.as_pathname(), Some(path.as_path()));
        let p = path.clone();
        let client = hearth::spawn_local(async move {
            let mut s = UnixStream::connect(&p).await?;
            s.write_all(b"over unix").await?;
            s.close().await?;
            let mut reply = String::new();
            s.read_to_string(&mut reply).await?;
            io::Result::Ok(reply)
        });
        let (server, _) = listener.accept().await?;
        let mut got = Vec::new();
        (&server).read_to_end(&mut got).await?;
        assert_eq!(got, b"over unix");
        server.write_all(b"ok").await?;
        drop(server);
        assert_eq!(client.await.unwrap()?, "ok");

        let (a, b) = UnixStream::pair()?;
        a.write_all(b"x").await?;
        drop(a);
        let mut rest = Vec::new();
        (&b).read_to_end(&mut rest).await?;
        assert_eq!(rest, b"x");
        Ok(())
    });
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn unix_split_halves_read_and_write_concurrently() {
    run(async {
        let (mut client, server) = UnixStream::pair()?;
        // Echo until end of file, then close: more data than the socket
        // buffers hold, so the client's read and write must overlap.
        let echo = hearth::spawn_local(async move {
            let (mut r, mut w) = server.into_split();
            futures::io::copy(&mut r, &mut w).await?;
            w.close().await?;
            io::Result::Ok(())
        });
        let msg: Vec<u8> = (0..1 << 20).map(|i| i as u8).collect();
        // (With `AsyncReadExt` in scope, `client.split()` would be its `split`.)
        let (mut r, mut w) = UnixStream::split(&mut client);
        assert!(r.local_addr()?.is_unnamed() && w.peer_addr()?.is_unnamed());
        let write = async {
            w.write_all(&msg).await?;
            w.close().await // end of file for the echo
        };
        let read = async {
            let mut got = Vec::new();
            r.read_to_end(&mut got).await?;
            io::Result::Ok(got)
        };
        let (written, got) = timeout(Duration::from_secs(20), async {
            futures::join!(write, read)
        })
        .await
        .unwrap();
        written?;
        assert!(got? == msg, "the echo differs");
        echo.await.unwrap()?;
        // The stream itself is usable again once the halves are gone.
        assert_eq!(client.read(&mut [0; 4]).await?, 0);
        Ok(())
    });
}

#[test]
fn unix_owned_halves_in_two_tasks_and_eof_after_write_half_shutdown() {
    run(async {
        let (client, server) = UnixStream::pair()?;
        owned_halves_in_two_tasks(client.into_split(), server).await
    });
}

#[test]
fn unix_write_half_close_and_forget() {
    run(async {
        // `close` shuts down the write direction and keeps the half.
        let (client, server) = UnixStream::pair()?;
        let (_r, mut w) = client.into_split();
        w.write_all(b"ab").await?;
        w.close().await?;
        let mut got = Vec::new();
        (&server).read_to_end(&mut got).await?;
        assert_eq!(got, b"ab");
        assert!(w.write_all(b"more").await.is_err(), "written after close");

        // `forget` drops the half without the shutdown: no end of file.
        let (client, server) = UnixStream::pair()?;
        let (r, w) = client.into_split();
        w.forget();
        let read = timeout(Duration::from_millis(50), server.read(&mut [0; 4])).await;
        assert!(read.is_err(), "end of file after forget: {read:?}");
        drop(r);
        assert_eq!(server.read(&mut [0; 4]).await?, 0);
        Ok(())
    });
}

#[test]
fn unix_reunite() {
    run(async {
        let (a, b) = UnixStream::pair()?;
        let (ra, wa) = a.into_split();
        let (rb, wb) = b.into_split();
        let err = ra.reunite(wb).unwrap_err();
        assert_eq!(
            err.to_string(),
            "tried to reunite halves that are not from the same socket"
        );
        let hearth::net::unix::ReuniteError(ra, wb) = err;
        let a = ra.reunite(wa).expect("halves of one stream");
        let b = rb.reunite(wb).expect("halves of one stream");
        // Reuniting shut nothing down: both directions still work.
        a.write_all(b"to b").await?;
        b.write_all(b"to a").await?;
        let mut buf = [0; 4];
        b.read_exact(&mut buf).await?;
        assert_eq!(&buf, b"to b");
        a.read_exact(&mut buf).await?;
        assert_eq!(&buf, b"to a");
        Ok(())
    });
}

#[test]
fn unix_reset_peer_is_an_error_not_a_panic() {
    run(async {
        let (a, b) = UnixStream::pair()?;
        let (mut r, mut w) = a.into_split();
        // Closing with unread data resets the connection (Linux); what the
        // peer sent before is still read first.
        b.write_all(b"x").await?;
        w.write_all(b"never read").await?;
        drop(b);
        let mut buf = [0; 16];
        assert_eq!(r.read(&mut buf).await?, 1);
        let reset = timeout(Duration::from_secs(5), r.read(&mut buf))
            .await
            .unwrap();
        if cfg!(target_os = "linux") {
            assert!(
                matches!(&reset, Err(e) if e.kind() == ErrorKind::ConnectionReset),
                "{reset:?}"
            );
        }
        // After the reset: reads end (or fail), writes fail; none panics
        // or hangs.
        for _ in 0..3 {
            let again = timeout(Duration::from_secs(5), r.read(&mut buf))
                .await
                .unwrap();
            assert!(matches!(again, Ok(0) | Err(_)), "{again:?}");
        }
        let write = timeout(Duration::from_secs(5), w.write_all(b"more"))
            .await
            .unwrap();
        assert_eq!(write.unwrap_err().kind(), ErrorKind::BrokenPipe);
        // Shutting down (explicitly, then on drop) a gone peer's stream.
        let _ = w.close().await;
        drop(w);
        Ok(())
    });
}

#[test]
fn unix_half_closed_peer_is_eof_not_a_panic() {
    run(async {
        let (mut a, b) = UnixStream::pair()?;
        b.shutdown(Shutdown::Write)?;
        let (mut r, mut w) = UnixStream::split(&mut a);
        for _ in 0..3 {
            assert_eq!(r.read(&mut [0; 8]).await?, 0);
        }
        // Still open towards b.
        w.write_all(b"still open").await?;
        let mut buf = [0; 10];
        b.read_exact(&mut buf).await?;
        assert_eq!(&buf, b"still open");
        // Once b stops reading too, writes fail with an error.
        b.shutdown(Shutdown::Read)?;
        let write = timeout(Duration::from_secs(5), w.write_all(b"nobody reads"))
            .await
            .unwrap();
        assert_eq!(write.unwrap_err().kind(), ErrorKind::BrokenPipe);
        // And shutting the rest of a down is fine, twice.
        a.shutdown(Shutdown::Both)?;
        let _ = a.shutdown(Shutdown::Both);
        Ok(())
    });
}

#[test]
fn sockets_outside_an_executor_are_an_error() {
    let std = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let err = UdpSocket::from_std(std).unwrap_err();
    assert!(
        err.to_string().contains("outside of a hearth executor"),
        "{err}"
    );
}

#[test]
fn remote_wake_while_blocked_in_epoll() {
    run(async {
        // Make the executor use its reactor.
        let _listener = TcpListener::bind("127.0.0.1:0").await?;
        let (tx, rx) = std::sync::mpsc::channel::<std::task::Waker>();
        let thread = std::thread::spawn(move || {
            let waker = rx.recv().unwrap();
            std::thread::sleep(Duration::from_millis(50));
            waker.wake();
        });
        let start = std::time::Instant::now();
        let mut sent = Some(tx);
        let mut polls = 0;
        std::future::poll_fn(|cx| {
            polls += 1;
            match sent.take() {
                Some(tx) => {
                    tx.send(cx.waker().clone()).unwrap();
                    std::task::Poll::Pending
                }
                None => std::task::Poll::Ready(()),
            }
        })
        .await;
        assert_eq!(polls, 2);
        assert!(start.elapsed() >= Duration::from_millis(50));
        thread.join().unwrap();

        // And a spawned task woken from another thread, many times.
        for _ in 0..50 {
            let (tx, rx) = std::sync::mpsc::channel::<std::task::Waker>();
            let th = std::thread::spawn(move || rx.recv().unwrap().wake());
            let mut tx = Some(tx);
            hearth::spawn_local(std::future::poll_fn(move |cx| match tx.take() {
                Some(tx) => {
                    tx.send(cx.waker().clone()).unwrap();
                    std::task::Poll::Pending
                }
                None => std::task::Poll::Ready(()),
            }))
            .await
            .unwrap();
            th.join().unwrap();
        }
        Ok(())
    });
}

#[test]
fn a_socket_on_another_executor_errors_instead_of_hanging() {
    let ex1 = hearth::Executor::new();
    let (client, server) = ex1.run_until(pair()).unwrap();
    let ex2 = hearth::Executor::new();
    let r = ex2.run_until(async {
        let _own = UdpSocket::bind("127.0.0.1:0").await?; // ex2 has a reactor too
        let mut buf = [0; 4];
        server.read(&mut buf).await
    });
    assert_eq!(r.unwrap_err().kind(), ErrorKind::Other);
    drop(client);
}

// A short read or write clears the direction's readiness (no `WouldBlock`
// syscall before waiting): later data, a FIN that came with the data, and
// send-buffer space freed later must all still be seen.

#[test]
fn short_read_then_later_data_is_seen() {
    run(async {
        let (client, server) = pair().await?;
        client.write_all(b"ab").await?;
        let mut buf = [0; 64];
        assert_eq!(server.read(&mut buf).await?, 2); // short: readiness cleared
        let writer = hearth::spawn_local(async move {
            sleep(Duration::from_millis(20)).await;
            client.write_all(b"cd").await?;
            sleep(Duration::from_millis(20)).await;
            client.write_all(b"ef").await?;
            io::Result::Ok(client)
        });
        let n = timeout(Duration::from_secs(5), server.read(&mut buf))
            .await
            .unwrap()?;
        assert_eq!(&buf[..n], b"cd");
        let n = timeout(Duration::from_secs(5), server.read(&mut buf))
            .await
            .unwrap()?;
        assert_eq!(&buf[..n], b"ef");
        drop(writer.await.unwrap()?);
        let n = timeout(Duration::from_secs(5), server.read(&mut buf))
            .await
            .unwrap()?;
        assert_eq!(n, 0);
        Ok(())
    });
}

#[test]
fn short_read_with_fin_in_the_same_edge_reaches_eof() {
    run(async {
        let (client, server) = pair().await?;
        client.write_all(b"last words").await?;
        client.shutdown(Shutdown::Write)?;
        // Data and FIN are both there before the first read.
        sleep(Duration::from_millis(20)).await;
        let mut buf = [0; 64];
        assert_eq!(server.read(&mut buf).await?, 10);
        let n = timeout(Duration::from_secs(5), server.read(&mut buf))
            .await
            .unwrap()?;
        assert_eq!(
            n, 0,
            "EOF after a short read must not wait for another edge"
        );
        Ok(())
    });
}

#[test]
fn short_write_then_drained_peer_lets_writes_finish() {
    run(async {
        let (client, server) = pair().await?;
        let total = 8 << 20; // far beyond loopback's socket buffers
        let reader = hearth::spawn_local(async move {
            sleep(Duration::from_millis(50)).await; // let the writer fill up
            let mut buf = vec![0; 64 * 1024];
            let mut got = 0;
            loop {
                match server.read(&mut buf).await? {
                    0 => return io::Result::Ok(got),
                    n => got += n,
                }
            }
        });
        let data = vec![7u8; total];
        timeout(Duration::from_secs(20), client.write_all(&data))
            .await
            .unwrap()?;
        client.shutdown(Shutdown::Write)?;
        let got = timeout(Duration::from_secs(20), reader)
            .await
            .unwrap()
            .unwrap()?;
        assert_eq!(got, total);
        Ok(())
    });
}

/// tokio's `AsyncRead` reads into the unfilled part without initialising it
/// first (no memset of the whole buffer per read): after a read, exactly the
/// bytes read are initialised and filled.
#[cfg(feature = "tokio-io")]
#[test]
fn tokio_read_does_not_initialise_the_whole_buffer() {
    use std::mem::MaybeUninit;
    run(async {
        let (client, mut server) = pair().await?;
        client.write_all(b"hello").await?;
        let mut storage = [MaybeUninit::<u8>::uninit(); 8192];
        let mut buf = tokio::io::ReadBuf::uninit(&mut storage);
        std::future::poll_fn(|cx| {
            tokio::io::AsyncRead::poll_read(std::pin::Pin::new(&mut server), cx, &mut buf)
        })
        .await?;
        assert_eq!(buf.filled(), b"hello");
        assert_eq!(buf.initialized().len(), 5);
        Ok(())
    });
}

/// tokio's `AsyncRead`/`AsyncWrite` on Unix stream halves, shutdown included.
#[cfg(feature = "tokio-io")]
#[test]
fn tokio_io_on_unix_halves() {
    use std::pin::Pin;
    use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
    run(async {
        let (a, b) = UnixStream::pair()?;
        let (mut r, mut w) = a.into_split();
        let n = poll_fn(|cx| Pin::new(&mut w).poll_write(cx, b"tokio")).await?;
        assert_eq!(n, 5);
        poll_fn(|cx| Pin::new(&mut w).poll_shutdown(cx)).await?;
        let mut got = Vec::new();
        (&b).read_to_end(&mut got).await?;
        assert_eq!(got, b"tokio");

        b.write_all(b"back").await?;
        drop(b);
        let mut storage = [0; 16];
        let mut buf = ReadBuf::new(&mut storage);
        poll_fn(|cx| Pin::new(&mut r).poll_read(cx, &mut buf)).await?;
        assert_eq!(buf.filled(), b"back");
        let before = buf.filled().len();
        poll_fn(|cx| Pin::new(&mut r).poll_read(cx, &mut buf)).await?;
        assert_eq!(buf.filled().len(), before, "end of file reads nothing");
        Ok(())
    });
}
