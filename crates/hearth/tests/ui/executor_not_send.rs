fn assert_send<T: Send>(_: T) {}

fn main() {
    assert_send(hearth::Executor::new());
}
