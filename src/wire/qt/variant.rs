//! `QVariant`: a value with its type, as `QDataStream` (version `Qt_6_2`) writes it — a `u32`
//! type id, a null flag, for user types the type's name, then the payload.
//!
//! The same values also travel *bare*, without the header, as elements of a `QList<int>` or
//! fields of QtRO's own structs; [`read_bare`] and [`write_bare`] handle those, guided by the
//! [`QtType`] the container names.

use super::stream::{Reader, Writer};
use super::types::{Builtin, NamedType, QtType, TypeRegistry, USER_TYPE};
use super::QtDecodeError;

/// The nesting of values (a list in a map in a list…) one `QVariant` may have.
pub const MAX_VARIANT_DEPTH: usize = 64;

/// A time zone as `QDateTime` streams it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TimeSpec {
    /// `Qt::LocalTime`.
    Local,
    /// `Qt::UTC`.
    Utc,
    /// `Qt::OffsetFromUTC`, in seconds.
    Offset(i32),
    /// `Qt::TimeZone`, by IANA id.
    Zone(String),
}

/// A value of one of the types QtRO can carry.
#[derive(Debug, Clone, PartialEq)]
#[allow(missing_docs)]
pub enum QVariant {
    /// `QVariant()`: no value.
    Invalid,
    Bool(bool),
    Int(i32),
    UInt(u32),
    LongLong(i64),
    ULongLong(u64),
    Double(f64),
    /// Written as a `double`, as `QDataStream` does by default.
    Float(f32),
    Short(i16),
    UShort(u16),
    SChar(i8),
    UChar(u8),
    Char(i8),
    Long(i64),
    ULong(u64),
    /// One UTF-16 code unit.
    QChar(u16),
    String(String),
    ByteArray(Vec<u8>),
    /// A null `QString` or `QByteArray`, which Qt tells from an empty one.
    Null(Builtin),
    StringList(Vec<String>),
    ByteArrayList(Vec<Vec<u8>>),
    List(Vec<QVariant>),
    /// `QVariantMap` (`hash: false`) or `QVariantHash`, in stream order.
    Map {
        hash: bool,
        entries: Vec<(String, QVariant)>,
    },
    /// `toEncoded()` of the URL.
    Url(String),
    /// Julian day.
    Date(i64),
    /// Milliseconds since midnight; `u32::MAX` for an invalid time.
    Time(u32),
    DateTime {
        date: i64,
        time: u32,
        spec: TimeSpec,
    },
    Size(i32, i32),
    SizeF(f64, f64),
    Point(i32, i32),
    PointF(f64, f64),
    /// Left, top, right, bottom (as `QRect` streams them).
    Rect(i32, i32, i32, i32),
    /// x, y, width, height.
    RectF(f64, f64, f64, f64),
    Line(i32, i32, i32, i32),
    LineF(f64, f64, f64, f64),
    /// In RFC 4122 byte order.
    Uuid([u8; 16]),
    /// The spec (1 = RGB), then alpha, red, green, blue and a pad, 16 bits each.
    Color {
        spec: i8,
        components: [u16; 5],
    },
    /// A `QVariant` held in a `QVariant` (only bare, inside QtRO's own types).
    Variant(Box<QVariant>),
    /// A value of a type known by name.
    User {
        /// Its type.
        ty: QtType,
        /// Its contents.
        value: UserValue,
    },
}

/// What a value of a named or container type holds.
#[derive(Debug, Clone, PartialEq)]
pub enum UserValue {
    /// A list's elements, bare.
    Items(Vec<QVariant>),
    /// A map's entries, bare, in stream order.
    Entries(Vec<(QVariant, QVariant)>),
    /// A pair's, a struct's or a gadget's fields (a gadget's as whole `QVariant`s).
    Fields(Vec<QVariant>),
    /// An enum's integer.
    Enum(i64),
    /// A `QRO_` sub-object.
    SubObject(SubObject),
}

