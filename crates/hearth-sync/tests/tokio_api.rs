//! Conformance of the API issue 12 added (mpsc permits and weak senders,
//! mapped/owned lock guards, `Notify::notify_last`/`Notified::enable`,
//! cloneable `watch::Sender`, `oneshot::Receiver::is_terminated`, semaphore
//! permit splitting and closing) with the behaviours `tokio::sync` documents.
//!
//! As in `tokio_conformance.rs`, each scenario runs once against
//! `tokio::sync` and once against `hearth_sync`, polled by hand with
//! counting wakers. `Shared` is `Arc` for tokio and `Rc` for hearth (owned
//! guards and permits: see the modules' differences).
#![cfg(not(loom))]

mod common;

use std::cell::Cell;
use std::panic::{catch_unwind, AssertUnwindSafe, RefUnwindSafe, UnwindSafe};
use std::pin::pin;
use std::task::Poll;

use common::Probe;

/// Runs `$body` with `$m` bound to `tokio::sync`, then to `hearth_sync`.
macro_rules! conformance {
    ($name:ident, |$m:ident| $body:block) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            #[test]
            fn tokio() {
                #[allow(unused_imports)]
                use std::sync::Arc as Shared;
                use tokio::sync as $m;
                $body
            }

            #[test]
            fn hearth() {
                use hearth_sync as $m;
                #[allow(unused_imports)]
                use std::rc::Rc as Shared;
                $body
            }
        }
    };
}

// --- mpsc ---

conformance!(mpsc_reserve_many_waits_for_all_slots_at_once, |m| {
    let (tx, mut rx) = m::mpsc::channel(3);
    tx.try_send(0).unwrap();
    let mut reserve = Probe::new(tx.reserve_many(3));
    assert!(reserve.poll().is_pending());
    assert_eq!(rx.try_recv(), Ok(0));
    assert_eq!(reserve.woken(), 1);
    let Poll::Ready(Ok(mut permits)) = reserve.poll() else {
        panic!("expected the permits")
    };
    assert_eq!(permits.len(), 3);
    assert!(tx.try_send(9).is_err());
    permits.next().unwrap().send(1);
    permits.next().unwrap().send(2);
    assert_eq!(permits.size_hint(), (1, Some(1)));
    drop(permits); // the third slot goes back
    assert_eq!(tx.capacity(), 1);
    assert_eq!(rx.try_recv(), Ok(1));
    assert_eq!(rx.try_recv(), Ok(2));
    assert_eq!(tx.capacity(), 3);
});

conformance!(mpsc_reserve_many_beyond_capacity_fails, |m| {
    let (tx, _rx) = m::mpsc::channel::<u8>(2);
    assert!(matches!(
        Probe::new(tx.reserve_many(3)).poll(),
        Poll::Ready(Err(_))
    ));
    assert!(matches!(
        tx.try_reserve_many(3),
        Err(m::mpsc::error::TrySendError::Full(()))
    ));
    let empty = tx.try_reserve_many(0).unwrap();
    assert_eq!(empty.len(), 0);
    assert_eq!(tx.capacity(), 2);
});

conformance!(mpsc_try_reserve_many_full_and_closed, |m| {
    let (tx, mut rx) = m::mpsc::channel::<u8>(3);
    let two = tx.try_reserve_many(2).unwrap();
    assert!(matches!(
        tx.try_reserve_many(2),
        Err(m::mpsc::error::TrySendError::Full(()))
    ));
    assert_eq!(tx.capacity(), 1);
    drop(two);
    assert_eq!(tx.capacity(), 3);
    rx.close();
    assert!(matches!(
        tx.try_reserve_many(1),
        Err(m::mpsc::error::TrySendError::Closed(()))
    ));
    assert!(matches!(
        Probe::new(tx.reserve_many(1)).poll(),
        Poll::Ready(Err(_))
    ));
});

conformance!(mpsc_reserve_many_waiter_is_woken_by_close, |m| {
    let (tx, mut rx) = m::mpsc::channel::<u8>(2);
    let _held = tx.try_reserve().unwrap();
    let mut reserve = Probe::new(tx.reserve_many(2));
    assert!(reserve.poll().is_pending());
    rx.close();
    assert_eq!(reserve.woken(), 1);
    assert!(matches!(reserve.poll(), Poll::Ready(Err(_))));
});

