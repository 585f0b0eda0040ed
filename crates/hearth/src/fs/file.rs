//! [`File`]: an open file whose reads, writes and seeks run on the blocking
//! pool.
//!
//! # How an operation flows
//!
//! A `File` is either *idle*, holding its buffer, or *busy*: one operation
//! (a read, a write or a seek) runs on a pool thread, which owns the buffer
//! and a clone of the `Arc<std::fs::File>` until it is done. Every poll
//! first waits for the operation in flight, then starts its own.
//!
//! - **Read**: reads up to `min(wanted, MAX_BUF)` bytes into the buffer,
//!   then copies out as much as the caller's buffer takes. Bytes left over
//!   (a later read asked for less) are *read ahead*: the OS file position is
//!   past them, and later reads take them first.
//! - **Write** is *write-behind*, as in tokio: the bytes (up to `MAX_BUF`)
//!   are copied into the buffer, the write starts, and `poll_write` returns
//!   `Ready(n)` at once. The write's error, if any, comes back from the
//!   next write or flush. A write first seeks back over bytes read ahead,
//!   so it lands where the caller's position is.
//! - **Seek** subtracts the bytes read ahead from a `SeekFrom::Current`
//!   offset, for the same reason, and drops them.
//!
//! Invariant: while idle, the OS file position is the caller's position
//! plus the bytes read ahead (`buf.unread().len()`); no read-ahead is left
//! when a write or seek starts.

use core::pin::Pin;
use core::task::{ready, Context, Poll};
use std::fs::{Metadata, Permissions};
use std::future::{poll_fn, Future};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::Path;
use std::sync::Arc;

use super::OpenOptions;
use crate::runtime::{blocking_result, run_blocking, spawn_blocking_anywhere, BlockingHandle};

/// The most bytes one read or write moves per round trip to the pool (as
/// tokio's default).
const MAX_BUF: usize = 2 * 1024 * 1024;

/// An open file. Reads, writes and seeks run on the blocking pool, one at a
/// time.
///
/// Open one with [`File::open`], [`File::create`] or [`OpenOptions`]. It has
/// `async` methods of its own ([`read`](Self::read),
/// [`write_all`](Self::write_all), [`seek`](Self::seek), ...), and
/// implements futures-io's `AsyncRead`, `AsyncWrite` and `AsyncSeek` and,
/// with the `tokio-io` feature, tokio's `AsyncRead`, `AsyncWrite` and
/// `AsyncSeek`.
///
/// **Writes are buffered and finish in the background**, as with tokio: a
/// write returns once its bytes are copied, and its error (a full disk, say)
/// comes back from the next write or [`flush`](Self::flush). Call `flush`
/// (or [`sync_all`](Self::sync_all), which also flushes) before dropping
/// the file to see every error: a `File` dropped with a write in flight
/// lets the write finish, and closes the file after it, but nobody sees its
/// result. A read may fetch more than it returns (up to what the caller's
/// buffer asked for); later reads, writes and seeks account for that.
///
/// `File` is `Send`: it may move between threads (each operation is a job
/// on the pool, whose result wakes the awaiting task from any thread).
///
/// # Examples
///
/// ```
/// # if cfg!(miri) { return; } // Miri has no file system
/// use std::io::SeekFrom;
/// use hearth::fs::File;
///
/// # hearth::block_on(async {
/// # let dir = tempfile::tempdir()?;
/// let path = dir.path().join("notes.txt");
/// let mut file = File::create(&path).await?;
/// file.write_all(b"hello, file").await?;
/// file.sync_all().await?; // flushes, then fsync(2)
///
/// let mut file = File::open(&path).await?;
/// file.seek(SeekFrom::Start(7)).await?;
/// let mut rest = Vec::new();
/// file.read_to_end(&mut rest).await?;
/// assert_eq!(rest, b"file");
/// # std::io::Result::Ok(())
/// # }).unwrap();
/// ```
pub struct File {
    std: Arc<std::fs::File>,
    state: State,
    /// The error of a background write, for the next write or flush.
    last_write_err: Option<io::Error>,
}

enum State {
    Idle(Buf),
    /// An operation on the pool; the buffer comes back with its result.
    Busy(BlockingHandle<(Op, Buf)>),
}

