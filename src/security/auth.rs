//! Authentication right after the handshake, before a host accepts any other packet: the
//! host sends a challenge, the node answers with what proves who it is, the host accepts
//! (with a proof of its own, for nodes that check their host) or refuses.
//!
//! Built in: [`SharedSecret`] (HMAC-SHA256 challenge–response over random nonces: the secret
//! never travels) and [`SharedSecrets`] (a host that knows several). Other schemes implement
//! [`Authenticator`] (host side) and [`Credentials`] (node side).

use std::collections::BTreeMap;
use std::fmt;

use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::Peer;

/// The method name of the built-in shared-secret scheme.
pub const SHARED_SECRET_METHOD: &str = "hmac-sha256-v1";

const NONCE_LEN: usize = 32;
const MAC_LEN: usize = 32;

/// Host side: decides who a connecting node is from its answer to a challenge.
pub trait Authenticator: Send + Sync + 'static {
    /// The scheme's name, sent with the challenge; the node's credentials must match it.
    fn method(&self) -> &str;

    /// A fresh challenge for one connection (a random nonce, typically); an error refuses
    /// the connection.
    fn challenge(&self, peer: &Peer) -> Result<Vec<u8>, String>;

    /// Checks the node's `response` to `challenge`: the peer's identity and a proof to send
    /// back (empty if the scheme has none), or why the node is refused.
    fn verify(&self, peer: &Peer, challenge: &[u8], response: &[u8]) -> Result<Verified, String>;
}

/// A node that proved who it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    /// Its identity, for access policies and logs.
    pub identity: String,
    /// Sent back to the node, which may check it to know the host is genuine.
    pub proof: Vec<u8>,
}

/// Node side: answers a host's challenge.
pub trait Credentials: Send + Sync + 'static {
    /// The scheme's name; a host asking for another one is refused.
    fn method(&self) -> &str;

    /// The answer to `challenge`; an error ends the connection attempt.
    fn respond(&self, challenge: &[u8]) -> Result<Vec<u8>, String>;

    /// Checks the host's `proof` for the exchange `challenge`/`response` (mutual
    /// authentication); a host that cannot prove itself is refused.
    fn check_proof(&self, challenge: &[u8], response: &[u8], proof: &[u8]) -> Result<(), String>;
}

/// Why an authentication failed, on either side.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AuthError {
    /// The host refused this node, with its reason.
    #[error("the host refused the authentication: {0}")]
    Refused(String),
    /// The host asks for authentication and this node has no credentials for it.
    #[error("the host requires authentication ({method}); configure NodeConfig::credentials")]
    CredentialsNeeded {
        /// The scheme the host asked for.
        method: String,
    },
    /// The host asks for a scheme these credentials do not speak.
    #[error("the host asks for authentication {found:?}, these credentials speak {expected:?}")]
    WrongMethod {
        /// The scheme the host asked for.
        found: String,
        /// The scheme of this node's credentials.
        expected: String,
    },
    /// The host could not prove it knows the secret: it is not the host it claims to be.
    #[error("the host failed to prove its identity: {0}")]
    HostNotProven(String),
}

/// A shared secret known to a node and its host, under a name (the node's identity).
///
/// Node side, in [`NodeConfig::credentials`](crate::NodeConfig::credentials); host side, in
/// [`HostConfig::authenticator`](crate::HostConfig::authenticator) (alone, or many in
/// [`SharedSecrets`]). The exchange: the host sends a random 32-byte nonce; the node answers
/// with its identity, a nonce of its own and HMAC-SHA256(secret, both nonces and the
/// identity); the host checks it and answers with its own HMAC over the same, so each side
/// knows the other holds the secret. Nothing on the wire reveals the secret or can be
/// replayed on another connection.
#[derive(Clone)]
pub struct SharedSecret {
    identity: String,
    key: Vec<u8>,
}

impl fmt::Debug for SharedSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SharedSecret")
            .field("identity", &self.identity)
            .finish_non_exhaustive()
    }
}

