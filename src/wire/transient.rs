//! Buffers for bytes that are sent once and dropped — a slot's reply and its frame — cut
//! from one buffer per thread, so that such bytes cost no allocation of their own: a new
//! buffer of [`CHUNK`] bytes is made when the last one is used up, and freed once
//! everything cut from it is gone.
//!
//! Not for bytes that are kept (a property's cached value, a source's init): each piece
//! keeps its whole chunk alive. Pieces larger than [`MAX_PIECE`] get a buffer of their own.

use std::cell::RefCell;

use bytes::{Bytes, BytesMut};

/// The size of one shared buffer.
pub(crate) const CHUNK: usize = 16 * 1024;

/// The largest piece cut from a shared buffer.
pub(crate) const MAX_PIECE: usize = 1024;

thread_local! {
    static CURRENT: RefCell<BytesMut> = RefCell::new(BytesMut::new());
}

/// Bytes that `write` appends to an empty buffer with room for about `hint` bytes, cut from
/// this thread's shared buffer when they are small. `write` sees only its own bytes.
pub(crate) fn cut<E>(
    hint: usize,
    write: impl FnOnce(&mut BytesMut) -> Result<(), E>,
) -> Result<Bytes, E> {
    if hint > MAX_PIECE {
        let mut own = BytesMut::with_capacity(hint);
        write(&mut own)?;
        return Ok(own.freeze());
    }
    CURRENT.with(|current| {
        let Ok(mut buffer) = current.try_borrow_mut() else {
            // Cut from while cutting (a `write` that itself cuts): a buffer of its own.
            let mut own = BytesMut::with_capacity(hint);
            write(&mut own)?;
            return Ok(own.freeze());
        };
        if buffer.capacity() < hint {
            *buffer = BytesMut::with_capacity(CHUNK);
        }
        debug_assert!(buffer.is_empty());
        match write(&mut buffer) {
            Ok(()) => Ok(buffer.split().freeze()),
            Err(error) => {
                buffer.clear();
                Err(error)
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::BufMut;

    #[test]
    fn pieces_are_their_own_bytes_and_share_a_buffer() {
        let a = cut::<()>(8, |b| {
            b.put_slice(b"first");
            Ok(())
        })
        .unwrap();
        let b = cut::<()>(8, |b| {
            b.put_slice(b"second");
            Ok(())
        })
        .unwrap();
        assert_eq!((&a[..], &b[..]), (&b"first"[..], &b"second"[..]));
        assert_eq!(
            a.as_ptr().wrapping_add(5),
            b.as_ptr(),
            "cut one after the other"
        );
        let failed = cut(8, |b| {
            b.put_slice(b"half");
            Err("no")
        });
        assert_eq!(failed, Err("no"));
        let c = cut::<()>(8, |b| {
            b.put_slice(b"third");
            Ok(())
        })
        .unwrap();
        assert_eq!(&c[..], b"third", "a failed write leaves nothing behind");
        let big = cut::<()>(MAX_PIECE + 1, |b| {
            b.put_bytes(7, MAX_PIECE + 1);
            Ok(())
        })
        .unwrap();
        assert_eq!(big.len(), MAX_PIECE + 1);
    }

    #[test]
    fn a_piece_that_outgrows_its_room_is_still_whole() {
        let long = cut::<()>(4, |b| {
            b.put_bytes(1, CHUNK * 2);
            Ok(())
        })
        .unwrap();
        assert_eq!(long.len(), CHUNK * 2);
        let next = cut::<()>(4, |b| {
            b.put_slice(b"ok");
            Ok(())
        })
        .unwrap();
        assert_eq!(&next[..], b"ok");
    }
}
