//! The registry's API: an ordinary remote object, so any node can watch it.
//!
//! A replica is initialized with a [`RegistrySnapshot`] of every entry; after that the
//! registry sends only what changes, as `source_added` and `source_removed` signals, so one
//! registration costs the same however many sources are registered (the snapshot property is
//! not re-sent on changes, as in Qt's registry). Every change bumps the snapshot's
//! `revision`, and every signal carries the revision it made, so a watcher that missed one
//! (it fell behind) can tell, and asks for a fresh snapshot with the `snapshot` slot.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Where a registered source lives.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct SourceLocation {
    /// The wire name of its API.
    pub api: String,
    /// Its API signature.
    pub signature: u64,
    /// The URL of the host that serves it.
    pub host_url: String,
}

/// Everything a registry holds at one moment.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegistrySnapshot {
    /// Which run of the registry this is: a fresh random number each time one starts, so
    /// revisions of different runs are never confused.
    pub epoch: u64,
    /// How many changes this run has made; the signal of the next one carries
    /// `revision + 1`.
    pub revision: u64,
    /// Every registered source, by the name it is remoted under.
    pub sources: BTreeMap<String, SourceLocation>,
}

crate::remote_object! {
    /// The registry: which host serves which source, by source name. Served under the name
    /// `Registry` by a [`RegistryHost`](crate::RegistryHost). Most programs use
    /// [`Node::network_sources`](crate::Node::network_sources) and
    /// [`Node::network_changes`](crate::Node::network_changes) rather than this replica.
    pub Registry {
        /// Every entry as of this replica's last (re)initialization. Changes after it come
        /// as signals only: this value is not updated by them.
        prop snapshot: RegistrySnapshot;
        /// `name` was registered at `location`; the registry is now at `revision`.
        signal source_added(revision: u64, name: String, location: SourceLocation);
        /// `name`, registered at `location`, was unregistered (or its host went away); the
        /// registry is now at `revision`.
        signal source_removed(revision: u64, name: String, location: SourceLocation);
        /// Registers a source for the calling host. Refused if another host registered
        /// the name first.
        slot add_source(name: String, location: SourceLocation);
        /// Unregisters a source the calling host registered.
        slot remove_source(name: String);
        /// Every entry now (for a watcher that missed a change).
        slot fetch_snapshot() -> RegistrySnapshot;
    }
}
