//! The cooperative budget: every operation that can complete without waiting
//! spends one unit, yields (waking its task) once the budget is spent, and
//! leaves the primitive untouched when it yields.
#![cfg(not(loom))]

mod common;

use std::cell::Cell;
use std::future::Future;
use std::pin::pin;
use std::rc::Rc;
use std::task::{Context, Poll};

use common::{counter, Probe};
use hearth_sync::{mpsc, oneshot, remote, watch, Barrier, Mutex, Notify, RwLock, Semaphore};
use hearth_task::coop::{self, BUDGET};

/// With a fresh budget, polls fresh futures made by `$make` with one
/// counting waker: exactly `BUDGET` are ready, the next is `Pending` and has
/// woken the task once.
macro_rules! yields_after_budget {
    ($make:expr) => {{
        let _budget = coop::enter();
        coop::refill();
        let (waker, woken) = counter();
        let mut cx = Context::from_waker(&waker);
        let mut ready = 0;
        while pin!($make).poll(&mut cx).is_ready() {
            ready += 1;
            assert!(ready <= BUDGET, "kept going past the budget");
        }
        assert_eq!(ready, BUDGET, "ready until the budget ran out");
        assert_eq!(woken.get(), 1, "the yield woke the task");
        assert_eq!(coop::remaining(), Some(0));
    }};
}

#[test]
fn watch_changed_on_a_closed_channel() {
    let (tx, mut rx) = watch::channel(1);
    drop(tx);
    yields_after_budget!(rx.changed());
}

#[test]
fn watch_wait_for_an_accepted_value_and_sender_closed() {
    let (tx, mut rx) = watch::channel(1);
    yields_after_budget!(rx.wait_for(|v| *v == 1));
    drop(rx);
    yields_after_budget!(tx.closed());
}

#[test]
fn mpsc_recv_and_recv_many_with_values_queued() {
    let (tx, mut rx) = mpsc::channel(1000);
    for i in 0..1000 {
        tx.try_send(i).unwrap();
    }
    yields_after_budget!(rx.recv());
    assert_eq!(rx.try_recv(), Ok(BUDGET as i32), "the yield took no value");
    let mut buf = Vec::new();
    yields_after_budget!(rx.recv_many(&mut buf, 2));
    assert_eq!(buf.len(), 2 * BUDGET as usize);
    drop(tx);
    let (_utx, mut urx) = mpsc::unbounded_channel::<()>();
    drop(_utx);
    yields_after_budget!(urx.recv());
}

#[test]
fn mpsc_send_reserve_and_closed() {
    let (tx, mut rx) = mpsc::channel::<u32>(10_000);
    yields_after_budget!(tx.send(1));
    assert_eq!(
        rx.len(),
        BUDGET as usize,
        "the yielding send queued nothing"
    );
    yields_after_budget!(async { tx.reserve().await.unwrap().send(2) });
    yields_after_budget!(async { tx.clone().reserve_owned().await.unwrap().send(3) });
    assert_eq!(tx.capacity(), 10_000 - 3 * BUDGET as usize, "no slot lost");
    rx.close();
    yields_after_budget!(tx.closed());
    yields_after_budget!(tx.send(4)); // fails, but completes
    let (utx, urx) = mpsc::unbounded_channel::<()>();
    drop(urx);
    yields_after_budget!(utx.closed());
}

#[test]
fn oneshot_recv_and_closed() {
    let mut rxs: Vec<_> = (0..=BUDGET)
        .map(|i| {
            let (tx, rx) = oneshot::channel();
            tx.send(i).unwrap();
            rx
        })
        .collect();
    let _budget = coop::enter();
    coop::refill();
    let (waker, woken) = counter();
    let mut cx = Context::from_waker(&waker);
    for (i, rx) in rxs.iter_mut().enumerate() {
        let r = pin!(rx).poll(&mut cx);
        if i < BUDGET as usize {
            assert_eq!(r, Poll::Ready(Ok(i as u32)));
        } else {
            assert!(r.is_pending());
        }
    }
    assert_eq!(woken.get(), 1);
    coop::refill();
    let last = rxs.last_mut().unwrap();
    assert_eq!(
        pin!(last).poll(&mut cx),
        Poll::Ready(Ok(BUDGET)),
        "the value stayed"
    );
    drop(_budget);

    let (mut tx, rx) = oneshot::channel::<()>();
    drop(rx);
    yields_after_budget!(tx.closed());
}

