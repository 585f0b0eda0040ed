fn is_send<T: Send>(_: T) {}
fn main() {
    let (tx, _rx) = hearth_sync::mpsc::channel::<u8>(2);
    is_send(tx.downgrade());
    is_send(tx.try_reserve_many(2).unwrap());

    let m = hearth_sync::Mutex::new((1u8, 2u8));
    is_send(hearth_sync::MutexGuard::map(m.try_lock().unwrap(), |v| &mut v.0));

    let l = std::rc::Rc::new(hearth_sync::RwLock::new((1u8, 2u8)));
    is_send(hearth_sync::RwLockWriteGuard::map(l.try_write().unwrap(), |v| &mut v.0));
    is_send(l.clone().try_read_owned().unwrap());
}
