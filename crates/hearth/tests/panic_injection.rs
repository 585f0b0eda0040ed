//! Panic injection: wherever the executor runs user code (a poll, the drop of
//! a future, an output or a panic payload, a waker's wake, wake_by_ref, clone
//! or drop), a panic there leaves every invariant intact. The executor's
//! module docs state the rule this file checks.
//!
//! The fixed cases are the regressions of issue 10 (a panic escaping
//! `Executor::drop` left tasks pointing at a freed core; a future dropped twice
//! when its drop and its output's drop both panicked). The property test
//! places panics at random points across spawn, abort, detach, `JoinHandle`
//! polls with foreign wakers, local and remote wakes and the executor's drop,
//! then checks that every future and output was dropped exactly once. Under
//! Miri (run by `.ci/run` with `-Zmiri-strict-provenance`) any use after free,
//! double free, data race or leak fails the run as well.

use std::any::Any;
use std::cell::{Cell, RefCell};
use std::future::Future;
use std::panic::{catch_unwind, panic_any, AssertUnwindSafe};
use std::pin::Pin;
use std::rc::Rc;
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};

use hearth::{Executor, JoinHandle};
use proptest::prelude::*;

/// Silences the panic messages of the panics this file injects on purpose.
fn quiet_panics() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    // `HEARTH_SHOW_PANICS=1` keeps the messages (to debug a failure).
    if std::env::var_os("HEARTH_SHOW_PANICS").is_none() {
        ONCE.call_once(|| std::panic::set_hook(Box::new(|_| {})));
    }
}

/// A panic payload whose own drop panics (`panic_any` with it).
#[derive(Debug)]
struct BadPayload;

impl Drop for BadPayload {
    fn drop(&mut self) {
        panic!("the payload's drop panics too");
    }
}

/// Where a `Boom` waker panics.
#[derive(Clone, Copy, Debug, PartialEq)]
enum WakerPanic {
    Wake,
    Clone,
    Drop,
}

/// A foreign waker (not hearth's) that panics at one chosen point.
struct Boom {
    at: WakerPanic,
}

impl Wake for Boom {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }
    fn wake_by_ref(self: &Arc<Self>) {
        if self.at == WakerPanic::Wake {
            panic!("wake");
        }
    }
}

/// A `Waker` whose clone or drop panics needs a hand-made vtable.
mod raw_boom {
    use std::task::{RawWaker, RawWakerVTable, Waker};

    static CLONE_PANICS: RawWakerVTable = RawWakerVTable::new(clone_panics, noop, noop, noop);
    static DROP_PANICS: RawWakerVTable =
        RawWakerVTable::new(clone_drop_panics, noop, noop, drop_panics);

    fn clone_panics(_: *const ()) -> RawWaker {
        panic!("clone");
    }
    fn clone_drop_panics(p: *const ()) -> RawWaker {
        RawWaker::new(p, &DROP_PANICS)
    }
    fn noop(_: *const ()) {}
    fn drop_panics(_: *const ()) {
        // A drop of the waker the caller owns must not panic while the caller
        // unwinds already: panic only when not unwinding.
        if !std::thread::panicking() {
            panic!("drop");
        }
    }

    pub fn clone_panics_waker() -> Waker {
        // SAFETY: the vtable's functions ignore the data pointer.
        unsafe { Waker::from_raw(RawWaker::new(std::ptr::null(), &CLONE_PANICS)) }
    }

    /// The waker itself is fine; the clones it hands out panic when dropped.
    pub fn drop_panics_waker() -> Waker {
        static FINE: RawWakerVTable = RawWakerVTable::new(clone_drop_panics, noop, noop, noop);
        // SAFETY: as above.
        unsafe { Waker::from_raw(RawWaker::new(std::ptr::null(), &FINE)) }
    }
}

fn waker(at: WakerPanic) -> Waker {
    match at {
        WakerPanic::Wake => Waker::from(Arc::new(Boom { at })),
        WakerPanic::Clone => raw_boom::clone_panics_waker(),
        WakerPanic::Drop => raw_boom::drop_panics_waker(),
    }
}

/// Drop counts per object, to catch double drops and leaks of user values.
#[derive(Default, Debug)]
struct Ledger {
    futures_made: Cell<usize>,
    futures_dropped: Cell<usize>,
    outputs_made: Cell<usize>,
    outputs_dropped: Cell<usize>,
    /// Set when an object is dropped twice (asserting in a drop would unwind
    /// through the code under test instead).
    double_drop: Cell<bool>,
}

