//! Conformance with the behaviours `tokio::sync` documents.
//!
//! Each scenario is written once and run twice: against `tokio::sync` (which
//! pins down the behaviour we copy) and against `hearth_sync`. Futures are
//! polled by hand with counting wakers, so wake counts are compared too.
//! Where hearth deliberately differs, the module docs say so and the
//! scenario is not here (e.g. `Barrier` cancellation, a `oneshot::Receiver`
//! polled after completion).
#![cfg(not(loom))]

mod common;

use std::task::Poll;

use common::Probe;

/// Runs `$body` with `$m` bound to `tokio::sync`, then to `hearth_sync`.
macro_rules! conformance {
    ($name:ident, |$m:ident| $body:block) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            #[test]
            fn tokio() {
                use tokio::sync as $m;
                $body
            }

            #[test]
            fn hearth() {
                use hearth_sync as $m;
                $body
            }
        }
    };
}

conformance!(notify_one_stores_a_single_permit, |m| {
    let n = m::Notify::new();
    n.notify_one();
    n.notify_one();
    assert!(Probe::new(n.notified()).poll().is_ready());
    assert!(Probe::new(n.notified()).poll().is_pending());
});

conformance!(
    notify_waiters_reaches_unpolled_futures_but_stores_nothing,
    |m| {
        let n = m::Notify::new();
        let mut early = Probe::new(n.notified());
        n.notify_waiters();
        let mut late = Probe::new(n.notified());
        assert!(early.poll().is_ready());
        assert!(late.poll().is_pending());
    }
);

conformance!(notify_one_wakes_waiters_in_fifo_order, |m| {
    let n = m::Notify::new();
    let mut a = Probe::new(n.notified());
    let mut b = Probe::new(n.notified());
    assert!(a.poll().is_pending());
    assert!(b.poll().is_pending());
    n.notify_one();
    assert_eq!((a.woken(), b.woken()), (1, 0));
    assert!(a.poll().is_ready());
    assert!(b.poll().is_pending());
});

conformance!(mpsc_close_keeps_buffered_values, |m| {
    let (tx, mut rx) = m::mpsc::channel(4);
    tx.try_send(1).unwrap();
    tx.try_send(2).unwrap();
    rx.close();
    assert!(tx.try_send(3).is_err());
    assert!(tx.is_closed());
    assert_eq!(Probe::new(rx.recv()).ready(), Some(1));
    assert_eq!(Probe::new(rx.recv()).ready(), Some(2));
    assert_eq!(Probe::new(rx.recv()).ready(), None);
});

conformance!(mpsc_try_send_full_returns_the_value, |m| {
    let (tx, _rx) = m::mpsc::channel(1);
    tx.try_send("a").unwrap();
    match tx.try_send("b") {
        Err(m::mpsc::error::TrySendError::Full(v)) => assert_eq!(v, "b"),
        other => panic!("expected Full, got {other:?}"),
    }
});

conformance!(mpsc_permits_count_against_capacity, |m| {
    let (tx, mut rx) = m::mpsc::channel::<u8>(2);
    let p1 = tx.try_reserve().unwrap();
    assert_eq!(tx.capacity(), 1);
    let _p2 = tx.try_reserve().unwrap();
    assert!(tx.try_reserve().is_err());
    p1.send(9);
    assert_eq!(rx.try_recv(), Ok(9));
    assert_eq!(tx.capacity(), 1);
});

conformance!(mpsc_blocked_sender_wakes_when_room_frees, |m| {
    let (tx, mut rx) = m::mpsc::channel(1);
    tx.try_send(1).unwrap();
    let mut s = Probe::new(tx.send(2));
    assert!(s.poll().is_pending());
    assert_eq!(rx.try_recv(), Ok(1));
    assert_eq!(s.woken(), 1);
    assert!(matches!(s.poll(), Poll::Ready(Ok(()))));
});

conformance!(mpsc_recv_none_after_all_senders_drop, |m| {
    let (tx, mut rx) = m::mpsc::unbounded_channel::<u8>();
    let tx2 = tx.clone();
    let mut r = Probe::new(rx.recv());
    assert!(r.poll().is_pending());
    drop(tx);
    drop(tx2);
    assert_eq!(r.woken(), 1);
    assert_eq!(r.ready(), None);
});

