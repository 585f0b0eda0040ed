//! UDP: [`UdpSocket`].

use core::fmt;
use std::io;
use std::net::{SocketAddr, ToSocketAddrs};

use super::reactor::{READ, WRITE};
use super::source::IoSource;

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
    /// works). An error if called outside a hearth executor.
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
    /// works).
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
        self.io.io(WRITE, |s| s.send(buf)).await
    }

    /// Receives a datagram from the connected peer into `buf`; returns its
    /// length (truncated to `buf`). See [`send`](Self::send).
    pub async fn recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.io.io(READ, |s| s.recv(buf)).await
    }

    /// Sends `buf` to `target` (its first resolved address).
    ///
    /// See the [type's example](UdpSocket).
    pub async fn send_to(&self, buf: &[u8], target: impl ToSocketAddrs) -> io::Result<usize> {
        let target = target.to_socket_addrs()?.next().ok_or_else(|| {
            io::Error::new(io::ErrorKind::InvalidInput, "no addresses to send data to")
        })?;
        self.io.io(WRITE, |s| s.send_to(buf, target)).await
    }

    /// Receives a datagram into `buf`: its length (truncated to `buf`) and
    /// sender. See the [type's example](UdpSocket).
    pub async fn recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        self.io.io(READ, |s| s.recv_from(buf)).await
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

impl fmt::Debug for UdpSocket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.io.get_ref().fmt(f)
    }
}
