//! A child's standard streams as non-blocking pipes on the reactor:
//! [`ChildStdin`], [`ChildStdout`], [`ChildStderr`].
//!
//! std's pipe ends become `mio::unix::pipe` ends (switched to non-blocking
//! mode) registered with the current executor's reactor; reads and writes
//! follow the sockets' pattern ([`IoSource`]): try, and on `WouldBlock` wait
//! for the next readiness edge.

use core::pin::Pin;
use core::task::{Context, Poll};
use std::io::{self, IoSlice, Read, Write};

use mio::unix::pipe;

use crate::net::reactor::{READ, WRITE};
use crate::net::source::IoSource;

/// The write end of a child's standard input (`Child::stdin`).
///
/// Writes take `&self`. It implements `futures_io::AsyncWrite` (and
/// tokio's, with the `tokio-io` feature). Closing it — dropping it, or the
/// traits' `poll_close`/`poll_shutdown` — closes the pipe: the child reads
/// end of file.
///
/// ```
/// # if cfg!(miri) { return; } // Miri cannot spawn processes
/// use hearth::process::{Command, Stdio};
///
/// hearth::block_on(async {
///     let mut child = Command::new("wc").arg("-c").stdin(Stdio::piped()).stdout(Stdio::piped()).spawn()?;
///     let stdin = child.stdin.take().unwrap();
///     stdin.write_all(b"12345").await?;
///     drop(stdin); // end of file: wc counts and exits
///     let output = child.wait_with_output().await?;
///     assert_eq!(String::from_utf8_lossy(&output.stdout).trim(), "5");
///     std::io::Result::Ok(())
/// })
/// .unwrap();
/// ```
pub struct ChildStdin {
    /// `None` once closed through `poll_close`/`poll_shutdown`.
    io: Option<IoSource<pipe::Sender>>,
}

impl ChildStdin {
    /// Wraps std's handle (switched to non-blocking mode here), registered
    /// with the current executor's reactor.
    ///
    /// # Errors
    ///
    /// Outside a hearth executor, or if the pipe cannot be registered.
    ///
    /// ```
    /// # if cfg!(miri) { return; } // Miri cannot spawn processes
    /// hearth::block_on(async {
    ///     let mut std_child = std::process::Command::new("cat")
    ///         .stdin(std::process::Stdio::piped())
    ///         .stdout(std::process::Stdio::null())
    ///         .spawn()?;
    ///     let stdin = hearth::process::ChildStdin::from_std(std_child.stdin.take().unwrap())?;
    ///     stdin.write_all(b"into cat").await?;
    ///     drop(stdin);
    ///     assert!(std_child.wait()?.success());
    ///     std::io::Result::Ok(())
    /// })
    /// .unwrap();
    /// ```
    pub fn from_std(stdin: std::process::ChildStdin) -> io::Result<ChildStdin> {
        let sender = pipe::Sender::from(stdin);
        sender.set_nonblocking(true)?;
        Ok(ChildStdin {
            io: Some(register(sender)?),
        })
    }

    fn open(&self) -> io::Result<&IoSource<pipe::Sender>> {
        self.io.as_ref().ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::BrokenPipe,
                "hearth::process: this ChildStdin was closed",
            )
        })
    }

    /// Writes some bytes of `buf`; returns how many. A child that closed its
    /// end (or exited) gives a `BrokenPipe` error.
    pub async fn write(&self, buf: &[u8]) -> io::Result<usize> {
        core::future::poll_fn(|cx| self.write_poll(cx, buf)).await
    }

    /// Writes all of `buf`. See the [type's example](ChildStdin).
    pub async fn write_all(&self, mut buf: &[u8]) -> io::Result<()> {
        while !buf.is_empty() {
            match self.write(buf).await? {
                0 => return Err(io::ErrorKind::WriteZero.into()),
                n => buf = &buf[n..],
            }
        }
        Ok(())
    }

    fn write_poll(&self, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        self.open()?
            .poll_transfer(cx, WRITE, buf.len(), |mut w| w.write(buf))
    }

    fn write_vectored_poll(
        &self,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let len = bufs.iter().map(|b| b.len()).sum();
        self.open()?
            .poll_transfer(cx, WRITE, len, |mut w| w.write_vectored(bufs))
    }

    /// Closes the pipe (deregistering it first); closing again is a no-op.
    fn close(&mut self) {
        self.io = None;
    }
}

impl futures_io::AsyncWrite for ChildStdin {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.write_poll(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        self.write_vectored_poll(cx, bufs)
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    /// Closes the pipe: the child reads end of file.
    fn poll_close(mut self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.close();
        Poll::Ready(Ok(()))
    }
}

#[cfg(feature = "tokio-io")]
impl tokio::io::AsyncWrite for ChildStdin {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.write_poll(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        self.write_vectored_poll(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        true
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    /// Closes the pipe: the child reads end of file.
    fn poll_shutdown(mut self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.close();
        Poll::Ready(Ok(()))
    }
}

impl core::fmt::Debug for ChildStdin {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("ChildStdin")
            .field("closed", &self.io.is_none())
            .finish()
    }
}

fn register<S: mio::event::Source + std::os::fd::AsRawFd>(pipe: S) -> io::Result<IoSource<S>> {
    IoSource::new(pipe).map_err(|e| {
        io::Error::new(
            e.kind(),
            format!("hearth::process: cannot register a child's pipe with the reactor: {e}"),
        )
    })
}

/// The read end of a child's stdout or stderr.
struct PipeReader {
    io: IoSource<pipe::Receiver>,
}

impl PipeReader {
    fn new(receiver: pipe::Receiver) -> io::Result<PipeReader> {
        receiver.set_nonblocking(true)?;
        Ok(PipeReader {
            io: register(receiver)?,
        })
    }

