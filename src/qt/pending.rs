//! Calls that await their reply, under the serial each went out with.
//!
//! A slab: a serial is its slot's index plus one (both dialects keep 0 and below for "no
//! reply"), so taking a reply costs no hashing and the table reuses its slots. With a hash
//! map, a burst of 100 000 pipelined calls spent a tenth of a Qt connection's time removing
//! entries and growing the table.

use slab::Slab;

/// Calls awaiting replies, each under its serial.
#[derive(Debug)]
pub(crate) struct Pending<T> {
    slots: Slab<T>,
}

impl<T> Default for Pending<T> {
    fn default() -> Self {
        Pending { slots: Slab::new() }
    }
}

impl<T> Pending<T> {
    /// Keeps `call`; the serial its reply will come under (at least 1).
    pub(crate) fn insert(&mut self, call: T) -> u32 {
        // A slab never holds u32::MAX entries here: every caller bounds what it keeps.
        (self.slots.insert(call) + 1) as u32
    }

    /// The call a reply with `serial` answers, if one awaits it; it awaits no longer.
    pub(crate) fn take(&mut self, serial: u32) -> Option<T> {
        let slot = (serial as usize).checked_sub(1)?;
        self.slots.try_remove(slot)
    }
}

#[cfg(test)]
mod tests {
    use super::Pending;

    #[test]
    fn a_reply_takes_its_own_call_once_and_unknown_serials_take_nothing() {
        let mut pending = Pending::default();
        let a = pending.insert("a");
        let b = pending.insert("b");
        assert!(a >= 1 && b >= 1 && a != b);
        assert_eq!(pending.take(0), None);
        assert_eq!(pending.take(u32::MAX), None);
        assert_eq!(pending.take(b), Some("b"));
        assert_eq!(pending.take(b), None);
        let c = pending.insert("c");
        assert_eq!(pending.take(a), Some("a"));
        assert_eq!(pending.take(c), Some("c"));
        assert_eq!(pending.take(c), None);
    }
}
