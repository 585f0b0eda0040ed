//! Telling when hyper-util's auto builder has detected a connection's
//! protocol: it reads for as long as the bytes so far could still be the
//! start of the HTTP/2 preface, with no deadline of its own, so the server
//! puts one on that phase (see the server's module docs on timeouts).
//!
//! A [`Watched`] socket (TCP, or TLS over it) passes every read through unchanged and feeds the
//! bytes to a [`Progress`] shared with the connection task (an `Rc`: both
//! stay on the connection's worker).

use core::cell::Cell;
use core::pin::Pin;
use core::task::{Context, Poll};
use std::io;
use std::rc::Rc;

/// The bytes every HTTP/2 connection opens with (RFC 9113, 3.4).
const H2_PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// A socket that notes whether the bytes read so far tell the protocol:
/// hyper-util's auto builder waits for as long as they could still be the
/// start of the HTTP/2 preface.
pub(crate) struct Watched<S> {
    stream: S,
    /// Shared with the connection task.
    progress: Rc<Progress>,
}

/// What the connection's first bytes told, shared by a [`Watched`] socket
/// and its connection task.
pub(crate) struct Progress {
    /// Bytes read so far, while fewer than the preface's length.
    read: Cell<usize>,
    /// A byte differed from the preface, or the whole preface came: the
    /// protocol is known.
    detected: Cell<bool>,
}

impl Progress {
    pub(crate) fn detected(&self) -> bool {
        self.detected.get()
    }

    fn saw(&self, bytes: &[u8]) {
        if self.detected.get() {
            return;
        }
        let at = self.read.get();
        let expected = &H2_PREFACE[at..];
        let n = bytes.len().min(expected.len());
        if bytes[..n] != expected[..n] || at + n == H2_PREFACE.len() {
            self.detected.set(true);
        }
        self.read.set(at + n);
    }
}

impl<S> Watched<S> {
    pub(crate) fn new(stream: S) -> (Watched<S>, Rc<Progress>) {
        let progress = Rc::new(Progress {
            read: Cell::new(0),
            detected: Cell::new(false),
        });
        let watched = Watched {
            stream,
            progress: progress.clone(),
        };
        (watched, progress)
    }
}

impl<S: tokio::io::AsyncRead + Unpin> tokio::io::AsyncRead for Watched<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let poll = Pin::new(&mut this.stream).poll_read(cx, buf);
        if poll.is_ready() {
            this.progress.saw(&buf.filled()[before..]);
        }
        poll
    }
}

impl<S: tokio::io::AsyncWrite + Unpin> tokio::io::AsyncWrite for Watched<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().stream).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn progress() -> Progress {
        Progress {
            read: Cell::new(0),
            detected: Cell::new(false),
        }
    }

    #[test]
    fn http1_is_detected_at_the_first_differing_byte() {
        let p = progress();
        p.saw(b"");
        assert!(!p.detected());
        p.saw(b"P");
        assert!(!p.detected(), "PRI and POST both start with P");
        p.saw(b"OST / HTTP/1.1\r\n");
        assert!(p.detected());
    }

    #[test]
    fn http2_is_detected_with_the_whole_preface_only() {
        let p = progress();
        p.saw(&H2_PREFACE[..10]);
        assert!(!p.detected());
        p.saw(&H2_PREFACE[10..H2_PREFACE.len() - 1]);
        assert!(!p.detected());
        let mut last = H2_PREFACE[H2_PREFACE.len() - 1..].to_vec();
        last.extend_from_slice(b"\0\0\0\x04"); // the start of a SETTINGS frame
        p.saw(&last);
        assert!(p.detected());
    }
}
