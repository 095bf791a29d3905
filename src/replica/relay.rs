//! A replica that keeps a source's values as the bytes they came in and hands every init,
//! change and signal on as it is: what a proxy relays from. Calls and writes go to the
//! source as bytes too.

use std::sync::{Arc, Mutex, MutexGuard, OnceLock};

use bytes::Bytes;
use tokio::sync::oneshot;
use tracing::warn;

use crate::error::SlotError;
use crate::outbox::{ConnId, Outbox};
use crate::proto::node::ChildTree;
use crate::proto::replica::{Offered, ReplicaCore};
use crate::replica::shared::{
    invoke, lose_calls, write, InitOutcome, Link, PendingReply, ReplicaEntry, ReplicaProtocolError,
};
use crate::replica::ReplicaState;
use crate::values::ApiSchema;
use crate::wire::{Encoding, SourceId};

/// What a relay tells of its source.
pub(crate) trait RelayEvents: Send + Sync + 'static {
    /// The source initialized (first, or again after a loss) with `values`, its API
    /// described by `schema` (bincode, as the host sent it).
    fn init(&self, signature: u64, schema: &Bytes, values: Vec<Bytes>);
    fn change(&self, index: u16, value: Bytes);
    fn signal(&self, index: u16, args: &[u8]);
    /// The source is gone for now (its host or the link lost, or it was withdrawn).
    fn lost(&self);
}

/// A source's API as far as relaying needs it.
struct Described {
    signature: u64,
    schema: Bytes,
    properties: usize,
    signals: usize,
}

struct Inner {
    core: ReplicaCore<Link, PendingReply>,
    described: Option<Described>,
}

/// The relay of one source.
pub(crate) struct Relay {
    name: String,
    inner: Mutex<Inner>,
    events: OnceLock<Arc<dyn RelayEvents>>,
}

impl Relay {
    /// A relay of the source named `name`, telling `events`.
    pub(crate) fn new(name: &str, events: Arc<dyn RelayEvents>) -> Arc<Relay> {
        let relay = Relay {
            name: name.to_owned(),
            inner: Mutex::new(Inner {
                core: ReplicaCore::new(0, Vec::new(), ReplicaState::Uninitialized),
                described: None,
            }),
            events: OnceLock::new(),
        };
        let _ = relay.events.set(events);
        Arc::new(relay)
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // Every critical section leaves the core consistent.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn events(&self) -> Option<&Arc<dyn RelayEvents>> {
        self.events.get()
    }

    /// Calls slot `slot` with the encoded `args`: the reply's bytes.
    pub(crate) async fn call(&self, slot: u16, args: Bytes) -> Result<Bytes, SlotError> {
        let (tx, rx) = oneshot::channel();
        let complete: PendingReply = Box::new(move |reply| {
            let _ = tx.send(reply);
        });
        if let Some(complete) = invoke(&mut self.lock().core, slot, args, complete) {
            complete(Err(SlotError::NotConnected));
        }
        rx.await.map_err(|_| SlotError::ConnectionLost)?
    }

    /// Asks the source to set property `index` to the encoded `value`: `Ok` once it was
    /// applied (its change, if any, came first), or the refusal.
    pub(crate) async fn write(&self, index: u16, value: Bytes) -> Result<(), SlotError> {
        let (tx, rx) = oneshot::channel();
        let complete: PendingReply = Box::new(move |reply| {
            let _ = tx.send(reply);
        });
        if let Some(complete) = write(&mut self.lock().core, index, value, complete) {
            complete(Err(SlotError::NotConnected));
        }
        rx.await.map_err(|_| SlotError::ConnectionLost)?.map(drop)
    }

    fn protocol(&self, what: &'static str) -> ReplicaProtocolError {
        ReplicaProtocolError::bad_value(&self.name, what, "out of order")
    }
}

fn describe(schema: &Bytes) -> Result<(usize, usize), String> {
    let api: ApiSchema = Encoding::Bincode
        .decode(schema)
        .map_err(|e| format!("its description does not decode: {e}"))?;
    api.check()?;
    if !api.children.is_empty() {
        return Err("a proxy cannot relay a source with sub-objects yet".into());
    }
    Ok((api.properties.len(), api.signals.len()))
}

