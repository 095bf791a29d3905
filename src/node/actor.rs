//! [`NodeActor`]: owns a node's connections and routes their packets to replicas; reconnects
//! to the hosts it knows with backoff, and drops hosts that fall silent.

use std::collections::{BTreeMap, HashMap, HashSet};

use rustc_hash::FxHashMap;
use std::sync::Arc;
use std::time::Instant;

use actix::prelude::*;
use bytes::Bytes;
use futures::stream::{self, StreamExt};
use tracing::{debug, info, warn};

use super::connection::{establish, Established};
use super::NodeConfig;
use crate::batch::Batched;
use crate::error::SlotError;
use crate::lifecycle::{Backoff, Liveness, Tick};
use crate::outbox::{ConnId, Outbox};
use crate::registry::{registry, SourceLocation};
use crate::replica::shared::{InitOutcome, Link, ReplicaEntry, ReplicaProtocolError};
use crate::transport::Endpoint;
use crate::wire::{FailureKind, FrameError, ObjectInfo, Packet, SourceId};

/// Why a node closed a connection to a host.
#[derive(Debug, thiserror::Error)]
enum NodeConnectionError {
    #[error(transparent)]
    Frame(#[from] FrameError),
    #[error(transparent)]
    Replica(#[from] ReplicaProtocolError),
    #[error("a host may not send {0} packets after the handshake")]
    UnexpectedPacket(&'static str),
}

/// Identifies a host the node reconnects to.
pub(crate) type HostId = usize;

struct Connection {
    outbox: Outbox,
    reader: SpawnHandle,
    /// The host to reconnect to when this connection is lost, if any.
    host: Option<HostId>,
    /// What the host offers, by name.
    offered: HashMap<String, ObjectInfo>,
    /// Names whose last acquire here asked for the API's description.
    dynamic_acquires: HashSet<String>,
    /// Names the host refused to describe here: only typed replicas acquire them.
    schema_refused: HashSet<String>,
    liveness: Option<Liveness>,
}

/// A host the node keeps connected.
struct KnownHost {
    endpoint: Endpoint,
    conn: Option<ConnId>,
    backoff: Backoff,
    connecting: bool,
    /// Found through the registry (not named by the user): given up on once the registry no
    /// longer lists it.
    via_registry: bool,
    retired: bool,
}

/// The replicas (usually one: a typed and a dynamic replica of one source share it) fed by
/// one source on one connection.
struct Linked {
    name: String,
    entries: Vec<Arc<dyn ReplicaEntry>>,
}

pub(crate) struct NodeActor {
    config: NodeConfig,
    connections: HashMap<ConnId, Connection>,
    hosts: Vec<KnownHost>,
    /// Every replica by source name; a typed and a dynamic one may share a name.
    replicas: HashMap<String, Vec<Arc<dyn ReplicaEntry>>>,
    /// Which replica a (connection, source id) pair feeds: looked up for every packet.
    links: FxHashMap<(ConnId, SourceId), Linked>,
    next_ping: u64,
    shut_down: bool,
    /// The registry's latest list, if the node has a registry.
    registry_sources: BTreeMap<String, SourceLocation>,
}

fn now() -> Instant {
    // tokio's clock, so a paused test clock drives heartbeats too.
    tokio::time::Instant::now().into_std()
}

impl NodeActor {
    pub(crate) fn new(config: NodeConfig) -> Self {
        NodeActor {
            config,
            connections: HashMap::new(),
            hosts: Vec::new(),
            replicas: HashMap::new(),
            links: FxHashMap::default(),
            next_ping: 0,
            shut_down: false,
            registry_sources: BTreeMap::new(),
        }
    }

    fn register(
        &mut self,
        established: Established,
        host: Option<HostId>,
        ctx: &mut Context<Self>,
    ) {
        let Established {
            conn,
            offered,
            frames,
            outbox,
            writer,
        } = established;
        if self.shut_down {
            outbox.close();
            return;
        }
        let events = Batched::new(frames)
            .map(move |batch| ConnectionEvent {
                conn,
                batch: Some(batch),
            })
            .chain(stream::once(async move {
                ConnectionEvent { conn, batch: None }
            }));
        let reader = ctx.add_stream(events);
        // When the write side ends (the host fell too far behind, or the socket failed),
        // the connection ends with it.
        ctx.spawn(
            writer
                .into_actor(self)
                .map(move |_, act, ctx| act.close_connection(conn, ctx)),
        );
        let liveness = self
            .config
            .heartbeat
            .map(|interval| Liveness::new(interval, now()));
        if let Some(h) = host {
            self.hosts[h].conn = Some(conn);
            self.hosts[h].backoff.reset();
        }
        let connection = Connection {
            outbox,
            reader,
            host,
            offered: HashMap::new(),
            dynamic_acquires: HashSet::new(),
            schema_refused: HashSet::new(),
            liveness,
        };
        self.connections.insert(conn, connection);
        for info in offered {
            self.offer(conn, info);
        }
    }

    /// Tries to connect to a known host now; on failure, tries again after a backoff delay.
    fn connect_host(&mut self, h: HostId, ctx: &mut Context<Self>) {
        let host = &mut self.hosts[h];
        if self.shut_down || host.conn.is_some() || host.connecting || host.retired {
            return;
        }
        host.connecting = true;
        let endpoint = host.endpoint.clone();
        let config = self.config.clone();
        let attempt = async move {
            let stream = endpoint.connect(config.tls.as_ref()).await?;
            establish(stream, &config).await
        };
        ctx.spawn(attempt.into_actor(self).map(move |result, act, ctx| {
            act.hosts[h].connecting = false;
            match result {
                Ok(established) => {
                    info!(url = %act.hosts[h].endpoint, "connected to host");
                    act.register(established, Some(h), ctx);
                }
                Err(error) => {
                    debug!(url = %act.hosts[h].endpoint, %error, "connection attempt failed");
                    act.retry_later(h, ctx);
                }
            }
        }));
    }

    fn retry_later(&mut self, h: HostId, ctx: &mut Context<Self>) {
        if self.shut_down {
            return;
        }
        if self.hosts[h].via_registry && !self.registry_lists(&self.hosts[h].endpoint) {
            info!(url = %self.hosts[h].endpoint, "the registry no longer lists this host; not reconnecting");
            self.hosts[h].retired = true;
            return;
        }
        let delay = self.hosts[h].backoff.next_delay(fastrand::f64());
        ctx.run_later(delay, move |act, ctx| act.connect_host(h, ctx));
    }

    /// Acquires `name` wherever it is offered, once for every entry that wants it: a dynamic
    /// acquire if any entry needs the API's description (and the host has not refused to
    /// describe it on that connection).
    fn acquire_if_offered(&mut self, name: &str) {
        let Some(entries) = self.replicas.get(name) else {
            return;
        };
        for (id, conn) in &mut self.connections {
            let Some(info) = conn.offered.get(name) else {
                continue;
            };
            let no_schema = conn.schema_refused.contains(name);
            let wanting: Vec<&Arc<dyn ReplicaEntry>> = entries
                .iter()
                .filter(|e| !(no_schema && e.wants_schema()))
                .filter(|e| e.link().is_none() && e.on_offered(info.signature))
                .collect();
            if wanting.is_empty() {
                return;
            }
            debug!(conn = id, %name, "acquiring");
            let dynamic = wanting.iter().any(|e| e.wants_schema());
            let packet = match wanting.first() {
                Some(typed) if !dynamic => Packet::Acquire {
                    name: name.to_owned(),
                    signature: typed.signature(),
                },
                _ => Packet::AcquireDynamic {
                    name: name.to_owned(),
                },
            };
            if dynamic {
                conn.dynamic_acquires.insert(name.to_owned());
            } else {
                conn.dynamic_acquires.remove(name);
            }
            conn.outbox.push(packet.to_frame());
            return;
        }
    }

    /// The host refused an acquire of `name`. A refused dynamic acquire refuses the replicas
    /// that need the API's description; typed replicas of the same source then ask for
    /// themselves (the host may serve them, or refuse them too).
    fn refused(&mut self, conn: ConnId, name: String, reason: String) {
        warn!(conn, %name, %reason, "the host refused to serve a replica");
        let dynamic = self
            .connections
            .get_mut(&conn)
            .is_some_and(|c| c.dynamic_acquires.remove(&name));
        if dynamic {
            if let Some(c) = self.connections.get_mut(&conn) {
                c.schema_refused.insert(name.clone());
            }
        }
        for entry in self.replicas.get(&name).into_iter().flatten() {
            if !dynamic || entry.wants_schema() {
                entry.on_refused(&reason);
            }
        }
        if dynamic {
            self.acquire_if_offered(&name);
        }
    }

    fn handle_packet(&mut self, conn: ConnId, packet: Packet) -> Result<(), NodeConnectionError> {
        match packet {
            Packet::ObjectList(list) => {
                for info in list {
                    self.offer(conn, info);
                }
            }
            Packet::AddObject(info) => self.offer(conn, info),
            Packet::RemoveObject { name } => {
                if let Some(c) = self.connections.get_mut(&conn) {
                    c.offered.remove(&name);
                }
                self.unlink(conn, |entry_name| entry_name == name);
            }
            Packet::AcquireRefused { name, reason } => self.refused(conn, name, reason),
            Packet::SetPropertyRefused {
                source,
                index,
                reason,
            } => {
                for entry in self.linked(conn, source) {
                    entry.on_write_refused(index, &reason);
                }
            }
            Packet::Init {
                name,
                source,
                signature,
                values,
            } => self.init(conn, name, source, signature, None, values)?,
            Packet::InitDynamic {
                name,
                source,
                signature,
                schema,
                values,
            } => self.init(conn, name, source, signature, Some(schema), values)?,
            Packet::PropertyChange {
                source,
                index,
                value,
            } => {
                for entry in self.linked(conn, source) {
                    refuse_bad_value(conn, entry.on_property_change(index, value.clone()))?;
                }
            }
            Packet::Signal {
                source,
                index,
                args,
            } => {
                for entry in self.linked(conn, source) {
                    refuse_bad_value(conn, entry.on_signal(index, &args))?;
                }
            }
            Packet::InvokeReply {
                source,
                serial,
                outcome,
            } => {
                let pending = self
                    .linked(conn, source)
                    .iter()
                    .find_map(|e| e.take_pending(serial));
                match pending {
                    Some(complete) => complete(outcome.map_err(|failure| match failure.kind {
                        FailureKind::Source => SlotError::Source(failure.message),
                        FailureKind::Rejected => SlotError::Rejected(failure.message),
                    })),
                    None => debug!(conn, serial, "a reply to no pending call"),
                }
            }
            Packet::Ping(nonce) => {
                if let Some(c) = self.connections.get(&conn) {
                    c.outbox.push(Packet::Pong(nonce).to_frame());
                }
            }
            Packet::Pong(_) => {}
            other => return Err(NodeConnectionError::UnexpectedPacket(other.kind_name())),
        }
        Ok(())
    }

    fn offer(&mut self, conn: ConnId, info: ObjectInfo) {
        let name = info.name.clone();
        if let Some(c) = self.connections.get_mut(&conn) {
            c.offered.insert(name.clone(), info);
        }
        self.acquire_if_offered(&name);
    }

    fn init(
        &mut self,
        conn: ConnId,
        name: String,
        source: SourceId,
        signature: u64,
        schema: Option<Bytes>,
        values: Vec<Bytes>,
    ) -> Result<(), NodeConnectionError> {
        let Some(outbox) = self.connections.get(&conn).map(|c| c.outbox.clone()) else {
            return Ok(());
        };
        let entries = self.replicas.get(&name).cloned().unwrap_or_default();
        let mut applied = Vec::new();
        let mut needs_schema = false;
        for entry in &entries {
            let link = Link {
                conn,
                source,
                outbox: outbox.clone(),
            };
            match entry.on_init(link, signature, values.clone(), schema.as_ref()) {
                Ok(InitOutcome::Applied) => applied.push(Arc::clone(entry)),
                Ok(InitOutcome::NeedsSchema) => needs_schema = true,
                Ok(InitOutcome::SignatureMismatch) => {}
                // That replica stays as it was (contract item 2); the others go on.
                Err(error) if error.is_bad_value() => {
                    warn!(conn, %error, "refusing an init from the host")
                }
                Err(error) => return Err(error.into()),
            }
        }
        if needs_schema {
            if let Some(c) = self.connections.get_mut(&conn) {
                c.dynamic_acquires.insert(name.clone());
            }
            outbox.push(Packet::AcquireDynamic { name: name.clone() }.to_frame());
        }
        if applied.is_empty() && !needs_schema {
            // Released while the init was on its way, or no replica can use this source.
            outbox.push(Packet::Release { source }.to_frame());
            return Ok(());
        }
        if !applied.is_empty() {
            let linked = self.links.entry((conn, source)).or_insert_with(|| Linked {
                name,
                entries: Vec::new(),
            });
            for entry in applied {
                if !linked.entries.iter().any(|e| Arc::ptr_eq(e, &entry)) {
                    linked.entries.push(entry);
                }
            }
        }
        Ok(())
    }

    /// The replicas a source's packets go to (empty, and logged, for none).
    fn linked(&self, conn: ConnId, source: SourceId) -> &[Arc<dyn ReplicaEntry>] {
        match self.links.get(&(conn, source)) {
            Some(linked) => &linked.entries,
            None => {
                debug!(conn, source, "a packet for a source no replica holds");
                &[]
            }
        }
    }

    /// Tells the replicas linked through `conn` (and matching `which`) that their source is
    /// gone, then looks for their sources on the other connections.
    fn unlink(&mut self, conn: ConnId, which: impl Fn(&str) -> bool) {
        let gone: Vec<(ConnId, SourceId)> = self
            .links
            .iter()
            .filter(|((c, _), linked)| *c == conn && which(&linked.name))
            .map(|(k, _)| *k)
            .collect();
        let mut names = Vec::with_capacity(gone.len());
        for key in gone {
            if let Some(linked) = self.links.remove(&key) {
                for entry in &linked.entries {
                    entry.on_link_lost();
                }
                names.push(linked.name);
            }
        }
        for name in names {
            self.acquire_if_offered(&name);
        }
    }

    fn close_connection(&mut self, conn: ConnId, ctx: &mut Context<Self>) {
        let Some(c) = self.connections.remove(&conn) else {
            return;
        };
        ctx.cancel_future(c.reader);
        c.outbox.close();
        info!(conn, "connection to host closed");
        self.unlink(conn, |_| true);
        if let Some(h) = c.host {
            self.hosts[h].conn = None;
            self.retry_later(h, ctx);
        }
    }

    fn heartbeat(&mut self, ctx: &mut Context<Self>) {
        let now = now();
        let mut dead = Vec::new();
        for (id, conn) in &self.connections {
            match conn.liveness.as_ref().map(|l| l.tick(now)) {
                Some(Tick::Ping) => {
                    self.next_ping += 1;
                    conn.outbox.push(Packet::Ping(self.next_ping).to_frame());
                }
                Some(Tick::Dead) => dead.push(*id),
                None => {}
            }
        }
        for conn in dead {
            warn!(
                conn,
                "the host stopped answering heartbeats; dropping the connection"
            );
            self.close_connection(conn, ctx);
        }
    }
}

/// A value that does not decode is refused alone (logged); anything else a replica cannot
/// apply closes the connection.
fn refuse_bad_value(
    conn: ConnId,
    result: Result<(), ReplicaProtocolError>,
) -> Result<(), NodeConnectionError> {
    match result {
        Err(error) if error.is_bad_value() => {
            warn!(conn, %error, "refusing a value from the host");
            Ok(())
        }
        other => Ok(other?),
    }
}

impl Actor for NodeActor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        if let Some(interval) = self.config.heartbeat {
            ctx.run_interval(Liveness::tick_period(interval), |act, ctx| {
                act.heartbeat(ctx)
            });
        }
    }
}

/// What a connection's read side had ready: packets (or a read error), or the end.
pub(crate) struct ConnectionEvent {
    conn: ConnId,
    batch: Option<Vec<Result<Packet, FrameError>>>,
}

impl StreamHandler<ConnectionEvent> for NodeActor {
    fn handle(&mut self, event: ConnectionEvent, ctx: &mut Context<Self>) {
        let conn = event.conn;
        let Some(batch) = event.batch else {
            self.close_connection(conn, ctx);
            return;
        };
        if let Some(liveness) = self
            .connections
            .get_mut(&conn)
            .and_then(|c| c.liveness.as_mut())
        {
            liveness.heard(now());
        }
        for item in batch {
            let result = item
                .map_err(NodeConnectionError::from)
                .and_then(|p| self.handle_packet(conn, p));
            if let Err(error) = result {
                warn!(conn, %error, "closing the connection to the host");
                self.close_connection(conn, ctx);
                return;
            }
        }
    }

