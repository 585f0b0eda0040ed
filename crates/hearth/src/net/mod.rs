//! Networking: TCP, UDP and Unix sockets on the executor's reactor.
//!
//! Each executor has one reactor, created with its first socket: epoll
//! (through `mio`) or io_uring, chosen by
//! [`IoDriver`](crate::runtime::IoDriver) (io_uring where the kernel allows
//! it, unless `HEARTH_DRIVER` or the runtime's builder says otherwise). Both
//! report readiness the same way, so nothing below depends on the choice. A socket is registered with the reactor of the executor that
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
//! An accept loop that meets an error it cannot fix by retrying at once
//! (out of file descriptors) waits with [`AcceptBackoff`] instead of
//! spinning.
//!
//! # Host names
//!
//! Every address argument is a [`ToSocketAddrs`], as in tokio. A literal
//! address (`SocketAddr`, `"127.0.0.1:80"`, `("::1", 80)`) is parsed inline,
//! with no thread hop. A host name (`"localhost:80"`, `("example.com",
//! 443)`) is resolved by the system resolver (`getaddrinfo`) on the blocking
//! pool, the current [`Runtime`](crate::Runtime)'s or, on a thread with no
//! runtime (plain [`block_on`](crate::block_on)), a process-wide one with the
//! same defaults: the worker keeps running its other tasks while the name
//! resolves. [`lookup_host`] does the same on its own. A name that does not
//! resolve is an error that names it (`could not resolve
//! "nonexistent.invalid:80": ...`), never a panic; a lookup takes as long as
//! the system resolver does (wrap it in [`time::timeout`](crate::time::timeout)
//! for a tighter bound).
//!
//! # Differences from tokio
//!
//! - Sockets are `!Send`: they belong to the executor (thread) that made
//!   them. A server binds one listener per worker
//!   ([`TcpListener::bind_reuseport`]).
//! - A failed lookup's error names the host and port; outside a runtime,
//!   lookups use a process-wide blocking pool instead of panicking.
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

mod addr;
mod backoff;
#[macro_use]
mod io_traits;
pub(crate) mod reactor;
pub(crate) mod source;
#[macro_use]
mod stream;
mod tcp;
mod udp;
pub mod unix;
#[cfg(target_os = "linux")]
pub(crate) mod uring;

pub use addr::{lookup_host, ToSocketAddrs};
pub use backoff::AcceptBackoff;
pub use tcp::{
    OwnedReadHalf, OwnedWriteHalf, ReadHalf, ReuniteError, TcpListener, TcpStream, WriteHalf,
};
pub use udp::UdpSocket;
#[doc(inline)]
pub use unix::{UnixListener, UnixStream};

use std::io;
use std::net::SocketAddr;

/// Tries `f` on each address `addr` resolves to ([`addr::resolve`]: host
/// names on the blocking pool); the first success or the last error.
async fn each_addr<T, F, Fut>(addr: impl ToSocketAddrs, mut f: F) -> io::Result<T>
where
    F: FnMut(SocketAddr) -> Fut,
    Fut: core::future::Future<Output = io::Result<T>>,
{
    let mut last = None;
    for addr in addr::resolve(&addr).await? {
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
