//! Suite `fs`: what a file operation costs through the blocking pool,
//! `hearth::fs` against `tokio::fs`.
//!
//! Workloads, each measured as its own group with tokio as the baseline:
//!
//! - **read 4 KiB**: `fs::read` of a 4 KiB file (open, read, close: one
//!   round trip to the pool).
//! - **write 4 KiB + flush**: `File::write_all` of 4 KiB, then `flush`,
//!   which waits for the write (one round trip).
//! - **write 4 KiB + sync_data**: the same, then `sync_data` (`fdatasync`,
//!   a second round trip; the disk's flush dominates).
//!
//! hearth runs in a `Runtime`'s `block_on` (the runtime's pool) and under
//! plain `hearth::block_on` (the process-wide pool); tokio in a
//! current_thread runtime's `block_on` (its blocking pool). The std rows
//! make the same calls on the calling thread: the system call's own cost,
//! the floor under every async row. One harness operation is one file
//! operation; a call runs `BATCH` of them in one `block_on`.

use std::hint::black_box;
use std::path::PathBuf;

use tokio::io::AsyncWriteExt as _;

use crate::harness::{Config, Suite, SuiteReport, Target};

/// File operations per `block_on`.
const BATCH: u64 = 8;
/// Bytes per read file and per write.
const SIZE: usize = 4096;

const READ: [&str; 4] = [
    "read 4 KiB · tokio::fs",
    "read 4 KiB · hearth::fs (Runtime)",
    "read 4 KiB · hearth::fs (plain block_on)",
    "read 4 KiB · std::fs on the caller (floor)",
];
const WRITE: [&str; 3] = [
    "write 4 KiB + flush · tokio::fs",
    "write 4 KiB + flush · hearth::fs (Runtime)",
    "write 4 KiB + flush · std::fs on the caller (floor)",
];
const SYNC: [&str; 3] = [
    "write 4 KiB + sync_data · tokio::fs",
    "write 4 KiB + sync_data · hearth::fs (Runtime)",
    "write 4 KiB + sync_data · std::fs on the caller (floor)",
];

/// hearth's pool round trip should cost no more than tokio's.
const AT_MOST_TOKIO: Target = Target::RatioAtMost(1.0);

/// A scratch directory, removed when dropped.
struct Scratch(PathBuf);

