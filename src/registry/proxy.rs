//! Proxies between networks (QtRO's `QRemoteObjectHostBase::proxy`): a host re-serves the
//! sources another registry lists, so nodes of this network reach sources of that one. Each
//! is relayed through a replica that keeps the bytes it receives and passes them on as they
//! came — values, changes and signals one way, calls, replies and writes the other — never
//! decoded or encoded again.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, Weak};

use bytes::Bytes;
use futures::StreamExt;
use tokio::sync::watch;
use tracing::{debug, info, warn};

use super::registrar::registration_error;
use super::NetworkChange;
use crate::error::{Error, Kind, SlotError};
use crate::host::Host;
use crate::node::{Node, NodeConfig};
use crate::proto::relay::Snapshot;
use crate::proto::{SlotFuture, WriteFuture};
use crate::replica::relay::{Relay, RelayEvents};
use crate::replica::ReplicaState;
use crate::source::{RelayedSource, Upstream};
use crate::wire::{Encoding, FailureKind, RemoteFailure};

/// Which of the other network's sources a proxy re-serves: by name and by API (each list
/// empty: any).
#[derive(Debug, Clone, Default)]
pub struct ProxyFilter {
    names: Vec<String>,
    apis: Vec<String>,
}

impl ProxyFilter {
    /// Every source.
    pub fn all() -> ProxyFilter {
        ProxyFilter::default()
    }

    /// Also the source named `name` (once any name is given, only those named).
    pub fn name(mut self, name: impl Into<String>) -> ProxyFilter {
        self.names.push(name.into());
        self
    }

    /// Also the sources of API `api` (once any API is given, only those).
    pub fn api(mut self, api: impl Into<String>) -> ProxyFilter {
        self.apis.push(api.into());
        self
    }

    fn accepts(&self, name: &str, api: &str) -> bool {
        (self.names.is_empty() || self.names.iter().any(|n| n == name))
            && (self.apis.is_empty() || self.apis.iter().any(|a| a == api))
    }
}

/// A running proxy: while it lives, its host serves the other network's sources; dropped,
/// it withdraws them.
pub struct Proxy {
    relays: Arc<Mutex<HashMap<String, Relayed>>>,
    _node: Node,
    task: tokio::task::JoinHandle<()>,
}

impl std::fmt::Debug for Proxy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Proxy").finish_non_exhaustive()
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.task.abort();
        for (_, relayed) in lock(&self.relays).drain() {
            relayed.stop();
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // Every critical section is a map or an option operation.
    mutex.lock().unwrap_or_else(|p| p.into_inner())
}

/// One relayed source: its relay on the proxy's node, and what the host serves from it.
struct Relayed {
    release: Box<dyn FnOnce() + Send>,
    link: Arc<Link>,
}

impl Relayed {
    fn stop(self) {
        (self.release)();
        self.link.withdraw();
    }
}

impl Host {
    /// Re-serves on this host the sources the registry at `registry_url` lists that
    /// `filter` accepts, for as long as the returned [`Proxy`] lives: each appears here
    /// (and in this host's own registry, if it has one) when it appears there, and is
    /// withdrawn when it leaves there, or its host or that registry goes away. Calls,
    /// writes, replies, changes and signals are relayed as bytes.
    ///
    /// No loops: a source the other registry lists at this host's own URL is not relayed
    /// back, and a name taken in this host's registry (first registration wins) is not
    /// taken again. Sources with sub-objects are not relayed yet.
    pub fn proxy(&self, registry_url: &str, filter: ProxyFilter) -> Result<Proxy, Error> {
        self.relay_from(registry_url, filter, true)
    }

    /// Relays what the registry at `registry_url` lists; `register`: in this host's own
    /// registry too.
    fn relay_from(
        &self,
        registry_url: &str,
        filter: ProxyFilter,
        register: bool,
    ) -> Result<Proxy, Error> {
        let node = Node::new(NodeConfig::default().encoding(self.encoding()));
        node.set_registry_url(registry_url)?;
        let relays: Arc<Mutex<HashMap<String, Relayed>>> = Arc::default();
        let driver = Driver {
            host: self.clone(),
            node: node.clone(),
            filter,
            register,
            relays: Arc::clone(&relays),
        };
        let task = actix::spawn(driver.run());
        info!(registry = %registry_url, "proxying the sources another registry lists");
        Ok(Proxy {
            relays,
            _node: node,
            task,
        })
    }
}

