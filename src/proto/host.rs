//! [`HostSession`]: the host's side of one connection, with no I/O.
//!
//! The driver feeds it every packet the node sends ([`HostSession::handle`]) and wakes it
//! when [`HostSession::poll_timeout`] says ([`HostSession::handle_timeout`]); the session
//! answers through its [`FrameSink`] and hands back what only the driver can do: open the
//! frame limit and announce the sources once the node is admitted, and run slot calls.

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use tracing::{debug, info, warn};

use super::admission::{Admission, Step};
use super::{ConnId, FrameSink, SlotFuture, WriteFuture};
use crate::lifecycle::{Liveness, Tick};
use crate::security::{AccessPolicy, Authenticator, Peer};
use crate::wire::{
    Dialect, Encoding, FailureKind, Handshake, HandshakeError, ObjectInfo, Packet, RemoteFailure,
    SourceId, NO_REPLY,
};

/// Why a host session ends its connection.
#[derive(Debug, thiserror::Error)]
pub(crate) enum HostSessionError {
    #[error("handshake refused: {0}")]
    Handshake(#[from] HandshakeError),
    #[error("a node may not send {0} packets")]
    UnexpectedPacket(&'static str),
    #[error("property index {index} is out of range for source {source_id}")]
    PropertyOutOfRange { source_id: SourceId, index: u16 },
    /// Not admitted: the node is told why before the connection closes.
    #[error("refused: {0}")]
    Refused(String),
    #[error("no handshake in time ({0:?})")]
    HandshakeTimeout(Duration),
    #[error("the node sent nothing for too long ({0:?})")]
    Idle(Duration),
    #[error("the node stopped answering heartbeats")]
    HeartbeatLost,
}

impl HostSessionError {
    /// Why the connection closed, in one fixed word (for logs and metrics labels).
    pub(crate) fn reason(&self) -> &'static str {
        match self {
            HostSessionError::Handshake(_) => "handshake_refused",
            HostSessionError::UnexpectedPacket(_) | HostSessionError::PropertyOutOfRange { .. } => {
                "protocol_error"
            }
            HostSessionError::Refused(_) => "refused",
            HostSessionError::HandshakeTimeout(_) => "handshake_timeout",
            HostSessionError::Idle(_) => "idle_timeout",
            HostSessionError::HeartbeatLost => "heartbeat_timeout",
        }
    }
}

/// Who a slot call comes from: its connection and the peer on it.
pub(crate) struct Caller<'a> {
    pub(crate) conn: ConnId,
    pub(crate) peer: &'a Peer,
}

/// A source as a host session sees it, without its types. The source layer implements it.
pub(crate) trait ServedSource<S>: Send + Sync {
    fn id(&self) -> SourceId;
    fn info(&self) -> &ObjectInfo;
    /// The name of slot `index`, if it has one (for access policies and logs).
    fn slot_name(&self, index: u16) -> Option<&str>;
    /// The name of property `index`, if it has one.
    fn property_name(&self, index: u16) -> Option<&str>;
    /// The API's description, encoded (for dynamic replicas).
    fn schema(&self) -> Result<Bytes, String>;
    /// Sends the init (with `schema`, for a dynamic acquire) into `sink` and keeps `sink`
    /// subscribed to every later change and signal, in order.
    fn subscribe(&self, sink: &S, schema: Option<&Bytes>) -> Result<(), String>;
    fn unsubscribe(&self, conn: ConnId);
    /// The child with id `id` under this source, if it holds one (a connection that
    /// acquired this source may call it).
    fn find_child(&self, _id: SourceId) -> Option<Arc<dyn ServedSource<S>>> {
        None
    }
    /// Applies a replica's write of property `index` (`Ok(None)`), hands back the source's
    /// decision on it to run (`Ok(Some)`, a `checked` property), or says why not.
    fn set_from_remote(
        &self,
        index: u16,
        value: &[u8],
        enc: Encoding,
    ) -> Result<Option<WriteFuture>, String>;
    /// Decodes slot `slot`'s arguments and hands the call to the source.
    fn invoke(
        &self,
        slot: u16,
        args: &[u8],
        enc: Encoding,
        caller: &Caller<'_>,
    ) -> Result<SlotFuture, String>;
}

