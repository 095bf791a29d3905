//! The protocol, with no I/O: what one connection does, as plain state machines fed decoded
//! packets and the current time.
//!
//! - [`host::HostSession`]: one per connection a host accepted — admission (handshake,
//!   authentication, the access policy), acquire and release, slot calls, property writes,
//!   heartbeats and the idle and handshake timeouts, and what each bad packet costs.
//! - [`node::NodeSession`]: one per connection a node opened — the greeting (handshake,
//!   authentication exchange, object list), what the host offers, acquires, heartbeats.
//! - [`node::NodeProtocol`]: a node's sessions together with its replicas: which replica a
//!   source's packets feed, where to acquire a source, what a lost connection does.
//! - [`replica::ReplicaCore`]: one replica's state machine (init, changes, Suspect, re-init).
//!
//! Nothing here reads a socket, spawns a task, or asks the clock: the drivers (the `host`
//! and `node` actors) read frames, pass each packet and `now` in, and perform what comes
//! out — frames pushed into a [`FrameSink`], events to deliver, the next time to wake
//! ([`host::HostSession::poll_timeout`]). Sources and replicas plug in through the traits
//! [`host::SourceTable`], [`host::ServedSource`] and [`node::ReplicaEntry`], which the
//! layers above implement. So the whole contract can be tested in memory, with synthetic
//! time (`tests` below), and a second wire dialect is one more [`Dialect`](crate::wire::Dialect).

pub(crate) mod admission;
pub(crate) mod host;
pub(crate) mod model;
pub(crate) mod node;
pub(crate) mod relay;
pub(crate) mod replica;
pub(crate) mod selection;
pub(crate) mod tree;

use std::future::Future;
use std::pin::Pin;

use bytes::Bytes;

use crate::wire::RemoteFailure;

/// Identifies one connection within a process.
pub(crate) type ConnId = u64;

/// Where a connection's outgoing frames go: its outbox, or a test's queue. Pushing never
/// blocks; the sink bounds what it holds and ends the connection past its limit.
pub(crate) trait FrameSink: Clone + Send + Sync + 'static {
    /// The connection it writes to.
    fn conn(&self) -> ConnId;
    /// Queues one frame; false once the connection is closed.
    fn push(&self, frame: Bytes) -> bool;
}

/// A source deciding on a replica's write (a `checked` property): applied, or refused with
/// the reason. Run by the driver.
pub type WriteFuture = Pin<Box<dyn Future<Output = Result<(), String>>>>;

/// A slot call in progress on the host: the encoded return value or the failure. Run by
/// the driver; the session only hands it out.
pub type SlotFuture = Pin<Box<dyn Future<Output = Result<Bytes, RemoteFailure>>>>;
