//! Admitting a node, with no I/O: its handshake, then (if the host authenticates) the
//! challenge and its answer, then the access policy's word on the peer. Until admitted, a
//! node may send nothing else, and its frames are handshake-sized.

use std::sync::Arc;

use bytes::Bytes;

use super::host::HostSessionError as ConnectionError;
use crate::security::{AccessPolicy, Authenticator, Peer};
use crate::wire::{Encoding, HandshakeError, Packet};

enum Stage {
    AwaitingHandshake,
    /// The challenge sent, the answer awaited.
    Challenged {
        authenticator: Arc<dyn Authenticator>,
        challenge: Vec<u8>,
    },
    Admitted,
}

pub(crate) struct Admission {
    stage: Stage,
    encoding: Encoding,
    authenticator: Option<Arc<dyn Authenticator>>,
    /// Whether a node may answer the challenge anonymously (with no method).
    anonymous: bool,
    policy: Option<Arc<dyn AccessPolicy>>,
}

/// What to do after a packet of a node not yet admitted.
#[derive(Debug)]
pub(crate) enum Step {
    /// Send this and wait for the next packet.
    Reply(Packet),
    /// The node is admitted: send these (if anything), then the object list.
    Admitted(Option<Packet>),
}

impl Admission {
    pub(crate) fn new(
        encoding: Encoding,
        authenticator: Option<Arc<dyn Authenticator>>,
        policy: Option<Arc<dyn AccessPolicy>>,
    ) -> Admission {
        Admission {
            stage: Stage::AwaitingHandshake,
            encoding,
            authenticator,
            anonymous: false,
            policy,
        }
    }

    /// Lets nodes without credentials in, anonymous (the policy decides what they may do).
    pub(crate) fn allowing_anonymous(mut self, anonymous: bool) -> Admission {
        self.anonymous = anonymous;
        self
    }

    pub(crate) fn is_admitted(&self) -> bool {
        matches!(self.stage, Stage::Admitted)
    }

    /// Handles one packet before admission; an error closes the connection (a `Refused`
    /// one after telling the node why).
    pub(crate) fn on_packet(
        &mut self,
        peer: &mut Peer,
        packet: Packet,
    ) -> Result<Step, ConnectionError> {
        match (&self.stage, packet) {
            (Stage::AwaitingHandshake, Packet::Handshake(theirs)) => {
                theirs.check(self.encoding)?;
                let Some(authenticator) = self.authenticator.clone() else {
                    return self.admit(peer, None);
                };
                let challenge = authenticator
                    .challenge(peer)
                    .map_err(ConnectionError::Refused)?;
                let packet = Packet::AuthChallenge {
                    method: authenticator.method().to_owned(),
                    challenge: Bytes::from(challenge.clone()),
                };
                self.stage = Stage::Challenged {
                    authenticator,
                    challenge,
                };
                Ok(Step::Reply(packet))
            }
            (Stage::AwaitingHandshake, other) => Err(HandshakeError::NotAHandshake {
                found: other.kind_name(),
            }
            .into()),
            (
                Stage::Challenged {
                    authenticator,
                    challenge,
                },
                Packet::AuthResponse { method, response },
            ) => {
                // A node without credentials answers with no method.
                if method.is_empty() {
                    if !self.anonymous {
                        return Err(ConnectionError::Refused(format!(
                            "this host requires authentication with {:?}",
                            authenticator.method()
                        )));
                    }
                    let accepted = Packet::AuthAccepted {
                        proof: Bytes::new(),
                    };
                    return self.admit(peer, Some(accepted));
                }
                if method != authenticator.method() {
                    return Err(ConnectionError::Refused(format!(
                        "this host authenticates with {:?}, not {method:?}",
                        authenticator.method()
                    )));
                }
                let verified = authenticator
                    .verify(peer, challenge, &response)
                    .map_err(ConnectionError::Refused)?;
                peer.identity = Some(verified.identity);
                let accepted = Packet::AuthAccepted {
                    proof: Bytes::from(verified.proof),
                };
                self.admit(peer, Some(accepted))
            }
            (Stage::Challenged { .. }, other) => Err(ConnectionError::Refused(format!(
                "expected the answer to the authentication challenge, got a {} packet",
                other.kind_name()
            ))),
            // The connection asks only before admission; a repeated handshake lands here.
            (Stage::Admitted, other) => Err(ConnectionError::UnexpectedPacket(other.kind_name())),
        }
    }

