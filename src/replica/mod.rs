//! Replicas: typed proxies of a remote source.

mod actor;
pub(crate) mod delivery;
pub(crate) mod dynamic;
pub(crate) mod model;
pub(crate) mod relay;
pub(crate) mod shared;
pub(crate) mod state_cell;
pub(crate) mod tree;

pub(crate) use actor::LazyActor;
pub use actor::ReplicaActor;
pub use model::{ModelChange, ModelReplica};
pub use tree::{TreeChange, TreeReplica, TreeRow};

use std::ops::Deref;
use std::sync::Arc;
use std::time::Duration;

use actix::prelude::*;
use bytes::Bytes;
use futures::{Stream, StreamExt};
use serde::Serialize;

use crate::api::{Access, RemoteObject, SignalType, Slot};
use crate::error::{Error, Kind, SlotError, SlotResult};
use crate::outbox::Outbox;
use crate::proto::node::ReplicaEntry;
pub use crate::proto::replica::ReplicaState;
use shared::ReplicaShared;

/// A replica changed state; delivered to [`Replica::subscribe_state`] recipients.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Message)]
#[rtype(result = "()")]
pub struct StateChanged {
    /// The state before.
    pub old: ReplicaState,
    /// The state now.
    pub new: ReplicaState,
}

impl StateChanged {
    /// A re-initialization: the replica had a source, lost it, and is `Valid` again (as
    /// opposed to its first init).
    pub fn is_reinit(&self) -> bool {
        self.old == ReplicaState::Suspect && self.new == ReplicaState::Valid
    }
}

/// Waits until a replica's state is `Valid`; fails at once when it is `Refused` (with the
/// host's reason, from `refusal`) or `SignatureMismatch` (from `mismatch`), or after
/// `timeout`.
pub(crate) async fn wait_until_valid(
    name: &str,
    state: &state_cell::StateCell,
    timeout: Duration,
    refusal: impl Fn() -> Option<String>,
    mismatch: impl Fn() -> Error,
) -> Result<(), Error> {
    let settled = |s: ReplicaState| {
        matches!(
            s,
            ReplicaState::Valid | ReplicaState::SignatureMismatch | ReplicaState::Refused
        )
    };
    match crate::runtime::timeout(timeout, state.wait_for(settled)).await {
        None => Err(Error::new(Kind::Timeout(timeout))),
        Some(ReplicaState::SignatureMismatch) => Err(mismatch()),
        Some(ReplicaState::Refused) => Err(Error::new(Kind::Refused {
            name: name.to_owned(),
            reason: refusal().unwrap_or_default(),
        })),
        Some(_) => Ok(()),
    }
}

/// Everything a replica observes from its source, in the order the source produced it.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Event<A: RemoteObject> {
    /// A property took a new value.
    PropertyChanged(A::PropertyChange),
    /// The source emitted a signal.
    Signal(A::Signal),
    /// This stream fell behind (its consumer read slower than the source produced) and lost
    /// this many signals, which it cannot coalesce; property values coalesce instead (the
    /// latest wins), so none is lost for good. Comes just before the next event.
    Lagged(u64),
    /// A child member now holds another source (its replica re-initialized with that
    /// source's values) or none (`replica.<child>()` is `None`, and the replica handles
    /// of the old child are `Suspect`).
    ChildChanged {
        /// The member.
        child: &'static str,
    },
    /// The host refused this replica's request to set a read-write property (its access
    /// policy, or a value the source cannot take); the property keeps its value.
    WriteRefused {
        /// The property.
        property: &'static str,
        /// The host's reason.
        reason: String,
    },
}

/// A typed replica of a remote source with API `A`: reads come from a local cache, slot
/// messages are forwarded to the source, changes and signals are pushed to subscribers.
///
/// It dereferences to the [`Addr`] of its [`ReplicaActor`], so `replica.send(msg)` and
/// `replica.recipient()` work as for any actor. Handles are cheap to clone and share one
/// cache and one subscription; the subscription ends when the last handle is dropped.
pub struct Replica<A: RemoteObject> {
    shared: Arc<ReplicaShared<A>>,
    actor: Arc<LazyActor<A>>,
    _token: Arc<HandleToken>,
}

impl<A: RemoteObject> Clone for Replica<A> {
    fn clone(&self) -> Self {
        Replica {
            shared: Arc::clone(&self.shared),
            actor: Arc::clone(&self.actor),
            _token: Arc::clone(&self._token),
        }
    }
}

impl<A: RemoteObject> Deref for Replica<A> {
    type Target = Addr<ReplicaActor<A>>;
    fn deref(&self) -> &Self::Target {
        self.actor.addr()
    }
}

