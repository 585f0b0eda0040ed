//! [`read_dir`], [`ReadDir`] and [`DirEntry`]: directory listings fetched
//! in batches on the blocking pool.

use core::future::poll_fn;
use core::pin::Pin;
use core::task::{ready, Context, Poll};
use std::collections::VecDeque;
use std::ffi::OsString;
use std::fs::{FileType, Metadata};
use std::future::Future;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::runtime::{blocking_result, run_blocking, spawn_blocking_anywhere, BlockingHandle};

/// Entries fetched per round trip to the blocking pool.
const BATCH: usize = 32;

/// Opens the directory `path` for listing, like [`std::fs::read_dir`].
///
/// ```
/// # if cfg!(miri) { return; } // Miri has no file system
/// # hearth::block_on(async {
/// # let dir = tempfile::tempdir()?;
/// hearth::fs::write(dir.path().join("a.txt"), "").await?;
/// hearth::fs::create_dir(dir.path().join("sub")).await?;
///
/// let mut names = Vec::new();
/// let mut entries = hearth::fs::read_dir(dir.path()).await?;
/// while let Some(entry) = entries.next_entry().await? {
///     names.push((entry.file_name(), entry.file_type().await?.is_dir()));
/// }
/// names.sort();
/// assert_eq!(names, [("a.txt".into(), false), ("sub".into(), true)]);
/// # std::io::Result::Ok(())
/// # }).unwrap();
/// ```
pub async fn read_dir(path: impl AsRef<Path>) -> io::Result<ReadDir> {
    let path = path.as_ref().to_owned();
    let std = run_blocking(move || std::fs::read_dir(path)).await?;
    Ok(ReadDir {
        ready: VecDeque::new(),
        state: State::Idle(Some(std)),
    })
}

/// The entries of a directory ([`read_dir`]), fetched 32 at a time on the
/// blocking pool; `.` and `..` are left out, the order is the file
/// system's.
pub struct ReadDir {
    /// Fetched entries (or errors) not yet handed out.
    ready: VecDeque<io::Result<DirEntry>>,
    state: State,
}

enum State {
    /// `None` once the listing is exhausted.
    Idle(Option<std::fs::ReadDir>),
    /// A batch being fetched; the listing comes back with it, unless it
    /// ended.
    Busy(BlockingHandle<Batch>),
}

type Batch = (VecDeque<io::Result<DirEntry>>, Option<std::fs::ReadDir>);

impl ReadDir {
    /// The next entry, or `None` at the end of the listing. An error for an
    /// entry that could not be read; the listing goes on after it.
    ///
    /// Cancel safe: an entry fetched while the future was pending stays for
    /// the next call. See [`read_dir`] for an example.
    pub async fn next_entry(&mut self) -> io::Result<Option<DirEntry>> {
        poll_fn(|cx| self.poll_next_entry(cx)).await
    }

    /// Polls for the next entry (for hand-written futures and streams):
    /// `Ready(Ok(None))` at the end of the listing.
    ///
    /// ```
    /// # if cfg!(miri) { return; } // Miri has no file system
    /// # hearth::block_on(async {
    /// # let dir = tempfile::tempdir()?;
    /// hearth::fs::write(dir.path().join("only"), "").await?;
    /// let mut entries = hearth::fs::read_dir(dir.path()).await?;
    /// let first = std::future::poll_fn(|cx| entries.poll_next_entry(cx)).await?;
    /// assert_eq!(first.unwrap().file_name(), "only");
    /// assert!(entries.next_entry().await?.is_none());
    /// # std::io::Result::Ok(())
    /// # }).unwrap();
    /// ```
    pub fn poll_next_entry(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<Option<DirEntry>>> {
        loop {
            if let Some(entry) = self.ready.pop_front() {
                return Poll::Ready(entry.map(Some));
            }
            match &mut self.state {
                State::Idle(None) => return Poll::Ready(Ok(None)),
                State::Idle(listing) => {
                    let mut listing = listing.take();
                    self.state = State::Busy(spawn_blocking_anywhere(move || {
                        let mut batch = VecDeque::with_capacity(BATCH);
                        while batch.len() < BATCH {
                            match listing.as_mut().and_then(Iterator::next) {
                                Some(entry) => batch.push_back(entry.map(DirEntry::new)),
                                None => {
                                    listing = None;
                                    break;
                                }
                            }
                        }
                        (batch, listing)
                    }));
                }
                State::Busy(job) => {
                    let done = ready!(Pin::new(job).poll(cx));
                    self.state = State::Idle(None);
                    let (batch, listing) = blocking_result(done.map(Ok))?;
                    self.ready = batch;
                    self.state = State::Idle(listing);
                }
            }
        }
    }
}

impl core::fmt::Debug for ReadDir {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("ReadDir")
            .field("ready", &self.ready.len())
            .field("done", &matches!(self.state, State::Idle(None)))
            .finish()
    }
}

