//! The wire protocol (DESIGN.md section 5), with no sockets and no actors.
//!
//! A connection carries length-prefixed frames ([`codec`]); each frame holds one [`Packet`]
//! ([`packet`]). The packet envelope has a fixed binary layout that does not depend on the
//! negotiated [`Encoding`]: only user values (properties, arguments, return values) are
//! encoded with it. That keeps values as opaque byte slices the connection layer can route
//! and fan out without knowing the user's types, and lets a change be encoded once for every
//! subscriber.

pub mod bounded;
pub mod codec;
pub mod dialect;
pub mod encoding;
pub mod packet;
pub mod qt;
pub(crate) mod transient;

pub use bounded::Limit;
pub use codec::{FrameError, PacketCodec, DEFAULT_MAX_FRAME_SIZE};
pub use dialect::{Dialect, Native};
pub use encoding::{DecodeError, EncodeError, Encoding};
pub use packet::{
    ChildInit, FailureKind, Handshake, HandshakeError, InitFrame, ObjectInfo, Packet, PacketError,
    RemoteFailure, SourceId, NO_REPLY, PROTOCOL_NAME, PROTOCOL_VERSION,
};

#[doc(hidden)]
/// A stable 64-bit FNV-1a hash, for signatures computed at run time (tests, tools).
pub const fn fnv1a(bytes: &[u8]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    let mut i = 0;
    while i < bytes.len() {
        hash ^= bytes[i] as u64;
        hash = hash.wrapping_mul(0x0100_0000_01b3);
        i += 1;
    }
    hash
}
