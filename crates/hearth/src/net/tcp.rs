//! TCP: [`TcpListener`], [`TcpStream`] and its read/write halves.

use core::fmt;
use core::task::{Context, Poll};
use std::io::{self, IoSlice, Read, Write};
use std::net::{Shutdown, SocketAddr, ToSocketAddrs};
use std::rc::Rc;

use super::reactor::{READ, WRITE};
use super::source::IoSource;

/// A TCP socket listening for connections.
///
/// ```
/// # if cfg!(miri) { return; } // Miri cannot open sockets
/// hearth::block_on(async {
///     let listener = hearth::net::TcpListener::bind("127.0.0.1:0").await?;
///     let addr = listener.local_addr()?;
///     let client = hearth::net::TcpStream::connect(addr).await?;
///     let (server_side, peer) = listener.accept().await?;
///     assert_eq!(peer, client.local_addr()?);
///     assert_eq!(server_side.peer_addr()?, client.local_addr()?);
///     std::io::Result::Ok(())
/// })
/// .unwrap();
/// ```
pub struct TcpListener {
    pub(super) io: IoSource<mio::net::TcpListener>,
}

impl TcpListener {
    /// Binds a listener to `addr` (each resolved address in turn, until one
    /// works), with `SO_REUSEADDR` and a backlog of 1024.
    ///
    /// An error if called outside a hearth executor.
    ///
    /// ```
    /// # if cfg!(miri) { return; } // Miri cannot open sockets
    /// hearth::block_on(async {
    ///     let listener = hearth::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    ///     assert_ne!(listener.local_addr().unwrap().port(), 0);
    /// });
    /// ```
    pub async fn bind(addr: impl ToSocketAddrs) -> io::Result<TcpListener> {
        super::each_addr(addr, |addr| async move {
            let listener = mio::net::TcpListener::bind(addr)?;
            Ok(TcpListener {
                io: IoSource::new(listener)?,
            })
        })
        .await
    }

    /// Binds a listener to `addr` with `SO_REUSEPORT` (and `SO_REUSEADDR`):
    /// several listeners — one per worker thread — may bind the same address,
    /// and the kernel spreads incoming connections over them.
    ///
    /// ```
    /// # if cfg!(miri) { return; } // Miri cannot open sockets
    /// hearth::block_on(async {
    ///     use hearth::net::TcpListener;
    ///     let a = TcpListener::bind_reuseport("127.0.0.1:0".parse().unwrap())?;
    ///     let b = TcpListener::bind_reuseport(a.local_addr()?)?;
    ///     assert_eq!(a.local_addr()?, b.local_addr()?);
    ///     std::io::Result::Ok(())
    /// })
    /// .unwrap();
    /// ```
    pub fn bind_reuseport(addr: SocketAddr) -> io::Result<TcpListener> {
        use socket2::{Domain, Protocol, Socket, Type};
        let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
        socket.set_nonblocking(true)?;
        socket.set_reuse_address(true)?;
        socket.set_reuse_port(true)?;
        socket.bind(&addr.into())?;
        socket.listen(1024)?;
        TcpListener::from_std(socket.into())
    }

    /// Wraps a std listener (switched to non-blocking mode here).
    ///
    /// ```
    /// # if cfg!(miri) { return; } // Miri cannot open sockets
    /// hearth::block_on(async {
    ///     let std = std::net::TcpListener::bind("127.0.0.1:0")?;
    ///     let listener = hearth::net::TcpListener::from_std(std)?;
    ///     listener.local_addr()?;
    ///     std::io::Result::Ok(())
    /// })
    /// .unwrap();
    /// ```
    pub fn from_std(listener: std::net::TcpListener) -> io::Result<TcpListener> {
        listener.set_nonblocking(true)?;
        Ok(TcpListener {
            io: IoSource::new(mio::net::TcpListener::from_std(listener))?,
        })
    }

