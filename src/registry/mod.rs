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
mod etcd;
mod finder;
mod hub;
mod mdns;
mod proxy;
mod registrar;
mod view;

pub use api::{registry, Registry, RegistrySnapshot, SourceLocation};
pub use hub::RegistrationRules;
pub(crate) use hub::RegistryHub;
pub use proxy::{Proxy, ProxyFilter};
pub(crate) use registrar::Registrar;
pub use view::NetworkChange;

use std::ops::Deref;
use std::sync::Arc;

use crate::error::Error;
use crate::host::{Host, HostConfig};

/// The name the registry is remoted under.
pub const REGISTRY_NAME: &str = "Registry";

/// A host that also serves the registry. It dereferences to [`Host`]: it can remote sources
/// of its own, which it registers directly.
#[derive(Clone)]
pub struct RegistryHost {
    host: Host,
    hub: Arc<RegistryHub>,
}

impl std::fmt::Debug for RegistryHost {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RegistryHost")
            .field("host", &self.host)
            .finish_non_exhaustive()
    }
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
        host.enable_hub(RegistryHub::info(REGISTRY_NAME), Arc::new(Arc::clone(&hub)))?;
        host.set_registrar(Arc::new(Registrar::Local(Arc::clone(&hub))));
        Ok(RegistryHost { host, hub })
    }

    /// Who may register sources here from now on (open by default). Registrations already
    /// made stay.
    pub fn set_registration_rules(&self, rules: RegistrationRules) {
        self.hub.set_rules(rules);
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
