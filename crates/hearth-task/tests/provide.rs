//! Typed providers carried by dual wakers: look-ups, layers, propagation,
//! and `None` wherever the value must not be reachable.

#![allow(unstable_name_collisions)]
#![cfg_attr(feature = "nightly", feature(local_waker))]

mod common;

use std::cell::Cell;
use std::future::{poll_fn, Future};
use std::pin::pin;
use std::ptr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll, RawWaker, Wake, Waker};

use common::probe;
use hearth_task::provide::{self, Provide, Provider, Request, Value};
use hearth_task::raw::{DualCounts, DualHeader, DualVTable};
use hearth_task::{ContextBuilder, ContextExt, LocalWaker};

#[derive(Debug, PartialEq)]
struct A(u32);
#[derive(Debug, PartialEq)]
struct B(&'static str);

/// Counts wakes, to check a layer's `Waker` forwards.
struct Count(AtomicUsize);
impl Wake for Count {
    fn wake(self: Arc<Self>) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

#[test]
fn nothing_provided_without_a_layer() {
    let cx = Context::from_waker(Waker::noop());
    assert!(cx.request_ref::<A>().is_none());
    let (rc, _) = probe();
    let waker = rc.waker_ref();
    let cx = Context::from_waker(&waker);
    assert!(
        cx.request_ref::<A>().is_none(),
        "a dual waker without a provider"
    );
    assert!(!provide::has_provider(&waker));
}

#[test]
fn layer_provides_to_its_subtree_only() {
    let cx = Context::from_waker(Waker::noop());
    let got = provide::with_value(&cx, &A(1), |cx| cx.request_ref::<A>().map(|a| a.0));
    assert_eq!(got, Some(1));
    assert!(cx.request_ref::<A>().is_none());
}

#[test]
fn nested_layers_shadow_and_fall_back() {
    let cx = Context::from_waker(Waker::noop());
    provide::with_value(&cx, &A(1), |cx| {
        provide::with_value(cx, &B("inner"), |cx| {
            assert_eq!(
                cx.request_ref::<A>(),
                Some(&A(1)),
                "falls back to the outer layer"
            );
            assert_eq!(cx.request_ref::<B>(), Some(&B("inner")));
            provide::with_value(cx, &A(2), |cx| {
                assert_eq!(cx.request_ref::<A>(), Some(&A(2)), "innermost wins");
                assert_eq!(cx.request_ref::<B>(), Some(&B("inner")));
            });
            assert_eq!(cx.request_ref::<A>(), Some(&A(1)));
        });
    });
}

#[test]
fn unsized_and_multi_value_providers() {
    struct Both;
    impl Provider for Both {
        fn provide<'a>(&'a self, request: &mut Request<'a>) {
            request
                .provide_ref::<str>("name")
                .provide_ref::<[u8]>(&[1, 2, 3]);
            request.provide_ref_with::<A>(|| &A(9));
        }
    }
    let cx = Context::from_waker(Waker::noop());
    provide::with(&cx, &Both, |cx| {
        assert_eq!(cx.request_ref::<str>(), Some("name"));
        assert_eq!(cx.request_ref::<[u8]>(), Some(&[1u8, 2, 3][..]));
        assert_eq!(cx.request_ref::<A>(), Some(&A(9)));
        assert!(cx.request_ref::<B>().is_none());
    });
}

#[test]
fn survives_rebuilt_contexts() {
    let cx = Context::from_waker(Waker::noop());
    provide::with_value(&cx, &A(3), |cx| {
        let waker = cx.waker();
        let rebuilt = Context::from_waker(waker);
        assert_eq!(rebuilt.request_ref::<A>(), Some(&A(3)));
        let twice = Context::from_waker(rebuilt.waker());
        assert_eq!(twice.request_ref::<A>(), Some(&A(3)));
    });
}

#[test]
fn survives_context_builder_from() {
    provide::with_value(&Context::from_waker(Waker::noop()), &A(4), |cx| {
        // Unchanged.
        let mut b = ContextBuilder::from(cx);
        let built = b.build();
        assert_eq!(built.request_ref::<A>(), Some(&A(4)));
    });
    provide::with_value(&Context::from_waker(Waker::noop()), &A(5), |cx| {
        // A new `Waker` (a combinator observing its child's wakes): the
        // providers are still inherited.
        let counter = Arc::new(Count(AtomicUsize::new(0)));
        let child = Waker::from(counter.clone());
        let mut b = ContextBuilder::from(cx).waker(&child);
        let built = b.build();
        assert_eq!(built.request_ref::<A>(), Some(&A(5)));
        built.waker().wake_by_ref();
        let clone = built.waker().clone();
        clone.wake();
        assert_eq!(
            counter.0.load(Ordering::SeqCst),
            2,
            "wakes reach the new Waker"
        );
    });
    provide::with_value(&Context::from_waker(Waker::noop()), &A(6), |cx| {
        // An explicit local waker, same `Waker`.
        let mut b = ContextBuilder::from(cx).local_waker(LocalWaker::noop());
        let built = b.build();
        assert_eq!(built.request_ref::<A>(), Some(&A(6)));
        assert!(ContextExt::local_waker(&built).will_wake(LocalWaker::noop()));
    });
    // `provide` on the builder, falling back to the parent.
    provide::with_value(&Context::from_waker(Waker::noop()), &A(7), |cx| {
        let value = Value(B("built"));
        let mut b = ContextBuilder::from(cx).provide(&value);
        let built = b.build();
        assert_eq!(built.request_ref::<B>(), Some(&B("built")));
        assert_eq!(built.request_ref::<A>(), Some(&A(7)));
    });
    // `provide` without a parent, on a local-only context.
    let value = Value(A(8));
    let mut b = ContextBuilder::from_local_waker(LocalWaker::noop()).provide(&value);
    let built = b.build();
    assert_eq!(built.request_ref::<A>(), Some(&A(8)));
}

#[test]
fn with_waker_links_a_child_context() {
    let counter = Arc::new(Count(AtomicUsize::new(0)));
    let child = Waker::from(counter.clone());
    // Nothing to inherit: a plain context for the child.
    let cx = Context::from_waker(Waker::noop());
    provide::with_waker(&child, &cx, |ccx| {
        assert!(ptr::eq(ccx.waker(), &child));
    });
    provide::with_value(&cx, &A(10), |cx| {
        provide::with_waker(&child, cx, |ccx| {
            assert_eq!(ccx.request_ref::<A>(), Some(&A(10)));
            ccx.waker().wake_by_ref();
            let clone = ccx.waker().clone();
            // Miri may give one vtable several addresses, so `will_wake` can
            // be false there; the wake count below checks the same thing.
            assert!(
                cfg!(miri) || clone.will_wake(&child),
                "a clone is a clone of the child's Waker"
            );
            clone.wake();
            // Three levels of combinators.
            provide::with_waker(&child, ccx, |c2| {
                provide::with_waker(&child, c2, |c3| {
                    assert_eq!(c3.request_ref::<A>(), Some(&A(10)));
                });
            });
        });
    });
    assert_eq!(counter.0.load(Ordering::SeqCst), 2);
}

#[test]
fn layer_keeps_the_local_twin() {
    let (rc, _) = probe();
    let waker = rc.waker_ref();
    let cx = Context::from_waker(&waker);
    let twin: *const LocalWaker = ContextExt::local_waker(&cx);
    provide::with_value(&cx, &A(1), |cx| {
        let lw = ContextExt::local_waker(cx);
        // SAFETY: `twin` is the local waker of `waker`, alive for the test.
        assert!(lw.will_wake(unsafe { &*twin }));
        lw.wake_by_ref();
    });
    assert_eq!(
        rc.local_wakes.get(),
        1,
        "a wake through the layer's twin is local"
    );
    assert_eq!(rc.shared().remote_wakes.load(Ordering::SeqCst), 0);
}

#[test]
fn provide_future_and_await_chain() {
    async fn leaf() -> Option<u32> {
        poll_fn(|cx| Poll::Ready(cx.request_ref::<A>().map(|a| a.0))).await
    }
    let fut = Provide::new(A(11), async {
        let direct = leaf().await;
        let nested = Provide::new(B("x"), async {
            (
                leaf().await,
                poll_fn(|cx| Poll::Ready(cx.request_ref::<B>().map(|b| b.0))).await,
            )
        })
        .await;
        (direct, nested)
    });
    assert_eq!(
        futures::executor::block_on(fut),
        (Some(11), (Some(11), Some("x")))
    );
}

#[test]
fn none_under_foreign_executors() {
    // `futures`' block_on: its `Waker` is not a dual waker.
    let got =
        futures::executor::block_on(poll_fn(|cx| Poll::Ready(cx.request_ref::<A>().is_some())));
    assert!(!got);
    // A `futures::FuturesUnordered` (its own child wakers) ends the chain:
    // correct, its children's wakers are not linked to the parent.
    let mut set = futures::stream::FuturesUnordered::new();
    set.push(poll_fn(|cx| Poll::Ready(cx.request_ref::<A>().is_some())));
    let inside = futures::executor::block_on(Provide::new(A(1), async {
        use futures::StreamExt;
        set.next().await
    }));
    assert_eq!(inside, Some(false));
}

#[test]
fn none_on_a_foreign_thread() {
    let cx = Context::from_waker(Waker::noop());
    provide::with_value(&cx, &A(12), |cx| {
        let waker: &Waker = cx.waker();
        assert!(cx.request_ref::<A>().is_some());
        std::thread::scope(|s| {
            s.spawn(|| {
                let there = Context::from_waker(waker);
                assert!(there.request_ref::<A>().is_none(), "owner check");
                assert!(!provide::has_provider(waker));
            })
            .join()
            .unwrap();
        });
    });
}

#[test]
fn layer_waker_forwards_and_owns_nothing() {
    let counter = Arc::new(Count(AtomicUsize::new(0)));
    let outer = Waker::from(counter.clone());
    let cx = Context::from_waker(&outer);
    let kept = provide::with_value(&cx, &A(1), |cx| {
        cx.waker().wake_by_ref();
        cx.waker().clone()
    });
    assert!(
        cfg!(miri) || kept.will_wake(&outer),
        "clones outlive the layer as clones of the outer Waker"
    );
    kept.wake();
    assert_eq!(counter.0.load(Ordering::SeqCst), 2);
    assert_eq!(Arc::strong_count(&counter), 2, "no count leaked");
}

#[test]
fn a_panic_inside_a_layer_leaves_the_outer_context_intact() {
    let cx = Context::from_waker(Waker::noop());
    provide::with_value(&cx, &A(1), |cx| {
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            provide::with_value(cx, &A(2), |_| panic!("injected"));
        }));
        assert!(r.is_err());
        assert_eq!(cx.request_ref::<A>(), Some(&A(1)));
    });
    let mut fut = pin!(Provide::new(
        A(3),
        poll_fn(|_| -> Poll<()> { panic!("injected") })
    ));
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let _ = fut.as_mut().poll(&mut Context::from_waker(Waker::noop()));
    }));
    assert!(r.is_err());
    assert!(cx.request_ref::<A>().is_none());
}

