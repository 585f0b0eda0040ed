//! Random interleavings of send / recv / drop / close on a bounded mpsc
//! channel, against a model of the queue and the FIFO of parked senders.

mod common;

use std::collections::VecDeque;
use std::task::Poll;

use common::Probe;
use hearth_sync::mpsc::{self, error::TryRecvError, Send};
use proptest::prelude::*;

#[derive(Debug, Clone)]
enum Op {
    Send,
    TrySend,
    PollSend(usize),
    DropSend(usize),
    Recv,
    Close,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => Just(Op::Send),
        1 => Just(Op::TrySend),
        3 => any::<usize>().prop_map(Op::PollSend),
        1 => any::<usize>().prop_map(Op::DropSend),
        4 => Just(Op::Recv),
        1 => Just(Op::Close),
    ]
}

fn cases() -> u32 {
    if cfg!(miri) {
        8
    } else {
        256
    }
}

struct Model {
    cap: usize,
    queue: VecDeque<u32>,
    /// Senders parked for a slot, by value.
    waiting: VecDeque<u32>,
    /// Senders granted a slot they have not used yet.
    granted: Vec<u32>,
    closed: bool,
}

impl Model {
    fn free(&self) -> usize {
        self.cap - self.queue.len() - self.granted.len()
    }
    fn grant(&mut self) {
        if self.closed {
            return;
        }
        while self.free() > 0 {
            match self.waiting.pop_front() {
                Some(v) => self.granted.push(v),
                None => break,
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn bounded_channel_matches_model(cap in 1usize..4, ops in proptest::collection::vec(op(), 1..80)) {
        let (tx, mut rx) = mpsc::channel::<u32>(cap);
        let mut m = Model { cap, queue: VecDeque::new(), waiting: VecDeque::new(), granted: Vec::new(), closed: false };
        let mut sends: Vec<(u32, Probe<Send<'_, u32>>)> = Vec::new();
        let mut next = 0u32;
        for op in ops {
            match op {
                Op::Send => {
                    let v = next;
                    next += 1;
                    let mut p = Probe::new(tx.send(v));
                    let r = p.poll();
                    if m.closed {
                        prop_assert!(matches!(r, Poll::Ready(Err(_))));
                    } else if m.waiting.is_empty() && m.free() > 0 {
                        prop_assert!(matches!(r, Poll::Ready(Ok(()))));
                        m.queue.push_back(v);
                    } else {
                        prop_assert!(r.is_pending());
                        m.waiting.push_back(v);
                        sends.push((v, p));
                    }
                }
                Op::TrySend => {
                    let v = next;
                    next += 1;
                    let r = tx.try_send(v);
                    if m.closed {
                        prop_assert!(matches!(r, Err(mpsc::error::TrySendError::Closed(x)) if x == v));
                    } else if m.waiting.is_empty() && m.free() > 0 {
                        prop_assert!(r.is_ok());
                        m.queue.push_back(v);
                    } else {
                        prop_assert!(matches!(r, Err(mpsc::error::TrySendError::Full(x)) if x == v));
                    }
                }
                Op::PollSend(i) if !sends.is_empty() => {
                    let i = i % sends.len();
                    let v = sends[i].0;
                    let granted = m.granted.contains(&v);
                    prop_assert_eq!(sends[i].1.woken() > 0, granted || m.closed);
                    match sends[i].1.poll() {
                        Poll::Ready(Ok(())) => {
                            prop_assert!(granted && !m.closed);
                            m.granted.retain(|&g| g != v);
                            m.queue.push_back(v);
                            sends.swap_remove(i);
                        }
                        Poll::Ready(Err(e)) => {
                            prop_assert!(m.closed);
                            prop_assert_eq!(e.0, v);
                            m.granted.retain(|&g| g != v);
                            m.waiting.retain(|&w| w != v);
                            sends.swap_remove(i);
                        }
                        Poll::Pending => prop_assert!(!granted && !m.closed),
                    }
                }
                Op::DropSend(i) if !sends.is_empty() => {
                    let (v, p) = sends.swap_remove(i % sends.len());
                    drop(p);
                    m.granted.retain(|&g| g != v);
                    m.waiting.retain(|&w| w != v);
                    m.grant();
                }
                Op::Recv => {
                    let r = rx.try_recv();
                    match m.queue.pop_front() {
                        Some(v) => {
                            prop_assert_eq!(r, Ok(v));
                            m.grant();
                        }
                        None if m.closed && m.granted.is_empty() => prop_assert_eq!(r, Err(TryRecvError::Disconnected)),
                        None => prop_assert_eq!(r, Err(TryRecvError::Empty)),
                    }
                }
                Op::Close => {
                    rx.close();
                    m.closed = true;
                    m.waiting.clear();
                }
                _ => {}
            }
        }
        // Drain: every queued value comes out in order, then the end.
        drop(sends);
        drop(tx);
        for v in m.queue {
            prop_assert_eq!(rx.try_recv(), Ok(v));
        }
        prop_assert_eq!(rx.try_recv(), Err(TryRecvError::Disconnected));
    }
}
