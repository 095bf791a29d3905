//! [`NodeActor`]: drives a node's [`NodeProtocol`] — reads each connection's packets into
//! it, wakes it for heartbeats, reconnects lost hosts ([`super::reconnect`]) and follows the
//! locator's list ([`super::locating`]).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use actix::prelude::*;
use futures::stream::{self, StreamExt};
use tracing::{debug, info, warn};

use super::connection::{establish, Established};
use super::locating::Locations;
use super::reconnect::{HostId, KnownHosts};
use super::{BackgroundError, NodeConfig, Reporter};
use crate::batch::Batched;
use crate::error::Error;
use crate::lifecycle::Backoff;
use crate::outbox::{ConnId, Outbox, WriterEnd};
use crate::proto::node::{NodeProtocol, ReplicaEntry};
use crate::telemetry::{self, Side};
use crate::transport::Endpoint;
use crate::wire::{FrameError, ObjectInfo, Packet};

/// The I/O side of one open connection.
struct ConnectionIo {
    outbox: Outbox,
    reader: SpawnHandle,
    /// The host to reconnect to when this connection is lost, if any.
    host: Option<HostId>,
    /// Everything logged for this connection is inside it: its id, the host's URL (when
    /// known), the node's name.
    span: tracing::Span,
}

pub(crate) struct NodeActor {
    config: NodeConfig,
    protocol: NodeProtocol<Outbox>,
    connections: HashMap<ConnId, ConnectionIo>,
    hosts: KnownHosts,
    locations: Locations,
    /// The heartbeat wake-up armed, and when it fires.
    timer: Option<(SpawnHandle, Instant)>,
    shut_down: bool,
    /// Where errors no caller waits for go (besides the log).
    reporter: Reporter,
}

fn now() -> Instant {
    // tokio's clock, so a paused test clock drives heartbeats too.
    tokio::time::Instant::now().into_std()
}

impl NodeActor {
    pub(crate) fn new(config: NodeConfig, reporter: Reporter) -> Self {
        let (every, during) = config.reconnect_eager;
        let backoff = Backoff::new(config.reconnect_initial, config.reconnect_max);
        let hosts = KnownHosts::new(backoff.eager(every, during));
        let locations = Locations::new(config.connectors.clone());
        NodeActor {
            config,
            protocol: NodeProtocol::default(),
            connections: HashMap::new(),
            hosts,
            locations,
            timer: None,
            shut_down: false,
            reporter,
        }
    }

    fn register(
        &mut self,
        established: Established,
        host: Option<HostId>,
        ctx: &mut Context<Self>,
    ) {
        let Established {
            session,
            offered,
            frames,
            outbox,
            writer,
        } = established;
        if self.shut_down {
            outbox.close();
            return;
        }
        let conn = session.conn();
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
        ctx.spawn(writer.into_actor(self).map(move |end, act, ctx| {
            let reason = match end {
                Ok(WriterEnd::Overflowed) => "slow_peer",
                Ok(WriterEnd::Failed(_)) => "io_error",
                _ => "closed",
            };
            act.close_connection(conn, reason, ctx)
        }));
        telemetry::connection_opened(Side::Node);
        if let Some(h) = host {
            if self.hosts.connected(h, conn, now()) {
                telemetry::reconnected();
            }
        }
        let span = tracing::info_span!(
            "connection",
            conn,
            url = tracing::field::Empty,
            node = tracing::field::Empty
        );
        if let Some(h) = host {
            span.record("url", tracing::field::display(self.hosts.endpoint(h)));
        }
        if let Some(name) = self.config.name.as_deref() {
            span.record("node", name);
        }
        self.connections.insert(
            conn,
            ConnectionIo {
                outbox,
                reader,
                host,
                span,
            },
        );
        self.protocol.open(session, offered, now());
        self.report_mismatches();
        self.arm_timer(ctx);
    }

    /// Tries to connect to a known host now; on failure, tries again after a backoff delay.
    fn connect_host(&mut self, h: HostId, ctx: &mut Context<Self>) {
        if self.shut_down {
            return;
        }
        let Some(endpoint) = self.hosts.start_attempt(h) else {
            return;
        };
        let config = self.config.clone();
        // Whether the stream opened tells an outage (nothing listens) from a host that is
        // there but whose sessions do not come up.
        let attempt = async move {
            let stream = endpoint
                .connect(config.tls.as_ref(), &config.connectors)
                .await
                .map_err(|error| (error, false))?;
            let wire = super::connection::dialect_wire(&endpoint, stream, &config);
            establish(wire, &config, &endpoint.to_string())
                .await
                .map_err(|error| (error, true))
        };
        ctx.spawn(attempt.into_actor(self).map(move |result, act, ctx| {
            act.hosts.attempt_ended(h);
            match result {
                Ok(established) => {
                    info!(url = %act.hosts.endpoint(h), "connected to host");
                    act.register(established, Some(h), ctx);
                }
                Err((error, reached)) => {
                    if reached {
                        act.hosts.session_failed(h);
                    }
                    act.report_failed_attempt(h, error);
                    act.retry_later(h, ctx);
                }
            }
        }));
    }