conformance!(mpsc_recv_many_respects_limit, |m| {
    let (tx, mut rx) = m::mpsc::unbounded_channel();
    for i in 0..5 {
        tx.send(i).unwrap();
    }
    let mut buf = Vec::new();
    assert_eq!(Probe::new(rx.recv_many(&mut buf, 2)).ready(), 2);
    assert_eq!(Probe::new(rx.recv_many(&mut buf, 10)).ready(), 3);
    assert_eq!(buf, [0, 1, 2, 3, 4]);
    assert_eq!(Probe::new(rx.recv_many(&mut buf, 0)).ready(), 0);
});

conformance!(mpsc_sender_closed_completes_on_receiver_drop, |m| {
    let (tx, rx) = m::mpsc::channel::<u8>(1);
    let mut c = Probe::new(tx.closed());
    assert!(c.poll().is_pending());
    drop(rx);
    assert_eq!(c.woken(), 1);
    assert!(c.poll().is_ready());
});

conformance!(semaphore_is_fair, |m| {
    let sem = m::Semaphore::new(1);
    let mut big = Probe::new(sem.acquire_many(2));
    assert!(big.poll().is_pending());
    let mut small = Probe::new(sem.acquire());
    assert!(
        small.poll().is_pending(),
        "a small request waits behind a big one"
    );
    assert!(sem.try_acquire().is_err());
    sem.add_permits(1);
    assert!(big.poll().is_ready());
});

conformance!(semaphore_close_fails_waiters, |m| {
    let sem = m::Semaphore::new(0);
    let mut a = Probe::new(sem.acquire());
    assert!(a.poll().is_pending());
    sem.close();
    assert_eq!(a.woken(), 1);
    assert!(matches!(a.poll(), Poll::Ready(Err(_))));
    assert!(matches!(sem.try_acquire(), Err(m::TryAcquireError::Closed)));
});

conformance!(semaphore_forgotten_permits_are_gone, |m| {
    let sem = m::Semaphore::new(2);
    sem.try_acquire().unwrap().forget();
    assert_eq!(sem.available_permits(), 1);
});

conformance!(mutex_waiters_are_served_in_order, |m| {
    let mutex = m::Mutex::new(0);
    let g = mutex.try_lock().unwrap();
    let mut a = Probe::new(mutex.lock());
    let mut b = Probe::new(mutex.lock());
    assert!(a.poll().is_pending());
    assert!(b.poll().is_pending());
    drop(g);
    assert_eq!((a.woken(), b.woken()), (1, 0));
    assert!(b.poll().is_pending());
    assert!(a.poll().is_ready());
});

conformance!(rwlock_queued_writer_blocks_new_readers, |m| {
    let lock = m::RwLock::new(0);
    let r = lock.try_read().unwrap();
    let mut w = Probe::new(lock.write());
    assert!(w.poll().is_pending());
    assert!(lock.try_read().is_err());
    drop(r);
    assert!(w.poll().is_ready());
});

conformance!(oneshot_sender_drop_fails_receiver, |m| {
    let (tx, rx) = m::oneshot::channel::<u8>();
    let mut r = Probe::new(rx);
    assert!(r.poll().is_pending());
    drop(tx);
    assert_eq!(r.woken(), 1);
    assert!(matches!(r.poll(), Poll::Ready(Err(_))));
});

conformance!(
    oneshot_receiver_close_fails_send_and_completes_closed,
    |m| {
        let (mut tx, mut rx) = m::oneshot::channel::<u8>();
        {
            let mut c = Probe::new(tx.closed());
            assert!(c.poll().is_pending());
            rx.close();
            assert_eq!(c.woken(), 1);
            assert!(c.poll().is_ready());
        }
        assert_eq!(tx.send(1), Err(1));
    }
);

conformance!(watch_changed_and_sender_drop, |m| {
    let (tx, mut rx) = m::watch::channel(0);
    {
        let mut c = Probe::new(rx.changed());
        assert!(c.poll().is_pending());
        tx.send(1).unwrap();
        assert_eq!(c.woken(), 1);
        assert!(matches!(c.poll(), Poll::Ready(Ok(()))));
    }
    assert_eq!(*rx.borrow_and_update(), 1);
    tx.send(2).unwrap();
    drop(tx);
    assert!(matches!(
        Probe::new(rx.changed()).poll(),
        Poll::Ready(Ok(()))
    ));
    assert!(matches!(
        Probe::new(rx.changed()).poll(),
        Poll::Ready(Err(_))
    ));
});

