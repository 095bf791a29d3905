//! The replica state machine, with no sockets, no clock, no actors and no user types: the
//! encoded property values, the [`ReplicaState`], the link to the source, and pending calls.
//! The typed layer decodes values before it commits them here, so a bad init changes nothing.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, Ordering};

use bytes::Bytes;

/// Where a replica stands with its source (QtRO's `QRemoteObjectReplica::State`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ReplicaState {
    /// No values yet (a replica without compile-time defaults).
    Uninitialized,
    /// Showing the API's declared defaults; not yet initialized by a source.
    Default,
    /// Initialized: the values are the source's and changes arrive as they happen.
    Valid,
    /// The source was lost; the values are the last ones seen.
    Suspect,
    /// The source's API signature differs from the replica's: final.
    SignatureMismatch,
    /// The host refused to serve the source to this replica: its access policy denies this
    /// peer, or it cannot describe the source to a dynamic replica. The replica keeps what it
    /// showed and tries again when the source is offered again (a reconnect).
    Refused,
}

/// Values up to this size are kept inline, with no allocation.
const INLINE: usize = 22;
/// Values up to this size are copied into their own buffer; larger ones are kept as they
/// arrived (they dominate the frame they came in anyway).
const COPY_LIMIT: usize = 4096;

/// A property value as the core keeps it. A value kept as a slice of the socket's read
/// buffer would keep that whole buffer alive for as long as the replica shows it, so small
/// values are stored inline and mid-sized ones copied.
#[derive(Clone, Debug)]
pub(crate) enum StoredValue {
    Inline { len: u8, bytes: [u8; INLINE] },
    Shared(Bytes),
}

impl StoredValue {
    /// Holds `value`: a copy if it is small, else the buffer it is in.
    pub(crate) fn new(value: &Bytes) -> StoredValue {
        if value.len() <= INLINE {
            let mut bytes = [0u8; INLINE];
            bytes[..value.len()].copy_from_slice(value);
            StoredValue::Inline {
                len: value.len() as u8,
                bytes,
            }
        } else if value.len() <= COPY_LIMIT {
            StoredValue::Shared(Bytes::copy_from_slice(value))
        } else {
            StoredValue::Shared(value.clone())
        }
    }

    pub(crate) fn as_slice(&self) -> &[u8] {
        match self {
            StoredValue::Inline { len, bytes } => &bytes[..usize::from(*len)],
            StoredValue::Shared(bytes) => bytes,
        }
    }
}

impl PartialEq for StoredValue {
    fn eq(&self, other: &Self) -> bool {
        self.as_slice() == other.as_slice()
    }
}

/// The signature in an offer whose host does not know this crate's signatures.
pub(crate) const UNKNOWN_SIGNATURE: u64 = 0;

/// What a replica makes of a source offered with some signature.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Offered {
    /// Acquire it.
    Acquire,
    /// Nothing to do: linked already, or mismatched for good.
    Skip,
    /// Its signature differs: ask the host to describe it, to say what differs.
    Mismatch,
}

/// A state change, for notifying observers.
pub(crate) type Transition = Option<(ReplicaState, ReplicaState)>;

/// What an init did.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct InitApplied {
    /// Indices of the properties whose value differs from what the replica showed before.
    pub(crate) changed: Vec<u16>,
    pub(crate) transition: Transition,
}

/// An init the replica must not apply.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum InitRefused {
    #[error("the source's API signature {remote:#018x} differs from this replica's {local:#018x}")]
    SignatureMismatch { local: u64, remote: u64 },
    #[error("the init carries {found} values, the API has {expected} properties")]
    WrongValueCount { expected: usize, found: usize },
}

/// One replica's protocol state. `L` is the link to the source (where to send calls), `P`
/// a pending call's completion handle.
pub(crate) struct ReplicaCore<L, P> {
    signature: u64,
    state: ReplicaState,
    values: Vec<StoredValue>,
    link: Option<L>,
    remote_signature: Option<u64>,
    /// Why the host last refused to serve this replica, while it is `Refused`.
    refusal: Option<String>,
    /// What differs from the source's API, in words, once `SignatureMismatch` (if known).
    mismatch: Option<String>,
    pending: HashMap<u32, P>,
}

