//! Suite `net`: servers on loopback under load, 2 server workers each.
//!
//! - **hyper**: hyper 1.x hello-world on hearth (2 workers, one
//!   `SO_REUSEPORT` listener each), tokio multi-thread (2 workers, one
//!   listener) and tokio with one `current_thread` runtime per core
//!   (`SO_REUSEPORT`); load from `wrk -t2 -c256 -d8s --latency`.
//! - **raw**: a minimal HTTP responder (read a request, write a fixed
//!   response, keep-alive) on hearth, tokio multi-thread and monoio (2
//!   threads, `SO_REUSEPORT`, io_uring when the kernel has it); same wrk load.
//!   The hyper servers are configured alike: hyper-util's auto builder
//!   (HTTP/1.1, and HTTP/2 by prior knowledge) with a 30 s header-read
//!   timeout, through hearth-hyper's `serve` on hearth and by hand with
//!   `TokioTimer` on tokio.
//! - **client**: our HTTP clients as load generators against one server
//!   (the raw responder on tokio multi-thread): hearth-hyper's pooled
//!   `Client` on hearth (2 workers, a client each) against hyper-util's
//!   pooled `Client` on tokio multi-thread (2 workers, one client), both
//!   with 64 requests in flight, HTTP/1.1 keep-alive.
//! - **h2c**: HTTP/2 by prior knowledge end to end (wrk has no HTTP/2):
//!   hearth-hyper's client against hearth-hyper's server, and hyper-util's
//!   client against hyper-util's auto server on tokio multi-thread; 64
//!   streams in flight. hearth's client opens one connection per worker
//!   (2), hyper-util's one in all.
//! - **echo**: 1 KiB messages on 100 connections from our own client (two
//!   threads, each a tokio `current_thread` runtime with 50 connections, the
//!   same client for every server) against hearth, tokio multi-thread and
//!   monoio.
//!
//! hearth's rows run on its default driver (io_uring here: stream reads
//! through multishot receives, about 1.04 system calls per request) and, in
//! the `(epoll)` rows, on epoll (`recvfrom` + `sendto`, about 2.08).
//!
//! Every server runs in this process on threads of its own; wrk and the echo
//! client share the machine's cores with it. Each configuration runs once
//! (the numbers of one run are noisy: compare ratios within a run);
//! `HEARTH_BENCH_NET_ROUNDS=N` runs N rounds of every configuration and
//! reports the medians, plus each round's hearth ratios.
//!
//! wrk must be on `PATH` (`apt-get install -y wrk`); without it the hyper and
//! raw rows are skipped with a message, and the rest of the run goes on.
//! `HEARTH_BENCH_NET_SECS` overrides the 6 s per wrk run (and scales the echo
//! runs) for quick trials; `HEARTH_BENCH_NET_ONLY=hearth` runs only the
//! configurations whose name contains that text (e.g. to profile one;
//! `=name` selects exactly that one). `HEARTH_BENCH_NET_SPLIT=1` runs the wrk
//! rows with every server on one worker pinned to CPU 0 and wrk pinned to
//! CPU 1 (`taskset`): p99 without the load generator preempting the server.

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::process::Command;
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use crate::harness::{fmt_num, Config, Row, Stats, SuiteReport, Target};

// ---- row names ----

pub const HYPER_TOKIO_MT: &str = "hyper · tokio multi-thread";
pub const HYPER_TOKIO_PER_CORE: &str = "hyper · tokio current_thread per core";
pub const HYPER_HEARTH: &str = "hyper · hearth";
pub const RAW_TOKIO_MT: &str = "raw · tokio multi-thread";
pub const RAW_MONOIO: &str = "raw · monoio";
pub const RAW_HEARTH: &str = "raw · hearth";
pub const CLIENT_TOKIO_MT: &str = "client · tokio multi-thread";
pub const CLIENT_HEARTH: &str = "client · hearth";
pub const H2C_TOKIO_MT: &str = "h2c · tokio multi-thread";
pub const H2C_HEARTH: &str = "h2c · hearth";
/// hearth with its epoll driver; the rows above use the default
/// (`IoDriver::Auto`: io_uring where the kernel allows it).
pub const HYPER_HEARTH_EPOLL: &str = "hyper · hearth (epoll)";
pub const RAW_HEARTH_EPOLL: &str = "raw · hearth (epoll)";
pub const ECHO_TOKIO_MT: &str = "echo · tokio multi-thread";
pub const ECHO_MONOIO: &str = "echo · monoio";
pub const ECHO_HEARTH: &str = "echo · hearth";

/// Server worker threads: 2, or 1 in the split-cores run.
fn workers() -> usize {
    if split() {
        1
    } else {
        2
    }
}

/// The split-cores run (`HEARTH_BENCH_NET_SPLIT=1`): every server on one
/// worker pinned to CPU 0, wrk (one thread) pinned to CPU 1 with `taskset`,
/// so the load generator never preempts the server. Only the wrk rows run.
/// This is the issue's "load generator away from the server's cores", at the
/// scale a 2-core host allows.
fn split() -> bool {
    std::env::var("HEARTH_BENCH_NET_SPLIT").is_ok_and(|v| v == "1")
}

/// wrk's threads: 2, or 1 in the split-cores run.
fn wrk_threads() -> usize {
    if split() {
        1
    } else {
        2
    }
}

/// Whether every server pins its thread `i` to CPU `i` (hearth's
/// `pin_to_cores`, and the same by hand for tokio and monoio); wrk and the
/// echo client stay unpinned. `HEARTH_BENCH_NET_PIN=0` turns it off (not in
/// the split-cores run, which always pins).
fn pin() -> bool {
    split() || std::env::var("HEARTH_BENCH_NET_PIN").map_or(true, |v| v != "0")
}