conformance!(watch_send_fails_without_receivers, |m| {
    let (tx, rx) = m::watch::channel(0);
    drop(rx);
    assert!(tx.send(1).is_err());
    assert_eq!(tx.send_replace(2), 0);
    assert_eq!(*tx.borrow(), 2);
});

conformance!(barrier_has_one_leader, |m| {
    let b = m::Barrier::new(2);
    let mut x = Probe::new(b.wait());
    assert!(x.poll().is_pending());
    let leader = Probe::new(b.wait()).ready();
    assert!(leader.is_leader());
    assert!(!x.ready().is_leader());
});

// --- oneshot: `Receiver::close` ends the receive, unless a value was sent ---

conformance!(oneshot_close_without_value_fails_receive, |m| {
    let (tx, mut rx) = m::oneshot::channel::<u8>();
    rx.close();
    assert!(tx.is_closed());
    assert_eq!(rx.try_recv(), Err(m::oneshot::error::TryRecvError::Closed));
    assert_eq!(tx.send(1), Err(1));

    let (tx, mut rx) = m::oneshot::channel::<u8>();
    rx.close();
    assert!(matches!(Probe::new(rx).poll(), Poll::Ready(Err(_))));
    assert!(tx.is_closed());
});

conformance!(oneshot_close_while_parked_then_await_fails, |m| {
    let (tx, mut rx) = m::oneshot::channel::<u8>();
    assert!(Probe::new(&mut rx).poll().is_pending());
    rx.close();
    assert!(matches!(Probe::new(&mut rx).poll(), Poll::Ready(Err(_))));
    drop(tx);
});

conformance!(oneshot_close_keeps_a_value_sent_before, |m| {
    let (tx, mut rx) = m::oneshot::channel::<u8>();
    tx.send(5).unwrap();
    rx.close();
    assert_eq!(Probe::new(&mut rx).ready(), Ok(5));
    assert_eq!(rx.try_recv(), Err(m::oneshot::error::TryRecvError::Closed));

    let (tx, mut rx) = m::oneshot::channel::<u8>();
    tx.send(6).unwrap();
    rx.close();
    assert_eq!(rx.try_recv(), Ok(6));
});

// --- watch on a closed channel ---

conformance!(
    watch_has_changed_fails_once_closed_even_with_unseen_value,
    |m| {
        let (tx, mut rx) = m::watch::channel(0);
        tx.send(1).unwrap();
        drop(tx);
        assert!(rx.has_changed().is_err());
        // The unseen value can still be read, and `changed` still reports it once.
        assert!(rx.borrow().has_changed());
        assert!(matches!(
            Probe::new(rx.changed()).poll(),
            Poll::Ready(Ok(()))
        ));
        assert!(!rx.borrow().has_changed());
        assert!(matches!(
            Probe::new(rx.changed()).poll(),
            Poll::Ready(Err(_))
        ));
        assert!(rx.has_changed().is_err());
        assert!(rx.is_closed());
        assert_eq!(*rx.borrow_and_update(), 1);
    }
);

conformance!(watch_borrow_and_update_on_closed_channel, |m| {
    let (tx, mut rx) = m::watch::channel("a");
    tx.send("b").unwrap();
    drop(tx);
    {
        let r = rx.borrow_and_update();
        assert_eq!(*r, "b");
        assert!(r.has_changed());
    }
    assert!(!rx.borrow().has_changed());
    assert!(matches!(
        Probe::new(rx.changed()).poll(),
        Poll::Ready(Err(_))
    ));
});

conformance!(watch_wait_for_on_closed_channel, |m| {
    let (tx, mut rx) = m::watch::channel(1);
    tx.send(2).unwrap();
    drop(tx);
    // The current value is checked first, even on a closed channel.
    assert_eq!(*Probe::new(rx.wait_for(|v| *v == 2)).ready().unwrap(), 2);
    assert!(Probe::new(rx.wait_for(|v| *v == 3)).ready().is_err());
});

// --- mpsc: a slot granted to a waiting `reserve` when the receiver closes ---

