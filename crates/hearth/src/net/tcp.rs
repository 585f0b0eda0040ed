//! TCP: [`TcpListener`], [`TcpStream`] and its read/write halves.

use core::task::{Context, Poll};
use std::io;
use std::net::SocketAddr;

use super::reactor::{READ, WRITE};
use super::source::IoSource;
use super::stream::Stream;
use super::ToSocketAddrs;

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
    /// works), with `SO_REUSEADDR` and a backlog of 1024. A host name is
    /// looked up on the blocking pool (see [`lookup_host`](super::lookup_host)).
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
    /// # Errors
    ///
    /// Two kinds, to be handled differently (see
    /// [`AcceptBackoff`](super::AcceptBackoff)):
    ///
    /// - *per-connection*: `ECONNABORTED` (the peer gave up before it was
    ///   accepted), `EPERM` (a firewall rule), `EINTR`, and the network
    ///   errors Linux passes on from the new socket (`EPROTO`, `ENETDOWN`,
    ///   `EHOSTUNREACH`...). That connection is gone; just accept again
    ///   ([`AcceptBackoff::is_connection_error`](super::AcceptBackoff::is_connection_error)).
    /// - *resource exhaustion*: `EMFILE`, `ENFILE`, `ENOBUFS`, `ENOMEM`. The
    ///   connection stays queued and the next call fails the same way at
    ///   once: a loop that retries at once spins a core (and floods its log)
    ///   until descriptors come back. Wait before retrying; an accept loop
    ///   does it with [`AcceptBackoff::accept`](super::AcceptBackoff::accept).
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

    /// Polls for a connection (for hand-written futures). Its errors are
    /// [`accept`](Self::accept)'s.
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
    pub(super) io: Stream<mio::net::TcpStream>,
}

impl TcpStream {
    fn new(stream: mio::net::TcpStream) -> io::Result<TcpStream> {
        Ok(TcpStream {
            io: Stream::new(stream)?,
        })
    }

    /// Opens a connection to `addr` (each resolved address in turn, until
    /// one accepts). A host name is looked up on the blocking pool (see
    /// [`lookup_host`](super::lookup_host)), so the worker never waits for
    /// DNS.
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
                .source()
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
}

stream_api!(
    TcpStream,
    SocketAddr,
    setup = r#"# let listener = hearth::net::TcpListener::bind("127.0.0.1:0").await?;
# let client = hearth::net::TcpStream::connect(listener.local_addr()?).await?;
# let (server, _) = listener.accept().await?;"#
);
