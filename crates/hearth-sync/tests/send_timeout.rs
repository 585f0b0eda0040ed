//! `mpsc::Sender::send_timeout` through the timer hook.
//!
//! The hook is a manual timer: every sleep it makes completes when the test
//! fires it. Tests run on several threads, so the timer state is per thread.
#![cfg(not(loom))]

mod common;

use std::cell::Cell;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use common::Probe;
use hearth_sync::mpsc::{self, error::SendTimeoutError};

thread_local! {
    /// Sleeps made so far, with the duration of the last one.
    static MADE: Cell<(usize, Duration)> = const { Cell::new((0, Duration::ZERO)) };
    static FIRED: Cell<bool> = const { Cell::new(false) };
    static WAITING: Cell<Option<Waker>> = const { Cell::new(None) };
}

struct ManualSleep;

impl Future for ManualSleep {
    type Output = ();
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if FIRED.get() {
            return Poll::Ready(());
        }
        // One sleep waits at a time in these tests; it keeps its last waker.
        WAITING.set(Some(cx.waker().clone()));
        Poll::Pending
    }
}

fn manual_sleep(duration: Duration) -> Pin<Box<dyn Future<Output = ()>>> {
    MADE.set((MADE.get().0 + 1, duration));
    Box::pin(ManualSleep)
}

fn setup() {
    let _ = hearth_sync::timer::set_sleep(manual_sleep);
    assert!(hearth_sync::timer::is_set());
    MADE.set((0, Duration::ZERO));
    FIRED.set(false);
}

fn fire() {
    FIRED.set(true);
    if let Some(waker) = WAITING.take() {
        waker.wake();
    }
}

#[test]
fn room_sends_at_once_without_a_timer() {
    setup();
    let (tx, mut rx) = mpsc::channel(1);
    assert_eq!(
        Probe::new(tx.send_timeout(1, Duration::ZERO)).poll(),
        Poll::Ready(Ok(()))
    );
    assert_eq!(MADE.get().0, 0);
    assert_eq!(rx.try_recv(), Ok(1));
}

#[test]
fn full_channel_times_out_and_gives_the_value_back() {
    setup();
    let (tx, mut rx) = mpsc::channel(1);
    tx.try_send(1).unwrap();
    let mut send = Probe::new(tx.send_timeout(2, Duration::from_millis(7)));
    assert!(send.poll().is_pending());
    assert_eq!(MADE.get(), (1, Duration::from_millis(7)));
    assert!(send.poll().is_pending());
    assert_eq!(MADE.get().0, 1, "one sleep per call");
    fire();
    assert_eq!(send.woken(), 1);
    match send.poll() {
        Poll::Ready(Err(SendTimeoutError::Timeout(v))) => assert_eq!(v, 2),
        other => panic!("expected a timeout, got {other:?}"),
    }
    drop(send);
    // The timed-out sender left the queue: the freed slot is free for anyone.
    assert_eq!(rx.try_recv(), Ok(1));
    assert_eq!(tx.capacity(), 1);
    tx.try_send(3).unwrap();
}

#[test]
fn room_before_the_timeout_sends() {
    setup();
    let (tx, mut rx) = mpsc::channel(1);
    tx.try_send(1).unwrap();
    let mut send = Probe::new(tx.send_timeout(2, Duration::from_secs(1)));
    assert!(send.poll().is_pending());
    assert_eq!(rx.try_recv(), Ok(1));
    assert_eq!(send.woken(), 1);
    assert_eq!(send.poll(), Poll::Ready(Ok(())));
    assert_eq!(rx.try_recv(), Ok(2));
}

#[test]
fn a_slot_granted_as_the_timer_fires_is_used() {
    setup();
    let (tx, mut rx) = mpsc::channel(1);
    tx.try_send(1).unwrap();
    let mut send = Probe::new(tx.send_timeout(2, Duration::from_secs(1)));
    assert!(send.poll().is_pending());
    assert_eq!(rx.try_recv(), Ok(1));
    fire();
    // The channel is tried first, as tokio's `timeout` polls its future first.
    assert_eq!(send.poll(), Poll::Ready(Ok(())));
    assert_eq!(rx.try_recv(), Ok(2));
}

#[test]
fn a_close_while_waiting_fails_with_closed() {
    setup();
    let (tx, mut rx) = mpsc::channel(1);
    tx.try_send(1).unwrap();
    let mut send = Probe::new(tx.send_timeout(2, Duration::from_secs(1)));
    assert!(send.poll().is_pending());
    rx.close();
    assert_eq!(send.woken(), 1);
    match send.poll() {
        Poll::Ready(Err(e @ SendTimeoutError::Closed(_))) => {
            assert_eq!(e.to_string(), "channel closed");
            assert_eq!(e.into_inner(), 2);
        }
        other => panic!("expected Closed, got {other:?}"),
    }
    assert_eq!(
        SendTimeoutError::Timeout(()).to_string(),
        "timed out waiting on send operation"
    );
}

#[test]
fn a_dropped_send_timeout_passes_its_slot_on() {
    setup();
    let (tx, mut rx) = mpsc::channel(1);
    tx.try_send(1).unwrap();
    let mut first = Probe::new(tx.send_timeout(2, Duration::from_secs(1)));
    assert!(first.poll().is_pending());
    let mut second = Probe::new(tx.send(3));
    assert!(second.poll().is_pending());
    assert_eq!(rx.try_recv(), Ok(1)); // the slot goes to `first`
    assert_eq!((first.woken(), second.woken()), (1, 0));
    drop(first);
    assert_eq!(second.woken(), 1);
    assert_eq!(second.poll(), Poll::Ready(Ok(())));
    assert_eq!(rx.try_recv(), Ok(3));
}

#[test]
fn spends_the_budget_without_touching_the_channel() {
    setup();
    let (tx, _rx) = mpsc::channel::<u8>(1);
    tx.try_send(1).unwrap();
    let _budget = hearth_task::coop::enter();
    while hearth_task::coop::has_budget_remaining() {
        let mut cx = Context::from_waker(Waker::noop());
        let _ = hearth_task::coop::poll_proceed(&mut cx).map(|p| p.made_progress());
    }
    let mut send = Probe::new(tx.send_timeout(2, Duration::from_secs(1)));
    assert!(send.poll().is_pending());
    assert_eq!(send.woken(), 1, "a task out of budget is woken to yield");
    assert_eq!(MADE.get().0, 0, "no sleep is made while out of budget");
}
