//! [`OpenOptions`]: std's, with an `async` `open`.

use std::io;
use std::path::Path;

use super::File;
use crate::runtime::run_blocking;

/// How to open a file: std's [`std::fs::OpenOptions`] (the same methods and
/// meanings), with an `async` [`open`](Self::open) that runs on the blocking
/// pool.
///
/// ```
/// # if cfg!(miri) { return; } // Miri has no file system
/// use hearth::fs::OpenOptions;
///
/// # hearth::block_on(async {
/// # let dir = tempfile::tempdir()?;
/// let path = dir.path().join("log.txt");
/// let mut log = OpenOptions::new().create(true).append(true).open(&path).await?;
/// log.write_all(b"one\n").await?;
/// log.flush().await?;
/// let mut log = OpenOptions::new().append(true).open(&path).await?;
/// log.write_all(b"two\n").await?;
/// log.flush().await?;
/// assert_eq!(hearth::fs::read_to_string(&path).await?, "one\ntwo\n");
///
/// let exists = OpenOptions::new().write(true).create_new(true).open(&path).await;
/// assert_eq!(exists.unwrap_err().kind(), std::io::ErrorKind::AlreadyExists);
/// # std::io::Result::Ok(())
/// # }).unwrap();
/// ```
#[derive(Clone, Debug)]
pub struct OpenOptions(std::fs::OpenOptions);

impl OpenOptions {
    /// Options with every flag off (open with them and you get
    /// `InvalidInput`); set at least [`read`](Self::read),
    /// [`write`](Self::write) or [`append`](Self::append).
    ///
    /// ```
    /// # if cfg!(miri) { return; } // Miri has no file system
    /// # hearth::block_on(async {
    /// # let dir = tempfile::tempdir()?;
    /// # let path = dir.path().join("f");
    /// # hearth::fs::write(&path, "").await?;
    /// let none = hearth::fs::OpenOptions::new().open(&path).await;
    /// assert_eq!(none.unwrap_err().kind(), std::io::ErrorKind::InvalidInput);
    /// # std::io::Result::Ok(())
    /// # }).unwrap();
    /// ```
    pub fn new() -> OpenOptions {
        OpenOptions(std::fs::OpenOptions::new())
    }

    /// Opens for reading.
    ///
    /// See the [type's example](OpenOptions).
    pub fn read(&mut self, read: bool) -> &mut OpenOptions {
        self.0.read(read);
        self
    }

    /// Opens for writing.
    ///
    /// See the [type's example](OpenOptions).
    pub fn write(&mut self, write: bool) -> &mut OpenOptions {
        self.0.write(write);
        self
    }

    /// Opens for appending: every write goes to the end of the file
    /// (implies [`write`](Self::write)).
    ///
    /// See the [type's example](OpenOptions).
    pub fn append(&mut self, append: bool) -> &mut OpenOptions {
        self.0.append(append);
        self
    }

    /// Truncates the file to length 0 when it is opened (needs
    /// [`write`](Self::write)).
    ///
    /// ```
    /// # if cfg!(miri) { return; } // Miri has no file system
    /// # hearth::block_on(async {
    /// # let dir = tempfile::tempdir()?;
    /// let path = dir.path().join("f");
    /// hearth::fs::write(&path, "old contents").await?;
    /// hearth::fs::OpenOptions::new().write(true).truncate(true).open(&path).await?;
    /// assert_eq!(hearth::fs::metadata(&path).await?.len(), 0);
    /// # std::io::Result::Ok(())
    /// # }).unwrap();
    /// ```
    pub fn truncate(&mut self, truncate: bool) -> &mut OpenOptions {
        self.0.truncate(truncate);
        self
    }

    /// Creates the file if it does not exist (needs [`write`](Self::write)
    /// or [`append`](Self::append)).
    ///
    /// See the [type's example](OpenOptions).
    pub fn create(&mut self, create: bool) -> &mut OpenOptions {
        self.0.create(create);
        self
    }

    /// Creates the file, failing with `AlreadyExists` if it exists (checked
    /// and created atomically); overrides [`create`](Self::create) and
    /// [`truncate`](Self::truncate).
    ///
    /// See the [type's example](OpenOptions).
    pub fn create_new(&mut self, create_new: bool) -> &mut OpenOptions {
        self.0.create_new(create_new);
        self
    }

    /// The permission bits a newly created file gets (before the umask),
    /// like `std::os::unix::fs::OpenOptionsExt::mode`. Default: `0o666`.
    ///
    /// ```
    /// # if cfg!(miri) { return; } // Miri has no file system
    /// use std::os::unix::fs::PermissionsExt;
    ///
    /// # hearth::block_on(async {
    /// # let dir = tempfile::tempdir()?;
    /// let path = dir.path().join("private");
    /// hearth::fs::OpenOptions::new().write(true).create(true).mode(0o600).open(&path).await?;
    /// let mode = hearth::fs::metadata(&path).await?.permissions().mode();
    /// assert_eq!(mode & 0o777, 0o600);
    /// # std::io::Result::Ok(())
    /// # }).unwrap();
    /// ```
    #[cfg(unix)]
    pub fn mode(&mut self, mode: u32) -> &mut OpenOptions {
        std::os::unix::fs::OpenOptionsExt::mode(&mut self.0, mode);
        self
    }

    /// Extra `open(2)` flags (`libc::O_NOFOLLOW` and the like), like
    /// `std::os::unix::fs::OpenOptionsExt::custom_flags`; the access mode
    /// bits are ignored.
    ///
    /// ```
    /// # if cfg!(miri) { return; } // Miri has no file system
    /// # hearth::block_on(async {
    /// # let dir = tempfile::tempdir()?;
    /// # let path = dir.path().join("f");
    /// # hearth::fs::write(&path, "x").await?;
    /// const O_NOATIME: i32 = 0o1000000; // Linux
    /// hearth::fs::OpenOptions::new().read(true).custom_flags(O_NOATIME).open(&path).await?;
    /// # std::io::Result::Ok(())
    /// # }).unwrap();
    /// ```
    #[cfg(unix)]
    pub fn custom_flags(&mut self, flags: i32) -> &mut OpenOptions {
        std::os::unix::fs::OpenOptionsExt::custom_flags(&mut self.0, flags);
        self
    }

    /// Opens the file at `path` with these options, on the blocking pool.
    ///
    /// # Errors
    ///
    /// Those of [`std::fs::OpenOptions::open`]: `NotFound`,
    /// `PermissionDenied`, `AlreadyExists` (with
    /// [`create_new`](Self::create_new)), `InvalidInput` for a contradictory
    /// set of options, ...
    ///
    /// See the [type's example](OpenOptions).
    pub async fn open(&self, path: impl AsRef<Path>) -> io::Result<File> {
        let options = self.0.clone();
        let path = path.as_ref().to_owned();
        let std = run_blocking(move || options.open(path)).await?;
        Ok(File::from_std(std))
    }
}

impl Default for OpenOptions {
    fn default() -> Self {
        OpenOptions::new()
    }
}

impl From<std::fs::OpenOptions> for OpenOptions {
    fn from(options: std::fs::OpenOptions) -> Self {
        OpenOptions(options)
    }
}
