//! The cooperative budget: a task that is always ready cannot starve others.
//!
//! The budget itself lives in [`hearth_task::coop`], so that `hearth-sync`
//! and `hearth-future` spend the same budget as the runtime's own leaf futures
//! without depending on the runtime. The executor enters it when it starts
//! running on a thread and refills it before every poll of a task or of the
//! main future. Which operations spend it is listed on the crate's front page.

pub(crate) use hearth_task::coop::{
    enter, has_budget_remaining, poll_proceed, refill, EnterGuard as Restore, Progress,
};