/// Pins the calling thread to CPU `i` (mod the CPUs there are), if pinning.
fn pin_thread(i: usize) {
    if !pin() {
        return;
    }
    if let Some(cores) = core_affinity::get_core_ids() {
        if !cores.is_empty() {
            // Threads past the workers (tokio's blocking pool) share the
            // workers' CPUs, so the split-cores run keeps CPU 1 for wrk.
            core_affinity::set_for_current(cores[(i % workers()) % cores.len()]);
        }
    }
}
const WRK_CONNECTIONS: usize = 256;
/// 6 s per wrk run keeps the main job under three minutes with the eight
/// wrk configurations (`--full` takes three rounds of each).
const WRK_SECS: u64 = 6;
const ECHO_CONNECTIONS: usize = 100;
const ECHO_CLIENT_THREADS: usize = 2;
const ECHO_MSG: usize = 1024;
const ECHO_SECS: f64 = 2.0;
/// Requests in flight in the client and h2c runs.
const CLIENT_CONCURRENCY: usize = 64;
/// Worker threads of the client runtimes.
const CLIENT_THREADS: usize = 2;

const HELLO: &[u8] = b"Hello, World!";
const RAW_RESPONSE: &[u8] =
    b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 13\r\n\r\nHello, World!";

/// hyper on hearth: at least 1.15× the requests/s of tokio multi-thread,
/// i.e. at most 1/1.15 of its time per request.
const HYPER_TARGET: Target = Target::RatioAtMost(1.0 / 1.15);
/// raw hearth: at least monoio's requests/s.
const RAW_TARGET: Target = Target::RatioToFastestAtMost {
    cases: &[RAW_MONOIO],
    max: 1.0,
    label: "monoio",
};
/// p99 latency no worse than tokio multi-thread's.
const P99_TARGET: Target = Target::RatioAtMost(1.0);

// ---- what one run measured ----

#[derive(Clone, Debug)]
struct Measured {
    name: &'static str,
    /// Requests (or echo round trips) per second.
    per_sec: f64,
    p50: Duration,
    p99: Duration,
    /// Errors reported by the load generator (wrk's socket errors and
    /// non-2xx responses; the echo client's failed connections).
    errors: u64,
    /// On-CPU time of this process's threads (the server's) per request,
    /// for the wrk runs (the echo client runs in this process: `None`).
    cpu_per_request: Option<Duration>,
}

