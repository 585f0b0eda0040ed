//! The `http` example: served, slowloris clients cut off at its
//! header-read timeout (hearth's earlier `http` example, hyper with
//! hyper-util's glue and no timer, kept them connected), answers through
//! hearth-hyper's client, and the load test: 200 keep-alive connections ×
//! 1,000 requests on 2 workers, every response checked.
#![cfg(not(miri))] // sockets

#[path = "../examples/http.rs"]
mod example;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

const TIMEOUT: Duration = Duration::from_millis(200);

#[test]
fn serves_and_cuts_off_slowloris_clients() {
    let rt = hearth::Runtime::builder().workers(2).build().unwrap();
    let server = example::start(rt.handle(), "127.0.0.1:0".parse().unwrap(), TIMEOUT).unwrap();
    let addr = server.local_addr();

    // Slow clients: a header line at a time, too slowly, on several connections.
    let slow: Vec<_> = (0..4)
        .map(|_| {
            std::thread::spawn(move || {
                // Before connecting: the server's clock starts at the accept.
                let start = Instant::now();
                let mut client = TcpStream::connect(addr).unwrap();
                client.write_all(b"GET / HTTP/1.1\r\n").unwrap();
                client
                    .set_read_timeout(Some(Duration::from_secs(5)))
                    .unwrap();
                let mut rest = Vec::new();
                let closed = client.read_to_end(&mut rest).is_ok();
                (closed, start.elapsed())
            })
        })
        .collect();

    // Meanwhile a normal client gets its answers, on one kept-alive connection.
    let mut client = TcpStream::connect(addr).unwrap();
    client
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    for _ in 0..3 {
        client
            .write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            .unwrap();
        let mut buf = [0; 1024];
        let n = client.read(&mut buf).unwrap();
        assert!(buf[..n].starts_with(b"HTTP/1.1 200 OK"));
        assert!(buf[..n].ends_with(example::BODY));
    }

    for slow in slow {
        let (closed, took) = slow.join().unwrap();
        assert!(closed, "a slow client was not disconnected");
        assert!(
            took >= TIMEOUT && took < Duration::from_secs(3),
            "after {took:?}"
        );
    }
}

#[test]
fn answers_the_pooled_client_on_one_connection() {
    let rt = hearth::Runtime::builder().workers(2).build().unwrap();
    let server = example::start(rt.handle(), "127.0.0.1:0".parse().unwrap(), TIMEOUT).unwrap();
    let url = format!("http://{}/", server.local_addr());
    hearth::block_on(async {
        use http_body_util::BodyExt;
        let client = hearth_hyper::Client::new();
        for _ in 0..10 {
            let response = client.get(url.as_str()).await.unwrap();
            assert_eq!(response.status(), 200);
            let body = response.into_body().collect().await.unwrap().to_bytes();
            assert_eq!(body, example::BODY);
        }
    });
}

/// An HTTP/1.1 client on a hearth socket: keep-alive requests, each response
/// parsed and checked (status line, `content-length`, body).
mod client {
    use std::io;

    use hearth::net::TcpStream;

    pub const REQUEST: &[u8] = b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n";

    pub struct Client {
        stream: TcpStream,
        buf: Vec<u8>,
        len: usize,
    }

    fn invalid(msg: String) -> io::Error {
        io::Error::new(io::ErrorKind::InvalidData, msg)
    }

    impl Client {
        pub async fn connect(addr: std::net::SocketAddr) -> io::Result<Client> {
            let stream = TcpStream::connect(addr).await?;
            stream.set_nodelay(true)?;
            Ok(Client {
                stream,
                buf: vec![0; 4096],
                len: 0,
            })
        }

        /// Sends one request and checks its response; returns the body.
        pub async fn get(&mut self) -> io::Result<Vec<u8>> {
            self.stream.write_all(REQUEST).await?;
            loop {
                if let Some(end) = find(&self.buf[..self.len], b"\r\n\r\n") {
                    let head = std::str::from_utf8(&self.buf[..end])
                        .map_err(|e| invalid(e.to_string()))?;
                    let mut lines = head.split("\r\n");
                    let status = lines.next().unwrap_or_default();
                    if status != "HTTP/1.1 200 OK" {
                        return Err(invalid(format!("status line {status:?}")));
                    }
                    let length: usize = lines
                        .filter_map(|l| l.split_once(':'))
                        .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
                        .and_then(|(_, v)| v.trim().parse().ok())
                        .ok_or_else(|| invalid(format!("no content-length in {head:?}")))?;
                    let total = end + 4 + length;
                    if self.len >= total {
                        let body = self.buf[end + 4..total].to_vec();
                        self.buf.copy_within(total..self.len, 0);
                        self.len -= total;
                        if self.len != 0 {
                            return Err(invalid("a response nobody asked for".into()));
                        }
                        return Ok(body);
                    }
                }
                if self.len == self.buf.len() {
                    return Err(invalid("response too large".into()));
                }
                let n = self.stream.read(&mut self.buf[self.len..]).await?;
                if n == 0 {
                    return Err(io::ErrorKind::UnexpectedEof.into());
                }
                self.len += n;
            }
        }
    }

    fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
        hay.windows(needle.len()).position(|w| w == needle)
    }
}

/// The load test: 200 concurrent keep-alive connections × 1,000
/// requests against the `http` example on 2 workers, every response checked,
/// within a deadline. The client runs on a hearth runtime of its own (2
/// workers, 100 connections each) with raw TCP.
#[test]
fn http_load_200_connections_x_1000_requests() {
    const CONNECTIONS: usize = 200;
    const REQUESTS: usize = 1_000;
    const DEADLINE: Duration = Duration::from_secs(50);

    let server = hearth::Runtime::builder().workers(2).build().unwrap();
    let serving = example::start(
        server.handle(),
        "127.0.0.1:0".parse().unwrap(),
        TIMEOUT * 50,
    )
    .unwrap();
    let addr = serving.local_addr();
    let client = hearth::Runtime::builder().workers(2).build().unwrap();
    let start = std::time::Instant::now();
    let per_worker = CONNECTIONS / client.workers();
    let handles = client
        .spawn_on_all(move |_worker| async move {
            let conns: Vec<_> = (0..per_worker)
                .map(|_| {
                    hearth::spawn_local(async move {
                        let mut c = client::Client::connect(addr).await?;
                        for _ in 0..REQUESTS {
                            let body = c.get().await?;
                            if body != example::BODY {
                                return Err(std::io::Error::other(format!("body {body:?}")));
                            }
                        }
                        std::io::Result::Ok(REQUESTS)
                    })
                })
                .collect();
            let mut done = 0;
            for c in conns {
                done += c.await.expect("client task panicked")?;
            }
            std::io::Result::Ok(done)
        })
        .unwrap();
    let total: usize = client
        .block_on(hearth::time::timeout(DEADLINE, async {
            let mut total = 0;
            for h in handles {
                total += h.await.unwrap().unwrap();
            }
            total
        }))
        .unwrap_or_else(|_| panic!("load test exceeded {DEADLINE:?}"));
    let took = start.elapsed();
    assert_eq!(total, CONNECTIONS * REQUESTS);
    eprintln!(
        "load test: {total} requests in {took:.2?} ({:.0} req/s)",
        total as f64 / took.as_secs_f64()
    );
    client.shutdown();
    server.shutdown();
}
