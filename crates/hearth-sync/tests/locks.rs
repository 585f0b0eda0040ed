//! Mutex and RwLock behaviour.

mod common;

use std::rc::Rc;

use common::Probe;
use hearth_sync::{Mutex, RwLock};

#[test]
fn mutex_is_exclusive_and_fifo() {
    let m = Mutex::new(0);
    let g = m.try_lock().unwrap();
    let mut a = Probe::new(m.lock());
    let mut b = Probe::new(m.lock());
    a.pending();
    b.pending();
    assert!(m.try_lock().is_err());
    drop(g);
    assert_eq!((a.woken(), b.woken()), (1, 0));
    let mut ga = a.ready();
    *ga += 1;
    drop(ga);
    assert_eq!(*b.ready(), 1);
}

#[test]
fn mutex_lock_handed_to_a_dropped_waiter_passes_on() {
    let m = Mutex::new(());
    let g = m.try_lock().unwrap();
    let mut a = Probe::new(m.lock());
    let mut b = Probe::new(m.lock());
    a.pending();
    b.pending();
    drop(g);
    drop(a);
    assert_eq!(b.woken(), 1);
    let _g = b.ready();
}

#[test]
fn owned_guards_and_debug() {
    let m = Rc::new(Mutex::new(vec![1]));
    let mut g = Probe::new(m.clone().lock_owned()).ready();
    g.push(2);
    assert_eq!(format!("{:?}", m), "Mutex { data: <locked> }");
    assert!(m.clone().try_lock_owned().is_err());
    drop(g);
    assert_eq!(format!("{:?}", m), "Mutex { data: [1, 2] }");
    let mut m = Rc::try_unwrap(m).unwrap();
    m.get_mut().push(3);
    assert_eq!(m.into_inner(), [1, 2, 3]);
}

#[test]
fn rwlock_readers_share_writer_excludes() {
    let l = RwLock::new(1);
    let r1 = l.try_read().unwrap();
    let r2 = Probe::new(l.read()).ready();
    assert_eq!(*r1 + *r2, 2);
    let mut w = Probe::new(l.write());
    w.pending();
    // A queued writer holds back later readers (no writer starvation).
    assert!(l.try_read().is_err());
    let mut r3 = Probe::new(l.read());
    r3.pending();
    drop(r1);
    assert_eq!(w.woken(), 0);
    drop(r2);
    assert_eq!((w.woken(), r3.woken()), (1, 0));
    let mut wg = w.ready();
    *wg = 5;
    drop(wg);
    assert_eq!(r3.woken(), 1);
    assert_eq!(*r3.ready(), 5);
}

#[test]
fn rwlock_cancelled_writer_releases_readers_behind_it() {
    let l = RwLock::new(());
    let r = l.try_read().unwrap();
    let mut w = Probe::new(l.write());
    let mut r2 = Probe::new(l.read());
    w.pending();
    r2.pending();
    drop(w);
    assert_eq!(r2.woken(), 1);
    let _g = r2.ready();
    drop(r);
}

#[test]
fn contention_through_a_dual_executor() {
    let ex = common::Executor::default();
    let m = Rc::new(Mutex::new(0u64));
    for _ in 0..50 {
        let m = m.clone();
        ex.spawn(async move {
            for _ in 0..20 {
                let mut g = m.lock().await;
                let v = *g;
                yield_now().await; // let others try while held
                *g = v + 1;
            }
        });
    }
    ex.run();
    assert_eq!(*m.try_lock().unwrap(), 50 * 20);
}

/// Yields once, waking itself.
async fn yield_now() {
    let mut yielded = false;
    std::future::poll_fn(|cx| {
        if yielded {
            return std::task::Poll::Ready(());
        }
        yielded = true;
        cx.waker().wake_by_ref();
        std::task::Poll::Pending
    })
    .await
}