impl super::RegistryHost {
    /// Re-serves on this registry host the sources of its own network that `filter`
    /// accepts (Qt's `reverseProxy`): a node or proxy of another network that can reach
    /// only this host reaches them all through it. They are not registered again (they are
    /// in this registry already); each follows its source as [`Host::proxy`]'s do.
    pub fn reverse_proxy(&self, filter: ProxyFilter) -> Result<Proxy, Error> {
        let url = self
            .url()
            .ok_or_else(|| Error::new(Kind::NoRegistry))?
            .to_owned();
        self.relay_from(&url, filter, false)
    }
}

/// Follows the other registry and starts and stops relays.
struct Driver {
    host: Host,
    node: Node,
    filter: ProxyFilter,
    /// Whether relayed sources are registered in the host's own registry.
    register: bool,
    relays: Arc<Mutex<HashMap<String, Relayed>>>,
}

impl Driver {
    async fn run(self) {
        let mut changes = self.node.network_changes();
        // The other registry going away withdraws everything relayed from its network;
        // back, it is relayed again.
        let mut registry = match self.node.registry() {
            Some(registry) => registry.state_changes().boxed(),
            None => futures::stream::pending().boxed(),
        };
        let mut reachable = true;
        for (name, location) in self.node.network_sources() {
            self.added(&name, &location.api, &location.host_url);
        }
        loop {
            tokio::select! {
                change = changes.next() => match change {
                    Some(NetworkChange::Added { name, location }) if reachable => {
                        self.added(&name, &location.api, &location.host_url)
                    }
                    Some(NetworkChange::Removed { name, .. }) => self.removed(&name),
                    Some(NetworkChange::Lagged(_)) if reachable => self.resync(),
                    Some(_) => {}
                    None => break,
                },
                Some(state) = registry.next() => match state {
                    ReplicaState::Valid if !reachable => {
                        reachable = true;
                        self.resync();
                    }
                    ReplicaState::Suspect if reachable => {
                        reachable = false;
                        info!("the other registry is gone; withdrawing what came through it");
                        self.withdraw_all();
                    }
                    _ => {}
                },
            }
        }
    }

    fn withdraw_all(&self) {
        let relays: Vec<Relayed> = lock(&self.relays).drain().map(|(_, r)| r).collect();
        for relayed in relays {
            relayed.stop();
        }
    }

    fn added(&self, name: &str, api: &str, host_url: &str) {
        if !self.filter.accepts(name, api) || self.host.url() == Some(host_url) {
            return;
        }
        let mut relays = lock(&self.relays);
        if relays.contains_key(name) {
            return;
        }
        debug!(%name, at = %host_url, "relaying a source");
        let link = Link::new(&self.host, name, self.register);
        let relay = Relay::new(name, Arc::clone(&link) as Arc<dyn RelayEvents>);
        *lock(&link.relay) = Arc::downgrade(&relay);
        let release = Box::new(self.node.attach_entry(name, relay));
        relays.insert(name.to_owned(), Relayed { release, link });
    }

    fn removed(&self, name: &str) {
        if let Some(relayed) = lock(&self.relays).remove(name) {
            relayed.stop();
        }
    }

    /// The stream lagged: relay exactly what the registry lists now.
    fn resync(&self) {
        let listed = self.node.network_sources();
        let gone: Vec<String> = lock(&self.relays)
            .keys()
            .filter(|name| !listed.contains_key(*name))
            .cloned()
            .collect();
        for name in gone {
            self.removed(&name);
        }
        for (name, location) in listed {
            self.added(&name, &location.api, &location.host_url);
        }
    }
}

/// Between one relay and the host: serves what the relay receives.
struct Link {
    encoding: Encoding,
    name: String,
    relay: Mutex<Weak<Relay>>,
    /// The source the host should serve now, or none; [`keep_served`] makes it so.
    wanted: watch::Sender<Option<RelayedSource>>,
}

impl Link {
    /// A link serving on `host` what the relay of `name` receives (registered in the
    /// host's registry when `register`).
    fn new(host: &Host, name: &str, register: bool) -> Arc<Link> {
        let (wanted, receiver) = watch::channel(None);
        actix::spawn(keep_served(
            host.clone(),
            name.to_owned(),
            register,
            receiver,
        ));
        Arc::new(Link {
            encoding: host.encoding(),
            name: name.to_owned(),
            relay: Mutex::new(Weak::new()),
            wanted,
        })
    }

    /// Stops serving the source here (its replicas go `Suspect`).
    fn withdraw(&self) {
        self.wanted
            .send_if_modified(|wanted| wanted.take().is_some());
    }

    /// The source served from this link's relay, if any.
    fn served(&self) -> Option<RelayedSource> {
        self.wanted.borrow().clone()
    }
}

