//! The packet set and its fixed binary layout.
//!
//! Layout of one packet (the frame's payload): a kind byte, then the kind's fields in order.
//! Integers are little-endian and fixed-width; strings and byte strings are a `u32` length
//! followed by that many bytes; lists are a `u32` count followed by the items. Values inside
//! (`Bytes` fields) are already encoded with the connection's [`Encoding`](super::Encoding).

use bytes::{Buf, BufMut, Bytes, BytesMut};

/// The protocol name both peers send in their handshake.
pub const PROTOCOL_NAME: &str = "actix-remote-objects";
/// The protocol version this build speaks; peers with another version are refused.
pub const PROTOCOL_VERSION: u16 = 4;
/// The serial of a one-way [`Packet::Invoke`]: the host runs it and sends no reply.
pub const NO_REPLY: u32 = 0;

/// A host-assigned number for one remoted source under one name, used in the packets that
/// follow an init so that a change is the same bytes for every subscriber.
pub type SourceId = u32;

/// The first packet each peer sends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Handshake {
    /// Must be [`PROTOCOL_NAME`].
    pub protocol: String,
    /// Must be [`PROTOCOL_VERSION`].
    pub version: u16,
    /// The value encoding, by [`Encoding::name`](super::Encoding::name).
    pub encoding: String,
}

/// Why a peer's handshake was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HandshakeError {
    /// The peer speaks another protocol.
    #[error("peer speaks protocol {found:?}, expected {PROTOCOL_NAME:?}")]
    Protocol {
        /// The protocol name the peer sent.
        found: String,
    },
    /// The peer speaks another version of this protocol.
    #[error("peer speaks protocol version {found}, this build speaks {PROTOCOL_VERSION}")]
    Version {
        /// The version the peer sent.
        found: u16,
    },
    /// The peer encodes values differently.
    #[error("peer encodes values with {found:?}, this side with {expected:?}")]
    Encoding {
        /// The encoding the peer named.
        found: String,
        /// The encoding this side uses.
        expected: String,
    },
    /// The first packet was not a handshake.
    #[error("expected a handshake, got a {found} packet")]
    NotAHandshake {
        /// The kind of packet received instead.
        found: &'static str,
    },
}

impl Handshake {
    /// The handshake this build sends for `encoding`.
    pub fn ours(encoding: super::Encoding) -> Handshake {
        Handshake {
            protocol: PROTOCOL_NAME.to_owned(),
            version: PROTOCOL_VERSION,
            encoding: encoding.name().to_owned(),
        }
    }

    /// Checks a peer's handshake against what this side speaks.
    pub fn check(&self, encoding: super::Encoding) -> Result<(), HandshakeError> {
        if self.protocol != PROTOCOL_NAME {
            return Err(HandshakeError::Protocol {
                found: self.protocol.clone(),
            });
        }
        if self.version != PROTOCOL_VERSION {
            return Err(HandshakeError::Version {
                found: self.version,
            });
        }
        if self.encoding != encoding.name() {
            return Err(HandshakeError::Encoding {
                found: self.encoding.clone(),
                expected: encoding.name().to_owned(),
            });
        }
        Ok(())
    }
}

/// What a host says about one source it offers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectInfo {
    /// The name the source is remoted under.
    pub name: String,
    /// The wire name of its API.
    pub api: String,
    /// The API's signature hash.
    pub signature: u64,
}

/// One sub-object's full state inside an init or a [`Packet::ChildChange`]: the child
/// source that hangs at member `slot` of source `parent`. A tree of children travels as a
/// flat list in which every parent comes before its children.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChildInit {
    /// The source it hangs under (the init's own source, or a child listed before it).
    pub parent: SourceId,
    /// Its member's index among the parent API's children.
    pub slot: u16,
    /// The id later packets use for it.
    pub source: SourceId,
    /// Its API's signature.
    pub signature: u64,
    /// Every property value, encoded.
    pub values: Vec<Bytes>,
}

/// What an init frame carries besides values and children
/// ([`Packet::init_frame_segments`]).
#[derive(Debug, Clone, Copy)]
pub struct InitFrame<'a> {
    /// The name the source is remoted under.
    pub name: &'a str,
    /// Its id on this host.
    pub source: SourceId,
    /// Its API's signature.
    pub signature: u64,
    /// The API's description, for a dynamic acquire (an `InitDynamic`).
    pub schema: Option<&'a Bytes>,
}

/// Whose fault a failed slot call is, as the host reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureKind {
    /// The source's handler returned an error.
    Source,
    /// The host refused the call before the source saw it (unknown slot, undecodable
    /// arguments, source gone).
    Rejected,
}

/// A failed slot call as it travels back to the caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteFailure {
    /// Whose fault it is.
    pub kind: FailureKind,
    /// A human-readable reason.
    pub message: String,
}

