//! Suite `context`: what reading a value through the `Context` costs
//! (hearth_task::provide) against the thread-local a skeptic would use
//! instead, and a task-local read against tokio's.

use std::cell::{Cell, RefCell};
use std::future::{pending, poll_fn, Future};
use std::hint::black_box;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};

use hearth::task::Id;

use crate::harness::{Config, Suite, SuiteReport, Target};

pub const THREAD_LOCAL: &str = "thread_local! read (const Cell)";
pub const DUAL: &str = "task::Id::from_context (request_ref), hearth task";
pub const ONE: &str = "task::Id::from_context through 1 combinator";
pub const THREE: &str = "task::Id::from_context through 3 nested combinators";
pub const FOREIGN: &str = "task::Id::from_context under a foreign Waker (None)";
pub const MISS: &str = "current_deadline with none in scope (a socket op's look-up), hearth task";
pub const TOKIO_TL: &str = "tokio task_local! read (with)";
pub const HEARTH_TL: &str = "hearth task_local! read (with)";
pub const HEARTH_TL_THREE: &str = "hearth task_local! read, 3 combinators below the scope";

/// The look-up on the dual path must cost at most 2× a thread-local read.
const LOOKUP: Target = Target::RatioAtMost(2.0);
/// A task-local read must cost at most half of tokio's.
const TASK_LOCAL: Target = Target::RatioToFastestAtMost {
    cases: &[TOKIO_TL],
    max: 0.5,
    label: "tokio task_local!",
};

std::thread_local! {
    static TL: Cell<u64> = const { Cell::new(0) };
}

tokio::task_local! {
    static TOKIO_KEY: u64;
}

hearth::task_local! {
    static HEARTH_KEY: u64;
}

pub fn run(config: &Config) -> SuiteReport {
    // Written once with a value the compiler cannot see, so the baseline's
    // read is a real thread-local load (a `const` `Cell` that is never
    // written is folded to its initial value: no load at all).
    TL.with(|c| c.set(black_box(7)));
    // A real hearth task, pending for the whole run: its `Waker` (on this,
    // its owner thread) carries the task's provider, as in any poll.
    let executor = hearth::Executor::new();
    let slot: Rc<RefCell<Option<Waker>>> = Rc::default();
    let s = slot.clone();
    let _task = executor.spawn_local(async move {
        poll_fn(|cx| {
            *s.borrow_mut() = Some(cx.waker().clone());
            Poll::Ready(())
        })
        .await;
        pending::<()>().await;
    });
    executor.run_until_idle();
    let task_waker = slot.borrow_mut().take().expect("the task ran");
    let task_cx = Context::from_waker(&task_waker);
    let id = Id::from_context(&task_cx).expect("a hearth task provides its id");

    let foreign_cx = Context::from_waker(Waker::noop());

    // Real hearth-future combinators (`join_all` of one child), nested 1 and
    // 3 deep, polled with the task's context: the rows read from inside the
    // innermost child's poll, as a leaf future does. The task-local rows run
    // under a `sync_scope`, the 3-deep one with the combinators below it.
    let report = HEARTH_KEY.sync_scope(&task_cx, 7, |scoped| {
        let scoped: &Context<'_> = scoped;
        under_combinators(3, scoped, &mut |s3| {
            assert_eq!(HEARTH_KEY.with(s3, |v| *v), 7);
            under_combinators(1, &task_cx, &mut |one| {
                under_combinators(3, &task_cx, &mut |c3| {
                    assert_eq!(Id::from_context(one), Some(id));
                    assert_eq!(Id::from_context(c3), Some(id));
                    TOKIO_KEY.sync_scope(7, || {
                        let task_cx = &task_cx;
                        {
                            let mut suite = Suite::new(
                                "context",
                                "Reading values through the Context vs thread-locals",
                                config,
                            );
                            suite
                                .baseline(THREAD_LOCAL, || {
                                    black_box(TL.with(|c| c.get()));
                                })
                                .case(DUAL, Some(LOOKUP), || {
                                    black_box(Id::from_context(black_box(task_cx)));
                                })
                                .case(ONE, None, || {
                                    black_box(Id::from_context(black_box(one)));
                                })
                                .case(THREE, None, || {
                                    black_box(Id::from_context(black_box(c3)));
                                })
                                .case(FOREIGN, None, || {
                                    black_box(Id::from_context(black_box(&foreign_cx)));
                                })
                                .case(MISS, None, || {
                                    black_box(hearth::task::provide::current_deadline(black_box(
                                        task_cx,
                                    )));
                                })
                                .case(TOKIO_TL, None, || {
                                    black_box(TOKIO_KEY.with(|v| *v));
                                })
                                .case(HEARTH_TL, Some(TASK_LOCAL), || {
                                    black_box(HEARTH_KEY.with(black_box(scoped), |v| *v));
                                })
                                .case(HEARTH_TL_THREE, None, || {
                                    black_box(HEARTH_KEY.with(black_box(s3), |v| *v));
                                });
                            suite.note(
                                "Each row is one read, its input and output through `black_box`. The \
                                 baseline reads a `const`-initialised `thread_local!` `Cell` (no lazy \
                                 initialisation, no destructor: the cheapest thread-local there is). \
                                 The thread-local is written once at the start with a value the \
                                 compiler cannot see: otherwise a never-written `const` `Cell` is \
                                 folded to its initial value and the row times an empty loop. \
                                 `Id::from_context` rows look up the identity every hearth task \
                                 provides (`cx.request_ref`, then an address to `Id`): on the task's \
                                 own context (a vtable compare, the owner-thread check, which is \
                                 itself a thread-local load, and the task's identity read in place as \
                                 a field of its header: no call), and from inside the innermost \
                                 child of 1 and 3 nested `hearth_future::join_all`s (each level one \
                                 more owner check and one call of the combinator's link hook, out of \
                                 line). The `current_deadline` row is the look-up every socket \
                                 operation makes: a miss on a task's own context, which ends inline \
                                 (the task's hook answers only its runtime handle: \
                                 `DualVTable::provides_only`).",
                            );
                            suite.note(
                                "Task-local rows: tokio's `LocalKey::with` inside `sync_scope` (a \
                                 thread-local `RefCell<Option<T>>` borrow) against hearth's \
                                 `LocalKey::with(cx, ..)` inside `sync_scope` (a look-up through the \
                                 context: the scope is the innermost layer, read in place), and the \
                                 same read from inside three nested `join_all`s below the scope.",
                            );
                            suite.run()
                        }
                    })
                })
            })
        })
    });
    drop(task_waker);
    drop(executor);
    report
}

/// Calls `f` from inside the poll of the innermost of `depth` nested
/// `hearth_future::join_all`s (one child each) polled with a context built
/// from `cx`'s `Waker` (the same `Waker`, so its providers are seen), or
/// with `cx` itself for `depth == 0`.
fn under_combinators<R>(depth: usize, cx: &Context<'_>, f: &mut dyn FnMut(&Context<'_>) -> R) -> R {
    if depth == 0 {
        return f(cx);
    }
    let mut out = None;
    {
        let mut join = hearth_future::join_all([poll_fn(|child: &mut Context<'_>| {
            out = Some(under_combinators(depth - 1, child, &mut *f));
            Poll::Ready(())
        })]);
        let mut parent = Context::from_waker(cx.waker());
        assert!(std::pin::pin!(&mut join).poll(&mut parent).is_ready());
    }
    out.expect("the child ran")
}
