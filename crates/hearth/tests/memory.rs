//! Resources that must come back after a burst: the heap a flood takes is
//! given back once the flood has passed, within a stated bound, for the
//! timer wheel (1,000,000 timers that fire or are cancelled), a worker's
//! inbox (a `spawn_on` flood), the blocking pool (a `spawn_blocking` flood;
//! its threads stay capped and a full pool whose jobs wait on the async side
//! does not deadlock) and the cross-thread `remote` channel.
//!
//! Heap bytes are counted by this binary's global allocator (live bytes:
//! allocated minus freed, every thread), not read from RSS, which the
//! allocator does not always give back to the system. The tests run one at
//! a time (`serial`), so each sees only its own allocations.
// Miri: far too large for it; the wheel's own tests cover its code there.
#![cfg(not(miri))]

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::Poll;
use std::time::{Duration, Instant};

use hearth::time::{sleep, Sleep};
use support::heap_bytes as live;

mod support;

#[global_allocator]
static ALLOC: support::Counting = support::Counting;

/// One test at a time: the count is process-wide.
fn serial() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

fn kib(bytes: usize) -> f64 {
    bytes as f64 / 1024.0
}

/// `after - before` in bytes, negative if it went down.
fn grew(before: usize, after: usize) -> isize {
    after as isize - before as isize
}

const TIMERS: usize = 1_000_000;
/// What the wheel may keep after a burst, beyond what it held before: its
/// reserve of 16 free chunks (80 KiB), the fired-waker buffer it keeps
/// (24 KiB) and slack for the key table it cuts to the highest key in use.
const TIMER_BOUND: usize = 160 * 1024;

#[test]
fn a_burst_of_a_million_timers_gives_its_memory_back() {
    let _serial = serial();
    hearth::block_on(async {
        // The wheel exists and has seen a timer.
        sleep(Duration::from_millis(1)).await;
        let before = live();
        let start = Instant::now();
        // Deadlines spread over 300 ms (levels 0 and 1) and a tenth over
        // 3 to 4 s (level 2: cascades), each registered by one poll.
        let mut sleeps: Vec<Sleep> = (0..TIMERS as u64)
            .map(|i| {
                let ms = if i % 10 == 0 {
                    3000 + i % 1000
                } else {
                    1 + i % 300
                };
                sleep(Duration::from_millis(ms))
            })
            .collect();
        std::future::poll_fn(|cx| {
            for s in &mut sleeps {
                assert!(Pin::new(s).poll(cx).is_pending());
            }
            Poll::Ready(())
        })
        .await;
        let peak = live();
        let vec = sleeps.capacity() * size_of::<Sleep>();
        // Cancel half (the long ones among them), let the rest fire.
        let mut i = 0;
        sleeps.retain(|_| {
            i += 1;
            i % 2 == 0
        });
        for s in &mut sleeps {
            s.await;
        }
        drop(sleeps);
        let after = live();
        eprintln!(
            "timer burst: {TIMERS} timers in {:.2?}; heap before {:.0} KiB, peak {:.0} KiB \
             (wheel {:.0} KiB, the Sleeps' Vec {:.0} KiB), after {:.0} KiB ({:+} bytes)",
            start.elapsed(),
            kib(before),
            kib(peak),
            kib(peak - before - vec),
            kib(vec),
            kib(after),
            grew(before, after),
        );
        assert!(peak - before > 40 * TIMERS, "the burst took no memory?");
        assert!(
            after <= before + TIMER_BOUND,
            "the wheel kept {} bytes after the burst",
            after - before
        );
    });
}

/// What a drained inbox may keep: the executor's task table (8 bytes a
/// slot, as many slots as tasks were alive at once: one turn's worth) and
/// a block of the inbox's queue.
const INBOX_BOUND: usize = 64 * 1024;
const FLOOD: usize = 200_000;

