//! select!: syntax, precise polling, fairness, and the same outputs, polling
//! order and drop order as tokio's `select!`.

mod common;

use std::cell::RefCell;
use std::future::{pending, ready, Future};
use std::pin::{pin, Pin};
use std::rc::Rc;
use std::task::{Context, Poll};

use common::{leaf, Driver, Leaf, Park};
use hearth_task::atomic::counting::count;

type Log = Rc<RefCell<Vec<String>>>;

/// A future that logs its polls and its drop, and is ready with `out` after
/// `pending_polls` pending polls (waking itself each time).
struct Logged<T> {
    name: &'static str,
    log: Log,
    pending_polls: usize,
    out: Option<T>,
}

impl<T> Future for Logged<T> {
    type Output = T;
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<T> {
        // SAFETY: no field is structurally pinned.
        let this = unsafe { self.get_unchecked_mut() };
        this.log.borrow_mut().push(format!("poll {}", this.name));
        if this.pending_polls == 0 {
            match this.out.take() {
                Some(v) => return Poll::Ready(v),
                None => return Poll::Pending, // stays pending forever
            }
        }
        this.pending_polls -= 1;
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}

impl<T> Drop for Logged<T> {
    fn drop(&mut self) {
        self.log.borrow_mut().push(format!("drop {}", self.name));
    }
}

fn logged<T>(log: &Log, name: &'static str, pending_polls: usize, out: Option<T>) -> Logged<T> {
    Logged {
        name,
        log: log.clone(),
        pending_polls,
        out,
    }
}

/// An output that logs its drop.
struct Out(&'static str, Log);

impl Drop for Out {
    fn drop(&mut self) {
        self.1.borrow_mut().push(format!("drop output {}", self.0));
    }
}

/// One scenario, written once, expanded with hearth's and tokio's macro.
macro_rules! scenario {
    ($($select:ident)::+, $log:expr) => {{
        let log: Log = $log;
        let r = $($select)::+! {
            biased;
            v = logged(&log, "a", 0, None::<u32>) => {
                log.borrow_mut().push("handler a".into());
                v
            }
            Some(o) = logged(&log, "b", 1, Some(None::<Out>)) => {
                log.borrow_mut().push(format!("handler b {}", o.0));
                1
            }
            Some(o) = logged(&log, "c", 2, Some(Some(Out("c", log.clone())))) => {
                log.borrow_mut().push(format!("handler c {}", o.0));
                2
            }
            _ = logged(&log, "d", 5, Some(())) => 3,
            else => 4,
        };
        log.borrow_mut().push(format!("result {r}"));
        r
    }};
}

#[test]
fn same_outputs_polls_and_drops_as_tokio() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let ours: Log = Default::default();
    let theirs: Log = Default::default();
    let a = rt.block_on(async { scenario!(hearth_future::select, ours.clone()) });
    let b = rt.block_on(async { scenario!(tokio::select, theirs.clone()) });
    assert_eq!(a, b);
    // Everything but the polls is the same: drops, handlers, results.
    let not_polls = |l: &Log| -> Vec<String> {
        l.borrow()
            .iter()
            .filter(|e| !e.starts_with("poll"))
            .cloned()
            .collect()
    };
    assert_eq!(not_polls(&ours), not_polls(&theirs));
    // tokio polls every enabled branch whenever the task wakes; hearth only
    // the branches whose waker fired (`a` never wakes).
    let polls = |l: &Log| -> Vec<String> {
        l.borrow()
            .iter()
            .filter(|e| e.starts_with("poll"))
            .cloned()
            .collect()
    };
    let polls_ours = polls(&ours);
    assert_eq!(
        polls_ours.join(" "),
        "poll a poll b poll c poll d poll b poll c poll d poll c"
    );
    assert_eq!(
        polls(&theirs).join(" "),
        "poll a poll b poll c poll d poll a poll b poll c poll d poll a poll c"
    );
    let log = ours.borrow();
    // Every branch future is dropped before the handler runs, in
    // declaration order; the output after the handler.
    let at = |s: &str| log.iter().position(|x| x == s).unwrap();
    assert!(at("drop a") < at("drop b") && at("drop b") < at("drop c"));
    assert!(at("drop d") < at("handler c c"));
    assert!(at("handler c c") < at("drop output c"));
}

#[test]
fn else_and_disabled_branches_match_tokio() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    for cond in [false, true] {
        let ours = rt.block_on(async {
            hearth_future::select! {
                Some(v) = ready(None::<u8>) => v,
                Ok(v) = ready(Err::<u8, ()>(())) => v,
                v = ready(9), if cond => v,
                else => 0,
            }
        });
        let theirs = rt.block_on(async {
            tokio::select! {
                Some(v) = ready(None::<u8>) => v,
                Ok(v) = ready(Err::<u8, ()>(())) => v,
                v = ready(9), if cond => v,
                else => 0,
            }
        });
        assert_eq!(ours, theirs);
        assert_eq!(ours, if cond { 9 } else { 0 });
    }
}

