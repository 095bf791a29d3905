//! The eleven packets of Qt Remote Objects 2.0 (Qt 6.2 to 6.8) and their frames.
//!
//! A frame is a little-endian `u32` length (of everything after it), a `u16` packet type and
//! the packet's fields. Unlike Qt's reader, which parses from the socket stream and
//! desynchronizes on a bad length, every packet here is parsed strictly inside its frame.

use bytes::Bytes;

use super::stream::{Order, Reader, Writer};
use super::types::TypeRegistry;
use super::variant::QVariant;
use super::QtDecodeError;

/// The protocol string a Qt 6 host sends in its handshake.
pub const QT_PROTOCOL: &str = "QtRO 2.0";

/// `QMetaObject::InvokeMetaMethod`: an [`QtPacket::Invoke`] of a signal or a method.
pub const CALL_INVOKE: i32 = 0;
/// `QMetaObject::WriteProperty`: an [`QtPacket::Invoke`] that writes a property.
pub const CALL_WRITE_PROPERTY: i32 = 2;
/// The serial of a call that wants no reply.
pub const NO_SERIAL: i32 = -1;

/// One entry of an object list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QtObject {
    /// The name the source is remoted under.
    pub name: String,
    /// Its API's type name (empty for a plain QObject).
    pub type_name: String,
    /// repc's SHA-1 signature as 40 hex digits; empty (null) for no signature.
    pub signature: String,
}

/// An enum in a class definition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QtEnumDef {
    /// Its name, unqualified.
    pub name: String,
    /// A flag rather than an enum.
    pub is_flag: bool,
    /// `enum class`.
    pub is_scoped: bool,
    /// Its size in bytes (1, 2 or 4).
    pub size: u32,
    /// Its keys and values, in order.
    pub keys: Vec<(String, i32)>,
}

/// A gadget (a repc `POD`) in a class definition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QtGadgetDef {
    /// Its class name.
    pub name: String,
    /// Its properties: name and type name.
    pub properties: Vec<(String, String)>,
    /// Its own enums.
    pub enums: Vec<QtEnumDef>,
}

/// A signal in a class definition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QtSignalDef {
    /// Its normalized signature (`pinged(int,QString)`).
    pub signature: String,
    /// Its parameters' names.
    pub parameters: Vec<String>,
}

/// A method (a slot or a push method) in a class definition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QtMethodDef {
    /// Its normalized signature (`add(int,int)`).
    pub signature: String,
    /// Its return type (`void` for none).
    pub return_type: String,
    /// Its parameters' names.
    pub parameters: Vec<String>,
}

/// A property in a class definition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QtPropertyDef {
    /// Its name.
    pub name: String,
    /// Its type name.
    pub type_name: String,
    /// The signature of its notify signal; `None` for a constant property.
    pub notify: Option<String>,
}

/// The class definition a host sends to a dynamic replica (QTRO.md §3.10).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct QtDefinition {
    /// The API's type name.
    pub type_name: String,
    /// Its enums.
    pub enums: Vec<QtEnumDef>,
    /// Qt's own enums it uses (`Qt::AlignmentFlag`), by name.
    pub qt_enums: Vec<String>,
    /// The gadgets its values use.
    pub gadgets: Vec<QtGadgetDef>,
    /// Its signals in API order.
    pub signals: Vec<QtSignalDef>,
    /// Its methods in API order.
    pub methods: Vec<QtMethodDef>,
    /// Its properties in API order.
    pub properties: Vec<QtPropertyDef>,
}

