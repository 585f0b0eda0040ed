//! Under a parent `Waker` that is not hearth's (tokio's, futures'
//! executors'), every child wake takes the thread-safe path. Its cost is
//! counted here: atomic read-modify-writes of hearth-future per round (one
//! child wake and one parent poll) and clones, drops and wakes of the
//! parent's `Waker`. Futures' `join_all` pays a clone and a drop of the
//! parent's `Waker` per child per poll when children re-register, and
//! `FuturesUnordered` an `Arc` per child plus its ready queue's atomics; this
//! test pins hearth's figures so they cannot creep back up.

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, RawWaker, RawWakerVTable, Waker};

use hearth_task::atomic::counting::count;

std::thread_local! {
    /// Clones, drops and wakes of the parent's `Waker` on this thread (the
    /// tests run in parallel; each wakes only on its own thread).
    static CLONES: Cell<usize> = const { Cell::new(0) };
    static DROPS: Cell<usize> = const { Cell::new(0) };
    static WAKES: Cell<usize> = const { Cell::new(0) };
}

fn bump(c: &'static std::thread::LocalKey<Cell<usize>>) {
    c.with(|c| c.set(c.get() + 1));
}

/// A foreign parent: a static `Waker` that counts what is done to it.
fn foreign() -> Waker {
    static VTABLE: RawWakerVTable = RawWakerVTable::new(
        |_| {
            bump(&CLONES);
            RawWaker::new(std::ptr::null(), &VTABLE)
        },
        |_| {
            bump(&WAKES);
            bump(&DROPS);
        },
        |_| {
            bump(&WAKES);
        },
        |_| {
            bump(&DROPS);
        },
    );
    // SAFETY: the vtable's functions ignore the data pointer and touch only
    // thread-locals, so any thread may call them.
    unsafe { Waker::from_raw(RawWaker::new(std::ptr::null(), &VTABLE)) }
}

fn counts() -> [usize; 3] {
    [
        CLONES.with(Cell::get),
        DROPS.with(Cell::get),
        WAKES.with(Cell::get),
    ]
}

/// A child that parks its waker: kept while it `will_wake` and woken by
/// reference, or (`reclone`) taken, woken by value and cloned again on
/// every poll, as oneshot-style leaves do.
struct Child {
    parked: Rc<RefCell<Option<Waker>>>,
    reclone: bool,
}

impl Future for Child {
    type Output = ();
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let mut p = self.parked.borrow_mut();
        match &*p {
            Some(w) if !self.reclone && w.will_wake(cx.waker()) => {}
            _ => *p = Some(cx.waker().clone()),
        }
        Poll::Pending
    }
}

fn wake(parked: &RefCell<Option<Waker>>, reclone: bool) {
    if reclone {
        parked.borrow_mut().take().expect("parked").wake();
    } else {
        parked.borrow().as_ref().expect("parked").wake_by_ref();
    }
}

#[test]
fn a_round_under_a_foreign_parent_costs_a_few_atomics_and_no_parent_clone() {
    const ROUNDS: usize = 100;
    // (children, reclone, hearth RMW per round).
    // Bit mode (up to 64): the child's bit (1), the parent's `AtomicWaker`
    // lock (2), the drain (1); a recloning child adds its `Waker`'s clone
    // and drop (2). Ring mode: the slot's `queued` flag and the push (2)
    // instead of the bit.
    for (n, reclone, rmw_per_round) in [
        (8, false, 4),
        (8, true, 6),
        (64, false, 4),
        (64, true, 6),
        (100, false, 5),
        (100, true, 7),
    ] {
        let parent = foreign();
        let parked: Vec<_> = (0..n).map(|_| Rc::new(RefCell::new(None))).collect();
        let mut fut = hearth_future::join_all(parked.iter().map(|p| Child {
            parked: p.clone(),
            reclone,
        }));
        let mut cx = Context::from_waker(&parent);
        assert!(Pin::new(&mut fut).poll(&mut cx).is_pending());
        let before = counts();
        let ((), rmw) = count(|| {
            for r in 0..ROUNDS {
                wake(&parked[r % n], reclone);
                assert!(Pin::new(&mut fut).poll(&mut cx).is_pending());
            }
        });
        let after = counts();
        let want = (rmw_per_round * ROUNDS) as u64;
        if cfg!(miri) {
            // Miri makes `compare_exchange_weak` (the ring's push) fail
            // spuriously now and then: a retry is one more RMW.
            assert!(rmw >= want, "n = {n}, reclone = {reclone}: {rmw} < {want}");
        } else {
            assert_eq!(
                rmw, want,
                "n = {n}, reclone = {reclone}: atomic RMW per round"
            );
        }
        assert_eq!(after[0] - before[0], 0, "n = {n}: parent Waker clones");
        assert_eq!(after[1] - before[1], 0, "n = {n}: parent Waker drops");
        assert_eq!(
            after[2] - before[2],
            ROUNDS,
            "n = {n}: one parent wake per round"
        );
        drop(fut);
        drop(parked);
    }
}

#[test]
fn many_wakes_before_a_poll_wake_the_parent_once() {
    for n in [8, 64, 100] {
        let parent = foreign();
        let parked: Vec<_> = (0..n).map(|_| Rc::new(RefCell::new(None))).collect();
        let mut fut = hearth_future::join_all(parked.iter().map(|p| Child {
            parked: p.clone(),
            reclone: false,
        }));
        let mut cx = Context::from_waker(&parent);
        assert!(Pin::new(&mut fut).poll(&mut cx).is_pending());
        let before = counts()[2];
        for p in &parked {
            wake(p, false);
        }
        assert_eq!(
            counts()[2] - before,
            1,
            "n = {n}: the first wake wakes the parent"
        );
        assert!(Pin::new(&mut fut).poll(&mut cx).is_pending());
        // Drained: the next wake wakes the parent again.
        wake(&parked[0], false);
        assert_eq!(counts()[2] - before, 2, "n = {n}");
    }
}