conformance!(mpsc_permits_of_a_closed_channel_still_send, |m| {
    let (tx, mut rx) = m::mpsc::channel::<u8>(2);
    let mut permits = tx.try_reserve_many(2).unwrap();
    rx.close();
    permits.next().unwrap().send(5);
    assert_eq!(Probe::new(rx.recv()).poll(), Poll::Ready(Some(5)));
    let mut recv = Probe::new(rx.recv());
    assert!(recv.poll().is_pending()); // one slot is still out
    drop(permits);
    assert_eq!(recv.woken(), 1);
    assert_eq!(recv.poll(), Poll::Ready(None));
});

conformance!(mpsc_try_reserve_owned_gives_the_sender_back, |m| {
    let (tx, mut rx) = m::mpsc::channel::<u8>(1);
    let permit = tx.clone().try_reserve_owned().unwrap();
    assert!(permit.same_channel_as_sender(&tx));
    let tx = match tx.try_reserve_owned() {
        Err(m::mpsc::error::TrySendError::Full(tx)) => tx,
        _ => panic!("expected Full with the sender"),
    };
    let tx_again = permit.send(3); // the permit's own sender comes back
    assert!(tx_again.same_channel(&tx));
    drop(tx_again);
    assert_eq!(rx.try_recv(), Ok(3));
    drop(rx);
    assert!(matches!(
        tx.try_reserve_owned(),
        Err(m::mpsc::error::TrySendError::Closed(_))
    ));
});

conformance!(mpsc_owned_permits_know_their_channel, |m| {
    let (tx, _rx) = m::mpsc::channel::<()>(2);
    let p1 = tx.clone().reserve_owned();
    let p1 = Probe::new(p1).ready().unwrap();
    let p2 = Probe::new(tx.clone().reserve_owned()).ready().unwrap();
    assert!(p1.same_channel(&p2));
    let (tx2, _rx2) = m::mpsc::channel::<()>(1);
    let p3 = Probe::new(tx2.clone().reserve_owned()).ready().unwrap();
    assert!(!p3.same_channel(&p1));
    assert!(!p3.same_channel_as_sender(&tx));
    let tx = p1.release();
    assert_eq!(tx.capacity(), 1);
});

conformance!(mpsc_reserve_owned_fails_with_unit_error, |m| {
    let (tx, rx) = m::mpsc::channel::<()>(1);
    drop(rx);
    let result: Result<_, m::mpsc::error::SendError<()>> = Probe::new(tx.reserve_owned()).ready();
    assert!(result.is_err());
});

conformance!(mpsc_max_capacity_is_fixed, |m| {
    let (tx, rx) = m::mpsc::channel::<()>(5);
    assert_eq!((tx.max_capacity(), tx.capacity()), (5, 5));
    let _p = tx.try_reserve().unwrap();
    assert_eq!((tx.max_capacity(), tx.capacity()), (5, 4));
    assert_eq!((rx.max_capacity(), rx.capacity()), (5, 4));
});

conformance!(mpsc_weak_sender_does_not_keep_the_channel_open, |m| {
    let (tx, mut rx) = m::mpsc::channel::<u8>(2);
    let weak = tx.downgrade();
    let weak2 = weak.clone();
    assert_eq!((tx.strong_count(), tx.weak_count()), (1, 2));
    assert_eq!((rx.sender_strong_count(), rx.sender_weak_count()), (1, 2));
    let tx2 = weak.upgrade().unwrap();
    assert!(tx2.same_channel(&tx));
    assert_eq!((weak.strong_count(), weak.weak_count()), (2, 2));
    tx2.try_send(1).unwrap();
    drop(tx2);
    assert_eq!(Probe::new(rx.recv()).poll(), Poll::Ready(Some(1)));
    let mut recv = Probe::new(rx.recv());
    assert!(recv.poll().is_pending());
    drop(tx); // only weak senders remain
    assert_eq!(recv.woken(), 1);
    assert_eq!(recv.poll(), Poll::Ready(None));
    drop(recv);
    assert!(weak.upgrade().is_none());
    assert_eq!((weak.strong_count(), weak2.weak_count()), (0, 2));
    drop(weak2);
    assert_eq!(rx.sender_weak_count(), 1);
});