pub fn run(_config: &Config) -> SuiteReport {
    let wrk_secs = std::env::var("HEARTH_BENCH_NET_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(WRK_SECS);
    let rounds: usize = std::env::var("HEARTH_BENCH_NET_ROUNDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .filter(|&n| n > 0)
        .unwrap_or(1);
    let echo_secs = ECHO_SECS * wrk_secs as f64 / WRK_SECS as f64;
    let only = std::env::var("HEARTH_BENCH_NET_ONLY").unwrap_or_default();
    // `=name`: that configuration alone.
    let selected = |name: &str| match only.strip_prefix('=') {
        Some(exact) => name == exact,
        None => name.contains(only.as_str()),
    };
    // Every round runs every configuration once, in the same order; the
    // report takes each configuration's median over the rounds.
    let mut runs: Vec<Vec<Measured>> = Vec::new();
    let mut record = |m: Measured| match runs.iter_mut().find(|r| r[0].name == m.name) {
        Some(r) => r.push(m),
        None => runs.push(vec![m]),
    };
    let mut notes = Vec::new();

    let wrk = wrk_version();
    if wrk.is_none() {
        eprintln!(
            "net: `wrk` is not on PATH; skipping the hyper and raw rows. \
             Install it with `apt-get update && apt-get install -y wrk` (Debian/Ubuntu)."
        );
        notes.push(
            "**wrk was not found on PATH**: the hyper and raw rows were skipped. \
             Install it with `apt-get install -y wrk`."
                .into(),
        );
    }
    type Start = fn(App) -> Server;
    type Load = fn(&'static str, SocketAddr, bool, Duration) -> Measured;
    for _ in 0..rounds {
        if wrk.is_some() {
            let wrk_runs: [(&'static str, App, Start); 8] = [
                (HYPER_TOKIO_MT, App::Hyper, tokio_mt),
                (HYPER_TOKIO_PER_CORE, App::Hyper, tokio_per_core),
                (HYPER_HEARTH, App::Hyper, hearth_hyper_server),
                (HYPER_HEARTH_EPOLL, App::Hyper, hearth_hyper_server_epoll),
                (RAW_TOKIO_MT, App::Raw, tokio_mt),
                (RAW_MONOIO, App::Raw, monoio_server),
                (RAW_HEARTH, App::Raw, hearth_server),
                (RAW_HEARTH_EPOLL, App::Raw, hearth_server_epoll),
            ];
            for (name, app, start) in wrk_runs.into_iter().filter(|r| selected(r.0)) {
                let server = start(app);
                let before = thread_cpu_times();
                let result = run_wrk(server.addr, wrk_secs);
                let cpu = cpu_since(&before);
                server.stop();
                match result {
                    Ok(w) => record(Measured {
                        name,
                        per_sec: w.per_sec,
                        p50: w.p50,
                        p99: w.p99,
                        errors: w.errors,
                        cpu_per_request: cpu
                            .filter(|_| w.requests > 0)
                            .map(|c| c / w.requests as u32),
                    }),
                    Err(e) => {
                        eprintln!("net: wrk against {name} failed: {e}");
                        notes.push(format!("**{name}**: wrk failed: {e}"));
                    }
                }
            }
        }
        let client_runs: [(&'static str, App, Start, Load); 4] = [
            (CLIENT_TOKIO_MT, App::Raw, tokio_mt, tokio_client_load),
            (CLIENT_HEARTH, App::Raw, tokio_mt, hearth_client_load),
            (H2C_TOKIO_MT, App::Hyper, tokio_mt, tokio_client_load),
            (
                H2C_HEARTH,
                App::Hyper,
                hearth_hyper_server,
                hearth_client_load,
            ),
        ];
        // The split-cores run measures the wrk rows only: these clients run
        // in this process and would share the server's core.
        let in_process = |name: &str| selected(name) && !split();
        for (name, app, start, load) in client_runs.into_iter().filter(|r| in_process(r.0)) {
            let server = start(app);
            let h2 = name.starts_with("h2c");
            let m = load(name, server.addr, h2, Duration::from_secs_f64(echo_secs));
            server.stop();
            record(m);
        }
        let echo_runs: [(&'static str, Start); 3] = [
            (ECHO_TOKIO_MT, tokio_mt),
            (ECHO_MONOIO, monoio_server),
            (ECHO_HEARTH, hearth_server),
        ];
        for (name, start) in echo_runs.into_iter().filter(|r| in_process(r.0)) {
            let server = start(App::Echo);
            let m = echo_client(name, server.addr, Duration::from_secs_f64(echo_secs));
            server.stop();
            record(m);
        }
    }

    if rounds > 1 {
        notes.push(per_round_ratios(&runs));
    }
    let measured: Vec<Measured> = runs.iter().map(|r| median_of(r)).collect();
    report(
        &measured,
        wrk.as_deref(),
        wrk_secs,
        echo_secs,
        rounds,
        notes,
    )
}

/// One configuration's runs as one: the median of each figure on its own.
fn median_of(runs: &[Measured]) -> Measured {
    fn median<T: Copy + PartialOrd>(mut v: Vec<T>) -> T {
        v.sort_by(|a, b| a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal));
        v[v.len() / 2]
    }
    let cpu: Vec<Duration> = runs.iter().filter_map(|m| m.cpu_per_request).collect();
    Measured {
        name: runs[0].name,
        per_sec: median(runs.iter().map(|m| m.per_sec).collect()),
        p50: median(runs.iter().map(|m| m.p50).collect()),
        p99: median(runs.iter().map(|m| m.p99).collect()),
        errors: runs.iter().map(|m| m.errors).sum(),
        cpu_per_request: (!cpu.is_empty()).then(|| median(cpu)),
    }
}

/// A note listing, round by round, each hearth configuration's requests/s
/// and p99 against tokio multi-thread in the same round: how much the
/// ratios move between rounds.
fn per_round_ratios(runs: &[Vec<Measured>]) -> String {
    let group = |name: &str| name.split(" · ").next().unwrap_or_default().to_owned();
    let mut out = String::from(
        "Each round's ratios against tokio multi-thread in the same round (requests/s, p99):\n",
    );
    for hearth in runs.iter().filter(|r| r[0].name.ends_with("· hearth")) {
        let base = format!("{} · tokio multi-thread", group(hearth[0].name));
        let Some(base) = runs.iter().find(|r| r[0].name == base) else {
            continue;
        };
        let rounds: Vec<String> = hearth
            .iter()
            .zip(base)
            .map(|(h, b)| {
                format!(
                    "{:.2}× / {:.2}×",
                    h.per_sec / b.per_sec,
                    h.p99.as_secs_f64() / b.p99.as_secs_f64()
                )
            })
            .collect();
        let _ = write!(out, "\n- {}: {}", hearth[0].name, rounds.join(", "));
    }
    out
}

/// The rows (ns per request and p99, each against tokio multi-thread on the
/// same workload) and the notes with the table in requests/s.
fn report(
    measured: &[Measured],
    wrk: Option<&str>,
    wrk_secs: u64,
    echo_secs: f64,
    rounds: usize,
    mut notes: Vec<String>,
) -> SuiteReport {
    let find = |name: &str| measured.iter().find(|m| m.name == name);
    let baseline_of = |name: &str| {
        let group = name.split(" · ").next().unwrap_or_default();
        find(&format!("{group} · tokio multi-thread"))
    };
    let mut rows = Vec::new();
    for m in measured {
        let base = baseline_of(m.name);
        let is_baseline = base.is_some_and(|b| b.name == m.name);
        let ns = 1e9 / m.per_sec;
        let p99 = m.p99.as_nanos() as f64;
        let (ratio, p99_ratio) = match base {
            Some(b) => (b.per_sec / m.per_sec, p99 / b.p99.as_nanos() as f64),
            None => (f64::NAN, f64::NAN),
        };
        let (target, p99_target) = match m.name {
            HYPER_HEARTH => (Some(HYPER_TARGET), Some(P99_TARGET)),
            RAW_HEARTH => (Some(RAW_TARGET), Some(P99_TARGET)),
            _ => (None, None),
        };
        let raw_median = find(RAW_MONOIO).map(|r| 1e9 / r.per_sec);
        let met = |t: Target, ratio: f64, median: f64| match t {
            Target::RatioAtMost(max) => ratio <= max,
            Target::RatioToFastestAtMost { max, .. } => {
                raw_median.is_some_and(|b| median / b <= max)
            }
            _ => false,
        };
        let flat = |x: f64| Stats {
            median: x,
            p25: x,
            p75: x,
            min: x,
            max: x,
        };
        rows.push(Row {
            name: m.name.to_owned(),
            is_baseline,
            stats: flat(ns),
            ratio,
            target: target.map(|t| (t, met(t, ratio, ns))),
            allocs_per_op: 0.0,
            ops_run: 0,
        });
        rows.push(Row {
            name: format!("{} · p99 latency", m.name),
            is_baseline,
            stats: flat(p99),
            ratio: p99_ratio,
            target: p99_target.map(|t| (t, met(t, p99_ratio, p99))),
            allocs_per_op: 0.0,
            ops_run: 0,
        });
    }

    let mut table = String::from(
        "| case | requests/s | vs tokio multi-thread | p50 | p99 | p99 vs tokio multi-thread | server CPU per request | vs tokio multi-thread | errors |\n\
         |---|--:|--:|--:|--:|--:|--:|--:|--:|\n",
    );
    for m in measured {
        let base = baseline_of(m.name);
        let (ratio, p99_ratio) = match base {
            Some(b) => (
                format!("{:.2}×", m.per_sec / b.per_sec),
                format!("{:.2}×", m.p99.as_secs_f64() / b.p99.as_secs_f64()),
            ),
            None => ("—".into(), "—".into()),
        };
        let cpu = m.cpu_per_request.map_or("—".into(), fmt_dur);
        let cpu_ratio = match (m.cpu_per_request, base.and_then(|b| b.cpu_per_request)) {
            (Some(c), Some(b)) => format!("{:.2}×", c.as_secs_f64() / b.as_secs_f64()),
            _ => "—".into(),
        };
        let _ = writeln!(
            table,
            "| {} | {} | {ratio} | {} | {} | {p99_ratio} | {cpu} | {cpu_ratio} | {} |",
            m.name,
            fmt_num(m.per_sec),
            fmt_dur(m.p50),
            fmt_dur(m.p99),
            m.errors
        );
    }
    notes.insert(
        0,
        format!(
            "The same runs in requests per second (echo: round trips of {ECHO_MSG} bytes per second), \
             ratios against tokio multi-thread on the same workload (higher is better for requests/s, \
             lower for p99 and CPU). *Server CPU per request* is the on-CPU time of the server's \
             threads (kernel time of their syscalls included) over the wrk run divided by the requests \
             wrk completed: what a request costs the server, whatever share of the cores wrk took \
             (not measured for echo, client and h2c, whose clients run in this process):\n\n{table}"
        ),
    );
    let load = wrk.map_or_else(
        || "wrk (missing)".to_owned(),
        |v| {
            format!(
                "`wrk -t{} -c{WRK_CONNECTIONS} -d{wrk_secs}s --latency` ({v})",
                wrk_threads()
            )
        },
    );
    let monoio_driver = if monoio_uses_uring() {
        "io_uring"
    } else {
        "its epoll driver (no io_uring here)"
    };
    notes.push(if split() {
        format!(
            "Rows above: requests per second, higher is better, and the `p99 latency` rows in ms, \
             lower is better; ratios are against tokio multi-thread on the same workload. \
             **Split cores** (HEARTH_BENCH_NET_SPLIT=1): every server runs one worker thread \
             pinned to CPU 0 (tokio multi-thread with `worker_threads(1)`); the load, \
             `taskset -c 1` {load} for hyper and raw ({wrk_secs}s per run), runs on CPU 1, so the \
             load generator never preempts a server thread. monoio on {monoio_driver}; in this \
             process. The echo, client and h2c rows (their clients run in this process) are not \
             part of this run."
        )
    } else {
        format!(
            "Rows above: requests (echo: round trips) per second, higher is better, and the `p99 latency` \
             rows in ms, lower is better; ratios are against tokio multi-thread on the same workload. \
             Servers: {} worker threads each, {}; monoio on {monoio_driver}; in this process. Load: {load} for hyper and raw ({wrk_secs}s per run); our echo client: \
             {ECHO_CLIENT_THREADS} threads × {} connections, {echo_secs:.1} s per run; client and h2c: \
             the clients themselves, {CLIENT_CONCURRENCY} requests in flight on {CLIENT_THREADS} threads, {echo_secs:.1} s per run. **The load generator \
             shares the 2 cores with the server**, so every number is server + client work; a faster \
             server leaves more CPU to the client.",
            workers(),
            if pin() {
                "thread i pinned to CPU i for every runtime (HEARTH_BENCH_NET_PIN=0: unpinned)"
            } else {
                "unpinned"
            },
            ECHO_CONNECTIONS / ECHO_CLIENT_THREADS,
        )
    });
    notes.push(format!(
        "hearth's rows without a driver in their name ran on {}. On io_uring (Linux 6.0+) a stream \
         reads from a multishot receive into the ring's provided buffers and writes with `sendto` \
         after readiness: about 1.04 system calls per request (the send, plus a share of one \
         `io_uring_enter` per executor tick for all sockets); the (epoll) rows read with `recvfrom` \
         after readiness: about 2.08 (`perf stat -e raw_syscalls:sys_enter` on \
         `examples/net_server`; DESIGN.md, the io_uring driver, step 2).",
        hearth::runtime::IoDriver::Auto
            .resolve()
            .map_or_else(|e| format!("no driver ({e})"), |d| d.to_string()),
    ));
    SuiteReport {
        // An unpinned run (HEARTH_BENCH_NET_PIN=0) and a split-cores run
        // (HEARTH_BENCH_NET_SPLIT=1) get sections of their own.
        name: if split() {
            "net-split"
        } else if pin() {
            "net"
        } else {
            "net-unpinned"
        },
        title: if split() {
            "the wrk servers on one core, wrk on the other".into()
        } else if pin() {
            "servers on loopback under wrk and an echo client".into()
        } else {
            "the same servers, unpinned (every runtime at its default placement)".into()
        },
        baseline: "tokio multi-thread (same workload)".into(),
        samples: rounds,
        sample_time: Duration::from_secs(wrk_secs),
        rows,
        notes,
        sampling: Some(if rounds == 1 {
            format!("One run per configuration ({wrk_secs} s of wrk; {echo_secs:.1} s of echo)")
        } else {
            format!(
                "{rounds} rounds, each running every configuration once ({wrk_secs} s of wrk; \
                 {echo_secs:.1} s of echo); each figure is the median over the rounds \
                 (HEARTH_BENCH_NET_ROUNDS={rounds})"
            )
        }),
    }
}

fn fmt_dur(d: Duration) -> String {
    let us = d.as_secs_f64() * 1e6;
    if us < 1000.0 {
        format!("{} µs", fmt_num(us))
    } else {
        format!("{} ms", fmt_num(us / 1e3))
    }
}

// ---- wrk ----

/// wrk's version line, or `None` if it is not on `PATH`.
fn wrk_version() -> Option<String> {
    // `wrk --version` prints its banner and exits with status 1.
    let out = Command::new("wrk").arg("--version").output().ok()?;
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    Some(
        text.lines()
            .next()
            .map(|l| l.split(" [").next().unwrap_or(l).trim().to_owned())
            .unwrap_or_else(|| "wrk".into()),
    )
}

/// Runs wrk against `addr`: requests/s, p50, p99, errors.
/// What one wrk run reports.
struct Wrk {
    per_sec: f64,
    /// Requests completed in the run.
    requests: u64,
    p50: Duration,
    p99: Duration,
    errors: u64,
}

/// The on-CPU time so far of each thread of this process (Linux:
/// `/proc/self/task/*/schedstat`, nanoseconds), by thread id; empty elsewhere.
fn thread_cpu_times() -> std::collections::HashMap<u64, u64> {
    let mut times = std::collections::HashMap::new();
    let Ok(dir) = std::fs::read_dir("/proc/self/task") else {
        return times;
    };
    for entry in dir.flatten() {
        let Some(tid) = entry.file_name().to_str().and_then(|t| t.parse().ok()) else {
            continue;
        };
        let on_cpu = std::fs::read_to_string(entry.path().join("schedstat"))
            .ok()
            .and_then(|s| s.split_whitespace().next()?.parse().ok());
        if let Some(ns) = on_cpu {
            times.insert(tid, ns);
        }
    }
    times
}

/// The on-CPU time this process's threads spent since `before`, counting
/// the threads alive at both ends (the server's threads live through a run).
fn cpu_since(before: &std::collections::HashMap<u64, u64>) -> Option<Duration> {
    let after = thread_cpu_times();
    let ns: u64 = after
        .iter()
        .filter_map(|(tid, end)| Some(end.saturating_sub(*before.get(tid)?)))
        .sum();
    (ns > 0).then(|| Duration::from_nanos(ns))
}

fn run_wrk(addr: SocketAddr, secs: u64) -> Result<Wrk, String> {
    // The split-cores run pins wrk to CPU 1, away from the server's CPU 0.
    let mut cmd = if split() {
        let mut c = Command::new("taskset");
        c.args(["-c", "1", "wrk"]);
        c
    } else {
        Command::new("wrk")
    };
    let out = cmd
        .args([
            format!("-t{}", wrk_threads()),
            format!("-c{WRK_CONNECTIONS}"),
            format!("-d{secs}s"),
            "--latency".into(),
            format!("http://{addr}/"),
        ])
        .output()
        .map_err(|e| format!("{e} (running {:?})", cmd.get_program()))?;
    let text = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        return Err(format!("{}: {text}", out.status));
    }
    parse_wrk(&text).ok_or_else(|| format!("cannot parse wrk's output:\n{text}"))
}

/// Parses `Requests/sec:`, `N requests in`, the `--latency` distribution's
/// 50% and 99% lines, socket errors and non-2xx responses.
fn parse_wrk(text: &str) -> Option<Wrk> {
    let mut requests = None;
    let mut rps = None;
    let mut p50 = None;
    let mut p99 = None;
    let mut errors = 0;
    for line in text.lines().map(str::trim) {
        if let Some((n, _)) = line.split_once(" requests in ") {
            requests = n.trim().parse().ok();
        } else if let Some(v) = line.strip_prefix("Requests/sec:") {
            rps = v.trim().parse().ok();
        } else if let Some(v) = line.strip_prefix("50%") {
            p50 = parse_latency(v.trim());
        } else if let Some(v) = line.strip_prefix("99%") {
            p99 = parse_latency(v.trim());
        } else if let Some(v) = line.strip_prefix("Non-2xx or 3xx responses:") {
            errors += v.trim().parse::<u64>().unwrap_or(0);
        } else if let Some(v) = line.strip_prefix("Socket errors:") {
            // "connect 0, read 0, write 0, timeout 0"
            errors += v
                .split(',')
                .filter_map(|part| part.split_whitespace().nth(1)?.parse::<u64>().ok())
                .sum::<u64>();
        }
    }
    Some(Wrk {
        per_sec: rps?,
        requests: requests?,
        p50: p50?,
        p99: p99?,
        errors,
    })
}

/// `"1.23ms"`, `"456.00us"`, `"1.02s"`, `"2.00m"`.
fn parse_latency(v: &str) -> Option<Duration> {
    let split = v.find(|c: char| c.is_ascii_alphabetic())?;
    let (num, unit) = v.split_at(split);
    let num: f64 = num.parse().ok()?;
    let secs = match unit {
        "us" => num / 1e6,
        "ms" => num / 1e3,
        "s" => num,
        "m" => num * 60.0,
        "h" => num * 3600.0,
        _ => return None,
    };
    Some(Duration::from_secs_f64(secs))
}

// ---- servers ----

#[derive(Clone, Copy, Debug)]
enum App {
    Hyper,
    Raw,
    Echo,
}

/// A running server and how to stop it.
struct Server {
    addr: SocketAddr,
    stop: Box<dyn FnOnce()>,
}

impl Server {
    fn stop(self) {
        (self.stop)();
    }
}

/// `n` listeners on one loopback port with `SO_REUSEPORT` (the first picks
/// the port); non-blocking, backlog 1024.
fn listeners(n: usize) -> (SocketAddr, Vec<std::net::TcpListener>) {
    use socket2::{Domain, Socket, Type};
    let mut addr: SocketAddr = "127.0.0.1:0".parse().unwrap();
    let ls = (0..n)
        .map(|_| {
            let s = Socket::new(Domain::IPV4, Type::STREAM, None).unwrap();
            s.set_reuse_address(true).unwrap();
            s.set_reuse_port(true).unwrap();
            s.set_nonblocking(true).unwrap();
            s.bind(&addr.into()).unwrap();
            s.listen(1024).unwrap();
            addr = s.local_addr().unwrap().as_socket().unwrap();
            s.into()
        })
        .collect();
    (addr, ls)
}

/// Counts the complete requests (`\r\n\r\n`-terminated heads; no bodies) in
/// `data`; `matched` carries a partial terminator over from the previous read.
fn count_requests(matched: &mut u8, data: &[u8]) -> usize {
    const END: &[u8; 4] = b"\r\n\r\n";
    let mut n = 0;
    for &b in data {
        if b == END[*matched as usize] {
            *matched += 1;
            if *matched == 4 {
                n += 1;
                *matched = 0;
            }
        } else {
            *matched = u8::from(b == b'\r');
        }
    }
    n
}

/// The bytes answering `n` requests.
fn responses(n: usize) -> std::borrow::Cow<'static, [u8]> {
    if n == 1 {
        RAW_RESPONSE.into()
    } else {
        RAW_RESPONSE.repeat(n).into()
    }
}

async fn hello(
    _req: hyper::Request<hyper::body::Incoming>,
) -> Result<hyper::Response<http_body_util::Full<hyper::body::Bytes>>, std::convert::Infallible> {
    Ok(hyper::Response::new(http_body_util::Full::new(
        hyper::body::Bytes::from_static(HELLO),
    )))
}

/// hyper-util's auto server (HTTP/1.1 and h2c) on a tokio stream, with
/// the header-read timeout hearth-hyper sets by default.
async fn serve_hyper(stream: tokio::net::TcpStream) {
    use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
    let mut builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(Duration::from_secs(30));
    builder.http2().timer(TokioTimer::new());
    let _ = builder
        .serve_connection(TokioIo::new(stream), hyper::service::service_fn(hello))
        .await;
}

/// hearth-hyper's server (`serve`: HTTP/1.1 and h2c, its default
/// header-read timeout) on 2 workers; every `app` is served as `Hyper`.
fn hearth_hyper_server(_app: App) -> Server {
    hearth_hyper_server_on(hearth::runtime::IoDriver::Auto)
}

fn hearth_hyper_server_epoll(_app: App) -> Server {
    hearth_hyper_server_on(hearth::runtime::IoDriver::Epoll)
}

fn hearth_hyper_server_on(driver: hearth::runtime::IoDriver) -> Server {
    let rt = hearth::Runtime::builder()
        .workers(workers())
        .pin_to_cores(pin())
        .io_driver(driver)
        .build()
        .unwrap();
    let serving = hearth_hyper::serve(
        &rt,
        "127.0.0.1:0".parse().unwrap(),
        hyper::service::service_fn(hello),
    );
    let server = rt.block_on(serving).unwrap();
    Server {
        addr: server.local_addr(),
        stop: Box::new(move || rt.shutdown()),
    }
}

/// What the client tasks of a load run saw: latencies (ns) and errors.
type Seen = (Vec<u32>, u64);

/// A load run's figures from its tasks' latencies.
fn measured(name: &'static str, seen: Vec<Seen>, time: Duration) -> Measured {
    let mut lat = Vec::new();
    let mut errors = 0;
    for (l, e) in seen {
        lat.extend(l);
        errors += e;
    }
    lat.sort_unstable();
    let pct = |q: f64| {
        lat.get(((lat.len() as f64 - 1.0) * q) as usize)
            .map_or(Duration::ZERO, |&ns| Duration::from_nanos(u64::from(ns)))
    };
    Measured {
        name,
        per_sec: lat.len() as f64 / time.as_secs_f64(),
        p50: pct(0.5),
        p99: pct(0.99),
        errors,
        cpu_per_request: None,
    }
}

/// hearth-hyper's client: a `Client` on each of `CLIENT_THREADS` workers,
/// `CLIENT_CONCURRENCY` tasks in all, GETting `addr` until `time` is up.
fn hearth_client_load(name: &'static str, addr: SocketAddr, h2: bool, time: Duration) -> Measured {
    use http_body_util::BodyExt;
    let rt = hearth::Runtime::builder()
        .workers(CLIENT_THREADS)
        .build()
        .unwrap();
    let url = format!("http://{addr}/");
    let per_worker = CLIENT_CONCURRENCY / CLIENT_THREADS;
    let deadline = Instant::now() + time;
    let handles = rt
        .spawn_on_all(move |_| {
            let url = url.clone();
            async move {
                let client: hearth_hyper::Client =
                    hearth_hyper::client::Builder::new().http2_only(h2).build();
                let tasks: Vec<_> = (0..per_worker)
                    .map(|_| {
                        let (client, url) = (client.clone(), url.clone());
                        hearth::spawn_local(async move {
                            let (mut lat, mut errors) = (Vec::new(), 0u64);
                            while Instant::now() < deadline {
                                let t0 = Instant::now();
                                let body = match client.get(url.as_str()).await {
                                    Ok(r) => {
                                        r.into_body().collect().await.ok().map(|c| c.to_bytes())
                                    }
                                    Err(_) => None,
                                };
                                match body {
                                    Some(b) if b == HELLO => {
                                        lat.push(t0.elapsed().as_nanos() as u32);
                                    }
                                    _ => errors += 1,
                                }
                            }
                            (lat, errors)
                        })
                    })
                    .collect();
                let mut seen = Vec::new();
                for t in tasks {
                    seen.push(t.await.unwrap_or_default());
                }
                seen
            }
        })
        .unwrap();
    let seen: Vec<Seen> = rt.block_on(async {
        let mut all = Vec::new();
        for h in handles {
            all.extend(h.await.unwrap_or_default());
        }
        all
    });
    rt.shutdown();
    measured(name, seen, time)
}

/// hyper-util's pooled client on tokio multi-thread (`CLIENT_THREADS`
/// workers, one client), `CLIENT_CONCURRENCY` tasks GETting `addr` until
/// `time` is up.
fn tokio_client_load(name: &'static str, addr: SocketAddr, h2: bool, time: Duration) -> Measured {
    use http_body_util::BodyExt;
    use hyper_util::client::legacy::Client;
    use hyper_util::rt::TokioExecutor;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(CLIENT_THREADS)
        .enable_all()
        .build()
        .unwrap();
    let uri: hyper::Uri = format!("http://{addr}/").parse().unwrap();
    let seen = rt.block_on(async move {
        let client = Client::builder(TokioExecutor::new())
            .http2_only(h2)
            .build_http::<http_body_util::Empty<hyper::body::Bytes>>();
        let deadline = Instant::now() + time;
        let tasks: Vec<_> = (0..CLIENT_CONCURRENCY)
            .map(|_| {
                let (client, uri) = (client.clone(), uri.clone());
                tokio::spawn(async move {
                    let (mut lat, mut errors) = (Vec::new(), 0u64);
                    while Instant::now() < deadline {
                        let t0 = Instant::now();
                        let body = match client.get(uri.clone()).await {
                            Ok(r) => r.into_body().collect().await.ok().map(|c| c.to_bytes()),
                            Err(_) => None,
                        };
                        match body {
                            Some(b) if b == HELLO => {
                                lat.push(t0.elapsed().as_nanos() as u32);
                            }
                            _ => errors += 1,
                        }
                    }
                    (lat, errors)
                })
            })
            .collect();
        let mut seen = Vec::new();
        for t in tasks {
            seen.push(t.await.unwrap_or_default());
        }
        seen
    });
    rt.shutdown_timeout(Duration::from_secs(1));
    measured(name, seen, time)
}

// ---- hearth: one Runtime, 2 workers, a SO_REUSEPORT listener on each ----

fn hearth_server(app: App) -> Server {
    hearth_server_on(app, hearth::runtime::IoDriver::Auto)
}

fn hearth_server_epoll(app: App) -> Server {
    hearth_server_on(app, hearth::runtime::IoDriver::Epoll)
}

fn hearth_server_on(app: App, driver: hearth::runtime::IoDriver) -> Server {
    let (addr, ls) = listeners(workers());
    let rt = hearth::Runtime::builder()
        .workers(workers())
        .pin_to_cores(pin())
        .io_driver(driver)
        .build()
        .unwrap();
    for (worker, l) in ls.into_iter().enumerate() {
        rt.spawn_on(worker, move || async move {
            let listener = hearth::net::TcpListener::from_std(l).unwrap();
            loop {
                let Ok((s, _)) = listener.accept().await else {
                    continue;
                };
                let _ = s.set_nodelay(true);
                drop(hearth::spawn_local(hearth_conn(app, s)));
            }
        })
        .unwrap();
    }
    Server {
        addr,
        stop: Box::new(move || rt.shutdown()),
    }
}

async fn hearth_conn(app: App, s: hearth::net::TcpStream) {
    match app {
        // As `hearth_hyper_server` serves each connection (the suite uses
        // that; this accept loop serves hyper the same way).
        App::Hyper => {
            use hearth_hyper::{HearthExecutor, HearthTimer};
            let mut builder = hyper_util::server::conn::auto::Builder::new(HearthExecutor);
            builder
                .http1()
                .timer(HearthTimer)
                .header_read_timeout(Duration::from_secs(30));
            builder.http2().timer(HearthTimer);
            let io = hyper_util::rt::TokioIo::new(s);
            let _ = builder
                .serve_connection(io, hyper::service::service_fn(hello))
                .await;
        }
        App::Raw => {
            let mut buf = vec![0; 4096];
            let mut matched = 0;
            loop {
                let n = match s.read(&mut buf).await {
                    Ok(0) | Err(_) => return,
                    Ok(n) => n,
                };
                let k = count_requests(&mut matched, &buf[..n]);
                if k > 0 && s.write_all(&responses(k)).await.is_err() {
                    return;
                }
            }
        }
        App::Echo => {
            let mut buf = vec![0; 16 * 1024];
            loop {
                let n = match s.read(&mut buf).await {
                    Ok(0) | Err(_) => return,
                    Ok(n) => n,
                };
                if s.write_all(&buf[..n]).await.is_err() {
                    return;
                }
            }
        }
    }
}

// ---- tokio ----

async fn tokio_conn(app: App, mut s: tokio::net::TcpStream) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    match app {
        App::Hyper => serve_hyper(s).await,
        App::Raw => {
            let mut buf = vec![0; 4096];
            let mut matched = 0;
            loop {
                let n = match s.read(&mut buf).await {
                    Ok(0) | Err(_) => return,
                    Ok(n) => n,
                };
                let k = count_requests(&mut matched, &buf[..n]);
                if k > 0 && s.write_all(&responses(k)).await.is_err() {
                    return;
                }
            }
        }
        App::Echo => {
            let mut buf = vec![0; 16 * 1024];
            loop {
                let n = match s.read(&mut buf).await {
                    Ok(0) | Err(_) => return,
                    Ok(n) => n,
                };
                if s.write_all(&buf[..n]).await.is_err() {
                    return;
                }
            }
        }
    }
}

async fn tokio_accept_loop(app: App, l: std::net::TcpListener) {
    let listener = tokio::net::TcpListener::from_std(l).unwrap();
    loop {
        let Ok((s, _)) = listener.accept().await else {
            continue;
        };
        let _ = s.set_nodelay(true);
        tokio::spawn(tokio_conn(app, s));
    }
}

/// tokio's multi-thread runtime, 2 workers, one listener.
fn tokio_mt(app: App) -> Server {
    let (addr, mut ls) = listeners(1);
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers())
        .on_thread_start(move || {
            pin_thread(next.fetch_add(1, std::sync::atomic::Ordering::Relaxed))
        })
        .enable_all()
        .build()
        .unwrap();
    let l = ls.pop().unwrap();
    rt.spawn(async move { tokio_accept_loop(app, l).await });
    Server {
        addr,
        stop: Box::new(move || rt.shutdown_timeout(Duration::from_secs(1))),
    }
}

/// One tokio `current_thread` runtime per core, each with a `SO_REUSEPORT`
/// listener.
fn tokio_per_core(app: App) -> Server {
    let (addr, ls) = listeners(workers());
    let mut stops = Vec::new();
    let mut threads = Vec::new();
    for (i, l) in ls.into_iter().enumerate() {
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        stops.push(tx);
        threads.push(std::thread::spawn(move || {
            pin_thread(i);
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                tokio::select! {
                    _ = tokio_accept_loop(app, l) => {}
                    _ = rx => {}
                }
            });
            rt.shutdown_timeout(Duration::from_secs(1));
        }));
    }
    Server {
        addr,
        stop: Box::new(move || {
            drop(stops);
            for t in threads {
                t.join().unwrap();
            }
        }),
    }
}

