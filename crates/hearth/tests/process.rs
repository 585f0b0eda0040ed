//! `hearth::process`: exit codes, piped stdio, `output`, kill, kill on drop,
//! reaping of dropped children, timeouts, spawn errors, and many children
//! waited for at once. Uses `sh`, `cat`, `sleep` and friends from the system.
// Miri cannot spawn processes or run epoll.
#![cfg(not(miri))]

use std::io;
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::time::{Duration, Instant};

use hearth::process::{Command, Stdio};
use hearth::time::timeout;

mod child;

const DEADLINE: Duration = Duration::from_secs(20);

fn sh(script: &str) -> Command {
    let mut cmd = Command::new("sh");
    cmd.args(["-c", script]);
    cmd
}

/// The state letter of process `pid` in /proc (`Z` for a zombie), or
/// `None` once it is gone (reaped).
fn proc_state(pid: u32) -> Option<char> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // "pid (comm) S ...": the state follows the last ')'.
    stat[stat.rfind(')')? + 1..].trim_start().chars().next()
}

/// Whether process `pid` exists and is not a zombie.
fn is_running(pid: u32) -> bool {
    proc_state(pid).is_some_and(|s| s != 'Z')
}

/// Waits until process `pid` is gone, that is reaped (not just dead).
fn assert_reaped(pid: u32) {
    let deadline = Instant::now() + DEADLINE;
    while let Some(state) = proc_state(pid) {
        assert!(
            Instant::now() < deadline,
            "process {pid} still there (state {state})"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn exit_codes_and_signals_come_back() {
    hearth::block_on(async {
        assert!(Command::new("true").status().await?.success());
        assert_eq!(Command::new("false").status().await?.code(), Some(1));
        for code in [0, 3, 42, 255] {
            let status = sh(&format!("exit {code}")).spawn()?.wait().await?;
            assert_eq!(status.code(), Some(code));
        }
        let status = sh("kill -TERM $$").status().await?;
        assert_eq!(
            (status.code(), status.signal()),
            (None, Some(libc::SIGTERM))
        );
        io::Result::Ok(())
    })
    .unwrap();
}

#[test]
fn piped_stdio_round_trips_through_cat() {
    hearth::block_on(async {
        let mut cat = Command::new("cat")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()?;
        let stdin = cat.stdin.take().unwrap();
        let stdout = cat.stdout.take().unwrap();
        // 1 MiB: many times a pipe's buffer, so writing and reading must
        // take turns on the reactor.
        let sent: Vec<u8> = (0..1 << 20).map(|i: u32| (i % 251) as u8).collect();
        let writer = async {
            stdin.write_all(&sent).await?;
            drop(stdin); // end of file: cat exits after echoing everything
            io::Result::Ok(())
        };
        let mut received = Vec::new();
        let (written, read) = futures::join!(writer, stdout.read_to_end(&mut received));
        written?;
        assert_eq!(read?, sent.len());
        assert!(received == sent, "cat echoed something else");
        assert!(timeout(DEADLINE, cat.wait()).await.unwrap()?.success());
        io::Result::Ok(())
    })
    .unwrap();
}

#[test]
fn pipes_work_with_futures_io() {
    use futures::{AsyncReadExt, AsyncWriteExt};

    hearth::block_on(async {
        let mut child = Command::new("tr")
            .args(["a-z", "A-Z"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()?;
        let mut stdin = child.stdin.take().unwrap();
        stdin.write_all(b"shout").await?;
        stdin.close().await?; // closes the pipe: tr sees end of file
        assert!(stdin.write(b"more").await.is_err()); // closed
        let mut out = String::new();
        child
            .stdout
            .take()
            .unwrap()
            .read_to_string(&mut out)
            .await?;
        assert_eq!(out, "SHOUT");
        assert!(child.wait().await?.success());
        io::Result::Ok(())
    })
    .unwrap();
}

#[cfg(feature = "tokio-io")]
#[test]
fn pipes_work_with_tokio_io() {
    use std::pin::Pin;
    use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

    hearth::block_on(async {
        let mut child = Command::new("cat")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()?;
        let mut stdin = child.stdin.take().unwrap();
        let mut stdout = child.stdout.take().unwrap();
        let n = std::future::poll_fn(|cx| Pin::new(&mut stdin).poll_write(cx, b"tokio")).await?;
        assert_eq!(n, 5);
        std::future::poll_fn(|cx| Pin::new(&mut stdin).poll_shutdown(cx)).await?;
        let mut got = Vec::new();
        loop {
            let mut storage = [0u8; 3];
            let mut buf = ReadBuf::new(&mut storage);
            std::future::poll_fn(|cx| Pin::new(&mut stdout).poll_read(cx, &mut buf)).await?;
            if buf.filled().is_empty() {
                break; // end of file
            }
            got.extend_from_slice(buf.filled());
        }
        assert_eq!(got, b"tokio");
        assert!(child.wait().await?.success());
        io::Result::Ok(())
    })
    .unwrap();
}

#[test]
fn output_captures_stdout_and_stderr() {
    hearth::block_on(async {
        let output = sh("printf out; printf err >&2; exit 4").output().await?;
        assert_eq!(output.status.code(), Some(4));
        assert_eq!(output.stdout, b"out");
        assert_eq!(output.stderr, b"err");

        // Both pipes filled past their buffers at once: read together, or
        // the child would block on one while we wait on the other.
        let output = sh("head -c 300000 /dev/zero; head -c 200000 /dev/zero >&2")
            .output()
            .await?;
        assert!(output.status.success());
        assert_eq!(
            (output.stdout.len(), output.stderr.len()),
            (300_000, 200_000)
        );

        // As with tokio, `output` pipes stdout even if it was set otherwise.
        let output = Command::new("echo")
            .arg("captured")
            .stdout(Stdio::null())
            .output()
            .await?;
        assert_eq!(output.stdout, b"captured\n");

        // `wait_with_output` keeps what is not piped empty.
        let child = sh("echo visible; echo hidden >&2")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()?;
        let output = child.wait_with_output().await?;
        assert_eq!(
            (output.stdout.as_slice(), output.stderr.as_slice()),
            (&b"visible\n"[..], &b""[..])
        );
        io::Result::Ok(())
    })
    .unwrap();
}

#[test]
fn kill_stops_a_child_and_reaps_it() {
    hearth::block_on(async {
        let mut child = Command::new("sleep").arg("30").spawn()?;
        let pid = child.id().unwrap();
        assert_eq!(child.try_wait()?, None);
        let start = Instant::now();
        child.kill().await?;
        assert!(start.elapsed() < Duration::from_secs(10));
        assert_eq!(child.id(), None);
        let status = child.wait().await?;
        assert_eq!(status.signal(), Some(libc::SIGKILL));
        assert_eq!(child.try_wait()?, Some(status));
        child.start_kill()?; // reaped already: nothing to do
        assert_eq!(proc_state(pid), None);
        io::Result::Ok(())
    })
    .unwrap();
}

#[test]
fn kill_on_drop_kills_and_reaps() {
    hearth::block_on(async {
        let child = Command::new("sleep").arg("30").kill_on_drop(true).spawn()?;
        let pid = child.id().unwrap();
        assert!(is_running(pid));
        drop(child);
        assert_reaped(pid);

        // The future of `status` owns its child: a timeout that drops it
        // kills the child. (The shell writes its pid, then becomes sleep.)
        let pid_file = std::env::temp_dir().join(format!("hearth-kod-{}", std::process::id()));
        let mut cmd = sh("echo $$; exec sleep 30");
        cmd.stdout(std::fs::File::create(&pid_file)?)
            .kill_on_drop(true);
        assert!(timeout(Duration::from_millis(300), cmd.status())
            .await
            .is_err());
        let pid: u32 = std::fs::read_to_string(&pid_file)?.trim().parse().unwrap();
        std::fs::remove_file(&pid_file)?;
        assert_reaped(pid);
        io::Result::Ok(())
    })
    .unwrap();
}

#[test]
fn a_dropped_child_runs_on_and_is_reaped_when_it_exits() {
    hearth::block_on(async {
        let mut child = sh("read line; exit 0").stdin(Stdio::piped()).spawn()?;
        let pid = child.id().unwrap();
        // Without kill_on_drop the process outlives its handle...
        let stdin = child.stdin.take().unwrap();
        drop(child);
        hearth::time::sleep(Duration::from_millis(50)).await;
        assert!(is_running(pid), "killed on drop");
        // ...and once it exits it is reaped, not left a zombie.
        stdin.write_all(b"go\n").await?;
        drop(stdin);
        assert_reaped(pid);
        io::Result::Ok(())
    })
    .unwrap();
}

#[test]
fn a_timeout_around_wait_leaves_the_child_running() {
    hearth::block_on(async {
        let mut slow = Command::new("sleep").arg("30").spawn()?;
        let start = Instant::now();
        let waited = timeout(Duration::from_millis(100), slow.wait()).await;
        assert!(waited.is_err(), "sleep 30 finished early");
        assert!(start.elapsed() >= Duration::from_millis(100));
        assert_eq!(slow.try_wait()?, None); // cancelling wait changed nothing
        slow.kill().await?;

        let mut quick = sh("sleep 0.05; exit 9").spawn()?;
        let status = timeout(DEADLINE, quick.wait()).await.unwrap()?;
        assert_eq!(status.code(), Some(9));
        io::Result::Ok(())
    })
    .unwrap();
}

#[test]
fn spawn_errors_are_clear() {
    hearth::block_on(async {
        let err = Command::new("hearth-no-such-binary").spawn().unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::NotFound);
        assert!(
            err.to_string()
                .starts_with("hearth::process: cannot spawn \"hearth-no-such-binary\": "),
            "{err}"
        );
        let err = Command::new("hearth-no-such-binary")
            .output()
            .await
            .unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::NotFound);
        let err = Command::new("hearth-no-such-binary")
            .status()
            .await
            .unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::NotFound);

        let err = Command::new("true")
            .current_dir("/hearth/no/such/dir")
            .spawn()
            .unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::NotFound);
        assert!(
            err.to_string()
                .contains("its working directory \"/hearth/no/such/dir\" does not exist"),
            "{err}"
        );

        // A file that is not executable.
        let path = std::env::temp_dir().join(format!("hearth-not-exec-{}", std::process::id()));
        std::fs::write(&path, "#!/bin/sh\n")?;
        let err = Command::new(&path).spawn().unwrap_err();
        std::fs::remove_file(&path)?;
        assert_eq!(err.kind(), io::ErrorKind::PermissionDenied);
        io::Result::Ok(())
    })
    .unwrap();
}

#[test]
fn spawning_outside_an_executor_is_an_error_and_starts_nothing() {
    let marker = std::env::temp_dir().join(format!("hearth-spawned-{}", std::process::id()));
    let err = Command::new("touch").arg(&marker).spawn().unwrap_err();
    assert!(err.to_string().contains("needs a hearth executor"), "{err}");
    std::thread::sleep(Duration::from_millis(50));
    assert!(!Path::new(&marker).exists(), "the child was started");
}

#[test]
fn many_children_at_once_on_two_workers() {
    let rt = hearth::Runtime::builder().workers(2).build().unwrap();
    let handles = rt
        .spawn_on_all(|worker| async move {
            let waits: Vec<_> = (0..10)
                .map(|i| {
                    hearth::spawn_local(async move {
                        let code = worker * 10 + i;
                        let mut child = sh(&format!("sleep 0.0{i}; exit {code}")).spawn()?;
                        let status = child.wait().await?;
                        io::Result::Ok((code, status.code()))
                    })
                })
                .collect();
            let mut out = Vec::new();
            for w in waits {
                out.push(w.await.unwrap()?);
            }
            io::Result::Ok(out)
        })
        .unwrap();
    rt.block_on(async {
        for h in handles {
            let results = timeout(DEADLINE, h).await.unwrap().unwrap().unwrap();
            assert_eq!(results.len(), 10);
            for (code, got) in results {
                assert_eq!(got, Some(code as i32));
            }
        }
    });
    rt.shutdown();
}

#[test]
fn waiting_for_a_child_spends_no_cpu() {
    hearth::block_on(async {
        let mut child = Command::new("sleep").arg("0.3").spawn()?;
        let (cpu, start) = (child::thread_cpu_time(), Instant::now());
        child.wait().await?;
        let (cpu, took) = (child::thread_cpu_time() - cpu, start.elapsed());
        assert!(took >= Duration::from_millis(250), "waited {took:?}");
        // Asleep in epoll_wait, not polling in a loop.
        assert!(
            cpu < Duration::from_millis(30),
            "{cpu:?} of CPU in {took:?}"
        );
        eprintln!("waiting for a child: {cpu:?} of CPU in {took:?}");
        io::Result::Ok(())
    })
    .unwrap();
}
