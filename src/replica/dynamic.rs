//! [`DynamicReplica`]: a replica with no compile-time types, driven by the API description
//! its host sends with the init.

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use actix::prelude::*;
use bytes::Bytes;
use futures::{Stream, StreamExt};
use tokio::sync::oneshot;

use crate::error::{Error, SlotError};
use crate::outbox::{ConnId, Outbox};
use crate::proto::node::{init_children, ChildTree};
use crate::proto::replica::{InitRefused, Offered, ReplicaCore, Transition};
use crate::replica::delivery::{Delivered, Delivery, QueueSender};
use crate::replica::shared::{
    invoke, lose_calls, InitOutcome, Link, PendingReply, ReplicaEntry, ReplicaProtocolError,
};
use crate::replica::state_cell::StateCell;
use crate::replica::{wait_until_valid, HandleToken, ReplicaState, StateChanged};
use crate::values::codec;
use crate::values::schema::{AccessFlag, ApiSchema};
use crate::values::value::Value;
pub use crate::values::DynamicError;
use crate::wire::{Encoding, Packet, SourceId};

/// A property change or signal seen by a [`DynamicReplica`], in the order the source made
/// them.
#[derive(Debug, Clone, PartialEq, Message)]
#[rtype(result = "()")]
#[non_exhaustive]
pub enum DynamicEvent {
    /// A property took a new value.
    PropertyChanged {
        /// The property.
        name: String,
        /// Its new value.
        value: Value,
    },
    /// A signal was emitted.
    Signal {
        /// The signal.
        name: String,
        /// Its arguments, by name, in order.
        args: Vec<(String, Value)>,
    },
    /// The consumer fell behind and this many signals were dropped (property values
    /// coalesce instead); see [`Replica::events`](crate::Replica::events) for the policy.
    Lagged {
        /// How many signals were lost.
        lost: u64,
    },
    /// A child member now holds another source, or none (see
    /// [`Event::ChildChanged`](crate::Event::ChildChanged)).
    ChildChanged {
        /// The member.
        child: String,
    },
    /// The host refused this replica's request to set a property; it keeps its value.
    WriteRefused {
        /// The property.
        property: String,
        /// The host's reason.
        reason: String,
    },
}

pub(crate) struct DynamicShared {
    name: String,
    encoding: Encoding,
    delivery: Delivery,
    inner: Mutex<Inner>,
    state: Arc<StateCell>,
}

struct Inner {
    core: ReplicaCore<Link, PendingReply>,
    schema: Option<Arc<ApiSchema>>,
    values: Vec<Value>,
    /// Every subscriber, recipient or stream, reads from a bounded queue of its own.
    subscribers: Vec<QueueSender<DynamicEvent>>,
    state_recipients: Vec<QueueSender<StateChanged>>,
    /// The replica of each child member the source held so far, by index.
    children: Vec<Option<DynamicChild>>,
}

/// The replica of one child member.
struct DynamicChild {
    shared: Arc<DynamicShared>,
    /// Whether the source holds a child there now.
    present: bool,
}

impl Inner {
    /// Delivers an event: a value of property `index`, or a signal with `None`.
    fn deliver(&mut self, index: Option<u16>, event: DynamicEvent) {
        self.subscribers.retain(|s| match index {
            Some(index) => s.push_value(index, event.clone()),
            None => s.push_event(event.clone()),
        });
    }
}

impl DynamicShared {
    pub(crate) fn new(name: String, encoding: Encoding, delivery: Delivery) -> Arc<DynamicShared> {
        let inner = Inner {
            core: ReplicaCore::new(0, Vec::new(), ReplicaState::Uninitialized),
            schema: None,
            values: Vec::new(),
            subscribers: Vec::new(),
            state_recipients: Vec::new(),
            children: Vec::new(),
        };
        let state = StateCell::new(ReplicaState::Uninitialized);
        Arc::new(DynamicShared {
            name,
            encoding,
            delivery,
            inner: Mutex::new(inner),
            state,
        })
    }

