//! `hearth::task::CancellationToken`: tokio-util's documented behaviour
//! (conformance), cancel scopes that travel through the context (every
//! hearth-future combinator, rebuilt contexts, nested scopes and
//! deadlines, sockets failing with the documented error), and panic
//! injection in `cancel`'s wakes.

#![allow(unstable_name_collisions)]

use std::cell::Cell;
use std::future::{pending, poll_fn, Future};
use std::io::ErrorKind;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::{pin, Pin};
use std::rc::Rc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::time::Duration;

use futures::{AsyncReadExt, StreamExt};
use hearth::future::{join_all, race, FuturesSet};
use hearth::net::{TcpListener, TcpStream};
use hearth::task::{self, CancellationToken, Cancelled};
use hearth::time::{deadline, sleep, Instant};

/// A waker that counts its wakes and may panic in them.
struct Counter {
    wakes: AtomicUsize,
    panics: bool,
    /// Panics with a payload whose drop panics too.
    bad_payload: bool,
}

/// A panic payload whose own drop panics.
struct BadPayload;

impl Drop for BadPayload {
    fn drop(&mut self) {
        std::panic::panic_any(INJECTED);
    }
}

impl Counter {
    fn new(panics: bool) -> Arc<Counter> {
        Arc::new(Counter {
            wakes: AtomicUsize::new(0),
            panics,
            bad_payload: false,
        })
    }
    fn bad() -> Arc<Counter> {
        Arc::new(Counter {
            wakes: AtomicUsize::new(0),
            panics: false,
            bad_payload: true,
        })
    }
    fn wakes(&self) -> usize {
        self.wakes.load(Ordering::SeqCst)
    }
}

impl Wake for Counter {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }
    fn wake_by_ref(self: &Arc<Self>) {
        self.wakes.fetch_add(1, Ordering::SeqCst);
        if self.panics {
            std::panic::panic_any(INJECTED);
        }
        if self.bad_payload {
            std::panic::panic_any(BadPayload);
        }
    }
}

fn poll_with<F: Future + Unpin>(fut: &mut F, waker: &Arc<Counter>) -> Poll<F::Output> {
    let waker = Waker::from(waker.clone());
    Pin::new(fut).poll(&mut Context::from_waker(&waker))
}

/// Silences the panics this file injects on purpose (and only those).
fn quiet_panics() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let default = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let injected = info.payload().downcast_ref::<&str>() == Some(&INJECTED)
                || info.payload().is::<BadPayload>();
            if !injected || std::env::var_os("HEARTH_SHOW_PANICS").is_some() {
                default(info);
            }
        }));
    });
}

const INJECTED: &str = "a waker that panics on wake";

// ---- tokio-util conformance ----

#[test]
fn cancel_wakes_a_pending_wait_and_is_idempotent() {
    let token = CancellationToken::new();
    assert!(!token.is_cancelled());
    let w = Counter::new(false);
    let mut fut = token.cancelled();
    assert!(poll_with(&mut fut, &w).is_pending());
    assert_eq!(w.wakes(), 0);
    token.cancel();
    assert!(token.is_cancelled());
    assert_eq!(w.wakes(), 1);
    assert!(poll_with(&mut fut, &w).is_ready());
    token.cancel();
    assert_eq!(w.wakes(), 1, "a second cancel wakes nothing");
}

#[test]
fn cancelled_after_cancel_resolves_immediately() {
    let token = CancellationToken::new();
    token.cancel();
    let w = Counter::new(false);
    assert!(poll_with(&mut token.cancelled(), &w).is_ready());
    assert!(poll_with(&mut token.clone().cancelled_owned(), &w).is_ready());
    assert_eq!(w.wakes(), 0);
    // A clone made before and one made after see it too.
    assert!(token.clone().is_cancelled());
}