conformance!(mpsc_weak_unbounded_sender, |m| {
    let (tx, mut rx) = m::mpsc::unbounded_channel::<u8>();
    let weak = tx.downgrade();
    assert_eq!((tx.strong_count(), tx.weak_count()), (1, 1));
    weak.upgrade().unwrap().send(4).unwrap();
    assert_eq!(rx.try_recv(), Ok(4));
    drop(tx);
    assert!(weak.upgrade().is_none());
    assert_eq!(
        rx.try_recv(),
        Err(m::mpsc::error::TryRecvError::Disconnected)
    );
    assert_eq!((rx.sender_strong_count(), rx.sender_weak_count()), (0, 1));
});

conformance!(mpsc_poll_recv_many, |m| {
    let (tx, mut rx) = m::mpsc::unbounded_channel::<u8>();
    let mut buf = Vec::new();
    let (waker, wakes) = common::counter();
    let mut cx = std::task::Context::from_waker(&waker);
    assert!(rx.poll_recv_many(&mut cx, &mut buf, 4).is_pending());
    for i in 0..6 {
        tx.send(i).unwrap();
    }
    assert_eq!(wakes.get(), 1);
    assert_eq!(rx.poll_recv_many(&mut cx, &mut buf, 4), Poll::Ready(4));
    assert_eq!(rx.poll_recv_many(&mut cx, &mut buf, 4), Poll::Ready(2));
    assert_eq!(buf, [0, 1, 2, 3, 4, 5]);
});

fn unwind_safe<T: UnwindSafe + RefUnwindSafe>() {}

conformance!(mpsc_handles_are_unwind_safe, |m| {
    // `Cell` is neither: the handles are unwind safe whatever they carry.
    type V = Cell<u8>;
    unwind_safe::<m::mpsc::Sender<V>>();
    unwind_safe::<m::mpsc::Receiver<V>>();
    unwind_safe::<m::mpsc::UnboundedSender<V>>();
    unwind_safe::<m::mpsc::UnboundedReceiver<V>>();
    unwind_safe::<m::mpsc::WeakSender<V>>();
    unwind_safe::<m::mpsc::WeakUnboundedSender<V>>();
    unwind_safe::<m::mpsc::Permit<'static, V>>();
    unwind_safe::<m::mpsc::OwnedPermit<V>>();
    unwind_safe::<m::mpsc::PermitIterator<'static, V>>();
    unwind_safe::<m::Notify>();
    // ...and a sender used again after a caught panic still works.
    let (tx, mut rx) = m::mpsc::unbounded_channel::<V>();
    let r = catch_unwind(|| {
        tx.send(Cell::new(1)).unwrap();
        panic!("after a send");
    });
    assert!(r.is_err());
    tx.send(Cell::new(2)).unwrap();
    assert_eq!(rx.try_recv().unwrap().get(), 1);
    assert_eq!(rx.try_recv().unwrap().get(), 2);
});

// --- Semaphore ---

conformance!(semaphore_permits_split_and_merge, |m| {
    let sem = m::Semaphore::new(4);
    let mut permit = sem.try_acquire_many(4).unwrap();
    let mut part = permit.split(3).unwrap();
    assert_eq!((permit.num_permits(), part.num_permits()), (1, 3));
    assert!(permit.split(2).is_none());
    assert_eq!(permit.num_permits(), 1);
    let zero = part.split(0).unwrap();
    assert_eq!(zero.num_permits(), 0);
    drop(zero);
    assert_eq!(sem.available_permits(), 0);
    let piece = part.split(1).unwrap();
    drop(piece);
    assert_eq!(sem.available_permits(), 1);
    permit.merge(part);
    assert_eq!(permit.num_permits(), 3);
    drop(permit);
    assert_eq!(sem.available_permits(), 4);
});

conformance!(semaphore_owned_permits_split, |m| {
    let sem = Shared::new(m::Semaphore::new(2));
    let mut permit = sem.clone().try_acquire_many_owned(2).unwrap();
    let other = permit.split(1).unwrap();
    assert_eq!(sem.available_permits(), 0);
    drop(permit);
    assert_eq!(sem.available_permits(), 1);
    assert_eq!(other.num_permits(), 1);
    assert!(std::ptr::eq(&**other.semaphore(), &*sem));
});

