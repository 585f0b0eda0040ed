//! A foreign thread wakes one task 1,000,000 times while the task completes
//! and is dropped: no lost wake-up (the task finishes), no leak (a counting
//! allocator balances).

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicBool, AtomicIsize, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Poll, Waker};
use std::thread;
use std::time::Duration;

struct Counting;

static LIVE: AtomicIsize = AtomicIsize::new(0);

// SAFETY: forwards to the system allocator; only counts.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(1, Ordering::Relaxed);
        // SAFETY: forwarded.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(1, Ordering::Relaxed);
        // SAFETY: forwarded.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

#[test]
fn million_remote_wakes_while_the_task_completes_and_drops() {
    let wakes: usize = if cfg!(miri) { 2_000 } else { 1_000_000 };
    // Warm up thread-local and runtime allocations that live for the process.
    hearth::block_on(async { hearth::spawn_local(async {}).await.unwrap() });
    let before = LIVE.load(Ordering::SeqCst);
    let done = Arc::new(AtomicBool::new(false));
    let d = done.clone();
    let watchdog = thread::spawn(move || {
        for _ in 0..600 {
            if d.load(Ordering::Relaxed) {
                return;
            }
            thread::sleep(Duration::from_millis(100));
        }
        eprintln!("stress test: no progress after 60 s: a wake-up was lost");
        std::process::exit(1);
    });

    {
        let counter = Arc::new(AtomicUsize::new(0));
        let slot = Arc::new(Mutex::new(None::<Waker>));
        let (c, s) = (counter.clone(), slot.clone());
        let waker_thread = thread::spawn(move || {
            let waker = loop {
                if let Some(w) = s.lock().unwrap().clone() {
                    break w;
                }
                thread::yield_now();
            };
            // Keep waking after the target is reached: the task completes and
            // is dropped while wakes still arrive.
            for _ in 0..wakes + wakes / 10 {
                c.fetch_add(1, Ordering::Release);
                waker.wake_by_ref();
            }
            waker.wake();
        });
        let polls = hearth::block_on(async move {
            let mut polls = 0u64;
            hearth::spawn_local(std::future::poll_fn(move |cx| {
                polls += 1;
                *slot.lock().unwrap() = Some(cx.waker().clone());
                if counter.load(Ordering::Acquire) >= wakes {
                    Poll::Ready(polls)
                } else {
                    Poll::Pending
                }
            }))
            .await
            .unwrap()
        });
        waker_thread.join().unwrap();
        assert!(polls >= 2, "the task was polled {polls} times");
    }
    done.store(true, Ordering::Relaxed);
    watchdog.join().unwrap();
    drop(done);
    // Threads that were joined may still run their thread-local destructors
    // (which free memory) for a moment: wait for the count to settle back. A
    // real leak never does.
    let mut diff = LIVE.load(Ordering::SeqCst) - before;
    for _ in 0..200 {
        if diff == 0 {
            break;
        }
        thread::sleep(Duration::from_millis(10));
        diff = LIVE.load(Ordering::SeqCst) - before;
    }
    assert_eq!(diff, 0, "allocations leaked: {diff}");
}
