//! [`HostConfig`]: how a host listens and talks.

use crate::wire::{Encoding, DEFAULT_MAX_FRAME_SIZE};

/// Settings for a [`Host`](crate::Host), builder style.
///
/// ```
/// use actix_remote_objects::{Encoding, HostConfig};
/// let config = HostConfig::default().max_frame_size(1 << 20).encoding(Encoding::Bincode);
/// ```
#[derive(Debug, Clone)]
pub struct HostConfig {
    pub(crate) max_frame_size: usize,
    pub(crate) encoding: Encoding,
    pub(crate) heartbeat: Option<std::time::Duration>,
    pub(crate) registry_url: Option<String>,
    pub(crate) max_queued_bytes: usize,
}

impl Default for HostConfig {
    fn default() -> Self {
        HostConfig {
            max_frame_size: DEFAULT_MAX_FRAME_SIZE,
            encoding: Encoding::default(),
            heartbeat: None,
            registry_url: None,
            max_queued_bytes: crate::outbox::DEFAULT_MAX_QUEUED,
        }
    }
}

impl HostConfig {
    /// The largest frame accepted from a node, in bytes (default 64 MiB). A node announcing
    /// a larger one is disconnected.
    pub fn max_frame_size(mut self, bytes: usize) -> Self {
        self.max_frame_size = bytes;
        self
    }

    /// The value encoding (default [`Encoding::Bincode`]); nodes must use the same.
    pub fn encoding(mut self, encoding: Encoding) -> Self {
        self.encoding = encoding;
        self
    }

    /// Pings each node every half `interval`; a node silent for longer than 1.5 intervals
    /// (a stalled connection that did not close) is dropped within two intervals and its
    /// subscriptions released. Off by default.
    pub fn heartbeat(mut self, interval: std::time::Duration) -> Self {
        self.heartbeat = Some(interval);
        self
    }

    /// Registers every source this host enables with the registry at `url` (a
    /// [`RegistryHost`](crate::RegistryHost)), under this host's URL, and unregisters it when
    /// disabled. The registry may be down: registration happens whenever it is reachable.
    pub fn registry_url(mut self, url: impl Into<String>) -> Self {
        self.registry_url = Some(url.into());
        self
    }

    /// How many bytes of frames that must arrive (replies, signals, inits) may wait for one
    /// node that reads too slowly before its connection is closed (default 64 MiB); the node
    /// then reconnects and re-initializes. Property values never count against it beyond
    /// one per property: for a slow node they coalesce, latest wins.
    pub fn max_queued_bytes(mut self, bytes: usize) -> Self {
        self.max_queued_bytes = bytes;
        self
    }

    pub(crate) fn without_registry(mut self) -> Self {
        self.registry_url = None;
        self
    }
}