#[test]
fn many_waiters_are_all_woken_once() {
    let token = CancellationToken::new();
    let wakers: Vec<_> = (0..100).map(|_| Counter::new(false)).collect();
    let mut futs: Vec<_> = (0..100).map(|_| token.clone().cancelled_owned()).collect();
    for (f, w) in futs.iter_mut().zip(&wakers) {
        assert!(poll_with(f, w).is_pending());
        // A second poll with the same waker does not register it twice.
        assert!(poll_with(f, w).is_pending());
    }
    token.cancel();
    assert!(wakers.iter().all(|w| w.wakes() == 1));
    for (f, w) in futs.iter_mut().zip(&wakers) {
        assert!(poll_with(f, w).is_ready());
    }
}

#[test]
fn a_new_waker_replaces_the_old_one_and_drop_releases_it() {
    let token = CancellationToken::new();
    let (a, b) = (Counter::new(false), Counter::new(false));
    let mut fut = token.cancelled();
    assert!(poll_with(&mut fut, &a).is_pending());
    assert_eq!(Arc::strong_count(&a), 2, "the token holds a clone");
    assert!(poll_with(&mut fut, &b).is_pending());
    assert_eq!(Arc::strong_count(&a), 1, "replaced: released");
    drop(fut);
    assert_eq!(
        Arc::strong_count(&b),
        1,
        "a dropped wait leaves no waker behind"
    );
    token.cancel();
    assert_eq!((a.wakes(), b.wakes()), (0, 0));
}

#[test]
fn children_follow_parents_not_the_reverse() {
    let parent = CancellationToken::new();
    let child = parent.child_token();
    let grandchild = child.child_token();
    let sibling = parent.child_token();
    let w = Counter::new(false);
    let mut wait = grandchild.cancelled();
    assert!(poll_with(&mut wait, &w).is_pending());

    sibling.cancel();
    assert!(!parent.is_cancelled() && !child.is_cancelled());
    child.cancel();
    assert!(!parent.is_cancelled());
    assert!(grandchild.is_cancelled());
    assert_eq!(w.wakes(), 1);

    // A child of a cancelled token is born cancelled.
    assert!(child.child_token().is_cancelled());
    parent.cancel();
    assert!(parent.child_token().is_cancelled());
}

#[test]
fn a_dropped_middle_token_still_passes_the_cancel_on() {
    let root = CancellationToken::new();
    let leaf = {
        let middle = root.child_token();
        middle.child_token()
    }; // every handle of `middle` is gone
    let w = Counter::new(false);
    let mut wait = leaf.clone().cancelled_owned();
    assert!(poll_with(&mut wait, &w).is_pending());
    root.cancel();
    assert!(leaf.is_cancelled());
    assert_eq!(w.wakes(), 1);
}

#[test]
fn dropped_children_leave_the_tree_and_their_slots_are_reused() {
    // Children leave their parent's list when dropped and new ones reuse
    // the slots: a dropped child must remove its own entry only, or a live
    // child would miss the cancel.
    let root = CancellationToken::new();
    let mut live: Vec<_> = (0..100).map(|_| root.child_token()).collect();
    let mut i = 0;
    live.retain(|_| {
        i += 1;
        i % 2 == 0
    });
    live.extend((0..60).map(|_| root.child_token()));
    live.drain(10..30);
    for _ in 0..1000 {
        drop(root.child_token().child_token());
    }
    live.extend((0..20).map(|_| root.child_token()));
    let wakers: Vec<_> = live.iter().map(|_| Counter::new(false)).collect();
    let mut waits: Vec<_> = live.iter().map(|t| t.clone().cancelled_owned()).collect();
    for (w, c) in waits.iter_mut().zip(&wakers) {
        assert!(poll_with(w, c).is_pending());
    }
    root.cancel();
    assert!(live.iter().all(|t| t.is_cancelled()));
    assert!(wakers.iter().all(|c| c.wakes() == 1));
}

#[test]
fn drop_guard_cancels_unless_disarmed() {
    let token = CancellationToken::new();
    let guard = token.clone().drop_guard();
    assert!(!token.is_cancelled());
    drop(guard);
    assert!(token.is_cancelled());

    let token = CancellationToken::new();
    let back = token.clone().drop_guard().disarm();
    assert!(!back.is_cancelled() && !token.is_cancelled());

    let token = CancellationToken::new();
    drop(token.drop_guard_ref());
    assert!(token.is_cancelled());
    let token = CancellationToken::new();
    let r = token.drop_guard_ref().disarm();
    assert!(!r.is_cancelled());
}