/// What a probe future does.
#[derive(Clone, Copy, Debug)]
struct Plan {
    /// Polls that return `Pending` (parking its waker) before `Ready`.
    pending_polls: u8,
    /// Panic on this poll (0-based) instead.
    panic_on_poll: Option<u8>,
    /// The panic's payload panics when dropped.
    bad_payload: bool,
    /// The future's drop panics.
    panic_on_drop: bool,
    /// The output's drop panics.
    output_panics_on_drop: bool,
}

#[derive(Debug)]
struct Output {
    ledger: Rc<Ledger>,
    dropped: bool,
    panics: bool,
}

impl Drop for Output {
    fn drop(&mut self) {
        if self.dropped {
            self.ledger.double_drop.set(true);
        }
        self.dropped = true;
        self.ledger
            .outputs_dropped
            .set(self.ledger.outputs_dropped.get() + 1);
        if self.panics && !std::thread::panicking() {
            panic!("output drop");
        }
    }
}

struct Probe {
    plan: Plan,
    polls: u8,
    ledger: Rc<Ledger>,
    /// Where the probe parks its waker, for the test to wake.
    parked: Rc<RefCell<Option<Waker>>>,
    /// Heap memory: a double drop is a double free natively.
    _heap: Vec<u8>,
    dropped: bool,
}

impl Future for Probe {
    type Output = Output;
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Output> {
        let n = self.polls;
        self.polls += 1;
        if self.plan.panic_on_poll == Some(n) {
            if self.plan.bad_payload {
                panic_any(BadPayload);
            }
            panic!("poll");
        }
        if n < self.plan.pending_polls {
            *self.parked.borrow_mut() = Some(cx.waker().clone());
            return Poll::Pending;
        }
        let ledger = self.ledger.clone();
        ledger.outputs_made.set(ledger.outputs_made.get() + 1);
        Poll::Ready(Output {
            ledger,
            dropped: false,
            panics: self.plan.output_panics_on_drop,
        })
    }
}

impl Drop for Probe {
    fn drop(&mut self) {
        if self.dropped {
            self.ledger.double_drop.set(true);
        }
        self.dropped = true;
        self.ledger
            .futures_dropped
            .set(self.ledger.futures_dropped.get() + 1);
        if self.plan.panic_on_drop && !std::thread::panicking() {
            panic!("future drop");
        }
    }
}

fn probe(plan: Plan, ledger: &Rc<Ledger>) -> (Probe, Rc<RefCell<Option<Waker>>>) {
    ledger.futures_made.set(ledger.futures_made.get() + 1);
    let parked = Rc::new(RefCell::new(None));
    let p = Probe {
        plan,
        polls: 0,
        ledger: ledger.clone(),
        parked: parked.clone(),
        _heap: vec![42; 16],
        dropped: false,
    };
    (p, parked)
}

fn assert_balanced(ledger: &Ledger) {
    assert!(
        !ledger.double_drop.get(),
        "a future or output was dropped twice"
    );
    assert_eq!(
        ledger.futures_made.get(),
        ledger.futures_dropped.get(),
        "futures leaked"
    );
    assert_eq!(
        ledger.outputs_made.get(),
        ledger.outputs_dropped.get(),
        "outputs leaked"
    );
}

// ---- Regressions ----

/// Issue 10, 1a: a join waiter whose wake panics, woken by `Executor::drop`.
/// The panic used to stop the shutdown sweep half way, leaving `b`
/// incomplete with a pointer to the freed core.
#[test]
fn executor_drop_with_a_panicking_join_waiter_completes_every_task() {
    quiet_panics();
    let ex = Executor::new();
    let mut a = ex.spawn_local(std::future::pending::<()>());
    let b = ex.spawn_local(std::future::pending::<()>());
    ex.run_until_idle();
    let w = waker(WakerPanic::Wake);
    assert!(Pin::new(&mut a)
        .poll(&mut Context::from_waker(&w))
        .is_pending());
    // The waiter's panic is discarded: dropping the executor does not panic.
    assert!(catch_unwind(AssertUnwindSafe(move || drop(ex))).is_ok());
    assert!(b.is_finished());
    b.abort(); // used to reach the freed core
    let noop = Waker::noop();
    let Poll::Ready(Err(e)) = Pin::new(&mut a).poll(&mut Context::from_waker(noop)) else {
        panic!("a must be cancelled")
    };
    assert!(e.is_cancelled());
}

