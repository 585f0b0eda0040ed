//! The timing machinery: calibrated, interleaved samples and their statistics.
//!
//! How a suite is measured (see [`Suite::run`]):
//!
//! 1. **Calibration.** Each case's operation runs in a tight, monomorphised
//!    loop (the closure is inlined into it; no dynamic call per operation).
//!    The iteration count is doubled until one run takes at least 1 ms, then
//!    scaled so that one sample takes about [`Config::sample_time`].
//! 2. **Warm-up and allocation count.** One unrecorded sample per case, with
//!    the [`CountingAlloc`] counter switched on: allocations per operation.
//! 3. **Interleaved samples.** Round `r` takes one sample of every case, in
//!    round-robin order starting at case `r % cases` (A1 B1 C1, B2 C2 A2, ...),
//!    so slow phases of a shared, noisy machine hit all peers alike.
//! 4. **Statistics.** The median ns/op of the samples, their interquartile
//!    range and their minimum and maximum; the ratio is median over the
//!    baseline's median. Nothing is subtracted: a loop's own overhead is part
//!    of every number (a suite may show it as a case of its own).
//!
//! Set `HEARTH_BENCH_RAW=1` to print every sample (ns/op, in the order taken)
//! to stderr.
//!
//! Progress: while the main job has a [`SuiteProgress`] open, every
//! [`Suite::run`] draws a bar of its own (cases × samples) under the suite's
//! line on stderr, so a suite needs no code to report progress.
//!
//! Tables: [`SuiteReport::table`] is the Markdown of BENCHMARKS.md,
//! [`SuiteReport::terminal_table`] the aligned text the main job prints at the
//! end. Both read a row's unit from [`SuiteReport::unit`].

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::{Cell, RefCell};
use std::fmt::Write as _;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use unicode_width::UnicodeWidthStr;

/// How long and how often to sample.
#[derive(Clone, Debug)]
pub struct Config {
    /// Samples per case (odd, so the median is a sample).
    pub samples: usize,
    /// Target duration of one sample.
    pub sample_time: Duration,
}

impl Default for Config {
    /// The main job's default run: every suite in about 2.5 minutes on 2 cores.
    fn default() -> Self {
        Config {
            samples: 21,
            sample_time: Duration::from_micros(7_500),
        }
    }
}

impl Config {
    /// The `--full` run: more and longer samples where a suite takes them
    /// from the config (some cap their own counts).
    pub fn full() -> Self {
        Config {
            samples: 51,
            sample_time: Duration::from_millis(10),
        }
    }
}

/// A goal a case should meet, shown in the "target" column.
#[derive(Clone, Copy, Debug)]
pub enum Target {
    /// The ratio to the suite's baseline must be at most this.
    RatioAtMost(f64),
    /// The median must be below this many nanoseconds per operation.
    NsBelow(f64),
    /// The median over the fastest median among `cases` (those of them in
    /// the report; not met if none is) must be at most `max`. `label` names
    /// them in the target column.
    RatioToFastestAtMost {
        cases: &'static [&'static str],
        max: f64,
        label: &'static str,
    },
    /// At most this many allocations per operation.
    AllocsAtMost(f64),
    /// Every one of these; the target column marks each.
    All(&'static [Target]),
}

impl Target {
    /// Whether `row` meets the target; `median_of` finds another case's
    /// median by name.
    fn met(self, row: &Row, median_of: &dyn Fn(&str) -> Option<f64>) -> bool {
        match self {
            Target::RatioAtMost(max) => row.ratio <= max,
            Target::NsBelow(max) => row.stats.median < max,
            Target::RatioToFastestAtMost { cases, max, .. } => cases
                .iter()
                .filter_map(|c| median_of(c))
                .min_by(f64::total_cmp)
                .is_some_and(|best| row.stats.median / best <= max),
            Target::AllocsAtMost(max) => row.allocs_per_op <= max,
            Target::All(parts) => parts.iter().all(|t| t.met(row, median_of)),
        }
    }