#[test]
fn run_until_cancelled_returns_the_output_or_none() {
    hearth::block_on(async {
        let token = CancellationToken::new();
        assert_eq!(token.run_until_cancelled(async { 7 }).await, Some(7));

        // Cancelled while the future is pending: `None`, the future dropped.
        let dropped = Rc::new(Cell::new(false));
        struct Flag(Rc<Cell<bool>>);
        impl Drop for Flag {
            fn drop(&mut self) {
                self.0.set(true);
            }
        }
        let flag = Flag(dropped.clone());
        let canceller = token.clone();
        hearth::spawn_local(async move {
            sleep(Duration::from_millis(5)).await;
            canceller.cancel();
        });
        let out = token
            .run_until_cancelled(async move {
                let _flag = flag;
                pending::<u32>().await
            })
            .await;
        assert_eq!(out, None);
        assert!(dropped.get());

        // Already cancelled: the future is not polled at all.
        let polled = Cell::new(false);
        let out = token
            .clone()
            .run_until_cancelled_owned(async { polled.set(true) })
            .await;
        assert_eq!(out, None);
        assert!(!polled.get());
    });
}

#[test]
fn waits_in_other_tasks_are_woken() {
    hearth::block_on(async {
        let token = CancellationToken::new();
        let tasks: Vec<_> = (0..10)
            .map(|i| {
                let t = token.child_token();
                hearth::spawn_local(async move {
                    t.cancelled().await;
                    i
                })
            })
            .collect();
        hearth::yield_now().await;
        token.cancel();
        let mut done = Vec::new();
        for t in tasks {
            done.push(t.await.unwrap());
        }
        assert_eq!(done, (0..10).collect::<Vec<_>>());
    });
}

// ---- panic injection ----

#[test]
fn a_panicking_waker_loses_no_waiter_and_wakes_none_twice() {
    quiet_panics();
    let parent = CancellationToken::new();
    let child = parent.child_token();
    let wakers = [
        Counter::new(false),
        Counter::new(true),
        Counter::new(false),
        Counter::new(true),
    ];
    let mut futs = vec![
        parent.clone().cancelled_owned(),
        parent.clone().cancelled_owned(),
        child.clone().cancelled_owned(),
        child.clone().cancelled_owned(),
    ];
    for (f, w) in futs.iter_mut().zip(&wakers) {
        assert!(poll_with(f, w).is_pending());
    }
    let caught = catch_unwind(AssertUnwindSafe(|| parent.cancel()));
    assert!(caught.is_err(), "the first panic resumes");
    assert!(parent.is_cancelled() && child.is_cancelled());
    assert!(
        wakers.iter().all(|w| w.wakes() == 1),
        "every waiter woken once: {:?}",
        wakers.iter().map(|w| w.wakes()).collect::<Vec<_>>()
    );
    // Nothing is left to wake, and the waits complete.
    parent.cancel();
    child.cancel();
    assert!(wakers.iter().all(|w| w.wakes() == 1));
    let ok = Counter::new(false);
    for f in &mut futs {
        assert!(poll_with(f, &ok).is_ready());
    }
    // New waits on the cancelled tokens complete at once.
    assert!(poll_with(&mut child.cancelled(), &ok).is_ready());
    assert_eq!(ok.wakes(), 0);
}

#[test]
// The payload of the panic in a payload's drop is forgotten on purpose (a
// leak Miri would report).
#[cfg_attr(miri, ignore)]
fn a_later_panic_payload_whose_drop_panics_does_not_abort() {
    quiet_panics();
    let token = CancellationToken::new();
    let wakers = [Counter::new(true), Counter::bad(), Counter::new(false)];
    let mut futs: Vec<_> = (0..3).map(|_| token.clone().cancelled_owned()).collect();
    for (f, w) in futs.iter_mut().zip(&wakers) {
        assert!(poll_with(f, w).is_pending());
    }
    let caught = catch_unwind(AssertUnwindSafe(|| token.cancel())).unwrap_err();
    assert!(
        caught.downcast_ref::<&str>().is_some(),
        "the first panic resumes"
    );
    assert!(wakers.iter().all(|w| w.wakes() == 1));
    assert!(token.is_cancelled());
}

