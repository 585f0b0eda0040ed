//! hyper's header-read timeout works on hearth: a client that sends part of
//! a request and then nothing (slowloris) is disconnected at the timeout,
//! while other clients are served.
#![cfg(not(miri))] // sockets

use std::convert::Infallible;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use hearth::Runtime;
use hearth_hyper::{server::Builder, HearthTimer};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;

const TIMEOUT: Duration = Duration::from_millis(200);

async fn hello(_req: Request<Incoming>) -> Result<Response<String>, Infallible> {
    Ok(Response::new("hello".to_string()))
}

fn runtime() -> Runtime {
    Runtime::builder().workers(2).build().unwrap()
}

/// A server through `server::Builder` with `timeout`.
fn start(rt: &Runtime, timeout: Option<Duration>) -> SocketAddr {
    let serving = Builder::new().header_read_timeout(timeout).serve(
        rt,
        "127.0.0.1:0".parse().unwrap(),
        service_fn(hello),
    );
    rt.block_on(serving).unwrap().local_addr()
}

/// Sends `bytes`, then waits for the server to close the connection (at
/// most 5 s); returns how long that took, or `None` if it stayed open.
fn closed_after(addr: SocketAddr, bytes: &[u8]) -> Option<Duration> {
    // Before connecting: the server's clock starts at the accept, later.
    let start = Instant::now();
    let mut client = TcpStream::connect(addr).unwrap();
    client.write_all(bytes).unwrap();
    client
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let mut rest = Vec::new();
    match client.read_to_end(&mut rest) {
        Ok(_) => Some(start.elapsed()),
        // Reset by the server: closed too.
        Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => Some(start.elapsed()),
        Err(_) => None,
    }
}

fn get(addr: SocketAddr) -> String {
    let mut client = TcpStream::connect(addr).unwrap();
    client
        .write_all(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .unwrap();
    client
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let mut response = String::new();
    client.read_to_string(&mut response).unwrap();
    response
}

fn assert_cut_off_at_the_timeout(took: Option<Duration>) {
    let took = took.expect("the slow client was never disconnected");
    assert!(took >= TIMEOUT, "disconnected early, after {took:?}");
    assert!(
        took < Duration::from_secs(3),
        "disconnected late, after {took:?}"
    );
}

/// hyper's own HTTP/1 builder with `HearthTimer`: the piece the issue found
/// missing (without a timer, setting the timeout panics in the connection).
#[test]
fn hyper_http1_builder_with_hearth_timer_cuts_off_a_slowloris_client() {
    let rt = runtime();
    let server = rt
        .block_on(
            rt.serve_on_all("127.0.0.1:0".parse().unwrap(), |stream, _| async move {
                let conn = hyper::server::conn::http1::Builder::new()
                    .timer(HearthTimer)
                    .header_read_timeout(TIMEOUT)
                    .serve_connection(TokioIo::new(stream), service_fn(hello));
                let _ = conn.await;
            }),
        )
        .unwrap();
    let addr = server.local_addr();
    let slow = std::thread::spawn(move || closed_after(addr, b"GET / HTTP/1.1\r\nHost: x\r\n"));
    // Served meanwhile.
    assert!(get(addr).ends_with("hello"));
    assert_cut_off_at_the_timeout(slow.join().unwrap());
}

#[test]
fn the_server_cuts_off_a_partial_request_line() {
    let rt = runtime();
    let addr = start(&rt, Some(TIMEOUT));
    let slow = std::thread::spawn(move || closed_after(addr, b"GET /slow"));
    assert!(get(addr).starts_with("HTTP/1.1 200 OK"));
    assert_cut_off_at_the_timeout(slow.join().unwrap());
}

#[test]
fn the_server_cuts_off_a_client_that_sends_nothing() {
    let rt = runtime();
    let addr = start(&rt, Some(TIMEOUT));
    assert_cut_off_at_the_timeout(closed_after(addr, b""));
}

#[test]
fn the_server_cuts_off_a_partial_http2_preface() {
    let rt = runtime();
    let addr = start(&rt, Some(TIMEOUT));
    assert_cut_off_at_the_timeout(closed_after(addr, b"PRI * HTTP/2"));
}

#[test]
fn a_kept_alive_connection_idle_past_the_timeout_is_closed() {
    let rt = runtime();
    let addr = start(&rt, Some(TIMEOUT));
    let took = closed_after(addr, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_cut_off_at_the_timeout(took);
}

#[test]
fn without_a_timeout_a_slow_client_stays_connected() {
    let rt = runtime();
    let addr = start(&rt, None);
    let mut client = TcpStream::connect(addr).unwrap();
    client.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n").unwrap();
    client.set_read_timeout(Some(TIMEOUT * 3)).unwrap();
    let mut byte = [0];
    let err = client.read(&mut byte).unwrap_err();
    assert!(matches!(
        err.kind(),
        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
    ));
    // The request can still be finished.
    client.write_all(b"Connection: close\r\n\r\n").unwrap();
    client
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let mut response = String::new();
    client.read_to_string(&mut response).unwrap();
    assert!(response.ends_with("hello"));
}
