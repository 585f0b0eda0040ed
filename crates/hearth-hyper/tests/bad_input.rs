//! Bad input never panics the server nor stops it serving: malformed
//! requests, oversized headers, clients that vanish mid-request, garbage
//! after the HTTP/2 preface. (Failed TLS handshakes: `tests/tls.rs`.) Each
//! case runs against one worker, then a normal request must succeed there.
#![cfg(not(miri))] // sockets

#[path = "../examples/http.rs"]
mod example;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

fn start() -> (hearth::Runtime, SocketAddr) {
    let rt = hearth::Runtime::builder().workers(1).build().unwrap();
    let server = example::start(
        rt.handle(),
        "127.0.0.1:0".parse().unwrap(),
        Duration::from_secs(5),
    )
    .unwrap();
    let addr = server.local_addr();
    (rt, addr)
}

/// Sends `bytes` and returns what came back before the server closed.
fn exchange(addr: SocketAddr, bytes: &[u8]) -> String {
    let mut client = TcpStream::connect(addr).unwrap();
    client
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    // The server may close before it has read everything: not an error here.
    let _ = client.write_all(bytes);
    let mut response = Vec::new();
    let _ = client.read_to_end(&mut response);
    String::from_utf8_lossy(&response).into_owned()
}

fn assert_still_serving(addr: SocketAddr) {
    let response = exchange(
        addr,
        b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    assert!(response.starts_with("HTTP/1.1 200 OK"), "{response}");
    assert!(response.ends_with("Hello, World!"), "{response}");
}

#[test]
fn malformed_requests_get_400() {
    let (_rt, addr) = start();
    for request in [
        &b"GET / HTTP/1.1\r\nHo st\r\n\r\n"[..],
        b"\x00\x01\x02\x03\r\n\r\n",
        b"GET / HTTP/9.9\r\n\r\n",
        b"GET / HTTP/1.1\r\nContent-Length: x\r\n\r\n",
        b"GET / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
    ] {
        let response = exchange(addr, request);
        assert!(
            response.is_empty() || response.starts_with("HTTP/1.1 400"),
            "{request:?}: {response}"
        );
        assert_still_serving(addr);
    }
}

#[test]
fn oversized_headers_are_refused() {
    let (_rt, addr) = start();
    let mut request = b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: ".to_vec();
    request.resize(request.len() + 1024 * 1024, b'a');
    request.extend_from_slice(b"\r\n\r\n");
    let response = exchange(addr, &request);
    assert!(
        response.is_empty() || response.starts_with("HTTP/1.1 431"),
        "{response}"
    );
    assert_still_serving(addr);
}

#[test]
fn clients_that_vanish_mid_request() {
    let (_rt, addr) = start();
    for partial in [
        &b"GET / HTTP/1.1\r\nHost: x\r\n"[..],
        b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\nhalf",
        b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
        b"PRI * HTT",
    ] {
        let mut client = TcpStream::connect(addr).unwrap();
        client.write_all(partial).unwrap();
        drop(client);
    }
    // One that resets the connection (SO_LINGER 0) after a request.
    let client = socket2::Socket::from(TcpStream::connect(addr).unwrap());
    client.set_linger(Some(Duration::ZERO)).unwrap();
    let mut client = TcpStream::from(client);
    client
        .write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    drop(client);
    std::thread::sleep(Duration::from_millis(50));
    assert_still_serving(addr);
}

#[test]
fn garbage_after_the_http2_preface() {
    let (_rt, addr) = start();
    let mut bytes = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".to_vec();
    bytes.extend_from_slice(&[0xff; 64]);
    let _ = exchange(addr, &bytes); // a GOAWAY, then closed
    assert_still_serving(addr);
}
