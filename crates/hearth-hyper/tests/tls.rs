//! The `https` example: HTTPS over HTTP/2 and HTTP/1.1 (ALPN) with a
//! certificate made at test time, the client's `https` URLs, and TLS
//! handshakes that fail without hurting the server.
#![cfg(all(feature = "tls", not(miri)))] // sockets

#[path = "../examples/https.rs"]
mod example;

use std::io::{Read, Write};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use hearth_hyper::client::{Builder, Client, ErrorKind};
use http_body_util::BodyExt;
use hyper::Version;
use rustls::pki_types::CertificateDer;

const TIMEOUT: Duration = Duration::from_millis(300);

struct Server {
    _rt: hearth::Runtime,
    addr: SocketAddr,
    cert: CertificateDer<'static>,
}

/// The example on one worker (so that a failure would show on the next
/// request), with `alpn` if given.
fn start(alpn: Option<&[u8]>) -> Server {
    let rt = hearth::Runtime::builder().workers(1).build().unwrap();
    let (cert, key) = example::self_signed(&["localhost"]).unwrap();
    let mut config = example::server_config(cert.clone(), key).unwrap();
    if let Some(alpn) = alpn {
        Arc::make_mut(&mut config).alpn_protocols = vec![alpn.to_vec()];
    }
    let server =
        example::start(rt.handle(), "127.0.0.1:0".parse().unwrap(), config, TIMEOUT).unwrap();
    let addr = server.local_addr();
    Server {
        _rt: rt,
        addr,
        cert,
    }
}

/// A client that trusts `cert`.
fn client(cert: &CertificateDer<'static>) -> Client {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(cert.clone()).unwrap();
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    Builder::new().tls_config(Arc::new(config)).build()
}

/// GETs `https://localhost:port/` `n` times; the versions seen.
fn get(client: &Client, addr: SocketAddr, n: usize) -> Vec<Version> {
    let url = format!("https://localhost:{}/", addr.port());
    hearth::block_on(async {
        let mut versions = Vec::new();
        for _ in 0..n {
            let response = client.get(url.as_str()).await.unwrap();
            versions.push(response.version());
            let body = response.into_body().collect().await.unwrap().to_bytes();
            assert_eq!(body, example::BODY);
        }
        versions
    })
}

#[test]
fn https_over_http2_by_alpn() {
    let server = start(None);
    let versions = get(&client(&server.cert), server.addr, 5);
    assert_eq!(versions, vec![Version::HTTP_2; 5]);
}

#[test]
fn https_over_http1_when_the_server_offers_only_that() {
    let server = start(Some(b"http/1.1"));
    let versions = get(&client(&server.cert), server.addr, 5);
    assert_eq!(versions, vec![Version::HTTP_11; 5]);
}

#[test]
fn an_untrusted_certificate_is_a_tls_error() {
    let server = start(None);
    // The default roots (webpki-roots) do not know the self-signed one.
    let url = format!("https://localhost:{}/", server.addr.port());
    let err = hearth::block_on(Client::new().get(url.as_str())).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Tls, "{err}");
    assert!(err.is_connect());
    let message = err.to_string();
    assert!(
        message.starts_with(&format!(
            "TLS handshake with localhost:{} failed: ",
            server.addr.port()
        )),
        "{message}"
    );
    assert!(message.contains("certificate"), "{message}");
    // The server goes on.
    assert_eq!(get(&client(&server.cert), server.addr, 1).len(), 1);
}

#[test]
fn failed_handshakes_do_not_hurt_the_server() {
    let server = start(None);
    let addr = server.addr;
    // Plain HTTP to the TLS port.
    let mut plain = std::net::TcpStream::connect(addr).unwrap();
    plain
        .write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    plain
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let mut rest = Vec::new();
    let _ = plain.read_to_end(&mut rest); // an alert, then closed
                                          // Random bytes, and a client that vanishes after a partial hello.
    let mut garbage = std::net::TcpStream::connect(addr).unwrap();
    garbage
        .write_all(&[0x16, 0x03, 0x01, 0xff, 0xff, 1, 2, 3])
        .unwrap();
    drop(garbage);
    let mut noise = std::net::TcpStream::connect(addr).unwrap();
    noise.write_all(&[0xde; 4096]).unwrap();
    drop(noise);
    // A client that sends nothing is cut off at the timeout.
    let start = Instant::now();
    let mut silent = std::net::TcpStream::connect(addr).unwrap();
    silent
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let closed = silent.read_to_end(&mut rest).is_ok();
    assert!(closed, "a silent client was not disconnected");
    assert!(start.elapsed() >= TIMEOUT && start.elapsed() < Duration::from_secs(3));
    // Still serving.
    assert_eq!(get(&client(&server.cert), addr, 2).len(), 2);
}
