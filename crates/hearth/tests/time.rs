//! Timers: order, never early, cancel, timeout, interval missed-tick modes.
#![cfg(not(miri))] // real clocks and sleeps: slow under Miri

use std::cell::RefCell;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};
use std::time::Duration;

use hearth::time::{
    interval, interval_at, sleep, sleep_until, timeout, Instant, MissedTickBehavior,
};

const MS: Duration = Duration::from_millis(1);

#[test]
fn timers_fire_in_deadline_order_and_never_early() {
    let log = Rc::new(RefCell::new(Vec::new()));
    hearth::block_on(async {
        let start = Instant::now();
        let mut handles = Vec::new();
        // Spawned in scrambled order; deadlines 1..=20 ms and sub-ms offsets.
        for i in [7u64, 3, 19, 1, 12, 5, 20, 2, 9, 15] {
            let log = log.clone();
            let deadline = start + Duration::from_micros(i * 1000 + 300);
            handles.push(hearth::spawn_local(async move {
                sleep_until(deadline).await;
                let now = Instant::now();
                assert!(
                    now >= deadline,
                    "timer {i} fired {:?} early",
                    deadline - now
                );
                log.borrow_mut().push(i);
            }));
        }
        for h in handles {
            h.await.unwrap();
        }
    });
    assert_eq!(*log.borrow(), [1, 2, 3, 5, 7, 9, 12, 15, 19, 20]);
}

#[test]
fn same_tick_deadlines_wake_in_deadline_order() {
    let log = Rc::new(RefCell::new(Vec::new()));
    hearth::block_on(async {
        let base = Instant::now() + 5 * MS;
        let mut handles = Vec::new();
        for i in [900u64, 100, 500, 300] {
            let log = log.clone();
            handles.push(hearth::spawn_local(async move {
                sleep_until(base + Duration::from_micros(i)).await;
                log.borrow_mut().push(i);
            }));
        }
        for h in handles {
            h.await.unwrap();
        }
    });
    assert_eq!(*log.borrow(), [100, 300, 500, 900]);
}

#[test]
fn sleep_never_returns_early() {
    hearth::block_on(async {
        for d in [0u64, 1, 2, 5, 13] {
            let d = Duration::from_millis(d) + Duration::from_micros(250);
            let start = Instant::now();
            sleep(d).await;
            assert!(start.elapsed() >= d);
        }
    });
}

#[test]
fn dropping_a_sleep_cancels_it() {
    hearth::block_on(async {
        let fired = Rc::new(RefCell::new(false));
        let f = fired.clone();
        let task = hearth::spawn_local(async move {
            sleep(5 * MS).await;
            *f.borrow_mut() = true;
        });
        hearth::yield_now().await; // registers the timer
        task.abort();
        sleep(15 * MS).await;
        assert!(!*fired.borrow());
        // Cancelled timers leave the executor idle: a long sleep dropped
        // unpolled does not keep block_on alive either.
        drop(sleep(Duration::from_secs(3600)));
    });
}

#[test]
fn many_timers_cancelled_and_fired() {
    hearth::block_on(async {
        let done = Rc::new(RefCell::new(0));
        let mut keep = Vec::new();
        for i in 0..2000u64 {
            let done = done.clone();
            let h = hearth::spawn_local(async move {
                sleep(Duration::from_micros(100 * (i % 50))).await;
                *done.borrow_mut() += 1;
            });
            if i % 2 == 0 {
                h.abort();
            } else {
                keep.push(h);
            }
        }
        for h in keep {
            h.await.unwrap();
        }
        assert_eq!(*done.borrow(), 1000);
    });
}

#[test]
fn timeout_elapses_or_passes_the_output_through() {
    hearth::block_on(async {
        let start = Instant::now();
        let err = timeout(10 * MS, std::future::pending::<()>())
            .await
            .unwrap_err();
        assert!(start.elapsed() >= 10 * MS);
        assert_eq!(err.to_string(), "deadline has elapsed");

        assert_eq!(timeout(Duration::ZERO, async { 3 }).await, Ok(3));
        let quick = async {
            sleep(MS).await;
            4
        };
        assert_eq!(timeout(Duration::from_secs(5), quick).await, Ok(4));
    });
}

#[test]
fn reset_moves_a_pending_sleep_both_ways() {
    hearth::block_on(async {
        let start = Instant::now();
        let mut s = sleep(Duration::from_secs(3600));
        // Register it, then pull it in while it is pending.
        std::future::poll_fn(|cx| {
            assert!(Pin::new(&mut s).poll(cx).is_pending());
            Poll::Ready(())
        })
        .await;
        Pin::new(&mut s).reset(start + 3 * MS);
        s.await;
        let e = start.elapsed();
        assert!(e >= 3 * MS && e < Duration::from_secs(1), "{e:?}");
    });
}

