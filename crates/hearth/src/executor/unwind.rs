//! Running user code whose panic must not interrupt the executor's work.
//!
//! See the panic-safety rule in the [executor's docs](super): user code that
//! runs as a side effect of the executor's bookkeeping (a join waiter's wake,
//! the drop of an output nobody reads, of a waker, of a panic payload) runs
//! through [`quietly`], which discards its panic, as tokio does.

use std::any::Any;
use std::panic::{catch_unwind, AssertUnwindSafe};

/// How many nested payloads [`drop_payload`] drops before it gives up.
const NESTED_PAYLOADS: usize = 8;

/// Drops a panic payload, whose own `Drop` may panic again (`panic_any` with
/// a payload type that panics when dropped). The payload of that second panic
/// is dropped the same way; after [`NESTED_PAYLOADS`] levels the last one is
/// leaked rather than looping forever.
pub(crate) fn drop_payload(payload: Box<dyn Any + Send>) {
    let mut payload = payload;
    for _ in 0..NESTED_PAYLOADS {
        match catch_unwind(AssertUnwindSafe(move || drop(payload))) {
            Ok(()) => return,
            Err(nested) => payload = nested,
        }
    }
    core::mem::forget(payload);
}

/// Runs `f`, discarding a panic (and dropping its payload safely).
#[inline]
pub(crate) fn quietly(f: impl FnOnce()) {
    if let Err(payload) = catch_unwind(AssertUnwindSafe(f)) {
        drop_payload(payload);
    }
}
