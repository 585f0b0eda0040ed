//! merge: items as they come, precise polling, fairness, the same items as
//! `futures::stream::select_all`.

mod common;

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};

use common::{Driver, Park};
use futures::stream::{self, Stream, StreamExt};
use hearth_future::merge;
use hearth_task::{ContextExt, LocalWakerSlot};

/// A stream fed by hand: `push` an item (waking it), `close` it.
#[derive(Default)]
struct Feed {
    items: RefCell<VecDeque<u32>>,
    closed: Cell<bool>,
    polls: Cell<usize>,
    local: LocalWakerSlot,
    waker: RefCell<Option<std::task::Waker>>,
}

impl Feed {
    fn wake(&self) {
        self.local.wake();
        if let Some(w) = self.waker.borrow_mut().take() {
            w.wake();
        }
    }
    fn push(&self, v: u32) {
        self.items.borrow_mut().push_back(v);
        self.wake();
    }
    fn close(&self) {
        self.closed.set(true);
        self.wake();
    }
}

struct FeedStream(Rc<Feed>, Park);

impl Stream for FeedStream {
    type Item = u32;
    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<u32>> {
        let f = &self.0;
        f.polls.set(f.polls.get() + 1);
        if let Some(v) = f.items.borrow_mut().pop_front() {
            return Poll::Ready(Some(v));
        }
        if f.closed.get() {
            return Poll::Ready(None);
        }
        match self.1 {
            Park::Local => f.local.register(ContextExt::local_waker(cx)),
            Park::Waker => *f.waker.borrow_mut() = Some(cx.waker().clone()),
        }
        Poll::Pending
    }
}

#[test]
fn polls_only_streams_that_woke_or_yielded() {
    for park in [Park::Local, Park::Waker] {
        for n in [3, 70] {
            let driver = Driver::new();
            let feeds: Vec<Rc<Feed>> = (0..n).map(|_| Rc::default()).collect();
            let mut m = merge(feeds.iter().map(|f| FeedStream(f.clone(), park)));
            let mut next = || driver.poll(Pin::new(&mut m.next()));
            assert_eq!(next(), Poll::Pending);
            assert!(feeds.iter().all(|f| f.polls.get() == 1));
            feeds[1].push(10);
            feeds[1].push(11);
            assert_eq!(next(), Poll::Ready(Some(10)));
            assert_eq!(next(), Poll::Ready(Some(11)));
            assert_eq!(next(), Poll::Pending);
            // Stream 1: first poll, two items, one pending poll; others: 1.
            let polls: Vec<usize> = feeds.iter().map(|f| f.polls.get()).collect();
            assert_eq!(polls[1], 4);
            assert!(polls.iter().enumerate().all(|(i, &p)| i == 1 || p == 1));
            for f in &feeds {
                f.close();
            }
            assert_eq!(next(), Poll::Ready(None));
            assert!(feeds.iter().all(|f| f.polls.get() <= 5));
        }
    }
}

#[test]
fn an_always_ready_stream_cannot_starve_the_others() {
    for n in [2, 100] {
        let mut m = merge((0..n).map(stream::repeat));
        let seen: Vec<u32> = futures::executor::block_on((&mut m).take(n as usize * 3).collect());
        for i in 0..n {
            assert_eq!(
                seen.iter().filter(|&&v| v == i).count(),
                3,
                "n = {n}, stream {i}"
            );
        }
    }
}

#[test]
fn same_items_as_select_all_and_order_within_a_stream_kept() {
    let make = || (0..5u32).map(|s| stream::iter((0..20u32).map(move |i| s * 100 + i)));
    let (ours, theirs) = futures::executor::block_on(async {
        let a: Vec<u32> = merge(make()).collect().await;
        let b: Vec<u32> = stream::select_all(make()).collect().await;
        (a, b)
    });
    for s in 0..5 {
        let mine: Vec<u32> = ours.iter().copied().filter(|v| v / 100 == s).collect();
        assert_eq!(mine, (0..20).map(|i| s * 100 + i).collect::<Vec<_>>());
    }
    let (mut a, mut b) = (ours, theirs);
    a.sort();
    b.sort();
    assert_eq!(a, b);
}

#[test]
fn empty_merge_ends_and_is_fused() {
    use futures::stream::FusedStream;
    let mut m = merge(Vec::<stream::Iter<std::vec::IntoIter<u8>>>::new());
    assert!(m.is_terminated());
    assert_eq!(futures::executor::block_on(m.next()), None);
    let mut m = merge([stream::iter(vec![1u8])]);
    assert_eq!(m.size_hint(), (1, Some(1)));
    assert!(!m.is_terminated());
    assert_eq!(
        futures::executor::block_on((&mut m).collect::<Vec<_>>()),
        [1]
    );
    assert!(m.is_terminated());
}

#[test]
fn dropping_a_merge_drops_every_stream() {
    let alive = Rc::new(());
    let m = merge((0..10).map(|_| {
        let a = alive.clone();
        stream::pending::<()>().map(move |_| {
            let _ = &a;
        })
    }));
    let mut m = Box::pin(m);
    let driver = Driver::new();
    assert!(driver.poll(Pin::new(&mut m.next())).is_pending());
    assert_eq!(Rc::strong_count(&alive), 11);
    drop(m);
    assert_eq!(Rc::strong_count(&alive), 1);
}