/// Serves on `host` under `name` the source `wanted` holds, withdraws it when it holds none,
/// serves the new one when it is replaced — one step after the other, so a withdrawal
/// never overtakes the serving (and registering) it follows. Ends, withdrawing, when the
/// link is gone.
async fn keep_served(
    host: Host,
    name: String,
    register: bool,
    mut wanted: watch::Receiver<Option<RelayedSource>>,
) {
    let mut serving: Option<RelayedSource> = None;
    loop {
        let want = wanted.borrow_and_update().clone();
        let same = match (&want, &serving) {
            (Some(want), Some(serving)) => want.is(serving),
            (None, None) => true,
            _ => false,
        };
        if !same {
            if serving.take().is_some() && host.disable_remoting(&name).await.is_ok() {
                info!(%name, "withdrew a relayed source");
            }
            if let Some(source) = want {
                serving = serve(&host, &name, source, register).await;
            }
        }
        if wanted.changed().await.is_err() {
            break;
        }
    }
    if serving.is_some() {
        let _ = host.disable_remoting(&name).await;
    }
}

/// Serves `source` on `host` under `name` (and registers it when `register`): the source
/// if the host serves it now.
async fn serve(
    host: &Host,
    name: &str,
    source: RelayedSource,
    register: bool,
) -> Option<RelayedSource> {
    let registered = match host.serve_relayed(name, &source, register) {
        Ok(Some(info)) => host.register_relayed(info).await,
        Ok(None) => Ok(()),
        Err(error) => {
            warn!(%name, %error, "cannot serve a relayed source");
            host.report(registration_error(name, error));
            return None;
        }
    };
    match registered {
        Ok(()) => info!(%name, "serving a relayed source"),
        Err(error) => {
            warn!(%name, %error, "cannot register a relayed source");
            host.report(registration_error(name, error));
        }
    }
    Some(source)
}

impl RelayEvents for Link {
    fn init(&self, schema: &Bytes, tree: Snapshot) {
        let served = self.served();
        if let Some(source) = served.filter(|s| s.signature() == tree.signature) {
            if let Err(error) = source.reinit(tree) {
                warn!(name = %self.name, %error, "cannot relay a re-init");
            }
            return;
        }
        let upstream = Arc::new(ViaRelay(lock(&self.relay).clone()));
        match RelayedSource::new(schema.clone(), self.encoding, tree, upstream) {
            // A new source, or its API changed while away: served anew.
            Ok(source) => drop(self.wanted.send_replace(Some(source))),
            Err(reason) => warn!(name = %self.name, %reason, "cannot relay this source"),
        }
    }

    fn child_change(&self, parent: &[u16], slot: u16, child: Option<Snapshot>) {
        if let Some(source) = self.served() {
            if let Err(error) = source.child_change(parent, slot, child) {
                warn!(name = %self.name, %error, "cannot relay a child change");
            }
        }
    }

    fn change(&self, path: &[u16], index: u16, value: Bytes) {
        if let Some(source) = self.served() {
            if let Err(error) = source.change(path, index, value) {
                warn!(name = %self.name, %error, "cannot relay a change");
            }
        }
    }

    fn signal(&self, path: &[u16], index: u16, args: &[u8]) {
        if let Some(source) = self.served() {
            if let Err(error) = source.signal(path, index, args) {
                warn!(name = %self.name, %error, "cannot relay a signal");
            }
        }
    }

    fn lost(&self) {
        self.withdraw();
    }
}

/// Calls and writes to a relayed source, sent to its relay.
struct ViaRelay(Weak<Relay>);

impl Upstream for ViaRelay {
    fn call(&self, path: &[u16], slot: u16, args: Bytes) -> SlotFuture {
        let relay = self.0.clone();
        let path = path.to_vec();
        Box::pin(async move {
            let Some(relay) = relay.upgrade() else {
                return Err(rejected("the far source is gone"));
            };
            relay
                .call(&path, slot, args)
                .await
                .map_err(|error| match error {
                    SlotError::Source(message) => RemoteFailure {
                        kind: FailureKind::Source,
                        message,
                    },
                    other => rejected(&other.to_string()),
                })
        })
    }

    fn write(&self, path: &[u16], index: u16, value: Bytes) -> WriteFuture {
        let relay = self.0.clone();
        let path = path.to_vec();
        Box::pin(async move {
            let Some(relay) = relay.upgrade() else {
                return Err("the far source is gone".to_owned());
            };
            relay
                .write(&path, index, value)
                .await
                .map_err(|error| match error {
                    SlotError::Rejected(reason) | SlotError::Source(reason) => reason,
                    other => other.to_string(),
                })
        })
    }
}

fn rejected(message: &str) -> RemoteFailure {
    RemoteFailure {
        kind: FailureKind::Rejected,
        message: message.to_owned(),
    }
}
