fn is_sync<T: Sync>(_: &T) {}
fn main() {
    is_sync(&hearth_sync::Semaphore::new(1));
}
