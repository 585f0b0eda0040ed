//! Child processes: [`Command`] spawns a [`Child`] whose exit is a future
//! and whose standard streams are non-blocking pipes on the reactor.
//!
//! Names and semantics follow `tokio::process` (which follows
//! `std::process`): build a [`Command`], then [`spawn`](Command::spawn) it,
//! or run it to the end with [`status`](Command::status) or
//! [`output`](Command::output).
//!
//! ```
//! # if cfg!(miri) { return; } // Miri cannot spawn processes
//! use std::time::Duration;
//! use hearth::process::{Command, Stdio};
//!
//! hearth::block_on(async {
//!     // Run to the end and collect what it printed.
//!     let output = Command::new("echo").arg("hello").output().await?;
//!     assert!(output.status.success());
//!     assert_eq!(output.stdout, b"hello\n");
//!
//!     // Talk to a child through its pipes.
//!     let mut cat = Command::new("cat").stdin(Stdio::piped()).stdout(Stdio::piped()).spawn()?;
//!     let (stdin, stdout) = (cat.stdin.take().unwrap(), cat.stdout.take().unwrap());
//!     stdin.write_all(b"ping").await?;
//!     let mut buf = [0; 4];
//!     let n = stdout.read(&mut buf).await?;
//!     assert_eq!(&buf[..n], &b"ping"[..n]);
//!     drop(stdin); // cat sees end of file and exits
//!     assert!(cat.wait().await?.success());
//!
//!     // A deadline: kill what overruns it.
//!     let mut slow = Command::new("sleep").arg("30").spawn()?;
//!     if hearth::time::timeout(Duration::from_millis(50), slow.wait()).await.is_err() {
//!         slow.kill().await?;
//!     }
//!     std::io::Result::Ok(())
//! })
//! .unwrap();
//! ```
//!
//! # How the exit is awaited
//!
//! [`Child::wait`] blocks no thread and polls in no loop. On Linux 5.3 and
//! later it opens a *pidfd* for the child (`pidfd_open(2)`), which turns
//! readable when the child exits, and registers it with the executor's
//! reactor like a socket. Elsewhere (an older kernel, or a seccomp filter
//! that refuses `pidfd_open`) it listens for `SIGCHLD` through
//! [`crate::signal`]. Either way std's `try_wait` then reaps the child.
//!
//! A child dropped before it was reaped (after a kill, with
//! [`kill_on_drop`](Command::kill_on_drop)) is reaped by a small background
//! thread, so it does not stay a zombie.
//!
//! # Differences from tokio
//!
//! - [`Child`] and its pipes are `!Send` (tokio's are `Send`): like hearth's
//!   sockets, they belong to the executor that spawned the child, whose
//!   reactor they are registered with.
//! - Spawning needs a hearth executor on the thread (tokio: a runtime); outside
//!   one, [`spawn`](Command::spawn) fails with an error, not a panic, and no
//!   process is started.
//! - Closing a [`ChildStdin`] through `poll_close`/`poll_shutdown` closes the
//!   pipe, so the child reads end of file; tokio's does nothing there (only a
//!   drop closes it).
//! - Dropped, unreaped children are reaped by a thread each (tokio: by its
//!   signal driver, "on a best-effort basis").
//! - A failed spawn's error message names the program (and a working
//!   directory that does not exist); its [`kind`](std::io::Error::kind) is
//!   std's (`NotFound` for a missing binary).
//! - Unix only; no Windows-specific methods.

mod pipe;
mod wait;

use core::future::Future;
use std::ffi::OsStr;
use std::fmt;
use std::io;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::Path;

pub use pipe::{ChildStderr, ChildStdin, ChildStdout};
/// How a child process exited: `std::process::ExitStatus`, re-exported.
pub use std::process::ExitStatus;
/// A finished child's status and collected output: `std::process::Output`,
/// re-exported.
pub use std::process::Output;
/// What a child's standard stream is connected to: `std::process::Stdio`,
/// re-exported.
pub use std::process::Stdio;

use crate::executor::with_current;
use wait::ExitWaiter;

