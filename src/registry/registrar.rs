//! How a host registers the sources it enables.

use std::sync::{Arc, Weak};

use futures::future::BoxFuture;
use futures::{FutureExt, StreamExt};
use tracing::{error, info, warn};

use super::api::{registry, Registry, SourceLocation};
use super::etcd::EtcdSettings;
use super::hub::{RegistryHub, LOCAL_OWNER};
use super::mdns::{Announcer, MdnsSettings};
use crate::error::{Error, Kind};
use crate::host::{
    AttachRegistry, Host, HostConfig, HostInner, Registration, RegistryKind, RegistryLink,
};
use crate::node::{BackgroundError, Node, Reporter};
use crate::replica::{Replica, ReplicaState};
use crate::wire::ObjectInfo;
use crate::SlotError;

pub(crate) enum Registrar {
    /// The registry host itself: entries go straight into its hub.
    Local(Arc<RegistryHub>),
    /// An ordinary host: entries go through a replica of a remote registry.
    Remote {
        node: Node,
        replica: Replica<Registry>,
        /// The host's background errors.
        reporter: Reporter,
    },
}

fn location(info: &ObjectInfo, host_url: &str) -> SourceLocation {
    SourceLocation {
        api: info.api.clone(),
        signature: info.signature,
        host_url: host_url.to_owned(),
    }
}

fn conflict(message: String) -> Error {
    error!(%message, "the registry refused a source");
    Error::new(Kind::RegistryConflict(message))
}

impl HostConfig {
    /// Registers every source this host enables with the registry at `url` (a
    /// [`RegistryHost`](crate::RegistryHost)), under this host's URL, and unregisters it when
    /// disabled. The registry may be down: registration happens whenever it is reachable.
    ///
    /// With `mdns:` (`mdns:NAME?port=N&interface=IF`, see
    /// [`guide::discovery`](crate::guide::discovery)) there is no registry: the host
    /// announces each source on the LAN with mDNS/DNS-SD, and nodes given the same URL find
    /// it with no address at all.
    pub fn registry_url(mut self, url: impl Into<String>) -> Self {
        let url = url.into();
        let (kind, attach): (RegistryKind, AttachRegistry) = if MdnsSettings::is_mdns(&url) {
            (RegistryKind::Lan, Announcer::attach)
        } else if EtcdSettings::is_etcd(&url) {
            (RegistryKind::Store, attach_etcd)
        } else {
            let remote: AttachRegistry =
                |url, host| Ok(Arc::new(Registrar::remote(url, host.downgrade())?));
            (RegistryKind::Host, remote)
        };
        self.registry = Some(RegistryLink { url, attach, kind });
        self
    }
}

/// Attaches a host to the etcd cluster at `url` (or says this build cannot).
fn attach_etcd(url: &str, host: &Host) -> Result<Arc<dyn Registration>, Error> {
    #[cfg(feature = "etcd")]
    return super::etcd::EtcdRegistrar::attach(url, host);
    #[cfg(not(feature = "etcd"))]
    {
        let _ = host;
        Err(super::etcd::unsupported(url))
    }
}

impl Registration for Registrar {
    fn register<'a>(
        &'a self,
        info: &'a ObjectInfo,
        host_url: &'a str,
    ) -> BoxFuture<'a, Result<(), Error>> {
        Registrar::register(self, info, host_url).boxed()
    }
    fn unregister(&self, name: &str) {
        Registrar::unregister(self, name)
    }
    fn wait(&self, timeout: std::time::Duration) -> BoxFuture<'_, Result<(), Error>> {
        Registrar::wait(self, timeout).boxed()
    }
    fn shutdown(&self) -> BoxFuture<'_, ()> {
        Registrar::shutdown(self).boxed()
    }
}

