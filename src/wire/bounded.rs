//! Decoding that a hostile peer cannot turn into a huge allocation, an endless loop or a
//! stack overflow.
//!
//! Every value a peer sends is decoded from a byte slice that has already arrived, through
//! a wrapper around the format's deserializer and every visitor, sequence, map
//! and enum it hands out. The wrapper enforces three things:
//!
//! - **Lengths are bounded by the bytes that are there.** Owned strings and byte buffers are
//!   read as borrowed slices of the input and copied afterwards, so a length prefix that
//!   claims 2^62 bytes fails when the slice is taken instead of allocating first (bincode
//!   reserves the claimed length for an owned `String`). Size hints handed to collections are
//!   capped by the element budget below.
//! - **Element counts are bounded by the bytes that are there.** Every element of a sequence,
//!   tuple, struct or map costs one unit of a budget of `input length +`
//!   [`ZERO_SIZED_ALLOWANCE`]. Every element that is not zero-sized takes at least one byte in
//!   bincode and postcard, so honest values never run out; a `Vec<()>` that claims 2^40
//!   elements from ten bytes stops after the allowance.
//! - **Nesting is bounded.** Each compound (an option, a newtype, a sequence, a tuple, a
//!   struct, a map, an enum) is one level, at most [`MAX_DEPTH`], so a value (or a schema)
//!   nested 100 000 levels deep is an error, not a stack overflow.

use std::cell::Cell;
use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, EnumAccess, MapAccess, SeqAccess};
use serde::de::{VariantAccess, Visitor};

/// The deepest nesting accepted in one decoded value (a struct, an option, a sequence and an
/// enum are each a level).
pub const MAX_DEPTH: usize = 256;

/// Elements that may take no bytes at all (units, empty structs) allowed in one decoded
/// value, beyond one element per byte of input.
pub const ZERO_SIZED_ALLOWANCE: usize = 65_536;

/// Which bound a value broke.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limit {
    /// It is nested deeper than [`MAX_DEPTH`].
    Depth,
    /// It has more elements than its bytes can hold.
    Elements,
}

impl fmt::Display for Limit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Limit::Depth => write!(f, "the value is nested deeper than {MAX_DEPTH} levels"),
            Limit::Elements => write!(
                f,
                "the value claims more elements than its bytes hold \
                 (one per byte plus {ZERO_SIZED_ALLOWANCE})"
            ),
        }
    }
}

/// What one decode may still spend. Decoding is single-threaded, so cells suffice.
pub(crate) struct Budget {
    depth_left: Cell<usize>,
    elements_left: Cell<usize>,
    exceeded: Cell<Option<Limit>>,
}

impl Budget {
    /// The budget for decoding `input_len` bytes.
    pub(crate) fn for_input(input_len: usize) -> Budget {
        Budget {
            depth_left: Cell::new(MAX_DEPTH),
            elements_left: Cell::new(input_len.saturating_add(ZERO_SIZED_ALLOWANCE)),
            exceeded: Cell::new(None),
        }
    }

    /// A budget that bounds only nesting, for walking types rather than bytes (tracing a
    /// type's serde implementation, which recurses forever on some recursive enums).
    pub(crate) fn depth_only() -> Budget {
        Budget::for_input(usize::MAX)
    }

    /// The bound the decode broke, if it failed for that reason.
    pub(crate) fn exceeded(&self) -> Option<Limit> {
        self.exceeded.get()
    }

    fn fail<E: de::Error>(&self, limit: Limit) -> E {
        self.exceeded.set(Some(limit));
        E::custom(limit)
    }

    #[inline]
    fn enter<E: de::Error>(&self) -> Result<(), E> {
        match self.depth_left.get() {
            0 => Err(self.fail(Limit::Depth)),
            left => {
                self.depth_left.set(left - 1);
                Ok(())
            }
        }
    }

    #[inline]
    fn leave(&self) {
        self.depth_left.set(self.depth_left.get() + 1);
    }

