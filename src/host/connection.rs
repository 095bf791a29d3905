//! One node's connection to a host: an actor that reads packets and answers them.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use actix::prelude::*;
use bytes::Bytes;
use tracing::{debug, info, warn};

use super::admission::{Admission, Step};
use super::in_flight::CallGate;
use super::HostInner;
use crate::lifecycle::{Liveness, Tick};
use crate::outbox::{ConnId, Outbox};
use crate::security::{AccessPolicy, Peer};
use crate::source::{Caller, HostedSource};
use crate::wire::codec::HandshakeGate;
use crate::wire::{FailureKind, FrameError, Handshake, Packet, RemoteFailure, SourceId};

/// Why a host closed a connection.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ConnectionError {
    #[error(transparent)]
    Frame(#[from] FrameError),
    #[error("handshake refused: {0}")]
    Handshake(#[from] crate::wire::HandshakeError),
    #[error("a node may not send {0} packets")]
    UnexpectedPacket(&'static str),
    #[error("property index {index} is out of range for source {source_id}")]
    PropertyOutOfRange { source_id: SourceId, index: u16 },
    /// Not admitted: the node is told why before the connection closes.
    #[error("refused: {0}")]
    Refused(String),
}

pub(crate) struct HostConnection {
    id: ConnId,
    host: Arc<HostInner>,
    outbox: Outbox,
    /// Who connected: as the operating system tells it, and who it proved to be.
    peer: Arc<Peer>,
    /// Handshake, authentication, the policy's word: until admitted, nothing else.
    admission: Admission,
    /// Opens the connection's frame limit once the handshake is done.
    frame_gate: HandshakeGate,
    /// Bounds the slot calls running for this connection.
    calls: CallGate,
    /// When the node last sent anything, for the idle timeout.
    last_heard: Instant,
    /// The sources this connection acquired, by id.
    acquired: HashMap<SourceId, Arc<HostedSource>>,
    liveness: Option<Liveness>,
    next_ping: u64,
}

fn now() -> Instant {
    tokio::time::Instant::now().into_std()
}

/// What a connection starts with, besides its host.
pub(crate) struct Accepted {
    pub(crate) id: ConnId,
    pub(crate) outbox: Outbox,
    pub(crate) peer: Peer,
    pub(crate) frame_gate: HandshakeGate,
    pub(crate) calls: CallGate,
}

impl HostConnection {
    pub(crate) fn new(host: Arc<HostInner>, accepted: Accepted) -> HostConnection {
        let Accepted {
            id,
            outbox,
            peer,
            frame_gate,
            calls,
        } = accepted;
        let liveness = host
            .config
            .heartbeat
            .map(|interval| Liveness::new(interval, now()));
        let config = &host.config;
        let admission = Admission::new(
            config.encoding,
            config.authenticator.as_ref().map(|a| Arc::clone(&a.0)),
            config.policy.as_ref().map(|p| Arc::clone(&p.0)),
        )
        .allowing_anonymous(config.allow_anonymous);
        HostConnection {
            id,
            peer: Arc::new(peer),
            admission,
            host,
            outbox,
            frame_gate,
            calls,
            last_heard: now(),
            acquired: HashMap::new(),
            liveness,
            next_ping: 0,
        }
    }

    fn handle_packet(&mut self, packet: Packet) -> Result<(), ConnectionError> {
        if !self.admission.is_admitted() {
            return self.admit(packet);
        }
        match packet {
            Packet::Acquire { name, signature } => self.acquire(name, Some(signature)),
            Packet::AcquireDynamic { name } => self.acquire(name, None),
            Packet::Release { source } => {
                if let Some(hosted) = self.acquired.remove(&source) {
                    hosted.hub.unsubscribe(self.id, Some(source));
                }
            }
            Packet::Invoke {
                source,
                slot,
                serial,
                args,
            } => self.invoke(source, slot, serial, args),
            Packet::SetProperty {
                source,
                index,
                value,
            } => self.set_property(source, index, &value)?,
            Packet::Ping(nonce) => {
                self.outbox.push(Packet::Pong(nonce).to_frame());
            }
            Packet::Pong(_) => {}
            other => return Err(ConnectionError::UnexpectedPacket(other.kind_name())),
        }
        Ok(())
    }

    /// A packet before admission: the handshake, then the authentication exchange.
    fn admit(&mut self, packet: Packet) -> Result<(), ConnectionError> {
        let peer = Arc::make_mut(&mut self.peer);
        match self.admission.on_packet(peer, packet)? {
            Step::Reply(packet) => {
                self.outbox.push(packet.to_frame());
            }
            Step::Admitted(accepted) => {
                if let Some(packet) = accepted {
                    self.outbox.push(packet.to_frame());
                }
                info!(conn = self.id, peer = %self.peer, "node admitted");
                self.frame_gate.open();
                self.host.announce_to(self.id, Arc::clone(&self.peer));
            }
        }
        Ok(())
    }

    fn policy(&self) -> Option<&dyn AccessPolicy> {
        self.host.config.policy.as_ref().map(|p| &*p.0)
    }

    /// `signature: None` is a dynamic acquire: the init carries the API's description.
    fn acquire(&mut self, name: String, signature: Option<u64>) {
        let Some(hosted) = self.host.source_by_name(&name) else {
            debug!(conn = self.id, %name, "acquire of a source this host does not offer");
            self.outbox.push(Packet::RemoveObject { name }.to_frame());
            return;
        };
        if let Some(Err(reason)) = self.policy().map(|p| p.may_acquire(&self.peer, &name)) {
            warn!(conn = self.id, peer = %self.peer, %name, %reason, "acquire refused");
            self.outbox
                .push(Packet::AcquireRefused { name, reason }.to_frame());
            return;
        }
        if signature.is_some_and(|s| s != hosted.info.signature) {
            debug!(conn = self.id, %name, "a replica with another signature acquires; it will refuse the init");
        }
        let schema = match signature {
            Some(_) => None,
            None => match hosted.hub.schema() {
                Ok(schema) => Some(schema),
                Err(error) => {
                    warn!(conn = self.id, %name, %error, "cannot describe the source to a dynamic replica");
                    let reason = format!("the host cannot describe the source: {error}");
                    self.outbox
                        .push(Packet::AcquireRefused { name, reason }.to_frame());
                    return;
                }
            },
        };
        match hosted
            .hub
            .subscribe(&name, hosted.id, &self.outbox, schema.as_ref())
        {
            Ok(()) => {
                self.acquired.insert(hosted.id, hosted);
            }
            Err(error) => warn!(conn = self.id, %name, %error, "cannot send the init"),
        }
    }

    fn invoke(&mut self, source: SourceId, slot: u16, serial: u32, args: Bytes) {
        // The gated reader counted this call as running; it ends when `running` drops (at
        // once for a call refused here).
        let running = self.calls.take_slot();
        let reject = |message: String| Packet::InvokeReply {
            source,
            serial,
            outcome: Err(RemoteFailure {
                kind: FailureKind::Rejected,
                message,
            }),
        };
        let Some(hosted) = self.acquired.get(&source) else {
            warn!(
                conn = self.id,
                source, "slot call on a source this connection has not acquired"
            );
            self.outbox.push(
                reject(format!(
                    "source {source} is not acquired on this connection"
                ))
                .to_frame(),
            );
            return;
        };
        let slot_name = hosted.slot_name(slot);
        let allowed = match (self.policy(), slot_name) {
            (Some(policy), Some(slot_name)) => {
                policy.may_call(&self.peer, &hosted.info.name, slot_name)
            }
            _ => Ok(()),
        };
        if let Err(reason) = allowed {
            warn!(conn = self.id, peer = %self.peer, source = %hosted.info.name, %reason, "slot call refused");
            self.outbox.push(reject(reason).to_frame());
            return;
        }
        let caller = Caller {
            conn: self.id,
            peer: &self.peer,
        };
        match hosted
            .hub
            .invoke(slot, &args, self.host.config.encoding, &caller)
        {
            Ok(call) => {
                // Its own task, not a future parked in this actor: actix polls every future
                // parked in an actor on each wake-up, which makes many calls in flight
                // quadratic. A reply for a closed connection is simply refused by the outbox.
                let outbox = self.outbox.clone();
                actix::spawn(async move {
                    let outcome = call.await;
                    drop(running);
                    outbox.push(
                        Packet::InvokeReply {
                            source,
                            serial,
                            outcome,
                        }
                        .to_frame(),
                    );
                });
            }
            Err(error) => {
                warn!(conn = self.id, api = %hosted.info.api, %error, "slot call rejected");
                self.outbox.push(reject(error.to_string()).to_frame());
            }
        }
    }

    fn set_property(
        &mut self,
        source: SourceId,
        index: u16,
        value: &[u8],
    ) -> Result<(), ConnectionError> {
        let Some(hosted) = self.acquired.get(&source) else {
            warn!(
                conn = self.id,
                source, "property set on a source this connection has not acquired"
            );
            return Ok(());
        };
        let Some(property) = hosted.property_name(index) else {
            return Err(ConnectionError::PropertyOutOfRange {
                source_id: source,
                index,
            });
        };
        let allowed = match self.policy() {
            Some(policy) => policy.may_set(&self.peer, &hosted.info.name, property),
            None => Ok(()),
        };
        let outcome = allowed.and_then(|()| {
            hosted
                .hub
                .set_from_remote(index, value, self.host.config.encoding)
                .map_err(|e| e.to_string())
        });
        if let Err(reason) = outcome {
            warn!(conn = self.id, peer = %self.peer, source = %hosted.info.name, %property, %reason, "property set refused");
            let refused = Packet::SetPropertyRefused {
                source,
                index,
                reason,
            };
            self.outbox.push(refused.to_frame());
        }
        Ok(())
    }
}

impl HostConnection {
    fn heartbeat(&mut self, ctx: &mut Context<Self>) {
        match self.liveness.as_ref().map(|l| l.tick(now())) {
            Some(Tick::Ping) => {
                self.next_ping += 1;
                self.outbox.push(Packet::Ping(self.next_ping).to_frame());
            }
            Some(Tick::Dead) => {
                warn!(
                    conn = self.id,
                    "the node stopped answering heartbeats; dropping it"
                );
                ctx.stop();
            }
            None => {}
        }
    }
}

impl Actor for HostConnection {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        debug!(conn = self.id, peer = %self.peer, "node connected");
        self.outbox
            .push(Packet::Handshake(Handshake::ours(self.host.config.encoding)).to_frame());
        if let Some(interval) = self.host.config.heartbeat {
            ctx.run_interval(Liveness::tick_period(interval), |act, ctx| {
                act.heartbeat(ctx)
            });
        }
        let limits = &self.host.config.limits;
        let handshake_timeout = limits.handshake_timeout;
        ctx.run_later(handshake_timeout, move |act, ctx| {
            if !act.admission.is_admitted() {
                warn!(conn = act.id, peer = %act.peer, timeout = ?handshake_timeout,
                    "no handshake in time; closing the connection");
                ctx.stop();
            }
        });
        if let Some(idle) = limits.idle_timeout {
            ctx.run_interval(idle / 4, move |act, ctx| {
                if now().saturating_duration_since(act.last_heard) > idle {
                    warn!(conn = act.id, peer = %act.peer, timeout = ?idle,
                        "the node sent nothing for too long; closing the connection");
                    ctx.stop();
                }
            });
        }
    }

    fn stopped(&mut self, _ctx: &mut Context<Self>) {
        for (id, hosted) in self.acquired.drain() {
            hosted.hub.unsubscribe(self.id, Some(id));
        }
        self.outbox.close();
        self.host.forget_connection(self.id);
        debug!(conn = self.id, "connection closed");
    }
}

/// The packets (or a read error) a connection had ready.
impl StreamHandler<Vec<Result<Packet, FrameError>>> for HostConnection {
    fn handle(&mut self, batch: Vec<Result<Packet, FrameError>>, ctx: &mut Context<Self>) {
        self.last_heard = now();
        if let Some(liveness) = self.liveness.as_mut() {
            liveness.heard(self.last_heard);
        }
        for item in batch {
            let result = item
                .map_err(ConnectionError::from)
                .and_then(|packet| self.handle_packet(packet));
            if let Err(error) = result {
                if let ConnectionError::Refused(reason) = &error {
                    let refused = Packet::AuthRefused {
                        reason: reason.clone(),
                    };
                    self.outbox.push(refused.to_frame());
                }
                warn!(conn = self.id, peer = %self.peer, %error, "closing the connection");
                ctx.stop();
                return;
            }
        }
    }

    fn finished(&mut self, ctx: &mut Context<Self>) {
        ctx.stop();
    }
}

/// Stops the connection (the host is shutting down or disabling everything).
#[derive(Message)]
#[rtype(result = "()")]
pub(crate) struct Close;

impl Handler<Close> for HostConnection {
    type Result = ();
    fn handle(&mut self, _: Close, ctx: &mut Context<Self>) {
        ctx.stop();
    }
}

/// A source was disabled: forget this connection's subscription to it.
#[derive(Message)]
#[rtype(result = "()")]
pub(crate) struct SourceRemoved(pub(crate) SourceId);

impl Handler<SourceRemoved> for HostConnection {
    type Result = ();
    fn handle(&mut self, SourceRemoved(id): SourceRemoved, _: &mut Context<Self>) {
        self.acquired.remove(&id);
    }
}