/// The same with no `catch_unwind` of the test's: an inner executor dropped
/// inside an outer task (whose panic isolation would catch the panic).
#[test]
fn inner_executor_dropped_in_an_outer_task() {
    quiet_panics();
    let outer = Executor::new();
    let handles: Rc<RefCell<Vec<JoinHandle<()>>>> = Rc::default();
    let h = handles.clone();
    let inner_task = outer.spawn_local(async move {
        let ex = Executor::new();
        let mut a = ex.spawn_local(std::future::pending::<()>());
        h.borrow_mut()
            .push(ex.spawn_local(std::future::pending::<()>()));
        ex.run_until_idle();
        let w = waker(WakerPanic::Wake);
        let _ = Pin::new(&mut a).poll(&mut Context::from_waker(&w));
        drop(ex);
        drop(a);
    });
    outer.run_until_idle();
    assert!(outer.block_on_handle(inner_task).is_ok());
    for b in handles.borrow_mut().drain(..) {
        assert!(b.is_finished());
        b.abort();
    }
}

/// Another task's `Waker` held on a second thread while the executor drops:
/// that thread may drop the core last, which must find the run queue empty
/// (its release is owner-thread only).
#[test]
fn waker_on_another_thread_outlives_a_panicky_shutdown() {
    quiet_panics();
    let ex = Executor::new();
    let mut a = ex.spawn_local(std::future::pending::<()>());
    let slot: Rc<RefCell<Option<Waker>>> = Rc::default();
    let s = slot.clone();
    let c = ex.spawn_local(std::future::poll_fn(move |cx| {
        *s.borrow_mut() = Some(cx.waker().clone());
        Poll::<()>::Pending
    }));
    ex.run_until_idle();
    let remote = slot.borrow_mut().take().unwrap();
    remote.wake_by_ref(); // queued in the run queue (owner thread: local path)
    let w = waker(WakerPanic::Wake);
    let _ = Pin::new(&mut a).poll(&mut Context::from_waker(&w));
    let (tx, rx) = std::sync::mpsc::channel::<()>();
    let t = std::thread::spawn(move || {
        rx.recv().unwrap();
        remote.wake_by_ref();
        drop(remote); // possibly the core's last reference
    });
    assert!(catch_unwind(AssertUnwindSafe(move || drop(ex))).is_ok());
    tx.send(()).unwrap();
    t.join().unwrap();
    assert!(c.is_finished());
}

/// Issue 10, 1b: the future's drop and its output's drop both panic. The
/// future used to be dropped twice (a double free of its heap memory).
#[test]
fn future_and_output_drops_both_panic() {
    quiet_panics();
    let ledger = Rc::new(Ledger::default());
    let plan = Plan {
        pending_polls: 0,
        panic_on_poll: None,
        bad_payload: false,
        panic_on_drop: true,
        output_panics_on_drop: true,
    };
    let ex = Executor::new();
    let (p, _) = probe(plan, &ledger);
    let h = ex.spawn_local(p);
    ex.run_until_idle();
    // As in tokio, the output is the result; the drop's panic is discarded.
    let out = ex.block_on_handle(h).unwrap();
    assert!(catch_unwind(AssertUnwindSafe(move || drop(out))).is_err());
    drop(ex);
    assert_balanced(&ledger);
}

/// A panic payload whose own drop panics, through the poll-panic path and the
/// detached path (the executor drops the `JoinError` itself).
#[test]
fn payload_whose_drop_panics() {
    quiet_panics();
    for (detach, panic_on_drop) in [(false, false), (true, false), (false, true), (true, true)] {
        let ledger = Rc::new(Ledger::default());
        let plan = Plan {
            pending_polls: 0,
            panic_on_poll: Some(0),
            bad_payload: true,
            panic_on_drop,
            output_panics_on_drop: false,
        };
        let ex = Executor::new();
        let (p, _) = probe(plan, &ledger);
        let h = ex.spawn_local(p);
        if detach {
            drop(h);
            ex.run_until_idle();
        } else {
            ex.run_until_idle();
            let err = ex.block_on_handle(h).unwrap_err();
            // The poll's panic is the result, also when the drop panicked.
            let payload = err.into_panic();
            assert!(payload.is::<BadPayload>());
            // The user drops the payload: its panic is theirs.
            assert!(catch_unwind(AssertUnwindSafe(move || drop(payload))).is_err());
        }
        drop(ex);
        assert_balanced(&ledger);
    }
}

/// A `JoinHandle` polled with a waker whose clone panics, then one whose
/// clones panic on drop: the task's state stays intact either way.
#[test]
fn join_waiter_clone_and_drop_panics() {
    quiet_panics();
    let ex = Executor::new();
    let mut h = ex.spawn_local(async { 7 });
    let w = waker(WakerPanic::Clone);
    assert!(catch_unwind(AssertUnwindSafe(|| {
        let _ = Pin::new(&mut h).poll(&mut Context::from_waker(&w));
    }))
    .is_err());
    let w = waker(WakerPanic::Drop);
    assert!(Pin::new(&mut h)
        .poll(&mut Context::from_waker(&w))
        .is_pending());
    ex.run_until_idle(); // completion drops the stored clone only by waking it (wake consumes)
    assert_eq!(ex.block_on_handle(h).unwrap(), 7);
}