impl<A: RemoteObject> std::fmt::Debug for Replica<A> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Replica")
            .field("name", &self.shared.name)
            .field("state", &self.state())
            .finish()
    }
}

impl<A: RemoteObject> Replica<A> {
    pub(crate) fn new(
        shared: Arc<ReplicaShared<A>>,
        actor: Arc<LazyActor<A>>,
        token: Arc<HandleToken>,
    ) -> Self {
        Replica {
            shared,
            actor,
            _token: token,
        }
    }

    /// The name the source is remoted under.
    pub fn source_name(&self) -> &str {
        &self.shared.name
    }

    /// The replica actor's address.
    pub fn addr(&self) -> &Addr<ReplicaActor<A>> {
        self.actor.addr()
    }

    /// The current state.
    pub fn state(&self) -> ReplicaState {
        self.shared.state()
    }

    /// Every state from now on (starting with the current one). Fast transitions may be
    /// coalesced; subscribe with [`Replica::subscribe_state`] to see each one.
    pub fn state_changes(&self) -> impl Stream<Item = ReplicaState> + Unpin + Send + 'static {
        self.shared.state_cell().stream()
    }

    /// Waits until the replica is `Valid`. Fails at once on a signature mismatch
    /// ([`Error::is_signature_mismatch`]) or when the host refuses to serve it
    /// ([`Error::is_refused`], with the host's reason), or after `timeout`.
    pub async fn wait_for_source(&self, timeout: Duration) -> Result<(), Error> {
        let mismatch = || {
            Error::new(Kind::SignatureMismatch {
                api: A::NAME.to_owned(),
                local: A::signature(),
                remote: self.shared.remote_signature().unwrap_or_default(),
                difference: self.shared.mismatch_difference(),
            })
        };
        let state = self.shared.state_cell();
        let waited = wait_until_valid(
            &self.shared.name,
            state,
            timeout,
            || self.shared.refusal(),
            mismatch,
        )
        .await;
        match waited {
            Err(error) if error.is_timeout() => Err(self._token.timed_out(timeout).await),
            other => other,
        }
    }

    /// A copy of every cached property value (no round trip).
    pub fn properties(&self) -> A::Properties {
        self.shared.read(Clone::clone)
    }

    /// Runs `read` on the cached property values without copying them.
    pub fn with_properties<R>(&self, read: impl FnOnce(&A::Properties) -> R) -> R {
        self.shared.read(read)
    }

    /// The replica of child member `index` (generated getters, `replica.tray()`, call
    /// this): `None` until the replica is initialized and while the source holds none
    /// there. It shares this replica's subscription and connection, and keeps it.
    #[doc(hidden)]
    pub fn child<C: RemoteObject>(&self, index: u16) -> Option<Replica<C>> {
        let (shared, actor) = self.shared.child::<C>(index)?;
        Some(Replica::new(shared, actor, Arc::clone(&self._token)))
    }

    /// The replica of model member `index` (generated getters, `replica.playlist()`, call
    /// this): `None` until the replica is initialized. It shares this replica's
    /// subscription and connection, and keeps it.
    #[doc(hidden)]
    pub fn child_model<R: crate::adapter::ModelRow>(&self, index: u16) -> Option<ModelReplica<R>> {
        let shared = self.shared.model::<R>(index)?;
        let parent: Arc<dyn std::any::Any + Send + Sync> = self._token.clone();
        Some(ModelReplica::new(shared, parent))
    }

    /// The replica of tree model member `index` (generated getters, `replica.files()`,
    /// call this): `None` until the replica is initialized. It shares this replica's
    /// subscription and connection, and keeps it.
    #[doc(hidden)]
    pub fn child_tree<R: crate::adapter::ModelRow>(&self, index: u16) -> Option<TreeReplica<R>> {
        let shared = self.shared.tree::<R>(index)?;
        let parent: Arc<dyn std::any::Any + Send + Sync> = self._token.clone();
        Some(TreeReplica::new(shared, parent))
    }

    /// Calls a slot and waits for its result: the same as `send(msg)`, flattened, and one
    /// hand-off shorter (the call goes straight to the connection, not through the replica
    /// actor's mailbox).
    pub async fn call<M: Slot<Api = A>>(&self, msg: M) -> SlotResult<M::Output> {
        let started = std::time::Instant::now();
        crate::telemetry::call_run(crate::telemetry::Side::Node);
        let result = self.call_untimed(msg).await;
        crate::telemetry::call_done(started, result.as_ref().err().map(SlotError::kind_label));
        result
    }

    /// [`Replica::call`], without the metrics.
    async fn call_untimed<M: Slot<Api = A>>(&self, msg: M) -> SlotResult<M::Output> {
        let encoding = self.shared.encoding;
        // The arguments only go into the call's frame.
        let args = encoding
            .encode_transient(&msg)
            .map_err(|e| SlotError::Encode(e.to_string()))?;
        let (tx, rx) = tokio::sync::oneshot::channel();
        self.shared.start_call(
            M::INDEX,
            args,
            Box::new(move |reply| {
                let _ = tx.send(reply);
            }),
        );
        let reply = rx.await.map_err(|_| SlotError::ConnectionLost)??;
        crate::shared_bytes::decoding_from(std::slice::from_ref(&reply), || {
            encoding
                .decode::<M::Output>(&reply)
                .map_err(|e| SlotError::Decode(e.to_string()))
        })
    }

    /// Asks the source to set read-write property `index` (generated setters call this).
    #[doc(hidden)]
    pub fn set_property<T: Serialize>(&self, index: u16, value: &T) -> Result<(), Error> {
        let info = A::PROPERTIES
            .get(usize::from(index))
            .ok_or_else(|| Error::new(Kind::NotWritable("?")))?;
        if info.access != Access::ReadWrite {
            return Err(Error::new(Kind::NotWritable(info.name)));
        }
        let bytes = Bytes::from(self.shared.encoding.encode(value)?);
        if self.shared.send_set_property(index, bytes) {
            Ok(())
        } else {
            Err(Error::new(Kind::NotConnected))
        }
    }

    /// Writes read-write property `index` and resolves once the host applied the write (its
    /// change, if any, is in the cache by then) or refused it — the access policy, or the
    /// source's handler of a `checked` property — with `SlotError::Rejected(reason)`.
    /// Generated setters (`set_<name>`) call this and resolve to the applied value.
    #[doc(hidden)]
    pub fn write_property<T: Serialize>(&self, index: u16, value: &T) -> PendingWrite<()> {
        self.write_property_with(index, |enc| enc.encode(value).map(Bytes::from))
    }

    /// [`Replica::write_property`], the value encoded by `encode` (the generated setters
    /// encode through the property's type).
    #[doc(hidden)]
    pub fn write_property_with(
        &self,
        index: u16,
        encode: impl FnOnce(crate::wire::Encoding) -> Result<Bytes, crate::wire::EncodeError>,
    ) -> PendingWrite<()> {
        let writable = A::PROPERTIES
            .get(usize::from(index))
            .filter(|p| p.access == Access::ReadWrite);
        let Some(_) = writable else {
            let name = A::PROPERTIES
                .get(usize::from(index))
                .map_or("?", |p| p.name);
            let refused = SlotError::Rejected(format!("property {name:?} is not read_write"));
            return PendingWrite::ready(Err(refused));
        };
        let bytes = match encode(self.shared.encoding) {
            Ok(bytes) => bytes,
            Err(error) => return PendingWrite::ready(Err(SlotError::Encode(error.to_string()))),
        };
        let (tx, rx) = tokio::sync::oneshot::channel();
        self.shared.start_write(
            index,
            bytes,
            Box::new(move |outcome| {
                let _ = tx.send(outcome.map(drop));
            }),
        );
        PendingWrite::new(async move { rx.await.unwrap_or(Err(SlotError::ConnectionLost)) })
    }

    /// Delivers every property change to `to`, each once `to` handled the one before.
    /// Bounded like [`Replica::events`]: for an actor that falls behind, values coalesce.
    pub fn subscribe_properties(&self, to: Recipient<A::PropertyChange>) {
        self.shared.subscribe_properties(to);
    }

    /// Delivers every signal to `to`, each once `to` handled the one before. Bounded like
    /// [`Replica::events`]: an actor that falls far behind loses the oldest (logged).
    pub fn subscribe_signals(&self, to: Recipient<A::Signal>) {
        self.shared.subscribe_signals(to);
    }

    /// Delivers one signal type to `to`, e.g. `replica.subscribe::<printer::PaperJam>(addr.recipient())`.
    /// Bounded like [`Replica::subscribe_signals`].
    pub fn subscribe<S: SignalType<Api = A>>(&self, to: Recipient<S>) {
        let feed = self.shared.delivery.feed(to);
        self.shared
            .subscribe_typed_signal(shared::typed_signal_delivery::<S>(feed));
    }

    /// Delivers every state change to `to` (the latest wins for an actor far behind).
    pub fn subscribe_state(&self, to: Recipient<StateChanged>) {
        self.shared.subscribe_state(to);
    }

    /// Every property change and signal from now on, in order.
    ///
    /// The stream holds up to [`NodeConfig::event_buffer`](crate::NodeConfig::event_buffer)
    /// events (16 384 by default) for a consumer that reads slower than the source produces.
    /// Past that it lags: a property's queued value is replaced by its newer one (the latest
    /// wins, so the final value always arrives), and the oldest signals are dropped and
    /// reported as one [`Event::Lagged`]. Its memory is bounded however long it goes unread.
    pub fn events(&self) -> impl Stream<Item = Event<A>> + Unpin + Send + 'static {
        self.shared.events().map(|delivered| match delivered {
            delivery::Delivered::Item(event) => event,
            delivery::Delivered::Lagged(lost) => Event::Lagged(lost),
        })
    }

    /// Every property change from now on (bounded like [`Replica::events`]: values of a
    /// property coalesce for a consumer that falls behind).
    pub fn property_changes(
        &self,
    ) -> impl Stream<Item = A::PropertyChange> + Unpin + Send + 'static {
        self.events().filter_map(|e| {
            futures::future::ready(match e {
                Event::PropertyChanged(c) => Some(c),
                _ => None,
            })
        })
    }

    /// Every signal from now on (bounded like [`Replica::events`]; signals lost by a consumer
    /// that fell behind are logged, and counted in [`Event::Lagged`] on `events()`).
    pub fn signals(&self) -> impl Stream<Item = A::Signal> + Unpin + Send + 'static {
        self.events().filter_map(|e| {
            futures::future::ready(match e {
                Event::Signal(s) => Some(s),
                _ => None,
            })
        })
    }
}

