//! The one TLS setup of mnemo's outbound HTTP clients (this crate's model client, and the
//! binary's client of a running server): rustls with the ring provider, the platform's
//! verifier for `https`, and no certificates at all for plain `http`.

use std::sync::Arc;

/// rustls could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum TlsSetupError {
    #[error("TLS setup: {0}")]
    Protocols(rustls::Error),
    #[error("TLS setup: system certificates: {0}")]
    SystemCertificates(rustls::Error),
}

/// The client configuration to hand to `reqwest::ClientBuilder::tls_backend_preconfigured`.
///
/// A plain-HTTP endpoint never uses TLS, so it gets an empty root store instead of the
/// system certificates (a slim container may have none); any TLS connection would then
/// fail verification.
pub fn client_config(https: bool) -> Result<rustls::ClientConfig, TlsSetupError> {
    use rustls_platform_verifier::BuilderVerifierExt as _;

    let builder = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(TlsSetupError::Protocols)?;
    Ok(if https {
        builder
            .with_platform_verifier()
            .map_err(TlsSetupError::SystemCertificates)?
            .with_no_client_auth()
    } else {
        builder
            .with_root_certificates(rustls::RootCertStore::empty())
            .with_no_client_auth()
    })
}
