//! Values between this crate's [`Value`] (shaped by a [`TypeFormat`]) and Qt's [`QVariant`]
//! (typed by a [`QtType`]), both ways, following the type table of [`super::api`].

use std::collections::BTreeMap;

use crate::values::schema::VariantShape;
use crate::values::{TypeDef, TypeFormat, Value};
use crate::wire::qt::{Builtin, QVariant, QtType, TimeSpec, UserValue};

use super::api::{qt_value_type, VARIANT};

/// A value that does not fit the type it is converted to.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cannot convert {found} to {expected}")]
pub struct ConvertError {
    /// The type required.
    pub expected: String,
    /// What was given.
    pub found: String,
}

fn error(expected: impl std::fmt::Debug, found: impl std::fmt::Debug) -> ConvertError {
    ConvertError {
        expected: format!("{expected:?}"),
        found: format!("{found:?}"),
    }
}

type Types = BTreeMap<String, TypeDef>;

/// What conversions read: the schema's named types, and the Qt values of its enums' keys.
pub struct Cx<'a> {
    /// The schema's named types.
    pub types: &'a Types,
    /// Each enum's keys with their Qt values.
    pub enums: &'a [super::api::QtEnum],
}

impl<'a> Cx<'a> {
    /// The context of `api`'s values.
    pub fn of(api: &'a super::api::QtApi) -> Cx<'a> {
        Cx {
            types: &api.schema.types,
            enums: &api.enums,
        }
    }

    /// The Qt value of key `key` of enum `name` (its variant index when Qt gave none).
    fn enum_value(&self, name: &str, key: &str, index: u32) -> i64 {
        self.enums
            .iter()
            .find(|e| e.name == name)
            .and_then(|e| e.keys.iter().find(|(k, _)| k == key))
            .map_or(i64::from(index), |(_, v)| i64::from(*v))
    }

    /// The key of enum `name` whose Qt value is `value`.
    fn enum_key(&self, name: &str, value: i64) -> Option<&str> {
        let e = self.enums.iter().find(|e| e.name == name)?;
        e.keys
            .iter()
            .find(|(_, v)| i64::from(*v) == value)
            .map(|(k, _)| k.as_str())
    }
}

/// The Qt value of `value`, a value of shape `format`, as type `qt`.
pub fn to_qvariant(
    value: &Value,
    format: &TypeFormat,
    qt: &QtType,
    cx: &Cx<'_>,
) -> Result<QVariant, ConvertError> {
    use TypeFormat as F;
    let int = |v: &Value| match v {
        Value::Int(i) => Some(*i),
        Value::UInt(u) => i64::try_from(*u).ok(),
        _ => None,
    };
    let uint = |v: &Value| match v {
        Value::UInt(u) => Some(*u),
        Value::Int(i) => u64::try_from(*i).ok(),
        _ => None,
    };
    let fail = || error(format, value);
    Ok(match (format, value) {
        (F::Unit, _) => QVariant::Invalid,
        (F::Bool, Value::Bool(b)) => QVariant::Bool(*b),
        (F::I8, v) => QVariant::SChar(int(v).and_then(|i| i8::try_from(i).ok()).ok_or_else(fail)?),
        (F::I16, v) => QVariant::Short(
            int(v)
                .and_then(|i| i16::try_from(i).ok())
                .ok_or_else(fail)?,
        ),
        (F::I32, v) => QVariant::Int(
            int(v)
                .and_then(|i| i32::try_from(i).ok())
                .ok_or_else(fail)?,
        ),
        (F::I64, v) => QVariant::LongLong(int(v).ok_or_else(fail)?),
        (F::U8, v) => QVariant::UChar(
            uint(v)
                .and_then(|i| u8::try_from(i).ok())
                .ok_or_else(fail)?,
        ),
        (F::U16, v) => QVariant::UShort(
            uint(v)
                .and_then(|i| u16::try_from(i).ok())
                .ok_or_else(fail)?,
        ),
        (F::U32, v) => QVariant::UInt(
            uint(v)
                .and_then(|i| u32::try_from(i).ok())
                .ok_or_else(fail)?,
        ),
        (F::U64, v) => QVariant::ULongLong(uint(v).ok_or_else(fail)?),
        (F::F32, Value::Float(f)) => QVariant::Float(*f as f32),
        (F::F64, Value::Float(f)) => QVariant::Double(*f),
        (F::Char, Value::Char(c)) => {
            let mut units = [0u16; 2];
            match c.encode_utf16(&mut units) {
                [unit] => QVariant::QChar(*unit),
                _ => return Err(fail()),
            }
        }
        (F::Str, Value::Str(s)) => QVariant::String(s.clone()),
        (F::Bytes, Value::Bytes(b)) => QVariant::ByteArray(b.clone()),
        (F::Option(_), Value::Option(None)) => QVariant::Invalid,
        (F::Option(inner), Value::Option(Some(v))) => to_qvariant(v, inner, qt, cx)?,
        (F::Seq(item), Value::Seq(items)) => seq_to_qt(item, items, qt, cx)?,
        (F::Map(_, vf), Value::Map(entries))
            if matches!(
                qt,
                QtType::Builtin(Builtin::VariantMap | Builtin::VariantHash)
            ) =>
        {
            let mut out = Vec::with_capacity(entries.len());
            for (k, v) in entries {
                let Value::Str(key) = k else {
                    return Err(fail());
                };
                out.push((
                    key.clone(),
                    to_qvariant(v, vf, &QtType::Builtin(Builtin::Variant), cx)?,
                ));
            }
            QVariant::Map {
                hash: *qt == QtType::Builtin(Builtin::VariantHash),
                entries: out,
            }
        }
        (F::Map(kf, vf), Value::Map(entries)) => {
            let QtType::Map { key, value: vt, .. } = qt else {
                return Err(fail());
            };
            let mut out = Vec::with_capacity(entries.len());
            for (k, v) in entries {
                out.push((to_qvariant(k, kf, key, cx)?, to_qvariant(v, vf, vt, cx)?));
            }
            user(qt, UserValue::Entries(out))
        }
        (F::Tuple(formats), Value::Tuple(items)) if formats.len() == 2 && items.len() == 2 => {
            let QtType::Pair(a, b) = qt else {
                return Err(fail());
            };
            let first = to_qvariant(&items[0], &formats[0], a, cx)?;
            let second = to_qvariant(&items[1], &formats[1], b, cx)?;
            user(qt, UserValue::Fields(vec![first, second]))
        }
        (F::Named(name), v) => named_to_qt(name, v, qt, cx)?,
        _ => return Err(fail()),
    })
}

fn user(qt: &QtType, value: UserValue) -> QVariant {
    QVariant::User {
        ty: qt.clone(),
        value,
    }
}

fn seq_to_qt(
    item: &TypeFormat,
    items: &[Value],
    qt: &QtType,
    cx: &Cx<'_>,
) -> Result<QVariant, ConvertError> {
    let strings = || {
        items
            .iter()
            .map(|v| match v {
                Value::Str(s) => Ok(s.clone()),
                other => Err(error("a string", other)),
            })
            .collect::<Result<Vec<_>, _>>()
    };
    match qt {
        QtType::Builtin(Builtin::VariantList) => Ok(QVariant::List(
            items
                .iter()
                .map(|v| to_qvariant(v, item, &QtType::Builtin(Builtin::Variant), cx))
                .collect::<Result<_, _>>()?,
        )),
        QtType::Builtin(Builtin::StringList) => Ok(QVariant::StringList(strings()?)),
        QtType::Builtin(Builtin::ByteArrayList) => Ok(QVariant::ByteArrayList(
            items
                .iter()
                .map(|v| match v {
                    Value::Bytes(b) => Ok(b.clone()),
                    other => Err(error("bytes", other)),
                })
                .collect::<Result<_, _>>()?,
        )),
        QtType::List(item_qt) => {
            let mut out = Vec::with_capacity(items.len());
            for v in items {
                out.push(to_qvariant(v, item, item_qt, cx)?);
            }
            Ok(user(qt, UserValue::Items(out)))
        }
        other => Err(error(other, "a sequence")),
    }
}

fn named_to_qt(
    name: &str,
    value: &Value,
    qt: &QtType,
    cx: &Cx<'_>,
) -> Result<QVariant, ConvertError> {
    if let Some(b) = qt_value_type(name) {
        return value_type_to_qt(b, value);
    }
    if name == VARIANT {
        return variant_to_qt(value);
    }
    let def = cx
        .types
        .get(name)
        .ok_or_else(|| error(name, "an unknown type"))?;
    match (def, value) {
        (TypeDef::NewtypeStruct(inner), v) => to_qvariant(v, inner, qt, cx),
        (TypeDef::Struct(fields), Value::Struct(values)) if fields.len() == values.len() => {
            let mut out = Vec::with_capacity(fields.len());
            for (field, (_, v)) in fields.iter().zip(values) {
                // A gadget's fields travel as whole QVariants of their own types.
                let field_qt = super::api::field_type(&field.format, cx.types);
                out.push(to_qvariant(v, &field.format, &field_qt, cx)?);
            }
            Ok(user(qt, UserValue::Fields(out)))
        }
        (TypeDef::Enum(variants), Value::Variant { name: variant, .. }) => {
            let index = variants
                .iter()
                .find(|v| &v.name == variant && v.shape == VariantShape::Unit)
                .map(|v| v.index)
                .ok_or_else(|| error(name, variant))?;
            // Enums travel as their key's integer (QTRO.md §3.8).
            let value = cx.enum_value(name, variant, index);
            Ok(QVariant::Int(
                i32::try_from(value).map_err(|_| error(name, value))?,
            ))
        }
        _ => Err(error(name, value)),
    }
}

fn f64_field(fields: &[(String, Value)], i: usize) -> Result<f64, ConvertError> {
    match fields.get(i).map(|(_, v)| v) {
        Some(Value::Float(f)) => Ok(*f),
        Some(Value::Int(i)) => Ok(*i as f64),
        other => Err(error("a number", other)),
    }
}

fn i64_field(fields: &[(String, Value)], i: usize) -> Result<i64, ConvertError> {
    match fields.get(i).map(|(_, v)| v) {
        Some(Value::Int(i)) => Ok(*i),
        Some(Value::UInt(u)) => i64::try_from(*u).map_err(|_| error("an integer", u)),
        other => Err(error("an integer", other)),
    }
}

fn i32_field(fields: &[(String, Value)], i: usize) -> Result<i32, ConvertError> {
    let v = i64_field(fields, i)?;
    i32::try_from(v).map_err(|_| error("a 32-bit integer", v))
}

fn value_type_to_qt(b: Builtin, value: &Value) -> Result<QVariant, ConvertError> {
    let fields = match value {
        Value::Struct(fields) => fields.as_slice(),
        Value::Str(url) if b == Builtin::Url => return Ok(QVariant::Url(url.clone())),
        other => return Err(error(b, other)),
    };
    let f = |i| f64_field(fields, i);
    let n = |i| i32_field(fields, i);
    Ok(match b {
        Builtin::Point => QVariant::Point(n(0)?, n(1)?),
        Builtin::PointF => QVariant::PointF(f(0)?, f(1)?),
        Builtin::Size => QVariant::Size(n(0)?, n(1)?),
        Builtin::SizeF => QVariant::SizeF(f(0)?, f(1)?),
        Builtin::Rect => QVariant::Rect(n(0)?, n(1)?, n(2)?, n(3)?),
        Builtin::RectF => QVariant::RectF(f(0)?, f(1)?, f(2)?, f(3)?),
        Builtin::Line => QVariant::Line(n(0)?, n(1)?, n(2)?, n(3)?),
        Builtin::LineF => QVariant::LineF(f(0)?, f(1)?, f(2)?, f(3)?),
        Builtin::Color => {
            let c = |i| {
                let v = i64_field(fields, i)?;
                u16::try_from(v).map_err(|_| error("a 16-bit component", v))
            };
            QVariant::Color {
                spec: 1,
                components: [c(0)?, c(1)?, c(2)?, c(3)?, 0],
            }
        }
        Builtin::DateTime => {
            let ms = i64_field(fields, 0)?;
            let (date, time) = julian_from_unix_ms(ms);
            QVariant::DateTime {
                date,
                time,
                spec: TimeSpec::Utc,
            }
        }
        Builtin::Date => QVariant::Date(i64_field(fields, 0)?),
        Builtin::Time => {
            let v = i64_field(fields, 0)?;
            QVariant::Time(u32::try_from(v).map_err(|_| error("milliseconds", v))?)
        }
        Builtin::Url => match fields.first() {
            Some((_, Value::Str(url))) => QVariant::Url(url.clone()),
            other => return Err(error("a URL", other)),
        },
        Builtin::Uuid => match fields.first() {
            Some((_, Value::Bytes(b))) if b.len() == 16 => {
                let mut uuid = [0u8; 16];
                uuid.copy_from_slice(b);
                QVariant::Uuid(uuid)
            }
            Some((_, Value::Seq(items))) if items.len() == 16 => {
                let mut uuid = [0u8; 16];
                for (slot, v) in uuid.iter_mut().zip(items) {
                    *slot = match v {
                        Value::UInt(u) => u8::try_from(*u).map_err(|_| error("a byte", u))?,
                        other => return Err(error("a byte", other)),
                    };
                }
                QVariant::Uuid(uuid)
            }
            other => return Err(error("16 bytes", other)),
        },
        other => return Err(error(other, value)),
    })
}

/// The Julian day of 1970-01-01.
const UNIX_EPOCH_JULIAN_DAY: i64 = 2_440_588;
const MS_PER_DAY: i64 = 86_400_000;

fn julian_from_unix_ms(ms: i64) -> (i64, u32) {
    let days = ms.div_euclid(MS_PER_DAY);
    let in_day = ms.rem_euclid(MS_PER_DAY);
    (UNIX_EPOCH_JULIAN_DAY + days, in_day as u32)
}

fn unix_ms_from_julian(date: i64, time: u32, spec: &TimeSpec) -> i64 {
    let offset = match spec {
        TimeSpec::Offset(seconds) => i64::from(*seconds) * 1000,
        _ => 0,
    };
    (date - UNIX_EPOCH_JULIAN_DAY) * MS_PER_DAY + i64::from(time) - offset
}

/// The value of shape `format` a Qt value stands for. Numbers convert where they fit (a Qt
/// `int` for a Rust `i64`); an invalid `QVariant` is `None` for an option and the default
/// shape's zero nowhere else.
pub fn from_qvariant(
    q: &QVariant,
    format: &TypeFormat,
    cx: &Cx<'_>,
) -> Result<Value, ConvertError> {
    use TypeFormat as F;
    let fail = || error(format, q);
    let as_i64 = |q: &QVariant| -> Option<i64> {
        Some(match q {
            QVariant::Int(v) => i64::from(*v),
            QVariant::UInt(v) => i64::from(*v),
            QVariant::LongLong(v) | QVariant::Long(v) => *v,
            QVariant::ULongLong(v) | QVariant::ULong(v) => i64::try_from(*v).ok()?,
            QVariant::Short(v) => i64::from(*v),
            QVariant::UShort(v) => i64::from(*v),
            QVariant::SChar(v) | QVariant::Char(v) => i64::from(*v),
            QVariant::UChar(v) => i64::from(*v),
            QVariant::Bool(b) => i64::from(*b),
            QVariant::User {
                value: UserValue::Enum(v),
                ..
            } => *v,
            _ => return None,
        })
    };
    let signed = |min: i64, max: i64| {
        as_i64(q)
            .filter(|v| (min..=max).contains(v))
            .map(Value::Int)
            .ok_or_else(fail)
    };
    let unsigned = |max: u64| {
        let v = match q {
            QVariant::ULongLong(v) | QVariant::ULong(v) => Some(*v),
            other => as_i64(other).and_then(|v| u64::try_from(v).ok()),
        };
        v.filter(|v| *v <= max).map(Value::UInt).ok_or_else(fail)
    };
    Ok(match format {
        F::Unit => Value::Unit,
        F::Bool => match q {
            QVariant::Bool(b) => Value::Bool(*b),
            _ => return Err(fail()),
        },
        F::I8 => signed(i8::MIN.into(), i8::MAX.into())?,
        F::I16 => signed(i16::MIN.into(), i16::MAX.into())?,
        F::I32 => signed(i32::MIN.into(), i32::MAX.into())?,
        F::I64 => signed(i64::MIN, i64::MAX)?,
        F::U8 => unsigned(u8::MAX.into())?,
        F::U16 => unsigned(u16::MAX.into())?,
        F::U32 => unsigned(u32::MAX.into())?,
        F::U64 => unsigned(u64::MAX)?,
        F::F32 | F::F64 => match q {
            QVariant::Double(f) => Value::Float(*f),
            QVariant::Float(f) => Value::Float(f64::from(*f)),
            other => Value::Float(as_i64(other).ok_or_else(fail)? as f64),
        },
        F::Char => match q {
            QVariant::QChar(unit) => Value::Char(
                char::decode_utf16([*unit])
                    .next()
                    .and_then(Result::ok)
                    .ok_or_else(fail)?,
            ),
            QVariant::String(s) if s.chars().count() == 1 => {
                Value::Char(s.chars().next().ok_or_else(fail)?)
            }
            _ => return Err(fail()),
        },
        F::Str => match q {
            QVariant::String(s) => Value::Str(s.clone()),
            QVariant::Null(Builtin::String) => Value::Str(String::new()),
            _ => return Err(fail()),
        },
        F::Bytes => match q {
            QVariant::ByteArray(b) => Value::Bytes(b.clone()),
            QVariant::Null(Builtin::ByteArray) => Value::Bytes(Vec::new()),
            _ => return Err(fail()),
        },
        F::Option(inner) => match q {
            QVariant::Invalid => Value::Option(None),
            q => Value::Option(Some(Box::new(from_qvariant(q, inner, cx)?))),
        },
        F::Seq(item) => {
            let each = |items: Vec<QVariant>| {
                items
                    .iter()
                    .map(|v| from_qvariant(v, item, cx))
                    .collect::<Result<Vec<_>, _>>()
            };
            Value::Seq(match q {
                QVariant::StringList(items) => {
                    each(items.iter().cloned().map(QVariant::String).collect())?
                }
                QVariant::ByteArrayList(items) => {
                    each(items.iter().cloned().map(QVariant::ByteArray).collect())?
                }
                QVariant::List(items)
                | QVariant::User {
                    value: UserValue::Items(items),
                    ..
                } => items
                    .iter()
                    .map(|v| from_qvariant(v, item, cx))
                    .collect::<Result<_, _>>()?,
                _ => return Err(fail()),
            })
        }
        F::Map(kf, vf) => match q {
            QVariant::User {
                value: UserValue::Entries(entries),
                ..
            } => Value::Map(
                entries
                    .iter()
                    .map(|(k, v)| Ok((from_qvariant(k, kf, cx)?, from_qvariant(v, vf, cx)?)))
                    .collect::<Result<_, ConvertError>>()?,
            ),
            QVariant::Map { entries, .. } => Value::Map(
                entries
                    .iter()
                    .map(|(k, v)| {
                        Ok((
                            from_qvariant(&QVariant::String(k.clone()), kf, cx)?,
                            from_qvariant(v, vf, cx)?,
                        ))
                    })
                    .collect::<Result<_, ConvertError>>()?,
            ),
            _ => return Err(fail()),
        },
        F::Tuple(formats) => match q {
            QVariant::User {
                value: UserValue::Fields(fields),
                ..
            }
            | QVariant::List(fields)
                if fields.len() == formats.len() =>
            {
                Value::Tuple(
                    fields
                        .iter()
                        .zip(formats)
                        .map(|(v, f)| from_qvariant(v, f, cx))
                        .collect::<Result<_, _>>()?,
                )
            }
            _ => return Err(fail()),
        },
        F::Named(name) => named_from_qt(name, q, cx)?,
        F::I128 | F::U128 | F::Array(..) => match (format, q) {
            (
                F::Array(item, n),
                QVariant::User {
                    value: UserValue::Items(items),
                    ..
                },
            )
            | (F::Array(item, n), QVariant::List(items))
                if items.len() == *n =>
            {
                Value::Seq(
                    items
                        .iter()
                        .map(|v| from_qvariant(v, item, cx))
                        .collect::<Result<_, _>>()?,
                )
            }
            (F::I128, q) => Value::I128(i128::from(as_i64(q).ok_or_else(fail)?)),
            (F::U128, QVariant::ULongLong(v)) => Value::U128(u128::from(*v)),
            _ => return Err(fail()),
        },
    })
}

fn named_from_qt(name: &str, q: &QVariant, cx: &Cx<'_>) -> Result<Value, ConvertError> {
    if let Some(b) = qt_value_type(name) {
        return value_type_from_qt(b, q, name, cx);
    }
    if name == VARIANT {
        return Ok(variant_from_qt(q));
    }
    let def = cx
        .types
        .get(name)
        .ok_or_else(|| error(name, "an unknown type"))?;
    match (def, q) {
        (TypeDef::NewtypeStruct(inner), q) => from_qvariant(q, inner, cx),
        (
            TypeDef::Struct(fields),
            QVariant::User {
                value: UserValue::Fields(values),
                ..
            },
        ) if fields.len() == values.len() => Ok(Value::Struct(
            fields
                .iter()
                .zip(values)
                .map(|(f, v)| Ok((f.name.clone(), from_qvariant(v, &f.format, cx)?)))
                .collect::<Result<_, ConvertError>>()?,
        )),
        (TypeDef::Enum(variants), q) => {
            let index = match q {
                QVariant::Int(v) => i64::from(*v),
                QVariant::Short(v) => i64::from(*v),
                QVariant::SChar(v) => i64::from(*v),
                QVariant::UInt(v) => i64::from(*v),
                QVariant::User {
                    value: UserValue::Enum(v),
                    ..
                } => *v,
                other => return Err(error(name, other)),
            };
            let variant = match cx.enum_key(name, index) {
                Some(key) => variants.iter().find(|v| v.name == key),
                None => variants.iter().find(|v| i64::from(v.index) == index),
            }
            .filter(|v| v.shape == VariantShape::Unit)
            .ok_or_else(|| error(name, index))?;
            Ok(Value::Variant {
                name: variant.name.clone(),
                value: Box::new(Value::Unit),
            })
        }
        _ => Err(error(name, q)),
    }
}

fn value_type_from_qt(
    b: Builtin,
    q: &QVariant,
    name: &str,
    cx: &Cx<'_>,
) -> Result<Value, ConvertError> {
    let Some(TypeDef::Struct(fields)) = cx.types.get(name) else {
        return Err(error(name, "a Qt value type this schema does not describe"));
    };
    let names: Vec<String> = fields.iter().map(|f| f.name.clone()).collect();
    let floats = |values: &[f64]| {
        Value::Struct(
            names
                .iter()
                .cloned()
                .zip(values.iter().map(|v| Value::Float(*v)))
                .collect(),
        )
    };
    let ints = |values: &[i64]| {
        Value::Struct(
            names
                .iter()
                .cloned()
                .zip(values.iter().map(|v| Value::Int(*v)))
                .collect(),
        )
    };
    let uints = |values: &[u64]| {
        Value::Struct(
            names
                .iter()
                .cloned()
                .zip(values.iter().map(|v| Value::UInt(*v)))
                .collect(),
        )
    };
    let one = |v: Value| Value::Struct(names.iter().cloned().zip([v]).collect());
    let i = i64::from;
    Ok(match (b, q) {
        (Builtin::Point, QVariant::Point(x, y)) | (Builtin::Size, QVariant::Size(x, y)) => {
            ints(&[i(*x), i(*y)])
        }
        (Builtin::PointF, QVariant::PointF(x, y)) | (Builtin::SizeF, QVariant::SizeF(x, y)) => {
            floats(&[*x, *y])
        }
        (Builtin::Rect, QVariant::Rect(a, b, c, d))
        | (Builtin::Line, QVariant::Line(a, b, c, d)) => ints(&[i(*a), i(*b), i(*c), i(*d)]),
        (Builtin::RectF, QVariant::RectF(a, b, c, d))
        | (Builtin::LineF, QVariant::LineF(a, b, c, d)) => floats(&[*a, *b, *c, *d]),
        (Builtin::Color, QVariant::Color { components, .. }) => uints(
            &components[..4]
                .iter()
                .map(|c| u64::from(*c))
                .collect::<Vec<_>>(),
        ),
        (Builtin::DateTime, QVariant::DateTime { date, time, spec }) => {
            one(Value::Int(unix_ms_from_julian(*date, *time, spec)))
        }
        (Builtin::Date, QVariant::Date(day)) => one(Value::Int(*day)),
        (Builtin::Time, QVariant::Time(ms)) => one(Value::Int(i64::from(*ms))),
        (Builtin::Url, QVariant::Url(url)) => one(Value::Str(url.clone())),
        (Builtin::Uuid, QVariant::Uuid(uuid)) => one(match fields.first().map(|f| &f.format) {
            // `[u8; 16]` (qt::values::Uuid) is a fixed array; a byte string otherwise.
            Some(TypeFormat::Array(..) | TypeFormat::Seq(_)) => {
                Value::Seq(uuid.iter().map(|b| Value::UInt(u64::from(*b))).collect())
            }
            _ => Value::Bytes(uuid.to_vec()),
        }),
        _ => return Err(error(b, q)),
    })
}

/// A [`Variant`](crate::qt::values::Variant) value as the `QVariant` it stands for.
fn variant_to_qt(value: &Value) -> Result<QVariant, ConvertError> {
    let Value::Variant { name, value } = value else {
        return Err(error(VARIANT, value));
    };
    Ok(match (name.as_str(), value.as_ref()) {
        ("Invalid", _) => QVariant::Invalid,
        ("Bool", Value::Bool(b)) => QVariant::Bool(*b),
        ("Int", Value::Int(i)) => match i32::try_from(*i) {
            Ok(i) => QVariant::Int(i),
            Err(_) => QVariant::LongLong(*i),
        },
        ("Double", Value::Float(f)) => QVariant::Double(*f),
        ("String", Value::Str(s)) => QVariant::String(s.clone()),
        ("Bytes", Value::Bytes(b)) => QVariant::ByteArray(b.clone()),
        ("Bytes", Value::Seq(items)) => QVariant::ByteArray(
            items
                .iter()
                .map(|v| match v {
                    Value::UInt(u) => u8::try_from(*u).map_err(|_| error("a byte", u)),
                    other => Err(error("a byte", other)),
                })
                .collect::<Result<_, _>>()?,
        ),
        ("List", Value::Seq(items)) => {
            QVariant::List(items.iter().map(variant_to_qt).collect::<Result<_, _>>()?)
        }
        ("Map", Value::Map(entries)) => QVariant::Map {
            hash: false,
            entries: entries
                .iter()
                .map(|(k, v)| match k {
                    Value::Str(k) => Ok((k.clone(), variant_to_qt(v)?)),
                    other => Err(error("a string key", other)),
                })
                .collect::<Result<_, _>>()?,
        },
        _ => return Err(error(VARIANT, value)),
    })
}

/// Any `QVariant` as a [`Variant`](crate::qt::values::Variant) value: numbers, strings, byte
/// arrays, lists and maps as themselves, a URL as its text; anything else (a point, a
/// gadget) as `Invalid`.
fn variant_from_qt(q: &QVariant) -> Value {
    let variant = |name: &str, value: Value| Value::Variant {
        name: name.to_owned(),
        value: Box::new(value),
    };
    let int = |i: i64| variant("Int", Value::Int(i));
    match q {
        QVariant::Bool(b) => variant("Bool", Value::Bool(*b)),
        QVariant::Int(i) => int(i64::from(*i)),
        QVariant::UInt(i) => int(i64::from(*i)),
        QVariant::LongLong(i) | QVariant::Long(i) => int(*i),
        QVariant::ULongLong(u) | QVariant::ULong(u) => match i64::try_from(*u) {
            Ok(i) => int(i),
            Err(_) => variant("Double", Value::Float(*u as f64)),
        },
        QVariant::Short(i) => int(i64::from(*i)),
        QVariant::UShort(i) => int(i64::from(*i)),
        QVariant::SChar(i) | QVariant::Char(i) => int(i64::from(*i)),
        QVariant::UChar(i) => int(i64::from(*i)),
        QVariant::Double(f) => variant("Double", Value::Float(*f)),
        QVariant::Float(f) => variant("Double", Value::Float(f64::from(*f))),
        QVariant::String(s) | QVariant::Url(s) => variant("String", Value::Str(s.clone())),
        QVariant::Null(Builtin::String) => variant("String", Value::Str(String::new())),
        QVariant::ByteArray(b) => variant("Bytes", Value::Bytes(b.clone())),
        QVariant::StringList(items) => variant(
            "List",
            Value::Seq(
                items
                    .iter()
                    .map(|s| variant("String", Value::Str(s.clone())))
                    .collect(),
            ),
        ),
        QVariant::List(items) => variant(
            "List",
            Value::Seq(items.iter().map(variant_from_qt).collect()),
        ),
        QVariant::Map { entries, .. } => variant(
            "Map",
            Value::Map(
                entries
                    .iter()
                    .map(|(k, v)| (Value::Str(k.clone()), variant_from_qt(v)))
                    .collect(),
            ),
        ),
        QVariant::Variant(inner) => variant_from_qt(inner),
        _ => variant("Invalid", Value::Unit),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn julian_days_round_trip() {
        // 2024-01-02T03:04:05.006Z, the golden vector's date.
        let ms = 1_704_164_645_006;
        assert_eq!(julian_from_unix_ms(ms), (2_460_312, 11_045_006));
        assert_eq!(
            unix_ms_from_julian(2_460_312, 11_045_006, &TimeSpec::Utc),
            ms
        );
        assert_eq!(
            julian_from_unix_ms(-1),
            (UNIX_EPOCH_JULIAN_DAY - 1, 86_399_999)
        );
    }
}
