//! Servers for the client tests.
#![allow(dead_code)] // each test file uses some

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use hearth_hyper::HearthExecutor;
use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use hyper_util::server::conn::auto;

/// A hearth server (HTTP/1.1 and h2c) on `workers` workers that answers
/// every request with its path, after `delay`, and counts the connections
/// it accepts.
pub struct Counting {
    pub rt: hearth::Runtime,
    pub addr: SocketAddr,
    pub accepted: Arc<AtomicUsize>,
    _server: hearth::runtime::Server,
}

impl Counting {
    pub fn start(workers: usize, delay: Duration) -> Counting {
        let rt = hearth::Runtime::builder().workers(workers).build().unwrap();
        let accepted = Arc::new(AtomicUsize::new(0));
        let count = accepted.clone();
        let server = rt
            .block_on(
                rt.serve_on_all("127.0.0.1:0".parse().unwrap(), move |stream, _| {
                    count.fetch_add(1, Ordering::SeqCst);
                    async move {
                        let service = service_fn(move |req: Request<Incoming>| async move {
                            if !delay.is_zero() {
                                hearth::time::sleep(delay).await;
                            }
                            let path = Bytes::copy_from_slice(req.uri().path().as_bytes());
                            Ok::<_, Infallible>(Response::new(Full::new(path)))
                        });
                        let _ = auto::Builder::new(HearthExecutor)
                            .serve_connection(TokioIo::new(stream), service)
                            .await;
                    }
                }),
            )
            .unwrap();
        let addr = server.local_addr();
        Counting {
            rt,
            addr,
            accepted,
            _server: server,
        }
    }

    pub fn accepted(&self) -> usize {
        self.accepted.load(Ordering::SeqCst)
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }
}

/// A raw TCP server on a thread of its own: for each connection, reads
/// one request head and calls `answer` with the socket.
pub fn raw_server<F>(answer: F) -> SocketAddr
where
    F: Fn(&mut std::net::TcpStream) + Send + 'static,
{
    use std::io::Read;
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            let mut head = Vec::new();
            let mut byte = [0];
            while !head.ends_with(b"\r\n\r\n") {
                match stream.read(&mut byte) {
                    Ok(1) => head.push(byte[0]),
                    _ => break,
                }
            }
            answer(&mut stream);
        }
    });
    addr
}