    /// Accepts a connection: the stream and the peer's address.
    ///
    /// ```
    /// # if cfg!(miri) { return; } // Miri cannot open sockets
    /// hearth::block_on(async {
    ///     let listener = hearth::net::TcpListener::bind("127.0.0.1:0").await?;
    ///     let _client = hearth::net::TcpStream::connect(listener.local_addr()?).await?;
    ///     let (_stream, _peer) = listener.accept().await?;
    ///     std::io::Result::Ok(())
    /// })
    /// .unwrap();
    /// ```
    pub async fn accept(&self) -> io::Result<(TcpStream, SocketAddr)> {
        core::future::poll_fn(|cx| self.poll_accept(cx)).await
    }

    /// Polls for a connection (for hand-written futures).
    ///
    /// ```
    /// # if cfg!(miri) { return; } // Miri cannot open sockets
    /// hearth::block_on(async {
    ///     let listener = hearth::net::TcpListener::bind("127.0.0.1:0").await?;
    ///     let _client = hearth::net::TcpStream::connect(listener.local_addr()?).await?;
    ///     std::future::poll_fn(|cx| listener.poll_accept(cx)).await?;
    ///     std::io::Result::Ok(())
    /// })
    /// .unwrap();
    /// ```
    pub fn poll_accept(&self, cx: &mut Context<'_>) -> Poll<io::Result<(TcpStream, SocketAddr)>> {
        match self.io.poll_io(cx, READ, |l| l.accept()) {
            Poll::Ready(Ok((stream, addr))) => {
                Poll::Ready(TcpStream::new(stream).map(|s| (s, addr)))
            }
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Pending => Poll::Pending,
        }
    }

    /// The address this listener is bound to.
    ///
    /// ```
    /// # if cfg!(miri) { return; } // Miri cannot open sockets
    /// hearth::block_on(async {
    ///     let listener = hearth::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    ///     assert!(listener.local_addr().unwrap().ip().is_loopback());
    /// });
    /// ```
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.io.get_ref().local_addr()
    }
}

impl fmt::Debug for TcpListener {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.io.get_ref().fmt(f)
    }
}

/// A TCP connection.
///
/// Reads and writes take `&self`: one task may read while another writes
/// (through `&TcpStream`, [`split`](Self::split) or
/// [`into_split`](Self::into_split)). It implements `futures_io::AsyncRead`
/// and `AsyncWrite` (tokio's too, with the `tokio-io` feature); closing the
/// write side (`poll_close` / `poll_shutdown`) shuts down the write
/// direction.
///
/// ```
/// # if cfg!(miri) { return; } // Miri cannot open sockets
/// hearth::block_on(async {
///     let listener = hearth::net::TcpListener::bind("127.0.0.1:0").await?;
///     let client = hearth::net::TcpStream::connect(listener.local_addr()?).await?;
///     let (server, _) = listener.accept().await?;
///     client.write_all(b"ping").await?;
///     client.shutdown(std::net::Shutdown::Write)?;
///     let mut buf = Vec::new();
///     let mut chunk = [0; 16];
///     loop {
///         let n = server.read(&mut chunk).await?;
///         if n == 0 {
///             break; // end of file: the client shut down its write side
///         }
///         buf.extend_from_slice(&chunk[..n]);
///     }
///     assert_eq!(buf, b"ping");
///     std::io::Result::Ok(())
/// })
/// .unwrap();
/// ```
pub struct TcpStream {
    pub(super) io: IoSource<mio::net::TcpStream>,
}

impl TcpStream {
    fn new(stream: mio::net::TcpStream) -> io::Result<TcpStream> {
        Ok(TcpStream {
            io: IoSource::new(stream)?,
        })
    }

