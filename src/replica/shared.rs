//! The typed state every handle of one replica shares: the decoded property cache, the
//! core state machine, the subscribers, and the state watch.

use std::sync::{Arc, Mutex, MutexGuard};

use actix::Recipient;
use bytes::Bytes;
use tracing::{debug, error, warn};

use super::delivery::{Delivery, QueueReceiver, QueueSender};
use super::state_cell::StateCell;
use super::{Event, ReplicaState, StateChanged};
use crate::api::{ChildVisitor, RemoteObject, SignalType};
use crate::error::SlotError;
use crate::outbox::{ConnId, Outbox};
use crate::persist::{PersistQueue, PersistedValues};
pub(crate) use crate::proto::node::{
    init_children, ChildTree, InitOutcome, PendingReply, ReplicaEntry, ReplicaProtocolError, Update,
};
use crate::proto::replica::{InitRefused, Offered, ReplicaCore, Transition};
use crate::shared_bytes::decoding_from;
use crate::values::diff::first_difference;
use crate::values::ApiSchema;
use crate::wire::{Encoding, Packet, SourceId};

/// What differs between API `A` and the source's description `schema` (bincode, as a host
/// sends it; empty when it could not describe the source), in words.
fn describe_mismatch<A: RemoteObject>(schema: &[u8]) -> Option<String> {
    if schema.is_empty() {
        return None;
    }
    let theirs = match Encoding::Bincode.decode::<ApiSchema>(schema) {
        Ok(theirs) => theirs,
        Err(error) => return Some(format!("the source's description does not decode: {error}")),
    };
    let ours = A::schema().ok()?;
    first_difference(&ours, &theirs)
        .or_else(|| Some("the APIs differ in a way their descriptions do not show".to_owned()))
}

/// Where a replica's source is: a link through a connection's outbox.
pub(crate) type Link = crate::proto::node::Link<Outbox>;

/// Delivers one signal to a per-signal-type subscriber; false once the subscriber is gone.
pub(crate) type SignalDelivery<S> = Box<dyn Fn(&S) -> bool + Send>;

/// Makes a per-signal-type subscription: converts each signal and queues it for `to`.
pub(crate) fn typed_signal_delivery<S: SignalType>(
    to: QueueSender<S>,
) -> SignalDelivery<<S::Api as RemoteObject>::Signal> {
    Box::new(move |signal| match S::from_signal(signal) {
        Some(s) => to.push_event(s),
        None => true,
    })
}

/// Sends a slot call on the core's link, registering `complete` for its reply. Without a
/// live link nothing is sent and `complete` is handed back, to be failed with `NotConnected`
/// once the caller has released its lock.
pub(crate) fn invoke(
    core: &mut ReplicaCore<Link, PendingReply>,
    slot: u16,
    args: Bytes,
    complete: PendingReply,
) -> Option<PendingReply> {
    send_tracked(core, complete, |source, serial| Packet::Invoke {
        source,
        slot,
        serial,
        args,
    })
}

/// Fails calls (and writes) whose source went away before they were answered. Called
/// outside the replica's lock: a completion may run the caller's continuation.
pub(crate) fn lose_calls(pending: Vec<PendingReply>) {
    for complete in pending {
        complete(Err(SlotError::ConnectionLost));
    }
}

/// Sends a write of property `index` that `complete` hears the outcome of: `Ok` once the
/// host applied it (its change, if any, came first), `Err` with the host's or source's
/// refusal. Without a live link, `complete` is handed back as for [`invoke`].
pub(crate) fn write(
    core: &mut ReplicaCore<Link, PendingReply>,
    index: u16,
    value: Bytes,
    complete: PendingReply,
) -> Option<PendingReply> {
    send_tracked(core, complete, |source, serial| Packet::SetProperty {
        source,
        index,
        serial,
        value,
    })
}

