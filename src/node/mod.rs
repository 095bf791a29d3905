//! [`Node`]: connects to hosts and acquires replicas of their sources.

mod actor;
mod config;

pub use config::NodeConfig;

use std::any::Any;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};

use actix::prelude::*;
use futures::StreamExt;
use tokio_util::codec::FramedRead;
use tracing::{debug, info, warn};

use crate::api::RemoteObject;
use crate::error::{Error, Kind};
use crate::outbox::{next_conn_id, Outbox};
use crate::replica::shared::{ReplicaEntry, ReplicaShared};
use crate::replica::{Replica, ReplicaActor};
use crate::transport::{Endpoint, Transport, SUPPORTED_SCHEMES};
use crate::wire::{FrameError, Handshake, HandshakeError, Packet, PacketCodec};
use actor::{AddConnection, Attach, Detach, NodeActor, Shutdown};

/// A node: holds connections to hosts and the replicas acquired from them. Cheap to clone.
///
/// Must be created and used on an actix arbiter (inside `actix::System` or `#[actix::main]`).
#[derive(Clone)]
pub struct Node {
    inner: Arc<NodeInner>,
}

struct NodeInner {
    config: NodeConfig,
    actor: Addr<NodeActor>,
    /// Live replicas by name, so every acquire of one name shares one replica.
    replicas: Mutex<HashMap<String, SharedReplica>>,
}

struct SharedReplica {
    token: Weak<HandleToken>,
    /// The typed parts, `(Arc<ReplicaShared<A>>, Addr<ReplicaActor<A>>)`.
    typed: Box<dyn Any + Send>,
}

/// Held by every handle of one replica; when the last one drops, the node releases it.
pub(crate) struct HandleToken {
    name: String,
    entry: Arc<dyn ReplicaEntry>,
    actor: Addr<NodeActor>,
}

impl Drop for HandleToken {
    fn drop(&mut self) {
        self.actor.do_send(Detach {
            name: self.name.clone(),
            entry: Arc::clone(&self.entry),
        });
    }
}

impl Node {
    /// A node with no connection yet.
    pub fn new(config: NodeConfig) -> Node {
        let actor = NodeActor::new().start();
        Node {
            inner: Arc::new(NodeInner {
                config,
                actor,
                replicas: Mutex::new(HashMap::new()),
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

    /// The URL schemes this build supports, for checking a URL before connecting.
    pub fn supported_schemes() -> &'static [&'static str] {
        SUPPORTED_SCHEMES
    }

    /// Adds a connection to the host at `url`.
    pub async fn connect_to(&self, url: &str) -> Result<(), Error> {
        let stream = Endpoint::parse(url)?.connect().await?;
        self.connect_stream(stream).await?;
        info!(%url, "connected to host");
        Ok(())
    }

    /// Adds a connection over an already-open stream (a pipe, an in-memory duplex, a socket
    /// opened elsewhere) and completes the handshake on it.
    pub async fn connect_stream<T: Transport>(&self, stream: T) -> Result<(), Error> {
        let config = &self.inner.config;
        let conn = next_conn_id();
        let (read, write) = tokio::io::split(stream);
        let (outbox, writer) = Outbox::new(conn, write);
        let writer = actix::spawn(async move {
            if let Err(error) = writer.await {
                debug!(conn, %error, "write side closed");
            }
        });
        outbox.push(Packet::Handshake(Handshake::ours(config.encoding)).to_frame());
        let mut frames = FramedRead::new(read, PacketCodec::new(config.max_frame_size));
        let first = tokio::time::timeout(config.handshake_timeout, frames.next()).await;
        let checked = match first {
            Err(_) => Err(Error::new(Kind::Timeout(config.handshake_timeout))),
            Ok(None) => Err(Error::new(Kind::Closed("before the host's handshake"))),
            Ok(Some(Err(FrameError::Io(e)))) => Err(Error::io("read the host's handshake", e)),
            Ok(Some(Err(e))) => Err(Error::new(Kind::Protocol(e))),
            Ok(Some(Ok(Packet::Handshake(theirs)))) => {
                theirs.check(config.encoding).map_err(Error::from)
            }
            Ok(Some(Ok(other))) => Err(HandshakeError::NotAHandshake {
                found: other.kind_name(),
            }
            .into()),
        };
        if let Err(error) = checked {
            warn!(%error, "handshake with the host failed");
            outbox.close();
            return Err(error);
        }
        self.inner
            .actor
            .send(AddConnection {
                conn,
                frames,
                outbox,
                writer,
            })
            .await
            .map_err(|_| Error::new(Kind::Shutdown))
    }

    /// A replica of the source remoted under its API's name. Returned at once, in state
    /// `Default` with the declared defaults; it initializes when the source is reachable.
    pub fn acquire<A: RemoteObject>(&self) -> Replica<A> {
        self.acquire_named(A::NAME)
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
                if let Some((shared, addr)) = existing
                    .typed
                    .downcast_ref::<(Arc<ReplicaShared<A>>, Addr<ReplicaActor<A>>)>()
                {
                    return Replica::new(Arc::clone(shared), addr.clone(), token);
                }
                warn!(%name, api = A::NAME, "name already held by a replica of another API type");
                return self.detached_mismatch(name);
            }
        }
        let shared = ReplicaShared::<A>::new(name.to_owned(), self.inner.config.encoding);
        let addr = ReplicaActor::new(Arc::clone(&shared)).start();
        let entry: Arc<dyn ReplicaEntry> = shared.clone();
        let token = Arc::new(HandleToken {
            name: name.to_owned(),
            entry: Arc::clone(&entry),
            actor: self.inner.actor.clone(),
        });
        replicas.insert(
            name.to_owned(),
            SharedReplica {
                token: Arc::downgrade(&token),
                typed: Box::new((Arc::clone(&shared), addr.clone())),
            },
        );
        self.inner.actor.do_send(Attach {
            name: name.to_owned(),
            entry,
        });
        Replica::new(shared, addr, token)
    }

    fn detached_mismatch<A: RemoteObject>(&self, name: &str) -> Replica<A> {
        let shared = ReplicaShared::<A>::new(name.to_owned(), self.inner.config.encoding);
        shared.on_offered(!A::SIGNATURE);
        let addr = ReplicaActor::new(Arc::clone(&shared)).start();
        let entry: Arc<dyn ReplicaEntry> = shared.clone();
        // Detaching a replica that was never attached is a no-op in the node actor.
        let token = Arc::new(HandleToken {
            name: name.to_owned(),
            entry,
            actor: self.inner.actor.clone(),
        });
        Replica::new(shared, addr, token)
    }

    /// Closes every connection; replicas become `Suspect` and pending calls fail.
    pub async fn shutdown(&self) {
        let _ = self.inner.actor.send(Shutdown).await;
    }
}

impl std::fmt::Debug for Node {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Node").finish_non_exhaustive()
    }
}
