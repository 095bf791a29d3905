//! Value encodings: how a property value, a slot argument list or a return value becomes bytes.

use std::fmt;

use serde::{de::DeserializeOwned, Serialize};

/// The serialization format for values on the wire.
///
/// Both peers name their encoding in the handshake; peers that disagree refuse each other
/// with a clear error instead of misreading values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum Encoding {
    /// bincode 2 with its standard configuration (variable-length integers). The default.
    #[default]
    Bincode,
    /// postcard 1 (cargo feature `postcard`): maintained, with a written, stable wire spec.
    #[cfg(feature = "postcard")]
    Postcard,
}

/// A value could not be encoded.
#[derive(Debug, thiserror::Error)]
#[error("cannot encode a value with {encoding}: {message}")]
pub struct EncodeError {
    encoding: Encoding,
    message: String,
}

/// Bytes could not be decoded into the expected type.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cannot decode a {type_name} with {encoding}: {message}")]
pub struct DecodeError {
    encoding: Encoding,
    type_name: &'static str,
    message: String,
}

impl Encoding {
    /// The name sent in the handshake.
    pub fn name(self) -> &'static str {
        match self {
            Encoding::Bincode => "bincode2",
            #[cfg(feature = "postcard")]
            Encoding::Postcard => "postcard1",
        }
    }

    /// The encoding a handshake names, if this build supports it.
    pub fn from_name(name: &str) -> Option<Encoding> {
        match name {
            "bincode2" => Some(Encoding::Bincode),
            #[cfg(feature = "postcard")]
            "postcard1" => Some(Encoding::Postcard),
            _ => None,
        }
    }

    /// Encodes `value` into a fresh byte vector.
    pub fn encode<T: Serialize + ?Sized>(self, value: &T) -> Result<Vec<u8>, EncodeError> {
        let result = match self {
            Encoding::Bincode => bincode::serde::encode_to_vec(value, bincode::config::standard())
                .map_err(|e| e.to_string()),
            #[cfg(feature = "postcard")]
            Encoding::Postcard => postcard::to_stdvec(value).map_err(|e| e.to_string()),
        };
        result.map_err(|message| EncodeError {
            encoding: self,
            message,
        })
    }

    /// Encodes `value` at the end of `out` (in place: no intermediate buffer).
    pub fn encode_into<T: Serialize + ?Sized>(
        self,
        value: &T,
        out: &mut bytes::BytesMut,
    ) -> Result<(), EncodeError> {
        use bytes::BufMut;
        let result = match self {
            Encoding::Bincode => bincode::serde::encode_into_std_write(
                value,
                &mut out.writer(),
                bincode::config::standard(),
            )
            .map(|_| ())
            .map_err(|e| e.to_string()),
            #[cfg(feature = "postcard")]
            Encoding::Postcard => postcard::to_io(value, out.writer())
                .map(|_| ())
                .map_err(|e| e.to_string()),
        };
        result.map_err(|message| EncodeError {
            encoding: self,
            message,
        })
    }

    /// Decodes a whole value with a serde seed (dynamic values); trailing bytes are an error.
    pub fn decode_seed<'de, S: serde::de::DeserializeSeed<'de>>(
        self,
        seed: S,
        bytes: &'de [u8],
    ) -> Result<S::Value, String> {
        match self {
            Encoding::Bincode => {
                let (value, used) = bincode::serde::seed_decode_from_slice(
                    seed,
                    bytes,
                    bincode::config::standard(),
                )
                .map_err(|e| e.to_string())?;
                if used != bytes.len() {
                    return Err(format!("{} trailing bytes", bytes.len() - used));
                }
                Ok(value)
            }
            #[cfg(feature = "postcard")]
            Encoding::Postcard => {
                let mut de = postcard::Deserializer::from_bytes(bytes);
                let value = seed.deserialize(&mut de).map_err(|e| e.to_string())?;
                let rest = de.finalize().map_err(|e| e.to_string())?;
                if !rest.is_empty() {
                    return Err(format!("{} trailing bytes", rest.len()));
                }
                Ok(value)
            }
        }
    }

    /// Decodes a whole `T` from `bytes`; trailing bytes are an error, not silently ignored.
    pub fn decode<T: DeserializeOwned>(self, bytes: &[u8]) -> Result<T, DecodeError> {
        let fail = |message: String| DecodeError {
            encoding: self,
            type_name: std::any::type_name::<T>(),
            message,
        };
        match self {
            Encoding::Bincode => {
                let (value, used) =
                    bincode::serde::decode_from_slice(bytes, bincode::config::standard())
                        .map_err(|e| fail(e.to_string()))?;
                if used != bytes.len() {
                    return Err(fail(format!("{} trailing bytes", bytes.len() - used)));
                }
                Ok(value)
            }
            #[cfg(feature = "postcard")]
            Encoding::Postcard => {
                let (value, rest) =
                    postcard::take_from_bytes(bytes).map_err(|e| fail(e.to_string()))?;
                if !rest.is_empty() {
                    return Err(fail(format!("{} trailing bytes", rest.len())));
                }
                Ok(value)
            }
        }
    }
}

impl fmt::Display for Encoding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, PartialEq, Serialize, serde::Deserialize)]
    struct Sample {
        a: u32,
        b: String,
        c: Vec<Option<i64>>,
    }

    fn all() -> Vec<Encoding> {
        vec![
            Encoding::Bincode,
            #[cfg(feature = "postcard")]
            Encoding::Postcard,
        ]
    }

    #[test]
    fn round_trips_a_struct() {
        for enc in all() {
            let value = Sample {
                a: 7,
                b: "x".into(),
                c: vec![Some(-1), None],
            };
            let bytes = enc.encode(&value).unwrap();
            assert_eq!(enc.decode::<Sample>(&bytes).unwrap(), value);
            assert_eq!(Encoding::from_name(enc.name()), Some(enc));
        }
    }

    #[test]
    fn encode_into_appends_the_same_bytes() {
        for enc in all() {
            let value = Sample {
                a: 300,
                b: "y".into(),
                c: vec![None],
            };
            let mut out = bytes::BytesMut::from(&b"head"[..]);
            enc.encode_into(&value, &mut out).unwrap();
            assert_eq!(&out[..4], b"head");
            assert_eq!(&out[4..], &enc.encode(&value).unwrap()[..]);
        }
    }

    #[test]
    fn trailing_bytes_are_an_error() {
        for enc in all() {
            let mut bytes = enc.encode(&5u8).unwrap();
            bytes.push(0);
            let err = enc.decode::<u8>(&bytes).unwrap_err();
            assert!(err.to_string().contains("trailing"), "{err}");
        }
    }

    #[test]
    fn truncated_input_is_an_error() {
        for enc in all() {
            let bytes = enc.encode(&"hello".to_string()).unwrap();
            assert!(enc.decode::<String>(&bytes[..3]).is_err());
        }
    }
}
