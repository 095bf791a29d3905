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
#[cfg(test)]
mod contract_tests;
mod error;
#[doc(hidden)]
pub mod fuzzing;
mod host;
mod lifecycle;
mod node;
mod outbox;
pub mod persist;
mod proto;
pub mod registry;
mod replica;
pub mod runtime;
pub mod security;
mod source;
mod transport;
mod values;
pub mod wire;

pub use actix_remote_objects_macros::remote_object;
pub use api::{Access, RemoteObject, SignalType, Slot};
pub use error::{Error, SlotError, SlotResult};
pub use host::{Host, HostConfig, SupervisedSource};
pub use node::{Node, NodeConfig};
pub use registry::{RegistryHost, SourceLocation};
pub use replica::{
    Event, PendingWrite, Replica, ReplicaActor, ReplicaState, SlotCall, StateChanged,
};
pub use source::{AsSourceState, ChildSource, Hostable, RemoteSource, SourceState};
pub use transport::{PeerAddr, Transport, UnixCredentials, SUPPORTED_SCHEMES};
pub use wire::Encoding;

/// The names most programs need: `use actix_remote_objects::prelude::*;`.
pub mod prelude {
    pub use crate::{
        remote_object, Event, Host, HostConfig, Node, NodeConfig, RegistryHost, RemoteObject,
        RemoteSource, Replica, ReplicaState, SlotError, SlotResult, StateChanged,
    };
}

pub mod dynamic {
    //! Dynamic replicas: using a source without its Rust types. A host describes a source's API
    //! at run time ([`ApiSchema`]); values travel as [`Value`]s encoded by that description,
    //! byte for byte as the typed code encodes them.

    pub use crate::replica::dynamic::{DynamicError, DynamicEvent, DynamicReplica};
    pub use crate::source::{DynamicCall, DynamicSource, DynamicWrite};
    pub use crate::values::{
        codec, schema, value, ApiSchema, MemberSchema, PropertySchema, SchemaError, ShapeError,
        TypeDef, TypeFormat, Value, ValueError,
    };
}

/// Items the generated code uses; not part of the public API.
#[doc(hidden)]
#[path = "macro_support.rs"]
pub mod __private;
