//! Encoding and decoding [`Value`]s by their [`TypeFormat`], byte for byte as the typed code
//! does: serde is driven through the same calls (`serialize_struct`, `deserialize_enum`…),
//! so bincode and postcard produce and accept the same bytes as for the Rust types. Names
//! are not on the wire in these encodings, so none are passed; field counts are.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::fmt;

use serde::de::{self, DeserializeSeed, EnumAccess, MapAccess, SeqAccess, VariantAccess, Visitor};
use serde::ser::{
    self, SerializeMap, SerializeSeq, SerializeStruct, SerializeTuple, SerializeTupleStruct,
};
use serde::{Deserializer, Serialize, Serializer};

use super::schema::{Field, TypeDef, TypeFormat, VariantShape};
use super::value::{ShapeError, Value};
use crate::wire::Encoding;

/// Values nested deeper than this are refused (a hostile peer could otherwise exhaust the
/// stack with a recursive type).
const MAX_DEPTH: usize = 128;

type Types = BTreeMap<String, TypeDef>;

/// Why a dynamic value could not be encoded or decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ValueError {
    /// The value does not have its type's shape; nothing was encoded.
    #[error(transparent)]
    Shape(#[from] ShapeError),
    /// The bytes do not decode as the type.
    #[error("cannot decode: {0}")]
    Decode(String),
    /// The encoding failed for another reason.
    #[error("cannot encode: {0}")]
    Encode(String),
}

/// Encodes `value` as a `format` with `encoding`.
pub fn encode(
    value: &Value,
    format: &TypeFormat,
    types: &Types,
    encoding: Encoding,
) -> Result<Vec<u8>, ValueError> {
    let error = RefCell::new(None);
    let shaped = Shaped {
        value,
        format,
        types,
        path: Path::ROOT,
        depth: 0,
        error: &error,
    };
    encoding
        .encode(&shaped)
        .map_err(|e| match error.into_inner() {
            Some(shape) => ValueError::Shape(shape),
            None => ValueError::Encode(e.to_string()),
        })
}

/// Encodes a list of named arguments (a slot's or signal's) as their message struct does.
pub fn encode_args(
    args: &[Value],
    fields: &[Field],
    types: &Types,
    encoding: Encoding,
) -> Result<Vec<u8>, ValueError> {
    let formats: Vec<TypeFormat> = fields.iter().map(|f| f.format.clone()).collect();
    encode(
        &Value::Tuple(args.to_vec()),
        &TypeFormat::Tuple(formats),
        types,
        encoding,
    )
}

/// Decodes bytes of `format`.
pub fn decode(
    bytes: &[u8],
    format: &TypeFormat,
    types: &Types,
    encoding: Encoding,
) -> Result<Value, ValueError> {
    encoding
        .decode_seed(
            Seed {
                format,
                types,
                depth: 0,
            },
            bytes,
        )
        .map_err(|e| ValueError::Decode(e.to_string()))
}

/// Decodes a signal's or slot's argument struct into its named arguments.
pub fn decode_args(
    bytes: &[u8],
    fields: &[Field],
    types: &Types,
    encoding: Encoding,
) -> Result<Vec<(String, Value)>, ValueError> {
    let formats: Vec<TypeFormat> = fields.iter().map(|f| f.format.clone()).collect();
    match decode(bytes, &TypeFormat::Tuple(formats), types, encoding)? {
        Value::Tuple(values) => Ok(fields.iter().map(|f| f.name.clone()).zip(values).collect()),
        other => Err(ValueError::Decode(format!(
            "expected the arguments, got {other}"
        ))),
    }
}

// ---------------------------------------------------------------- encoding

struct Shaped<'a> {
    value: &'a Value,
    format: &'a TypeFormat,
    types: &'a Types,
    /// Where `value` is, written out only for an error (building it for every element
    /// would cost an allocation each).
    path: Path<'a>,
    depth: usize,
    error: &'a RefCell<Option<ShapeError>>,
}

