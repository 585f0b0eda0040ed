//! Opening a connection: resolve the host with hearth's non-blocking
//! [`lookup_host`](hearth::net::lookup_host), connect to each address in
//! turn, and for `https` run the TLS handshake.

use core::pin::Pin;
use core::task::{Context, Poll};
use std::io;

use hearth::net::TcpStream;

use super::error::{Error, ErrorKind};
use super::pool::{Key, Scheme};

/// A connection's socket: plain TCP, or TLS over it.
pub(crate) enum Stream {
    Plain(TcpStream),
    #[cfg(feature = "tls")]
    Tls(Box<tokio_rustls::client::TlsStream<TcpStream>>),
}

impl Stream {
    /// Whether TLS negotiated HTTP/2 (ALPN `h2`).
    pub(crate) fn alpn_h2(&self) -> bool {
        match self {
            Stream::Plain(_) => false,
            #[cfg(feature = "tls")]
            Stream::Tls(tls) => tls.get_ref().1.alpn_protocol() == Some(b"h2"),
        }
    }
}

/// Opens a connection to `key` (see the module docs); `tls` is the
/// connector for `https` (`None` without the `tls` feature).
pub(crate) async fn connect(key: &Key, tls: Option<&super::TlsConnector>) -> Result<Stream, Error> {
    // `Uri::host` keeps the brackets of an IPv6 literal.
    let host = key.host.trim_start_matches('[').trim_end_matches(']');
    let addrs: Vec<_> = hearth::net::lookup_host((host, key.port))
        .await
        .map_err(|e| Error::new(ErrorKind::Dns, key.host.as_ref(), e))?
        .collect();
    let mut last = None;
    let mut stream = None;
    for addr in addrs {
        match TcpStream::connect(addr).await {
            Ok(s) => {
                stream = Some(s);
                break;
            }
            Err(e) => last = Some(e),
        }
    }
    let stream = match stream {
        Some(s) => s,
        None => {
            let e = last.unwrap_or_else(|| {
                io::Error::new(io::ErrorKind::NotFound, "the host has no address")
            });
            return Err(Error::new(ErrorKind::Connect, key.to_string(), e));
        }
    };
    // Small requests go out at once; a failure only costs latency.
    let _ = stream.set_nodelay(true);
    match key.scheme {
        Scheme::Http => Ok(Stream::Plain(stream)),
        Scheme::Https => tls_handshake(key, host, stream, tls).await,
    }
}

#[cfg(feature = "tls")]
async fn tls_handshake(
    key: &Key,
    host: &str,
    stream: TcpStream,
    tls: Option<&super::TlsConnector>,
) -> Result<Stream, Error> {
    use rustls::pki_types::ServerName;
    let Some(tls) = tls else {
        return Err(Error::new(
            ErrorKind::Tls,
            key.to_string(),
            "no TLS configuration",
        ));
    };
    let name = ServerName::try_from(host.to_owned())
        .map_err(|e| Error::new(ErrorKind::InvalidUri, key.to_string(), e))?;
    let stream = tls
        .connect(name, stream)
        .await
        .map_err(|e| Error::new(ErrorKind::Tls, key.to_string(), e))?;
    Ok(Stream::Tls(Box::new(stream)))
}

#[cfg(not(feature = "tls"))]
async fn tls_handshake(
    key: &Key,
    _host: &str,
    _stream: TcpStream,
    _tls: Option<&super::TlsConnector>,
) -> Result<Stream, Error> {
    // `Key::of` refuses https without the feature; this is a second line.
    Err(Error::new(
        ErrorKind::InvalidUri,
        key.to_string(),
        "https needs hearth-hyper's `tls` feature",
    ))
}

impl tokio::io::AsyncRead for Stream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_read(cx, buf),
            #[cfg(feature = "tls")]
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl tokio::io::AsyncWrite for Stream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_write(cx, buf),
            #[cfg(feature = "tls")]
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_write_vectored(cx, bufs),
            #[cfg(feature = "tls")]
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_write_vectored(cx, bufs),
        }
    }

    fn is_write_vectored(&self) -> bool {
        match self {
            Stream::Plain(s) => s.is_write_vectored(),
            #[cfg(feature = "tls")]
            Stream::Tls(s) => s.is_write_vectored(),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_flush(cx),
            #[cfg(feature = "tls")]
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_shutdown(cx),
            #[cfg(feature = "tls")]
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }
}
