fn is_send<T: Send>(_: T) {}
fn main() {
    let (_tx, rx) = hearth_sync::oneshot::channel::<u8>();
    is_send(rx);
}