/// A step from a value to one inside it.
#[derive(Clone, Copy)]
enum Step<'a> {
    /// The value itself (`$`).
    Root,
    /// An element or field by position: `[i]`.
    Index(usize),
    /// A map entry's key or value: `[i].key`, `[i].value`.
    Key(usize),
    Entry(usize),
    /// A field or variant by name: `.name`.
    Name(&'a str),
    /// The same place (an option's or newtype's content).
    Same,
}

/// The path of a value being encoded, as a chain of steps back to the root.
#[derive(Clone, Copy)]
struct Path<'a> {
    up: Option<&'a Path<'a>>,
    step: Step<'a>,
}

impl Path<'_> {
    const ROOT: Path<'static> = Path {
        up: None,
        step: Step::Root,
    };

    fn render(&self) -> String {
        let mut out = self.up.map(Path::render).unwrap_or_default();
        match self.step {
            Step::Root => out.push('$'),
            Step::Index(i) => out.push_str(&format!("[{i}]")),
            Step::Key(i) => out.push_str(&format!("[{i}].key")),
            Step::Entry(i) => out.push_str(&format!("[{i}].value")),
            Step::Name(name) => {
                out.push('.');
                out.push_str(name);
            }
            Step::Same => {}
        }
        out
    }
}

fn describe(value: &Value) -> String {
    match value {
        Value::Unit => "()".into(),
        Value::Bool(_) => "a boolean".into(),
        Value::Int(_) | Value::UInt(_) | Value::I128(_) | Value::U128(_) => "an integer".into(),
        Value::Float(_) => "a float".into(),
        Value::Char(_) => "a char".into(),
        Value::Str(_) => "a string".into(),
        Value::Bytes(_) => "bytes".into(),
        Value::Option(_) => "an option".into(),
        Value::Seq(v) => format!("a sequence of {}", v.len()),
        Value::Map(_) => "a map".into(),
        Value::Tuple(v) => format!("a tuple of {}", v.len()),
        Value::Struct(_) => "a struct".into(),
        Value::Variant { name, .. } => format!("variant {name}"),
    }
}

impl<'a> Shaped<'a> {
    /// The value one `step` inside this one.
    fn child<'b>(&'b self, value: &'b Value, format: &'b TypeFormat, step: Step<'b>) -> Shaped<'b> {
        self.child_of(&self.path, value, format, step)
    }

    /// The value one `step` below `at` (a place under this value).
    fn child_of<'b>(
        &'b self,
        at: &'b Path<'b>,
        value: &'b Value,
        format: &'b TypeFormat,
        step: Step<'b>,
    ) -> Shaped<'b> {
        Shaped {
            value,
            format,
            types: self.types,
            path: Path { up: Some(at), step },
            depth: self.depth + 1,
            error: self.error,
        }
    }

    fn fail<E: ser::Error>(&self, expected: impl fmt::Display) -> E {
        let shape = ShapeError::new(&self.path.render(), expected, describe(self.value));
        let message = shape.to_string();
        self.error.borrow_mut().get_or_insert(shape);
        E::custom(message)
    }

    fn int<T: TryFrom<i64> + TryFrom<u64>, E: ser::Error>(&self, name: &str) -> Result<T, E> {
        let fits = match self.value {
            Value::Int(i) => T::try_from(*i).ok(),
            Value::UInt(u) => T::try_from(*u).ok(),
            _ => None,
        };
        fits.ok_or_else(|| self.fail(format!("an integer that fits {name}")))
    }
}

