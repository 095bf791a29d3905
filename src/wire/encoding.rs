//! Value encodings: how a property value, a slot argument list or a return value becomes bytes.

use std::fmt;

use std::marker::PhantomData;

use serde::de::{DeserializeOwned, DeserializeSeed};
use serde::Serialize;

use super::bounded::{BoundedSeed, Budget, Limit};

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

/// Bytes could not be decoded into the expected type: they are malformed, end early, have
/// bytes left over, or claim more than they hold (see [`DecodeError::limit`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cannot decode a {type_name} with {encoding}: {message}")]
pub struct DecodeError {
    encoding: Encoding,
    type_name: &'static str,
    message: String,
    limit: Option<Limit>,
}

impl DecodeError {
    /// The bound the bytes broke, when they claim more nesting or more elements than they
    /// hold (a hostile or corrupt peer); `None` for other malformed input.
    pub fn limit(&self) -> Option<Limit> {
        self.limit
    }

    /// The type that was being decoded.
    pub fn type_name(&self) -> &'static str {
        self.type_name
    }
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

    /// Encodes `value` as bytes sent once and dropped (a slot's result, on its way into its
    /// reply frame): cut from this thread's shared buffer when small, so they cost no
    /// allocation of their own.
    pub(crate) fn encode_transient<T: Serialize + ?Sized>(
        self,
        value: &T,
    ) -> Result<bytes::Bytes, EncodeError> {
        super::transient::cut(64, |out| self.encode_into(value, out))
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
    ///
    /// Like [`Encoding::decode`], the decode is bounded by `bytes` (see [`bounded`](super::bounded)).
    pub fn decode_seed<'de, S: DeserializeSeed<'de>>(
        self,
        seed: S,
        bytes: &'de [u8],
    ) -> Result<S::Value, DecodeError> {
        self.decode_bounded(seed, bytes, "dynamic value")
    }

    /// Decodes a whole `T` from `bytes`; trailing bytes are an error, not silently ignored.
    ///
    /// The decode is bounded by `bytes`: no length, count or depth the bytes claim can make it
    /// allocate more than a small multiple of their size, loop without consuming them, or
    /// recurse past [`bounded::MAX_DEPTH`](super::bounded::MAX_DEPTH).
    pub fn decode<T: DeserializeOwned>(self, bytes: &[u8]) -> Result<T, DecodeError> {
        self.decode_bounded(PhantomData::<T>, bytes, std::any::type_name::<T>())
    }

    fn decode_bounded<'de, S: DeserializeSeed<'de>>(
        self,
        seed: S,
        bytes: &'de [u8],
        type_name: &'static str,
    ) -> Result<S::Value, DecodeError> {
        let budget = Budget::for_input(bytes.len());
        let seed = BoundedSeed::new(seed, &budget);
        let result = match self {
            Encoding::Bincode => {
                bincode::serde::seed_decode_from_slice(seed, bytes, bincode::config::standard())
                    .map_err(|e| e.to_string())
                    .and_then(|(value, used)| match bytes.len() - used {
                        0 => Ok(value),
                        rest => Err(format!("{rest} trailing bytes")),
                    })
            }
            #[cfg(feature = "postcard")]
            Encoding::Postcard => {
                let mut de = postcard::Deserializer::from_bytes(bytes);
                seed.deserialize(&mut de)
                    .and_then(|value| de.finalize().map(|rest| (value, rest.len())))
                    .map_err(|e| e.to_string())
                    .and_then(|(value, rest)| match rest {
                        0 => Ok(value),
                        rest => Err(format!("{rest} trailing bytes")),
                    })
            }
        };
        result.map_err(|message| DecodeError {
            encoding: self,
            type_name,
            message,
            limit: budget.exceeded(),
        })
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