/// The sources a host serves, by name.
pub(crate) trait SourceTable<S> {
    fn find(&self, name: &str) -> Option<Arc<dyn ServedSource<S>>>;
}

/// How every session of one host behaves.
#[derive(Clone)]
pub(crate) struct HostSessionConfig {
    pub(crate) encoding: Encoding,
    pub(crate) dialect: &'static dyn Dialect,
    pub(crate) heartbeat: Option<Duration>,
    pub(crate) handshake_timeout: Duration,
    pub(crate) idle_timeout: Option<Duration>,
    pub(crate) authenticator: Option<Arc<dyn Authenticator>>,
    pub(crate) allow_anonymous: bool,
    pub(crate) policy: Option<Arc<dyn AccessPolicy>>,
}

/// What the driver must do after a packet.
pub(crate) enum HostEvent<S> {
    /// The node is admitted: open its frame limit and send it the object list.
    Admitted,
    /// Run this slot call; send its outcome with `reply`.
    Call(PendingCall<S>),
    /// Run the source's decision on a write; send its outcome with `answer`.
    Write(PendingWrite<S>),
}

/// A write the source decides on, which the driver runs.
pub(crate) struct PendingWrite<S> {
    pub(crate) write: WriteFuture,
    pub(crate) answer: WriteAnswer<S>,
}

/// Who a call or write came from: where its answer goes, and under which serial.
pub(crate) struct Requester<S> {
    sink: S,
    dialect: &'static dyn Dialect,
    source: SourceId,
    serial: u32,
}

impl<S: FrameSink> Requester<S> {
    /// Sends `packet`; one for a closed connection is refused by the sink.
    fn answer(&self, packet: &Packet) {
        // An answer is written once and dropped.
        self.sink.push(self.dialect.encode_transient(packet));
    }
}

/// Where a write's outcome goes.
pub(crate) struct WriteAnswer<S> {
    to: Requester<S>,
    index: u16,
}

impl<S: FrameSink> WriteAnswer<S> {
    /// Tells the node the write was applied (if it asked), or refused (always: every
    /// replica of the writer hears of it).
    pub(crate) fn send(self, outcome: Result<(), String>) {
        let Requester { source, serial, .. } = self.to;
        let packet = match outcome {
            Ok(()) if serial == NO_REPLY => return,
            Ok(()) => Packet::SetPropertyDone { source, serial },
            Err(reason) => Packet::SetPropertyRefused {
                source,
                index: self.index,
                serial,
                reason,
            },
        };
        self.to.answer(&packet);
    }
}

/// A slot call the driver runs.
pub(crate) struct PendingCall<S> {
    pub(crate) call: SlotFuture,
    pub(crate) reply: ReplyTo<S>,
}

/// Where a slot call's outcome goes.
pub(crate) struct ReplyTo<S>(Requester<S>);

impl<S: FrameSink> ReplyTo<S> {
    /// Sends the outcome. A one-way call ([`NO_REPLY`]) gets none.
    pub(crate) fn send(self, outcome: Result<Bytes, RemoteFailure>) {
        let Requester { source, serial, .. } = self.0;
        if serial == NO_REPLY {
            if let Err(failure) = outcome {
                debug!(source, message = %failure.message, "a one-way call failed");
            }
            return;
        }
        self.0.answer(&Packet::InvokeReply {
            source,
            serial,
            outcome,
        });
    }
}

/// The host's side of one connection.
pub(crate) struct HostSession<S> {
    conn: ConnId,
    sink: S,
    config: Arc<HostSessionConfig>,
    /// Who connected: as the operating system tells it, and who it proved to be.
    peer: Arc<Peer>,
    /// Handshake, authentication, the policy's word: until admitted, nothing else.
    admission: Admission,
    /// When the node must have been admitted by.
    admit_by: Instant,
    last_heard: Instant,
    liveness: Option<Liveness>,
    /// When the next heartbeat tick is due.
    next_tick: Option<Instant>,
    next_ping: u64,
    /// The sources this connection acquired, by id.
    acquired: HashMap<SourceId, Arc<dyn ServedSource<S>>>,
}