    /// Logs and reports an attempt to connect to `h` that failed: at the network (a
    /// debug line, as a host that is down fails every backoff attempt) or in the greeting (a
    /// warning: the host is there but this node cannot talk to it as configured).
    fn report_failed_attempt(&self, h: HostId, error: Error) {
        let url = self.hosts.endpoint(h).to_string();
        let via_registry = self.hosts.via_locator(h);
        let error = Arc::new(error);
        let greeting = error.is_handshake()
            || error.is_auth()
            || error.is_tls()
            || error.is_refused()
            || error.is_not_a_peer()
            || error.is_qt_dialect();
        let reported = if greeting {
            warn!(%url, %error, "the host refused this node's greeting");
            BackgroundError::HandshakeFailed {
                url,
                via_registry,
                error,
            }
        } else {
            debug!(%url, %error, "connection attempt failed");
            BackgroundError::ConnectFailed {
                url,
                via_registry,
                error,
            }
        };
        self.reporter.report(reported);
    }

    /// Reports every source a host offers with another API than a replica's of it.
    fn report_mismatches(&mut self) {
        for (conn, name) in self.protocol.take_mismatches() {
            let url = self
                .connections
                .get(&conn)
                .and_then(|io| io.host)
                .map(|h| self.hosts.endpoint(h).to_string())
                .unwrap_or_else(|| "a stream".to_owned());
            warn!(%url, %name, "the host serves this source with another API than the replica's");
            self.reporter
                .report(BackgroundError::SignatureMismatch { url, name });
        }
    }

    fn retry_later(&mut self, h: HostId, ctx: &mut Context<Self>) {
        if self.shut_down {
            return;
        }
        let locations = &self.locations;
        let Some(delay) = self
            .hosts
            .retry_delay(h, fastrand::f64(), |e| locations.lists(e))
        else {
            info!(url = %self.hosts.endpoint(h), "the registry no longer lists this host; not reconnecting");
            return;
        };
        ctx.run_later(delay, move |act, ctx| act.connect_host(h, ctx));
    }

    /// Closes connection `conn` for `reason` (a short word, for logs and metrics).
    fn close_connection(&mut self, conn: ConnId, reason: &'static str, ctx: &mut Context<Self>) {
        let Some(io) = self.connections.remove(&conn) else {
            return;
        };
        ctx.cancel_future(io.reader);
        io.outbox.close();
        telemetry::connection_closed(Side::Node, reason);
        info!(parent: &io.span, reason, "connection to host closed");
        let initialized = self.protocol.close(conn).unwrap_or(false);
        if let Some(h) = io.host {
            self.hosts.lost(h, now(), initialized);
            self.retry_later(h, ctx);
        }
    }

    /// Makes sure the actor wakes by the protocol's next heartbeat.
    fn arm_timer(&mut self, ctx: &mut Context<Self>) {
        let Some(due) = self.protocol.poll_timeout() else {
            return;
        };
        if let Some((handle, armed)) = self.timer {
            if armed <= due {
                return;
            }
            ctx.cancel_future(handle);
        }
        let delay = due.saturating_duration_since(now());
        let handle = ctx.run_later(delay, |act, ctx| {
            act.timer = None;
            for conn in act.protocol.handle_timeout(now()) {
                warn!(
                    conn,
                    "the host stopped answering heartbeats; dropping the connection"
                );
                act.close_connection(conn, "heartbeat_timeout", ctx);
            }
            act.arm_timer(ctx);
        });
        self.timer = Some((handle, due));
    }

    /// Connects to the host the locator names for every replica whose source no connected
    /// host offers (`only`: just for that name).
    fn follow_locations(&mut self, only: Option<&str>, ctx: &mut Context<Self>) {
        // Without a list there is nothing to follow; with one, a new replica needs only its
        // own name looked up (checking every replica per acquire is quadratic).
        if self.locations.is_empty() {
            return;
        }
        let wanted = self.locations.hosts_of(self.protocol.unserved(only));
        for endpoint in wanted {
            let h = match self.hosts.find(&endpoint) {
                Some(h) => {
                    self.hosts.revive(h);
                    h
                }
                None => {
                    info!(url = %endpoint, "connecting to a host found through the registry");
                    self.hosts.add(endpoint, true)
                }
            };
            self.connect_host(h, ctx);
        }
    }
}