conformance!(mpsc_dropping_a_granted_reserve_after_close_ends_recv, |m| {
    let (tx, mut rx) = m::mpsc::channel::<()>(1);
    let p = tx.try_reserve().unwrap();
    let mut reserve = Probe::new(tx.reserve());
    assert!(reserve.poll().is_pending());
    drop(p); // the slot goes to the queued reserve
    assert_eq!(reserve.woken(), 1);
    rx.close();
    let mut recv = Probe::new(rx.recv());
    assert!(recv.poll().is_pending(), "the granted slot may still send");
    drop(reserve);
    assert_eq!(
        recv.woken(),
        1,
        "giving the last slot back ends the channel"
    );
    assert_eq!(recv.ready(), None);
});

conformance!(mpsc_granted_reserve_polled_after_close_fails, |m| {
    let (tx, mut rx) = m::mpsc::channel::<()>(1);
    let p = tx.try_reserve().unwrap();
    let mut reserve = Probe::new(tx.reserve());
    assert!(reserve.poll().is_pending());
    drop(p);
    rx.close();
    assert!(tx.is_closed());
    let mut recv = Probe::new(rx.recv());
    assert!(recv.poll().is_pending());
    assert!(matches!(reserve.poll(), Poll::Ready(Err(_))));
    assert_eq!(recv.woken(), 1);
    assert_eq!(recv.ready(), None);
});

conformance!(mpsc_granted_send_polled_after_close_fails, |m| {
    let (tx, mut rx) = m::mpsc::channel::<u8>(1);
    let p = tx.try_reserve().unwrap();
    let mut send = Probe::new(tx.send(7));
    assert!(send.poll().is_pending());
    drop(p);
    rx.close();
    let mut recv = Probe::new(rx.recv());
    assert!(recv.poll().is_pending());
    assert!(matches!(send.poll(), Poll::Ready(Err(_))));
    assert_eq!(recv.woken(), 1);
    assert_eq!(recv.ready(), None);
});

conformance!(mpsc_dropping_a_granted_send_after_close_ends_recv, |m| {
    let (tx, mut rx) = m::mpsc::channel::<u8>(1);
    let p = tx.try_reserve().unwrap();
    let mut send = Probe::new(tx.send(7));
    assert!(send.poll().is_pending());
    drop(p);
    rx.close();
    let mut recv = Probe::new(rx.recv());
    assert!(recv.poll().is_pending());
    drop(send);
    assert_eq!(recv.woken(), 1);
    assert_eq!(recv.ready(), None);
});

conformance!(mpsc_granted_reserve_owned_polled_after_close_fails, |m| {
    let (tx, mut rx) = m::mpsc::channel::<()>(1);
    let p = tx.try_reserve().unwrap();
    let mut reserve = Probe::new(tx.clone().reserve_owned());
    assert!(reserve.poll().is_pending());
    drop(p);
    rx.close();
    assert!(matches!(reserve.poll(), Poll::Ready(Err(_))));
    drop(tx);
    assert_eq!(Probe::new(rx.recv()).ready(), None);
});

// --- the cooperative budget ---

/// Runs `$body` with `$m` bound to `tokio::sync` inside a tokio task poll
/// (which has a fresh budget), then to `hearth_sync` with a fresh hearth
/// budget. The body returns a `Probe` whose wake count is checked after the
/// poll: tokio defers the wake of a task that ran out of budget until the
/// poll returns.
macro_rules! budget_conformance {
    ($name:ident, |$m:ident| $body:block) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            #[test]
            fn tokio() {
                use tokio::sync as $m;
                let rt = tokio::runtime::Builder::new_current_thread()
                    .build()
                    .unwrap();
                let woken = rt.block_on(async {
                    let woken = $body;
                    // Let the scheduler run the deferred wakes.
                    tokio::task::yield_now().await;
                    woken
                });
                assert_eq!(woken.get(), 1, "the task that ran out of budget is woken");
            }

            #[test]
            fn hearth() {
                use hearth_sync as $m;
                let _budget = hearth_task::coop::enter();
                hearth_task::coop::refill();
                let woken = $body;
                assert_eq!(woken.get(), 1, "the task that ran out of budget is woken");
            }
        }
    };
}