    /// Opens a connection to `addr` (each resolved address in turn, until
    /// one accepts).
    ///
    /// An error if called outside a hearth executor.
    ///
    /// ```
    /// # if cfg!(miri) { return; } // Miri cannot open sockets
    /// hearth::block_on(async {
    ///     let listener = hearth::net::TcpListener::bind("127.0.0.1:0").await?;
    ///     let stream = hearth::net::TcpStream::connect(listener.local_addr()?).await?;
    ///     assert_eq!(stream.peer_addr()?, listener.local_addr()?);
    ///     std::io::Result::Ok(())
    /// })
    /// .unwrap();
    /// ```
    pub async fn connect(addr: impl ToSocketAddrs) -> io::Result<TcpStream> {
        super::each_addr(addr, |addr| async move {
            let stream = TcpStream::new(mio::net::TcpStream::connect(addr)?)?;
            // Writable means the connection attempt finished, one way or the
            // other (mio's documented protocol).
            stream
                .io
                .io(WRITE, |s| {
                    if let Some(e) = s.take_error()? {
                        return Err(e);
                    }
                    match s.peer_addr() {
                        Ok(_) => Ok(()),
                        Err(e) if e.kind() == io::ErrorKind::NotConnected => {
                            Err(io::ErrorKind::WouldBlock.into())
                        }
                        Err(e) => Err(e),
                    }
                })
                .await?;
            Ok(stream)
        })
        .await
    }

    /// Wraps a connected std stream (switched to non-blocking mode here).
    ///
    /// ```
    /// # if cfg!(miri) { return; } // Miri cannot open sockets
    /// hearth::block_on(async {
    ///     let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    ///     let std = std::net::TcpStream::connect(listener.local_addr()?)?;
    ///     let stream = hearth::net::TcpStream::from_std(std)?;
    ///     stream.peer_addr()?;
    ///     std::io::Result::Ok(())
    /// })
    /// .unwrap();
    /// ```
    pub fn from_std(stream: std::net::TcpStream) -> io::Result<TcpStream> {
        stream.set_nonblocking(true)?;
        TcpStream::new(mio::net::TcpStream::from_std(stream))
    }

    /// Reads some bytes into `buf`; `Ok(0)` at end of file (or for an empty
    /// `buf`).
    ///
    /// ```
    /// # if cfg!(miri) { return; } // Miri cannot open sockets
    /// # hearth::block_on(async {
    /// # let listener = hearth::net::TcpListener::bind("127.0.0.1:0").await?;
    /// # let client = hearth::net::TcpStream::connect(listener.local_addr()?).await?;
    /// # let (server, _) = listener.accept().await?;
    /// client.write_all(b"hi").await?;
    /// let mut buf = [0; 2];
    /// let n = server.read(&mut buf).await?;
    /// assert!(n > 0);
    /// # std::io::Result::Ok(())
    /// # }).unwrap();
    /// ```
    pub async fn read(&self, buf: &mut [u8]) -> io::Result<usize> {
        core::future::poll_fn(|cx| self.read_poll(cx, buf)).await
    }

    /// Reads exactly `buf.len()` bytes; `UnexpectedEof` if the stream ends
    /// first.
    ///
    /// ```
    /// # if cfg!(miri) { return; } // Miri cannot open sockets
    /// # hearth::block_on(async {
    /// # let listener = hearth::net::TcpListener::bind("127.0.0.1:0").await?;
    /// # let client = hearth::net::TcpStream::connect(listener.local_addr()?).await?;
    /// # let (server, _) = listener.accept().await?;
    /// client.write_all(b"hello").await?;
    /// let mut buf = [0; 5];
    /// server.read_exact(&mut buf).await?;
    /// assert_eq!(&buf, b"hello");
    /// # std::io::Result::Ok(())
    /// # }).unwrap();
    /// ```
    pub async fn read_exact(&self, mut buf: &mut [u8]) -> io::Result<()> {
        while !buf.is_empty() {
            match self.read(buf).await? {
                0 => return Err(io::ErrorKind::UnexpectedEof.into()),
                n => buf = &mut buf[n..],
            }
        }
        Ok(())
    }

