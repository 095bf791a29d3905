//! Opening a connection to a host: the handshake, before the node actor takes it over.

use bytes::Bytes;
use futures::StreamExt;
use tokio::io::ReadHalf;
use tokio::task::JoinHandle;
use tokio_util::codec::FramedRead;
use tracing::warn;

use super::NodeConfig;
use crate::error::{Error, Kind};
use crate::outbox::{next_conn_id, ConnId, Outbox, WriterEnd};
use crate::security::AuthError;
use crate::transport::Transport;
use crate::wire::codec::HandshakeGate;
use crate::wire::{FrameError, Handshake, HandshakeError, ObjectInfo, Packet, PacketCodec};

/// The packets a connection reads.
pub(crate) type Frames = FramedRead<ReadHalf<Box<dyn Transport>>, PacketCodec>;

/// A connection whose handshake succeeded, with what the host offers.
pub(crate) struct Established {
    pub(crate) conn: ConnId,
    pub(crate) offered: Vec<ObjectInfo>,
    pub(crate) frames: Frames,
    pub(crate) outbox: Outbox,
    /// Ends when the write side does; the connection ends with it.
    pub(crate) writer: JoinHandle<WriterEnd>,
}

/// Sends our handshake, checks the host's, and hands back the open connection.
pub(crate) async fn establish(
    stream: Box<dyn Transport>,
    config: &NodeConfig,
) -> Result<Established, Error> {
    let conn = next_conn_id();
    let (read, write) = tokio::io::split(stream);
    let (outbox, writer) = Outbox::new(conn, write, config.max_queued_bytes);
    let writer = actix::spawn(writer);
    outbox.push(Packet::Handshake(Handshake::ours(config.encoding)).to_frame());
    // Until the host has said who it is, its frames are handshake-sized.
    let (codec, frame_gate) = PacketCodec::new(config.max_frame_size).limited_until_open();
    let mut frames = FramedRead::new(read, codec);
    let checked = greet(&mut frames, &outbox, config, &frame_gate).await;
    match checked {
        Ok(offered) => Ok(Established {
            conn,
            offered,
            frames,
            outbox,
            writer,
        }),
        Err(error) => {
            warn!(%error, "handshake with the host failed");
            outbox.close();
            Err(error)
        }
    }
}

/// The host's handshake, its authentication exchange if it asks for one, and its object
/// list.
async fn greet(
    frames: &mut Frames,
    outbox: &Outbox,
    config: &NodeConfig,
    frame_gate: &HandshakeGate,
) -> Result<Vec<ObjectInfo>, Error> {
    match next_packet(frames, config, "before the host's handshake").await? {
        Packet::Handshake(theirs) => theirs.check(config.encoding)?,
        other => {
            return Err(HandshakeError::NotAHandshake {
                found: other.kind_name(),
            }
            .into())
        }
    }
    frame_gate.open();
    // What this node sent for a challenge, to check the host's proof against (`None`
    // inside when it answered anonymously).
    let mut exchange: Option<Option<(Bytes, Vec<u8>)>> = None;
    let mut asked_for = String::new();
    loop {
        match next_packet(frames, config, "before the host's object list").await? {
            // A host sends its object list once the node is admitted: take it as part of
            // connecting, so a connected node knows what the host offers.
            Packet::ObjectList(offered) => return Ok(offered),
            Packet::AuthChallenge { method, challenge } if exchange.is_none() => {
                let credentials = config.credentials.as_ref().map(|c| &c.0);
                let Some(credentials) = credentials else {
                    // No credentials: answer anonymously; the host may let us in.
                    let anonymous = Packet::AuthResponse {
                        method: String::new(),
                        response: Bytes::new(),
                    };
                    outbox.push(anonymous.to_frame());
                    asked_for = method;
                    exchange = Some(None);
                    continue;
                };
                if credentials.method() != method {
                    let expected = credentials.method().to_owned();
                    return Err(AuthError::WrongMethod {
                        found: method,
                        expected,
                    }
                    .into());
                }
                let response = credentials
                    .respond(&challenge)
                    .map_err(|e| Error::new(Kind::Auth(AuthError::Refused(e))))?;
                let answer = Packet::AuthResponse {
                    method,
                    response: Bytes::from(response.clone()),
                };
                outbox.push(answer.to_frame());
                exchange = Some(Some((challenge, response)));
            }
            Packet::AuthAccepted { proof } => match (&exchange, &config.credentials) {
                (Some(Some((challenge, response))), Some(credentials)) => credentials
                    .0
                    .check_proof(challenge, response, &proof)
                    .map_err(AuthError::HostNotProven)?,
                (Some(None), _) => {} // admitted anonymously
                _ => return Err(unexpected("AuthAccepted")),
            },
            Packet::AuthRefused { .. } if exchange == Some(None) => {
                return Err(AuthError::CredentialsNeeded { method: asked_for }.into())
            }
            Packet::AuthRefused { reason } => return Err(AuthError::Refused(reason).into()),
            other => return Err(unexpected(other.kind_name())),
        }
    }
}

fn unexpected(kind: &'static str) -> Error {
    HandshakeError::NotAHandshake { found: kind }.into()
}

/// The next packet while connecting, within the handshake timeout.
async fn next_packet(
    frames: &mut Frames,
    config: &NodeConfig,
    waiting_for: &'static str,
) -> Result<Packet, Error> {
    let next = tokio::time::timeout(config.handshake_timeout, frames.next()).await;
    match next {
        Err(_) => Err(Error::new(Kind::Timeout(config.handshake_timeout))),
        Ok(None) => Err(Error::new(Kind::Closed(waiting_for))),
        Ok(Some(Ok(packet))) => Ok(packet),
        Ok(Some(Err(FrameError::Io(e))))
            if e.get_ref().is_some_and(|i| i.is::<rustls::Error>()) =>
        {
            Err(Error::new(Kind::Tls(format!(
                "the host ended the TLS session: {e}"
            ))))
        }
        Ok(Some(Err(FrameError::Io(e)))) => {
            Err(Error::io(format!("reading from the host {waiting_for}"), e))
        }
        Ok(Some(Err(FrameError::TooLargeBeforeHandshake { size, .. }))) if looks_like_tls(size) => {
            Err(Error::new(Kind::Tls(
                "the host answered with TLS: connect with a tls:// URL".to_owned(),
            )))
        }
        Ok(Some(Err(e))) => Err(Error::new(Kind::Protocol(e))),
    }
}

use crate::wire::codec::looks_like_tls;