trait BlockOnHandle {
    fn block_on_handle<T>(&self, h: JoinHandle<T>) -> Result<T, hearth::JoinError>;
}

impl BlockOnHandle for Executor {
    fn block_on_handle<T>(&self, h: JoinHandle<T>) -> Result<T, hearth::JoinError> {
        self.run_until(h)
    }
}

// ---- The property test ----

#[derive(Clone, Debug)]
enum Op {
    Spawn(Plan),
    RunUntilIdle,
    Abort(usize),
    Detach(usize),
    PollHandle(usize, WakerPanic),
    WakeLocal(usize),
    WakeRemote(usize),
    DropExecutor,
}

fn plan() -> impl Strategy<Value = Plan> {
    (
        0u8..3,
        prop::option::weighted(0.3, 0u8..3),
        any::<bool>(),
        prop::bool::weighted(0.3),
        prop::bool::weighted(0.3),
    )
        .prop_map(
            |(pending_polls, panic_on_poll, bad_payload, panic_on_drop, output_panics_on_drop)| {
                Plan {
                    pending_polls,
                    panic_on_poll,
                    bad_payload,
                    panic_on_drop,
                    output_panics_on_drop,
                }
            },
        )
}

fn waker_panic() -> impl Strategy<Value = WakerPanic> {
    prop_oneof![
        Just(WakerPanic::Wake),
        Just(WakerPanic::Clone),
        Just(WakerPanic::Drop)
    ]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => plan().prop_map(Op::Spawn),
        2 => Just(Op::RunUntilIdle),
        1 => any::<usize>().prop_map(Op::Abort),
        1 => any::<usize>().prop_map(Op::Detach),
        2 => (any::<usize>(), waker_panic()).prop_map(|(i, w)| Op::PollHandle(i, w)),
        2 => any::<usize>().prop_map(Op::WakeLocal),
        1 => any::<usize>().prop_map(Op::WakeRemote),
        1 => Just(Op::DropExecutor),
    ]
}

struct Spawned {
    handle: Option<JoinHandle<Output>>,
    parked: Rc<RefCell<Option<Waker>>>,
}

fn run(ops: &[Op]) {
    let ledger = Rc::new(Ledger::default());
    let mut ex = Some(Executor::new());
    let mut tasks: Vec<Spawned> = Vec::new();
    let mut outputs: Vec<Box<dyn Any>> = Vec::new();
    for op in ops {
        let pick = |i: usize| (!tasks.is_empty()).then(|| i % tasks.len());
        match *op {
            Op::Spawn(plan) => {
                if let Some(ex) = &ex {
                    let (p, parked) = probe(plan, &ledger);
                    let handle = Some(ex.spawn_local(p));
                    tasks.push(Spawned { handle, parked });
                }
            }
            Op::RunUntilIdle => {
                if let Some(ex) = &ex {
                    // Task panics stay in their tasks; nothing unwinds here.
                    ex.run_until_idle();
                }
            }
            Op::Abort(i) => {
                if let Some(h) = pick(i).and_then(|i| tasks[i].handle.as_ref()) {
                    h.abort();
                }
            }
            Op::Detach(i) => {
                if let Some(i) = pick(i) {
                    drop(tasks[i].handle.take());
                }
            }
            Op::PollHandle(i, at) => {
                if let Some(i) = pick(i) {
                    if let Some(h) = tasks[i].handle.as_mut() {
                        let w = waker(at);
                        let polled = catch_unwind(AssertUnwindSafe(|| {
                            Pin::new(&mut *h).poll(&mut Context::from_waker(&w))
                        }));
                        match polled {
                            Ok(Poll::Ready(result)) => {
                                tasks[i].handle = None;
                                // Outputs and errors are dropped at the end,
                                // quietly (their drops may panic by design).
                                outputs.push(Box::new(result));
                            }
                            Ok(Poll::Pending) => {}
                            // The new waker's clone, or the replaced one's
                            // drop, panicked in the caller's poll: theirs to
                            // see; the handle must stay usable.
                            Err(_) => {}
                        }
                    }
                }
            }
            Op::WakeLocal(i) => {
                if let Some(i) = pick(i) {
                    let w = tasks[i].parked.borrow_mut().take();
                    if let Some(w) = w {
                        w.wake();
                    }
                }
            }
            Op::WakeRemote(i) => {
                if let Some(i) = pick(i) {
                    let w = tasks[i].parked.borrow_mut().take();
                    if let Some(w) = w {
                        std::thread::spawn(move || w.wake()).join().unwrap();
                    }
                }
            }
            Op::DropExecutor => {
                if let Some(ex) = ex.take() {
                    assert!(
                        catch_unwind(AssertUnwindSafe(move || drop(ex))).is_ok(),
                        "Executor::drop unwound"
                    );
                }
            }
        }
    }
    if let Some(ex) = ex.take() {
        ex.run_until_idle();
        assert!(
            catch_unwind(AssertUnwindSafe(move || drop(ex))).is_ok(),
            "Executor::drop unwound"
        );
    }
    // After the executor is gone every handle is finished and usable.
    for t in &mut tasks {
        if let Some(h) = t.handle.take() {
            assert!(h.is_finished());
            h.abort();
            let _ = catch_unwind(AssertUnwindSafe(move || drop(h)));
        }
        drop(t.parked.borrow_mut().take());
    }
    for out in outputs {
        // A `Result<Output, JoinError>`: the output's or the payload's drop
        // may panic (that panic is the test's own, not hearth's).
        let _ = catch_unwind(AssertUnwindSafe(move || drop(out)));
    }
    drop(tasks);
    assert_balanced(&ledger);
}