/// The result of an operation that ran on the pool.
enum Op {
    /// The bytes read are the buffer's unread part (none at end of file).
    Read(io::Result<()>),
    Write(io::Result<()>),
    Seek(io::Result<u64>),
}

/// A byte buffer with a read cursor: `bytes[pos..]` is unread.
#[derive(Default)]
struct Buf {
    bytes: Vec<u8>,
    pos: usize,
}

impl Buf {
    fn unread(&self) -> &[u8] {
        &self.bytes[self.pos..]
    }

    fn consume(&mut self, n: usize) {
        self.pos += n;
    }

    fn clear(&mut self) {
        self.bytes.clear();
        self.pos = 0;
    }

    /// One `read(2)` of up to `len` bytes (retried if interrupted).
    fn read_from(&mut self, mut file: &std::fs::File, len: usize) -> io::Result<()> {
        self.clear();
        self.bytes.resize(len, 0);
        let n = loop {
            match file.read(&mut self.bytes) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                other => break other,
            }
        };
        self.bytes.truncate(*n.as_ref().unwrap_or(&0));
        n.map(drop)
    }
}

impl File {
    /// Opens the file at `path` for reading, like [`std::fs::File::open`].
    ///
    /// # Errors
    ///
    /// `NotFound` if it does not exist, `PermissionDenied`, and the other
    /// errors of `open(2)`.
    ///
    /// ```
    /// # if cfg!(miri) { return; } // Miri has no file system
    /// # hearth::block_on(async {
    /// # let dir = tempfile::tempdir()?;
    /// let missing = hearth::fs::File::open(dir.path().join("missing")).await;
    /// assert_eq!(missing.unwrap_err().kind(), std::io::ErrorKind::NotFound);
    /// # std::io::Result::Ok(())
    /// # }).unwrap();
    /// ```
    pub async fn open(path: impl AsRef<Path>) -> io::Result<File> {
        OpenOptions::new().read(true).open(path).await
    }

    /// Opens the file at `path` for writing, creating it or truncating it,
    /// like [`std::fs::File::create`].
    ///
    /// See the [type's example](File).
    pub async fn create(path: impl AsRef<Path>) -> io::Result<File> {
        OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(path)
            .await
    }

    /// Creates the file at `path` and opens it for reading and writing;
    /// `AlreadyExists` if it exists (checked and created atomically).
    ///
    /// ```
    /// # if cfg!(miri) { return; } // Miri has no file system
    /// # hearth::block_on(async {
    /// # let dir = tempfile::tempdir()?;
    /// let path = dir.path().join("lock");
    /// hearth::fs::File::create_new(&path).await?;
    /// let again = hearth::fs::File::create_new(&path).await;
    /// assert_eq!(again.unwrap_err().kind(), std::io::ErrorKind::AlreadyExists);
    /// # std::io::Result::Ok(())
    /// # }).unwrap();
    /// ```
    pub async fn create_new(path: impl AsRef<Path>) -> io::Result<File> {
        OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .open(path)
            .await
    }

    /// [`OpenOptions::new`], for `File::options().append(true).open(path)`.
    ///
    /// ```
    /// # if cfg!(miri) { return; } // Miri has no file system
    /// # hearth::block_on(async {
    /// # let dir = tempfile::tempdir()?;
    /// # let path = dir.path().join("f");
    /// let file = hearth::fs::File::options().write(true).create(true).open(&path).await?;
    /// # std::io::Result::Ok(())
    /// # }).unwrap();
    /// ```
    pub fn options() -> OpenOptions {
        OpenOptions::new()
    }

    /// Wraps an open std file. Its position is where the `File` starts.
    ///
    /// ```
    /// # if cfg!(miri) { return; } // Miri has no file system
    /// # hearth::block_on(async {
    /// # let dir = tempfile::tempdir()?;
    /// # let path = dir.path().join("f");
    /// # std::fs::write(&path, "abc")?;
    /// let mut file = hearth::fs::File::from_std(std::fs::File::open(&path)?);
    /// let mut buf = Vec::new();
    /// file.read_to_end(&mut buf).await?;
    /// assert_eq!(buf, b"abc");
    /// # std::io::Result::Ok(())
    /// # }).unwrap();
    /// ```
    pub fn from_std(std: std::fs::File) -> File {
        File {
            std: Arc::new(std),
            state: State::Idle(Buf::default()),
            last_write_err: None,
        }
    }