#[test]
fn a_spawn_on_flood_drains_and_gives_its_memory_back() {
    let _serial = serial();
    let rt = hearth::Runtime::builder().workers(1).build().unwrap();
    // Warm up: the worker has run a task, the caller has awaited a handle.
    rt.block_on(rt.spawn_on(0, || async {}).unwrap()).unwrap();
    let before = live();

    // The worker is stuck in a closure; sends pile up in its inbox.
    let (release, stuck) = std::sync::mpsc::channel::<()>();
    let blocker = rt
        .spawn_on(0, move || {
            stuck.recv().unwrap();
            async {}
        })
        .unwrap();
    let handles: Vec<_> = (0..FLOOD)
        .map(|i| rt.spawn_on(0, move || async move { i }).unwrap())
        .collect();
    let peak = live();
    release.send(()).unwrap();
    let sum = rt.block_on(async {
        blocker.await.unwrap();
        let mut sum = 0;
        for h in handles {
            sum += h.await.unwrap();
        }
        sum
    });
    assert_eq!(sum, FLOOD * (FLOOD - 1) / 2);
    assert_eq!(rt.block_on(rt.task_count(0).unwrap()).unwrap(), 0);
    let after = live();
    eprintln!(
        "spawn_on flood: {FLOOD} queued on a stuck worker; heap before {:.0} KiB, peak {:.0} KiB \
         ({} bytes a spawn, handle included), after {:.0} KiB ({:+} bytes)",
        kib(before),
        kib(peak),
        (peak - before) / FLOOD,
        kib(after),
        grew(before, after),
    );
    assert!(
        after <= before + INBOX_BOUND,
        "kept {} bytes after the flood",
        after - before
    );
    rt.shutdown();
}

/// The blocking pool's threads.
fn blocking_threads() -> usize {
    std::fs::read_dir("/proc/self/task")
        .unwrap()
        .filter_map(|t| std::fs::read_to_string(t.ok()?.path().join("comm")).ok())
        .filter(|name| name.trim() == "hearth-blocking")
        .count()
}

const BLOCKING_THREADS: usize = 4;
const BLOCKING_JOBS: usize = 20_000;
/// What the pool may keep after a flood: its queue's reserve.
const BLOCKING_BOUND: usize = 16 * 1024;

#[test]
fn a_spawn_blocking_flood_caps_the_threads_and_does_not_deadlock() {
    let _serial = serial();
    let rt = hearth::Runtime::builder()
        .workers(1)
        .max_blocking_threads(BLOCKING_THREADS)
        .blocking_keep_alive(Duration::from_secs(60))
        .build()
        .unwrap();
    let handle = rt.handle().clone();
    // Warm up: start every blocking thread (and keep them: long keep-alive),
    // each waiting on the worker once (its first executor, thread-locals),
    // and the worker's timer wheel.
    let gate = Arc::new(std::sync::Barrier::new(BLOCKING_THREADS));
    let warm: Vec<_> = (0..BLOCKING_THREADS)
        .map(|_| {
            let (gate, handle) = (gate.clone(), handle.clone());
            rt.spawn_blocking(move || {
                gate.wait();
                let nap = || hearth::time::sleep(Duration::from_millis(1));
                hearth::block_on(handle.spawn_on(0, nap).unwrap()).unwrap();
            })
        })
        .collect();
    for h in warm {
        rt.block_on(h).unwrap();
    }
    assert_eq!(blocking_threads(), BLOCKING_THREADS);
    let before = live();

    // Every blocking thread waits on the async side: on a task of worker 0
    // that answers only once all of them are waiting.
    let waiting = Arc::new(AtomicUsize::new(0));
    let waiters: Vec<_> = (0..BLOCKING_THREADS)
        .map(|_| {
            let (handle, waiting) = (handle.clone(), waiting.clone());
            rt.spawn_blocking(move || {
                waiting.fetch_add(1, Ordering::SeqCst);
                let reply = handle
                    .spawn_on(0, move || async move {
                        while waiting.load(Ordering::SeqCst) < BLOCKING_THREADS {
                            hearth::time::sleep(Duration::from_millis(1)).await;
                        }
                        7u64
                    })
                    .unwrap();
                // A fresh executor on this thread awaits the worker's task.
                hearth::block_on(reply).unwrap()
            })
        })
        .collect();
    let flood: Vec<_> = (0..BLOCKING_JOBS as u64)
        .map(|i| rt.spawn_blocking(move || i))
        .collect();
    let peak_threads = blocking_threads();
    let peak = live();
    // Meanwhile the async side keeps running, and a task may await a
    // blocking job queued behind all of that.
    let last = rt
        .spawn_on(0, move || async move {
            handle.spawn_blocking(|| 1u64).await.unwrap()
        })
        .unwrap();
    let total = rt.block_on(hearth::time::timeout(Duration::from_secs(60), async {
        let mut total = 0;
        for w in waiters {
            total += w.await.unwrap();
        }
        for f in flood {
            total += f.await.unwrap();
        }
        total + last.await.unwrap()
    }));
    let total = total.expect("deadlock: the flood did not finish in 60 s");
    let n = BLOCKING_JOBS as u64;
    assert_eq!(total, 7 * BLOCKING_THREADS as u64 + n * (n - 1) / 2 + 1);
    assert!(
        peak_threads <= BLOCKING_THREADS,
        "{peak_threads} blocking threads"
    );
    assert_eq!(blocking_threads(), BLOCKING_THREADS);
    let after = live();
    eprintln!(
        "spawn_blocking flood: {BLOCKING_JOBS} jobs behind {BLOCKING_THREADS} threads that wait \
         on the async side; threads at most {peak_threads}; heap before {:.0} KiB, peak {:.0} \
         KiB ({} bytes a queued job, handle included), after {:.0} KiB ({:+} bytes)",
        kib(before),
        kib(peak),
        (peak - before) / BLOCKING_JOBS,
        kib(after),
        grew(before, after),
    );
    assert!(
        after <= before + BLOCKING_BOUND,
        "kept {} bytes after the flood",
        after - before
    );
    rt.shutdown_graceful(Duration::from_secs(10)).unwrap();
}