/// `QRemoteObjectPackets::QRO_`: a sub-object or model property's value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubObject {
    /// The child source's name (`Class::Parent::child`, `Model::Parent::items`).
    pub name: String,
    /// Its API's type name.
    pub type_name: String,
    /// 0: a class, 1: a model, 2: a gadget.
    pub kind: u8,
    /// Its class definition (a big-endian stream), when the host sends one.
    pub class_definition: Option<Vec<u8>>,
    /// Its properties as a big-endian stream (`i32` count, then each value); `None` when
    /// the pointer is null.
    pub parameters: Option<Vec<u8>>,
}

impl QVariant {
    /// Its type.
    pub fn ty(&self) -> Option<QtType> {
        let b = |b| Some(QtType::Builtin(b));
        match self {
            QVariant::Invalid => None,
            QVariant::Bool(_) => b(Builtin::Bool),
            QVariant::Int(_) => b(Builtin::Int),
            QVariant::UInt(_) => b(Builtin::UInt),
            QVariant::LongLong(_) => b(Builtin::LongLong),
            QVariant::ULongLong(_) => b(Builtin::ULongLong),
            QVariant::Double(_) => b(Builtin::Double),
            QVariant::Float(_) => b(Builtin::Float),
            QVariant::Short(_) => b(Builtin::Short),
            QVariant::UShort(_) => b(Builtin::UShort),
            QVariant::SChar(_) => b(Builtin::SChar),
            QVariant::UChar(_) => b(Builtin::UChar),
            QVariant::Char(_) => b(Builtin::Char),
            QVariant::Long(_) => b(Builtin::Long),
            QVariant::ULong(_) => b(Builtin::ULong),
            QVariant::QChar(_) => b(Builtin::QChar),
            QVariant::String(_) => b(Builtin::String),
            QVariant::Null(ty) => b(*ty),
            QVariant::ByteArray(_) => b(Builtin::ByteArray),
            QVariant::StringList(_) => b(Builtin::StringList),
            QVariant::ByteArrayList(_) => b(Builtin::ByteArrayList),
            QVariant::List(_) => b(Builtin::VariantList),
            QVariant::Map { hash: false, .. } => b(Builtin::VariantMap),
            QVariant::Map { hash: true, .. } => b(Builtin::VariantHash),
            QVariant::Url(_) => b(Builtin::Url),
            QVariant::Date(_) => b(Builtin::Date),
            QVariant::Time(_) => b(Builtin::Time),
            QVariant::DateTime { .. } => b(Builtin::DateTime),
            QVariant::Size(..) => b(Builtin::Size),
            QVariant::SizeF(..) => b(Builtin::SizeF),
            QVariant::Point(..) => b(Builtin::Point),
            QVariant::PointF(..) => b(Builtin::PointF),
            QVariant::Rect(..) => b(Builtin::Rect),
            QVariant::RectF(..) => b(Builtin::RectF),
            QVariant::Line(..) => b(Builtin::Line),
            QVariant::LineF(..) => b(Builtin::LineF),
            QVariant::Uuid(_) => b(Builtin::Uuid),
            QVariant::Color { .. } => b(Builtin::Color),
            QVariant::Variant(_) => b(Builtin::Variant),
            QVariant::User { ty, .. } => Some(ty.clone()),
        }
    }

    /// Reads one whole `QVariant`.
    pub fn read(r: &mut Reader<'_>, types: &TypeRegistry) -> Result<QVariant, QtDecodeError> {
        read_variant(r, types, 0)
    }

    /// Writes it whole: header and payload.
    pub fn write(&self, w: &mut Writer<'_>, types: &TypeRegistry) -> Result<(), QtDecodeError> {
        write_variant(self, w, types, 0)
    }

