fn assert_send<T: Send>(_: T) {}

fn main() {
    hearth::block_on(async {
        let handle = hearth::spawn_local(async { 1 });
        assert_send(handle);
    });
}