impl<S: FrameSink> HostSession<S> {
    /// A session for a node that just connected; sends the host's handshake.
    pub(crate) fn new(
        sink: S,
        peer: Peer,
        config: Arc<HostSessionConfig>,
        now: Instant,
    ) -> HostSession<S> {
        let admission = Admission::new(
            config.encoding,
            config.authenticator.clone(),
            config.policy.clone(),
        )
        .allowing_anonymous(config.allow_anonymous);
        let session = HostSession {
            conn: sink.conn(),
            // Heartbeats start once the node is admitted: a node still greeting expects
            // nothing but the greeting, and the handshake timeout covers a silent one.
            liveness: None,
            next_tick: None,
            admit_by: now + config.handshake_timeout,
            sink,
            peer: Arc::new(peer),
            admission,
            last_heard: now,
            next_ping: 0,
            acquired: HashMap::new(),
            config,
        };
        session.send(&Packet::Handshake(Handshake::ours(session.config.encoding)));
        session
    }

    pub(crate) fn peer(&self) -> &Arc<Peer> {
        &self.peer
    }

    #[cfg(test)]
    pub(crate) fn is_admitted(&self) -> bool {
        self.admission.is_admitted()
    }

    fn send(&self, packet: &Packet) {
        self.sink.push(self.config.dialect.encode(packet));
    }

    fn requester(&self, source: SourceId, serial: u32) -> Requester<S> {
        Requester {
            sink: self.sink.clone(),
            dialect: self.config.dialect,
            source,
            serial,
        }
    }

    /// The node sent something (a batch of packets): it is alive.
    pub(crate) fn heard(&mut self, now: Instant) {
        self.last_heard = now;
        if let Some(liveness) = self.liveness.as_mut() {
            liveness.heard(now);
        }
    }

    /// Handles one packet from the node. An error ends the connection (a refused node is
    /// told why first).
    pub(crate) fn handle(
        &mut self,
        packet: Packet,
        sources: &dyn SourceTable<S>,
    ) -> Result<Option<HostEvent<S>>, HostSessionError> {
        if !self.admission.is_admitted() {
            let admitted = self.admit(packet);
            if let Err(HostSessionError::Refused(reason)) = &admitted {
                self.send(&Packet::AuthRefused {
                    reason: reason.clone(),
                });
            }
            return admitted;
        }
        match packet {
            Packet::Acquire { name, signature } => self.acquire(name, Some(signature), sources),
            Packet::AcquireDynamic { name } => self.acquire(name, None, sources),
            Packet::Release { source } => {
                if let Some(hosted) = self.acquired.remove(&source) {
                    hosted.unsubscribe(self.conn);
                }
            }
            Packet::Invoke {
                source,
                slot,
                serial,
                args,
            } => return Ok(self.invoke(source, slot, serial, &args)),
            Packet::SetProperty {
                source,
                index,
                serial,
                value,
            } => return self.set_property(source, index, serial, &value),
            Packet::Describe { name } => self.describe(name, sources),
            Packet::Ping(nonce) => self.send(&Packet::Pong(nonce)),
            Packet::Pong(_) => {}
            other => return Err(HostSessionError::UnexpectedPacket(other.kind_name())),
        }
        Ok(None)
    }

    /// A packet before admission: the handshake, then the authentication exchange.
    fn admit(&mut self, packet: Packet) -> Result<Option<HostEvent<S>>, HostSessionError> {
        let peer = Arc::make_mut(&mut self.peer);
        match self.admission.on_packet(peer, packet)? {
            Step::Reply(packet) => {
                self.send(&packet);
                Ok(None)
            }
            Step::Admitted(accepted) => {
                if let Some(packet) = accepted {
                    self.send(&packet);
                }
                info!(conn = self.conn, peer = %self.peer, "node admitted");
                if let Some(interval) = self.config.heartbeat {
                    self.liveness = Some(Liveness::new(interval, self.last_heard));
                    self.next_tick = Some(self.last_heard + Liveness::tick_period(interval));
                }
                Ok(Some(HostEvent::Admitted))
            }
        }
    }

