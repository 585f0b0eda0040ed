//! Panics in user code leave every primitive intact.
//!
//! hearth-sync runs user code when it wakes or drops a waker and when it
//! drops a queued value. Each test injects a panic there (a waker whose
//! `wake` or `drop` panics, a value whose `drop` panics), catches it, and
//! then checks that the primitive still works: later waiters were woken,
//! permits are conserved, the channel is usable.
#![cfg(not(loom))]

use std::cell::Cell;
use std::future::Future;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::rc::Rc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};

use hearth_sync::{mpsc, oneshot, remote, watch, Barrier, Mutex, Notify, Semaphore};

/// A waker that counts its wakes; it panics on a chosen wake, or when its
/// last clone is dropped.
struct Flaky {
    wakes: AtomicUsize,
    /// The wake (1-based) that panics; 0 for none.
    panic_on_wake: usize,
    panic_on_drop: bool,
}

impl Wake for Flaky {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }
    fn wake_by_ref(self: &Arc<Self>) {
        let n = self.wakes.fetch_add(1, Ordering::SeqCst) + 1;
        if n == self.panic_on_wake {
            panic!("injected: a waker's wake panics");
        }
    }
}

impl Drop for Flaky {
    fn drop(&mut self) {
        if self.panic_on_drop && !std::thread::panicking() {
            panic!("injected: a waker's drop panics");
        }
    }
}

fn flaky(panic_on_wake: usize, panic_on_drop: bool) -> (Waker, Arc<Flaky>) {
    let f = Arc::new(Flaky {
        wakes: AtomicUsize::new(0),
        panic_on_wake,
        panic_on_drop,
    });
    (Waker::from(f.clone()), f)
}

/// A waker that never panics, and its counter.
fn good() -> (Waker, Arc<Flaky>) {
    flaky(0, false)
}

/// A waker whose first wake panics.
fn panics_on_wake() -> (Waker, Arc<Flaky>) {
    flaky(1, false)
}

/// A waker whose drop panics. Only the returned `Waker` (and the clones the
/// primitive makes of it) hold it, so the primitive drops the last clone
/// once the caller drops this one.
fn panics_on_drop() -> Waker {
    flaky(0, true).0
}

impl Flaky {
    fn woken(&self) -> usize {
        self.wakes.load(Ordering::SeqCst)
    }
}

/// A future on the heap, polled by hand with any waker.
struct Task<F: Future>(Pin<Box<F>>);

impl<F: Future> Task<F> {
    fn new(fut: F) -> Self {
        Task(Box::pin(fut))
    }
    fn poll(&mut self, waker: &Waker) -> Poll<F::Output> {
        self.0.as_mut().poll(&mut Context::from_waker(waker))
    }
    #[track_caller]
    fn pending(&mut self, waker: &Waker) {
        assert!(self.poll(waker).is_pending(), "expected Pending");
    }
    #[track_caller]
    fn ready(&mut self) -> F::Output {
        match self.poll(&good().0) {
            Poll::Ready(v) => v,
            Poll::Pending => panic!("expected Ready"),
        }
    }
}

/// Runs `f` and asserts that it panicked.
#[track_caller]
fn panics(f: impl FnOnce()) {
    assert!(
        catch_unwind(AssertUnwindSafe(f)).is_err(),
        "the injected panic did not surface"
    );
}

/// Counts its drops; panics in its drop if told to.
struct Value {
    drops: Rc<Cell<usize>>,
    panic_on_drop: bool,
}

impl Drop for Value {
    fn drop(&mut self) {
        self.drops.set(self.drops.get() + 1);
        if self.panic_on_drop {
            panic!("injected: a value's drop panics");
        }
    }
}

fn value(drops: &Rc<Cell<usize>>, panic_on_drop: bool) -> Value {
    Value {
        drops: drops.clone(),
        panic_on_drop,
    }
}

// --- Semaphore and locks ---

#[test]
fn semaphore_release_with_a_panicking_waker_still_grants_the_waiters_behind_it() {
    let sem = Semaphore::new(0);
    let (bad, _) = panics_on_wake();
    let (w, woken) = good();
    let mut a = Task::new(sem.acquire());
    let mut b = Task::new(sem.acquire());
    let mut c = Task::new(sem.acquire());
    a.pending(&bad);
    b.pending(&w);
    c.pending(&w);
    panics(|| sem.add_permits(3));
    assert_eq!(woken.woken(), 2, "b and c were granted and woken");
    let permits = [a.ready(), b.ready(), c.ready()];
    assert_eq!(sem.available_permits(), 0);
    drop(permits);
    assert_eq!(sem.available_permits(), 3, "no permit lost");
    drop(sem.try_acquire_many(3).unwrap());
}

