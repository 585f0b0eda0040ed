//! Suite `combinators`: the cost of delivering one wake to one child of a
//! join over N children, for hearth's precise combinators and their peers.
//!
//! One operation ("round") wakes the next child (in turn) and polls the
//! parent once. Children never finish; each parks the waker it is given and
//! keeps it while it stays the same (`will_wake`), and the wake is a
//! `wake_by_ref` of the parked waker, so no round clones a waker. The parent
//! task has a dual waker (`DualRc`), so hearth's local path is real.

use std::cell::Cell;
use std::future::Future;
use std::hint::black_box;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::atomic::AtomicUsize;
use std::task::{Context, Poll, Waker};

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use futures::stream::{FuturesUnordered, Stream};
use futures::task::ArcWake;
use hearth_task::dual::{DualRc, DualWake};
use hearth_task::{ContextExt, LocalWaker};

use crate::harness::{fmt_num, Config, Suite, SuiteReport};

/// The parent task: a wake sets a flag.
struct Parent {
    woken: Cell<u64>,
}

impl DualWake for Parent {
    type Shared = AtomicUsize;
    fn wake_local(this: &DualRc<Self>) {
        this.woken.set(this.woken.get() + 1);
    }
    fn wake_remote(_: &AtomicUsize, _: &Waker) {
        unreachable!("the benchmark wakes on the owner thread only");
    }
}

/// A foreign parent task: futures' `ArcWake` (as under tokio or futures'
/// executors); a wake sets a flag.
struct ArcParent {
    woken: AtomicBool,
}

impl ArcWake for ArcParent {
    fn wake_by_ref(arc_self: &Arc<Self>) {
        arc_self.woken.store(true, Ordering::Relaxed);
    }
}

/// What a child parked.
enum Parked {
    None,
    Local(LocalWaker),
    Waker(Waker),
}

/// How a child parks and is woken.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Habit {
    /// Parks `cx.local_waker()`, kept while it `will_wake`; woken by ref.
    Local,
    /// Parks `cx.waker()`, kept while it `will_wake`; woken by ref.
    ByRef,
    /// Oneshot-style: the waker is taken and woken by value; each poll
    /// parks a fresh clone of `cx.waker()`.
    Reclone,
}

/// One child's shared state.
struct Leaf {
    parked: std::cell::RefCell<Parked>,
    habit: Habit,
    polls: Rc<Cell<u64>>,
}

impl Leaf {
    fn wake(&self) {
        if self.habit == Habit::Reclone {
            let parked = std::mem::replace(&mut *self.parked.borrow_mut(), Parked::None);
            match parked {
                Parked::Waker(w) => w.wake(),
                _ => panic!("child woken before it parked"),
            }
            return;
        }
        match &*self.parked.borrow() {
            Parked::None => panic!("child woken before it parked"),
            Parked::Local(w) => w.wake_by_ref(),
            Parked::Waker(w) => w.wake_by_ref(),
        }
    }
}

/// A child that never finishes and parks its waker.
struct Child(Rc<Leaf>);

impl Future for Child {
    type Output = ();
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let leaf = &self.0;
        leaf.polls.set(leaf.polls.get() + 1);
        let mut parked = leaf.parked.borrow_mut();
        if leaf.habit == Habit::Reclone {
            *parked = Parked::Waker(cx.waker().clone());
        } else if leaf.habit == Habit::Local {
            let w = ContextExt::local_waker(cx);
            match &*parked {
                Parked::Local(old) if old.will_wake(w) => {}
                _ => *parked = Parked::Local(w.clone()),
            }
        } else {
            let w = cx.waker();
            match &*parked {
                Parked::Waker(old) if old.will_wake(w) => {}
                _ => *parked = Parked::Waker(w.clone()),
            }
        }
        Poll::Pending
    }
}

/// N children and their counter.
fn leaves(n: usize, local: bool, polls: &Rc<Cell<u64>>) -> Vec<Rc<Leaf>> {
    leaves_with(n, if local { Habit::Local } else { Habit::ByRef }, polls)
}

