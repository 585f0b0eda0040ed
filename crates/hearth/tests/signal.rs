//! `hearth::signal`: delivery to every listener (in one task, several
//! tasks, several workers), coalescing, kinds kept apart, errors for what
//! cannot be listened for, and a child process that reacts to SIGINT and
//! SIGTERM sent by the parent.
//!
//! The tests of this file run in one process, in parallel: each raises a
//! signal kind of its own, and only after it listens for it (a raised
//! signal that nobody handles would end the process).
// Miri cannot run epoll or deliver signals.
#![cfg(not(miri))]

mod child;

use std::future::Future;
use std::io;
use std::pin::pin;
use std::sync::mpsc;
use std::task::Poll;
use std::time::Duration;

use hearth::signal::unix::{signal, Signal, SignalKind};
use hearth::time::timeout;

const DEADLINE: Duration = Duration::from_secs(20);

fn raise(signum: libc::c_int) {
    signal_hook::low_level::raise(signum).unwrap();
}

/// `true` if `fut` is still pending after `wait` (and after every task has
/// had its turn).
async fn stays_pending(fut: impl Future, wait: Duration) -> bool {
    timeout(wait, fut).await.is_err()
}

/// Polls `signal` once: whether a delivery is waiting.
async fn has_delivery(signal: &mut Signal) -> bool {
    std::future::poll_fn(|cx| Poll::Ready(signal.poll_recv(cx).is_ready())).await
}

#[test]
fn every_listener_in_every_task_hears_each_delivery() {
    hearth::block_on(async {
        let heard = std::rc::Rc::new(std::cell::Cell::new(0));
        let mut here = signal(SignalKind::user_defined1()).unwrap();
        let tasks: Vec<_> = (0..3)
            .map(|_| {
                let mut s = signal(SignalKind::user_defined1()).unwrap();
                let heard = heard.clone();
                hearth::spawn_local(async move {
                    for _ in 0..2 {
                        s.recv().await.unwrap();
                        heard.set(heard.get() + 1);
                    }
                })
            })
            .collect();
        for round in 1..=2 {
            raise(libc::SIGUSR1);
            timeout(DEADLINE, here.recv()).await.unwrap().unwrap();
            // Every task hears this delivery before the next one is sent
            // (two before they listen again would coalesce).
            timeout(DEADLINE, async {
                while heard.get() < 3 * round {
                    hearth::yield_now().await;
                }
            })
            .await
            .unwrap();
        }
        for t in tasks {
            timeout(DEADLINE, t).await.unwrap().unwrap();
        }
    });
}

#[test]
fn listeners_on_every_worker_hear_a_signal() {
    let rt = hearth::Runtime::builder().workers(2).build().unwrap();
    let (ready_tx, ready_rx) = mpsc::channel();
    let heard = rt
        .spawn_on_all(move |worker| {
            let ready = ready_tx.clone();
            async move {
                let mut hup = signal(SignalKind::hangup()).unwrap();
                ready.send(()).unwrap();
                timeout(DEADLINE, hup.recv())
                    .await
                    .ok()
                    .flatten()
                    .map(|()| worker)
            }
        })
        .unwrap();
    rt.block_on(async {
        let mut main = signal(SignalKind::hangup()).unwrap();
        for _ in 0..rt.workers() {
            ready_rx.recv_timeout(DEADLINE).unwrap();
        }
        raise(libc::SIGHUP);
        timeout(DEADLINE, main.recv()).await.unwrap().unwrap();
        let mut workers = Vec::new();
        for h in heard {
            workers.push(h.await.unwrap());
        }
        assert_eq!(workers, [Some(0), Some(1)]);
    });
    rt.shutdown();
}

#[test]
fn deliveries_between_recvs_are_kept_and_coalesce() {
    hearth::block_on(async {
        let mut usr2 = signal(SignalKind::user_defined2()).unwrap();
        assert!(!has_delivery(&mut usr2).await);
        // Two signals before the executor looks: one delivery, kept until
        // `recv` is called.
        raise(libc::SIGUSR2);
        raise(libc::SIGUSR2);
        hearth::time::sleep(Duration::from_millis(20)).await;
        assert!(has_delivery(&mut usr2).await);
        assert!(stays_pending(usr2.recv(), Duration::from_millis(50)).await);
        // A listener created after a delivery does not see it.
        raise(libc::SIGUSR2);
        hearth::time::sleep(Duration::from_millis(20)).await;
        let mut late = signal(SignalKind::user_defined2()).unwrap();
        assert!(!has_delivery(&mut late).await);
        assert!(has_delivery(&mut usr2).await);
    });
}

#[test]
fn kinds_are_delivered_apart() {
    hearth::block_on(async {
        let mut winch = signal(SignalKind::window_change()).unwrap();
        let mut alarm = signal(SignalKind::alarm()).unwrap();
        raise(libc::SIGALRM);
        timeout(DEADLINE, alarm.recv()).await.unwrap().unwrap();
        assert!(!has_delivery(&mut winch).await);
        raise(libc::SIGWINCH);
        timeout(DEADLINE, winch.recv()).await.unwrap().unwrap();
        assert!(!has_delivery(&mut alarm).await);
    });
}