/// What a node does when the last handle of a replica drops: it is handed the replica's name
/// and entry (to release its source). One per node, shared by every token.
pub(crate) type ReleaseHook = Arc<dyn Fn(Arc<str>, Arc<dyn ReplicaEntry<Outbox>>) + Send + Sync>;

/// The names of what the node's connected hosts offer (`None` once the node is gone).
pub(crate) type OfferedHook =
    Arc<dyn Fn() -> futures::future::BoxFuture<'static, Option<Vec<String>>> + Send + Sync>;

/// The node's hooks every replica handle carries.
#[derive(Clone)]
pub(crate) struct NodeHooks {
    pub(crate) release: ReleaseHook,
    pub(crate) offered: OfferedHook,
}

/// Held by every handle of one replica; when the last one drops, the replica saves what it
/// last saw and `release` is told.
pub(crate) struct HandleToken {
    name: Arc<str>,
    entry: Arc<dyn ReplicaEntry<Outbox>>,
    hooks: NodeHooks,
}

impl HandleToken {
    pub(crate) fn new(
        name: &Arc<str>,
        entry: Arc<dyn ReplicaEntry<Outbox>>,
        hooks: &NodeHooks,
    ) -> Arc<HandleToken> {
        Arc::new(HandleToken {
            name: name.to_owned(),
            entry,
            hooks: hooks.clone(),
        })
    }