    /// The replica of a child whose API (`schema`) came with its parent's.
    fn child(name: String, encoding: Encoding, delivery: Delivery, schema: ApiSchema) -> Arc<Self> {
        let shared = DynamicShared::new(name, encoding, delivery);
        {
            let mut inner = shared.lock();
            let count = schema.properties.len();
            inner.core = ReplicaCore::new(
                schema.signature,
                vec![Bytes::new(); count],
                ReplicaState::Uninitialized,
            );
            inner.schema = Some(Arc::new(schema));
        }
        shared
    }

    /// The replica of child member `index` of `schema`, made now if it was not yet.
    fn child_entry(
        &self,
        inner: &mut Inner,
        schema: &ApiSchema,
        index: u16,
    ) -> Option<Arc<dyn ReplicaEntry<Outbox>>> {
        let member = schema.children.get(usize::from(index))?;
        if inner.children.len() < schema.children.len() {
            inner.children.resize_with(schema.children.len(), || None);
        }
        let slot = &mut inner.children[usize::from(index)];
        let child = slot.get_or_insert_with(|| DynamicChild {
            shared: DynamicShared::child(
                format!("{}.{}", self.name, member.name),
                self.encoding,
                self.delivery.clone(),
                member.api.clone(),
            ),
            present: false,
        });
        Some(child.shared.clone())
    }

    /// Initializes the children `tree` holds for this replica (at member `only`, or all).
    fn init_children(
        &self,
        inner: &mut Inner,
        schema: &ApiSchema,
        link: &Link,
        tree: &mut ChildTree<'_, Outbox>,
        only: Option<u16>,
    ) {
        let present = init_children(link, tree, schema.children.len(), only, |slot| {
            self.child_entry(inner, schema, slot)
        });
        for (index, child) in inner.children.iter_mut().enumerate() {
            if only.is_none_or(|only| usize::from(only) == index) {
                if let Some(child) = child {
                    child.present = present.get(index).copied().unwrap_or(false);
                }
            }
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // Updates under this lock are assignments after decoding succeeded.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn notify_state(&self, inner: &mut Inner, transition: Transition) {
        let Some((old, new)) = transition else { return };
        self.state.set(new);
        let change = StateChanged { old, new };
        inner.state_recipients.retain(|r| r.push_value(0, change));
    }

    fn protocol(&self, message: impl std::fmt::Display) -> ReplicaProtocolError {
        ReplicaProtocolError::Dynamic {
            name: self.name.clone(),
            message: message.to_string(),
        }
    }
}

impl ReplicaEntry<Outbox> for DynamicShared {
    fn signature(&self) -> u64 {
        self.lock().schema.as_ref().map_or(0, |s| s.signature)
    }

    fn link(&self) -> Option<(ConnId, SourceId)> {
        self.lock().core.link().map(|l| (l.conn, l.source))
    }

    /// A dynamic replica takes whatever API the source has.
    fn on_offered(&self, _signature: u64) -> Offered {
        // A dynamic replica takes the source's API as it comes: it never mismatches.
        match self.lock().core.link() {
            None => Offered::Acquire,
            Some(_) => Offered::Skip,
        }
    }

    fn wants_schema(&self) -> bool {
        self.lock().schema.is_none()
    }