impl Scratch {
    fn new() -> Scratch {
        let dir = std::env::temp_dir().join(format!("hearth-bench-fs-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("scratch directory");
        Scratch(dir)
    }

    fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Samples per case: the pool's round trips are noisy on a shared machine,
/// and a sample is short.
const SAMPLES: usize = 61;

pub fn run(config: &Config) -> SuiteReport {
    let config = &Config {
        samples: config.samples.max(SAMPLES),
        ..config.clone()
    };
    let scratch = Scratch::new();
    let tokio_rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("tokio runtime");
    let hearth_rt = hearth::Runtime::builder()
        .workers(1)
        .build()
        .expect("hearth runtime");

    let small = scratch.path("small");
    std::fs::write(&small, vec![7u8; SIZE]).expect("the file to read");
    let read = {
        let mut suite = Suite::new("fs", "", config);
        suite.ops_per_call(BATCH);
        let small = small.as_path();
        suite
            .baseline(READ[0], || {
                tokio_rt.block_on(async {
                    for _ in 0..BATCH {
                        black_box(tokio::fs::read(small).await.unwrap());
                    }
                })
            })
            .case(READ[1], Some(AT_MOST_TOKIO), || {
                hearth_rt.block_on(async {
                    for _ in 0..BATCH {
                        black_box(hearth::fs::read(small).await.unwrap());
                    }
                })
            })
            .case(READ[2], None, || {
                hearth::block_on(async {
                    for _ in 0..BATCH {
                        black_box(hearth::fs::read(small).await.unwrap());
                    }
                })
            })
            .case(READ[3], None, || {
                for _ in 0..BATCH {
                    black_box(std::fs::read(small).unwrap());
                }
            });
        suite.run()
    };

    let block = vec![1u8; SIZE];
    let write = write_group(
        config,
        &scratch,
        &tokio_rt,
        &hearth_rt,
        &block,
        WRITE,
        Sync::FlushOnly,
    );
    let sync = write_group(
        config,
        &scratch,
        &tokio_rt,
        &hearth_rt,
        &block,
        SYNC,
        Sync::Data,
    );

    for report in [&read, &write, &sync] {
        for row in &report.rows {
            assert!(row.stats.median > 0.0, "{}: no time measured", row.name);
        }
    }
    hearth_rt.shutdown();

    let mut rows = read.rows;
    rows.extend(write.rows);
    rows.extend(sync.rows);
    SuiteReport {
        name: "fs",
        title: "file operations through the blocking pool: hearth::fs vs tokio::fs".into(),
        baseline: "tokio::fs (same workload)".into(),
        samples: read.samples,
        sample_time: read.sample_time,
        rows,
        notes: vec![
            format!(
                "One operation: `fs::read` of a {SIZE}-byte file; or `File::write_all` of \
                 {SIZE} bytes then `flush` (which waits for the write), or then `sync_data`, on \
                 one open file that grows. hearth in a 1-worker `Runtime`'s `block_on` (its \
                 blocking pool) and under plain `hearth::block_on` (the process-wide pool); \
                 tokio in a current_thread runtime's `block_on`; {BATCH} operations per \
                 `block_on`. The std rows make the same calls on the calling thread: the \
                 system calls alone. An async row minus its std row is the price of the pool \
                 round trip (queue a job, wake a pool thread, wake the task with the result), \
                 paid per call, so the `fs` docs advise whole-file `read`/`write` and large \
                 buffers. The scratch files are in `std::env::temp_dir()`; `sync_data` there \
                 waits for the disk, whose noise swamps the round trip (no target on those \
                 rows). On a shared machine the round trips wait for a CPU to wake the pool \
                 thread and the task: expect wide ranges, and ratios that move between runs."
            ),
            "Each workload is its own group of interleaved samples, so `vs` compares each row \
             with tokio's row of the same workload."
                .into(),
        ],
        sampling: None,
    }
}

/// What a write operation waits for after `write_all`.
#[derive(Clone, Copy)]
enum Sync {
    /// `flush`: the write itself.
    FlushOnly,
    /// `sync_data`: the write and `fdatasync`.
    Data,
}

/// One write workload: tokio, hearth and std, each on a file of its own.
fn write_group(
    config: &Config,
    scratch: &Scratch,
    tokio_rt: &tokio::runtime::Runtime,
    hearth_rt: &hearth::Runtime,
    block: &[u8],
    names: [&'static str; 3],
    sync: Sync,
) -> SuiteReport {
    let tag = match sync {
        Sync::FlushOnly => "flush",
        Sync::Data => "sync",
    };
    let paths = [0, 1, 2].map(|i| scratch.path(&format!("{tag}-{i}")));
    let mut tokio_file = tokio_rt
        .block_on(tokio::fs::File::create(&paths[0]))
        .expect("tokio file");
    let mut hearth_file = hearth_rt
        .block_on(hearth::fs::File::create(&paths[1]))
        .expect("hearth file");
    let mut std_file = std::fs::File::create(&paths[2]).expect("std file");

    // `fdatasync` waits for the disk, whose noise swamps the round trip.
    let target = match sync {
        Sync::FlushOnly => Some(AT_MOST_TOKIO),
        Sync::Data => None,
    };
    let mut suite = Suite::new("fs", "", config);
    suite.ops_per_call(BATCH);
    suite
        .baseline(names[0], || {
            tokio_rt.block_on(async {
                for _ in 0..BATCH {
                    tokio_file.write_all(block).await.unwrap();
                    match sync {
                        Sync::FlushOnly => tokio_file.flush().await.unwrap(),
                        Sync::Data => tokio_file.sync_data().await.unwrap(),
                    }
                }
            })
        })
        .case(names[1], target, || {
            hearth_rt.block_on(async {
                for _ in 0..BATCH {
                    hearth_file.write_all(block).await.unwrap();
                    match sync {
                        Sync::FlushOnly => hearth_file.flush().await.unwrap(),
                        Sync::Data => hearth_file.sync_data().await.unwrap(),
                    }
                }
            })
        })
        .case(names[2], None, || {
            for _ in 0..BATCH {
                std::io::Write::write_all(&mut std_file, block).unwrap();
                if let Sync::Data = sync {
                    std_file.sync_data().unwrap();
                }
            }
        });
    let report = suite.run();
    // Every write reached its file.
    for (name, path) in names.iter().zip(&paths) {
        let len = std::fs::metadata(path).expect("written file").len();
        let ops = report.row(name).ops_run;
        assert_eq!(len, ops * SIZE as u64, "{name}: writes went missing");
    }
    report
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_scratch_directory_goes_away() {
        let scratch = Scratch::new();
        let dir = scratch.0.clone();
        std::fs::write(scratch.path("f"), "x").unwrap();
        drop(scratch);
        assert!(!dir.exists());
    }
}