/// A process builder: program, arguments, environment, working directory
/// and standard streams. A wrapper around `std::process::Command` with the
/// same methods, whose [`spawn`](Self::spawn) gives a [`Child`] to await.
///
/// ```
/// # if cfg!(miri) { return; } // Miri cannot spawn processes
/// use hearth::process::Command;
///
/// hearth::block_on(async {
///     let output = Command::new("sh")
///         .args(["-c", "echo \"$GREETING from $(pwd)\""])
///         .env("GREETING", "hi")
///         .current_dir("/")
///         .output()
///         .await?;
///     assert_eq!(output.stdout, b"hi from /\n");
///     std::io::Result::Ok(())
/// })
/// .unwrap();
/// ```
pub struct Command {
    std: std::process::Command,
    kill_on_drop: bool,
}

impl Command {
    /// A command for `program` (a path, or a name searched in `PATH`), with
    /// no arguments, the parent's environment and working directory, and
    /// the standard streams inherited (for [`spawn`](Self::spawn) and
    /// [`status`](Self::status)).
    pub fn new(program: impl AsRef<OsStr>) -> Command {
        Command::from(std::process::Command::new(program))
    }

    /// Adds an argument.
    pub fn arg(&mut self, arg: impl AsRef<OsStr>) -> &mut Command {
        self.std.arg(arg);
        self
    }