#[test]
fn a_waker_may_use_the_token_while_it_is_woken() {
    // A local wake that re-enters the token (cancels it again, makes a
    // child, waits on it): no borrow is held during wakes.
    let token = CancellationToken::new();
    let woken = Rc::new(Cell::new(0));
    let (t, w) = (token.clone(), woken.clone());
    let local = task::local_waker_fn(move || {
        t.cancel();
        assert!(t.child_token().is_cancelled());
        let mut cx = Context::from_waker(Waker::noop());
        assert!(pin!(t.cancelled()).poll(&mut cx).is_ready());
        w.set(w.get() + 1);
    });
    let mut fut = token.cancelled();
    let mut builder = task::ContextBuilder::from_waker(Waker::noop()).local_waker(&local);
    assert!(Pin::new(&mut fut).poll(&mut builder.build()).is_pending());
    drop(local);
    token.cancel();
    assert_eq!(woken.get(), 1);
}

// ---- cancel scopes: propagation ----

/// Completes when the token in scope is cancelled; `false` if there is none.
async fn sees_cancel() -> bool {
    if task::current_token().await.is_none() {
        return false;
    }
    task::cancelled().await;
    true
}

/// A token cancelled after `ms` milliseconds by another task.
fn cancel_after(ms: u64) -> CancellationToken {
    let token = CancellationToken::new();
    let t = token.clone();
    hearth::spawn_local(async move {
        sleep(Duration::from_millis(ms)).await;
        t.cancel();
    });
    token
}

#[test]
fn the_token_in_scope_reaches_every_combinator() {
    hearth::block_on(async {
        let token = cancel_after(5);
        let out = token
            .scope(async {
                let (a, b) = hearth::join!(sees_cancel(), sees_cancel());
                let all = join_all((0..50).map(|_| sees_cancel())).await;
                (a, b, all.into_iter().all(|x| x))
            })
            .await;
        assert_eq!(out, Ok((true, true, true)));

        let token = cancel_after(5);
        let out = token
            .scope(async {
                let selected = hearth::select! {
                    v = sees_cancel() => v,
                    _ = pending::<()>() => false,
                };
                let raced = race(vec![sees_cancel(), sees_cancel()]).await;
                let mut set = FuturesSet::new();
                set.push(sees_cancel());
                set.push(sees_cancel());
                let from_set = (set.next().await, set.next().await);
                // A layer that rebuilds the context from the `Waker`.
                let mut wait = pin!(sees_cancel());
                let rebuilt =
                    poll_fn(|cx| wait.as_mut().poll(&mut Context::from_waker(cx.waker()))).await;
                (selected, raced, from_set, rebuilt)
            })
            .await;
        assert_eq!(out, Ok((true, true, (Some(true), Some(true)), true)));
    });
}

#[test]
fn a_scope_passes_results_through_and_keeps_the_token_alone() {
    hearth::block_on(async {
        let token = CancellationToken::new();
        assert_eq!(token.scope(async { 3 }).await, Ok(3));
        assert!(!token.is_cancelled());
        // Outside a scope: no token, and `cancelled()` never completes.
        assert!(task::current_token().await.is_none());
        let never = hearth::time::timeout(Duration::from_millis(5), task::cancelled()).await;
        assert!(never.is_err());
        // A scope is `'static` if its future is: it can be spawned.
        let handle = hearth::spawn_local(token.scope(async { 4 }));
        assert_eq!(handle.await.unwrap(), Ok(4));
    });
}

#[test]
fn a_scope_cuts_waits_that_cannot_fail() {
    hearth::block_on(async {
        let start = Instant::now();
        let (tx, rx) = hearth::sync::oneshot::channel::<u32>();
        let token = cancel_after(10);
        let scope = token.scope(async { hearth::join!(sleep(Duration::from_secs(60)), rx) });
        let out = scope.await;
        assert_eq!(out.unwrap_err(), Cancelled::new());
        assert!(start.elapsed() < Duration::from_secs(10));
        // The receiver was dropped with the scope: the sender sees it.
        assert!(tx.send(1).is_err());
    });
}

