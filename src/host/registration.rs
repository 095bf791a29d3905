//! The hook a host registers its sources through. The registry (a layer above hosts)
//! implements it; a host only calls it.

use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;

use super::Host;
use crate::error::Error;
use crate::wire::ObjectInfo;

/// Where a host's sources are registered.
pub(crate) trait Registration: Send + Sync {
    /// Registers one source served at `host_url`; a name owned elsewhere is a conflict.
    fn register<'a>(
        &'a self,
        info: &'a ObjectInfo,
        host_url: &'a str,
    ) -> BoxFuture<'a, Result<(), Error>>;
    fn unregister(&self, name: &str);
    /// Waits until registrations reach the registry.
    fn wait(&self, timeout: Duration) -> BoxFuture<'_, Result<(), Error>>;
    fn shutdown(&self) -> BoxFuture<'_, ()>;
}

/// Connects a host to the registry at a URL.
pub(crate) type AttachRegistry = fn(&str, &Host) -> Result<Arc<dyn Registration>, Error>;

/// A registry to register with once the host is listening, as `HostConfig::registry_url`
/// sets it.
#[derive(Clone)]
pub(crate) struct RegistryLink {
    pub(crate) url: String,
    /// Connects `host` to the registry at the URL.
    pub(crate) attach: AttachRegistry,
}

impl std::fmt::Debug for RegistryLink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RegistryLink")
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}