// ---- monoio: 2 threads, a SO_REUSEPORT listener each ----

/// Whether monoio runs on io_uring here (else its epoll driver).
fn monoio_uses_uring() -> bool {
    monoio::utils::detect_uring()
}

fn monoio_server(app: App) -> Server {
    let (addr, ls) = listeners(workers());
    let mut stops = Vec::new();
    let mut threads = Vec::new();
    for (i, l) in ls.into_iter().enumerate() {
        let (tx, rx) = futures::channel::oneshot::channel::<()>();
        stops.push(tx);
        threads.push(std::thread::spawn(move || {
            pin_thread(i);
            let serve = async move {
                let accept = std::pin::pin!(monoio_accept_loop(app, l));
                futures::future::select(accept, rx).await;
            };
            // io_uring when the kernel has it, else epoll.
            monoio::RuntimeBuilder::<monoio::FusionDriver>::new()
                .build()
                .unwrap()
                .block_on(serve);
        }));
    }
    Server {
        addr,
        stop: Box::new(move || {
            drop(stops);
            for t in threads {
                t.join().unwrap();
            }
        }),
    }
}

async fn monoio_accept_loop(app: App, l: std::net::TcpListener) {
    let listener = monoio::net::TcpListener::from_std(l).unwrap();
    loop {
        let Ok((s, _)) = listener.accept().await else {
            continue;
        };
        let _ = s.set_nodelay(true);
        monoio::spawn(monoio_conn(app, s));
    }
}