impl Serialize for Shaped<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use TypeFormat as F;
        if self.depth > MAX_DEPTH {
            return Err(self.fail("a value nested less deeply"));
        }
        match (self.format, self.value) {
            (F::Unit, Value::Unit) => s.serialize_unit(),
            (F::Bool, Value::Bool(b)) => s.serialize_bool(*b),
            (F::I8, _) => s.serialize_i8(self.int("i8")?),
            (F::I16, _) => s.serialize_i16(self.int("i16")?),
            (F::I32, _) => s.serialize_i32(self.int("i32")?),
            (F::I64, _) => s.serialize_i64(self.int("i64")?),
            (F::U8, _) => s.serialize_u8(self.int("u8")?),
            (F::U16, _) => s.serialize_u16(self.int("u16")?),
            (F::U32, _) => s.serialize_u32(self.int("u32")?),
            (F::U64, _) => s.serialize_u64(self.int("u64")?),
            (F::I128, Value::I128(i)) => s.serialize_i128(*i),
            (F::I128, Value::Int(i)) => s.serialize_i128(i128::from(*i)),
            (F::U128, Value::U128(u)) => s.serialize_u128(*u),
            (F::U128, Value::UInt(u)) => s.serialize_u128(u128::from(*u)),
            (F::F32, Value::Float(f)) => s.serialize_f32(*f as f32),
            (F::F64, Value::Float(f)) => s.serialize_f64(*f),
            (F::Char, Value::Char(c)) => s.serialize_char(*c),
            (F::Str, Value::Str(v)) => s.serialize_str(v),
            (F::Bytes, Value::Bytes(b)) => s.serialize_bytes(b),
            (F::Option(_), Value::Option(None)) => s.serialize_none(),
            (F::Option(inner), Value::Option(Some(v))) => {
                s.serialize_some(&self.child(v, inner, Step::Same))
            }
            (F::Seq(inner), Value::Seq(items)) => {
                let mut seq = s.serialize_seq(Some(items.len()))?;
                for (i, item) in items.iter().enumerate() {
                    seq.serialize_element(&self.child(item, inner, Step::Index(i)))?;
                }
                seq.end()
            }
            (F::Array(inner, size), Value::Seq(items)) if items.len() == *size => {
                let mut tuple = s.serialize_tuple(*size)?;
                for (i, item) in items.iter().enumerate() {
                    tuple.serialize_element(&self.child(item, inner, Step::Index(i)))?;
                }
                tuple.end()
            }
            (F::Tuple(formats), Value::Tuple(items)) if items.len() == formats.len() => {
                let mut tuple = s.serialize_tuple(items.len())?;
                for (i, (item, f)) in items.iter().zip(formats).enumerate() {
                    tuple.serialize_element(&self.child(item, f, Step::Index(i)))?;
                }
                tuple.end()
            }
            (F::Map(kf, vf), Value::Map(entries)) => {
                let mut map = s.serialize_map(Some(entries.len()))?;
                for (i, (k, v)) in entries.iter().enumerate() {
                    map.serialize_key(&self.child(k, kf, Step::Key(i)))?;
                    map.serialize_value(&self.child(v, vf, Step::Entry(i)))?;
                }
                map.end()
            }
            (F::Named(name), _) => match self.types.get(name) {
                Some(def) => self.serialize_named(name, def, s),
                None => Err(self.fail(format!("a type {name} the schema defines"))),
            },
            (format, _) => Err(self.fail(format!("{format:?}"))),
        }
    }
}

