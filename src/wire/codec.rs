//! Framing: a 4-byte big-endian payload length, then the payload (one [`Packet`]).

use super::dialect::{Dialect, NATIVE};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

use bytes::{Buf, BytesMut};
use tokio_util::codec::Decoder;

use super::packet::{Packet, PacketError};

/// The default largest payload accepted, 64 MiB: room for a large property in one init,
/// small enough that a forged length cannot exhaust memory.
pub const DEFAULT_MAX_FRAME_SIZE: usize = 64 * 1024 * 1024;

/// The largest frame accepted before the handshake is done: a handshake (and an
/// authentication exchange) is a few dozen bytes, so a peer that has not yet said who it is
/// cannot make a connection buffer more than this.
pub const HANDSHAKE_MAX_FRAME_SIZE: usize = 4096;

/// Read buffers grow by at most this much beyond what has arrived, however large the frame
/// being read announces itself: memory follows the bytes a peer really sent.
const GROWTH_STEP: usize = 64 * 1024;

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
    /// A length prefix announced more than is accepted before the handshake.
    #[error(
        "frame of {size} bytes before the handshake is done exceeds the limit of {max} bytes{}",
        tls_hint(.size)
    )]
    TooLargeBeforeHandshake {
        /// The announced payload size.
        size: usize,
        /// The limit before the handshake.
        max: usize,
    },
    /// The host's budget for partly received frames, shared by all its connections, is
    /// spent: this connection's frame would take more.
    #[error("the host's budget of {max} bytes for partly received frames is spent")]
    InputBudget {
        /// The host's budget.
        max: usize,
    },
    /// A frame's payload is not a valid packet.
    #[error("malformed packet: {0}")]
    Malformed(#[from] PacketError),
}

/// Whether a frame length is really the start of a TLS record (a handshake or an alert): a
/// TLS peer on a plain connection, or the reverse.
pub(crate) fn looks_like_tls(length: usize) -> bool {
    let [kind, major, ..] = (length as u32).to_be_bytes();
    matches!(kind, 0x15 | 0x16) && major == 0x03
}

fn tls_hint(length: &usize) -> &'static str {
    if looks_like_tls(*length) {
        " (the bytes are TLS: use tls:// on both sides, or neither)"
    } else {
        ""
    }
}

/// Bytes of partly received frames, counted across every connection of a host against one
/// limit, so that many peers each sending part of a large frame cannot exhaust its memory.
#[derive(Debug)]
pub(crate) struct InputBudget {
    used: AtomicUsize,
    max: usize,
}

impl InputBudget {
    pub(crate) fn new(max: usize) -> Arc<InputBudget> {
        Arc::new(InputBudget {
            used: AtomicUsize::new(0),
            max,
        })
    }

    fn claim(&self, bytes: usize) -> Result<(), FrameError> {
        let before = self.used.fetch_add(bytes, Ordering::Relaxed);
        if before.saturating_add(bytes) > self.max {
            self.used.fetch_sub(bytes, Ordering::Relaxed);
            return Err(FrameError::InputBudget { max: self.max });
        }
        Ok(())
    }

    fn release(&self, bytes: usize) {
        self.used.fetch_sub(bytes, Ordering::Relaxed);
    }

    /// Bytes buffered now, across all connections.
    #[cfg(test)]
    pub(crate) fn used(&self) -> usize {
        self.used.load(Ordering::Relaxed)
    }
}

/// Opens a connection's frame limit once its handshake is done; see
/// [`PacketCodec::limited_until_open`].
#[derive(Debug, Clone, Default)]
pub(crate) struct HandshakeGate(Arc<AtomicBool>);

impl HandshakeGate {
    /// From now on the connection may send frames up to its maximum frame size.
    pub(crate) fn open(&self) {
        self.0.store(true, Ordering::Release);
    }

    fn is_open(&self) -> bool {
        self.0.load(Ordering::Acquire)
    }
}

/// Splits a byte stream into [`Packet`]s, refusing frames over a maximum size before
/// buffering them. Its buffer grows with the bytes that arrive, not with the length a frame
/// announces.
#[derive(Debug)]
pub struct PacketCodec {
    max_frame_size: usize,
    /// While closed, frames are limited to [`HANDSHAKE_MAX_FRAME_SIZE`].
    gate: Option<HandshakeGate>,
    budget: Option<Arc<InputBudget>>,
    /// What this codec holds of `budget`: the bytes of a partly received frame.
    claimed: usize,
    /// How a frame's payload becomes a packet.
    dialect: &'static dyn Dialect,
}

impl PacketCodec {
    /// A codec that refuses payloads larger than `max_frame_size` bytes.
    pub fn new(max_frame_size: usize) -> PacketCodec {
        PacketCodec {
            max_frame_size,
            gate: None,
            budget: None,
            claimed: 0,
            dialect: &NATIVE,
        }
    }

    /// Reads packets in `dialect` (the native one by default).
    pub fn with_dialect(mut self, dialect: &'static dyn Dialect) -> PacketCodec {
        self.dialect = dialect;
        self
    }

