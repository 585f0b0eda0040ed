//! `tracing` of tasks (feature `tracing`): a span per task, events for its
//! spawn, polls, completion and slow polls.
//!
//! Without the feature every type here is zero-sized and every function
//! empty, so the executor calls them unconditionally and the compiler
//! removes them: no field in the task header, no argument, no branch.
//!
//! With it, each task carries a [`tracing::Span`] (`hearth::task`, level
//! TRACE, no parent: a task outlives the code that spawned it), with the
//! fields `task.id` (the executor's count of spawns, so unique per executor)
//! and `spawned.at` (the caller of `spawn_local`). The executor enters the
//! span around every poll of the task. Events, all with target
//! `hearth::task`:
//!
//! | event | level | when |
//! |---|---|---|
//! | `spawned` | TRACE | `spawn_local` made the task |
//! | `poll` (`ready`) | TRACE | after each poll |
//! | `completed` (`outcome`: `finished`, `cancelled` or `panicked`) | TRACE | the task is complete |
//! | `slow poll` (`spawned.at`, `poll_time`, `threshold`) | WARN | a poll took longer than the slow-poll threshold |

#[cfg(feature = "tracing")]
use core::panic::Location;
use core::time::Duration;

/// Where a task was spawned: the caller of `spawn_local` (zero-sized without
/// the feature).
#[derive(Clone, Copy)]
pub(crate) struct SpawnedAt {
    #[cfg(feature = "tracing")]
    at: &'static Location<'static>,
}

impl SpawnedAt {
    /// The caller of the `#[track_caller]` function this is called in.
    #[cfg_attr(feature = "tracing", track_caller)]
    #[inline(always)]
    pub(crate) fn caller() -> SpawnedAt {
        SpawnedAt {
            #[cfg(feature = "tracing")]
            at: Location::caller(),
        }
    }
}

/// A task's span (zero-sized without the feature). Immutable once made; it
/// closes when the task is freed.
pub(crate) struct TaskSpan {
    #[cfg(feature = "tracing")]
    span: tracing::Span,
    /// Also kept apart from the span, for the slow-poll warning: a
    /// subscriber that shows warnings but not TRACE spans still learns
    /// which task it was.
    #[cfg(feature = "tracing")]
    at: &'static Location<'static>,
}

impl TaskSpan {
    /// The span of a new task; `id` gives its number (called only with the
    /// feature). Emits `spawned`.
    #[inline(always)]
    pub(crate) fn new(at: SpawnedAt, id: impl FnOnce() -> u64) -> TaskSpan {
        #[cfg(feature = "tracing")]
        {
            let span = tracing::trace_span!(
                target: "hearth::task",
                parent: None,
                "task",
                task.id = id(),
                spawned.at = %at.at,
            );
            tracing::trace!(target: "hearth::task", parent: &span, "spawned");
            TaskSpan { span, at: at.at }
        }
        #[cfg(not(feature = "tracing"))]
        {
            let _ = (at, id);
            TaskSpan {}
        }
    }

    /// Enters the span for one poll; exits when the guard drops.
    #[inline(always)]
    pub(crate) fn enter(&self) -> Entered<'_> {
        Entered {
            #[cfg(feature = "tracing")]
            _entered: self.span.enter(),
            _span: core::marker::PhantomData,
        }
    }

    /// After a poll (inside the entered span).
    #[inline(always)]
    pub(crate) fn polled(&self, ready: bool) {
        #[cfg(feature = "tracing")]
        tracing::trace!(target: "hearth::task", ready, "poll");
        #[cfg(not(feature = "tracing"))]
        let _ = ready;
    }

    /// A poll took `took`, more than `threshold` (inside the entered span).
    #[cold]
    pub(crate) fn slow_poll(&self, took: Duration, threshold: Duration) {
        #[cfg(feature = "tracing")]
        let at = self.at;
        #[cfg(feature = "tracing")]
        tracing::warn!(
            target: "hearth::task",
            poll_time = ?took,
            spawned.at = %at,
            ?threshold,
            "slow poll: the task held up every other task of its thread"
        );
        #[cfg(not(feature = "tracing"))]
        let _ = (took, threshold);
    }

    /// The task is complete.
    #[inline(always)]
    pub(crate) fn completed(&self, outcome: Outcome) {
        #[cfg(feature = "tracing")]
        tracing::trace!(
            target: "hearth::task",
            parent: &self.span,
            outcome = outcome.as_str(),
            "completed"
        );
        #[cfg(not(feature = "tracing"))]
        let _ = outcome;
    }
}

/// How a task completed.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Outcome {
    /// Its future returned `Ready`.
    Finished,
    /// Aborted, or dropped by the executor's shutdown.
    Cancelled,
    /// Its poll panicked (its handle gets the panic).
    Panicked,
}

impl Outcome {
    #[cfg(feature = "tracing")]
    fn as_str(self) -> &'static str {
        match self {
            Outcome::Finished => "finished",
            Outcome::Cancelled => "cancelled",
            Outcome::Panicked => "panicked",
        }
    }
}

/// The guard of [`TaskSpan::enter`].
pub(crate) struct Entered<'a> {
    #[cfg(feature = "tracing")]
    _entered: tracing::span::Entered<'a>,
    _span: core::marker::PhantomData<&'a TaskSpan>,
}