    /// Adds arguments.
    pub fn args<I, S>(&mut self, args: I) -> &mut Command
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.std.args(args);
        self
    }

    /// Sets an environment variable for the child.
    pub fn env(&mut self, key: impl AsRef<OsStr>, val: impl AsRef<OsStr>) -> &mut Command {
        self.std.env(key, val);
        self
    }

    /// Sets environment variables for the child.
    pub fn envs<I, K, V>(&mut self, vars: I) -> &mut Command
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<OsStr>,
        V: AsRef<OsStr>,
    {
        self.std.envs(vars);
        self
    }

    /// Removes an environment variable from the child's environment.
    pub fn env_remove(&mut self, key: impl AsRef<OsStr>) -> &mut Command {
        self.std.env_remove(key);
        self
    }

    /// Starts the child with an empty environment (plus what
    /// [`env`](Self::env) adds after this).
    pub fn env_clear(&mut self) -> &mut Command {
        self.std.env_clear();
        self
    }

    /// Sets the child's working directory.
    pub fn current_dir(&mut self, dir: impl AsRef<Path>) -> &mut Command {
        self.std.current_dir(dir);
        self
    }

    /// Sets the child's standard input; [`Stdio::piped`] gives
    /// [`Child::stdin`].
    pub fn stdin(&mut self, cfg: impl Into<Stdio>) -> &mut Command {
        self.std.stdin(cfg);
        self
    }

    /// Sets the child's standard output; [`Stdio::piped`] gives
    /// [`Child::stdout`].
    pub fn stdout(&mut self, cfg: impl Into<Stdio>) -> &mut Command {
        self.std.stdout(cfg);
        self
    }

    /// Sets the child's standard error; [`Stdio::piped`] gives
    /// [`Child::stderr`].
    pub fn stderr(&mut self, cfg: impl Into<Stdio>) -> &mut Command {
        self.std.stderr(cfg);
        self
    }

    /// Whether a [`Child`] spawned from here is killed (`SIGKILL`) when it
    /// is dropped before it was reaped. Off by default, as in std: a dropped
    /// child keeps running.
    ///
    /// A killed child is reaped in the background, so it does not linger as
    /// a zombie. The futures of [`status`](Self::status) and
    /// [`output`](Self::output) own their child: dropping one (a timeout,
    /// say) kills it too when this is set.
    ///
    /// ```
    /// # if cfg!(miri) { return; } // Miri cannot spawn processes
    /// use std::time::Duration;
    /// use hearth::process::Command;
    ///
    /// hearth::block_on(async {
    ///     let mut sleep = Command::new("sleep");
    ///     sleep.arg("30").kill_on_drop(true);
    ///     assert!(sleep.get_kill_on_drop());
    ///     // The timeout drops the future, and with it the child: killed.
    ///     let late = hearth::time::timeout(Duration::from_millis(20), sleep.status()).await;
    ///     assert!(late.is_err());
    /// });
    /// ```
    pub fn kill_on_drop(&mut self, kill_on_drop: bool) -> &mut Command {
        self.kill_on_drop = kill_on_drop;
        self
    }

    /// The [`kill_on_drop`](Self::kill_on_drop) setting.
    pub fn get_kill_on_drop(&self) -> bool {
        self.kill_on_drop
    }

    /// Sets the child's user id (`setuid` before `exec`).
    pub fn uid(&mut self, id: u32) -> &mut Command {
        self.std.uid(id);
        self
    }

    /// Sets the child's group id (`setgid` before `exec`).
    pub fn gid(&mut self, id: u32) -> &mut Command {
        self.std.gid(id);
        self
    }

    /// Puts the child into process group `pgroup` (`0`: a new group with the
    /// child's pid), e.g. so a terminal's Ctrl-C does not reach it.
    pub fn process_group(&mut self, pgroup: i32) -> &mut Command {
        self.std.process_group(pgroup);
        self
    }

    /// Sets the child's `argv[0]` (what it sees as its own name).
    pub fn arg0(&mut self, arg: impl AsRef<OsStr>) -> &mut Command {
        self.std.arg0(arg);
        self
    }

    /// The wrapped std command.
    pub fn as_std(&self) -> &std::process::Command {
        &self.std
    }

    /// The wrapped std command, for settings this type has no method for
    /// (`std::os::unix::process::CommandExt::pre_exec`, for instance).
    pub fn as_std_mut(&mut self) -> &mut std::process::Command {
        &mut self.std
    }

    /// Starts the child process.
    ///
    /// Each stream set to [`Stdio::piped`] becomes the matching field of
    /// the [`Child`] (`stdin`, `stdout`, `stderr`), registered with the
    /// current executor's reactor.
    ///
    /// # Errors
    ///
    /// If the program cannot be started: `NotFound` for a missing binary or
    /// working directory, `PermissionDenied` for a file that is not
    /// executable, and so on; the message names the program. Also an error,
    /// before any process is started, if called outside a hearth executor.
    ///
    /// ```
    /// # if cfg!(miri) { return; } // Miri cannot spawn processes
    /// use hearth::process::Command;
    ///
    /// hearth::block_on(async {
    ///     let err = Command::new("/no/such/program").spawn().unwrap_err();
    ///     assert_eq!(err.kind(), std::io::ErrorKind::NotFound);
    ///     assert!(err.to_string().starts_with("hearth::process: cannot spawn \"/no/such/program\""));
    ///
    ///     let status = Command::new("sh").args(["-c", "exit 3"]).spawn()?.wait().await?;
    ///     assert_eq!(status.code(), Some(3));
    ///     std::io::Result::Ok(())
    /// })
    /// .unwrap();
    /// ```
    pub fn spawn(&mut self) -> io::Result<Child> {
        // A process that nothing could wait for must not be started.
        has_reactor()?;
        let mut std = self.std.spawn().map_err(|e| self.spawn_error(e))?;
        let pipes = (|| {
            io::Result::Ok((
                std.stdin.take().map(ChildStdin::from_std).transpose()?,
                std.stdout.take().map(ChildStdout::from_std).transpose()?,
                std.stderr.take().map(ChildStderr::from_std).transpose()?,
            ))
        })();
        match pipes {
            Ok((stdin, stdout, stderr)) => Ok(Child {
                stdin,
                stdout,
                stderr,
                state: State::Running {
                    child: std,
                    waiter: None,
                },
                kill_on_drop: self.kill_on_drop,
            }),
            Err(e) => {
                // Nobody could talk to it: stop it and reap it (quick after
                // SIGKILL) rather than leave it running unseen.
                let _ = std.kill();
                let _ = std.wait();
                Err(e)
            }
        }
    }

    /// The error of a failed spawn, naming what could not be started.
    fn spawn_error(&self, e: io::Error) -> io::Error {
        let program = self.std.get_program();
        let message = match self.std.get_current_dir() {
            Some(dir) if e.kind() == io::ErrorKind::NotFound && !dir.is_dir() => format!(
                "hearth::process: cannot spawn {program:?}: its working directory {dir:?} \
                 does not exist ({e})"
            ),
            _ => format!("hearth::process: cannot spawn {program:?}: {e}"),
        };
        io::Error::new(e.kind(), message)
    }

    /// Spawns the child and waits for it to exit; the streams not set are
    /// inherited. Any pipes the command asked for are closed first, so the
    /// child cannot block on them.
    ///
    /// The child is spawned by this call; the future waits for it.
    ///
    /// ```
    /// # if cfg!(miri) { return; } // Miri cannot spawn processes
    /// hearth::block_on(async {
    ///     let status = hearth::process::Command::new("false").status().await?;
    ///     assert_eq!(status.code(), Some(1));
    ///     std::io::Result::Ok(())
    /// })
    /// .unwrap();
    /// ```
    pub fn status(&mut self) -> impl Future<Output = io::Result<ExitStatus>> {
        let child = self.spawn();
        async move {
            let mut child = child?;
            drop((child.stdin.take(), child.stdout.take(), child.stderr.take()));
            child.wait().await
        }
    }

    /// Spawns the child with its stdout and stderr piped, and collects both
    /// and the exit status.
    ///
    /// As with tokio (and unlike std), stdout and stderr are piped even if
    /// they were set otherwise: to keep such a setting, use
    /// [`spawn`](Self::spawn) and [`Child::wait_with_output`]. Standard input
    /// stays as set (inherited by default).
    ///
    /// ```
    /// # if cfg!(miri) { return; } // Miri cannot spawn processes
    /// use hearth::process::Command;
    ///
    /// hearth::block_on(async {
    ///     let output = Command::new("sh").args(["-c", "echo out; echo err >&2; exit 2"]).output().await?;
    ///     assert_eq!(output.status.code(), Some(2));
    ///     assert_eq!(output.stdout, b"out\n");
    ///     assert_eq!(output.stderr, b"err\n");
    ///     std::io::Result::Ok(())
    /// })
    /// .unwrap();
    /// ```
    pub fn output(&mut self) -> impl Future<Output = io::Result<Output>> {
        self.std.stdout(Stdio::piped());
        self.std.stderr(Stdio::piped());
        let child = self.spawn();
        async move { child?.wait_with_output().await }
    }
}

