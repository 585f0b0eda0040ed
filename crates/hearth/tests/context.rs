//! What a hearth task's context carries: its id and runtime, task-locals and
//! deadlines, through combinators, rebuilt contexts and layers; and what it
//! does not carry (foreign executors, other threads, spawned tasks).

#![allow(unstable_name_collisions)]

use std::future::{pending, poll_fn, Future};
use std::io::ErrorKind;
use std::pin::pin;
use std::task::{Context, Poll};
use std::time::Duration;

use futures::{AsyncReadExt, StreamExt};
use hearth::future::{join_all, race, FuturesSet};
use hearth::net::{TcpListener, TcpStream};
use hearth::runtime::Handle;
use hearth::task::{self, AccessError, Id};
use hearth::time::{deadline, sleep, timeout, Instant};

hearth::task_local! {
    static NUMBER: u32;
    static OTHER: u32;
    static NAME: String;
}

fn panic_text(p: Box<dyn std::any::Any + Send>) -> String {
    match p.downcast::<String>() {
        Ok(s) => *s,
        Err(p) => p
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .unwrap_or_default(),
    }
}

fn id_here() -> impl Future<Output = Option<Id>> {
    poll_fn(|cx| Poll::Ready(Id::from_context(cx)))
}

// ---- task ids and the runtime handle ----

#[test]
fn task_ids_are_unique_and_reach_every_combinator() {
    hearth::block_on(async {
        let me = task::id().await;
        let (a, b) = hearth::join!(id_here(), id_here());
        assert_eq!((a, b), (Some(me), Some(me)));
        let all = join_all((0..100).map(|_| id_here())).await;
        assert!(all.iter().all(|i| *i == Some(me)));
        let raced = race(vec![id_here(), id_here()]).await;
        assert_eq!(raced, Some(me));
        let selected = hearth::select! {
            v = id_here() => v,
            _ = pending::<()>() => None,
        };
        assert_eq!(selected, Some(me));
        let mut set = FuturesSet::new();
        set.push(id_here());
        assert_eq!(set.next().await, Some(Some(me)));
        let rebuilt =
            poll_fn(|cx| Poll::Ready(Id::from_context(&Context::from_waker(cx.waker())))).await;
        assert_eq!(rebuilt, Some(me));

        // Unique among the tasks alive at the same time (tokio's promise).
        let mut handles = Vec::new();
        for _ in 0..10 {
            handles.push(hearth::spawn_local(async {
                let id = task::id().await;
                hearth::yield_now().await; // all ten are alive here
                id
            }));
        }
        let mut ids = vec![me];
        for h in handles {
            ids.push(h.await.unwrap());
        }
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), 11, "ids are unique");
    });
}

#[test]
fn no_task_id_under_foreign_executors_or_threads() {
    assert_eq!(futures::executor::block_on(task::try_id()), None);
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    assert_eq!(rt.block_on(task::try_id()), None);
    // A combinator that makes its own wakers hides it.
    hearth::block_on(async {
        let mut set = futures::stream::FuturesUnordered::new();
        set.push(task::try_id());
        assert_eq!(set.next().await, Some(None));
    });
    // The task's `Waker` on another thread.
    hearth::block_on(poll_fn(|cx| {
        assert!(Id::from_context(cx).is_some());
        let waker = cx.waker();
        std::thread::scope(|s| {
            s.spawn(|| {
                assert_eq!(Id::from_context(&Context::from_waker(waker)), None);
            });
        });
        Poll::Ready(())
    }));
    let panic = std::panic::catch_unwind(|| futures::executor::block_on(task::id())).unwrap_err();
    let msg = panic_text(panic);
    assert!(msg.contains("outside a hearth task"), "{msg}");
}

#[test]
fn runtime_handle_from_the_context() {
    let rt = hearth::Runtime::builder().workers(2).build().unwrap();
    let got = rt
        .spawn_on(1, || async {
            let inner = join_all(vec![poll_fn(|cx| {
                Poll::Ready((
                    Handle::from_context(cx).map(|h| h.workers()),
                    Handle::worker_from_context(cx),
                ))
            })])
            .await;
            inner[0]
        })
        .unwrap();
    assert_eq!(rt.block_on(got).unwrap(), (Some(2), Some(1)));
    // `Runtime::block_on` is not a worker's task: documented fallback is
    // the thread-local `Handle::try_current`.
    let (ctx, tls) = rt.block_on(poll_fn(|cx| {
        Poll::Ready((
            Handle::from_context(cx).is_some(),
            Handle::try_current().is_some(),
        ))
    }));
    assert_eq!((ctx, tls), (false, true));
}