async fn monoio_conn(app: App, mut s: monoio::net::TcpStream) {
    use monoio::io::{AsyncReadRent, AsyncWriteRentExt};
    let size = if matches!(app, App::Echo) {
        16 * 1024
    } else {
        4096
    };
    let mut buf = Vec::with_capacity(size);
    let mut matched = 0;
    loop {
        let (res, b) = s.read(buf).await;
        buf = b;
        let n = match res {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        match app {
            App::Raw | App::Hyper => {
                let k = count_requests(&mut matched, &buf[..n]);
                if k > 0 {
                    let out = match responses(k) {
                        std::borrow::Cow::Borrowed(b) => s.write_all(b).await.0,
                        std::borrow::Cow::Owned(v) => s.write_all(v).await.0,
                    };
                    if out.is_err() {
                        return;
                    }
                }
                buf.clear();
            }
            App::Echo => {
                let (res, b) = s.write_all(buf).await;
                buf = b;
                if res.is_err() {
                    return;
                }
                buf.clear();
            }
        }
    }
}

// ---- the echo client ----

/// `ECHO_CONNECTIONS` connections, each sending a 1 KiB message and reading
/// it back in a loop for `time`; round trips per second and their latency.
fn echo_client(name: &'static str, addr: SocketAddr, time: Duration) -> Measured {
    let per_thread = ECHO_CONNECTIONS / ECHO_CLIENT_THREADS;
    let barrier = Arc::new(Barrier::new(ECHO_CLIENT_THREADS + 1));
    let threads: Vec<_> = (0..ECHO_CLIENT_THREADS)
        .map(|_| {
            let barrier = barrier.clone();
            std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .unwrap();
                rt.block_on(async move {
                    use tokio::io::{AsyncReadExt, AsyncWriteExt};
                    let mut conns = Vec::new();
                    for _ in 0..per_thread {
                        let s = tokio::net::TcpStream::connect(addr).await.unwrap();
                        s.set_nodelay(true).unwrap();
                        conns.push(s);
                    }
                    // Connected everywhere: start together.
                    let barrier = barrier.clone();
                    tokio::task::spawn_blocking(move || barrier.wait())
                        .await
                        .unwrap();
                    let deadline = Instant::now() + time;
                    let tasks: Vec<_> = conns
                        .into_iter()
                        .map(|mut s| {
                            tokio::spawn(async move {
                                let msg = vec![0x5a; ECHO_MSG];
                                let mut back = vec![0; ECHO_MSG];
                                let mut lat = Vec::new();
                                loop {
                                    let t0 = Instant::now();
                                    if t0 >= deadline {
                                        return Ok::<_, std::io::Error>(lat);
                                    }
                                    s.write_all(&msg).await?;
                                    s.read_exact(&mut back).await?;
                                    lat.push(t0.elapsed().as_nanos() as u32);
                                    assert_eq!(back, msg, "echo returned other bytes");
                                }
                            })
                        })
                        .collect();
                    let mut lat = Vec::new();
                    let mut errors = 0u64;
                    for t in tasks {
                        match t.await.unwrap() {
                            Ok(l) => lat.extend(l),
                            Err(_) => errors += 1,
                        }
                    }
                    (lat, errors)
                })
            })
        })
        .collect();
    barrier.wait();
    let start = Instant::now();
    let mut lat = Vec::new();
    let mut errors = 0;
    for t in threads {
        let (l, e) = t.join().unwrap();
        lat.extend(l);
        errors += e;
    }
    let elapsed = start.elapsed().max(time);
    lat.sort_unstable();
    let pct = |q: f64| {
        lat.get(((lat.len() as f64 - 1.0) * q) as usize)
            .map_or(Duration::ZERO, |&ns| Duration::from_nanos(u64::from(ns)))
    };
    Measured {
        name,
        per_sec: lat.len() as f64 / elapsed.as_secs_f64(),
        p50: pct(0.5),
        p99: pct(0.99),
        errors,
        cpu_per_request: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_wrk_output() {
        let text = "Running 8s test @ http://127.0.0.1:8080/
  2 threads and 256 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     2.61ms  512.55us  16.36ms   83.43%
    Req/Sec    49.27k     3.12k   55.52k    69.38%
  Latency Distribution
     50%    2.55ms
     75%    2.80ms
     90%    3.12ms
     99%  950.00us
  784431 requests in 8.00s, 94.26MB read
  Socket errors: connect 0, read 3, write 0, timeout 2
  Non-2xx or 3xx responses: 1
Requests/sec:  98038.52
Transfer/sec:     11.78MB
";
        let w = parse_wrk(text).unwrap();
        assert_eq!(w.per_sec, 98038.52);
        assert_eq!(w.requests, 784431);
        assert_eq!(w.p50, Duration::from_micros(2550));
        assert_eq!(w.p99, Duration::from_micros(950));
        assert_eq!(w.errors, 6);
    }

    #[test]
    fn counts_this_process_cpu_time() {
        let before = thread_cpu_times();
        assert!(!before.is_empty(), "no /proc/self/task/*/schedstat");
        // Spin until the counters show 10 ms of CPU time (a busy machine
        // gives this thread less than its wall time), for at most 10 s.
        let t = std::time::Instant::now();
        let mut x = 1u64;
        let spent = loop {
            let lap = std::time::Instant::now();
            while lap.elapsed() < Duration::from_millis(5) {
                x = std::hint::black_box(x.wrapping_mul(3) ^ 7);
            }
            let spent = cpu_since(&before).unwrap();
            if spent >= Duration::from_millis(10) || t.elapsed() > Duration::from_secs(10) {
                break spent;
            }
        };
        assert!(spent >= Duration::from_millis(10), "{spent:?}");
    }

    #[test]
    fn counts_requests_across_reads() {
        let mut m = 0;
        assert_eq!(
            count_requests(&mut m, b"GET / HTTP/1.1\r\nHost: x\r\n\r"),
            0
        );
        assert_eq!(count_requests(&mut m, b"\nGET / HTTP/1.1\r\n\r\nGET"), 2);
        assert_eq!(count_requests(&mut m, b" / HTTP/1.1\r\r\n\r\n"), 1);
    }
}
