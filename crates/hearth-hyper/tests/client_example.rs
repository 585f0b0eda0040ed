//! The `client` example against the `http` example: every request answered,
//! over HTTP/1.1 keep-alive and over HTTP/2.
#![cfg(not(miri))] // sockets

#[path = "../examples/client.rs"]
mod client;
#[path = "../examples/http.rs"]
mod http;

use std::time::Duration;

fn check(h2: bool) {
    let server_rt = hearth::Runtime::builder().workers(1).build().unwrap();
    let server = http::start(
        server_rt.handle(),
        "127.0.0.1:0".parse().unwrap(),
        Duration::from_secs(5),
    )
    .unwrap();
    let url = format!("http://{}/", server.local_addr());
    let client_rt = hearth::Runtime::builder().workers(2).build().unwrap();
    let summary = client::run(&client_rt, &url, 2_001, h2).unwrap();
    assert_eq!(summary.ok, 2_001);
    assert_eq!(summary.other, 0);
    assert_eq!(summary.bytes, 2_001 * http::BODY.len());
}

#[test]
fn http1() {
    check(false);
}

#[test]
fn http2() {
    check(true);
}
