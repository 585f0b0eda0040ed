//! Telling when hyper-util's auto builder has detected a connection's
//! protocol: it reads for as long as the bytes so far could still be the
//! start of the HTTP/2 preface, with no deadline of its own, so the server
//! puts one on that phase (see the server's module docs on timeouts).
//!
//! A [`Watched`] socket (TCP, or TLS over it) passes every read through unchanged and feeds the
//! bytes to a [`Progress`] shared with the connection task (an `Rc`: both
//! stay on the connection's worker).
//!
//! It also coalesces small vectored writes: hyper writes a response as its
//! head and its body, two slices, with `poll_write_vectored`. Up to
//! [`COALESCE_MAX`] bytes in all are copied into one buffer on the stack
//! and written with `poll_write` (`send(2)` on a hearth socket) instead of
//! `writev(2)`, whose path through the kernel's file layer costs more than
//! the copy (about 6% of a hyper server's CPU in the net suite's profile);
//! larger writes go out vectored as they are.

use core::cell::Cell;
use core::pin::Pin;
use core::task::{Context, Poll};
use std::io;
use std::rc::Rc;

/// The most bytes a vectored write copies into one buffer to write them
/// with one `poll_write` (see the module docs).
pub(crate) const COALESCE_MAX: usize = 4096;

/// The bytes every HTTP/2 connection opens with (RFC 9113, 3.4).
const H2_PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// A socket that notes whether the bytes read so far tell the protocol:
/// hyper-util's auto builder waits for as long as they could still be the
/// start of the HTTP/2 preface.
pub(crate) struct Watched<S> {
    stream: S,
    /// Shared with the connection task.
    progress: Rc<Progress>,
    /// The last coalesced write (its capacity is kept: at most
    /// [`COALESCE_MAX`] bytes, the largest write coalesced so far).
    flat: Vec<u8>,
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
            flat: Vec::new(),
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

    /// Writes up to [`COALESCE_MAX`] bytes from two slices or more with one
    /// `poll_write` of their concatenation (see the module docs); others
    /// are passed on. Either way the count is of bytes from the start of
    /// the concatenation, as a vectored write's is.
    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let mut nonempty = bufs.iter().filter(|b| !b.is_empty());
        let first = nonempty.next();
        if nonempty.next().is_none() {
            // At most one slice with bytes: written as it is.
            let one = first.map_or(&[][..], |b| &b[..]);
            return Pin::new(&mut this.stream).poll_write(cx, one);
        }
        let total = bufs.iter().try_fold(0usize, |n, b| n.checked_add(b.len()));
        if total.is_none_or(|total| total > COALESCE_MAX) {
            return Pin::new(&mut this.stream).poll_write_vectored(cx, bufs);
        }
        this.flat.clear();
        for b in bufs {
            this.flat.extend_from_slice(b);
        }
        Pin::new(&mut this.stream).poll_write(cx, &this.flat)
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

    /// A writer that takes at most `limit` bytes per call and notes each
    /// call: `true` for a vectored one.
    struct Recorder {
        written: Vec<u8>,
        calls: Vec<(bool, usize)>,
        limit: usize,
    }

    impl tokio::io::AsyncWrite for Recorder {
        fn poll_write(
            mut self: Pin<&mut Self>,
            _: &mut Context<'_>,
            buf: &[u8],
        ) -> Poll<io::Result<usize>> {
            let n = buf.len().min(self.limit);
            self.written.extend_from_slice(&buf[..n]);
            self.calls.push((false, n));
            Poll::Ready(Ok(n))
        }

        fn poll_write_vectored(
            mut self: Pin<&mut Self>,
            _: &mut Context<'_>,
            bufs: &[io::IoSlice<'_>],
        ) -> Poll<io::Result<usize>> {
            let mut n = 0;
            for b in bufs {
                let take = b.len().min(self.limit - n);
                self.written.extend_from_slice(&b[..take]);
                n += take;
            }
            self.calls.push((true, n));
            Poll::Ready(Ok(n))
        }

        fn is_write_vectored(&self) -> bool {
            true
        }

        fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
            Poll::Ready(Ok(()))
        }

        fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
            Poll::Ready(Ok(()))
        }
    }

    fn recorder(limit: usize) -> Watched<Recorder> {
        let recorder = Recorder {
            written: Vec::new(),
            calls: Vec::new(),
            limit,
        };
        Watched::new(recorder).0
    }

    /// Writes all of `bufs` with `poll_write_vectored`, advancing past
    /// partial writes as hyper does.
    fn write_all_vectored(w: &mut Watched<Recorder>, bufs: &[&[u8]]) {
        let mut bufs: Vec<&[u8]> = bufs.to_vec();
        let mut cx = Context::from_waker(std::task::Waker::noop());
        while bufs.iter().any(|b| !b.is_empty()) {
            let slices: Vec<io::IoSlice<'_>> = bufs.iter().map(|b| io::IoSlice::new(b)).collect();
            let Poll::Ready(Ok(mut n)) =
                tokio::io::AsyncWrite::poll_write_vectored(Pin::new(&mut *w), &mut cx, &slices)
            else {
                panic!("the recorder is always ready");
            };
            assert!(n > 0, "a write made no progress");
            for b in &mut bufs {
                let take = n.min(b.len());
                *b = &b[take..];
                n -= take;
            }
        }
    }

    #[test]
    fn small_vectored_writes_go_out_in_one_write_of_everything() {
        let mut w = recorder(usize::MAX);
        write_all_vectored(&mut w, &[b"HTTP/1.1 200 OK\r\n\r\n", b"", b"hello"]);
        assert_eq!(w.stream.written, b"HTTP/1.1 200 OK\r\n\r\nhello");
        assert_eq!(
            w.stream.calls,
            [(false, 24)],
            "one plain write of both slices"
        );
    }

    #[test]
    fn partial_coalesced_writes_resume_where_they_stopped() {
        let mut w = recorder(7);
        let head = b"HTTP/1.1 200 OK\r\ncontent-length: 11\r\n\r\n";
        write_all_vectored(&mut w, &[head, b"hello", b" world"]);
        let mut all = head.to_vec();
        all.extend_from_slice(b"hello world");
        assert_eq!(w.stream.written, all);
        assert!(w
            .stream
            .calls
            .iter()
            .all(|&(vectored, n)| !vectored && n <= 7));
    }

    #[test]
    fn large_vectored_writes_stay_vectored() {
        let mut w = recorder(usize::MAX);
        let body = vec![b'x'; COALESCE_MAX];
        write_all_vectored(&mut w, &[b"head", &body]);
        assert_eq!(w.stream.written.len(), COALESCE_MAX + 4);
        assert_eq!(w.stream.calls, [(true, COALESCE_MAX + 4)]);
    }

    #[test]
    fn one_slice_with_bytes_is_written_without_a_copy_or_writev() {
        let mut w = recorder(usize::MAX);
        write_all_vectored(&mut w, &[b"", b"body", b""]);
        assert_eq!(w.stream.written, b"body");
        assert_eq!(w.stream.calls, [(false, 4)]);
        assert!(w.flat.is_empty(), "nothing was copied");
    }
}