    /// The value encoded alone in a stream of byte order `order`.
    pub fn to_bytes(
        &self,
        order: super::stream::Order,
        types: &TypeRegistry,
    ) -> Result<Vec<u8>, QtDecodeError> {
        let mut out = Vec::new();
        self.write(&mut Writer::new(&mut out, order), types)?;
        Ok(out)
    }
}

fn deeper(depth: usize) -> Result<usize, QtDecodeError> {
    if depth >= MAX_VARIANT_DEPTH {
        return Err(QtDecodeError::TooDeep);
    }
    Ok(depth + 1)
}

fn read_variant(
    r: &mut Reader<'_>,
    types: &TypeRegistry,
    depth: usize,
) -> Result<QVariant, QtDecodeError> {
    let depth = deeper(depth)?;
    let id = r.u32("variant type")?;
    let _is_null = r.u8("variant null flag")?;
    let ty = match id {
        0 => return Ok(QVariant::Invalid),
        USER_TYPE => QtType::parse(&r.c_string("variant type name")?)?,
        id => QtType::Builtin(Builtin::from_id(id).ok_or(QtDecodeError::UnknownTypeId(id))?),
    };
    read_bare_at(r, &ty, types, depth)
}

fn write_variant(
    value: &QVariant,
    w: &mut Writer<'_>,
    types: &TypeRegistry,
    depth: usize,
) -> Result<(), QtDecodeError> {
    let depth = deeper(depth)?;
    let Some(ty) = value.ty() else {
        w.u32(0);
        w.u8(1);
        return Ok(());
    };
    if let QVariant::Variant(inner) = value {
        // A QVariant never holds a QVariant on the wire: it is written as what it holds.
        return write_variant(inner, w, types, depth);
    }
    w.u32(ty.id());
    w.u8(0);
    if ty.id() == USER_TYPE {
        w.c_string(&ty.name());
    }
    write_bare_at(value, &ty, w, types, depth)
}

/// Reads a value of type `ty` without a `QVariant` header.
pub fn read_bare(
    r: &mut Reader<'_>,
    ty: &QtType,
    types: &TypeRegistry,
) -> Result<QVariant, QtDecodeError> {
    read_bare_at(r, ty, types, 0)
}

/// Writes `value` as type `ty` without a `QVariant` header.
pub fn write_bare(
    value: &QVariant,
    ty: &QtType,
    w: &mut Writer<'_>,
    types: &TypeRegistry,
) -> Result<(), QtDecodeError> {
    write_bare_at(value, ty, w, types, 0)
}

fn read_bare_at(
    r: &mut Reader<'_>,
    ty: &QtType,
    types: &TypeRegistry,
    depth: usize,
) -> Result<QVariant, QtDecodeError> {
    let depth = deeper(depth)?;
    match ty {
        QtType::Builtin(b) => read_builtin(r, *b, types, depth),
        QtType::List(item) => {
            let n = r.count(1, "list count")?;
            let mut items = Vec::with_capacity(n);
            for _ in 0..n {
                items.push(read_bare_at(r, item, types, depth)?);
            }
            Ok(user(ty, UserValue::Items(items)))
        }
        QtType::Map { key, value, .. } => {
            let n = r.count(2, "map count")?;
            let mut entries = Vec::with_capacity(n);
            for _ in 0..n {
                let k = read_bare_at(r, key, types, depth)?;
                let v = read_bare_at(r, value, types, depth)?;
                entries.push((k, v));
            }
            Ok(user(ty, UserValue::Entries(entries)))
        }
        QtType::Pair(a, b) => {
            let first = read_bare_at(r, a, types, depth)?;
            let second = read_bare_at(r, b, types, depth)?;
            Ok(user(ty, UserValue::Fields(vec![first, second])))
        }
        QtType::Named(name) => read_named(r, ty, name, types, depth),
    }
}

fn user(ty: &QtType, value: UserValue) -> QVariant {
    QVariant::User {
        ty: ty.clone(),
        value,
    }
}