/// Sends the packet `build` makes with a fresh serial, registering `complete` for its answer.
fn send_tracked(
    core: &mut ReplicaCore<Link, PendingReply>,
    complete: PendingReply,
    build: impl FnOnce(SourceId, u32) -> Packet,
) -> Option<PendingReply> {
    let (serial, link) = match core.begin_call(complete) {
        Ok(started) => started,
        Err(complete) => return Some(complete),
    };
    // Written once and dropped: cut from the thread's shared buffer.
    let frame = build(link.source, serial).to_transient_frame();
    if link.sink.push(frame) {
        None
    } else {
        core.complete_call(serial)
    }
}

pub(crate) struct ReplicaShared<A: RemoteObject> {
    pub(crate) name: Arc<str>,
    pub(crate) encoding: Encoding,
    /// Where subscriptions run and how much each holds.
    pub(crate) delivery: Delivery,
    /// The node's persisted store, if it has one and the API has persisted properties.
    persist: Option<Arc<PersistQueue>>,
    inner: Mutex<Inner<A>>,
    state: Arc<StateCell>,
}

struct Inner<A: RemoteObject> {
    core: ReplicaCore<Link, PendingReply>,
    props: A::Properties,
    subscribers: Subscribers<A>,
    /// The replica of each child member, made when the source first holds one there.
    children: Vec<Option<ChildSlot>>,
}

/// The replica of one child member.
struct ChildSlot {
    entry: Arc<dyn ReplicaEntry<Outbox>>,
    /// `(Arc<ReplicaShared<C>>, Arc<LazyActor<C>>)` for the child's API `C`.
    handles: Arc<dyn std::any::Any + Send + Sync>,
    /// Whether the source holds a child there now.
    present: bool,
}

/// Makes the replica of a child member, of whichever API the member has.
struct MakeChild {
    name: String,
    encoding: Encoding,
    persist: Option<Arc<PersistQueue>>,
    delivery: Delivery,
}

impl MakeChild {
    fn list_model<R: crate::adapter::ModelRow>(self, form: crate::adapter::Form) -> ChildSlot {
        let shared =
            super::model::ModelShared::<R>::new(self.name, self.encoding, self.delivery, form);
        ChildSlot {
            entry: shared.clone(),
            handles: Arc::new(shared),
            present: false,
        }
    }
}

impl ChildVisitor for MakeChild {
    type Output = ChildSlot;
    fn visit<C: RemoteObject>(self) -> ChildSlot {
        let arbiter = self.delivery.arbiter.clone();
        let shared =
            ReplicaShared::<C>::new(self.name.into(), self.encoding, self.persist, self.delivery);
        let actor = super::LazyActor::new(Arc::clone(&shared), arbiter);
        ChildSlot {
            entry: shared.clone(),
            handles: Arc::new((shared, actor)),
            present: false,
        }
    }
    fn visit_model<R: crate::adapter::ModelRow>(self) -> ChildSlot {
        self.list_model::<R>(crate::adapter::Form::List)
    }
    fn visit_table<R: crate::adapter::ModelRow>(self) -> ChildSlot {
        self.list_model::<R>(crate::adapter::Form::Table)
    }
    fn visit_tree<R: crate::adapter::ModelRow>(self) -> ChildSlot {
        let shared = super::tree::TreeShared::<R>::new(self.name, self.encoding, self.delivery);
        ChildSlot {
            entry: shared.clone(),
            handles: Arc::new(shared),
            present: false,
        }
    }
}

/// Who listens to a replica. Most replicas of a node with many have no one: they hold a
/// pointer's worth for it, and the lists are made on the first subscription.
struct Subscribers<A: RemoteObject>(Option<Box<Lists<A>>>);

/// Each subscriber reads from a bounded queue of its own (see [`super::delivery`]).
struct Lists<A: RemoteObject> {
    properties: Vec<QueueSender<A::PropertyChange>>,
    signals: Vec<QueueSender<A::Signal>>,
    /// Per-signal-type subscriptions: each converts and delivers, false once dead.
    typed_signals: Vec<SignalDelivery<A::Signal>>,
    states: Vec<QueueSender<StateChanged>>,
    streams: Vec<QueueSender<Event<A>>>,
}

