//! Counted, not assumed: the local path performs no atomic read-modify-write.
//!
//! A ping-pong through two mpsc channels, a Mutex and a Semaphore under a
//! dual-waker executor, run inside `count`.

mod common;

use std::rc::Rc;

use hearth_sync::{mpsc, oneshot, Mutex, Notify, Semaphore};
use hearth_task::atomic::counting::count;

fn ping_pong(ex: &common::Executor, rounds: u32) {
    let (tx_a, mut rx_a) = mpsc::channel::<u32>(1);
    let (tx_b, mut rx_b) = mpsc::unbounded_channel::<u32>();
    ex.spawn(async move {
        while let Some(v) = rx_a.recv().await {
            tx_b.send(v + 1).unwrap();
        }
    });
    ex.spawn(async move {
        for i in 0..rounds {
            tx_a.send(i).await.unwrap();
            assert_eq!(rx_b.recv().await, Some(i + 1));
        }
    });
}

fn locks(ex: &common::Executor) {
    let m = Rc::new(Mutex::new(0));
    let s = Rc::new(Semaphore::new(2));
    let n = Rc::new(Notify::new());
    for _ in 0..4 {
        let (m, s, n) = (m.clone(), s.clone(), n.clone());
        ex.spawn(async move {
            for _ in 0..10 {
                let _p = s.acquire().await.unwrap();
                *m.lock().await += 1;
                n.notify_one();
            }
            n.notified().await;
        });
    }
    let (tx, rx) = oneshot::channel();
    ex.spawn(async move {
        tx.send(1).unwrap();
    });
    ex.spawn(async move {
        assert_eq!(rx.await, Ok(1));
    });
}

#[test]
fn local_path_performs_no_atomic_rmw() {
    let ex = common::Executor::default();
    // Warm up: the first dual-waker lookup on a thread assigns its token.
    ping_pong(&ex, 1);
    ex.run();
    let (polls, n) = count(|| {
        ping_pong(&ex, 1000);
        locks(&ex);
        ex.run()
    });
    assert!(polls > 2000, "the tasks ran ({polls} polls)");
    assert_eq!(n, 0, "{n} atomic RMW operations on the local path");
}
