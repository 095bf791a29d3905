//! Runs a [`HostGateway`] between a Qt node's stream and a native session with the host.

use bytes::BytesMut;
use futures::StreamExt;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio_util::codec::{Decoder, FramedRead};
use tracing::{debug, info, warn};

use super::gateway::HostGateway;
use crate::transport::Transport;
use crate::wire::qt::QtPacket;
use crate::wire::{Encoding, PacketCodec};

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

async fn send_all<W: AsyncWrite + Unpin>(out: &mut W, frames: Vec<bytes::Bytes>) -> bool {
    for frame in frames {
        if out.write_all(&frame).await.is_err() {
            return false;
        }
    }
    out.flush().await.is_ok()
}

/// Translates between `qt` (a Qt node) and `host` (a native connection to the host) until
/// either side closes or breaks the protocol.
pub(crate) async fn run_host_gateway(
    qt: Box<dyn Transport>,
    host: impl AsyncRead + AsyncWrite + Unpin + Send + 'static,
    encoding: Encoding,
    max_frame_size: usize,
) {
    let (qt_read, mut qt_write) = tokio::io::split(qt);
    let (host_read, mut host_write) = tokio::io::split(host);
    let mut qt_frames = FramedRead::new(
        qt_read,
        QtFrames {
            max: max_frame_size,
        },
    );
    let mut host_packets = FramedRead::new(host_read, PacketCodec::new(max_frame_size));
    let mut gateway = HostGateway::new(encoding);
    loop {
        if !flush(&mut gateway, &mut qt_write, &mut host_write).await {
            break;
        }
        tokio::select! {
            frame = qt_frames.next() => match frame {
                Some(Ok(frame)) => match QtPacket::decode(&frame, gateway.types()) {
                    Ok(packet) => {
                        if let Err(error) = gateway.from_qt(packet) {
                            warn!(%error, "closing a Qt connection");
                            break;
                        }
                    }
                    Err(error) => {
                        warn!(%error, "a Qt node sent a frame that does not decode: closing its connection");
                        break;
                    }
                },
                Some(Err(QtFrameError::Io(error))) => {
                    debug!(%error, "a Qt node's connection ended");
                    break;
                }
                Some(Err(error)) => {
                    warn!(%error, "closing a Qt connection");
                    break;
                }
                None => {
                    debug!("the Qt node closed its connection");
                    break;
                }
            },
            packet = host_packets.next() => match packet {
                Some(Ok(packet)) => {
                    if let Err(error) = gateway.from_host(packet) {
                        warn!(%error, "the host ended a Qt connection");
                        break;
                    }
                }
                Some(Err(error)) => {
                    warn!(%error, "the host's side of a Qt connection failed");
                    break;
                }
                None => {
                    info!("the host closed a Qt connection");
                    break;
                }
            },
        }
    }
    let _ = qt_write.shutdown().await;
    let _ = host_write.shutdown().await;
}

async fn flush<Q: AsyncWrite + Unpin, H: AsyncWrite + Unpin>(
    gateway: &mut HostGateway,
    qt: &mut Q,
    host: &mut H,
) -> bool {
    let to_host: Vec<_> = gateway
        .take_to_host()
        .iter()
        .map(|p| p.to_frame())
        .collect();
    if !to_host.is_empty() && !send_all(host, to_host).await {
        return false;
    }
    let mut frames = Vec::new();
    for packet in gateway.take_to_qt() {
        match packet.to_frame(gateway.types()) {
            Ok(frame) => frames.push(frame),
            Err(error) => {
                warn!(%error, kind = packet.kind(), "a Qt packet that cannot be written: dropped")
            }
        }
    }
    frames.is_empty() || send_all(qt, frames).await
}
