//! mpsc behaviour: back-pressure, permits, close, drop, cancellation.

mod common;

use std::cell::Cell;
use std::rc::Rc;

use common::Probe;
use hearth_sync::mpsc::{self, error::*};

/// Counts its drops.
struct Tracked(Rc<Cell<usize>>);
impl Drop for Tracked {
    fn drop(&mut self) {
        self.0.set(self.0.get() + 1);
    }
}

#[test]
fn send_waits_for_room_and_wakes_one_sender_per_slot() {
    let (tx, mut rx) = mpsc::channel(1);
    Probe::new(tx.send(0)).ready().unwrap();
    let mut a = Probe::new(tx.send(1));
    let mut b = Probe::new(tx.send(2));
    a.pending();
    b.pending();
    assert_eq!(rx.try_recv(), Ok(0));
    assert_eq!((a.woken(), b.woken()), (1, 0));
    a.ready().unwrap();
    assert_eq!(Probe::new(rx.recv()).ready(), Some(1));
    assert_eq!(b.woken(), 1);
    b.ready().unwrap();
    assert_eq!(rx.try_recv(), Ok(2));
}

#[test]
fn try_send_full_and_closed_give_the_value_back() {
    let (tx, mut rx) = mpsc::channel(1);
    tx.try_send(1).unwrap();
    assert_eq!(tx.try_send(2), Err(TrySendError::Full(2)));
    rx.close();
    assert_eq!(tx.try_send(3), Err(TrySendError::Closed(3)));
    assert_eq!(TrySendError::Full(5).into_inner(), 5);
    // Buffered values survive close.
    assert_eq!(rx.try_recv(), Ok(1));
    assert_eq!(rx.try_recv(), Err(TryRecvError::Disconnected));
}

#[test]
fn recv_returns_none_after_last_sender_drops() {
    let (tx, mut rx) = mpsc::channel::<u8>(4);
    let tx2 = tx.clone();
    let mut r = Probe::new(rx.recv());
    r.pending();
    drop(tx);
    assert_eq!(r.woken(), 0, "one sender left");
    drop(tx2);
    assert_eq!(r.woken(), 1);
    assert_eq!(r.ready(), None);
}

#[test]
fn receiver_drop_wakes_parked_senders_and_drops_values_once() {
    let drops = Rc::new(Cell::new(0));
    let (tx, rx) = mpsc::channel(2);
    tx.try_send(Tracked(drops.clone())).unwrap();
    tx.try_send(Tracked(drops.clone())).unwrap();
    let mut blocked = Probe::new(tx.send(Tracked(drops.clone())));
    blocked.pending();
    drop(rx);
    assert_eq!(drops.get(), 2, "queued values dropped with the receiver");
    assert_eq!(blocked.woken(), 1);
    let SendError(v) = blocked.ready().unwrap_err();
    drop(v);
    assert_eq!(drops.get(), 3);
    drop(blocked);
    assert!(tx.is_closed());
    drop(tx);
    assert_eq!(drops.get(), 3);
}

#[test]
fn unconsumed_values_drop_once_when_everything_drops() {
    let drops = Rc::new(Cell::new(0));
    let (tx, rx) = mpsc::unbounded_channel();
    for _ in 0..5 {
        tx.send(Tracked(drops.clone())).unwrap();
    }
    drop(tx);
    drop(rx);
    assert_eq!(drops.get(), 5);
}

#[test]
fn cancelled_send_passes_its_slot_on() {
    let (tx, mut rx) = mpsc::channel(1);
    tx.try_send(0).unwrap();
    let mut a = Probe::new(tx.send(1));
    let mut b = Probe::new(tx.send(2));
    a.pending();
    b.pending();
    rx.try_recv().unwrap();
    assert_eq!(a.woken(), 1);
    drop(a);
    assert_eq!(b.woken(), 1);
    b.ready().unwrap();
    assert_eq!(rx.try_recv(), Ok(2));
}

#[test]
fn reserve_and_permits() {
    let (tx, mut rx) = mpsc::channel(1);
    let permit = Probe::new(tx.reserve()).ready().unwrap();
    assert!(matches!(tx.try_reserve(), Err(TrySendError::Full(()))));
    assert_eq!(tx.capacity(), 0);
    drop(permit);
    assert_eq!(tx.capacity(), 1);
    let permit = tx.try_reserve().unwrap();
    permit.send(7);
    assert_eq!(rx.try_recv(), Ok(7));

    let owned = Probe::new(tx.clone().reserve_owned()).ready().unwrap();
    let tx2 = owned.send(8);
    assert!(tx2.same_channel(&tx));
    assert_eq!(rx.try_recv(), Ok(8));
}

