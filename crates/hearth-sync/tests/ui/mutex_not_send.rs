fn is_send<T: Send>(_: T) {}
fn main() {
    is_send(hearth_sync::Mutex::new(0u8));
}
