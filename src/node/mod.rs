//! [`Node`]: connects to hosts and acquires replicas of their sources.

mod actor;
mod background;
mod config;
mod connection;
mod locating;
mod reconnect;

pub use background::BackgroundError;
pub(crate) use background::Reporter;
pub use config::NodeConfig;

use std::any::Any;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};

use actix::prelude::*;
use futures::Stream;
use tracing::{info, warn};

use crate::api::RemoteObject;
use crate::error::{Error, Kind};
use crate::outbox::Outbox;
use crate::persist::PersistQueue;
use crate::replica::delivery::Delivery;
use crate::replica::dynamic::{DynamicReplica, DynamicShared};
use crate::replica::shared::{ReplicaEntry, ReplicaShared};
use crate::replica::{HandleToken, LazyActor, NodeHooks, ReleaseHook, Replica};
use crate::runtime;
use crate::transport::{Endpoint, Transport, SUPPORTED_SCHEMES};
use crate::wire::ObjectInfo;
use actor::{
    AddConnection, AddHost, Attach, Detach, ListOffered, NodeActor, Shutdown, SourceLocations,
};
use connection::establish;

/// A node: holds connections to hosts and the replicas acquired from them. Cheap to clone.
///
/// Made inside an actix System, it runs on the arbiter it is made on; anywhere else (plain
/// tokio, a plain `main`), on the crate's own (see [`crate::runtime`]).
#[derive(Clone)]
pub struct Node {
    inner: Arc<NodeInner>,
}

struct NodeInner {
    config: NodeConfig,
    /// Where the node's actors run, whichever thread acquires a replica.
    arbiter: actix::ArbiterHandle,
    /// Finds the hosts of sources: the registry replica, once a registry URL is set.
    locator: std::sync::OnceLock<Arc<dyn Any + Send + Sync>>,
    persist: Option<Arc<PersistQueue>>,
    actor: Addr<NodeActor>,
    /// Tells the node actor a replica's last handle dropped (weakly: cloning an actix `Addr`
    /// allocates, and a node may hold thousands of replicas), and asks it what is offered.
    hooks: NodeHooks,
    /// Live replicas by name, so every acquire of one name shares one replica.
    replicas: Mutex<HashMap<Arc<str>, SharedReplica>>,
    /// Live dynamic replicas by name, likewise.
    dynamic: Mutex<HashMap<String, SharedDynamic>>,
    /// Tells [`Node::background_errors`] streams (shared with the node actor).
    reporter: Reporter,
}

/// What `A` says of its Qt face beyond its schema.
fn qt_hints<A: RemoteObject>() -> crate::qt::api::QtHints {
    crate::qt::api::QtHints {
        rep: A::qt_rep(),
        enums: A::qt_enums(),
    }
}

struct SharedReplica {
    token: Weak<HandleToken>,
    /// The typed parts, `(Arc<ReplicaShared<A>>, Arc<LazyActor<A>>)`.
    typed: Box<dyn Any + Send>,
}

/// A live dynamic replica: its handles' token and its state.
type SharedDynamic = (Weak<HandleToken>, Arc<DynamicShared>);