    /// One connection ending must not stop the node.
    fn finished(&mut self, _: &mut Context<Self>) {}
}

/// A connection finished its handshake: read from it and route its packets. With `host`,
/// the node reconnects to that host when the connection is lost.
#[derive(Message)]
#[rtype(result = "()")]
pub(crate) struct AddConnection {
    pub(crate) established: Established,
    pub(crate) reconnect_to: Option<Endpoint>,
}

impl Handler<AddConnection> for NodeActor {
    type Result = ();
    fn handle(&mut self, msg: AddConnection, ctx: &mut Context<Self>) {
        let host = msg
            .reconnect_to
            .map(|endpoint| self.add_host(endpoint, false));
        self.register(msg.established, host, ctx);
    }
}

impl NodeActor {
    fn add_host(&mut self, endpoint: Endpoint, via_registry: bool) -> HostId {
        let backoff = Backoff::new(self.config.reconnect_initial, self.config.reconnect_max);
        self.hosts.push(KnownHost {
            endpoint,
            conn: None,
            backoff,
            connecting: false,
            via_registry,
            retired: false,
        });
        self.hosts.len() - 1
    }
}

/// Keep a host connected, starting now: connect in the background, retry with backoff.
#[derive(Message)]
#[rtype(result = "()")]
pub(crate) struct AddHost(pub(crate) Endpoint);

impl Handler<AddHost> for NodeActor {
    type Result = ();
    fn handle(&mut self, AddHost(endpoint): AddHost, ctx: &mut Context<Self>) {
        let h = self.add_host(endpoint, false);
        self.connect_host(h, ctx);
    }
}

/// A replica was acquired: acquire its source wherever it is offered.
#[derive(Message)]
#[rtype(result = "()")]
pub(crate) struct Attach {
    pub(crate) name: String,
    pub(crate) entry: Arc<dyn ReplicaEntry>,
}

impl Handler<Attach> for NodeActor {
    type Result = ();
    fn handle(&mut self, msg: Attach, ctx: &mut Context<Self>) {
        self.replicas
            .entry(msg.name.clone())
            .or_default()
            .push(msg.entry);
        self.acquire_if_offered(&msg.name);
        self.follow_registry(Some(&msg.name), ctx);
    }
}

/// The registry's list changed.
impl Handler<registry::PropertyChange> for NodeActor {
    type Result = ();
    fn handle(&mut self, change: registry::PropertyChange, ctx: &mut Context<Self>) {
        let registry::PropertyChange::Sources(sources) = change;
        self.registry_sources = sources;
        self.follow_registry(None, ctx);
    }
}

impl NodeActor {
    fn registry_lists(&self, endpoint: &Endpoint) -> bool {
        self.registry_sources
            .values()
            .any(|l| Endpoint::parse(&l.host_url).is_ok_and(|e| e == *endpoint))
    }

