//! hearth-bench: side-by-side comparisons of hearth against its peers.
//!
//! ```text
//! cargo run --release -p hearth-bench                 # every suite, ~2.5 min on 2 cores
//! cargo run --release -p hearth-bench -- waker        # only the named suites
//! cargo run --release -p hearth-bench -- --write      # also update BENCHMARKS.md
//! cargo run --release -p hearth-bench -- --full       # more and longer samples
//! cargo +nightly run --release -p hearth-bench --features nightly   # + std's nightly peers
//! ```
//!
//! Progress goes to stderr (a bar per suite and per set of cases when stderr
//! is a terminal, one line per suite otherwise); the tables go to stdout at
//! the end, aligned for a terminal (`--markdown`: the Markdown sections).
//! With `--write` the run replaces its suites' sections of BENCHMARKS.md
//! (between `<!-- suite:NAME -->` and `<!-- /suite:NAME -->`) and keeps the
//! others; without it the tree is left as it was.

#![cfg_attr(feature = "nightly", feature(local_waker))]

mod harness;
mod suites;

use std::fmt::Write as _;
use std::io::IsTerminal as _;
use std::path::Path;
use std::process::{Command, ExitCode};
use std::time::Instant;

use harness::{Config, SuiteProgress, SuiteReport};

#[global_allocator]
static ALLOC: harness::CountingAlloc = harness::CountingAlloc;

const REPORT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../BENCHMARKS.md");

fn usage() -> String {
    let mut s = String::from(
        "usage: cargo run --release -p hearth-bench [--features nightly] -- [OPTIONS] [SUITE...]\n\n\
         Runs the named suites (all without a name; about 2.5 minutes on 2 cores) and prints\n\
         their tables. The net suite's HTTP rows need `wrk` on PATH.\n\n\
         options:\n\
         \x20 --write     update the suites' sections of BENCHMARKS.md\n\
         \x20 --full      more and longer samples (51 of ~10 ms per case; net: 3 rounds)\n\
         \x20 --markdown  print the Markdown sections instead of the terminal tables\n\n\
         HEARTH_BENCH_RAW=1 prints every sample to stderr.\n\nsuites:\n",
    );
    for suite in suites::ALL {
        let _ = writeln!(s, "  {:<12} {}", suite.name, suite.about);
    }
    s
}

/// What the command line asked for.
struct Options {
    write: bool,
    full: bool,
    markdown: bool,
    filters: Vec<String>,
}

