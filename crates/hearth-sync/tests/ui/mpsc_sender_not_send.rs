fn is_send<T: Send>(_: T) {}
fn main() {
    let (tx, _rx) = hearth_sync::mpsc::channel::<u8>(1);
    is_send(tx);
}
