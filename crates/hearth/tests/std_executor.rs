//! An executor written against std's nightly API only: it polls with
//! `std::task::ContextBuilder::from_waker(Waker::noop()).local_waker(&lw)`,
//! the pattern of std's docs. With the `nightly` feature hearth-future's
//! combinators and hearth-sync's channels find that local waker (through
//! `ContextExt::local_waker`) and run on the local path: nothing hangs (a
//! lost wake would, since the `Waker` is a no-op) and no atomic
//! read-modify-write happens.
#![cfg(feature = "nightly")]
#![feature(local_waker)]

use std::cell::Cell;
use std::future::Future;
use std::pin::{pin, Pin};
use std::rc::Rc;
use std::task::{ContextBuilder, LocalWake, LocalWaker, Poll, Waker};

use futures::StreamExt;
use hearth::future::{join, join_all, select, FuturesSet};
use hearth::sync::mpsc;
use hearth::task::atomic::counting::count;

struct Woken(Cell<bool>);

impl LocalWake for Woken {
    fn wake(self: Rc<Self>) {
        self.0.set(true);
    }
}

/// Polls `future` while its local waker fired; panics when nothing woke it
/// (with a no-op `Waker`, a wake that went to the `Waker` is lost: the task
/// would hang). Returns the output and the number of polls.
fn block_on<F: Future>(future: F) -> (F::Output, u32) {
    let woken = Rc::new(Woken(Cell::new(true)));
    let local = LocalWaker::from(woken.clone());
    let mut future = pin!(future);
    let mut polls = 0;
    loop {
        assert!(
            woken.0.replace(false),
            "pending and never woken through the local waker (after {polls} polls)"
        );
        polls += 1;
        let mut cx = ContextBuilder::from_waker(Waker::noop())
            .local_waker(&local)
            .build();
        if let Poll::Ready(out) = future.as_mut().poll(&mut cx) {
            return (out, polls);
        }
    }
}

/// Completes after being polled `n + 1` times, waking itself through the
/// local waker (as a local timer or channel would).
fn yields(n: u32, value: u32) -> impl Future<Output = u32> {
    let mut left = n;
    std::future::poll_fn(move |cx| {
        if left == 0 {
            return Poll::Ready(value);
        }
        left -= 1;
        hearth::task::ContextExt::local_waker(cx).wake_by_ref();
        Poll::Pending
    })
}

async fn ping_pong(rounds: u32) -> u32 {
    let (ping_tx, mut ping_rx) = mpsc::channel::<u32>(1);
    let (pong_tx, mut pong_rx) = mpsc::channel::<u32>(1);
    let pinger = async move {
        let mut last = 0;
        for i in 0..rounds {
            ping_tx.send(i).await.unwrap();
            last = pong_rx.recv().await.unwrap();
        }
        last
    };
    let ponger = async move {
        while let Some(i) = ping_rx.recv().await {
            pong_tx.send(i + 1).await.unwrap();
        }
    };
    join!(pinger, ponger).0
}

async fn everything() -> u32 {
    let (a, b) = join!(yields(3, 1), yields(5, 2));
    let all: u32 = join_all((0..10).map(|i| yields(i % 4, i)))
        .await
        .iter()
        .sum();
    let raced = select! {
        v = yields(2, 7) => v,
        v = yields(50, 8) => v,
    };
    let mut set: FuturesSet<Pin<Box<dyn Future<Output = u32>>>> = FuturesSet::new();
    for i in 0..20 {
        set.push(Box::pin(yields(i % 5, i)));
    }
    let mut from_set = 0;
    while let Some(v) = set.next().await {
        from_set += v;
    }
    let pp = ping_pong(100).await;
    a + b + all + raced + from_set + pp
}

#[test]
fn combinators_and_channels_take_the_local_path() {
    // Warm up: the first dual-waker lookup on a thread assigns its token.
    block_on(everything());
    let ((out, polls), rmw) = count(|| block_on(everything()));
    assert_eq!(out, 1 + 2 + 45 + 7 + 190 + 100);
    assert!(polls > 1, "the executor was woken {polls} times");
    assert_eq!(rmw, 0, "{rmw} atomic RMWs under a std-builder executor");
}
