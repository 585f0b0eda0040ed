//! `hearth_task::ContextExt::local_waker` under executors that know nothing of
//! hearth: the local waker must be the executor's own `Waker` viewed as a
//! `LocalWaker` (same address, data and vtable), and waking it, by value or by
//! reference, must wake the executor's task.
//!
//! A lost wake would leave the executor parked for ever, so every run happens
//! on a helper thread and the test fails after a deadline instead of hanging.
#![cfg_attr(feature = "nightly", feature(local_waker))]

use std::future::{poll_fn, Future};
use std::sync::mpsc;
use std::task::{Context, Poll};
use std::time::Duration;

use hearth_task::{raw, ContextExt, LocalWaker};

/// How the future wakes itself through its local waker.
#[derive(Clone, Copy, Debug)]
enum How {
    /// `cx.local_waker().clone().wake()`
    CloneThenWake,
    /// `cx.local_waker().wake_by_ref()`
    ByRef,
}

const BOTH: [How; 2] = [How::CloneThenWake, How::ByRef];

/// Asserts that the context's local waker is its `Waker`, viewed.
#[track_caller]
fn assert_fallback(cx: &Context<'_>) {
    let waker = cx.waker();
    assert!(
        !raw::is_dual(waker),
        "test setup: the executor's Waker is a hearth dual waker"
    );
    let local: &LocalWaker = ContextExt::local_waker(cx);
    assert!(
        std::ptr::addr_eq(local, waker),
        "the local waker is not the Waker itself"
    );
    assert!(local.will_wake(AsRef::<LocalWaker>::as_ref(waker)));
    assert_eq!(local.data(), waker.data());
    assert!(std::ptr::eq(local.vtable(), waker.vtable()));
}

/// Returns `Pending` once after waking itself through `cx.local_waker()`,
/// then `Ready(polls)`.
fn wakes_itself(how: How) -> impl Future<Output = u32> {
    let mut polls = 0;
    poll_fn(move |cx| {
        polls += 1;
        assert_fallback(cx);
        if polls > 1 {
            return Poll::Ready(polls);
        }
        let local = ContextExt::local_waker(cx);
        match how {
            How::CloneThenWake => local.clone().wake(),
            How::ByRef => local.wake_by_ref(),
        }
        Poll::Pending
    })
}

/// Runs `f` on a helper thread; fails if it does not finish in time.
fn within<T: Send + 'static>(what: &str, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    match rx.recv_timeout(Duration::from_secs(20)) {
        Ok(v) => v,
        Err(mpsc::RecvTimeoutError::Timeout) => {
            panic!("{what}: did not complete, the wake was lost")
        }
        Err(mpsc::RecvTimeoutError::Disconnected) => panic!("{what}: panicked (see above)"),
    }
}

fn tokio_rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("tokio runtime")
}

#[test]
fn tokio_block_on() {
    for how in BOTH {
        let polls = within("tokio block_on", move || {
            tokio_rt().block_on(wakes_itself(how))
        });
        assert_eq!(polls, 2, "{how:?}");
    }
}

#[test]
fn tokio_spawned_task() {
    for how in BOTH {
        let polls = within("tokio::spawn", move || {
            let rt = tokio_rt();
            rt.block_on(async {
                tokio::spawn(wakes_itself(how))
                    .await
                    .expect("task panicked")
            })
        });
        assert_eq!(polls, 2, "{how:?}");
    }
}

#[test]
fn tokio_local_set() {
    for how in BOTH {
        let polls = within("tokio LocalSet::spawn_local", move || {
            let rt = tokio_rt();
            let local = tokio::task::LocalSet::new();
            local.block_on(&rt, async {
                tokio::task::spawn_local(wakes_itself(how))
                    .await
                    .expect("task panicked")
            })
        });
        assert_eq!(polls, 2, "{how:?}");
    }
}

#[test]
fn tokio_join_and_select_pass_the_waker_through() {
    let (a, b, c) = within("tokio join!/select!", || {
        tokio_rt().block_on(async {
            let (a, b) = tokio::join!(wakes_itself(How::ByRef), wakes_itself(How::CloneThenWake));
            let c = tokio::select! {
                c = wakes_itself(How::ByRef) => c,
                _ = std::future::pending::<()>() => unreachable!(),
            };
            (a, b, c)
        })
    });
    assert_eq!((a, b, c), (2, 2, 2));
}

#[test]
fn futures_block_on() {
    for how in BOTH {
        let polls = within("futures block_on", move || {
            futures::executor::block_on(wakes_itself(how))
        });
        assert_eq!(polls, 2, "{how:?}");
    }
}

#[test]
fn futures_noop_waker() {
    let waker = futures::task::noop_waker();
    let mut cx = Context::from_waker(&waker);
    assert_fallback(&cx);
    for how in BOTH {
        let mut fut = std::pin::pin!(wakes_itself(how));
        // Waking a noop waker does nothing; the future is simply polled again.
        assert_eq!(fut.as_mut().poll(&mut cx), Poll::Pending, "{how:?}");
        assert_eq!(fut.as_mut().poll(&mut cx), Poll::Ready(2), "{how:?}");
    }
    // A clone of the local waker is a clone of the noop waker.
    let local = ContextExt::local_waker(&cx).clone();
    assert!(local.will_wake(AsRef::<LocalWaker>::as_ref(&waker)));
}
