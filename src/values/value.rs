//! [`Value`]: a property value, argument or result without its Rust type, and its JSON form.

use std::collections::BTreeMap;
use std::fmt;

use serde_json::Value as Json;

use super::schema::{Field, TypeDef, TypeFormat, VariantShape};

/// A value of any type a schema describes.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// `()`, a unit struct.
    Unit,
    /// A `bool`.
    Bool(bool),
    /// A signed integer up to 64 bits.
    Int(i64),
    /// An unsigned integer up to 64 bits.
    UInt(u64),
    /// An `i128`.
    I128(i128),
    /// A `u128`.
    U128(u128),
    /// An `f32` or `f64`.
    Float(f64),
    /// A `char`.
    Char(char),
    /// A string.
    Str(String),
    /// A byte string.
    Bytes(Vec<u8>),
    /// An `Option`.
    Option(Option<Box<Value>>),
    /// A sequence or fixed-size array.
    Seq(Vec<Value>),
    /// A map, in encoding order.
    Map(Vec<(Value, Value)>),
    /// A tuple or tuple struct.
    Tuple(Vec<Value>),
    /// A struct with named fields, in order.
    Struct(Vec<(String, Value)>),
    /// An enum variant and what it carries (`Unit`, the newtype's value, a `Tuple` or a
    /// `Struct`).
    Variant {
        /// The variant's name.
        name: String,
        /// What it carries.
        value: Box<Value>,
    },
}

/// A value does not have the shape its type requires.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("at {path}: expected {expected}, found {found}")]
pub struct ShapeError {
    /// Where in the value (`$` is the value itself).
    pub path: String,
    /// What the type requires.
    pub expected: String,
    /// What was given.
    pub found: String,
}

impl ShapeError {
    pub(crate) fn new(
        path: &str,
        expected: impl fmt::Display,
        found: impl fmt::Display,
    ) -> ShapeError {
        ShapeError {
            path: path.to_owned(),
            expected: expected.to_string(),
            found: found.to_string(),
        }
    }
}

impl Value {
    /// The value as JSON: structs as objects, enum variants as `"Name"` or `{"Name": …}`,
    /// maps with string keys as objects (others as `[[key, value], …]`), bytes and
    /// sequences as arrays, `None` and `()` as `null`.
    pub fn to_json(&self) -> Json {
        match self {
            Value::Unit => Json::Null,
            Value::Bool(b) => Json::Bool(*b),
            Value::Int(i) => Json::from(*i),
            Value::UInt(u) => Json::from(*u),
            // Beyond 64 bits JSON numbers lose precision: write them as strings.
            Value::I128(i) => Json::String(i.to_string()),
            Value::U128(u) => Json::String(u.to_string()),
            Value::Float(f) => serde_json::Number::from_f64(*f).map_or(Json::Null, Json::Number),
            Value::Char(c) => Json::String(c.to_string()),
            Value::Str(s) => Json::String(s.clone()),
            Value::Bytes(b) => Json::Array(b.iter().map(|x| Json::from(*x)).collect()),
            Value::Option(None) => Json::Null,
            Value::Option(Some(v)) => v.to_json(),
            Value::Seq(items) | Value::Tuple(items) => {
                Json::Array(items.iter().map(Value::to_json).collect())
            }
            Value::Map(entries) => {
                if entries.iter().all(|(k, _)| matches!(k, Value::Str(_))) {
                    Json::Object(
                        entries
                            .iter()
                            .filter_map(|(k, v)| match k {
                                Value::Str(k) => Some((k.clone(), v.to_json())),
                                _ => None,
                            })
                            .collect(),
                    )
                } else {
                    Json::Array(
                        entries
                            .iter()
                            .map(|(k, v)| Json::Array(vec![k.to_json(), v.to_json()]))
                            .collect(),
                    )
                }
            }
            Value::Struct(fields) => Json::Object(
                fields
                    .iter()
                    .map(|(k, v)| (k.clone(), v.to_json()))
                    .collect(),
            ),
            Value::Variant { name, value } => match value.as_ref() {
                Value::Unit => Json::String(name.clone()),
                inner => Json::Object([(name.clone(), inner.to_json())].into_iter().collect()),
            },
        }
    }

    /// Reads JSON as a value of shape `format` (named types from `types`), the inverse of
    /// [`Value::to_json`]. A missing struct field whose type is an `Option` reads as `None`.
    pub fn from_json(
        json: &Json,
        format: &TypeFormat,
        types: &BTreeMap<String, TypeDef>,
    ) -> Result<Value, ShapeError> {
        from_json(json, format, types, "$")
    }
}

fn kind(json: &Json) -> &'static str {
    match json {
        Json::Null => "null",
        Json::Bool(_) => "a boolean",
        Json::Number(_) => "a number",
        Json::String(_) => "a string",
        Json::Array(_) => "an array",
        Json::Object(_) => "an object",
    }
}