    /// Waits for the operation in flight and gives back the std file, its
    /// position where this `File`'s was (bytes read ahead are sought back
    /// over).
    ///
    /// # Errors
    ///
    /// The error of a write still unreported, or of the seek back.
    ///
    /// ```
    /// # if cfg!(miri) { return; } // Miri has no file system
    /// use std::io::Read;
    ///
    /// # hearth::block_on(async {
    /// # let dir = tempfile::tempdir()?;
    /// # let path = dir.path().join("f");
    /// # std::fs::write(&path, "abcdef")?;
    /// let mut file = hearth::fs::File::open(&path).await?;
    /// let mut two = [0; 2];
    /// file.read_exact(&mut two).await?;
    /// let mut std = file.into_std().await?;
    /// let mut rest = String::new();
    /// std.read_to_string(&mut rest)?;
    /// assert_eq!(rest, "cdef");
    /// # std::io::Result::Ok(())
    /// # }).unwrap();
    /// ```
    pub async fn into_std(mut self) -> io::Result<std::fs::File> {
        self.settle().await?;
        self.try_into_std()
            .map_err(|_| io::Error::other("the std file is still shared"))
    }

    /// The std file, if no operation is in flight and nothing was read
    /// ahead; otherwise the `File` back.
    ///
    /// ```
    /// # if cfg!(miri) { return; } // Miri has no file system
    /// # hearth::block_on(async {
    /// # let dir = tempfile::tempdir()?;
    /// let file = hearth::fs::File::create(dir.path().join("f")).await?;
    /// let std: std::fs::File = file.try_into_std().unwrap();
    /// # std::io::Result::Ok(())
    /// # }).unwrap();
    /// ```
    pub fn try_into_std(mut self) -> Result<std::fs::File, File> {
        match &self.state {
            State::Idle(buf) if buf.unread().is_empty() && self.last_write_err.is_none() => {
                // A finished job has dropped its clone of the `Arc`.
                match Arc::try_unwrap(self.std) {
                    Ok(std) => Ok(std),
                    Err(std) => {
                        self.std = std;
                        Err(self)
                    }
                }
            }
            _ => Err(self),
        }
    }