/// `Ok` if the current thread runs a hearth executor (whose reactor is
/// then created, if need be).
fn has_reactor() -> io::Result<()> {
    with_current(|core| core.driver().reactor_or_init(&core.remote).map(drop)).unwrap_or_else(
        || {
            Err(io::Error::other(
                "hearth::process: spawning a child needs a hearth executor (there is no reactor \
                 on this thread); spawn it inside hearth::block_on, a runtime worker or a task \
                 spawned with spawn_local",
            ))
        },
    )
}

impl From<std::process::Command> for Command {
    /// Wraps a std command (with [`kill_on_drop`](Command::kill_on_drop)
    /// off).
    fn from(std: std::process::Command) -> Command {
        Command {
            std,
            kill_on_drop: false,
        }
    }
}

impl fmt::Debug for Command {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Command")
            .field("std", &self.std)
            .field("kill_on_drop", &self.kill_on_drop)
            .finish()
    }
}

/// A spawned child process.
///
/// Its exit is a future ([`wait`](Self::wait)); the streams its
/// [`Command`] piped are in [`stdin`](Self::stdin), [`stdout`](Self::stdout)
/// and [`stderr`](Self::stderr). Dropping a `Child` leaves the process
/// running (unless [`Command::kill_on_drop`] was set); either way it is
/// reaped in the background once it exits.
///
/// ```
/// # if cfg!(miri) { return; } // Miri cannot spawn processes
/// use std::time::Duration;
/// use hearth::process::Command;
///
/// hearth::block_on(async {
///     let mut child = Command::new("sleep").arg("30").spawn()?;
///     assert!(child.id().is_some());
///     assert!(child.try_wait()?.is_none()); // still running
///     let waited = hearth::time::timeout(Duration::from_millis(20), child.wait()).await;
///     assert!(waited.is_err()); // timed out; the child runs on
///     child.kill().await?; // SIGKILL, then wait
///     assert_eq!(child.id(), None); // reaped
///     std::io::Result::Ok(())
/// })
/// .unwrap();
/// ```
pub struct Child {
    /// The child's standard input, if its command piped it.
    pub stdin: Option<ChildStdin>,
    /// The child's standard output, if its command piped it.
    pub stdout: Option<ChildStdout>,
    /// The child's standard error, if its command piped it.
    pub stderr: Option<ChildStderr>,
    state: State,
    kill_on_drop: bool,
}

enum State {
    /// Not reaped yet.
    Running {
        child: std::process::Child,
        /// Made by the first `wait` that has to wait.
        waiter: Option<ExitWaiter>,
    },
    /// Reaped, with this status.
    Exited(ExitStatus),
}

