//! Property tests: random wake orders (also from other threads), children
//! finishing in any order; outputs in input order and poll counts exact.
#![cfg_attr(feature = "nightly", feature(local_waker))]

mod common;

use std::cell::Cell;
use std::future::Future;
use std::pin::{pin, Pin};
use std::sync::Mutex;
use std::task::{Context, Poll, Waker};

use common::Driver;
use futures::StreamExt;
use hearth_task::{ContextExt, LocalWaker};
use proptest::prelude::*;

const CASES: u32 = if cfg!(miri) { 3 } else { 128 };
const MAX_N: usize = if cfg!(miri) { 70 } else { 140 };

/// A child that finishes on its `needed + 1`-th poll and parks the waker it
/// is given (a local waker or a `Waker`); waking never consumes the parked
/// waker, so a child may be woken several times per round.
struct Child {
    needed: usize,
    local: bool,
    polls: Cell<usize>,
    parked_local: Cell<Option<LocalWaker>>,
    parked: Mutex<Option<Waker>>,
}

impl Child {
    fn new(needed: usize, local: bool) -> Child {
        Child {
            needed,
            local,
            polls: Cell::new(0),
            parked_local: Cell::new(None),
            parked: Mutex::new(None),
        }
    }
    fn finished(&self) -> bool {
        self.polls.get() > self.needed
    }
    fn wake(&self) {
        if let Some(w) = self.parked_local.take() {
            w.wake_by_ref();
            self.parked_local.set(Some(w));
        }
        if let Some(w) = &*self.parked.lock().unwrap() {
            w.wake_by_ref();
        }
    }
}

fn child(c: &Child, out: usize) -> impl Future<Output = usize> + '_ {
    std::future::poll_fn(move |cx| {
        c.polls.set(c.polls.get() + 1);
        if c.finished() {
            return Poll::Ready(out);
        }
        if c.local {
            c.parked_local
                .set(Some(ContextExt::local_waker(cx).clone()));
        } else {
            *c.parked.lock().unwrap() = Some(cx.waker().clone());
        }
        Poll::Pending
    })
}

/// A parent to poll with: hearth's dual waker (local mode) or a plain
/// `Waker` (shared mode, as under tokio).
enum Parent {
    Dual(Driver),
    Plain(Waker),
}

impl Parent {
    fn new(dual: bool) -> Parent {
        if dual {
            Parent::Dual(Driver::new())
        } else {
            Parent::Plain(futures::task::noop_waker())
        }
    }
    fn poll<F: Future + ?Sized>(&self, f: Pin<&mut F>) -> Poll<F::Output> {
        match self {
            Parent::Dual(d) => d.poll(f),
            Parent::Plain(w) => f.poll(&mut Context::from_waker(w)),
        }
    }
}

/// Children: how many wakes each needs and how it parks.
fn children() -> impl Strategy<Value = Vec<(usize, bool)>> {
    prop::collection::vec((0usize..4, any::<bool>()), 1..MAX_N)
}

/// Rounds of wakes: child indices (taken modulo N; repeats allowed).
fn rounds() -> impl Strategy<Value = Vec<Vec<usize>>> {
    let rounds = if cfg!(miri) { 12 } else { 60 };
    prop::collection::vec(prop::collection::vec(any::<usize>(), 0..6), 0..rounds)
}

