//! A hello-world HTTP/1.1 server: hyper 1.x on every worker, each with its own
//! `SO_REUSEPORT` listener ([`Handle::serve_on_all`]); hearth's sockets reach
//! hyper through hyper-util's `TokioIo` (hearth's `tokio-io` feature).
//!
//! ```text
//! cargo run --release -p hearth --features tokio-io --example http [ADDR]   # default 127.0.0.1:8080
//! ```
//!
//! Try it with `curl http://127.0.0.1:8080/`.

use std::convert::Infallible;
use std::io;
use std::net::SocketAddr;

use http_body_util::Full;
use hyper::body::Bytes;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;

use hearth::net::TcpStream;
use hearth::runtime::Handle;

/// The body of every response.
pub const BODY: &[u8] = b"Hello, World!";

/// Starts the server on every worker of `rt`, bound to `addr` (port 0 picks
/// one), and returns the address it listens on. The server runs until the
/// runtime shuts down; out of file descriptors, its accept loops back off
/// (see [`hearth::runtime::Server`]).
pub fn start(rt: &Handle, addr: SocketAddr) -> io::Result<SocketAddr> {
    let server = hearth::block_on(rt.serve_on_all(addr, |stream, _peer| serve(stream)))?;
    Ok(server.local_addr())
}

async fn hello(_req: Request<hyper::body::Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    Ok(Response::new(Full::new(Bytes::from_static(BODY))))
}

/// Serves one connection (keep-alive) until the client closes it.
async fn serve(stream: TcpStream) {
    let _ = stream.set_nodelay(true);
    let conn = http1::Builder::new().serve_connection(TokioIo::new(stream), service_fn(hello));
    // A client that goes away mid-request is not the server's problem.
    let _ = conn.await;
}

#[allow(dead_code)] // the tests include this file for `start`
fn main() -> io::Result<()> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:8080".into());
    let addr: SocketAddr = addr.parse().map_err(io::Error::other)?;
    let rt = hearth::Runtime::builder().build()?;
    let addr = start(rt.handle(), addr)?;
    println!(
        "http: listening on http://{addr}/ with {} workers (Ctrl-C to stop)",
        rt.workers()
    );
    rt.block_on(std::future::pending::<()>());
    Ok(())
}
