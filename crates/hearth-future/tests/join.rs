//! join!, try_join!, join_all, try_join_all: outputs, precise polling, the
//! local path's atomic count.
#![cfg_attr(feature = "nightly", feature(local_waker))]

mod common;

use std::pin::pin;
use std::task::Poll;

use common::{leaf, Driver, Leaf, Park};
use hearth_future::{join_all, try_join_all};
use hearth_task::atomic::counting::count;

const ROUNDS: usize = if cfg!(miri) { 20 } else { 300 };

/// N children that never finish; each round wakes one child and polls the
/// parent: exactly one child poll per round.
fn precise_rounds(n: usize, park: Park) {
    let driver = Driver::new();
    let leaves: Vec<_> = (0..n).map(|_| Leaf::new(park)).collect();
    let mut fut = pin!(join_all(leaves.iter().map(|l| leaf(l.clone(), ()))));
    assert!(driver.poll(fut.as_mut()).is_pending());
    for l in &leaves {
        assert_eq!(l.polls.get(), 1, "first poll");
    }
    for r in 0..ROUNDS {
        let i = (r * 7) % n;
        let before: Vec<usize> = leaves.iter().map(|l| l.polls.get()).collect();
        leaves[i].wake();
        assert!(driver.poll(fut.as_mut()).is_pending());
        for (j, l) in leaves.iter().enumerate() {
            assert_eq!(
                l.polls.get(),
                before[j] + usize::from(i == j),
                "round {r}: child {j}"
            );
        }
    }
    for l in &leaves {
        l.finish();
    }
    assert!(driver.poll(fut.as_mut()).is_ready());
}

#[test]
fn join_all_precise_local_small_and_ring() {
    for n in [1, 3, 64, 65, 200] {
        precise_rounds(n, Park::Local);
        precise_rounds(n, Park::Waker);
    }
}

#[test]
fn local_path_performs_no_atomic_rmw_per_round() {
    for n in [8, 100] {
        let driver = Driver::new();
        let leaves: Vec<_> = (0..n).map(|_| Leaf::new(Park::Local)).collect();
        let mut fut = pin!(join_all(leaves.iter().map(|l| leaf(l.clone(), ()))));
        // Warm up: the first lookup on a thread assigns its token.
        assert!(driver.poll(fut.as_mut()).is_pending());
        let wakes_before = driver.wakes();
        let ((), rmw) = count(|| {
            for r in 0..ROUNDS {
                leaves[r % n].wake();
                assert!(driver.poll(fut.as_mut()).is_pending());
            }
        });
        assert_eq!(rmw, 0, "n = {n}: {rmw} atomic RMW on the local path");
        assert_eq!(
            driver.wakes() - wakes_before,
            ROUNDS,
            "one parent wake per child wake"
        );
        let total: usize = leaves.iter().map(|l| l.polls.get()).sum();
        assert_eq!(total, n + ROUNDS);
    }
}

#[test]
fn join_macro_any_arity_and_precise() {
    let driver = Driver::new();
    let (a, b, c) = (
        Leaf::new(Park::Local),
        Leaf::new(Park::Waker),
        Leaf::new(Park::Local),
    );
    let mut fut = pin!(async {
        hearth_future::join!(
            leaf(a.clone(), 1),
            leaf(b.clone(), "b"),
            leaf(c.clone(), 3.5),
            async { 'd' }
        )
    });
    assert!(driver.poll(fut.as_mut()).is_pending());
    b.finish();
    assert!(driver.poll(fut.as_mut()).is_pending());
    assert_eq!((a.polls.get(), b.polls.get(), c.polls.get()), (1, 2, 1));
    a.finish();
    c.finish();
    assert_eq!(driver.poll(fut.as_mut()), Poll::Ready((1, "b", 3.5, 'd')));
    assert_eq!((a.polls.get(), b.polls.get(), c.polls.get()), (2, 2, 2));
}

