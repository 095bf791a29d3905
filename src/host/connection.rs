//! One node's connection to a host: an actor that drives a [`HostSession`] — it reads
//! packets into it, wakes it when it asks, and runs the slot calls it hands out.

use std::sync::Arc;
use std::time::Instant;

use actix::prelude::*;
use tracing::{debug, info, warn, Instrument};

use super::in_flight::CallGate;
use super::HostInner;
use crate::outbox::{ConnId, Outbox};
use crate::proto::host::{HostEvent, HostSession, HostSessionConfig, HostSessionError};
use crate::security::Peer;
use crate::telemetry::{self, Side};
use crate::wire::codec::HandshakeGate;
use crate::wire::{FrameError, Packet, SourceId};

pub(crate) struct HostConnection {
    id: ConnId,
    host: Arc<HostInner>,
    outbox: Outbox,
    session: HostSession<Outbox>,
    /// Opens the connection's frame limit once the node is admitted.
    frame_gate: HandshakeGate,
    /// Bounds the slot calls running for this connection.
    calls: CallGate,
    /// The wake-up armed for the session, and when it fires.
    timer: Option<(SpawnHandle, Instant)>,
    /// The node was admitted (before that, a close is a refused connection).
    admitted: bool,
    /// Why it closes, once it does: a fixed word for metrics, and the whole story for logs.
    closing: (&'static str, String),
    /// Everything logged for this connection is inside it: its id, its peer, the host's name.
    span: tracing::Span,
}

fn now() -> Instant {
    // tokio's clock, so a paused test clock drives the session's timers too.
    tokio::time::Instant::now().into_std()
}

/// What a connection starts with, besides its host.
pub(crate) struct Accepted {
    pub(crate) id: ConnId,
    pub(crate) outbox: Outbox,
    pub(crate) peer: Peer,
    pub(crate) frame_gate: HandshakeGate,
    pub(crate) calls: CallGate,
    /// How its session behaves.
    pub(crate) session: Arc<HostSessionConfig>,
}

impl HostConnection {
    pub(crate) fn new(host: Arc<HostInner>, accepted: Accepted) -> HostConnection {
        let Accepted {
            id,
            outbox,
            peer,
            frame_gate,
            calls,
            session,
        } = accepted;
        let span = tracing::info_span!(
            "connection",
            conn = id,
            peer = %peer.addr,
            host = tracing::field::Empty
        );
        if let Some(name) = host.config.name.as_deref() {
            span.record("host", name);
        }
        let session = HostSession::new(outbox.clone(), peer, session, now());
        HostConnection {
            id,
            host,
            outbox,
            session,
            frame_gate,
            calls,
            timer: None,
            admitted: false,
            closing: ("node_closed", "the node closed the connection".to_owned()),
            span,
        }
    }

    fn handle_packet(
        &mut self,
        packet: Packet,
        ctx: &mut Context<Self>,
    ) -> Result<(), HostSessionError> {
        // The gated reader counted an invocation as running; it ends when `running` drops
        // (at once for a call the session refuses).
        let call = match &packet {
            Packet::Invoke { source, slot, .. } => Some((*source, *slot, self.calls.take_slot())),
            _ => None,
        };
        match self.session.handle(packet, &*self.host)? {
            None => {}
            Some(HostEvent::Admitted) => {
                self.admitted = true;
                self.frame_gate.open();
                self.host
                    .announce_to(self.id, Arc::clone(self.session.peer()));
                self.arm_timer(ctx);
            }
            Some(HostEvent::Write(pending)) => {
                actix::spawn(async move {
                    let outcome = pending.write.await;
                    pending.answer.send(outcome);
                });
            }
            Some(HostEvent::Call(pending)) => {
                telemetry::call_run(Side::Host);
                let (source, slot, running) = match call {
                    Some((source, slot, running)) => (source, slot, Some(running)),
                    None => (0, 0, None),
                };
                // Its own task, not a future parked in this actor: actix polls every future
                // parked in an actor on each wake-up, which makes many calls in flight
                // quadratic.
                let task = async move {
                    let outcome = pending.call.await;
                    drop(running);
                    pending.reply.send(outcome);
                };
                actix::spawn(task.instrument(tracing::debug_span!("call", source, slot)));
            }
        }
        Ok(())
    }