// ---- A runtime's provider on its own header ----

/// A minimal task with an id, provided through the header's vtable.
#[repr(C)]
struct Task {
    header: DualHeader,
    counts: DualCounts,
    id: u64,
    polls: Cell<u32>,
}

unsafe fn task_provide(h: *const DualHeader, request: &mut Request<'_>) {
    // SAFETY: `h` is the header of a live `Task`.
    let task = unsafe { &*h.cast::<Task>() };
    // Values that live in the header's allocation.
    request.provide_ref::<u64>(&task.id);
    request.provide_ref::<Cell<u32>>(&task.polls);
}

unsafe fn t_clone(h: *const DualHeader) -> RawWaker {
    DualHeader::raw_waker(h)
}
unsafe fn t_noop(_: *const DualHeader) {}

static TASK: DualVTable =
    // SAFETY: the test's task outlives every `Waker` of it; the hooks count
    // nothing, and `task_provide` only reads the task.
    unsafe { DualVTable::new(t_clone, t_noop, t_noop, t_noop).provider(task_provide) };

#[test]
fn runtime_provider_on_the_header() {
    // The twin: a noop local waker (the test owns the task for its whole life).
    let task = Box::new(Task {
        // SAFETY: a noop twin is valid anywhere; the vtable's functions own
        // no counts and the task outlives every `Waker` below.
        header: unsafe { DualHeader::new(LocalWaker::noop().clone(), &TASK) },
        counts: DualCounts::new(),
        id: 77,
        polls: Cell::new(0),
    });
    // SAFETY: the task outlives the `Waker`, which is never dropped.
    let waker = std::mem::ManuallyDrop::new(unsafe {
        Waker::from_raw(DualHeader::raw_waker((&*task as *const Task).cast()))
    });
    let cx = Context::from_waker(&waker);
    assert!(provide::has_provider(&waker));
    assert_eq!(cx.request_ref::<u64>(), Some(&77));
    cx.request_ref::<Cell<u32>>().unwrap().set(3);
    assert_eq!(task.polls.get(), 3);
    // Layers fall back to the runtime's values; children of combinators too.
    provide::with_value(&cx, &A(1), |cx| {
        assert_eq!(cx.request_ref::<u64>(), Some(&77));
        provide::with_waker(Waker::noop(), cx, |ccx| {
            assert_eq!(ccx.request_ref::<u64>(), Some(&77));
            assert_eq!(ccx.request_ref::<A>(), Some(&A(1)));
        });
    });
    // Released: nothing is provided any more.
    task.header.release_local();
    assert!(cx.request_ref::<u64>().is_none());
    let _ = &task.counts;
}