    /// Writes some bytes of `buf`; returns how many.
    ///
    /// ```
    /// # if cfg!(miri) { return; } // Miri cannot open sockets
    /// # hearth::block_on(async {
    /// # let listener = hearth::net::TcpListener::bind("127.0.0.1:0").await?;
    /// # let client = hearth::net::TcpStream::connect(listener.local_addr()?).await?;
    /// assert_eq!(client.write(b"x").await?, 1);
    /// # std::io::Result::Ok(())
    /// # }).unwrap();
    /// ```
    pub async fn write(&self, buf: &[u8]) -> io::Result<usize> {
        core::future::poll_fn(|cx| self.write_poll(cx, buf)).await
    }

    /// Writes all of `buf`.
    ///
    /// ```
    /// # if cfg!(miri) { return; } // Miri cannot open sockets
    /// # hearth::block_on(async {
    /// # let listener = hearth::net::TcpListener::bind("127.0.0.1:0").await?;
    /// # let client = hearth::net::TcpStream::connect(listener.local_addr()?).await?;
    /// client.write_all(b"all of it").await?;
    /// # std::io::Result::Ok(())
    /// # }).unwrap();
    /// ```
    pub async fn write_all(&self, mut buf: &[u8]) -> io::Result<()> {
        while !buf.is_empty() {
            match self.write(buf).await? {
                0 => return Err(io::ErrorKind::WriteZero.into()),
                n => buf = &buf[n..],
            }
        }
        Ok(())
    }

    pub(crate) fn read_poll(
        &self,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        self.io
            .poll_transfer(cx, READ, buf.len(), |mut s| s.read(buf))
    }

    pub(crate) fn write_poll(&self, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        self.io
            .poll_transfer(cx, WRITE, buf.len(), |mut s| s.write(buf))
    }

    pub(crate) fn write_vectored_poll(
        &self,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let len = bufs.iter().map(|b| b.len()).sum();
        self.io
            .poll_transfer(cx, WRITE, len, |mut s| s.write_vectored(bufs))
    }

    pub(crate) fn shutdown_write(&self) -> io::Result<()> {
        match self.shutdown(Shutdown::Write) {
            // The peer is gone already: nothing left to close.
            Err(e) if e.kind() == io::ErrorKind::NotConnected => Ok(()),
            r => r,
        }
    }

