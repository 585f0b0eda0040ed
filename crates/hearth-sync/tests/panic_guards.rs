//! Panics in the user code of the issue-12 API leave every primitive intact:
//! a `map` closure of a lock guard, a waker woken by a downgrade or by a
//! returned batch of channel permits, a `send_modify` closure.
//!
//! After each injected panic the test checks that the lock is neither held
//! forever nor released twice (the semaphore's permit count is exact), and
//! that waiters still get what they wait for. Runs under Miri too (the
//! mapped guards are raw pointers).
#![cfg(not(loom))]

mod common;

use std::future::Future;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::rc::Rc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};

use common::Probe;
use hearth_sync::{
    mpsc, watch, Mutex, MutexGuard, OwnedMutexGuard, OwnedRwLockWriteGuard, RwLock,
    RwLockReadGuard, RwLockWriteGuard,
};

/// Runs `f` and asserts that it panicked.
#[track_caller]
fn panics<R>(f: impl FnOnce() -> R) {
    assert!(
        catch_unwind(AssertUnwindSafe(f)).is_err(),
        "the injected panic did not surface"
    );
}

/// A waker whose first wake panics; counts its wakes.
struct PanicsOnWake(AtomicUsize);

impl Wake for PanicsOnWake {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }
    fn wake_by_ref(self: &Arc<Self>) {
        if self.0.fetch_add(1, Ordering::SeqCst) == 0 {
            panic!("injected: a waker's wake panics");
        }
    }
}

fn panics_on_wake() -> Waker {
    Waker::from(Arc::new(PanicsOnWake(AtomicUsize::new(0))))
}

#[test]
fn mutex_map_closure_panic_unlocks_once() {
    let m = Mutex::new(1);
    let mut waiter = None;
    panics(|| {
        let guard = m.try_lock().unwrap();
        let mut w = Probe::new(m.lock());
        assert!(w.poll().is_pending());
        waiter = Some(w);
        MutexGuard::map(guard, |_| -> &mut u8 {
            panic!("injected: a map closure panics")
        })
    });
    // The unwinding unlocked, which handed the lock to the queued waiter.
    let mut waiter = waiter.unwrap();
    assert_eq!(waiter.woken(), 1);
    let guard = waiter.ready();
    assert!(m.try_lock().is_err());
    drop(guard);
    drop(waiter);
    // Exactly one permit: locking twice is impossible, once is possible.
    let g = m.try_lock().unwrap();
    assert!(m.try_lock().is_err());
    drop(g);
    panics(|| {
        let guard = m.try_lock().unwrap();
        MutexGuard::try_map(guard, |_| -> Option<&mut u8> {
            panic!("injected: try_map")
        })
    });
    let g = m.try_lock().unwrap();
    assert!(m.try_lock().is_err());
    drop(g);
}

#[test]
fn mapped_mutex_guard_map_panic_unlocks_once() {
    let m = Mutex::new((1, 2));
    panics(|| {
        let mapped = MutexGuard::map(m.try_lock().unwrap(), |v| &mut v.0);
        hearth_sync::MappedMutexGuard::map(mapped, |_| -> &mut u8 { panic!("injected") })
    });
    let g = m.try_lock().unwrap();
    assert!(m.try_lock().is_err());
    drop(g);
}

#[test]
fn owned_mutex_map_closure_panic_unlocks_once() {
    let m = Rc::new(Mutex::new(vec![1]));
    panics(|| {
        let guard = m.clone().try_lock_owned().unwrap();
        OwnedMutexGuard::map(guard, |_| -> &mut u8 { panic!("injected") })
    });
    assert_eq!(Rc::strong_count(&m), 1, "the guard's Rc was dropped");
    let g = m.clone().try_lock_owned().unwrap();
    assert!(m.try_lock().is_err());
    drop(g);
    assert!(m.try_lock().is_ok());
}