    /// A wait for the source timed out after `timeout`: if no connected host offers it,
    /// the error says so and lists what they offer.
    pub(crate) async fn timed_out(&self, timeout: Duration) -> Error {
        match (self.hooks.offered)().await {
            Some(offered) if !offered.iter().any(|o| **o == *self.name) => {
                Error::new(Kind::NotOffered {
                    name: self.name.to_string(),
                    timeout,
                    offered,
                })
            }
            _ => Error::new(Kind::Timeout(timeout)),
        }
    }
}

impl Drop for HandleToken {
    fn drop(&mut self) {
        self.entry.persist();
        (self.hooks.release)(Arc::clone(&self.name), Arc::clone(&self.entry));
    }
}

/// A replica's write on its way: resolves to the value the source applied, or why it was
/// refused. The write is sent when it is made, whether or not this is awaited.
#[must_use = "the write is sent either way; await it to learn the applied value or the refusal"]
pub struct PendingWrite<T> {
    outcome: std::pin::Pin<Box<dyn std::future::Future<Output = SlotResult<T>> + Send>>,
}

impl<T: Send + 'static> PendingWrite<T> {
    /// A write that resolves with `outcome` of `future`.
    #[doc(hidden)]
    pub fn new(future: impl std::future::Future<Output = SlotResult<T>> + Send + 'static) -> Self {
        PendingWrite {
            outcome: Box::pin(future),
        }
    }

    fn ready(outcome: SlotResult<T>) -> Self {
        PendingWrite::new(futures::future::ready(outcome))
    }
}

impl<T> std::future::Future for PendingWrite<T> {
    type Output = SlotResult<T>;
    fn poll(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<SlotResult<T>> {
        self.outcome.as_mut().poll(cx)
    }
}

impl<T> std::fmt::Debug for PendingWrite<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PendingWrite").finish_non_exhaustive()
    }
}