    fn on_init(
        &self,
        link: Link,
        signature: u64,
        values: Vec<Bytes>,
        schema: Option<&Bytes>,
        children: &mut ChildTree<'_, Outbox>,
    ) -> Result<InitOutcome, ReplicaProtocolError> {
        let mut inner = self.lock();
        let schema = match schema {
            Some(bytes) => Arc::new(
                Encoding::Bincode
                    .decode::<ApiSchema>(bytes)
                    .map_err(|e| e.to_string())
                    .and_then(|schema| schema.check().map(|()| schema))
                    .map_err(|e| ReplicaProtocolError::bad_value(&self.name, "schema", e))?,
            ),
            None => match &inner.schema {
                Some(known) if known.signature == signature => Arc::clone(known),
                _ => return Ok(InitOutcome::NeedsSchema),
            },
        };
        if schema.signature != signature || schema.properties.len() != values.len() {
            let refused = InitRefused::WrongValueCount {
                expected: schema.properties.len(),
                found: values.len(),
            };
            return Err(ReplicaProtocolError::Init {
                name: self.name.clone(),
                refused,
            });
        }
        // Decode everything before showing anything (contract item 2).
        let decoded = values
            .iter()
            .zip(&schema.properties)
            .map(|(bytes, p)| codec::decode(bytes, &p.format, &schema.types, self.encoding))
            .collect::<Result<Vec<Value>, _>>()
            .map_err(|e| ReplicaProtocolError::bad_value(&self.name, "init", e))?;
        if inner
            .schema
            .as_ref()
            .is_none_or(|s| s.signature != signature)
        {
            // A first init, or the source's API changed while away: start over with it.
            let state = self.state.get();
            inner.core = ReplicaCore::new(signature, vec![Bytes::new(); values.len()], state);
        }
        inner.schema = Some(Arc::clone(&schema));
        if let Err((refused, _)) = inner.core.check_init(signature, values.len()) {
            return Err(ReplicaProtocolError::Init {
                name: self.name.clone(),
                refused,
            });
        }
        // The children first: a replica that is `Valid` shows them (contract item 2).
        self.init_children(&mut inner, &schema, &link, children, None);
        let applied = inner.core.commit_init(link, values);
        inner.values = decoded;
        for index in applied.changed {
            let i = usize::from(index);
            let event = DynamicEvent::PropertyChanged {
                name: schema.properties[i].name.clone(),
                value: inner.values[i].clone(),
            };
            inner.deliver(Some(index), event);
        }
        self.notify_state(&mut inner, applied.transition);
        Ok(InitOutcome::Applied)
    }

    fn on_child_change(&self, link: Link, slot: u16, children: &mut ChildTree<'_, Outbox>) {
        let mut inner = self.lock();
        let Some(schema) = inner.schema.clone() else {
            return;
        };
        self.init_children(&mut inner, &schema, &link, children, Some(slot));
        if let Some(member) = schema.children.get(usize::from(slot)) {
            let child = member.name.clone();
            inner.deliver(None, DynamicEvent::ChildChanged { child });
        }
    }

    fn on_property_change(&self, index: u16, value: &Bytes) -> Result<(), ReplicaProtocolError> {
        let mut inner = self.lock();
        let Some(schema) = inner.schema.clone() else {
            return Err(self.protocol("a change before the init"));
        };
        let Some(property) = schema.properties.get(usize::from(index)) else {
            return Err(ReplicaProtocolError::OutOfRange {
                name: self.name.clone(),
                what: "property",
                index,
            });
        };
        let decoded = codec::decode(value, &property.format, &schema.types, self.encoding)
            .map_err(|e| ReplicaProtocolError::bad_value(&self.name, "property value", e))?;
        if inner.core.commit_change(index, value) {
            inner.values[usize::from(index)] = decoded.clone();
            inner.deliver(
                Some(index),
                DynamicEvent::PropertyChanged {
                    name: property.name.clone(),
                    value: decoded,
                },
            );
        }
        Ok(())
    }

    fn on_signal(&self, index: u16, args: &[u8]) -> Result<(), ReplicaProtocolError> {
        let mut inner = self.lock();
        let Some(schema) = inner.schema.clone() else {
            return Err(self.protocol("a signal before the init"));
        };
        let Some(signal) = schema.signals.get(usize::from(index)) else {
            return Err(ReplicaProtocolError::OutOfRange {
                name: self.name.clone(),
                what: "signal",
                index,
            });
        };
        let args = codec::decode_args(args, &signal.args, &schema.types, self.encoding)
            .map_err(|e| ReplicaProtocolError::bad_value(&self.name, "signal", e))?;
        inner.deliver(
            None,
            DynamicEvent::Signal {
                name: signal.name.clone(),
                args,
            },
        );
        Ok(())
    }

    fn take_pending(&self, serial: u32) -> Option<PendingReply> {
        self.lock().core.complete_call(serial)
    }

    fn on_refused(&self, reason: &str) {
        let mut inner = self.lock();
        let transition = inner.core.on_refused(reason.to_owned());
        self.notify_state(&mut inner, transition);
    }

    fn on_write_refused(&self, index: u16, reason: &str) {
        let mut inner = self.lock();
        let Some(schema) = inner.schema.clone() else {
            return;
        };
        let Some(property) = schema.properties.get(usize::from(index)) else {
            return;
        };
        tracing::warn!(replica = %self.name, property = %property.name, %reason, "the host refused a write");
        let event = DynamicEvent::WriteRefused {
            property: property.name.clone(),
            reason: reason.to_owned(),
        };
        inner.deliver(None, event);
    }