impl<A: RemoteObject> ReplicaShared<A> {
    pub(crate) fn new(
        name: Arc<str>,
        encoding: Encoding,
        persist: Option<Arc<PersistQueue>>,
        delivery: Delivery,
    ) -> Arc<Self> {
        let persist = persist.filter(|_| A::PROPERTIES.iter().any(|p| p.persisted));
        let mut props = A::Properties::default();
        let mut values = A::encode_properties(&props, encoding).unwrap_or_else(|error| {
            // Without encoded defaults every value counts as changed at init: harmless.
            error!(api = A::NAME, %error, "cannot encode the default property values");
            vec![Bytes::new(); A::PROPERTIES.len()]
        });
        if let Some(queue) = &persist {
            if let Some((restored, restored_values)) =
                restore::<A>(&name, encoding, queue, &props, &values)
            {
                props = restored;
                values = restored_values;
            }
        }
        let core = ReplicaCore::new(A::signature(), values, ReplicaState::Default);
        let subscribers = Subscribers(None);
        let state = StateCell::new(ReplicaState::Default);
        let inner = Mutex::new(Inner {
            core,
            props,
            subscribers,
            children: (0..A::CHILDREN.len()).map(|_| None).collect(),
        });
        Arc::new(ReplicaShared {
            name,
            encoding,
            delivery,
            persist,
            inner,
            state,
        })
    }

    /// Queues a save of the persisted properties as the replica shows them now.
    fn save_persisted(&self, inner: &Inner<A>) {
        let Some(queue) = &self.persist else { return };
        let values = A::PROPERTIES
            .iter()
            .enumerate()
            .filter(|(_, p)| p.persisted)
            .filter_map(|(i, _)| {
                inner
                    .core
                    .values()
                    .get(i)
                    .map(|v| (i as u16, v.as_slice().to_vec()))
            })
            .collect();
        let saved = PersistedValues {
            api: A::NAME.to_owned(),
            signature: A::signature(),
            encoding: self.encoding.name().to_owned(),
            values,
        };
        queue.save(&self.name, saved);
    }

    fn lock(&self) -> MutexGuard<'_, Inner<A>> {
        // Updates under this lock are single assignments after all decoding succeeded.
        self.inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub(crate) fn state(&self) -> ReplicaState {
        self.state.get()
    }

    pub(crate) fn state_cell(&self) -> &Arc<StateCell> {
        &self.state
    }

    pub(crate) fn remote_signature(&self) -> Option<u64> {
        self.lock().core.remote_signature()
    }

    pub(crate) fn mismatch_difference(&self) -> Option<String> {
        self.lock().core.mismatch_difference().map(str::to_owned)
    }

    /// Puts the replica in `SignatureMismatch` for good, for `reason`, without a source (its
    /// name is held by a replica of another API on this node).
    pub(crate) fn mismatch_now(&self, reason: String) {
        let mut inner = self.lock();
        inner.core.on_offered(!A::signature());
        let transition = inner.core.mismatch(Some(reason));
        self.notify_state(&mut inner, transition);
    }

    pub(crate) fn refusal(&self) -> Option<String> {
        self.lock().core.refusal().map(str::to_owned)
    }

    /// The replica of child member `index`, if the source holds a child there (and it is
    /// of API `C`).
    #[allow(clippy::type_complexity)]
    pub(crate) fn child<C: RemoteObject>(
        &self,
        index: u16,
    ) -> Option<(Arc<ReplicaShared<C>>, Arc<super::LazyActor<C>>)> {
        let inner = self.lock();
        let slot = inner.children.get(usize::from(index))?.as_ref()?;
        if !slot.present {
            return None;
        }
        slot.handles
            .downcast_ref::<(Arc<ReplicaShared<C>>, Arc<super::LazyActor<C>>)>()
            .cloned()
    }

    /// The replica of model member `index`, if the source's init brought it (and its rows
    /// are `R`).
    pub(crate) fn model<R: crate::adapter::ModelRow>(
        &self,
        index: u16,
    ) -> Option<Arc<super::model::ModelShared<R>>> {
        self.model_at(index)
    }

    /// The replica of tree model member `index`, as [`ReplicaShared::model`].
    pub(crate) fn tree<R: crate::adapter::ModelRow>(
        &self,
        index: u16,
    ) -> Option<Arc<super::tree::TreeShared<R>>> {
        self.model_at(index)
    }

