//! Deadlines that propagate (Go's `context.WithTimeout`): [`deadline`].
//!
//! [`deadline`] polls its future with a layer around the context
//! ([`hearth_task::provide`]) that provides a [`Deadline`] (the expiry
//! signal that primitives below hearth understand) and the instant itself.
//! Everything polled inside, however deep and through any combinator that
//! links its children (all of hearth-future's), finds it:
//!
//! - socket reads, writes, `accept` and `connect` fail with
//!   `io::ErrorKind::TimedOut` once the deadline passed, and a pending one is
//!   woken for it (it registers with the [`Deadline`]), so the code around
//!   it sees the error and can clean up;
//! - [`timeout`](super::timeout) and [`timeout_at`](super::timeout_at) end
//!   at the earlier of their own instant and the deadline, with
//!   [`Elapsed`];
//! - nested deadlines take the earliest: an inner `deadline` later than the
//!   outer one changes nothing;
//! - waits that cannot fail ([`sleep`](super::sleep), an interval's tick,
//!   hearth-sync's locks, channels and notifications, whose signatures are
//!   tokio's and have no timeout error) are cut: when the deadline passes,
//!   the future is polled once more (so the errors above can propagate),
//!   and if it is still pending, `deadline` returns [`Elapsed`] and drops it
//!   (hearth-sync treats that as cancellation: a dropped waiter leaves no
//!   trace, a dropped lock acquisition passes its turn on).
//!
//! Spawned tasks do **not** inherit the deadline (as tokio's task-locals
//! are not inherited): a spawned task is not part of the future that
//! spawned it and may outlive it. Wrap what you spawn in its own `deadline`
//! to bound it. Awaiting a `JoinHandle` inside a deadline is bounded like
//! any other wait.
//!
//! Deadlines and [cancel scopes](crate::task::CancellationToken::scope)
//! nest in either order: the waits inside fail when either ends, with
//! `TimedOut` for the deadline and the error of
//! [`Cancelled`](crate::task::Cancelled) for a cancellation.
//!
//! A deadline is provided through the context, so it works wherever the
//! context reaches: a foreign combinator that makes its own wakers
//! (`futures::FuturesUnordered`) hides it from its children, whose waits are
//! then only cut, not failed.

use core::fmt;
use core::future::Future;
use core::pin::Pin;
use core::task::{Context, Poll};
use std::time::Duration;

use hearth_task::provide::{self, Provider, Request};
use hearth_task::ContextExt;

use crate::task::expiry::{Cause, Expiry};

use super::{after, sleep_until, Elapsed, Instant, Sleep};

/// When a [`deadline`] passes: an instant, or a duration from now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct When(Instant);

impl From<Instant> for When {
    fn from(at: Instant) -> When {
        When(at)
    }
}

impl From<Duration> for When {
    fn from(d: Duration) -> When {
        When(after(Instant::now(), d))
    }
}

/// The instant of the deadline in scope, provided beside the [`Deadline`].
#[derive(Debug, Clone, Copy)]
pub(crate) struct DeadlineAt(pub(crate) Instant);

/// The instant of the deadline in force for `cx`, if any.
#[inline]
pub(crate) fn deadline_at(cx: &Context<'_>) -> Option<Instant> {
    cx.request_ref::<DeadlineAt>().map(|d| d.0)
}

/// What a [`WithDeadline`] provides: the expiry signal (shared with cancel
/// scopes, see `crate::task::expiry`) and the instant.
struct Layer {
    state: Expiry,
    at: DeadlineAt,
}

impl Provider for Layer {
    #[inline]
    fn provide<'a>(&'a self, request: &mut Request<'a>) {
        self.state.provide(request);
        request.provide_ref::<DeadlineAt>(&self.at);
    }
}