fn int<T: TryFrom<i64> + TryFrom<u64>>(
    json: &Json,
    path: &str,
    name: &str,
) -> Result<(), ShapeError> {
    let fits = match json {
        Json::Number(n) => {
            n.as_i64().is_some_and(|i| T::try_from(i).is_ok())
                || n.as_u64().is_some_and(|u| T::try_from(u).is_ok())
        }
        _ => false,
    };
    if fits {
        Ok(())
    } else {
        Err(ShapeError::new(
            path,
            format!("an integer that fits {name}"),
            json,
        ))
    }
}

fn from_json(
    json: &Json,
    format: &TypeFormat,
    types: &BTreeMap<String, TypeDef>,
    path: &str,
) -> Result<Value, ShapeError> {
    use TypeFormat as F;
    let wrong = |expected: &str| ShapeError::new(path, expected, kind(json));
    Ok(match format {
        F::Unit => match json {
            Json::Null => Value::Unit,
            _ => return Err(wrong("null")),
        },
        F::Bool => Value::Bool(json.as_bool().ok_or_else(|| wrong("a boolean"))?),
        F::I8 | F::I16 | F::I32 | F::I64 => {
            match format {
                F::I8 => int::<i8>(json, path, "i8")?,
                F::I16 => int::<i16>(json, path, "i16")?,
                F::I32 => int::<i32>(json, path, "i32")?,
                _ => int::<i64>(json, path, "i64")?,
            }
            Value::Int(json.as_i64().ok_or_else(|| wrong("an integer"))?)
        }
        F::U8 | F::U16 | F::U32 | F::U64 => {
            match format {
                F::U8 => int::<u8>(json, path, "u8")?,
                F::U16 => int::<u16>(json, path, "u16")?,
                F::U32 => int::<u32>(json, path, "u32")?,
                _ => int::<u64>(json, path, "u64")?,
            }
            Value::UInt(json.as_u64().ok_or_else(|| wrong("an unsigned integer"))?)
        }
        F::I128 => Value::I128(
            big(json)
                .and_then(|s| s.parse().ok())
                .ok_or_else(|| wrong("an i128"))?,
        ),
        F::U128 => Value::U128(
            big(json)
                .and_then(|s| s.parse().ok())
                .ok_or_else(|| wrong("a u128"))?,
        ),
        F::F32 | F::F64 => Value::Float(json.as_f64().ok_or_else(|| wrong("a number"))?),
        F::Char => {
            let s = json
                .as_str()
                .ok_or_else(|| wrong("a one-character string"))?;
            let mut chars = s.chars();
            match (chars.next(), chars.next()) {
                (Some(c), None) => Value::Char(c),
                _ => {
                    return Err(ShapeError::new(
                        path,
                        "a one-character string",
                        format!("{s:?}"),
                    ))
                }
            }
        }
        F::Str => Value::Str(json.as_str().ok_or_else(|| wrong("a string"))?.to_owned()),
        F::Bytes => {
            let items = json.as_array().ok_or_else(|| wrong("an array of bytes"))?;
            let bytes = items
                .iter()
                .enumerate()
                .map(|(i, b)| {
                    b.as_u64()
                        .and_then(|b| u8::try_from(b).ok())
                        .ok_or_else(|| {
                            ShapeError::new(&format!("{path}[{i}]"), "a byte (0-255)", kind(b))
                        })
                })
                .collect::<Result<_, _>>()?;
            Value::Bytes(bytes)
        }
        F::Option(inner) => match json {
            Json::Null => Value::Option(None),
            other => Value::Option(Some(Box::new(from_json(other, inner, types, path)?))),
        },
        F::Seq(inner) => {
            let items = json.as_array().ok_or_else(|| wrong("an array"))?;
            Value::Seq(
                items
                    .iter()
                    .enumerate()
                    .map(|(i, j)| from_json(j, inner, types, &format!("{path}[{i}]")))
                    .collect::<Result<_, _>>()?,
            )
        }
        F::Array(inner, size) => {
            let items = json.as_array().ok_or_else(|| wrong("an array"))?;
            if items.len() != *size {
                return Err(ShapeError::new(
                    path,
                    format!("an array of {size}"),
                    format!("an array of {}", items.len()),
                ));
            }
            Value::Seq(
                items
                    .iter()
                    .enumerate()
                    .map(|(i, j)| from_json(j, inner, types, &format!("{path}[{i}]")))
                    .collect::<Result<_, _>>()?,
            )
        }
        F::Tuple(formats) => Value::Tuple(tuple(json, formats, types, path)?),
        F::Map(key, value) => match json {
            Json::Object(entries) => Value::Map(
                entries
                    .iter()
                    .map(|(k, v)| {
                        let entry = format!("{path}.{k}");
                        Ok((
                            from_json(&Json::String(k.clone()), key, types, &entry)?,
                            from_json(v, value, types, &entry)?,
                        ))
                    })
                    .collect::<Result<_, _>>()?,
            ),
            Json::Array(pairs) => Value::Map(
                pairs
                    .iter()
                    .enumerate()
                    .map(|(i, pair)| {
                        let entry = format!("{path}[{i}]");
                        match pair.as_array().map(Vec::as_slice) {
                            Some([k, v]) => Ok((
                                from_json(k, key, types, &entry)?,
                                from_json(v, value, types, &entry)?,
                            )),
                            _ => Err(ShapeError::new(&entry, "a [key, value] pair", kind(pair))),
                        }
                    })
                    .collect::<Result<_, _>>()?,
            ),
            _ => return Err(wrong("an object or an array of [key, value] pairs")),
        },
        F::Named(name) => {
            let def = types.get(name).ok_or_else(|| {
                ShapeError::new(
                    path,
                    format!("a type {name} the schema defines"),
                    "an unknown type",
                )
            })?;
            named(json, name, def, types, path)?
        }
    })
}

