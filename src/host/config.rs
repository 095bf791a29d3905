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
}

impl Default for HostConfig {
    fn default() -> Self {
        HostConfig {
            max_frame_size: DEFAULT_MAX_FRAME_SIZE,
            encoding: Encoding::default(),
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
}