const MESSAGES: u64 = 1_000_000;
/// What a drained channel may keep: one block of its queue.
const REMOTE_BOUND: usize = 4 * 1024;

#[test]
fn the_remote_channel_gives_back_what_a_stalled_receiver_queued() {
    use hearth_sync::remote;
    let _serial = serial();
    let (tx, mut rx) = remote::unbounded_channel::<u64>();
    let before = live();
    std::thread::spawn(move || {
        for i in 0..MESSAGES {
            tx.send(i).unwrap();
        }
    })
    .join()
    .unwrap();
    let peak = live();
    let mut sum = 0;
    while let Ok(i) = rx.try_recv() {
        sum += i;
    }
    assert_eq!(sum, MESSAGES * (MESSAGES - 1) / 2);
    let after = live();
    drop(rx);

    // Bounded: a sender that outruns its receiver waits; memory stays put.
    let (tx, mut rx) = remote::channel::<u64>(1024);
    let bounded_before = live();
    let sender = std::thread::spawn(move || {
        hearth::block_on(async {
            for i in 0..MESSAGES / 10 {
                tx.send(i).await.unwrap();
            }
        })
    });
    std::thread::sleep(Duration::from_millis(50));
    let bounded_stalled = live();
    let received = hearth::block_on(async {
        let mut n = 0;
        while rx.recv().await.is_some() {
            n += 1;
        }
        n
    });
    sender.join().unwrap();
    assert_eq!(received, MESSAGES / 10);
    eprintln!(
        "remote channel: {MESSAGES} u64s queued unbounded, heap before {:.0} KiB, peak {:.0} KiB, \
         drained {:.0} KiB ({:+} bytes); bounded(1024) with a stalled receiver: {:+} bytes",
        kib(before),
        kib(peak),
        kib(after),
        grew(before, after),
        grew(bounded_before, bounded_stalled),
    );
    assert!(peak - before > 8 * MESSAGES as usize);
    assert!(
        after <= before + REMOTE_BOUND,
        "kept {} bytes",
        after - before
    );
    // The sender thread, its executor and its parked waker: not the queue.
    assert!(grew(bounded_before, bounded_stalled) < 64 * 1024);
}
