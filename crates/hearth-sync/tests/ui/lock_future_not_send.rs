fn is_send<T: Send>(_: T) {}
fn main() {
    let m = hearth_sync::Mutex::new(0u8);
    is_send(m.lock());
}
