//! `remote::Sender::blocking_send` and `remote::Receiver::blocking_recv`.
#![cfg(not(loom))]

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::thread;
use std::time::Duration;

use hearth_sync::remote;

#[test]
fn blocking_send_waits_for_room_and_reaches_an_async_receiver() {
    let (tx, mut rx) = remote::channel(1);
    let producer = thread::spawn(move || {
        for i in 0..100 {
            tx.blocking_send(i).unwrap();
        }
    });
    let got = futures::executor::block_on(async {
        let mut got = Vec::new();
        while let Some(i) = rx.recv().await {
            got.push(i);
        }
        got
    });
    producer.join().unwrap();
    assert_eq!(got, (0..100).collect::<Vec<_>>());
}

#[test]
fn blocking_recv_waits_for_an_async_sender() {
    let (tx, mut rx) = remote::channel(2);
    let consumer = thread::spawn(move || {
        let mut got = Vec::new();
        while let Some(i) = rx.blocking_recv() {
            got.push(i);
        }
        got
    });
    futures::executor::block_on(async move {
        for i in 0..50 {
            tx.send(i).await.unwrap();
        }
    });
    assert_eq!(consumer.join().unwrap(), (0..50).collect::<Vec<_>>());
}

#[test]
fn blocking_send_fails_with_the_value_when_the_receiver_goes_while_blocked() {
    let (tx, rx) = remote::channel(1);
    tx.blocking_send(1).unwrap();
    let dropper = thread::spawn(move || {
        thread::sleep(Duration::from_millis(20));
        drop(rx);
    });
    assert_eq!(tx.blocking_send(2).unwrap_err().0, 2);
    dropper.join().unwrap();
    assert!(tx.blocking_send(3).is_err());
}

#[test]
fn blocking_recv_many() {
    let (tx, mut rx) = remote::unbounded_channel();
    for i in 0..5 {
        tx.send(i).unwrap();
    }
    let mut buf = Vec::new();
    assert_eq!(rx.blocking_recv_many(&mut buf, 0), 0);
    assert_eq!(rx.blocking_recv_many(&mut buf, 3), 3);
    assert_eq!(rx.blocking_recv_many(&mut buf, 3), 2);
    assert_eq!(buf, [0, 1, 2, 3, 4]);
    drop(tx);
    assert_eq!(rx.blocking_recv_many(&mut buf, 3), 0);
}

fn message(err: Box<dyn std::any::Any + Send>) -> String {
    err.downcast_ref::<String>()
        .cloned()
        .or_else(|| err.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_default()
}

#[test]
fn blocking_on_an_executor_thread_panics_and_changes_nothing() {
    let (tx, mut rx) = remote::channel(1);
    // An executor sets the cooperative budget for its thread; hearth's does.
    let budget = hearth_task::coop::enter();
    let err = catch_unwind(AssertUnwindSafe(|| tx.blocking_send(1))).unwrap_err();
    assert!(message(err).contains("blocking_send was called on a thread that is running"));
    let err = catch_unwind(AssertUnwindSafe(|| rx.blocking_recv())).unwrap_err();
    assert!(message(err).contains("blocking_recv"));
    drop(budget);
    // Nothing was sent or lost; off the executor both work.
    assert!(rx.try_recv().is_err());
    tx.blocking_send(2).unwrap();
    assert_eq!(rx.blocking_recv(), Some(2));
}