    /// Limits frames to [`HANDSHAKE_MAX_FRAME_SIZE`] until the returned gate is opened.
    pub(crate) fn limited_until_open(mut self) -> (PacketCodec, HandshakeGate) {
        let gate = HandshakeGate::default();
        self.gate = Some(gate.clone());
        (self, gate)
    }

    /// Counts the bytes of partly received frames against `budget`.
    pub(crate) fn with_budget(mut self, budget: Arc<InputBudget>) -> PacketCodec {
        self.budget = Some(budget);
        self
    }

    fn limit(&self) -> Result<usize, usize> {
        match &self.gate {
            Some(gate) if !gate.is_open() => Err(HANDSHAKE_MAX_FRAME_SIZE),
            _ => Ok(self.max_frame_size),
        }
    }

    /// Accounts for `buffered` bytes held between frames.
    fn hold(&mut self, buffered: usize) -> Result<(), FrameError> {
        let Some(budget) = &self.budget else {
            return Ok(());
        };
        if buffered > self.claimed {
            budget.claim(buffered - self.claimed)?;
        } else {
            budget.release(self.claimed - buffered);
        }
        self.claimed = buffered;
        Ok(())
    }
}

impl Default for PacketCodec {
    fn default() -> Self {
        PacketCodec::new(DEFAULT_MAX_FRAME_SIZE)
    }
}

impl Drop for PacketCodec {
    fn drop(&mut self) {
        if let Some(budget) = &self.budget {
            budget.release(self.claimed);
        }
    }
}

impl Decoder for PacketCodec {
    type Item = Packet;
    type Error = FrameError;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<Packet>, FrameError> {
        if src.len() < 4 {
            self.hold(src.len())?;
            return Ok(None);
        }
        let size = u32::from_be_bytes([src[0], src[1], src[2], src[3]]) as usize;
        match self.limit() {
            Ok(max) if size > max => return Err(FrameError::TooLarge { size, max }),
            Err(max) if size > max => {
                return Err(FrameError::TooLargeBeforeHandshake { size, max })
            }
            _ => {}
        }
        if src.len() < 4 + size {
            self.hold(src.len())?;
            // Room for what is missing, but never much more than has arrived: a forged
            // length alone reserves nothing.
            let missing = 4 + size - src.len();
            src.reserve(missing.min(src.len().max(GROWTH_STEP)));
            return Ok(None);
        }
        src.advance(4);
        let payload = src.split_to(size).freeze();
        self.hold(src.len())?;
        Ok(Some(self.dialect.decode(payload)?))
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
    fn a_forged_length_reserves_only_about_what_arrived() {
        let mut codec = PacketCodec::default();
        let mut buf = BytesMut::from(&(64u32 << 20).to_be_bytes()[..]);
        assert!(codec.decode(&mut buf).unwrap().is_none());
        assert!(
            buf.capacity() <= 2 * GROWTH_STEP,
            "reserved {} bytes for a 4-byte header",
            buf.capacity()
        );
    }

    #[test]
    fn frames_are_small_until_the_handshake_gate_opens() {
        let (mut codec, gate) = PacketCodec::default().limited_until_open();
        let big = (HANDSHAKE_MAX_FRAME_SIZE as u32 + 1).to_be_bytes();
        match codec.decode(&mut BytesMut::from(&big[..])) {
            Err(FrameError::TooLargeBeforeHandshake { max, .. }) => {
                assert_eq!(max, HANDSHAKE_MAX_FRAME_SIZE)
            }
            other => panic!("unexpected {other:?}"),
        }
        gate.open();
        assert!(codec
            .decode(&mut BytesMut::from(&big[..]))
            .unwrap()
            .is_none());
    }

    #[test]
    fn partly_received_frames_count_against_a_shared_budget() {
        let budget = InputBudget::new(100);
        let mut a = PacketCodec::default().with_budget(Arc::clone(&budget));
        let mut b = PacketCodec::default().with_budget(Arc::clone(&budget));
        let mut partial = BytesMut::from(&1000u32.to_be_bytes()[..]);
        partial.extend_from_slice(&[0; 56]);
        assert!(a.decode(&mut partial.clone()).unwrap().is_none());
        assert_eq!(budget.used(), 60);
        assert!(matches!(
            b.decode(&mut partial.clone()),
            Err(FrameError::InputBudget { max: 100 })
        ));
        assert_eq!(budget.used(), 60, "a refused claim takes nothing");
        // A completed frame gives its bytes back, and so does a dropped codec.
        let mut whole = BytesMut::from(&Packet::Ping(1).to_frame()[..]);
        assert_eq!(b.decode(&mut whole).unwrap(), Some(Packet::Ping(1)));
        drop(a);
        assert_eq!(budget.used(), 0);
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
#[cfg(test)]
mod tls_hint_tests {
    #[test]
    fn a_tls_record_read_as_a_length_is_named() {
        let size = u32::from_be_bytes([0x16, 0x03, 0x01, 0x00]) as usize;
        let error = super::FrameError::TooLargeBeforeHandshake { size, max: 4096 };
        assert!(error.to_string().contains("the bytes are TLS"), "{error}");
    }
}