    /// Shuts down the read, write or both directions.
    ///
    /// ```
    /// # if cfg!(miri) { return; } // Miri cannot open sockets
    /// # hearth::block_on(async {
    /// # let listener = hearth::net::TcpListener::bind("127.0.0.1:0").await?;
    /// # let client = hearth::net::TcpStream::connect(listener.local_addr()?).await?;
    /// client.shutdown(std::net::Shutdown::Write)?; // the peer reads end of file
    /// # std::io::Result::Ok(())
    /// # }).unwrap();
    /// ```
    pub fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        self.io.get_ref().shutdown(how)
    }

    /// Sets `TCP_NODELAY` (disables Nagle's algorithm when `true`).
    ///
    /// ```
    /// # if cfg!(miri) { return; } // Miri cannot open sockets
    /// # hearth::block_on(async {
    /// # let listener = hearth::net::TcpListener::bind("127.0.0.1:0").await?;
    /// # let client = hearth::net::TcpStream::connect(listener.local_addr()?).await?;
    /// client.set_nodelay(true)?;
    /// assert!(client.nodelay()?);
    /// # std::io::Result::Ok(())
    /// # }).unwrap();
    /// ```
    pub fn set_nodelay(&self, nodelay: bool) -> io::Result<()> {
        self.io.get_ref().set_nodelay(nodelay)
    }

    /// Whether `TCP_NODELAY` is set.
    ///
    /// ```
    /// # if cfg!(miri) { return; } // Miri cannot open sockets
    /// # hearth::block_on(async {
    /// # let listener = hearth::net::TcpListener::bind("127.0.0.1:0").await?;
    /// # let client = hearth::net::TcpStream::connect(listener.local_addr()?).await?;
    /// assert!(!client.nodelay()?);
    /// # std::io::Result::Ok(())
    /// # }).unwrap();
    /// ```
    pub fn nodelay(&self) -> io::Result<bool> {
        self.io.get_ref().nodelay()
    }

    /// The remote address.
    ///
    /// ```
    /// # if cfg!(miri) { return; } // Miri cannot open sockets
    /// # hearth::block_on(async {
    /// # let listener = hearth::net::TcpListener::bind("127.0.0.1:0").await?;
    /// let client = hearth::net::TcpStream::connect(listener.local_addr()?).await?;
    /// assert_eq!(client.peer_addr()?, listener.local_addr()?);
    /// # std::io::Result::Ok(())
    /// # }).unwrap();
    /// ```
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.io.get_ref().peer_addr()
    }

    /// The local address.
    ///
    /// ```
    /// # if cfg!(miri) { return; } // Miri cannot open sockets
    /// # hearth::block_on(async {
    /// # let listener = hearth::net::TcpListener::bind("127.0.0.1:0").await?;
    /// let client = hearth::net::TcpStream::connect(listener.local_addr()?).await?;
    /// assert!(client.local_addr()?.ip().is_loopback());
    /// # std::io::Result::Ok(())
    /// # }).unwrap();
    /// ```
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.io.get_ref().local_addr()
    }

    /// Borrowed read and write halves, usable from two futures at once.
    ///
    /// ```
    /// # if cfg!(miri) { return; } // Miri cannot open sockets
    /// # hearth::block_on(async {
    /// # let listener = hearth::net::TcpListener::bind("127.0.0.1:0").await?;
    /// # let mut client = hearth::net::TcpStream::connect(listener.local_addr()?).await?;
    /// let (read, write) = client.split();
    /// let _ = (read.peer_addr()?, write.local_addr()?);
    /// # std::io::Result::Ok(())
    /// # }).unwrap();
    /// ```
    pub fn split(&mut self) -> (ReadHalf<'_>, WriteHalf<'_>) {
        (ReadHalf(self), WriteHalf(self))
    }

    /// Owned read and write halves, e.g. for two tasks. Dropping the write
    /// half shuts down the write direction;
    /// [`OwnedReadHalf::reunite`] puts them back together.
    ///
    /// ```
    /// # if cfg!(miri) { return; } // Miri cannot open sockets
    /// # hearth::block_on(async {
    /// # let listener = hearth::net::TcpListener::bind("127.0.0.1:0").await?;
    /// # let client = hearth::net::TcpStream::connect(listener.local_addr()?).await?;
    /// let (read, write) = client.into_split();
    /// let client = read.reunite(write).unwrap();
    /// # std::io::Result::Ok(())
    /// # }).unwrap();
    /// ```
    pub fn into_split(self) -> (OwnedReadHalf, OwnedWriteHalf) {
        let stream = Rc::new(self);
        (
            OwnedReadHalf(stream.clone()),
            OwnedWriteHalf {
                stream,
                shutdown_on_drop: true,
            },
        )
    }
}

impl fmt::Debug for TcpStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.io.get_ref().fmt(f)
    }
}

/// The read half of a [`TcpStream`], borrowed ([`TcpStream::split`]).
///
/// ```
/// # if cfg!(miri) { return; } // Miri cannot open sockets
/// # hearth::block_on(async {
/// # let listener = hearth::net::TcpListener::bind("127.0.0.1:0").await?;
/// # let mut client = hearth::net::TcpStream::connect(listener.local_addr()?).await?;
/// let (read, _write) = client.split();
/// let _: hearth::net::ReadHalf<'_> = read;
/// # std::io::Result::Ok(())
/// # }).unwrap();
/// ```
#[derive(Debug)]
pub struct ReadHalf<'a>(&'a TcpStream);