fn read_named(
    r: &mut Reader<'_>,
    ty: &QtType,
    name: &str,
    types: &TypeRegistry,
    depth: usize,
) -> Result<QVariant, QtDecodeError> {
    let named = types
        .get(name)
        .ok_or_else(|| QtDecodeError::UnknownType(name.to_owned()))?;
    match named {
        NamedType::Gadget { fields } => {
            let mut values = Vec::with_capacity(fields.len().min(r.remaining()));
            for _ in fields {
                values.push(read_variant(r, types, depth)?);
            }
            Ok(user(ty, UserValue::Fields(values)))
        }
        NamedType::Enum { size } => {
            let value = match size {
                1 => i64::from(r.i8("enum")?),
                2 => i64::from(r.i16("enum")?),
                _ => i64::from(r.i32("enum")?),
            };
            Ok(user(ty, UserValue::Enum(value)))
        }
        NamedType::Fields(field_types) => {
            let mut values = Vec::with_capacity(field_types.len());
            for field in field_types {
                values.push(read_bare_at(r, field, types, depth)?);
            }
            Ok(user(ty, UserValue::Fields(values)))
        }
        NamedType::Alias(target) => match read_bare_at(r, target, types, depth)? {
            QVariant::User { value, .. } => Ok(user(ty, value)),
            other => Ok(other),
        },
        NamedType::SubObject => {
            let name = r.text("QRO_ name")?;
            let type_name = r.text("QRO_ type name")?;
            let kind = r.u8("QRO_ type")?;
            let class_definition = r.byte_array("QRO_ class definition")?.map(<[u8]>::to_vec);
            let is_null = r.bool("QRO_ null flag")?;
            let parameters = match is_null {
                true => None,
                false => Some(
                    r.byte_array("QRO_ parameters")?
                        .unwrap_or_default()
                        .to_vec(),
                ),
            };
            Ok(user(
                ty,
                UserValue::SubObject(SubObject {
                    name,
                    type_name,
                    kind,
                    class_definition,
                    parameters,
                }),
            ))
        }
    }
}