    fn model_at<M: Clone + 'static>(&self, index: u16) -> Option<M> {
        let inner = self.lock();
        let slot = inner.children.get(usize::from(index))?.as_ref()?;
        if !slot.present {
            return None;
        }
        slot.handles.downcast_ref::<M>().cloned()
    }

    /// The replica of child member `index`, made now if it was not yet.
    fn child_entry(
        &self,
        inner: &mut Inner<A>,
        index: u16,
    ) -> Option<Arc<dyn ReplicaEntry<Outbox>>> {
        let slot = inner.children.get_mut(usize::from(index))?;
        if slot.is_none() {
            let member = A::CHILDREN.get(usize::from(index))?;
            let make = MakeChild {
                name: format!("{}.{}", self.name, member.name),
                encoding: self.encoding,
                persist: self.persist.clone(),
                delivery: self.delivery.clone(),
            };
            *slot = A::visit_child(index, make);
        }
        slot.as_ref().map(|s| Arc::clone(&s.entry))
    }

    /// Initializes the children `tree` holds for this replica (at member `only`, or all),
    /// and records which members hold one.
    fn init_children(
        &self,
        inner: &mut Inner<A>,
        link: &Link,
        tree: &mut ChildTree<'_, Outbox>,
        only: Option<u16>,
    ) {
        let present = init_children(link, tree, A::CHILDREN.len(), only, |slot| {
            self.child_entry(inner, slot)
        });
        for (index, slot) in inner.children.iter_mut().enumerate() {
            if only.is_some_and(|only| usize::from(only) != index) {
                continue;
            }
            if let Some(slot) = slot {
                slot.present = present[index];
            }
        }
    }

    pub(crate) fn read<R>(&self, read: impl FnOnce(&A::Properties) -> R) -> R {
        read(&self.lock().props)
    }

    pub(crate) fn subscribe_properties(&self, to: Recipient<A::PropertyChange>) {
        let feed = self.delivery.feed(to);
        self.lock().subscribers.lists().properties.push(feed);
    }

    pub(crate) fn subscribe_signals(&self, to: Recipient<A::Signal>) {
        let feed = self.delivery.feed(to);
        self.lock().subscribers.lists().signals.push(feed);
    }

    pub(crate) fn subscribe_typed_signal(&self, deliver: SignalDelivery<A::Signal>) {
        self.lock().subscribers.lists().typed_signals.push(deliver);
    }

    pub(crate) fn subscribe_state(&self, to: Recipient<StateChanged>) {
        let feed = self.delivery.feed(to);
        self.lock().subscribers.lists().states.push(feed);
    }

    pub(crate) fn events(&self) -> QueueReceiver<Event<A>> {
        let (tx, rx) = self.delivery.stream();
        self.lock().subscribers.lists().streams.push(tx);
        rx
    }

    /// Sends a slot call if the source is live; `complete` gets the reply. Without a live
    /// source it is called at once with `NotConnected`.
    pub(crate) fn start_call(&self, slot: u16, args: Bytes, complete: PendingReply) {
        let refused = invoke(&mut self.lock().core, slot, args, complete);
        // Outside the lock: a completion runs the caller's continuation.
        if let Some(complete) = refused {
            complete(Err(SlotError::NotConnected));
        }
    }

    /// Sends a one-way slot call (no reply on the wire) if the source is live; false if it
    /// is not, and the call is dropped.
    pub(crate) fn send_one_way(&self, slot: u16, args: Bytes) -> bool {
        let inner = self.lock();
        let Some(link) = inner.core.link() else {
            return false;
        };
        link.sink.push(
            Packet::Invoke {
                source: link.source,
                slot,
                serial: crate::wire::NO_REPLY,
                args,
            }
            .to_frame(),
        )
    }

    /// Sends a request to set a read-write property.
    pub(crate) fn send_set_property(&self, index: u16, value: Bytes) -> bool {
        let inner = self.lock();
        let Some(link) = inner.core.link() else {
            return false;
        };
        link.sink.push(
            Packet::SetProperty {
                source: link.source,
                index,
                serial: crate::wire::NO_REPLY,
                value,
            }
            .to_frame(),
        )
    }

    /// Writes a read-write property; `complete` hears whether the host applied it.
    pub(crate) fn start_write(&self, index: u16, value: Bytes, complete: PendingReply) {
        let refused = write(&mut self.lock().core, index, value, complete);
        if let Some(complete) = refused {
            complete(Err(SlotError::NotConnected));
        }
    }

    fn notify_state(&self, inner: &mut Inner<A>, transition: Transition) {
        let Some((old, new)) = transition else { return };
        debug!(replica = %self.name, ?old, ?new, "replica state changed");
        self.state.set(new);
        let change = StateChanged { old, new };
        inner.subscribers.state_changed(change);
    }
}

