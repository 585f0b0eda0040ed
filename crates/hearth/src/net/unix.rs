//! Unix domain sockets: [`UnixListener`], [`UnixStream`] and its read/write
//! halves.

use std::io;
use std::os::unix::net::SocketAddr;
use std::path::Path;

use super::reactor::{READ, WRITE};
use super::source::IoSource;
use super::stream::Stream;

/// A Unix domain socket listening for connections.
///
/// ```
/// # if cfg!(miri) { return; } // Miri cannot open sockets
/// use hearth::net::{UnixListener, UnixStream};
/// let dir = std::env::temp_dir().join(format!("hearth-doc-{}", std::process::id()));
/// std::fs::create_dir_all(&dir).unwrap();
/// let path = dir.join("listener.sock");
/// let _ = std::fs::remove_file(&path);
/// hearth::block_on(async {
///     let listener = UnixListener::bind(&path)?;
///     let client = UnixStream::connect(&path).await?;
///     let (server, _) = listener.accept().await?;
///     client.write_all(b"hi").await?;
///     let mut buf = [0; 2];
///     server.read_exact(&mut buf).await?;
///     assert_eq!(&buf, b"hi");
///     std::io::Result::Ok(())
/// })
/// .unwrap();
/// std::fs::remove_dir_all(&dir).unwrap();
/// ```
pub struct UnixListener {
    pub(super) io: IoSource<mio::net::UnixListener>,
}

impl UnixListener {
    /// Binds a listener to the socket file `path` (which must not exist).
    /// An error if called outside a hearth executor.
    ///
    /// See the [type's example](UnixListener).
    pub fn bind(path: impl AsRef<Path>) -> io::Result<UnixListener> {
        Ok(UnixListener {
            io: IoSource::new(mio::net::UnixListener::bind(path)?)?,
        })
    }

    /// Wraps a std listener (switched to non-blocking mode here).
    ///
    /// ```
    /// # if cfg!(miri) { return; } // Miri cannot open sockets
    /// # let path = std::env::temp_dir().join(format!("hearth-doc-std-{}.sock", std::process::id()));
    /// # let _ = std::fs::remove_file(&path);
    /// hearth::block_on(async {
    ///     let std = std::os::unix::net::UnixListener::bind(&path)?;
    ///     hearth::net::UnixListener::from_std(std)?;
    ///     std::io::Result::Ok(())
    /// })
    /// .unwrap();
    /// # std::fs::remove_file(&path).unwrap();
    /// ```
    pub fn from_std(listener: std::os::unix::net::UnixListener) -> io::Result<UnixListener> {
        listener.set_nonblocking(true)?;
        Ok(UnixListener {
            io: IoSource::new(mio::net::UnixListener::from_std(listener))?,
        })
    }

    /// Accepts a connection. See the [type's example](UnixListener).
    ///
    /// # Errors
    ///
    /// As [`TcpListener::accept`](super::TcpListener::accept): retry a
    /// per-connection error (`ECONNABORTED`, `EINTR`...) at once, wait
    /// before retrying after resource exhaustion (`EMFILE`, `ENFILE`,
    /// `ENOBUFS`, `ENOMEM`), as [`AcceptBackoff`](super::AcceptBackoff)
    /// does.
    pub async fn accept(&self) -> io::Result<(UnixStream, SocketAddr)> {
        let (stream, addr) = self.io.io(READ, |l| l.accept()).await?;
        Ok((UnixStream::new(stream)?, addr))
    }

    /// The address this listener is bound to.
    ///
    /// ```
    /// # if cfg!(miri) { return; } // Miri cannot open sockets
    /// # let path = std::env::temp_dir().join(format!("hearth-doc-addr-{}.sock", std::process::id()));
    /// # let _ = std::fs::remove_file(&path);
    /// hearth::block_on(async {
    ///     let listener = hearth::net::UnixListener::bind(&path)?;
    ///     assert_eq!(listener.local_addr()?.as_pathname(), Some(path.as_path()));
    ///     std::io::Result::Ok(())
    /// })
    /// .unwrap();
    /// # std::fs::remove_file(&path).unwrap();
    /// ```
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.io.get_ref().local_addr()
    }
}