/// Runs `future` under a deadline that every wait inside it honours (see the
/// [module docs](self)): its output, or [`Elapsed`] if it is still pending
/// once the deadline passed.
///
/// `when` is an [`Instant`] or a `Duration` from now (taken when this is
/// called, as [`timeout`](super::timeout) does).
///
/// # Panics
///
/// When polled outside a hearth executor (it needs a timer).
///
/// # Examples
///
/// A deadline for a whole request; the socket read deep inside fails with
/// `TimedOut`, and the handler sees it:
///
/// ```
/// # if cfg!(miri) { return; } // Miri cannot open sockets
/// use std::time::Duration;
/// use futures::AsyncReadExt;
/// use hearth::net::{TcpListener, TcpStream};
///
/// hearth::block_on(async {
///     let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
///     let addr = listener.local_addr().unwrap();
///     let _client = TcpStream::connect(addr).await.unwrap(); // never writes
///     let (mut conn, _) = listener.accept().await.unwrap();
///
///     let handled = hearth::time::deadline(Duration::from_millis(20), async {
///         let mut buf = [0; 16];
///         // No timeout here: the deadline reaches the read.
///         match conn.read(&mut buf).await {
///             Err(e) if e.kind() == std::io::ErrorKind::TimedOut => "gave up",
///             _ => "read",
///         }
///     })
///     .await;
///     assert_eq!(handled, Ok("gave up"));
/// });
/// ```
///
/// Nested deadlines take the earliest; a wait that cannot fail is cut:
///
/// ```
/// use std::time::Duration;
/// use hearth::time::{deadline, sleep, timeout, Instant};
///
/// hearth::block_on(async {
///     let start = Instant::now();
///     let out = deadline(Duration::from_millis(10), async {
///         // The inner `timeout` ends at the outer deadline, 10 ms.
///         timeout(Duration::from_secs(60), sleep(Duration::from_secs(60))).await
///     })
///     .await;
///     assert!(matches!(out, Ok(Err(hearth::time::Elapsed { .. }))));
///     assert!(start.elapsed() < Duration::from_secs(10));
///
///     let cut = deadline(Duration::from_millis(5), sleep(Duration::from_secs(60))).await;
///     assert!(cut.is_err());
/// });
/// ```
pub fn deadline<F: Future>(when: impl Into<When>, future: F) -> WithDeadline<F> {
    let at = when.into().0;
    WithDeadline {
        future,
        layer: Layer {
            state: Expiry::new(),
            at: DeadlineAt(at),
        },
        sleep: None,
        passed: false,
    }
}

/// The future of [`deadline`].
#[must_use = "futures do nothing unless polled"]
pub struct WithDeadline<F> {
    /// Structurally pinned.
    future: F,
    layer: Layer,
    /// The timer, at the earlier of this deadline and the outer one; made on
    /// the first poll (the outer one is known then).
    sleep: Option<Sleep>,
    /// The timer fired (or the outer deadline passed): the future is cut.
    passed: bool,
}

impl<F> WithDeadline<F> {
    /// The instant this deadline passes (before the first poll: without
    /// an outer deadline that may be earlier).
    pub fn deadline(&self) -> Instant {
        self.layer.at.0
    }
}

impl<F: Future> Future for WithDeadline<F> {
    type Output = Result<F::Output, Elapsed>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        // `future` is structurally pinned: never moved out of a pinned
        // `WithDeadline` (no method gives it out, no `Drop` impl moves it);
        // `layer` and `sleep` are never pinned (`Sleep` is `Unpin`).
        // SAFETY: by the above.
        let this = unsafe { self.get_unchecked_mut() };
        let sleep = this.sleep.get_or_insert_with(|| {
            if let Some(outer) = deadline_at(cx) {
                if outer < this.layer.at.0 {
                    this.layer.at.0 = outer;
                }
            }
            sleep_until(this.layer.at.0)
        });
        if !this.passed && Pin::new(sleep).poll(cx).is_ready() {
            this.passed = true;
            // Wakes the waits that registered, so the poll below reaches
            // them (they are due in their combinators now) and they fail.
            this.layer.state.expire(Cause::Deadline);
        }
        // An outer layer's signal (a cancel scope's, or a foreign one) fires
        // this one too: waits inside fail with its cause. Only a deadline
        // cuts this future; a cancellation is cut by its own scope.
        this.layer.state.follow(cx);
        if this.layer.state.cause() == Some(Cause::Deadline) {
            this.passed = true;
        }
        // SAFETY: see above.
        let future = unsafe { Pin::new_unchecked(&mut this.future) };
        match provide::with(cx, &this.layer, |cx| future.poll(cx)) {
            Poll::Ready(v) => Poll::Ready(Ok(v)),
            Poll::Pending if this.passed => Poll::Ready(Err(Elapsed(()))),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl<F> fmt::Debug for WithDeadline<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WithDeadline")
            .field("deadline", &self.layer.at.0)
            .field("expired", &self.layer.state.is_expired())
            .finish_non_exhaustive()
    }
}

/// The error of an I/O operation that a deadline ended.
pub(crate) fn timed_out() -> std::io::Error {
    std::io::Error::new(
        std::io::ErrorKind::TimedOut,
        "the deadline in scope has passed (hearth::time::deadline)",
    )
}
