//! What TCP and Unix streams share: [`Stream`], a connected byte stream on
//! the reactor, and `stream_api!`, which gives a public stream type its
//! reads, writes, shutdown, split halves and `AsyncRead`/`AsyncWrite` impls.
//!
//! A public stream (`TcpStream`, `UnixStream`) holds one `Stream` in its
//! `io` field; its halves hold the public stream (`&T` or `Rc<T>`) and reach
//! the `Stream` through that field. Reads and writes take `&self`: a reader
//! and a writer wait in separate slots of the socket's readiness, so one
//! task may read while another writes.

use core::task::{Context, Poll};
use std::io::{self, IoSlice, Read, Write};
use std::net::Shutdown;

use super::reactor::WRITE;
use super::source::IoSource;

/// Vectored writes of at most this many bytes in all, from two slices or
/// more, are copied into one buffer on the stack and sent with one `send`
/// instead of a `writev`. On a loopback socket (2 × AMD EPYC, a C loop of
/// 20,000 writes, median of 15) `writev` of 120 + 13 bytes cost 2.38–2.41 µs
/// of the writer's CPU and copy + `send` 1.90–1.96 µs; `writev`'s path through
/// the kernel's file layer was about 2.5% of a hyper server's profile.
const COALESCE_MAX: usize = 1024;

/// A mio stream socket: what [`Stream`] needs beyond `Read`/`Write` on `&S`.
pub(crate) trait StreamSocket: mio::event::Source + std::os::fd::AsRawFd {
    fn shutdown(&self, how: Shutdown) -> io::Result<()>;
}

impl StreamSocket for mio::net::TcpStream {
    fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        mio::net::TcpStream::shutdown(self, how)
    }
}

impl StreamSocket for mio::net::UnixStream {
    fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        mio::net::UnixStream::shutdown(self, how)
    }
}

/// A connected stream socket registered with the current executor's reactor.
pub(crate) struct Stream<S: mio::event::Source> {
    io: IoSource<S>,
}

impl<S> Stream<S>
where
    S: StreamSocket,
    for<'a> &'a S: Read + Write,
{
    /// Registers `socket` (non-blocking) with the current executor's reactor.
    pub(crate) fn new(socket: S) -> io::Result<Self> {
        Ok(Stream {
            io: IoSource::new_stream(socket)?,
        })
    }

    pub(crate) fn get_ref(&self) -> &S {
        self.io.get_ref()
    }

    /// The registration, for waits that are not reads or writes (connect).
    pub(crate) fn source(&self) -> &IoSource<S> {
        &self.io
    }

    pub(crate) async fn read(&self, buf: &mut [u8]) -> io::Result<usize> {
        core::future::poll_fn(|cx| self.read_poll(cx, buf)).await
    }

    pub(crate) async fn read_exact(&self, mut buf: &mut [u8]) -> io::Result<()> {
        while !buf.is_empty() {
            match self.read(buf).await? {
                0 => return Err(io::ErrorKind::UnexpectedEof.into()),
                n => buf = &mut buf[n..],
            }
        }
        Ok(())
    }

    pub(crate) async fn write(&self, buf: &[u8]) -> io::Result<usize> {
        core::future::poll_fn(|cx| self.write_poll(cx, buf)).await
    }

    pub(crate) async fn write_all(&self, mut buf: &[u8]) -> io::Result<()> {
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
        self.io.poll_recv(cx, buf, |mut s, buf| s.read(buf))
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
        let len: usize = bufs.iter().map(|b| b.len()).sum();
        let mut nonempty = bufs.iter().filter(|b| !b.is_empty());
        let first = nonempty.next();
        if nonempty.next().is_none() {
            // At most one slice with bytes: a plain write of it.
            let one: &[u8] = first.map_or(&[], |b| b);
            return self.write_poll(cx, one);
        }
        if len <= COALESCE_MAX {
            // A few small slices (an HTTP response's head and body): one
            // copy and one `send` cost less than a `writev` (see
            // `COALESCE_MAX`). The count is of bytes from the start of the
            // concatenation, as a vectored write's is.
            let mut flat = [0u8; COALESCE_MAX];
            let mut at = 0;
            for b in bufs {
                flat[at..at + b.len()].copy_from_slice(b);
                at += b.len();
            }
            let flat = &flat[..at];
            return self.io.poll_transfer(cx, WRITE, at, |mut s| s.write(flat));
        }
        self.io
            .poll_transfer(cx, WRITE, len, |mut s| s.write_vectored(bufs))
    }

    pub(crate) fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        self.io.get_ref().shutdown(how)
    }

    /// Shuts down the write direction; a peer that is gone already is not
    /// an error (there is nothing left to close).
    pub(crate) fn shutdown_write(&self) -> io::Result<()> {
        match self.shutdown(Shutdown::Write) {
            Err(e) if e.kind() == io::ErrorKind::NotConnected => Ok(()),
            r => r,
        }
    }
}

