//! Files and host names go to the blocking pool: while one waits there, the
//! worker that awaits it keeps running its other tasks. Checked with a pool
//! of one thread kept busy, so the operation waits for a known time, and a
//! 1 ms interval on the same worker whose largest gap must stay far below
//! that wait. An operation that blocked the worker would stall the interval
//! for as long (and would not wait for the pool at all).
#![cfg(not(miri))] // Miri has no file system, resolver or epoll

use std::sync::mpsc;
use std::time::{Duration, Instant};

use hearth::time::{interval, MissedTickBehavior};

/// How long the pool's only thread stays busy.
const BUSY: Duration = Duration::from_millis(600);
/// The largest gap allowed between two ticks of the 1 ms interval: far
/// below `BUSY`, far above the scheduling noise of a loaded machine.
const MAX_GAP: Duration = Duration::from_millis(250);

/// Runs `op` on worker 0 while the pool's only thread is busy for `BUSY`;
/// returns how long `op` took and the largest gap between the interval's
/// ticks meanwhile.
fn while_the_pool_is_busy<F, Fut>(op: F) -> (Duration, Duration)
where
    F: FnOnce() -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()> + 'static,
{
    let rt = hearth::Runtime::builder()
        .workers(1)
        .max_blocking_threads(1)
        .build()
        .unwrap();
    let (started_tx, started_rx) = mpsc::channel();
    let busy = rt.spawn_blocking(move || {
        started_tx.send(()).unwrap();
        std::thread::sleep(BUSY);
    });
    started_rx.recv().unwrap();
    let measured = rt
        .spawn_on(0, move || async move {
            let done = std::rc::Rc::new(std::cell::Cell::new(false));
            let ticker = hearth::spawn_local({
                let done = done.clone();
                async move {
                    let mut ticks = interval(Duration::from_millis(1));
                    ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
                    ticks.tick().await;
                    let mut last = Instant::now();
                    let mut max_gap = Duration::ZERO;
                    while !done.get() {
                        ticks.tick().await;
                        let now = Instant::now();
                        max_gap = max_gap.max(now - last);
                        last = now;
                    }
                    max_gap
                }
            });
            hearth::yield_now().await; // the ticker is running
            let start = Instant::now();
            op().await;
            let took = start.elapsed();
            done.set(true);
            (took, ticker.await.unwrap())
        })
        .unwrap();
    let result = rt.block_on(measured).unwrap();
    rt.block_on(busy).unwrap();
    rt.shutdown();
    result
}

fn assert_off_the_worker(what: &str, (took, max_gap): (Duration, Duration)) {
    assert!(
        took >= BUSY / 2,
        "{what} took {took:?}: it did not wait for the busy pool, so it ran on the worker"
    );
    assert!(
        max_gap < MAX_GAP,
        "{what}: the worker stalled for {max_gap:?} while it waited (took {took:?})"
    );
}

#[test]
fn a_lookup_does_not_block_the_worker() {
    let measured = while_the_pool_is_busy(|| async {
        let addrs: Vec<_> = hearth::net::lookup_host("localhost:80")
            .await
            .unwrap()
            .collect();
        assert!(!addrs.is_empty());
    });
    assert_off_the_worker("lookup_host(\"localhost:80\")", measured);
}

#[test]
fn a_connect_by_name_does_not_block_the_worker() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let measured = while_the_pool_is_busy(move || async move {
        hearth::net::TcpStream::connect(("localhost", port))
            .await
            .unwrap();
    });
    assert_off_the_worker("TcpStream::connect((\"localhost\", port))", measured);
}

#[test]
fn a_file_read_does_not_block_the_worker() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("data");
    std::fs::write(&path, b"contents").unwrap();
    let measured = while_the_pool_is_busy(move || async move {
        assert_eq!(hearth::fs::read(&path).await.unwrap(), b"contents");
    });
    assert_off_the_worker("fs::read", measured);
}

#[test]
fn literal_addresses_do_not_wait_for_the_pool() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let (took, _) = while_the_pool_is_busy(move || async move {
        hearth::net::TcpStream::connect(addr).await.unwrap();
        hearth::net::TcpStream::connect(addr.to_string())
            .await
            .unwrap();
        assert_eq!(
            hearth::net::lookup_host(("127.0.0.1", 80))
                .await
                .unwrap()
                .count(),
            1
        );
    });
    assert!(
        took < BUSY / 2,
        "a literal address waited for the pool: {took:?}"
    );
}
