//! hearth-bench: side-by-side comparisons of hearth against its peers.
//!
//! ```text
//! cargo run --release -p hearth-bench                 # every suite
//! cargo run --release -p hearth-bench -- waker        # only the named suites
//! cargo run --release -p hearth-bench -- --no-write   # print, keep BENCHMARKS.md
//! cargo +nightly run --release -p hearth-bench --features nightly   # + std's nightly peers
//! ```
//!
//! Each suite prints a Markdown table. A full run rewrites BENCHMARKS.md; a
//! run with suite names replaces only their sections (between
//! `<!-- suite:NAME -->` and `<!-- /suite:NAME -->`) and keeps the others.

#![cfg_attr(feature = "nightly", feature(local_waker))]

mod harness;
mod suites;

use std::fmt::Write as _;
use std::path::Path;
use std::process::{Command, ExitCode};
use std::time::Instant;

use harness::{Config, SuiteReport};

#[global_allocator]
static ALLOC: harness::CountingAlloc = harness::CountingAlloc;

const REPORT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../BENCHMARKS.md");

fn usage() -> String {
    let mut s = String::from(
        "usage: cargo run --release -p hearth-bench [--features nightly] -- [--no-write] [SUITE...]\n\n\
         Runs the named suites (all without a name), prints their tables and updates their\n\
         sections of BENCHMARKS.md (skipped with --no-write). HEARTH_BENCH_RAW=1 prints every\n\
         sample to stderr.\n\nsuites:\n",
    );
    for suite in suites::ALL {
        let _ = writeln!(s, "  {:<10} {}", suite.name, suite.about);
    }
    s
}

fn main() -> ExitCode {
    let mut write = true;
    let mut filters = Vec::new();
    for arg in std::env::args().skip(1) {
        match arg.as_str() {
            "--no-write" => write = false,
            "-h" | "--help" => {
                print!("{}", usage());
                return ExitCode::SUCCESS;
            }
            _ if arg.starts_with('-') => {
                eprint!("unknown option {arg}\n\n{}", usage());
                return ExitCode::from(2);
            }
            _ => filters.push(arg),
        }
    }
    for f in &filters {
        if !suites::ALL.iter().any(|s| s.name == f) {
            eprint!("unknown suite {f:?}\n\n{}", usage());
            return ExitCode::from(2);
        }
    }
    let selected: Vec<_> = suites::ALL
        .iter()
        .filter(|s| filters.is_empty() || filters.contains(&s.name.to_owned()))
        .collect();

    if cfg!(debug_assertions) {
        eprintln!("warning: a debug build measures nothing useful; use `cargo run --release -p hearth-bench`");
    }
    let machine = Machine::detect();
    let command = command(&filters);
    let config = Config::default();
    let mut sections = Vec::new();
    for suite in selected {
        eprintln!("running suite {} ...", suite.name);
        let start = Instant::now();
        let report = (suite.run)(&config);
        eprintln!(
            "suite {} took {:.1} s",
            suite.name,
            start.elapsed().as_secs_f64()
        );
        let section = render_section(&report, &machine, &command);
        println!("{section}");
        sections.push((report.name, section));
    }

    if !write {
        return ExitCode::SUCCESS;
    }
    if cfg!(debug_assertions) {
        eprintln!("not writing {REPORT} from a debug build");
        return ExitCode::SUCCESS;
    }
    let path = Path::new(REPORT);
    let old = match std::fs::read_to_string(path) {
        Ok(s) => s,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => {
            eprintln!("cannot read {}: {e}", path.display());
            return ExitCode::FAILURE;
        }
    };
    // A full run rewrites the file; a filtered one replaces only its sections.
    let keep = if filters.is_empty() { "" } else { old.as_str() };
    let new = splice(keep, &preamble(), &sections);
    if let Err(e) = std::fs::write(path, new) {
        eprintln!("cannot write {}: {e}", path.display());
        return ExitCode::FAILURE;
    }
    eprintln!(
        "wrote {}",
        path.canonicalize().as_deref().unwrap_or(path).display()
    );
    ExitCode::SUCCESS
}

/// The command line that reproduces this run.
fn command(filters: &[String]) -> String {
    // The settings a suite reads from the environment belong to the command.
    const SETTINGS: [&str; 4] = [
        "HEARTH_BENCH_NET_ONLY",
        "HEARTH_BENCH_NET_PIN",
        "HEARTH_BENCH_NET_ROUNDS",
        "HEARTH_BENCH_NET_SECS",
    ];
    let mut cmd: String = SETTINGS
        .iter()
        .filter_map(|k| Some(format!("{k}={} ", std::env::var(k).ok()?)))
        .collect();
    cmd.push_str(if cfg!(feature = "nightly") {
        "cargo +nightly run --release -p hearth-bench --features nightly"
    } else {
        "cargo run --release -p hearth-bench"
    });
    if !filters.is_empty() {
        cmd.push_str(" --");
        for f in filters {
            cmd.push(' ');
            cmd.push_str(f);
        }
    }
    cmd
}

/// Where and with what the numbers were taken.
struct Machine {
    date: String,
    nproc: usize,
    cpu: String,
    rustc: &'static str,
}