    fn on_link_lost(&self) {
        let mut inner = self.lock();
        let (pending, transition) = inner.core.on_link_lost();
        self.notify_state(&mut inner, transition);
        drop(inner);
        lose_calls(pending);
    }

    fn on_failed(&self, reason: &str) {
        let mut inner = self.lock();
        let (pending, transition) = inner.core.fail(reason.to_owned());
        tracing::error!(replica = %self.name, %reason,
            "the source sent what this dynamic replica cannot hold; it lets go of the source");
        self.notify_state(&mut inner, transition);
        drop(inner);
        lose_calls(pending);
    }

    fn persist(&self) {}
}

/// A replica of a source whose API is known only at run time: properties, signals and slots
/// by name, values as [`Value`]s. `Uninitialized` until its host sends the source's values
/// and API description; then introspectable through [`DynamicReplica::schema`].
///
/// Handles are cheap to clone and share one replica; a dynamic and a typed replica of the
/// same source on one node share one subscription.
#[derive(Clone)]
pub struct DynamicReplica {
    shared: Arc<DynamicShared>,
    _token: Arc<HandleToken>,
}

impl std::fmt::Debug for DynamicReplica {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DynamicReplica")
            .field("name", &self.shared.name)
            .field("state", &self.state())
            .finish()
    }
}

impl DynamicReplica {
    pub(crate) fn new(shared: Arc<DynamicShared>, token: Arc<HandleToken>) -> DynamicReplica {
        DynamicReplica {
            shared,
            _token: token,
        }
    }

    /// The name the source is remoted under.
    pub fn source_name(&self) -> &str {
        &self.shared.name
    }

    /// The current state.
    pub fn state(&self) -> ReplicaState {
        self.shared.state.get()
    }

