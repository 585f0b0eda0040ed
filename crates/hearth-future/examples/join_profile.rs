//! The `combinators` suite's round under a hearth parent as a process of
//! its own, for instruction counts of one combinator at a time:
//!
//! ```text
//! cargo build --release -p hearth-future --example join_profile
//! valgrind --tool=callgrind target/release/examples/join_profile hearth 8 100000
//! valgrind --tool=callgrind target/release/examples/join_profile hearth 8 200000
//! ```
//!
//! Arguments: the case (`floor`: one child polled alone; `hearth`:
//! `hearth_future::join_all`, children park `cx.local_waker()`; `futures`:
//! `futures::future::join_all`, children park `cx.waker()`; the same three
//! with a `-foreign` suffix: under a foreign parent, futures' `ArcWake`, with
//! children that park `cx.waker()`), N, and the rounds. A round wakes the
//! next child in turn (`wake_by_ref` of the waker it parked) and polls the
//! parent once with the parent's waker, as the suite does. The difference between the totals of two process runs that differ
//! only in the rounds, divided by the difference of the rounds, is the
//! instructions of one round.
//!
//! Built as an example of this crate, whose dev-dependencies turn on
//! hearth-task's `count-atomics` (a thread-local count per atomic
//! read-modify-write): the local path under a hearth parent has none, so its
//! counts are those of a plain build.

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::hint::black_box;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

use hearth_task::dual::{DualRc, DualWake};
use hearth_task::{ContextExt, LocalWaker};

struct Parent {
    woken: Cell<u64>,
}

impl DualWake for Parent {
    type Shared = AtomicUsize;
    fn wake_local(this: &DualRc<Self>) {
        this.woken.set(this.woken.get() + 1);
    }
    fn wake_remote(_: &AtomicUsize, _: &Waker) {
        unreachable!("the profile wakes on the owner thread only");
    }
}

/// A foreign parent: futures' `ArcWake` (as under tokio).
struct ArcParent(AtomicBool);

impl futures::task::ArcWake for ArcParent {
    fn wake_by_ref(arc_self: &Arc<Self>) {
        arc_self.0.store(true, Ordering::Relaxed);
    }
}

enum Parked {
    None,
    Local(LocalWaker),
    Waker(Waker),
}

struct Leaf {
    parked: RefCell<Parked>,
    local: bool,
}

impl Leaf {
    fn wake(&self) {
        match &*self.parked.borrow() {
            Parked::None => panic!("child woken before it parked"),
            Parked::Local(w) => w.wake_by_ref(),
            Parked::Waker(w) => w.wake_by_ref(),
        }
    }
}

struct Child(Rc<Leaf>);

impl Future for Child {
    type Output = ();
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let mut parked = self.0.parked.borrow_mut();
        if self.0.local {
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

fn run<F: Future>(
    leaves: &[Rc<Leaf>],
    f: F,
    rounds: usize,
    parent: &DualRc<Parent>,
    foreign: Option<&Waker>,
) {
    let mut f = std::pin::pin!(f);
    let poll = |f: Pin<&mut F>| match foreign {
        Some(w) => f.poll(black_box(&mut Context::from_waker(w))),
        None => f.poll(black_box(&mut Context::from_waker(&parent.waker_ref()))),
    };
    assert!(poll(f.as_mut()).is_pending());
    let mut next = 0;
    for _ in 0..rounds {
        leaves[next].wake();
        next = if next + 1 == leaves.len() {
            0
        } else {
            next + 1
        };
        assert!(poll(f.as_mut()).is_pending());
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let usage = "usage: join_profile floor|hearth|futures[-foreign] N ROUNDS";
    let case = args.get(1).expect(usage).as_str();
    let n: usize = args.get(2).expect(usage).parse().expect(usage);
    let rounds: usize = args.get(3).expect(usage).parse().expect(usage);
    let parent = DualRc::new(
        Parent {
            woken: Cell::new(0),
        },
        AtomicUsize::new(0),
    );
    let leaves = |n: usize, local: bool| -> Vec<Rc<Leaf>> {
        (0..n)
            .map(|_| {
                Rc::new(Leaf {
                    parked: RefCell::new(Parked::None),
                    local,
                })
            })
            .collect()
    };
    let arc = futures::task::waker(Arc::new(ArcParent(AtomicBool::new(false))));
    let (case, foreign) = match case.strip_suffix("-foreign") {
        Some(case) => (case, Some(&arc)),
        None => (case, None),
    };
    let local = foreign.is_none();
    match case {
        "floor" => {
            let l = leaves(1, local);
            run(&l, Child(l[0].clone()), rounds, &parent, foreign);
        }
        "hearth" => {
            let l = leaves(n, local);
            let f = hearth_future::join_all(l.iter().map(|l| Child(l.clone())));
            run(&l, f, rounds, &parent, foreign);
        }
        "futures" => {
            let l = leaves(n, false);
            let f = futures::future::join_all(l.iter().map(|l| Child(l.clone())));
            run(&l, f, rounds, &parent, foreign);
        }
        _ => panic!("{usage}"),
    }
    println!("parent woken {} times", parent.woken.get());
}