    fn policy(&self) -> Option<&dyn AccessPolicy> {
        self.config.policy.as_deref()
    }

    /// `signature: None` is a dynamic acquire: the init carries the API's description.
    fn acquire(&mut self, name: String, signature: Option<u64>, sources: &dyn SourceTable<S>) {
        let Some(hosted) = sources.find(&name) else {
            debug!(conn = self.conn, %name, "acquire of a source this host does not offer");
            self.send(&Packet::RemoveObject { name });
            return;
        };
        if let Some(Err(reason)) = self.policy().map(|p| p.may_acquire(&self.peer, &name)) {
            warn!(conn = self.conn, peer = %self.peer, %name, %reason, "acquire refused");
            self.send(&Packet::AcquireRefused { name, reason });
            return;
        }
        if signature.is_some_and(|s| s != hosted.info().signature) {
            debug!(conn = self.conn, %name, "a replica with another signature acquires; it will refuse the init");
        }
        let schema = match signature {
            Some(_) => None,
            None => match hosted.schema() {
                Ok(schema) => Some(schema),
                Err(error) => {
                    warn!(conn = self.conn, %name, %error, "cannot describe the source to a dynamic replica");
                    let reason = format!("the host cannot describe the source: {error}");
                    self.send(&Packet::AcquireRefused { name, reason });
                    return;
                }
            },
        };
        match hosted.subscribe(&self.sink, schema.as_ref()) {
            Ok(()) => {
                self.acquired.insert(hosted.id(), hosted);
            }
            Err(error) => warn!(conn = self.conn, %name, %error, "cannot send the init"),
        }
    }

    /// Describes a source to a node whose replica's signature differs, so it can say how.
    /// A peer the policy does not let acquire the source learns nothing about it.
    fn describe(&self, name: String, sources: &dyn SourceTable<S>) {
        let Some(hosted) = sources.find(&name) else {
            self.send(&Packet::RemoveObject { name });
            return;
        };
        let allowed = self
            .policy()
            .is_none_or(|p| p.may_acquire(&self.peer, &name).is_ok());
        let schema = match hosted.schema() {
            Ok(schema) if allowed => schema,
            Ok(_) => Bytes::new(),
            Err(error) => {
                debug!(conn = self.conn, %name, %error, "cannot describe a source");
                Bytes::new()
            }
        };
        self.send(&Packet::Description { name, schema });
    }

    fn invoke(
        &mut self,
        source: SourceId,
        slot: u16,
        serial: u32,
        args: &[u8],
    ) -> Option<HostEvent<S>> {
        let reply = ReplyTo(self.requester(source, serial));
        let reject = |reply: ReplyTo<S>, message: String| {
            reply.send(Err(RemoteFailure {
                kind: FailureKind::Rejected,
                message,
            }));
            None
        };
        let Some(hosted) = self.target(source) else {
            warn!(
                conn = self.conn,
                source, "slot call on a source this connection has not acquired"
            );
            return reject(
                reply,
                format!("source {source} is not acquired on this connection"),
            );
        };
        let allowed = match (self.policy(), hosted.slot_name(slot)) {
            (Some(policy), Some(slot_name)) => {
                policy.may_call(&self.peer, &hosted.info().name, slot_name)
            }
            _ => Ok(()),
        };
        if let Err(reason) = allowed {
            warn!(conn = self.conn, peer = %self.peer, source = %hosted.info().name, %reason, "slot call refused");
            return reject(reply, reason);
        }
        let caller = Caller {
            conn: self.conn,
            peer: &self.peer,
        };
        match hosted.invoke(slot, args, self.config.encoding, &caller) {
            Ok(call) => Some(HostEvent::Call(PendingCall { call, reply })),
            Err(error) => {
                warn!(conn = self.conn, api = %hosted.info().api, %error, "slot call rejected");
                reject(reply, error)
            }
        }
    }

