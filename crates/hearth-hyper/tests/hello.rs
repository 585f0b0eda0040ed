//! The `hello` example: served, and slowloris clients cut off at its
//! header-read timeout.
#![cfg(not(miri))] // sockets

#[path = "../examples/hello.rs"]
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