/// One protocol message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Packet {
    /// Both peers, first: protocol, version and encoding.
    Handshake(Handshake),
    /// Host → node, after the handshake: every source the host offers.
    ObjectList(Vec<ObjectInfo>),
    /// Host → node: a source was enabled.
    AddObject(ObjectInfo),
    /// Host → node: a source was disabled (or an acquired name is not offered).
    RemoveObject {
        /// The name it was remoted under.
        name: String,
    },
    /// Node → host: subscribe to a source and send its init.
    Acquire {
        /// The name it is remoted under.
        name: String,
        /// The signature the node's replica expects.
        signature: u64,
    },
    /// Node → host: subscribe like `Acquire`, and send the API's description with the init
    /// (for a replica without compile-time types).
    AcquireDynamic {
        /// The name it is remoted under.
        name: String,
    },
    /// Node → host: unsubscribe.
    Release {
        /// The source.
        source: SourceId,
    },
    /// Host → node: the full property snapshot, in property-index order.
    Init {
        /// The name it is remoted under.
        name: String,
        /// The id later packets use for it on this host.
        source: SourceId,
        /// The source's API signature.
        signature: u64,
        /// Every property value, encoded.
        values: Vec<Bytes>,
        /// Every sub-object the source holds, with theirs, in one snapshot with its values.
        children: Vec<ChildInit>,
    },
    /// Host → node: an `Init` with the API's description (an encoded `ApiSchema`, bincode).
    InitDynamic {
        /// The name it is remoted under.
        name: String,
        /// The id later packets use for it on this host.
        source: SourceId,
        /// The source's API signature.
        signature: u64,
        /// The API's description.
        schema: Bytes,
        /// Every property value, encoded.
        values: Vec<Bytes>,
        /// Every sub-object the source holds, with theirs.
        children: Vec<ChildInit>,
    },
    /// Node → host: call a slot.
    Invoke {
        /// The source.
        source: SourceId,
        /// The slot's index in the API definition.
        slot: u16,
        /// Matches the reply to the call; [`NO_REPLY`] for a one-way call, which gets none.
        serial: u32,
        /// The encoded argument tuple.
        args: Bytes,
    },
    /// Host → node: a slot's outcome.
    InvokeReply {
        /// The source.
        source: SourceId,
        /// The call's serial.
        serial: u32,
        /// The encoded return value, or why there is none.
        outcome: Result<Bytes, RemoteFailure>,
    },
    /// Node → host: ask for a read-write property change.
    SetProperty {
        /// The source.
        source: SourceId,
        /// The property's index.
        index: u16,
        /// Matches the answer ([`Packet::SetPropertyDone`] or [`Packet::SetPropertyRefused`])
        /// to the write; [`NO_REPLY`] for a write nobody waits on (refusals are still told).
        serial: u32,
        /// The encoded new value.
        value: Bytes,
    },
    /// Host → node: a property changed.
    PropertyChange {
        /// The source.
        source: SourceId,
        /// The property's index.
        index: u16,
        /// The encoded new value.
        value: Bytes,
    },
    /// Host → node: a signal was emitted.
    Signal {
        /// The source.
        source: SourceId,
        /// The signal's index.
        index: u16,
        /// The encoded argument tuple.
        args: Bytes,
    },
    /// Host → node: the host will not serve an acquired source to this node (its access
    /// policy, or a source it cannot describe to a dynamic replica).
    AcquireRefused {
        /// The name it is remoted under.
        name: String,
        /// Why, for the replica's error.
        reason: String,
    },
    /// Host → node, right after the handshakes when the host authenticates: prove who you
    /// are.
    AuthChallenge {
        /// The scheme (e.g. `hmac-sha256-v1`).
        method: String,
        /// What to answer (a nonce, for the built-in scheme).
        challenge: Bytes,
    },
    /// Node → host: the answer to an [`Packet::AuthChallenge`].
    AuthResponse {
        /// The scheme it answers with.
        method: String,
        /// The answer.
        response: Bytes,
    },
    /// Host → node: authenticated; the object list follows.
    AuthAccepted {
        /// The host's own proof (mutual authentication), empty if the scheme has none.
        proof: Bytes,
    },
    /// Host → node: not admitted (authentication failed, or the access policy refuses this
    /// peer); the host closes the connection.
    AuthRefused {
        /// Why.
        reason: String,
    },
    /// Host → node: a [`Packet::SetProperty`] was refused (access policy, or a value the
    /// source cannot take).
    SetPropertyRefused {
        /// The source.
        source: SourceId,
        /// The property's index.
        index: u16,
        /// The write's serial.
        serial: u32,
        /// Why.
        reason: String,
    },
    /// Host → node: a [`Packet::SetProperty`] with a serial was applied (as the source
    /// decided: the value itself, or one it adjusted); its change, if any, came first.
    SetPropertyDone {
        /// The source.
        source: SourceId,
        /// The write's serial.
        serial: u32,
    },
    /// Node → host: describe the source remoted under `name` (a replica whose signature
    /// differs from the source's asks, to say what differs).
    Describe {
        /// The name it is remoted under.
        name: String,
    },
    /// Host → node: the answer to a [`Packet::Describe`]: the source's API description
    /// (bincode-encoded), empty if the host cannot describe it.
    Description {
        /// The name it is remoted under.
        name: String,
        /// The encoded description.
        schema: Bytes,
    },
    /// Host → node: child member `slot` of source `parent` now holds another source (the
    /// entry of `children` whose parent and slot these are, followed by its own children),
    /// or none (`children` is empty).
    ChildChange {
        /// The source whose member changed.
        parent: SourceId,
        /// The member's index among its API's children.
        slot: u16,
        /// The new child's tree, or nothing.
        children: Vec<ChildInit>,
    },
    /// Either side: are you there?
    Ping(u64),
    /// Either side: the answer to a [`Packet::Ping`] with the same number.
    Pong(u64),
}

/// A frame's payload is not a valid packet.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PacketError {
    /// The payload is empty.
    #[error("empty packet")]
    Empty,
    /// The kind byte names no packet.
    #[error("unknown packet kind {0}")]
    UnknownKind(u8),
    /// The payload ends inside a field.
    #[error("packet ends inside field {field}")]
    Truncated {
        /// The field being read.
        field: &'static str,
    },
    /// Bytes are left after the last field.
    #[error("{0} bytes after the end of the packet")]
    TrailingBytes(usize),
    /// A string field is not UTF-8.
    #[error("field {field} is not UTF-8")]
    InvalidUtf8 {
        /// The field being read.
        field: &'static str,
    },
    /// A tag field holds a value that names nothing.
    #[error("field {field} holds the unknown tag {tag}")]
    InvalidTag {
        /// The field being read.
        field: &'static str,
        /// Its value.
        tag: u8,
    },
}