/// Drives a join_all through `rounds`, checking every child's poll count
/// after every poll, then wakes everything until it finishes.
fn check_join_all(spec: &[(usize, bool)], rounds: &[Vec<usize>], dual: bool, remote: bool) {
    let n = spec.len();
    let kids: Vec<Child> = spec
        .iter()
        .map(|&(k, l)| Child::new(k, l && !remote))
        .collect();
    let parent = Parent::new(dual);
    let mut fut = pin!(hearth_future::join_all(
        kids.iter().enumerate().map(|(i, c)| child(c, i))
    ));
    let mut expect: Vec<usize> = vec![1; n];
    let mut r = parent.poll(fut.as_mut());
    let check = |expect: &[usize]| {
        for (i, c) in kids.iter().enumerate() {
            assert_eq!(c.polls.get(), expect[i], "child {i}");
        }
    };
    check(&expect);
    let mut pending_rounds = rounds
        .iter()
        .cloned()
        .collect::<std::collections::VecDeque<_>>();
    while r.is_pending() {
        let woken: Vec<usize> = match pending_rounds.pop_front() {
            Some(w) => w.into_iter().map(|i| i % n).collect(),
            None => (0..n).collect(),
        };
        let mut set: Vec<usize> = woken.clone();
        set.sort();
        set.dedup();
        for &i in &set {
            if !kids[i].finished() {
                expect[i] += 1;
            }
        }
        if remote {
            // Wake from another thread, in the drawn order.
            let wakers: Vec<Option<Waker>> = woken
                .iter()
                .map(|&i| kids[i].parked.lock().unwrap().clone())
                .collect();
            std::thread::spawn(move || wakers.iter().flatten().for_each(Waker::wake_by_ref))
                .join()
                .unwrap();
        } else {
            for &i in &woken {
                kids[i].wake();
            }
        }
        r = parent.poll(fut.as_mut());
        check(&expect);
    }
    let Poll::Ready(out) = r else { unreachable!() };
    assert_eq!(out, (0..n).collect::<Vec<_>>(), "outputs in input order");
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: CASES,
        // Miri runs isolated (no file system): no regression files there.
        failure_persistence: if cfg!(miri) {
            None
        } else {
            ProptestConfig::default().failure_persistence
        },
        ..ProptestConfig::default()
    })]

    #[test]
    fn join_all_polls_exactly_the_woken_children(
        spec in children(), rounds in rounds(), dual in any::<bool>()
    ) {
        check_join_all(&spec, &rounds, dual, false);
    }

    #[test]
    fn join_all_with_wakes_from_other_threads(
        spec in children(), rounds in rounds(), dual in any::<bool>()
    ) {
        check_join_all(&spec, &rounds, dual, true);
    }

    /// Children finish in a random order: FuturesSet yields them in that
    /// order, each polled exactly twice.
    #[test]
    fn futures_set_yields_in_finishing_order(
        order in (1usize..MAX_N).prop_flat_map(|n| Just((0..n).collect::<Vec<_>>()).prop_shuffle()),
        dual in any::<bool>(),
    ) {
        let n = order.len();
        let kids: Vec<Child> = (0..n).map(|i| Child::new(1, i % 2 == 0)).collect();
        let parent = Parent::new(dual);
        let mut set: hearth_future::FuturesSet<_> =
            kids.iter().enumerate().map(|(i, c)| child(c, i)).collect();
        prop_assert!(parent.poll(Pin::new(&mut set.next())).is_pending());
        for &i in &order {
            kids[i].wake();
            prop_assert_eq!(parent.poll(Pin::new(&mut set.next())), Poll::Ready(Some(i)));
        }
        prop_assert_eq!(parent.poll(Pin::new(&mut set.next())), Poll::Ready(None));
        for c in &kids {
            prop_assert_eq!(c.polls.get(), 2);
        }
    }

    /// The branch that finishes wins; only woken branches are polled.
    #[test]
    fn select_picks_the_finished_branch(
        needed in prop::collection::vec(0usize..3, 4),
        wakes in prop::collection::vec(0usize..4, 0..12),
        biased in any::<bool>(),
        dual in any::<bool>(),
    ) {
        let kids: Vec<Child> = needed.iter().map(|&k| Child::new(k + 1, k % 2 == 0)).collect();
        let parent = Parent::new(dual);
        let k = &kids;
        let mut fut = pin!(async move {
            if biased {
                hearth_future::select! {
                    biased;
                    v = child(&k[0], 0) => v,
                    v = child(&k[1], 1) => v,
                    v = child(&k[2], 2) => v,
                    v = child(&k[3], 3) => v,
                }
            } else {
                hearth_future::select! {
                    v = child(&k[0], 0) => v,
                    v = child(&k[1], 1) => v,
                    v = child(&k[2], 2) => v,
                    v = child(&k[3], 3) => v,
                }
            }
        });
        let mut expect = [1usize; 4];
        prop_assert!(parent.poll(fut.as_mut()).is_pending());
        for &i in wakes.iter().chain([0, 1, 2, 3].iter().cycle().take(12)) {
            kids[i].wake();
            expect[i] += 1;
            let r = parent.poll(fut.as_mut());
            for (j, c) in kids.iter().enumerate() {
                prop_assert_eq!(c.polls.get(), expect[j], "branch {}", j);
            }
            if let Poll::Ready(w) = r {
                prop_assert_eq!(w, i);
                prop_assert!(kids[i].finished());
                prop_assert!(kids.iter().filter(|c| c.finished()).count() == 1);
                return Ok(());
            }
        }
        prop_assert!(false, "select never finished");
    }
}