    /// Reads some bytes into `buf`: how many, `0` at end of file (or for an
    /// empty `buf`).
    ///
    /// ```
    /// # if cfg!(miri) { return; } // Miri has no file system
    /// # hearth::block_on(async {
    /// # let dir = tempfile::tempdir()?;
    /// # let path = dir.path().join("f");
    /// hearth::fs::write(&path, "abc").await?;
    /// let mut file = hearth::fs::File::open(&path).await?;
    /// let mut buf = [0; 8];
    /// let n = file.read(&mut buf).await?;
    /// assert_eq!(&buf[..n], b"abc");
    /// assert_eq!(file.read(&mut buf).await?, 0);
    /// # std::io::Result::Ok(())
    /// # }).unwrap();
    /// ```
    pub async fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        poll_fn(|cx| self.poll_read_slice(cx, buf)).await
    }

    /// Reads exactly `buf.len()` bytes; `UnexpectedEof` if the file ends
    /// first (what was read is in `buf`).
    ///
    /// See [`into_std`](Self::into_std) for an example.
    pub async fn read_exact(&mut self, mut buf: &mut [u8]) -> io::Result<()> {
        while !buf.is_empty() {
            match self.read(buf).await? {
                0 => {
                    return Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "the file ended before the buffer was filled",
                    ))
                }
                n => buf = &mut buf[n..],
            }
        }
        Ok(())
    }

    /// Reads to the end of the file, appending to `buf`; returns the bytes
    /// read. Reads in chunks of up to 2 MiB; for a whole file
    /// [`fs::read`](super::read) is one round trip.
    ///
    /// See the [type's example](File).
    pub async fn read_to_end(&mut self, buf: &mut Vec<u8>) -> io::Result<usize> {
        let start = buf.len();
        // Ask for at least 64 KiB per round trip, more as the file proves
        // longer.
        let mut chunk = 64 * 1024;
        loop {
            let n = poll_fn(|cx| {
                ready!(self.poll_fill(cx, chunk))?;
                let State::Idle(own) = &mut self.state else {
                    unreachable!("poll_fill returns when idle")
                };
                let n = own.unread().len();
                buf.extend_from_slice(own.unread());
                own.consume(n);
                Poll::Ready(io::Result::Ok(n))
            })
            .await?;
            if n == 0 {
                return Ok(buf.len() - start);
            }
            chunk = (chunk * 2).min(MAX_BUF);
        }
    }

    /// Writes some of `buf` (up to 2 MiB): returns how many bytes were
    /// taken. The write finishes in the background (see the
    /// [type docs](File)).
    ///
    /// # Errors
    ///
    /// The error of the previous write, if it failed.
    ///
    /// ```
    /// # if cfg!(miri) { return; } // Miri has no file system
    /// # hearth::block_on(async {
    /// # let dir = tempfile::tempdir()?;
    /// # let path = dir.path().join("f");
    /// let mut file = hearth::fs::File::create(&path).await?;
    /// let n = file.write(b"some bytes").await?;
    /// assert_eq!(n, 10);
    /// file.flush().await?;
    /// assert_eq!(hearth::fs::read(&path).await?, b"some bytes");
    /// # std::io::Result::Ok(())
    /// # }).unwrap();
    /// ```
    pub async fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        poll_fn(|cx| self.poll_write_slice(cx, buf)).await
    }

    /// Writes all of `buf`, in writes of up to 2 MiB. The last one finishes
    /// in the background: [`flush`](Self::flush) to see its error.
    ///
    /// See the [type's example](File).
    pub async fn write_all(&mut self, mut buf: &[u8]) -> io::Result<()> {
        while !buf.is_empty() {
            match self.write(buf).await? {
                0 => return Err(io::ErrorKind::WriteZero.into()),
                n => buf = &buf[n..],
            }
        }
        Ok(())
    }

    /// Waits for the write in flight; its error, or that of an earlier
    /// background write not yet reported. Does not `fsync(2)`: see
    /// [`sync_all`](Self::sync_all).
    ///
    /// See [`write`](Self::write) for an example.
    pub async fn flush(&mut self) -> io::Result<()> {
        poll_fn(|cx| self.poll_flush_inner(cx)).await
    }

    /// Moves the position, like [`std::io::Seek::seek`]; returns the new
    /// position from the start.
    ///
    /// ```
    /// # if cfg!(miri) { return; } // Miri has no file system
    /// use std::io::SeekFrom;
    ///
    /// # hearth::block_on(async {
    /// # let dir = tempfile::tempdir()?;
    /// # let path = dir.path().join("f");
    /// hearth::fs::write(&path, "0123456789").await?;
    /// let mut file = hearth::fs::File::open(&path).await?;
    /// assert_eq!(file.seek(SeekFrom::End(-3)).await?, 7);
    /// let mut buf = [0; 3];
    /// file.read_exact(&mut buf).await?;
    /// assert_eq!(&buf, b"789");
    /// assert_eq!(file.seek(SeekFrom::Current(-5)).await?, 5);
    /// # std::io::Result::Ok(())
    /// # }).unwrap();
    /// ```
    pub async fn seek(&mut self, pos: SeekFrom) -> io::Result<u64> {
        poll_fn(|cx| self.poll_seek_inner(cx, pos)).await
    }

    /// Flushes, then makes the data and metadata durable (`fsync(2)`), like
    /// [`std::fs::File::sync_all`].
    ///
    /// See the [type's example](File).
    pub async fn sync_all(&mut self) -> io::Result<()> {
        self.flush().await?;
        let std = self.std.clone();
        run_blocking(move || std.sync_all()).await
    }

    /// Flushes, then makes the data durable (`fdatasync(2)`), like
    /// [`std::fs::File::sync_data`].
    ///
    /// ```
    /// # if cfg!(miri) { return; } // Miri has no file system
    /// # hearth::block_on(async {
    /// # let dir = tempfile::tempdir()?;
    /// let mut file = hearth::fs::File::create(dir.path().join("f")).await?;
    /// file.write_all(b"durable").await?;
    /// file.sync_data().await?;
    /// # std::io::Result::Ok(())
    /// # }).unwrap();
    /// ```
    pub async fn sync_data(&mut self) -> io::Result<()> {
        self.flush().await?;
        let std = self.std.clone();
        run_blocking(move || std.sync_data()).await
    }

    /// Truncates or extends the file to `size` bytes (zeros), like
    /// [`std::fs::File::set_len`]; flushes first. The position does not
    /// move.
    ///
    /// ```
    /// # if cfg!(miri) { return; } // Miri has no file system
    /// # hearth::block_on(async {
    /// # let dir = tempfile::tempdir()?;
    /// let mut file = hearth::fs::File::create(dir.path().join("f")).await?;
    /// file.write_all(b"0123456789").await?;
    /// file.set_len(4).await?;
    /// assert_eq!(file.metadata().await?.len(), 4);
    /// file.set_len(6).await?;
    /// # drop(file);
    /// assert_eq!(hearth::fs::read(dir.path().join("f")).await?, b"0123\0\0");
    /// # std::io::Result::Ok(())
    /// # }).unwrap();
    /// ```
    pub async fn set_len(&mut self, size: u64) -> io::Result<()> {
        self.settle().await?;
        let std = self.std.clone();
        run_blocking(move || std.set_len(size)).await
    }

    /// The file's metadata, like [`std::fs::File::metadata`]; flushes first,
    /// so the length counts every write made.
    ///
    /// See [`set_len`](Self::set_len) for an example.
    pub async fn metadata(&mut self) -> io::Result<Metadata> {
        self.flush().await?;
        let std = self.std.clone();
        run_blocking(move || std.metadata()).await
    }

    /// Sets the file's permissions, like
    /// [`std::fs::File::set_permissions`].
    ///
    /// ```
    /// # if cfg!(miri) { return; } // Miri has no file system
    /// # hearth::block_on(async {
    /// # let dir = tempfile::tempdir()?;
    /// let mut file = hearth::fs::File::create(dir.path().join("f")).await?;
    /// let mut perms = file.metadata().await?.permissions();
    /// perms.set_readonly(true);
    /// file.set_permissions(perms).await?;
    /// assert!(file.metadata().await?.permissions().readonly());
    /// # std::io::Result::Ok(())
    /// # }).unwrap();
    /// ```
    pub async fn set_permissions(&self, perm: Permissions) -> io::Result<()> {
        let std = self.std.clone();
        run_blocking(move || std.set_permissions(perm)).await
    }

    /// A second `File` for the same open file (`dup(2)`): they share the
    /// position. Flushes and seeks back over read-ahead first, so the clone
    /// starts where this `File` is.
    ///
    /// ```
    /// # if cfg!(miri) { return; } // Miri has no file system
    /// # hearth::block_on(async {
    /// # let dir = tempfile::tempdir()?;
    /// let mut a = hearth::fs::File::create(dir.path().join("f")).await?;
    /// a.write_all(b"one ").await?;
    /// let mut b = a.try_clone().await?;
    /// b.write_all(b"two").await?;
    /// b.flush().await?;
    /// assert_eq!(hearth::fs::read(dir.path().join("f")).await?, b"one two");
    /// # std::io::Result::Ok(())
    /// # }).unwrap();
    /// ```
    pub async fn try_clone(&mut self) -> io::Result<File> {
        self.settle().await?;
        let std = self.std.clone();
        let clone = run_blocking(move || std.try_clone()).await?;
        Ok(File::from_std(clone))
    }

    /// Waits for the operation in flight (reporting a write error), then
    /// seeks back over bytes read ahead: afterwards the OS position is the
    /// caller's.
    async fn settle(&mut self) -> io::Result<()> {
        self.flush().await?;
        if let State::Idle(buf) = &self.state {
            if !buf.unread().is_empty() {
                self.seek(SeekFrom::Current(0)).await?;
            }
        }
        Ok(())
    }

    /// Waits for the operation in flight and returns its result; the file
    /// is idle afterwards (also when the job was cancelled: then its error).
    fn poll_busy(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<Op>> {
        let State::Busy(job) = &mut self.state else {
            unreachable!("poll_busy on an idle File")
        };
        let done = ready!(Pin::new(job).poll(cx));
        let (op, buf) = match done {
            Ok(done) => done,
            Err(e) => {
                self.state = State::Idle(Buf::default());
                return Poll::Ready(blocking_result(Err(e)));
            }
        };
        self.state = State::Idle(buf);
        Poll::Ready(Ok(op))
    }

    /// Starts `op` on the pool with the buffer (taken from the idle state).
    fn start(&mut self, op: impl FnOnce(&std::fs::File, &mut Buf) -> Op + Send + 'static) {
        let State::Idle(buf) = &mut self.state else {
            unreachable!("start on a busy File")
        };
        let mut buf = std::mem::take(buf);
        let std = self.std.clone();
        self.state = State::Busy(spawn_blocking_anywhere(move || {
            let op = op(&std, &mut buf);
            (op, buf)
        }));
    }

    /// Polls until the buffer holds unread bytes, or until a read found the
    /// end of the file (the buffer is empty then). Reads up to `want` bytes.
    fn poll_fill(&mut self, cx: &mut Context<'_>, want: usize) -> Poll<io::Result<()>> {
        loop {
            match &self.state {
                State::Idle(buf) if !buf.unread().is_empty() => return Poll::Ready(Ok(())),
                State::Idle(_) => {
                    let len = want.clamp(1, MAX_BUF);
                    self.start(move |file, buf| Op::Read(buf.read_from(file, len)));
                }
                State::Busy(_) => match ready!(self.poll_busy(cx))? {
                    Op::Read(result) => return Poll::Ready(result),
                    Op::Write(Err(e)) => self.last_write_err = Some(e),
                    Op::Write(Ok(())) | Op::Seek(_) => {}
                },
            }
        }
    }

    fn poll_read_slice(&mut self, cx: &mut Context<'_>, dst: &mut [u8]) -> Poll<io::Result<usize>> {
        if dst.is_empty() {
            return Poll::Ready(Ok(0));
        }
        ready!(self.poll_fill(cx, dst.len()))?;
        let State::Idle(buf) = &mut self.state else {
            unreachable!("poll_fill returns when idle")
        };
        let n = buf.unread().len().min(dst.len());
        dst[..n].copy_from_slice(&buf.unread()[..n]);
        buf.consume(n);
        Poll::Ready(Ok(n))
    }

    fn poll_write_slice(&mut self, cx: &mut Context<'_>, src: &[u8]) -> Poll<io::Result<usize>> {
        if let Some(e) = self.last_write_err.take() {
            return Poll::Ready(Err(e));
        }
        if src.is_empty() {
            return Poll::Ready(Ok(0));
        }
        loop {
            match &mut self.state {
                State::Idle(buf) => {
                    let read_ahead = buf.unread().len() as i64;
                    let n = src.len().min(MAX_BUF);
                    buf.clear();
                    buf.bytes.extend_from_slice(&src[..n]);
                    self.start(move |mut file, buf| {
                        let written = (|| {
                            if read_ahead > 0 {
                                file.seek(SeekFrom::Current(-read_ahead))?;
                            }
                            file.write_all(&buf.bytes)
                        })();
                        buf.clear();
                        Op::Write(written)
                    });
                    return Poll::Ready(Ok(n));
                }
                State::Busy(_) => match ready!(self.poll_busy(cx))? {
                    Op::Write(Err(e)) => return Poll::Ready(Err(e)),
                    // Bytes a read fetched stay; the write seeks back over them.
                    Op::Read(_) | Op::Write(Ok(())) | Op::Seek(_) => {}
                },
            }
        }
    }

    fn poll_flush_inner(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if let Some(e) = self.last_write_err.take() {
            return Poll::Ready(Err(e));
        }
        if let State::Busy(_) = self.state {
            if let Op::Write(Err(e)) = ready!(self.poll_busy(cx))? {
                return Poll::Ready(Err(e));
            }
        }
        Poll::Ready(Ok(()))
    }

    /// Starts a seek to `pos` (see the module docs for the read-ahead
    /// adjustment). The file must be idle.
    fn start_seek_inner(&mut self, pos: SeekFrom) -> io::Result<()> {
        let State::Idle(buf) = &self.state else {
            return Err(io::Error::other(
                "a file operation is in flight: poll_complete must return Ready before start_seek",
            ));
        };
        let pos = match pos {
            SeekFrom::Current(offset) => {
                let read_ahead = buf.unread().len() as i64;
                SeekFrom::Current(offset.checked_sub(read_ahead).ok_or_else(|| {
                    io::Error::new(io::ErrorKind::InvalidInput, "seek offset out of range")
                })?)
            }
            absolute => absolute,
        };
        self.start(move |mut file, buf| {
            buf.clear();
            Op::Seek(file.seek(pos))
        });
        Ok(())
    }

    /// Waits for the operation in flight: `Some(position)` if it was a seek,
    /// `None` if it was something else (or nothing was in flight).
    fn poll_complete_inner(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<Option<u64>>> {
        if let State::Idle(_) = self.state {
            return Poll::Ready(Ok(None));
        }
        match ready!(self.poll_busy(cx))? {
            Op::Seek(result) => Poll::Ready(result.map(Some)),
            Op::Write(Err(e)) => {
                self.last_write_err = Some(e);
                Poll::Ready(Ok(None))
            }
            Op::Read(_) | Op::Write(Ok(())) => Poll::Ready(Ok(None)),
        }
    }

    fn poll_seek_inner(&mut self, cx: &mut Context<'_>, pos: SeekFrom) -> Poll<io::Result<u64>> {
        loop {
            if let State::Idle(_) = self.state {
                self.start_seek_inner(pos)?;
            }
            if let Some(position) = ready!(self.poll_complete_inner(cx))? {
                return Poll::Ready(Ok(position));
            }
        }
    }
}

impl From<std::fs::File> for File {
    fn from(std: std::fs::File) -> File {
        File::from_std(std)
    }
}

impl core::fmt::Debug for File {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("File")
            .field("std", &self.std)
            .field("busy", &matches!(self.state, State::Busy(_)))
            .finish()
    }
}

