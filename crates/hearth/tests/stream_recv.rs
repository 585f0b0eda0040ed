//! Stream reads on every driver this machine offers. Under io_uring a
//! stream's reads come from a multishot receive into the ring's provided
//! buffers (`net/uring.rs`): these tests cover what that path adds over a
//! plain `read`: leftovers of a partly read buffer, more data than the ring
//! holds arriving before the reader reads (the ring runs out of buffers and
//! the reader falls back to `read`), end of file and resets in order after
//! the data, streams dropped with a receive in the kernel (their descriptor
//! number and port reused at once), and many sockets at once. epoll runs the
//! same tests as the reference.
#![cfg(not(miri))] // Miri cannot open sockets or rings

mod drivers;

use std::io;
use std::rc::Rc;
use std::time::Duration;

use hearth::net::{TcpListener, TcpStream, UnixStream};
use hearth::time::{sleep, timeout};

use drivers::{drivers, on};

/// A connected pair: (client, server side).
async fn pair() -> io::Result<(TcpStream, TcpStream)> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let (client, accepted) = futures::join!(TcpStream::connect(addr), listener.accept());
    Ok((client?, accepted?.0))
}

/// Byte `i` of the test pattern (period 251, a prime: no alignment with any
/// buffer size hides a lost or repeated chunk).
fn pattern(i: usize) -> u8 {
    (i % 251) as u8
}

fn pattern_bytes(from: usize, len: usize) -> Vec<u8> {
    (from..from + len).map(pattern).collect()
}

/// Reads until end of file, checking the pattern; returns how many bytes.
async fn read_pattern_to_eof(s: &TcpStream, chunk: usize) -> io::Result<usize> {
    let mut buf = vec![0; chunk];
    let mut total = 0;
    loop {
        let n = s.read(&mut buf).await?;
        if n == 0 {
            return Ok(total);
        }
        for (k, &b) in buf[..n].iter().enumerate() {
            assert_eq!(b, pattern(total + k), "byte {} of the stream", total + k);
        }
        total += n;
    }
}

/// A read waiting in its own task (so the receive is armed), while the
/// peer writes.
#[test]
fn partial_reads_keep_the_leftovers_in_order() {
    for driver in drivers() {
        on(driver, async {
            let (client, server) = pair().await?;
            let server = Rc::new(server);
            // First read waits: under io_uring the receive is in the kernel
            // when the data comes.
            let first = hearth::spawn_local({
                let server = server.clone();
                async move {
                    let mut b = [0; 3];
                    let n = server.read(&mut b).await?;
                    io::Result::Ok(b[..n].to_vec())
                }
            });
            hearth::yield_now().await;
            let data = pattern_bytes(0, 10_000);
            client.write_all(&data).await?;
            let mut got = first.await.unwrap()?;
            assert!(!got.is_empty() && got.len() <= 3);
            // Odd sizes, smaller and larger than a ring buffer (4 KiB).
            let sizes = [1usize, 7, 4095, 2, 5000, 13];
            let mut i = 0;
            while got.len() < data.len() {
                let want = sizes[i % sizes.len()].min(data.len() - got.len());
                i += 1;
                let mut b = vec![0; want];
                let n = server.read(&mut b).await?;
                assert!(n > 0 && n <= want);
                got.extend_from_slice(&b[..n]);
            }
            assert_eq!(got, data);
            // An empty buffer reads nothing, and takes nothing.
            assert_eq!(server.read(&mut []).await?, 0);
            client.write_all(b"after").await?;
            let mut b = [0; 5];
            server.read_exact(&mut b).await?;
            assert_eq!(&b, b"after");
            Ok(())
        });
    }
}

/// Several streams' peers send far more than the ring's buffers hold
/// (1024 × 4 KiB in all) while their readers sleep: the receives run out of
/// buffers (`ENOBUFS`), the rest waits in the sockets, and every reader
/// still gets every byte, in order.
#[test]
fn more_than_the_ring_holds_arrives_before_the_reader_reads() {
    const STREAMS: usize = 4;
    const BYTES: usize = 3 << 20; // 12 MiB in all: three rings' worth
    for driver in drivers() {
        on(driver, async {
            let mut tasks = Vec::new();
            for _ in 0..STREAMS {
                let (client, server) = pair().await?;
                // Arm the receive: a read that waits for the first byte.
                let server = Rc::new(server);
                let first = hearth::spawn_local({
                    let server = server.clone();
                    async move {
                        let mut b = [0; 1];
                        server.read_exact(&mut b).await.map(|()| b[0])
                    }
                });
                hearth::yield_now().await;
                let writer = hearth::spawn_local(async move {
                    let data = pattern_bytes(0, BYTES);
                    for chunk in data.chunks(64 * 1024) {
                        client.write_all(chunk).await?;
                    }
                    drop(client); // end of file after the data
                    io::Result::Ok(())
                });
                tasks.push((server, first, writer));
            }
            // The readers sleep while the writers fill the ring (and then
            // the sockets).
            sleep(Duration::from_millis(300)).await;
            for (server, first, writer) in tasks {
                assert_eq!(first.await.unwrap()?, pattern(0));
                // The rest of the stream from byte 1 on.
                let mut buf = vec![0; 16 * 1024];
                let mut total = 1;
                loop {
                    let n = server.read(&mut buf).await?;
                    if n == 0 {
                        break;
                    }
                    for (k, &b) in buf[..n].iter().enumerate() {
                        assert_eq!(b, pattern(total + k), "byte {}", total + k);
                    }
                    total += n;
                }
                assert_eq!(total, BYTES);
                writer.await.unwrap()?;
            }
            Ok(())
        });
    }
}

