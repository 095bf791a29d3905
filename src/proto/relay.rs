//! What a proxy passes from the replica it relays from to the source it serves: one object
//! of a relayed tree as received, bytes never decoded.

use bytes::Bytes;

/// One object as relayed: a source's or a child's signature and values as received, and
/// the children it holds (one place per child member of its API).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Snapshot {
    pub(crate) signature: u64,
    pub(crate) values: Vec<Bytes>,
    pub(crate) children: Vec<Option<Snapshot>>,
}