    fn describe(self) -> String {
        match self {
            Target::RatioAtMost(max) => format!("≤ {max:.2}×"),
            Target::NsBelow(max) if max.fract() == 0.0 => format!("< {max} ns"),
            Target::NsBelow(max) => format!("< {} ns", fmt_num(max)),
            Target::RatioToFastestAtMost { max, label, .. } => format!("≤ {max:.2}× {label}"),
            Target::AllocsAtMost(max) => format!("≤ {} allocs", fmt_num(max)),
            Target::All(parts) => {
                let parts: Vec<String> = parts.iter().map(|t| t.describe()).collect();
                parts.join(" and ")
            }
        }
    }

    /// The same target read as a rate (`1 / time`): a time ratio of at most
    /// `x` is a rate ratio of at least `1 / x`.
    fn describe_rate(self) -> String {
        match self {
            Target::RatioAtMost(max) => format!("≥ {:.2}×", 1.0 / max),
            Target::RatioToFastestAtMost { max, label, .. } => {
                format!("≥ {:.2}× {label}", 1.0 / max)
            }
            Target::All(parts) => {
                let parts: Vec<String> = parts.iter().map(|t| t.describe_rate()).collect();
                parts.join(" and ")
            }
            t => t.describe(),
        }
    }

    /// The target column: a mark and the description, per part for `All`.
    fn cell(self, row: &Row, unit: Unit, median_of: &dyn Fn(&str) -> Option<f64>) -> String {
        let describe = |t: Target| match unit {
            Unit::PerSec(_) => t.describe_rate(),
            _ => t.describe(),
        };
        match self {
            Target::All(parts) => {
                let parts: Vec<String> =
                    parts.iter().map(|t| t.cell(row, unit, median_of)).collect();
                parts.join(" · ")
            }
            t if t.met(row, median_of) => format!("✅ {}", describe(t)),
            t => format!("❌ {}", describe(t)),
        }
    }
}

/// One benchmark case: an operation timed in a loop.
struct Case<'a> {
    name: String,
    target: Option<Target>,
    /// Runs the operation `n` times and returns the elapsed time.
    run: Box<dyn FnMut(u64) -> Duration + 'a>,
}

/// A set of cases measured together, interleaved, against one baseline.
pub struct Suite<'a> {
    name: &'static str,
    title: String,
    config: Config,
    baseline: Option<usize>,
    cases: Vec<Case<'a>>,
    notes: Vec<String>,
    ops_per_call: u64,
}

impl<'a> Suite<'a> {
    /// An empty suite; `name` is what the CLI filter and the BENCHMARKS.md
    /// markers use.
    pub fn new(name: &'static str, title: impl Into<String>, config: &Config) -> Self {
        Suite {
            name,
            title: title.into(),
            config: config.clone(),
            baseline: None,
            cases: Vec::new(),
            notes: Vec::new(),
            ops_per_call: 1,
        }
    }

    /// Declares that one call of every case's op performs `n` operations
    /// (e.g. a whole workload run of `n` task polls): ns/op, allocs/op and
    /// `ops_run` are then per operation, not per call.
    pub fn ops_per_call(&mut self, n: u64) -> &mut Self {
        assert!(n > 0, "ops_per_call must be positive");
        self.ops_per_call = n;
        self
    }

    /// Adds the case every other case's ratio refers to.
    pub fn baseline(&mut self, name: &str, op: impl FnMut() + 'a) -> &mut Self {
        assert!(
            self.baseline.is_none(),
            "suite {} has two baselines",
            self.name
        );
        self.baseline = Some(self.cases.len());
        self.case(name, None, op)
    }

    /// Adds a case. `op` is one operation; keep its inputs and outputs opaque
    /// with [`std::hint::black_box`] so the loop cannot be folded.
    pub fn case(
        &mut self,
        name: &str,
        target: Option<Target>,
        mut op: impl FnMut() + 'a,
    ) -> &mut Self {
        let run = move |n: u64| {
            let start = Instant::now();
            for _ in 0..n {
                op();
            }
            start.elapsed()
        };
        self.cases.push(Case {
            name: name.to_owned(),
            target,
            run: Box::new(run),
        });
        self
    }

