//! watch and Barrier behaviour.

mod common;

use common::Probe;
use hearth_sync::{watch, Barrier};

#[test]
fn changed_wakes_all_receivers_once_per_send() {
    let (tx, mut rx1) = watch::channel(0);
    let mut rx2 = rx1.clone();
    let mut a = Probe::new(rx1.changed());
    let mut b = Probe::new(rx2.changed());
    a.pending();
    b.pending();
    tx.send(1).unwrap();
    assert_eq!((a.woken(), b.woken()), (1, 1));
    a.ready().unwrap();
    b.ready().unwrap();
    drop((a, b));
    assert!(!rx1.has_changed().unwrap());
    assert_eq!(*rx1.borrow(), 1);
}

#[test]
fn borrow_and_update_marks_seen() {
    let (tx, mut rx) = watch::channel("a");
    tx.send_replace("b");
    assert!(rx.borrow().has_changed());
    assert!(rx.borrow_and_update().has_changed());
    assert!(!rx.has_changed().unwrap());
    tx.send_modify(|v| *v = "c");
    assert!(!tx.send_if_modified(|_| false));
    assert_eq!(*rx.borrow_and_update(), "c");
    rx.mark_changed();
    assert!(rx.has_changed().unwrap());
}

#[test]
fn sender_drop_ends_changed_after_unseen_values() {
    let (tx, mut rx) = watch::channel(0);
    tx.send(1).unwrap();
    drop(tx);
    assert!(
        Probe::new(rx.changed()).ready().is_ok(),
        "an unseen value first"
    );
    assert!(Probe::new(rx.changed()).ready().is_err());
    assert!(rx.has_changed().is_err());
}

#[test]
fn sender_drop_wakes_waiting_receivers() {
    let (tx, mut rx) = watch::channel(0);
    let mut c = Probe::new(rx.changed());
    c.pending();
    drop(tx);
    assert_eq!(c.woken(), 1);
    assert!(c.ready().is_err());
}

#[test]
fn send_fails_without_receivers_and_closed_wakes() {
    let (tx, rx) = watch::channel(0);
    let mut closed = Probe::new(tx.closed());
    closed.pending();
    let rx2 = tx.subscribe();
    assert_eq!(tx.receiver_count(), 2);
    drop(rx);
    assert_eq!(closed.woken(), 0);
    drop(rx2);
    assert_eq!(closed.woken(), 1);
    closed.ready();
    assert_eq!(tx.send(5).unwrap_err().0, 5);
    assert!(tx.is_closed());
}

#[test]
fn wait_for_checks_current_value_first() {
    let (tx, mut rx) = watch::channel(3);
    assert_eq!(*Probe::new(rx.wait_for(|v| *v == 3)).ready().unwrap(), 3);
    let mut w = Probe::new(rx.wait_for(|v| *v == 5));
    w.pending();
    tx.send(4).unwrap();
    w.pending();
    tx.send(5).unwrap();
    assert_eq!(*w.ready().unwrap(), 5);
}

#[test]
fn barrier_releases_every_n_with_one_leader() {
    let b = Barrier::new(3);
    let mut x = Probe::new(b.wait());
    let mut y = Probe::new(b.wait());
    x.pending();
    y.pending();
    let leader = Probe::new(b.wait()).ready();
    assert!(leader.is_leader());
    assert_eq!((x.woken(), y.woken()), (1, 1));
    assert!(!x.ready().is_leader());
    assert!(!y.ready().is_leader());
    // The next generation starts empty.
    Probe::new(b.wait()).pending();
}

#[test]
fn barrier_cancelled_wait_withdraws_its_arrival() {
    let b = Barrier::new(2);
    let mut x = Probe::new(b.wait());
    x.pending();
    drop(x);
    let mut y = Probe::new(b.wait());
    y.pending();
    assert!(Probe::new(b.wait()).ready().is_leader());
    assert!(!y.ready().is_leader());
}

#[test]
fn barrier_of_zero_is_one() {
    assert!(Probe::new(Barrier::new(0).wait()).ready().is_leader());
}