fn read_builtin(
    r: &mut Reader<'_>,
    b: Builtin,
    types: &TypeRegistry,
    depth: usize,
) -> Result<QVariant, QtDecodeError> {
    use Builtin as B;
    Ok(match b {
        B::Bool => QVariant::Bool(r.bool("bool")?),
        B::Int => QVariant::Int(r.i32("int")?),
        B::UInt => QVariant::UInt(r.u32("uint")?),
        B::LongLong => QVariant::LongLong(r.i64("qlonglong")?),
        B::ULongLong => QVariant::ULongLong(r.u64("qulonglong")?),
        B::Double => QVariant::Double(r.f64("double")?),
        B::Float => QVariant::Float(r.f64("float")? as f32),
        B::Short => QVariant::Short(r.i16("short")?),
        B::UShort => QVariant::UShort(r.u16("ushort")?),
        B::SChar => QVariant::SChar(r.i8("signed char")?),
        B::UChar => QVariant::UChar(r.u8("uchar")?),
        B::Char => QVariant::Char(r.i8("char")?),
        B::Long => QVariant::Long(r.i64("long")?),
        B::ULong => QVariant::ULong(r.u64("ulong")?),
        B::QChar => QVariant::QChar(r.u16("QChar")?),
        B::String => match r.string("QString")? {
            Some(text) => QVariant::String(text),
            None => QVariant::Null(B::String),
        },
        B::ByteArray => match r.byte_array("QByteArray")? {
            Some(bytes) => QVariant::ByteArray(bytes.to_vec()),
            None => QVariant::Null(B::ByteArray),
        },
        B::StringList => {
            let n = r.count(4, "QStringList count")?;
            let mut items = Vec::with_capacity(n);
            for _ in 0..n {
                items.push(r.text("QStringList item")?);
            }
            QVariant::StringList(items)
        }
        B::ByteArrayList => {
            let n = r.count(4, "QByteArrayList count")?;
            let mut items = Vec::with_capacity(n);
            for _ in 0..n {
                items.push(
                    r.byte_array("QByteArrayList item")?
                        .unwrap_or_default()
                        .to_vec(),
                );
            }
            QVariant::ByteArrayList(items)
        }
        B::VariantList => {
            let n = r.count(5, "QVariantList count")?;
            let mut items = Vec::with_capacity(n);
            for _ in 0..n {
                items.push(read_variant(r, types, depth)?);
            }
            QVariant::List(items)
        }
        B::VariantMap | B::VariantHash => {
            let n = r.count(9, "QVariantMap count")?;
            let mut entries = Vec::with_capacity(n);
            for _ in 0..n {
                let key = r.text("QVariantMap key")?;
                entries.push((key, read_variant(r, types, depth)?));
            }
            QVariant::Map {
                hash: b == B::VariantHash,
                entries,
            }
        }
        B::Url => {
            let raw = r.byte_array("QUrl")?.unwrap_or_default();
            QVariant::Url(
                String::from_utf8(raw.to_vec())
                    .map_err(|_| QtDecodeError::InvalidString { field: "QUrl" })?,
            )
        }
        B::Date => QVariant::Date(r.i64("QDate")?),
        B::Time => QVariant::Time(r.u32("QTime")?),
        B::DateTime => {
            let date = r.i64("QDateTime date")?;
            let time = r.u32("QDateTime time")?;
            let spec = match r.i8("QDateTime spec")? {
                0 => TimeSpec::Local,
                1 => TimeSpec::Utc,
                2 => TimeSpec::Offset(r.i32("QDateTime offset")?),
                3 => TimeSpec::Zone(r.latin_text("QDateTime zone")?),
                other => {
                    return Err(QtDecodeError::InvalidTag {
                        field: "QDateTime spec",
                        tag: other as u8 as u32,
                    })
                }
            };
            QVariant::DateTime { date, time, spec }
        }
        B::Size => QVariant::Size(r.i32("QSize")?, r.i32("QSize")?),
        B::SizeF => QVariant::SizeF(r.f64("QSizeF")?, r.f64("QSizeF")?),
        B::Point => QVariant::Point(r.i32("QPoint")?, r.i32("QPoint")?),
        B::PointF => QVariant::PointF(r.f64("QPointF")?, r.f64("QPointF")?),
        B::Rect => QVariant::Rect(
            r.i32("QRect")?,
            r.i32("QRect")?,
            r.i32("QRect")?,
            r.i32("QRect")?,
        ),
        B::RectF => QVariant::RectF(
            r.f64("QRectF")?,
            r.f64("QRectF")?,
            r.f64("QRectF")?,
            r.f64("QRectF")?,
        ),
        B::Line => QVariant::Line(
            r.i32("QLine")?,
            r.i32("QLine")?,
            r.i32("QLine")?,
            r.i32("QLine")?,
        ),
        B::LineF => QVariant::LineF(
            r.f64("QLineF")?,
            r.f64("QLineF")?,
            r.f64("QLineF")?,
            r.f64("QLineF")?,
        ),
        B::Uuid => {
            let mut uuid = [0u8; 16];
            uuid[0..4].copy_from_slice(&r.u32("QUuid")?.to_be_bytes());
            uuid[4..6].copy_from_slice(&r.u16("QUuid")?.to_be_bytes());
            uuid[6..8].copy_from_slice(&r.u16("QUuid")?.to_be_bytes());
            uuid[8..16].copy_from_slice(r.take(8, "QUuid")?);
            QVariant::Uuid(uuid)
        }
        B::Color => {
            let spec = r.i8("QColor spec")?;
            let mut components = [0u16; 5];
            for c in &mut components {
                *c = r.u16("QColor")?;
            }
            QVariant::Color { spec, components }
        }
        B::Variant => QVariant::Variant(Box::new(read_variant(r, types, depth)?)),
    })
}