    fn admit(&mut self, peer: &Peer, accepted: Option<Packet>) -> Result<Step, ConnectionError> {
        if let Some(policy) = &self.policy {
            policy.admit(peer).map_err(ConnectionError::Refused)?;
        }
        self.stage = Stage::Admitted;
        Ok(Step::Admitted(accepted))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::security::PeerAddr;
    use crate::security::{Credentials, Policy, Rule, SharedSecret, SharedSecrets};
    use crate::wire::Handshake;

    fn handshake() -> Packet {
        Packet::Handshake(Handshake::ours(Encoding::Bincode))
    }

    fn authenticating() -> Admission {
        let secrets = SharedSecrets::new().with("alice", b"key");
        Admission::new(Encoding::Bincode, Some(Arc::new(secrets)), None)
    }

    #[test]
    fn without_an_authenticator_the_handshake_admits() {
        let mut admission = Admission::new(Encoding::Bincode, None, None);
        let mut peer = Peer::new(PeerAddr::Unknown);
        let step = admission.on_packet(&mut peer, handshake()).unwrap();
        assert!(matches!(step, Step::Admitted(None)));
        assert!(admission.is_admitted());
    }

    #[test]
    fn a_good_answer_admits_with_the_identity_and_a_proof() {
        let mut admission = authenticating();
        let mut peer = Peer::new(PeerAddr::Unknown);
        let Step::Reply(Packet::AuthChallenge { method, challenge }) =
            admission.on_packet(&mut peer, handshake()).unwrap()
        else {
            panic!("expected a challenge")
        };
        let node = SharedSecret::new("alice", b"key");
        let response = node.respond(&challenge).unwrap();
        let answer = Packet::AuthResponse {
            method,
            response: Bytes::from(response.clone()),
        };
        match admission.on_packet(&mut peer, answer).unwrap() {
            Step::Admitted(Some(Packet::AuthAccepted { proof })) => {
                assert_eq!(node.check_proof(&challenge, &response, &proof), Ok(()));
            }
            other => panic!("expected admission, got {other:?}"),
        }
        assert_eq!(peer.identity.as_deref(), Some("alice"));
    }

    #[test]
    fn anything_but_the_answer_is_refused() {
        for packet in [
            Packet::Acquire {
                name: "Printer".into(),
                signature: 0,
            },
            Packet::AuthResponse {
                method: "other".into(),
                response: Bytes::new(),
            },
            Packet::AuthResponse {
                method: crate::security::auth::SHARED_SECRET_METHOD.into(),
                response: Bytes::from_static(b"garbage"),
            },
        ] {
            let mut admission = authenticating();
            let mut peer = Peer::new(PeerAddr::Unknown);
            admission.on_packet(&mut peer, handshake()).unwrap();
            let refused = admission.on_packet(&mut peer, packet);
            assert!(
                matches!(refused, Err(ConnectionError::Refused(_))),
                "{refused:?}"
            );
            assert!(!admission.is_admitted());
        }
    }

    #[test]
    fn an_anonymous_answer_is_admitted_only_where_allowed() {
        for allowed in [false, true] {
            let mut admission = authenticating().allowing_anonymous(allowed);
            let mut peer = Peer::new(PeerAddr::Unknown);
            admission.on_packet(&mut peer, handshake()).unwrap();
            let anonymous = Packet::AuthResponse {
                method: String::new(),
                response: Bytes::new(),
            };
            let step = admission.on_packet(&mut peer, anonymous);
            assert_eq!(step.is_ok(), allowed, "{step:?}");
            assert_eq!(peer.identity, None);
        }
    }

    #[test]
    fn the_policy_can_refuse_a_peer_at_the_door() {
        let policy = Policy::new().allow(Rule::identity("alice"));
        let mut admission = Admission::new(Encoding::Bincode, None, Some(Arc::new(policy)));
        let mut peer = Peer::new(PeerAddr::Unknown);
        let refused = admission.on_packet(&mut peer, handshake());
        assert!(matches!(refused, Err(ConnectionError::Refused(_))));
    }
}