conformance!(semaphore_merging_permits_of_two_semaphores_panics, |m| {
    let a = m::Semaphore::new(1);
    let b = m::Semaphore::new(1);
    let mut pa = a.try_acquire().unwrap();
    let pb = b.try_acquire().unwrap();
    let r = catch_unwind(AssertUnwindSafe(|| pa.merge(pb)));
    assert!(r.is_err());
});

conformance!(semaphore_close_fails_acquires_and_keeps_permits, |m| {
    let sem = m::Semaphore::new(1);
    let held = sem.try_acquire().unwrap();
    let mut waiting = Probe::new(sem.acquire());
    assert!(waiting.poll().is_pending());
    assert!(!sem.is_closed());
    sem.close();
    assert!(sem.is_closed());
    assert_eq!(waiting.woken(), 1);
    assert!(matches!(
        waiting.poll(),
        Poll::Ready(Err(m::AcquireError { .. }))
    ));
    assert!(matches!(
        Probe::new(sem.acquire()).poll(),
        Poll::Ready(Err(_))
    ));
    assert_eq!(sem.try_acquire().unwrap_err(), m::TryAcquireError::Closed);
    drop(held);
    assert_eq!(sem.available_permits(), 1);
    assert!(Probe::new(sem.acquire_many(1)).ready().is_err());
});

conformance!(semaphore_forget_permits_takes_what_is_free, |m| {
    let sem = m::Semaphore::new(5);
    let held = sem.try_acquire_many(2).unwrap();
    assert_eq!(sem.forget_permits(10), 3);
    assert_eq!(sem.available_permits(), 0);
    drop(held);
    assert_eq!(sem.forget_permits(1), 1);
    assert_eq!(sem.available_permits(), 1);
});

// --- Mutex ---

conformance!(mutex_mapped_guard_keeps_the_lock, |m| {
    let mutex = m::Mutex::new((1, vec![b'a']));
    let guard = mutex.lock();
    let guard = Probe::new(guard).ready();
    let mut name = m::MutexGuard::map(guard, |v| &mut v.1);
    name.push(b'b');
    assert!(mutex.try_lock().is_err());
    let mut waiter = Probe::new(mutex.lock());
    assert!(waiter.poll().is_pending());
    let mut first = m::MappedMutexGuard::map(name, |v| &mut v[0]);
    *first = b'A';
    assert_eq!(waiter.woken(), 0);
    drop(first);
    assert_eq!(waiter.woken(), 1);
    assert_eq!(*waiter.ready(), (1, b"Ab".to_vec()));
});

conformance!(mutex_try_map_gives_the_guard_back, |m| {
    let mutex = m::Mutex::new(vec![1]);
    let guard = mutex.try_lock().unwrap();
    let guard = match m::MutexGuard::try_map(guard, |v| v.get_mut(5)) {
        Err(guard) => guard,
        Ok(_) => panic!("index 5 does not exist"),
    };
    assert!(mutex.try_lock().is_err());
    let mut one = m::MutexGuard::try_map(guard, |v| v.get_mut(0)).unwrap();
    *one = 7;
    let one = m::MappedMutexGuard::try_map(one, |_| None::<&mut u8>).unwrap_err();
    drop(one);
    assert_eq!(*mutex.try_lock().unwrap(), [7]);
});

conformance!(mutex_owned_guards_map, |m| {
    let mutex = Shared::new(m::Mutex::new((0u8, 0u8)));
    let guard = mutex.clone().try_lock_owned().unwrap();
    assert!(Shared::ptr_eq(m::OwnedMutexGuard::mutex(&guard), &mutex));
    let mut second = m::OwnedMutexGuard::map(guard, |v| &mut v.1);
    *second = 3;
    assert!(mutex.try_lock().is_err());
    let second = m::OwnedMappedMutexGuard::try_map(second, |_| None::<&mut u8>).unwrap_err();
    drop(second);
    let owned = Probe::new(mutex.clone().lock_owned()).ready();
    assert_eq!(*owned, (0, 3));
});