impl Shaped<'_> {
    fn serialize_named<S: Serializer>(
        &self,
        name: &str,
        def: &TypeDef,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        match (def, self.value) {
            (TypeDef::UnitStruct, Value::Unit) => s.serialize_unit_struct(""),
            (TypeDef::NewtypeStruct(inner), v) => {
                s.serialize_newtype_struct("", &self.child(v, inner, Step::Same))
            }
            (TypeDef::TupleStruct(formats), Value::Tuple(items))
                if items.len() == formats.len() =>
            {
                let mut t = s.serialize_tuple_struct("", items.len())?;
                for (i, (item, f)) in items.iter().zip(formats).enumerate() {
                    t.serialize_field(&self.child(item, f, Step::Index(i)))?;
                }
                t.end()
            }
            (TypeDef::Struct(fields), Value::Struct(items)) => {
                let mut st = s.serialize_struct("", fields.len())?;
                for field in fields {
                    let value = items.iter().find(|(n, _)| *n == field.name).map(|(_, v)| v);
                    let at = Step::Name(&field.name);
                    match value {
                        Some(v) => st.serialize_field("", &self.child(v, &field.format, at))?,
                        None => {
                            let missing = self.child(&Value::Unit, &field.format, at);
                            return Err(missing.fail("a value"));
                        }
                    }
                }
                st.end()
            }
            (
                TypeDef::Enum(variants),
                Value::Variant {
                    name: variant_name,
                    value,
                },
            ) => {
                let Some(variant) = variants.iter().find(|v| &v.name == variant_name) else {
                    let names: Vec<&str> = variants.iter().map(|v| v.name.as_str()).collect();
                    return Err(self.fail(format!("one of {}", names.join(", "))));
                };
                let at = Path {
                    up: Some(&self.path),
                    step: Step::Name(variant_name),
                };
                match (&variant.shape, value.as_ref()) {
                    (VariantShape::Unit, Value::Unit) => {
                        s.serialize_unit_variant("", variant.index, "")
                    }
                    (VariantShape::Newtype(f), v) => {
                        let inner = self.child_of(&at, v, f, Step::Same);
                        s.serialize_newtype_variant("", variant.index, "", &inner)
                    }
                    (VariantShape::Tuple(formats), Value::Tuple(items))
                        if items.len() == formats.len() =>
                    {
                        let mut t =
                            s.serialize_tuple_variant("", variant.index, "", items.len())?;
                        for (i, (item, f)) in items.iter().zip(formats).enumerate() {
                            ser::SerializeTupleVariant::serialize_field(
                                &mut t,
                                &self.child_of(&at, item, f, Step::Index(i)),
                            )?;
                        }
                        ser::SerializeTupleVariant::end(t)
                    }
                    (VariantShape::Struct(fields), Value::Struct(items)) => {
                        let mut st =
                            s.serialize_struct_variant("", variant.index, "", fields.len())?;
                        for field in fields {
                            let v = items.iter().find(|(n, _)| *n == field.name).map(|(_, v)| v);
                            let field_at = Step::Name(&field.name);
                            match v {
                                Some(v) => ser::SerializeStructVariant::serialize_field(
                                    &mut st,
                                    "",
                                    &self.child_of(&at, v, &field.format, field_at),
                                )?,
                                None => {
                                    return Err(self
                                        .child_of(&at, &Value::Unit, &field.format, field_at)
                                        .fail("a value"))
                                }
                            }
                        }
                        ser::SerializeStructVariant::end(st)
                    }
                    (shape, _) => Err(self
                        .child_of(&at, value, &TypeFormat::Unit, Step::Same)
                        .fail(format!("{shape:?}"))),
                }
            }
            (def, _) => Err(self.fail(format!("{name} ({def:?})"))),
        }
    }
}

// ---------------------------------------------------------------- decoding

#[derive(Clone, Copy)]
struct Seed<'a> {
    format: &'a TypeFormat,
    types: &'a Types,
    depth: usize,
}