mod kind {
    pub const HANDSHAKE: u8 = 1;
    pub const OBJECT_LIST: u8 = 2;
    pub const ADD_OBJECT: u8 = 3;
    pub const REMOVE_OBJECT: u8 = 4;
    pub const ACQUIRE: u8 = 5;
    pub const RELEASE: u8 = 6;
    pub const INIT: u8 = 7;
    pub const INVOKE: u8 = 8;
    pub const INVOKE_REPLY: u8 = 9;
    pub const SET_PROPERTY: u8 = 10;
    pub const PROPERTY_CHANGE: u8 = 11;
    pub const SIGNAL: u8 = 12;
    pub const PING: u8 = 13;
    pub const PONG: u8 = 14;
    pub const ACQUIRE_DYNAMIC: u8 = 15;
    pub const INIT_DYNAMIC: u8 = 16;
    pub const ACQUIRE_REFUSED: u8 = 17;
    pub const AUTH_CHALLENGE: u8 = 18;
    pub const AUTH_RESPONSE: u8 = 19;
    pub const AUTH_ACCEPTED: u8 = 20;
    pub const AUTH_REFUSED: u8 = 21;
    pub const SET_PROPERTY_REFUSED: u8 = 22;
    pub const DESCRIBE: u8 = 23;
    pub const DESCRIPTION: u8 = 24;
    pub const SET_PROPERTY_DONE: u8 = 25;
    pub const CHILD_CHANGE: u8 = 26;
}

