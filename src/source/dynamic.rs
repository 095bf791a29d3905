//! [`DynamicSource`]: a source whose API is an [`ApiSchema`] built at run time, its values
//! [`Value`]s, its slot calls and checked writes handled by a closure or an actor.
//!
//! It encodes values through the schema exactly as the typed code encodes them, and its
//! signature is the schema's structural signature, so a typed replica of a matching API
//! works against it byte for byte, as dynamic replicas and `aro` do.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};

use actix::{Message, Recipient};
use bytes::{Bytes, BytesMut};
use tracing::debug;

use super::fanout::{InitHeader, Subscribers};
use super::hosted::{Caller, SourceHub};
use crate::api::SlotFuture;
use crate::error::{Error, Kind, SlotError};
use crate::outbox::{ConnId, Outbox};
use crate::proto::WriteFuture;
use crate::values::codec;
use crate::values::schema::{AccessFlag, ApiSchema};
use crate::values::{DynamicError, Value};
use crate::wire::{Encoding, FailureKind, RemoteFailure, SourceId};

/// A slot call made on a [`DynamicSource`]: the slot's name and its named arguments, in
/// order, and the source itself (to change its properties or emit signals). Its handler
/// answers with the slot's result (`Value::Unit` for a slot without one) or refuses it with
/// [`SlotError::source`].
#[derive(Debug, Clone)]
pub struct DynamicCall {
    /// The slot's name.
    pub slot: String,
    /// Its arguments, by name, in declaration order.
    pub args: Vec<(String, Value)>,
    /// The source the call was made on.
    pub source: DynamicSource,
}

impl Message for DynamicCall {
    type Result = Result<Value, SlotError>;
}

/// A replica's write to a read-write property of a [`DynamicSource`] that checks its
/// writes. Its handler answers with the value to apply (the one asked for, or an adjusted
/// one) or refuses it with [`SlotError::source`]; every replica then sees the applied value.
#[derive(Debug, Clone, PartialEq)]
pub struct DynamicWrite {
    /// The property's name.
    pub property: String,
    /// The value the replica asked for.
    pub value: Value,
}

impl Message for DynamicWrite {
    type Result = Result<Value, SlotError>;
}

type Answer = Pin<Box<dyn Future<Output = Result<Value, SlotError>>>>;
type Handler<M> = Arc<dyn Fn(M) -> Answer + Send + Sync>;

/// A source described at run time: an [`ApiSchema`], the current value of each property,
/// and optionally a handler for slot calls and one that checks writes. Cheap to clone;
/// clones share the state. Serve it with [`Host::enable_remoting_dynamic`].
///
/// ```
/// use actix_remote_objects::dynamic::{ApiSchema, DynamicSource, Value};
/// use actix_remote_objects::SlotError;
///
/// let schema: ApiSchema = serde_json::from_str(r#"{
///     "api": "Counter",
///     "properties": [{ "name": "count", "format": "U32", "access": "ReadOnly" }],
///     "slots": [{ "name": "bump", "args": [{ "name": "by", "format": "U32" }],
///                 "returns": "U32" }]
/// }"#)?;
/// let counter = DynamicSource::new(schema)?.with_call_handler(|call| async move {
///     let Some((_, Value::UInt(by))) = call.args.first() else {
///         return Err(SlotError::source("bump takes a count"));
///     };
///     let count = match call.source.get("count")? { Value::UInt(n) => n, _ => 0 };
///     call.source.set("count", Value::UInt(count + by))?;
///     Ok(Value::UInt(count + by))
/// });
/// counter.set("count", Value::UInt(7))?;
/// assert_eq!(counter.get("count")?, Value::UInt(7));
/// // Serve it with `host.enable_remoting_dynamic(&counter).await?`.
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// [`Host::enable_remoting_dynamic`]: crate::Host::enable_remoting_dynamic
#[derive(Clone)]
pub struct DynamicSource {
    shared: Arc<Shared>,
}