#[test]
fn close_lets_outstanding_permits_send_then_ends() {
    let (tx, mut rx) = mpsc::channel(2);
    let permit = tx.try_reserve().unwrap();
    rx.close();
    assert!(Probe::new(tx.reserve()).ready().is_err());
    let mut r = Probe::new(rx.recv());
    r.pending();
    permit.send(1);
    assert_eq!(r.ready(), Some(1));
    assert_eq!(
        Probe::new(rx.recv()).ready(),
        None,
        "closed, empty, no permit out"
    );
    drop(tx);
}

#[test]
fn dropped_permit_after_close_ends_the_receiver() {
    let (tx, mut rx) = mpsc::channel::<u8>(2);
    let permit = tx.try_reserve().unwrap();
    rx.close();
    let mut r = Probe::new(rx.recv());
    r.pending();
    drop(permit);
    assert_eq!(r.woken(), 1);
    assert_eq!(r.ready(), None);
}

#[test]
fn closed_future_wakes_on_close_and_on_drop() {
    let (tx, mut rx) = mpsc::channel::<u8>(1);
    let mut c = Probe::new(tx.closed());
    c.pending();
    rx.close();
    assert_eq!(c.woken(), 1);
    c.ready();
    let (tx, rx) = mpsc::unbounded_channel::<u8>();
    let mut c = Probe::new(tx.closed());
    c.pending();
    drop(rx);
    c.ready();
    assert!(tx.send(1).is_err());
}

#[test]
fn recv_many_takes_up_to_limit() {
    let (tx, mut rx) = mpsc::channel(8);
    let mut buf = Vec::new();
    assert_eq!(Probe::new(rx.recv_many(&mut buf, 0)).ready(), 0);
    let mut r = Probe::new(rx.recv_many(&mut buf, 3));
    r.pending();
    for i in 0..5 {
        tx.try_send(i).unwrap();
    }
    assert_eq!(r.woken(), 1);
    assert_eq!(r.ready(), 3);
    drop(r);
    assert_eq!(buf, [0, 1, 2]);
    assert_eq!(tx.capacity(), 6);
    drop(tx);
    assert_eq!(Probe::new(rx.recv_many(&mut buf, 10)).ready(), 2);
    assert_eq!(Probe::new(rx.recv_many(&mut buf, 10)).ready(), 0);
}

#[test]
fn unbounded_basics() {
    let (tx, mut rx) = mpsc::unbounded_channel();
    assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
    tx.send(1).unwrap();
    assert_eq!(rx.len(), 1);
    assert_eq!(Probe::new(rx.recv()).ready(), Some(1));
    rx.close();
    assert_eq!(tx.send(2), Err(SendError(2)));
    assert_eq!(Probe::new(rx.recv()).ready(), None);
}

#[test]
#[should_panic(expected = "buffer > 0")]
fn zero_capacity_panics() {
    let _ = mpsc::channel::<u8>(0);
}

#[test]
fn errors_display() {
    assert_eq!(SendError(1).to_string(), "channel closed");
    assert_eq!(TrySendError::Full(1).to_string(), "no available capacity");
    assert_eq!(
        TryRecvError::Empty.to_string(),
        "receiving on an empty channel"
    );
    let e: Box<dyn std::error::Error> = Box::new(SendError(1));
    assert_eq!(format!("{e:?}"), "SendError { .. }");
}

#[test]
fn many_tasks_through_a_dual_executor() {
    let ex = common::Executor::default();
    let (tx, mut rx) = mpsc::channel(3);
    let sum = Rc::new(Cell::new(0));
    for t in 0..10 {
        let tx = tx.clone();
        ex.spawn(async move {
            for i in 0..100 {
                tx.send(t * 100 + i).await.unwrap();
            }
        });
    }
    drop(tx);
    let s = sum.clone();
    ex.spawn(async move {
        while let Some(v) = rx.recv().await {
            s.set(s.get() + v);
        }
    });
    ex.run();
    assert_eq!(sum.get(), (0..1000).sum::<usize>());
}