impl Packet {
    /// A short name of the packet's kind, for logs and errors.
    pub fn kind_name(&self) -> &'static str {
        match self {
            Packet::Handshake(_) => "Handshake",
            Packet::ObjectList(_) => "ObjectList",
            Packet::AddObject(_) => "AddObject",
            Packet::RemoveObject { .. } => "RemoveObject",
            Packet::Acquire { .. } => "Acquire",
            Packet::Release { .. } => "Release",
            Packet::AcquireDynamic { .. } => "AcquireDynamic",
            Packet::InitDynamic { .. } => "InitDynamic",
            Packet::Init { .. } => "Init",
            Packet::Invoke { .. } => "Invoke",
            Packet::InvokeReply { .. } => "InvokeReply",
            Packet::SetProperty { .. } => "SetProperty",
            Packet::PropertyChange { .. } => "PropertyChange",
            Packet::Signal { .. } => "Signal",
            Packet::AcquireRefused { .. } => "AcquireRefused",
            Packet::AuthChallenge { .. } => "AuthChallenge",
            Packet::AuthResponse { .. } => "AuthResponse",
            Packet::AuthAccepted { .. } => "AuthAccepted",
            Packet::AuthRefused { .. } => "AuthRefused",
            Packet::SetPropertyRefused { .. } => "SetPropertyRefused",
            Packet::SetPropertyDone { .. } => "SetPropertyDone",
            Packet::Describe { .. } => "Describe",
            Packet::Description { .. } => "Description",
            Packet::ChildChange { .. } => "ChildChange",
            Packet::Ping(_) => "Ping",
            Packet::Pong(_) => "Pong",
        }
    }

    /// Appends the packet as one complete frame to `out` (for writing several at once).
    pub fn append_frame(&self, out: &mut BytesMut) {
        let at = out.len();
        out.reserve(4 + self.size_hint());
        out.put_u32(0);
        self.write_payload(out);
        let len = (out.len() - at - 4) as u32;
        out[at..at + 4].copy_from_slice(&len.to_be_bytes());
    }

    /// Encodes the packet as one complete frame: a 4-byte big-endian length, then the payload.
    pub fn to_frame(&self) -> Bytes {
        let mut out = BytesMut::with_capacity(4 + self.size_hint());
        out.put_u32(0);
        self.write_payload(&mut out);
        let len = (out.len() - 4) as u32;
        out[..4].copy_from_slice(&len.to_be_bytes());
        out.freeze()
    }

    /// [`Packet::to_frame`] for a frame sent once and dropped (a reply, a call): cut from
    /// this thread's shared buffer (`wire::transient`), so it costs no allocation of its own.
    pub fn to_transient_frame(&self) -> Bytes {
        let written =
            super::transient::cut::<std::convert::Infallible>(4 + self.size_hint(), |out| {
                out.put_u32(0);
                self.write_payload(out);
                let len = (out.len() - 4) as u32;
                out[..4].copy_from_slice(&len.to_be_bytes());
                Ok(())
            });
        match written {
            Ok(frame) => frame,
        }
    }

    /// The bytes before the value in a [`value_frame`](Packet::value_frame): the length, the
    /// kind, the source id, the index and the value's length.
    pub const VALUE_FRAME_HEADER: usize = 4 + 1 + 4 + 2 + 4;

    /// A `PropertyChange` (or, with `signal`, a `Signal`) frame whose value is encoded in
    /// place by `encode`. [`Packet::value_of_frame`] slices the value out of it, for what is
    /// cached: one buffer for both what is sent and what later inits send.
    pub fn value_frame<E>(
        signal: bool,
        source: SourceId,
        index: u16,
        encode: impl FnOnce(&mut BytesMut) -> Result<(), E>,
    ) -> Result<Bytes, E> {
        let mut out = BytesMut::with_capacity(Packet::VALUE_FRAME_HEADER + 16);
        Packet::write_value_frame(&mut out, signal, source, index, encode)?;
        Ok(out.freeze())
    }

    /// Writes the frame [`Packet::value_frame`] makes into `out`, which must be empty (a
    /// buffer reused from one change to the next); the value starts at
    /// [`Packet::VALUE_FRAME_HEADER`].
    pub fn write_value_frame<E>(
        out: &mut BytesMut,
        signal: bool,
        source: SourceId,
        index: u16,
        encode: impl FnOnce(&mut BytesMut) -> Result<(), E>,
    ) -> Result<(), E> {
        const HEADER: usize = Packet::VALUE_FRAME_HEADER;
        debug_assert!(out.is_empty());
        out.put_u32(0);
        out.put_u8(if signal {
            kind::SIGNAL
        } else {
            kind::PROPERTY_CHANGE
        });
        out.put_u32_le(source);
        out.put_u16_le(index);
        out.put_u32_le(0);
        encode(out)?;
        let value_len = (out.len() - HEADER) as u32;
        let payload_len = (out.len() - 4) as u32;
        out[..4].copy_from_slice(&payload_len.to_be_bytes());
        out[HEADER - 4..HEADER].copy_from_slice(&value_len.to_le_bytes());
        Ok(())
    }

    /// The value in a frame made by [`Packet::value_frame`], sharing its buffer. Taken only
    /// when needed: the first slice of a frame makes its buffer reference-counted (an
    /// allocation), and a frame nobody slices goes to its one connection as it is.
    pub fn value_of_frame(frame: &Bytes) -> Bytes {
        frame.slice(Packet::VALUE_FRAME_HEADER.min(frame.len())..)
    }

    /// An `Init` frame as segments, the same bytes as [`Packet::to_frame`] of the same init:
    /// values of `inline_limit` bytes or less are copied into the surrounding segments, larger
    /// ones are shared as they are, so a large property is never copied to be sent.
    pub fn init_frame_segments(
        header: InitFrame<'_>,
        values: &[Bytes],
        children: &[ChildInit],
        inline_limit: usize,
    ) -> Vec<Bytes> {
        let InitFrame {
            name,
            source,
            signature,
            schema,
        } = header;
        let schema_len = schema.map_or(0, |s| 4 + s.len());
        let children_len = 4 + children
            .iter()
            .map(|c| 18 + values_len(&c.values))
            .sum::<usize>();
        let payload_len =
            1 + 4 + name.len() + 4 + 8 + schema_len + values_len(values) + children_len;
        let mut frame = Segments {
            done: Vec::new(),
            current: BytesMut::with_capacity(64 + name.len() + schema_len),
            inline_limit,
        };
        let out = &mut frame.current;
        out.put_u32(payload_len as u32);
        out.put_u8(if schema.is_some() {
            kind::INIT_DYNAMIC
        } else {
            kind::INIT
        });
        put_str(out, name);
        out.put_u32_le(source);
        out.put_u64_le(signature);
        if let Some(schema) = schema {
            put_bytes(out, schema);
        }
        frame.values(values);
        frame.current.put_u32_le(children.len() as u32);
        for child in children {
            put_child_header(&mut frame.current, child);
            frame.values(&child.values);
        }
        frame.finish()
    }

    fn size_hint(&self) -> usize {
        match self {
            Packet::Init { values, name, .. } => {
                32 + name.len() + values.iter().map(|v| v.len() + 4).sum::<usize>()
            }
            Packet::Invoke { args, .. } | Packet::Signal { args, .. } => 16 + args.len(),
            Packet::PropertyChange { value, .. } | Packet::SetProperty { value, .. } => {
                16 + value.len()
            }
            Packet::InvokeReply { outcome: Ok(v), .. } => 16 + v.len(),
            _ => 64,
        }
    }

    fn write_payload(&self, out: &mut BytesMut) {
        match self {
            Packet::Handshake(h) => {
                out.put_u8(kind::HANDSHAKE);
                put_str(out, &h.protocol);
                out.put_u16_le(h.version);
                put_str(out, &h.encoding);
            }
            Packet::ObjectList(list) => {
                out.put_u8(kind::OBJECT_LIST);
                out.put_u32_le(list.len() as u32);
                for info in list {
                    put_object_info(out, info);
                }
            }
            Packet::AddObject(info) => {
                out.put_u8(kind::ADD_OBJECT);
                put_object_info(out, info);
            }
            Packet::RemoveObject { name } => {
                out.put_u8(kind::REMOVE_OBJECT);
                put_str(out, name);
            }
            Packet::Acquire { name, signature } => {
                out.put_u8(kind::ACQUIRE);
                put_str(out, name);
                out.put_u64_le(*signature);
            }
            Packet::Release { source } => {
                out.put_u8(kind::RELEASE);
                out.put_u32_le(*source);
            }
            Packet::AcquireDynamic { name } => {
                out.put_u8(kind::ACQUIRE_DYNAMIC);
                put_str(out, name);
            }
            Packet::InitDynamic {
                name,
                source,
                signature,
                schema,
                values,
                children,
            } => {
                out.put_u8(kind::INIT_DYNAMIC);
                put_str(out, name);
                out.put_u32_le(*source);
                out.put_u64_le(*signature);
                put_bytes(out, schema);
                put_values(out, values);
                put_children(out, children);
            }
            Packet::Init {
                name,
                source,
                signature,
                values,
                children,
            } => {
                out.put_u8(kind::INIT);
                put_str(out, name);
                out.put_u32_le(*source);
                out.put_u64_le(*signature);
                put_values(out, values);
                put_children(out, children);
            }
            Packet::ChildChange {
                parent,
                slot,
                children,
            } => {
                out.put_u8(kind::CHILD_CHANGE);
                out.put_u32_le(*parent);
                out.put_u16_le(*slot);
                put_children(out, children);
            }
            Packet::Invoke {
                source,
                slot,
                serial,
                args,
            } => {
                out.put_u8(kind::INVOKE);
                out.put_u32_le(*source);
                out.put_u16_le(*slot);
                out.put_u32_le(*serial);
                put_bytes(out, args);
            }
            Packet::InvokeReply {
                source,
                serial,
                outcome,
            } => {
                out.put_u8(kind::INVOKE_REPLY);
                out.put_u32_le(*source);
                out.put_u32_le(*serial);
                match outcome {
                    Ok(value) => {
                        out.put_u8(0);
                        put_bytes(out, value);
                    }
                    Err(failure) => {
                        out.put_u8(match failure.kind {
                            FailureKind::Source => 1,
                            FailureKind::Rejected => 2,
                        });
                        put_str(out, &failure.message);
                    }
                }
            }
            Packet::SetProperty {
                source,
                index,
                serial,
                value,
            } => {
                out.put_u8(kind::SET_PROPERTY);
                out.put_u32_le(*source);
                out.put_u16_le(*index);
                out.put_u32_le(*serial);
                put_bytes(out, value);
            }
            Packet::PropertyChange {
                source,
                index,
                value,
            } => {
                out.put_u8(kind::PROPERTY_CHANGE);
                out.put_u32_le(*source);
                out.put_u16_le(*index);
                put_bytes(out, value);
            }
            Packet::Signal {
                source,
                index,
                args,
            } => {
                out.put_u8(kind::SIGNAL);
                out.put_u32_le(*source);
                out.put_u16_le(*index);
                put_bytes(out, args);
            }
            Packet::AcquireRefused { name, reason } => {
                out.put_u8(kind::ACQUIRE_REFUSED);
                put_str(out, name);
                put_str(out, reason);
            }
            Packet::AuthChallenge { method, challenge } => {
                out.put_u8(kind::AUTH_CHALLENGE);
                put_str(out, method);
                put_bytes(out, challenge);
            }
            Packet::AuthResponse { method, response } => {
                out.put_u8(kind::AUTH_RESPONSE);
                put_str(out, method);
                put_bytes(out, response);
            }
            Packet::AuthAccepted { proof } => {
                out.put_u8(kind::AUTH_ACCEPTED);
                put_bytes(out, proof);
            }
            Packet::AuthRefused { reason } => {
                out.put_u8(kind::AUTH_REFUSED);
                put_str(out, reason);
            }
            Packet::SetPropertyRefused {
                source,
                index,
                serial,
                reason,
            } => {
                out.put_u8(kind::SET_PROPERTY_REFUSED);
                out.put_u32_le(*source);
                out.put_u16_le(*index);
                out.put_u32_le(*serial);
                put_str(out, reason);
            }
            Packet::SetPropertyDone { source, serial } => {
                out.put_u8(kind::SET_PROPERTY_DONE);
                out.put_u32_le(*source);
                out.put_u32_le(*serial);
            }
            Packet::Describe { name } => {
                out.put_u8(kind::DESCRIBE);
                put_str(out, name);
            }
            Packet::Description { name, schema } => {
                out.put_u8(kind::DESCRIPTION);
                put_str(out, name);
                put_bytes(out, schema);
            }
            Packet::Ping(n) => {
                out.put_u8(kind::PING);
                out.put_u64_le(*n);
            }
            Packet::Pong(n) => {
                out.put_u8(kind::PONG);
                out.put_u64_le(*n);
            }
        }
    }

    /// Decodes one frame's payload. Byte-string fields share `payload`'s memory.
    pub fn decode(payload: Bytes) -> Result<Packet, PacketError> {
        let mut r = Reader { buf: payload };
        let kind = r.u8("kind").map_err(|_| PacketError::Empty)?;
        let packet = match kind {
            kind::HANDSHAKE => Packet::Handshake(Handshake {
                protocol: r.string("protocol")?,
                version: r.u16("version")?,
                encoding: r.string("encoding")?,
            }),
            kind::OBJECT_LIST => {
                let count = r.count("objects", 16)?;
                let mut list = Vec::with_capacity(count);
                for _ in 0..count {
                    list.push(r.object_info()?);
                }
                Packet::ObjectList(list)
            }
            kind::ADD_OBJECT => Packet::AddObject(r.object_info()?),
            kind::REMOVE_OBJECT => Packet::RemoveObject {
                name: r.string("name")?,
            },
            kind::ACQUIRE => Packet::Acquire {
                name: r.string("name")?,
                signature: r.u64("signature")?,
            },
            kind::RELEASE => Packet::Release {
                source: r.u32("source")?,
            },
            kind::ACQUIRE_DYNAMIC => Packet::AcquireDynamic {
                name: r.string("name")?,
            },
            kind::INIT_DYNAMIC => {
                let name = r.string("name")?;
                let source = r.u32("source")?;
                let signature = r.u64("signature")?;
                let schema = r.bytes("schema")?;
                let values = r.values()?;
                Packet::InitDynamic {
                    name,
                    source,
                    signature,
                    schema,
                    values,
                    children: r.children()?,
                }
            }
            kind::INIT => {
                let name = r.string("name")?;
                let source = r.u32("source")?;
                let signature = r.u64("signature")?;
                let values = r.values()?;
                Packet::Init {
                    name,
                    source,
                    signature,
                    values,
                    children: r.children()?,
                }
            }
            kind::INVOKE => Packet::Invoke {
                source: r.u32("source")?,
                slot: r.u16("slot")?,
                serial: r.u32("serial")?,
                args: r.bytes("args")?,
            },
            kind::INVOKE_REPLY => {
                let source = r.u32("source")?;
                let serial = r.u32("serial")?;
                let outcome = match r.u8("outcome")? {
                    0 => Ok(r.bytes("value")?),
                    1 => Err(RemoteFailure {
                        kind: FailureKind::Source,
                        message: r.string("message")?,
                    }),
                    2 => Err(RemoteFailure {
                        kind: FailureKind::Rejected,
                        message: r.string("message")?,
                    }),
                    tag => {
                        return Err(PacketError::InvalidTag {
                            field: "outcome",
                            tag,
                        })
                    }
                };
                Packet::InvokeReply {
                    source,
                    serial,
                    outcome,
                }
            }
            kind::SET_PROPERTY => Packet::SetProperty {
                source: r.u32("source")?,
                index: r.u16("index")?,
                serial: r.u32("serial")?,
                value: r.bytes("value")?,
            },
            kind::PROPERTY_CHANGE => Packet::PropertyChange {
                source: r.u32("source")?,
                index: r.u16("index")?,
                value: r.last_bytes("value")?,
            },
            kind::SIGNAL => Packet::Signal {
                source: r.u32("source")?,
                index: r.u16("index")?,
                args: r.last_bytes("args")?,
            },
            kind::ACQUIRE_REFUSED => Packet::AcquireRefused {
                name: r.string("name")?,
                reason: r.string("reason")?,
            },
            kind::AUTH_CHALLENGE => Packet::AuthChallenge {
                method: r.string("method")?,
                challenge: r.bytes("challenge")?,
            },
            kind::AUTH_RESPONSE => Packet::AuthResponse {
                method: r.string("method")?,
                response: r.bytes("response")?,
            },
            kind::AUTH_ACCEPTED => Packet::AuthAccepted {
                proof: r.bytes("proof")?,
            },
            kind::AUTH_REFUSED => Packet::AuthRefused {
                reason: r.string("reason")?,
            },
            kind::SET_PROPERTY_REFUSED => Packet::SetPropertyRefused {
                source: r.u32("source")?,
                index: r.u16("index")?,
                serial: r.u32("serial")?,
                reason: r.string("reason")?,
            },
            kind::SET_PROPERTY_DONE => Packet::SetPropertyDone {
                source: r.u32("source")?,
                serial: r.u32("serial")?,
            },
            kind::DESCRIBE => Packet::Describe {
                name: r.string("name")?,
            },
            kind::DESCRIPTION => Packet::Description {
                name: r.string("name")?,
                schema: r.bytes("schema")?,
            },
            kind::CHILD_CHANGE => Packet::ChildChange {
                parent: r.u32("parent")?,
                slot: r.u16("slot")?,
                children: r.children()?,
            },
            kind::PING => Packet::Ping(r.u64("nonce")?),
            kind::PONG => Packet::Pong(r.u64("nonce")?),
            other => return Err(PacketError::UnknownKind(other)),
        };
        if r.buf.has_remaining() {
            return Err(PacketError::TrailingBytes(r.buf.remaining()));
        }
        Ok(packet)
    }
}

