//! HTTPS on every worker: HTTP/2 and HTTP/1.1 over rustls (chosen through
//! ALPN), with hyper's header-read timeout, which also bounds the TLS
//! handshake. Without certificate files it makes a self-signed certificate
//! for `localhost` at start-up.
//!
//! ```text
//! cargo run --release -p hearth-hyper --example https [ADDR [CERT.der KEY.der]]   # default 127.0.0.1:8443
//! ```
//!
//! Try `curl -k https://localhost:8443/` (`-k`: the certificate is
//! self-signed). Ctrl-C stops it gracefully.

use std::convert::Infallible;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use hyper::body::{Bytes, Incoming};
use hyper::service::service_fn;
use hyper::{Request, Response};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

use hearth::runtime::{Handle, Server};

/// The body of every response.
pub const BODY: &[u8] = b"Hello, TLS!";

async fn hello(
    _req: Request<Incoming>,
) -> Result<Response<http_body_util::Full<Bytes>>, Infallible> {
    Ok(Response::new(http_body_util::Full::new(
        Bytes::from_static(BODY),
    )))
}

/// A self-signed certificate for `names` and its private key.
pub fn self_signed(
    names: &[&str],
) -> io::Result<(CertificateDer<'static>, PrivateKeyDer<'static>)> {
    let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
    let made = rcgen::generate_simple_self_signed(names).map_err(io::Error::other)?;
    let key = PrivatePkcs8KeyDer::from(made.signing_key.serialize_der());
    Ok((made.cert.der().clone(), key.into()))
}

/// rustls' server configuration for a certificate (with the `ring`
/// provider); the server adds the ALPN protocols `h2` and `http/1.1`.
pub fn server_config(
    cert: CertificateDer<'static>,
    key: PrivateKeyDer<'static>,
) -> io::Result<Arc<rustls::ServerConfig>> {
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .and_then(|b| b.with_no_client_auth().with_single_cert(vec![cert], key))
    .map_err(io::Error::other)?;
    Ok(Arc::new(config))
}

/// Starts serving HTTPS on every worker of `rt`, bound to `addr` (port 0
/// picks one).
pub fn start(
    rt: &Handle,
    addr: SocketAddr,
    tls: Arc<rustls::ServerConfig>,
    header_read_timeout: Duration,
) -> io::Result<Server> {
    let serving = hearth_hyper::server::Builder::new()
        .header_read_timeout(header_read_timeout)
        .tls(tls)
        .serve(rt, addr, service_fn(hello));
    hearth::block_on(serving)
}

#[allow(dead_code)] // the tests include this file for `start`
fn main() -> io::Result<()> {
    let mut args = std::env::args().skip(1);
    let addr: SocketAddr = args
        .next()
        .unwrap_or_else(|| "127.0.0.1:8443".into())
        .parse()
        .map_err(io::Error::other)?;
    let (cert, key) = match (args.next(), args.next()) {
        (Some(cert), Some(key)) => (
            CertificateDer::from(std::fs::read(cert)?),
            PrivateKeyDer::try_from(std::fs::read(key)?).map_err(io::Error::other)?,
        ),
        _ => self_signed(&["localhost"])?,
    };
    let rt = hearth::Runtime::builder().build()?;
    let server = start(
        rt.handle(),
        addr,
        server_config(cert, key)?,
        Duration::from_secs(10),
    )?;
    println!(
        "https: listening on https://localhost:{}/ with {} workers (Ctrl-C to stop)",
        server.local_addr().port(),
        rt.workers()
    );
    rt.block_on(hearth::signal::ctrl_c())?;
    rt.shutdown_graceful(Duration::from_secs(10))
        .map_err(io::Error::other)
}
