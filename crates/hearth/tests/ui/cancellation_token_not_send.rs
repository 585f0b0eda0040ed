// A `CancellationToken` is an `Rc` tree: it stays on its thread (neither
// `Send` nor `Sync`), and so do the futures that hold it.
use hearth::task::CancellationToken;

fn assert_send<T: Send>(_: &T) {}
fn assert_sync<T: Sync>(_: &T) {}

fn main() {
    let token = CancellationToken::new();
    assert_send(&token);
    assert_sync(&token);
    assert_send(&token.clone().cancelled_owned());
    assert_send(&token.scope(async {}));
}
