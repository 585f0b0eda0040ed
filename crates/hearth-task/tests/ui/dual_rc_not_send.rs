use std::task::Waker;

use hearth_task::dual::{DualRc, DualWake};

struct Target;

impl DualWake for Target {
    type Shared = ();
    fn wake_local(_: &DualRc<Self>) {}
    fn wake_remote(_: &(), _: &Waker) {}
}

fn assert_send<T: Send>(_: T) {}

fn main() {
    assert_send(DualRc::new(Target, ()));
}
