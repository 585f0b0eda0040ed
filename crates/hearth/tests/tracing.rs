//! The `tracing` feature: a span per task and events for spawn, poll,
//! completion and slow polls (run with `--features tracing`).
#![cfg(feature = "tracing")]
#![cfg_attr(feature = "nightly", feature(local_waker))]

use std::io;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tracing_subscriber::util::SubscriberInitExt;

/// Collects what the `fmt` subscriber writes.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Captured {
    fn lines(&self) -> Vec<String> {
        let text = String::from_utf8(self.0.lock().unwrap().clone()).unwrap();
        text.lines().map(String::from).collect()
    }
}

/// Runs `f` with a TRACE-level subscriber on this thread; returns its lines.
fn traced(f: impl FnOnce()) -> Vec<String> {
    let out = Captured::default();
    let writer = out.clone();
    let _guard = tracing_subscriber::fmt()
        .with_max_level(tracing_subscriber::filter::LevelFilter::TRACE)
        .without_time()
        .with_writer(move || writer.clone())
        .set_default();
    f();
    out.lines()
}

#[test]
fn a_task_has_a_span_with_its_spawn_site_and_events_for_its_life() {
    let lines = traced(|| {
        hearth::block_on(async {
            let h = hearth::spawn_local(async { hearth::yield_now().await });
            h.await.unwrap();
        });
    });
    let task: Vec<_> = lines
        .iter()
        .filter(|l| l.contains("hearth::task"))
        .collect();
    let text = task
        .iter()
        .map(|l| l.as_str())
        .collect::<Vec<_>>()
        .join("\n");
    // The span names the task and where it was spawned (this file).
    assert!(
        text.contains("task{task.id=1 spawned.at=crates/hearth/tests/tracing.rs:"),
        "{text}"
    );
    let events: Vec<_> = task
        .iter()
        .map(|l| l.rsplit("hearth::task: ").next().unwrap())
        .collect();
    assert_eq!(
        events,
        [
            "spawned",
            "poll ready=false",
            "poll ready=true",
            "completed outcome=\"finished\""
        ],
        "{text}"
    );
}

#[test]
fn cancelled_and_panicked_tasks_say_so() {
    let lines = traced(|| {
        let ex = hearth::Executor::new();
        let forever = ex.spawn_local(std::future::pending::<()>());
        let boom = ex.spawn_local(async { panic!("boom") });
        ex.run_until_idle();
        forever.abort();
        ex.run_until_idle();
        assert!(hearth::block_on(boom).unwrap_err().is_panic());
    });
    let completed: Vec<_> = lines.iter().filter(|l| l.contains("completed")).collect();
    assert_eq!(completed.len(), 2, "{lines:#?}");
    assert!(completed[0].contains("task.id=2") && completed[0].contains("outcome=\"panicked\""));
    assert!(completed[1].contains("task.id=1") && completed[1].contains("outcome=\"cancelled\""));
}

#[test]
fn a_slow_poll_is_a_warning_inside_the_task_span() {
    let lines = traced(|| {
        let ex = hearth::Executor::new();
        ex.set_slow_poll_threshold(Some(Duration::from_millis(5)));
        ex.spawn_local(async {});
        ex.spawn_local(async { std::thread::sleep(Duration::from_millis(20)) });
        ex.run_until_idle();
        assert_eq!(ex.metrics().slow_polls, 1);
    });
    let warnings: Vec<_> = lines.iter().filter(|l| l.contains("WARN")).collect();
    assert_eq!(warnings.len(), 1, "{lines:#?}");
    let w = warnings[0];
    assert!(w.contains("task{task.id=2"), "{w}");
    assert!(w.contains("slow poll"), "{w}");
    assert!(w.contains("threshold=5ms"), "{w}");
    // Also as a field of its own, for subscribers that hide TRACE spans.
    assert!(
        w.contains("spawned.at=crates/hearth/tests/tracing.rs:"),
        "{w}"
    );
}