/// The write half of a [`TcpStream`], borrowed ([`TcpStream::split`]).
///
/// ```
/// # if cfg!(miri) { return; } // Miri cannot open sockets
/// # hearth::block_on(async {
/// # let listener = hearth::net::TcpListener::bind("127.0.0.1:0").await?;
/// # let mut client = hearth::net::TcpStream::connect(listener.local_addr()?).await?;
/// let (_read, write) = client.split();
/// let _: hearth::net::WriteHalf<'_> = write;
/// # std::io::Result::Ok(())
/// # }).unwrap();
/// ```
#[derive(Debug)]
pub struct WriteHalf<'a>(&'a TcpStream);

/// The read half of a [`TcpStream`], owned ([`TcpStream::into_split`]).
///
/// ```
/// # if cfg!(miri) { return; } // Miri cannot open sockets
/// # hearth::block_on(async {
/// # let listener = hearth::net::TcpListener::bind("127.0.0.1:0").await?;
/// # let client = hearth::net::TcpStream::connect(listener.local_addr()?).await?;
/// let (read, _write) = client.into_split();
/// let _: hearth::net::OwnedReadHalf = read;
/// # std::io::Result::Ok(())
/// # }).unwrap();
/// ```
#[derive(Debug)]
pub struct OwnedReadHalf(Rc<TcpStream>);

/// The write half of a [`TcpStream`], owned ([`TcpStream::into_split`]).
/// Dropping it shuts down the write direction.
///
/// ```
/// # if cfg!(miri) { return; } // Miri cannot open sockets
/// # hearth::block_on(async {
/// # let listener = hearth::net::TcpListener::bind("127.0.0.1:0").await?;
/// # let client = hearth::net::TcpStream::connect(listener.local_addr()?).await?;
/// let (_read, write) = client.into_split();
/// let _: hearth::net::OwnedWriteHalf = write;
/// # std::io::Result::Ok(())
/// # }).unwrap();
/// ```
#[derive(Debug)]
pub struct OwnedWriteHalf {
    stream: Rc<TcpStream>,
    shutdown_on_drop: bool,
}

macro_rules! half_accessors {
    ($($ty:ty => |$s:ident| $stream:expr;)*) => {$(
        impl $ty {
            /// The remote address of the stream.
            ///
            /// ```
            /// # if cfg!(miri) { return; } // Miri cannot open sockets
            /// # hearth::block_on(async {
            /// # let listener = hearth::net::TcpListener::bind("127.0.0.1:0").await?;
            /// # let client = hearth::net::TcpStream::connect(listener.local_addr()?).await?;
            /// let (read, write) = client.into_split();
            /// assert_eq!(read.peer_addr()?, write.peer_addr()?);
            /// # std::io::Result::Ok(())
            /// # }).unwrap();
            /// ```
            pub fn peer_addr(&self) -> io::Result<SocketAddr> {
                let $s = self;
                $stream.peer_addr()
            }

            /// The local address of the stream.
            ///
            /// ```
            /// # if cfg!(miri) { return; } // Miri cannot open sockets
            /// # hearth::block_on(async {
            /// # let listener = hearth::net::TcpListener::bind("127.0.0.1:0").await?;
            /// # let mut client = hearth::net::TcpStream::connect(listener.local_addr()?).await?;
            /// let (read, write) = client.split();
            /// assert_eq!(read.local_addr()?, write.local_addr()?);
            /// # std::io::Result::Ok(())
            /// # }).unwrap();
            /// ```
            pub fn local_addr(&self) -> io::Result<SocketAddr> {
                let $s = self;
                $stream.local_addr()
            }
        }
    )*};
}

half_accessors! {
    ReadHalf<'_> => |s| s.0;
    WriteHalf<'_> => |s| s.0;
    OwnedReadHalf => |s| s.0;
    OwnedWriteHalf => |s| s.stream;
}