    fn read_poll(&self, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>> {
        self.io
            .poll_transfer(cx, READ, buf.len(), |mut r| r.read(buf))
    }

    async fn read(&self, buf: &mut [u8]) -> io::Result<usize> {
        core::future::poll_fn(|cx| self.read_poll(cx, buf)).await
    }

    async fn read_to_end(&self, out: &mut Vec<u8>) -> io::Result<usize> {
        let start = out.len();
        let mut chunk = [0u8; 8 * 1024];
        loop {
            match self.read(&mut chunk).await? {
                0 => return Ok(out.len() - start),
                n => out.extend_from_slice(&chunk[..n]),
            }
        }
    }
}

/// Gives `ChildStdout`/`ChildStderr` (a struct with a `PipeReader` in
/// `inner`) their methods and `AsyncRead` impls.
macro_rules! reader_api {
    ($Reader:ident, $std:ty, $field:literal, $fd:literal) => {
        impl $Reader {
            /// Wraps std's handle (switched to non-blocking mode here),
            /// registered with the current executor's reactor.
            ///
            /// # Errors
            ///
            /// Outside a hearth executor, or if the pipe cannot be registered.
            pub fn from_std(std: $std) -> io::Result<$Reader> {
                Ok($Reader {
                    inner: PipeReader::new(pipe::Receiver::from(std))?,
                })
            }

            /// Reads some bytes into `buf`; `Ok(0)` at end of file (the child
            /// closed its end, usually by exiting).
            ///
            /// ```
            /// # if cfg!(miri) { return; } // Miri cannot spawn processes
            /// use hearth::process::{Command, Stdio};
            ///
            /// hearth::block_on(async {
            #[doc = concat!("    let script = \"echo hi >&", $fd, "\";")]
            ///     let mut child = Command::new("sh").args(["-c", script])
            #[doc = concat!("        .", $field, "(Stdio::piped()).spawn()?;")]
            #[doc = concat!("    let pipe = child.", $field, ".take().unwrap();")]
            ///     let mut buf = [0; 16];
            ///     let n = pipe.read(&mut buf).await?;
            ///     assert_eq!(&buf[..n], b"hi\n");
            ///     assert_eq!(pipe.read(&mut buf).await?, 0); // the child exited
            ///     child.wait().await?;
            ///     std::io::Result::Ok(())
            /// })
            /// .unwrap();
            /// ```
            pub async fn read(&self, buf: &mut [u8]) -> io::Result<usize> {
                self.inner.read(buf).await
            }

            /// Reads until end of file, appending to `buf`; returns how many
            /// bytes it read.
            pub async fn read_to_end(&self, buf: &mut Vec<u8>) -> io::Result<usize> {
                self.inner.read_to_end(buf).await
            }
        }

        impl futures_io::AsyncRead for $Reader {
            fn poll_read(
                self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                buf: &mut [u8],
            ) -> Poll<io::Result<usize>> {
                self.inner.read_poll(cx, buf)
            }
        }

        #[cfg(feature = "tokio-io")]
        impl tokio::io::AsyncRead for $Reader {
            fn poll_read(
                self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                buf: &mut tokio::io::ReadBuf<'_>,
            ) -> Poll<io::Result<()>> {
                // Pipes are no hot path: zero the unfilled part once (tokio
                // tracks what is initialised) rather than read into
                // uninitialised memory.
                let dst = buf.initialize_unfilled();
                let n = core::task::ready!(self.inner.read_poll(cx, dst))?;
                buf.advance(n);
                Poll::Ready(Ok(()))
            }
        }

        impl core::fmt::Debug for $Reader {
            fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
                f.debug_struct(stringify!($Reader)).finish_non_exhaustive()
            }
        }
    };
}

/// The read end of a child's standard output (`Child::stdout`).
///
/// Reads take `&self`; it implements `futures_io::AsyncRead` (and tokio's,
/// with the `tokio-io` feature).
///
/// ```
/// # if cfg!(miri) { return; } // Miri cannot spawn processes
/// use hearth::process::{Command, Stdio};
///
/// hearth::block_on(async {
///     let mut child = Command::new("echo").arg("hello").stdout(Stdio::piped()).spawn()?;
///     let mut out = Vec::new();
///     child.stdout.take().unwrap().read_to_end(&mut out).await?;
///     assert_eq!(out, b"hello\n");
///     assert!(child.wait().await?.success());
///     std::io::Result::Ok(())
/// })
/// .unwrap();
/// ```
pub struct ChildStdout {
    inner: PipeReader,
}

/// The read end of a child's standard error (`Child::stderr`).
///
/// Reads take `&self`; it implements `futures_io::AsyncRead` (and tokio's,
/// with the `tokio-io` feature).
///
/// ```
/// # if cfg!(miri) { return; } // Miri cannot spawn processes
/// use hearth::process::{Command, Stdio};
///
/// hearth::block_on(async {
///     let mut child = Command::new("sh").args(["-c", "echo oops >&2"]).stderr(Stdio::piped()).spawn()?;
///     let mut err = Vec::new();
///     child.stderr.take().unwrap().read_to_end(&mut err).await?;
///     assert_eq!(err, b"oops\n");
///     child.wait().await?;
///     std::io::Result::Ok(())
/// })
/// .unwrap();
/// ```
pub struct ChildStderr {
    inner: PipeReader,
}

reader_api!(ChildStdout, std::process::ChildStdout, "stdout", "1");
reader_api!(ChildStderr, std::process::ChildStderr, "stderr", "2");
