//! Counted, not assumed: a task woken through its local waker on its own
//! thread, rescheduled and polled again, performs no atomic read-modify-write.
#![cfg_attr(feature = "nightly", feature(local_waker))]

use std::cell::Cell;
use std::rc::Rc;
use std::task::Poll;

use hearth::task::atomic::counting::count;
use hearth::task::ContextExt;
use hearth::Executor;

/// Wakes itself `n` times through `wake`, then completes.
fn self_waking(
    n: u32,
    wake: fn(&mut std::task::Context<'_>),
    polls: Rc<Cell<u32>>,
) -> impl std::future::Future<Output = ()> {
    let mut left = n;
    std::future::poll_fn(move |cx| {
        polls.set(polls.get() + 1);
        if left == 0 {
            return Poll::Ready(());
        }
        left -= 1;
        wake(cx);
        Poll::Pending
    })
}

fn rounds(wake: fn(&mut std::task::Context<'_>)) -> (u64, u32) {
    let ex = Executor::new();
    // Warm up: the first lookup on a thread assigns its token (one RMW).
    let warm = Rc::new(Cell::new(0));
    ex.spawn_local(self_waking(1, wake, warm));
    ex.run_until_idle();

    let polls = Rc::new(Cell::new(0));
    let handle = ex.spawn_local(self_waking(1_000, wake, polls.clone()));
    let ((), rmw) = count(|| ex.run_until_idle());
    assert!(handle.is_finished());
    (rmw, polls.get())
}

#[test]
fn local_waker_wake_reschedule_poll_is_free_of_atomic_rmw() {
    let (rmw, polls) = rounds(|cx| ContextExt::local_waker(cx).wake_by_ref());
    assert_eq!(polls, 1_001);
    assert_eq!(
        rmw, 0,
        "{rmw} atomic RMWs over 1,000 local wake-reschedule-poll rounds"
    );

    // Waking an owned clone of the twin by value is just as free.
    let (rmw, _) = rounds(|cx| ContextExt::local_waker(cx).clone().wake());
    assert_eq!(rmw, 0);
}

#[test]
fn waker_on_owner_thread_counts() {
    // `wake_by_ref` on the thread-safe Waker, on the owner thread: local path.
    let (rmw, polls) = rounds(|cx| cx.waker().wake_by_ref());
    assert_eq!(polls, 1_001);
    assert_eq!(rmw, 0, "Waker::wake_by_ref on the owner thread");

    // Cloning the Waker and waking the clone: one RMW for the clone, one for
    // its drop (inside `wake`), per round; plus, once per task, the swap that
    // records that the task holds a count of its executor (taken with the
    // task's first thread-safe `Waker`; that `Arc` increment and the matching
    // decrement when the task is freed are std's and not counted here).
    #[allow(clippy::waker_clone_wake)] // the clone is the case being counted
    let (rmw, _) = rounds(|cx| cx.waker().clone().wake());
    println!(
        "Waker clone + wake on the owner thread: {} RMW per round",
        rmw as f64 / 1_000.0
    );
    assert_eq!(rmw, 2_000 + 1);
}

/// With the `nightly` feature std's `feature(local_waker)` is on, and the
/// method-call form `cx.local_waker()` resolves to std's inherent
/// `Context::local_waker`, not to `ContextExt`. The executor sets std's field
/// to the twin, so both forms find it: clone and drop cost nothing.
#[cfg(feature = "nightly")]
#[test]
fn std_method_call_form_finds_the_twin() {
    let (rmw, polls) = rounds(|cx| {
        let std_form: *const hearth::task::LocalWaker = cx.local_waker();
        let ext_form: *const hearth::task::LocalWaker = ContextExt::local_waker(cx);
        assert!(std::ptr::eq(std_form, ext_form), "the two forms disagree");
        assert!(
            !std::ptr::addr_eq(std_form, cx.waker()),
            "std's form fell back to the Waker"
        );
        let twin = cx.local_waker().clone();
        twin.wake();
    });
    assert_eq!(polls, 1_001);
    assert_eq!(rmw, 0, "{rmw} atomic RMWs through std's cx.local_waker()");

    // The main future of `run_until` gets the same context.
    let ex = Executor::new();
    let n = ex.run_until(async {
        std::future::poll_fn(|cx| {
            let ((), n) = count(|| drop(cx.local_waker().clone()));
            Poll::Ready(n)
        })
        .await
    });
    assert_eq!(n, 0, "run_until: clone + drop of std's cx.local_waker()");
}