// ---- task-locals ----

#[test]
fn task_local_scope_get_with_and_shadowing() {
    hearth::block_on(async {
        NUMBER
            .scope(1, async {
                assert_eq!(NUMBER.get_async().await, 1);
                assert_eq!(
                    poll_fn(|cx| Poll::Ready(NUMBER.with(cx, |n| *n + 1))).await,
                    2
                );
                // Same type, another key: not visible.
                assert!(OTHER.try_get_async().await.is_err());
                OTHER
                    .scope(10, async {
                        assert_eq!(NUMBER.get_async().await, 1);
                        assert_eq!(OTHER.get_async().await, 10);
                        assert_eq!(NUMBER.scope(3, NUMBER.get_async()).await, 3);
                        assert_eq!(NUMBER.get_async().await, 1);
                    })
                    .await;
                // Through every combinator, several levels deep.
                let (a, b) = hearth::join!(join_all(vec![race(vec![NUMBER.get_async()])]), async {
                    let mut set = FuturesSet::new();
                    set.push(NUMBER.get_async());
                    set.next().await.unwrap()
                });
                assert_eq!((a, b), (vec![1], 1));
                let rebuilt =
                    poll_fn(|cx| Poll::Ready(NUMBER.get(&Context::from_waker(cx.waker())))).await;
                assert_eq!(rebuilt, 1);
            })
            .await;
        assert!(NUMBER.try_get_async().await.is_err());
    });
}

#[test]
fn task_local_sync_scope_and_take_value() {
    hearth::block_on(poll_fn(|cx| {
        let s = NAME.sync_scope(cx, "ada".to_string(), |cx| {
            NAME.with(cx, |n| n.len()) + NAME.sync_scope(cx, "x".into(), |cx| NAME.get(cx).len())
        });
        assert_eq!(s, 4);
        assert!(NAME.try_with(cx, |_| ()).is_err());
        Poll::Ready(())
    }));
    let mut fut = pin!(NUMBER.scope(5, NUMBER.try_get_async()));
    assert_eq!(fut.as_mut().take_value(), Some(5));
    assert!(
        hearth::block_on(fut).is_err(),
        "a taken value is gone for the future"
    );
}

#[test]
fn task_locals_are_not_inherited_by_spawned_tasks() {
    // As tokio's.
    hearth::block_on(NUMBER.scope(1, async {
        let child = hearth::spawn_local(NUMBER.try_get_async()).await.unwrap();
        assert!(child.is_err());
        assert_eq!(NUMBER.get_async().await, 1);
    }));
}

#[test]
fn task_local_access_error_and_foreign_executors() {
    let err: AccessError = hearth::block_on(NUMBER.try_get_async()).unwrap_err();
    let msg = err.to_string();
    assert!(msg.contains("NUMBER") && msg.contains("no scope"), "{msg}");
    // The scope is a layer of its own: it works under tokio and futures.
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    assert_eq!(rt.block_on(NUMBER.scope(4, NUMBER.get_async())), 4);
    assert_eq!(
        futures::executor::block_on(NUMBER.scope(6, NUMBER.get_async())),
        6
    );
    assert!(rt.block_on(NUMBER.try_get_async()).is_err());
    // A foreign combinator that makes its own wakers ends it.
    let hidden = futures::executor::block_on(NUMBER.scope(7, async {
        let mut set = futures::stream::FuturesUnordered::new();
        set.push(NUMBER.try_get_async());
        set.next().await.unwrap()
    }));
    assert!(hidden.is_err());
    let panic =
        std::panic::catch_unwind(|| futures::executor::block_on(NUMBER.get_async())).unwrap_err();
    let msg = panic_text(panic);
    assert!(msg.contains("task-local value not set"), "{msg}");
}

#[test]
fn task_local_panic_in_scope_leaves_nothing_behind() {
    hearth::block_on(async {
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            hearth::block_on(NUMBER.scope(1, async { panic!("injected") }))
        }));
        assert!(r.is_err());
        assert!(NUMBER.try_get_async().await.is_err());
    });
}

// ---- deadlines ----

/// A connected pair whose client never writes.
async fn quiet_pair() -> (TcpStream, TcpStream) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let client = TcpStream::connect(listener.local_addr().unwrap())
        .await
        .unwrap();
    let (server, _) = listener.accept().await.unwrap();
    (client, server)
}

async fn read_kind(s: &mut TcpStream) -> ErrorKind {
    let mut buf = [0u8; 8];
    match s.read(&mut buf).await {
        Ok(_) => ErrorKind::Other,
        Err(e) => e.kind(),
    }
}