/// A Unix domain stream socket.
///
/// Reads and writes take `&self`: one task may read while another writes
/// (through `&UnixStream`, [`split`](Self::split) or
/// [`into_split`](Self::into_split)). It implements `futures_io::AsyncRead`
/// and `AsyncWrite` (tokio's too, with the `tokio-io` feature); closing the
/// write side (`poll_close` / `poll_shutdown`) shuts down the write
/// direction.
///
/// ```
/// # if cfg!(miri) { return; } // Miri cannot open sockets
/// hearth::block_on(async {
///     let (a, b) = hearth::net::UnixStream::pair()?;
///     a.write_all(b"ping").await?;
///     let mut buf = [0; 4];
///     b.read_exact(&mut buf).await?;
///     assert_eq!(&buf, b"ping");
///     std::io::Result::Ok(())
/// })
/// .unwrap();
/// ```
pub struct UnixStream {
    pub(super) io: Stream<mio::net::UnixStream>,
}

impl UnixStream {
    fn new(stream: mio::net::UnixStream) -> io::Result<UnixStream> {
        Ok(UnixStream {
            io: Stream::new(stream)?,
        })
    }

    /// Connects to the socket file `path`. See [`UnixListener`]'s example.
    pub async fn connect(path: impl AsRef<Path>) -> io::Result<UnixStream> {
        let stream = UnixStream::new(mio::net::UnixStream::connect(path)?)?;
        stream
            .io
            .source()
            .io(WRITE, |s| match s.take_error()? {
                Some(e) => Err(e),
                None => Ok(()),
            })
            .await?;
        Ok(stream)
    }

    /// A connected pair of sockets. See the [type's example](UnixStream).
    pub fn pair() -> io::Result<(UnixStream, UnixStream)> {
        let (a, b) = mio::net::UnixStream::pair()?;
        Ok((UnixStream::new(a)?, UnixStream::new(b)?))
    }

    /// Wraps a connected std stream (switched to non-blocking mode here).
    ///
    /// ```
    /// # if cfg!(miri) { return; } // Miri cannot open sockets
    /// hearth::block_on(async {
    ///     let (a, _b) = std::os::unix::net::UnixStream::pair()?;
    ///     hearth::net::UnixStream::from_std(a)?;
    ///     std::io::Result::Ok(())
    /// })
    /// .unwrap();
    /// ```
    pub fn from_std(stream: std::os::unix::net::UnixStream) -> io::Result<UnixStream> {
        stream.set_nonblocking(true)?;
        UnixStream::new(mio::net::UnixStream::from_std(stream))
    }

    /// The local address.
    ///
    /// ```
    /// # if cfg!(miri) { return; } // Miri cannot open sockets
    /// hearth::block_on(async {
    ///     let (a, _b) = hearth::net::UnixStream::pair()?;
    ///     assert!(a.local_addr()?.is_unnamed());
    ///     std::io::Result::Ok(())
    /// })
    /// .unwrap();
    /// ```
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.io.get_ref().local_addr()
    }

    /// The peer's address.
    ///
    /// ```
    /// # if cfg!(miri) { return; } // Miri cannot open sockets
    /// hearth::block_on(async {
    ///     let (a, _b) = hearth::net::UnixStream::pair()?;
    ///     assert!(a.peer_addr()?.is_unnamed());
    ///     std::io::Result::Ok(())
    /// })
    /// .unwrap();
    /// ```
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.io.get_ref().peer_addr()
    }
}

stream_api!(
    UnixStream,
    SocketAddr,
    setup = "# let (client, server) = hearth::net::UnixStream::pair()?;"
);