#[test]
fn semaphore_close_with_a_panicking_waker_wakes_every_waiter() {
    let sem = Semaphore::new(0);
    let (bad, _) = panics_on_wake();
    let (w, woken) = good();
    let mut a = Task::new(sem.acquire());
    let mut b = Task::new(sem.acquire());
    let mut c = Task::new(sem.acquire());
    a.pending(&bad);
    b.pending(&w);
    c.pending(&w);
    panics(|| sem.close());
    assert_eq!(woken.woken(), 2);
    assert!(a.ready().is_err() && b.ready().is_err() && c.ready().is_err());
}

#[test]
fn semaphore_cancel_with_a_panicking_waker_drop_lets_the_waiters_behind_it_in() {
    let sem = Semaphore::new(1);
    let bad = panics_on_drop();
    let mut big = Task::new(sem.acquire_many(2));
    big.pending(&bad);
    drop(bad);
    let (w, woken) = good();
    let mut small = Task::new(sem.acquire());
    small.pending(&w);
    panics(|| drop(big));
    assert_eq!(woken.woken(), 1, "the small request fits now");
    let permit = small.ready().unwrap();
    drop(permit);
    assert_eq!(sem.available_permits(), 1);
}

#[test]
fn granted_waiter_dropped_with_a_panicking_waker_drop_returns_its_permits() {
    let sem = Semaphore::new(0);
    let bad = panics_on_drop();
    let mut a = Task::new(sem.acquire());
    a.pending(&bad);
    // Re-polled with another waker: the list now holds `bad`'s last clone
    // only until the re-poll replaces it.
    drop(bad);
    let (w, _) = good();
    panics(|| a.pending(&w));
    sem.add_permits(1);
    drop(a);
    assert_eq!(sem.available_permits(), 1, "the granted permit came back");
}

#[test]
fn mutex_unlock_with_a_panicking_waker_hands_the_lock_on() {
    let mutex = Mutex::new(0);
    let guard = mutex.try_lock().unwrap();
    let (bad, _) = panics_on_wake();
    let (w, woken) = good();
    let mut a = Task::new(mutex.lock());
    let mut b = Task::new(mutex.lock());
    a.pending(&bad);
    b.pending(&w);
    panics(|| drop(guard));
    *a.ready() += 1; // the lock went to `a` anyway
    assert_eq!(woken.woken(), 1, "a's unlock woke b");
    assert_eq!(*b.ready(), 1);
}

// --- Notify ---

#[test]
fn notify_waiters_with_a_panicking_waker_wakes_every_waiter() {
    let n = Notify::new();
    let (bad, _) = panics_on_wake();
    let (w, woken) = good();
    let mut a = Task::new(n.notified());
    let mut b = Task::new(n.notified());
    let mut c = Task::new(n.notified());
    a.pending(&bad);
    b.pending(&w);
    c.pending(&w);
    panics(|| n.notify_waiters());
    assert_eq!(woken.woken(), 2);
    a.ready();
    b.ready();
    c.ready();
    n.notify_one();
    Task::new(n.notified()).ready();
}

#[test]
fn notify_one_with_a_panicking_waker_delivers_the_notification() {
    let n = Notify::new();
    let (bad, _) = panics_on_wake();
    let mut a = Task::new(n.notified());
    a.pending(&bad);
    panics(|| n.notify_one());
    // Dropped without seeing it: the notification passes on as the permit.
    drop(a);
    Task::new(n.notified()).ready();
}

// --- Barrier ---

#[test]
fn barrier_release_with_a_panicking_waker_releases_everyone() {
    let barrier = Barrier::new(3);
    let (bad, _) = panics_on_wake();
    let (w, woken) = good();
    let mut x = Task::new(barrier.wait());
    let mut y = Task::new(barrier.wait());
    x.pending(&bad);
    y.pending(&w);
    let mut leader = Task::new(barrier.wait());
    panics(|| {
        let _ = leader.poll(&w);
    });
    drop(leader);
    assert_eq!(woken.woken(), 1, "y was woken");
    assert!(!x.ready().is_leader());
    assert!(!y.ready().is_leader());
    // The next generation starts from zero arrivals.
    let mut p = Task::new(barrier.wait());
    let mut q = Task::new(barrier.wait());
    p.pending(&w);
    q.pending(&w);
    assert!(Task::new(barrier.wait()).ready().is_leader());
}

#[test]
fn barrier_wait_dropped_with_a_panicking_waker_drop_withdraws_its_arrival() {
    let barrier = Barrier::new(2);
    let bad = panics_on_drop();
    let mut x = Task::new(barrier.wait());
    x.pending(&bad);
    drop(bad);
    panics(|| drop(x));
    let (w, _) = good();
    let mut y = Task::new(barrier.wait());
    y.pending(&w);
    assert!(Task::new(barrier.wait()).ready().is_leader());
    assert!(!y.ready().is_leader());
}

// --- mpsc ---