fn mismatch(value: &QVariant, ty: &QtType) -> QtDecodeError {
    QtDecodeError::WrongType {
        expected: ty.name(),
        found: value
            .ty()
            .map_or_else(|| "an invalid QVariant".to_owned(), |t| t.name()),
    }
}

fn write_bare_at(
    value: &QVariant,
    ty: &QtType,
    w: &mut Writer<'_>,
    types: &TypeRegistry,
    depth: usize,
) -> Result<(), QtDecodeError> {
    let depth = deeper(depth)?;
    match (ty, value) {
        (QtType::Builtin(Builtin::Variant), v) => write_variant(v, w, types, depth),
        (QtType::Builtin(b), v) => write_builtin(v, *b, w, types, depth),
        (
            QtType::List(item),
            QVariant::User {
                value: UserValue::Items(items),
                ..
            },
        ) => {
            w.len32(items.len());
            for v in items {
                write_bare_at(v, item, w, types, depth)?;
            }
            Ok(())
        }
        (
            QtType::Map { key, value: vt, .. },
            QVariant::User {
                value: UserValue::Entries(entries),
                ..
            },
        ) => {
            w.len32(entries.len());
            for (k, v) in entries {
                write_bare_at(k, key, w, types, depth)?;
                write_bare_at(v, vt, w, types, depth)?;
            }
            Ok(())
        }
        (
            QtType::Pair(a, b),
            QVariant::User {
                value: UserValue::Fields(fields),
                ..
            },
        ) if fields.len() == 2 => {
            write_bare_at(&fields[0], a, w, types, depth)?;
            write_bare_at(&fields[1], b, w, types, depth)
        }
        (QtType::Named(name), v) => write_named(v, ty, name, w, types, depth),
        (_, v) => Err(mismatch(v, ty)),
    }
}

fn write_named(
    value: &QVariant,
    ty: &QtType,
    name: &str,
    w: &mut Writer<'_>,
    types: &TypeRegistry,
    depth: usize,
) -> Result<(), QtDecodeError> {
    let named = types
        .get(name)
        .ok_or_else(|| QtDecodeError::UnknownType(name.to_owned()))?;
    let QVariant::User {
        value: contents, ..
    } = value
    else {
        return Err(mismatch(value, ty));
    };
    match (named, contents) {
        (NamedType::Gadget { fields }, UserValue::Fields(values))
            if values.len() == fields.len() =>
        {
            for v in values {
                write_variant(v, w, types, depth)?;
            }
            Ok(())
        }
        (NamedType::Enum { size }, UserValue::Enum(v)) => {
            match size {
                1 => w.i8(*v as i8),
                2 => w.i16(*v as i16),
                _ => w.i32(*v as i32),
            }
            Ok(())
        }
        (NamedType::Fields(field_types), UserValue::Fields(values))
            if values.len() == field_types.len() =>
        {
            for (v, t) in values.iter().zip(field_types) {
                write_bare_at(v, t, w, types, depth)?;
            }
            Ok(())
        }
        (NamedType::Alias(target), contents) => {
            let inner = QVariant::User {
                ty: target.clone(),
                value: contents.clone(),
            };
            write_bare_at(&inner, target, w, types, depth)
        }
        (NamedType::SubObject, UserValue::SubObject(sub)) => {
            w.text(&sub.name);
            w.text(&sub.type_name);
            w.u8(sub.kind);
            w.byte_array(sub.class_definition.as_deref());
            w.bool(sub.parameters.is_none());
            if let Some(parameters) = &sub.parameters {
                w.byte_array(Some(parameters));
            }
            Ok(())
        }
        _ => Err(mismatch(value, ty)),
    }
}

