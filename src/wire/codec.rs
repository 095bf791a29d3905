//! Framing: a 4-byte big-endian payload length, then the payload (one [`Packet`]).

use bytes::{Buf, BytesMut};
use tokio_util::codec::Decoder;

use super::packet::{Packet, PacketError};

/// The default largest payload accepted, 64 MiB: room for a large property in one init,
/// small enough that a forged length cannot exhaust memory.
pub const DEFAULT_MAX_FRAME_SIZE: usize = 64 * 1024 * 1024;

/// Why the incoming byte stream could not be read as packets.
#[derive(Debug, thiserror::Error)]
pub enum FrameError {
    /// The socket failed.
    #[error("i/o error: {0}")]
    Io(#[from] std::io::Error),
    /// A length prefix announced more than the configured maximum.
    #[error("frame of {size} bytes exceeds the maximum frame size of {max} bytes")]
    TooLarge {
        /// The announced payload size.
        size: usize,
        /// The configured maximum.
        max: usize,
    },
    /// A frame's payload is not a valid packet.
    #[error("malformed packet: {0}")]
    Malformed(#[from] PacketError),
}

/// Splits a byte stream into [`Packet`]s, refusing frames over a maximum size before
/// buffering them.
#[derive(Debug, Clone)]
pub struct PacketCodec {
    max_frame_size: usize,
}

impl PacketCodec {
    /// A codec that refuses payloads larger than `max_frame_size` bytes.
    pub fn new(max_frame_size: usize) -> PacketCodec {
        PacketCodec { max_frame_size }
    }
}

impl Default for PacketCodec {
    fn default() -> Self {
        PacketCodec::new(DEFAULT_MAX_FRAME_SIZE)
    }
}

impl Decoder for PacketCodec {
    type Item = Packet;
    type Error = FrameError;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<Packet>, FrameError> {
        if src.len() < 4 {
            return Ok(None);
        }
        let size = u32::from_be_bytes([src[0], src[1], src[2], src[3]]) as usize;
        if size > self.max_frame_size {
            return Err(FrameError::TooLarge {
                size,
                max: self.max_frame_size,
            });
        }
        if src.len() < 4 + size {
            // Reserve once for the whole frame instead of growing in steps.
            src.reserve(4 + size - src.len());
            return Ok(None);
        }
        src.advance(4);
        let payload = src.split_to(size).freeze();
        Ok(Some(Packet::decode(payload)?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_frames_split_at_every_byte() {
        let frames = [Packet::Ping(1).to_frame(), Packet::Pong(2).to_frame()].concat();
        for split in 0..frames.len() {
            let mut codec = PacketCodec::default();
            let mut buf = BytesMut::from(&frames[..split]);
            let mut got = Vec::new();
            while let Some(p) = codec.decode(&mut buf).unwrap() {
                got.push(p);
            }
            buf.extend_from_slice(&frames[split..]);
            while let Some(p) = codec.decode(&mut buf).unwrap() {
                got.push(p);
            }
            assert_eq!(
                got,
                vec![Packet::Ping(1), Packet::Pong(2)],
                "split at {split}"
            );
        }
    }

    #[test]
    fn refuses_an_oversized_length_before_buffering_it() {
        let mut codec = PacketCodec::new(16);
        let mut buf = BytesMut::from(&[0u8, 0, 0, 17][..]);
        match codec.decode(&mut buf) {
            Err(FrameError::TooLarge { size: 17, max: 16 }) => {}
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn garbage_payload_is_malformed() {
        let mut codec = PacketCodec::default();
        let mut buf = BytesMut::from(&[0u8, 0, 0, 2, 0xff, 0xfe][..]);
        assert!(matches!(
            codec.decode(&mut buf),
            Err(FrameError::Malformed(_))
        ));
    }
}
