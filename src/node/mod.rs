//! [`Node`]: connects to hosts and acquires replicas of their sources.

mod actor;
mod config;
mod connection;

pub use config::NodeConfig;

use std::any::Any;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};

use actix::prelude::*;
use tracing::{info, warn};

use crate::api::RemoteObject;
use crate::dynamic::{DynamicReplica, DynamicShared};
use crate::error::{Error, Kind};
use crate::persist::PersistQueue;
use crate::registry::{Registry, SourceLocation, REGISTRY_NAME};
use crate::replica::delivery::Delivery;
use crate::replica::shared::{ReplicaEntry, ReplicaShared};
use crate::replica::{LazyActor, Replica};
use crate::transport::{Endpoint, Transport, SUPPORTED_SCHEMES};
use crate::wire::ObjectInfo;
use actor::{AddConnection, AddHost, Attach, Detach, ListOffered, NodeActor, Shutdown};
use connection::establish;

/// A node: holds connections to hosts and the replicas acquired from them. Cheap to clone.
///
/// Must be created and used on an actix arbiter (inside `actix::System` or `#[actix::main]`).
#[derive(Clone)]
pub struct Node {
    inner: Arc<NodeInner>,
}

struct NodeInner {
    config: NodeConfig,
    /// Where the node's actors run, whichever thread acquires a replica.
    arbiter: actix::ArbiterHandle,
    /// The registry replica, once a registry URL is set.
    registry: std::sync::OnceLock<Replica<Registry>>,
    persist: Option<Arc<PersistQueue>>,
    actor: Addr<NodeActor>,
    /// Live replicas by name, so every acquire of one name shares one replica.
    replicas: Mutex<HashMap<String, SharedReplica>>,
    /// Live dynamic replicas by name, likewise.
    dynamic: Mutex<HashMap<String, SharedDynamic>>,
}

struct SharedReplica {
    token: Weak<HandleToken>,
    /// The typed parts, `(Arc<ReplicaShared<A>>, Arc<LazyActor<A>>)`.
    typed: Box<dyn Any + Send>,
}

/// A live dynamic replica: its handles' token and its state.
type SharedDynamic = (Weak<HandleToken>, Arc<DynamicShared>);

/// Held by every handle of one replica; when the last one drops, the node releases it.
pub(crate) struct HandleToken {
    name: String,
    entry: Arc<dyn ReplicaEntry>,
    /// Weak: cloning an actix `Addr` allocates, and a node may hold thousands of replicas.
    actor: actix::WeakAddr<NodeActor>,
}

impl Drop for HandleToken {
    fn drop(&mut self) {
        // The replica goes away: save what it last saw.
        self.entry.persist();
        let Some(actor) = self.actor.upgrade() else {
            return;
        };
        actor.do_send(Detach {
            name: self.name.clone(),
            entry: Arc::clone(&self.entry),
        });
    }
}

impl Node {
    /// A node with no connection yet.
    pub fn new(config: NodeConfig) -> Node {
        let actor = NodeActor::new(config.clone()).start();
        let persist = config
            .store
            .as_ref()
            .map(|store| PersistQueue::start(Arc::clone(&store.0)));
        Node {
            inner: Arc::new(NodeInner {
                config,
                arbiter: actix::Arbiter::current(),
                registry: std::sync::OnceLock::new(),
                persist,
                actor,
                replicas: Mutex::new(HashMap::new()),
                dynamic: Mutex::new(HashMap::new()),
            }),
        }
    }

    /// Connects to the host at `url` (`tcp://host:port` or `local:name`) with the default
    /// configuration, and completes the handshake.
    pub async fn connect(url: &str) -> Result<Node, Error> {
        Node::connect_with(url, NodeConfig::default()).await
    }

    /// Connects to the host at `url` with `config`.
    pub async fn connect_with(url: &str, config: NodeConfig) -> Result<Node, Error> {
        let node = Node::new(config);
        node.connect_to(url).await?;
        Ok(node)
    }

    /// A node that finds sources through the registry at `url`: acquiring a source connects
    /// to whichever host the registry says serves it. The registry may not be up yet.
    pub fn with_registry(url: &str) -> Result<Node, Error> {
        let node = Node::new(NodeConfig::default());
        node.set_registry_url(url)?;
        Ok(node)
    }