    /// Spends one element, failing once none is left. (An element that turns out not to be
    /// there, the end of a sequence, costs one too: the allowance covers those.)
    #[inline]
    fn element<E: de::Error>(&self) -> Result<(), E> {
        match self.elements_left.get() {
            0 => Err(self.fail(Limit::Elements)),
            left => {
                self.elements_left.set(left - 1);
                Ok(())
            }
        }
    }

    fn cap_hint(&self, hint: Option<usize>) -> Option<usize> {
        hint.map(|n| n.min(self.elements_left.get()))
    }
}

/// A seed that decodes its inner seed under a [`Budget`].
pub(crate) struct BoundedSeed<'b, S> {
    seed: S,
    budget: &'b Budget,
}

impl<'b, S> BoundedSeed<'b, S> {
    pub(crate) fn new(seed: S, budget: &'b Budget) -> Self {
        BoundedSeed { seed, budget }
    }
}

impl<S: Clone> Clone for BoundedSeed<'_, S> {
    fn clone(&self) -> Self {
        BoundedSeed::new(self.seed.clone(), self.budget)
    }
}

impl<'de, S: DeserializeSeed<'de>> DeserializeSeed<'de> for BoundedSeed<'_, S> {
    type Value = S::Value;

    #[inline]
    fn deserialize<D: Deserializer<'de>>(self, inner: D) -> Result<S::Value, D::Error> {
        self.seed.deserialize(BoundedDeserializer {
            inner,
            budget: self.budget,
        })
    }
}

struct BoundedDeserializer<'b, D> {
    inner: D,
    budget: &'b Budget,
}

impl<'b, D> BoundedDeserializer<'b, D> {
    /// A visitor that hands borrowed strings and bytes to `visitor` as owned ones.
    fn owned<V>(&self, visitor: V) -> BoundedVisitor<'b, V> {
        BoundedVisitor {
            inner: visitor,
            budget: self.budget,
            owned: true,
        }
    }

    /// Runs one nested call one level deeper, with the visitor wrapped.
    fn nested<'de, V: Visitor<'de>, E: de::Error>(
        inner: D,
        budget: &'b Budget,
        visitor: V,
        owned: bool,
        call: impl FnOnce(D, BoundedVisitor<'b, V>) -> Result<V::Value, E>,
    ) -> Result<V::Value, E> {
        budget.enter()?;
        let visitor = BoundedVisitor {
            inner: visitor,
            budget,
            owned,
        };
        let result = call(inner, visitor);
        budget.leave();
        result
    }
}

/// Forwards `deserialize_*` methods, one level deeper, with the visitor wrapped.
macro_rules! forward_nested {
    ($($method:ident($($arg:ident: $ty:ty),*);)*) => {$(
        fn $method<V: Visitor<'de>>(self, $($arg: $ty,)* visitor: V) -> Result<V::Value, D::Error> {
            Self::nested(self.inner, self.budget, visitor, false, |d, v| d.$method($($arg,)* v))
        }
    )*};
}

/// Forwards `deserialize_*` methods of values that hold no other value, as they are: their
/// visitors cannot nest, so they need no wrapping (which keeps the common case cheap).
macro_rules! forward_flat {
    ($($method:ident($($arg:ident: $ty:ty),*);)*) => {$(
        #[inline]
        fn $method<V: Visitor<'de>>(self, $($arg: $ty,)* visitor: V) -> Result<V::Value, D::Error> {
            self.inner.$method($($arg,)* visitor)
        }
    )*};
}

impl<'de, D: Deserializer<'de>> Deserializer<'de> for BoundedDeserializer<'_, D> {
    type Error = D::Error;

