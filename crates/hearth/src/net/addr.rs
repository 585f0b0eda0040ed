//! Address resolution: [`ToSocketAddrs`] and [`lookup_host`]. What users
//! see is in the `net` docs ("Host names").
//!
//! An address argument turns into a [`Resolve`]: addresses (literal ones,
//! parsed inline; one address needs no allocation), a name and a port for the
//! system resolver (run on the blocking pool through
//! `runtime::run_blocking`), or an input error. The trait is sealed by its
//! hidden supertrait, so its set of types stays tokio's.

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};

/// Something that resolves to one or more socket addresses: the argument of
/// [`lookup_host`], `TcpStream::connect`, `TcpListener::bind`,
/// `UdpSocket::bind` and the like.
///
/// The same types as tokio's `ToSocketAddrs`: `SocketAddr`, `SocketAddrV4`,
/// `SocketAddrV6`, `(IpAddr, u16)`, `(Ipv4Addr, u16)`, `(Ipv6Addr, u16)`,
/// `&[SocketAddr]`, `str` and `String` (`"host:port"`), `(&str, u16)` and
/// `(String, u16)`, and references to any of them. Sealed: it cannot be
/// implemented outside hearth. Literal addresses resolve inline; host names
/// on the blocking pool (see [host names](crate::net#host-names)).
///
/// # Examples
///
/// ```
/// # if cfg!(miri) { return; } // Miri cannot open sockets
/// use std::net::{Ipv4Addr, SocketAddr};
///
/// hearth::block_on(async {
///     let a = hearth::net::UdpSocket::bind("127.0.0.1:0").await?;
///     let b = hearth::net::UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).await?;
///     let c = hearth::net::UdpSocket::bind(SocketAddr::from(([127, 0, 0, 1], 0))).await?;
///     let d = hearth::net::UdpSocket::bind(("localhost", 0)).await?; // resolved off the worker
///     for s in [a, b, c, d] {
///         assert!(s.local_addr()?.ip().is_loopback());
///     }
///     std::io::Result::Ok(())
/// })
/// .unwrap();
/// ```
pub trait ToSocketAddrs: sealed::ToSocketAddrsPriv {}

pub(crate) mod sealed {
    /// The hidden half of [`ToSocketAddrs`](super::ToSocketAddrs): outside
    /// hearth it cannot be named, so the trait cannot be implemented.
    pub trait ToSocketAddrsPriv {
        /// The addresses, or the name to look up.
        fn to_addrs(&self) -> super::Resolve;
    }
}

/// What an address argument holds: addresses already, a name to look up, or
/// a mistake.
pub enum Resolve {
    Ready(Addrs),
    Lookup { host: String, port: u16 },
    Invalid(io::Error),
}

/// Resolves `addr`: inline for literal addresses, on the blocking pool for
/// host names.
pub(crate) async fn resolve<A: ToSocketAddrs + ?Sized>(addr: &A) -> io::Result<Addrs> {
    match addr.to_addrs() {
        Resolve::Ready(addrs) => Ok(addrs),
        Resolve::Invalid(e) => Err(e),
        Resolve::Lookup { host, port } => {
            crate::runtime::run_blocking(move || {
                use std::net::ToSocketAddrs as _;
                match (host.as_str(), port).to_socket_addrs() {
                    Ok(addrs) => Ok(Addrs::Many(addrs.collect::<Vec<_>>().into_iter())),
                    Err(e) => Err(io::Error::new(
                        e.kind(),
                        format!("could not resolve {:?}: {e}", format!("{host}:{port}")),
                    )),
                }
            })
            .await
        }
    }
}

/// Resolves `host` to socket addresses, the way `connect` and `bind` do:
/// literal addresses inline, host names with the system resolver on the
/// blocking pool, so the worker thread never waits for DNS.
///
/// The iterator yields the addresses in the resolver's order (it may yield
/// none). Works inside a [`Runtime`](crate::Runtime) (its blocking pool)
/// and under plain [`block_on`](crate::block_on) (a process-wide pool); see
/// [host names](crate::net#host-names).
///
/// # Errors
///
/// An `InvalidInput` error for a string that is not `"host:port"` (no port,
/// a port that is not a number); the resolver's error, with the host named
/// in its message, for a name that does not resolve.
///
/// # Examples
///
/// ```
/// # if cfg!(miri) { return; } // Miri has no resolver
/// hearth::block_on(async {
///     let addrs: Vec<_> = hearth::net::lookup_host("localhost:8080").await?.collect();
///     assert!(addrs.iter().all(|a| a.ip().is_loopback() && a.port() == 8080));
///
///     let literal = hearth::net::lookup_host(("::1", 53)).await?.next();
///     assert_eq!(literal, Some("[::1]:53".parse().unwrap()));
///
///     let err = hearth::net::lookup_host("nonexistent.invalid:80").await.err().unwrap();
///     assert!(err.to_string().contains("nonexistent.invalid"));
///     std::io::Result::Ok(())
/// })
/// .unwrap();
/// ```
pub async fn lookup_host<T: ToSocketAddrs>(
    host: T,
) -> io::Result<impl Iterator<Item = SocketAddr>> {
    resolve(&host).await
}

/// Resolved addresses: one (no allocation, the common case of a literal
/// address) or several.
#[derive(Debug)]
pub enum Addrs {
    One(Option<SocketAddr>),
    Many(std::vec::IntoIter<SocketAddr>),
}

impl Iterator for Addrs {
    type Item = SocketAddr;

