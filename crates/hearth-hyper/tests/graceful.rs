//! The runtime's graceful shutdown reaches the connections: kept-alive idle
//! connections are closed (HTTP/1) or told to go away (HTTP/2), so the
//! shutdown ends without waiting for its deadline.
#![cfg(not(miri))] // sockets

use std::convert::Infallible;
use std::io::{Read, Write};
use std::time::{Duration, Instant};

use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper::{Request, Response};

#[test]
fn idle_keep_alive_connections_close_and_the_shutdown_does_not_time_out() {
    let rt = hearth::Runtime::builder().workers(2).build().unwrap();
    let hello = service_fn(|_req: Request<Incoming>| async {
        Ok::<_, Infallible>(Response::new("hello".to_string()))
    });
    let server = rt
        .block_on(hearth_hyper::serve(
            &rt,
            "127.0.0.1:0".parse().unwrap(),
            hello,
        ))
        .unwrap();
    let addr = server.local_addr();

    // Kept alive after one request each.
    let clients: Vec<_> = (0..4)
        .map(|_| {
            let mut client = std::net::TcpStream::connect(addr).unwrap();
            client
                .write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
                .unwrap();
            client
                .set_read_timeout(Some(Duration::from_secs(5)))
                .unwrap();
            let mut buf = [0; 1024];
            let n = client.read(&mut buf).unwrap();
            assert!(buf[..n].ends_with(b"hello"));
            client
        })
        .collect();

    let start = Instant::now();
    rt.shutdown_graceful(Duration::from_secs(20))
        .expect("every connection ended before the deadline");
    assert!(start.elapsed() < Duration::from_secs(10));
    for mut client in clients {
        let mut rest = Vec::new();
        assert_eq!(
            client.read_to_end(&mut rest).unwrap(),
            0,
            "closed by the server"
        );
    }
}

/// HTTP/2: the server sends `GOAWAY`, so the client's connection ends
/// cleanly, and the shutdown does not wait for its deadline.
#[test]
fn http2_connections_are_told_to_go_away() {
    use hearth_hyper::HearthExecutor;
    use http_body_util::{BodyExt, Empty};
    use hyper::body::Bytes;
    use hyper_util::rt::TokioIo;

    let rt = hearth::Runtime::builder().workers(1).build().unwrap();
    let hello = service_fn(|_req: Request<Incoming>| async {
        Ok::<_, Infallible>(Response::new("hello".to_string()))
    });
    let server = rt
        .block_on(hearth_hyper::serve(
            &rt,
            "127.0.0.1:0".parse().unwrap(),
            hello,
        ))
        .unwrap();
    let addr = server.local_addr();
    let handle = rt.handle().clone();

    let client = std::thread::spawn(move || {
        hearth::block_on(async move {
            let stream = hearth::net::TcpStream::connect(addr).await.unwrap();
            let (mut sender, conn) =
                hyper::client::conn::http2::handshake(HearthExecutor, TokioIo::new(stream))
                    .await
                    .unwrap();
            let conn = hearth::spawn_local(conn);
            let request = Request::get(format!("http://{addr}/"))
                .body(Empty::<Bytes>::new())
                .unwrap();
            let response = sender.send_request(request).await.unwrap();
            let body = response.into_body().collect().await.unwrap().to_bytes();
            assert_eq!(body, "hello");
            // Keep the sender: only the server's GOAWAY ends the connection.
            let start = Instant::now();
            drop(handle.shutdown_graceful(Duration::from_secs(20)));
            conn.await.unwrap().expect("the connection ended cleanly");
            drop(sender);
            start.elapsed()
        })
    });
    let took = client.join().unwrap();
    assert!(took < Duration::from_secs(10), "{took:?}");
    rt.shutdown_graceful(Duration::from_secs(20))
        .expect("every connection ended before the deadline");
}