    /// Uses the registry at `url` (kept connected in the background) to find the hosts of
    /// the sources this node acquires. A node has one registry.
    pub fn set_registry_url(&self, url: &str) -> Result<(), Error> {
        if self.inner.registry.get().is_some() {
            return Err(Error::new(Kind::Registry(
                "this node already has a registry".into(),
            )));
        }
        self.connect_in_background(url)?;
        let replica = self.acquire_named::<Registry>(REGISTRY_NAME);
        replica.subscribe_properties(self.inner.actor.clone().recipient());
        let _ = self.inner.registry.set(replica);
        Ok(())
    }

    /// Waits until the registry replica is initialized.
    pub async fn wait_for_registry(&self, timeout: std::time::Duration) -> Result<(), Error> {
        match self.inner.registry.get() {
            Some(registry) => registry.wait_for_source(timeout).await,
            None => Err(Error::new(Kind::NoRegistry)),
        }
    }

    /// The registry replica: its `sources` property lists what the network offers, and its
    /// property changes tell when sources are added and removed.
    pub fn registry(&self) -> Option<&Replica<Registry>> {
        self.inner.registry.get()
    }

    /// What the network offers, by source name, as the registry last said (empty without a
    /// registry).
    pub fn network_sources(&self) -> std::collections::BTreeMap<String, SourceLocation> {
        self.registry()
            .map(|r| r.properties().sources)
            .unwrap_or_default()
    }

