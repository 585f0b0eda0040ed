//! [`Poison`]: a combinator whose poll panicked refuses further polls.
//!
//! A panic in a child's poll or drop, or in the task's waker, unwinds
//! through the combinator's poll and leaves a child that can never finish
//! (it panicked) or bookkeeping that was cut short. The wake state stays
//! consistent (see `raw`), and dropping the combinator drops every remaining
//! child exactly once; polling it again would hang or lose outputs, so it
//! panics with a message that says why instead. `FuturesSet` is not
//! poisoned: it drops the future that panicked and goes on.

/// Whether an earlier poll of a combinator unwound. Set while a poll runs.
#[derive(Debug, Default)]
pub(crate) struct Poison {
    /// Set by [`start`](Self::start), cleared by [`end`](Self::end); still
    /// set after a poll that unwound.
    poisoned: bool,
}

impl Poison {
    /// Starts a poll of the combinator `name`.
    ///
    /// # Panics
    /// If an earlier poll unwound.
    #[inline]
    #[track_caller]
    pub(crate) fn start(&mut self, name: &str) {
        if self.poisoned {
            poisoned(name);
        }
        self.poisoned = true;
    }

    /// Ends a poll that returned.
    #[inline]
    pub(crate) fn end(&mut self) {
        self.poisoned = false;
    }
}

#[cold]
#[inline(never)]
#[track_caller]
fn poisoned(name: &str) -> ! {
    panic!(
        "`{name}` polled after an earlier poll panicked (in a child's poll or drop, or in the task's \
         waker); it can only be dropped"
    )
}
