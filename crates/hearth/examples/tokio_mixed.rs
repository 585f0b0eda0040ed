//! A tokio application with a hearth subsystem (feature `tokio-host`).
//!
//! The tokio side is code that only runs on tokio: a hyper server on
//! `tokio::net`, and hyper-util's pooled HTTP client, which spawns its
//! connection tasks with `tokio::spawn`. The hearth side, hosted on the same
//! thread with `hearth::compat::tokio::LocalExecutor`, is a `!Send`
//! subsystem: request workers spawned with `spawn_local` share `Rc` state,
//! report to an aggregator through a hearth-sync channel and are joined with
//! hearth-future's `join_all`. The workers await the tokio client directly.
//!
//! ```sh
//! cargo run --release -p hearth --features tokio-host --example tokio_mixed
//! ```

use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::rc::Rc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use http_body_util::{BodyExt, Empty, Full};
use hyper::body::Bytes;
use hyper::{Request, Response};
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioIo};

/// What a run did.
#[derive(Debug)]
pub struct Summary {
    /// Responses received and checked.
    pub responses: usize,
    /// Body bytes received and checked.
    pub bytes: usize,
    /// Connections the server accepted (the client's pool reuses them).
    pub connections: usize,
    /// Responses per worker (hearth's `Rc` state).
    pub per_worker: BTreeMap<usize, usize>,
}

/// A tokio-only HTTP server: `GET /n` answers `n` bytes of `b'x'`.
pub async fn start_server() -> (SocketAddr, Arc<AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let connections = Arc::new(AtomicUsize::new(0));
    let count = connections.clone();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            count.fetch_add(1, Ordering::Relaxed);
            tokio::spawn(async move {
                let service =
                    hyper::service::service_fn(|req: Request<hyper::body::Incoming>| async move {
                        let n: usize = req.uri().path()[1..].parse().unwrap_or(0);
                        Ok::<_, Infallible>(Response::new(Full::new(Bytes::from(vec![b'x'; n]))))
                    });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    (addr, connections)
}

/// Runs `requests` requests from `workers` hearth tasks through tokio's
/// pooled client against a tokio server. Call it inside a tokio runtime.
pub async fn run(requests: usize, workers: usize) -> Summary {
    let (addr, connections) = start_server().await;
    let client: Client<_, Empty<Bytes>> = Client::builder(TokioExecutor::new()).build_http();
    let hearth = hearth::compat::tokio::LocalExecutor::new().unwrap();

    // hearth's side: !Send state, a hearth-sync channel, hearth tasks.
    let next = Rc::new(Cell::new(0usize));
    let per_worker: Rc<RefCell<BTreeMap<usize, usize>>> = Rc::default();
    let (tx, mut rx) = hearth_sync::mpsc::channel::<usize>(64);
    let aggregator = hearth.spawn_local(async move {
        let (mut responses, mut bytes) = (0, 0);
        while let Some(len) = rx.recv().await {
            responses += 1;
            bytes += len;
        }
        (responses, bytes)
    });
    let handles: Vec<_> = (0..workers)
        .map(|w| {
            let (client, next, per_worker, tx) =
                (client.clone(), next.clone(), per_worker.clone(), tx.clone());
            hearth.spawn_local(async move {
                loop {
                    let i = next.get();
                    if i >= requests {
                        break;
                    }
                    next.set(i + 1);
                    let len = 1 + i % 2000;
                    let uri = format!("http://{addr}/{len}").parse().unwrap();
                    // tokio-only code awaited inside a hearth task.
                    let resp = client.get(uri).await.expect("request failed");
                    assert!(resp.status().is_success());
                    let body = resp.into_body().collect().await.unwrap().to_bytes();
                    assert!(body.len() == len && body.iter().all(|&b| b == b'x'));
                    *per_worker.borrow_mut().entry(w).or_default() += 1;
                    tx.send(body.len()).await.unwrap();
                }
            })
        })
        .collect();
    drop(tx);
    let (responses, bytes) = hearth
        .run_until(async move {
            for r in hearth_future::join_all(handles).await {
                r.unwrap();
            }
            aggregator.await.unwrap()
        })
        .await;
    let per_worker = per_worker.borrow().clone();
    Summary {
        responses,
        bytes,
        connections: connections.load(Ordering::Relaxed),
        per_worker,
    }
}

#[allow(dead_code)] // `main` is unused where tests include this file.
fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let summary = rt.block_on(run(10_000, 16));
    println!("{summary:#?}");
}
