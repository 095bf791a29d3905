//! `QDataStream`'s primitives, read from and written to byte slices.
//!
//! Qt Remote Objects frames are little-endian streams, but several payloads inside them
//! (a sub-object's parameters, a container's values, a class definition inside a `QRO_`)
//! are byte arrays written by a fresh, big-endian stream: each [`Reader`] and [`Writer`]
//! carries its byte order. A reader only ever reads inside the slice it was given, and every
//! count it hands out has been checked against the bytes that are left, so a peer's claimed
//! length never allocates more than it sent.

use super::QtDecodeError;

/// A stream's byte order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Order {
    /// What a QtRO frame uses (`QDataStream::LittleEndian`).
    Little,
    /// `QDataStream`'s default, used by the byte arrays nested in frames.
    Big,
}

/// The length `QDataStream` writes for a null `QString` or `QByteArray`.
pub const NULL_LENGTH: u32 = 0xFFFF_FFFF;

/// Reads `QDataStream` primitives from one slice.
#[derive(Debug, Clone)]
pub struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
    order: Order,
}

macro_rules! read_int {
    ($name:ident, $ty:ty) => {
        #[doc = concat!("Reads one `", stringify!($ty), "`.")]
        pub fn $name(&mut self, field: &'static str) -> Result<$ty, QtDecodeError> {
            let raw = self.array::<{ std::mem::size_of::<$ty>() }>(field)?;
            Ok(match self.order {
                Order::Little => <$ty>::from_le_bytes(raw),
                Order::Big => <$ty>::from_be_bytes(raw),
            })
        }
    };
}

