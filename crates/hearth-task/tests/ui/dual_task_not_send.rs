// A `DualTask` stays on its owner thread: its handle, and through it the
// twin and the runtime's `!Send` data, must not move.
use std::task::Waker;
use hearth_task::dual::{DualTask, Schedule};

struct Sched;
impl Schedule for Sched {
    type Shared = ();
    fn schedule(_: &DualTask<Self>) {}
    fn schedule_remote(_: &(), _: &Waker) {}
}

fn main() {
    let task = DualTask::new(async {}, Sched, ());
    std::thread::spawn(move || drop(task));
}