impl OwnedReadHalf {
    /// Puts the halves of one stream back together; gives them back if they
    /// come from different streams.
    ///
    /// ```
    /// # if cfg!(miri) { return; } // Miri cannot open sockets
    /// # hearth::block_on(async {
    /// # let listener = hearth::net::TcpListener::bind("127.0.0.1:0").await?;
    /// # let a = hearth::net::TcpStream::connect(listener.local_addr()?).await?;
    /// # let b = hearth::net::TcpStream::connect(listener.local_addr()?).await?;
    /// let (ra, wa) = a.into_split();
    /// let (rb, wb) = b.into_split();
    /// let err = ra.reunite(wb).unwrap_err(); // not the same stream
    /// let (ra, wb) = (err.0, err.1);
    /// assert!(ra.reunite(wa).is_ok());
    /// # drop((rb, wb));
    /// # std::io::Result::Ok(())
    /// # }).unwrap();
    /// ```
    pub fn reunite(self, other: OwnedWriteHalf) -> Result<TcpStream, ReuniteError> {
        if !Rc::ptr_eq(&self.0, &other.stream) {
            return Err(ReuniteError(self, other));
        }
        let mut write = other;
        write.shutdown_on_drop = false;
        let stream = write.stream.clone();
        drop(write);
        drop(self);
        Ok(Rc::into_inner(stream).expect("both halves were given up"))
    }
}

impl OwnedWriteHalf {
    /// Drops the half without shutting down the write direction.
    ///
    /// ```
    /// # if cfg!(miri) { return; } // Miri cannot open sockets
    /// # hearth::block_on(async {
    /// # let listener = hearth::net::TcpListener::bind("127.0.0.1:0").await?;
    /// # let client = hearth::net::TcpStream::connect(listener.local_addr()?).await?;
    /// let (_read, write) = client.into_split();
    /// write.forget();
    /// # std::io::Result::Ok(())
    /// # }).unwrap();
    /// ```
    pub fn forget(mut self) {
        self.shutdown_on_drop = false;
    }
}

impl Drop for OwnedWriteHalf {
    fn drop(&mut self) {
        if self.shutdown_on_drop {
            let _ = self.stream.shutdown_write();
        }
    }
}

/// The halves given to [`OwnedReadHalf::reunite`] came from different
/// streams; here they are back.
///
/// ```
/// # if cfg!(miri) { return; } // Miri cannot open sockets
/// # hearth::block_on(async {
/// # let listener = hearth::net::TcpListener::bind("127.0.0.1:0").await?;
/// # let a = hearth::net::TcpStream::connect(listener.local_addr()?).await?;
/// # let b = hearth::net::TcpStream::connect(listener.local_addr()?).await?;
/// let err = a.into_split().0.reunite(b.into_split().1).unwrap_err();
/// assert_eq!(err.to_string(), "tried to reunite halves that are not from the same socket");
/// # std::io::Result::Ok(())
/// # }).unwrap();
/// ```
#[derive(Debug)]
pub struct ReuniteError(pub OwnedReadHalf, pub OwnedWriteHalf);

impl fmt::Display for ReuniteError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("tried to reunite halves that are not from the same socket")
    }
}

impl std::error::Error for ReuniteError {}

impl_async_io!(read, [] TcpStream, s => s);
impl_async_io!(write, [] TcpStream, s => s);
impl_async_io!(read, ['a] &'a TcpStream, s => *s);
impl_async_io!(write, ['a] &'a TcpStream, s => *s);
impl_async_io!(read, ['a] ReadHalf<'a>, s => s.0);
impl_async_io!(write, ['a] WriteHalf<'a>, s => s.0);
impl_async_io!(read, [] OwnedReadHalf, s => s.0);
impl_async_io!(write, [] OwnedWriteHalf, s => s.stream);