/// An entry of a directory listing ([`ReadDir`]).
///
/// Its name, path and inode come with it; its type usually does too (the
/// file system reports it in the listing), and [`metadata`](Self::metadata)
/// is a round trip to the blocking pool.
#[derive(Debug)]
pub struct DirEntry {
    std: Arc<std::fs::DirEntry>,
    /// Read in the listing's batch; `None` if that failed (asked again on
    /// the pool then).
    file_type: Option<FileType>,
}

impl DirEntry {
    fn new(std: std::fs::DirEntry) -> DirEntry {
        DirEntry {
            file_type: std.file_type().ok(),
            std: Arc::new(std),
        }
    }

    /// The full path: the directory given to [`read_dir`] joined with
    /// [`file_name`](Self::file_name).
    ///
    /// ```
    /// # if cfg!(miri) { return; } // Miri has no file system
    /// # hearth::block_on(async {
    /// # let dir = tempfile::tempdir()?;
    /// hearth::fs::write(dir.path().join("f"), "").await?;
    /// let entry = hearth::fs::read_dir(dir.path()).await?.next_entry().await?.unwrap();
    /// assert_eq!(entry.path(), dir.path().join("f"));
    /// # std::io::Result::Ok(())
    /// # }).unwrap();
    /// ```
    pub fn path(&self) -> PathBuf {
        self.std.path()
    }

    /// The entry's name within its directory. See [`read_dir`] for an
    /// example.
    pub fn file_name(&self) -> OsString {
        self.std.file_name()
    }

    /// The entry's inode number, as reported by the listing.
    ///
    /// ```
    /// # if cfg!(miri) { return; } // Miri has no file system
    /// use std::os::unix::fs::MetadataExt;
    ///
    /// # hearth::block_on(async {
    /// # let dir = tempfile::tempdir()?;
    /// hearth::fs::write(dir.path().join("f"), "").await?;
    /// let entry = hearth::fs::read_dir(dir.path()).await?.next_entry().await?.unwrap();
    /// assert_eq!(entry.ino(), entry.metadata().await?.ino());
    /// # std::io::Result::Ok(())
    /// # }).unwrap();
    /// ```
    #[cfg(unix)]
    pub fn ino(&self) -> u64 {
        std::os::unix::fs::DirEntryExt::ino(&*self.std)
    }

    /// The entry's metadata, not following a symbolic link (like
    /// [`std::fs::DirEntry::metadata`]); a round trip to the blocking pool.
    ///
    /// ```
    /// # if cfg!(miri) { return; } // Miri has no file system
    /// # hearth::block_on(async {
    /// # let dir = tempfile::tempdir()?;
    /// hearth::fs::write(dir.path().join("f"), "abc").await?;
    /// let entry = hearth::fs::read_dir(dir.path()).await?.next_entry().await?.unwrap();
    /// assert_eq!(entry.metadata().await?.len(), 3);
    /// # std::io::Result::Ok(())
    /// # }).unwrap();
    /// ```
    pub async fn metadata(&self) -> io::Result<Metadata> {
        let std = self.std.clone();
        run_blocking(move || std.metadata()).await
    }

    /// The entry's type, not following a symbolic link. Usually known from
    /// the listing (no round trip); see [`read_dir`] for an example.
    pub async fn file_type(&self) -> io::Result<FileType> {
        if let Some(file_type) = self.file_type {
            return Ok(file_type);
        }
        let std = self.std.clone();
        run_blocking(move || std.file_type()).await
    }
}