impl std::os::fd::AsRawFd for File {
    fn as_raw_fd(&self) -> std::os::fd::RawFd {
        self.std.as_raw_fd()
    }
}

impl std::os::fd::AsFd for File {
    fn as_fd(&self) -> std::os::fd::BorrowedFd<'_> {
        self.std.as_fd()
    }
}

impl futures_io::AsyncRead for File {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        self.get_mut().poll_read_slice(cx, buf)
    }
}

impl futures_io::AsyncWrite for File {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.get_mut().poll_write_slice(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.get_mut().poll_flush_inner(cx)
    }

    /// Flushes; the file closes when it is dropped.
    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.get_mut().poll_flush_inner(cx)
    }
}

impl futures_io::AsyncSeek for File {
    fn poll_seek(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        pos: SeekFrom,
    ) -> Poll<io::Result<u64>> {
        self.get_mut().poll_seek_inner(cx, pos)
    }
}

#[cfg(feature = "tokio-io")]
#[cfg_attr(docsrs, doc(cfg(feature = "tokio-io")))]
impl tokio::io::AsyncRead for File {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        dst: &mut tokio::io::ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if dst.remaining() == 0 {
            return Poll::Ready(Ok(()));
        }
        ready!(this.poll_fill(cx, dst.remaining()))?;
        let State::Idle(buf) = &mut this.state else {
            unreachable!("poll_fill returns when idle")
        };
        let n = buf.unread().len().min(dst.remaining());
        dst.put_slice(&buf.unread()[..n]);
        buf.consume(n);
        Poll::Ready(Ok(()))
    }
}

#[cfg(feature = "tokio-io")]
#[cfg_attr(docsrs, doc(cfg(feature = "tokio-io")))]
impl tokio::io::AsyncWrite for File {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.get_mut().poll_write_slice(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.get_mut().poll_flush_inner(cx)
    }

    /// Flushes; the file closes when it is dropped.
    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.get_mut().poll_flush_inner(cx)
    }
}

/// tokio's two-step seek: `start_seek` fails if an operation is in flight
/// (call `poll_complete` until `Ready` first, as `AsyncSeekExt::seek`
/// does); `poll_complete` returns the new position after a `start_seek`,
/// and `0` when there was no seek to wait for.
#[cfg(feature = "tokio-io")]
#[cfg_attr(docsrs, doc(cfg(feature = "tokio-io")))]
impl tokio::io::AsyncSeek for File {
    fn start_seek(self: Pin<&mut Self>, pos: SeekFrom) -> io::Result<()> {
        self.get_mut().start_seek_inner(pos)
    }

    fn poll_complete(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<u64>> {
        self.get_mut()
            .poll_complete_inner(cx)
            .map_ok(|position| position.unwrap_or(0))
    }
}
