//! `tls://host:port`: TCP with TLS (rustls, its `ring` crypto), server certificates, and
//! optionally client certificates (mutual TLS) whose names become the peer's identity.
//!
//! ```no_run
//! # fn main() -> Result<(), actix_remote_objects::Error> {
//! use actix_remote_objects::security::{TlsClient, TlsServer};
//! use actix_remote_objects::{HostConfig, NodeConfig};
//! let (cert, key, ca) = (std::fs::read("host.pem").unwrap(), std::fs::read("host.key").unwrap(),
//!     std::fs::read("ca.pem").unwrap());
//! let host = HostConfig::default().tls(TlsServer::new(&cert, &key)?);
//! let node = NodeConfig::default().tls(TlsClient::new(&ca)?);
//! # Ok(()) }
//! ```

use std::fmt;
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use rustls::{ClientConfig, RootCertStore, ServerConfig};

use super::PeerCertificate;
/// A TLS configuration that cannot be used: a certificate, key or root that does not read,
/// or that rustls refuses. Converts into [`Error`](crate::Error) (`is_tls()`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct TlsError(String);

fn tls_error(context: &str, error: impl fmt::Display) -> TlsError {
    TlsError(format!("{context}: {error}"))
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    // Explicit, so that another crypto provider enabled elsewhere in a program cannot make
    // rustls' choice ambiguous.
    Arc::new(rustls::crypto::ring::default_provider())
}

fn certificates(pem: &[u8], what: &str) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let certs = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| tls_error(&format!("cannot read the {what}"), e))?;
    if certs.is_empty() {
        return Err(tls_error(
            &format!("cannot read the {what}"),
            "no PEM certificate in it",
        ));
    }
    Ok(certs)
}

fn private_key(pem: &[u8]) -> Result<PrivateKeyDer<'static>, TlsError> {
    PrivateKeyDer::from_pem_slice(pem).map_err(|e| tls_error("cannot read the private key", e))
}

fn roots(pem: &[u8]) -> Result<RootCertStore, TlsError> {
    let mut store = RootCertStore::empty();
    for cert in certificates(pem, "root certificates")? {
        store
            .add(cert)
            .map_err(|e| tls_error("cannot use a root certificate", e))?;
    }
    Ok(store)
}

/// A host's TLS: its certificate chain and key, and (for mutual TLS) the roots that client
/// certificates must chain to.
#[derive(Clone)]
pub struct TlsServer {
    pub(crate) config: Arc<ServerConfig>,
}

impl fmt::Debug for TlsServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TlsServer")
    }
}

impl TlsServer {
    /// Serves with `cert_chain` (PEM, the host's certificate first) and its `private_key`
    /// (PEM: PKCS#8, PKCS#1 or SEC1). Clients need no certificate.
    pub fn new(cert_chain: &[u8], private_key: &[u8]) -> Result<TlsServer, TlsError> {
        let config = ServerConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .map_err(|e| tls_error("cannot configure TLS", e))?
            .with_no_client_auth()
            .with_single_cert(
                certificates(cert_chain, "certificate chain")?,
                self::private_key(private_key)?,
            )
            .map_err(|e| tls_error("cannot use the certificate and key", e))?;
        Ok(TlsServer::from_rustls(Arc::new(config)))
    }

    /// Mutual TLS: as [`TlsServer::new`], and every client must present a certificate that
    /// chains to `client_roots` (PEM). Its names become the peer's
    /// [identity](crate::security::Peer::identity).
    pub fn requiring_client_certificates(
        cert_chain: &[u8],
        private_key: &[u8],
        client_roots: &[u8],
    ) -> Result<TlsServer, TlsError> {
        TlsServer::verifying_clients(cert_chain, private_key, client_roots, false)
    }

    /// As [`TlsServer::requiring_client_certificates`], but a client may also connect without
    /// a certificate (as an anonymous peer, for an access policy or an authenticator to
    /// judge); a certificate it does present must chain to `client_roots`.
    pub fn accepting_client_certificates(
        cert_chain: &[u8],
        private_key: &[u8],
        client_roots: &[u8],
    ) -> Result<TlsServer, TlsError> {
        TlsServer::verifying_clients(cert_chain, private_key, client_roots, true)
    }

