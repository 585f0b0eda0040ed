//! [`HearthExecutor`]: hyper's executor ([`hyper::rt::Executor`]) on
//! hearth's current worker.

use core::future::Future;

/// hyper's executor on hearth: spawns hyper's background futures (HTTP/2
/// streams and connection tasks) with [`hearth::spawn_local`], on the
/// executor of the thread that asks.
///
/// The futures need not be `Send`: hearth's tasks never leave their thread,
/// and hyper's HTTP/2 (through hyper-util's auto builder too) asks for no
/// more than this. A future's output is dropped; the task is detached.
///
/// # Panics
///
/// `execute` panics outside a hearth executor (hyper calls it from a
/// connection, which runs on one).
///
/// # Examples
///
/// ```
/// use hyper::rt::Executor;
/// use hearth_hyper::HearthExecutor;
///
/// hearth::block_on(async {
///     let (tx, rx) = std::sync::mpsc::channel();
///     HearthExecutor.execute(async move { tx.send(7).unwrap() });
///     hearth::yield_now().await;
///     assert_eq!(rx.recv().unwrap(), 7);
/// });
/// ```
#[derive(Clone, Copy, Debug, Default)]
pub struct HearthExecutor;

impl<F> hyper::rt::Executor<F> for HearthExecutor
where
    F: Future + 'static,
    F::Output: 'static,
{
    fn execute(&self, future: F) {
        // Dropping the handle detaches the task.
        drop(hearth::spawn_local(future));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hyper::rt::Executor;
    use std::rc::Rc;

    #[test]
    fn runs_futures_that_are_not_send() {
        let ran = hearth::block_on(async {
            let ran = Rc::new(core::cell::Cell::new(false));
            let flag = ran.clone();
            HearthExecutor.execute(async move { flag.set(true) });
            for _ in 0..10 {
                if ran.get() {
                    break;
                }
                hearth::yield_now().await;
            }
            ran.get()
        });
        assert!(ran);
    }
}