fn put_str(out: &mut BytesMut, s: &str) {
    put_bytes(out, s.as_bytes());
}

fn put_bytes(out: &mut BytesMut, b: &[u8]) {
    out.put_u32_le(b.len() as u32);
    out.put_slice(b);
}

fn put_values(out: &mut BytesMut, values: &[Bytes]) {
    out.put_u32_le(values.len() as u32);
    for value in values {
        put_bytes(out, value);
    }
}

fn put_children(out: &mut BytesMut, children: &[ChildInit]) {
    out.put_u32_le(children.len() as u32);
    for child in children {
        put_child_header(out, child);
        put_values(out, &child.values);
    }
}

fn put_child_header(out: &mut BytesMut, child: &ChildInit) {
    out.put_u32_le(child.parent);
    out.put_u16_le(child.slot);
    out.put_u32_le(child.source);
    out.put_u64_le(child.signature);
}

/// A frame built as segments: small values copied in, large ones shared as they are.
struct Segments {
    done: Vec<Bytes>,
    current: BytesMut,
    inline_limit: usize,
}

impl Segments {
    fn values(&mut self, values: &[Bytes]) {
        self.current.put_u32_le(values.len() as u32);
        for value in values {
            self.current.put_u32_le(value.len() as u32);
            if value.len() <= self.inline_limit {
                self.current.put_slice(value);
            } else {
                self.done.push(std::mem::take(&mut self.current).freeze());
                self.done.push(value.clone());
            }
        }
    }