#[test]
fn ctrl_c_completes_on_sigint() {
    hearth::block_on(async {
        // A listener of our own first, so SIGINT never hits its default
        // action, whatever the order of polls.
        let mut int = signal(SignalKind::interrupt()).unwrap();
        let mut ctrl_c = pin!(hearth::signal::ctrl_c());
        assert!(futures::poll!(ctrl_c.as_mut()).is_pending());
        raise(libc::SIGINT);
        timeout(DEADLINE, ctrl_c).await.unwrap().unwrap();
        timeout(DEADLINE, int.recv()).await.unwrap().unwrap();
    });
}

#[test]
fn what_cannot_be_listened_for_is_an_error() {
    hearth::block_on(async {
        for signum in [
            libc::SIGKILL,
            libc::SIGSTOP,
            libc::SIGSEGV,
            libc::SIGILL,
            libc::SIGFPE,
        ] {
            let err = signal(SignalKind::from_raw(signum)).unwrap_err();
            assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
            assert!(err.to_string().contains("cannot be listened for"), "{err}");
        }
        let err = signal(SignalKind::from_raw(libc::SIGKILL)).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("hearth::signal: SIGKILL cannot"),
            "{err}"
        );
        for signum in [0, -1, 128, 1000] {
            let err = signal(SignalKind::from_raw(signum)).unwrap_err();
            assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
            assert_eq!(
                err.to_string(),
                format!("hearth::signal: {signum} is not a signal number")
            );
        }
        // In signal-hook's range but above SIGRTMAX: the OS says no.
        let err = signal(SignalKind::from_raw(100)).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("hearth::signal: could not install a handler for signal 100"),
            "{err}"
        );
    });
}

#[test]
fn waiting_for_a_signal_spends_no_cpu() {
    hearth::block_on(async {
        let mut quit = signal(SignalKind::quit()).unwrap();
        let (cpu, start) = (child::thread_cpu_time(), std::time::Instant::now());
        assert!(stays_pending(quit.recv(), Duration::from_millis(300)).await);
        let (cpu, took) = (child::thread_cpu_time() - cpu, start.elapsed());
        // Asleep in epoll_wait, not polling in a loop.
        assert!(
            cpu < Duration::from_millis(30),
            "{cpu:?} of CPU in {took:?}"
        );
        eprintln!("waiting for a signal: {cpu:?} of CPU in {took:?}");
    });
}

#[test]
fn outside_an_executor_is_an_error() {
    let err = signal(SignalKind::quit()).unwrap_err();
    assert!(err.to_string().contains("needs a hearth executor"), "{err}");
}

#[test]
fn recv_is_none_once_its_executor_has_ended() {
    let mut quit = hearth::block_on(async { signal(SignalKind::quit()).unwrap() });
    let got = hearth::block_on(async { timeout(DEADLINE, quit.recv()).await });
    assert_eq!(got, Ok(None));
}

/// The child's part of [`sigint_and_sigterm_reach_a_child_process`]: reports
/// each SIGINT, exits 0 on SIGTERM. On two workers and the main thread.
fn signal_child() -> io::Result<()> {
    let rt = hearth::Runtime::builder().workers(2).build()?;
    let (ready_tx, ready_rx) = mpsc::channel();
    let workers = rt
        .spawn_on_all(move |worker| {
            let ready = ready_tx.clone();
            async move {
                let mut int = signal(SignalKind::interrupt())?;
                ready.send(()).unwrap();
                int.recv().await;
                println!("worker {worker}: SIGINT");
                io::Result::Ok(())
            }
        })
        .unwrap();
    rt.block_on(async {
        let mut int = signal(SignalKind::interrupt())?;
        let mut term = signal(SignalKind::terminate())?;
        for _ in 0..rt.workers() {
            ready_rx.recv().unwrap();
        }
        println!("child: ready");
        int.recv().await;
        println!("main: SIGINT");
        for w in workers {
            w.await.unwrap()?;
        }
        println!("all: SIGINT");
        term.recv().await;
        println!("main: SIGTERM");
        Ok(())
    })
}

#[test]
fn sigint_and_sigterm_reach_a_child_process() {
    const NAME: &str = "sigint_and_sigterm_reach_a_child_process";
    if child::is_child(NAME) {
        signal_child().unwrap();
        return;
    }
    let mut child = child::spawn_self(NAME);
    child.expect_line("ready");
    child.signal(libc::SIGINT);
    child.expect_line("all: SIGINT");
    child.signal(libc::SIGTERM);
    child.expect_line("main: SIGTERM");
    let status = child.wait();
    assert!(status.success(), "{status}");
}
