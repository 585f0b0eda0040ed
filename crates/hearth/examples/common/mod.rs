//! Pieces the examples share (included with `#[path]` by each example and
//! by `tests/examples.rs`).
#![allow(dead_code)] // each includer uses a part

use std::io;
use std::net::SocketAddr;

use hearth::net::TcpListener;
use hearth::runtime::Handle;

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
    Fut: std::future::Future<Output = ()> + 'static,
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