#[test]
fn notified_with_a_stored_permit() {
    let n = Notify::new();
    yields_after_budget!(async {
        n.notify_one();
        n.notified().await
    });
    // The yielding `notified` left the permit stored.
    assert!(Probe::new(n.notified()).poll().is_ready());
}

#[test]
fn barrier_wait() {
    let b = Barrier::new(1);
    yields_after_budget!(b.wait());
    let b = Barrier::new(2);
    {
        let _budget = coop::enter();
        coop::refill();
        let mut cx = Context::from_waker(std::task::Waker::noop());
        // Spend the whole budget.
        while coop::poll_proceed(&mut cx)
            .map(coop::Progress::made_progress)
            .is_ready()
        {}
        assert!(pin!(b.wait()).poll(&mut cx).is_pending());
    }
    // The yielding wait did not count as an arrival.
    let mut first = Probe::new(b.wait());
    first.pending();
    assert!(Probe::new(b.wait()).ready().is_leader());
    assert!(!first.ready().is_leader());
}

#[test]
fn semaphore_and_locks() {
    let sem = Rc::new(Semaphore::new(1));
    yields_after_budget!(sem.acquire());
    yields_after_budget!(sem.acquire_many(1));
    yields_after_budget!(sem.clone().acquire_owned());
    assert_eq!(sem.available_permits(), 1, "the yields hold no permit");
    let mutex = Rc::new(Mutex::new(0));
    yields_after_budget!(async { *mutex.lock().await += 1 });
    yields_after_budget!(async { *mutex.clone().lock_owned().await += 1 });
    assert_eq!(*mutex.try_lock().unwrap(), 2 * BUDGET);
    let lock = RwLock::new(0);
    yields_after_budget!(async { *lock.write().await += 1 });
    yields_after_budget!(lock.read());
    assert_eq!(*lock.try_read().unwrap(), BUDGET);
}

#[test]
fn remote_recv_and_send() {
    let (tx, mut rx) = remote::channel(1000);
    yields_after_budget!(tx.send(1));
    assert_eq!(rx.len(), BUDGET as usize);
    yields_after_budget!(rx.recv());
    assert_eq!(rx.len(), 0);
}

#[test]
fn waiting_spends_nothing() {
    let _budget = coop::enter();
    coop::refill();
    let (tx, mut rx) = mpsc::channel::<u8>(1);
    let sem = Semaphore::new(0);
    let n = Notify::new();
    for _ in 0..1000 {
        Probe::new(rx.recv()).pending();
        Probe::new(sem.acquire()).pending();
        Probe::new(n.notified()).pending();
    }
    assert_eq!(coop::remaining(), Some(BUDGET));
    drop(tx);
}

#[test]
fn try_methods_spend_nothing() {
    let _budget = coop::enter();
    coop::refill();
    let (tx, mut rx) = mpsc::channel(1);
    let (utx, mut urx) = mpsc::unbounded_channel();
    let sem = Semaphore::new(1);
    let mutex = Mutex::new(());
    let lock = RwLock::new(());
    for _ in 0..1000 {
        tx.try_send(()).unwrap();
        rx.try_recv().unwrap();
        tx.try_reserve().unwrap().send(());
        rx.try_recv().unwrap();
        utx.send(()).unwrap();
        urx.try_recv().unwrap();
        drop(sem.try_acquire().unwrap());
        drop(mutex.try_lock().unwrap());
        drop(lock.try_write().unwrap());
        let (otx, mut orx) = oneshot::channel();
        otx.send(()).unwrap();
        orx.try_recv().unwrap();
    }
    assert_eq!(coop::remaining(), Some(BUDGET));
}

#[test]
fn without_an_executor_budget_nothing_yields() {
    assert!(!coop::is_limited());
    let (tx, mut rx) = watch::channel(());
    drop(tx);
    let n = Cell::new(0);
    futures::executor::block_on(async {
        for _ in 0..10 * BUDGET {
            assert!(rx.changed().await.is_err());
            n.set(n.get() + 1);
        }
    });
    assert_eq!(n.get(), 10 * BUDGET);
}
