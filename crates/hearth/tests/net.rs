//! Sockets on loopback: TCP connect/accept/read/write/EOF/reset/half-close,
//! split halves, UDP, Unix sockets; remote wakes while blocked in epoll.
#![cfg(not(miri))] // Miri cannot run epoll

use std::io::{self, ErrorKind};
use std::net::Shutdown;
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

#[test]
fn owned_halves_in_two_tasks_and_shutdown_on_drop() {
    run(async {
        let (client, server) = pair().await?;
        let (mut r, mut w) = client.into_split();
        let writer = hearth::spawn_local(async move {
            for i in 0..100u32 {
                w.write_all(&i.to_le_bytes()).await?;
            }
            drop(w); // shuts down the write side
            io::Result::Ok(())
        });
        let mut got = Vec::new();
        (&server).read_to_end(&mut got).await?;
        assert_eq!(got.len(), 400);
        writer.await.unwrap()?;
        server.write_all(b"z").await?;
        let mut z = [0];
        r.read_exact(&mut z).await?;
        assert_eq!(&z, b"z");
        Ok(())
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
