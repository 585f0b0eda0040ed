use hearth_task::LocalWaker;

fn assert_sync<T: Sync>(_: &T) {}

fn main() {
    assert_sync(LocalWaker::noop());
}
