//! Networking: TCP, UDP and Unix sockets on the executor's reactor.
//!
//! Each executor has one `mio` reactor (epoll), created with its first
//! socket. A socket is registered with the reactor of the executor that
//! creates it and stays there (sockets are `!Send`). Readiness events turn
//! into *local* wakes of the waiting tasks (`LocalWaker`s in per-socket
//! slots): no atomics, no locks on the I/O path.
//!
//! Streams implement `futures_io::AsyncRead`/`AsyncWrite` and, with the
//! `tokio-io` feature, tokio's `AsyncRead`/`AsyncWrite` (so hyper 1.x runs on
//! them through hyper-util's `TokioIo`), and split into read and write
//! halves: [`TcpStream`]'s are in this module ([`ReadHalf`], [`OwnedReadHalf`]
//! ...), [`UnixStream`]'s in [`unix`]. For hand-written futures there are
//! `poll_*` forms: the streams' `AsyncRead`/`AsyncWrite`,
//! [`TcpListener::poll_accept`] and [`UdpSocket`]'s `poll_send_to`,
//! `poll_recv_from` and the like. Errors are `std::io::Error`s; a
//! reset or half-closed peer is an error or an end of file, never a panic.
//! Creating a socket outside of an executor is an error, not a panic.
//!
//! ```
//! # if cfg!(miri) { return; } // Miri cannot open sockets
//! use hearth::net::{TcpListener, TcpStream};
//!
//! hearth::block_on(async {
//!     let listener = TcpListener::bind("127.0.0.1:0").await?;
//!     let addr = listener.local_addr()?;
//!     let server = hearth::spawn_local(async move {
//!         let (stream, _) = listener.accept().await?;
//!         let mut buf = [0; 5];
//!         stream.read_exact(&mut buf).await?;
//!         stream.write_all(&buf).await?; // echo
//!         std::io::Result::Ok(())
//!     });
//!     let client = TcpStream::connect(addr).await?;
//!     client.write_all(b"hello").await?;
//!     let mut buf = [0; 5];
//!     client.read_exact(&mut buf).await?;
//!     assert_eq!(&buf, b"hello");
//!     server.await.unwrap()
//! })
//! .unwrap();
//! ```

#[macro_use]
mod io_traits;
pub(crate) mod reactor;
pub(crate) mod source;
#[macro_use]
mod stream;
mod tcp;
mod udp;
pub mod unix;

pub use tcp::{
    OwnedReadHalf, OwnedWriteHalf, ReadHalf, ReuniteError, TcpListener, TcpStream, WriteHalf,
};
pub use udp::UdpSocket;
#[doc(inline)]
pub use unix::{UnixListener, UnixStream};

use std::io;
use std::net::{SocketAddr, ToSocketAddrs};

/// Tries `f` on each address `addr` resolves to; the first success or the
/// last error.
async fn each_addr<T, F, Fut>(addr: impl ToSocketAddrs, mut f: F) -> io::Result<T>
where
    F: FnMut(SocketAddr) -> Fut,
    Fut: core::future::Future<Output = io::Result<T>>,
{
    let mut last = None;
    for addr in addr.to_socket_addrs()? {
        match f(addr).await {
            Ok(t) => return Ok(t),
            Err(e) => last = Some(e),
        }
    }
    Err(last.unwrap_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            "could not resolve to any address",
        )
    }))
}

/// `AsRawFd`, `AsFd` and `Debug` (the mio socket's) for each socket type.
macro_rules! impl_socket_traits {
    ($($ty:ty),*) => {$(
        impl std::os::fd::AsRawFd for $ty {
            fn as_raw_fd(&self) -> std::os::fd::RawFd {
                self.io.get_ref().as_raw_fd()
            }
        }

        impl std::os::fd::AsFd for $ty {
            fn as_fd(&self) -> std::os::fd::BorrowedFd<'_> {
                self.io.get_ref().as_fd()
            }
        }

        impl core::fmt::Debug for $ty {
            fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
                core::fmt::Debug::fmt(self.io.get_ref(), f)
            }
        }
    )*};
}

impl_socket_traits!(TcpListener, TcpStream, UdpSocket, UnixListener, UnixStream);
