//! TLS through rustls (feature `tls`): the configurations the server and
//! the client start from, with the `ring` crypto provider.

use std::sync::Arc;

/// The ALPN protocols the server offers when its configuration names
/// none: HTTP/2, then HTTP/1.1.
pub(crate) fn server_alpn(config: Arc<rustls::ServerConfig>) -> Arc<rustls::ServerConfig> {
    if !config.alpn_protocols.is_empty() {
        return config;
    }
    let mut config = rustls::ServerConfig::clone(&config);
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Arc::new(config)
}

/// rustls' safe defaults with the `ring` provider and the Mozilla roots.
pub(crate) fn default_client_config() -> Result<rustls::ClientConfig, rustls::Error> {
    let roots = rustls::RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    Ok(rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()?
    .with_root_certificates(roots)
    .with_no_client_auth())
}
