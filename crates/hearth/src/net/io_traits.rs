//! `futures_io` (and, with `tokio-io`, tokio) `AsyncRead`/`AsyncWrite` impls
//! for every stream type, through the `read_poll`/`write_poll` of its
//! [`Stream`](super::stream::Stream).

/// `impl_async_io!(read|write, [generics] Type, this => stream_expr)`.
macro_rules! impl_async_io {
    (read, [$($g:tt)*] $ty:ty, $this:ident => $inner:expr) => {
        impl<$($g)*> futures_io::AsyncRead for $ty {
            fn poll_read(
                self: core::pin::Pin<&mut Self>,
                cx: &mut core::task::Context<'_>,
                buf: &mut [u8],
            ) -> core::task::Poll<std::io::Result<usize>> {
                let $this = &*self;
                $inner.read_poll(cx, buf)
            }
        }

        #[cfg(feature = "tokio-io")]
        #[cfg_attr(docsrs, doc(cfg(feature = "tokio-io")))]
        impl<$($g)*> tokio::io::AsyncRead for $ty {
            fn poll_read(
                self: core::pin::Pin<&mut Self>,
                cx: &mut core::task::Context<'_>,
                buf: &mut tokio::io::ReadBuf<'_>,
            ) -> core::task::Poll<std::io::Result<()>> {
                let $this = &*self;
                // Read into the unfilled part as it is: initialising it first
                // (`initialize_unfilled`) would memset all of it on every
                // read (hyper hands out 8 KiB and more), which showed as the
                // top user-space symbol of a hyper server.
                // The slice is only handed to read(2) (through mio's `Read`)
                // or filled by copying from the io_uring receive's buffers
                // (`copy_from_slice` into it): both write into it and never
                // read from it; of its bytes
                // only the `n` it reports written are marked initialised
                // below (tokio's own sockets do the same).
                // SAFETY: viewing the uninitialised bytes as `[u8]` is sound for that use.
                let dst = unsafe {
                    &mut *(buf.unfilled_mut() as *mut [core::mem::MaybeUninit<u8>] as *mut [u8])
                };
                match $inner.read_poll(cx, dst) {
                    core::task::Poll::Ready(Ok(n)) => {
                        // SAFETY: read(2) initialised the first `n` bytes of
                        // the unfilled part.
                        unsafe { buf.assume_init(n) };
                        buf.advance(n);
                        core::task::Poll::Ready(Ok(()))
                    }
                    core::task::Poll::Ready(Err(e)) => core::task::Poll::Ready(Err(e)),
                    core::task::Poll::Pending => core::task::Poll::Pending,
                }
            }
        }
    };
    (write, [$($g:tt)*] $ty:ty, $this:ident => $inner:expr) => {
        impl<$($g)*> futures_io::AsyncWrite for $ty {
            fn poll_write(
                self: core::pin::Pin<&mut Self>,
                cx: &mut core::task::Context<'_>,
                buf: &[u8],
            ) -> core::task::Poll<std::io::Result<usize>> {
                let $this = &*self;
                $inner.write_poll(cx, buf)
            }

            fn poll_write_vectored(
                self: core::pin::Pin<&mut Self>,
                cx: &mut core::task::Context<'_>,
                bufs: &[std::io::IoSlice<'_>],
            ) -> core::task::Poll<std::io::Result<usize>> {
                let $this = &*self;
                $inner.write_vectored_poll(cx, bufs)
            }

            fn poll_flush(
                self: core::pin::Pin<&mut Self>,
                _: &mut core::task::Context<'_>,
            ) -> core::task::Poll<std::io::Result<()>> {
                core::task::Poll::Ready(Ok(()))
            }

            /// Shuts down the write direction (the peer reads end of file).
            fn poll_close(
                self: core::pin::Pin<&mut Self>,
                _: &mut core::task::Context<'_>,
            ) -> core::task::Poll<std::io::Result<()>> {
                let $this = &*self;
                core::task::Poll::Ready($inner.shutdown_write())
            }
        }

        #[cfg(feature = "tokio-io")]
        #[cfg_attr(docsrs, doc(cfg(feature = "tokio-io")))]
        impl<$($g)*> tokio::io::AsyncWrite for $ty {
            fn poll_write(
                self: core::pin::Pin<&mut Self>,
                cx: &mut core::task::Context<'_>,
                buf: &[u8],
            ) -> core::task::Poll<std::io::Result<usize>> {
                let $this = &*self;
                $inner.write_poll(cx, buf)
            }

            fn poll_write_vectored(
                self: core::pin::Pin<&mut Self>,
                cx: &mut core::task::Context<'_>,
                bufs: &[std::io::IoSlice<'_>],
            ) -> core::task::Poll<std::io::Result<usize>> {
                let $this = &*self;
                $inner.write_vectored_poll(cx, bufs)
            }

            fn is_write_vectored(&self) -> bool {
                true
            }

            fn poll_flush(
                self: core::pin::Pin<&mut Self>,
                _: &mut core::task::Context<'_>,
            ) -> core::task::Poll<std::io::Result<()>> {
                core::task::Poll::Ready(Ok(()))
            }

            fn poll_shutdown(
                self: core::pin::Pin<&mut Self>,
                _: &mut core::task::Context<'_>,
            ) -> core::task::Poll<std::io::Result<()>> {
                let $this = &*self;
                core::task::Poll::Ready($inner.shutdown_write())
            }
        }
    };
}