fn write_builtin(
    value: &QVariant,
    b: Builtin,
    w: &mut Writer<'_>,
    types: &TypeRegistry,
    depth: usize,
) -> Result<(), QtDecodeError> {
    use Builtin as B;
    match (b, value) {
        (B::Bool, QVariant::Bool(v)) => w.bool(*v),
        (B::Int, QVariant::Int(v)) => w.i32(*v),
        (B::UInt, QVariant::UInt(v)) => w.u32(*v),
        (B::LongLong, QVariant::LongLong(v)) => w.i64(*v),
        (B::ULongLong, QVariant::ULongLong(v)) => w.u64(*v),
        (B::Double, QVariant::Double(v)) => w.f64(*v),
        (B::Float, QVariant::Float(v)) => w.f64(f64::from(*v)),
        (B::Short, QVariant::Short(v)) => w.i16(*v),
        (B::UShort, QVariant::UShort(v)) => w.u16(*v),
        (B::SChar, QVariant::SChar(v)) => w.i8(*v),
        (B::UChar, QVariant::UChar(v)) => w.u8(*v),
        (B::Char, QVariant::Char(v)) => w.i8(*v),
        (B::Long, QVariant::Long(v)) => w.i64(*v),
        (B::ULong, QVariant::ULong(v)) => w.u64(*v),
        (B::QChar, QVariant::QChar(v)) => w.u16(*v),
        (B::String, QVariant::String(v)) => w.text(v),
        (B::String, QVariant::Null(B::String)) => w.string(None),
        (B::ByteArray, QVariant::Null(B::ByteArray)) => w.byte_array(None),
        (B::ByteArray, QVariant::ByteArray(v)) => w.byte_array(Some(v)),
        (B::StringList, QVariant::StringList(items)) => {
            w.len32(items.len());
            for item in items {
                w.text(item);
            }
        }
        (B::ByteArrayList, QVariant::ByteArrayList(items)) => {
            w.len32(items.len());
            for item in items {
                w.byte_array(Some(item));
            }
        }
        (B::VariantList, QVariant::List(items)) => {
            w.len32(items.len());
            for item in items {
                write_variant(item, w, types, depth)?;
            }
        }
        (B::VariantMap | B::VariantHash, QVariant::Map { entries, .. }) => {
            w.len32(entries.len());
            for (key, item) in entries {
                w.text(key);
                write_variant(item, w, types, depth)?;
            }
        }
        (B::Url, QVariant::Url(url)) => w.byte_array(Some(url.as_bytes())),
        (B::Date, QVariant::Date(day)) => w.i64(*day),
        (B::Time, QVariant::Time(ms)) => w.u32(*ms),
        (B::DateTime, QVariant::DateTime { date, time, spec }) => {
            w.i64(*date);
            w.u32(*time);
            match spec {
                TimeSpec::Local => w.i8(0),
                TimeSpec::Utc => w.i8(1),
                TimeSpec::Offset(seconds) => {
                    w.i8(2);
                    w.i32(*seconds);
                }
                TimeSpec::Zone(id) => {
                    w.i8(3);
                    w.latin_text(id);
                }
            }
        }
        (B::Size, QVariant::Size(a, b)) | (B::Point, QVariant::Point(a, b)) => {
            w.i32(*a);
            w.i32(*b);
        }
        (B::SizeF, QVariant::SizeF(a, b)) | (B::PointF, QVariant::PointF(a, b)) => {
            w.f64(*a);
            w.f64(*b);
        }
        (B::Rect, QVariant::Rect(a, b, c, d)) | (B::Line, QVariant::Line(a, b, c, d)) => {
            for v in [a, b, c, d] {
                w.i32(*v);
            }
        }
        (B::RectF, QVariant::RectF(a, b, c, d)) | (B::LineF, QVariant::LineF(a, b, c, d)) => {
            for v in [a, b, c, d] {
                w.f64(*v);
            }
        }
        (B::Uuid, QVariant::Uuid(uuid)) => {
            w.u32(u32::from_be_bytes([uuid[0], uuid[1], uuid[2], uuid[3]]));
            w.u16(u16::from_be_bytes([uuid[4], uuid[5]]));
            w.u16(u16::from_be_bytes([uuid[6], uuid[7]]));
            w.raw(&uuid[8..16]);
        }
        (B::Color, QVariant::Color { spec, components }) => {
            w.i8(*spec);
            for c in components {
                w.u16(*c);
            }
        }
        (B::Variant, v) => write_variant(v, w, types, depth)?,
        (_, v) => return Err(mismatch(v, &QtType::Builtin(b))),
    }
    Ok(())
}