/// Blocks the thread (the executor) for `d`, so ticks are missed.
fn stall(d: Duration) {
    std::thread::sleep(d);
}

/// One run of the scenario, or `None` if the first tick was taken late (the
/// machine was busy): like tokio, an interval treats a tick more than 5 ms
/// late as missed, and the scenario's expectations assume it was not.
fn try_ticks_after_stall(behavior: MissedTickBehavior) -> Option<(Instant, Vec<Instant>)> {
    hearth::block_on(async {
        let period = 10 * MS;
        let start = Instant::now() + period;
        let mut i = interval_at(start, period);
        i.set_missed_tick_behavior(behavior);
        assert_eq!(i.tick().await, start);
        if Instant::now() > start + 4 * MS {
            return None;
        }
        stall(35 * MS); // misses ticks at start+10, +20, +30
        let mut ticks = Vec::new();
        for _ in 0..4 {
            ticks.push(i.tick().await);
        }
        Some((start, ticks))
    })
}

/// The scenario, retried while a busy machine made the first tick late.
fn ticks_after_stall(behavior: MissedTickBehavior) -> (Instant, Vec<Instant>) {
    (0..50)
        .find_map(|_| try_ticks_after_stall(behavior))
        .expect("the first tick was late in 50 runs in a row")
}

#[test]
fn interval_burst_catches_up_on_schedule() {
    let (start, ticks) = ticks_after_stall(MissedTickBehavior::Burst);
    let expect: Vec<Instant> = (1..=4).map(|k| start + k * 10 * MS).collect();
    assert_eq!(ticks, expect);
}

#[test]
fn interval_delay_shifts_the_schedule() {
    let (start, ticks) = ticks_after_stall(MissedTickBehavior::Delay);
    assert_eq!(ticks[0], start + 10 * MS); // the late tick itself
    for w in ticks.windows(2) {
        assert!(w[1] - w[0] >= 10 * MS, "{:?}", w[1] - w[0]);
    }
    // The second tick is a period after the late one was taken (>= 45 ms).
    assert!(ticks[1] >= start + 45 * MS);
}

#[test]
fn interval_skip_stays_on_the_grid() {
    let (start, ticks) = ticks_after_stall(MissedTickBehavior::Skip);
    assert_eq!(ticks[0], start + 10 * MS);
    // Next ticks on the original grid, after the stall: +40, +50, +60.
    for (k, t) in ticks[1..].iter().enumerate() {
        let offset = *t - start;
        assert_eq!(
            offset.as_nanos() % (10 * MS).as_nanos(),
            0,
            "{offset:?} off-grid"
        );
        assert_eq!(offset, (40 + 10 * k as u32) * MS);
    }
}

#[test]
fn interval_ticks_at_the_period() {
    hearth::block_on(async {
        let mut i = interval(5 * MS);
        let first = i.tick().await;
        for k in 1..4 {
            assert_eq!(i.tick().await, first + k * 5 * MS);
            assert!(Instant::now() >= first + k * 5 * MS);
        }
    });
}

#[test]
#[should_panic(expected = "polled outside of a hearth executor")]
fn sleep_outside_an_executor_panics_with_the_remedy() {
    let mut s = sleep(MS);
    let waker = std::task::Waker::noop();
    let _ = Pin::new(&mut s).poll(&mut Context::from_waker(waker));
}

#[test]
fn a_sleep_created_outside_and_awaited_inside_works() {
    let s = sleep(MS);
    hearth::block_on(s);
}

#[test]
fn timers_fire_while_the_executor_is_busy() {
    hearth::block_on(async {
        let fired = Rc::new(RefCell::new(false));
        let f = fired.clone();
        hearth::spawn_local(async move {
            sleep(2 * MS).await;
            *f.borrow_mut() = true;
        });
        // Always ready: the executor never parks, yet the timer fires.
        let start = Instant::now();
        while !*fired.borrow() {
            assert!(start.elapsed() < Duration::from_secs(5), "timer starved");
            hearth::yield_now().await;
        }
    });
}

#[test]
fn run_until_idle_fires_due_timers_without_waiting() {
    let ex = hearth::Executor::new();
    let h = ex.spawn_local(sleep(MS));
    ex.run_until_idle();
    assert!(!h.is_finished());
    std::thread::sleep(3 * MS);
    ex.run_until_idle();
    assert!(h.is_finished());
}