fn main() -> ExitCode {
    let mut opts = Options {
        write: false,
        full: false,
        markdown: false,
        filters: Vec::new(),
    };
    for arg in std::env::args().skip(1) {
        match arg.as_str() {
            "--write" => opts.write = true,
            // The default since `--write` exists; still accepted.
            "--no-write" => opts.write = false,
            "--full" => opts.full = true,
            "--markdown" => opts.markdown = true,
            "-h" | "--help" => {
                print!("{}", usage());
                return ExitCode::SUCCESS;
            }
            _ if arg.starts_with('-') => {
                eprint!("unknown option {arg}\n\n{}", usage());
                return ExitCode::from(2);
            }
            _ => opts.filters.push(arg),
        }
    }
    for f in &opts.filters {
        if !suites::ALL.iter().any(|s| s.name == f) {
            eprint!("unknown suite {f:?}\n\n{}", usage());
            return ExitCode::from(2);
        }
    }
    let selected: Vec<_> = suites::ALL
        .iter()
        .filter(|s| opts.filters.is_empty() || opts.filters.contains(&s.name.to_owned()))
        .collect();

    if cfg!(debug_assertions) {
        eprintln!("warning: a debug build measures nothing useful; use `cargo run --release -p hearth-bench`");
    }
    if selected.iter().any(|s| s.name == "net") && !on_path("wrk") {
        eprintln!("note: `wrk` is not on PATH, so the net suite skips its HTTP rows (install: apt-get install -y wrk)");
    }
    let config = if opts.full {
        // The net suite reads its rounds from the environment; the user's
        // own setting wins. Set before any thread starts.
        if std::env::var_os("HEARTH_BENCH_NET_ROUNDS").is_none() {
            std::env::set_var("HEARTH_BENCH_NET_ROUNDS", "3");
        }
        Config::full()
    } else {
        Config::default()
    };
    let machine = Machine::detect();
    let command = command(&opts);
    let display = harness::progress_display();
    let interactive = std::io::stderr().is_terminal();
    let start = Instant::now();
    let mut reports = Vec::new();
    for (i, suite) in selected.iter().enumerate() {
        if !interactive {
            eprintln!(
                "[{}/{}] running suite {} ...",
                i + 1,
                selected.len(),
                suite.name
            );
        }
        let progress = SuiteProgress::start(&display, suite.name, i + 1, selected.len());
        let report = (suite.run)(&config);
        let took = progress.elapsed().as_secs_f64();
        drop(progress);
        let (met, total) = report.targets();
        let line = format!(
            "[{}/{}] suite {} took {took:.1} s; targets met: {met}/{total}",
            i + 1,
            selected.len(),
            suite.name
        );
        if interactive {
            let _ = display.println(line);
        } else {
            eprintln!("{line}");
        }
        reports.push(report);
    }
    eprintln!(
        "all {} suites in {:.1} s",
        reports.len(),
        start.elapsed().as_secs_f64()
    );

    let sections: Vec<(&str, String)> = reports
        .iter()
        .map(|r| (r.name, render_section(r, &machine, &command)))
        .collect();
    println!();
    for (report, (_, section)) in reports.iter().zip(&sections) {
        if opts.markdown {
            println!("{section}");
        } else {
            println!("{}", report.terminal_table());
        }
    }
    if !opts.write {
        if !opts.markdown {
            println!(
                "CPU: {} (nproc {}). Notes and the Markdown: --markdown; `-- --write` updates BENCHMARKS.md.",
                machine.cpu, machine.nproc
            );
        }
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
    // Sections of suites not in this run (e.g. `net-unpinned`) are kept.
    let new = splice(&old, &preamble(&config), &sections);
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

/// Whether an executable called `name` is in a directory of `PATH`.
fn on_path(name: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|paths| std::env::split_paths(&paths).any(|dir| dir.join(name).is_file()))
}

/// The command line that reproduces this run.
fn command(opts: &Options) -> String {
    // The settings a suite reads from the environment belong to the command.
    const SETTINGS: [&str; 5] = [
        "HEARTH_BENCH_NET_ONLY",
        "HEARTH_BENCH_NET_PIN",
        "HEARTH_BENCH_NET_ROUNDS",
        "HEARTH_BENCH_NET_SECS",
        "HEARTH_BENCH_NET_SPLIT",
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
    if opts.full || !opts.filters.is_empty() {
        cmd.push_str(" --");
        if opts.full {
            cmd.push_str(" --full");
        }
        for f in &opts.filters {
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

fn preamble(config: &Config) -> String {
    format!(
        "# hearth benchmarks\n\
         \n\
         Written by `hearth-bench` (crates/hearth-bench); do not edit by hand. Reproduce every suite with\n\
         \n\
         \x20   cargo run --release -p hearth-bench -- --write\n\
         \n\
         (about 2.5 minutes of suites on 2 cores; the net suite's HTTP rows need `wrk`), or one suite\n\
         with `cargo run --release -p hearth-bench -- --write NAME`, which replaces only that suite's\n\
         section below. Without `--write` the run only prints its tables. `--full` takes more and\n\
         longer samples. std's nightly peers join with\n\
         `cargo +nightly run --release -p hearth-bench --features nightly`. Criterion versions of the\n\
         same cases: `cargo bench -p hearth-bench`.\n\
         \n\
         How it measures: each case's operation runs in a calibrated loop so that one sample takes about\n\
         {} ms; {} samples per case (unless a suite says otherwise), taken round-robin across the cases\n\
         of a suite (one sample of each case per round) so the noise of this shared machine hits all\n\
         peers alike. `ns/op` is the median sample, then the interquartile range and the extremes; `vs`\n\
         is the median over the baseline's median (for rates such as req/s: the rate over the baseline's,\n\
         higher is better). Nothing is subtracted. `allocs/op` is counted in a warm-up sample. Compare\n\
         ratios, not absolute nanoseconds.\n",
        fmt_ms(config.sample_time.as_secs_f64() * 1e3),
        config.samples,
    )
}

/// Milliseconds without a needless fraction (7.5, 10).
fn fmt_ms(ms: f64) -> String {
    if ms.fract() == 0.0 {
        format!("{ms:.0}")
    } else {
        format!("{ms}")
    }
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
        let opts = |full, filters: &[&str]| Options {
            write: false,
            full,
            markdown: false,
            filters: filters.iter().map(|f| (*f).to_owned()).collect(),
        };
        assert_eq!(command(&opts(false, &[])), base);
        assert_eq!(
            command(&opts(false, &["waker"])),
            format!("{base} -- waker")
        );
        assert_eq!(
            command(&opts(true, &["net", "fs"])),
            format!("{base} -- --full net fs")
        );
    }
}
