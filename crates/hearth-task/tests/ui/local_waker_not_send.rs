use hearth_task::LocalWaker;

fn assert_send<T: Send>(_: T) {}

fn main() {
    assert_send(LocalWaker::noop().clone());
}