struct Shared {
    /// Its `signature` is the structural one.
    schema: ApiSchema,
    /// `schema`, encoded for dynamic acquires.
    encoded_schema: Bytes,
    state: Mutex<State>,
    calls: Option<Handler<DynamicCall>>,
    writes: Option<Handler<DynamicWrite>>,
}

struct State {
    encoding: Encoding,
    values: Vec<Value>,
    /// `values` encoded with `encoding`.
    encoded: Vec<Bytes>,
    subscribers: Subscribers,
}

impl std::fmt::Debug for DynamicSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DynamicSource")
            .field("api", &self.shared.schema.api)
            .field("properties", &self.values())
            .finish_non_exhaustive()
    }
}

impl DynamicSource {
    /// A source of the API `schema` describes, every property at its type's default
    /// ([`ApiSchema::default_value`]). The schema's `signature` is replaced by its
    /// structural signature, which is what replicas check.
    pub fn new(mut schema: ApiSchema) -> Result<DynamicSource, DynamicError> {
        schema.check().map_err(DynamicError::InvalidSchema)?;
        if let Some(child) = schema.children.first() {
            // Refused rather than served without them: a replica would wait for a child
            // that never comes.
            return Err(DynamicError::InvalidSchema(format!(
                "child `{}`: a dynamic source cannot hold sub-objects",
                child.name
            )));
        }
        schema.signature = schema
            .structural_signature()
            .map_err(DynamicError::InvalidSchema)?;
        let values = schema
            .properties
            .iter()
            .map(|p| schema.default_value(&p.format))
            .collect::<Result<Vec<_>, _>>()
            .map_err(DynamicError::InvalidSchema)?;
        let encoding = Encoding::default();
        let encoded = encode_all(&schema, &values, encoding)?;
        let encoded_schema = Encoding::Bincode
            .encode(&schema)
            .map(Bytes::from)
            .map_err(|e| DynamicError::InvalidSchema(e.to_string()))?;
        let state = State {
            encoding,
            values,
            encoded,
            subscribers: Subscribers::default(),
        };
        Ok(DynamicSource {
            shared: Arc::new(Shared {
                schema,
                encoded_schema,
                state: Mutex::new(state),
                calls: None,
                writes: None,
            }),
        })
    }

    /// Handles slot calls with `handler`. Without a handler, every call is refused.
    /// Set before the source is served (it panics on a source already shared).
    pub fn with_call_handler<F, Fut>(self, handler: F) -> DynamicSource
    where
        F: Fn(DynamicCall) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<Value, SlotError>> + 'static,
    {
        let handler: Handler<DynamicCall> = Arc::new(move |call| Box::pin(handler(call)));
        self.configure(|shared| shared.calls = Some(handler))
    }

    /// Sends slot calls to an actor that handles [`DynamicCall`].
    pub fn with_call_recipient(self, recipient: Recipient<DynamicCall>) -> DynamicSource {
        self.configure(|shared| shared.calls = Some(through(recipient)))
    }

    /// Checks replicas' writes with `check`. Without one, a write to a read-write property
    /// is applied as it is.
    pub fn with_write_check<F, Fut>(self, check: F) -> DynamicSource
    where
        F: Fn(DynamicWrite) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<Value, SlotError>> + 'static,
    {
        let check: Handler<DynamicWrite> = Arc::new(move |write| Box::pin(check(write)));
        self.configure(|shared| shared.writes = Some(check))
    }

    /// Sends replicas' writes to an actor that handles [`DynamicWrite`].
    pub fn with_write_recipient(self, recipient: Recipient<DynamicWrite>) -> DynamicSource {
        self.configure(|shared| shared.writes = Some(through(recipient)))
    }

    fn configure(mut self, set: impl FnOnce(&mut Shared)) -> DynamicSource {
        match Arc::get_mut(&mut self.shared) {
            Some(shared) => set(shared),
            // A builder step on a clone that was already handed out: a programming error
            // caught at once, before anything was served with half a configuration.
            None => panic!("configure a DynamicSource before cloning or serving it"),
        }
        self
    }

    /// The API it serves, with its structural signature.
    pub fn schema(&self) -> &ApiSchema {
        &self.shared.schema
    }

