//! The client's connection pool, one per [`Client`](super::Client) (and its
//! clones) on one worker.
//!
//! - **HTTP/1.1**: idle connections per [`Key`] (scheme, host, port), most
//!   recently used first. A connection goes back when the body of its
//!   response has been read to the end (or at once when the response has
//!   none); at most `max_idle_per_host` wait per key, each for at most
//!   `idle_timeout`. A checkout skips connections that expired or that the
//!   server closed (`is_closed`), and waits until the one it takes is ready.
//! - **HTTP/2**: one shared connection per key, multiplexing every request.
//!   While it is being opened (prior knowledge), other requests to the key
//!   wait for it instead of opening their own ([`H2::Connecting`]).
//!
//! Everything here is `!Send` and touched only by its worker; the pool is
//! borrowed for short, synchronous steps (never across an `.await`).

use std::collections::HashMap;
use std::fmt;
use std::rc::Rc;
use std::time::{Duration, Instant};

use hearth::sync::Notify;
use hearth::JoinHandle;
use hyper::client::conn::{http1, http2};
use hyper::Uri;

use super::error::{Error, ErrorKind};

/// A URI's scheme, as far as the client speaks it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Scheme {
    Http,
    Https,
}

/// Where a connection goes: requests with equal keys share connections.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) struct Key {
    pub(crate) scheme: Scheme,
    /// As in the URI (lower-cased by `http`; IPv6 literals in brackets).
    pub(crate) host: Box<str>,
    pub(crate) port: u16,
}

impl Key {
    /// The key of an absolute `http` or `https` URI.
    pub(crate) fn of(uri: &Uri) -> Result<Key, Error> {
        let invalid =
            |why: &str| Error::new(ErrorKind::InvalidUri, uri.to_string(), why.to_owned());
        let scheme = match uri.scheme_str() {
            Some(s) if s.eq_ignore_ascii_case("http") => Scheme::Http,
            Some(s) if s.eq_ignore_ascii_case("https") => {
                if cfg!(not(feature = "tls")) {
                    return Err(invalid("https needs hearth-hyper's `tls` feature"));
                }
                Scheme::Https
            }
            Some(other) => {
                return Err(invalid(&format!(
                    "the scheme `{other}` is not supported (http or https)"
                )))
            }
            None => return Err(invalid("not an absolute URI (no scheme)")),
        };
        let host = match uri.host() {
            Some(h) if !h.is_empty() => h,
            _ => return Err(invalid("no host")),
        };
        let port = uri.port_u16().unwrap_or(match scheme {
            Scheme::Http => 80,
            Scheme::Https => 443,
        });
        Ok(Key {
            scheme,
            host: host.to_ascii_lowercase().into_boxed_str(),
            port,
        })
    }
}

impl fmt::Display for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.host, self.port)
    }
}

/// An idle HTTP/1.1 connection.
struct Idle<B> {
    sender: http1::SendRequest<B>,
    since: Instant,
}

/// A key's HTTP/2 connection.
pub(crate) enum H2<B> {
    /// Open; its sender is cloned for every request.
    Ready(http2::SendRequest<B>),
    /// Being opened; notified (`notify_waiters`) when that ends either way.
    Connecting(Rc<Notify>),
}

/// The connections of one client (see the module docs).
pub(crate) struct Pool<B> {
    idle: HashMap<Key, Vec<Idle<B>>>,
    pub(crate) h2: HashMap<Key, H2<B>>,
    max_idle_per_host: usize,
    idle_timeout: Option<Duration>,
    /// The task that closes expired idle connections, while there are any.
    pub(crate) reaper: Option<JoinHandle<()>>,
}

impl<B> Pool<B> {
    pub(crate) fn new(max_idle_per_host: usize, idle_timeout: Option<Duration>) -> Pool<B> {
        Pool {
            idle: HashMap::new(),
            h2: HashMap::new(),
            max_idle_per_host,
            idle_timeout,
            reaper: None,
        }
    }

    pub(crate) fn idle_timeout(&self) -> Option<Duration> {
        self.idle_timeout
    }

    /// The most recently used idle connection to `key` that has neither
    /// expired nor been closed (those met on the way are dropped).
    pub(crate) fn take_idle(&mut self, key: &Key) -> Option<http1::SendRequest<B>> {
        let timeout = self.idle_timeout;
        let list = self.idle.get_mut(key)?;
        let now = Instant::now();
        let mut found = None;
        while let Some(idle) = list.pop() {
            if !idle.expired(timeout, now) && !idle.sender.is_closed() {
                found = Some(idle.sender);
                break;
            }
        }
        if list.is_empty() {
            self.idle.remove(key);
        }
        found
    }

    /// Keeps `sender` for the next request to `key`, unless `key` has
    /// `max_idle_per_host` idle connections already (then it is closed).
    /// Returns whether an idle connection is kept.
    pub(crate) fn put_idle(&mut self, key: Key, sender: http1::SendRequest<B>) -> bool {
        if self.max_idle_per_host == 0 || sender.is_closed() {
            return false;
        }
        let list = self.idle.entry(key).or_default();
        if list.len() >= self.max_idle_per_host {
            return false;
        }
        list.push(Idle {
            sender,
            since: Instant::now(),
        });
        true
    }

    /// Closes the idle connections that expired or that the server closed;
    /// returns whether any idle connection is left.
    pub(crate) fn purge(&mut self) -> bool {
        let now = Instant::now();
        let timeout = self.idle_timeout;
        self.idle.retain(|_, list| {
            list.retain(|idle| !idle.expired(timeout, now) && !idle.sender.is_closed());
            !list.is_empty()
        });
        self.h2
            .retain(|_, h2| !matches!(h2, H2::Ready(s) if s.is_closed()));
        !self.idle.is_empty()
    }
}

impl<B> Idle<B> {
    fn expired(&self, timeout: Option<Duration>, now: Instant) -> bool {
        timeout.is_some_and(|t| now.duration_since(self.since) >= t)
    }
}

impl<B> Drop for Pool<B> {
    fn drop(&mut self) {
        if let Some(reaper) = self.reaper.take() {
            reaper.abort();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(uri: &str) -> Result<Key, Error> {
        Key::of(&uri.parse().unwrap())
    }

    #[test]
    fn keys_have_default_ports_and_lower_case_hosts() {
        let k = key("http://Example.COM/x").unwrap();
        assert_eq!(
            (k.scheme, &*k.host, k.port),
            (Scheme::Http, "example.com", 80)
        );
        assert_eq!(k.to_string(), "example.com:80");
        let k = key("http://[::1]:8080/").unwrap();
        assert_eq!((&*k.host, k.port), ("[::1]", 8080));
        assert_eq!(key("http://a/").unwrap(), key("http://A:80/").unwrap());
    }

    #[test]
    fn uris_the_client_cannot_send_are_invalid() {
        for (uri, why) in [
            ("/relative", "not an absolute URI"),
            ("ftp://example.com/", "the scheme `ftp` is not supported"),
        ] {
            let e = key(uri).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::InvalidUri);
            assert!(e.to_string().contains(why), "{e}");
        }
    }

    #[cfg(feature = "tls")]
    #[test]
    fn https_defaults_to_port_443() {
        let k = key("https://example.com/").unwrap();
        assert_eq!((k.scheme, k.port), (Scheme::Https, 443));
    }
}