    /// Every state from now on (starting with the current one).
    pub fn state_changes(&self) -> impl Stream<Item = ReplicaState> + Unpin + Send + 'static {
        self.shared.state.stream()
    }

    /// Delivers every state change to `to`.
    pub fn subscribe_state(&self, to: Recipient<StateChanged>) {
        let feed = self.shared.delivery.feed(to);
        self.shared.lock().state_recipients.push(feed);
    }

    /// Waits until the replica is `Valid`; fails at once when the host refuses to serve it
    /// ([`Error::is_refused`]: a source it cannot describe, or its access policy), or after
    /// `timeout`.
    pub async fn wait_for_source(&self, timeout: Duration) -> Result<(), Error> {
        let refusal = || self.shared.lock().core.refusal().map(str::to_owned);
        // A dynamic replica takes any signature: it never mismatches.
        let mismatch = || Error::new(crate::error::Kind::NotConnected);
        let waited = wait_until_valid(
            &self.shared.name,
            &self.shared.state,
            timeout,
            refusal,
            mismatch,
        )
        .await;
        match waited {
            Err(error) if error.is_timeout() => Err(self._token.timed_out(timeout).await),
            other => other,
        }
    }

    /// The source's API, once initialized.
    pub fn schema(&self) -> Option<Arc<ApiSchema>> {
        self.shared.lock().schema.clone()
    }

    /// The replica of child member `name`: `None` until initialized, for a name the API's
    /// children do not have, and while the source holds none there. It shares this
    /// replica's subscription and keeps it.
    pub fn child(&self, name: &str) -> Option<DynamicReplica> {
        let inner = self.shared.lock();
        let schema = inner.schema.as_ref()?;
        let index = schema.children.iter().position(|c| c.name == name)?;
        let child = inner.children.get(index)?.as_ref()?;
        child.present.then(|| DynamicReplica {
            shared: Arc::clone(&child.shared),
            _token: Arc::clone(&self._token),
        })
    }

    /// A property's cached value (no round trip).
    pub fn property(&self, name: &str) -> Result<Value, DynamicError> {
        let inner = self.shared.lock();
        let schema = inner.schema.as_ref().ok_or(DynamicError::NotInitialized)?;
        let (index, _) = schema
            .property(name)
            .ok_or_else(|| DynamicError::UnknownProperty(name.to_owned()))?;
        Ok(inner.values[usize::from(index)].clone())
    }

    /// Every property's cached value, in index order.
    pub fn properties(&self) -> Result<Vec<(String, Value)>, DynamicError> {
        let inner = self.shared.lock();
        let schema = inner.schema.as_ref().ok_or(DynamicError::NotInitialized)?;
        Ok(schema
            .properties
            .iter()
            .map(|p| p.name.clone())
            .zip(inner.values.iter().cloned())
            .collect())
    }

    /// Calls slot `slot` with `args` and waits for its result. The arguments are checked
    /// against the slot's types first: nothing is sent if they do not fit.
    pub async fn call(&self, slot: &str, args: Vec<Value>) -> Result<Value, DynamicError> {
        let (schema, index, returns, bytes) = {
            let inner = self.shared.lock();
            let schema = inner.schema.clone().ok_or(DynamicError::NotInitialized)?;
            let (index, member) = schema
                .slot(slot)
                .ok_or_else(|| DynamicError::UnknownSlot(slot.to_owned()))?;
            if args.len() != member.args.len() {
                return Err(DynamicError::ArgumentCount {
                    slot: slot.to_owned(),
                    expected: member.args.len(),
                    found: args.len(),
                });
            }
            let bytes =
                codec::encode_args(&args, &member.args, &schema.types, self.shared.encoding)?;
            let returns = member.returns.clone();
            (schema, index, returns, bytes)
        };
        let (tx, rx) = oneshot::channel();
        let complete: PendingReply = Box::new(move |reply| {
            let _ = tx.send(reply);
        });
        self.start_call(index, Bytes::from(bytes), complete);
        let reply = rx.await.map_err(|_| SlotError::ConnectionLost)??;
        Ok(codec::decode(
            &reply,
            &returns,
            &schema.types,
            self.shared.encoding,
        )?)
    }

    fn start_call(&self, slot: u16, args: Bytes, complete: PendingReply) {
        let refused = invoke(&mut self.shared.lock().core, slot, args, complete);
        if let Some(complete) = refused {
            complete(Err(SlotError::NotConnected));
        }
    }

    /// Asks the source to set read-write property `name` to `value`; the change arrives like
    /// any other. The value is checked against the property's type first.
    pub fn set_property(&self, name: &str, value: &Value) -> Result<(), DynamicError> {
        let inner = self.shared.lock();
        let schema = inner.schema.clone().ok_or(DynamicError::NotInitialized)?;
        let (index, property) = schema
            .property(name)
            .ok_or_else(|| DynamicError::UnknownProperty(name.to_owned()))?;
        if property.access != AccessFlag::ReadWrite {
            return Err(DynamicError::NotWritable(name.to_owned()));
        }
        let bytes = codec::encode(value, &property.format, &schema.types, self.shared.encoding)?;
        let link = inner.core.link().ok_or(SlotError::NotConnected)?;
        let frame = Packet::SetProperty {
            source: link.source,
            index,
            serial: crate::wire::NO_REPLY,
            value: Bytes::from(bytes),
        }
        .to_frame();
        if link.sink.push(frame) {
            Ok(())
        } else {
            Err(SlotError::NotConnected.into())
        }
    }

    /// Every property change and signal from now on, in order; bounded as
    /// [`Replica::events`](crate::Replica::events) is, with [`DynamicEvent::Lagged`].
    pub fn events(&self) -> impl Stream<Item = DynamicEvent> + Unpin + Send + 'static {
        let (tx, rx) = self.shared.delivery.stream();
        self.shared.lock().subscribers.push(tx);
        rx.map(|delivered| match delivered {
            Delivered::Item(event) => event,
            Delivered::Lagged(lost) => DynamicEvent::Lagged { lost },
        })
    }

    /// Delivers every property change and signal to `to`, each once `to` handled the one
    /// before; bounded as [`DynamicReplica::events`] is.
    pub fn subscribe(&self, to: Recipient<DynamicEvent>) {
        let feed = self.shared.delivery.feed(to);
        self.shared.lock().subscribers.push(feed);
    }
}
