use std::task::{Context, Waker};

use hearth_task::{ContextExt, LocalWaker};

fn main() {
    let local: &LocalWaker;
    {
        let waker: Waker = Waker::noop().clone();
        let cx = Context::from_waker(&waker);
        local = ContextExt::local_waker(&cx);
    }
    local.wake_by_ref();
}