impl SharedSecret {
    /// A secret for the node named `identity`. Use at least 32 random bytes.
    pub fn new(identity: impl Into<String>, key: impl AsRef<[u8]>) -> SharedSecret {
        SharedSecret {
            identity: identity.into(),
            key: key.as_ref().to_vec(),
        }
    }

    /// The identity it proves.
    pub fn identity(&self) -> &str {
        &self.identity
    }

    fn mac(&self, role: &[u8], server: &[u8], client: &[u8]) -> Hmac<Sha256> {
        // Any key length is valid for HMAC.
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.key)
            .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
        for part in [role, server, client, self.identity.as_bytes()] {
            mac.update(&(part.len() as u32).to_le_bytes());
            mac.update(part);
        }
        mac
    }
}

/// A node's answer: identity, its nonce, its MAC.
struct Response<'a> {
    identity: &'a str,
    nonce: &'a [u8],
    mac: &'a [u8],
}

impl<'a> Response<'a> {
    fn encode(identity: &str, nonce: &[u8], mac: &[u8]) -> Vec<u8> {
        let mut out = Vec::with_capacity(4 + identity.len() + NONCE_LEN + MAC_LEN);
        out.extend_from_slice(&(identity.len() as u32).to_le_bytes());
        out.extend_from_slice(identity.as_bytes());
        out.extend_from_slice(nonce);
        out.extend_from_slice(mac);
        out
    }

    fn decode(bytes: &'a [u8]) -> Result<Response<'a>, String> {
        let malformed = || "a malformed response".to_owned();
        let len_bytes = bytes.get(..4).ok_or_else(malformed)?;
        let len = u32::from_le_bytes([len_bytes[0], len_bytes[1], len_bytes[2], len_bytes[3]]);
        let rest = &bytes[4..];
        let len = len as usize;
        if rest.len() != len + NONCE_LEN + MAC_LEN {
            return Err(malformed());
        }
        let identity = std::str::from_utf8(&rest[..len]).map_err(|_| malformed())?;
        Ok(Response {
            identity,
            nonce: &rest[len..len + NONCE_LEN],
            mac: &rest[len + NONCE_LEN..],
        })
    }
}

/// Random bytes from the operating system. Without them there is no safe nonce, so the
/// exchange fails rather than use a predictable one.
pub(crate) fn random_nonce() -> Result<Vec<u8>, String> {
    let mut nonce = vec![0u8; NONCE_LEN];
    getrandom::fill(&mut nonce)
        .map_err(|e| format!("the operating system gave no random bytes: {e}"))?;
    Ok(nonce)
}

impl Credentials for SharedSecret {
    fn method(&self) -> &str {
        SHARED_SECRET_METHOD
    }

    fn respond(&self, challenge: &[u8]) -> Result<Vec<u8>, String> {
        let nonce = random_nonce()?;
        let mac = self.mac(b"node", challenge, &nonce).finalize().into_bytes();
        Ok(Response::encode(&self.identity, &nonce, &mac))
    }

    fn check_proof(&self, challenge: &[u8], response: &[u8], proof: &[u8]) -> Result<(), String> {
        let sent = Response::decode(response)?;
        self.mac(b"host", challenge, sent.nonce)
            .verify_slice(proof)
            .map_err(|_| "its proof does not match this node's secret".to_owned())
    }
}

/// A host's shared secrets, one per node identity.
#[derive(Debug, Clone, Default)]
pub struct SharedSecrets {
    secrets: BTreeMap<String, SharedSecret>,
}

impl SharedSecrets {
    /// No secrets yet: every node is refused until one is added.
    pub fn new() -> SharedSecrets {
        SharedSecrets::default()
    }

    /// Accepts the node named `identity` when it proves it holds `key`.
    pub fn with(mut self, identity: impl Into<String>, key: impl AsRef<[u8]>) -> SharedSecrets {
        let secret = SharedSecret::new(identity, key);
        self.secrets.insert(secret.identity.clone(), secret);
        self
    }
}

impl Authenticator for SharedSecrets {
    fn method(&self) -> &str {
        SHARED_SECRET_METHOD
    }