impl Actor for NodeActor {
    type Context = Context<Self>;
}

/// What a connection's read side had ready: packets (or a read error), or the end.
pub(crate) struct ConnectionEvent {
    conn: ConnId,
    batch: Option<Vec<Result<Packet, FrameError>>>,
}

impl StreamHandler<ConnectionEvent> for NodeActor {
    fn handle(&mut self, event: ConnectionEvent, ctx: &mut Context<Self>) {
        let conn = event.conn;
        let span = match self.connections.get(&conn) {
            Some(io) => io.span.clone(),
            None => tracing::Span::none(),
        };
        let _span = span.entered();
        let Some(batch) = event.batch else {
            self.close_connection(conn, "host_closed", ctx);
            return;
        };
        self.protocol.heard(conn, now());
        // What read well before a frame that did not is handled first, as it came.
        let mut packets = Vec::with_capacity(batch.len());
        let mut unreadable = None;
        for item in batch {
            match item {
                Ok(packet) => packets.push(packet),
                Err(error) => {
                    unreadable = Some(error.to_string());
                    break;
                }
            }
        }
        let result = match self.protocol.handle_batch(conn, packets) {
            Ok(()) => unreadable.map_or(Ok(()), Err),
            Err(error) => Err(error.to_string()),
        };
        if let Err(error) = result {
            warn!(%error, "closing the connection to the host");
            self.report_mismatches();
            self.close_connection(conn, "protocol_error", ctx);
            return;
        }
        self.report_mismatches();
    }

    /// One connection ending must not stop the node.
    fn finished(&mut self, _: &mut Context<Self>) {}
}

/// A connection finished its greeting: read from it and route its packets. With
/// `reconnect_to`, the node reconnects to that host when the connection is lost.
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
            .map(|endpoint| self.hosts.add(endpoint, false));
        self.register(msg.established, host, ctx);
    }
}

/// Keep a host connected, starting now: connect in the background, retry with backoff.
#[derive(Message)]
#[rtype(result = "()")]
pub(crate) struct AddHost(pub(crate) Endpoint);

impl Handler<AddHost> for NodeActor {
    type Result = ();
    fn handle(&mut self, AddHost(endpoint): AddHost, ctx: &mut Context<Self>) {
        let h = self.hosts.add(endpoint, false);
        self.connect_host(h, ctx);
    }
}

/// A replica was acquired: acquire its source wherever it is offered.
#[derive(Message)]
#[rtype(result = "()")]
pub(crate) struct Attach {
    pub(crate) name: Arc<str>,
    pub(crate) entry: Arc<dyn ReplicaEntry<Outbox>>,
}

impl Handler<Attach> for NodeActor {
    type Result = ();
    fn handle(&mut self, msg: Attach, ctx: &mut Context<Self>) {
        self.protocol.attach(&msg.name, msg.entry);
        self.report_mismatches();
        self.follow_locations(Some(&msg.name), ctx);
    }
}

/// Where sources moved, as the locator (the registry) says: source name → host URL (`None`:
/// no longer served), in order.
#[derive(Message)]
#[rtype(result = "()")]
pub(crate) struct SourceLocations(pub(crate) Vec<(String, Option<String>)>);

impl Handler<SourceLocations> for NodeActor {
    type Result = ();
    fn handle(&mut self, SourceLocations(moves): SourceLocations, ctx: &mut Context<Self>) {
        for (name, url) in moves {
            let served = url.is_some();
            self.locations.set(&name, url);
            // Only the moved names need following: looking every replica up per change
            // would cost O(replicas) for each source registered anywhere.
            if served {
                self.follow_locations(Some(&name), ctx);
            }
        }
    }
}

/// The last handle of a replica was dropped: release its source.
#[derive(Message)]
#[rtype(result = "()")]
pub(crate) struct Detach {
    pub(crate) name: Arc<str>,
    pub(crate) entry: Arc<dyn ReplicaEntry<Outbox>>,
}

impl Handler<Detach> for NodeActor {
    type Result = ();
    fn handle(&mut self, msg: Detach, _: &mut Context<Self>) {
        self.protocol.detach(&msg.name, &msg.entry);
    }
}

/// What the connected hosts offer.
#[derive(Message)]
#[rtype(result = "Vec<ObjectInfo>")]
pub(crate) struct ListOffered;

impl Handler<ListOffered> for NodeActor {
    type Result = MessageResult<ListOffered>;
    fn handle(&mut self, _: ListOffered, _: &mut Context<Self>) -> Self::Result {
        MessageResult(self.protocol.offered())
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
            self.close_connection(conn, "shutdown", ctx);
        }
    }
}
