//! Files and directories: tokio's `fs` API, run on the blocking pool.
//!
//! Linux has no readiness notification for regular files (epoll reports them
//! always ready), so every call here runs the matching `std::fs` call on a
//! thread of the blocking pool and wakes the awaiting task when it is done;
//! the worker keeps running its other tasks meanwhile. That is what tokio
//! does too. io_uring, which would submit the operations from the worker
//! itself, is future work.
//!
//! The pool is the current [`Runtime`](crate::Runtime)'s
//! ([`Handle::spawn_blocking`](crate::runtime::Handle::spawn_blocking)) or,
//! on a thread with no runtime (plain [`block_on`](crate::block_on), a bare
//! [`Executor`](crate::Executor), even another crate's executor: the result
//! wakes the task through its `Waker`), a process-wide pool with the same
//! defaults (at most 16 threads, idle ones exit after 10 s). Once a runtime
//! is shutting down, calls that have not started are cancelled: they return
//! an `Other` error that says so.
//!
//! # Cost
//!
//! Each call is one round trip to the pool: a job queued under a lock, a
//! pool thread woken (or started), the result sent back and the task woken
//! through its thread-safe `Waker`. On the shared 2-core VM of
//! BENCHMARKS.md (suite `fs` of hearth-bench), a 4 KiB [`read`] took 30–70
//! µs (medians over several runs) where `std::fs::read` on the caller took
//! 5–6 µs: the round trip, mostly waiting for a CPU to run the woken
//! threads, is most of the cost. `tokio::fs` pays the same kind of round
//! trip (50–90 µs in the same runs). A loop of small operations pays it every
//! time: read a whole file with [`read`] rather than in small chunks, batch
//! writes into a buffer (a [`File`] write carries up to 2 MiB per round
//! trip), or run a whole sequence of `std::fs` calls in one
//! [`spawn_blocking`](crate::runtime::spawn_blocking) closure.
//!
//! # Errors
//!
//! Errors are the `std::io::Error`s of the `std::fs` calls, unchanged (the
//! same kind and OS error code): a missing file is `NotFound`, a file where
//! a directory is expected is `NotADirectory`, and so on. Nothing here
//! panics on a bad path.
//!
//! # Differences from tokio
//!
//! - Outside a runtime the calls use a process-wide pool; tokio's panic.
//! - [`File`] has inherent `read`, `read_exact`, `read_to_end`, `write`,
//!   `write_all`, `flush` and `seek` methods (hearth has no extension
//!   traits); it implements futures-io's `AsyncRead`, `AsyncWrite` and
//!   `AsyncSeek` and, with the `tokio-io` feature, tokio's.
//! - Left out for now: `DirBuilder`, `File::set_max_buf_size`,
//!   `File::set_permissions` (use [`set_permissions`]), and the Windows-only
//!   functions.
//!
//! # Examples
//!
//! ```
//! # if cfg!(miri) { return; } // Miri has no file system
//! use hearth::fs;
//!
//! hearth::block_on(async {
//!     let dir = tempfile::tempdir()?;
//!     let path = dir.path().join("greeting.txt");
//!     fs::write(&path, "hello").await?;
//!     assert_eq!(fs::read_to_string(&path).await?, "hello");
//!
//!     let missing = fs::read(dir.path().join("missing")).await.unwrap_err();
//!     assert_eq!(missing.kind(), std::io::ErrorKind::NotFound);
//!     std::io::Result::Ok(())
//! })
//! .unwrap();
//! ```

mod file;
mod open_options;
mod read_dir;

pub use file::File;
pub use open_options::OpenOptions;
pub use read_dir::{read_dir, DirEntry, ReadDir};

use std::fs::{Metadata, Permissions};
use std::io;
use std::path::{Path, PathBuf};

use crate::runtime::run_blocking;

/// Reads the whole file at `path` into a `Vec`, like [`std::fs::read`].
///
/// One round trip to the blocking pool, however large the file.
///
/// ```
/// # if cfg!(miri) { return; } // Miri has no file system
/// # hearth::block_on(async {
/// # let dir = tempfile::tempdir()?;
/// let path = dir.path().join("data.bin");
/// hearth::fs::write(&path, [1, 2, 3]).await?;
/// assert_eq!(hearth::fs::read(&path).await?, [1, 2, 3]);
/// # std::io::Result::Ok(())
/// # }).unwrap();
/// ```
pub async fn read(path: impl AsRef<Path>) -> io::Result<Vec<u8>> {
    let path = path.as_ref().to_owned();
    run_blocking(move || std::fs::read(path)).await
}

