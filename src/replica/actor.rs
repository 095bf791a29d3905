//! [`ReplicaActor`]: the actor slot messages are sent to; it forwards them to the source.

use std::sync::Arc;

use actix::prelude::*;
use bytes::Bytes;

use super::shared::ReplicaShared;
use crate::api::{RemoteObject, Slot};
use crate::error::{SlotError, SlotResult};

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
}

impl<A: RemoteObject, M: Slot<Api = A>> Handler<M> for ReplicaActor<A> {
    type Result = ResponseFuture<SlotResult<M::Output>>;

    fn handle(&mut self, msg: M, _: &mut Context<Self>) -> Self::Result {
        let encoding = self.shared.encoding;
        let reply = encoding
            .encode(&msg)
            .map_err(|e| SlotError::Encode(e.to_string()))
            .and_then(|args| self.shared.start_call(M::INDEX, Bytes::from(args)));
        Box::pin(async move {
            // A dropped sender means the replica went away with the call pending.
            let bytes = reply?.await.map_err(|_| SlotError::ConnectionLost)??;
            encoding
                .decode::<M::Output>(&bytes)
                .map_err(|e| SlotError::Decode(e.to_string()))
        })
    }
}