    /// Adds a paragraph (Markdown) under the suite's table.
    pub fn note(&mut self, text: impl Into<String>) -> &mut Self {
        self.notes.push(text.into());
        self
    }

    /// Measures every case (see the module docs) and returns the report.
    pub fn run(mut self) -> SuiteReport {
        let baseline = self.baseline.expect("a suite needs a baseline case");
        let config = self.config.clone();
        let n = self.cases.len();
        let per_call = self.ops_per_call;

        // One step per case for calibration and warm-up, one per sample.
        let bar = case_bar((n * (config.samples + 1)) as u64);

        // 1 + 2: calibrate, then warm up while counting allocations.
        let mut iters = Vec::with_capacity(n);
        let mut allocs = Vec::with_capacity(n);
        let mut ops = vec![0u64; n];
        for (i, case) in self.cases.iter_mut().enumerate() {
            bar.set_message(format!("{} (calibrating)", case.name));
            let (count, ran) = calibrate(&mut case.run, config.sample_time);
            ops[i] += ran * per_call;
            let before = alloc_count();
            COUNTING.store(true, Ordering::Relaxed);
            (case.run)(count);
            COUNTING.store(false, Ordering::Relaxed);
            allocs.push((alloc_count() - before) as f64 / (count * per_call) as f64);
            ops[i] += count * per_call;
            iters.push(count);
            bar.inc(1);
        }

        // 3: interleaved rounds.
        let mut samples = vec![Vec::with_capacity(config.samples); n];
        for round in 0..config.samples {
            for k in 0..n {
                let i = (round + k) % n;
                bar.set_message(self.cases[i].name.clone());
                let elapsed = (self.cases[i].run)(iters[i]);
                ops[i] += iters[i] * per_call;
                samples[i].push(elapsed.as_nanos() as f64 / (iters[i] * per_call) as f64);
                bar.inc(1);
            }
        }
        bar.finish_and_clear();

        if std::env::var_os("HEARTH_BENCH_RAW").is_some() {
            for (case, s) in self.cases.iter().zip(&samples) {
                let s: Vec<String> = s.iter().map(|x| format!("{x:.2}")).collect();
                eprintln!("{}: {}", case.name, s.join(" "));
            }
        }

        // 4: statistics.
        let stats: Vec<Stats> = samples.iter().map(|s| Stats::of(s)).collect();
        let base_median = stats[baseline].median;
        let medians: Vec<(String, f64)> = self
            .cases
            .iter()
            .zip(&stats)
            .map(|(case, stats)| (case.name.clone(), stats.median))
            .collect();
        let median_of = |name: &str| medians.iter().find(|(n, _)| n == name).map(|m| m.1);
        let rows = self
            .cases
            .iter()
            .zip(stats)
            .enumerate()
            .map(|(i, (case, stats))| {
                let ratio = stats.median / base_median;
                let mut row = Row {
                    name: case.name.clone(),
                    is_baseline: i == baseline,
                    ratio,
                    target: None,
                    allocs_per_op: allocs[i],
                    ops_run: ops[i],
                    stats,
                };
                row.target = case.target.map(|t| (t, t.met(&row, &median_of)));
                row
            })
            .collect();
        SuiteReport {
            name: self.name,
            title: self.title,
            baseline: self.cases[baseline].name.clone(),
            samples: config.samples,
            sample_time: config.sample_time,
            rows,
            notes: self.notes,
            sampling: None,
        }
    }
}

/// Finds an iteration count for which one run takes about `sample_time`.
/// Returns it and the number of operations run while searching.
fn calibrate(run: &mut dyn FnMut(u64) -> Duration, sample_time: Duration) -> (u64, u64) {
    let floor = Duration::from_millis(1).min(sample_time);
    let mut n: u64 = 1;
    let mut ran = 0;
    loop {
        let elapsed = run(n);
        ran += n;
        if elapsed >= floor || n >= 1 << 40 {
            let scaled = n as f64 * sample_time.as_secs_f64() / elapsed.as_secs_f64().max(1e-9);
            return ((scaled as u64).max(1), ran);
        }
        n *= 2;
    }
}

