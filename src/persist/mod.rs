//! Persisted properties: a replica starts from the values it last saw (QtRO's PERSISTED
//! properties and `QRemoteObjectAbstractPersistedStore`).
//!
//! A node given a [`PersistedStore`] (see [`NodeConfig::persisted_store`](crate::NodeConfig::persisted_store))
//! loads the saved values of a source when a replica of it is acquired, so the replica starts
//! in `Default` showing them instead of the declared defaults; it saves the replica's
//! persisted properties whenever one changes and when the replica goes away. Saves run on a
//! background thread, in order, so a slow store never blocks the actix arbiter; call
//! [`Node::shutdown`](crate::Node::shutdown) before exiting to wait for them.
//!
//! Plug in your own store by implementing the trait:
//!
//! ```
//! use std::collections::HashMap;
//! use std::sync::Mutex;
//! use actix_remote_objects::persist::{PersistedStore, PersistedValues, StoreError};
//!
//! /// Keeps values in memory; a real one would write a database row or a settings file.
//! #[derive(Default)]
//! struct MyStore(Mutex<HashMap<String, PersistedValues>>);
//!
//! impl PersistedStore for MyStore {
//!     fn load(&self, source: &str) -> Result<Option<PersistedValues>, StoreError> {
//!         Ok(self.0.lock().map_err(|_| StoreError::other("poisoned"))?.get(source).cloned())
//!     }
//!     fn save(&self, source: &str, values: &PersistedValues) -> Result<(), StoreError> {
//!         self.0.lock().map_err(|_| StoreError::other("poisoned"))?.insert(source.to_owned(), values.clone());
//!         Ok(())
//!     }
//! }
//! ```

mod file;
mod memory;
mod queue;

pub use file::FileStore;
pub use memory::MemoryStore;
pub(crate) use queue::PersistQueue;

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// The saved persisted properties of one source, as a replica last saw them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PersistedValues {
    /// The API's wire name.
    pub api: String,
    /// The API's signature when the values were saved; values saved under another signature
    /// are ignored on load, never misread.
    pub signature: u64,
    /// The encoding of the values, by [`Encoding::name`](crate::Encoding::name).
    pub encoding: String,
    /// Each persisted property's index and encoded value.
    pub values: Vec<(u16, Vec<u8>)>,
}

/// A place where a node keeps the persisted properties of its replicas between runs.
///
/// `load` is called when a replica is acquired (on the actix arbiter: keep it fast, e.g. by
/// caching); `save` is called from the node's background save thread, in the order the
/// values changed, with only the latest values of each source when saves pile up.
pub trait PersistedStore: Send + Sync + 'static {
    /// The values saved for the source remoted under `source`, if any.
    fn load(&self, source: &str) -> Result<Option<PersistedValues>, StoreError>;
    /// Replaces the values saved for `source`.
    fn save(&self, source: &str, values: &PersistedValues) -> Result<(), StoreError>;
}

/// A persisted store could not load or save.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The store's file could not be read or written.
    #[error("persisted store {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The store's file exists but does not hold valid saved values (torn, truncated, or
    /// not a store file at all).
    #[error("persisted store {path} is corrupt: {reason}")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// Any other failure of a user-provided store.
    #[error("persisted store: {0}")]
    Other(String),
}

impl StoreError {
    /// An error of a user-provided store.
    pub fn other(reason: impl std::fmt::Display) -> StoreError {
        StoreError::Other(reason.to_string())
    }
}