#[test]
fn mpsc_close_with_a_panicking_sender_waker_wakes_every_sender_and_closed() {
    let (tx, mut rx) = mpsc::channel(1);
    tx.try_send(0).unwrap();
    let (bad, _) = panics_on_wake();
    let (w, woken) = good();
    let mut s1 = Task::new(tx.send(1));
    let mut s2 = Task::new(tx.send(2));
    let mut closed = Task::new(tx.closed());
    s1.pending(&bad);
    s2.pending(&w);
    closed.pending(&w);
    panics(|| rx.close());
    assert_eq!(woken.woken(), 2, "s2 and closed() were woken");
    assert_eq!(s1.ready().unwrap_err().0, 1);
    assert_eq!(s2.ready().unwrap_err().0, 2);
    closed.ready();
    assert_eq!(rx.try_recv(), Ok(0));
    assert_eq!(Task::new(rx.recv()).ready(), None);
}

#[test]
fn mpsc_receiver_drop_with_panicking_wakers_and_values_drops_every_value_once() {
    let drops = Rc::new(Cell::new(0));
    let (tx, rx) = mpsc::channel(3);
    tx.try_send(value(&drops, false)).unwrap();
    tx.try_send(value(&drops, true)).unwrap();
    tx.try_send(value(&drops, false)).unwrap();
    let (bad, _) = panics_on_wake();
    let (w, woken) = good();
    let mut blocked = Task::new(tx.send(value(&drops, false)));
    let mut closed = Task::new(tx.closed());
    blocked.pending(&bad);
    closed.pending(&w);
    panics(|| drop(rx));
    assert_eq!(drops.get(), 3, "every queued value dropped");
    assert_eq!(woken.woken(), 1, "closed() was woken");
    closed.ready();
    let back = blocked.ready().unwrap_err().0;
    drop(back);
    assert_eq!(drops.get(), 4);
    assert!(tx.is_closed());
    assert!(tx.try_send(value(&drops, false)).is_err());
    drop(blocked);
    drop(closed);
    drop(tx);
    assert_eq!(drops.get(), 5, "nothing dropped twice, nothing leaked");
}

#[test]
fn mpsc_send_that_wakes_a_panicking_receiver_keeps_the_value() {
    let (tx, mut rx) = mpsc::channel(4);
    let (bad, _) = panics_on_wake();
    Task::new(rx.recv()).pending(&bad);
    panics(|| tx.try_send(1).unwrap());
    assert_eq!(Task::new(rx.recv()).ready(), Some(1));
    // Parking and waking still work.
    let (w, woken) = good();
    let mut r = Task::new(rx.recv());
    r.pending(&w);
    tx.try_send(2).unwrap();
    assert_eq!(woken.woken(), 1);
    assert_eq!(r.ready(), Some(2));
}

#[test]
fn mpsc_recv_that_hands_a_slot_to_a_panicking_sender_conserves_slots() {
    let (tx, mut rx) = mpsc::channel(1);
    tx.try_send(0).unwrap();
    let (bad, _) = panics_on_wake();
    let (w, woken) = good();
    let mut s1 = Task::new(tx.send(1));
    let mut s2 = Task::new(tx.send(2));
    s1.pending(&bad);
    s2.pending(&w);
    // The value popped is lost with the panic (as in tokio); the slot is not.
    panics(|| {
        let _ = rx.try_recv();
    });
    s1.ready().unwrap();
    assert_eq!(rx.try_recv(), Ok(1));
    assert_eq!(woken.woken(), 1);
    s2.ready().unwrap();
    assert_eq!(rx.try_recv(), Ok(2));
    assert_eq!(tx.capacity(), 1);
}

#[test]
fn mpsc_slot_returned_after_close_wakes_the_receiver_despite_a_panicking_sender() {
    let (tx, mut rx) = mpsc::channel::<u8>(1);
    let permit = tx.try_reserve().unwrap();
    let (bad, _) = panics_on_wake();
    let mut reserve = Task::new(tx.reserve());
    reserve.pending(&bad);
    panics(|| drop(permit)); // hands the slot to `reserve`, whose wake panics
    rx.close();
    let (w, woken) = good();
    let mut recv = Task::new(rx.recv());
    recv.pending(&w);
    drop(reserve);
    assert_eq!(woken.woken(), 1);
    assert_eq!(recv.ready(), None);
}

// --- oneshot ---

#[test]
fn oneshot_close_with_a_panicking_sender_waker_still_closes() {
    let (mut tx, mut rx) = oneshot::channel::<u8>();
    let (bad, _) = panics_on_wake();
    let mut closed = Task::new(tx.closed());
    closed.pending(&bad);
    panics(|| rx.close());
    closed.ready();
    drop(closed);
    assert!(tx.is_closed());
    assert_eq!(tx.send(1), Err(1));
    assert!(Task::new(rx).ready().is_err());
}

