//! # actix-remote-objects
//!
//! Qt Remote Objects for Rust, on actix: an actor's properties, signals and slots shared
//! across processes. The *source* is an ordinary actor; *replicas* in other processes keep a
//! cached copy of its properties, receive its signals, and forward slot messages to it.
//!
//! ```
//! use std::time::Duration;
//! use actix::prelude::*;
//! use actix_remote_objects::prelude::*;
//!
//! remote_object! {
//!     /// A counter shared on the network.
//!     pub Counter {
//!         /// The current count.
//!         prop count: u32 = 0;
//!         /// Adds `by` and returns the new count.
//!         slot add(by: u32) -> u32;
//!     }
//! }
//!
//! struct CounterService {
//!     remote: counter::SimpleSource,
//! }
//!
//! impl Actor for CounterService {
//!     type Context = Context<Self>;
//! }
//!
//! impl RemoteSource for CounterService {
//!     type Api = Counter;
//!     fn simple_source(&self) -> &counter::SimpleSource {
//!         &self.remote
//!     }
//! }
//!
//! impl Handler<counter::Add> for CounterService {
//!     type Result = SlotResult<u32>;
//!     fn handle(&mut self, msg: counter::Add, _: &mut Context<Self>) -> SlotResult<u32> {
//!         let count = self.remote.count() + msg.by;
//!         self.remote.set_count(count)?; // every replica sees it, before the reply
//!         Ok(count)
//!     }
//! }
//!
//! #[actix::main]
//! async fn main() -> Result<(), Box<dyn std::error::Error>> {
//!     let host = Host::listen("tcp://127.0.0.1:0").await?;
//!     host.enable_remoting(CounterService { remote: Default::default() }).await?;
//!
//!     let node = Node::connect(host.url().unwrap()).await?;
//!     let replica = node.acquire::<Counter>();
//!     replica.wait_for_source(Duration::from_secs(5)).await?;
//!     let total = replica.send(counter::Add { by: 2 }).await??;
//!     assert_eq!(total, 2);
//!     assert_eq!(replica.properties().count, 2); // cached: no round trip
//!     host.shutdown().await;
//!     Ok(())
//! }
//! ```
//!
//! Where to go next:
//! - [`Host`] and [`Node`]: listening, connecting (`tcp://`, `tls://`, `local:`, or any stream),
//!   reconnecting, heartbeats; [`Replica`] for typed replicas and their states and events.
//! - [`registry`]: [`RegistryHost`] and finding sources by name across hosts.
//! - [`persist`]: persisted properties and the stores that keep them between runs.
//! - [`dynamic`]: replicas without compile-time types, [`dynamic::Value`] and JSON; the `aro`
//!   command-line tool is built on them.
//! - [`security`]: `tls://`, authentication (a shared secret, or your own scheme), access
//!   policies per source, slot and property; the README's Security section says what is
//!   protected by default and what to turn on.
//! - [`wire`]: the packets and framing, for tools and tests.
//!
//! See `docs/DESIGN.md` for the architecture, the wire protocol and the contract, and
//! `docs/PERFORMANCE.md` for measurements beside Qt Remote Objects.

#![warn(missing_docs)]

// Lets the generated code name `::actix_remote_objects` inside this crate's own tests too.
extern crate self as actix_remote_objects;

pub mod api;
mod batch;
pub mod dynamic;
mod error;
#[doc(hidden)]
pub mod fuzzing;
mod host;
mod lifecycle;
mod node;
mod outbox;
pub mod persist;
pub mod registry;
mod replica;
pub mod security;
mod source;
mod transport;
pub mod wire;

pub use actix_remote_objects_macros::remote_object;
pub use api::{Access, RemoteObject, RemoteSource, SignalType, Slot};
pub use error::{Error, SlotError, SlotResult};
pub use host::{Host, HostConfig};
pub use node::{Node, NodeConfig};
pub use registry::{RegistryHost, SourceLocation};
pub use replica::{Event, Replica, ReplicaActor, ReplicaState, SlotCall, StateChanged};
pub use source::SourceState;
pub use transport::{PeerAddr, Transport, UnixCredentials, SUPPORTED_SCHEMES};
pub use wire::Encoding;

/// The names most programs need: `use actix_remote_objects::prelude::*;`.
pub mod prelude {
    pub use crate::{
        remote_object, Event, Host, HostConfig, Node, NodeConfig, RegistryHost, RemoteObject,
        RemoteSource, Replica, ReplicaState, SlotError, SlotResult, StateChanged,
    };
}

/// Items the generated code uses; not part of the public API.
#[doc(hidden)]
pub mod __private {
    pub use crate::api::{
        ArgInfo, AsSourceState, Hostable, InvokeError, PropertyInfo, SetPropertyError, SignalInfo,
        SlotFuture, SlotInfo,
    };
    pub use crate::dynamic::schema::{
        AccessFlag, ApiSchema, Field, MemberSchema, PropertySchema, SchemaBuilder, SchemaError,
        TypeFormat,
    };
    pub use crate::wire::{DecodeError, EncodeError, Encoding, FailureKind, RemoteFailure};
    pub use actix;
    pub use bytes::Bytes;
    pub use serde;

    use crate::api::Slot;
    use actix::{Actor, Addr, Handler};

    /// Sends a decoded slot message to a source actor and encodes its outcome.
    pub fn call_slot<A, M>(addr: &Addr<A>, msg: M, enc: Encoding) -> SlotFuture
    where
        A: Actor<Context = actix::Context<A>> + Handler<M>,
        M: Slot,
    {
        // A fresh clone per call: an actix sender that fills the mailbox parks itself and
        // refuses every later message until the actor drains one, which would serialize
        // pipelined calls behind task wake-ups. The clone's park state is its own.
        let sent = addr.clone().send(msg);
        Box::pin(async move {
            let failure = |kind, message| RemoteFailure { kind, message };
            match sent.await {
                Ok(Ok(value)) => enc
                    .encode(&value)
                    .map(Bytes::from)
                    .map_err(|e| failure(FailureKind::Source, e.to_string())),
                // Send the source's own words, not our Display prefix, so the caller's
                // `SlotError::Source` reads as the source wrote it.
                Ok(Err(crate::SlotError::Source(reason))) => {
                    Err(failure(FailureKind::Source, reason))
                }
                Ok(Err(error)) => Err(failure(FailureKind::Source, error.to_string())),
                Err(_) => Err(failure(
                    FailureKind::Rejected,
                    "the source actor has stopped".to_owned(),
                )),
            }
        })
    }

    /// Decodes a value of property `index` for the generated `decode_property`.
    pub fn decode<T: serde::de::DeserializeOwned>(
        bytes: &[u8],
        enc: Encoding,
    ) -> Result<T, DecodeError> {
        enc.decode(bytes)
    }

    /// Encodes one value for the generated `encode_properties`.
    pub fn encode<T: serde::Serialize>(value: &T, enc: Encoding) -> Result<Bytes, EncodeError> {
        enc.encode(value).map(Bytes::from)
    }

    /// A stable 64-bit FNV-1a hash, for signatures computed at run time (tests, tools).
    pub const fn fnv1a(bytes: &[u8]) -> u64 {
        let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
        let mut i = 0;
        while i < bytes.len() {
            hash ^= bytes[i] as u64;
            hash = hash.wrapping_mul(0x0100_0000_01b3);
            i += 1;
        }
        hash
    }
}
