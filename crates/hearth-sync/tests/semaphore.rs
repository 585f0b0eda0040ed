//! Semaphore behaviour: FIFO, cancellation, close, targeted wakes.

mod common;

use std::rc::Rc;

use common::Probe;
use hearth_sync::{AcquireError, Semaphore, TryAcquireError};

#[test]
fn acquire_and_release() {
    let sem = Semaphore::new(2);
    let a = Probe::new(sem.acquire()).ready().unwrap();
    let b = sem.try_acquire().unwrap();
    assert_eq!(sem.available_permits(), 0);
    assert_eq!(sem.try_acquire().unwrap_err(), TryAcquireError::NoPermits);
    drop(a);
    drop(b);
    assert_eq!(sem.available_permits(), 2);
}

#[test]
fn waiters_are_served_in_fifo_order() {
    let sem = Semaphore::new(0);
    let mut a = Probe::new(sem.acquire());
    let mut b = Probe::new(sem.acquire());
    a.pending();
    b.pending();
    sem.add_permits(1);
    assert_eq!(
        (a.woken(), b.woken()),
        (1, 0),
        "only the first waiter wakes"
    );
    b.pending();
    let pa = a.ready().unwrap();
    drop(pa);
    assert_eq!(b.woken(), 1);
    b.ready().unwrap().forget();
}

#[test]
fn large_request_at_the_front_blocks_later_small_ones() {
    let sem = Semaphore::new(1);
    let mut big = Probe::new(sem.acquire_many(3));
    big.pending();
    // Fairness: a small request may not overtake the queued big one.
    assert_eq!(sem.try_acquire().unwrap_err(), TryAcquireError::NoPermits);
    let mut small = Probe::new(sem.acquire());
    small.pending();
    sem.add_permits(1);
    assert_eq!(
        (big.woken(), small.woken()),
        (0, 0),
        "nobody fits yet: nobody wakes"
    );
    sem.add_permits(1);
    assert_eq!((big.woken(), small.woken()), (1, 0));
    let permit = big.ready().unwrap();
    assert_eq!(permit.num_permits(), 3);
    drop(permit);
    assert_eq!(small.woken(), 1);
    let _p = small.ready().unwrap();
}

#[test]
fn released_permits_wake_only_waiters_that_fit() {
    let sem = Semaphore::new(0);
    let mut waiters: Vec<_> = (0..100).map(|_| Probe::new(sem.acquire())).collect();
    for w in &mut waiters {
        w.pending();
    }
    sem.add_permits(3);
    let woken: usize = waiters.iter().map(|w| w.woken()).sum();
    assert_eq!(woken, 3);
    assert!(waiters[..3].iter().all(|w| w.woken() == 1));
}

#[test]
fn dropping_a_queued_waiter_lets_the_next_in() {
    let sem = Semaphore::new(1);
    let mut big = Probe::new(sem.acquire_many(2));
    let mut small = Probe::new(sem.acquire());
    big.pending();
    small.pending();
    drop(big);
    // The small request fits the free permit now that the front left.
    assert_eq!(small.woken(), 1);
    small.ready().unwrap().forget();
}

#[test]
fn permit_granted_to_a_dropped_waiter_passes_on() {
    let sem = Semaphore::new(0);
    let mut a = Probe::new(sem.acquire());
    let mut b = Probe::new(sem.acquire());
    a.pending();
    b.pending();
    sem.add_permits(1);
    assert_eq!(a.woken(), 1);
    drop(a); // granted, never observed
    assert_eq!(b.woken(), 1);
    let p = b.ready().unwrap();
    drop(p);
    assert_eq!(sem.available_permits(), 1);
}

#[test]
fn close_wakes_every_waiter_with_an_error() {
    let sem = Semaphore::new(0);
    let mut waiters: Vec<_> = (0..3).map(|_| Probe::new(sem.acquire())).collect();
    for w in &mut waiters {
        w.pending();
    }
    sem.close();
    for w in &mut waiters {
        assert_eq!(w.woken(), 1);
        let _: AcquireError = w.ready().unwrap_err();
    }
    assert!(sem.is_closed());
    assert_eq!(sem.try_acquire().unwrap_err(), TryAcquireError::Closed);
    assert!(Probe::new(sem.acquire()).ready().is_err());
}

#[test]
fn permits_granted_before_close_stay_valid() {
    let sem = Semaphore::new(1);
    let p = sem.try_acquire().unwrap();
    sem.close();
    drop(p);
    assert_eq!(sem.available_permits(), 1);
}

#[test]
fn owned_permits_hold_the_semaphore() {
    let sem = Rc::new(Semaphore::new(1));
    let p = Probe::new(sem.clone().acquire_owned()).ready().unwrap();
    let mut w = Probe::new(sem.clone().acquire_owned());
    w.pending();
    assert!(sem.clone().try_acquire_owned().is_err());
    drop(p);
    let p2 = w.ready().unwrap();
    assert!(Rc::ptr_eq(p2.semaphore(), &sem));
}

#[test]
fn forget_and_merge() {
    let sem = Semaphore::new(3);
    let mut a = sem.try_acquire().unwrap();
    let b = sem.try_acquire_many(2).unwrap();
    a.merge(b);
    assert_eq!(a.num_permits(), 3);
    a.forget();
    assert_eq!(sem.available_permits(), 0);
    sem.add_permits(2);
    assert_eq!(sem.forget_permits(5), 2);
}

#[test]
fn reregistering_with_the_same_waker_keeps_it() {
    let sem = Semaphore::new(0);
    let mut a = Probe::new(sem.acquire());
    for _ in 0..10 {
        a.pending();
    }
    // One clone of the waker (in the wait list) besides ours.
    assert_eq!(std::sync::Arc::strong_count(&a.wakes), 3);
    sem.add_permits(1);
    a.ready().unwrap().forget();
}

#[test]
fn errors_display() {
    assert_eq!(
        TryAcquireError::NoPermits.to_string(),
        "no permits available"
    );
    assert_eq!(TryAcquireError::Closed.to_string(), "semaphore closed");
}