#[test]
#[should_panic(expected = "all branches are disabled and there is no else branch")]
fn no_else_panics_when_every_branch_is_disabled() {
    futures::executor::block_on(async {
        hearth_future::select! {
            Some(v) = ready(None::<u8>) => v,
        }
    });
}

#[test]
fn handlers_break_continue_return_and_question_mark() {
    fn run() -> Result<u32, &'static str> {
        futures::executor::block_on(async {
            let mut i = 0;
            let mut seen = Vec::new();
            loop {
                i += 1;
                hearth_future::select! {
                    v = ready(i) => {
                        if v % 2 == 0 {
                            continue;
                        }
                        if v > 6 {
                            break;
                        }
                        seen.push(v);
                    }
                }
            }
            assert_eq!(seen, [1, 3, 5]);
            let x: u32 = hearth_future::select! {
                r = ready(Err::<u32, _>("err")) => r?,
            };
            Ok(x)
        })
    }
    assert_eq!(run(), Err("err"));
}

#[test]
fn ref_mut_and_nested_patterns() {
    futures::executor::block_on(async {
        let out = hearth_future::select! {
            mut v = ready(1) => {
                v += 1;
                v
            }
        };
        assert_eq!(out, 2);
        let out = hearth_future::select! {
            biased;
            (Some(ref s), [_, mut b]) = ready((Some(String::from("x")), [1, 2])) => {
                b += 1;
                format!("{s}{b}")
            }
            _ = pending::<()>() => unreachable!(),
        };
        assert_eq!(out, "x3");
        struct P {
            a: Option<u8>,
            b: u8,
        }
        let out = hearth_future::select! {
            P { a: Some(mut a), b } = ready(P { a: Some(1), b: 2 }) => {
                a += b;
                a
            },
        };
        assert_eq!(out, 3);
    });
}

#[test]
fn biased_polls_in_order_unbiased_is_fair() {
    futures::executor::block_on(async {
        for _ in 0..10 {
            let w = hearth_future::select! {
                biased;
                v = ready(0) => v,
                v = ready(1) => v,
                v = ready(2) => v,
            };
            assert_eq!(w, 0);
        }
        let mut wins = [0usize; 3];
        for _ in 0..300 {
            let w = hearth_future::select! {
                v = ready(0) => v,
                v = ready(1) => v,
                v = ready(2) => v,
            };
            wins[w] += 1;
        }
        for (i, &w) in wins.iter().enumerate() {
            assert!(w > 50, "branch {i} won {w} of 300");
        }
    });
}

#[test]
fn polls_only_the_woken_branch() {
    for park in [Park::Local, Park::Waker] {
        let driver = Driver::new();
        let leaves: Vec<_> = (0..5).map(|_| Leaf::new(park)).collect();
        let l = &leaves;
        let mut fut = pin!(async move {
            hearth_future::select! {
                v = leaf(l[0].clone(), 0) => v,
                v = leaf(l[1].clone(), 1) => v,
                v = leaf(l[2].clone(), 2) => v,
                v = leaf(l[3].clone(), 3) => v,
                v = leaf(l[4].clone(), 4) => v,
            }
        });
        assert!(driver.poll(fut.as_mut()).is_pending());
        let polls = || leaves.iter().map(|l| l.polls.get()).collect::<Vec<_>>();
        assert_eq!(polls(), [1, 1, 1, 1, 1]);
        for r in 0..20 {
            leaves[r % 5].wake();
            assert!(driver.poll(fut.as_mut()).is_pending());
        }
        assert_eq!(polls(), [5, 5, 5, 5, 5]);
        leaves[3].finish();
        assert_eq!(driver.poll(fut.as_mut()), Poll::Ready(3));
        assert_eq!(polls(), [5, 5, 5, 6, 5]);
        for l in &leaves {
            assert_eq!(Rc::strong_count(l), 1, "every branch dropped");
        }
    }
}

