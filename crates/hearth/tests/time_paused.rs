//! The paused clock (feature `test-util`): `pause`, `advance`, `resume`,
//! auto-advance, and the timers and `Instant` that follow it. Modelled on
//! tokio's documented behaviour (tokio's `time::pause`/`advance`/`resume`
//! docs and its `time_pause` tests).

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use hearth::time::{
    self, interval, interval_at, sleep, sleep_until, timeout, Duration, Instant, MissedTickBehavior,
};

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

#[test]
fn advance_moves_instant_now_by_exactly_its_amount() {
    hearth::block_on(async {
        time::pause();
        let start = Instant::now();
        std::thread::sleep(ms(2)); // real time does not move the paused clock
        assert_eq!(Instant::now(), start);
        time::advance(Duration::from_nanos(1_234_567)).await;
        assert_eq!(Instant::now() - start, Duration::from_nanos(1_234_567));
        time::advance(Duration::from_secs(90)).await;
        assert_eq!(
            start.elapsed(),
            Duration::from_secs(90) + Duration::from_nanos(1_234_567)
        );
        time::advance(Duration::ZERO).await;
        assert_eq!(
            start.elapsed(),
            Duration::from_secs(90) + Duration::from_nanos(1_234_567)
        );
    });
}

#[test]
fn sleep_completes_only_once_advanced_past_its_deadline() {
    hearth::block_on(async {
        time::pause();
        let start = Instant::now();
        let done = Rc::new(Cell::new(None));
        let d = done.clone();
        let task = hearth::spawn_local(async move {
            sleep(ms(100)).await;
            d.set(Some(Instant::now()));
        });
        hearth::yield_now().await;
        time::advance(ms(99)).await;
        assert_eq!(done.get(), None, "fired 1 ms early");
        time::advance(ms(1)).await;
        assert_eq!(done.get(), Some(start + ms(100)));
        task.await.unwrap();
    });
}

#[test]
fn sleep_until_and_reset_follow_the_paused_clock() {
    hearth::block_on(async {
        time::pause();
        let start = Instant::now();
        let mut s = sleep_until(start + ms(50));
        assert!(!s.is_elapsed());
        time::advance(ms(50)).await;
        assert!(s.is_elapsed(), "is_elapsed reads the paused clock");
        std::pin::Pin::new(&mut s).reset(start + ms(80));
        assert!(!s.is_elapsed());
        s.await; // auto-advance
        assert_eq!(start.elapsed(), ms(80));
    });
}

#[test]
fn timeout_elapses_under_advance_and_not_before() {
    hearth::block_on(async {
        time::pause();
        let result = Rc::new(RefCell::new(None));
        let r = result.clone();
        hearth::spawn_local(async move {
            let out = timeout(ms(500), std::future::pending::<()>()).await;
            *r.borrow_mut() = Some(out);
        });
        hearth::yield_now().await;
        time::advance(ms(499)).await;
        assert!(result.borrow().is_none());
        time::advance(ms(1)).await;
        assert!(result.borrow_mut().take().unwrap().is_err());

        // A future that completes first wins, whatever the clock says.
        assert_eq!(timeout(ms(1), async { 7 }).await, Ok(7));
    });
}

#[test]
fn auto_advance_jumps_to_the_next_timer_when_only_timers_are_pending() {
    let real = std::time::Instant::now();
    hearth::block_on(async {
        time::pause();
        let start = Instant::now();
        sleep(Duration::from_secs(3600)).await;
        assert_eq!(start.elapsed(), Duration::from_secs(3600));

        // Several tasks: the clock visits each deadline in order.
        let order = Rc::new(RefCell::new(Vec::new()));
        let mut handles = Vec::new();
        for secs in [30u64, 10, 20] {
            let order = order.clone();
            handles.push(hearth::spawn_local(async move {
                sleep(Duration::from_secs(secs)).await;
                order.borrow_mut().push((secs, Instant::now()));
            }));
        }
        for h in handles {
            h.await.unwrap();
        }
        let base = start + Duration::from_secs(3600);
        assert_eq!(
            *order.borrow(),
            [10u64, 20, 30].map(|s| (s, base + Duration::from_secs(s)))
        );

        // A timeout with nothing else pending elapses by auto-advance.
        assert!(
            timeout(Duration::from_secs(5), std::future::pending::<()>())
                .await
                .is_err()
        );
    });
    assert!(
        real.elapsed() < Duration::from_secs(30),
        "waited in real time"
    );
}

#[test]
fn no_auto_advance_while_a_task_is_runnable() {
    hearth::block_on(async {
        time::pause();
        let start = Instant::now();
        let busy = hearth::spawn_local(async move {
            for _ in 0..if cfg!(miri) { 50 } else { 1_000 } {
                assert_eq!(
                    Instant::now(),
                    start,
                    "the clock moved while a task was runnable"
                );
                hearth::yield_now().await;
            }
        });
        let sleeper = hearth::spawn_local(async move {
            sleep(ms(10)).await;
            Instant::now()
        });
        busy.await.unwrap();
        assert_eq!(Instant::now(), start);
        assert_eq!(sleeper.await.unwrap(), start + ms(10));
    });
}

