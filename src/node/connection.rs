//! Opening a connection to a host: the greeting (handshake, authentication, object list),
//! before the node actor takes it over.

use futures::StreamExt;
use tokio::task::JoinHandle;
use tokio_util::codec::FramedRead;
use tracing::warn;

use super::NodeConfig;
use crate::error::{Error, Kind};
use crate::outbox::{next_conn_id, Outbox, WriterEnd};
use crate::proto::node::{Greeted, NodeSession};
use crate::qt::node_gateway::NodeGateway;
use crate::qt::NativeWire;
use crate::transport::Transport;
use crate::wire::codec::{looks_like_tls, HandshakeGate};
use crate::wire::{FrameError, ObjectInfo, Packet, PacketCodec};

/// The packets a connection reads.
pub(crate) type Frames = futures::stream::BoxStream<'static, Result<Packet, FrameError>>;

/// A connection whose greeting succeeded, with what the host offers.
pub(crate) struct Established {
    pub(crate) session: NodeSession<Outbox>,
    pub(crate) offered: Vec<ObjectInfo>,
    pub(crate) frames: Frames,
    pub(crate) outbox: Outbox,
    /// Ends when the write side does; the connection ends with it.
    pub(crate) writer: JoinHandle<WriterEnd>,
}

/// What to speak this crate's protocol over, for a connection just opened to `endpoint`:
/// the stream itself, or, for a Qt host (`qt+tcp://…`), the link to a gateway that
/// translates to and from Qt's dialect on that stream.
pub(crate) fn dialect_wire(
    endpoint: &crate::transport::Endpoint,
    stream: Box<dyn Transport>,
    config: &NodeConfig,
) -> NativeWire<NodeGateway> {
    if !endpoint.is_qt() {
        return NativeWire::Stream(stream);
    }
    let apis = config.qt_apis.clone();
    let lookup: crate::qt::node_gateway::ApiLookup =
        std::sync::Arc::new(move |name| apis.lookup(name));
    let gateway = NodeGateway::new(config.encoding, lookup);
    NativeWire::Translated(crate::qt::driver::start_gateway(
        gateway,
        stream,
        config.max_frame_size,
        None,
    ))
}

/// Greets the host over `stream` (its [`NodeSession`] says what to send and when it is
/// done) and hands back the open connection. `peer` names the host in errors: its URL, or
/// what the stream is.
pub(crate) async fn establish(
    wire: NativeWire<NodeGateway>,
    config: &NodeConfig,
    peer: &str,
) -> Result<Established, Error> {
    let conn = next_conn_id();
    let max_queued = config.max_queued_bytes;
    let (outbox, writer, mut frames, frame_gate) = match wire {
        NativeWire::Stream(stream) => {
            let (read, write) = tokio::io::split(stream);
            let (outbox, writer) = Outbox::new(conn, write, max_queued);
            // Until the host has said who it is, its frames are handshake-sized.
            let (codec, frame_gate) = PacketCodec::new(config.max_frame_size).limited_until_open();
            let frames = FramedRead::new(read, codec).boxed();
            (outbox, actix::spawn(writer), frames, frame_gate)
        }
        // The gateway bounds the Qt host's frames; its packets arrive decoded.
        NativeWire::Translated(end) => {
            let (outbox, writer) = Outbox::with_writer(conn, end.writer, max_queued);
            let frames = end.packets.boxed();
            (
                outbox,
                actix::spawn(writer),
                frames,
                HandshakeGate::default(),
            )
        }
    };
    let mut session = NodeSession::new(outbox.clone(), config.session_config());
    let greeted = greet(&mut session, &mut frames, config, &frame_gate, peer).await;
    match greeted {
        Ok(offered) => Ok(Established {
            session,
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

/// Feeds the host's packets to the session until it is open.
async fn greet(
    session: &mut NodeSession<Outbox>,
    frames: &mut Frames,
    config: &NodeConfig,
    frame_gate: &HandshakeGate,
    peer: &str,
) -> Result<Vec<ObjectInfo>, Error> {
    let mut waiting_for = "before the host's handshake";
    loop {
        let packet = next_packet(frames, config, waiting_for, peer).await?;
        match session.greet(packet)? {
            Greeted::Handshake => {
                frame_gate.open();
                waiting_for = "before the host's object list";
            }
            Greeted::Waiting => {}
            Greeted::Open(offered) => return Ok(offered),
        }
    }
}

/// The next packet while connecting, within the handshake timeout.
async fn next_packet(
    frames: &mut Frames,
    config: &NodeConfig,
    waiting_for: &'static str,
    peer: &str,
) -> Result<Packet, Error> {
    let next = tokio::time::timeout(config.handshake_timeout, frames.next()).await;
    match next {
        Err(_) => Err(Error::new(Kind::HandshakeTimeout {
            peer: peer.to_owned(),
            timeout: config.handshake_timeout,
            waiting_for,
        })),
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
        Ok(Some(Err(FrameError::TooLargeBeforeHandshake { size, .. }))) => {
            Err(Error::new(Kind::NotAPeer(first_bytes(size))))
        }
        Ok(Some(Err(e))) => Err(Error::new(Kind::Protocol(e))),
    }
}

/// What a peer's first four bytes (read as a frame length, `size`) were, in words: a frame
/// of ours that large before the handshake means the peer speaks something else.
fn first_bytes(size: usize) -> String {
    let bytes = (size as u32).to_be_bytes();
    let text: String = bytes.iter().map(|&b| char::from(b)).collect();
    if bytes.iter().all(|b| b.is_ascii_graphic() || *b == b' ') {
        let guess = if text.starts_with("HTTP") {
            " (an HTTP server)"
        } else {
            ""
        };
        format!("it began with {text:?}{guess}")
    } else {
        format!("it began with the bytes {bytes:02x?}")
    }
}
