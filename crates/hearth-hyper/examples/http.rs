//! A hello-world hyper service on every worker, each with its own
//! `SO_REUSEPORT` listener, over HTTP/1.1 and HTTP/2 (h2c), with hyper's
//! header-read timeout: clients that send their request headers too slowly
//! (or nothing at all) are disconnected. No glue: `hearth_hyper`'s server
//! brings hyper's timer and executor.
//!
//! ```text
//! cargo run --release -p hearth-hyper --example http [ADDR]   # default 127.0.0.1:8080
//! ```
//!
//! Try `curl http://127.0.0.1:8080/`; `nc 127.0.0.1 8080` (type nothing)
//! is disconnected after 10 s. Ctrl-C stops it gracefully.

use std::convert::Infallible;
use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use hyper::body::{Bytes, Incoming};
use hyper::service::service_fn;
use hyper::{Request, Response};

use hearth::runtime::{Handle, Server};

/// The body of every response.
pub const BODY: &[u8] = b"Hello, World!";

async fn hello(
    _req: Request<Incoming>,
) -> Result<Response<http_body_util::Full<Bytes>>, Infallible> {
    Ok(Response::new(http_body_util::Full::new(
        Bytes::from_static(BODY),
    )))
}

/// Starts the server on every worker of `rt`, bound to `addr` (port 0
/// picks one), disconnecting clients that take longer than
/// `header_read_timeout` to send a request's headers.
pub fn start(rt: &Handle, addr: SocketAddr, header_read_timeout: Duration) -> io::Result<Server> {
    let serving = hearth_hyper::server::Builder::new()
        .header_read_timeout(header_read_timeout)
        .serve(rt, addr, service_fn(hello));
    hearth::block_on(serving)
}

#[allow(dead_code)] // the tests include this file for `start`
fn main() -> io::Result<()> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:8080".into());
    let addr: SocketAddr = addr.parse().map_err(io::Error::other)?;
    let rt = hearth::Runtime::builder().build()?;
    let server = start(rt.handle(), addr, Duration::from_secs(10))?;
    println!(
        "http: listening on http://{}/ with {} workers (Ctrl-C to stop)",
        server.local_addr(),
        rt.workers()
    );
    rt.block_on(hearth::signal::ctrl_c())?;
    rt.shutdown_graceful(Duration::from_secs(10))
        .map_err(io::Error::other)
}