impl Machine {
    fn detect() -> Machine {
        let date = Command::new("date")
            .arg("-u")
            .output()
            .ok()
            .filter(|o| o.status.success())
            .and_then(|o| String::from_utf8(o.stdout).ok())
            .map(|s| s.trim().to_owned())
            .unwrap_or_else(|| {
                let secs = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.as_secs())
                    .unwrap_or(0);
                format!("{secs} s after the Unix epoch")
            });
        let cpu = std::fs::read_to_string("/proc/cpuinfo")
            .ok()
            .and_then(|info| {
                info.lines()
                    .find(|l| l.starts_with("model name"))
                    .and_then(|l| l.split_once(':'))
                    .map(|(_, model)| model.trim().to_owned())
            })
            .unwrap_or_else(|| "unknown CPU".to_owned());
        let nproc = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1);
        Machine {
            date,
            nproc,
            cpu,
            rustc: env!("HEARTH_BENCH_RUSTC"),
        }
    }
}

fn start_marker(name: &str) -> String {
    format!("<!-- suite:{name} -->")
}

fn end_marker(name: &str) -> String {
    format!("<!-- /suite:{name} -->")
}

fn preamble() -> String {
    let config = Config::default();
    format!(
        "# hearth benchmarks\n\
         \n\
         Written by `hearth-bench` (crates/hearth-bench); do not edit by hand. Reproduce every suite with\n\
         \n\
         \x20   cargo run --release -p hearth-bench\n\
         \n\
         or one suite with `cargo run --release -p hearth-bench -- NAME`, which replaces only that suite's\n\
         section below. std's nightly peers join with\n\
         `cargo +nightly run --release -p hearth-bench --features nightly`; `--no-write` prints without\n\
         touching this file. Criterion versions of the same cases: `cargo bench -p hearth-bench`.\n\
         \n\
         How it measures: each case's operation runs in a calibrated loop so that one sample takes about\n\
         {} ms; {} samples per case, taken round-robin across the cases of a suite (one sample of each\n\
         case per round) so the noise of this shared machine hits all peers alike. `ns/op` is the median\n\
         sample, then the interquartile range and the extremes; `vs` is the median over the baseline's\n\
         median. Nothing is subtracted. `allocs/op` is counted in a warm-up sample. Compare ratios, not\n\
         absolute nanoseconds.\n",
        config.sample_time.as_secs_f64() * 1e3,
        config.samples,
    )
}

fn render_section(report: &SuiteReport, m: &Machine, command: &str) -> String {
    let (met, total) = report.targets();
    let mut s = String::new();
    let _ = writeln!(s, "{}", start_marker(report.name));
    let _ = writeln!(s, "## Suite `{}`: {}\n", report.name, report.title);
    let sampling = report.sampling.clone().unwrap_or_else(|| {
        format!(
            "{} interleaved samples of ~{} ms per case",
            report.samples,
            report.sample_time.as_secs_f64() * 1e3
        )
    });
    let _ = writeln!(
        s,
        "Measured {} on {} × {} (nproc {}), {}, with `{}`. {sampling}; targets met: {met}/{total}.\n",
        m.date,
        m.nproc,
        m.cpu,
        m.nproc,
        m.rustc,
        command,
    );
    s.push_str(&report.table());
    for note in &report.notes {
        let _ = write!(s, "\n{note}\n");
    }
    let _ = writeln!(s, "{}", end_marker(report.name));
    s
}

/// Replaces the preamble (everything before the first suite section) and the
/// sections of `sections`; keeps every other section; appends new ones.
fn splice(old: &str, preamble: &str, sections: &[(&str, String)]) -> String {
    let body = old.find("<!-- suite:").map_or("", |i| &old[i..]);
    let mut body = body.to_owned();
    for (name, text) in sections {
        let (start, end) = (start_marker(name), end_marker(name));
        let range = body
            .find(&start)
            .and_then(|s| body[s..].find(&end).map(|e| s..s + e + end.len()));
        match range {
            Some(range) => {
                // The section's text ends with the end marker and a newline.
                let range = if body[range.end..].starts_with('\n') {
                    range.start..range.end + 1
                } else {
                    range
                };
                body.replace_range(range, text);
            }
            None => {
                if !body.is_empty() && !body.ends_with("\n\n") {
                    body.push_str(if body.ends_with('\n') { "\n" } else { "\n\n" });
                }
                body.push_str(text);
            }
        }
    }
    format!("{preamble}\n{body}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn section(name: &str, content: &str) -> String {
        format!("{}\n{content}\n{}\n", start_marker(name), end_marker(name))
    }

    #[test]
    fn splice_replaces_only_the_named_sections() {
        let old = format!(
            "# old preamble\n\n{}\n{}",
            section("a", "A1"),
            section("b", "B1")
        );
        let new = splice(&old, "# new\n", &[("a", section("a", "A2"))]);
        assert_eq!(
            new,
            format!("# new\n\n{}\n{}", section("a", "A2"), section("b", "B1"))
        );
        let new = splice(
            &new,
            "# new\n",
            &[("b", section("b", "B2")), ("c", section("c", "C1"))],
        );
        assert_eq!(
            new,
            format!(
                "# new\n\n{}\n{}\n{}",
                section("a", "A2"),
                section("b", "B2"),
                section("c", "C1")
            )
        );
        // Idempotent.
        assert_eq!(splice(&new, "# new\n", &[("b", section("b", "B2"))]), new);
    }

    #[test]
    fn splice_starts_a_missing_file() {
        assert_eq!(
            splice("", "# p\n", &[("a", section("a", "A"))]),
            format!("# p\n\n{}", section("a", "A"))
        );
    }

    #[test]
    fn command_names_the_filters() {
        let base = if cfg!(feature = "nightly") {
            "cargo +nightly run --release -p hearth-bench --features nightly"
        } else {
            "cargo run --release -p hearth-bench"
        };
        assert_eq!(command(&[]), base);
        assert_eq!(command(&["waker".to_owned()]), format!("{base} -- waker"));
    }
}