    /// Makes sure the actor wakes by the session's next deadline.
    fn arm_timer(&mut self, ctx: &mut Context<Self>) {
        let Some(due) = self.session.poll_timeout() else {
            if let Some((handle, _)) = self.timer.take() {
                ctx.cancel_future(handle);
            }
            return;
        };
        if let Some((handle, armed)) = self.timer {
            if armed <= due {
                return; // it fires first; the session says then what is due
            }
            ctx.cancel_future(handle);
        }
        let delay = due.saturating_duration_since(now());
        let handle = ctx.run_later(delay, |act, ctx| {
            let _span = act.span.clone().entered();
            act.timer = None;
            if let Err(error) = act.session.handle_timeout(now()) {
                act.close(error, ctx);
                return;
            }
            act.arm_timer(ctx);
        });
        self.timer = Some((handle, due));
    }

    fn close(&mut self, error: HostSessionError, ctx: &mut Context<Self>) {
        self.stop_for(error.reason(), error.to_string(), ctx);
    }

    /// Stops the connection for `reason`, said at length in `detail` (logged as it stops).
    /// The host stopping a node it has not admitted is refusing it.
    fn stop_for(&mut self, reason: &'static str, detail: String, ctx: &mut Context<Self>) {
        if !self.admitted && reason != "host_closed" {
            telemetry::connection_refused(reason);
        }
        self.closing = (reason, detail);
        ctx.stop();
    }
}

impl Actor for HostConnection {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        let _span = self.span.clone().entered();
        debug!("node connected");
        self.arm_timer(ctx);
    }

    fn stopped(&mut self, _ctx: &mut Context<Self>) {
        let _span = self.span.clone().entered();
        self.session.close();
        self.outbox.close();
        self.host.forget_connection(self.id);
        let (reason, detail) = &self.closing;
        telemetry::connection_closed(Side::Host, reason);
        if *reason == "node_closed" || *reason == "host_closed" {
            info!(reason, "connection closed: {detail}");
        } else {
            warn!(reason, "connection closed: {detail}");
        }
    }
}

/// The packets (or a read error) a connection had ready.
impl StreamHandler<Vec<Result<Packet, FrameError>>> for HostConnection {
    fn handle(&mut self, batch: Vec<Result<Packet, FrameError>>, ctx: &mut Context<Self>) {
        let _span = self.span.clone().entered();
        self.session.heard(now());
        for item in batch {
            let result = match item {
                Ok(packet) => self.handle_packet(packet, ctx),
                Err(error) => {
                    let reason = match error {
                        FrameError::Io(_) => "io_error",
                        _ => "protocol_error",
                    };
                    self.stop_for(reason, error.to_string(), ctx);
                    return;
                }
            };
            if let Err(error) = result {
                self.close(error, ctx);
                return;
            }
        }
    }

    fn finished(&mut self, ctx: &mut Context<Self>) {
        ctx.stop();
    }
}

/// Stops the connection, for a reason of the host's.
#[derive(Message)]
#[rtype(result = "()")]
pub(crate) struct Close(pub(crate) CloseReason);

/// Why the host closes a connection.
pub(crate) enum CloseReason {
    /// The host is shutting down.
    Shutdown,
    /// The write side ended: the socket failed, or (`slow`) the node fell too far behind.
    WriterEnded { slow: bool },
}

impl Handler<Close> for HostConnection {
    type Result = ();
    fn handle(&mut self, Close(why): Close, ctx: &mut Context<Self>) {
        let (reason, detail) = match why {
            CloseReason::Shutdown => ("host_closed", "the host shut down"),
            CloseReason::WriterEnded { slow: true } => ("slow_peer", "the node read too slowly"),
            CloseReason::WriterEnded { slow: false } => ("write_ended", "its write side ended"),
        };
        self.stop_for(reason, detail.to_owned(), ctx);
    }
}

/// A source was disabled: forget this connection's subscription to it.
#[derive(Message)]
#[rtype(result = "()")]
pub(crate) struct SourceRemoved(pub(crate) SourceId);

impl Handler<SourceRemoved> for HostConnection {
    type Result = ();
    fn handle(&mut self, SourceRemoved(id): SourceRemoved, _: &mut Context<Self>) {
        self.session.source_removed(id);
    }
}
