//! [`ReplicaActor`]: the actor slot messages are sent to; it forwards them to the source.

use std::sync::{Arc, OnceLock};

use actix::dev::{MessageResponse, OneshotSender};
use actix::prelude::*;
use actix::ArbiterHandle;
use bytes::Bytes;

use super::shared::ReplicaShared;
use crate::api::{RemoteObject, Slot};
use crate::error::{SlotError, SlotResult};

/// Calls a replica actor accepts before `send` makes callers wait.
const REPLICA_MAILBOX_CAPACITY: usize = 1 << 24;

/// The actor behind a [`Replica`](crate::Replica). Send it any slot message of its API;
/// the reply is the source's.
pub struct ReplicaActor<A: RemoteObject> {
    shared: Arc<ReplicaShared<A>>,
}

impl<A: RemoteObject> ReplicaActor<A> {
    pub(crate) fn new(shared: Arc<ReplicaShared<A>>) -> Self {
        ReplicaActor { shared }
    }
}

impl<A: RemoteObject> Actor for ReplicaActor<A> {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        // Handling a call only queues it, so there is no reason to make senders wait: with
        // actix's default of 16, a burst of `send`s parks and retries one by one. Not
        // `usize::MAX`: actix computes its sender limit as `MAX_CAPACITY - capacity`.
        ctx.set_mailbox_capacity(REPLICA_MAILBOX_CAPACITY);
    }
}

impl<A: RemoteObject, M: Slot<Api = A>> Handler<M> for ReplicaActor<A> {
    type Result = SlotCall<A, M>;

    fn handle(&mut self, msg: M, _: &mut Context<Self>) -> Self::Result {
        SlotCall {
            shared: Arc::clone(&self.shared),
            msg,
        }
    }
}

/// A replica's actor, started on first use: a replica that is only read (most of them, in
/// a dashboard of many) never pays for an actor.
pub(crate) struct LazyActor<A: RemoteObject> {
    shared: Arc<ReplicaShared<A>>,
    arbiter: ArbiterHandle,
    addr: OnceLock<Addr<ReplicaActor<A>>>,
}

impl<A: RemoteObject> LazyActor<A> {
    /// The actor will run on `arbiter` (the node's), whichever thread first uses it.
    pub(crate) fn new(shared: Arc<ReplicaShared<A>>, arbiter: ArbiterHandle) -> Arc<Self> {
        Arc::new(LazyActor {
            shared,
            arbiter,
            addr: OnceLock::new(),
        })
    }

    pub(crate) fn addr(&self) -> &Addr<ReplicaActor<A>> {
        self.addr.get_or_init(|| {
            let shared = Arc::clone(&self.shared);
            ReplicaActor::start_in_arbiter(&self.arbiter, move |_| ReplicaActor::new(shared))
        })
    }
}

/// A slot call on its way: it answers the caller when the source's reply arrives, with no
/// future parked in the replica actor meanwhile (actix polls every future parked in one
/// actor on each wake-up, which would make many calls in flight quadratic).
pub struct SlotCall<A: RemoteObject, M: Slot<Api = A>> {
    shared: Arc<ReplicaShared<A>>,
    msg: M,
}

impl<A: RemoteObject, M: Slot<Api = A>> SlotCall<A, M> {
    /// Sends the call with no reply wanted; a call the replica cannot send is dropped, and
    /// logged, as nobody waits to be told.
    fn one_way(self) {
        let sent = match self.shared.encoding.encode(&self.msg) {
            Ok(args) => self.shared.send_one_way(M::INDEX, Bytes::from(args)),
            Err(error) => {
                tracing::warn!(replica = %self.shared.name, %error, "cannot encode a one-way call");
                return;
            }
        };
        if !sent {
            tracing::warn!(replica = %self.shared.name, slot = M::INDEX,
                "a one-way call (do_send) was dropped: the source is not connected");
        }
    }
}

impl<A: RemoteObject, M: Slot<Api = A>> MessageResponse<ReplicaActor<A>, M> for SlotCall<A, M> {
    fn handle(
        self,
        _: &mut Context<ReplicaActor<A>>,
        tx: Option<OneshotSender<SlotResult<M::Output>>>,
    ) {
        let encoding = self.shared.encoding;
        let Some(tx) = tx else {
            // `do_send`: nobody waits for the outcome, so none travels back.
            self.one_way();
            return;
        };
        let complete = move |reply: Result<Bytes, SlotError>| {
            let result = reply.and_then(|bytes| {
                encoding
                    .decode::<M::Output>(&bytes)
                    .map_err(|e| SlotError::Decode(e.to_string()))
            });
            // The caller may have stopped waiting; nothing to do then.
            let _ = tx.send(result);
        };
        match encoding.encode(&self.msg) {
            Ok(args) => self
                .shared
                .start_call(M::INDEX, Bytes::from(args), Box::new(complete)),
            Err(e) => complete(Err(SlotError::Encode(e.to_string()))),
        }
    }
}
