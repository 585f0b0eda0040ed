//! The client's [`Error`]: what failed (an [`ErrorKind`]), where, and the
//! underlying cause.

use core::fmt;
use std::time::Duration;

use crate::server::BoxError;

/// What kind of failure a client [`Error`] is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The request's URI cannot be sent: no host, a scheme other than
    /// `http` or `https`, or `https` without the `tls` feature.
    InvalidUri,
    /// The host name could not be resolved.
    Dns,
    /// No connection could be opened: refused, unreachable, reset.
    Connect,
    /// Resolving, connecting and the TLS and HTTP handshakes took longer
    /// than the connect timeout.
    ConnectTimeout,
    /// The TLS handshake failed (an untrusted certificate, a name that
    /// does not match, no common protocol version).
    Tls,
    /// No response head within the request timeout.
    RequestTimeout,
    /// HTTP failed on an open connection: the server closed it before the
    /// response was complete, sent a malformed response, or the handshake
    /// of HTTP/2 failed.
    Http,
}

/// An error of the HTTP [`Client`](super::Client): its [`kind`](Self::kind),
/// the server it concerns, and the underlying cause (also its
/// [`source`](std::error::Error::source)).
///
/// # Examples
///
/// ```
/// # if cfg!(miri) { return; } // Miri cannot open sockets
/// use hearth_hyper::client::{Client, ErrorKind};
///
/// hearth::block_on(async {
///     // Nothing listens on port 1 of the loopback interface.
///     let err = Client::new().get("http://127.0.0.1:1/").await.unwrap_err();
///     assert_eq!(err.kind(), ErrorKind::Connect);
///     assert!(err.to_string().starts_with("could not connect to 127.0.0.1:1: "), "{err}");
/// });
/// ```
pub struct Error {
    kind: ErrorKind,
    /// `host:port` (or the URI, for `InvalidUri`).
    target: String,
    /// The deadline, for the timeouts.
    after: Option<Duration>,
    /// What the layer below said; `None` for the timeouts.
    cause: Option<BoxError>,
}

impl Error {
    pub(crate) fn new(
        kind: ErrorKind,
        target: impl Into<String>,
        cause: impl Into<BoxError>,
    ) -> Error {
        Error {
            kind,
            target: target.into(),
            after: None,
            cause: Some(cause.into()),
        }
    }

    pub(crate) fn timeout(kind: ErrorKind, target: impl Into<String>, after: Duration) -> Error {
        Error {
            kind,
            target: target.into(),
            after: Some(after),
            cause: None,
        }
    }

    /// What kind of failure this is.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// Whether a deadline passed: [`ErrorKind::ConnectTimeout`] or
    /// [`ErrorKind::RequestTimeout`].
    pub fn is_timeout(&self) -> bool {
        matches!(
            self.kind,
            ErrorKind::ConnectTimeout | ErrorKind::RequestTimeout
        )
    }

    /// Whether no connection could be made: [`ErrorKind::Dns`],
    /// [`ErrorKind::Connect`], [`ErrorKind::ConnectTimeout`] or
    /// [`ErrorKind::Tls`]. The request was not sent.
    pub fn is_connect(&self) -> bool {
        matches!(
            self.kind,
            ErrorKind::Dns | ErrorKind::Connect | ErrorKind::ConnectTimeout | ErrorKind::Tls
        )
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let target = &self.target;
        match self.kind {
            ErrorKind::InvalidUri if target.is_empty() => f.write_str("invalid request URI")?,
            ErrorKind::InvalidUri => write!(f, "invalid request URI `{target}`")?,
            ErrorKind::Dns => write!(f, "could not resolve `{target}`")?,
            ErrorKind::Connect => write!(f, "could not connect to {target}")?,
            ErrorKind::ConnectTimeout => write!(f, "connecting to {target} timed out")?,
            ErrorKind::Tls => write!(f, "TLS handshake with {target} failed")?,
            ErrorKind::RequestTimeout => write!(f, "no response from {target} in time")?,
            ErrorKind::Http => write!(f, "HTTP exchange with {target} failed")?,
        }
        if let Some(after) = self.after {
            write!(f, " (after {after:?})")?;
        }
        if let Some(cause) = &self.cause {
            write!(f, ": {cause}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Error")
            .field("kind", &self.kind)
            .field("target", &self.target)
            .field("after", &self.after)
            .field("cause", &self.cause)
            .finish()
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.cause
            .as_deref()
            .map(|c| c as &(dyn std::error::Error + 'static))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_say_what_where_and_why() {
        let refused = std::io::Error::from(std::io::ErrorKind::ConnectionRefused);
        let e = Error::new(ErrorKind::Connect, "example.com:80", refused);
        assert_eq!(
            e.to_string(),
            "could not connect to example.com:80: connection refused"
        );
        assert!(e.is_connect() && !e.is_timeout());
        let source = std::error::Error::source(&e).unwrap();
        let io = source.downcast_ref::<std::io::Error>().unwrap();
        assert_eq!(io.kind(), std::io::ErrorKind::ConnectionRefused);

        let e = Error::timeout(
            ErrorKind::RequestTimeout,
            "example.com:80",
            Duration::from_millis(250),
        );
        assert_eq!(
            e.to_string(),
            "no response from example.com:80 in time (after 250ms)"
        );
        assert!(e.is_timeout() && !e.is_connect());
        assert!(std::error::Error::source(&e).is_none());
    }
}