#[test]
fn a_cancel_from_inside_is_seen_by_the_waits_inside() {
    hearth::block_on(async {
        let token = CancellationToken::new();
        let out = token
            .scope(async {
                hearth::select! {
                    _ = task::cancelled() => "cancelled",
                    _ = async {
                        task::current_token().await.unwrap().cancel();
                        pending::<()>().await
                    } => "not",
                }
            })
            .await;
        assert_eq!(out, Ok("cancelled"));
        assert!(token.is_cancelled());
    });
}

#[test]
fn spawned_tasks_do_not_inherit_but_joins_are_cut() {
    hearth::block_on(async {
        let saw = Rc::new(Cell::new(None));
        let s = saw.clone();
        let child = hearth::spawn_local(async move {
            s.set(Some(task::current_token().await.is_some()));
            sleep(Duration::from_secs(60)).await;
            "done"
        });
        let token = cancel_after(5);
        let out = token.scope(child).await;
        assert!(out.is_err(), "the join is cut");
        assert_eq!(saw.get(), Some(false), "the child has no token in scope");
    });
}

#[test]
fn scopes_work_under_a_foreign_executor() {
    // A layer makes its context's `Waker` a dual one, whoever polls it.
    let token = CancellationToken::new();
    let out = futures::executor::block_on(token.scope(async {
        let (a, ()) = hearth::join!(sees_cancel(), async {
            task::current_token().await.unwrap().cancel();
        });
        a
    }));
    assert_eq!(out, Ok(true));
}

// ---- nesting ----

#[test]
fn nested_scopes_see_the_cancellation_of_either() {
    hearth::block_on(async {
        // The outer token is cancelled: the inner scope ends, its waits see
        // it, and its own token is left alone.
        let outer = cancel_after(5);
        let inner = CancellationToken::new();
        let out = outer
            .scope(async {
                let r = inner.scope(sees_cancel()).await;
                (r, task::current_token().await.unwrap().is_cancelled())
            })
            .await;
        assert_eq!(out, Ok((Ok(true), true)));
        assert!(
            !inner.is_cancelled(),
            "the caller's inner token is not cancelled"
        );

        // The inner token is cancelled: only the inner scope ends.
        let outer = CancellationToken::new();
        let inner = cancel_after(5);
        let out = outer
            .scope(async {
                let r = inner.scope(sees_cancel()).await;
                let outer_in_scope = task::current_token().await.unwrap();
                (r, outer_in_scope.is_cancelled())
            })
            .await;
        assert_eq!(out, Ok((Ok(true), false)));
        assert!(!outer.is_cancelled());

        // An outer cancel cuts the inner scope as well.
        let outer = cancel_after(5);
        let inner = CancellationToken::new();
        let cut = Rc::new(Cell::new(None));
        let c = cut.clone();
        let out = outer
            .scope(async move {
                c.set(Some(inner.scope(pending::<()>()).await));
                pending::<()>().await
            })
            .await;
        assert!(out.is_err());
        assert_eq!(cut.get(), Some(Err(Cancelled::new())));
    });
}

// ---- sockets ----

/// A connected pair whose client never writes.
async fn quiet_pair() -> (TcpStream, TcpStream) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let client = TcpStream::connect(listener.local_addr().unwrap())
        .await
        .unwrap();
    let (server, _) = listener.accept().await.unwrap();
    (client, server)
}

/// The kind of the read's error, and whether a `Cancelled` is inside.
async fn read_error(s: &mut TcpStream) -> Option<(ErrorKind, bool)> {
    let mut buf = [0u8; 8];
    match s.read(&mut buf).await {
        Ok(_) => None,
        Err(e) => Some((e.kind(), Cancelled::is_cause_of(&e))),
    }
}

const CANCELLED: Option<(ErrorKind, bool)> = Some((ErrorKind::Other, true));
const TIMED_OUT: Option<(ErrorKind, bool)> = Some((ErrorKind::TimedOut, false));