impl Node {
    /// A node with no connection yet.
    pub fn new(mut config: NodeConfig) -> Node {
        // Each node keeps its own table of typed APIs, whatever config it was cloned from.
        config.qt_apis = Default::default();
        let arbiter = runtime::arbiter();
        let reporter = Reporter::default();
        let actor = {
            let config = config.clone();
            let reporter = reporter.clone();
            runtime::start(move || NodeActor::new(config, reporter))
        };
        let weak = actor.downgrade();
        let release: ReleaseHook = Arc::new(move |name, entry| {
            if let Some(actor) = weak.upgrade() {
                actor.do_send(Detach { name, entry });
            }
        });
        let weak = actor.downgrade();
        let offered: crate::replica::OfferedHook = Arc::new(move || {
            let actor = weak.upgrade();
            Box::pin(async move {
                let offered = actor?.send(ListOffered).await.ok()?;
                Some(offered.into_iter().map(|info| info.name).collect())
            })
        });
        let persist = config
            .store
            .as_ref()
            .map(|store| PersistQueue::start(Arc::clone(&store.0)));
        Node {
            inner: Arc::new(NodeInner {
                config,
                arbiter,
                locator: std::sync::OnceLock::new(),
                persist,
                actor,
                hooks: NodeHooks { release, offered },
                replicas: Mutex::new(HashMap::new()),
                dynamic: Mutex::new(HashMap::new()),
                reporter,
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

    /// Sets the node's one locator (the registry replica, for [`Node::registry`]); false
    /// if it has one already.
    pub(crate) fn set_locator(&self, locator: Arc<dyn Any + Send + Sync>) -> bool {
        self.inner.locator.set(locator).is_ok()
    }

    /// The node's locator, if it has one.
    pub(crate) fn locator(&self) -> Option<&Arc<dyn Any + Send + Sync>> {
        self.inner.locator.get()
    }

    /// Tells the node where sources moved (source name → host URL, `None` for no longer
    /// served), as its locator says: it connects to the host of every replica no connected
    /// host offers, and stops reconnecting to a host found this way once the list drops it.
    /// The returned function is false once the node is gone.
    pub(crate) fn locations_sink(
        &self,
    ) -> impl Fn(Vec<(String, Option<String>)>) -> bool + Send + 'static {
        let actor = self.inner.actor.downgrade();
        move |locations| match actor.upgrade() {
            Some(actor) => {
                actor.do_send(SourceLocations(locations));
                true
            }
            None => false,
        }
    }

    /// How many events a subscription holds for a consumer that fell behind.
    /// What goes wrong from now on where no caller waits: a connection the node opens by
    /// itself that fails (to a host it keeps connected, one the registry named, a
    /// reconnect), a greeting refused, a host serving a source with another API than its
    /// replica's. The node carries on (it retries after its backoff); this stream is for
    /// showing it, or alerting on it. It holds a few hundred errors for a consumer that
    /// reads slower than they come, then reports [`BackgroundError::Lagged`]; it ends when
    /// the node is gone.
    ///
    /// ```
    /// # #[actix::main] async fn main() {
    /// use actix_remote_objects::{BackgroundError, Node};
    /// use futures::StreamExt;
    ///
    /// let node = Node::new(Default::default());
    /// let mut errors = node.background_errors();
    /// node.connect_in_background("tcp://127.0.0.1:1").unwrap(); // nothing listens there
    /// match errors.next().await {
    ///     Some(BackgroundError::ConnectFailed { url, .. }) => assert_eq!(url, "tcp://127.0.0.1:1"),
    ///     other => panic!("{other:?}"),
    /// }
    /// # }
    /// ```
    pub fn background_errors(
        &self,
    ) -> impl Stream<Item = BackgroundError> + Unpin + Send + 'static {
        self.inner.reporter.subscribe()
    }

    /// Acquires `name` for `entry`, a replica of the library's own (a proxy's relay); the
    /// returned closure lets go of it.
    pub(crate) fn attach_entry(
        &self,
        name: &str,
        entry: Arc<dyn ReplicaEntry<Outbox>>,
    ) -> impl FnOnce() + Send + 'static {
        let name: Arc<str> = name.into();
        self.inner.actor.do_send(Attach {
            name: Arc::clone(&name),
            entry: Arc::clone(&entry),
        });
        let actor = self.inner.actor.downgrade();
        move || {
            if let Some(actor) = actor.upgrade() {
                actor.do_send(Detach { name, entry });
            }
        }
    }

    /// Where this node's background errors go, for the layers above that find its hosts.
    #[cfg_attr(not(feature = "etcd"), allow(dead_code))]
    pub(crate) fn reporter(&self) -> Reporter {
        self.inner.reporter.clone()
    }

    pub(crate) fn event_buffer(&self) -> usize {
        self.inner.config.event_buffer
    }

    /// The URL schemes this build supports, for checking a URL before connecting.
    pub fn supported_schemes() -> &'static [&'static str] {
        SUPPORTED_SCHEMES
    }

    /// Connects to the host at `url` and completes the handshake; from then on the node
    /// keeps that host connected, reconnecting with backoff whenever the connection is lost.
    /// Fails if this first attempt fails.
    pub async fn connect_to(&self, url: &str) -> Result<(), Error> {
        let endpoint = self.inner.config.connectors.parse(url)?;
        let node = self.clone();
        runtime::run(move || async move { node.connect_here(endpoint).await }).await?
    }

    /// [`Node::connect_to`], on the current arbiter.
    async fn connect_here(&self, endpoint: Endpoint) -> Result<(), Error> {
        let config = &self.inner.config;
        let stream = endpoint
            .connect(config.tls.as_ref(), &config.connectors)
            .await?;
        let wire = connection::dialect_wire(&endpoint, stream, config);
        let url = endpoint.to_string();
        let established = establish(wire, config, &url).await?;
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
        let endpoint = self.inner.config.connectors.parse(url)?;
        self.inner.actor.do_send(AddHost(endpoint));
        Ok(())
    }

