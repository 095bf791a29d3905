//! The registry (QtRO's `QRemoteObjectRegistryHost`): one well-known host that knows which
//! host serves which source, so nodes find sources by name.
//!
//! A [`RegistryHost`] is a host that also serves the [`Registry`] source. A host configured
//! with [`HostConfig::registry_url`](crate::HostConfig::registry_url) registers each source
//! it enables (and unregisters it when disabled); its entries vanish when its registry
//! connection does, and it registers them again when the registry comes back. A node given a
//! registry URL ([`Node::with_registry`](crate::Node::with_registry)) connects by itself to
//! the host of any source it acquires, and can list and watch what the network offers.

mod api;
mod hub;
mod registrar;

pub use api::{registry, Registry, SourceLocation};
pub(crate) use hub::RegistryHub;
pub(crate) use registrar::Registrar;

use std::ops::Deref;
use std::sync::Arc;

use crate::error::Error;
use crate::host::{Host, HostConfig};

/// The name the registry is remoted under.
pub const REGISTRY_NAME: &str = "Registry";

/// A host that also serves the registry. It dereferences to [`Host`]: it can remote sources
/// of its own, which it registers directly.
#[derive(Clone, Debug)]
pub struct RegistryHost {
    host: Host,
}

impl RegistryHost {
    /// Listens on `url` and serves the registry, with the default configuration.
    pub async fn listen(url: &str) -> Result<RegistryHost, Error> {
        RegistryHost::listen_with(url, HostConfig::default()).await
    }

    /// Listens on `url` with `config` and serves the registry. A `registry_url` in `config`
    /// is ignored: a registry registers its own sources in itself.
    pub async fn listen_with(url: &str, config: HostConfig) -> Result<RegistryHost, Error> {
        let encoding = config.encoding;
        let host = Host::listen_with(url, config.without_registry()).await?;
        let hub = Arc::new(RegistryHub::new());
        hub.use_encoding(encoding)?;
        host.enable_hub(
            REGISTRY_NAME,
            RegistryHub::info(REGISTRY_NAME),
            Box::new(Arc::clone(&hub)),
        )?;
        host.set_registrar(Registrar::Local(hub));
        Ok(RegistryHost { host })
    }

    /// The host serving the registry.
    pub fn host(&self) -> &Host {
        &self.host
    }
}

impl Deref for RegistryHost {
    type Target = Host;
    fn deref(&self) -> &Host {
        &self.host
    }
}
