//! The `axum` example serves HTTP/1.1 and HTTP/2 (h2c) on every worker.
#![cfg(not(miri))] // sockets

#[path = "../examples/axum.rs"]
mod example;

use std::io::{Read, Write};
use std::net::SocketAddr;
use std::time::Duration;

use hearth::net::TcpStream;
use hearth_hyper::HearthExecutor;
use http_body_util::{BodyExt, Empty};
use hyper::body::Bytes;
use hyper::{Request, StatusCode, Version};
use hyper_util::rt::TokioIo;

fn start() -> (hearth::Runtime, SocketAddr) {
    let rt = hearth::Runtime::builder().workers(2).build().unwrap();
    let server = example::start(rt.handle(), "127.0.0.1:0".parse().unwrap()).unwrap();
    let addr = server.local_addr();
    (rt, addr)
}

#[test]
fn http1() {
    let (_rt, addr) = start();
    for _ in 0..4 {
        let mut client = std::net::TcpStream::connect(addr).unwrap();
        client
            .write_all(b"GET /hello/hearth HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            .unwrap();
        client
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        let mut response = String::new();
        client.read_to_string(&mut response).unwrap();
        assert!(response.starts_with("HTTP/1.1 200 OK\r\n"), "{response}");
        assert!(response.ends_with("\r\n\r\nHello, hearth!"), "{response}");
    }
}

#[test]
fn http1_malformed_request_gets_400_and_the_server_goes_on() {
    let (_rt, addr) = start();
    let mut client = std::net::TcpStream::connect(addr).unwrap();
    client
        .write_all(b"GET / HTTP/1.1\r\nHo st\r\n\r\n")
        .unwrap();
    client
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let mut response = String::new();
    client.read_to_string(&mut response).unwrap();
    assert!(response.starts_with("HTTP/1.1 400"), "{response}");

    let mut client = std::net::TcpStream::connect(addr).unwrap();
    client
        .write_all(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut response = String::new();
    client.read_to_string(&mut response).unwrap();
    assert!(response.ends_with("Hello, World!"), "{response}");
}

#[test]
fn an_address_in_use_is_an_error() {
    let (rt, addr) = start();
    let err = example::start(rt.handle(), addr).unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::AddrInUse);
    assert!(err.to_string().contains("in use"), "{err}");
}

/// h2c by prior knowledge, with hyper's HTTP/2 client on hearth (its
/// connection task spawned by `HearthExecutor`).
#[test]
fn http2_prior_knowledge() {
    let (_rt, addr) = start();
    hearth::block_on(async move {
        let stream = TcpStream::connect(addr).await.unwrap();
        let (mut sender, conn) =
            hyper::client::conn::http2::handshake(HearthExecutor, TokioIo::new(stream))
                .await
                .unwrap();
        let conn = hearth::spawn_local(conn);
        // Several streams on the one connection.
        for (path, body) in [("/", "Hello, World!"), ("/hello/h2", "Hello, h2!")] {
            let request = Request::builder()
                .uri(format!("http://{addr}{path}"))
                .body(Empty::<Bytes>::new())
                .unwrap();
            let response = sender.send_request(request).await.unwrap();
            assert_eq!(response.status(), StatusCode::OK);
            assert_eq!(response.version(), Version::HTTP_2);
            let bytes = response.into_body().collect().await.unwrap().to_bytes();
            assert_eq!(bytes, body.as_bytes());
        }
        drop(sender);
        conn.await.unwrap().unwrap();
    });
}
