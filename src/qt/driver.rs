//! Runs a gateway ([`HostGateway`] or [`NodeGateway`]) between a Qt peer's stream and a
//! native session.

use bytes::BytesMut;
use futures::{FutureExt, StreamExt};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio_util::codec::{Decoder, FramedRead};
use tracing::{debug, info, warn};

use super::gateway::HostGateway;
use super::node_gateway::NodeGateway;
use crate::transport::Transport;
use crate::wire::qt::{QtPacket, TypeRegistry};
use crate::wire::{Packet, PacketCodec};

/// Qt's frames: a little-endian `u32` length, then that many bytes (QTRO.md §3.1), at most
/// `max` of them. A forged length reserves nothing before its bytes arrive.
pub(crate) struct QtFrames {
    max: usize,
}

/// A Qt frame that is too large.
#[derive(Debug, thiserror::Error)]
pub(crate) enum QtFrameError {
    #[error("a Qt frame of {size} bytes is larger than the {max} allowed")]
    TooLarge { size: usize, max: usize },
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

impl Decoder for QtFrames {
    type Item = BytesMut;
    type Error = QtFrameError;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<BytesMut>, QtFrameError> {
        if src.len() < 4 {
            return Ok(None);
        }
        let size = u32::from_le_bytes([src[0], src[1], src[2], src[3]]) as usize;
        if size > self.max {
            return Err(QtFrameError::TooLarge {
                size,
                max: self.max,
            });
        }
        if src.len() < 4 + size {
            src.reserve((4 + size - src.len()).min(64 * 1024));
            return Ok(None);
        }
        let mut frame = src.split_to(4 + size);
        Ok(Some(frame.split_off(4)))
    }
}

async fn write_all<W: AsyncWrite + Unpin>(out: &mut W, bytes: &[u8]) -> bool {
    out.write_all(bytes).await.is_ok() && out.flush().await.is_ok()
}

/// At most this many packets are translated before what they produced is written.
const BATCH: usize = 256;

/// One side of a translation: a gateway between a Qt peer and a native session.
pub(crate) trait Translator {
    /// What ends the connection.
    type Error: std::fmt::Display;
    /// A packet from the Qt peer.
    fn on_qt(&mut self, packet: QtPacket) -> Result<(), Self::Error>;
    /// A packet from the native session.
    fn on_native(&mut self, packet: Packet) -> Result<(), Self::Error>;
    /// What to send the native session.
    fn take_to_native(&mut self) -> Vec<Packet>;
    /// What to send the Qt peer.
    fn take_to_qt(&mut self) -> Vec<QtPacket>;
    /// The named types to read the Qt peer's frames with.
    fn types(&self) -> &TypeRegistry;
}

impl Translator for HostGateway {
    type Error = super::gateway::GatewayError;
    fn on_qt(&mut self, packet: QtPacket) -> Result<(), Self::Error> {
        HostGateway::from_qt(self, packet)
    }
    fn on_native(&mut self, packet: Packet) -> Result<(), Self::Error> {
        self.from_host(packet)
    }
    fn take_to_native(&mut self) -> Vec<Packet> {
        self.take_to_host()
    }
    fn take_to_qt(&mut self) -> Vec<QtPacket> {
        HostGateway::take_to_qt(self)
    }
    fn types(&self) -> &TypeRegistry {
        HostGateway::types(self)
    }
}

impl Translator for NodeGateway {
    type Error = super::node_gateway::NodeGatewayError;
    fn on_qt(&mut self, packet: QtPacket) -> Result<(), Self::Error> {
        NodeGateway::from_qt(self, packet)
    }
    fn on_native(&mut self, packet: Packet) -> Result<(), Self::Error> {
        self.from_node(packet)
    }
    fn take_to_native(&mut self) -> Vec<Packet> {
        self.take_to_node()
    }
    fn take_to_qt(&mut self) -> Vec<QtPacket> {
        NodeGateway::take_to_qt(self)
    }
    fn types(&self) -> &TypeRegistry {
        NodeGateway::types(self)
    }
}

/// Translates between `qt` (a Qt peer) and `native` (a native session) until either side
/// closes or breaks the protocol.
pub(crate) async fn run_gateway<G: Translator>(
    mut gateway: G,
    qt: Box<dyn Transport>,
    native: impl AsyncRead + AsyncWrite + Unpin + Send + 'static,
    max_frame_size: usize,
) {
    let (qt_read, mut qt_write) = tokio::io::split(qt);
    let (native_read, mut native_write) = tokio::io::split(native);
    let mut qt_frames = FramedRead::new(
        qt_read,
        QtFrames {
            max: max_frame_size,
        },
    );
    let mut native_packets = FramedRead::new(native_read, PacketCodec::new(max_frame_size));
    'run: loop {
        if !flush(&mut gateway, &mut qt_write, &mut native_write).await {
            break;
        }
        let first = tokio::select! {
            frame = qt_frames.next() => Input::Qt(frame),
            packet = native_packets.next() => Input::Native(packet),
        };
        if !handle(&mut gateway, first) {
            break;
        }
        // Whatever else has already arrived is translated before the next write.
        for _ in 0..BATCH {
            let ready = match qt_frames.next().now_or_never() {
                Some(frame) => Input::Qt(frame),
                None => match native_packets.next().now_or_never() {
                    Some(packet) => Input::Native(packet),
                    None => break,
                },
            };
            if !handle(&mut gateway, ready) {
                break 'run;
            }
        }
    }
    // Whatever was decided last still goes out (a Pong, a RemoveObject).
    let _ = flush(&mut gateway, &mut qt_write, &mut native_write).await;
    let _ = qt_write.shutdown().await;
    let _ = native_write.shutdown().await;
}