/// Order statistics of one case's samples, in ns per operation.
#[derive(Clone, Debug, PartialEq)]
pub struct Stats {
    pub median: f64,
    pub p25: f64,
    pub p75: f64,
    pub min: f64,
    pub max: f64,
}

impl Stats {
    /// Statistics of `samples` (not empty).
    pub fn of(samples: &[f64]) -> Stats {
        assert!(!samples.is_empty(), "no samples");
        let mut sorted = samples.to_vec();
        sorted.sort_by(f64::total_cmp);
        Stats {
            median: quantile(&sorted, 0.5),
            p25: quantile(&sorted, 0.25),
            p75: quantile(&sorted, 0.75),
            min: sorted[0],
            max: sorted[sorted.len() - 1],
        }
    }
}

/// The `q`-quantile of sorted data, interpolating linearly between ranks.
fn quantile(sorted: &[f64], q: f64) -> f64 {
    let pos = q * (sorted.len() - 1) as f64;
    let lo = pos.floor() as usize;
    let hi = pos.ceil() as usize;
    sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo as f64)
}

/// One measured case.
#[derive(Clone, Debug)]
pub struct Row {
    pub name: String,
    pub is_baseline: bool,
    pub stats: Stats,
    /// Median over the baseline's median.
    pub ratio: f64,
    /// The target and whether the median met it.
    pub target: Option<(Target, bool)>,
    pub allocs_per_op: f64,
    /// Every operation run (calibration, warm-up, samples; calls ×
    /// [`Suite::ops_per_call`]): lets a suite check afterwards that each
    /// operation did its work.
    pub ops_run: u64,
}

/// The result of [`Suite::run`].
#[derive(Clone, Debug)]
pub struct SuiteReport {
    pub name: &'static str,
    pub title: String,
    pub baseline: String,
    pub samples: usize,
    pub sample_time: Duration,
    pub rows: Vec<Row>,
    pub notes: Vec<String>,
    /// Replaces "N interleaved samples of ~T ms per case" in the report's
    /// header, for a suite sampled otherwise (e.g. several workloads).
    pub sampling: Option<String>,
}

impl SuiteReport {
    /// The row called `name`.
    pub fn row(&self, name: &str) -> &Row {
        self.rows
            .iter()
            .find(|r| r.name == name)
            .unwrap_or_else(|| panic!("no case {name:?}"))
    }

    /// `(met, total)` over the cases that have a target.
    pub fn targets(&self) -> (usize, usize) {
        let with: Vec<bool> = self
            .rows
            .iter()
            .filter_map(|r| r.target.map(|(_, met)| met))
            .collect();
        (with.iter().filter(|&&m| m).count(), with.len())
    }

    /// How `row`'s median reads. The harness measures ns per operation; the
    /// `net` suites (suites/net.rs) store a throughput as ns per request
    /// (1 / rate) and a p99 latency in ns, in rows named `… · p99 latency`.
    pub fn unit(&self, row: &Row) -> Unit {
        if !self.name.starts_with("net") {
            Unit::NsPerOp
        } else if row.name.ends_with("p99 latency") {
            Unit::Latency
        } else if row.name.starts_with("echo") {
            Unit::PerSec("round trips/s")
        } else {
            Unit::PerSec("req/s")
        }
    }

