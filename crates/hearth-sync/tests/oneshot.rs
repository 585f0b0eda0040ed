//! oneshot behaviour.

mod common;

use std::cell::Cell;
use std::rc::Rc;

use common::Probe;
use hearth_sync::oneshot::{self, error::*};

#[test]
fn send_then_receive() {
    let (tx, rx) = oneshot::channel();
    let mut r = Probe::new(rx);
    r.pending();
    tx.send(3).unwrap();
    assert_eq!(r.woken(), 1);
    assert_eq!(r.ready(), Ok(3));
}

#[test]
fn sender_drop_wakes_receiver_with_error() {
    let (tx, rx) = oneshot::channel::<u8>();
    let mut r = Probe::new(rx);
    r.pending();
    drop(tx);
    assert_eq!(r.woken(), 1);
    assert_eq!(r.ready(), Err(r_err()));
}

fn r_err() -> RecvError {
    let (tx, rx) = oneshot::channel::<u8>();
    drop(tx);
    futures::executor::block_on(rx).unwrap_err()
}

#[test]
fn try_recv_states() {
    let (tx, mut rx) = oneshot::channel();
    assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
    tx.send(1).unwrap();
    assert_eq!(rx.try_recv(), Ok(1));
    assert_eq!(rx.try_recv(), Err(TryRecvError::Closed));
}

#[test]
fn closed_wakes_on_receiver_drop_and_send_fails() {
    let (mut tx, rx) = oneshot::channel::<u8>();
    assert!(!tx.is_closed());
    {
        let mut c = Probe::new(tx.closed());
        c.pending();
        drop(rx);
        assert_eq!(c.woken(), 1);
        c.ready();
    }
    assert!(tx.is_closed());
    assert_eq!(tx.send(5), Err(5));
}

#[test]
fn close_keeps_a_value_already_sent() {
    let (tx, mut rx) = oneshot::channel();
    tx.send(9).unwrap();
    rx.close();
    assert_eq!(rx.try_recv(), Ok(9));
    let (tx, mut rx) = oneshot::channel();
    rx.close();
    assert_eq!(tx.send(9), Err(9));
}

#[test]
fn value_dropped_once_with_the_receiver() {
    struct D(Rc<Cell<u8>>);
    impl Drop for D {
        fn drop(&mut self) {
            self.0.set(self.0.get() + 1);
        }
    }
    let n = Rc::new(Cell::new(0));
    let (tx, rx) = oneshot::channel();
    assert!(tx.send(D(n.clone())).is_ok());
    assert_eq!(n.get(), 0);
    drop(rx);
    assert_eq!(n.get(), 1);
}

#[test]
fn errors_display() {
    assert_eq!(r_err().to_string(), "channel closed");
    assert_eq!(TryRecvError::Empty.to_string(), "channel empty");
}