impl<A: RemoteObject> ReplicaShared<A> {
    /// Applies a change of property `index` to the values `inner` holds; returns it if
    /// it changed the value and anyone listens for changes.
    fn change(
        &self,
        inner: &mut Inner<A>,
        index: u16,
        value: &Bytes,
    ) -> Result<Option<A::PropertyChange>, ReplicaProtocolError> {
        let out_of_range = || ReplicaProtocolError::OutOfRange {
            name: self.name.to_string(),
            what: "property",
            index,
        };
        if !inner.core.has_property(index) {
            return Err(out_of_range());
        }
        let change = A::decode_property(index, value, self.encoding)
            .ok_or_else(out_of_range)?
            .map_err(|error| {
                ReplicaProtocolError::bad_value(&self.name, "property value", error)
            })?;
        if !inner.core.commit_change(index, value) {
            return Ok(None);
        }
        let told = if inner.subscribers.want_property_changes() {
            A::apply_change(&mut inner.props, change.clone());
            Some(change)
        } else {
            A::apply_change(&mut inner.props, change);
            None
        };
        if is_persisted::<A>(index) {
            self.save_persisted(inner);
        }
        Ok(told)
    }

    /// Decodes signal `index`.
    fn signal(&self, index: u16, args: &[u8]) -> Result<A::Signal, ReplicaProtocolError> {
        A::decode_signal(index, args, self.encoding)
            .ok_or_else(|| ReplicaProtocolError::OutOfRange {
                name: self.name.to_string(),
                what: "signal",
                index,
            })?
            .map_err(|error| ReplicaProtocolError::bad_value(&self.name, "signal", error))
    }
}

impl<A: RemoteObject> Subscribers<A> {
    /// The lists, made now if this is the first subscription.
    fn lists(&mut self) -> &mut Lists<A> {
        self.0.get_or_insert_with(|| {
            Box::new(Lists {
                properties: Vec::new(),
                signals: Vec::new(),
                typed_signals: Vec::new(),
                states: Vec::new(),
                streams: Vec::new(),
            })
        })
    }

    /// Whether anyone listens to property changes: if not, no change value is built (a
    /// large property would otherwise be copied for nobody).
    fn want_property_changes(&self) -> bool {
        self.0
            .as_ref()
            .is_some_and(|l| !l.properties.is_empty() || !l.streams.is_empty())
    }

    fn property_changed(&mut self, index: u16, change: A::PropertyChange) {
        if let Some(lists) = &mut self.0 {
            lists.property_changed(index, change);
        }
    }

    fn signal(&mut self, signal: A::Signal) {
        if let Some(lists) = &mut self.0 {
            lists.signal(signal);
        }
    }

    fn state_changed(&mut self, change: StateChanged) {
        if let Some(lists) = &mut self.0 {
            // State changes coalesce (the latest wins) only for a recipient far behind.
            lists.states.retain(|r| r.push_value(0, change));
        }
    }

    /// Tells every event stream what `event` makes.
    fn stream_event(&mut self, event: impl Fn() -> Event<A>) {
        if let Some(lists) = &mut self.0 {
            lists.streams.retain(|s| s.push_event(event()));
        }
    }
}

impl<A: RemoteObject> Lists<A> {
    fn property_changed(&mut self, index: u16, change: A::PropertyChange) {
        self.properties
            .retain(|r| r.push_value(index, change.clone()));
        self.streams
            .retain(|s| s.push_value(index, Event::PropertyChanged(change.clone())));
    }

