//! Notify behaviour, as tokio documents it.

mod common;

use common::Probe;
use hearth_sync::Notify;

#[test]
fn notify_one_without_waiter_stores_one_permit() {
    let n = Notify::new();
    n.notify_one();
    n.notify_one(); // at most one permit
    Probe::new(n.notified()).ready();
    Probe::new(n.notified()).pending();
}

#[test]
fn notify_one_wakes_exactly_one_in_fifo_order() {
    let n = Notify::new();
    let mut ws: Vec<_> = (0..5).map(|_| Probe::new(n.notified())).collect();
    for w in &mut ws {
        w.pending();
    }
    n.notify_one();
    let woken: Vec<usize> = ws.iter().map(|w| w.woken()).collect();
    assert_eq!(woken, [1, 0, 0, 0, 0]);
    ws[0].ready();
    ws[1].pending();
}

#[test]
fn notify_waiters_wakes_all_including_unpolled_and_stores_no_permit() {
    let n = Notify::new();
    let mut polled = Probe::new(n.notified());
    polled.pending();
    let mut unpolled = Probe::new(n.notified());
    n.notify_waiters();
    assert_eq!(polled.woken(), 1);
    polled.ready();
    unpolled.ready();
    Probe::new(n.notified()).pending();
}

#[test]
fn dropped_notified_passes_notify_one_on() {
    let n = Notify::new();
    let mut a = Probe::new(n.notified());
    let mut b = Probe::new(n.notified());
    a.pending();
    b.pending();
    n.notify_one();
    drop(a);
    assert_eq!(b.woken(), 1);
    b.ready();
}

#[test]
fn dropped_notified_without_waiters_returns_the_permit() {
    let n = Notify::new();
    let mut a = Probe::new(n.notified());
    a.pending();
    n.notify_one();
    drop(a);
    Probe::new(n.notified()).ready();
}

#[test]
fn dropped_waiter_leaves_the_queue() {
    let n = Notify::new();
    let mut a = Probe::new(n.notified());
    let mut b = Probe::new(n.notified());
    a.pending();
    b.pending();
    drop(a);
    n.notify_one();
    assert_eq!(b.woken(), 1);
    b.ready();
}
