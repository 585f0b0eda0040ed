//! Running a test on every I/O driver this machine offers (shared by
//! `io_driver.rs` and `stream_recv.rs`).

use std::io;

use hearth::runtime::IoDriver;
use hearth::Executor;

/// The concrete drivers this machine can run.
pub fn drivers() -> Vec<IoDriver> {
    let mut drivers = vec![IoDriver::Epoll];
    if IoDriver::IoUring.resolve().is_ok() {
        drivers.push(IoDriver::IoUring);
    } else {
        eprintln!("io_uring is not available here: only epoll is tested");
    }
    drivers
}

/// Runs `f` to completion on a fresh executor with `driver`.
pub fn on<F: std::future::Future<Output = io::Result<()>>>(driver: IoDriver, f: F) {
    let executor = Executor::with_io_driver(driver).unwrap();
    executor.run_until(f).unwrap();
    assert_eq!(executor.io_driver(), driver);
}
