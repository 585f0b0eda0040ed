//! The `executor` suite's spawn workload as a process of its own, for
//! instruction counts and profiles of one runtime at a time:
//!
//! ```text
//! cargo build --release -p hearth-bench --example spawn_profile
//! valgrind --tool=callgrind target/release/examples/spawn_profile hearth 2 100000
//! valgrind --tool=callgrind target/release/examples/spawn_profile hearth 3 100000
//! ```
//!
//! Arguments: the runtime (`hearth`, `monoio-legacy`, `monoio-uring`), how
//! many runs, and the tasks per run. Each run spawns that many tasks that
//! return their index, then awaits every handle, as the suite does, on one
//! runtime built once and reused (as the suite's cases are). The difference
//! between the totals of two process runs that differ by one run is the
//! instructions of one warm run; divide by the tasks per run for the
//! instructions per spawned task.

use std::future::Future;
use std::hint::black_box;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Instant;

/// Spawns `n` tasks that return their index through `spawn`, then awaits
/// them all; returns the sum of the indices.
async fn spawn_heavy<H, S>(spawn: S, n: usize) -> usize
where
    H: Future<Output = usize>,
    S: Fn(usize) -> H,
{
    let mut handles = Vec::with_capacity(n);
    for i in 0..n {
        handles.push(spawn(i));
    }
    let mut sum = 0;
    for h in handles {
        sum += h.await;
    }
    sum
}

/// The time this thread has spent on a CPU, in ns (`/proc`'s schedstat),
/// if the kernel reports it: on a machine shared with other work, wall time
/// also counts the time slices the thread waited for.
fn cpu_ns() -> Option<u64> {
    let stat = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    stat.split_whitespace().next()?.parse().ok()
}

/// When a run started: wall clock and CPU time.
struct Start(Instant, Option<u64>);

fn start() -> Start {
    Start(Instant::now(), cpu_ns())
}

/// The suite's adapter (`executor_peers::Unwrapped`): the handle, its
/// `Result` unwrapped.
struct Unwrapped<H>(H);

impl<T, E: std::fmt::Debug, H: Future<Output = Result<T, E>> + Unpin> Future for Unwrapped<H> {
    type Output = T;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<T> {
        Pin::new(&mut self.0)
            .poll(cx)
            .map(|result| result.expect("task failed"))
    }
}

fn report(runtime: &str, run: usize, n: usize, start: Start, sum: usize) {
    assert_eq!(sum, n * (n - 1) / 2);
    let wall = start.0.elapsed().as_nanos() as f64 / n as f64;
    let cpu = match (start.1, cpu_ns()) {
        (Some(a), Some(b)) => format!("{:.1}", (b - a) as f64 / n as f64),
        _ => "?".to_owned(),
    };
    eprintln!("{runtime} run {run}: {wall:.1} ns wall, {cpu} ns on CPU per spawned task");
}

fn main() {
    let mut args = std::env::args().skip(1);
    let runtime = args.next().unwrap_or_else(|| "hearth".into());
    let runs: usize = args.next().map_or(3, |s| s.parse().expect("runs"));
    let n: usize = args.next().map_or(1_000_000, |s| s.parse().expect("tasks"));
    match runtime.as_str() {
        "hearth" => {
            let ex = hearth::Executor::new();
            for run in 0..runs {
                let start = start();
                let sum = ex.run_until(spawn_heavy(
                    |i| Unwrapped(hearth::spawn_local(async move { black_box(i) })),
                    n,
                ));
                report(&runtime, run, n, start, sum);
            }
        }
        "monoio-legacy" => {
            let mut rt = monoio::RuntimeBuilder::<monoio::LegacyDriver>::new()
                .build()
                .expect("monoio legacy runtime");
            for run in 0..runs {
                let start = start();
                let sum = rt.block_on(spawn_heavy(
                    |i| monoio::spawn(async move { black_box(i) }),
                    n,
                ));
                report(&runtime, run, n, start, sum);
            }
        }
        "monoio-uring" => {
            let mut rt = monoio::RuntimeBuilder::<monoio::IoUringDriver>::new()
                .build()
                .expect("monoio io_uring runtime");
            for run in 0..runs {
                let start = start();
                let sum = rt.block_on(spawn_heavy(
                    |i| monoio::spawn(async move { black_box(i) }),
                    n,
                ));
                report(&runtime, run, n, start, sum);
            }
        }
        other => {
            eprintln!("unknown runtime {other:?}: hearth, monoio-legacy or monoio-uring");
            std::process::exit(2);
        }
    }
}