impl<'a> Seed<'a> {
    fn child(&self, format: &'a TypeFormat) -> Seed<'a> {
        Seed {
            format,
            types: self.types,
            depth: self.depth + 1,
        }
    }
}

/// What a visitor builds from a sequence.
#[derive(Clone, Copy)]
enum SeqShape<'a> {
    Seq(&'a TypeFormat),
    Tuple(&'a [TypeFormat]),
    Struct(&'a [Field]),
}

struct ValueVisitor<'a> {
    seed: Seed<'a>,
    seq: Option<SeqShape<'a>>,
    variants: Option<&'a [super::schema::Variant]>,
    map: Option<(&'a TypeFormat, &'a TypeFormat)>,
}

impl<'a> ValueVisitor<'a> {
    fn new(seed: Seed<'a>) -> Self {
        ValueVisitor {
            seed,
            seq: None,
            variants: None,
            map: None,
        }
    }
}

impl<'de> DeserializeSeed<'de> for Seed<'_> {
    type Value = Value;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        use TypeFormat as F;
        if self.depth > MAX_DEPTH {
            return Err(de::Error::custom("value nested too deeply"));
        }
        let v = ValueVisitor::new(self);
        match self.format {
            F::Unit => d.deserialize_unit(v),
            F::Bool => d.deserialize_bool(v),
            F::I8 => d.deserialize_i8(v),
            F::I16 => d.deserialize_i16(v),
            F::I32 => d.deserialize_i32(v),
            F::I64 => d.deserialize_i64(v),
            F::I128 => d.deserialize_i128(v),
            F::U8 => d.deserialize_u8(v),
            F::U16 => d.deserialize_u16(v),
            F::U32 => d.deserialize_u32(v),
            F::U64 => d.deserialize_u64(v),
            F::U128 => d.deserialize_u128(v),
            F::F32 => d.deserialize_f32(v),
            F::F64 => d.deserialize_f64(v),
            F::Char => d.deserialize_char(v),
            F::Str => d.deserialize_string(v),
            F::Bytes => d.deserialize_byte_buf(v),
            F::Option(_) => d.deserialize_option(v),
            F::Seq(inner) => d.deserialize_seq(ValueVisitor {
                seq: Some(SeqShape::Seq(inner)),
                ..v
            }),
            F::Array(inner, size) => d.deserialize_tuple(
                *size,
                ValueVisitor {
                    seq: Some(SeqShape::Seq(inner)),
                    ..v
                },
            ),
            F::Tuple(formats) => d.deserialize_tuple(
                formats.len(),
                ValueVisitor {
                    seq: Some(SeqShape::Tuple(formats)),
                    ..v
                },
            ),
            F::Map(k, val) => d.deserialize_map(ValueVisitor {
                map: Some((k, val)),
                ..v
            }),
            F::Named(name) => match self.types.get(name) {
                None => Err(de::Error::custom(format!(
                    "the schema does not define {name}"
                ))),
                Some(TypeDef::UnitStruct) => d.deserialize_unit_struct("", v),
                Some(TypeDef::NewtypeStruct(_)) => d.deserialize_newtype_struct("", v),
                Some(TypeDef::TupleStruct(formats)) => d.deserialize_tuple_struct(
                    "",
                    formats.len(),
                    ValueVisitor {
                        seq: Some(SeqShape::Tuple(formats)),
                        ..v
                    },
                ),
                // A struct is its fields in order: read as a tuple of that length.
                Some(TypeDef::Struct(fields)) => d.deserialize_tuple(
                    fields.len(),
                    ValueVisitor {
                        seq: Some(SeqShape::Struct(fields)),
                        ..v
                    },
                ),
                Some(TypeDef::Enum(variants)) => d.deserialize_enum(
                    "",
                    &[],
                    ValueVisitor {
                        variants: Some(variants),
                        ..v
                    },
                ),
            },
        }
    }
}