    forward_nested! {
        deserialize_any();
        deserialize_option();
        deserialize_newtype_struct(name: &'static str);
        deserialize_seq();
        deserialize_tuple(len: usize);
        deserialize_tuple_struct(name: &'static str, len: usize);
        deserialize_map();
        deserialize_struct(name: &'static str, fields: &'static [&'static str]);
        deserialize_enum(name: &'static str, variants: &'static [&'static str]);
        deserialize_ignored_any();
    }

    forward_flat! {
        deserialize_bool();
        deserialize_i8();
        deserialize_i16();
        deserialize_i32();
        deserialize_i64();
        deserialize_i128();
        deserialize_u8();
        deserialize_u16();
        deserialize_u32();
        deserialize_u64();
        deserialize_u128();
        deserialize_f32();
        deserialize_f64();
        deserialize_char();
        deserialize_str();
        deserialize_bytes();
        deserialize_unit();
        deserialize_unit_struct(name: &'static str);
        deserialize_identifier();
    }

    // An owned string or buffer is read as a slice of the input (whose length the format
    // checks against what is there) and copied by the visitor: never preallocated from a
    // length the peer claims.
    fn deserialize_string<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, D::Error> {
        let visitor = self.owned(visitor);
        self.inner.deserialize_str(visitor)
    }

    fn deserialize_byte_buf<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, D::Error> {
        let visitor = self.owned(visitor);
        self.inner.deserialize_bytes(visitor)
    }

    fn is_human_readable(&self) -> bool {
        self.inner.is_human_readable()
    }
}

struct BoundedVisitor<'b, V> {
    inner: V,
    budget: &'b Budget,
    /// The caller asked for an owned string or buffer: hand it one, as it asked.
    owned: bool,
}

/// Forwards `visit_*` methods that carry a plain value.
macro_rules! forward_visit {
    ($($method:ident($ty:ty);)*) => {$(
        fn $method<E: de::Error>(self, v: $ty) -> Result<V::Value, E> {
            self.inner.$method(v)
        }
    )*};
}

impl<'de, V: Visitor<'de>> Visitor<'de> for BoundedVisitor<'_, V> {
    type Value = V::Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.inner.expecting(f)
    }

    forward_visit! {
        visit_bool(bool);
        visit_i8(i8);
        visit_i16(i16);
        visit_i32(i32);
        visit_i64(i64);
        visit_i128(i128);
        visit_u8(u8);
        visit_u16(u16);
        visit_u32(u32);
        visit_u64(u64);
        visit_u128(u128);
        visit_f32(f32);
        visit_f64(f64);
        visit_char(char);
        visit_str(&str);
        visit_string(String);
        visit_bytes(&[u8]);
        visit_byte_buf(Vec<u8>);
    }

    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<V::Value, E> {
        if self.owned {
            self.inner.visit_string(v.to_owned())
        } else {
            self.inner.visit_borrowed_str(v)
        }
    }

    fn visit_borrowed_bytes<E: de::Error>(self, v: &'de [u8]) -> Result<V::Value, E> {
        if self.owned {
            self.inner.visit_byte_buf(v.to_vec())
        } else {
            self.inner.visit_borrowed_bytes(v)
        }
    }

    fn visit_none<E: de::Error>(self) -> Result<V::Value, E> {
        self.inner.visit_none()
    }

    fn visit_unit<E: de::Error>(self) -> Result<V::Value, E> {
        self.inner.visit_unit()
    }

    fn visit_some<D: Deserializer<'de>>(self, inner: D) -> Result<V::Value, D::Error> {
        self.inner.visit_some(BoundedDeserializer {
            inner,
            budget: self.budget,
        })
    }

    fn visit_newtype_struct<D: Deserializer<'de>>(self, inner: D) -> Result<V::Value, D::Error> {
        self.inner.visit_newtype_struct(BoundedDeserializer {
            inner,
            budget: self.budget,
        })
    }

    fn visit_seq<A: SeqAccess<'de>>(self, inner: A) -> Result<V::Value, A::Error> {
        self.inner.visit_seq(BoundedAccess {
            inner,
            budget: self.budget,
        })
    }

    fn visit_map<A: MapAccess<'de>>(self, inner: A) -> Result<V::Value, A::Error> {
        self.inner.visit_map(BoundedAccess {
            inner,
            budget: self.budget,
        })
    }

    fn visit_enum<A: EnumAccess<'de>>(self, inner: A) -> Result<V::Value, A::Error> {
        self.inner.visit_enum(BoundedAccess {
            inner,
            budget: self.budget,
        })
    }
}