#[test]
#[cfg_attr(miri, ignore)]
fn deadline_fails_socket_reads_through_combinators() {
    hearth::block_on(async {
        let (_c1, mut s1) = quiet_pair().await;
        let (_c2, mut s2) = quiet_pair().await;
        let start = Instant::now();
        let out = deadline(Duration::from_millis(30), async {
            let kinds = join_all(vec![
                Box::pin(read_kind(&mut s1)) as std::pin::Pin<Box<dyn Future<Output = _>>>,
                Box::pin(async {
                    hearth::select! {
                        k = read_kind(&mut s2) => k,
                        _ = pending::<()>() => ErrorKind::Other,
                    }
                }),
            ])
            .await;
            kinds
        })
        .await;
        assert_eq!(out.unwrap(), vec![ErrorKind::TimedOut, ErrorKind::TimedOut]);
        assert!(start.elapsed() >= Duration::from_millis(30));
        assert!(start.elapsed() < Duration::from_secs(5));
        // After the deadline, outside it, the sockets work again.
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
fn deadline_fails_accept_and_reaches_a_rebuilt_context() {
    hearth::block_on(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let out = deadline(Duration::from_millis(10), async {
            // A layer that rebuilds the context from the `Waker`.
            let accept = pin!(listener.accept());
            let mut accept = accept;
            poll_fn(|cx| accept.as_mut().poll(&mut Context::from_waker(cx.waker()))).await
        })
        .await;
        assert_eq!(out.unwrap().unwrap_err().kind(), ErrorKind::TimedOut);
        // An expired deadline fails at once, before waiting.
        let (_c, mut s) = quiet_pair().await;
        let past = deadline(Instant::now(), read_kind(&mut s)).await;
        assert_eq!(past, Ok(ErrorKind::TimedOut));
    });
}

#[test]
fn nested_deadlines_take_the_earliest() {
    hearth::block_on(async {
        let start = Instant::now();
        // The inner one is later: the outer one (10 ms) is in force.
        let out = deadline(Duration::from_millis(10), async {
            deadline(
                Duration::from_secs(60),
                timeout(Duration::from_secs(60), pending::<()>()),
            )
            .await
        })
        .await;
        assert!(
            matches!(out, Ok(Ok(Err(_)))),
            "the inner timeout ended at 10 ms: {out:?}"
        );
        assert!(start.elapsed() < Duration::from_secs(10));
        // The inner one is earlier: it is in force for its future only.
        let start = Instant::now();
        let out = deadline(Duration::from_secs(60), async {
            let inner = deadline(Duration::from_millis(10), pending::<()>()).await;
            (inner.is_err(), start.elapsed() < Duration::from_secs(10))
        })
        .await;
        assert_eq!(out, Ok((true, true)));
    });
}

#[test]
fn deadline_cuts_waits_that_cannot_fail() {
    hearth::block_on(async {
        let start = Instant::now();
        let (tx, rx) = hearth::sync::oneshot::channel::<u32>();
        let out = deadline(Duration::from_millis(10), async {
            hearth::join!(sleep(Duration::from_secs(60)), rx)
        })
        .await;
        assert!(out.is_err());
        assert!(start.elapsed() < Duration::from_secs(10));
        // The receiver was dropped with the future: the sender sees it.
        assert!(tx.send(1).is_err());
    });
}

#[test]
fn spawned_children_do_not_inherit_but_joins_are_cut() {
    hearth::block_on(async {
        let saw = std::rc::Rc::new(std::cell::Cell::new(None));
        let done = std::rc::Rc::new(std::cell::Cell::new(false));
        let (s, d) = (saw.clone(), done.clone());
        let child = hearth::spawn_local(async move {
            let inherited =
                poll_fn(|cx| Poll::Ready(hearth::task::provide::current_deadline(cx).is_some()))
                    .await;
            s.set(Some(inherited));
            sleep(Duration::from_millis(30)).await;
            d.set(true);
        });
        let out = deadline(Duration::from_millis(5), child).await;
        assert!(out.is_err(), "the join is cut at the deadline");
        assert_eq!(saw.get(), Some(false), "the child has no deadline");
        // The child was detached by the cut, not cancelled: it still runs.
        assert!(!done.get());
        sleep(Duration::from_millis(60)).await;
        assert!(done.get());
    });
}

#[test]
fn deadline_passes_results_through() {
    hearth::block_on(async {
        assert_eq!(deadline(Duration::from_secs(5), async { 3 }).await, Ok(3));
        assert_eq!(
            deadline(
                Instant::now() + Duration::from_secs(5),
                join_all((1..3).map(|i| async move { i }))
            )
            .await,
            Ok(vec![1, 2])
        );
    });
}
