//! [`NodeActor`]: owns a node's connections and routes their packets to replicas.

use std::collections::HashMap;
use std::sync::Arc;

use actix::prelude::*;
use bytes::Bytes;
use futures::stream::{self, StreamExt};
use tokio::task::JoinHandle;
use tracing::{debug, info, warn};

use crate::outbox::{ConnId, Outbox};
use crate::replica::shared::{InitOutcome, Link, ReplicaEntry, ReplicaProtocolError};
use crate::wire::{FrameError, ObjectInfo, Packet, SourceId};

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

struct Connection {
    outbox: Outbox,
    reader: SpawnHandle,
    writer: JoinHandle<()>,
    /// What the host offers, by name.
    offered: HashMap<String, ObjectInfo>,
}

pub(crate) struct NodeActor {
    connections: HashMap<ConnId, Connection>,
    replicas: HashMap<String, Arc<dyn ReplicaEntry>>,
    /// Which replica a (connection, source id) pair feeds.
    links: HashMap<(ConnId, SourceId), String>,
}

impl NodeActor {
    pub(crate) fn new() -> Self {
        NodeActor {
            connections: HashMap::new(),
            replicas: HashMap::new(),
            links: HashMap::new(),
        }
    }

    fn acquire_if_offered(&mut self, name: &str) {
        let Some(entry) = self.replicas.get(name) else {
            return;
        };
        for (id, conn) in &self.connections {
            if let Some(info) = conn.offered.get(name) {
                if entry.on_offered(info.signature) {
                    debug!(conn = id, %name, "acquiring");
                    conn.outbox.push(
                        Packet::Acquire {
                            name: name.to_owned(),
                            signature: entry.signature(),
                        }
                        .to_frame(),
                    );
                }
                return;
            }
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
            Packet::Init {
                name,
                source,
                signature,
                values,
            } => self.init(conn, name, source, signature, values)?,
            Packet::PropertyChange {
                source,
                index,
                value,
            } => {
                if let Some(entry) = self.linked(conn, source) {
                    entry.on_property_change(index, value)?;
                }
            }
            Packet::Signal {
                source,
                index,
                args,
            } => {
                if let Some(entry) = self.linked(conn, source) {
                    entry.on_signal(index, &args)?;
                }
            }
            Packet::InvokeReply {
                source,
                serial,
                outcome,
            } => {
                if let Some(entry) = self.linked(conn, source) {
                    entry.on_reply(serial, outcome);
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
        values: Vec<Bytes>,
    ) -> Result<(), NodeConnectionError> {
        let Some(outbox) = self.connections.get(&conn).map(|c| c.outbox.clone()) else {
            return Ok(());
        };
        let Some(entry) = self.replicas.get(&name).cloned() else {
            // Released while the init was on its way.
            outbox.push(Packet::Release { source }.to_frame());
            return Ok(());
        };
        match entry.on_init(
            Link {
                conn,
                source,
                outbox: outbox.clone(),
            },
            signature,
            values,
        )? {
            InitOutcome::Applied => {
                self.links.insert((conn, source), name);
            }
            InitOutcome::SignatureMismatch => {
                outbox.push(Packet::Release { source }.to_frame());
            }
        }
        Ok(())
    }

    fn linked(&self, conn: ConnId, source: SourceId) -> Option<&Arc<dyn ReplicaEntry>> {
        let entry = self
            .links
            .get(&(conn, source))
            .and_then(|name| self.replicas.get(name));
        if entry.is_none() {
            debug!(conn, source, "a packet for a source no replica holds");
        }
        entry
    }

    /// Tells the replicas linked through `conn` (and matching `which`) that their source is gone.
    fn unlink(&mut self, conn: ConnId, which: impl Fn(&str) -> bool) {
        let gone: Vec<(ConnId, SourceId)> = self
            .links
            .iter()
            .filter(|((c, _), name)| *c == conn && which(name))
            .map(|(k, _)| *k)
            .collect();
        for key in gone {
            if let Some(name) = self.links.remove(&key) {
                if let Some(entry) = self.replicas.get(&name) {
                    entry.on_link_lost();
                }
            }
        }
    }

    fn close_connection(&mut self, conn: ConnId, ctx: &mut Context<Self>) {
        if let Some(c) = self.connections.remove(&conn) {
            ctx.cancel_future(c.reader);
            c.outbox.close();
            drop(c.writer);
            info!(conn, "connection to host closed");
        }
        self.unlink(conn, |_| true);
    }
}

impl Actor for NodeActor {
    type Context = Context<Self>;
}

/// One event from a connection's read side: a packet, a read error, or the end.
pub(crate) struct ConnectionEvent {
    conn: ConnId,
    item: Option<Result<Packet, FrameError>>,
}

impl StreamHandler<ConnectionEvent> for NodeActor {
    fn handle(&mut self, event: ConnectionEvent, ctx: &mut Context<Self>) {
        let conn = event.conn;
        let result = match event.item {
            None => {
                self.close_connection(conn, ctx);
                return;
            }
            Some(item) => item
                .map_err(NodeConnectionError::from)
                .and_then(|p| self.handle_packet(conn, p)),
        };
        if let Err(error) = result {
            warn!(conn, %error, "closing the connection to the host");
            self.close_connection(conn, ctx);
        }
    }

    /// One connection ending must not stop the node.
    fn finished(&mut self, _: &mut Context<Self>) {}
}

/// A connection finished its handshake: read from it and route its packets.
#[derive(Message)]
#[rtype(result = "()")]
pub(crate) struct AddConnection<S> {
    pub(crate) conn: ConnId,
    pub(crate) frames: S,
    pub(crate) outbox: Outbox,
    pub(crate) writer: JoinHandle<()>,
}

impl<S> Handler<AddConnection<S>> for NodeActor
where
    S: futures::Stream<Item = Result<Packet, FrameError>> + Unpin + 'static,
{
    type Result = ();
    fn handle(&mut self, msg: AddConnection<S>, ctx: &mut Context<Self>) {
        let conn = msg.conn;
        let events = msg
            .frames
            .map(move |item| ConnectionEvent {
                conn,
                item: Some(item),
            })
            .chain(stream::once(
                async move { ConnectionEvent { conn, item: None } },
            ));
        let reader = ctx.add_stream(events);
        self.connections.insert(
            conn,
            Connection {
                outbox: msg.outbox,
                reader,
                writer: msg.writer,
                offered: HashMap::new(),
            },
        );
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
    fn handle(&mut self, msg: Attach, _: &mut Context<Self>) {
        self.replicas.insert(msg.name.clone(), msg.entry);
        self.acquire_if_offered(&msg.name);
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
        // A newer replica of the same name may have replaced this one.
        let current = self
            .replicas
            .get(&msg.name)
            .is_some_and(|e| Arc::ptr_eq(e, &msg.entry));
        if !current {
            return;
        }
        self.replicas.remove(&msg.name);
        if let Some((conn, source)) = msg.entry.link() {
            self.links.remove(&(conn, source));
            if let Some(c) = self.connections.get(&conn) {
                c.outbox.push(Packet::Release { source }.to_frame());
            }
        }
        debug!(name = %msg.name, "replica released");
    }
}

/// Closes every connection.
#[derive(Message)]
#[rtype(result = "()")]
pub(crate) struct Shutdown;

impl Handler<Shutdown> for NodeActor {
    type Result = ();
    fn handle(&mut self, _: Shutdown, ctx: &mut Context<Self>) {
        let conns: Vec<ConnId> = self.connections.keys().copied().collect();
        for conn in conns {
            self.close_connection(conn, ctx);
        }
    }
}
