//! The same semantics as futures' `join!`, `try_join!`, `join_all`,
//! `try_join_all` and `FuturesUnordered`: outputs, ordering and when each
//! child (and each output) is dropped. Only the polls differ: futures polls
//! children spuriously, hearth does not, which is asserted too.

use std::cell::RefCell;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};

use futures::{Stream, StreamExt};

type Log = Rc<RefCell<Vec<String>>>;

/// Ready with `out` on its `after + 1`-th poll; wakes itself before that.
struct Kid<T> {
    id: usize,
    after: usize,
    out: Option<T>,
    log: Log,
}

impl<T> Unpin for Kid<T> {}

impl<T> Future for Kid<T> {
    type Output = T;
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<T> {
        self.log.borrow_mut().push(format!("poll {}", self.id));
        if self.after == 0 {
            return Poll::Ready(self.out.take().expect("polled after completion"));
        }
        self.after -= 1;
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}

impl<T> Drop for Kid<T> {
    fn drop(&mut self) {
        self.log.borrow_mut().push(format!("drop {}", self.id));
    }
}

/// An output that logs its drop.
#[derive(Debug)]
struct Out(usize, Log);

impl PartialEq for Out {
    fn eq(&self, o: &Out) -> bool {
        self.0 == o.0
    }
}

impl Drop for Out {
    fn drop(&mut self) {
        self.1.borrow_mut().push(format!("drop out {}", self.0));
    }
}

fn kids(log: &Log, afters: &[usize]) -> Vec<Kid<Out>> {
    afters
        .iter()
        .enumerate()
        .map(|(id, &after)| Kid {
            id,
            after,
            out: Some(Out(id, log.clone())),
            log: log.clone(),
        })
        .collect()
}

fn without_polls(log: &Log) -> Vec<String> {
    log.borrow()
        .iter()
        .filter(|e| !e.starts_with("poll"))
        .cloned()
        .collect()
}

fn polls(log: &Log) -> usize {
    log.borrow()
        .iter()
        .filter(|e| e.starts_with("poll"))
        .count()
}

const AFTERS: [&[usize]; 4] = [
    &[0],
    &[2, 0, 1, 3, 0],
    &[5, 4, 3, 2, 1, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 0, 3, 3, 3],
    // Above 64 children (hearth's ring; futures' FuturesOrdered).
    &[1; if cfg!(miri) { 66 } else { 100 }],
];

#[test]
fn join_all_like_futures() {
    for afters in AFTERS {
        let (ours, theirs): (Log, Log) = Default::default();
        let a = futures::executor::block_on(hearth_future::join_all(kids(&ours, afters)));
        ours.borrow_mut().push("returned".into());
        drop(a);
        let b = futures::executor::block_on(futures::future::join_all(kids(&theirs, afters)));
        theirs.borrow_mut().push("returned".into());
        drop(b);
        assert_eq!(without_polls(&ours), without_polls(&theirs), "{afters:?}");
        // Exactly one poll per wake for hearth: each child `after + 1`.
        assert_eq!(polls(&ours), afters.iter().map(|a| a + 1).sum::<usize>());
        assert!(polls(&theirs) >= polls(&ours));
    }
}

#[test]
fn join_all_dropped_midway_like_futures() {
    // Up to 30 children (futures' join_all then polls every child per poll,
    // in order; above, it schedules through FuturesOrdered, whose yield
    // policy differs).
    for afters in &AFTERS[..3] {
        let (ours, theirs): (Log, Log) = Default::default();
        let waker = futures::task::noop_waker();
        let mut cx = Context::from_waker(&waker);
        let mut a = hearth_future::join_all(kids(&ours, afters));
        let mut b = futures::future::join_all(kids(&theirs, afters));
        for _ in 0..2 {
            let x = Pin::new(&mut a).poll(&mut cx);
            let y = Pin::new(&mut b).poll(&mut cx);
            assert_eq!(x.is_ready(), y.is_ready());
            if x.is_ready() {
                break;
            }
        }
        ours.borrow_mut().push("dropping".into());
        theirs.borrow_mut().push("dropping".into());
        drop((a, b));
        assert_eq!(without_polls(&ours), without_polls(&theirs), "{afters:?}");
    }
}

#[test]
fn join_macro_like_futures() {
    let (ours, theirs): (Log, Log) = Default::default();
    let run = |log: &Log, hearth: bool| {
        let mut k = kids(log, &[2, 0, 1]).into_iter();
        let (a, b, c) = (k.next().unwrap(), k.next().unwrap(), k.next().unwrap());
        let out = futures::executor::block_on(async move {
            if hearth {
                hearth_future::join!(a, b, c)
            } else {
                futures::join!(a, b, c)
            }
        });
        log.borrow_mut().push("returned".into());
        assert_eq!((out.0 .0, out.1 .0, out.2 .0), (0, 1, 2));
    };
    run(&ours, true);
    run(&theirs, false);
    assert_eq!(without_polls(&ours), without_polls(&theirs));
    assert_eq!(polls(&ours), 3 + 1 + 2);
}

#[test]
fn try_join_like_futures() {
    let ok = |v: u32| async move { Ok::<u32, String>(v) };
    let err = |e: &str| {
        let e = e.to_string();
        async move { Err::<u32, String>(e) }
    };
    futures::executor::block_on(async {
        assert_eq!(
            hearth_future::try_join!(ok(1), ok(2)),
            futures::try_join!(ok(1), ok(2))
        );
        assert_eq!(
            hearth_future::try_join!(ok(1), err("a"), err("b")),
            futures::try_join!(ok(1), err("a"), err("b"))
        );
    });
    for fail_at in [None, Some(0), Some(3), Some(9)] {
        let make = || {
            (0..10u32).map(move |i| async move {
                if Some(i) == fail_at {
                    Err(i)
                } else {
                    Ok(i * 2)
                }
            })
        };
        let a = futures::executor::block_on(hearth_future::try_join_all(make()));
        let b = futures::executor::block_on(futures::future::try_join_all(make()));
        assert_eq!(a, b);
    }
}

#[test]
fn try_join_all_drops_the_rest_like_futures() {
    let (ours, theirs): (Log, Log) = Default::default();
    let make = |log: &Log| {
        kids(log, &[3, 1, 0, 5])
            .into_iter()
            .map(|k| async move {
                let o = k.await;
                if o.0 == 1 {
                    Err(o)
                } else {
                    Ok(o)
                }
            })
            .collect::<Vec<_>>()
    };
    let a = futures::executor::block_on(hearth_future::try_join_all(make(&ours)));
    ours.borrow_mut().push("returned".into());
    let b = futures::executor::block_on(futures::future::try_join_all(make(&theirs)));
    theirs.borrow_mut().push("returned".into());
    assert_eq!(a.as_ref().map(|_| ()).unwrap_err().0, 1);
    assert_eq!(a, b);
    drop((a, b));
    assert_eq!(without_polls(&ours), without_polls(&theirs));
}

#[test]
fn futures_set_like_futures_unordered() {
    for afters in AFTERS {
        let (ours, theirs): (Log, Log) = Default::default();
        let a: Vec<Out> = futures::executor::block_on(
            kids(&ours, afters)
                .into_iter()
                .collect::<hearth_future::FuturesSet<_>>()
                .collect(),
        );
        let b: Vec<Out> = futures::executor::block_on(
            kids(&theirs, afters)
                .into_iter()
                .collect::<futures::stream::FuturesUnordered<_>>()
                .collect(),
        );
        // The same items; each child dropped when it finishes, before the
        // next output (checked on hearth's log: completion order may differ).
        let ids = |v: &[Out]| {
            let mut x: Vec<usize> = v.iter().map(|o| o.0).collect();
            x.sort();
            x
        };
        assert_eq!(ids(&a), ids(&b));
        assert_eq!(polls(&ours), afters.iter().map(|a| a + 1).sum::<usize>());
        for o in &a {
            let log = ours.borrow();
            let p = log
                .iter()
                .rposition(|e| *e == format!("poll {}", o.0))
                .unwrap();
            assert_eq!(log[p + 1], format!("drop {}", o.0), "dropped on completion");
        }
        drop((a, b));
        let mut x = without_polls(&ours);
        let mut y = without_polls(&theirs);
        x.sort();
        y.sort();
        assert_eq!(x, y);
    }
}

#[test]
fn dropping_a_set_drops_every_future_like_futures_unordered() {
    let (ours, theirs): (Log, Log) = Default::default();
    let waker = futures::task::noop_waker();
    let mut cx = Context::from_waker(&waker);
    let mut a: hearth_future::FuturesSet<_> = kids(&ours, &[1, 0, 2]).into_iter().collect();
    let mut b: futures::stream::FuturesUnordered<_> =
        kids(&theirs, &[1, 0, 2]).into_iter().collect();
    let x = Pin::new(&mut a).poll_next(&mut cx);
    let y = Pin::new(&mut b).poll_next(&mut cx);
    assert_eq!(x, y);
    drop((x, y));
    drop(a);
    drop(b);
    let mut x = without_polls(&ours);
    let mut y = without_polls(&theirs);
    x.sort();
    y.sort();
    assert_eq!(x, y);
}