/// Polls fresh futures made by `$make` with one counting waker until one is
/// `Pending`; evaluates to how many were `Ready` and the waker's counter.
macro_rules! ready_until_pending {
    ($make:expr) => {{
        let (waker, woken) = common::counter();
        let mut cx = std::task::Context::from_waker(&waker);
        let mut ready = 0;
        while std::future::Future::poll(std::pin::pin!($make), &mut cx).is_ready() {
            ready += 1;
            assert!(ready <= 1000, "never ran out of budget");
        }
        (ready, woken)
    }};
}

budget_conformance!(budget_watch_changed_on_closed_channel, |m| {
    let (tx, mut rx) = m::watch::channel(0);
    drop(tx);
    let (ready, woken) = ready_until_pending!(rx.changed());
    assert_eq!(ready, 128);
    woken
});

budget_conformance!(budget_mpsc_recv_with_values_queued, |m| {
    let (tx, mut rx) = m::mpsc::unbounded_channel();
    for i in 0..200 {
        tx.send(i).unwrap();
    }
    let (ready, woken) = ready_until_pending!(rx.recv());
    assert_eq!(ready, 128);
    assert_eq!(rx.try_recv(), Ok(128), "no value lost to the yield");
    woken
});

budget_conformance!(budget_mpsc_bounded_send, |m| {
    let (tx, mut rx) = m::mpsc::channel(1000);
    let (ready, woken) = ready_until_pending!(tx.send(1));
    assert_eq!(ready, 128);
    assert_eq!(tx.capacity(), 1000 - 128, "the yielding send took no slot");
    assert_eq!(rx.try_recv(), Ok(1));
    woken
});

budget_conformance!(budget_semaphore_acquire, |m| {
    let sem = m::Semaphore::new(1);
    let (ready, woken) = ready_until_pending!(sem.acquire());
    assert_eq!(ready, 128);
    assert_eq!(
        sem.available_permits(),
        1,
        "the yielding acquire holds nothing"
    );
    woken
});

budget_conformance!(budget_mutex_lock, |m| {
    let mutex = m::Mutex::new(0);
    let (ready, woken) = ready_until_pending!(async { *mutex.lock().await += 1 });
    assert_eq!(ready, 128);
    assert_eq!(*mutex.try_lock().unwrap(), 128);
    woken
});

budget_conformance!(budget_oneshot_recv_of_a_sent_value, |m| {
    let mut rxs = Vec::new();
    for i in 0..200 {
        let (tx, rx) = m::oneshot::channel();
        tx.send(i).unwrap();
        rxs.push(rx);
    }
    let mut rxs = rxs.into_iter();
    let mut next = rxs.next();
    let (waker, woken) = common::counter();
    let mut cx = std::task::Context::from_waker(&waker);
    let mut ready = 0;
    while let Some(rx) = next.as_mut() {
        match std::future::Future::poll(std::pin::Pin::new(rx), &mut cx) {
            Poll::Ready(v) => {
                assert_eq!(v, Ok(ready));
                ready += 1;
                next = rxs.next();
            }
            Poll::Pending => break,
        }
    }
    assert_eq!(ready, 128);
    woken
});

budget_conformance!(budget_try_methods_are_free, |m| {
    let (tx, mut rx) = m::mpsc::channel(1);
    let sem = m::Semaphore::new(1);
    for _ in 0..1000 {
        tx.try_send(()).unwrap();
        rx.try_recv().unwrap();
        drop(sem.try_acquire().unwrap());
    }
    let (ready, woken) = ready_until_pending!(sem.acquire());
    assert_eq!(ready, 128, "the try_ calls spent nothing");
    woken
});

budget_conformance!(budget_rwlock_read, |m| {
    let lock = m::RwLock::new(0);
    let (ready, woken) = ready_until_pending!(lock.read());
    assert_eq!(ready, 128);
    assert!(lock.try_write().is_ok(), "the yielding read holds nothing");
    woken
});

budget_conformance!(budget_watch_sender_closed, |m| {
    let (tx, rx) = m::watch::channel(0);
    drop(rx);
    let (ready, woken) = ready_until_pending!(tx.closed());
    assert_eq!(ready, 128);
    woken
});

budget_conformance!(budget_oneshot_sender_closed, |m| {
    let (mut tx, rx) = m::oneshot::channel::<()>();
    drop(rx);
    let (ready, woken) = ready_until_pending!(tx.closed());
    assert_eq!(ready, 128);
    woken
});
