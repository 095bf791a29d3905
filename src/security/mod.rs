//! Who is on the other end, and what they may do: authentication after the handshake
//! ([`auth`]), access control per source, slot and property ([`policy`]), and the identity
//! of a peer ([`Peer`]) that both act on.
//!
//! What is protected, and the defaults, are in the README's SECURITY section. In short: a
//! host with no authenticator and no policy serves anyone who reaches its port, as Qt Remote
//! Objects does; configure [`HostConfig::authenticator`](crate::HostConfig::authenticator)
//! and [`HostConfig::access_policy`](crate::HostConfig::access_policy) to change that.

pub mod auth;
pub(crate) mod peer;
pub mod policy;
pub mod tls;

use std::fmt;

pub use auth::{AuthError, Authenticator, Credentials, SharedSecret, SharedSecrets, Verified};
pub use policy::{AccessPolicy, Policy, Rule};
pub use tls::{TlsClient, TlsError, TlsServer};

pub use peer::{PeerAddr, UnixCredentials};

/// A connected peer as a host knows it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Peer {
    /// Where it connected from: its address, or its Unix credentials (`SO_PEERCRED`).
    pub addr: PeerAddr,
    /// The certificate it presented over `tls://`, if any.
    pub certificate: Option<PeerCertificate>,
    /// Who it proved to be: the identity its authenticator verified, else its client
    /// certificate's; `None` for an anonymous peer.
    pub identity: Option<String>,
}

/// What a peer's TLS client certificate says about it (verified against the host's roots).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerCertificate {
    /// The subject's common name, if it has one.
    pub common_name: Option<String>,
    /// Its subject alternative names (DNS names and URIs).
    pub names: Vec<String>,
}

impl PeerCertificate {
    /// The identity it stands for: its first subject alternative name, else its common name.
    pub fn identity(&self) -> Option<&str> {
        self.names
            .first()
            .or(self.common_name.as_ref())
            .map(String::as_str)
    }
}

impl Peer {
    pub(crate) fn new(addr: PeerAddr) -> Peer {
        Peer {
            addr,
            certificate: None,
            identity: None,
        }
    }
}

impl fmt::Display for Peer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.identity {
            Some(identity) => write!(f, "{identity:?} ({})", self.addr),
            None => write!(f, "an anonymous peer ({})", self.addr),
        }
    }
}