/// A sequence, map, enum or variant access whose seeds and visitors stay bounded.
struct BoundedAccess<'b, A> {
    inner: A,
    budget: &'b Budget,
}

impl<'b, A> BoundedAccess<'b, A> {
    fn seed<S>(&self, seed: S) -> BoundedSeed<'b, S> {
        BoundedSeed::new(seed, self.budget)
    }
}

impl<'de, A: SeqAccess<'de>> SeqAccess<'de> for BoundedAccess<'_, A> {
    type Error = A::Error;

    #[inline]
    fn next_element_seed<S: DeserializeSeed<'de>>(
        &mut self,
        seed: S,
    ) -> Result<Option<S::Value>, A::Error> {
        self.budget.element()?;
        let seed = self.seed(seed);
        self.inner.next_element_seed(seed)
    }

    fn size_hint(&self) -> Option<usize> {
        self.budget.cap_hint(self.inner.size_hint())
    }
}

impl<'de, A: MapAccess<'de>> MapAccess<'de> for BoundedAccess<'_, A> {
    type Error = A::Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, A::Error> {
        self.budget.element()?;
        let seed = self.seed(seed);
        self.inner.next_key_seed(seed)
    }

    fn next_value_seed<S: DeserializeSeed<'de>>(&mut self, seed: S) -> Result<S::Value, A::Error> {
        let seed = self.seed(seed);
        self.inner.next_value_seed(seed)
    }

    fn size_hint(&self) -> Option<usize> {
        self.budget.cap_hint(self.inner.size_hint())
    }
}

impl<'de, 'b, A: EnumAccess<'de>> EnumAccess<'de> for BoundedAccess<'b, A> {
    type Error = A::Error;
    type Variant = BoundedAccess<'b, A::Variant>;

    fn variant_seed<S: DeserializeSeed<'de>>(
        self,
        seed: S,
    ) -> Result<(S::Value, Self::Variant), A::Error> {
        let seed = self.seed(seed);
        let (value, variant) = self.inner.variant_seed(seed)?;
        let variant = BoundedAccess {
            inner: variant,
            budget: self.budget,
        };
        Ok((value, variant))
    }
}

impl<'de, A: VariantAccess<'de>> VariantAccess<'de> for BoundedAccess<'_, A> {
    type Error = A::Error;

    fn unit_variant(self) -> Result<(), A::Error> {
        self.inner.unit_variant()
    }

    fn newtype_variant_seed<S: DeserializeSeed<'de>>(self, seed: S) -> Result<S::Value, A::Error> {
        let seed = self.seed(seed);
        self.inner.newtype_variant_seed(seed)
    }

    fn tuple_variant<V: Visitor<'de>>(self, len: usize, visitor: V) -> Result<V::Value, A::Error> {
        let visitor = BoundedVisitor {
            inner: visitor,
            budget: self.budget,
            owned: false,
        };
        self.inner.tuple_variant(len, visitor)
    }

    fn struct_variant<V: Visitor<'de>>(
        self,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, A::Error> {
        let visitor = BoundedVisitor {
            inner: visitor,
            budget: self.budget,
            owned: false,
        };
        self.inner.struct_variant(fields, visitor)
    }
}

#[cfg(test)]
mod tests {
    use std::borrow::Cow;
    use std::collections::BTreeMap;

    use serde::{Deserialize, Serialize};

    use super::*;
    use crate::wire::Encoding;

    fn all() -> Vec<Encoding> {
        vec![
            Encoding::Bincode,
            #[cfg(feature = "postcard")]
            Encoding::Postcard,
        ]
    }

    /// A length prefix claiming `len`, as each encoding writes one (bincode: varint with a
    /// u64 or u128 marker; postcard: LEB128).
    fn claimed_len(enc: Encoding, len: u128) -> Vec<u8> {
        match enc {
            Encoding::Bincode if len > u128::from(u64::MAX) => {
                let mut out = vec![0xfe];
                out.extend_from_slice(&len.to_le_bytes());
                out
            }
            Encoding::Bincode => {
                let mut out = vec![0xfd];
                out.extend_from_slice(&(len as u64).to_le_bytes());
                out
            }
            #[cfg(feature = "postcard")]
            Encoding::Postcard => {
                let mut out = Vec::new();
                let mut n = len as u64;
                loop {
                    let byte = (n & 0x7f) as u8;
                    n >>= 7;
                    if n == 0 {
                        out.push(byte);
                        return out;
                    }
                    out.push(byte | 0x80);
                }
            }
        }
    }