/// Gives a public stream type (a struct with an `io: Stream<_>` field, and
/// `peer_addr`/`local_addr` methods returning `$Addr`) its reads, writes,
/// `shutdown`, `split`/`into_split`, the halves `ReadHalf`, `WriteHalf`,
/// `OwnedReadHalf`, `OwnedWriteHalf` and `ReuniteError` (defined in the
/// calling module), and the `AsyncRead`/`AsyncWrite` impls of all of them.
///
/// `setup` is the hidden first lines of every doc example: they run inside
/// `hearth::block_on(async { .. })` and bind `client` and `server`, the two
/// connected ends.
macro_rules! stream_api {
    ($Stream:ident, $Addr:ty, setup = $setup:literal) => {
        impl $Stream {
            /// Reads some bytes into `buf`; `Ok(0)` at end of file (or for an empty
            /// `buf`).
            ///
            /// ```
            /// # if cfg!(miri) { return; } // Miri cannot open sockets
            /// # hearth::block_on(async {
            #[doc = $setup]
            /// client.write_all(b"hi").await?;
            /// let mut buf = [0; 2];
            /// let n = server.read(&mut buf).await?;
            /// assert!(n > 0);
            /// # std::io::Result::Ok(())
            /// # }).unwrap();
            /// ```
            pub async fn read(&self, buf: &mut [u8]) -> std::io::Result<usize> {
                self.io.read(buf).await
            }

            /// Reads exactly `buf.len()` bytes; `UnexpectedEof` if the stream ends
            /// first.
            ///
            /// ```
            /// # if cfg!(miri) { return; } // Miri cannot open sockets
            /// # hearth::block_on(async {
            #[doc = $setup]
            /// client.write_all(b"hello").await?;
            /// let mut buf = [0; 5];
            /// server.read_exact(&mut buf).await?;
            /// assert_eq!(&buf, b"hello");
            /// # std::io::Result::Ok(())
            /// # }).unwrap();
            /// ```
            pub async fn read_exact(&self, buf: &mut [u8]) -> std::io::Result<()> {
                self.io.read_exact(buf).await
            }

            /// Writes some bytes of `buf`; returns how many.
            ///
            /// ```
            /// # if cfg!(miri) { return; } // Miri cannot open sockets
            /// # hearth::block_on(async {
            #[doc = $setup]
            /// assert_eq!(client.write(b"x").await?, 1);
            /// # std::io::Result::Ok(())
            /// # }).unwrap();
            /// ```
            pub async fn write(&self, buf: &[u8]) -> std::io::Result<usize> {
                self.io.write(buf).await
            }

            /// Writes all of `buf`.
            ///
            /// ```
            /// # if cfg!(miri) { return; } // Miri cannot open sockets
            /// # hearth::block_on(async {
            #[doc = $setup]
            /// client.write_all(b"all of it").await?;
            /// # std::io::Result::Ok(())
            /// # }).unwrap();
            /// ```
            pub async fn write_all(&self, buf: &[u8]) -> std::io::Result<()> {
                self.io.write_all(buf).await
            }

            /// Shuts down the read, write or both directions.
            ///
            /// ```
            /// # if cfg!(miri) { return; } // Miri cannot open sockets
            /// # hearth::block_on(async {
            #[doc = $setup]
            /// client.shutdown(std::net::Shutdown::Write)?;
            /// assert_eq!(server.read(&mut [0; 4]).await?, 0); // end of file
            /// # std::io::Result::Ok(())
            /// # }).unwrap();
            /// ```
            pub fn shutdown(&self, how: std::net::Shutdown) -> std::io::Result<()> {
                self.io.shutdown(how)
            }

            /// Borrowed read and write halves, usable from two futures at once.
            ///
            #[doc = concat!("With `futures::AsyncReadExt` in scope, `stream.split()` is that \
                trait's `split` (which takes the stream by value); write `",
                stringify!($Stream), "::split(&mut stream)` for this one.")]
            ///
            /// ```
            /// # if cfg!(miri) { return; } // Miri cannot open sockets
            /// # hearth::block_on(async {
            #[doc = $setup]
            /// use futures::{AsyncReadExt, AsyncWriteExt};
            /// let mut client = client;
            #[doc = concat!("let (mut read, mut write) = hearth::net::", stringify!($Stream),
                "::split(&mut client);")]
            /// let echo = async {
            ///     let mut buf = [0; 4];
            ///     server.read_exact(&mut buf).await?;
            ///     server.write_all(&buf).await
            /// };
            /// let mut buf = [0; 4];
            /// let (echoed, written, got) =
            ///     futures::join!(echo, write.write_all(b"ping"), read.read_exact(&mut buf));
            /// echoed?;
            /// written?;
            /// got?;
            /// assert_eq!(&buf, b"ping");
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
            #[doc = $setup]
            /// let (read, write) = client.into_split();
            /// let client = read.reunite(write).unwrap();
            /// # std::io::Result::Ok(())
            /// # }).unwrap();
            /// ```
            pub fn into_split(self) -> (OwnedReadHalf, OwnedWriteHalf) {
                let stream = std::rc::Rc::new(self);
                (
                    OwnedReadHalf(stream.clone()),
                    OwnedWriteHalf {
                        stream,
                        shutdown_on_drop: true,
                    },
                )
            }
        }

        #[doc = concat!("The read half of a [`", stringify!($Stream), "`], borrowed ([`",
            stringify!($Stream), "::split`]).")]
        /// It implements futures-io's `AsyncRead` (tokio's too, with the `tokio-io`
        /// feature).
        ///
        /// ```
        /// # if cfg!(miri) { return; } // Miri cannot open sockets
        /// # hearth::block_on(async {
        #[doc = $setup]
        /// use futures::AsyncReadExt;
        /// let mut client = client;
        #[doc = concat!("let (mut read, _write) = hearth::net::", stringify!($Stream),
            "::split(&mut client);")]
        /// server.write_all(b"hi").await?;
        /// let mut buf = [0; 2];
        /// read.read_exact(&mut buf).await?;
        /// assert_eq!(&buf, b"hi");
        /// # std::io::Result::Ok(())
        /// # }).unwrap();
        /// ```
        #[derive(Debug)]
        pub struct ReadHalf<'a>(&'a $Stream);

        #[doc = concat!("The write half of a [`", stringify!($Stream), "`], borrowed ([`",
            stringify!($Stream), "::split`]).")]
        /// It implements futures-io's `AsyncWrite` (tokio's too, with the `tokio-io`
        /// feature).
        ///
        /// ```
        /// # if cfg!(miri) { return; } // Miri cannot open sockets
        /// # hearth::block_on(async {
        #[doc = $setup]
        /// use futures::AsyncWriteExt;
        /// let mut client = client;
        #[doc = concat!("let (_read, mut write) = hearth::net::", stringify!($Stream),
            "::split(&mut client);")]
        /// write.write_all(b"hi").await?;
        /// let mut buf = [0; 2];
        /// server.read_exact(&mut buf).await?;
        /// assert_eq!(&buf, b"hi");
        /// # std::io::Result::Ok(())
        /// # }).unwrap();
        /// ```
        #[derive(Debug)]
        pub struct WriteHalf<'a>(&'a $Stream);

        #[doc = concat!("The read half of a [`", stringify!($Stream), "`], owned ([`",
            stringify!($Stream), "::into_split`]).")]
        /// It implements futures-io's `AsyncRead` (tokio's too, with the `tokio-io`
        /// feature).
        ///
        /// ```
        /// # if cfg!(miri) { return; } // Miri cannot open sockets
        /// # hearth::block_on(async {
        #[doc = $setup]
        /// use futures::AsyncReadExt;
        /// let (mut read, _write) = client.into_split();
        /// let reader = hearth::spawn_local(async move {
        ///     let mut buf = [0; 2];
        ///     read.read_exact(&mut buf).await.map(|()| buf)
        /// });
        /// server.write_all(b"hi").await?;
        /// assert_eq!(&reader.await.unwrap()?, b"hi");
        /// # std::io::Result::Ok(())
        /// # }).unwrap();
        /// ```
        #[derive(Debug)]
        pub struct OwnedReadHalf(std::rc::Rc<$Stream>);

        #[doc = concat!("The write half of a [`", stringify!($Stream), "`], owned ([`",
            stringify!($Stream), "::into_split`]).")]
        /// It implements futures-io's `AsyncWrite` (tokio's too, with the `tokio-io`
        /// feature).
        /// Dropping it shuts down the write direction.
        ///
        /// ```
        /// # if cfg!(miri) { return; } // Miri cannot open sockets
        /// # hearth::block_on(async {
        #[doc = $setup]
        /// use futures::AsyncWriteExt;
        /// let (_read, mut write) = client.into_split();
        /// write.write_all(b"bye").await?;
        /// drop(write); // the server reads end of file after the data
        /// let mut buf = [0; 8];
        /// server.read_exact(&mut buf[..3]).await?;
        /// assert_eq!(server.read(&mut buf).await?, 0);
        /// # std::io::Result::Ok(())
        /// # }).unwrap();
        /// ```
        #[derive(Debug)]
        pub struct OwnedWriteHalf {
            stream: std::rc::Rc<$Stream>,
            shutdown_on_drop: bool,
        }

        half_accessors! {
            $Addr, $setup;
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
            #[doc = $setup]
            /// let (ra, wa) = client.into_split();
            /// let (rb, wb) = server.into_split();
            /// let err = ra.reunite(wb).unwrap_err(); // not the same stream
            /// let (ra, wb) = (err.0, err.1);
            /// assert!(ra.reunite(wa).is_ok());
            /// # drop((rb, wb));
            /// # std::io::Result::Ok(())
            /// # }).unwrap();
            /// ```
            pub fn reunite(self, other: OwnedWriteHalf) -> Result<$Stream, ReuniteError> {
                if !std::rc::Rc::ptr_eq(&self.0, &other.stream) {
                    return Err(ReuniteError(self, other));
                }
                let mut write = other;
                write.shutdown_on_drop = false;
                let stream = write.stream.clone();
                drop(write);
                drop(self);
                Ok(std::rc::Rc::into_inner(stream).expect("both halves were given up"))
            }
        }

        impl OwnedWriteHalf {
            /// Drops the half without shutting down the write direction.
            ///
            /// ```
            /// # if cfg!(miri) { return; } // Miri cannot open sockets
            /// # hearth::block_on(async {
            #[doc = $setup]
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
                    let _ = self.stream.io.shutdown_write();
                }
            }
        }

        /// The halves given to [`OwnedReadHalf::reunite`] came from different
        /// streams; here they are back.
        ///
        /// ```
        /// # if cfg!(miri) { return; } // Miri cannot open sockets
        /// # hearth::block_on(async {
        #[doc = $setup]
        /// let err = client.into_split().0.reunite(server.into_split().1).unwrap_err();
        /// assert_eq!(err.to_string(), "tried to reunite halves that are not from the same socket");
        /// # std::io::Result::Ok(())
        /// # }).unwrap();
        /// ```
        #[derive(Debug)]
        pub struct ReuniteError(pub OwnedReadHalf, pub OwnedWriteHalf);

        impl core::fmt::Display for ReuniteError {
            fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
                f.write_str("tried to reunite halves that are not from the same socket")
            }
        }

        impl std::error::Error for ReuniteError {}

        impl_async_io!(read, [] $Stream, s => s.io);
        impl_async_io!(write, [] $Stream, s => s.io);
        impl_async_io!(read, ['a] &'a $Stream, s => s.io);
        impl_async_io!(write, ['a] &'a $Stream, s => s.io);
        impl_async_io!(read, ['a] ReadHalf<'a>, s => s.0.io);
        impl_async_io!(write, ['a] WriteHalf<'a>, s => s.0.io);
        impl_async_io!(read, [] OwnedReadHalf, s => s.0.io);
        impl_async_io!(write, [] OwnedWriteHalf, s => s.stream.io);
    };
}

/// `peer_addr` and `local_addr` for each half, through its stream.
macro_rules! half_accessors {
    ($Addr:ty, $setup:literal; $($ty:ty => |$s:ident| $stream:expr;)*) => {$(
        impl $ty {
            /// The remote address of the stream.
            ///
            /// ```
            /// # if cfg!(miri) { return; } // Miri cannot open sockets
            /// # hearth::block_on(async {
            #[doc = $setup]
            /// let peer = client.peer_addr()?;
            /// let (read, write) = client.into_split();
            /// assert_eq!(format!("{:?}", read.peer_addr()?), format!("{peer:?}"));
            /// assert_eq!(format!("{:?}", write.peer_addr()?), format!("{peer:?}"));
            /// # std::io::Result::Ok(())
            /// # }).unwrap();
            /// ```
            pub fn peer_addr(&self) -> std::io::Result<$Addr> {
                let $s = self;
                $stream.peer_addr()
            }

            /// The local address of the stream.
            ///
            /// ```
            /// # if cfg!(miri) { return; } // Miri cannot open sockets
            /// # hearth::block_on(async {
            #[doc = $setup]
            /// let mut client = client;
            /// let local = client.local_addr()?;
            /// let (read, write) = client.split();
            /// assert_eq!(format!("{:?}", read.local_addr()?), format!("{local:?}"));
            /// assert_eq!(format!("{:?}", write.local_addr()?), format!("{local:?}"));
            /// # std::io::Result::Ok(())
            /// # }).unwrap();
            /// ```
            pub fn local_addr(&self) -> std::io::Result<$Addr> {
                let $s = self;
                $stream.local_addr()
            }
        }
    )*};
}
