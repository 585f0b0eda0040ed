//! UDP: [`UdpSocket`].

use core::future::poll_fn;
use core::task::{Context, Poll};
use std::io;
use std::net::SocketAddr;

use super::reactor::{READ, WRITE};
use super::source::IoSource;
use super::ToSocketAddrs;

/// A UDP socket.
///
/// ```
/// # if cfg!(miri) { return; } // Miri cannot open sockets
/// use hearth::net::UdpSocket;
/// hearth::block_on(async {
///     let a = UdpSocket::bind("127.0.0.1:0").await?;
///     let b = UdpSocket::bind("127.0.0.1:0").await?;
///     a.send_to(b"hi", b.local_addr()?).await?;
///     let mut buf = [0; 8];
///     let (n, from) = b.recv_from(&mut buf).await?;
///     assert_eq!((&buf[..n], from), (&b"hi"[..], a.local_addr()?));
///     std::io::Result::Ok(())
/// })
/// .unwrap();
/// ```
pub struct UdpSocket {
    pub(super) io: IoSource<mio::net::UdpSocket>,
}

impl UdpSocket {
    /// Binds a socket to `addr` (each resolved address in turn, until one
    /// works; a host name is looked up on the blocking pool, see
    /// [`lookup_host`](super::lookup_host)). An error if called outside a
    /// hearth executor.
    ///
    /// ```
    /// # if cfg!(miri) { return; } // Miri cannot open sockets
    /// hearth::block_on(async {
    ///     let s = hearth::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    ///     assert_ne!(s.local_addr().unwrap().port(), 0);
    /// });
    /// ```
    pub async fn bind(addr: impl ToSocketAddrs) -> io::Result<UdpSocket> {
        super::each_addr(addr, |addr| async move {
            Ok(UdpSocket {
                io: IoSource::new(mio::net::UdpSocket::bind(addr)?)?,
            })
        })
        .await
    }

    /// Wraps a std socket (switched to non-blocking mode here).
    ///
    /// ```
    /// # if cfg!(miri) { return; } // Miri cannot open sockets
    /// hearth::block_on(async {
    ///     let std = std::net::UdpSocket::bind("127.0.0.1:0")?;
    ///     hearth::net::UdpSocket::from_std(std)?;
    ///     std::io::Result::Ok(())
    /// })
    /// .unwrap();
    /// ```
    pub fn from_std(socket: std::net::UdpSocket) -> io::Result<UdpSocket> {
        socket.set_nonblocking(true)?;
        Ok(UdpSocket {
            io: IoSource::new(mio::net::UdpSocket::from_std(socket))?,
        })
    }

    /// Sets the default destination of [`send`](Self::send) and the only
    /// source [`recv`](Self::recv) accepts (the first resolved address that
    /// works; a host name is looked up on the blocking pool, see
    /// [`lookup_host`](super::lookup_host)).
    ///
    /// ```
    /// # if cfg!(miri) { return; } // Miri cannot open sockets
    /// use hearth::net::UdpSocket;
    /// hearth::block_on(async {
    ///     let a = UdpSocket::bind("127.0.0.1:0").await?;
    ///     let b = UdpSocket::bind("127.0.0.1:0").await?;
    ///     a.connect(b.local_addr()?).await?;
    ///     assert_eq!(a.peer_addr()?, b.local_addr()?);
    ///     std::io::Result::Ok(())
    /// })
    /// .unwrap();
    /// ```
    pub async fn connect(&self, addr: impl ToSocketAddrs) -> io::Result<()> {
        super::each_addr(addr, |addr| async move { self.io.get_ref().connect(addr) }).await
    }

    /// Sends `buf` to the connected peer; returns the bytes sent.
    ///
    /// ```
    /// # if cfg!(miri) { return; } // Miri cannot open sockets
    /// use hearth::net::UdpSocket;
    /// hearth::block_on(async {
    ///     let a = UdpSocket::bind("127.0.0.1:0").await?;
    ///     let b = UdpSocket::bind("127.0.0.1:0").await?;
    ///     a.connect(b.local_addr()?).await?;
    ///     b.connect(a.local_addr()?).await?;
    ///     a.send(b"ping").await?;
    ///     let mut buf = [0; 8];
    ///     assert_eq!(b.recv(&mut buf).await?, 4);
    ///     std::io::Result::Ok(())
    /// })
    /// .unwrap();
    /// ```
    pub async fn send(&self, buf: &[u8]) -> io::Result<usize> {
        poll_fn(|cx| self.poll_send(cx, buf)).await
    }

