//! The registry's API: an ordinary remote object, so any node can watch it.

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

crate::remote_object! {
    /// The registry: which host serves which source, by source name. Served under the name
    /// `Registry` by a [`RegistryHost`](crate::RegistryHost).
    pub Registry {
        /// Every registered source, by the name it is remoted under.
        prop sources: BTreeMap<String, SourceLocation>;
        /// Registers a source for the calling host. Refused if another host registered
        /// the name first.
        slot add_source(name: String, location: SourceLocation);
        /// Unregisters a source the calling host registered.
        slot remove_source(name: String);
    }
}