#[test]
fn local_path_performs_no_atomic_rmw_per_round() {
    let driver = Driver::new();
    let leaves: Vec<_> = (0..8).map(|_| Leaf::new(Park::Local)).collect();
    let l = &leaves;
    let mut fut = pin!(async move {
        hearth_future::select! {
            v = leaf(l[0].clone(), 0) => v,
            v = leaf(l[1].clone(), 1) => v,
            v = leaf(l[2].clone(), 2) => v,
            v = leaf(l[3].clone(), 3) => v,
            v = leaf(l[4].clone(), 4) => v,
            v = leaf(l[5].clone(), 5) => v,
            v = leaf(l[6].clone(), 6) => v,
            v = leaf(l[7].clone(), 7) => v,
        }
    });
    assert!(driver.poll(fut.as_mut()).is_pending());
    let ((), rmw) = count(|| {
        for r in 0..100 {
            leaves[r % 8].wake();
            assert!(driver.poll(fut.as_mut()).is_pending());
        }
    });
    assert_eq!(rmw, 0);
    let total: usize = leaves.iter().map(|l| l.polls.get()).sum();
    assert_eq!(total, 8 + 100);
}

#[test]
fn works_with_tokio_channels_under_tokio() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let (tx1, mut rx1) = tokio::sync::mpsc::channel::<u32>(4);
        let (tx2, mut rx2) = tokio::sync::mpsc::channel::<u32>(4);
        let t = tokio::spawn(async move {
            for i in 0..10 {
                if i % 2 == 0 {
                    tx1.send(i).await.unwrap();
                } else {
                    tx2.send(i).await.unwrap();
                }
                tokio::task::yield_now().await;
            }
        });
        let mut got = Vec::new();
        loop {
            hearth_future::select! {
                Some(v) = rx1.recv() => got.push(v),
                Some(v) = rx2.recv() => got.push(v),
                else => break,
            }
        }
        t.await.unwrap();
        got.sort();
        assert_eq!(got, (0..10).collect::<Vec<_>>());
    });
}

// ---- What tokio's `select!` compiles, hearth's compiles too ----

/// Branch `i` of a wide select: ready with `i * 10` if `i == ready`.
async fn branch(i: usize, ready: usize) -> usize {
    if i == ready {
        i * 10
    } else {
        pending().await
    }
}

/// A 64-branch select (one repetition: the test's own macro does not
/// recurse).
macro_rules! select64 {
    ($($select:ident)::+, $ready:expr, [$($bias:tt)*], $($i:literal)*) => {
        $($select)::+! {
            $($bias)*
            $( v = branch($i, $ready) => ($i, v), )*
        }
    };
}

macro_rules! all64 {
    ($($select:ident)::+, $ready:expr, [$($bias:tt)*]) => {
        select64!($($select)::+, $ready, [$($bias)*],
            0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24 25 26 27 28 29 30 31
            32 33 34 35 36 37 38 39 40 41 42 43 44 45 46 47 48 49 50 51 52 53 54 55 56 57 58 59 60
            61 62 63)
    };
}

#[test]
fn sixty_four_branches() {
    futures::executor::block_on(async {
        for ready in [0, 41, 63] {
            assert_eq!(
                all64!(hearth_future::select, ready, []),
                (ready, ready * 10)
            );
            assert_eq!(
                all64!(hearth_future::select, ready, [biased;]),
                (ready, ready * 10)
            );
            assert_eq!(all64!(tokio::select, ready, []), (ready, ready * 10));
        }
    });
}

#[test]
fn ref_and_ref_mut_bindings_like_tokio() {
    macro_rules! run {
        ($($select:ident)::+) => {{
            let a = $($select)::+! {
                Some(ref mut v) = ready(Some(vec![1])) => {
                    v.push(2);
                    v.len()
                }
            };
            let b = $($select)::+! {
                (ref s, Some(ref mut n)) = ready((String::from("ab"), Some(1))) => {
                    *n += s.len();
                    *n
                }
            };
            let c = $($select)::+! {
                biased;
                Some(ref mut v) = ready(None::<u8>) => *v,
                ref mut v = ready(7u8) => {
                    *v += 1;
                    *v
                }
            };
            (a, b, c)
        }};
    }
    futures::executor::block_on(async {
        let ours = run!(hearth_future::select);
        assert_eq!(ours, (2, 3, 8));
        assert_eq!(ours, run!(tokio::select));
    });
}

