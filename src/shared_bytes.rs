//! [`SharedBytes`]: a byte string that a replica decodes without copying, sharing the buffer
//! the frame arrived in.
//!
//! Decoding a `Vec<u8>` (or `serde_bytes::ByteBuf`) copies every byte out of the received
//! frame into a fresh allocation: for a 16 MiB property that is a second 16 MiB of memory
//! to fault in and fill, as long as the read itself. A `SharedBytes` value of at least
//! [`SHARE_MIN`] bytes is instead a slice of the frame. Smaller ones are copied: pinning a
//! read buffer that holds other frames costs more than copying a few bytes.
//!
//! How: while the replica decodes values, [`decoding_from`] names the frames they come from
//! in a thread-local; `SharedBytes`'s `Deserialize` looks up the frame a borrowed slice lies
//! in and takes a reference-counted slice of it. Decoded anywhere else (another format, a
//! copy in memory), it copies, so it is an ordinary serde type everywhere.

use std::cell::RefCell;
use std::fmt;
use std::ops::Deref;

use bytes::Bytes;
use serde::de::{Deserialize, Deserializer, SeqAccess, Visitor};
use serde::{Serialize, Serializer};

/// The smallest value shared with its frame rather than copied: below this, a copy is
/// cheaper than holding on to the read buffer the frame sits in.
pub const SHARE_MIN: usize = 64 * 1024;

/// A byte string (serde's bytes: `QByteArray` to Qt nodes) that a replica decodes without
/// copying when it is large: the value shares the buffer its frame arrived in.
///
/// Use it for large blobs (images, firmware, files) in properties and signals. It derefs to
/// `[u8]`, converts from and into [`Bytes`] and `Vec<u8>`, and clones in constant time.
///
/// ```
/// use actix_remote_objects::SharedBytes;
///
/// let image = SharedBytes::from(vec![0u8; 4]);
/// assert_eq!(image.len(), 4);
/// let bytes: bytes::Bytes = image.clone().into();
/// assert_eq!(&bytes[..], &image[..]);
/// ```
#[derive(Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SharedBytes(Bytes);

impl SharedBytes {
    /// An empty byte string.
    pub const fn new() -> SharedBytes {
        SharedBytes(Bytes::new())
    }

    /// The bytes, as [`Bytes`] (a reference-counted handle: no copy).
    pub fn as_bytes(&self) -> &Bytes {
        &self.0
    }
}

impl fmt::Debug for SharedBytes {
    /// The length and the first bytes: a blob is too large to print whole.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const SHOWN: usize = 16;
        let head = &self.0[..self.0.len().min(SHOWN)];
        write!(f, "SharedBytes({} bytes: {head:02x?}", self.0.len())?;
        if self.0.len() > SHOWN {
            f.write_str("…")?;
        }
        f.write_str(")")
    }
}

impl Deref for SharedBytes {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        &self.0
    }
}

impl AsRef<[u8]> for SharedBytes {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

impl From<Bytes> for SharedBytes {
    fn from(bytes: Bytes) -> SharedBytes {
        SharedBytes(bytes)
    }
}

impl From<Vec<u8>> for SharedBytes {
    fn from(bytes: Vec<u8>) -> SharedBytes {
        SharedBytes(Bytes::from(bytes))
    }
}

impl From<&[u8]> for SharedBytes {
    fn from(bytes: &[u8]) -> SharedBytes {
        SharedBytes(Bytes::copy_from_slice(bytes))
    }
}

impl From<SharedBytes> for Bytes {
    fn from(bytes: SharedBytes) -> Bytes {
        bytes.0
    }
}

impl From<SharedBytes> for Vec<u8> {
    fn from(bytes: SharedBytes) -> Vec<u8> {
        bytes.0.into()
    }
}

impl Serialize for SharedBytes {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_bytes(&self.0)
    }
}

impl<'de> Deserialize<'de> for SharedBytes {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<SharedBytes, D::Error> {
        deserializer.deserialize_bytes(SharedBytesVisitor)
    }
}

struct SharedBytesVisitor;