/// A Qt Remote Objects packet.
#[derive(Debug, Clone, PartialEq)]
pub enum QtPacket {
    /// The host's first packet: the protocol it speaks.
    Handshake {
        /// [`QT_PROTOCOL`] for Qt 6.
        protocol: String,
    },
    /// A source's values, for a replica that has its API.
    Init {
        /// The source.
        name: String,
        /// Every property's value, in API order.
        values: Vec<QVariant>,
    },
    /// A source's definition and values, for a dynamic replica.
    InitDynamic {
        /// The source.
        name: String,
        /// Its API.
        definition: QtDefinition,
        /// Every property's value, in API order.
        values: Vec<QVariant>,
    },
    /// A replica asks for a source.
    AddObject {
        /// The source.
        name: String,
        /// The replica has no API yet and wants the definition.
        is_dynamic: bool,
    },
    /// A replica lets go of a source, or a host withdraws one.
    RemoveObject {
        /// The source.
        name: String,
    },
    /// A signal (host to replica), or a method call or property write (replica to host).
    Invoke {
        /// The source.
        name: String,
        /// [`CALL_INVOKE`] or [`CALL_WRITE_PROPERTY`].
        call: i32,
        /// The signal's, method's or property's API position.
        index: i32,
        /// The arguments.
        args: Vec<QVariant>,
        /// The call's serial, or [`NO_SERIAL`].
        serial: i32,
        /// For a notify signal, its property's position; else -1.
        property_index: i32,
    },
    /// A method's return value.
    InvokeReply {
        /// The source.
        name: String,
        /// The call's serial.
        serial: i32,
        /// What it returned.
        value: QVariant,
    },
    /// A property's new value.
    PropertyChange {
        /// The source.
        name: String,
        /// The property's API position.
        index: i32,
        /// Its value.
        value: QVariant,
    },
    /// The sources a host offers (all of them, or one that was just added).
    ObjectList {
        /// The sources.
        objects: Vec<QtObject>,
    },
    /// A replica's heartbeat.
    Ping {
        /// The replica's source.
        name: String,
    },
    /// The host's answer to a ping.
    Pong {
        /// The name the ping carried.
        name: String,
    },
}

mod kind {
    pub const HANDSHAKE: u16 = 1;
    pub const INIT: u16 = 2;
    pub const INIT_DYNAMIC: u16 = 3;
    pub const ADD_OBJECT: u16 = 4;
    pub const REMOVE_OBJECT: u16 = 5;
    pub const INVOKE: u16 = 6;
    pub const INVOKE_REPLY: u16 = 7;
    pub const PROPERTY_CHANGE: u16 = 8;
    pub const OBJECT_LIST: u16 = 9;
    pub const PING: u16 = 10;
    pub const PONG: u16 = 11;
}