/// `QRO_`'s `type`: what a sub-object property holds.
pub mod sub_object_kind {
    /// A `CLASS` child: a QObject with its own properties.
    pub const CLASS: u8 = 0;
    /// A `MODEL`: a `QAbstractItemModelAdapter`.
    pub const MODEL: u8 = 1;
}

impl SubObject {
    /// A sub-object whose properties hold `values` (in Qt's order), with its class
    /// `definition` when the receiver needs one (a dynamic replica's first of a type).
    pub fn new(
        name: String,
        type_name: String,
        kind: u8,
        definition: Option<&super::QtDefinition>,
        values: &[QVariant],
        types: &TypeRegistry,
    ) -> Result<SubObject, QtDecodeError> {
        let mut parameters = Vec::new();
        let mut w = Writer::new(&mut parameters, super::stream::Order::Big);
        w.i32(i32::try_from(values.len()).map_err(|_| QtDecodeError::TooLarge)?);
        for value in values {
            value.write(&mut w, types)?;
        }
        let class_definition = definition.map(|d| {
            let mut out = Vec::new();
            d.write(&mut Writer::new(&mut out, super::stream::Order::Big));
            out
        });
        Ok(SubObject {
            name,
            type_name,
            kind,
            class_definition,
            parameters: Some(parameters),
        })
    }

    /// A null pointer at a sub-object property.
    pub fn null(name: String, type_name: String, kind: u8) -> SubObject {
        SubObject {
            name,
            type_name,
            kind,
            class_definition: None,
            parameters: None,
        }
    }

    /// As a `QVariant` of type `QRO_`.
    pub fn into_variant(self) -> QVariant {
        QVariant::User {
            ty: QtType::Named(super::types::names::QRO.to_owned()),
            value: UserValue::SubObject(self),
        }
    }

    /// Its properties' values (`None` for a null pointer), read with `types`. Each value is
    /// read within the bytes the parameters hold, so a count larger than them is refused
    /// before anything is allocated for it.
    pub fn values(&self, types: &TypeRegistry) -> Result<Option<Vec<QVariant>>, QtDecodeError> {
        let Some(parameters) = &self.parameters else {
            return Ok(None);
        };
        let mut r = Reader::new(parameters, super::stream::Order::Big);
        let count = r.i32("QRO_ value count")?;
        let count = usize::try_from(count).map_err(|_| QtDecodeError::InvalidTag {
            field: "QRO_ value count",
            tag: count as u32,
        })?;
        // Each value takes at least its 5-byte header.
        if count.saturating_mul(5) > r.remaining() {
            return Err(QtDecodeError::CountTooLarge {
                field: "QRO_ value count",
                count,
            });
        }
        let values = (0..count)
            .map(|_| QVariant::read(&mut r, types))
            .collect::<Result<Vec<_>, _>>()?;
        r.finish()?;
        Ok(Some(values))
    }

    /// Its class definition, if the host sent one.
    pub fn definition(&self) -> Result<Option<super::QtDefinition>, QtDecodeError> {
        let Some(bytes) = &self.class_definition else {
            return Ok(None);
        };
        let mut r = Reader::new(bytes, super::stream::Order::Big);
        let definition = super::QtDefinition::read(&mut r)?;
        r.finish()?;
        Ok(Some(definition))
    }
}