    /// The current value of `property`.
    pub fn get(&self, property: &str) -> Result<Value, DynamicError> {
        let (index, _) = self.property(property)?;
        Ok(self.state().values[usize::from(index)].clone())
    }

    /// Every property's current value, by name, in index order.
    pub fn values(&self) -> Vec<(String, Value)> {
        let state = self.state();
        let names = self.shared.schema.properties.iter().map(|p| p.name.clone());
        names.zip(state.values.iter().cloned()).collect()
    }

    /// Sets `property` (of any access: the source owns its state) to `value`; replicas are
    /// told if its encoding changed. Returns whether it did; a value of the wrong shape
    /// changes nothing.
    pub fn set(&self, property: &str, value: Value) -> Result<bool, DynamicError> {
        let (index, _) = self.property(property)?;
        self.set_index(index, value)
    }

    fn set_index(&self, index: u16, value: Value) -> Result<bool, DynamicError> {
        let schema = &self.shared.schema;
        let format = &schema.properties[usize::from(index)].format;
        let mut guard = self.state();
        let state = &mut *guard;
        let bytes = codec::encode(&value, format, &schema.types, state.encoding)?;
        let changed = state.subscribers.publish_property(
            index,
            &mut state.encoded[usize::from(index)],
            |out: &mut BytesMut| {
                out.extend_from_slice(&bytes);
                Ok(())
            },
        );
        let changed = changed.map_err(|e| DynamicError::Value(encode_error(e)))?;
        if changed {
            state.values[usize::from(index)] = value;
        }
        Ok(changed)
    }

    /// Emits `signal` with `args`, one per argument in order, to every replica.
    pub fn emit(&self, signal: &str, args: Vec<Value>) -> Result<(), DynamicError> {
        let schema = &self.shared.schema;
        let Some((index, member)) = schema.signal(signal) else {
            return Err(DynamicError::UnknownSignal(signal.to_owned()));
        };
        if args.len() != member.args.len() {
            return Err(DynamicError::ArgumentCount {
                slot: signal.to_owned(),
                expected: member.args.len(),
                found: args.len(),
            });
        }
        let mut state = self.state();
        let bytes = codec::encode_args(&args, &member.args, &schema.types, state.encoding)?;
        state
            .subscribers
            .publish_signal(index, |out: &mut BytesMut| {
                out.extend_from_slice(&bytes);
                Ok(())
            })
            .map_err(|e| DynamicError::Value(encode_error(e)))
    }

    /// How many replica connections are subscribed, over every host it is remoted on.
    pub fn subscriber_count(&self) -> usize {
        self.state().subscribers.len()
    }

    fn property(&self, name: &str) -> Result<(u16, &crate::values::PropertySchema), DynamicError> {
        self.shared
            .schema
            .property(name)
            .ok_or_else(|| DynamicError::UnknownProperty(name.to_owned()))
    }

