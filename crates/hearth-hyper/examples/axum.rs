//! An axum router served by hearth on every worker, over HTTP/1.1 and
//! HTTP/2 (h2c), with hyper's header-read timeout on.
//!
//! ```text
//! cargo run --release -p hearth-hyper --example axum [ADDR]   # default 127.0.0.1:8080
//! ```
//!
//! Try `curl http://127.0.0.1:8080/` and
//! `curl --http2-prior-knowledge http://127.0.0.1:8080/hello/you`. Ctrl-C
//! stops it gracefully.

use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use axum::extract::Path;
use axum::routing::get;
use axum::Router;

use hearth::runtime::{Handle, Server};

/// The routes.
pub fn app() -> Router {
    Router::new()
        .route("/", get(|| async { "Hello, World!" }))
        .route(
            "/hello/{name}",
            get(|Path(name): Path<String>| async move { format!("Hello, {name}!") }),
        )
}

/// Starts serving [`app`] on every worker of `rt`, bound to `addr` (port 0
/// picks one).
pub fn start(rt: &Handle, addr: SocketAddr) -> io::Result<Server> {
    hearth::block_on(hearth_hyper::serve_tower(rt, addr, app()))
}

#[allow(dead_code)] // the tests include this file for `start`
fn main() -> io::Result<()> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:8080".into());
    let addr: SocketAddr = addr.parse().map_err(io::Error::other)?;
    let rt = hearth::Runtime::builder().build()?;
    let server = start(rt.handle(), addr)?;
    println!(
        "axum: listening on http://{}/ with {} workers (Ctrl-C to stop)",
        server.local_addr(),
        rt.workers()
    );
    rt.block_on(hearth::signal::ctrl_c())?;
    rt.shutdown_graceful(Duration::from_secs(10))
        .map_err(io::Error::other)
}