#[test]
fn end_of_file_comes_after_the_data_and_stays() {
    for driver in drivers() {
        on(driver, async {
            // The reader waiting before the data and the end of file come.
            let (client, server) = pair().await?;
            let reader = hearth::spawn_local(async move {
                let n = read_pattern_to_eof(&server, 100).await?;
                // End of file again on every later read.
                assert_eq!(server.read(&mut [0; 8]).await?, 0);
                assert_eq!(server.read(&mut [0; 8]).await?, 0);
                io::Result::Ok(n)
            });
            hearth::yield_now().await;
            client.write_all(&pattern_bytes(0, 5000)).await?;
            client.shutdown(std::net::Shutdown::Write)?;
            assert_eq!(reader.await.unwrap()?, 5000);

            // Data and end of file both there before the first read.
            let (client, server) = pair().await?;
            client.write_all(&pattern_bytes(0, 300)).await?;
            drop(client);
            sleep(Duration::from_millis(20)).await;
            assert_eq!(read_pattern_to_eof(&server, 7).await?, 300);
            assert_eq!(server.read(&mut [0; 8]).await?, 0);

            // The same on a Unix stream (the same receive path).
            let (a, b) = UnixStream::pair()?;
            let reader = hearth::spawn_local(async move {
                let mut got = Vec::new();
                let mut buf = [0; 3];
                loop {
                    match b.read(&mut buf).await? {
                        0 => return io::Result::Ok(got),
                        n => got.extend_from_slice(&buf[..n]),
                    }
                }
            });
            hearth::yield_now().await;
            a.write_all(b"unix stream data").await?;
            drop(a);
            assert_eq!(reader.await.unwrap()?, b"unix stream data");
            Ok(())
        });
    }
}

/// A peer that resets the connection (`SO_LINGER` 0, then close): a
/// waiting read fails with `ConnectionReset`, the data before (if any was
/// read) is not repeated, and later reads do not hang.
#[test]
fn a_reset_fails_the_waiting_read() {
    for driver in drivers() {
        on(driver, async {
            let listener = TcpListener::bind("127.0.0.1:0").await?;
            let addr = listener.local_addr()?;
            let peer = std::net::TcpStream::connect(addr)?;
            let (server, _) = listener.accept().await?;
            let reader = hearth::spawn_local(async move {
                let mut buf = [0; 64];
                let first = server.read(&mut buf).await?;
                let second = server.read(&mut buf).await;
                // After the error, a read ends at once (end of file or the
                // error again), never hangs.
                let third = timeout(Duration::from_secs(5), server.read(&mut buf)).await;
                io::Result::Ok((buf[..first].to_vec(), second, third.is_ok()))
            });
            hearth::yield_now().await;
            use std::io::Write as _;
            (&peer).write_all(b"last words")?;
            // Let the reader take the data before the reset comes.
            sleep(Duration::from_millis(50)).await;
            socket2::SockRef::from(&peer).set_linger(Some(Duration::ZERO))?;
            drop(peer);
            let (data, second, third_ended) = reader.await.unwrap()?;
            assert_eq!(data, b"last words");
            let err = second.expect_err("a read after a reset fails");
            assert_eq!(err.kind(), io::ErrorKind::ConnectionReset, "{err}");
            assert!(third_ended);
            Ok(())
        });
    }
}