impl<L, P> ReplicaCore<L, P> {
    /// A replica of an API with `signature`, showing `defaults` (encoded) until initialized.
    pub(crate) fn new(signature: u64, defaults: Vec<Bytes>, initial: ReplicaState) -> Self {
        ReplicaCore {
            signature,
            state: initial,
            values: defaults.iter().map(StoredValue::new).collect(),
            link: None,
            remote_signature: None,
            refusal: None,
            mismatch: None,
            pending: HashMap::new(),
        }
    }

    #[cfg(test)]
    pub(crate) fn state(&self) -> ReplicaState {
        self.state
    }

    /// The encoded values the replica shows, in property-index order.
    pub(crate) fn values(&self) -> &[StoredValue] {
        &self.values
    }

    pub(crate) fn link(&self) -> Option<&L> {
        self.link.as_ref()
    }

    pub(crate) fn remote_signature(&self) -> Option<u64> {
        self.remote_signature
    }

    /// The host's reason, while the replica is `Refused`.
    pub(crate) fn refusal(&self) -> Option<&str> {
        self.refusal.as_deref()
    }

    /// The host refused to serve the source to this replica (access control, or a source
    /// it cannot describe): the replica keeps what it shows and waits for the next offer.
    pub(crate) fn on_refused(&mut self, reason: String) -> Transition {
        if self.link.is_some() || self.state == ReplicaState::SignatureMismatch {
            return None;
        }
        self.refusal = Some(reason);
        self.transition(ReplicaState::Refused)
    }

    fn transition(&mut self, to: ReplicaState) -> Transition {
        let from = self.state;
        if from == to || from == ReplicaState::SignatureMismatch {
            return None;
        }
        self.state = to;
        Some((from, to))
    }

    /// A host offers the source with `signature`: should the replica acquire it?
    pub(crate) fn on_offered(&mut self, signature: u64) -> Offered {
        if self.state == ReplicaState::SignatureMismatch || self.link.is_some() {
            return Offered::Skip;
        }
        // A host that cannot say (a Qt host, whose signatures are repc's: the Qt gateway
        // checks those when the replica acquires) offers signature 0.
        if signature != UNKNOWN_SIGNATURE && signature != self.signature {
            // Not final yet: the node asks the host what differs, then calls `mismatch`.
            self.remote_signature = Some(signature);
            return Offered::Mismatch;
        }
        Offered::Acquire
    }

    /// Whether a signature mismatch was seen at an offer and awaits the source's
    /// description.
    pub(crate) fn mismatch_pending(&self) -> bool {
        self.state != ReplicaState::SignatureMismatch
            && self.remote_signature.is_some_and(|r| r != self.signature)
    }

    /// The source's API differs (`difference`, in words, if known): final.
    pub(crate) fn mismatch(&mut self, difference: Option<String>) -> Transition {
        self.mismatch = difference;
        self.transition(ReplicaState::SignatureMismatch)
    }

    pub(crate) fn mismatch_difference(&self) -> Option<&str> {
        self.mismatch.as_deref()
    }

    /// Checks an init before the typed layer decodes it. A signature mismatch is final.
    pub(crate) fn check_init(
        &mut self,
        signature: u64,
        value_count: usize,
    ) -> Result<(), (InitRefused, Transition)> {
        if signature != self.signature {
            self.remote_signature = Some(signature);
            let refused = InitRefused::SignatureMismatch {
                local: self.signature,
                remote: signature,
            };
            return Err((refused, self.transition(ReplicaState::SignatureMismatch)));
        }
        if value_count != self.values.len() {
            let refused = InitRefused::WrongValueCount {
                expected: self.values.len(),
                found: value_count,
            };
            return Err((refused, None));
        }
        Ok(())
    }