    fn set_property(
        &mut self,
        source: SourceId,
        index: u16,
        serial: u32,
        value: &[u8],
    ) -> Result<Option<HostEvent<S>>, HostSessionError> {
        let answer = WriteAnswer {
            to: self.requester(source, serial),
            index,
        };
        let Some(hosted) = self.target(source) else {
            warn!(
                conn = self.conn,
                source, "property set on a source this connection has not acquired"
            );
            answer.send(Err(format!(
                "source {source} is not acquired on this connection"
            )));
            return Ok(None);
        };
        let Some(property) = hosted.property_name(index) else {
            return Err(HostSessionError::PropertyOutOfRange {
                source_id: source,
                index,
            });
        };
        let allowed = match self.policy() {
            Some(policy) => policy.may_set(&self.peer, &hosted.info().name, property),
            None => Ok(()),
        };
        let outcome =
            allowed.and_then(|()| hosted.set_from_remote(index, value, self.config.encoding));
        match outcome {
            Ok(None) => answer.send(Ok(())),
            // The source decides (a `checked` property): the driver runs its decision.
            Ok(Some(write)) => return Ok(Some(HostEvent::Write(PendingWrite { write, answer }))),
            Err(reason) => {
                warn!(conn = self.conn, peer = %self.peer, source = %hosted.info().name, %property, %reason, "property set refused");
                answer.send(Err(reason));
            }
        }
        Ok(None)
    }

    /// The source `source` names on this connection: one it acquired (borrowed: nothing is
    /// counted on the hot path), or a child under one of those — only those are reachable
    /// (their inits were sent here).
    fn target(&self, source: SourceId) -> Option<Cow<'_, Arc<dyn ServedSource<S>>>> {
        if let Some(acquired) = self.acquired.get(&source) {
            return Some(Cow::Borrowed(acquired));
        }
        self.acquired
            .values()
            .find_map(|root| root.find_child(source))
            .map(Cow::Owned)
    }

    /// When the driver must call [`HostSession::handle_timeout`] next, if ever.
    pub(crate) fn poll_timeout(&self) -> Option<Instant> {
        let admit_by = (!self.admission.is_admitted()).then_some(self.admit_by);
        let idle = self.config.idle_timeout.map(|idle| self.last_heard + idle);
        [admit_by, idle, self.next_tick].into_iter().flatten().min()
    }

    /// Acts on whatever is due at `now`: a heartbeat ping, or the end of the connection
    /// (no handshake in time, silent for too long, heartbeats unanswered).
    pub(crate) fn handle_timeout(&mut self, now: Instant) -> Result<(), HostSessionError> {
        if !self.admission.is_admitted() && now >= self.admit_by {
            return Err(HostSessionError::HandshakeTimeout(
                self.config.handshake_timeout,
            ));
        }
        if let Some(idle) = self.config.idle_timeout {
            if now.saturating_duration_since(self.last_heard) >= idle {
                return Err(HostSessionError::Idle(idle));
            }
        }
        let (Some(due), Some(liveness), Some(interval)) =
            (self.next_tick, &self.liveness, self.config.heartbeat)
        else {
            return Ok(());
        };
        if now < due {
            return Ok(());
        }
        self.next_tick = Some(due + Liveness::tick_period(interval));
        match liveness.tick(now) {
            Tick::Ping => {
                self.next_ping += 1;
                self.send(&Packet::Ping(self.next_ping));
                Ok(())
            }
            Tick::Dead => Err(HostSessionError::HeartbeatLost),
        }
    }

    /// The host stopped serving source `id`: forget this connection's subscription.
    pub(crate) fn source_removed(&mut self, id: SourceId) {
        self.acquired.remove(&id);
    }

    /// The connection is over: release every subscription it held.
    pub(crate) fn close(&mut self) {
        for (_, hosted) in self.acquired.drain() {
            hosted.unsubscribe(self.conn);
        }
    }
}
