//! The Qt Remote Objects 2.0 wire format (Qt 6.2 to 6.8): `QDataStream` primitives
//! ([`stream`]), `QVariant` ([`variant`]) and Qt's type names ([`types`]), and the eleven
//! packets ([`packet`]). Plain functions of bytes: no sockets, no state; every count and
//! length a peer sends is checked against the bytes of its frame before anything is kept.
//! `../shared/qt/QTRO.md` §3 (mirrored in `docs/DESIGN.md`) is the reference.

pub mod packet;
pub mod stream;
pub mod types;
pub mod variant;

pub use packet::{
    QtDefinition, QtEnumDef, QtGadgetDef, QtMethodDef, QtObject, QtPacket, QtPropertyDef,
    QtSignalDef, CALL_INVOKE, CALL_WRITE_PROPERTY, NO_SERIAL, QT_PROTOCOL,
};
pub use stream::{Order, Reader, Writer};
pub use types::{Builtin, NamedType, QtType, TypeRegistry};
pub use variant::{QVariant, SubObject, TimeSpec, UserValue};

/// Why Qt-dialect bytes could not be read (or a value could not be written as its type).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QtDecodeError {
    /// The frame ends inside a field.
    #[error("the frame ends inside {field}")]
    Truncated {
        /// The field being read.
        field: &'static str,
    },
    /// A count claims more items than the bytes left can hold.
    #[error("{field} claims {count} items, more than the frame holds")]
    CountTooLarge {
        /// The field being read.
        field: &'static str,
        /// The count claimed.
        count: usize,
    },
    /// Bytes are left after the packet's last field.
    #[error("{0} bytes after the end of the packet")]
    TrailingBytes(usize),
    /// A string is not valid UTF-16 (or a byte string not UTF-8 text).
    #[error("{field} is not valid text")]
    InvalidString {
        /// The field being read.
        field: &'static str,
    },
    /// A tag names nothing.
    #[error("{field} holds the unknown tag {tag}")]
    InvalidTag {
        /// The field being read.
        field: &'static str,
        /// Its value.
        tag: u32,
    },
    /// A `QVariant` has a built-in type id this crate does not read.
    #[error("unsupported QVariant type id {0}")]
    UnknownTypeId(u32),
    /// A type name this side does not know (an unregistered gadget, an unsupported template).
    #[error("unknown type {0:?}")]
    UnknownType(String),
    /// A type name that does not parse.
    #[error("malformed type name {0:?}")]
    BadTypeName(String),
    /// A value is not of the type it is written as.
    #[error("expected a value of type {expected}, found {found}")]
    WrongType {
        /// The type required.
        expected: String,
        /// The value's own type.
        found: String,
    },
    /// Values nested deeper than [`variant::MAX_VARIANT_DEPTH`].
    #[error("values nested deeper than {} levels", variant::MAX_VARIANT_DEPTH)]
    TooDeep,
    /// The packet type names no packet.
    #[error("unknown packet type {0}")]
    UnknownPacket(u16),
    /// A packet too large for a 32-bit length.
    #[error("packet too large for a frame")]
    TooLarge,
}