/// Reads the whole file at `path` into a `String`, like
/// [`std::fs::read_to_string`]; `InvalidData` if it is not UTF-8.
///
/// ```
/// # if cfg!(miri) { return; } // Miri has no file system
/// # hearth::block_on(async {
/// # let dir = tempfile::tempdir()?;
/// let path = dir.path().join("a.txt");
/// hearth::fs::write(&path, "text").await?;
/// assert_eq!(hearth::fs::read_to_string(&path).await?, "text");
///
/// hearth::fs::write(&path, [0xff]).await?;
/// let err = hearth::fs::read_to_string(&path).await.unwrap_err();
/// assert_eq!(err.kind(), std::io::ErrorKind::InvalidData);
/// # std::io::Result::Ok(())
/// # }).unwrap();
/// ```
pub async fn read_to_string(path: impl AsRef<Path>) -> io::Result<String> {
    let path = path.as_ref().to_owned();
    run_blocking(move || std::fs::read_to_string(path)).await
}

/// Writes `contents` to the file at `path`, creating it or replacing what
/// it held, like [`std::fs::write`]. `contents` is copied first (the write
/// runs on another thread).
///
/// ```
/// # if cfg!(miri) { return; } // Miri has no file system
/// # hearth::block_on(async {
/// # let dir = tempfile::tempdir()?;
/// let path = dir.path().join("out.txt");
/// hearth::fs::write(&path, "first, longer").await?;
/// hearth::fs::write(&path, b"second").await?;
/// assert_eq!(hearth::fs::read(&path).await?, b"second");
/// # std::io::Result::Ok(())
/// # }).unwrap();
/// ```
pub async fn write(path: impl AsRef<Path>, contents: impl AsRef<[u8]>) -> io::Result<()> {
    let path = path.as_ref().to_owned();
    let contents = contents.as_ref().to_owned();
    run_blocking(move || std::fs::write(path, contents)).await
}

/// Creates the directory `path`, like [`std::fs::create_dir`]: its parent
/// must exist, and `path` must not (`AlreadyExists`).
///
/// ```
/// # if cfg!(miri) { return; } // Miri has no file system
/// # hearth::block_on(async {
/// # let dir = tempfile::tempdir()?;
/// let sub = dir.path().join("sub");
/// hearth::fs::create_dir(&sub).await?;
/// let again = hearth::fs::create_dir(&sub).await.unwrap_err();
/// assert_eq!(again.kind(), std::io::ErrorKind::AlreadyExists);
/// # std::io::Result::Ok(())
/// # }).unwrap();
/// ```
pub async fn create_dir(path: impl AsRef<Path>) -> io::Result<()> {
    let path = path.as_ref().to_owned();
    run_blocking(move || std::fs::create_dir(path)).await
}

/// Creates the directory `path` and every missing parent, like
/// [`std::fs::create_dir_all`]; succeeds if it exists already.
///
/// ```
/// # if cfg!(miri) { return; } // Miri has no file system
/// # hearth::block_on(async {
/// # let dir = tempfile::tempdir()?;
/// let deep = dir.path().join("a/b/c");
/// hearth::fs::create_dir_all(&deep).await?;
/// hearth::fs::create_dir_all(&deep).await?;
/// assert!(hearth::fs::metadata(&deep).await?.is_dir());
/// # std::io::Result::Ok(())
/// # }).unwrap();
/// ```
pub async fn create_dir_all(path: impl AsRef<Path>) -> io::Result<()> {
    let path = path.as_ref().to_owned();
    run_blocking(move || std::fs::create_dir_all(path)).await
}

/// Removes the file (or symbolic link) at `path`, like
/// [`std::fs::remove_file`].
///
/// ```
/// # if cfg!(miri) { return; } // Miri has no file system
/// # hearth::block_on(async {
/// # let dir = tempfile::tempdir()?;
/// let path = dir.path().join("gone");
/// hearth::fs::write(&path, "x").await?;
/// hearth::fs::remove_file(&path).await?;
/// assert!(!hearth::fs::try_exists(&path).await?);
/// # std::io::Result::Ok(())
/// # }).unwrap();
/// ```
pub async fn remove_file(path: impl AsRef<Path>) -> io::Result<()> {
    let path = path.as_ref().to_owned();
    run_blocking(move || std::fs::remove_file(path)).await
}

