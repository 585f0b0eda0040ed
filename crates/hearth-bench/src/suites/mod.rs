//! The suites. Each is a function that builds its cases, runs them with the
//! harness and returns a report; `ALL` lists them in report order.

use crate::harness::{Config, SuiteReport};

pub mod combinators;
pub mod context;
pub mod executor;
mod executor_peers;
pub mod fs;
pub mod net;
pub mod sync;
pub mod waker;
mod waker_targets;

/// A suite the CLI can select by name.
pub struct SuiteDef {
    /// The CLI filter and the BENCHMARKS.md marker name.
    pub name: &'static str,
    /// One line for `--help`.
    pub about: &'static str,
    pub run: fn(&Config) -> SuiteReport,
}

/// Every suite, in report order.
pub const ALL: &[SuiteDef] = &[
    SuiteDef {
        name: "waker",
        about: "clone + wake + drop of each kind of waker; the cx.local_waker() lookup",
        run: waker::run,
    },
    SuiteDef {
        name: "context",
        about: "reading values through the Context (provider look-up, task-locals) vs thread_local! and tokio::task_local!",
        run: context::run,
    },
    SuiteDef {
        name: "executor",
        about: "executors side by side: yield-heavy, spawn-heavy, remote wakes, allocs per task",
        run: executor::run,
    },
    SuiteDef {
        name: "combinators",
        about:
            "join over N children: one wake, one parent poll; hearth's precise combinators vs peers",
        run: combinators::run,
    },
    SuiteDef {
        name: "sync",
        about: "hearth-sync channels and locks vs tokio::sync, local-sync, futures, async-channel, local-channel",
        run: sync::run,
    },
    SuiteDef {
        name: "fs",
        about: "file operations through the blocking pool: hearth::fs vs tokio::fs",
        run: fs::run,
    },
    SuiteDef { name: "net", about: "servers under wrk (hyper, raw HTTP) and an echo client: hearth vs tokio vs monoio", run: net::run },
];