    fn state(&self) -> MutexGuard<'_, State> {
        // Every critical section assigns whole values: a panic cannot leave them torn.
        self.shared
            .state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Switches the value encoding (to the host's), re-encoding the values. Refused while
    /// replicas are subscribed with another one.
    pub(crate) fn use_encoding(&self, encoding: Encoding) -> Result<(), Error> {
        let mut state = self.state();
        if state.encoding == encoding {
            return Ok(());
        }
        if !state.subscribers.is_empty() {
            return Err(Error::new(Kind::EncodingInUse {
                api: self.shared.schema.api.clone(),
                current: state.encoding,
            }));
        }
        let encoded = encode_all(&self.shared.schema, &state.values, encoding)
            .map_err(|e| Error::new(Kind::InvalidValue(e.to_string())))?;
        state.encoding = encoding;
        state.encoded = encoded;
        Ok(())
    }

    /// The untyped view a host serves.
    pub(crate) fn hub(&self) -> Arc<dyn SourceHub> {
        Arc::new(self.clone())
    }

    /// A write decided by the write check: its answer applied, or its refusal.
    fn checked_write(
        &self,
        check: &Handler<DynamicWrite>,
        index: u16,
        value: Value,
    ) -> WriteFuture {
        let property = self.shared.schema.properties[usize::from(index)]
            .name
            .clone();
        let decision = check(DynamicWrite { property, value });
        let source = self.clone();
        Box::pin(async move {
            match decision.await {
                Ok(applied) => source
                    .set_index(index, applied)
                    .map(|_| ())
                    .map_err(|e| e.to_string()),
                Err(SlotError::Source(reason)) => Err(reason),
                Err(other) => Err(other.to_string()),
            }
        })
    }
}

/// A handler that sends each message to `recipient`.
fn through<M>(recipient: Recipient<M>) -> Handler<M>
where
    M: Message<Result = Result<Value, SlotError>> + Send + 'static,
{
    Arc::new(move |message| {
        let sent = recipient.send(message);
        Box::pin(async move {
            sent.await.unwrap_or_else(|_| {
                Err(SlotError::Rejected(
                    "the handling actor has stopped".to_owned(),
                ))
            })
        })
    })
}

fn encode_all(
    schema: &ApiSchema,
    values: &[Value],
    encoding: Encoding,
) -> Result<Vec<Bytes>, DynamicError> {
    schema
        .properties
        .iter()
        .zip(values)
        .map(|(p, v)| {
            codec::encode(v, &p.format, &schema.types, encoding)
                .map(Bytes::from)
                .map_err(DynamicError::from)
        })
        .collect()
}

fn encode_error(error: Error) -> codec::ValueError {
    codec::ValueError::Encode(error.to_string())
}

fn failure(kind: FailureKind, message: impl Into<String>) -> RemoteFailure {
    RemoteFailure {
        kind,
        message: message.into(),
    }
}

impl SourceHub for DynamicSource {
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
            signature: self.shared.schema.signature,
            schema,
        };
        state
            .subscribers
            .subscribe(header, &state.encoded, &[], outbox);
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
        let schema = &self.shared.schema;
        let Some(property) = schema.properties.get(usize::from(index)) else {
            return Err(format!("no property has index {index}"));
        };
        if property.access != AccessFlag::ReadWrite {
            return Err(DynamicError::NotWritable(property.name.clone()).to_string());
        }
        let value = codec::decode(value, &property.format, &schema.types, enc)
            .map_err(|e| e.to_string())?;
        match &self.shared.writes {
            Some(check) => Ok(Some(self.checked_write(check, index, value))),
            None => self
                .set_index(index, value)
                .map(|_| None)
                .map_err(|e| e.to_string()),
        }
    }

    fn invoke(
        &self,
        slot: u16,
        args: &[u8],
        enc: Encoding,
        _caller: &Caller<'_>,
    ) -> Result<SlotFuture, String> {
        let schema = &self.shared.schema;
        let Some(member) = schema.slots.get(usize::from(slot)) else {
            return Err(format!("no slot has index {slot}"));
        };
        let Some(handler) = &self.shared.calls else {
            return Err(format!("source {} handles no slot calls", schema.api));
        };
        let args = codec::decode_args(args, &member.args, &schema.types, enc)
            .map_err(|e| format!("arguments of slot {:?} do not decode: {e}", member.name))?;
        debug!(api = %schema.api, slot = %member.name, "dynamic slot call");
        let answer = handler(DynamicCall {
            slot: member.name.clone(),
            args,
            source: self.clone(),
        });
        let source = self.clone();
        Ok(Box::pin(async move {
            let schema = &source.shared.schema;
            let returns = &schema.slots[usize::from(slot)].returns;
            match answer.await {
                Ok(value) => codec::encode(&value, returns, &schema.types, enc)
                    .map(Bytes::from)
                    .map_err(|e| failure(FailureKind::Source, format!("the result: {e}"))),
                Err(SlotError::Source(reason)) => Err(failure(FailureKind::Source, reason)),
                Err(other) => Err(failure(FailureKind::Source, other.to_string())),
            }
        }))
    }

    fn subscriber_count(&self) -> usize {
        DynamicSource::subscriber_count(self)
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