    fn verifying_clients(
        cert_chain: &[u8],
        private_key: &[u8],
        client_roots: &[u8],
        optional: bool,
    ) -> Result<TlsServer, TlsError> {
        let mut verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
            Arc::new(roots(client_roots)?),
            provider(),
        );
        if optional {
            verifier = verifier.allow_unauthenticated();
        }
        let verifier = verifier
            .build()
            .map_err(|e| tls_error("cannot use the client roots", e))?;
        let config = ServerConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .map_err(|e| tls_error("cannot configure TLS", e))?
            .with_client_cert_verifier(verifier)
            .with_single_cert(
                certificates(cert_chain, "certificate chain")?,
                self::private_key(private_key)?,
            )
            .map_err(|e| tls_error("cannot use the certificate and key", e))?;
        Ok(TlsServer::from_rustls(Arc::new(config)))
    }

    /// Any rustls server configuration.
    pub fn from_rustls(config: Arc<ServerConfig>) -> TlsServer {
        TlsServer { config }
    }
}

/// A node's TLS: the roots a host's certificate must chain to, and (for mutual TLS) its own
/// certificate.
#[derive(Clone)]
pub struct TlsClient {
    pub(crate) config: Arc<ClientConfig>,
    pub(crate) server_name: Option<String>,
}

impl fmt::Debug for TlsClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsClient")
            .field("server_name", &self.server_name)
            .finish_non_exhaustive()
    }
}

impl TlsClient {
    /// Trusts hosts whose certificate chains to `roots` (PEM) and names the host of the URL.
    pub fn new(roots: &[u8]) -> Result<TlsClient, TlsError> {
        let config = ClientConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .map_err(|e| tls_error("cannot configure TLS", e))?
            .with_root_certificates(self::roots(roots)?)
            .with_no_client_auth();
        Ok(TlsClient::from_rustls(Arc::new(config)))
    }

    /// Mutual TLS: as [`TlsClient::new`], presenting `cert_chain` and `private_key` (PEM).
    pub fn with_certificate(
        roots: &[u8],
        cert_chain: &[u8],
        private_key: &[u8],
    ) -> Result<TlsClient, TlsError> {
        let config = ClientConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .map_err(|e| tls_error("cannot configure TLS", e))?
            .with_root_certificates(self::roots(roots)?)
            .with_client_auth_cert(
                certificates(cert_chain, "certificate chain")?,
                self::private_key(private_key)?,
            )
            .map_err(|e| tls_error("cannot use the certificate and key", e))?;
        Ok(TlsClient::from_rustls(Arc::new(config)))
    }

    /// Any rustls client configuration.
    pub fn from_rustls(config: Arc<ClientConfig>) -> TlsClient {
        TlsClient {
            config,
            server_name: None,
        }
    }

    /// The name the host's certificate must carry, when it is not the host in the URL (an
    /// IP address in the URL, a name in the certificate).
    pub fn server_name(mut self, name: impl Into<String>) -> TlsClient {
        self.server_name = Some(name.into());
        self
    }

    /// Opens TLS over `tcp` to the host `host` (of the URL).
    pub(crate) async fn connect(
        &self,
        host: &str,
        tcp: tokio::net::TcpStream,
    ) -> Result<tokio_rustls::client::TlsStream<tokio::net::TcpStream>, TlsError> {
        let name = self.server_name.as_deref().unwrap_or(host);
        let name = name.trim_start_matches('[').trim_end_matches(']');
        let server_name = ServerName::try_from(name.to_owned())
            .map_err(|e| tls_error(&format!("{name:?} is not a server name"), e))?;
        tokio_rustls::TlsConnector::from(Arc::clone(&self.config))
            .connect(server_name, tcp)
            .await
            .map_err(|e| tls_error(&format!("the TLS handshake with {host} failed"), e))
    }
}

/// What a verified client certificate says: its common name and alternative names.
pub(crate) fn peer_certificate(der: &CertificateDer<'_>) -> Option<PeerCertificate> {
    use x509_parser::extensions::GeneralName;
    let (_, cert) = x509_parser::parse_x509_certificate(der.as_ref()).ok()?;
    let common_name = cert
        .subject()
        .iter_common_name()
        .next()
        .and_then(|cn| cn.as_str().ok())
        .map(str::to_owned);
    let names = match cert.subject_alternative_name() {
        Ok(Some(san)) => san
            .value
            .general_names
            .iter()
            .filter_map(|name| match name {
                GeneralName::DNSName(s) | GeneralName::URI(s) | GeneralName::RFC822Name(s) => {
                    Some((*s).to_owned())
                }
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    };
    Some(PeerCertificate { common_name, names })
}
