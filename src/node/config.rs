//! [`NodeConfig`]: how a node connects and talks.

use std::time::Duration;

use crate::wire::{Encoding, DEFAULT_MAX_FRAME_SIZE};

/// Settings for a [`Node`](crate::Node), builder style.
///
/// ```
/// use std::time::Duration;
/// use actix_remote_objects::NodeConfig;
/// let config = NodeConfig::default().handshake_timeout(Duration::from_secs(2));
/// ```
#[derive(Debug, Clone)]
pub struct NodeConfig {
    pub(crate) max_frame_size: usize,
    pub(crate) encoding: Encoding,
    pub(crate) handshake_timeout: Duration,
}

impl Default for NodeConfig {
    fn default() -> Self {
        NodeConfig {
            max_frame_size: DEFAULT_MAX_FRAME_SIZE,
            encoding: Encoding::default(),
            handshake_timeout: Duration::from_secs(10),
        }
    }
}

impl NodeConfig {
    /// The largest frame accepted from a host, in bytes (default 64 MiB).
    pub fn max_frame_size(mut self, bytes: usize) -> Self {
        self.max_frame_size = bytes;
        self
    }

    /// The value encoding (default [`Encoding::Bincode`]); hosts must use the same.
    pub fn encoding(mut self, encoding: Encoding) -> Self {
        self.encoding = encoding;
        self
    }

    /// How long to wait for a host's handshake after connecting (default 10 s).
    pub fn handshake_timeout(mut self, timeout: Duration) -> Self {
        self.handshake_timeout = timeout;
        self
    }
}