    fn finish(mut self) -> Vec<Bytes> {
        if !self.current.is_empty() {
            self.done.push(self.current.freeze());
        }
        self.done
    }
}

fn values_len(values: &[Bytes]) -> usize {
    4 + values.iter().map(|v| 4 + v.len()).sum::<usize>()
}

fn put_object_info(out: &mut BytesMut, info: &ObjectInfo) {
    put_str(out, &info.name);
    put_str(out, &info.api);
    out.put_u64_le(info.signature);
}

/// Bounds-checked reads over a payload; every read names its field for the error.
struct Reader {
    buf: Bytes,
}

impl Reader {
    fn need(&self, n: usize, field: &'static str) -> Result<(), PacketError> {
        if self.buf.remaining() < n {
            Err(PacketError::Truncated { field })
        } else {
            Ok(())
        }
    }

    fn u8(&mut self, field: &'static str) -> Result<u8, PacketError> {
        self.need(1, field)?;
        Ok(self.buf.get_u8())
    }

    fn u16(&mut self, field: &'static str) -> Result<u16, PacketError> {
        self.need(2, field)?;
        Ok(self.buf.get_u16_le())
    }

    fn u32(&mut self, field: &'static str) -> Result<u32, PacketError> {
        self.need(4, field)?;
        Ok(self.buf.get_u32_le())
    }

    fn u64(&mut self, field: &'static str) -> Result<u64, PacketError> {
        self.need(8, field)?;
        Ok(self.buf.get_u64_le())
    }

    /// A list count, checked against what the rest of the payload could hold so that a
    /// forged count cannot make us allocate more than the frame's size.
    fn count(&mut self, field: &'static str, min_item_size: usize) -> Result<usize, PacketError> {
        let count = self.u32(field)? as usize;
        if count.saturating_mul(min_item_size) > self.buf.remaining() {
            return Err(PacketError::Truncated { field });
        }
        Ok(count)
    }