impl QtPacket {
    /// Its name, for logs and errors.
    pub fn kind(&self) -> &'static str {
        match self {
            QtPacket::Handshake { .. } => "Handshake",
            QtPacket::Init { .. } => "InitPacket",
            QtPacket::InitDynamic { .. } => "InitDynamicPacket",
            QtPacket::AddObject { .. } => "AddObject",
            QtPacket::RemoveObject { .. } => "RemoveObject",
            QtPacket::Invoke { .. } => "InvokePacket",
            QtPacket::InvokeReply { .. } => "InvokeReplyPacket",
            QtPacket::PropertyChange { .. } => "PropertyChangePacket",
            QtPacket::ObjectList { .. } => "ObjectList",
            QtPacket::Ping { .. } => "Ping",
            QtPacket::Pong { .. } => "Pong",
        }
    }

    /// The source it is about (none for an object list).
    pub fn source(&self) -> Option<&str> {
        match self {
            QtPacket::ObjectList { .. } => None,
            QtPacket::Handshake { .. } => None,
            QtPacket::Init { name, .. }
            | QtPacket::InitDynamic { name, .. }
            | QtPacket::AddObject { name, .. }
            | QtPacket::RemoveObject { name }
            | QtPacket::Invoke { name, .. }
            | QtPacket::InvokeReply { name, .. }
            | QtPacket::PropertyChange { name, .. }
            | QtPacket::Ping { name }
            | QtPacket::Pong { name } => Some(name),
        }
    }

    /// Decodes one frame's payload (after the length). Values of named types are read with
    /// `types`; an `InitDynamic`'s own gadgets and enums are added to a copy of it first.
    pub fn decode(payload: &[u8], types: &TypeRegistry) -> Result<QtPacket, QtDecodeError> {
        let mut r = Reader::new(payload, Order::Little);
        let packet = decode_fields(&mut r, types)?;
        r.finish()?;
        Ok(packet)
    }

    /// Encodes it as one whole frame, length included.
    pub fn to_frame(&self, types: &TypeRegistry) -> Result<Bytes, QtDecodeError> {
        let mut out = Vec::with_capacity(64);
        self.append_frame(&mut out, types)?;
        Ok(Bytes::from(out))
    }

    /// Appends it as one whole frame to `out`; on an error `out` is left as it was.
    pub fn append_frame(
        &self,
        out: &mut Vec<u8>,
        types: &TypeRegistry,
    ) -> Result<(), QtDecodeError> {
        let at = out.len();
        let mut w = Writer::new(out, Order::Little);
        w.u32(0);
        let written = self.write_fields(&mut w, types);
        let len = u32::try_from(out.len() - at - 4).map_err(|_| QtDecodeError::TooLarge);
        match (written, len) {
            (Ok(()), Ok(len)) => {
                out[at..at + 4].copy_from_slice(&len.to_le_bytes());
                Ok(())
            }
            (Err(e), _) | (_, Err(e)) => {
                out.truncate(at);
                Err(e)
            }
        }
    }

    fn write_fields(&self, w: &mut Writer<'_>, types: &TypeRegistry) -> Result<(), QtDecodeError> {
        let values = |w: &mut Writer<'_>, values: &[QVariant]| {
            w.len32(values.len());
            values.iter().try_for_each(|v| v.write(w, types))
        };
        match self {
            QtPacket::Handshake { protocol } => {
                w.u16(kind::HANDSHAKE);
                w.text(protocol);
            }
            QtPacket::Init { name, values: vs } => {
                w.u16(kind::INIT);
                w.text(name);
                values(w, vs)?;
            }
            QtPacket::InitDynamic {
                name,
                definition,
                values: vs,
            } => {
                w.u16(kind::INIT_DYNAMIC);
                w.text(name);
                definition.write(w);
                values(w, vs)?;
            }
            QtPacket::AddObject { name, is_dynamic } => {
                w.u16(kind::ADD_OBJECT);
                w.text(name);
                w.bool(*is_dynamic);
            }
            QtPacket::RemoveObject { name } => {
                w.u16(kind::REMOVE_OBJECT);
                w.text(name);
            }
            QtPacket::Invoke {
                name,
                call,
                index,
                args,
                serial,
                property_index,
            } => {
                w.u16(kind::INVOKE);
                w.text(name);
                w.i32(*call);
                w.i32(*index);
                values(w, args)?;
                w.i32(*serial);
                w.i32(*property_index);
            }
            QtPacket::InvokeReply {
                name,
                serial,
                value,
            } => {
                w.u16(kind::INVOKE_REPLY);
                w.text(name);
                w.i32(*serial);
                value.write(w, types)?;
            }
            QtPacket::PropertyChange { name, index, value } => {
                w.u16(kind::PROPERTY_CHANGE);
                w.text(name);
                w.i32(*index);
                value.write(w, types)?;
            }
            QtPacket::ObjectList { objects } => {
                w.u16(kind::OBJECT_LIST);
                w.len32(objects.len());
                for o in objects {
                    w.text(&o.name);
                    w.text(&o.type_name);
                    match o.signature.is_empty() {
                        true => w.byte_array(None),
                        false => w.latin_text(&o.signature),
                    }
                }
            }
            QtPacket::Ping { name } => {
                w.u16(kind::PING);
                w.text(name);
            }
            QtPacket::Pong { name } => {
                w.u16(kind::PONG);
                w.text(name);
            }
        }
        Ok(())
    }
}

fn read_values(
    r: &mut Reader<'_>,
    types: &TypeRegistry,
    field: &'static str,
) -> Result<Vec<QVariant>, QtDecodeError> {
    // An invalid QVariant, the smallest, takes five bytes.
    let n = r.count(5, field)?;
    let mut values = Vec::with_capacity(n);
    for _ in 0..n {
        values.push(QVariant::read(r, types)?);
    }
    Ok(values)
}