    const CLAIMS: [u128; 4] = [1 << 40, 1 << 62, u64::MAX as u128, u128::MAX];

    #[test]
    fn a_string_claiming_more_than_it_holds_is_an_error_not_an_allocation() {
        for enc in all() {
            for claim in CLAIMS {
                let mut bytes = claimed_len(enc, claim);
                bytes.extend_from_slice(b"only a few bytes");
                let err = enc.decode::<String>(&bytes).unwrap_err();
                assert!(err.to_string().contains("String"), "{err}");
                assert!(enc.decode::<serde_bytes::ByteBuf>(&bytes).is_err());
                assert!(enc.decode::<Vec<String>>(&bytes).is_err());
            }
        }
    }

    #[test]
    fn collections_claiming_more_than_they_hold_are_errors() {
        for enc in all() {
            for claim in CLAIMS {
                let bytes = claimed_len(enc, claim);
                assert!(enc.decode::<Vec<u64>>(&bytes).is_err());
                assert!(enc.decode::<BTreeMap<u8, u8>>(&bytes).is_err());
                assert!(enc.decode::<Vec<Vec<u8>>>(&bytes).is_err());
            }
        }
    }

    #[test]
    fn zero_sized_elements_stop_at_the_allowance() {
        for enc in all() {
            let bytes = claimed_len(enc, 1 << 40);
            let err = enc.decode::<Vec<()>>(&bytes).unwrap_err();
            assert_eq!(err.limit(), Some(Limit::Elements), "{err}");
            // Honest zero-sized sequences within the allowance still decode.
            let fine = enc.encode(&vec![(); 1000]).unwrap();
            assert_eq!(enc.decode::<Vec<()>>(&fine).unwrap().len(), 1000);
        }
    }

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    enum Nest {
        Leaf,
        Node(Box<Nest>),
    }

    /// Runs `f` on a thread with a small stack, as a hostile value would find it.
    fn on_small_stack(f: impl FnOnce() + Send + 'static) {
        std::thread::Builder::new()
            .stack_size(1 << 20)
            .spawn(f)
            .unwrap()
            .join()
            .unwrap();
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_stack_overflow() {
        on_small_stack(|| {
            for enc in all() {
                // `Node(Node(…(Leaf)))`, 100 000 deep: variant 1 repeated, then variant 0.
                let mut bytes = vec![1u8; 100_000];
                bytes.push(0);
                let err = enc.decode::<Nest>(&bytes).unwrap_err();
                assert_eq!(err.limit(), Some(Limit::Depth), "{err}");
                // Well within the bound, nesting decodes.
                let mut shallow = vec![1u8; 100];
                shallow.push(0);
                assert!(enc.decode::<Nest>(&shallow).is_ok());
            }
        });
    }

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Mixed {
        text: String,
        cow: Cow<'static, str>,
        #[serde(with = "serde_bytes")]
        blob: Vec<u8>,
        list: Vec<u8>,
        map: BTreeMap<String, Option<(u8, char)>>,
        nest: Nest,
    }

    #[test]
    fn honest_values_decode_as_before() {
        for enc in all() {
            let value = Mixed {
                text: "hello".into(),
                cow: Cow::Borrowed("borrowed"),
                blob: vec![9; 300],
                list: (0..=255).collect(),
                map: [("a".into(), Some((1, 'x'))), ("b".into(), None)].into(),
                nest: Nest::Node(Box::new(Nest::Leaf)),
            };
            let bytes = enc.encode(&value).unwrap();
            let owned: Mixed = enc.decode(&bytes).unwrap();
            assert_eq!(owned, value);
        }
    }
}
