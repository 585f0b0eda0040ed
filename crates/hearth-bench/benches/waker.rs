//! Criterion versions of the `waker` suite's cases (the same targets and
//! operations: `src/suites/waker_targets.rs` is included by path).
//!
//! `cargo bench -p hearth-bench --bench waker` (add `-- --quick` for a short
//! run). The side-by-side table comes from `cargo run --release -p hearth-bench`.

#![cfg_attr(feature = "nightly", feature(local_waker))]

#[path = "../src/suites/waker_targets.rs"]
mod targets;

use std::hint::black_box;
use std::rc::Rc;
use std::sync::Arc;
use std::task::{Context, Waker};

use criterion::{criterion_group, criterion_main, Criterion};
use hearth_task::{ContextExt, LocalWaker};

use targets::{ArcTarget, RcTarget};

fn wake(c: &mut Criterion) {
    let mut g = c.benchmark_group("waker/clone+wake_by_ref+drop");

    let arc_waker = Waker::from(Arc::new(ArcTarget::default()));
    g.bench_function("Arc Waker (std Wake)", |b| {
        b.iter(|| targets::clone_wake_drop(&arc_waker))
    });

    let rc_local: LocalWaker = Rc::new(RcTarget::default()).into();
    g.bench_function("Rc LocalWaker (LocalWake)", |b| {
        b.iter(|| targets::clone_wake_drop_local(&rc_local))
    });

    let dual = targets::dual_target();
    let dual_ref = dual.waker_ref();
    let cx = Context::from_waker(&dual_ref);
    let twin: &LocalWaker = ContextExt::local_waker(&cx);
    assert!(!twin.will_wake(cx.waker().as_ref()), "no twin");
    g.bench_function("dual twin (LocalWaker)", |b| {
        b.iter(|| targets::clone_wake_drop_local(twin))
    });

    let dual_b = targets::dual_target();
    let dual_waker = dual_b.waker();
    g.bench_function("dual Waker (thread-safe face)", |b| {
        b.iter(|| targets::clone_wake_drop(&dual_waker))
    });

    g.bench_function("noop Waker (vtable dispatch floor)", |b| {
        b.iter(|| targets::clone_wake_drop(Waker::noop()))
    });

    #[cfg(feature = "nightly")]
    {
        let std_local: std::task::LocalWaker = Rc::new(targets::StdRcTarget::default()).into();
        g.bench_function("std LocalWaker (nightly, Rc LocalWake)", |b| {
            b.iter(|| targets::clone_wake_drop_std_local(&std_local))
        });
    }
    g.finish();
}

fn lookup(c: &mut Criterion) {
    let mut g = c.benchmark_group("waker/cx.local_waker()");

    let dual = targets::dual_target();
    let dual_ref = dual.waker_ref();
    let dual_cx = Context::from_waker(&dual_ref);
    g.bench_function("dual", |b| b.iter(|| targets::lookup(&dual_cx)));

    let arc_waker = Waker::from(Arc::new(ArcTarget::default()));
    let arc_cx = Context::from_waker(&arc_waker);
    g.bench_function("foreign Waker", |b| b.iter(|| targets::lookup(&arc_cx)));

    #[cfg(feature = "nightly")]
    {
        let std_local: std::task::LocalWaker = Rc::new(targets::StdRcTarget::default()).into();
        let std_cx = std::task::ContextBuilder::from_waker(&arc_waker)
            .local_waker(&std_local)
            .build();
        g.bench_function("std (nightly, ContextBuilder)", |b| {
            b.iter(|| targets::std_lookup(&std_cx))
        });
    }

    g.bench_function("harness floor (black_box)", |b| {
        b.iter(|| {
            black_box(black_box(&dual_cx));
        })
    });
    g.finish();
}

criterion_group!(benches, wake, lookup);
criterion_main!(benches);