    /// Applies a checked, decoded init: the replica becomes `Valid` with these values.
    pub(crate) fn commit_init(&mut self, link: L, values: Vec<Bytes>) -> InitApplied {
        let values: Vec<StoredValue> = values.iter().map(StoredValue::new).collect();
        let changed = (0..values.len())
            .filter(|&i| self.values.get(i) != Some(&values[i]))
            .map(|i| i as u16)
            .collect();
        self.values = values;
        self.link = Some(link);
        self.refusal = None;
        InitApplied {
            changed,
            transition: self.transition(ReplicaState::Valid),
        }
    }

    /// Whether `index` names a property.
    pub(crate) fn has_property(&self, index: u16) -> bool {
        usize::from(index) < self.values.len()
    }

    /// Stores a decoded property change; false for an index out of range. A host sends only
    /// real changes (its setters compare), so the value is not compared again here.
    pub(crate) fn commit_change(&mut self, index: u16, value: &Bytes) -> bool {
        match self.values.get_mut(usize::from(index)) {
            Some(slot) => {
                *slot = StoredValue::new(value);
                true
            }
            None => false,
        }
    }

    /// The source is gone (connection lost or source disabled): the replica keeps its
    /// values, becomes `Suspect` if it was `Valid`, and hands back every pending call to fail.
    pub(crate) fn on_link_lost(&mut self) -> (Vec<P>, Transition) {
        self.link = None;
        let pending = self.pending.drain().map(|(_, p)| p).collect();
        let transition = if self.state == ReplicaState::Valid {
            self.transition(ReplicaState::Suspect)
        } else {
            None
        };
        (pending, transition)
    }

    /// The source sent this replica what its API cannot hold (`reason`): it lets go of the
    /// source for good — `SignatureMismatch` with the reason — and hands back the pending
    /// calls to fail.
    pub(crate) fn fail(&mut self, reason: String) -> (Vec<P>, Transition) {
        let (pending, _) = self.on_link_lost();
        if self.remote_signature.is_none() {
            self.remote_signature = Some(self.signature);
        }
        (pending, self.mismatch(Some(reason)))
    }

    /// Registers a call; gives back the serial and the link to send it on, or the pending
    /// handle when there is no live source.
    pub(crate) fn begin_call(&mut self, pending: P) -> Result<(u32, &L), P> {
        let Some(link) = self.link.as_ref() else {
            return Err(pending);
        };
        // Serials are unique in the process, not per replica: replicas sharing a source's
        // subscription (a typed and a dynamic one) get its replies on one link.
        static NEXT_SERIAL: AtomicU32 = AtomicU32::new(1);
        let serial = loop {
            // Never `NO_REPLY` (0), which a wrapped counter would reach after 2^32 calls.
            let serial = NEXT_SERIAL.fetch_add(1, Ordering::Relaxed);
            if serial != crate::wire::NO_REPLY {
                break serial;
            }
        };
        self.pending.insert(serial, pending);
        Ok((serial, link))
    }

    /// The pending call a reply answers, if any.
    pub(crate) fn complete_call(&mut self, serial: u32) -> Option<P> {
        self.pending.remove(&serial)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_values_keep_their_bytes_whatever_their_size() {
        for len in [0, 1, INLINE, INLINE + 1, COPY_LIMIT, COPY_LIMIT + 1] {
            let value = Bytes::from((0..len).map(|i| i as u8).collect::<Vec<u8>>());
            let stored = StoredValue::new(&value);
            assert_eq!(stored.as_slice(), &value[..], "len {len}");
            let shares = matches!(&stored, StoredValue::Shared(b) if b.as_ptr() == value.as_ptr());
            assert_eq!(
                shares,
                len > COPY_LIMIT,
                "len {len}: only large values share the arrival buffer"
            );
        }
    }
    use ReplicaState::*;

    fn core() -> ReplicaCore<&'static str, u32> {
        ReplicaCore::new(
            7,
            vec![Bytes::from_static(b"a"), Bytes::from_static(b"b")],
            Default,
        )
    }

