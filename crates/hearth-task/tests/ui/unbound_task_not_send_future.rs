// Only a `Send` future can be built on one thread and bound on another.
use std::rc::Rc;
use std::task::Waker;
use hearth_task::dual::{DualTask, Schedule};

struct Sched;
impl Schedule for Sched {
    type Shared = ();
    fn schedule(_: &DualTask<Self>) {}
    fn schedule_remote(_: &(), _: &Waker) {}
}

fn main() {
    let not_send = Rc::new(1);
    let _ = DualTask::new_unbound(async move { drop(not_send) }, Sched, ());
}