impl<'a> Reader<'a> {
    /// A reader of `bytes` in byte order `order`.
    pub fn new(bytes: &'a [u8], order: Order) -> Reader<'a> {
        Reader {
            bytes,
            at: 0,
            order,
        }
    }

    /// Its byte order.
    pub fn order(&self) -> Order {
        self.order
    }

    /// The bytes not read yet.
    pub fn remaining(&self) -> usize {
        self.bytes.len() - self.at
    }

    /// Fails unless every byte was read.
    pub fn finish(&self) -> Result<(), QtDecodeError> {
        match self.remaining() {
            0 => Ok(()),
            left => Err(QtDecodeError::TrailingBytes(left)),
        }
    }

    /// The next `n` bytes.
    pub fn take(&mut self, n: usize, field: &'static str) -> Result<&'a [u8], QtDecodeError> {
        if n > self.remaining() {
            return Err(QtDecodeError::Truncated { field });
        }
        let slice = &self.bytes[self.at..self.at + n];
        self.at += n;
        Ok(slice)
    }

    fn array<const N: usize>(&mut self, field: &'static str) -> Result<[u8; N], QtDecodeError> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N, field)?);
        Ok(out)
    }

    read_int!(u8, u8);
    read_int!(i8, i8);
    read_int!(u16, u16);
    read_int!(i16, i16);
    read_int!(u32, u32);
    read_int!(i32, i32);
    read_int!(u64, u64);
    read_int!(i64, i64);

    /// Reads a `double`.
    pub fn f64(&mut self, field: &'static str) -> Result<f64, QtDecodeError> {
        Ok(f64::from_bits(self.u64(field)?))
    }

    /// Reads a `bool` (one byte; anything but 0 is true, as in Qt).
    pub fn bool(&mut self, field: &'static str) -> Result<bool, QtDecodeError> {
        Ok(self.u8(field)? != 0)
    }

    /// Reads a count of items that take at least `min_item_bytes` each, refusing one that the
    /// bytes left cannot hold — so the caller may allocate for it.
    pub fn count(
        &mut self,
        min_item_bytes: usize,
        field: &'static str,
    ) -> Result<usize, QtDecodeError> {
        let count = self.u32(field)? as usize;
        if count.saturating_mul(min_item_bytes.max(1)) > self.remaining() {
            return Err(QtDecodeError::CountTooLarge { field, count });
        }
        Ok(count)
    }

    /// Reads a `QByteArray`; `None` for a null one.
    pub fn byte_array(&mut self, field: &'static str) -> Result<Option<&'a [u8]>, QtDecodeError> {
        match self.u32(field)? {
            NULL_LENGTH => Ok(None),
            n => self.take(n as usize, field).map(Some),
        }
    }

    /// Reads a `QString`; `None` for a null one.
    pub fn string(&mut self, field: &'static str) -> Result<Option<String>, QtDecodeError> {
        let n = match self.u32(field)? {
            NULL_LENGTH => return Ok(None),
            n => n as usize,
        };
        if n % 2 != 0 {
            return Err(QtDecodeError::InvalidString { field });
        }
        let raw = self.take(n, field)?;
        let units = raw.chunks_exact(2).map(|pair| match self.order {
            Order::Little => u16::from_le_bytes([pair[0], pair[1]]),
            Order::Big => u16::from_be_bytes([pair[0], pair[1]]),
        });
        char::decode_utf16(units)
            .collect::<Result<String, _>>()
            .map(Some)
            .map_err(|_| QtDecodeError::InvalidString { field })
    }

    /// Reads a `QString`, a null one as empty.
    pub fn text(&mut self, field: &'static str) -> Result<String, QtDecodeError> {
        Ok(self.string(field)?.unwrap_or_default())
    }

    /// Reads a `const char*` as `QDataStream` writes it (its length counts a final NUL, which
    /// is dropped here); a null pointer (length 0) reads as empty.
    pub fn c_string(&mut self, field: &'static str) -> Result<String, QtDecodeError> {
        let raw = self.take_c_string(field)?;
        String::from_utf8(raw.to_vec()).map_err(|_| QtDecodeError::InvalidString { field })
    }

    fn take_c_string(&mut self, field: &'static str) -> Result<&'a [u8], QtDecodeError> {
        let n = self.u32(field)? as usize;
        if n == 0 {
            return Ok(&[]);
        }
        let raw = self.take(n, field)?;
        match raw.split_last() {
            Some((0, text)) => Ok(text),
            _ => Err(QtDecodeError::InvalidString { field }),
        }
    }

    /// Reads a `QByteArray` holding text (a signature, a type name); a trailing NUL, which Qt
    /// leaves on some of them, is dropped.
    pub fn latin_text(&mut self, field: &'static str) -> Result<String, QtDecodeError> {
        let raw = self.byte_array(field)?.unwrap_or_default();
        let raw = raw.strip_suffix(&[0]).unwrap_or(raw);
        String::from_utf8(raw.to_vec()).map_err(|_| QtDecodeError::InvalidString { field })
    }
}

/// Writes `QDataStream` primitives into a buffer.
#[derive(Debug)]
pub struct Writer<'a> {
    out: &'a mut Vec<u8>,
    order: Order,
}

macro_rules! write_int {
    ($name:ident, $ty:ty) => {
        #[doc = concat!("Writes one `", stringify!($ty), "`.")]
        pub fn $name(&mut self, value: $ty) {
            match self.order {
                Order::Little => self.out.extend_from_slice(&value.to_le_bytes()),
                Order::Big => self.out.extend_from_slice(&value.to_be_bytes()),
            }
        }
    };
}

impl<'a> Writer<'a> {
    /// A writer appending to `out` in byte order `order`.
    pub fn new(out: &'a mut Vec<u8>, order: Order) -> Writer<'a> {
        Writer { out, order }
    }

    /// Its byte order.
    pub fn order(&self) -> Order {
        self.order
    }

    /// The bytes written so far (the whole buffer).
    pub fn len(&self) -> usize {
        self.out.len()
    }

    /// Whether the buffer is empty.
    pub fn is_empty(&self) -> bool {
        self.out.is_empty()
    }

    /// The buffer, to patch a length written before its contents.
    pub fn buffer(&mut self) -> &mut Vec<u8> {
        self.out
    }

    write_int!(u8, u8);
    write_int!(i8, i8);
    write_int!(u16, u16);
    write_int!(i16, i16);
    write_int!(u32, u32);
    write_int!(i32, i32);
    write_int!(u64, u64);
    write_int!(i64, i64);

    /// Writes a `double`.
    pub fn f64(&mut self, value: f64) {
        self.u64(value.to_bits());
    }

    /// Writes a `bool`.
    pub fn bool(&mut self, value: bool) {
        self.u8(u8::from(value));
    }

    /// Writes raw bytes.
    pub fn raw(&mut self, bytes: &[u8]) {
        self.out.extend_from_slice(bytes);
    }

    /// Writes a count or length. Qt's 32-bit lengths cannot say more; callers bound what they
    /// write by the frame limit long before that.
    pub fn len32(&mut self, n: usize) {
        self.u32(u32::try_from(n).unwrap_or(NULL_LENGTH - 1));
    }

    /// Writes a `QByteArray` (`None`: a null one).
    pub fn byte_array(&mut self, bytes: Option<&[u8]>) {
        match bytes {
            None => self.u32(NULL_LENGTH),
            Some(bytes) => {
                self.len32(bytes.len());
                self.raw(bytes);
            }
        }
    }

    /// Writes a `QString` (`None`: a null one).
    pub fn string(&mut self, text: Option<&str>) {
        let Some(text) = text else {
            self.u32(NULL_LENGTH);
            return;
        };
        let at = self.out.len();
        self.u32(0);
        for unit in text.encode_utf16() {
            self.u16(unit);
        }
        let bytes = self.out.len() - at - 4;
        let len = u32::try_from(bytes).unwrap_or(NULL_LENGTH - 1);
        let prefix = match self.order {
            Order::Little => len.to_le_bytes(),
            Order::Big => len.to_be_bytes(),
        };
        self.out[at..at + 4].copy_from_slice(&prefix);
    }

    /// Writes a non-null `QString`.
    pub fn text(&mut self, text: &str) {
        self.string(Some(text));
    }

    /// Writes a `const char*` (length with the final NUL, the bytes, the NUL).
    pub fn c_string(&mut self, text: &str) {
        self.len32(text.len() + 1);
        self.raw(text.as_bytes());
        self.u8(0);
    }

    /// Writes text as a `QByteArray` (no final NUL).
    pub fn latin_text(&mut self, text: &str) {
        self.byte_array(Some(text.as_bytes()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_are_utf16_in_the_stream_order() {
        let mut out = Vec::new();
        Writer::new(&mut out, Order::Little).text("hi");
        assert_eq!(out, [4, 0, 0, 0, b'h', 0, b'i', 0]);
        let mut out = Vec::new();
        Writer::new(&mut out, Order::Big).text("hi");
        assert_eq!(out, [0, 0, 0, 4, 0, b'h', 0, b'i']);
        assert_eq!(Reader::new(&out, Order::Big).text("s").as_deref(), Ok("hi"));
    }

    #[test]
    fn null_and_empty_strings_differ() {
        let mut out = Vec::new();
        let mut w = Writer::new(&mut out, Order::Little);
        w.string(None);
        w.text("");
        let mut r = Reader::new(&out, Order::Little);
        assert_eq!(r.string("a"), Ok(None));
        assert_eq!(r.string("b"), Ok(Some(String::new())));
        r.finish().unwrap();
    }

    #[test]
    fn a_claimed_length_beyond_the_bytes_is_refused() {
        let bytes = [0xff, 0xff, 0xff, 0x7f, 1, 2];
        assert_eq!(
            Reader::new(&bytes, Order::Little).byte_array("b"),
            Err(QtDecodeError::Truncated { field: "b" })
        );
        assert!(matches!(
            Reader::new(&bytes, Order::Little).count(1, "n"),
            Err(QtDecodeError::CountTooLarge { .. })
        ));
    }

    #[test]
    fn c_strings_carry_their_nul() {
        let mut out = Vec::new();
        Writer::new(&mut out, Order::Little).c_string("MyPod");
        assert_eq!(out, b"\x06\0\0\0MyPod\0");
        assert_eq!(
            Reader::new(&out, Order::Little).c_string("t").as_deref(),
            Ok("MyPod")
        );
        let bad = b"\x02\0\0\0ab";
        assert!(Reader::new(bad, Order::Little).c_string("t").is_err());
    }

    #[test]
    fn odd_or_unpaired_utf16_is_refused() {
        let odd = [3, 0, 0, 0, b'a', 0, 0];
        assert!(Reader::new(&odd, Order::Little).string("s").is_err());
        let lone_surrogate = [2, 0, 0, 0, 0x00, 0xd8];
        assert!(Reader::new(&lone_surrogate, Order::Little)
            .string("s")
            .is_err());
    }
}