/// N children with a habit.
fn leaves_with(n: usize, habit: Habit, polls: &Rc<Cell<u64>>) -> Vec<Rc<Leaf>> {
    (0..n)
        .map(|_| {
            Rc::new(Leaf {
                parked: std::cell::RefCell::new(Parked::None),
                habit,
                polls: polls.clone(),
            })
        })
        .collect()
}

/// A case: the leaves, the parent future and its poll counter.
struct Bench {
    name: String,
    leaves: Vec<Rc<Leaf>>,
    polls: Rc<Cell<u64>>,
    next: usize,
    poll: Box<dyn FnMut(&mut Context<'_>)>,
    /// The parent's `Waker` when it is not the suite's `DualRc` parent.
    parent: Option<Waker>,
}

fn future_case<F: Future + 'static>(
    name: String,
    leaves: Vec<Rc<Leaf>>,
    polls: Rc<Cell<u64>>,
    f: F,
) -> Bench {
    let mut f = Box::pin(f);
    Bench {
        name,
        leaves,
        polls,
        next: 0,
        poll: Box::new(move |cx| {
            assert!(f.as_mut().poll(cx).is_pending());
        }),
        parent: None,
    }
}

fn stream_case<S: Stream + 'static>(
    name: String,
    leaves: Vec<Rc<Leaf>>,
    polls: Rc<Cell<u64>>,
    s: S,
) -> Bench {
    let mut s = Box::pin(s);
    Bench {
        name,
        leaves,
        polls,
        next: 0,
        poll: Box::new(move |cx| {
            assert!(s.as_mut().poll_next(cx).is_pending());
        }),
        parent: None,
    }
}

macro_rules! eight {
    ($mac:path, $l:expr) => {{
        let l = $l;
        async move {
            $mac!(
                Child(l[0].clone()),
                Child(l[1].clone()),
                Child(l[2].clone()),
                Child(l[3].clone()),
                Child(l[4].clone()),
                Child(l[5].clone()),
                Child(l[6].clone()),
                Child(l[7].clone())
            );
        }
    }};
}

const NS: [usize; 3] = [8, 64, 1024];
const FLOOR: &str = "floor: the child polled alone";
const H_LOCAL: &str = "hearth join_all, local path";
const H_WAKER: &str = "hearth join_all, Waker path";
const H_MACRO: &str = "hearth join! (8), local path";
const PEERS: [&str; 5] = [
    "futures::future::join_all",
    "futures FuturesUnordered",
    "futures_concurrency Vec::join",
    "futures::join! (8)",
    "tokio::join! (8)",
];

/// Issue 15's matrix beside the rows above (whose children park
/// `cx.waker()` and wake it by ref under the `DualRc` parent): (group label,
/// foreign parent, child habit).
const MATRIX: [(&str, bool, Habit); 3] = [
    ("foreign parent, wake_by_ref", true, Habit::ByRef),
    ("foreign parent, take-wake-reclone", true, Habit::Reclone),
    ("hearth parent, take-wake-reclone", false, Habit::Reclone),
];
const M_FLOOR: &str = "floor";
const M_HEARTH: &str = "hearth join_all";
const M_PEERS: [&str; 3] = [PEERS[0], PEERS[1], PEERS[2]];

fn mname(case: &str, group: &str, n: usize) -> String {
    format!("{case} ({group}), N={n}")
}

/// Names a case of a group: (case, N) -> row name.
type CaseName = Box<dyn Fn(&str, usize) -> String>;

fn name(case: &str, n: usize) -> String {
    format!("{case}, N={n}")
}

