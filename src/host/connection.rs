//! One node's connection to a host: an actor that drives a [`HostSession`] — it reads
//! packets into it, wakes it when it asks, and runs the slot calls it hands out.

use std::sync::Arc;
use std::time::Instant;

use actix::prelude::*;
use tracing::{debug, warn};

use super::in_flight::CallGate;
use super::HostInner;
use crate::outbox::{ConnId, Outbox};
use crate::proto::host::{HostEvent, HostSession, HostSessionConfig, HostSessionError};
use crate::security::Peer;
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
        let session = HostSession::new(outbox.clone(), peer, session, now());
        HostConnection {
            id,
            host,
            outbox,
            session,
            frame_gate,
            calls,
            timer: None,
        }
    }

    fn handle_packet(
        &mut self,
        packet: Packet,
        ctx: &mut Context<Self>,
    ) -> Result<(), HostSessionError> {
        // The gated reader counted an invocation as running; it ends when `running` drops
        // (at once for a call the session refuses).
        let running = matches!(packet, Packet::Invoke { .. }).then(|| self.calls.take_slot());
        match self.session.handle(packet, &*self.host)? {
            None => {}
            Some(HostEvent::Admitted) => {
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
                // Its own task, not a future parked in this actor: actix polls every future
                // parked in an actor on each wake-up, which makes many calls in flight
                // quadratic.
                actix::spawn(async move {
                    let outcome = pending.call.await;
                    drop(running);
                    pending.reply.send(outcome);
                });
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
        warn!(conn = self.id, peer = %self.session.peer(), %error, "closing the connection");
        ctx.stop();
    }
}

impl Actor for HostConnection {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        debug!(conn = self.id, peer = %self.session.peer(), "node connected");
        self.arm_timer(ctx);
    }

    fn stopped(&mut self, _ctx: &mut Context<Self>) {
        self.session.close();
        self.outbox.close();
        self.host.forget_connection(self.id);
        debug!(conn = self.id, "connection closed");
    }
}

/// The packets (or a read error) a connection had ready.
impl StreamHandler<Vec<Result<Packet, FrameError>>> for HostConnection {
    fn handle(&mut self, batch: Vec<Result<Packet, FrameError>>, ctx: &mut Context<Self>) {
        self.session.heard(now());
        for item in batch {
            let result = match item {
                Ok(packet) => self.handle_packet(packet, ctx),
                Err(error) => {
                    warn!(conn = self.id, peer = %self.session.peer(), %error, "closing the connection");
                    ctx.stop();
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
        self.session.source_removed(id);
    }
}
