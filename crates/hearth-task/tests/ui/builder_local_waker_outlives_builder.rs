use std::task::Waker;

use hearth_task::{ContextBuilder, ContextExt, LocalWaker};

fn main() {
    let local: &LocalWaker;
    {
        let mine = LocalWaker::noop().clone();
        let mut builder = ContextBuilder::from_waker(Waker::noop()).local_waker(&mine);
        let cx = builder.build();
        local = ContextExt::local_waker(&cx);
    }
    local.wake_by_ref();
}