pub fn run(config: &Config) -> SuiteReport {
    let parent = DualRc::new(
        Parent {
            woken: Cell::new(0),
        },
        AtomicUsize::new(0),
    );
    let pw = parent.waker_ref();
    let mut benches: Vec<Bench> = Vec::new();
    for n in NS {
        let c = || Rc::new(Cell::new(0));
        // The floor: one child, woken and polled with the parent's context.
        let p = c();
        let l = leaves(1, true, &p);
        let child = Child(l[0].clone());
        benches.push(future_case(name(FLOOR, n), l, p, child));
        let p = c();
        let l = leaves(n, true, &p);
        let f = hearth_future::join_all(l.iter().map(|l| Child(l.clone())));
        benches.push(future_case(name(H_LOCAL, n), l, p, f));
        let p = c();
        let l = leaves(n, false, &p);
        let f = hearth_future::join_all(l.iter().map(|l| Child(l.clone())));
        benches.push(future_case(name(H_WAKER, n), l, p, f));
        let p = c();
        let l = leaves(n, false, &p);
        let f = futures::future::join_all(l.iter().map(|l| Child(l.clone())));
        benches.push(future_case(name(PEERS[0], n), l, p, f));
        let p = c();
        let l = leaves(n, false, &p);
        let s: FuturesUnordered<Child> = l.iter().map(|l| Child(l.clone())).collect();
        benches.push(stream_case(name(PEERS[1], n), l, p, s));
        let p = c();
        let l = leaves(n, false, &p);
        let v: Vec<Child> = l.iter().map(|l| Child(l.clone())).collect();
        let f = futures_concurrency::future::Join::join(v);
        benches.push(future_case(name(PEERS[2], n), l, p, f));
        if n == 8 {
            let p = c();
            let l = leaves(n, true, &p);
            let f = eight!(hearth_future::join, l.clone());
            benches.push(future_case(name(H_MACRO, n), l, p, f));
            let p = c();
            let l = leaves(n, false, &p);
            let f = eight!(futures::join, l.clone());
            benches.push(future_case(name(PEERS[3], n), l, p, f));
            let p = c();
            let l = leaves(n, false, &p);
            let f = eight!(tokio::join, l.clone());
            benches.push(future_case(name(PEERS[4], n), l, p, f));
        }
    }
    let foreign = futures::task::waker(Arc::new(ArcParent {
        woken: AtomicBool::new(false),
    }));
    for n in NS {
        for (group, is_foreign, habit) in MATRIX {
            let c = || Rc::new(Cell::new(0));
            let mut cases = Vec::new();
            let p = c();
            let l = leaves_with(1, habit, &p);
            let child = Child(l[0].clone());
            cases.push(future_case(mname(M_FLOOR, group, n), l, p, child));
            let p = c();
            let l = leaves_with(n, habit, &p);
            let f = hearth_future::join_all(l.iter().map(|l| Child(l.clone())));
            cases.push(future_case(mname(M_HEARTH, group, n), l, p, f));
            let p = c();
            let l = leaves_with(n, habit, &p);
            let f = futures::future::join_all(l.iter().map(|l| Child(l.clone())));
            cases.push(future_case(mname(M_PEERS[0], group, n), l, p, f));
            let p = c();
            let l = leaves_with(n, habit, &p);
            let s: FuturesUnordered<Child> = l.iter().map(|l| Child(l.clone())).collect();
            cases.push(stream_case(mname(M_PEERS[1], group, n), l, p, s));
            let p = c();
            let l = leaves_with(n, habit, &p);
            let v: Vec<Child> = l.iter().map(|l| Child(l.clone())).collect();
            let f = futures_concurrency::future::Join::join(v);
            cases.push(future_case(mname(M_PEERS[2], group, n), l, p, f));
            for mut b in cases {
                if is_foreign {
                    b.parent = Some(foreign.clone());
                }
                benches.push(b);
            }
        }
    }
    // First poll of everything (not timed), then reset the counters.
    for b in &mut benches {
        let w = b.parent.clone().unwrap_or_else(|| (*pw).clone());
        let mut cx = Context::from_waker(&w);
        (b.poll)(&mut cx);
        b.polls.set(0);
    }

    let mut suite = Suite::new(
        "combinators",
        "Precise combinators: one wake, one child poll",
        config,
    );
    let bench_cells: Vec<Rc<std::cell::RefCell<Bench>>> = benches
        .into_iter()
        .map(|b| Rc::new(std::cell::RefCell::new(b)))
        .collect();
    let names: Vec<String> = bench_cells
        .iter()
        .map(|b| b.borrow().name.clone())
        .collect();
    for (i, b) in bench_cells.iter().enumerate() {
        let b = b.clone();
        let parent = &parent;
        let op = move || {
            let mut b = b.borrow_mut();
            let b = &mut *b;
            let i = b.next;
            b.next = if i + 1 == b.leaves.len() { 0 } else { i + 1 };
            b.leaves[i].wake();
            match b.parent.take() {
                Some(w) => {
                    let mut cx = Context::from_waker(&w);
                    (b.poll)(black_box(&mut cx));
                    b.parent = Some(w);
                }
                None => {
                    let w = parent.waker_ref();
                    let mut cx = Context::from_waker(&w);
                    (b.poll)(black_box(&mut cx));
                }
            }
        };
        if i == 0 {
            suite.baseline(&names[i], op);
        } else {
            suite.case(&names[i], None, op);
        }
    }

    // All children ready at once: 10,000 `ready` futures through join_all.
    const READY: usize = 10_000;
    let ready_hearth = "join_all of 10,000 ready futures: hearth";
    let ready_futures = "join_all of 10,000 ready futures: futures";
    suite.case(ready_hearth, None, || {
        let w = parent.waker_ref();
        let mut cx = Context::from_waker(&w);
        let mut f = std::pin::pin!(hearth_future::join_all((0..READY).map(std::future::ready)));
        match f.as_mut().poll(&mut cx) {
            Poll::Ready(v) => assert_eq!(black_box(v).len(), READY),
            Poll::Pending => unreachable!(),
        }
    });
    suite.case(ready_futures, None, || {
        let w = parent.waker_ref();
        let mut cx = Context::from_waker(&w);
        let mut f = std::pin::pin!(futures::future::join_all(
            (0..READY).map(std::future::ready)
        ));
        match f.as_mut().poll(&mut cx) {
            Poll::Ready(v) => assert_eq!(black_box(v).len(), READY),
            Poll::Pending => unreachable!(),
        }
    });
    suite.note(
        "One operation (round) wakes the next child in turn (`wake_by_ref` of the waker it parked) and polls \
         the parent once with a dual waker (`DualRc::waker_ref`). hearth's local path: children park \
         `cx.local_waker()`; every other row: children park `cx.waker()`. `floor` is the same child woken and \
         polled alone, with the parent's context; a combinator's overhead is its row minus the floor of the \
         same N. The ratio column is against the first floor; the tables below the notes are the figures \
         the targets are about. The rows marked (parent, habit) are issue 15's matrix: a foreign parent is \
         futures' `ArcWake` waker (as under tokio); `take-wake-reclone` children take their parked waker, \
         wake it by value and park a fresh clone on every poll (oneshot-style); each group has its own \
         floor.",
    );
    let mut report = suite.run();

    // Child polls per round and overheads.
    let mut table = String::from(
        "| N | case | ns/round | child polls/round | overhead ns | overhead vs best peer |\n|--:|---|--:|--:|--:|--:|\n",
    );
    let mut summary = String::new();
    for n in NS {
        let floor = report.row(&name(FLOOR, n)).stats.median;
        let over = |case: &str| -> Option<f64> {
            names
                .iter()
                .any(|x| x == &name(case, n))
                .then(|| report.row(&name(case, n)).stats.median - floor)
        };
        let best = PEERS
            .iter()
            .filter_map(|p| over(p))
            .fold(f64::INFINITY, f64::min);
        for (b, nm) in bench_cells.iter().zip(&names) {
            if !nm.ends_with(&format!(", N={n}")) {
                continue;
            }
            let row = report.row(nm);
            let polls = b.borrow().polls.get() as f64 / row.ops_run as f64;
            let o = row.stats.median - floor;
            let vs = if nm.starts_with("floor") {
                String::new()
            } else {
                format!("{:.2}×", o / best)
            };
            table.push_str(&format!(
                "| {n} | {} | {} | {:.2} | {} | {vs} |\n",
                nm.trim_end_matches(&format!(", N={n}")),
                fmt_num(row.stats.median),
                polls,
                fmt_num(o)
            ));
        }
        let local = over(H_LOCAL).unwrap_or(f64::NAN);
        summary.push_str(&format!(
            "N={n}: hearth local overhead {} ns vs best peer {} ns = {:.2}× (target ≤ 0.35×: {}). ",
            fmt_num(local),
            fmt_num(best),
            local / best,
            if local / best <= 0.35 {
                "met"
            } else {
                "missed"
            }
        ));
    }
    // Issue 15's matrix: overhead of hearth's join_all over the best peer,
    // per parent and child habit (the first group is the rows above).
    let mut matrix = String::from(
        "| parent, child habit | N | hearth ns/round | best peer | its ns/round | floor | hearth overhead vs best peer's | target |\n|---|--:|--:|---|--:|--:|--:|---|\n",
    );
    let mut groups: Vec<(String, CaseName, f64)> = vec![(
        "hearth parent, wake_by_ref (Waker path)".to_owned(),
        Box::new(|case: &str, n| {
            name(
                if case == M_HEARTH {
                    H_WAKER
                } else if case == M_FLOOR {
                    FLOOR
                } else {
                    case
                },
                n,
            )
        }),
        f64::NAN,
    )];
    for (group, is_foreign, _) in MATRIX {
        groups.push((
            group.to_owned(),
            Box::new(move |case: &str, n| mname(case, group, n)),
            if is_foreign { 1.0 } else { f64::NAN },
        ));
    }
    for (group, nm, target) in &groups {
        for n in NS {
            let med = |case: &str| report.row(&nm(case, n)).stats.median;
            let floor = med(M_FLOOR);
            let (peer, best) = M_PEERS
                .iter()
                .map(|p| (*p, med(p)))
                .min_by(|a, b| a.1.total_cmp(&b.1))
                .expect("peers");
            let ours = med(M_HEARTH);
            let ratio = (ours - floor) / (best - floor);
            let t = if target.is_nan() {
                String::new()
            } else if ratio <= *target {
                format!("≤ {target:.2}×: met")
            } else {
                format!("≤ {target:.2}×: missed")
            };
            matrix.push_str(&format!(
                "| {group} | {n} | {} | {peer} | {} | {} | {ratio:.2}× | {t} |\n",
                fmt_num(ours),
                fmt_num(best),
                fmt_num(floor),
            ));
        }
    }
    report.notes.push(matrix);
    let cost8 = report.row(&name(H_LOCAL, 8)).stats.median;
    let cost1024 = report.row(&name(H_LOCAL, 1024)).stats.median;
    summary.push_str(&format!(
        "Growth of hearth's local cost per round from N=8 to N=1024: {:.2}× (target ≤ 1.3×: {}). ",
        cost1024 / cost8,
        if cost1024 / cost8 <= 1.3 {
            "met"
        } else {
            "missed"
        }
    ));
    let rh = report.row(ready_hearth).stats.median;
    let rf = report.row(ready_futures).stats.median;
    summary.push_str(&format!(
        "10,000 ready futures: hearth {} µs, futures {} µs: {:.1}× faster (target ≥ 5×: {}).",
        fmt_num(rh / 1e3),
        fmt_num(rf / 1e3),
        rf / rh,
        if rf / rh >= 5.0 { "met" } else { "missed" }
    ));
    report.notes.push(table);
    report.notes.push(summary);
    report
}
