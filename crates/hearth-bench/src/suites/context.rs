//! Suite `context`: what reading a value through the `Context` costs
//! (hearth_task::provide) against the thread-local a skeptic would use
//! instead, and a task-local read against tokio's.

use std::cell::{Cell, RefCell};
use std::future::{pending, poll_fn};
use std::hint::black_box;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};

use hearth::task::{provide, Id};

use crate::harness::{Config, Suite, SuiteReport, Target};

pub const THREAD_LOCAL: &str = "thread_local! read (const Cell)";
pub const DUAL: &str = "task::Id::from_context (request_ref), hearth task";
pub const ONE: &str = "task::Id::from_context through 1 combinator";
pub const THREE: &str = "task::Id::from_context through 3 nested combinators";
pub const FOREIGN: &str = "task::Id::from_context under a foreign Waker (None)";
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
    static TL: Cell<u64> = const { Cell::new(7) };
}

tokio::task_local! {
    static TOKIO_KEY: u64;
}

hearth::task_local! {
    static HEARTH_KEY: u64;
}

pub fn run(config: &Config) -> SuiteReport {
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

    // The child contexts hearth-future builds for each child poll
    // (`provide::with_waker`, what `poll_child` calls), nested 1 and 3 deep,
    // and a task-local scope around them.
    let child = Waker::noop();
    let report = HEARTH_KEY.sync_scope(&task_cx, 7, |scoped| {
        provide::with_waker(child, scoped, |c1| {
            provide::with_waker(child, c1, |c2| {
                provide::with_waker(child, c2, |c3| {
                    assert_eq!(Id::from_context(c3), Some(id));
                    assert_eq!(HEARTH_KEY.with(c3, |v| *v), 7);
                    TOKIO_KEY.sync_scope(7, || {
                        let task_cx = &task_cx;
                        // The 1-deep child: a combinator polled by the task
                        // itself (no scope in between).
                        provide::with_waker(child, task_cx, |one| {
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
                                    black_box(Id::from_context(black_box(&*one)));
                                })
                                .case(THREE, None, || {
                                    black_box(Id::from_context(black_box(&*c3)));
                                })
                                .case(FOREIGN, None, || {
                                    black_box(Id::from_context(black_box(&foreign_cx)));
                                })
                                .case(TOKIO_TL, None, || {
                                    black_box(TOKIO_KEY.with(|v| *v));
                                })
                                .case(HEARTH_TL, Some(TASK_LOCAL), || {
                                    black_box(HEARTH_KEY.with(black_box(&*scoped), |v| *v));
                                })
                                .case(HEARTH_TL_THREE, None, || {
                                    black_box(HEARTH_KEY.with(black_box(&*c3), |v| *v));
                                });
                            suite.note(
                                "Each row is one read, its input and output through `black_box`. The \
                                 baseline reads a `const`-initialised `thread_local!` `Cell` (no lazy \
                                 initialisation, no destructor: the cheapest thread-local there is). \
                                 `Id::from_context` rows look up the identity every hearth task \
                                 provides (`cx.request_ref`, then an address to `Id`): on the task's own context (a vtable compare, the owner-thread \
                                 check, which is itself a thread-local load, and one call into the \
                                 task's provider), and through the child contexts hearth-future builds \
                                 per child poll (`provide::with_waker`; one more owner compare and hop \
                                 per level).",
                            );
                            suite.note(
                                "Task-local rows: tokio's `LocalKey::with` inside `sync_scope` (a \
                                 thread-local `RefCell<Option<T>>` borrow) against hearth's \
                                 `LocalKey::with(cx, ..)` inside `sync_scope` (a look-up through the \
                                 context: the scope is the innermost layer, so it is found first), and \
                                 the same read from a context three combinators below the scope.",
                            );
                            suite.run()
                        })
                    })
                })
            })
        })
    });
    drop(task_waker);
    drop(executor);
    report
}
