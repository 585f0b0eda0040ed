fn assert_send<T: Send>(_: T) {}

fn main() {
    hearth::block_on(async {
        let mut set = hearth::task::JoinSet::new();
        let abort = set.spawn(async { 1 });
        assert_send(set);
        assert_send(abort);
    });
}