/// Removes the empty directory `path`, like [`std::fs::remove_dir`].
///
/// ```
/// # if cfg!(miri) { return; } // Miri has no file system
/// # hearth::block_on(async {
/// # let dir = tempfile::tempdir()?;
/// let sub = dir.path().join("empty");
/// hearth::fs::create_dir(&sub).await?;
/// hearth::fs::remove_dir(&sub).await?;
/// assert!(!hearth::fs::try_exists(&sub).await?);
/// # std::io::Result::Ok(())
/// # }).unwrap();
/// ```
pub async fn remove_dir(path: impl AsRef<Path>) -> io::Result<()> {
    let path = path.as_ref().to_owned();
    run_blocking(move || std::fs::remove_dir(path)).await
}

/// Removes the directory `path` and everything in it, like
/// [`std::fs::remove_dir_all`] (one round trip for the whole tree).
///
/// ```
/// # if cfg!(miri) { return; } // Miri has no file system
/// # hearth::block_on(async {
/// # let dir = tempfile::tempdir()?;
/// let tree = dir.path().join("tree");
/// hearth::fs::create_dir_all(tree.join("a/b")).await?;
/// hearth::fs::write(tree.join("a/b/f"), "x").await?;
/// hearth::fs::remove_dir_all(&tree).await?;
/// assert!(!hearth::fs::try_exists(&tree).await?);
/// # std::io::Result::Ok(())
/// # }).unwrap();
/// ```
pub async fn remove_dir_all(path: impl AsRef<Path>) -> io::Result<()> {
    let path = path.as_ref().to_owned();
    run_blocking(move || std::fs::remove_dir_all(path)).await
}

/// Renames `from` to `to`, replacing `to` if it is a file, like
/// [`std::fs::rename`].
///
/// ```
/// # if cfg!(miri) { return; } // Miri has no file system
/// # hearth::block_on(async {
/// # let dir = tempfile::tempdir()?;
/// let (a, b) = (dir.path().join("a"), dir.path().join("b"));
/// hearth::fs::write(&a, "moved").await?;
/// hearth::fs::rename(&a, &b).await?;
/// assert_eq!(hearth::fs::read_to_string(&b).await?, "moved");
/// assert!(!hearth::fs::try_exists(&a).await?);
/// # std::io::Result::Ok(())
/// # }).unwrap();
/// ```
pub async fn rename(from: impl AsRef<Path>, to: impl AsRef<Path>) -> io::Result<()> {
    let (from, to) = (from.as_ref().to_owned(), to.as_ref().to_owned());
    run_blocking(move || std::fs::rename(from, to)).await
}

/// Copies the contents and permissions of the file `from` to `to`, like
/// [`std::fs::copy`]; returns the number of bytes copied.
///
/// ```
/// # if cfg!(miri) { return; } // Miri has no file system
/// # hearth::block_on(async {
/// # let dir = tempfile::tempdir()?;
/// let (a, b) = (dir.path().join("a"), dir.path().join("b"));
/// hearth::fs::write(&a, "copy me").await?;
/// assert_eq!(hearth::fs::copy(&a, &b).await?, 7);
/// assert_eq!(hearth::fs::read(&b).await?, hearth::fs::read(&a).await?);
/// # std::io::Result::Ok(())
/// # }).unwrap();
/// ```
pub async fn copy(from: impl AsRef<Path>, to: impl AsRef<Path>) -> io::Result<u64> {
    let (from, to) = (from.as_ref().to_owned(), to.as_ref().to_owned());
    run_blocking(move || std::fs::copy(from, to)).await
}

/// Creates a hard link `link` to the file `original`, like
/// [`std::fs::hard_link`].
///
/// ```
/// # if cfg!(miri) { return; } // Miri has no file system
/// # hearth::block_on(async {
/// # let dir = tempfile::tempdir()?;
/// let (a, b) = (dir.path().join("a"), dir.path().join("b"));
/// hearth::fs::write(&a, "shared").await?;
/// hearth::fs::hard_link(&a, &b).await?;
/// assert_eq!(hearth::fs::read_to_string(&b).await?, "shared");
/// # std::io::Result::Ok(())
/// # }).unwrap();
/// ```
pub async fn hard_link(original: impl AsRef<Path>, link: impl AsRef<Path>) -> io::Result<()> {
    let (original, link) = (original.as_ref().to_owned(), link.as_ref().to_owned());
    run_blocking(move || std::fs::hard_link(original, link)).await
}