    /// Adds a connection over an already-open stream (a pipe, an in-memory duplex, a socket
    /// opened elsewhere) and completes the handshake on it. Such a connection is not
    /// reopened once lost.
    pub async fn connect_stream<T: Transport>(&self, stream: T) -> Result<(), Error> {
        let node = self.clone();
        runtime::run(move || async move { node.connect_stream_here(Box::new(stream)).await })
            .await?
    }

    /// [`Node::connect_stream`], on the current arbiter.
    async fn connect_stream_here(&self, stream: Box<dyn Transport>) -> Result<(), Error> {
        let wire = crate::qt::NativeWire::Stream(stream);
        let established = establish(wire, &self.inner.config, "a stream").await?;
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
            models: self.inner.config.models,
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
        // One copy of the name, shared by every table that holds the replica.
        let name: Arc<str> = name.into();
        // The API a Qt host's gateway checks and translates this name's values by.
        self.inner
            .config
            .qt_apis
            .register(&name, A::signature(), A::schema, qt_hints::<A>());
        let shared = ReplicaShared::<A>::new(
            Arc::clone(&name),
            self.inner.config.encoding,
            self.inner.persist.clone(),
            self.delivery(),
        );
        let actor = LazyActor::new(Arc::clone(&shared), self.inner.arbiter.clone());
        let entry: Arc<dyn ReplicaEntry<Outbox>> = shared.clone();
        let token = self.handle_token(&name, Arc::clone(&entry));
        replicas.insert(
            Arc::clone(&name),
            SharedReplica {
                token: Arc::downgrade(&token),
                typed: Box::new((Arc::clone(&shared), Arc::clone(&actor))),
            },
        );
        self.inner.actor.do_send(Attach { name, entry });
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
        let entry: Arc<dyn ReplicaEntry<Outbox>> = shared.clone();
        let name: Arc<str> = name.into();
        let token = self.handle_token(&name, Arc::clone(&entry));
        dynamic.insert(
            name.to_string(),
            (Arc::downgrade(&token), Arc::clone(&shared)),
        );
        self.inner.actor.do_send(Attach { name, entry });
        DynamicReplica::new(shared, token)
    }

    /// What the connected hosts offer: every source's name, API and signature.
    pub async fn offered_sources(&self) -> Result<Vec<OfferedSource>, Error> {
        let offered = self
            .inner
            .actor
            .send(ListOffered)
            .await
            .map_err(|_| Error::new(Kind::Shutdown))?;
        Ok(offered.into_iter().map(OfferedSource::from).collect())
    }

    fn detached_mismatch<A: RemoteObject>(&self, name: &str) -> Replica<A> {
        let name: Arc<str> = name.into();
        let shared = ReplicaShared::<A>::new(
            Arc::clone(&name),
            self.inner.config.encoding,
            None,
            self.delivery(),
        );
        shared.mismatch_now(format!(
            "the name {name:?} is held on this node by a replica of another API"
        ));
        let actor = LazyActor::new(Arc::clone(&shared), self.inner.arbiter.clone());
        let entry: Arc<dyn ReplicaEntry<Outbox>> = shared.clone();
        // Detaching a replica that was never attached is a no-op in the node actor.
        let token = self.handle_token(&name, entry);
        Replica::new(shared, actor, token)
    }

    /// The token every handle of a replica holds: when the last one drops, the node
    /// releases its source.
    fn handle_token(
        &self,
        name: &Arc<str>,
        entry: Arc<dyn ReplicaEntry<Outbox>>,
    ) -> Arc<HandleToken> {
        HandleToken::new(name, entry, &self.inner.hooks)
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

/// A source a connected host offers, as [`Node::offered_sources`] lists it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct OfferedSource {
    /// The name it is remoted under (what `acquire_named` takes).
    pub name: String,
    /// Its API's name ([`RemoteObject::NAME`]).
    pub api: String,
    /// Its API's signature: a replica of another signature does not initialize.
    pub signature: u64,
}

impl From<ObjectInfo> for OfferedSource {
    fn from(info: ObjectInfo) -> OfferedSource {
        OfferedSource {
            name: info.name,
            api: info.api,
            signature: info.signature,
        }
    }
}

impl std::fmt::Debug for Node {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Node").finish_non_exhaustive()
    }
}