    #[test]
    fn init_reports_only_changed_values_and_becomes_valid() {
        let mut c = core();
        assert_eq!(c.check_init(7, 2), Ok(()));
        let applied = c.commit_init(
            "link",
            vec![Bytes::from_static(b"a"), Bytes::from_static(b"z")],
        );
        assert_eq!(
            applied,
            InitApplied {
                changed: vec![1],
                transition: Some((Default, Valid))
            }
        );
        assert_eq!(c.link(), Some(&"link"));
    }

    #[test]
    fn a_mismatched_init_is_refused_and_final() {
        let mut c = core();
        let (refused, transition) = c.check_init(8, 2).unwrap_err();
        assert_eq!(
            refused,
            InitRefused::SignatureMismatch {
                local: 7,
                remote: 8
            }
        );
        assert_eq!(transition, Some((Default, SignatureMismatch)));
        assert_eq!(c.on_offered(7), Offered::Skip);
        let (_, t) = c.on_link_lost();
        assert_eq!((c.state(), t), (SignatureMismatch, None));
    }

    #[test]
    fn a_wrong_value_count_is_refused_without_a_state_change() {
        let mut c = core();
        assert_eq!(
            c.check_init(7, 3).unwrap_err(),
            (
                InitRefused::WrongValueCount {
                    expected: 2,
                    found: 3
                },
                None
            )
        );
        assert_eq!(c.state(), Default);
    }

    #[test]
    fn link_loss_fails_pending_calls_and_makes_a_valid_replica_suspect() {
        let mut c = core();
        assert_eq!(c.begin_call(1), Err(1), "no link: the call is handed back");
        c.commit_init("link", vec![Bytes::new(), Bytes::new()]);
        let (s1, _) = c.begin_call(10).unwrap();
        let (s2, _) = c.begin_call(20).unwrap();
        assert_ne!(s1, s2);
        assert_eq!(c.complete_call(s1), Some(10));
        assert_eq!(c.complete_call(s1), None, "a reply completes its call once");
        let (mut failed, transition) = c.on_link_lost();
        failed.sort();
        assert_eq!((failed, transition), (vec![20], Some((Valid, Suspect))));
        assert_eq!(c.begin_call(3), Err(3));
    }

    #[test]
    fn changes_are_stored_only_in_range() {
        let mut c = core();
        assert!(c.has_property(1) && !c.has_property(2));
        assert!(c.commit_change(0, &Bytes::from_static(b"q")));
        assert!(!c.commit_change(2, &Bytes::from_static(b"q")));
        assert_eq!(c.values()[0].as_slice(), b"q");
    }

    #[test]
    fn a_refusal_is_kept_until_an_init_and_does_not_stop_later_offers() {
        let mut c = core();
        assert_eq!(c.on_refused("no".into()), Some((Default, Refused)));
        assert_eq!(c.refusal(), Some("no"));
        assert_eq!(
            c.on_offered(7),
            Offered::Acquire,
            "a later offer is acquired again"
        );
        c.commit_init("link", vec![Bytes::new(), Bytes::new()]);
        assert_eq!((c.state(), c.refusal()), (Valid, None));
        assert_eq!(
            c.on_refused("late".into()),
            None,
            "a linked replica ignores it"
        );
    }

    #[test]
    fn a_mismatched_offer_is_not_acquired_and_final_once_described() {
        let mut c = core();
        assert_eq!(c.on_offered(9), Offered::Mismatch);
        assert_eq!((c.state(), c.remote_signature()), (Default, Some(9)));
        assert!(c.mismatch_pending());
        let t = c.mismatch(Some("property x differs".into()));
        assert_eq!(t, Some((Default, SignatureMismatch)));
        assert!(!c.mismatch_pending());
        assert_eq!(c.mismatch_difference(), Some("property x differs"));
        assert_eq!(c.on_offered(7), Offered::Skip, "final");
    }
}
