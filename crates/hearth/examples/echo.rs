//! A TCP echo server on every worker: one `SO_REUSEPORT` listener per worker
//! ([`Handle::serve_on_all`]), the kernel spreads the connections over them,
//! and each connection is a task on the worker that accepted it.
//!
//! ```text
//! cargo run --release -p hearth --example echo [ADDR]   # default 127.0.0.1:7000
//! ```
//!
//! Try it with `nc 127.0.0.1 7000`.

use std::io;
use std::net::SocketAddr;

use hearth::net::TcpStream;
use hearth::runtime::Handle;

/// Starts the echo server on every worker of `rt`, bound to `addr` (port 0
/// picks one), and returns the address it listens on. The server runs until
/// the runtime shuts down; its graceful shutdown stops the accepting and lets
/// the open connections finish. Out of file descriptors, the accept loops
/// back off (see [`hearth::runtime::Server`]).
pub fn start(rt: &Handle, addr: SocketAddr) -> io::Result<SocketAddr> {
    // Completes once every worker listens.
    let server = hearth::block_on(rt.serve_on_all(addr, |stream, _peer| echo(stream)))?;
    Ok(server.local_addr())
}

/// Echoes until the peer closes its side (or the connection fails).
async fn echo(stream: TcpStream) {
    let _ = stream.set_nodelay(true);
    let mut buf = vec![0; 16 * 1024];
    loop {
        match stream.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => {
                if stream.write_all(&buf[..n]).await.is_err() {
                    return;
                }
            }
        }
    }
}

#[allow(dead_code)] // the tests include this file for `start`
fn main() -> io::Result<()> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:7000".into());
    let addr: SocketAddr = addr.parse().map_err(io::Error::other)?;
    let rt = hearth::Runtime::builder().build()?;
    let addr = start(rt.handle(), addr)?;
    println!(
        "echo: listening on {addr} with {} workers (Ctrl-C to stop)",
        rt.workers()
    );
    rt.block_on(std::future::pending::<()>());
    Ok(())
}