/// Creates a symbolic link `link` pointing at `original`, like
/// [`std::os::unix::fs::symlink`].
///
/// ```
/// # if cfg!(miri) { return; } // Miri has no file system
/// # hearth::block_on(async {
/// # let dir = tempfile::tempdir()?;
/// let (target, link) = (dir.path().join("target"), dir.path().join("link"));
/// hearth::fs::write(&target, "via link").await?;
/// hearth::fs::symlink(&target, &link).await?;
/// assert_eq!(hearth::fs::read_link(&link).await?, target);
/// assert!(hearth::fs::symlink_metadata(&link).await?.file_type().is_symlink());
/// assert_eq!(hearth::fs::read_to_string(&link).await?, "via link");
/// # std::io::Result::Ok(())
/// # }).unwrap();
/// ```
#[cfg(unix)]
pub async fn symlink(original: impl AsRef<Path>, link: impl AsRef<Path>) -> io::Result<()> {
    let (original, link) = (original.as_ref().to_owned(), link.as_ref().to_owned());
    run_blocking(move || std::os::unix::fs::symlink(original, link)).await
}

/// The target of the symbolic link `path`, like [`std::fs::read_link`];
/// see [`symlink`] for an example.
pub async fn read_link(path: impl AsRef<Path>) -> io::Result<PathBuf> {
    let path = path.as_ref().to_owned();
    run_blocking(move || std::fs::read_link(path)).await
}

/// The metadata of `path`, following symbolic links, like
/// [`std::fs::metadata`].
///
/// ```
/// # if cfg!(miri) { return; } // Miri has no file system
/// # hearth::block_on(async {
/// # let dir = tempfile::tempdir()?;
/// let path = dir.path().join("five");
/// hearth::fs::write(&path, "12345").await?;
/// let meta = hearth::fs::metadata(&path).await?;
/// assert!(meta.is_file());
/// assert_eq!(meta.len(), 5);
/// # std::io::Result::Ok(())
/// # }).unwrap();
/// ```
pub async fn metadata(path: impl AsRef<Path>) -> io::Result<Metadata> {
    let path = path.as_ref().to_owned();
    run_blocking(move || std::fs::metadata(path)).await
}

/// The metadata of `path` itself, not following a symbolic link, like
/// [`std::fs::symlink_metadata`]; see [`symlink`] for an example.
pub async fn symlink_metadata(path: impl AsRef<Path>) -> io::Result<Metadata> {
    let path = path.as_ref().to_owned();
    run_blocking(move || std::fs::symlink_metadata(path)).await
}

/// Sets the permissions of `path`, like [`std::fs::set_permissions`].
///
/// ```
/// # if cfg!(miri) { return; } // Miri has no file system
/// # hearth::block_on(async {
/// # let dir = tempfile::tempdir()?;
/// let path = dir.path().join("ro");
/// hearth::fs::write(&path, "x").await?;
/// let mut perms = hearth::fs::metadata(&path).await?.permissions();
/// perms.set_readonly(true);
/// hearth::fs::set_permissions(&path, perms).await?;
/// assert!(hearth::fs::metadata(&path).await?.permissions().readonly());
/// # std::io::Result::Ok(())
/// # }).unwrap();
/// ```
pub async fn set_permissions(path: impl AsRef<Path>, perm: Permissions) -> io::Result<()> {
    let path = path.as_ref().to_owned();
    run_blocking(move || std::fs::set_permissions(path, perm)).await
}

/// The absolute form of `path` with every symbolic link, `.` and `..`
/// resolved, like [`std::fs::canonicalize`]; `NotFound` if it does not
/// exist.
///
/// ```
/// # if cfg!(miri) { return; } // Miri has no file system
/// # hearth::block_on(async {
/// # let dir = tempfile::tempdir()?;
/// hearth::fs::create_dir(dir.path().join("sub")).await?;
/// let odd = dir.path().join("sub/../sub/.");
/// let canonical = hearth::fs::canonicalize(&odd).await?;
/// assert_eq!(canonical, std::fs::canonicalize(dir.path())?.join("sub"));
/// # std::io::Result::Ok(())
/// # }).unwrap();
/// ```
pub async fn canonicalize(path: impl AsRef<Path>) -> io::Result<PathBuf> {
    let path = path.as_ref().to_owned();
    run_blocking(move || std::fs::canonicalize(path)).await
}

/// Whether `path` exists (following symbolic links), like
/// [`std::fs::exists`]: `Ok(false)` if it does not, an error if that cannot
/// be known (for example a parent directory that may not be searched).
///
/// ```
/// # if cfg!(miri) { return; } // Miri has no file system
/// # hearth::block_on(async {
/// # let dir = tempfile::tempdir()?;
/// assert!(hearth::fs::try_exists(dir.path()).await?);
/// assert!(!hearth::fs::try_exists(dir.path().join("nope")).await?);
/// # std::io::Result::Ok(())
/// # }).unwrap();
/// ```
pub async fn try_exists(path: impl AsRef<Path>) -> io::Result<bool> {
    let path = path.as_ref().to_owned();
    run_blocking(move || path.try_exists()).await
}