fn decode_fields(r: &mut Reader<'_>, types: &TypeRegistry) -> Result<QtPacket, QtDecodeError> {
    let kind = r.u16("packet type")?;
    if kind == kind::OBJECT_LIST {
        let n = r.count(12, "object count")?;
        let mut objects = Vec::with_capacity(n);
        for _ in 0..n {
            objects.push(QtObject {
                name: r.text("object name")?,
                type_name: r.text("object type name")?,
                signature: r.latin_text("object signature")?,
            });
        }
        return Ok(QtPacket::ObjectList { objects });
    }
    let name = r.text("source name")?;
    Ok(match kind {
        kind::HANDSHAKE => QtPacket::Handshake { protocol: name },
        kind::INIT => QtPacket::Init {
            name,
            values: read_values(r, types, "property count")?,
        },
        kind::INIT_DYNAMIC => {
            let definition = QtDefinition::read(r)?;
            let types = definition.registry(types);
            QtPacket::InitDynamic {
                name,
                definition,
                values: read_values(r, &types, "property count")?,
            }
        }
        kind::ADD_OBJECT => QtPacket::AddObject {
            name,
            is_dynamic: r.bool("isDynamic")?,
        },
        kind::REMOVE_OBJECT => QtPacket::RemoveObject { name },
        kind::INVOKE => QtPacket::Invoke {
            name,
            call: r.i32("call")?,
            index: r.i32("index")?,
            args: read_values(r, types, "argument count")?,
            serial: r.i32("serial")?,
            property_index: r.i32("property index")?,
        },
        kind::INVOKE_REPLY => QtPacket::InvokeReply {
            name,
            serial: r.i32("serial")?,
            value: QVariant::read(r, types)?,
        },
        kind::PROPERTY_CHANGE => QtPacket::PropertyChange {
            name,
            index: r.i32("property index")?,
            value: QVariant::read(r, types)?,
        },
        kind::PING => QtPacket::Ping { name },
        kind::PONG => QtPacket::Pong { name },
        other => return Err(QtDecodeError::UnknownPacket(other)),
    })
}

fn read_names(r: &mut Reader<'_>, field: &'static str) -> Result<Vec<String>, QtDecodeError> {
    let n = r.count(4, field)?;
    (0..n).map(|_| r.latin_text(field)).collect()
}

fn write_names(w: &mut Writer<'_>, names: &[String]) {
    w.len32(names.len());
    for name in names {
        w.latin_text(name);
    }
}

impl QtEnumDef {
    fn read(r: &mut Reader<'_>) -> Result<QtEnumDef, QtDecodeError> {
        let name = r.latin_text("enum name")?;
        let is_flag = r.bool("enum isFlag")?;
        let is_scoped = r.bool("enum isScoped")?;
        let size = r.u32("enum size")?;
        let n = r.i32("enum key count")?;
        let n = usize::try_from(n).map_err(|_| QtDecodeError::CountTooLarge {
            field: "enum key count",
            count: 0,
        })?;
        if n.saturating_mul(8) > r.remaining() {
            return Err(QtDecodeError::CountTooLarge {
                field: "enum key count",
                count: n,
            });
        }
        let mut keys = Vec::with_capacity(n);
        for _ in 0..n {
            keys.push((r.latin_text("enum key")?, r.i32("enum value")?));
        }
        Ok(QtEnumDef {
            name,
            is_flag,
            is_scoped,
            size,
            keys,
        })
    }

    fn write(&self, w: &mut Writer<'_>) {
        w.latin_text(&self.name);
        w.bool(self.is_flag);
        w.bool(self.is_scoped);
        w.u32(self.size);
        w.i32(i32::try_from(self.keys.len()).unwrap_or(i32::MAX));
        for (key, value) in &self.keys {
            w.latin_text(key);
            w.i32(*value);
        }
    }
}

fn read_enums(r: &mut Reader<'_>) -> Result<Vec<QtEnumDef>, QtDecodeError> {
    let n = r.count(17, "enum count")?;
    (0..n).map(|_| QtEnumDef::read(r)).collect()
}