impl Child {
    /// The OS process id, or `None` once the child has been reaped (its pid
    /// may then belong to another process).
    pub fn id(&self) -> Option<u32> {
        match &self.state {
            State::Running { child, .. } => Some(child.id()),
            State::Exited(_) => None,
        }
    }

    /// Waits for the child to exit and returns its status; at once if it
    /// has already been reaped.
    ///
    /// The child's stdin, if any, is closed first (as tokio does), so a
    /// child that reads until end of file does not wait on us.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: a `wait` dropped early (by a timeout, say) loses
    /// nothing, and the next one carries on.
    ///
    /// ```
    /// # if cfg!(miri) { return; } // Miri cannot spawn processes
    /// hearth::block_on(async {
    ///     let mut child = hearth::process::Command::new("true").spawn()?;
    ///     assert!(child.wait().await?.success());
    ///     assert!(child.wait().await?.success()); // the same status again
    ///     std::io::Result::Ok(())
    /// })
    /// .unwrap();
    /// ```
    pub async fn wait(&mut self) -> io::Result<ExitStatus> {
        drop(self.stdin.take());
        let (child, waiter) = match &mut self.state {
            State::Running { child, waiter } => (child, waiter),
            State::Exited(status) => return Ok(*status),
        };
        let waiter = match waiter {
            Some(waiter) => waiter,
            None => waiter.insert(ExitWaiter::new(child.id())?),
        };
        let status = core::future::poll_fn(|cx| waiter.poll_exit(cx, child)).await?;
        self.state = State::Exited(status);
        Ok(status)
    }

    /// The exit status if the child has exited (reaping it), `None` if it
    /// is still running. Never blocks.
    ///
    /// ```
    /// # if cfg!(miri) { return; } // Miri cannot spawn processes
    /// hearth::block_on(async {
    ///     let mut child = hearth::process::Command::new("sleep").arg("30").spawn()?;
    ///     assert_eq!(child.try_wait()?, None);
    ///     child.kill().await?;
    ///     assert!(child.try_wait()?.is_some());
    ///     std::io::Result::Ok(())
    /// })
    /// .unwrap();
    /// ```
    pub fn try_wait(&mut self) -> io::Result<Option<ExitStatus>> {
        let status = match &mut self.state {
            State::Running { child, .. } => child.try_wait()?,
            State::Exited(status) => return Ok(Some(*status)),
        };
        if let Some(status) = status {
            self.state = State::Exited(status);
        }
        Ok(status)
    }

    /// Sends the child `SIGKILL` and returns without waiting for it to exit
    /// (std's `Child::kill`). `Ok` if it has already exited.
    ///
    /// ```
    /// # if cfg!(miri) { return; } // Miri cannot spawn processes
    /// use std::os::unix::process::ExitStatusExt;
    ///
    /// hearth::block_on(async {
    ///     let mut child = hearth::process::Command::new("sleep").arg("30").spawn()?;
    ///     child.start_kill()?;
    ///     assert_eq!(child.wait().await?.signal(), Some(libc::SIGKILL));
    ///     child.start_kill()?; // already reaped: nothing to do
    ///     std::io::Result::Ok(())
    /// })
    /// .unwrap();
    /// ```
    pub fn start_kill(&mut self) -> io::Result<()> {
        match &mut self.state {
            State::Running { child, .. } => child.kill(),
            State::Exited(_) => Ok(()),
        }
    }

    /// Kills the child (`SIGKILL`) and waits for it to exit.
    ///
    /// See the [type's example](Child).
    pub async fn kill(&mut self) -> io::Result<()> {
        self.start_kill()?;
        self.wait().await.map(drop)
    }

