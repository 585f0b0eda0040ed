//! Gives hearth-sync hearth's timer, for `mpsc::Sender::send_timeout`.
//!
//! hearth-sync sits below the runtime and sleeps through the hook of
//! [`hearth_sync::timer`]; every executor installs hearth's [`sleep`]
//! there when it is created (once per process: later calls find it set). The
//! sleep it returns uses the timer of the executor that polls it, and
//! follows hearth's clock.
//!
//! [`sleep`]: crate::time::sleep

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

fn sleep(duration: Duration) -> Pin<Box<dyn Future<Output = ()>>> {
    Box::pin(crate::time::sleep(duration))
}

/// Installs hearth's sleep as hearth-sync's timer, unless one is installed.
pub(crate) fn install() {
    if !hearth_sync::timer::is_set() {
        // Another thread (or the application) may have won the race; the
        // first one installed stays, as documented in hearth-sync.
        let _ = hearth_sync::timer::set_sleep(sleep);
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    #[test]
    fn send_timeout_sleeps_on_hearths_timer() {
        crate::block_on(async {
            let (tx, mut rx) = hearth_sync::mpsc::channel(1);
            tx.send(1).await.unwrap();
            let start = std::time::Instant::now();
            let err = tx
                .send_timeout(2, Duration::from_millis(20))
                .await
                .unwrap_err();
            assert!(start.elapsed() >= Duration::from_millis(20));
            assert!(matches!(
                err,
                hearth_sync::mpsc::error::SendTimeoutError::Timeout(2)
            ));
            assert_eq!(rx.recv().await, Some(1));
            tx.send_timeout(3, Duration::from_millis(20)).await.unwrap();
            assert_eq!(rx.recv().await, Some(3));
        });
    }
}
