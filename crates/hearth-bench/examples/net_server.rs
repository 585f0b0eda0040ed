//! The `net` suite's hearth servers as a process of their own, so a tool can
//! watch the server alone (the suite runs its servers inside the harness,
//! next to the wrk it starts). Counting system calls per request:
//!
//! ```text
//! cargo build --release -p hearth-bench --example net_server
//! HEARTH_DRIVER=uring strace -c -f -o /tmp/uring.txt \
//!     target/release/examples/net_server raw 127.0.0.1:8099 10 &
//! sleep 1; wrk -t2 -c256 -d5s http://127.0.0.1:8099/
//! ```
//!
//! Arguments: `raw` (the suite's raw HTTP responder) or `hyper` (hyper 1.x
//! hello-world), the address, and how many seconds to serve. Two workers,
//! each pinned to its CPU with a `SO_REUSEPORT` listener, as in the suite;
//! the I/O driver is `HEARTH_DRIVER`'s (`epoll`, `uring`, or the default).

use std::net::SocketAddr;
use std::time::Duration;

const WORKERS: usize = 2;
const RAW_RESPONSE: &[u8] =
    b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 13\r\n\r\nHello, World!";

fn main() {
    let mut args = std::env::args().skip(1);
    let app = args.next().unwrap_or_else(|| "raw".into());
    let addr: SocketAddr = args
        .next()
        .unwrap_or_else(|| "127.0.0.1:8099".into())
        .parse()
        .expect("an address such as 127.0.0.1:8099");
    let secs: u64 = args.next().map_or(10, |s| s.parse().expect("seconds"));
    let hyper = match app.as_str() {
        "raw" => false,
        "hyper" => true,
        other => panic!("unknown app {other:?}: use raw or hyper"),
    };
    let rt = hearth::Runtime::builder()
        .workers(WORKERS)
        .pin_to_cores(true)
        .build()
        .expect("runtime");
    for worker in 0..WORKERS {
        let l = listener(addr);
        rt.spawn_on(worker, move || async move {
            let listener = hearth::net::TcpListener::from_std(l).unwrap();
            loop {
                let Ok((s, _)) = listener.accept().await else {
                    continue;
                };
                let _ = s.set_nodelay(true);
                drop(hearth::spawn_local(conn(hyper, s)));
            }
        })
        .expect("spawn");
    }
    eprintln!("net_server: {app} on {addr} through {}", rt.io_driver());
    std::thread::sleep(Duration::from_secs(secs));
    rt.shutdown();
}

fn listener(addr: SocketAddr) -> std::net::TcpListener {
    use socket2::{Domain, Socket, Type};
    let s = Socket::new(Domain::IPV4, Type::STREAM, None).unwrap();
    s.set_reuse_address(true).unwrap();
    s.set_reuse_port(true).unwrap();
    s.set_nonblocking(true).unwrap();
    s.bind(&addr.into()).unwrap();
    s.listen(1024).unwrap();
    s.into()
}

async fn conn(hyper: bool, s: hearth::net::TcpStream) {
    if hyper {
        let io = hyper_util::rt::TokioIo::new(s);
        let _ = hyper::server::conn::http1::Builder::new()
            .serve_connection(io, hyper::service::service_fn(hello))
            .await;
        return;
    }
    let mut buf = vec![0; 4096];
    let mut matched = 0u8;
    loop {
        let n = match s.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        let k = count_requests(&mut matched, &buf[..n]);
        if k > 0 && s.write_all(&RAW_RESPONSE.repeat(k)).await.is_err() {
            return;
        }
    }
}

async fn hello(
    _req: hyper::Request<hyper::body::Incoming>,
) -> Result<hyper::Response<http_body_util::Full<hyper::body::Bytes>>, std::convert::Infallible> {
    Ok(hyper::Response::new(http_body_util::Full::new(
        hyper::body::Bytes::from_static(b"Hello, World!"),
    )))
}

/// Complete request heads (`\r\n\r\n`) in `data`, as the suite counts them.
fn count_requests(matched: &mut u8, data: &[u8]) -> usize {
    const END: &[u8; 4] = b"\r\n\r\n";
    let mut n = 0;
    for &b in data {
        if b == END[*matched as usize] {
            *matched += 1;
            if *matched == 4 {
                n += 1;
                *matched = 0;
            }
        } else {
            *matched = u8::from(b == b'\r');
        }
    }
    n
}
