//! Without a timer installed, `send_timeout` into a full channel panics with
//! a message that says what to do (its own test binary: the hook is
//! process-wide, and no test here installs one).
#![cfg(not(loom))]

mod common;

use std::time::Duration;

use common::Probe;
use hearth_sync::mpsc;

#[test]
fn a_full_channel_without_a_timer_panics_clearly() {
    assert!(!hearth_sync::timer::is_set());
    let (tx, mut rx) = mpsc::channel(1);
    // With room, no timer is needed.
    assert!(Probe::new(tx.send_timeout(1, Duration::ZERO))
        .poll()
        .is_ready());
    let err = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        Probe::new(tx.send_timeout(2, Duration::ZERO)).poll()
    }))
    .unwrap_err();
    let msg = err
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| err.downcast_ref::<&str>().copied())
        .unwrap_or_default();
    assert!(msg.contains("hearth_sync::timer::set_sleep"), "{msg}");
    // The panicking call left the channel as it was: its place in the queue
    // went with the dropped future.
    assert_eq!(rx.try_recv(), Ok(1));
    tx.try_send(3).unwrap();
    assert_eq!(rx.try_recv(), Ok(3));
}
