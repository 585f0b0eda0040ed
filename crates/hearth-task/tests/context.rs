//! `ContextExt::local_waker` and `ContextBuilder`.
#![cfg_attr(feature = "nightly", feature(local_waker))]

mod common;

use std::cell::Cell;
use std::future::Future;
use std::pin::pin;
use std::ptr;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};

use common::probe;
use hearth_task::{local_waker_fn, raw, ContextBuilder, ContextExt, LocalWaker};

fn same(a: &LocalWaker, b: &LocalWaker) -> bool {
    a.data() == b.data() && ptr::eq(a.vtable(), b.vtable())
}

#[test]
fn foreign_waker_falls_back_to_itself() {
    let waker = futures::task::noop_waker();
    let cx = Context::from_waker(&waker);
    let local = ContextExt::local_waker(&cx);
    assert!(
        ptr::addr_eq(local, &waker),
        "the fallback is the Waker itself"
    );
    assert!(same(local, waker.as_ref()));

    // An Arc waker: the fallback wakes it.
    let woken = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    struct W(std::sync::Arc<std::sync::atomic::AtomicUsize>);
    impl std::task::Wake for W {
        fn wake(self: std::sync::Arc<Self>) {
            self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        }
    }
    let waker = Waker::from(std::sync::Arc::new(W(woken.clone())));
    let cx = Context::from_waker(&waker);
    ContextExt::local_waker(&cx).wake_by_ref();
    ContextExt::local_waker(&cx).clone().wake();
    assert_eq!(woken.load(std::sync::atomic::Ordering::SeqCst), 2);
}

#[test]
fn dual_waker_yields_its_twin() {
    let (rc, _obs) = probe();
    let twin = rc.local_waker();
    let waker_ref = rc.waker_ref();
    let cx = Context::from_waker(&waker_ref);
    let local = ContextExt::local_waker(&cx);
    assert!(same(local, &twin), "the lookup finds the twin");
    assert!(!same(local, waker_ref.as_ref()));
    local.wake_by_ref();
    assert_eq!(rc.local_wakes.get(), 1);
    assert_eq!(
        rc.shared()
            .remote_wakes
            .load(std::sync::atomic::Ordering::SeqCst),
        0
    );
}

#[test]
fn twin_survives_rebuilt_context_and_waker_clone() {
    let (rc, _obs) = probe();
    let twin = rc.local_waker();
    let waker = rc.waker();
    let outer = Context::from_waker(&waker);
    // A combinator that passes the Waker through by reference.
    let rebuilt = Context::from_waker(outer.waker());
    assert!(same(ContextExt::local_waker(&rebuilt), &twin));
    // A combinator that stores a clone and polls with it later.
    let cloned = outer.waker().clone();
    let from_clone = Context::from_waker(&cloned);
    assert!(same(ContextExt::local_waker(&from_clone), &twin));
    assert!(raw::is_dual(&cloned));
    // `futures::join!` and an async block in between.
    let mut fut = pin!(async {
        futures::join!(
            std::future::poll_fn(|cx| {
                assert!(same(ContextExt::local_waker(cx), &twin));
                Poll::Ready(())
            }),
            async {}
        )
    });
    assert!(fut
        .as_mut()
        .poll(&mut Context::from_waker(&cloned))
        .is_ready());
}

#[test]
fn twin_is_not_handed_out_on_another_thread() {
    let (rc, _obs) = probe();
    let waker = rc.waker();
    let twin_data = rc.local_waker().data() as usize;
    let remote = std::thread::scope(|s| {
        s.spawn(|| {
            let cx = Context::from_waker(&waker);
            let local = ContextExt::local_waker(&cx);
            // The fallback: the dual Waker itself, whose wakes are thread-safe.
            assert!(ptr::addr_eq(local, &waker));
            local.wake_by_ref();
            local.clone().wake();
            local.data() as usize == twin_data && !ptr::eq(local.vtable(), waker.vtable())
        })
        .join()
        .unwrap()
    });
    assert!(!remote);
    assert_eq!(
        rc.shared()
            .remote_wakes
            .load(std::sync::atomic::Ordering::SeqCst),
        2
    );
    assert_eq!(rc.local_wakes.get(), 0);
}

#[test]
fn builder_attaches_local_waker() {
    let hits = Rc::new(Cell::new(0));
    let h = hits.clone();
    let local = local_waker_fn(move || h.set(h.get() + 1));
    let waker = futures::task::noop_waker();
    let mut builder = ContextBuilder::from_waker(&waker).local_waker(&local);
    let cx = builder.build();
    assert!(same(ContextExt::local_waker(&cx), &local));
    // Survives a rebuild from the Waker reference.
    let rebuilt = Context::from_waker(cx.waker());
    assert!(same(ContextExt::local_waker(&rebuilt), &local));
    ContextExt::local_waker(&rebuilt).wake_by_ref();
    assert_eq!(hits.get(), 1);
    // The `Waker` forwards to the one given; a clone is a clone of it.
    let clone = cx.waker().clone();
    assert!(clone.will_wake(&waker));
    cx.waker().wake_by_ref();
}