// --- RwLock ---

conformance!(rwlock_with_max_readers_limits_readers, |m| {
    let lock = m::RwLock::with_max_readers(0, 2);
    let a = lock.try_read().unwrap();
    let _b = lock.try_read().unwrap();
    assert!(lock.try_read().is_err());
    let mut c = Probe::new(lock.read());
    assert!(c.poll().is_pending());
    drop(a);
    assert_eq!(c.woken(), 1);
    assert_eq!(*c.ready(), 0);
    assert!(catch_unwind(|| m::RwLock::with_max_readers((), 0)).is_err());
    assert!(catch_unwind(|| m::RwLock::with_max_readers((), u32::MAX)).is_err());
});

conformance!(rwlock_with_max_readers_writer_waits_for_every_reader, |m| {
    let lock = m::RwLock::with_max_readers(1, 3);
    let a = lock.try_read().unwrap();
    let b = lock.try_read().unwrap();
    let mut w = Probe::new(lock.write());
    assert!(w.poll().is_pending());
    drop(a);
    assert_eq!(w.woken(), 0);
    drop(b);
    assert_eq!(w.woken(), 1);
    *w.ready() += 1;
});

conformance!(rwlock_read_guard_map_and_try_map, |m| {
    let lock = m::RwLock::new((1, "one"));
    let guard = lock.try_read().unwrap();
    let guard = m::RwLockReadGuard::try_map(guard, |_| None::<&u8>).unwrap_err();
    let name = m::RwLockReadGuard::map(guard, |v| &v.1);
    assert_eq!(*name, "one");
    assert!(lock.try_write().is_err());
    assert!(lock.try_read().is_ok());
    drop(name);
    assert!(lock.try_write().is_ok());
});

conformance!(rwlock_write_guard_map_keeps_exclusive_access, |m| {
    let lock = m::RwLock::new((1, 2));
    let guard = lock.try_write().unwrap();
    let guard = m::RwLockWriteGuard::try_map(guard, |_| None::<&mut u8>).unwrap_err();
    let mut second = m::RwLockWriteGuard::map(guard, |v| &mut v.1);
    *second += 10;
    assert!(lock.try_read().is_err());
    let mut reader = Probe::new(lock.read());
    assert!(reader.poll().is_pending());
    let second = m::RwLockMappedWriteGuard::map(second, |v| v);
    let second = m::RwLockMappedWriteGuard::try_map(second, |_| None::<&mut u8>).unwrap_err();
    drop(second);
    assert_eq!(reader.woken(), 1);
    assert_eq!(*reader.ready(), (1, 12));
});

conformance!(rwlock_downgrade_lets_readers_in_but_not_writers, |m| {
    let lock = m::RwLock::new(1);
    let mut w = lock.try_write().unwrap();
    let mut reader = Probe::new(lock.read());
    assert!(reader.poll().is_pending());
    let mut writer = Probe::new(lock.write());
    assert!(writer.poll().is_pending());
    *w = 2;
    let r = w.downgrade();
    assert_eq!(*r, 2);
    assert_eq!(reader.woken(), 1);
    assert_eq!(*reader.ready(), 2);
    assert_eq!(writer.woken(), 0);
    // A queued writer holds back later readers (FIFO).
    assert!(lock.try_read().is_err());
    drop(r);
    assert_eq!(writer.woken(), 1);
    assert!(writer.poll().is_ready());
});

conformance!(rwlock_downgrade_map, |m| {
    let lock = m::RwLock::new((1, 2));
    let w = lock.try_write().unwrap();
    let w = m::RwLockWriteGuard::try_downgrade_map(w, |_| None::<&u8>).unwrap_err();
    assert!(lock.try_read().is_err()); // still a writer
    let second = m::RwLockWriteGuard::downgrade_map(w, |v| &v.1);
    assert_eq!(*second, 2);
    assert_eq!(*lock.try_read().unwrap(), (1, 2));
    assert!(lock.try_write().is_err());
    let w = m::RwLockWriteGuard::into_mapped({
        drop(second);
        lock.try_write().unwrap()
    });
    assert_eq!(*w, (1, 2));
});