/// Whether the lock is free: a write succeeds, and only one.
fn rwlock_is_free<T>(lock: &RwLock<T>) -> bool {
    let Ok(w) = lock.try_write() else {
        return false;
    };
    let exclusive = lock.try_read().is_err() && lock.try_write().is_err();
    drop(w);
    exclusive
}

#[test]
fn rwlock_map_closure_panics_release_once() {
    let lock = RwLock::with_max_readers(0u8, 4);
    panics(|| RwLockReadGuard::map(lock.try_read().unwrap(), |_| -> &u8 { panic!("injected") }));
    assert!(rwlock_is_free(&lock));
    panics(|| {
        RwLockWriteGuard::map(lock.try_write().unwrap(), |_| -> &mut u8 {
            panic!("injected")
        })
    });
    assert!(rwlock_is_free(&lock));
    panics(|| {
        RwLockWriteGuard::downgrade_map(lock.try_write().unwrap(), |_| -> &u8 {
            panic!("injected")
        })
    });
    assert!(rwlock_is_free(&lock));
    let lock = Rc::new(lock);
    panics(|| {
        OwnedRwLockWriteGuard::map(lock.clone().try_write_owned().unwrap(), |_| -> &mut u8 {
            panic!("injected")
        })
    });
    assert!(rwlock_is_free(&lock));
    assert_eq!(Rc::strong_count(&lock), 1);
    // Readers count exactly: four fit, a fifth does not.
    let readers: Vec<_> = (0..4).map(|_| lock.try_read().unwrap()).collect();
    assert!(lock.try_read().is_err());
    drop(readers);
}

#[test]
fn downgrade_whose_woken_reader_panics_keeps_the_count() {
    let lock = RwLock::new(0u8);
    let w = lock.try_write().unwrap();
    let mut reader = Box::pin(lock.read());
    let waker = panics_on_wake();
    assert!(reader
        .as_mut()
        .poll(&mut Context::from_waker(&waker))
        .is_pending());
    let mut writer = Probe::new(lock.write());
    assert!(writer.poll().is_pending());
    // The downgrade grants the queued reader a permit; its waker panics.
    panics(|| w.downgrade());
    // The downgraded guard was dropped by the unwinding: its one read permit
    // came back. The reader holds the other, so the writer still waits.
    assert_eq!(writer.woken(), 0);
    match reader
        .as_mut()
        .poll(&mut Context::from_waker(Waker::noop()))
    {
        Poll::Ready(guard) => drop(guard),
        Poll::Pending => panic!("the reader was granted its permit"),
    }
    assert_eq!(writer.woken(), 1);
    assert!(writer.poll().is_ready());
    drop(writer);
    drop(reader);
    assert!(rwlock_is_free(&lock));
}

#[test]
fn permit_iterator_drop_whose_woken_sender_panics_returns_every_slot() {
    let (tx, mut rx) = mpsc::channel::<u8>(3);
    let permits = tx.try_reserve_many(3).unwrap();
    let mut send = Box::pin(tx.send(1));
    let waker = panics_on_wake();
    assert!(send
        .as_mut()
        .poll(&mut Context::from_waker(&waker))
        .is_pending());
    panics(|| drop(permits));
    // The waiting send got its slot; the other two are free.
    assert_eq!(tx.capacity(), 2);
    assert!(send
        .as_mut()
        .poll(&mut Context::from_waker(Waker::noop()))
        .is_ready());
    assert_eq!(rx.try_recv(), Ok(1));
    assert_eq!(tx.capacity(), 3);
}

#[test]
fn watch_send_modify_panic_leaves_a_working_channel() {
    let (tx, mut rx) = watch::channel(String::from("a"));
    let tx2 = tx.clone();
    panics(|| {
        tx.send_modify(|s| {
            s.push('b');
            panic!("injected: send_modify");
        })
    });
    assert!(!rx.has_changed().unwrap());
    tx2.send_modify(|s| s.push('c'));
    assert_eq!(*rx.borrow_and_update(), "abc");
    drop(tx);
    assert!(!rx.is_closed());
    drop(tx2);
    assert!(rx.is_closed());
}