#[test]
fn try_join_short_circuits_and_drops_the_rest() {
    struct OnDrop<'a>(&'a std::cell::Cell<bool>);
    impl Drop for OnDrop<'_> {
        fn drop(&mut self) {
            self.0.set(true);
        }
    }
    let dropped = std::cell::Cell::new(false);
    let pending = Leaf::new(Park::Local);
    let r: Result<(i32, i32), &str> = futures::executor::block_on(async {
        hearth_future::try_join!(
            async {
                let _g = OnDrop(&dropped);
                leaf(pending.clone(), Ok(1)).await
            },
            async { Err("boom") }
        )
    });
    assert_eq!(r, Err("boom"));
    assert!(dropped.get());
    let ok: Result<_, ()> = futures::executor::block_on(async {
        hearth_future::try_join!(async { Ok(1) }, async { Ok("x") })
    });
    assert_eq!(ok, Ok((1, "x")));
}

#[test]
fn try_join_all_outputs_and_error() {
    let ok = futures::executor::block_on(try_join_all(
        (0..100).map(|i| async move { Ok::<_, ()>(i) }),
    ));
    assert_eq!(ok, Ok((0..100).collect::<Vec<_>>()));
    let err = futures::executor::block_on(try_join_all((0..100).map(|i| async move {
        if i == 70 {
            Err(i)
        } else {
            Ok(i)
        }
    })));
    assert_eq!(err, Err(70));
}

#[test]
fn empty_join_all_is_ready() {
    let v: Vec<()> = futures::executor::block_on(join_all(Vec::<std::future::Ready<()>>::new()));
    assert!(v.is_empty());
}

#[test]
fn remote_wakes_from_other_threads_under_block_on() {
    let n = if cfg!(miri) { 4 } else { 100 };
    let flags: Vec<_> = (0..n).map(|_| common::Flag::new()).collect();
    let fs = flags.clone();
    let t = std::thread::spawn(move || {
        for f in fs.iter().rev() {
            f.fire();
        }
    });
    futures::executor::block_on(join_all(flags.iter().map(|f| common::flag(f.clone()))));
    t.join().unwrap();
    for f in &flags {
        let p = f.polls.load(std::sync::atomic::Ordering::SeqCst);
        assert!((1..=2).contains(&p), "a child was polled {p} times");
    }
}

#[test]
fn remote_wakes_under_a_dual_parent() {
    let driver = Driver::new();
    let n = 70;
    let flags: Vec<_> = (0..n).map(|_| common::Flag::new()).collect();
    let mut fut = pin!(join_all(flags.iter().map(|f| common::flag(f.clone()))));
    assert!(driver.poll(fut.as_mut()).is_pending());
    let fs = flags.clone();
    std::thread::spawn(move || fs.iter().for_each(|f| f.fire()))
        .join()
        .unwrap();
    assert!(
        driver
            .task
            .shared()
            .load(std::sync::atomic::Ordering::SeqCst)
            >= 1
    );
    assert!(driver.poll(fut.as_mut()).is_ready());
    for f in &flags {
        assert_eq!(f.polls.load(std::sync::atomic::Ordering::SeqCst), 2);
    }
}

#[test]
fn a_child_is_polled_at_most_once_per_parent_poll() {
    // A child that always wakes itself (like `yield_now` in a loop) is not
    // re-polled within the same parent poll: the parent is woken instead.
    for n in [2, 100] {
        let driver = Driver::new();
        let polls = std::cell::Cell::new(0);
        let mut fut = pin!(join_all((0..n).map(|i| {
            let polls = &polls;
            std::future::poll_fn(move |cx| {
                if i == 0 {
                    polls.set(polls.get() + 1);
                    cx.waker().wake_by_ref();
                }
                Poll::<()>::Pending
            })
        })));
        for k in 1..=5 {
            let before = driver.wakes();
            assert!(driver.poll(fut.as_mut()).is_pending());
            assert_eq!(polls.get(), k, "n = {n}");
            assert_eq!(
                driver.wakes(),
                before + 1,
                "the parent is woken for the next pass"
            );
        }
    }
}

#[test]
fn wakers_outliving_the_combinator_are_harmless() {
    // A child keeps a clone of its local waker and of its `Waker`; the join
    // is dropped; waking and dropping them afterwards (here and on another
    // thread) does nothing, and frees the wake state once.
    for n in [2, 70] {
        let driver = Driver::new();
        let kept = std::cell::RefCell::new(Vec::new());
        let mut fut = Box::pin(join_all((0..n).map(|_| {
            let kept = &kept;
            std::future::poll_fn(move |cx| {
                kept.borrow_mut().push((
                    hearth_task::ContextExt::local_waker(cx).clone(),
                    cx.waker().clone(),
                ));
                Poll::<()>::Pending
            })
        })));
        assert!(driver.poll(fut.as_mut()).is_pending());
        let wakes = driver.wakes();
        drop(fut);
        let kept = kept.into_inner();
        let wakers: Vec<std::task::Waker> = kept.iter().map(|(_, w)| w.clone()).collect();
        for (l, w) in &kept {
            l.wake_by_ref();
            w.wake_by_ref();
        }
        std::thread::spawn(move || wakers.into_iter().for_each(std::task::Waker::wake))
            .join()
            .unwrap();
        assert_eq!(driver.wakes(), wakes, "no wake reaches the parent");
        for (l, w) in kept {
            l.wake();
            drop(w);
        }
    }
}

