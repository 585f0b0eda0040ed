//! Pieces the examples share (included with `#[path]` by each example and
//! by `tests/examples.rs`).
#![allow(dead_code)] // each includer uses a part

use std::future::Future;
use std::io;
use std::net::SocketAddr;

use hearth::net::{AcceptBackoff, TcpListener, TcpStream};
use hearth::runtime::Handle;

/// Accepts connections on `listener` for as long as it runs, each served by
/// `serve(stream)` in a task of its own.
///
/// Out of file descriptors (or another resource), it waits before it tries
/// again instead of spinning ([`AcceptBackoff`]: 5 ms doubling to 1 s), and
/// logs at most one line a second to stderr; the connections it has keep
/// being served meanwhile.
pub async fn accept_loop<F, Fut>(listener: TcpListener, serve: F)
where
    F: Fn(TcpStream) -> Fut,
    Fut: Future<Output = ()> + 'static,
{
    let mut backoff = AcceptBackoff::new();
    loop {
        match backoff.accept(|| listener.accept()).await {
            Ok((stream, _peer)) => drop(hearth::spawn_local(serve(stream))),
            Err(e) => eprintln!("accept: {e}; retrying in {:?}", backoff.delay()),
        }
    }
}

/// Binds one `SO_REUSEPORT` listener on each worker (created on the worker:
/// sockets belong to the reactor of the thread that makes them), all on the
/// port the first one got, and spawns `serve(listener)` there.
///
/// `serve` runs until the runtime's graceful shutdown begins
/// ([`hearth::runtime::shutdown_signal`]): then it is dropped with its
/// listener, so new connections are refused, while the connection tasks it
/// spawned finish what they are doing.
pub fn serve_on_all_workers<F, Fut>(
    rt: &Handle,
    addr: SocketAddr,
    serve: F,
) -> io::Result<SocketAddr>
where
    F: Fn(TcpListener) -> Fut + Clone + Send + 'static,
    Fut: Future<Output = ()> + 'static,
{
    let mut addr = addr;
    for worker in 0..rt.workers() {
        let (tx, rx) = std::sync::mpsc::channel();
        let serve = serve.clone();
        rt.spawn_on(worker, move || {
            // Runs on the worker: bind there, report, then serve.
            let listener = TcpListener::bind_reuseport(addr);
            let _ = tx.send(match &listener {
                Ok(l) => l.local_addr(),
                Err(e) => Err(io::Error::new(e.kind(), e.to_string())),
            });
            async move {
                if let Ok(listener) = listener {
                    let serving = std::pin::pin!(serve(listener));
                    let signal = hearth::runtime::shutdown_signal();
                    futures::future::select(serving, signal).await;
                }
            }
        })
        .map_err(io::Error::other)?;
        addr = rx.recv().map_err(io::Error::other)??;
    }
    Ok(addr)
}
