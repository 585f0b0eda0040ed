//! A provided reference cannot leave the layer that provided it.

use std::task::{Context, Waker};

use hearth_task::{provide, ContextExt};

fn main() {
    let cx = Context::from_waker(Waker::noop());
    let leaked: Option<&u32>;
    {
        let value = 5u32;
        leaked = provide::with_value(&cx, &value, |cx| cx.request_ref::<u32>());
    }
    println!("{leaked:?}");
}
