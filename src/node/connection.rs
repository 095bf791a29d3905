//! Opening a connection to a host: the handshake, before the node actor takes it over.

use futures::StreamExt;
use tokio::io::ReadHalf;
use tokio::task::JoinHandle;
use tokio_util::codec::FramedRead;
use tracing::warn;

use super::NodeConfig;
use crate::error::{Error, Kind};
use crate::outbox::{next_conn_id, ConnId, Outbox, WriterEnd};
use crate::transport::Transport;
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
    let first = tokio::time::timeout(config.handshake_timeout, frames.next()).await;
    let checked = match first {
        Err(_) => Err(Error::new(Kind::Timeout(config.handshake_timeout))),
        Ok(None) => Err(Error::new(Kind::Closed("before the host's handshake"))),
        Ok(Some(Err(FrameError::Io(e)))) => Err(Error::io("read the host's handshake", e)),
        Ok(Some(Err(e))) => Err(Error::new(Kind::Protocol(e))),
        Ok(Some(Ok(Packet::Handshake(theirs)))) => {
            let checked = theirs.check(config.encoding).map_err(Error::from);
            checked.map(|()| frame_gate.open())
        }
        Ok(Some(Ok(other))) => Err(HandshakeError::NotAHandshake {
            found: other.kind_name(),
        }
        .into()),
    };
    let checked = match checked {
        // A host sends its object list right after the handshake: take it as part of
        // connecting, so a connected node knows what the host offers.
        Ok(()) => match tokio::time::timeout(config.handshake_timeout, frames.next()).await {
            Ok(Some(Ok(Packet::ObjectList(offered)))) => Ok(offered),
            Err(_) => Err(Error::new(Kind::Timeout(config.handshake_timeout))),
            Ok(None) => Err(Error::new(Kind::Closed("before the host's object list"))),
            Ok(Some(Err(FrameError::Io(e)))) => Err(Error::io("read the host's object list", e)),
            Ok(Some(Err(e))) => Err(Error::new(Kind::Protocol(e))),
            Ok(Some(Ok(other))) => Err(HandshakeError::NotAHandshake {
                found: other.kind_name(),
            }
            .into()),
        },
        Err(error) => Err(error),
    };
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
