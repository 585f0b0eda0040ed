//! FuturesSet and race: outputs, precise polling, yielding, push while polling.

mod common;

use std::pin::Pin;
use std::task::Poll;

use common::{leaf, Driver, Leaf, Park};
use futures::StreamExt;
use hearth_future::{race, FuturesSet};

#[test]
fn set_yields_in_completion_order_and_polls_precisely() {
    let driver = Driver::new();
    let n = if cfg!(miri) { 40 } else { 100 };
    let leaves: Vec<_> = (0..n)
        .map(|i| Leaf::new(if i % 2 == 0 { Park::Local } else { Park::Waker }))
        .collect();
    let mut set: FuturesSet<_> = leaves
        .iter()
        .enumerate()
        .map(|(i, l)| leaf(l.clone(), i))
        .collect();
    assert_eq!(set.len(), n);
    assert!(driver.poll(Pin::new(&mut set.next())).is_pending());
    let order: Vec<usize> = (0..n).map(|k| (k * 37) % n).collect();
    for &i in &order {
        leaves[i].finish();
        match driver.poll(Pin::new(&mut set.next())) {
            Poll::Ready(Some(v)) => assert_eq!(v, i),
            other => panic!("expected child {i}, got {other:?}"),
        }
        assert_eq!(leaves[i].polls.get(), 2, "child {i}");
    }
    assert!(set.is_empty());
    assert_eq!(driver.poll(Pin::new(&mut set.next())), Poll::Ready(None));
    for l in &leaves {
        assert_eq!(l.polls.get(), 2);
    }
}

#[test]
fn push_while_polling_and_slot_reuse() {
    futures::executor::block_on(async {
        let mut set = FuturesSet::new();
        set.push(Box::pin(async { 1 }) as Pin<Box<dyn std::future::Future<Output = i32>>>);
        assert_eq!(set.next().await, Some(1));
        for i in 0..100 {
            set.push(Box::pin(async move { i }));
        }
        let mut got = Vec::new();
        while let Some(v) = set.next().await {
            got.push(v);
            if v == 50 {
                set.push(Box::pin(async { 1000 }));
            }
        }
        got.sort();
        let mut want: Vec<i32> = (0..100).collect();
        want.push(1000);
        assert_eq!(got, want);
    });
}

#[test]
fn a_busy_set_yields_to_its_task() {
    // Futures that always wake themselves: one poll_next must return.
    let driver = Driver::new();
    let mut set: FuturesSet<_> = (0..10)
        .map(|_| {
            std::future::poll_fn(|cx| {
                cx.waker().wake_by_ref();
                Poll::<()>::Pending
            })
        })
        .collect();
    for _ in 0..5 {
        let before = driver.wakes();
        assert!(driver.poll(Pin::new(&mut set.next())).is_pending());
        assert!(driver.wakes() > before, "a yielding set wakes its task");
    }
}

#[test]
fn race_returns_the_first_and_drops_the_rest() {
    let driver = Driver::new();
    let leaves: Vec<_> = (0..5).map(|_| Leaf::new(Park::Local)).collect();
    let mut r = race(leaves.iter().enumerate().map(|(i, l)| leaf(l.clone(), i)));
    assert!(driver.poll(Pin::new(&mut r)).is_pending());
    leaves[3].finish();
    assert_eq!(driver.poll(Pin::new(&mut r)), Poll::Ready(3));
    assert_eq!(
        leaves.iter().map(|l| l.polls.get()).collect::<Vec<_>>(),
        [1, 1, 1, 2, 1]
    );
    for (i, l) in leaves.iter().enumerate() {
        assert_eq!(std::rc::Rc::strong_count(l), 1, "child {i} not dropped");
    }
}

#[test]
fn set_matches_futures_unordered() {
    let outs = futures::executor::block_on(async {
        let a: Vec<i32> = (0..50)
            .map(|i| async move { i })
            .collect::<FuturesSet<_>>()
            .collect()
            .await;
        let b: Vec<i32> = (0..50)
            .map(|i| async move { i })
            .collect::<futures::stream::FuturesUnordered<_>>()
            .collect()
            .await;
        (a, b)
    });
    let (mut a, mut b) = outs;
    a.sort();
    b.sort();
    assert_eq!(a, b);
}
