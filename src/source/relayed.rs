//! A source served from another network's: its values, changes and signals are the bytes a
//! replica of it received, passed on as they came (never decoded or encoded again), and its
//! calls and writes go back the same way. What a proxy host serves.

use std::sync::{Arc, Mutex, MutexGuard};

use bytes::{BufMut, Bytes};

use super::fanout::{InitHeader, Subscribers};
use super::hosted::SourceHub;
use crate::error::Error;
use crate::outbox::{ConnId, Outbox};
use crate::proto::host::Caller;
use crate::proto::{SlotFuture, WriteFuture};
use crate::values::ApiSchema;
use crate::wire::{Encoding, SourceId};

/// Where calls and writes to a relayed source go: the replica it is relayed from.
pub(crate) trait Upstream: Send + Sync + 'static {
    /// Calls slot `slot` with the encoded `args`; the reply's bytes, or the failure.
    fn call(&self, slot: u16, args: Bytes) -> SlotFuture;
    /// Asks the source to set property `index` to the encoded `value`: done once applied
    /// there, or its refusal.
    fn write(&self, index: u16, value: Bytes) -> WriteFuture;
}

/// The relayed source: cheap to clone, clones share it.
#[derive(Clone)]
pub(crate) struct RelayedSource {
    shared: Arc<Shared>,
}

struct Shared {
    signature: u64,
    /// The API's description as the far host sent it (bincode), passed on to dynamic
    /// replicas; decoded once for the member names policies and logs need.
    encoded_schema: Bytes,
    schema: ApiSchema,
    encoding: Encoding,
    upstream: Arc<dyn Upstream>,
    state: Mutex<State>,
}

struct State {
    values: Vec<Bytes>,
    subscribers: Subscribers,
}

impl RelayedSource {
    /// A source of the API `encoded_schema` describes, with the far source's `values`
    /// (encoded with `encoding`), answering through `upstream`.
    pub(crate) fn new(
        signature: u64,
        encoded_schema: Bytes,
        encoding: Encoding,
        values: Vec<Bytes>,
        upstream: Arc<dyn Upstream>,
    ) -> Result<RelayedSource, String> {
        let schema: ApiSchema = Encoding::Bincode
            .decode(&encoded_schema)
            .map_err(|e| format!("the far source's description does not decode: {e}"))?;
        schema.check()?;
        if !schema.children.is_empty() {
            return Err("a proxy cannot relay a source with sub-objects yet".into());
        }
        if schema.properties.len() != values.len() {
            return Err("the far source's values do not match its description".into());
        }
        Ok(RelayedSource {
            shared: Arc::new(Shared {
                signature,
                encoded_schema,
                schema,
                encoding,
                upstream,
                state: Mutex::new(State {
                    values,
                    subscribers: Subscribers::default(),
                }),
            }),
        })
    }

    /// The API's name.
    pub(crate) fn api(&self) -> &str {
        &self.shared.schema.api
    }

    pub(crate) fn signature(&self) -> u64 {
        self.shared.signature
    }

    fn state(&self) -> MutexGuard<'_, State> {
        // Every critical section assigns whole values.
        self.shared.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Property `index` changed to `value` at the far source: passed on as it is.
    pub(crate) fn change(&self, index: u16, value: Bytes) -> Result<(), Error> {
        let mut guard = self.state();
        let state = &mut *guard;
        let Some(cached) = state.values.get_mut(usize::from(index)) else {
            return Ok(()); // the replica checked the index against the same description
        };
        state
            .subscribers
            .publish_property(index, cached, |buf| {
                buf.put_slice(&value);
                Ok(())
            })
            .map(drop)
    }

    /// The far source emitted signal `index` with `args`: passed on as they are.
    pub(crate) fn signal(&self, index: u16, args: &[u8]) -> Result<(), Error> {
        self.state().subscribers.publish_signal(index, |buf| {
            buf.put_slice(args);
            Ok(())
        })
    }

    /// The far source re-initialized (after a reconnect) with `values`: each that differs is
    /// passed on as a change.
    pub(crate) fn reinit(&self, values: Vec<Bytes>) -> Result<(), Error> {
        for (index, value) in values.into_iter().enumerate() {
            let index = u16::try_from(index).unwrap_or(u16::MAX);
            self.change(index, value)?;
        }
        Ok(())
    }

    /// The untyped view a host serves.
    pub(crate) fn hub(&self) -> Arc<dyn SourceHub> {
        Arc::new(self.clone())
    }
}

impl SourceHub for RelayedSource {
    fn subscribe(
        &self,
        name: &str,
        source: SourceId,
        outbox: &Outbox,
        schema: Option<&Bytes>,
    ) -> Result<(), Error> {
        let mut guard = self.state();
        let state = &mut *guard;
        let header = InitHeader {
            name,
            source,
            signature: self.shared.signature,
            schema,
        };
        state
            .subscribers
            .subscribe(header, &state.values, &[], outbox);
        Ok(())
    }

    fn schema(&self) -> Result<Bytes, String> {
        Ok(self.shared.encoded_schema.clone())
    }

    fn unsubscribe(&self, conn: ConnId, source: Option<SourceId>) {
        self.state().subscribers.unsubscribe(conn, source);
    }

    fn unsubscribe_all(&self, source: SourceId) {
        self.state().subscribers.unsubscribe_all(source);
    }

    fn set_from_remote(
        &self,
        index: u16,
        value: &[u8],
        enc: Encoding,
    ) -> Result<Option<WriteFuture>, String> {
        if enc != self.shared.encoding {
            return Err("a write in another encoding than the far source's".into());
        }
        // Answered once the far source applied it (its change relayed first).
        Ok(Some(
            self.shared
                .upstream
                .write(index, Bytes::copy_from_slice(value)),
        ))
    }

    fn invoke(
        &self,
        slot: u16,
        args: &[u8],
        enc: Encoding,
        _caller: &Caller<'_>,
    ) -> Result<SlotFuture, String> {
        if enc != self.shared.encoding {
            return Err("a call in another encoding than the far source's".into());
        }
        if usize::from(slot) >= self.shared.schema.slots.len() {
            return Err(format!("no slot has index {slot}"));
        }
        Ok(self
            .shared
            .upstream
            .call(slot, Bytes::copy_from_slice(args)))
    }

    fn subscriber_count(&self) -> usize {
        self.state().subscribers.len()
    }

    fn subscriber_counts(&self) -> tokio::sync::watch::Receiver<usize> {
        self.state().subscribers.counts()
    }

    fn slot_name(&self, index: u16) -> Option<&str> {
        let slot = self.shared.schema.slots.get(usize::from(index));
        slot.map(|s| s.name.as_str())
    }

    fn property_name(&self, index: u16) -> Option<&str> {
        let property = self.shared.schema.properties.get(usize::from(index));
        property.map(|p| p.name.as_str())
    }
}