    /// The URL schemes this build supports, for checking a URL before connecting.
    pub fn supported_schemes() -> &'static [&'static str] {
        SUPPORTED_SCHEMES
    }

    /// Connects to the host at `url` and completes the handshake; from then on the node
    /// keeps that host connected, reconnecting with backoff whenever the connection is lost.
    /// Fails if this first attempt fails.
    pub async fn connect_to(&self, url: &str) -> Result<(), Error> {
        let endpoint = Endpoint::parse(url)?;
        let config = &self.inner.config;
        let stream = endpoint.connect(config.tls.as_ref()).await?;
        let established = establish(stream, config).await?;
        self.inner
            .actor
            .send(AddConnection {
                established,
                reconnect_to: Some(endpoint),
            })
            .await
            .map_err(|_| Error::new(Kind::Shutdown))?;
        info!(%url, "connected to host");
        Ok(())
    }

    /// Keeps the host at `url` connected, starting in the background: for a host that may
    /// not be listening yet. Replicas acquired meanwhile initialize once it is reachable and
    /// offers their source. Fails only for a URL this build cannot use.
    pub fn connect_in_background(&self, url: &str) -> Result<(), Error> {
        let endpoint = Endpoint::parse(url)?;
        self.inner.actor.do_send(AddHost(endpoint));
        Ok(())
    }

    /// Adds a connection over an already-open stream (a pipe, an in-memory duplex, a socket
    /// opened elsewhere) and completes the handshake on it. Such a connection is not
    /// reopened once lost.
    pub async fn connect_stream<T: Transport>(&self, stream: T) -> Result<(), Error> {
        let established = establish(Box::new(stream), &self.inner.config).await?;
        self.inner
            .actor
            .send(AddConnection {
                established,
                reconnect_to: None,
            })
            .await
            .map_err(|_| Error::new(Kind::Shutdown))
    }

    /// A replica of the source remoted under its API's name. Returned at once, in state
    /// `Default` with the declared defaults; it initializes when the source is reachable.
    pub fn acquire<A: RemoteObject>(&self) -> Replica<A> {
        self.acquire_named(A::NAME)
    }

    /// Where this node's subscriptions run and how much each holds.
    fn delivery(&self) -> Delivery {
        Delivery {
            capacity: self.inner.config.event_buffer,
            arbiter: self.inner.arbiter.clone(),
        }
    }

    /// A replica of the source remoted under `name`. Every acquire of one name on one node
    /// shares one replica: one subscription, one cache.
    ///
    /// If `name` is already held by a replica of another Rust type, the new replica is put
    /// in `SignatureMismatch` and never connects.
    pub fn acquire_named<A: RemoteObject>(&self, name: &str) -> Replica<A> {
        let mut replicas = self
            .inner
            .replicas
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        if let Some(existing) = replicas.get(name) {
            if let Some(token) = existing.token.upgrade() {
                if let Some((shared, actor)) = existing
                    .typed
                    .downcast_ref::<(Arc<ReplicaShared<A>>, Arc<LazyActor<A>>)>()
                {
                    return Replica::new(Arc::clone(shared), Arc::clone(actor), token);
                }
                warn!(%name, api = A::NAME, "name already held by a replica of another API type");
                return self.detached_mismatch(name);
            }
        }
        let shared = ReplicaShared::<A>::new(
            name.to_owned(),
            self.inner.config.encoding,
            self.inner.persist.clone(),
            self.delivery(),
        );
        let actor = LazyActor::new(Arc::clone(&shared), self.inner.arbiter.clone());
        let entry: Arc<dyn ReplicaEntry> = shared.clone();
        let token = Arc::new(HandleToken {
            name: name.to_owned(),
            entry: Arc::clone(&entry),
            actor: self.inner.actor.downgrade(),
        });
        replicas.insert(
            name.to_owned(),
            SharedReplica {
                token: Arc::downgrade(&token),
                typed: Box::new((Arc::clone(&shared), Arc::clone(&actor))),
            },
        );
        self.inner.actor.do_send(Attach {
            name: name.to_owned(),
            entry,
        });
        Replica::new(shared, actor, token)
    }

    /// A replica of the source remoted under `name` with no compile-time types: its API
    /// comes from the host. `Uninitialized` until the source is reachable. It shares the
    /// subscription of a typed replica of the same source on this node.
    pub fn acquire_dynamic(&self, name: &str) -> DynamicReplica {
        let mut dynamic = self.inner.dynamic.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((token, shared)) = dynamic.get(name) {
            if let Some(token) = token.upgrade() {
                return DynamicReplica::new(Arc::clone(shared), token);
            }
        }
        let shared =
            DynamicShared::new(name.to_owned(), self.inner.config.encoding, self.delivery());
        let entry: Arc<dyn ReplicaEntry> = shared.clone();
        let token = Arc::new(HandleToken {
            name: name.to_owned(),
            entry: Arc::clone(&entry),
            actor: self.inner.actor.downgrade(),
        });
        dynamic.insert(
            name.to_owned(),
            (Arc::downgrade(&token), Arc::clone(&shared)),
        );
        self.inner.actor.do_send(Attach {
            name: name.to_owned(),
            entry,
        });
        DynamicReplica::new(shared, token)
    }

    /// What the connected hosts offer: every source's name, API and signature.
    pub async fn offered_sources(&self) -> Result<Vec<ObjectInfo>, Error> {
        self.inner
            .actor
            .send(ListOffered)
            .await
            .map_err(|_| Error::new(Kind::Shutdown))
    }

    fn detached_mismatch<A: RemoteObject>(&self, name: &str) -> Replica<A> {
        let shared = ReplicaShared::<A>::new(
            name.to_owned(),
            self.inner.config.encoding,
            None,
            self.delivery(),
        );
        shared.on_offered(!A::SIGNATURE);
        let actor = LazyActor::new(Arc::clone(&shared), self.inner.arbiter.clone());
        let entry: Arc<dyn ReplicaEntry> = shared.clone();
        // Detaching a replica that was never attached is a no-op in the node actor.
        let token = Arc::new(HandleToken {
            name: name.to_owned(),
            entry,
            actor: self.inner.actor.downgrade(),
        });
        Replica::new(shared, actor, token)
    }

    /// Closes every connection and stops reconnecting; replicas become `Suspect` and pending
    /// calls fail. Then waits until persisted properties are saved.
    pub async fn shutdown(&self) {
        let _ = self.inner.actor.send(Shutdown).await;
        self.flush_persisted().await;
    }

    /// Waits until every persisted-property save queued so far is written to the store.
    pub async fn flush_persisted(&self) {
        if let Some(persist) = &self.inner.persist {
            persist.flush().await;
        }
    }
}

impl std::fmt::Debug for Node {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Node").finish_non_exhaustive()
    }
}
