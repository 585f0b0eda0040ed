//! The pooled client on every worker: each worker makes its own `Client`
//! (its own pool) and sends its share of the requests over kept-alive
//! connections (or one HTTP/2 connection with `--h2`).
//!
//! ```text
//! cargo run --release -p hearth-hyper --example http &      # a server to ask
//! cargo run --release -p hearth-hyper --example client -- http://127.0.0.1:8080/ 10000 [--h2]
//! ```

use std::io;
use std::time::{Duration, Instant};

use hearth_hyper::client::{Builder, Client, Error};
use http_body_util::BodyExt;

/// What one worker's requests got.
#[derive(Debug, Default, Clone, Copy)]
pub struct Summary {
    /// Responses with a 2xx status.
    pub ok: usize,
    /// Other statuses.
    pub other: usize,
    /// Body bytes read.
    pub bytes: usize,
}

/// A client with timeouts, speaking HTTP/2 only (h2c) if `h2`.
pub fn client(h2: bool) -> Client {
    Builder::new()
        .connect_timeout(Duration::from_secs(5))
        .request_timeout(Duration::from_secs(10))
        .http2_only(h2)
        .build()
}

/// GETs `url` `requests` times, `concurrency` at a time, with `client`.
///
/// # Errors
///
/// The first request that failed.
pub async fn fetch(
    client: &Client,
    url: &str,
    requests: usize,
    concurrency: usize,
) -> Result<Summary, Error> {
    let per_task = requests / concurrency.max(1);
    let extra = requests % concurrency.max(1);
    let tasks: Vec<_> = (0..concurrency.max(1))
        .map(|i| {
            let client = client.clone();
            let url = url.to_owned();
            let n = per_task + usize::from(i < extra);
            hearth::spawn_local(async move {
                let mut summary = Summary::default();
                for _ in 0..n {
                    let response = client.get(url.as_str()).await?;
                    if response.status().is_success() {
                        summary.ok += 1;
                    } else {
                        summary.other += 1;
                    }
                    // Reading the body to the end frees the connection.
                    let mut body = response.into_body();
                    while let Some(frame) = body.frame().await {
                        if let Ok(data) = frame.map(|f| f.into_data()) {
                            summary.bytes += data.map_or(0, |d| d.len());
                        }
                    }
                }
                Ok::<_, Error>(summary)
            })
        })
        .collect();
    let mut total = Summary::default();
    for task in tasks {
        let s = task.await.expect("a request task panicked")?;
        total.ok += s.ok;
        total.other += s.other;
        total.bytes += s.bytes;
    }
    Ok(total)
}

/// Sends `requests` GETs to `url` from every worker of `rt`, 16 at a time
/// per worker, and adds up what they got.
///
/// # Errors
///
/// A worker's first failed request.
pub fn run(rt: &hearth::Runtime, url: &str, requests: usize, h2: bool) -> io::Result<Summary> {
    let workers = rt.workers();
    let url = url.to_owned();
    let handles = rt
        .spawn_on_all(move |worker| {
            let url = url.clone();
            let share = requests / workers + usize::from(worker < requests % workers);
            async move {
                fetch(&client(h2), &url, share, 16)
                    .await
                    .map_err(io::Error::other)
            }
        })
        .map_err(io::Error::other)?;
    rt.block_on(async {
        let mut total = Summary::default();
        for handle in handles {
            let s = handle
                .await
                .map_err(|e| io::Error::other(e.to_string()))??;
            total.ok += s.ok;
            total.other += s.other;
            total.bytes += s.bytes;
        }
        Ok(total)
    })
}

#[allow(dead_code)] // the tests include this file for `run`
fn main() -> io::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let h2 = args.iter().any(|a| a == "--h2");
    let mut positional = args.iter().filter(|a| !a.starts_with("--"));
    let url = positional
        .next()
        .cloned()
        .unwrap_or_else(|| "http://127.0.0.1:8080/".into());
    let requests: usize = match positional.next() {
        Some(n) => n.parse().map_err(io::Error::other)?,
        None => 1000,
    };
    let rt = hearth::Runtime::builder().build()?;
    let start = Instant::now();
    let summary = run(&rt, &url, requests, h2)?;
    let took = start.elapsed();
    println!(
        "{} ok, {} other, {} body bytes in {took:.2?} ({:.0} requests/s on {} workers)",
        summary.ok,
        summary.other,
        summary.bytes,
        requests as f64 / took.as_secs_f64(),
        rt.workers()
    );
    Ok(())
}