    fn bytes(&mut self, field: &'static str) -> Result<Bytes, PacketError> {
        let len = self.u32(field)? as usize;
        self.need(len, field)?;
        Ok(self.buf.split_to(len))
    }

    /// Like [`Reader::bytes`], for a packet's last field: when it fills the rest of the
    /// payload it is the payload itself, not a second handle on its buffer.
    fn last_bytes(&mut self, field: &'static str) -> Result<Bytes, PacketError> {
        let len = self.u32(field)? as usize;
        self.need(len, field)?;
        if len == self.buf.len() {
            return Ok(std::mem::take(&mut self.buf));
        }
        Ok(self.buf.split_to(len))
    }

    fn string(&mut self, field: &'static str) -> Result<String, PacketError> {
        let bytes = self.bytes(field)?;
        String::from_utf8(bytes.to_vec()).map_err(|_| PacketError::InvalidUtf8 { field })
    }

    /// An init's property values.
    fn values(&mut self) -> Result<Vec<Bytes>, PacketError> {
        let count = self.count("values", 4)?;
        let mut values = Vec::with_capacity(count);
        for _ in 0..count {
            values.push(self.bytes("value")?);
        }
        Ok(values)
    }

    /// An init's sub-objects.
    fn children(&mut self) -> Result<Vec<ChildInit>, PacketError> {
        // parent, slot, source, signature, value count
        let count = self.count("children", 4 + 2 + 4 + 8 + 4)?;
        let mut children = Vec::with_capacity(count);
        for _ in 0..count {
            children.push(ChildInit {
                parent: self.u32("parent")?,
                slot: self.u16("slot")?,
                source: self.u32("source")?,
                signature: self.u64("signature")?,
                values: self.values()?,
            });
        }
        Ok(children)
    }

