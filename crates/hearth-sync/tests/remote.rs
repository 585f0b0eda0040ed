//! The cross-thread channel, with real threads.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use common::Probe;
use hearth_sync::remote::{self, SendError, TryRecvError, TrySendError};

const N: usize = if cfg!(miri) { 50 } else { 10_000 };

#[test]
fn bounded_many_senders_every_value_arrives() {
    let (tx, mut rx) = remote::channel(4);
    let threads: Vec<_> = (0..3)
        .map(|t| {
            let tx = tx.clone();
            std::thread::spawn(move || {
                futures::executor::block_on(async {
                    for i in 0..N {
                        tx.send(t * N + i).await.unwrap();
                    }
                })
            })
        })
        .collect();
    drop(tx);
    let mut got = futures::executor::block_on(async {
        let mut got = Vec::new();
        while let Some(v) = rx.recv().await {
            got.push(v);
        }
        got
    });
    for t in threads {
        t.join().unwrap();
    }
    got.sort_unstable();
    assert_eq!(got, (0..3 * N).collect::<Vec<_>>());
}

#[test]
fn unbounded_from_threads() {
    let (tx, mut rx) = remote::unbounded_channel();
    let t = std::thread::spawn(move || {
        for i in 0..N {
            tx.send(i).unwrap();
        }
    });
    let sum = futures::executor::block_on(async {
        let mut sum = 0;
        while let Some(v) = rx.recv().await {
            sum += v;
        }
        sum
    });
    t.join().unwrap();
    assert_eq!(sum, (0..N).sum());
}

#[test]
fn receiver_parks_and_wakes() {
    let (tx, mut rx) = remote::unbounded_channel();
    let mut r = Probe::new(async move { rx.recv().await });
    r.pending();
    tx.send(1).unwrap();
    assert_eq!(r.woken(), 1);
    assert_eq!(r.ready(), Some(1));
}

#[test]
fn full_sender_parks_and_is_woken_by_a_pop() {
    let (tx, mut rx) = remote::channel(1);
    tx.try_send(1).unwrap();
    assert_eq!(tx.try_send(2), Err(TrySendError::Full(2)));
    let mut s = Probe::new(tx.send(2));
    s.pending();
    assert_eq!(rx.try_recv(), Ok(1));
    assert_eq!(s.woken(), 1);
    s.ready().unwrap();
    assert_eq!(rx.try_recv(), Ok(2));
    assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
}

#[test]
fn cancelled_woken_sender_passes_the_wake_on() {
    let (tx, mut rx) = remote::channel(1);
    tx.try_send(0).unwrap();
    let mut a = Probe::new(tx.send(1));
    let mut b = Probe::new(tx.send(2));
    a.pending();
    b.pending();
    rx.try_recv().unwrap();
    assert_eq!((a.woken(), b.woken()), (1, 0));
    drop(a);
    assert_eq!(b.woken(), 1);
    b.ready().unwrap();
}

#[test]
fn receiver_drop_fails_parked_senders_and_drops_values_once() {
    struct D(Arc<AtomicUsize>);
    impl Drop for D {
        fn drop(&mut self) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }
    let drops = Arc::new(AtomicUsize::new(0));
    let (tx, rx) = remote::channel(1);
    tx.try_send(D(drops.clone())).unwrap();
    let mut s = Probe::new(tx.send(D(drops.clone())));
    s.pending();
    drop(rx);
    assert_eq!(drops.load(Ordering::SeqCst), 1);
    assert_eq!(s.woken(), 1);
    let SendError(v) = s.ready().unwrap_err();
    drop(v);
    assert_eq!(drops.load(Ordering::SeqCst), 2);
    assert!(tx.is_closed());
}

#[test]
fn last_sender_drop_wakes_receiver() {
    let (tx, mut rx) = remote::channel::<u8>(2);
    let tx2 = tx.clone();
    let mut r = Probe::new(async move { rx.recv().await });
    r.pending();
    drop(tx);
    assert_eq!(r.woken(), 0);
    std::thread::spawn(move || drop(tx2)).join().unwrap();
    assert_eq!(r.woken(), 1);
    assert_eq!(r.ready(), None);
}

#[test]
fn close_keeps_queued_values() {
    let (tx, mut rx) = remote::unbounded_channel();
    tx.send(1).unwrap();
    rx.close();
    assert!(tx.send(2).is_err());
    assert_eq!(rx.try_recv(), Ok(1));
    assert_eq!(rx.try_recv(), Err(TryRecvError::Disconnected));
}

#[test]
fn remote_handles_are_send() {
    fn is_send<T: Send>() {}
    fn is_sync<T: Sync>() {}
    is_send::<remote::Sender<u8>>();
    is_sync::<remote::Sender<u8>>();
    is_send::<remote::UnboundedSender<u8>>();
    is_send::<remote::Receiver<u8>>();
}