#[test]
fn disabled_unannotated_poll_fn_like_tokio() {
    macro_rules! run {
        ($($select:ident)::+) => {{
            let f = std::future::poll_fn(|_| Poll::Pending);
            let a = $($select)::+! {
                _ = f, if false => 1,
                else => 2,
            };
            let b = $($select)::+! {
                _ = std::future::poll_fn(|_| Poll::Pending), if false => 1,
                v = ready(3) => v,
            };
            (a, b)
        }};
    }
    futures::executor::block_on(async {
        assert_eq!(run!(hearth_future::select), (2, 3));
        assert_eq!(run!(tokio::select), (2, 3));
    });
}

/// Not a future: turns into one, logging when.
struct Later(&'static str, u32, Log);

impl std::future::IntoFuture for Later {
    type Output = u32;
    type IntoFuture = std::future::Ready<u32>;
    fn into_future(self) -> Self::IntoFuture {
        self.2.borrow_mut().push(format!("into_future {}", self.0));
        ready(self.1)
    }
}

#[test]
fn into_future_operands_in_order_like_tokio() {
    macro_rules! run {
        ($($select:ident)::+, $log:expr) => {{
            let log: Log = $log;
            $($select)::+! {
                biased;
                v = Later("a", 1, log.clone()) => v,
                v = Later("b", 2, log.clone()) => v,
            }
        }};
    }
    futures::executor::block_on(async {
        let ours: Log = Default::default();
        let theirs: Log = Default::default();
        assert_eq!(run!(hearth_future::select, ours.clone()), 1);
        assert_eq!(run!(tokio::select, theirs.clone()), 1);
        assert_eq!(*ours.borrow(), ["into_future a", "into_future b"]);
        assert_eq!(*ours.borrow(), *theirs.borrow());
        // A temporary borrowed by a branch expression lives as long as the
        // select (as in tokio's).
        let v = hearth_future::select! {
            v = &mut Box::pin(ready(5)) => v,
        };
        assert_eq!(v, 5);
    });
}

// ---- The cooperative budget ----

struct CountWakes(std::sync::atomic::AtomicUsize);

impl std::task::Wake for CountWakes {
    fn wake(self: std::sync::Arc<Self>) {
        self.wake_by_ref();
    }
    fn wake_by_ref(self: &std::sync::Arc<Self>) {
        self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    }
}

#[test]
fn spent_budget_yields_before_polling_like_tokio() {
    use hearth_task::coop;
    use std::sync::atomic::Ordering;
    let wakes = std::sync::Arc::new(CountWakes(Default::default()));
    let waker = std::task::Waker::from(wakes.clone());
    let mut cx = Context::from_waker(&waker);
    for biased in [false, true] {
        let log: Log = Default::default();
        let mut fut = pin!(async {
            if biased {
                hearth_future::select! {
                    biased;
                    v = logged(&log, "a", 0, Some(1)) => v,
                    v = pending::<u32>() => v,
                }
            } else {
                hearth_future::select! {
                    v = logged(&log, "a", 0, Some(1)) => v,
                    v = pending::<u32>() => v,
                }
            }
        });
        let guard = coop::enter();
        while let Poll::Ready(p) = coop::poll_proceed(&mut cx) {
            p.made_progress();
        }
        let before = wakes.0.load(Ordering::SeqCst);
        assert!(fut.as_mut().poll(&mut cx).is_pending(), "biased: {biased}");
        assert_eq!(
            wakes.0.load(Ordering::SeqCst),
            before + 1,
            "the task is woken"
        );
        assert!(log.borrow().is_empty(), "no branch is polled");
        coop::refill();
        assert_eq!(fut.as_mut().poll(&mut cx), Poll::Ready(1));
        drop(guard);
    }
    // No executor budget (a foreign executor): never yields for it.
    assert!(!coop::is_limited());
    let v = futures::executor::block_on(async {
        hearth_future::select! {
            v = ready(2) => v,
        }
    });
    assert_eq!(v, 2);
}
