#![doc = include_str!("../README.md")]
//!
//! # The guide
//!
//! - [`guide::concepts`]: sources, replicas, nodes and hosts, and which runs where.
//! - [`guide::lifecycle`]: a replica's states, reconnects, and a source's life.
//! - [`guide::properties`]: property types and their bounds, defaults, access, writes.
//! - [`guide::signals_and_slots`]: signals, slots, their errors, and ordering.
//! - [`guide::registry`]: finding sources by name across hosts.
//! - [`guide::discovery`]: finding hosts on a LAN with mDNS, with no address at all.
//! - [`guide::persisted`]: persisted properties and their stores.
//! - [`guide::dynamic`]: replicas and sources without compile-time types, and `aro`.
//! - [`guide::security`]: what is protected by default and what to turn on.
//! - [`guide::observability`]: logs, metrics, and counts to await.
//! - [`guide::performance`]: what is fast, and how to keep it so.
//! - [`example_generated`]: what `remote_object!` generates for an example API.
//!
//! Reference: [`Host`] and [`Node`] (listening, connecting over `tcp://`, `tls://`, `local:`
//! or any stream), [`Replica`], [`registry`], [`persist`], [`dynamic`], [`security`],
//! [`runtime`]. `docs/DESIGN.md` holds the architecture, the wire protocol and the contract;
//! `docs/PERFORMANCE.md` the measurements beside Qt Remote Objects.

#![warn(missing_docs)]

// Lets the generated code name `::actix_remote_objects` inside this crate's own tests too.
extern crate self as actix_remote_objects;

mod adapter;
pub mod api;
mod batch;
#[cfg(test)]
mod contract_tests;
mod error;
#[cfg(doc)]
pub mod example_generated;
#[doc(hidden)]
pub mod fuzzing;
pub mod guide;
mod host;
mod lifecycle;
mod node;
mod outbox;
pub mod persist;
mod proto;
pub mod qt;
pub mod registry;
mod replica;
pub mod runtime;
pub mod security;
mod shared_bytes;
mod source;
pub mod telemetry;
mod transport;
mod values;
// The packets and framing, for this crate's own tools, tests and benchmarks: not a stable
// API (the encoding choice is `Encoding`, at the crate's root).
#[doc(hidden)]
pub mod wire;

pub use actix_remote_objects_macros::remote_object;
pub use api::{Access, RemoteObject, SignalType, Slot};
pub use error::{Error, SlotError, SlotResult};
pub use host::{Host, HostConfig, SupervisedSource};
pub use node::OfferedSource;
pub use node::{BackgroundError, Node, NodeConfig};
pub use registry::{NetworkChange, Proxy, ProxyFilter, RegistryHost, SourceLocation};
pub use replica::{Event, PendingWrite, Replica, ReplicaActor, ReplicaState, StateChanged};
pub use shared_bytes::SharedBytes;
pub use source::{ChildSource, RemoteSource};
pub use transport::{Connector, PeerAddr, Transport, UnixCredentials, SUPPORTED_SCHEMES};
pub use wire::Encoding;

/// The names most programs need: `use actix_remote_objects::prelude::*;`.
pub mod prelude {
    pub use crate::{
        remote_object, Event, Host, HostConfig, Node, NodeConfig, RegistryHost, RemoteObject,
        RemoteSource, Replica, ReplicaState, SharedBytes, SlotError, SlotResult, StateChanged,
    };
}

pub mod dynamic {
    //! Dynamic replicas: using a source without its Rust types. A host describes a source's API
    //! at run time ([`ApiSchema`]); values travel as [`Value`]s encoded by that description,
    //! byte for byte as the typed code encodes them.

    pub use crate::replica::dynamic::{DynamicError, DynamicEvent, DynamicReplica};
    pub use crate::source::{DynamicCall, DynamicSource, DynamicWrite};
    pub use crate::values::schema::AccessFlag;
    pub use crate::values::{
        codec, schema, value, ApiSchema, MemberSchema, PropertySchema, SchemaError, ShapeError,
        TypeDef, TypeFormat, Value, ValueError,
    };
}

pub mod model {
    //! Replicated models (Qt's `MODEL`): a list of rows a source holds and changes, which
    //! replicas page through — holding only the rows they fetched — while rows arrive, move and
    //! change.
    //!
    //! Declare one as a member of an API, `model playlist: ListModel<Track>`. The source's
    //! `SimpleSource` then holds a [`ListModel`] (`source.playlist()`), changed like a `Vec`:
    //! every operation is one diff on the wire, in order with the source's other changes and
    //! signals. A replica of the API has a [`ModelReplica`] (`replica.playlist()`), which knows
    //! the row count as soon as it is initialized and holds a window of rows: `get(row)` reads
    //! it (and asks for the rows around a miss), `fetch(range)` awaits rows, `changes()`
    //! streams what changed.
    //!
    //! Rows with children are a [`TreeModel`] (`model files: TreeModel<Entry>`), whose rows
    //! are named by paths from the top and whose replica, a [`TreeReplica`], fetches the
    //! children of the rows it expands (the `guide::models` chapter shows both).
    //!
    //! ```
    //! use actix_remote_objects::prelude::*;
    //! use actix_remote_objects::model::ListModel;
    //!
    //! #[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
    //! pub struct Track {
    //!     pub title: String,
    //!     pub plays: u32,
    //! }
    //!
    //! remote_object! {
    //!     pub Player {
    //!         prop volume: u8;
    //!         model playlist: ListModel<Track>;
    //!     }
    //! }
    //! use player::ReplicaExt as _;
    //!
    //! struct PlayerService(player::SimpleSource);
    //! impl actix::Actor for PlayerService {
    //!     type Context = actix::Context<Self>;
    //! }
    //! impl RemoteSource for PlayerService {
    //!     type Api = Player;
    //!     fn simple_source(&self) -> &player::SimpleSource {
    //!         &self.0
    //!     }
    //! }
    //!
    //! # #[actix::main]
    //! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    //! let state = player::SimpleSource::default();
    //! let playlist = state.playlist();
    //! for n in 0..1000 {
    //!     playlist.push(Track { title: format!("track {n}"), plays: 0 })?;
    //! }
    //! let host = Host::listen("tcp://127.0.0.1:0").await?;
    //! host.enable_remoting(PlayerService(state)).await?;
    //!
    //! let node = Node::connect(host.url().unwrap()).await?;
    //! let replica = node.acquire::<Player>();
    //! replica.wait_for_source(std::time::Duration::from_secs(5)).await?;
    //! let model = replica.playlist().expect("initialized");
    //! assert_eq!(model.row_count(), 1000);
    //! let rows = model.fetch(500..510).await?;
    //! assert_eq!(rows[0].title, "track 500");
    //! assert_eq!(model.get(505).map(|t| t.title), Some("track 505".to_owned()));
    //! # Ok(())
    //! # }
    //! ```

    pub use crate::adapter::ModelRow;
    pub use crate::replica::{ModelChange, ModelReplica, TreeChange, TreeReplica, TreeRow};
    pub use crate::source::{ListModel, TreeItem, TreeModel};

    /// A list shown as a table (`model grid: TableModel<Row>`): a [`ListModel`] whose rows'
    /// fields are also its columns. A Rust replica reads it as any list (a
    /// [`ModelReplica`]); to a Qt node it is a table — one column per field, headed by the
    /// field's name, each cell the field as its display and edit roles — which a
    /// `QTableView` shows as it is.
    pub type TableModel<T> = ListModel<T>;
}

/// Items the generated code uses; not part of the public API.
#[doc(hidden)]
#[path = "macro_support.rs"]
pub mod __private;