    /// Polls to send `buf` to the connected peer (for hand-written futures);
    /// `Ready` with the bytes sent, or `Pending` until the socket can send.
    ///
    /// ```
    /// # if cfg!(miri) { return; } // Miri cannot open sockets
    /// use hearth::net::UdpSocket;
    /// use std::future::poll_fn;
    /// hearth::block_on(async {
    ///     let a = UdpSocket::bind("127.0.0.1:0").await?;
    ///     let b = UdpSocket::bind("127.0.0.1:0").await?;
    ///     a.connect(b.local_addr()?).await?;
    ///     assert_eq!(poll_fn(|cx| a.poll_send(cx, b"ping")).await?, 4);
    ///     let mut buf = [0; 8];
    ///     assert_eq!(b.recv_from(&mut buf).await?.0, 4);
    ///     std::io::Result::Ok(())
    /// })
    /// .unwrap();
    /// ```
    pub fn poll_send(&self, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        self.io.poll_io(cx, WRITE, |s| s.send(buf))
    }

    /// Receives a datagram from the connected peer into `buf`; returns its
    /// length (truncated to `buf`). See [`send`](Self::send).
    pub async fn recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        poll_fn(|cx| self.poll_recv(cx, buf)).await
    }

    /// Polls to receive a datagram from the connected peer into `buf` (for
    /// hand-written futures); `Ready` with its length (truncated to `buf`),
    /// or `Pending` until one arrives.
    ///
    /// ```
    /// # if cfg!(miri) { return; } // Miri cannot open sockets
    /// use hearth::net::UdpSocket;
    /// use std::future::poll_fn;
    /// hearth::block_on(async {
    ///     let a = UdpSocket::bind("127.0.0.1:0").await?;
    ///     let b = UdpSocket::bind("127.0.0.1:0").await?;
    ///     b.connect(a.local_addr()?).await?;
    ///     a.send_to(b"ping", b.local_addr()?).await?;
    ///     let mut buf = [0; 8];
    ///     let n = poll_fn(|cx| b.poll_recv(cx, &mut buf)).await?;
    ///     assert_eq!(&buf[..n], b"ping");
    ///     std::io::Result::Ok(())
    /// })
    /// .unwrap();
    /// ```
    pub fn poll_recv(&self, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>> {
        self.io.poll_io(cx, READ, |s| s.recv(buf))
    }

    /// Receives a datagram from the connected peer into `buf` without
    /// removing it from the queue: the next receive gets it again. Returns
    /// its length (truncated to `buf`).
    ///
    /// ```
    /// # if cfg!(miri) { return; } // Miri cannot open sockets
    /// use hearth::net::UdpSocket;
    /// hearth::block_on(async {
    ///     let a = UdpSocket::bind("127.0.0.1:0").await?;
    ///     let b = UdpSocket::bind("127.0.0.1:0").await?;
    ///     b.connect(a.local_addr()?).await?;
    ///     a.send_to(b"ping", b.local_addr()?).await?;
    ///     let mut buf = [0; 8];
    ///     assert_eq!(b.peek(&mut buf).await?, 4);
    ///     assert_eq!(b.recv(&mut buf).await?, 4); // still there
    ///     std::io::Result::Ok(())
    /// })
    /// .unwrap();
    /// ```
    pub async fn peek(&self, buf: &mut [u8]) -> io::Result<usize> {
        poll_fn(|cx| self.poll_peek(cx, buf)).await
    }

    /// Polls to [`peek`](Self::peek) (for hand-written futures).
    ///
    /// ```
    /// # if cfg!(miri) { return; } // Miri cannot open sockets
    /// use hearth::net::UdpSocket;
    /// use std::future::poll_fn;
    /// hearth::block_on(async {
    ///     let a = UdpSocket::bind("127.0.0.1:0").await?;
    ///     let b = UdpSocket::bind("127.0.0.1:0").await?;
    ///     b.connect(a.local_addr()?).await?;
    ///     a.send_to(b"ping", b.local_addr()?).await?;
    ///     let mut buf = [0; 8];
    ///     assert_eq!(poll_fn(|cx| b.poll_peek(cx, &mut buf)).await?, 4);
    ///     assert_eq!(b.recv(&mut buf).await?, 4); // still there
    ///     std::io::Result::Ok(())
    /// })
    /// .unwrap();
    /// ```
    pub fn poll_peek(&self, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>> {
        self.io.poll_io(cx, READ, |s| s.peek(buf))
    }

    /// Sends `buf` to `target` (its first resolved address; a host name is
    /// looked up on the blocking pool, see [`lookup_host`](super::lookup_host)).
    ///
    /// See the [type's example](UdpSocket).
    pub async fn send_to(&self, buf: &[u8], target: impl ToSocketAddrs) -> io::Result<usize> {
        let target = super::addr::resolve(&target).await?.next().ok_or_else(|| {
            io::Error::new(io::ErrorKind::InvalidInput, "no addresses to send data to")
        })?;
        poll_fn(|cx| self.poll_send_to(cx, buf, target)).await
    }

    /// Polls to send `buf` to `target` (for hand-written futures); `Ready`
    /// with the bytes sent, or `Pending` until the socket can send.
    ///
    /// ```
    /// # if cfg!(miri) { return; } // Miri cannot open sockets
    /// use hearth::net::UdpSocket;
    /// use std::future::poll_fn;
    /// hearth::block_on(async {
    ///     let a = UdpSocket::bind("127.0.0.1:0").await?;
    ///     let b = UdpSocket::bind("127.0.0.1:0").await?;
    ///     let to = b.local_addr()?;
    ///     assert_eq!(poll_fn(|cx| a.poll_send_to(cx, b"hi", to)).await?, 2);
    ///     let mut buf = [0; 8];
    ///     assert_eq!(b.recv_from(&mut buf).await?, (2, a.local_addr()?));
    ///     std::io::Result::Ok(())
    /// })
    /// .unwrap();
    /// ```
    pub fn poll_send_to(
        &self,
        cx: &mut Context<'_>,
        buf: &[u8],
        target: SocketAddr,
    ) -> Poll<io::Result<usize>> {
        self.io.poll_io(cx, WRITE, |s| s.send_to(buf, target))
    }

    /// Receives a datagram into `buf`: its length (truncated to `buf`) and
    /// sender. See the [type's example](UdpSocket).
    pub async fn recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        poll_fn(|cx| self.poll_recv_from(cx, buf)).await
    }

    /// Polls to receive a datagram into `buf` (for hand-written futures);
    /// `Ready` with its length (truncated to `buf`) and sender, or `Pending`
    /// until one arrives.
    ///
    /// ```
    /// # if cfg!(miri) { return; } // Miri cannot open sockets
    /// use hearth::net::UdpSocket;
    /// use std::future::poll_fn;
    /// hearth::block_on(async {
    ///     let a = UdpSocket::bind("127.0.0.1:0").await?;
    ///     let b = UdpSocket::bind("127.0.0.1:0").await?;
    ///     a.send_to(b"hi", b.local_addr()?).await?;
    ///     let mut buf = [0; 8];
    ///     let (n, from) = poll_fn(|cx| b.poll_recv_from(cx, &mut buf)).await?;
    ///     assert_eq!((&buf[..n], from), (&b"hi"[..], a.local_addr()?));
    ///     std::io::Result::Ok(())
    /// })
    /// .unwrap();
    /// ```
    pub fn poll_recv_from(
        &self,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<(usize, SocketAddr)>> {
        self.io.poll_io(cx, READ, |s| s.recv_from(buf))
    }

    /// Receives a datagram into `buf` without removing it from the queue:
    /// the next receive gets it again. Returns its length (truncated to
    /// `buf`) and sender.
    ///
    /// ```
    /// # if cfg!(miri) { return; } // Miri cannot open sockets
    /// use hearth::net::UdpSocket;
    /// hearth::block_on(async {
    ///     let a = UdpSocket::bind("127.0.0.1:0").await?;
    ///     let b = UdpSocket::bind("127.0.0.1:0").await?;
    ///     a.send_to(b"hi", b.local_addr()?).await?;
    ///     let mut buf = [0; 8];
    ///     let peeked = b.peek_from(&mut buf).await?;
    ///     assert_eq!(peeked, (2, a.local_addr()?));
    ///     assert_eq!(b.recv_from(&mut buf).await?, peeked); // still there
    ///     std::io::Result::Ok(())
    /// })
    /// .unwrap();
    /// ```
    pub async fn peek_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        poll_fn(|cx| self.poll_peek_from(cx, buf)).await
    }

    /// Polls to [`peek_from`](Self::peek_from) (for hand-written futures).
    ///
    /// ```
    /// # if cfg!(miri) { return; } // Miri cannot open sockets
    /// use hearth::net::UdpSocket;
    /// use std::future::poll_fn;
    /// hearth::block_on(async {
    ///     let a = UdpSocket::bind("127.0.0.1:0").await?;
    ///     let b = UdpSocket::bind("127.0.0.1:0").await?;
    ///     a.send_to(b"hi", b.local_addr()?).await?;
    ///     let mut buf = [0; 8];
    ///     let peeked = poll_fn(|cx| b.poll_peek_from(cx, &mut buf)).await?;
    ///     assert_eq!(peeked, (2, a.local_addr()?));
    ///     assert_eq!(b.recv_from(&mut buf).await?, peeked); // still there
    ///     std::io::Result::Ok(())
    /// })
    /// .unwrap();
    /// ```
    pub fn poll_peek_from(
        &self,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<(usize, SocketAddr)>> {
        self.io.poll_io(cx, READ, |s| s.peek_from(buf))
    }

    /// Sets `SO_BROADCAST`: whether this socket may send to a broadcast
    /// address.
    ///
    /// ```
    /// # if cfg!(miri) { return; } // Miri cannot open sockets
    /// hearth::block_on(async {
    ///     let s = hearth::net::UdpSocket::bind("127.0.0.1:0").await?;
    ///     s.set_broadcast(true)?;
    ///     assert!(s.broadcast()?);
    ///     std::io::Result::Ok(())
    /// })
    /// .unwrap();
    /// ```
    pub fn set_broadcast(&self, on: bool) -> io::Result<()> {
        self.io.get_ref().set_broadcast(on)
    }

    /// Whether `SO_BROADCAST` is set.
    ///
    /// ```
    /// # if cfg!(miri) { return; } // Miri cannot open sockets
    /// hearth::block_on(async {
    ///     let s = hearth::net::UdpSocket::bind("127.0.0.1:0").await?;
    ///     assert!(!s.broadcast()?);
    ///     std::io::Result::Ok(())
    /// })
    /// .unwrap();
    /// ```
    pub fn broadcast(&self) -> io::Result<bool> {
        self.io.get_ref().broadcast()
    }

    /// Sets `IP_TTL`: the time-to-live of the packets this socket sends.
    ///
    /// ```
    /// # if cfg!(miri) { return; } // Miri cannot open sockets
    /// hearth::block_on(async {
    ///     let s = hearth::net::UdpSocket::bind("127.0.0.1:0").await?;
    ///     s.set_ttl(42)?;
    ///     assert_eq!(s.ttl()?, 42);
    ///     std::io::Result::Ok(())
    /// })
    /// .unwrap();
    /// ```
    pub fn set_ttl(&self, ttl: u32) -> io::Result<()> {
        self.io.get_ref().set_ttl(ttl)
    }

    /// The `IP_TTL` of this socket. See [`set_ttl`](Self::set_ttl).
    ///
    /// ```
    /// # if cfg!(miri) { return; } // Miri cannot open sockets
    /// hearth::block_on(async {
    ///     let s = hearth::net::UdpSocket::bind("127.0.0.1:0").await?;
    ///     assert!(s.ttl()? > 0);
    ///     std::io::Result::Ok(())
    /// })
    /// .unwrap();
    /// ```
    pub fn ttl(&self) -> io::Result<u32> {
        self.io.get_ref().ttl()
    }

    /// The local address.
    ///
    /// ```
    /// # if cfg!(miri) { return; } // Miri cannot open sockets
    /// hearth::block_on(async {
    ///     let s = hearth::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    ///     assert!(s.local_addr().unwrap().ip().is_loopback());
    /// });
    /// ```
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.io.get_ref().local_addr()
    }

    /// The connected peer's address. See [`connect`](Self::connect).
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.io.get_ref().peer_addr()
    }
}
