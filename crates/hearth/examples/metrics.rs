//! Observability: what the workers did, read through `Handle::metrics`, and
//! a task that blocks its worker caught by the slow-poll threshold.
//!
//! ```text
//! cargo run -p hearth --example metrics                      # the metrics
//! cargo run -p hearth --example metrics --features tracing   # + the slow-poll warning
//! ```
//!
//! With the `tracing` feature the slow poll is also a `WARN` event that
//! names the line that spawned the task (`spawned.at`).

use std::io;
use std::time::Duration;

use hearth::runtime::RuntimeMetrics;

/// Polls longer than this are slow.
pub const THRESHOLD: Duration = Duration::from_millis(10);

/// A runtime of 2 workers with the slow-poll threshold set.
pub fn runtime() -> io::Result<hearth::Runtime> {
    hearth::Runtime::builder()
        .workers(2)
        .slow_poll_threshold(THRESHOLD)
        .build()
}

/// Runs a small workload on `rt` (of [`runtime`]) and waits for it:
///
/// - on every worker, 100 tasks that yield 5 times each (600 polls);
/// - on worker 0, a task that spins on an always-ready future and so runs
///   out of its cooperative budget over and over;
/// - on worker 1, a task that blocks its thread for 3 × the threshold: one
///   slow poll;
/// - 4 jobs on the blocking pool.
pub fn run(rt: &hearth::Runtime) -> io::Result<()> {
    let yielders = rt
        .spawn_on_all(|_worker| async {
            let tasks: Vec<_> = (0..100)
                .map(|_| {
                    hearth::spawn_local(async {
                        for _ in 0..5 {
                            hearth::yield_now().await;
                        }
                    })
                })
                .collect();
            for t in tasks {
                t.await.unwrap();
            }
        })
        .map_err(io::Error::other)?;
    let spinner = rt
        .spawn_on(0, || async {
            for _ in 0..10_000 {
                hearth::consume_budget().await;
            }
        })
        .map_err(io::Error::other)?;
    let blocker = rt
        .spawn_on(1, || async {
            // The mistake: a blocking call inside a task. (Its poll is timed
            // and counted before this task's awaiter runs on.)
            hearth::spawn_local(async { std::thread::sleep(3 * THRESHOLD) }).await
        })
        .map_err(io::Error::other)?;
    let blocking: Vec<_> = (0..4).map(|i| rt.spawn_blocking(move || i * 2)).collect();

    rt.block_on(async {
        for y in yielders {
            joined(y.await)?;
        }
        joined(spinner.await)?;
        joined(joined(blocker.await)?)?;
        for b in blocking {
            joined(b.await)?;
        }
        Ok(())
    })
}

/// A task's result, its panic as an error.
fn joined<T>(result: Result<T, hearth::JoinError>) -> io::Result<T> {
    result.map_err(|e| io::Error::other(e.to_string()))
}

/// One line per worker, then the blocking pool.
pub fn report(metrics: &RuntimeMetrics) -> String {
    let mut out =
        String::from("worker  spawned    polls  forced-yields  slow-polls  remote-wakes  parks\n");
    for w in 0..metrics.num_workers() {
        let Some(m) = metrics.worker(w) else { continue };
        out += &format!(
            "{w:>6}  {:>7}  {:>7}  {:>13}  {:>10}  {:>12}  {:>5}\n",
            m.spawned_tasks, m.polls, m.budget_forced_yields, m.slow_polls, m.remote_wakes, m.parks
        );
    }
    out += &format!(
        "blocking pool: {} threads ({} idle), {} jobs queued\n",
        metrics.num_blocking_threads(),
        metrics.num_idle_blocking_threads(),
        metrics.blocking_queue_depth()
    );
    out
}

#[allow(dead_code)] // the tests include this file for `run`
fn main() -> io::Result<()> {
    #[cfg(feature = "tracing")]
    tracing_subscriber::fmt().init(); // WARN and up: the slow poll
    let rt = runtime()?;
    run(&rt)?;
    print!("{}", report(&rt.metrics()));
    Ok(())
}