    /// Waits for the child to exit while collecting its stdout and stderr
    /// (those its command piped; the others stay empty). Reading both at
    /// once means a child that fills one pipe while we wait on the other
    /// cannot deadlock.
    ///
    /// ```
    /// # if cfg!(miri) { return; } // Miri cannot spawn processes
    /// use hearth::process::{Command, Stdio};
    ///
    /// hearth::block_on(async {
    ///     let child = Command::new("sh")
    ///         .args(["-c", "head -c 200000 /dev/zero; echo done >&2"])
    ///         .stdout(Stdio::piped())
    ///         .stderr(Stdio::piped())
    ///         .spawn()?;
    ///     let output = child.wait_with_output().await?;
    ///     assert_eq!(output.stdout.len(), 200_000); // more than a pipe holds
    ///     assert_eq!(output.stderr, b"done\n");
    ///     std::io::Result::Ok(())
    /// })
    /// .unwrap();
    /// ```
    pub async fn wait_with_output(mut self) -> io::Result<Output> {
        use core::task::Poll;

        let (stdout_pipe, stderr_pipe) = (self.stdout.take(), self.stderr.take());
        let (mut stdout, mut stderr) = (Vec::new(), Vec::new());
        let status = {
            let mut status = core::pin::pin!(self.wait());
            let mut out = core::pin::pin!(async {
                match &stdout_pipe {
                    Some(pipe) => pipe.read_to_end(&mut stdout).await.map(drop),
                    None => Ok(()),
                }
            });
            let mut err = core::pin::pin!(async {
                match &stderr_pipe {
                    Some(pipe) => pipe.read_to_end(&mut stderr).await.map(drop),
                    None => Ok(()),
                }
            });
            // All three at once; the first error ends it.
            let (mut exited, mut out_done, mut err_done) = (None, false, false);
            core::future::poll_fn(|cx| {
                if exited.is_none() {
                    if let Poll::Ready(status) = status.as_mut().poll(cx) {
                        exited = Some(status?);
                    }
                }
                if !out_done {
                    if let Poll::Ready(read) = out.as_mut().poll(cx) {
                        read?;
                        out_done = true;
                    }
                }
                if !err_done {
                    if let Poll::Ready(read) = err.as_mut().poll(cx) {
                        read?;
                        err_done = true;
                    }
                }
                match exited {
                    Some(status) if out_done && err_done => Poll::Ready(io::Result::Ok(status)),
                    _ => Poll::Pending,
                }
            })
            .await?
        };
        Ok(Output {
            status,
            stdout,
            stderr,
        })
    }
}

impl Drop for Child {
    fn drop(&mut self) {
        // The placeholder status is never read: the `Child` is going away.
        let placeholder = State::Exited(ExitStatus::from_raw(0));
        if let State::Running { mut child, .. } = std::mem::replace(&mut self.state, placeholder) {
            if self.kill_on_drop {
                let _ = child.kill();
            }
            wait::reap_in_background(child);
        }
    }
}

impl fmt::Debug for Child {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Child")
            .field("id", &self.id())
            .field(
                "status",
                &match self.state {
                    State::Running { .. } => None,
                    State::Exited(status) => Some(status),
                },
            )
            .field("stdin", &self.stdin)
            .field("stdout", &self.stdout)
            .field("stderr", &self.stderr)
            .field("kill_on_drop", &self.kill_on_drop)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    impl Child {
        /// Waits through SIGCHLD even where pidfds exist.
        fn use_sigchld(&mut self) {
            if let State::Running { waiter, .. } = &mut self.state {
                *waiter = Some(ExitWaiter::sigchld().unwrap());
            }
        }
    }

    /// The SIGCHLD path, which a Linux with pidfds never takes by itself:
    /// children that exit at different times, one that exited before the
    /// waiter existed, each wait ends with its own status.
    #[test]
    #[cfg_attr(miri, ignore)] // Miri cannot spawn processes
    fn sigchld_waiter_sees_every_exit() {
        crate::block_on(async {
            let mut early = Command::new("true").spawn().unwrap();
            std::thread::sleep(Duration::from_millis(50)); // exits unseen
            early.use_sigchld();
            let waits: Vec<_> = (1..6)
                .map(|code| {
                    let script = format!("sleep 0.0{code}; exit {code}");
                    let mut child = Command::new("sh").args(["-c", &script]).spawn().unwrap();
                    child.use_sigchld();
                    crate::spawn_local(async move { (code, child.wait().await.unwrap().code()) })
                })
                .collect();
            let deadline = Duration::from_secs(20);
            let status = crate::time::timeout(deadline, early.wait()).await;
            assert!(status.unwrap().unwrap().success());
            for wait in waits {
                let (code, got) = crate::time::timeout(deadline, wait).await.unwrap().unwrap();
                assert_eq!(got, Some(code));
            }
        });
    }
}
