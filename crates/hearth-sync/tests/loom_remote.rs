//! loom models of the remote channel's wake protocol.
//!
//! Run: `RUSTFLAGS="--cfg loom" cargo test -p hearth-sync --release --test loom_remote`
#![cfg(loom)]
#![cfg_attr(feature = "nightly", feature(local_waker))]

use hearth_sync::remote;
use loom::future::block_on;
use loom::thread;

fn model(f: impl Fn() + Sync + Send + 'static) {
    let mut builder = loom::model::Builder::new();
    builder.preemption_bound = Some(3);
    builder.check(f);
}

/// A value sent while the receiver parks is never lost.
#[test]
fn unbounded_send_wakes_parked_receiver() {
    model(|| {
        let (tx, mut rx) = remote::unbounded_channel();
        let t = thread::spawn(move || {
            tx.send(1u8).unwrap();
        });
        assert_eq!(block_on(rx.recv()), Some(1));
        assert_eq!(block_on(rx.recv()), None);
        t.join().unwrap();
    });
}

/// A sender parked on a full channel is woken by the pop that frees a slot.
#[test]
fn bounded_full_sender_wakes_on_pop() {
    model(|| {
        let (tx, mut rx) = remote::channel(1);
        let t = thread::spawn(move || {
            block_on(async {
                tx.send(1u8).await.unwrap();
                tx.send(2u8).await.unwrap();
            });
        });
        assert_eq!(block_on(rx.recv()), Some(1));
        assert_eq!(block_on(rx.recv()), Some(2));
        assert_eq!(block_on(rx.recv()), None);
        t.join().unwrap();
    });
}

/// Two senders: the last drop closes, after both values.
#[test]
fn last_sender_drop_closes_after_values() {
    model(|| {
        let (tx, mut rx) = remote::unbounded_channel();
        let tx2 = tx.clone();
        let a = thread::spawn(move || tx.send(1u8).unwrap());
        let b = thread::spawn(move || tx2.send(2u8).unwrap());
        let x = block_on(rx.recv()).unwrap();
        let y = block_on(rx.recv()).unwrap();
        assert_eq!(x + y, 3);
        assert_eq!(block_on(rx.recv()), None);
        a.join().unwrap();
        b.join().unwrap();
    });
}

/// Dropping the receiver fails a parked sender and drops queued values.
#[test]
fn receiver_drop_fails_parked_sender() {
    model(|| {
        let (tx, rx) = remote::channel(1);
        let t = thread::spawn(move || {
            block_on(async {
                let first = tx.send(loom::sync::Arc::new(1u8)).await;
                let second = tx.send(loom::sync::Arc::new(2u8)).await;
                (first.is_ok(), second.is_ok())
            })
        });
        drop(rx);
        let (first, second) = t.join().unwrap();
        // Once the receiver is gone, nothing more can be sent.
        assert!(first || !second);
    });
}