/// A child that logs its polls and wakes itself until its `n`-th poll.
fn logged(
    log: &std::rc::Rc<std::cell::RefCell<Vec<&'static str>>>,
    name: &'static str,
    n: usize,
) -> impl std::future::Future<Output = Result<&'static str, ()>> {
    let log = log.clone();
    let mut polls = 0;
    std::future::poll_fn(move |cx| {
        log.borrow_mut().push(name);
        polls += 1;
        if polls == n {
            return Poll::Ready(Ok(name));
        }
        cx.waker().wake_by_ref();
        Poll::Pending
    })
}

/// The order in which the children see their polls, one poll of the join
/// after another, for hearth's and tokio's macro.
macro_rules! poll_order {
    ($($join:ident)::+, [$($bias:tt)*]) => {{
        let log = std::rc::Rc::new(std::cell::RefCell::new(Vec::new()));
        let out = futures::executor::block_on(async {
            $($join)::+!($($bias)* logged(&log, "a", 4), logged(&log, "b", 4), logged(&log, "c", 4))
        });
        let log = log.borrow().join(" ");
        (out, log)
    }};
}

#[test]
fn join_rotates_the_first_child_like_tokio() {
    let (out, ours) = poll_order!(hearth_future::join, []);
    assert_eq!(out, (Ok("a"), Ok("b"), Ok("c")));
    // Each poll starts one child further on.
    assert_eq!(ours, "a b c b c a c a b a b c");
    assert_eq!(ours, poll_order!(tokio::join, []).1);
    let (out, ours) = poll_order!(hearth_future::try_join, []);
    assert_eq!(out, Ok(("a", "b", "c")));
    assert_eq!(ours, "a b c b c a c a b a b c");
    assert_eq!(ours, poll_order!(tokio::try_join, []).1);
}

#[test]
fn biased_join_polls_in_order_like_tokio() {
    let (out, ours) = poll_order!(hearth_future::join, [biased;]);
    assert_eq!(out, (Ok("a"), Ok("b"), Ok("c")));
    assert_eq!(ours, "a b c a b c a b c a b c");
    assert_eq!(ours, poll_order!(tokio::join, [biased;]).1);
    let (out, ours) = poll_order!(hearth_future::try_join, [biased;]);
    assert_eq!(out, Ok(("a", "b", "c")));
    assert_eq!(ours, "a b c a b c a b c a b c");
    assert_eq!(ours, poll_order!(tokio::try_join, [biased;]).1);
}

#[test]
fn empty_joins_like_tokio() {
    futures::executor::block_on(async {
        let () = hearth_future::join!();
        let () = hearth_future::join!(biased;);
        let ok: Result<(), u8> = hearth_future::try_join!();
        assert_eq!(ok, Ok(()));
        let ok: Result<(), u8> = hearth_future::try_join!(biased;);
        assert_eq!(ok, Ok(()));
        let theirs: Result<(), u8> = tokio::try_join!();
        assert_eq!(ok, theirs);
    });
}

/// Not a future: turns into one.
struct Later(u32);

impl std::future::IntoFuture for Later {
    type Output = Result<u32, ()>;
    type IntoFuture = std::future::Ready<Result<u32, ()>>;
    fn into_future(self) -> Self::IntoFuture {
        std::future::ready(Ok(self.0))
    }
}

#[test]
fn into_future_operands() {
    futures::executor::block_on(async {
        assert_eq!(hearth_future::join!(Later(1), async { 2 }), (Ok(1), 2));
        assert_eq!(hearth_future::try_join!(Later(1), Later(2)), Ok((1, 2)));
        assert_eq!(hearth_future::try_join!(biased; Later(3)), Ok((3,)));
    });
}