impl<'de> Visitor<'de> for ValueVisitor<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "a value of {:?}", self.seed.format)
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Value, E> {
        Ok(Value::Int(v))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Value, E> {
        Ok(Value::UInt(v))
    }
    fn visit_i128<E: de::Error>(self, v: i128) -> Result<Value, E> {
        Ok(Value::I128(v))
    }
    fn visit_u128<E: de::Error>(self, v: u128) -> Result<Value, E> {
        Ok(Value::U128(v))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Value, E> {
        Ok(Value::Float(v))
    }
    fn visit_char<E: de::Error>(self, v: char) -> Result<Value, E> {
        Ok(Value::Char(v))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Value, E> {
        Ok(Value::Str(v.to_owned()))
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<Value, E> {
        Ok(Value::Str(v))
    }
    fn visit_bytes<E: de::Error>(self, v: &[u8]) -> Result<Value, E> {
        Ok(Value::Bytes(v.to_vec()))
    }
    fn visit_byte_buf<E: de::Error>(self, v: Vec<u8>) -> Result<Value, E> {
        Ok(Value::Bytes(v))
    }
    fn visit_unit<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::Unit)
    }
    fn visit_none<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::Option(None))
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        let TypeFormat::Option(inner) = self.seed.format else {
            return Err(de::Error::custom("an option where none was expected"));
        };
        Ok(Value::Option(Some(Box::new(
            self.seed.child(inner).deserialize(d)?,
        ))))
    }
    fn visit_newtype_struct<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        let inner = match self.seed.format {
            TypeFormat::Named(name) => match self.seed.types.get(name) {
                Some(TypeDef::NewtypeStruct(inner)) => inner,
                _ => return Err(de::Error::custom("a newtype where none was expected")),
            },
            _ => return Err(de::Error::custom("a newtype where none was expected")),
        };
        self.seed.child(inner).deserialize(d)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let seed = self.seed;
        match self.seq {
            Some(SeqShape::Seq(inner)) => {
                // The length comes from the peer: do not trust it for allocation.
                let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(4096));
                while let Some(item) = seq.next_element_seed(seed.child(inner))? {
                    items.push(item);
                }
                Ok(Value::Seq(items))
            }
            Some(SeqShape::Tuple(formats)) => {
                let mut items = Vec::with_capacity(formats.len());
                for f in formats {
                    items.push(
                        seq.next_element_seed(seed.child(f))?
                            .ok_or_else(|| de::Error::invalid_length(items.len(), &self))?,
                    );
                }
                Ok(Value::Tuple(items))
            }
            Some(SeqShape::Struct(fields)) => {
                let mut items = Vec::with_capacity(fields.len());
                for f in fields {
                    let v = seq
                        .next_element_seed(seed.child(&f.format))?
                        .ok_or_else(|| de::Error::invalid_length(items.len(), &self))?;
                    items.push((f.name.clone(), v));
                }
                Ok(Value::Struct(items))
            }
            None => Err(de::Error::custom("a sequence where none was expected")),
        }
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let Some((k, v)) = self.map else {
            return Err(de::Error::custom("a map where none was expected"));
        };
        let mut entries = Vec::with_capacity(map.size_hint().unwrap_or(0).min(4096));
        while let Some(key) = map.next_key_seed(self.seed.child(k))? {
            entries.push((key, map.next_value_seed(self.seed.child(v))?));
        }
        Ok(Value::Map(entries))
    }

    fn visit_enum<A: EnumAccess<'de>>(self, data: A) -> Result<Value, A::Error> {
        let Some(variants) = self.variants else {
            return Err(de::Error::custom("an enum where none was expected"));
        };
        let (index, access): (u32, _) = data.variant()?;
        let variant = variants
            .iter()
            .find(|v| v.index == index)
            .ok_or_else(|| de::Error::custom(format!("no variant has index {index}")))?;
        let seed = self.seed;
        let value = match &variant.shape {
            VariantShape::Unit => {
                access.unit_variant()?;
                Value::Unit
            }
            VariantShape::Newtype(f) => access.newtype_variant_seed(seed.child(f))?,
            VariantShape::Tuple(formats) => access.tuple_variant(
                formats.len(),
                ValueVisitor {
                    seq: Some(SeqShape::Tuple(formats)),
                    ..ValueVisitor::new(seed)
                },
            )?,
            VariantShape::Struct(fields) => access.tuple_variant(
                fields.len(),
                ValueVisitor {
                    seq: Some(SeqShape::Struct(fields)),
                    ..ValueVisitor::new(seed)
                },
            )?,
        };
        Ok(Value::Variant {
            name: variant.name.clone(),
            value: Box::new(value),
        })
    }
}