    fn is_offered(&self, name: &str) -> bool {
        self.connections
            .values()
            .any(|c| c.offered.contains_key(name))
    }

    /// Connects to the host the registry names for every replica whose source no connected
    /// host offers.
    fn follow_registry(&mut self, only: Option<&str>, ctx: &mut Context<Self>) {
        // Without a registry list there is nothing to follow; with one, a new replica needs
        // only its own name looked up (checking every replica per acquire is quadratic).
        if self.registry_sources.is_empty() {
            return;
        }
        let wanted: Vec<Endpoint> = self
            .replicas
            .iter()
            .filter(|(name, _)| only.is_none_or(|only| only == name.as_str()))
            .filter(|(name, entries)| entries.iter().all(|e| e.link().is_none()) && !self.is_offered(name))
            .filter_map(|(name, _)| self.registry_sources.get(name))
            .filter_map(|location| match Endpoint::parse(&location.host_url) {
                Ok(endpoint) => Some(endpoint),
                Err(error) => {
                    warn!(url = %location.host_url, %error, "the registry lists a host URL this node cannot use");
                    None
                }
            })
            .collect();
        for endpoint in wanted {
            match self.hosts.iter().position(|h| h.endpoint == endpoint) {
                Some(h) => {
                    if self.hosts[h].retired {
                        self.hosts[h].retired = false;
                        self.hosts[h].backoff.reset();
                    }
                    self.connect_host(h, ctx);
                }
                None => {
                    info!(url = %endpoint, "connecting to a host found through the registry");
                    let h = self.add_host(endpoint, true);
                    self.connect_host(h, ctx);
                }
            }
        }
    }
}

/// The last handle of a replica was dropped: release its source.
#[derive(Message)]
#[rtype(result = "()")]
pub(crate) struct Detach {
    pub(crate) name: String,
    pub(crate) entry: Arc<dyn ReplicaEntry>,
}

impl Handler<Detach> for NodeActor {
    type Result = ();
    fn handle(&mut self, msg: Detach, _: &mut Context<Self>) {
        let Some(entries) = self.replicas.get_mut(&msg.name) else {
            return;
        };
        let before = entries.len();
        entries.retain(|e| !Arc::ptr_eq(e, &msg.entry));
        if entries.len() == before {
            return; // never attached (a replica refused before it connected)
        }
        let last = entries.is_empty();
        if last {
            self.replicas.remove(&msg.name);
        }
        if let Some((conn, source)) = msg.entry.link() {
            if let Some(linked) = self.links.get_mut(&(conn, source)) {
                linked.entries.retain(|e| !Arc::ptr_eq(e, &msg.entry));
            }
            // The subscription is released with the last replica of the source.
            if last {
                self.links.remove(&(conn, source));
                if let Some(c) = self.connections.get(&conn) {
                    c.outbox.push(Packet::Release { source }.to_frame());
                }
            }
        }
        debug!(name = %msg.name, "replica released");
    }
}

/// What the connected hosts offer.
#[derive(Message)]
#[rtype(result = "Vec<ObjectInfo>")]
pub(crate) struct ListOffered;

impl Handler<ListOffered> for NodeActor {
    type Result = MessageResult<ListOffered>;
    fn handle(&mut self, _: ListOffered, _: &mut Context<Self>) -> Self::Result {
        let mut all: BTreeMap<String, ObjectInfo> = BTreeMap::new();
        for conn in self.connections.values() {
            for (name, info) in &conn.offered {
                all.entry(name.clone()).or_insert_with(|| info.clone());
            }
        }
        MessageResult(all.into_values().collect())
    }
}

/// Closes every connection and stops reconnecting.
#[derive(Message)]
#[rtype(result = "()")]
pub(crate) struct Shutdown;

impl Handler<Shutdown> for NodeActor {
    type Result = ();
    fn handle(&mut self, _: Shutdown, ctx: &mut Context<Self>) {
        self.shut_down = true;
        let conns: Vec<ConnId> = self.connections.keys().copied().collect();
        for conn in conns {
            self.close_connection(conn, ctx);
        }
    }
}
