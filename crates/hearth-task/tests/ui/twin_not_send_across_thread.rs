use std::task::Waker;

use hearth_task::dual::{DualRc, DualWake};

struct Target;

impl DualWake for Target {
    type Shared = ();
    fn wake_local(_: &DualRc<Self>) {}
    fn wake_remote(_: &(), _: &Waker) {}
}

fn main() {
    let rc = DualRc::new(Target, ());
    let twin = rc.local_waker();
    std::thread::spawn(move || twin.wake());
}
