//! Fuzz targets: the decoders that read what a peer sends, each as a plain function of the
//! bytes, free of sockets and actors. The cargo-fuzz targets in `fuzz/` (nightly) and the
//! seeded mutation tests in `tests/fuzz_*.rs` (stable, in CI) both drive these. Each target
//! must return for every input, without panicking, aborting or allocating beyond a small
//! multiple of the input; where something decodes, it must encode back to an equal value.
//!
//! Not part of the public API: names and signatures may change at any time.

use std::collections::BTreeMap;

use bytes::Bytes;
use serde::{Deserialize, Serialize};

use crate::values::schema::SchemaBuilder;
use crate::values::{codec, ApiSchema, TypeDef, TypeFormat};
use crate::wire::{Encoding, Packet};

/// Every encoding this build has.
fn encodings() -> Vec<Encoding> {
    vec![
        Encoding::Bincode,
        #[cfg(feature = "postcard")]
        Encoding::Postcard,
    ]
}

/// A packet payload (a frame without its length): if it decodes, it re-encodes to itself.
pub fn packet(data: &[u8]) {
    let Ok(packet) = Packet::decode(Bytes::copy_from_slice(data)) else {
        return;
    };
    let frame = packet.to_frame();
    assert_eq!(
        &frame[4..],
        data,
        "a decoded packet re-encodes to its bytes"
    );
}

/// A Qt Remote Objects packet payload (a frame without its length), read with the types of
/// the captured sessions (demo.rep's `MyPod`): if it decodes, it encodes, and what it
/// encodes to decodes to the same bytes again (Qt's readers accept some bytes that have a
/// canonical form, such as a null flag of 0xfc, so the first encoding may differ).
pub fn qt_packet(data: &[u8]) {
    use crate::wire::qt::{QtPacket, TypeRegistry};
    let mut base = TypeRegistry::new();
    base.add_gadget("MyPod", vec!["x".into(), "name".into()]);
    let encode = |packet: &QtPacket| {
        let types = match packet {
            QtPacket::InitDynamic { definition, .. } => definition.registry(&base),
            _ => base.clone(),
        };
        packet
            .to_frame(&types)
            .expect("a decoded Qt packet encodes")
    };
    let Ok(packet) = QtPacket::decode(data, &base) else {
        return;
    };
    let frame = encode(&packet);
    let again = QtPacket::decode(&frame[4..], &base).expect("an encoded Qt packet decodes");
    assert_eq!(encode(&again), frame, "a Qt packet's encoding is stable");
}

/// What a slot argument or property of the shapes users write looks like.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum Shape {
    /// Nothing.
    Empty,
    /// A circle.
    Circle(f32),
    /// Named fields.
    Labelled {
        /// A text.
        label: String,
        /// Bytes.
        #[serde(with = "serde_bytes_compat")]
        data: Vec<u8>,
        /// Nested values.
        children: Vec<Shape>,
    },
}

/// Bytes as one slice (what `serde_bytes` does), without the dependency.
mod serde_bytes_compat {
    use serde::{Deserializer, Serializer};

    pub fn serialize<S: Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bytes(bytes)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = Vec<u8>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("bytes")
            }
            fn visit_bytes<E>(self, v: &[u8]) -> Result<Vec<u8>, E> {
                Ok(v.to_vec())
            }
            fn visit_byte_buf<E>(self, v: Vec<u8>) -> Result<Vec<u8>, E> {
                Ok(v)
            }
        }
        d.deserialize_byte_buf(Visitor)
    }
}

/// A record with every kind of container in it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Record {
    /// Text.
    pub name: String,
    /// A sequence.
    pub samples: Vec<u64>,
    /// A map.
    pub table: BTreeMap<String, Option<(u8, char)>>,
    /// An enum.
    pub shape: Shape,
    /// Zero-sized elements.
    pub marks: Vec<()>,
    /// A big integer.
    pub wide: i128,
}

/// Where `data` decodes as a `T`, that value encodes, and its encoding decodes and encodes
/// to the same bytes again. (Bytes, not values, are compared: a NaN is not equal to itself,
/// and an encoding may accept longer forms than it writes.)
fn round_trip<T>(encoding: Encoding, data: &[u8])
where
    T: Serialize + serde::de::DeserializeOwned,
{
    if let Ok(value) = encoding.decode::<T>(data) {
        let bytes = encoding.encode(&value).expect("a decoded value encodes");
        let again: T = encoding.decode(&bytes).expect("an encoded value decodes");
        let twice = encoding.encode(&again).expect("a decoded value encodes");
        assert_eq!(twice, bytes, "a decoded value round-trips");
    }
}

/// A user value of several types, in every encoding.
pub fn value(data: &[u8]) {
    for encoding in encodings() {
        round_trip::<String>(encoding, data);
        round_trip::<Vec<String>>(encoding, data);
        round_trip::<BTreeMap<u32, Vec<u8>>>(encoding, data);
        round_trip::<(u16, Option<String>, bool)>(encoding, data);
        round_trip::<Shape>(encoding, data);
        round_trip::<Record>(encoding, data);
    }
}

/// An API description as a host sends it to a dynamic replica: decoded, checked, printed.
pub fn schema(data: &[u8]) {
    let Ok(schema) = Encoding::Bincode.decode::<ApiSchema>(data) else {
        return;
    };
    if schema.check().is_ok() {
        for property in &schema.properties {
            let _ = property.format.to_string();
        }
    }
}

/// The schema the dynamic target decodes by: the types of [`Record`] and [`Shape`].
pub fn sample_schema() -> (Vec<TypeFormat>, BTreeMap<String, TypeDef>) {
    let mut builder = SchemaBuilder::default();
    let formats = vec![
        builder.trace::<Record>().expect("Record traces"),
        builder.trace::<Shape>().expect("Shape traces"),
        builder.trace::<Vec<Option<String>>>().expect("Vec traces"),
        builder.trace::<[u8; 3]>().expect("arrays trace"),
    ];
    (formats, builder.types().expect("the types trace"))
}

/// A dynamic value decoded by its schema: where it decodes, it round-trips as
/// [`value`] requires.
pub fn dynamic(data: &[u8], formats: &[TypeFormat], types: &BTreeMap<String, TypeDef>) {
    for encoding in encodings() {
        for format in formats {
            if let Ok(value) = codec::decode(data, format, types, encoding) {
                let encode = |value| codec::encode(value, format, types, encoding);
                let bytes = encode(&value).expect("a decoded value encodes");
                let again = codec::decode(&bytes, format, types, encoding)
                    .expect("an encoded value decodes");
                let twice = encode(&again).expect("a decoded value encodes");
                assert_eq!(twice, bytes, "a decoded dynamic value round-trips");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_targets_accept_honest_and_hostile_inputs() {
        let (formats, types) = sample_schema();
        let record = Record {
            name: "n".into(),
            samples: vec![1, 2],
            table: [("k".into(), Some((1, 'x')))].into(),
            shape: Shape::Labelled {
                label: "l".into(),
                data: vec![1, 2, 3],
                children: vec![Shape::Circle(1.0), Shape::Empty],
            },
            marks: vec![(); 3],
            wide: -5,
        };
        let honest = Encoding::Bincode.encode(&record).unwrap();
        let mut hostile = vec![0xfd];
        hostile.extend_from_slice(&(1u64 << 62).to_le_bytes());
        for data in [&honest[..], &hostile, &[], &[0xff; 64]] {
            packet(data);
            value(data);
            schema(data);
            dynamic(data, &formats, &types);
        }
        packet(&Packet::Ping(3).to_frame()[4..]);
    }
}
