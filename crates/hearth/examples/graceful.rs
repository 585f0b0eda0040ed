//! A server that shuts down gracefully on Ctrl-C (or SIGTERM): it stops
//! accepting, finishes the requests in flight, closes idle connections, and
//! `main` returns once every worker is done.
//!
//! ```text
//! cargo run -p hearth --example graceful [ADDR]   # default 127.0.0.1:7001
//! ```
//!
//! The protocol is one line per request: a number of milliseconds to
//! "work". The server answers `working` at once and `done <ms>` when the
//! work is over. Try `printf '3000\n' | nc 127.0.0.1 7001` and press Ctrl-C
//! in the server's terminal while it works: the request still gets its
//! `done`.

use std::error::Error;
use std::io;
use std::net::SocketAddr;
use std::pin::pin;
use std::time::Duration;

use futures::future::{select, Either};
use hearth::net::TcpStream;
use hearth::runtime::{is_shutting_down, shutdown_signal, Handle};
use hearth::signal::unix::{signal, SignalKind};

/// How long the requests in flight get to finish after the signal.
pub const DRAIN_TIMEOUT: Duration = Duration::from_secs(30);

#[allow(dead_code)] // the tests include this file for `run`
#[hearth::main]
async fn main() -> Result<(), Box<dyn Error>> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:7001".into());
    run(addr.parse()?).await
}

/// Serves on `addr` (port 0 picks one) on every worker of the current
/// runtime until Ctrl-C or SIGTERM, then drains.
pub async fn run(addr: SocketAddr) -> Result<(), Box<dyn Error>> {
    // Listen before announcing the address, so that a signal sent as soon
    // as it is printed is caught rather than terminating the process.
    let mut interrupt = signal(SignalKind::interrupt())?;
    let mut terminate = signal(SignalKind::terminate())?;
    let rt = Handle::current();
    let addr = start(&rt, addr).await?;
    println!(
        "graceful: listening on {addr} with {} workers (Ctrl-C to stop)",
        rt.workers()
    );
    select(pin!(interrupt.recv()), pin!(terminate.recv())).await;
    println!("graceful: draining (at most {DRAIN_TIMEOUT:?})");
    rt.shutdown_graceful(DRAIN_TIMEOUT).await?;
    println!("graceful: drained, bye");
    Ok(())
}

/// Starts the server on every worker of `rt` ([`Handle::serve_on_all`]);
/// returns the address it listens on. Accepting ends at the runtime's
/// graceful shutdown; out of file descriptors, it backs off.
pub async fn start(rt: &Handle, addr: SocketAddr) -> io::Result<SocketAddr> {
    let server = rt.serve_on_all(addr, |stream, _peer| serve(stream)).await?;
    Ok(server.local_addr())
}

/// Answers the requests of one connection; once the shutdown has begun,
/// finishes the ones received and closes the connection.
async fn serve(stream: TcpStream) {
    let mut pending = Vec::new();
    let mut chunk = [0u8; 1024];
    loop {
        while let Some(end) = pending.iter().position(|&b| b == b'\n') {
            let line: Vec<u8> = pending.drain(..=end).collect();
            if answer(&stream, &line).await.is_err() {
                return;
            }
        }
        if is_shutting_down() {
            return; // idle: close it
        }
        let n = match select(pin!(stream.read(&mut chunk)), pin!(shutdown_signal())).await {
            Either::Left((Ok(0) | Err(_), _)) => return,
            Either::Left((Ok(n), _)) => n,
            Either::Right(((), _)) => return, // shutting down while idle
        };
        pending.extend_from_slice(&chunk[..n]);
    }
}

async fn answer(stream: &TcpStream, line: &[u8]) -> io::Result<()> {
    let request = String::from_utf8_lossy(line);
    let Ok(ms) = request.trim().parse::<u64>() else {
        return stream
            .write_all(b"error: send a number of milliseconds\n")
            .await;
    };
    stream.write_all(b"working\n").await?;
    hearth::time::sleep(Duration::from_millis(ms)).await;
    stream.write_all(format!("done {ms}\n").as_bytes()).await
}
