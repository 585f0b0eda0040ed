//! Running a test of this binary as a child process: the parent re-executes
//! the test binary with `--exact <test>` and an environment variable that
//! tells the test to play the child's part; the child announces its steps on
//! stdout, one line each, and the parent sends it signals.
#![allow(dead_code)] // each includer uses a part

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// How long any single step of a child may take.
pub const STEP: Duration = Duration::from_secs(30);

/// The environment variable that selects the child's part.
pub const CHILD_ENV: &str = "HEARTH_TEST_CHILD";

/// `true` in the child started by [`spawn_self`] for `test`.
pub fn is_child(test: &str) -> bool {
    std::env::var(CHILD_ENV).is_ok_and(|v| v == test)
}

/// A child process running one test of this binary, and its stdout lines.
pub struct ChildTest {
    pub child: Child,
    lines: mpsc::Receiver<String>,
}

/// Starts this test binary again, running only `test` (which sees
/// [`is_child`]), with its output uncaptured so its lines arrive as they are
/// printed.
pub fn spawn_self(test: &str) -> ChildTest {
    spawn_self_with_env(test, &[])
}

/// [`spawn_self`] with extra environment variables for the child.
pub fn spawn_self_with_env(test: &str, env: &[(&str, &str)]) -> ChildTest {
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", test, "--nocapture", "--test-threads=1"])
        .envs(env.iter().copied())
        .env(CHILD_ENV, test)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, lines) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { return };
            if tx.send(line).is_err() {
                return;
            }
        }
    });
    ChildTest { child, lines }
}

impl ChildTest {
    /// Waits for the next line that contains `step` (skipping the test
    /// harness's own output, which may share the line) and returns it.
    pub fn expect_line(&self, step: &str) -> String {
        loop {
            match self.lines.recv_timeout(STEP) {
                Ok(line) if line.contains(step) => return line,
                Ok(_) => continue,
                Err(e) => panic!("child: no line with {step:?} ({e})"),
            }
        }
    }

    /// Sends signal `signum` to the child.
    pub fn signal(&self, signum: libc::c_int) {
        let pid = libc::pid_t::try_from(self.child.id()).unwrap();
        // SAFETY: kill(2) only takes two integers; it touches no memory of ours.
        let rc = unsafe { libc::kill(pid, signum) };
        assert_eq!(rc, 0, "kill: {}", std::io::Error::last_os_error());
    }

    /// Waits (bounded) for the child to exit and returns its status.
    pub fn wait(&mut self) -> std::process::ExitStatus {
        let deadline = std::time::Instant::now() + STEP;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            if std::time::Instant::now() > deadline {
                let _ = self.child.kill();
                panic!("child did not exit within {STEP:?}");
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for ChildTest {
    /// A failed test leaves no child behind (it may ignore SIGTERM: it
    /// listens for it).
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// The CPU time the calling thread has used so far.
pub fn thread_cpu_time() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes one `timespec` into `ts`, which outlives
    // the call.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    assert_eq!(rc, 0, "clock_gettime: {}", std::io::Error::last_os_error());
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}