    fn signal(&mut self, signal: A::Signal) {
        self.signals.retain(|r| r.push_event(signal.clone()));
        self.typed_signals.retain(|deliver| deliver(&signal));
        self.streams
            .retain(|s| s.push_event(Event::Signal(signal.clone())));
    }
}

impl<A: RemoteObject> ReplicaEntry<Outbox> for ReplicaShared<A> {
    fn signature(&self) -> u64 {
        A::signature()
    }

    fn link(&self) -> Option<(ConnId, SourceId)> {
        self.lock().core.link().map(|l| (l.conn, l.source))
    }

    fn on_offered(&self, signature: u64) -> Offered {
        self.lock().core.on_offered(signature)
    }

    fn on_description(&self, schema: &[u8]) {
        let mut inner = self.lock();
        if !inner.core.mismatch_pending() {
            return;
        }
        let difference = describe_mismatch::<A>(schema);
        error!(api = A::NAME, replica = %self.name, local = A::signature(),
            remote = inner.core.remote_signature().unwrap_or_default(),
            difference = difference.as_deref().unwrap_or("unknown"),
            "API signature mismatch: the replica will not use this source");
        let transition = inner.core.mismatch(difference);
        self.notify_state(&mut inner, transition);
    }

    fn on_init(
        &self,
        link: Link,
        signature: u64,
        values: Vec<Bytes>,
        _schema: Option<&Bytes>,
        children: &mut ChildTree<'_, Outbox>,
    ) -> Result<InitOutcome, ReplicaProtocolError> {
        let mut inner = self.lock();
        if let Err((refused, transition)) = inner.core.check_init(signature, values.len()) {
            if let InitRefused::SignatureMismatch { local, remote } = refused {
                error!(api = A::NAME, replica = %self.name, local, remote,
                    "API signature mismatch: the replica will not use this source");
                self.notify_state(&mut inner, transition);
                return Ok(InitOutcome::SignatureMismatch);
            }
            return Err(ReplicaProtocolError::Init {
                name: self.name.to_string(),
                refused,
            });
        }
        // Decode everything first: a replica never shows half an init (contract item 2).
        let props = decoding_from(&values, || A::decode_properties(&values, self.encoding))
            .map_err(|error| ReplicaProtocolError::bad_value(&self.name, "init", error))?;
        // The children first: a replica that is `Valid` shows them (contract item 2).
        self.init_children(&mut inner, &link, children, None);
        let applied = inner.core.commit_init(link, values);
        inner.props = props;
        if applied.changed.iter().any(|&i| is_persisted::<A>(i)) {
            self.save_persisted(&inner);
        }
        if inner.subscribers.want_property_changes() {
            for index in applied.changed {
                if let Some(change) = A::property_change(&inner.props, index) {
                    inner.subscribers.property_changed(index, change);
                }
            }
        }
        self.notify_state(&mut inner, applied.transition);
        Ok(InitOutcome::Applied)
    }

    fn on_child_change(&self, link: Link, slot: u16, children: &mut ChildTree<'_, Outbox>) {
        let mut inner = self.lock();
        self.init_children(&mut inner, &link, children, Some(slot));
        if let Some(member) = A::CHILDREN.get(usize::from(slot)) {
            let event = || Event::ChildChanged { child: member.name };
            inner.subscribers.stream_event(event);
        }
    }

    fn on_property_change(&self, index: u16, value: &Bytes) -> Result<(), ReplicaProtocolError> {
        let mut inner = self.lock();
        if let Some(change) = self.change(&mut inner, index, value)? {
            inner.subscribers.property_changed(index, change);
        }
        Ok(())
    }

    fn on_signal(&self, index: u16, args: &[u8]) -> Result<(), ReplicaProtocolError> {
        let signal = self.signal(index, args)?;
        self.lock().subscribers.signal(signal);
        Ok(())
    }