conformance!(rwlock_owned_guards, |m| {
    let lock = Shared::new(m::RwLock::new(vec![1, 2]));
    let r = lock.clone().try_read_owned().unwrap();
    assert!(Shared::ptr_eq(m::OwnedRwLockReadGuard::rwlock(&r), &lock));
    let first = m::OwnedRwLockReadGuard::map(r, |v| &v[0]);
    assert_eq!(*first, 1);
    let mut writer = Probe::new(lock.clone().write_owned());
    assert!(writer.poll().is_pending());
    drop(first);
    assert_eq!(writer.woken(), 1);
    let w = writer.ready();
    assert!(lock.clone().try_read_owned().is_err());
    let mut second = m::OwnedRwLockWriteGuard::map(w, |v| &mut v[1]);
    *second = 5;
    assert!(Shared::ptr_eq(
        m::OwnedRwLockMappedWriteGuard::rwlock(&second),
        &lock
    ));
    drop(second);
    let w = lock.clone().try_write_owned().unwrap();
    let r = w.downgrade();
    assert_eq!(*r, [1, 5]);
    assert!(lock.try_read().is_ok());
    assert!(lock.try_write().is_err());
    drop(r);
    let w = lock.clone().try_write_owned().unwrap();
    let r = m::OwnedRwLockWriteGuard::downgrade_map(w, |v| &v[1]);
    assert_eq!(*r, 5);
    drop(r);
    let r = Probe::new(lock.clone().read_owned()).ready();
    assert_eq!(r.len(), 2);
});

// --- Notify ---

conformance!(notify_last_wakes_the_newest_waiter, |m| {
    let n = m::Notify::new();
    let mut a = Probe::new(n.notified());
    let mut b = Probe::new(n.notified());
    assert!(a.poll().is_pending());
    assert!(b.poll().is_pending());
    n.notify_last();
    assert_eq!((a.woken(), b.woken()), (0, 1));
    assert!(b.poll().is_ready());
    assert!(a.poll().is_pending());
    drop(a);
    n.notify_last(); // nobody waits: stores the permit
    assert!(Probe::new(n.notified()).poll().is_ready());
});

conformance!(notified_enable_queues_without_polling, |m| {
    let n = m::Notify::new();
    let mut f = pin!(n.notified());
    assert!(!f.as_mut().enable());
    assert!(!f.as_mut().enable()); // idempotent
    n.notify_one(); // reaches the enabled future, stores no permit
    assert!(f.as_mut().enable());
    assert!(Probe::new(n.notified()).poll().is_pending());
    let mut probe = Probe::new(f);
    assert!(probe.poll().is_ready());
});

conformance!(notified_enable_consumes_a_stored_permit, |m| {
    let n = m::Notify::new();
    n.notify_one();
    let mut f = pin!(n.notified());
    assert!(f.as_mut().enable());
    assert!(Probe::new(n.notified()).poll().is_pending());
});

conformance!(notified_enable_sees_notify_waiters, |m| {
    let n = m::Notify::new();
    let mut created = pin!(n.notified());
    n.notify_waiters();
    assert!(created.as_mut().enable());
    let mut enabled = pin!(n.notified());
    assert!(!enabled.as_mut().enable());
    n.notify_waiters();
    assert!(enabled.as_mut().enable());
});

conformance!(notified_enabled_is_woken_after_its_first_poll, |m| {
    let n = m::Notify::new();
    let mut probe = Probe::new(n.notified());
    assert!(!probe.fut.as_mut().enable());
    assert!(probe.poll().is_pending()); // registers the waker
    n.notify_one();
    assert_eq!(probe.woken(), 1);
    assert!(probe.poll().is_ready());
});

conformance!(
    notified_enabled_and_dropped_passes_the_notification_on,
    |m| {
        let n = m::Notify::new();
        let mut first = Box::pin(n.notified());
        assert!(!first.as_mut().enable());
        let mut second = Probe::new(n.notified());
        assert!(second.poll().is_pending());
        n.notify_one();
        assert_eq!(second.woken(), 0);
        drop(first);
        assert_eq!(second.woken(), 1);
        assert!(second.poll().is_ready());
    }
);

// --- watch ---