    fn challenge(&self, _peer: &Peer) -> Result<Vec<u8>, String> {
        random_nonce()
    }

    fn verify(&self, _peer: &Peer, challenge: &[u8], response: &[u8]) -> Result<Verified, String> {
        let answer = Response::decode(response)?;
        // The same answer for an unknown name and a wrong secret: nothing to probe for.
        let refused = || "unknown identity or wrong secret".to_owned();
        let secret = self.secrets.get(answer.identity).ok_or_else(refused)?;
        secret
            .mac(b"node", challenge, answer.nonce)
            .verify_slice(answer.mac)
            .map_err(|_| refused())?;
        let proof = secret.mac(b"host", challenge, answer.nonce).finalize();
        Ok(Verified {
            identity: secret.identity.clone(),
            proof: proof.into_bytes().to_vec(),
        })
    }
}

impl Authenticator for SharedSecret {
    fn method(&self) -> &str {
        SHARED_SECRET_METHOD
    }

    fn challenge(&self, _peer: &Peer) -> Result<Vec<u8>, String> {
        random_nonce()
    }

    fn verify(&self, peer: &Peer, challenge: &[u8], response: &[u8]) -> Result<Verified, String> {
        SharedSecrets::new()
            .with(&self.identity, &self.key)
            .verify(peer, challenge, response)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::security::PeerAddr;

    fn peer() -> Peer {
        Peer::new(PeerAddr::Unknown)
    }

    #[test]
    fn the_right_secret_is_accepted_both_ways() {
        let host = SharedSecrets::new().with("alice", b"alice's key");
        let node = SharedSecret::new("alice", b"alice's key");
        let challenge = host.challenge(&peer()).unwrap();
        let response = node.respond(&challenge).unwrap();
        let verified = host.verify(&peer(), &challenge, &response).unwrap();
        assert_eq!(verified.identity, "alice");
        assert_eq!(
            node.check_proof(&challenge, &response, &verified.proof),
            Ok(())
        );
    }

    #[test]
    fn a_wrong_secret_an_unknown_name_and_a_replay_are_refused() {
        let host = SharedSecrets::new().with("alice", b"alice's key");
        let challenge = host.challenge(&peer()).unwrap();
        for node in [
            SharedSecret::new("alice", b"guessed"),
            SharedSecret::new("mallory", b"alice's key"),
        ] {
            let response = node.respond(&challenge).unwrap();
            assert!(host.verify(&peer(), &challenge, &response).is_err());
        }
        // A response recorded on one connection is useless on the next.
        let alice = SharedSecret::new("alice", b"alice's key");
        let recorded = alice.respond(&challenge).unwrap();
        let next = host.challenge(&peer()).unwrap();
        assert_ne!(challenge, next);
        assert!(host.verify(&peer(), &next, &recorded).is_err());
        // Garbage is refused, not a panic.
        for junk in [&[][..], &[0xff; 3], &[9, 0, 0, 0, 1]] {
            assert!(host.verify(&peer(), &challenge, junk).is_err());
        }
    }

    #[test]
    fn a_host_without_the_secret_cannot_prove_itself() {
        let node = SharedSecret::new("alice", b"alice's key");
        let impostor = SharedSecrets::new().with("alice", b"another key");
        let challenge = impostor.challenge(&peer()).unwrap();
        let response = node.respond(&challenge).unwrap();
        // The impostor refuses the node anyway; were it to forge a proof, the node refuses it.
        assert!(impostor.verify(&peer(), &challenge, &response).is_err());
        assert!(node
            .check_proof(&challenge, &response, &[0u8; MAC_LEN])
            .is_err());
    }

    #[test]
    fn nothing_on_the_wire_contains_the_secret() {
        let key = b"a very secret key that must not travel";
        let node = SharedSecret::new("alice", key);
        let response = node.respond(&random_nonce().unwrap()).unwrap();
        assert!(!response.windows(key.len()).any(|w| w == key));
    }
}