static NARROWED: DualVTable =
    // SAFETY: as for `TASK`.
    unsafe {
        DualVTable::new(t_clone, t_noop, t_noop, t_noop)
            .provider(counting_provide)
            .provides_only(&[core::any::TypeId::of::<u64>()])
    };

thread_local! {
    static HOOK_CALLS: Cell<u32> = const { Cell::new(0) };
}

unsafe fn counting_provide(h: *const DualHeader, request: &mut Request<'_>) {
    HOOK_CALLS.with(|c| c.set(c.get() + 1));
    // SAFETY: as in `task_provide`.
    unsafe { task_provide(h, request) };
}

/// `provides_only`: the hook is asked only for the listed types; other
/// look-ups miss without calling it (also through a layer), and a value the
/// hook would give but the list leaves out is not found.
#[test]
fn a_narrowed_hook_is_only_asked_for_its_types() {
    let task = Box::new(Task {
        // SAFETY: as in `runtime_provider_on_the_header`.
        header: unsafe { DualHeader::new(LocalWaker::noop().clone(), &NARROWED) },
        counts: DualCounts::new(),
        id: 5,
        polls: Cell::new(0),
    });
    // SAFETY: the task outlives the `Waker`, which is never dropped.
    let waker = std::mem::ManuallyDrop::new(unsafe {
        Waker::from_raw(DualHeader::raw_waker((&*task as *const Task).cast()))
    });
    let cx = Context::from_waker(&waker);
    let calls = || HOOK_CALLS.with(Cell::get);
    assert_eq!(cx.request_ref::<u64>(), Some(&5));
    assert_eq!(calls(), 1);
    // Not listed: no call, not found (although the hook offers it).
    assert!(cx.request_ref::<Cell<u32>>().is_none());
    assert!(cx.request_ref::<A>().is_none());
    assert_eq!(calls(), 1);
    // Through a layer: the layer's own value, then the narrowed hook.
    provide::with_value(&cx, &A(2), |cx| {
        assert_eq!(cx.request_ref::<A>(), Some(&A(2)));
        assert!(cx.request_ref::<Cell<u32>>().is_none());
        assert_eq!(calls(), 1);
        assert_eq!(cx.request_ref::<u64>(), Some(&5));
        assert_eq!(calls(), 2);
    });
    let _ = &task.counts;
}

/// A panicking wake during `Deadline::expire` does not cost the other
/// waiters their wake-up, and the panic still reaches the caller.
#[test]
fn deadline_expire_wakes_everyone_when_a_wake_panics() {
    use hearth_task::local_waker_fn;
    use hearth_task::provide::Deadline;
    use std::cell::Cell;
    use std::rc::Rc;

    let woken = Rc::new(Cell::new(0));
    let deadline = Deadline::new();
    let (a, b) = (woken.clone(), woken.clone());
    deadline.register(&local_waker_fn(move || a.set(a.get() + 1)));
    deadline.register(&local_waker_fn(|| panic!("a waiter's wake panicked")));
    deadline.register(&local_waker_fn(move || b.set(b.get() + 1)));
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let out = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| deadline.expire()));
    std::panic::set_hook(hook);
    let payload = out.expect_err("the wake's panic reaches the caller");
    assert_eq!(
        payload.downcast_ref::<&str>(),
        Some(&"a waiter's wake panicked")
    );
    assert_eq!(woken.get(), 2, "a waiter was not woken");
    assert!(deadline.is_expired());
    assert_eq!(deadline.waiters(), 0);
}