    /// The cells of a table: a header and one line per row. `wide` adds the
    /// extremes (the Markdown keeps them; the terminal has no room).
    fn grid(&self, wide: bool, baseline: &str) -> Vec<Vec<String>> {
        let median_of = |name: &str| {
            self.rows
                .iter()
                .find(|row| row.name == name)
                .map(|row| row.stats.median)
        };
        let timed = self.rows.iter().all(|r| self.unit(r) == Unit::NsPerOp);
        let mut header = vec!["case".to_owned()];
        if timed {
            header.push("ns/op (median)".into());
            header.push("IQR".into());
            if wide {
                header.push("min – max".into());
            }
            header.push("allocs/op".into());
        } else {
            header.push("median".into());
        }
        header.push(format!("vs {baseline}"));
        header.push("target".into());
        let mut grid = vec![header];
        for r in &self.rows {
            let s = &r.stats;
            let unit = self.unit(r);
            let mut line = vec![r.name.clone()];
            if timed {
                line.push(fmt_num(s.median));
                line.push(format!("{} – {}", fmt_num(s.p25), fmt_num(s.p75)));
                if wide {
                    line.push(format!("{} – {}", fmt_num(s.min), fmt_num(s.max)));
                }
                line.push(fmt_num(r.allocs_per_op));
            } else {
                line.push(unit.value(s.median));
            }
            // A rate's ratio is shown as a rate too: higher is better.
            let ratio = match unit {
                Unit::PerSec(_) => 1.0 / r.ratio,
                _ => r.ratio,
            };
            line.push(if r.is_baseline {
                "1× (baseline)".to_owned()
            } else if ratio.is_finite() {
                format!("{ratio:.2}×")
            } else {
                "—".to_owned()
            });
            line.push(match r.target {
                None => String::new(),
                Some((t, _)) => t.cell(r, unit, &median_of),
            });
            grid.push(line);
        }
        grid
    }

    /// The Markdown table.
    pub fn table(&self) -> String {
        let grid = self.grid(true, &self.baseline);
        let mut out = String::new();
        for (i, line) in grid.iter().enumerate() {
            let _ = writeln!(out, "| {} |", line.join(" | "));
            if i == 0 {
                let align: Vec<&str> = (0..line.len())
                    .map(|c| {
                        if c == 0 || c == line.len() - 1 {
                            "---"
                        } else {
                            "--:"
                        }
                    })
                    .collect();
                let _ = writeln!(out, "|{}|", align.join("|"));
            }
        }
        out
    }

    /// The table for a terminal: a title line naming the baseline, then
    /// columns aligned by display width (numbers to the right).
    pub fn terminal_table(&self) -> String {
        let grid = self.grid(false, "baseline");
        let cols = grid[0].len();
        let widths: Vec<usize> = (0..cols)
            .map(|c| grid.iter().map(|l| l[c].width()).max().unwrap_or(0))
            .collect();
        let mut out = format!(
            "{} — {} (baseline: {})\n",
            self.name, self.title, self.baseline
        );
        for (i, line) in grid.iter().enumerate() {
            let mut text = String::new();
            for (c, cell) in line.iter().enumerate() {
                let pad = " ".repeat(widths[c] - cell.width());
                let numeric = c != 0 && c != cols - 1;
                if c > 0 {
                    text.push_str("  ");
                }
                if numeric {
                    text.push_str(&pad);
                    text.push_str(cell);
                } else {
                    text.push_str(cell);
                    if c != cols - 1 {
                        text.push_str(&pad);
                    }
                }
            }
            let _ = writeln!(out, "{}", text.trim_end());
            if i == 0 {
                let rule: usize = widths.iter().sum::<usize>() + 2 * (cols - 1);
                let _ = writeln!(out, "{}", "─".repeat(rule));
            }
        }
        out
    }
}

/// How a row's median reads in a table (see [`SuiteReport::unit`]).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Unit {
    /// Nanoseconds per operation: what [`Suite::run`] measures.
    NsPerOp,
    /// A rate of the named events: the median holds ns per event; shown as
    /// events per second, its ratio inverted (higher is better).
    PerSec(&'static str),
    /// A latency: the median holds ns; shown in ms.
    Latency,
}

impl Unit {
    /// `median` (ns) in this unit, with the unit's name.
    fn value(self, median: f64) -> String {
        match self {
            Unit::NsPerOp => format!("{} ns", fmt_num(median)),
            Unit::PerSec(what) => format!("{} {what}", fmt_num(1e9 / median)),
            Unit::Latency => format!("{} ms", fmt_num(median / 1e6)),
        }
    }
}