#[test]
#[cfg_attr(miri, ignore)]
fn socket_reads_fail_with_cancelled_through_combinators() {
    hearth::block_on(async {
        let (_c1, mut s1) = quiet_pair().await;
        let (_c2, mut s2) = quiet_pair().await;
        let start = Instant::now();
        let token = cancel_after(20);
        let out = token
            .scope(async {
                join_all(vec![
                    Box::pin(read_error(&mut s1)) as Pin<Box<dyn Future<Output = _>>>,
                    Box::pin(async {
                        hearth::select! {
                            k = read_error(&mut s2) => k,
                            _ = pending::<()>() => None,
                        }
                    }),
                ])
                .await
            })
            .await;
        assert_eq!(out.unwrap(), vec![CANCELLED, CANCELLED]);
        assert!(start.elapsed() >= Duration::from_millis(20));
        assert!(start.elapsed() < Duration::from_secs(5));
        // The error says what happened.
        let e: std::io::Error = Cancelled::new().into();
        assert!(e.to_string().contains("cancel"), "{e}");
        // Outside the scope, the sockets work again.
        let (mut c, s) = quiet_pair().await;
        futures::AsyncWriteExt::write_all(&mut c, b"x")
            .await
            .unwrap();
        let mut b = [0u8; 1];
        assert_eq!(s.read(&mut b).await.unwrap(), 1);
    });
}

#[test]
#[cfg_attr(miri, ignore)]
fn a_write_all_stops_at_the_cancel_instead_of_retrying() {
    hearth::block_on(async {
        // The peer never reads: the write fills the socket buffers, waits,
        // and fails at the cancel. `write_all` retries `Interrupted`; it
        // returns `Other` at once.
        let (mut c, _s) = quiet_pair().await;
        let big = vec![0u8; 64 << 20];
        let token = cancel_after(20);
        let out = token
            .scope(futures::AsyncWriteExt::write_all(&mut c, &big))
            .await;
        let err = out.unwrap().unwrap_err();
        assert!(Cancelled::is_cause_of(&err), "{err:?}");
    });
}

#[test]
#[cfg_attr(miri, ignore)]
fn accept_fails_through_a_rebuilt_context_and_a_cancelled_scope_fails_at_once() {
    hearth::block_on(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let token = cancel_after(10);
        let out = token
            .scope(async {
                let mut accept = pin!(listener.accept());
                poll_fn(|cx| accept.as_mut().poll(&mut Context::from_waker(cx.waker()))).await
            })
            .await;
        let err = out.unwrap().unwrap_err();
        assert!(Cancelled::is_cause_of(&err), "{err:?}");

        let (_c, mut s) = quiet_pair().await;
        let token = CancellationToken::new();
        token.cancel();
        assert_eq!(token.scope(read_error(&mut s)).await, Ok(CANCELLED));
    });
}

#[test]
#[cfg_attr(miri, ignore)]
fn scopes_and_deadlines_nest_with_the_right_error() {
    hearth::block_on(async {
        let (_c, mut s) = quiet_pair().await;
        // A scope inside a deadline: the deadline passes first.
        let token = CancellationToken::new();
        let out = deadline(Duration::from_millis(10), token.scope(read_error(&mut s))).await;
        assert_eq!(out, Ok(Ok(TIMED_OUT)));
        assert!(!token.is_cancelled());

        // A deadline inside a scope: the cancel comes first.
        let token = cancel_after(10);
        let out = token
            .scope(deadline(Duration::from_secs(60), read_error(&mut s)))
            .await;
        assert_eq!(out, Ok(Ok(CANCELLED)));

        // Scope in a deadline in a scope: the outer cancel reaches the read
        // through both layers.
        let outer = cancel_after(10);
        let inner = CancellationToken::new();
        let out = outer
            .scope(deadline(
                Duration::from_secs(60),
                inner.scope(read_error(&mut s)),
            ))
            .await;
        assert_eq!(out, Ok(Ok(Ok(CANCELLED))));
        assert!(!inner.is_cancelled());
    });
}
