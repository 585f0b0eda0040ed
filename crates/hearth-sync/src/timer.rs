//! The timer hook: how [`mpsc::Sender::send_timeout`](crate::mpsc::Sender::send_timeout)
//! sleeps in a crate that sits below the runtime.
//!
//! hearth-sync has no timer of its own: timers belong to the runtime (hearth's
//! timer wheel, or a paused test clock). A runtime installs one sleep function
//! for the process with [`set_sleep`]; hearth's executor does so when it is
//! created, so under hearth `tx.send_timeout(v, dur).await` works as in tokio
//! and follows hearth's clock. Under another executor, install a sleep from
//! that runtime's timer yourself.
//!
//! Why a process-wide function and not a parameter: tokio's signature
//! (`send_timeout(&self, value, Duration)`) has no room for a timer, and a
//! hearth user should change imports, not code. Why not a thread-local: it
//! would have to be set and restored on every entry into an executor (hosted
//! executors enter once per turn); the function hearth installs finds the
//! calling thread's timer itself, as every hearth timer does.
//!
//! The sleep is boxed, and only made when a `send_timeout` finds the channel
//! full; sends that do not wait cost nothing extra.

use std::future::Future;
use std::pin::Pin;
use std::sync::OnceLock;
use std::time::Duration;

/// A function that returns a future completing after the given duration.
pub type SleepFn = fn(Duration) -> Pin<Box<dyn Future<Output = ()>>>;

static SLEEP: OnceLock<SleepFn> = OnceLock::new();

/// Installs the process's sleep function. The first one installed stays:
/// returns `Err(sleep)` if another was installed before.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
///
/// fn sleep(duration: Duration) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()>>> {
///     // A real program hands out its runtime's timer here.
///     Box::pin(async move { std::thread::sleep(duration) })
/// }
/// let _ = hearth_sync::timer::set_sleep(sleep);
/// assert!(hearth_sync::timer::is_set());
/// ```
pub fn set_sleep(sleep: SleepFn) -> Result<(), SleepFn> {
    SLEEP.set(sleep)
}

/// Whether a sleep function is installed.
pub fn is_set() -> bool {
    SLEEP.get().is_some()
}

/// A sleep of `duration` from the installed function.
///
/// # Panics
///
/// If none is installed.
pub(crate) fn sleep(duration: Duration) -> Pin<Box<dyn Future<Output = ()>>> {
    let sleep = SLEEP.get().expect(
        "hearth_sync: send_timeout found the channel full and needs a timer, but none is \
         installed; run it under hearth's executor or install your runtime's sleep with \
         hearth_sync::timer::set_sleep",
    );
    sleep(duration)
}
