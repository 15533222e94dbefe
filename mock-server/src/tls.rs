//! HTTPS for the mock: a certificate made at start (a throwaway CA and a leaf for `localhost`
//! and `127.0.0.1` signed by it, with rcgen) or the user's own PEM files, and the rustls server
//! configuration that offers HTTP/2 and HTTP/1.1 by ALPN.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

/// Why TLS could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// Making the certificate failed.
    #[error("cannot generate a certificate: {0}")]
    Generate(#[from] rcgen::Error),
    /// A PEM file could not be read or holds nothing usable.
    #[error("cannot read {path}: {why}")]
    Pem {
        /// The file.
        path: String,
        /// What went wrong.
        why: String,
    },
    /// rustls refused the certificate or key.
    #[error("invalid certificate or key: {0}")]
    Rustls(#[from] rustls::Error),
}

/// Where the mock's certificate comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TlsSource {
    /// Made at start: a CA (whose PEM clients trust) and a leaf for `localhost` and `127.0.0.1`.
    Generated,
    /// The user's certificate chain and private key, PEM.
    Files {
        /// Certificate chain, leaf first.
        cert: PathBuf,
        /// Private key (PKCS#8, PKCS#1 or SEC1).
        key: PathBuf,
    },
}

/// A ready server configuration and the PEM a client should trust.
#[derive(Debug, Clone)]
pub struct Tls {
    /// rustls' server side, ALPN `h2` then `http/1.1`.
    pub config: Arc<rustls::ServerConfig>,
    /// The certificate to give clients as their CA (the generated CA, or the user's chain).
    pub ca_pem: String,
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn pem_error(path: &Path, why: impl ToString) -> TlsError {
    TlsError::Pem {
        path: path.display().to_string(),
        why: why.to_string(),
    }
}

impl Tls {
    /// Builds the TLS side from a source.
    pub fn new(source: &TlsSource) -> Result<Tls, TlsError> {
        let (chain, key, ca_pem) = match source {
            TlsSource::Generated => generate()?,
            TlsSource::Files { cert, key } => {
                // Capped reads: a path such as /dev/zero is refused, not read until memory runs out.
                let read = |p: &std::path::Path| {
                    crate::files::read_capped(p, crate::files::MAX_SMALL_FILE).map_err(|e| pem_error(p, e))
                };
                let cert_bytes = read(cert)?;
                let chain = CertificateDer::pem_slice_iter(&cert_bytes)
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(|e| pem_error(cert, e))?;
                if chain.is_empty() {
                    return Err(pem_error(cert, "no certificate in the file"));
                }
                let k = PrivateKeyDer::from_pem_slice(&read(key)?).map_err(|e| pem_error(key, e))?;
                let pem = String::from_utf8_lossy(&cert_bytes).into_owned();
                (chain, k, pem)
            }
        };
        let mut config = rustls::ServerConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()?
            .with_no_client_auth()
            .with_single_cert(chain, key)?;
        config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        Ok(Tls {
            config: Arc::new(config),
            ca_pem,
        })
    }
}

/// A throwaway CA and a leaf signed by it for `localhost` and `127.0.0.1`: (chain, key, CA PEM).
fn generate() -> Result<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>, String), TlsError> {
    use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose};
    let ca_key = KeyPair::generate()?;
    let mut ca_params = CertificateParams::new(Vec::<String>::new())?;
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "asyncbench mock-server CA");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let ca_cert = ca_params.self_signed(&ca_key)?;
    let issuer = Issuer::new(ca_params, ca_key);
    let leaf_key = KeyPair::generate()?;
    let mut leaf = CertificateParams::new(vec![
        "localhost".to_owned(),
        "127.0.0.1".to_owned(),
        "::1".to_owned(),
    ])?;
    leaf.distinguished_name.push(DnType::CommonName, "localhost");
    let leaf_cert = leaf.signed_by(&leaf_key, &issuer)?;
    let key = PrivateKeyDer::try_from(leaf_key.serialize_der()).map_err(|e| TlsError::Pem {
        path: "<generated key>".into(),
        why: e.to_owned(),
    })?;
    Ok((
        vec![leaf_cert.der().clone(), ca_cert.der().clone()],
        key,
        ca_cert.pem(),
    ))
}