conformance!(watch_sender_is_cloneable, |m| {
    let (tx, mut rx) = m::watch::channel(0);
    let tx2 = tx.clone();
    assert_eq!((tx.sender_count(), tx.receiver_count()), (2, 1));
    assert!(tx.same_channel(&tx2));
    let mut changed = Probe::new(rx.changed());
    assert!(changed.poll().is_pending());
    drop(tx);
    assert_eq!(changed.woken(), 0);
    tx2.send(1).unwrap();
    assert_eq!(changed.woken(), 1);
    assert!(matches!(changed.poll(), Poll::Ready(Ok(()))));
    drop(changed);
    assert_eq!(tx2.sender_count(), 1);
    assert!(!rx.is_closed());
    let mut changed = Probe::new(rx.changed());
    assert!(changed.poll().is_pending());
    drop(tx2);
    assert_eq!(changed.woken(), 1);
    assert!(matches!(changed.poll(), Poll::Ready(Err(_))));
    drop(changed);
    assert!(rx.is_closed());
});

conformance!(watch_sender_new_and_subscribe, |m| {
    let tx = m::watch::Sender::new(1);
    assert_eq!(tx.receiver_count(), 0);
    assert!(tx.is_closed());
    assert!(tx.send(2).is_err());
    assert_eq!(tx.send_replace(3), 1);
    let rx = tx.subscribe();
    assert!(!rx.has_changed().unwrap());
    assert_eq!(*rx.borrow(), 3);
    tx.send_modify(|v| *v += 1);
    assert!(rx.has_changed().unwrap());
    assert_eq!(tx.receiver_count(), 1);
    assert!(!tx.send_if_modified(|_| false));
    assert_eq!(*tx.borrow(), 4);
});

conformance!(
    watch_send_modify_panic_keeps_changes_and_notifies_nobody,
    |m| {
        let (tx, mut rx) = m::watch::channel(vec![1]);
        let mut changed = Probe::new(rx.changed());
        assert!(changed.poll().is_pending());
        let r = catch_unwind(AssertUnwindSafe(|| {
            tx.send_modify(|v| {
                v.push(2);
                panic!("injected: a send_modify closure panics");
            })
        }));
        assert!(r.is_err());
        assert_eq!(changed.woken(), 0);
        drop(changed);
        assert!(!rx.has_changed().unwrap());
        assert_eq!(*rx.borrow(), [1, 2]);
        // The channel still works.
        tx.send_modify(|v| v.push(3));
        assert!(rx.has_changed().unwrap());
        assert_eq!(*rx.borrow_and_update(), [1, 2, 3]);
        let r = catch_unwind(AssertUnwindSafe(|| {
            tx.send_if_modified(|_| panic!("injected: send_if_modified"))
        }));
        assert!(r.is_err());
        assert!(!rx.has_changed().unwrap());
    }
);

// --- oneshot ---

conformance!(oneshot_is_terminated_after_await, |m| {
    let (tx, rx) = m::oneshot::channel();
    let mut rx = Probe::new(rx);
    assert!(!rx.fut.is_terminated());
    assert!(rx.poll().is_pending());
    assert!(!rx.fut.is_terminated());
    tx.send(0).unwrap();
    assert!(!rx.fut.is_terminated());
    assert_eq!(rx.poll(), Poll::Ready(Ok(0)));
    assert!(rx.fut.is_terminated());

    let (tx, rx) = m::oneshot::channel::<()>();
    let mut rx = Probe::new(rx);
    drop(tx);
    assert!(!rx.fut.is_terminated());
    assert!(matches!(rx.poll(), Poll::Ready(Err(_))));
    assert!(rx.fut.is_terminated());
});

conformance!(oneshot_is_terminated_after_try_recv, |m| {
    let (tx, mut rx) = m::oneshot::channel();
    assert_eq!(rx.try_recv(), Err(m::oneshot::error::TryRecvError::Empty));
    assert!(!rx.is_terminated());
    tx.send(1).unwrap();
    assert_eq!(rx.try_recv(), Ok(1));
    assert!(rx.is_terminated());

    let (tx, mut rx) = m::oneshot::channel::<()>();
    drop(tx);
    assert!(rx.try_recv().is_err());
    assert!(rx.is_terminated());
});