fn cases() -> u32 {
    if cfg!(miri) {
        12
    } else {
        512
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn panics_anywhere_leave_the_executor_sound(ops in prop::collection::vec(op(), 1..if cfg!(miri) { 16 } else { 40 })) {
        quiet_panics();
        run(&ops);
    }
}

/// An aborted task whose future's drop panics: the drop's panic is the
/// task's result (as in tokio), not a cancellation.
#[test]
fn abort_with_a_panicking_drop_reports_the_panic() {
    quiet_panics();
    let ledger = Rc::new(Ledger::default());
    let plan = Plan {
        pending_polls: 3,
        panic_on_poll: None,
        bad_payload: false,
        panic_on_drop: true,
        output_panics_on_drop: false,
    };
    let ex = Executor::new();
    let (p, _) = probe(plan, &ledger);
    let h = ex.spawn_local(p);
    ex.run_until_idle();
    h.abort();
    let err = ex.block_on_handle(h).unwrap_err();
    assert!(err.is_panic() && !err.is_cancelled());
    drop(ex);
    assert_balanced(&ledger);
}

// ---- The multi-core runtime's user code ----

/// Sent across threads, so it cannot hold the ledger's `Rc`s.
struct SendBad;

impl Drop for SendBad {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            panic_any(BadPayload);
        }
    }
}

/// A `spawn_on` closure that panics with a payload whose drop panics, a
/// blocking job whose detached result panics when dropped, a remote future
/// whose drop panics after it returned its output: each worker and pool
/// thread survives and keeps serving; the handle gets the output.
#[test]
#[cfg_attr(miri, ignore)] // real threads parked in epoll
fn runtime_threads_survive_panicking_user_drops() {
    quiet_panics();
    let rt = hearth::Runtime::builder()
        .workers(1)
        .max_blocking_threads(1)
        .build()
        .unwrap();
    let handle = rt.handle().clone();
    let h = handle
        .spawn_on(0, || -> std::future::Ready<()> { panic_any(SendBad) })
        .unwrap();
    let err = rt.block_on(h).unwrap_err();
    assert!(err.is_panic());
    std::mem::forget(err.into_panic()); // its drop would panic here
    drop(handle.spawn_blocking(|| SendBad)); // detached: dropped on the pool thread
    assert_eq!(
        rt.block_on(handle.spawn_blocking(|| 5)).unwrap(),
        5,
        "the pool's only thread survived"
    );

    /// Ready at once; its drop (after the output was taken) panics.
    struct DropPanics;
    impl Future for DropPanics {
        type Output = u32;
        fn poll(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<u32> {
            Poll::Ready(7)
        }
    }
    impl Drop for DropPanics {
        fn drop(&mut self) {
            panic!("future drop");
        }
    }
    let h = handle.spawn_on(0, || DropPanics).unwrap();
    assert_eq!(
        rt.block_on(h).unwrap(),
        7,
        "the output survives the future's drop panic"
    );
    let h = handle.spawn_on(0, || async { 8 }).unwrap();
    assert_eq!(rt.block_on(h).unwrap(), 8, "the worker survived");
    rt.shutdown();
}