impl QtDefinition {
    /// Reads a definition block.
    pub fn read(r: &mut Reader<'_>) -> Result<QtDefinition, QtDecodeError> {
        let type_name = r.text("definition type name")?;
        let enums = read_enums(r)?;
        let qt_enums = read_names(r, "Qt enum")?;
        let n = r.count(12, "gadget count")?;
        let mut gadgets = Vec::with_capacity(n);
        for _ in 0..n {
            let name = r.latin_text("gadget name")?;
            let m = r.count(8, "gadget property count")?;
            let mut properties = Vec::with_capacity(m);
            for _ in 0..m {
                properties.push((
                    r.latin_text("gadget property")?,
                    r.latin_text("gadget property type")?,
                ));
            }
            gadgets.push(QtGadgetDef {
                name,
                properties,
                enums: read_enums(r)?,
            });
        }
        let n = r.count(8, "signal count")?;
        let mut signals = Vec::with_capacity(n);
        for _ in 0..n {
            signals.push(QtSignalDef {
                signature: r.latin_text("signal signature")?,
                parameters: read_names(r, "signal parameter")?,
            });
        }
        let n = r.count(12, "method count")?;
        let mut methods = Vec::with_capacity(n);
        for _ in 0..n {
            methods.push(QtMethodDef {
                signature: r.latin_text("method signature")?,
                return_type: r.latin_text("method return type")?,
                parameters: read_names(r, "method parameter")?,
            });
        }
        let n = r.count(12, "property count")?;
        let mut properties = Vec::with_capacity(n);
        for _ in 0..n {
            let name = r.c_string("property name")?;
            let type_name = r.c_string("property type")?;
            let notify = match r.byte_array("property notify")? {
                None => None,
                Some(raw) => Some(String::from_utf8(raw.to_vec()).map_err(|_| {
                    QtDecodeError::InvalidString {
                        field: "property notify",
                    }
                })?),
            };
            properties.push(QtPropertyDef {
                name,
                type_name,
                notify,
            });
        }
        Ok(QtDefinition {
            type_name,
            enums,
            qt_enums,
            gadgets,
            signals,
            methods,
            properties,
        })
    }

    /// Writes the definition block.
    pub fn write(&self, w: &mut Writer<'_>) {
        w.text(&self.type_name);
        w.len32(self.enums.len());
        self.enums.iter().for_each(|e| e.write(w));
        write_names(w, &self.qt_enums);
        w.len32(self.gadgets.len());
        for g in &self.gadgets {
            w.latin_text(&g.name);
            w.len32(g.properties.len());
            for (name, ty) in &g.properties {
                w.latin_text(name);
                w.latin_text(ty);
            }
            w.len32(g.enums.len());
            g.enums.iter().for_each(|e| e.write(w));
        }
        w.len32(self.signals.len());
        for s in &self.signals {
            w.latin_text(&s.signature);
            write_names(w, &s.parameters);
        }
        w.len32(self.methods.len());
        for m in &self.methods {
            w.latin_text(&m.signature);
            w.latin_text(&m.return_type);
            write_names(w, &m.parameters);
        }
        w.len32(self.properties.len());
        for p in &self.properties {
            w.c_string(&p.name);
            w.c_string(&p.type_name);
            match &p.notify {
                None => w.byte_array(None),
                Some(notify) => w.latin_text(notify),
            }
        }
    }

    /// `types` with this definition's gadgets and enums added, under the names values of
    /// them travel with (`MyPod`, `Demo::Mode`).
    pub fn registry(&self, types: &TypeRegistry) -> TypeRegistry {
        let mut types = types.clone();
        for e in &self.enums {
            types.add_enum(
                &format!("{}::{}", self.type_name, e.name),
                enum_size(e.size),
            );
        }
        for g in &self.gadgets {
            let fields = g.properties.iter().map(|(name, _)| name.clone()).collect();
            types.add_gadget(&g.name, fields);
            for e in &g.enums {
                types.add_enum(&format!("{}::{}", g.name, e.name), enum_size(e.size));
            }
        }
        types
    }
}

fn enum_size(size: u32) -> u8 {
    match size {
        1 => 1,
        2 => 2,
        _ => 4,
    }
}
