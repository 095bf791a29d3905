//! The hook a host registers its sources through. The registry (a layer above hosts)
//! implements it; a host only calls it.

use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;

use super::{Host, HostConfig};
use crate::error::Error;
use crate::transport::Endpoint;
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
    pub(crate) kind: RegistryKind,
}

/// What a registry URL names, for checking what a host would register there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RegistryKind {
    /// A registry host (ours or Qt's): the URL is a host's.
    Host,
    /// A store of entries (etcd): the URL is no host's, but what is registered must be.
    Store,
    /// Discovery that finds the host's addresses itself (mDNS): a host listening on every
    /// address (`0.0.0.0`) is announced at each of them.
    Lan,
}

impl std::fmt::Debug for RegistryLink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RegistryLink")
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

impl RegistryLink {
    /// Whether it is a Qt registry (`qt+…`), which hosts register their Qt listener with.
    pub(crate) fn is_qt(&self) -> bool {
        self.url.starts_with("qt+")
    }
}

/// Checks, before anything is bound or started, that what `config` would register is an
/// address peers can use: its registry URL, its advertised URL, or else the address the
/// host listens on (`listening`; a host with none registers nothing without an advertised
/// URL).
pub(crate) fn check(config: &HostConfig, listening: Option<&Endpoint>) -> Result<(), Error> {
    let Some(registry) = &config.registry else {
        return Ok(());
    };
    match registry.kind {
        RegistryKind::Lan => return Ok(()),
        RegistryKind::Store => {}
        RegistryKind::Host => drop(Endpoint::parse(&registry.url)?),
    }
    let Some(advertised) = &config.advertised_url else {
        return match listening {
            Some(endpoint) if endpoint.is_unspecified() => Err(unreachable(
                &endpoint.to_string(),
                "the host listens on an unspecified address (0.0.0.0, [::]), which it would \
                 register: set HostConfig::advertised_url",
            )),
            _ => Ok(()),
        };
    };
    if !names_a_builtin_scheme(advertised) {
        // A scheme of the user's, which nodes open with their connector: nothing to check.
        return match advertised.split_once(':') {
            Some((scheme, _)) if !scheme.is_empty() => Ok(()),
            _ => Err(unreachable(advertised, "expected scheme:address")),
        };
    }
    let endpoint = match registry.is_qt() {
        true => Endpoint::parse_qt(advertised)?,
        false => Endpoint::parse(advertised)?,
    };
    match endpoint.unreachable_by_peers() {
        Some(reason) => Err(unreachable(advertised, reason)),
        None => Ok(()),
    }
}

fn unreachable(url: &str, reason: &'static str) -> Error {
    Error::invalid_url(url, reason)
}

fn names_a_builtin_scheme(url: &str) -> bool {
    let url = url.strip_prefix("qt+").unwrap_or(url);
    ["tcp://", "tls://", "local:"]
        .iter()
        .any(|scheme| url.starts_with(scheme))
}