    fn object_info(&mut self) -> Result<ObjectInfo, PacketError> {
        Ok(ObjectInfo {
            name: self.string("name")?,
            api: self.string("api")?,
            signature: self.u64("signature")?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn every_kind() -> Vec<Packet> {
        let info = ObjectInfo {
            name: "Printer".into(),
            api: "Printer".into(),
            signature: 42,
        };
        vec![
            Packet::Handshake(Handshake::ours(super::super::Encoding::Bincode)),
            Packet::ObjectList(vec![info.clone(), info.clone()]),
            Packet::AddObject(info),
            Packet::RemoveObject { name: "x".into() },
            Packet::Acquire {
                name: "x".into(),
                signature: u64::MAX,
            },
            Packet::Release { source: 3 },
            Packet::AcquireDynamic { name: "x".into() },
            Packet::InitDynamic {
                name: "x".into(),
                source: 1,
                signature: 9,
                schema: Bytes::from_static(b"s"),
                values: vec![Bytes::from_static(b"ab")],
                children: Vec::new(),
            },
            Packet::Init {
                name: "x".into(),
                source: 1,
                signature: 9,
                values: vec![Bytes::from_static(b"ab"), Bytes::new()],
                children: Vec::new(),
            },
            Packet::Invoke {
                source: 1,
                slot: 2,
                serial: 3,
                args: Bytes::from_static(b"\x01"),
            },
            Packet::InvokeReply {
                source: 1,
                serial: 3,
                outcome: Ok(Bytes::from_static(b"r")),
            },
            Packet::InvokeReply {
                source: 1,
                serial: 4,
                outcome: Err(RemoteFailure {
                    kind: FailureKind::Source,
                    message: "no".into(),
                }),
            },
            Packet::InvokeReply {
                source: 1,
                serial: 5,
                outcome: Err(RemoteFailure {
                    kind: FailureKind::Rejected,
                    message: "?".into(),
                }),
            },
            Packet::SetProperty {
                source: 1,
                index: 0,
                serial: 4,
                value: Bytes::from_static(b"v"),
            },
            Packet::PropertyChange {
                source: 1,
                index: 1,
                value: Bytes::from_static(b"w"),
            },
            Packet::Signal {
                source: 1,
                index: 0,
                args: Bytes::new(),
            },
            Packet::AcquireRefused {
                name: "Printer".into(),
                reason: "not for you".into(),
            },
            Packet::AuthChallenge {
                method: "m".into(),
                challenge: Bytes::from_static(b"nonce"),
            },
            Packet::AuthResponse {
                method: "m".into(),
                response: Bytes::from_static(b"answer"),
            },
            Packet::AuthAccepted {
                proof: Bytes::from_static(b"proof"),
            },
            Packet::AuthRefused {
                reason: "no".into(),
            },
            Packet::SetPropertyRefused {
                source: 1,
                index: 2,
                serial: 3,
                reason: "no".into(),
            },
            Packet::SetPropertyDone {
                source: 1,
                serial: 3,
            },
            Packet::Describe {
                name: "Printer".into(),
            },
            Packet::Description {
                name: "Printer".into(),
                schema: Bytes::from_static(b"schema"),
            },
            Packet::ChildChange {
                parent: 1,
                slot: 2,
                children: vec![ChildInit {
                    parent: 1,
                    slot: 2,
                    source: 0x8000_0003,
                    signature: 4,
                    values: vec![Bytes::from_static(b"v"), Bytes::new()],
                }],
            },
            Packet::ChildChange {
                parent: 1,
                slot: 0,
                children: vec![],
            },
            Packet::Ping(7),
            Packet::Pong(7),
        ]
    }

    #[test]
    fn every_kind_round_trips_through_a_frame() {
        for packet in every_kind() {
            let frame = packet.to_frame();
            let len = u32::from_be_bytes(frame[..4].try_into().unwrap()) as usize;
            assert_eq!(len, frame.len() - 4, "{packet:?}");
            assert_eq!(Packet::decode(frame.slice(4..)).unwrap(), packet);
        }
    }

    #[test]
    fn value_frames_are_the_same_bytes_as_the_packets() {
        let encode = |out: &mut BytesMut| -> Result<(), ()> {
            out.put_slice(b"val");
            Ok(())
        };
        let frame = Packet::value_frame(false, 7, 2, encode).unwrap();
        let value = Packet::value_of_frame(&frame);
        let expected = Packet::PropertyChange {
            source: 7,
            index: 2,
            value: Bytes::from_static(b"val"),
        };
        assert_eq!(frame, expected.to_frame());
        assert_eq!(value, Bytes::from_static(b"val"));
        let frame = Packet::value_frame(true, 7, 2, encode).unwrap();
        assert_eq!(
            frame,
            Packet::Signal {
                source: 7,
                index: 2,
                args: Bytes::from_static(b"val")
            }
            .to_frame()
        );
    }

    #[test]
    fn init_segments_are_the_same_bytes_as_the_frame() {
        let big = Bytes::from(vec![9u8; 100]);
        let values = vec![
            Bytes::from_static(b"ab"),
            big.clone(),
            Bytes::new(),
            big.clone(),
        ];
        let children = vec![
            ChildInit {
                parent: 4,
                slot: 1,
                source: 0x8000_0001,
                signature: 7,
                values: vec![big.clone(), Bytes::from_static(b"c")],
            },
            ChildInit {
                parent: 0x8000_0001,
                slot: 0,
                source: 0x8000_0002,
                signature: 8,
                values: vec![],
            },
        ];
        let schema = Bytes::from_static(b"schema");
        let header = |schema| InitFrame {
            name: "x",
            source: 4,
            signature: 5,
            schema,
        };
        for kids in [Vec::new(), children] {
            let frame = Packet::Init {
                name: "x".into(),
                source: 4,
                signature: 5,
                values: values.clone(),
                children: kids.clone(),
            }
            .to_frame();
            for limit in [0, 10, 1000] {
                let segments = Packet::init_frame_segments(header(None), &values, &kids, limit);
                assert_eq!(segments.concat(), frame.to_vec(), "inline limit {limit}");
            }
            let dynamic = Packet::InitDynamic {
                name: "x".into(),
                source: 4,
                signature: 5,
                schema: schema.clone(),
                values: values.clone(),
                children: kids.clone(),
            };
            assert_eq!(
                Packet::init_frame_segments(header(Some(&schema)), &values, &kids, 10).concat(),
                dynamic.to_frame().to_vec()
            );
            let segments = Packet::init_frame_segments(header(None), &values, &kids, 10);
            assert!(
                segments.iter().any(|s| s.as_ptr() == big.as_ptr()),
                "large values are shared, not copied"
            );
        }
    }

    #[test]
    fn every_truncation_is_an_error_not_a_panic() {
        for packet in every_kind() {
            let payload = packet.to_frame().slice(4..);
            for cut in 0..payload.len() {
                assert!(
                    Packet::decode(payload.slice(..cut)).is_err(),
                    "{packet:?} cut at {cut}"
                );
            }
        }
    }

    #[test]
    fn random_payloads_never_panic() {
        // Seeded, so a failure reproduces: random bytes, and valid packets with random
        // bytes flipped, all decode to a packet or an error.
        let mut rng = fastrand::Rng::with_seed(0x5eed);
        let valid: Vec<Bytes> = every_kind()
            .iter()
            .map(|p| p.to_frame().slice(4..))
            .collect();
        for _ in 0..50_000 {
            let payload: Vec<u8> = if rng.bool() {
                (0..rng.usize(0..64)).map(|_| rng.u8(..)).collect()
            } else {
                let mut p = valid[rng.usize(..valid.len())].to_vec();
                for _ in 0..rng.usize(1..4) {
                    let i = rng.usize(..p.len());
                    p[i] = rng.u8(..);
                }
                p
            };
            let _ = Packet::decode(Bytes::from(payload));
        }
    }

    #[test]
    fn unknown_kind_and_trailing_bytes_are_errors() {
        assert_eq!(
            Packet::decode(Bytes::from_static(&[200])),
            Err(PacketError::UnknownKind(200))
        );
        assert_eq!(Packet::decode(Bytes::new()), Err(PacketError::Empty));
        let mut payload = Packet::Ping(1).to_frame().slice(4..).to_vec();
        payload.push(0);
        assert_eq!(
            Packet::decode(payload.into()),
            Err(PacketError::TrailingBytes(1))
        );
    }

    #[test]
    fn a_forged_list_count_does_not_allocate() {
        let mut payload = vec![kind::OBJECT_LIST];
        payload.extend_from_slice(&u32::MAX.to_le_bytes());
        assert_eq!(
            Packet::decode(payload.into()),
            Err(PacketError::Truncated { field: "objects" })
        );
    }

    #[test]
    fn handshake_checks_name_version_and_encoding() {
        let enc = super::super::Encoding::Bincode;
        let ours = Handshake::ours(enc);
        assert_eq!(ours.check(enc), Ok(()));
        let wrong_name = Handshake {
            protocol: "qtro".into(),
            ..ours.clone()
        };
        assert!(matches!(
            wrong_name.check(enc),
            Err(HandshakeError::Protocol { .. })
        ));
        let wrong_version = Handshake {
            version: 99,
            ..ours.clone()
        };
        assert_eq!(
            wrong_version.check(enc),
            Err(HandshakeError::Version { found: 99 })
        );
        let wrong_encoding = Handshake {
            encoding: "json".into(),
            ..ours
        };
        assert!(matches!(
            wrong_encoding.check(enc),
            Err(HandshakeError::Encoding { .. })
        ));
    }
}