#[test]
fn builder_without_local_waker_is_from_waker() {
    let waker = futures::task::noop_waker();
    let mut builder = ContextBuilder::from_waker(&waker);
    let cx = builder.build();
    assert!(ptr::eq(cx.waker(), &waker));
    assert!(ptr::addr_eq(ContextExt::local_waker(&cx), &waker));
}

#[test]
fn builder_from_inherits_and_waker_resets() {
    let local = local_waker_fn(|| {});
    let waker = futures::task::noop_waker();
    let mut b0 = ContextBuilder::from_waker(&waker).local_waker(&local);
    let mut cx = b0.build();

    // `from(cx)` inherits the local waker.
    {
        let mut b = ContextBuilder::from(&mut cx);
        let inner = b.build();
        assert!(same(ContextExt::local_waker(&inner), &local));
    }
    // `from(cx).waker(w)` resets the inherited local waker to `w`'s own.
    let other = futures::task::noop_waker();
    {
        let mut b = ContextBuilder::from(&mut cx).waker(&other);
        let inner = b.build();
        assert!(ptr::eq(inner.waker(), &other));
        assert!(ptr::addr_eq(ContextExt::local_waker(&inner), &other));
    }
    // An explicitly set local waker is kept, in either order.
    let mine = local_waker_fn(|| {});
    {
        let mut b = ContextBuilder::from(&mut cx)
            .local_waker(&mine)
            .waker(&other);
        let inner = b.build();
        assert!(same(ContextExt::local_waker(&inner), &mine));
    }
    {
        let mut b = ContextBuilder::from(&mut cx)
            .waker(&other)
            .local_waker(&mine);
        let inner = b.build();
        assert!(same(ContextExt::local_waker(&inner), &mine));
    }
}

#[test]
fn builder_from_dual_context_keeps_the_twin() {
    let (rc, _obs) = probe();
    let twin = rc.local_waker();
    let w = rc.waker_ref();
    let mut cx = Context::from_waker(&w);
    let mut b = ContextBuilder::from(&mut cx);
    let inner = b.build();
    assert!(
        ptr::eq(inner.waker(), &*w),
        "no wrapper when nothing changed"
    );
    assert!(same(ContextExt::local_waker(&inner), &twin));
}

#[test]
fn local_only_context_polls_local_futures() {
    let hits = Rc::new(Cell::new(0));
    let h = hits.clone();
    let local = local_waker_fn(move || h.set(h.get() + 1));
    let mut b = ContextBuilder::from_local_waker(&local);
    let mut cx = b.build();
    let mut polled = false;
    let mut fut = pin!(std::future::poll_fn(|cx: &mut Context<'_>| {
        if polled {
            return Poll::Ready(7);
        }
        polled = true;
        ContextExt::local_waker(cx).wake_by_ref();
        Poll::Pending
    }));
    assert!(fut.as_mut().poll(&mut cx).is_pending());
    assert_eq!(hits.get(), 1);
    assert_eq!(fut.as_mut().poll(&mut cx), Poll::Ready(7));
}

fn panic_message(f: impl FnOnce() + std::panic::UnwindSafe) -> String {
    let err = std::panic::catch_unwind(f).expect_err("expected a panic");
    err.downcast_ref::<String>()
        .cloned()
        .or_else(|| err.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap()
}

#[test]
#[allow(clippy::waker_clone_wake)] // waking a clone by value is the case under test
fn local_only_context_panics_at_first_use_of_waker() {
    for op in ["clone", "wake_by_ref", "wake"] {
        let msg = panic_message(move || {
            let mut b = ContextBuilder::from_local_waker(LocalWaker::noop());
            let cx = b.build();
            match op {
                "clone" => drop(cx.waker().clone()),
                "wake_by_ref" => cx.waker().wake_by_ref(),
                _ => {
                    // The only way to wake by value is through a clone, which
                    // already panics; the message is the same.
                    cx.waker().clone().wake()
                }
            }
        });
        assert!(msg.contains("from_local_waker"), "{op}: {msg}");
        assert!(
            msg.contains("cx.local_waker()"),
            "{op}: names the remedy: {msg}"
        );
    }
}

#[cfg(feature = "nightly")]
#[test]
fn nightly_std_builder_local_waker_is_honoured() {
    let local = local_waker_fn(|| {});
    let waker = futures::task::noop_waker();
    let cx = std::task::ContextBuilder::from_waker(&waker)
        .local_waker(&local)
        .build();
    assert!(same(ContextExt::local_waker(&cx), &local));
    // And our builder sets std's field too.
    let mut b = ContextBuilder::from_waker(&waker).local_waker(&local);
    let cx = b.build();
    assert!(same(Context::local_waker(&cx), &local));
}

#[test]
fn futures_polled_through_builder_context() {
    // An ecosystem future that stores `cx.waker()` works under a builder
    // context with a real Waker.
    let (tx, rx) = futures::channel::oneshot::channel::<u8>();
    let waker = futures::task::noop_waker();
    let local = local_waker_fn(|| {});
    let mut b = ContextBuilder::from_waker(&waker).local_waker(&local);
    let mut cx = b.build();
    let mut rx = pin!(rx);
    assert!(rx.as_mut().poll(&mut cx).is_pending());
    tx.send(5).unwrap();
    assert_eq!(rx.as_mut().poll(&mut cx), Poll::Ready(Ok(5)));
}