    /// One lock for the whole run.
    fn on_updates(
        &self,
        updates: &[Update],
        bad: &mut dyn FnMut(ReplicaProtocolError),
    ) -> Result<(), ReplicaProtocolError> {
        let mut inner = self.lock();
        for update in updates {
            let applied = match update.signal {
                true => self
                    .signal(update.index, &update.value)
                    .map(|signal| inner.subscribers.signal(signal)),
                false => self
                    .change(&mut inner, update.index, &update.value)
                    .map(|change| {
                        if let Some(change) = change {
                            inner.subscribers.property_changed(update.index, change);
                        }
                    }),
            };
            match applied {
                Err(error) if error.is_bad_value() => bad(error),
                other => other?,
            }
        }
        Ok(())
    }

    fn take_pending(&self, serial: u32) -> Option<PendingReply> {
        self.lock().core.complete_call(serial)
    }

    fn persist(&self) {
        if self.persist.is_some() {
            self.save_persisted(&self.lock());
        }
    }

    fn on_refused(&self, reason: &str) {
        let mut inner = self.lock();
        let transition = inner.core.on_refused(reason.to_owned());
        self.notify_state(&mut inner, transition);
    }

    fn on_write_refused(&self, index: u16, reason: &str) {
        let Some(info) = A::PROPERTIES.get(usize::from(index)) else {
            return;
        };
        warn!(replica = %self.name, property = info.name, %reason, "the host refused a write");
        let event = || Event::WriteRefused {
            property: info.name,
            reason: reason.to_owned(),
        };
        self.lock().subscribers.stream_event(event);
    }

    fn on_link_lost(&self) {
        let mut inner = self.lock();
        let (pending, transition) = inner.core.on_link_lost();
        self.notify_state(&mut inner, transition);
        drop(inner);
        // Outside the lock: a completion may run user code (a caller's continuation).
        lose_calls(pending);
    }

    fn on_failed(&self, reason: &str) {
        let mut inner = self.lock();
        let (pending, transition) = inner.core.fail(reason.to_owned());
        error!(api = A::NAME, replica = %self.name, %reason,
            "the source sent what this replica cannot hold; it lets go of the source");
        self.notify_state(&mut inner, transition);
        drop(inner);
        lose_calls(pending);
    }
}

fn is_persisted<A: RemoteObject>(index: u16) -> bool {
    A::PROPERTIES
        .get(usize::from(index))
        .is_some_and(|p| p.persisted)
}

/// The saved values of `name` applied over the defaults, or `None` (logged) if there are
/// none or they cannot be used: saved under another signature or encoding, or not decoding.
/// All or nothing, like an init.
fn restore<A: RemoteObject>(
    name: &str,
    encoding: Encoding,
    queue: &PersistQueue,
    defaults: &A::Properties,
    default_values: &[Bytes],
) -> Option<(A::Properties, Vec<Bytes>)> {
    let saved = match queue.load(name) {
        Ok(Some(saved)) => saved,
        Ok(None) => return None,
        Err(error) => {
            warn!(replica = %name, %error, "cannot load persisted properties; starting from the defaults");
            return None;
        }
    };
    if saved.signature != A::signature()
        || saved.api != A::NAME
        || saved.encoding != encoding.name()
    {
        warn!(
            replica = %name, api = A::NAME, saved_api = %saved.api, local = A::signature(), saved = saved.signature,
            "ignoring persisted properties saved under another API signature or encoding"
        );
        return None;
    }
    let mut props = defaults.clone();
    let mut values = default_values.to_vec();
    for (index, bytes) in saved.values {
        let slot = values
            .get_mut(usize::from(index))
            .filter(|_| is_persisted::<A>(index));
        let change = A::decode_property(index, &bytes, encoding);
        match (slot, change) {
            (Some(slot), Some(Ok(change))) => {
                A::apply_change(&mut props, change);
                *slot = Bytes::from(bytes);
            }
            (_, Some(Err(error))) => {
                warn!(replica = %name, index, %error, "a persisted value does not decode; starting from the defaults");
                return None;
            }
            _ => {
                warn!(replica = %name, index, "a persisted value names no persisted property; starting from the defaults");
                return None;
            }
        }
    }
    debug!(replica = %name, "starting from persisted values");
    Some((props, values))
}
