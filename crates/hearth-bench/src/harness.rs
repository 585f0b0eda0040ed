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

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// How long and how often to sample.
#[derive(Clone, Debug)]
pub struct Config {
    /// Samples per case (odd, so the median is a sample).
    pub samples: usize,
    /// Target duration of one sample.
    pub sample_time: Duration,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            samples: 21,
            sample_time: Duration::from_micros(7_500),
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

    /// The target column: a mark and the description, per part for `All`.
    fn cell(self, row: &Row, median_of: &dyn Fn(&str) -> Option<f64>) -> String {
        match self {
            Target::All(parts) => {
                let parts: Vec<String> = parts.iter().map(|t| t.cell(row, median_of)).collect();
                parts.join(" · ")
            }
            t if t.met(row, median_of) => format!("✅ {}", t.describe()),
            t => format!("❌ {}", t.describe()),
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

        // 1 + 2: calibrate, then warm up while counting allocations.
        let mut iters = Vec::with_capacity(n);
        let mut allocs = Vec::with_capacity(n);
        let mut ops = vec![0u64; n];
        for (i, case) in self.cases.iter_mut().enumerate() {
            let (count, ran) = calibrate(&mut case.run, config.sample_time);
            ops[i] += ran * per_call;
            let before = alloc_count();
            COUNTING.store(true, Ordering::Relaxed);
            (case.run)(count);
            COUNTING.store(false, Ordering::Relaxed);
            allocs.push((alloc_count() - before) as f64 / (count * per_call) as f64);
            ops[i] += count * per_call;
            iters.push(count);
        }

        // 3: interleaved rounds.
        let mut samples = vec![Vec::with_capacity(config.samples); n];
        for round in 0..config.samples {
            for k in 0..n {
                let i = (round + k) % n;
                let elapsed = (self.cases[i].run)(iters[i]);
                ops[i] += iters[i] * per_call;
                samples[i].push(elapsed.as_nanos() as f64 / (iters[i] * per_call) as f64);
            }
        }

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

    /// The Markdown table.
    pub fn table(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "| case | ns/op (median) | IQR | min – max | allocs/op | vs {} | target |",
            self.baseline
        );
        out.push_str("|---|--:|--:|--:|--:|--:|---|\n");
        for r in &self.rows {
            let s = &r.stats;
            let ratio = if r.is_baseline {
                "1× (baseline)".to_owned()
            } else {
                format!("{:.2}×", r.ratio)
            };
            let target = match r.target {
                None => String::new(),
                Some((t, _)) => t.cell(r, &|name| {
                    self.rows
                        .iter()
                        .find(|row| row.name == name)
                        .map(|row| row.stats.median)
                }),
            };
            let _ = writeln!(
                out,
                "| {} | {} | {} – {} | {} – {} | {} | {} | {} |",
                r.name,
                fmt_num(s.median),
                fmt_num(s.p25),
                fmt_num(s.p75),
                fmt_num(s.min),
                fmt_num(s.max),
                fmt_num(r.allocs_per_op),
                ratio,
                target
            );
        }
        out
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