impl ReplicaEntry<Outbox> for Relay {
    fn signature(&self) -> u64 {
        self.lock().described.as_ref().map_or(0, |d| d.signature)
    }

    fn link(&self) -> Option<(ConnId, SourceId)> {
        self.lock().core.link().map(|l| (l.conn, l.source))
    }

    fn on_offered(&self, _signature: u64) -> Offered {
        // Like a dynamic replica, it takes the source's API as it comes.
        match self.lock().core.link() {
            None => Offered::Acquire,
            Some(_) => Offered::Skip,
        }
    }

    fn wants_schema(&self) -> bool {
        self.lock().described.is_none()
    }

    fn on_init(
        &self,
        link: Link,
        signature: u64,
        values: Vec<Bytes>,
        schema: Option<&Bytes>,
        _children: &mut ChildTree<'_, Outbox>,
    ) -> Result<InitOutcome, ReplicaProtocolError> {
        let mut inner = self.lock();
        let schema = match (schema, &inner.described) {
            (Some(schema), _) => schema.clone(),
            (None, Some(known)) if known.signature == signature => known.schema.clone(),
            (None, _) => return Ok(InitOutcome::NeedsSchema),
        };
        let (properties, signals) = describe(&schema)
            .map_err(|e| ReplicaProtocolError::bad_value(&self.name, "schema", e))?;
        if properties != values.len() {
            return Err(ReplicaProtocolError::bad_value(
                &self.name,
                "init",
                "the values do not match the description",
            ));
        }
        if inner
            .described
            .as_ref()
            .is_none_or(|d| d.signature != signature)
        {
            // A first init, or the source's API changed while away: start over with it.
            inner.core = ReplicaCore::new(
                signature,
                vec![Bytes::new(); properties],
                ReplicaState::Uninitialized,
            );
        }
        inner.described = Some(Described {
            signature,
            schema: schema.clone(),
            properties,
            signals,
        });
        inner.core.commit_init(link, values.clone());
        drop(inner);
        if let Some(events) = self.events() {
            events.init(signature, &schema, values);
        }
        Ok(InitOutcome::Applied)
    }

    fn on_property_change(&self, index: u16, value: Bytes) -> Result<(), ReplicaProtocolError> {
        let mut inner = self.lock();
        let Some(described) = &inner.described else {
            return Err(self.protocol("a change before the init"));
        };
        if usize::from(index) >= described.properties {
            return Err(ReplicaProtocolError::OutOfRange {
                name: self.name.clone(),
                what: "property",
                index,
            });
        }
        let changed = inner.core.commit_change(index, value.clone());
        drop(inner);
        if let (true, Some(events)) = (changed, self.events()) {
            events.change(index, value);
        }
        Ok(())
    }

    fn on_signal(&self, index: u16, args: &[u8]) -> Result<(), ReplicaProtocolError> {
        let inner = self.lock();
        let Some(described) = &inner.described else {
            return Err(self.protocol("a signal before the init"));
        };
        if usize::from(index) >= described.signals {
            return Err(ReplicaProtocolError::OutOfRange {
                name: self.name.clone(),
                what: "signal",
                index,
            });
        }
        drop(inner);
        if let Some(events) = self.events() {
            events.signal(index, args);
        }
        Ok(())
    }

    fn take_pending(&self, serial: u32) -> Option<PendingReply> {
        self.lock().core.complete_call(serial)
    }

    fn on_link_lost(&self) {
        let (pending, _) = self.lock().core.on_link_lost();
        lose_calls(pending);
        if let Some(events) = self.events() {
            events.lost();
        }
    }

    fn on_failed(&self, reason: &str) {
        warn!(source = %self.name, %reason, "cannot relay this source");
        let (pending, _) = self.lock().core.fail(reason.to_owned());
        lose_calls(pending);
        if let Some(events) = self.events() {
            events.lost();
        }
    }

    fn on_refused(&self, reason: &str) {
        warn!(source = %self.name, %reason, "the far host refused to serve this source to the proxy");
    }

    fn on_write_refused(&self, index: u16, reason: &str) {
        warn!(source = %self.name, index, %reason, "the far host refused a relayed write");
    }

    fn persist(&self) {}
}