#[test]
fn oneshot_value_with_a_panicking_drop_is_dropped_once() {
    let drops = Rc::new(Cell::new(0));
    let (tx, rx) = oneshot::channel();
    assert!(tx.send(value(&drops, true)).is_ok());
    panics(|| drop(rx));
    assert_eq!(drops.get(), 1);
}

// --- watch ---

#[test]
fn watch_send_and_sender_drop_with_a_panicking_waker_wake_every_receiver() {
    let (tx, mut rx1) = watch::channel(0);
    let mut rx2 = rx1.clone();
    let (bad, _) = panics_on_wake();
    let (w, woken) = good();
    {
        let mut a = Task::new(rx1.changed());
        let mut b = Task::new(rx2.changed());
        a.pending(&bad);
        b.pending(&w);
        panics(|| {
            let _ = tx.send(1);
        });
        assert_eq!(woken.woken(), 1);
        assert!(a.ready().is_ok() && b.ready().is_ok());
    }
    let (bad, _) = panics_on_wake();
    let mut a = Task::new(rx1.changed());
    let mut b = Task::new(rx2.changed());
    a.pending(&bad);
    b.pending(&w);
    panics(|| drop(tx));
    assert_eq!(woken.woken(), 2);
    assert!(a.ready().is_err() && b.ready().is_err());
}

// --- remote ---

#[test]
fn remote_close_with_a_panicking_sender_waker_wakes_every_sender() {
    let (tx, mut rx) = remote::channel(1);
    tx.try_send(0).unwrap();
    let (bad, _) = panics_on_wake();
    let (w, woken) = good();
    let mut s1 = Task::new(tx.send(1));
    let mut s2 = Task::new(tx.send(2));
    s1.pending(&bad);
    s2.pending(&w);
    panics(|| rx.close());
    assert_eq!(woken.woken(), 1, "s2 was woken");
    assert_eq!(s1.ready().unwrap_err().0, 1);
    assert_eq!(s2.ready().unwrap_err().0, 2);
    assert_eq!(rx.try_recv(), Ok(0));
    assert_eq!(Task::new(rx.recv()).ready(), None);
}

#[test]
fn remote_receiver_waker_panicking_on_wake_keeps_the_value() {
    let (tx, mut rx) = remote::unbounded_channel();
    let (bad, _) = panics_on_wake();
    Task::new(rx.recv()).pending(&bad);
    panics(|| tx.send(1).unwrap());
    assert_eq!(Task::new(rx.recv()).ready(), Some(1));
    let (w, woken) = good();
    let mut r = Task::new(rx.recv());
    r.pending(&w);
    tx.send(2).unwrap();
    assert_eq!(woken.woken(), 1);
    assert_eq!(r.ready(), Some(2));
}

#[test]
fn remote_receiver_drop_with_a_panicking_value_drops_every_value_once() {
    let drops = Arc::new(AtomicUsize::new(0));
    struct V(Arc<AtomicUsize>, bool);
    impl Drop for V {
        fn drop(&mut self) {
            self.0.fetch_add(1, Ordering::SeqCst);
            if self.1 {
                panic!("injected: a value's drop panics");
            }
        }
    }
    let (tx, rx) = remote::unbounded_channel();
    tx.send(V(drops.clone(), false)).unwrap();
    tx.send(V(drops.clone(), true)).unwrap();
    tx.send(V(drops.clone(), false)).unwrap();
    panics(|| drop(rx));
    assert!(tx.is_closed());
    assert!(tx.send(V(drops.clone(), false)).is_err());
    assert_eq!(drops.load(Ordering::SeqCst), 4);
    drop(tx);
    assert_eq!(drops.load(Ordering::SeqCst), 4, "each value dropped once");
}

#[test]
fn remote_send_whose_stale_waker_drop_panics_still_wakes_the_receiver() {
    let (tx, mut rx) = remote::channel(1);
    tx.try_send(0).unwrap();
    let (w, _) = good();
    let mut s1 = Task::new(tx.send(1));
    s1.pending(&w);
    let bad = panics_on_drop();
    let mut s2 = Task::new(tx.send(2));
    s2.pending(&bad);
    drop(bad);
    assert_eq!(rx.try_recv(), Ok(0)); // frees the slot, wakes s1
    let (wr, rx_woken) = good();
    let mut r = Task::new(rx.recv());
    r.pending(&wr);
    // s2 takes the slot; leaving the parked list drops its last waker clone.
    panics(|| {
        let _ = s2.poll(&w);
    });
    assert_eq!(rx_woken.woken(), 1, "the receiver learnt of the value");
    assert_eq!(r.ready(), Some(2));
    drop(r);
    drop(s2);
    s1.ready().unwrap();
    assert_eq!(rx.try_recv(), Ok(1));
}
