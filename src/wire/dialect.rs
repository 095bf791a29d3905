//! The seam between the protocol and its bytes: a [`Dialect`] turns packets into frames and
//! frames into packets. Sessions (`proto`) and the frame codec speak only to this trait, so a
//! second wire format (Qt Remote Objects' own) plugs in beside [`Native`].

use bytes::Bytes;

use super::{Packet, PacketError};

/// A wire format for [`Packet`]s.
pub trait Dialect: Send + Sync + 'static {
    /// Its name, for logs.
    fn name(&self) -> &'static str;
    /// One whole frame for `packet`, length prefix included.
    fn encode(&self, packet: &Packet) -> Bytes;
    /// [`Dialect::encode`] for a packet sent once and dropped (a reply): the frame may
    /// share a buffer with others (see `wire::transient`).
    fn encode_transient(&self, packet: &Packet) -> Bytes {
        self.encode(packet)
    }
    /// The packet in one frame's payload (after the length prefix).
    fn decode(&self, payload: Bytes) -> Result<Packet, PacketError>;
}

impl std::fmt::Debug for dyn Dialect {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// This crate's own format (DESIGN.md section 5).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Native;

impl Dialect for Native {
    fn name(&self) -> &'static str {
        "native"
    }

    fn encode(&self, packet: &Packet) -> Bytes {
        packet.to_frame()
    }

    fn encode_transient(&self, packet: &Packet) -> Bytes {
        packet.to_transient_frame()
    }

    fn decode(&self, payload: Bytes) -> Result<Packet, PacketError> {
        Packet::decode(payload)
    }
}

/// The dialect a connection speaks when nothing else was chosen.
pub(crate) static NATIVE: Native = Native;