impl<'de> Visitor<'de> for SharedBytesVisitor {
    type Value = SharedBytes;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a byte string")
    }

    fn visit_borrowed_bytes<E: serde::de::Error>(self, v: &'de [u8]) -> Result<SharedBytes, E> {
        Ok(SharedBytes(
            shared_slice(v).unwrap_or_else(|| Bytes::copy_from_slice(v)),
        ))
    }

    fn visit_bytes<E: serde::de::Error>(self, v: &[u8]) -> Result<SharedBytes, E> {
        Ok(SharedBytes(Bytes::copy_from_slice(v)))
    }

    fn visit_byte_buf<E: serde::de::Error>(self, v: Vec<u8>) -> Result<SharedBytes, E> {
        Ok(SharedBytes(Bytes::from(v)))
    }

    /// Formats that write bytes as a sequence of numbers (JSON): grown as elements arrive,
    /// never from the sequence's claimed length.
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<SharedBytes, A::Error> {
        let mut bytes = Vec::new();
        while let Some(byte) = seq.next_element::<u8>()? {
            bytes.push(byte);
        }
        Ok(SharedBytes(Bytes::from(bytes)))
    }
}

thread_local! {
    /// The frames values are being decoded from on this thread, if any.
    static FRAMES: RefCell<Vec<Bytes>> = const { RefCell::new(Vec::new()) };
}

/// A slice of one of the frames being decoded that is exactly `v`, when `v` is large enough
/// to share and lies in one of them.
fn shared_slice(v: &[u8]) -> Option<Bytes> {
    if v.len() < SHARE_MIN {
        return None;
    }
    let (start, end) = (v.as_ptr() as usize, v.as_ptr() as usize + v.len());
    FRAMES.with_borrow(|frames| {
        frames
            .iter()
            .find(|frame| {
                let at = frame.as_ptr() as usize;
                at <= start && end <= at + frame.len()
            })
            .map(|frame| frame.slice_ref(v))
    })
}

/// Runs `decode` with `frames` named as where the values it decodes come from, so that the
/// large [`SharedBytes`] among them share those frames instead of copying. Costs nothing
/// when no frame is large enough to hold a shared value.
pub(crate) fn decoding_from<R>(frames: &[Bytes], decode: impl FnOnce() -> R) -> R {
    if frames.iter().all(|frame| frame.len() < SHARE_MIN) {
        return decode();
    }
    /// Forgets the frames when decoding ends, even by a panic.
    struct Forget;
    impl Drop for Forget {
        fn drop(&mut self) {
            FRAMES.with_borrow_mut(Vec::clear);
        }
    }
    FRAMES.with_borrow_mut(|held| {
        held.clear();
        held.extend_from_slice(frames);
    });
    let _forget = Forget;
    decode()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::Encoding;

    fn encoded(len: usize) -> Bytes {
        let value = SharedBytes::from(vec![7u8; len]);
        Bytes::from(Encoding::Bincode.encode(&value).unwrap())
    }

    #[test]
    fn a_large_value_decoded_from_its_frame_shares_it() {
        let frame = encoded(SHARE_MIN);
        let value: SharedBytes = decoding_from(std::slice::from_ref(&frame), || {
            Encoding::Bincode.decode(&frame)
        })
        .unwrap();
        assert_eq!(value.len(), SHARE_MIN);
        let inside = frame.as_ptr() as usize..frame.as_ptr() as usize + frame.len();
        assert!(
            inside.contains(&(value.as_ptr() as usize)),
            "the value was copied"
        );
    }

    #[test]
    fn small_values_and_values_outside_the_frames_are_copied() {
        let small = encoded(SHARE_MIN - 1);
        let value: SharedBytes = decoding_from(std::slice::from_ref(&small), || {
            Encoding::Bincode.decode(&small)
        })
        .unwrap();
        assert_ne!(value.as_ptr(), small[small.len() - value.len()..].as_ptr());

        let large = encoded(SHARE_MIN);
        let value: SharedBytes = Encoding::Bincode.decode(&large).unwrap();
        assert_ne!(value.as_ptr(), large[large.len() - value.len()..].as_ptr());
        assert!(FRAMES.with_borrow(Vec::is_empty));
    }

    #[test]
    fn the_frames_are_forgotten_after_decoding() {
        let frame = encoded(SHARE_MIN);
        let _: Result<SharedBytes, _> = decoding_from(std::slice::from_ref(&frame), || {
            Encoding::Bincode.decode(&frame)
        });
        assert!(FRAMES.with_borrow(Vec::is_empty));
    }

    #[test]
    fn it_is_bytes_to_serde() {
        let as_bytes = Encoding::Bincode
            .encode(&serde_bytes::ByteBuf::from(vec![1, 2, 3]))
            .unwrap();
        let value: SharedBytes = Encoding::Bincode.decode(&as_bytes).unwrap();
        assert_eq!(&value[..], &[1, 2, 3]);
        let json = serde_json::to_string(&value).unwrap();
        assert_eq!(serde_json::from_str::<SharedBytes>(&json).unwrap(), value);
    }
}