/// Something that arrived on one side (`None`: that side closed).
enum Input {
    Qt(Option<Result<BytesMut, QtFrameError>>),
    Native(Option<Result<Packet, crate::wire::FrameError>>),
}

/// Feeds `input` to the gateway; false when the connection ends.
fn handle<G: Translator>(gateway: &mut G, input: Input) -> bool {
    match input {
        Input::Qt(Some(Ok(frame))) => match QtPacket::decode(&frame, gateway.types()) {
            Ok(packet) => match gateway.on_qt(packet) {
                Ok(()) => true,
                Err(error) => {
                    warn!(%error, "closing a Qt connection");
                    false
                }
            },
            Err(error) => {
                warn!(%error, "a Qt peer sent a frame that does not decode: closing its connection");
                false
            }
        },
        Input::Qt(Some(Err(QtFrameError::Io(error)))) => {
            debug!(%error, "a Qt connection ended");
            false
        }
        Input::Qt(Some(Err(error))) => {
            warn!(%error, "closing a Qt connection");
            false
        }
        Input::Qt(None) => {
            debug!("the Qt peer closed its connection");
            false
        }
        Input::Native(Some(Ok(packet))) => match gateway.on_native(packet) {
            Ok(()) => true,
            Err(error) => {
                warn!(%error, "closing a Qt connection");
                false
            }
        },
        Input::Native(Some(Err(error))) => {
            warn!(%error, "the native side of a Qt connection failed");
            false
        }
        Input::Native(None) => {
            info!("the native side closed a Qt connection");
            false
        }
    }
}

async fn flush<G: Translator, Q: AsyncWrite + Unpin, N: AsyncWrite + Unpin>(
    gateway: &mut G,
    qt: &mut Q,
    native: &mut N,
) -> bool {
    // Everything decided since the last write goes out in one write per side.
    let to_native = gateway.take_to_native();
    if !to_native.is_empty() {
        let mut frames = BytesMut::new();
        for packet in &to_native {
            packet.append_frame(&mut frames);
        }
        if !write_all(native, &frames).await {
            return false;
        }
    }
    let to_qt = gateway.take_to_qt();
    if to_qt.is_empty() {
        return true;
    }
    let mut frames = Vec::new();
    for packet in &to_qt {
        if let Err(error) = packet.append_frame(&mut frames, gateway.types()) {
            warn!(%error, kind = packet.kind(), "a Qt packet that cannot be written: dropped");
        }
    }
    frames.is_empty() || write_all(qt, &frames).await
}
