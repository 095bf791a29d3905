//! Rust types for the Qt value types `.rep` files use, and for `QVariant` itself: use them
//! in an API's properties, signals and slots, and they travel to Qt nodes as Qt's own
//! (`QPointF`, `QDateTime`, …), to native nodes as plain structs.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// `QPoint`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename = "QPoint")]
pub struct Point {
    /// x.
    pub x: i32,
    /// y.
    pub y: i32,
}

/// `QPointF`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename = "QPointF")]
pub struct PointF {
    /// x.
    pub x: f64,
    /// y.
    pub y: f64,
}

/// `QSize`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename = "QSize")]
pub struct Size {
    /// Width.
    pub width: i32,
    /// Height.
    pub height: i32,
}

/// `QSizeF`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename = "QSizeF")]
pub struct SizeF {
    /// Width.
    pub width: f64,
    /// Height.
    pub height: f64,
}

/// `QRect`, by its corners as Qt streams it: `right = x + width - 1`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename = "QRect")]
pub struct Rect {
    /// Left edge.
    pub left: i32,
    /// Top edge.
    pub top: i32,
    /// Right edge (inclusive).
    pub right: i32,
    /// Bottom edge (inclusive).
    pub bottom: i32,
}

/// `QRectF`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename = "QRectF")]
pub struct RectF {
    /// x.
    pub x: f64,
    /// y.
    pub y: f64,
    /// Width.
    pub width: f64,
    /// Height.
    pub height: f64,
}

/// `QLine`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename = "QLine")]
pub struct Line {
    /// Start x.
    pub x1: i32,
    /// Start y.
    pub y1: i32,
    /// End x.
    pub x2: i32,
    /// End y.
    pub y2: i32,
}

/// `QLineF`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename = "QLineF")]
pub struct LineF {
    /// Start x.
    pub x1: f64,
    /// Start y.
    pub y1: f64,
    /// End x.
    pub x2: f64,
    /// End y.
    pub y2: f64,
}

/// `QColor`, as RGB with 16 bits per component (Qt's `QRgba64`: 8-bit `v` is `v * 257`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename = "QColor")]
pub struct Color {
    /// Alpha.
    pub alpha: u16,
    /// Red.
    pub red: u16,
    /// Green.
    pub green: u16,
    /// Blue.
    pub blue: u16,
}

/// `QDateTime`, in UTC.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize,
)]
#[serde(rename = "QDateTime")]
pub struct DateTime {
    /// Milliseconds since 1970-01-01T00:00:00Z.
    pub unix_ms: i64,
}

/// `QDate`.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize,
)]
#[serde(rename = "QDate")]
pub struct Date {
    /// The Julian day number (2440588 is 1970-01-01).
    pub julian_day: i64,
}

/// `QTime`.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize,
)]
#[serde(rename = "QTime")]
pub struct Time {
    /// Milliseconds since midnight.
    pub ms: i64,
}

/// `QUrl`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename = "QUrl")]
pub struct Url {
    /// The URL, encoded.
    pub url: String,
}

/// `QUuid`.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize,
)]
#[serde(rename = "QUuid")]
pub struct Uuid {
    /// Its 16 bytes in RFC 4122 order.
    pub bytes: [u8; 16],
}

/// `QVariant`: a value of any of the types Qt's variant lists and maps commonly hold. A
/// `Vec<Variant>` is a `QVariantList`, a `BTreeMap<String, Variant>` a `QVariantMap`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename = "QVariant")]
pub enum Variant {
    /// An invalid `QVariant`.
    #[default]
    Invalid,
    /// `bool`.
    Bool(bool),
    /// Any integer.
    Int(i64),
    /// `double` or `float`.
    Double(f64),
    /// `QString`.
    String(String),
    /// `QByteArray`.
    Bytes(Vec<u8>),
    /// `QVariantList`.
    List(Vec<Variant>),
    /// `QVariantMap`.
    Map(BTreeMap<String, Variant>),
}

/// `QByteArray`: bytes that travel as one byte string (not a list of numbers).
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ByteArray(pub Vec<u8>);

impl Serialize for ByteArray {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_bytes(&self.0)
    }
}

impl<'de> Deserialize<'de> for ByteArray {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<ByteArray, D::Error> {
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = ByteArray;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("bytes")
            }
            fn visit_bytes<E: serde::de::Error>(self, v: &[u8]) -> Result<ByteArray, E> {
                Ok(ByteArray(v.to_vec()))
            }
            fn visit_byte_buf<E: serde::de::Error>(self, v: Vec<u8>) -> Result<ByteArray, E> {
                Ok(ByteArray(v))
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<ByteArray, A::Error> {
                let mut bytes = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(4096));
                while let Some(b) = seq.next_element()? {
                    bytes.push(b);
                }
                Ok(ByteArray(bytes))
            }
        }
        deserializer.deserialize_bytes(Visitor)
    }
}

impl From<Vec<u8>> for ByteArray {
    fn from(bytes: Vec<u8>) -> ByteArray {
        ByteArray(bytes)
    }
}