fn big(json: &Json) -> Option<String> {
    match json {
        Json::String(s) => Some(s.clone()),
        Json::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn tuple(
    json: &Json,
    formats: &[TypeFormat],
    types: &BTreeMap<String, TypeDef>,
    path: &str,
) -> Result<Vec<Value>, ShapeError> {
    let items = json.as_array().ok_or_else(|| {
        ShapeError::new(path, format!("an array of {}", formats.len()), kind(json))
    })?;
    if items.len() != formats.len() {
        return Err(ShapeError::new(
            path,
            format!("an array of {}", formats.len()),
            format!("an array of {}", items.len()),
        ));
    }
    items
        .iter()
        .zip(formats)
        .enumerate()
        .map(|(i, (j, f))| from_json(j, f, types, &format!("{path}[{i}]")))
        .collect()
}

fn fields(
    json: &Json,
    fields: &[Field],
    types: &BTreeMap<String, TypeDef>,
    path: &str,
) -> Result<Vec<(String, Value)>, ShapeError> {
    let object = json
        .as_object()
        .ok_or_else(|| ShapeError::new(path, "an object", kind(json)))?;
    if let Some(unknown) = object
        .keys()
        .find(|k| !fields.iter().any(|f| &f.name == *k))
    {
        return Err(ShapeError::new(
            &format!("{path}.{unknown}"),
            "no such field",
            "a value",
        ));
    }
    fields
        .iter()
        .map(|f| {
            let at = format!("{path}.{}", f.name);
            let value = match (object.get(&f.name), &f.format) {
                (Some(j), format) => from_json(j, format, types, &at)?,
                (None, TypeFormat::Option(_)) => Value::Option(None),
                (None, _) => return Err(ShapeError::new(&at, "a value", "nothing")),
            };
            Ok((f.name.clone(), value))
        })
        .collect()
}

fn named(
    json: &Json,
    name: &str,
    def: &TypeDef,
    types: &BTreeMap<String, TypeDef>,
    path: &str,
) -> Result<Value, ShapeError> {
    Ok(match def {
        TypeDef::UnitStruct => match json {
            Json::Null => Value::Unit,
            _ => return Err(ShapeError::new(path, "null", kind(json))),
        },
        TypeDef::NewtypeStruct(inner) => from_json(json, inner, types, path)?,
        TypeDef::TupleStruct(formats) => Value::Tuple(tuple(json, formats, types, path)?),
        TypeDef::Struct(fs) => Value::Struct(fields(json, fs, types, path)?),
        TypeDef::Enum(variants) => {
            let (variant_name, content) = match json {
                Json::String(s) => (s.as_str(), None),
                Json::Object(o) if o.len() == 1 => o
                    .iter()
                    .next()
                    .map(|(k, v)| (k.as_str(), Some(v)))
                    .unwrap_or(("", None)),
                _ => {
                    return Err(ShapeError::new(
                        path,
                        format!("a variant of {name}: \"Name\" or {{\"Name\": …}}"),
                        kind(json),
                    ))
                }
            };
            let variant = variants
                .iter()
                .find(|v| v.name == variant_name)
                .ok_or_else(|| {
                    let names: Vec<&str> = variants.iter().map(|v| v.name.as_str()).collect();
                    ShapeError::new(
                        path,
                        format!("one of {}", names.join(", ")),
                        format!("{variant_name:?}"),
                    )
                })?;
            let at = format!("{path}.{variant_name}");
            let value = match (&variant.shape, content) {
                (VariantShape::Unit, None | Some(Json::Null)) => Value::Unit,
                (VariantShape::Newtype(f), Some(j)) => from_json(j, f, types, &at)?,
                (VariantShape::Tuple(fs), Some(j)) => Value::Tuple(tuple(j, fs, types, &at)?),
                (VariantShape::Struct(fs), Some(j)) => Value::Struct(fields(j, fs, types, &at)?),
                (_, None) => return Err(ShapeError::new(&at, "the variant's content", "nothing")),
                (VariantShape::Unit, Some(j)) => {
                    return Err(ShapeError::new(&at, "nothing", kind(j)))
                }
            };
            Value::Variant {
                name: variant.name.clone(),
                value: Box::new(value),
            }
        }
    })
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.to_json())
    }
}
