//! Finishing what a panic interrupted.
//!
//! The primitives run user code in a few places: a waker's `wake` and
//! `drop`, a queued value's `drop`. A panic there unwinds through the
//! primitive, and every invariant must survive it. The rule everywhere:
//! update the shared state first, then run user code outside any `RefCell`
//! borrow, and never leave work undone behind a panic. The helpers here do
//! the last part: when a step panics they still run the rest (catching
//! further panics, which would otherwise abort the process while
//! unwinding), then let the first panic go on. Neither costs anything on the
//! path that does not panic beyond a flag.

use std::panic::{catch_unwind, AssertUnwindSafe};

/// Runs `step` until it returns without panicking, then resumes the first
/// panic, if there was one (later ones are dropped).
///
/// `step` must make progress before each piece of user code it runs (pop a
/// waiter, then wake it), so that a run after a panic goes on where the panic
/// struck and the loop ends.
#[inline]
pub(crate) fn run_to_end(step: impl FnMut()) {
    struct Retry<F: FnMut()> {
        step: F,
        done: bool,
    }
    impl<F: FnMut()> Drop for Retry<F> {
        fn drop(&mut self) {
            // Only while unwinding from a run of `step`.
            while !self.done {
                self.done = catch_unwind(AssertUnwindSafe(&mut self.step)).is_ok();
            }
        }
    }
    let mut retry = Retry { step, done: false };
    (retry.step)();
    retry.done = true;
}

/// Runs `first`, then `then`, even if `first` panics (a panic of `then`
/// during that unwinding is dropped; `first`'s goes on).
#[inline]
pub(crate) fn then_anyway(first: impl FnOnce(), then: impl FnOnce()) {
    struct Then<F: FnOnce()>(Option<F>);
    impl<F: FnOnce()> Drop for Then<F> {
        fn drop(&mut self) {
            // Only while unwinding from `first`.
            if let Some(then) = self.0.take() {
                drop(catch_unwind(AssertUnwindSafe(then)));
            }
        }
    }
    let mut guard = Then(Some(then));
    first();
    if let Some(then) = guard.0.take() {
        then();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;

    #[test]
    fn run_to_end_finishes_the_loop_and_resumes_the_first_panic() {
        let items = Cell::new(0);
        let seen = Cell::new(0);
        let result = catch_unwind(AssertUnwindSafe(|| {
            run_to_end(|| {
                while items.get() < 5 {
                    let i = items.get();
                    items.set(i + 1);
                    if i == 1 || i == 3 {
                        panic!("item {i}");
                    }
                    seen.set(seen.get() + 1);
                }
            })
        }));
        let payload = result.unwrap_err();
        assert_eq!(payload.downcast_ref::<String>().unwrap(), "item 1");
        assert_eq!((items.get(), seen.get()), (5, 3));
    }

    #[test]
    fn then_anyway_runs_the_second_step_after_a_panic() {
        let ran = Cell::new(false);
        let result = catch_unwind(AssertUnwindSafe(|| {
            then_anyway(|| panic!("first"), || ran.set(true))
        }));
        assert!(result.is_err());
        assert!(ran.get());
        let order = Cell::new(0);
        then_anyway(|| order.set(1), || order.set(order.get() * 10 + 2));
        assert_eq!(order.get(), 12);
    }
}