/// Streams dropped while their receive is in the kernel (a read timed out
/// or aborted, data arriving after the drop), and new streams that get the
/// same descriptor numbers and the same port at once: nothing of the old
/// stream reaches the new one, nothing hangs, and the buffers the old
/// receives held come back (200 rounds use far more than the ring holds).
#[test]
fn dropping_a_stream_with_a_receive_in_flight_then_reusing_fd_and_port() {
    for driver in drivers() {
        on(driver, async {
            let mut port = None;
            for round in 0..200 {
                let listener = match port {
                    Some(addr) => TcpListener::bind(addr).await?,
                    None => TcpListener::bind("127.0.0.1:0").await?,
                };
                let addr = listener.local_addr()?;
                port = Some(addr);
                let (client, accepted) =
                    futures::join!(TcpStream::connect(addr), listener.accept());
                let (client, (server, _)) = (client?, accepted?);
                // Half the rounds leave data unread in the ring's buffers.
                if round % 2 == 0 {
                    client.write_all(&[7; 20_000]).await?;
                    let mut b = [0; 10];
                    server.read_exact(&mut b).await?;
                }
                let mut b = [0; 8];
                let expired = timeout(Duration::from_millis(1), async {
                    loop {
                        server.read(&mut b).await?;
                    }
                    #[allow(unreachable_code)]
                    io::Result::Ok(())
                })
                .await;
                assert!(expired.is_err(), "round {round}");
                drop(server);
                drop(listener);
                // Data for the dropped stream, in flight while a new pair
                // takes its descriptor numbers.
                let _ = client.write_all(b"for the dead").await;
                let (a, b) = UnixStream::pair()?;
                a.write_all(b"fresh").await?;
                let mut got = [0; 5];
                b.read_exact(&mut got).await?;
                assert_eq!(&got, b"fresh", "round {round}");
                drop(client);
            }
            Ok(())
        });
    }
}

/// Many streams at once, each echoing a stream of its own pattern in odd
/// sizes: every one gets its own bytes back, in order.
#[test]
fn many_streams_at_once_get_their_own_bytes() {
    const STREAMS: usize = 256;
    const BYTES: usize = 40_000;
    for driver in drivers() {
        on(driver, async {
            let listener = TcpListener::bind("127.0.0.1:0").await?;
            let addr = listener.local_addr()?;
            let server = hearth::spawn_local(async move {
                for _ in 0..STREAMS {
                    let (s, _) = listener.accept().await?;
                    hearth::spawn_local(async move {
                        let mut buf = vec![0; 1500];
                        loop {
                            let n = s.read(&mut buf).await?;
                            if n == 0 {
                                return io::Result::Ok(());
                            }
                            s.write_all(&buf[..n]).await?;
                        }
                    });
                }
                io::Result::Ok(())
            });
            let mut clients = Vec::new();
            for i in 0..STREAMS {
                clients.push(hearth::spawn_local(async move {
                    let s = Rc::new(TcpStream::connect(addr).await?);
                    let data: Vec<u8> = (0..BYTES).map(|k| pattern(k + i)).collect();
                    let writer = hearth::spawn_local({
                        let s = s.clone();
                        let data = data.clone();
                        async move {
                            for chunk in data.chunks(997) {
                                s.write_all(chunk).await?;
                            }
                            s.shutdown(std::net::Shutdown::Write)
                        }
                    });
                    let mut got = Vec::with_capacity(BYTES);
                    let mut buf = vec![0; 1 + i % 3000];
                    loop {
                        match s.read(&mut buf).await? {
                            0 => break,
                            n => got.extend_from_slice(&buf[..n]),
                        }
                    }
                    writer.await.unwrap()?;
                    assert!(got == data, "stream {i} got other bytes back");
                    io::Result::Ok(())
                }));
            }
            for c in clients {
                c.await.unwrap()?;
            }
            server.await.unwrap()
        });
    }
}

/// Vectored writes (`futures_io::AsyncWrite::poll_write_vectored`): small
/// ones are copied into one `send`, a single non-empty slice is written as
/// it is, large ones stay `writev`; every byte arrives once and in order,
/// and the count returned is of bytes from the start of the slices.
#[test]
fn vectored_writes_arrive_whole_and_in_order() {
    use futures::AsyncWriteExt;
    for driver in drivers() {
        on(driver, async {
            let (client, server) = pair().await?;
            let data = pattern_bytes(0, 3 * 4096 + 17);
            // Cases: small slices with an empty one between (coalesced),
            // one non-empty slice among empties, two slices past the
            // coalescing bound, many tiny slices.
            let cases: Vec<Vec<std::ops::Range<usize>>> = vec![
                vec![0..100, 100..100, 100..113],
                vec![113..113, 113..613, 613..613],
                vec![613..1900, 1900..4000],
                (0..64).map(|k| 4000 + k * 7..4000 + (k + 1) * 7).collect(),
                vec![4448..8000, 8000..data.len()],
            ];
            let writer = hearth::spawn_local({
                let data = data.clone();
                async move {
                    let mut client = &client;
                    for case in cases {
                        let mut slices: Vec<&[u8]> =
                            case.iter().map(|r| &data[r.clone()]).collect();
                        while slices.iter().any(|s| !s.is_empty()) {
                            let io: Vec<io::IoSlice<'_>> =
                                slices.iter().map(|s| io::IoSlice::new(s)).collect();
                            let mut n = client.write_vectored(&io).await?;
                            assert!(n > 0, "a vectored write made no progress");
                            for s in &mut slices {
                                let take = n.min(s.len());
                                *s = &s[take..];
                                n -= take;
                            }
                        }
                    }
                    client.close().await?;
                    io::Result::Ok(())
                }
            });
            let got = read_pattern_to_eof(&server, 1000).await?;
            writer.await.unwrap()?;
            assert_eq!(got, data.len());
            Ok(())
        });
    }
}
