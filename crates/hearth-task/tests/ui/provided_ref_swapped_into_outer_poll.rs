//! The nested-poll swap that blocks std's `Context::ext`: an inner poll
//! stores what it looked up where the outer poll can read it after the inner
//! layer is gone. The reference is tied to the inner `&Context` borrow, so
//! the compiler rejects it.

use std::cell::Cell;
use std::task::{Context, Waker};

use hearth_task::{provide, ContextExt};

fn main() {
    let cx = Context::from_waker(Waker::noop());
    let outer: Cell<Option<&u32>> = Cell::new(None);
    provide::with_value(&cx, &1u32, |cx| {
        provide::with_value(cx, &2u32, |inner| {
            outer.set(inner.request_ref::<u32>());
        });
    });
    println!("{:?}", outer.get());
}