impl Registrar {
    /// Connects to the registry at `url` for a host; registers whatever the host serves each
    /// time the registry replica becomes valid (first connect, registry restart, reconnect).
    pub(crate) fn remote(url: &str, host: Weak<HostInner>) -> Result<Registrar, Error> {
        let inner = host.upgrade();
        let node = Node::new(
            inner
                .as_ref()
                .map(|h| h.registry_node_config())
                .unwrap_or_default(),
        );
        let reporter = inner.map(|h| h.reporter().clone()).unwrap_or_default();
        // The host's link to the registry failing is the host's background error.
        let mut link_errors = node.background_errors();
        node.connect_in_background(url)?;
        let forward_to = reporter.clone();
        actix::spawn(async move {
            while let Some(error) = link_errors.next().await {
                forward_to.report(error);
            }
        });
        let replica = node.acquire_named::<Registry>(super::REGISTRY_NAME);
        let mut states = replica.state_changes();
        let watched = replica.clone();
        let told = reporter.clone();
        actix::spawn(async move {
            while let Some(state) = states.next().await {
                if state != ReplicaState::Valid {
                    continue;
                }
                let Some(inner) = host.upgrade() else { break };
                let Some(url) = inner.registered_url() else {
                    continue;
                };
                for info in inner.source_infos() {
                    if let Err(error) = call_add(&watched, &info, &url).await {
                        told.report(registration_error(&info.name, error));
                    }
                }
                info!(registry = %watched.source_name(), "registered this host's sources");
            }
        });
        Ok(Registrar::Remote {
            node,
            replica,
            reporter,
        })
    }

    /// Registers one source; a name another host registered first is a conflict error.
    /// With the registry unreachable, registration waits for it (and succeeds now).
    pub(crate) async fn register(&self, info: &ObjectInfo, host_url: &str) -> Result<(), Error> {
        match self {
            Registrar::Local(hub) => hub
                .add(&info.name, location(info, host_url), LOCAL_OWNER)
                .map_err(conflict),
            Registrar::Remote {
                replica, reporter, ..
            } => {
                if replica.state() != ReplicaState::Valid {
                    return Ok(());
                }
                match call_add(replica, info, host_url).await {
                    Err(e) if e.is_registry_conflict() => Err(e),
                    // The caller goes on; the source is registered again on reconnect.
                    Err(e) => {
                        reporter.report(registration_error(&info.name, e));
                        Ok(())
                    }
                    Ok(()) => Ok(()),
                }
            }
        }
    }

    pub(crate) async fn wait(&self, timeout: std::time::Duration) -> Result<(), Error> {
        match self {
            Registrar::Local(_) => Ok(()),
            Registrar::Remote { replica, .. } => replica.wait_for_source(timeout).await,
        }
    }

    pub(crate) fn unregister(&self, name: &str) {
        match self {
            Registrar::Local(hub) => hub.remove(name, LOCAL_OWNER),
            Registrar::Remote { replica, .. } => replica.do_send(registry::RemoveSource {
                name: name.to_owned(),
            }),
        }
    }

    pub(crate) async fn shutdown(&self) {
        if let Registrar::Remote { node, .. } = self {
            // The registry drops this host's entries when its connection closes.
            node.shutdown().await;
        }
    }
}

/// `name` could not be registered, where no caller waits for it (logged here; a refusal
/// was logged where it was made).
pub(super) fn registration_error(name: &str, error: Error) -> BackgroundError {
    let name = name.to_owned();
    let error = Arc::new(error);
    if error.is_registry_conflict() {
        BackgroundError::RegistrationConflict { name, error }
    } else {
        warn!(%name, %error, "cannot register a source; will retry when the registry is back");
        BackgroundError::RegistrationFailed { name, error }
    }
}

async fn call_add(
    replica: &Replica<Registry>,
    info: &ObjectInfo,
    host_url: &str,
) -> Result<(), Error> {
    let msg = registry::AddSource {
        name: info.name.clone(),
        location: location(info, host_url),
    };
    match replica.call(msg).await {
        Ok(()) => Ok(()),
        Err(SlotError::Source(message)) => Err(conflict(message)),
        Err(other) => Err(Error::new(Kind::Registry(other.to_string()))),
    }
}