#[test]
#[cfg_attr(miri, ignore = "Miri cannot model epoll")]
fn no_auto_advance_while_io_is_ready() {
    use hearth::net::{TcpListener, TcpStream};

    hearth::block_on(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (client, accepted) =
            futures::join!(async { TcpStream::connect(addr).await.unwrap() }, async {
                listener.accept().await.unwrap().0
            });
        let server = accepted;
        time::pause();
        let start = Instant::now();
        // The reader registers for readiness (nothing to read yet) and a
        // long timer; then the writer makes data ready and finishes. Every
        // task is idle with a timer pending, but the readable event comes
        // first: the clock must not move.
        let reader = hearth::spawn_local(async move {
            let mut buf = [0u8; 5];
            let read = timeout(Duration::from_secs(10), server.read_exact(&mut buf)).await;
            (read.map(|r| r.map(|()| buf)), Instant::now())
        });
        let writer = hearth::spawn_local(async move {
            client.write_all(b"hello").await.unwrap();
            client
        });
        let _client = writer.await.unwrap();
        let (read, at) = reader.await.unwrap();
        assert_eq!(read.unwrap().unwrap(), *b"hello");
        assert_eq!(at, start, "auto-advance ran although I/O was ready");
    });
}

#[test]
fn interval_ticks_on_schedule_under_advance() {
    hearth::block_on(async {
        time::pause();
        let start = Instant::now();
        let mut i = interval(ms(10));
        assert_eq!(i.tick().await, start, "the first tick completes at once");
        for k in 1..=3 {
            assert_eq!(i.tick().await, start + ms(10 * k)); // auto-advance
            assert_eq!(Instant::now(), start + ms(10 * k));
        }
    });
}

/// Misses three and a half periods, then ticks: what each mode does (tokio's
/// `MissedTickBehavior` docs are the spec).
async fn missed_ticks(behavior: MissedTickBehavior) -> (Instant, Vec<Duration>) {
    time::pause();
    let start = Instant::now();
    let mut i = interval_at(start, ms(10));
    i.set_missed_tick_behavior(behavior);
    assert_eq!(i.tick().await, start);
    time::advance(ms(35)).await;
    let mut ticks = Vec::new();
    for _ in 0..5 {
        let t = i.tick().await;
        ticks.push(t - start);
    }
    (start, ticks)
}

#[test]
fn interval_burst_catches_up_on_the_original_schedule() {
    hearth::block_on(async {
        let (_, ticks) = missed_ticks(MissedTickBehavior::Burst).await;
        // 10, 20, 30 at once (clock at 35), then 40 and 50 on schedule.
        assert_eq!(ticks, [10, 20, 30, 40, 50].map(ms));
    });
}

#[test]
fn interval_delay_restarts_the_schedule_from_the_late_tick() {
    hearth::block_on(async {
        let (start, ticks) = missed_ticks(MissedTickBehavior::Delay).await;
        // The late tick (scheduled at 10) is taken at 35; then every 10 from there.
        assert_eq!(ticks, [10, 45, 55, 65, 75].map(ms));
        assert_eq!(Instant::now(), start + ms(75));
    });
}

#[test]
fn interval_skip_jumps_to_the_next_tick_of_the_original_schedule() {
    hearth::block_on(async {
        let (_, ticks) = missed_ticks(MissedTickBehavior::Skip).await;
        // The late tick is taken at 35; 20 and 30 are skipped; 40 is next.
        assert_eq!(ticks, [10, 40, 50, 60, 70].map(ms));
    });
}

#[test]
fn resume_runs_on_from_the_advanced_reading() {
    hearth::block_on(async {
        time::pause();
        let start = Instant::now();
        time::advance(Duration::from_secs(100)).await;
        time::resume();
        let resumed = Instant::now();
        assert!(
            resumed >= start + Duration::from_secs(100),
            "time went backwards"
        );
        // Timers wait in real time again.
        let real = std::time::Instant::now();
        sleep(ms(20)).await;
        assert!(real.elapsed() >= ms(20));
        assert!(Instant::now() - resumed >= ms(20));
        // And it can be paused again. The timer wheel's ticks started at a
        // reading that is no longer a whole number of milliseconds away, so
        // the deadline rounds up to the next tick (as tokio's does).
        time::pause();
        let paused = Instant::now();
        sleep(Duration::from_secs(5)).await;
        let slept = Instant::now() - paused;
        assert!(slept >= Duration::from_secs(5) && slept <= Duration::from_secs(5) + ms(1));
    });
}

#[test]
fn misuse_panics_with_a_clear_message() {
    fn message(f: impl FnOnce() + std::panic::UnwindSafe) -> String {
        let err = std::panic::catch_unwind(f).unwrap_err();
        err.downcast_ref::<String>()
            .cloned()
            .or_else(|| err.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_default()
    }
    assert!(message(time::pause).contains("inside a hearth executor"));
    assert!(message(|| hearth::block_on(async { time::resume() })).contains("not paused"));
    assert!(message(|| hearth::block_on(time::advance(ms(1)))).contains("not paused"));
    assert!(message(|| hearth::block_on(async {
        time::pause();
        time::pause();
    }))
    .contains("already paused"));
    assert!(message(|| hearth::block_on(async {
        time::pause();
        time::advance(Duration::MAX).await;
    }))
    .contains("overflow"));
}

#[test]
fn instant_now_outside_an_executor_is_the_system_clock() {
    let before = std::time::Instant::now();
    let now = Instant::now().into_std();
    assert!(now >= before && now <= std::time::Instant::now());
}

#[hearth::test(start_paused = true)]
async fn start_paused_pauses_the_test_and_its_workers() {
    let start = Instant::now();
    sleep(Duration::from_secs(86_400)).await;
    assert_eq!(start.elapsed(), Duration::from_secs(86_400));
    // The worker's own clock started paused too and auto-advances alone.
    let on_worker = hearth::runtime::Handle::current()
        .spawn_on(0, || async {
            let start = Instant::now();
            sleep(Duration::from_secs(60)).await;
            start.elapsed()
        })
        .unwrap();
    assert_eq!(on_worker.await.unwrap(), Duration::from_secs(60));
}