/// Formats a number with three significant digits (at least two decimals
/// below 10, none above 100).
pub fn fmt_num(x: f64) -> String {
    if x == 0.0 {
        "0".to_owned()
    } else if x.abs() < 10.0 {
        format!("{x:.2}")
    } else if x.abs() < 100.0 {
        format!("{x:.1}")
    } else {
        format!("{x:.0}")
    }
}

// ---- Progress ----

std::thread_local! {
    /// The progress display of the suite running on this thread, if the main
    /// job opened one ([`SuiteProgress::start`]); [`Suite::run`] adds its bar
    /// to it.
    static PROGRESS: RefCell<Option<MultiProgress>> = const { RefCell::new(None) };
}

/// The bar of one [`Suite::run`]: under the open suite's line, or hidden.
fn case_bar(steps: u64) -> ProgressBar {
    let Some(multi) = PROGRESS.with(|p| p.borrow().clone()) else {
        return ProgressBar::hidden();
    };
    let bar = multi.add(ProgressBar::new(steps));
    bar.set_style(
        ProgressStyle::with_template("    {bar:30.cyan/blue} {pos:>4}/{len:4} {wide_msg}")
            .expect("a valid template")
            .progress_chars("=> "),
    );
    bar
}

/// A suite's line on stderr (spinner, name, elapsed time) while it runs; the
/// cases' bars appear under it. Ends when dropped.
pub struct SuiteProgress {
    bar: ProgressBar,
    start: Instant,
}

impl SuiteProgress {
    /// Opens the line of suite `name`, the `index`-th (from 1) of `total`.
    pub fn start(multi: &MultiProgress, name: &str, index: usize, total: usize) -> SuiteProgress {
        let bar = multi.add(ProgressBar::new_spinner());
        bar.set_style(
            ProgressStyle::with_template("{spinner} [{prefix}] {msg} {elapsed}")
                .expect("a valid template"),
        );
        bar.set_prefix(format!("{index}/{total}"));
        bar.set_message(format!("suite {name}"));
        bar.enable_steady_tick(Duration::from_millis(200));
        PROGRESS.with(|p| *p.borrow_mut() = Some(multi.clone()));
        SuiteProgress {
            bar,
            start: Instant::now(),
        }
    }

    /// Time since [`SuiteProgress::start`].
    pub fn elapsed(&self) -> Duration {
        self.start.elapsed()
    }
}

impl Drop for SuiteProgress {
    fn drop(&mut self) {
        PROGRESS.with(|p| *p.borrow_mut() = None);
        self.bar.finish_and_clear();
    }
}

/// The main job's progress display: on stderr when it is a terminal,
/// hidden otherwise (indicatif checks).
pub fn progress_display() -> MultiProgress {
    MultiProgress::with_draw_target(ProgressDrawTarget::stderr())
}

// ---- Allocation counting ----

/// Switched on only around the warm-up sample, so the timed samples pay just
/// one relaxed load per allocation.
static COUNTING: AtomicBool = AtomicBool::new(false);

std::thread_local! {
    /// Allocations on this thread while [`COUNTING`] was on. A `const`
    /// thread-local without a destructor never allocates, so the allocator
    /// may use it.
    static ALLOCS: Cell<u64> = const { Cell::new(0) };
}

fn alloc_count() -> u64 {
    ALLOCS.with(Cell::get)
}

#[inline]
fn count_alloc() {
    if COUNTING.load(Ordering::Relaxed) {
        let _ = ALLOCS.try_with(|c| c.set(c.get() + 1));
    }
}

/// The system allocator, counting allocations (and reallocations) of the
/// measuring thread during warm-up samples.
pub struct CountingAlloc;

