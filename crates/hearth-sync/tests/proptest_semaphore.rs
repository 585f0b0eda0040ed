//! Random interleavings of acquire / poll / drop / release against a model of
//! a FIFO-fair semaphore.

mod common;

use std::collections::VecDeque;

use common::Probe;
use hearth_sync::{Acquire, Semaphore, SemaphorePermit};
use proptest::prelude::*;

#[derive(Debug, Clone)]
enum Op {
    Acquire(usize),
    Poll(usize),
    DropWaiter(usize),
    Release(usize),
    AddPermits(usize),
    TryAcquire(usize),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (1usize..4).prop_map(Op::Acquire),
        any::<usize>().prop_map(Op::Poll),
        any::<usize>().prop_map(Op::DropWaiter),
        any::<usize>().prop_map(Op::Release),
        (0usize..4).prop_map(Op::AddPermits),
        (1usize..3).prop_map(Op::TryAcquire),
    ]
}

/// The model: free permits and the FIFO of waiting requests.
struct Model {
    free: usize,
    /// (waiter id, permits) in arrival order.
    queue: VecDeque<(usize, usize)>,
    /// Waiters granted permits they have not observed yet.
    granted: Vec<usize>,
}

impl Model {
    fn grant(&mut self) {
        while let Some(&(id, n)) = self.queue.front() {
            if n > self.free {
                break;
            }
            self.free -= n;
            self.queue.pop_front();
            self.granted.push(id);
        }
    }
}

struct Waiter<'a> {
    id: usize,
    n: usize,
    probe: Probe<Acquire<'a>>,
}

fn cases() -> u32 {
    if cfg!(miri) {
        8
    } else {
        256
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn semaphore_matches_model(initial in 0usize..4, ops in proptest::collection::vec(op(), 1..60)) {
        let sem = Semaphore::new(initial);
        let mut model = Model { free: initial, queue: VecDeque::new(), granted: Vec::new() };
        let mut waiters: Vec<Waiter<'_>> = Vec::new();
        let mut held: Vec<SemaphorePermit<'_>> = Vec::new();
        let mut next_id = 0;
        let mut total = initial;
        for op in ops {
            match op {
                Op::Acquire(n) => {
                    let id = next_id;
                    next_id += 1;
                    let mut probe = Probe::new(sem.acquire_many(n as u32));
                    let immediate = model.queue.is_empty() && model.free >= n;
                    match probe.poll() {
                        std::task::Poll::Ready(p) => {
                            prop_assert!(immediate, "acquired past the queue");
                            model.free -= n;
                            held.push(p.unwrap());
                        }
                        std::task::Poll::Pending => {
                            prop_assert!(!immediate, "waited although permits were free");
                            model.queue.push_back((id, n));
                            waiters.push(Waiter { id, n, probe });
                        }
                    }
                }
                Op::Poll(i) if !waiters.is_empty() => {
                    let i = i % waiters.len();
                    let id = waiters[i].id;
                    let granted = model.granted.contains(&id);
                    prop_assert_eq!(waiters[i].probe.woken() > 0, granted, "woken iff granted");
                    match waiters[i].probe.poll() {
                        std::task::Poll::Ready(p) => {
                            prop_assert!(granted);
                            let p = p.unwrap();
                            prop_assert_eq!(p.num_permits(), waiters[i].n);
                            held.push(p);
                            model.granted.retain(|&g| g != id);
                            waiters.swap_remove(i);
                        }
                        std::task::Poll::Pending => prop_assert!(!granted),
                    }
                }
                Op::DropWaiter(i) if !waiters.is_empty() => {
                    let w = waiters.swap_remove(i % waiters.len());
                    if model.granted.contains(&w.id) {
                        model.granted.retain(|&g| g != w.id);
                        model.free += w.n;
                    } else {
                        model.queue.retain(|&(id, _)| id != w.id);
                    }
                    drop(w);
                    model.grant();
                }
                Op::Release(i) if !held.is_empty() => {
                    let p = held.swap_remove(i % held.len());
                    model.free += p.num_permits();
                    drop(p);
                    model.grant();
                }
                Op::AddPermits(k) => {
                    sem.add_permits(k);
                    total += k;
                    model.free += k;
                    model.grant();
                }
                Op::TryAcquire(n) => {
                    let ok = model.queue.is_empty() && model.free >= n;
                    match sem.try_acquire_many(n as u32) {
                        Ok(p) => {
                            prop_assert!(ok);
                            model.free -= n;
                            held.push(p);
                        }
                        Err(_) => prop_assert!(!ok),
                    }
                }
                _ => {}
            }
            prop_assert_eq!(sem.available_permits(), model.free);
        }
        // Everything handed back: no permit lost or duplicated.
        drop(waiters);
        drop(held);
        prop_assert_eq!(sem.available_permits(), total);
    }
}