    fn next(&mut self) -> Option<SocketAddr> {
        match self {
            Addrs::One(one) => one.take(),
            Addrs::Many(many) => many.next(),
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        match self {
            Addrs::One(one) => (one.is_some() as usize, Some(one.is_some() as usize)),
            Addrs::Many(many) => many.size_hint(),
        }
    }
}

fn one(addr: impl Into<SocketAddr>) -> Resolve {
    Resolve::Ready(Addrs::One(Some(addr.into())))
}

/// `host` with `port`: inline if `host` is an IP address, else a lookup.
fn host_port(host: &str, port: u16) -> Resolve {
    match host.parse::<IpAddr>() {
        Ok(ip) => one((ip, port)),
        Err(_) => Resolve::Lookup {
            host: host.to_owned(),
            port,
        },
    }
}

macro_rules! literal {
    ($($ty:ty),*) => {$(
        impl ToSocketAddrs for $ty {}

        impl sealed::ToSocketAddrsPriv for $ty {
            fn to_addrs(&self) -> Resolve {
                one(*self)
            }
        }
    )*};
}

literal!(
    SocketAddr,
    SocketAddrV4,
    SocketAddrV6,
    (IpAddr, u16),
    (Ipv4Addr, u16),
    (Ipv6Addr, u16)
);

impl ToSocketAddrs for [SocketAddr] {}

impl sealed::ToSocketAddrsPriv for [SocketAddr] {
    fn to_addrs(&self) -> Resolve {
        match self {
            [single] => one(*single),
            many => Resolve::Ready(Addrs::Many(Vec::from(many).into_iter())),
        }
    }
}

impl ToSocketAddrs for str {}

impl sealed::ToSocketAddrsPriv for str {
    fn to_addrs(&self) -> Resolve {
        if let Ok(addr) = self.parse::<SocketAddr>() {
            return one(addr);
        }
        let invalid = |what: &str| {
            Resolve::Invalid(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("invalid socket address {self:?}: {what}"),
            ))
        };
        let Some((host, port)) = self.rsplit_once(':') else {
            return invalid("expected \"host:port\"");
        };
        match port.parse::<u16>() {
            Ok(port) => host_port(host, port),
            Err(_) => invalid("the port is not a number from 0 to 65535"),
        }
    }
}

impl ToSocketAddrs for String {}

impl sealed::ToSocketAddrsPriv for String {
    fn to_addrs(&self) -> Resolve {
        self.as_str().to_addrs()
    }
}

impl ToSocketAddrs for (&str, u16) {}

impl sealed::ToSocketAddrsPriv for (&str, u16) {
    fn to_addrs(&self) -> Resolve {
        host_port(self.0, self.1)
    }
}

impl ToSocketAddrs for (String, u16) {}

impl sealed::ToSocketAddrsPriv for (String, u16) {
    fn to_addrs(&self) -> Resolve {
        host_port(&self.0, self.1)
    }
}

impl<T: ToSocketAddrs + ?Sized> ToSocketAddrs for &T {}

impl<T: ToSocketAddrs + ?Sized> sealed::ToSocketAddrsPriv for &T {
    fn to_addrs(&self) -> Resolve {
        (**self).to_addrs()
    }
}

#[cfg(test)]
mod tests {
    use super::sealed::ToSocketAddrsPriv as _;
    use super::*;

    fn inline(addr: &(impl ToSocketAddrs + ?Sized)) -> Vec<SocketAddr> {
        match addr.to_addrs() {
            Resolve::Ready(addrs) => addrs.collect(),
            Resolve::Lookup { host, port } => panic!("{host}:{port} was sent to the resolver"),
            Resolve::Invalid(e) => panic!("{e}"),
        }
    }

    #[test]
    fn literal_addresses_resolve_inline() {
        let v4: SocketAddr = "127.0.0.1:80".parse().unwrap();
        let v6: SocketAddr = "[::1]:443".parse().unwrap();
        assert_eq!(inline("127.0.0.1:80"), [v4]);
        assert_eq!(inline(&String::from("[::1]:443")), [v6]);
        assert_eq!(inline(&("127.0.0.1", 80)), [v4]);
        assert_eq!(inline(&("::1", 443)), [v6]);
        assert_eq!(inline(&(String::from("::1"), 443)), [v6]);
        assert_eq!(inline(&(Ipv4Addr::LOCALHOST, 80)), [v4]);
        assert_eq!(inline(&(IpAddr::from(Ipv6Addr::LOCALHOST), 443)), [v6]);
        assert_eq!(inline(&v4), [v4]);
        assert_eq!(inline(&&&v6), [v6]);
        assert_eq!(inline(&[v4, v6][..]), [v4, v6]);
        let none: &[SocketAddr] = &[];
        assert_eq!(inline(none), []);
    }

    #[test]
    fn names_go_to_the_resolver() {
        let lookup = |r: Resolve| match r {
            Resolve::Lookup { host, port } => (host, port),
            _ => panic!("not sent to the resolver"),
        };
        assert_eq!(lookup("localhost:80".to_addrs()), ("localhost".into(), 80));
        assert_eq!(
            lookup(("example.com", 443).to_addrs()),
            ("example.com".into(), 443)
        );
        assert_eq!(
            lookup((String::from("db"), 5432).to_addrs()),
            ("db".into(), 5432)
        );
    }

    #[test]
    fn malformed_strings_are_invalid_input() {
        for bad in ["localhost", "localhost:http", "127.0.0.1:65536", ""] {
            match bad.to_addrs() {
                Resolve::Invalid(e) => {
                    assert_eq!(e.kind(), io::ErrorKind::InvalidInput, "{bad:?}");
                    assert!(e.to_string().contains(&format!("{bad:?}")), "{e}");
                }
                _ => panic!("{bad:?} was accepted"),
            }
        }
    }
}