// SAFETY: every method forwards to `System` with the caller's arguments, so
// `System`'s guarantees carry over; counting touches no allocator state.
unsafe impl GlobalAlloc for CountingAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count_alloc();
        // SAFETY: forwarded; the caller upholds `GlobalAlloc::alloc`'s contract.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        count_alloc();
        // SAFETY: forwarded, as above.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count_alloc();
        // SAFETY: forwarded, as above; `ptr` came from this allocator, i.e. `System`.
        unsafe { System.realloc(ptr, layout, new_size) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded, as above.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::hint::black_box;
    use std::sync::Mutex;

    /// `COUNTING` is process-wide: tests that run a suite take turns.
    static SERIAL: Mutex<()> = Mutex::new(());

    #[test]
    fn quantiles_interpolate() {
        let s = Stats::of(&[5.0, 1.0, 3.0, 2.0, 4.0]);
        assert_eq!(
            s,
            Stats {
                median: 3.0,
                p25: 2.0,
                p75: 4.0,
                min: 1.0,
                max: 5.0
            }
        );
        let s = Stats::of(&[1.0, 2.0]);
        assert_eq!(s.median, 1.5);
        assert_eq!(s.p25, 1.25);
    }

    #[test]
    fn run_interleaves_and_counts() {
        let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
        // Each case appends its name when it follows another case's op.
        let order = std::cell::RefCell::new(String::new());
        let op = |name: char| {
            let mut o = order.borrow_mut();
            if !o.ends_with(name) {
                o.push(name);
            }
        };
        let config = Config {
            samples: 3,
            sample_time: Duration::from_micros(200),
        };
        let mut suite = Suite::new("t", "test", &config);
        let (a, b, c) = (Cell::new(0u64), Cell::new(0u64), Cell::new(0u64));
        suite
            .baseline("a", || {
                op('a');
                a.set(black_box(a.get() + 1));
            })
            .case("b", Some(Target::RatioAtMost(1e9)), || {
                op('b');
                b.set(black_box(b.get() + 1));
            })
            .case("c", Some(Target::NsBelow(0.0)), || {
                op('c');
                c.set(black_box(c.get() + 1));
                black_box(Box::new(1u8));
            });
        let report = suite.run();
        // Calibration and warm-up per case, then rounds abc, bca, cab.
        assert_eq!(*order.borrow(), "abcabcbcacab");
        assert_eq!(report.row("a").ops_run, a.get());
        assert_eq!(report.row("b").ops_run, b.get());
        assert_eq!(report.row("c").ops_run, c.get());
        assert_eq!(report.row("a").allocs_per_op, 0.0);
        assert_eq!(report.row("c").allocs_per_op, 1.0);
        assert!(report.row("a").is_baseline);
        assert_eq!(report.row("a").ratio, 1.0);
        assert_eq!(report.targets(), (1, 2));
        let table = report.table();
        assert!(table.contains("| vs a |"), "{table}");
        assert!(table.contains("❌ < 0 ns"), "{table}");
        assert_eq!(table.lines().count(), 5);
    }

    /// A report of flat rows, as the net suite builds them.
    fn flat_report(name: &'static str, rows: &[(&str, f64, f64, Option<Target>)]) -> SuiteReport {
        let rows = rows
            .iter()
            .enumerate()
            .map(|(i, &(name, median, ratio, target))| {
                let mut row = Row {
                    name: name.to_owned(),
                    is_baseline: i < 2,
                    stats: Stats::of(&[median]),
                    ratio,
                    target: None,
                    allocs_per_op: 0.0,
                    ops_run: 0,
                };
                row.target = target.map(|t| (t, t.met(&row, &|_| None)));
                row
            })
            .collect();
        SuiteReport {
            name,
            title: "servers".into(),
            baseline: "tokio".into(),
            samples: 1,
            sample_time: Duration::from_secs(1),
            rows,
            notes: Vec::new(),
            sampling: None,
        }
    }

    #[test]
    fn net_rows_read_as_rates_and_milliseconds() {
        let report = flat_report(
            "net",
            &[
                ("raw · tokio", 10_000.0, 1.0, None),
                ("raw · tokio · p99 latency", 2_500_000.0, 1.0, None),
                (
                    "raw · hearth",
                    8_000.0,
                    0.8,
                    Some(Target::RatioAtMost(1.0 / 1.15)),
                ),
                (
                    "raw · hearth · p99 latency",
                    3_000_000.0,
                    1.2,
                    Some(Target::RatioAtMost(1.0)),
                ),
                ("echo · hearth", 20_000.0, f64::NAN, None),
            ],
        );
        let md = report.table();
        assert!(
            md.starts_with("| case | median | vs tokio | target |\n|---|--:|--:|---|\n"),
            "{md}"
        );
        assert!(!md.contains("ns/op"), "{md}");
        assert!(
            md.contains("| raw · tokio | 100000 req/s | 1× (baseline) |  |"),
            "{md}"
        );
        assert!(
            md.contains("| raw · tokio · p99 latency | 2.50 ms | 1× (baseline) |  |"),
            "{md}"
        );
        // The rate's ratio and target read as rates: 1.25× the baseline's.
        assert!(
            md.contains("| raw · hearth | 125000 req/s | 1.25× | ✅ ≥ 1.15× |"),
            "{md}"
        );
        assert!(
            md.contains("| raw · hearth · p99 latency | 3.00 ms | 1.20× | ❌ ≤ 1.00× |"),
            "{md}"
        );
        assert!(
            md.contains("| echo · hearth | 50000 round trips/s | — |  |"),
            "{md}"
        );

        let text = report.terminal_table();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "net — servers (baseline: tokio)");
        assert!(lines[1].starts_with("case "), "{text}");
        assert!(lines[2].chars().all(|c| c == '─'), "{text}");
        // Numbers end in one column, whatever the width of the names and marks.
        let end = |l: &str, cell: &str| {
            let i = l.find(cell).expect(cell);
            l[..i + cell.len()].width()
        };
        assert_eq!(end(lines[3], "100000 req/s"), end(lines[5], "125000 req/s"));
        assert_eq!(end(lines[5], "1.25×"), end(lines[6], "1.20×"));
        assert_eq!(lines.len(), 8, "{text}");
    }

    #[test]
    fn terminal_table_aligns_timed_rows() {
        let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
        let config = Config {
            samples: 3,
            sample_time: Duration::from_micros(200),
        };
        let mut suite = Suite::new("t", "test", &config);
        suite
            .baseline("a", || {
                black_box(1u8);
            })
            .case(
                "a much longer case · ✅",
                Some(Target::NsBelow(1e9)),
                || {
                    black_box(2u8);
                },
            );
        let text = suite.run().terminal_table();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "t — test (baseline: a)");
        assert!(
            lines[1].contains("ns/op (median)") && lines[1].contains("allocs/op"),
            "{text}"
        );
        assert!(lines[4].ends_with("✅ < 1000000000 ns"), "{text}");
        // The ratio column ends at the same display width on every line.
        let ratio_end = |l: &str, cell: &str| {
            let i = l.find(cell).expect(cell);
            l[..i + cell.len()].width()
        };
        assert_eq!(
            ratio_end(lines[1], "vs baseline"),
            ratio_end(lines[3], "1× (baseline)")
        );
        assert_eq!(lines.len(), 5, "{text}");
    }

    #[test]
    fn ops_per_call_and_composite_targets() {
        let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
        let config = Config {
            samples: 3,
            sample_time: Duration::from_micros(200),
        };
        let mut suite = Suite::new("t", "test", &config);
        let calls = Cell::new(0u64);
        const ALL: Target = Target::All(&[
            Target::RatioToFastestAtMost {
                cases: &["fast", "absent"],
                max: 1e-9,
                label: "fast",
            },
            Target::AllocsAtMost(0.5),
        ]);
        suite
            .ops_per_call(4)
            .baseline("fast", || calls.set(black_box(calls.get() + 1)))
            .case("slow", Some(ALL), || {
                black_box(Box::new(1u8));
                std::thread::sleep(Duration::from_micros(20));
            });
        let report = suite.run();
        assert_eq!(report.row("fast").ops_run, calls.get() * 4);
        assert_eq!(report.row("slow").allocs_per_op, 0.25);
        assert_eq!(report.row("slow").target.map(|t| t.1), Some(false));
        assert_eq!(report.targets(), (0, 1));
        let table = report.table();
        assert!(
            table.contains("| ❌ ≤ 0.00× fast · ✅ ≤ 0.50 allocs |"),
            "{table}"
        );
    }
}
