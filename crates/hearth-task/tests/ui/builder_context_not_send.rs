use std::task::Waker;

use hearth_task::{ContextBuilder, LocalWaker};

fn assert_send<T: Send>(_: T) {}

fn main() {
    let mut builder = ContextBuilder::from_waker(Waker::noop()).local_waker(LocalWaker::noop());
    let cx = builder.build();
    assert_send(cx);
}
