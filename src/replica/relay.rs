//! A replica that keeps a source's values as the bytes they came in and hands every init,
//! change and signal on as it is: what a proxy relays from. Calls and writes go to the
//! source as bytes too.
//!
//! A source with sub-objects is relayed as a tree: one [`Relay`] per object, each a replica
//! entry the node links under the child's id, each known to the proxy by its *path* (the
//! member indices from the root), since the far host's ids mean nothing on the proxy's.
//! Only the root tells [`RelayEvents`] of inits and the parent of a member that changed of
//! the child it holds now, so what is relayed is always a whole, consistent tree.

use std::sync::{Arc, Mutex, MutexGuard};

use bytes::Bytes;
use tokio::sync::oneshot;
use tracing::warn;

use crate::error::SlotError;
use crate::outbox::{ConnId, Outbox};
use crate::proto::node::{init_children, ChildTree};
use crate::proto::relay::Snapshot;
use crate::proto::replica::{Offered, ReplicaCore};
use crate::replica::shared::{
    invoke, lose_calls, write, InitOutcome, Link, PendingReply, ReplicaEntry, ReplicaProtocolError,
};
use crate::replica::ReplicaState;
use crate::values::ApiSchema;
use crate::wire::{Encoding, SourceId};

/// What a relay tells of its source. `path` names an object of the tree: empty for the
/// source itself, then the child member indices down to it.
pub(crate) trait RelayEvents: Send + Sync + 'static {
    /// The source initialized (first, or again after a loss) to `tree`, its API described
    /// by `schema` (bincode, as the host sent it).
    fn init(&self, schema: &Bytes, tree: Snapshot);
    /// Child member `slot` of the object at `parent` holds `child` now, or nothing.
    fn child_change(&self, parent: &[u16], slot: u16, child: Option<Snapshot>);
    fn change(&self, path: &[u16], index: u16, value: Bytes);
    fn signal(&self, path: &[u16], index: u16, args: &[u8]);
    /// The source is gone for now (its host or the link lost, or it was withdrawn).
    fn lost(&self);
}

/// The API of the object a relay stands for, once known.
struct Described {
    signature: u64,
    /// The root's description as the host sent it; a child's comes inside it.
    schema: Bytes,
    api: Arc<ApiSchema>,
}

/// Where an init's API comes from.
enum Description {
    /// The one it had, for the same signature.
    Known(Arc<ApiSchema>),
    /// A new one.
    New(Described),
    /// A root's API changed, and the host did not describe it.
    Missing,
}

struct Inner {
    core: ReplicaCore<Link, PendingReply>,
    described: Option<Described>,
    values: Vec<Bytes>,
    /// The relay of each child member, made when the member first holds a child.
    children: Vec<Option<Arc<Relay>>>,
    /// Whether each child member holds a child now.
    present: Vec<bool>,
}

/// The relay of one source, or of one child under it.
pub(crate) struct Relay {
    name: String,
    path: Vec<u16>,
    /// A child's API, from its parent's description.
    child_api: Option<Arc<ApiSchema>>,
    inner: Mutex<Inner>,
    events: Arc<dyn RelayEvents>,
}

impl Relay {
    /// A relay of the source named `name`, telling `events`.
    pub(crate) fn new(name: &str, events: Arc<dyn RelayEvents>) -> Arc<Relay> {
        Arc::new(Relay::node(name.to_owned(), Vec::new(), None, events))
    }

    fn node(
        name: String,
        path: Vec<u16>,
        child_api: Option<Arc<ApiSchema>>,
        events: Arc<dyn RelayEvents>,
    ) -> Relay {
        Relay {
            name,
            path,
            child_api,
            inner: Mutex::new(Inner {
                core: ReplicaCore::new(0, Vec::new(), ReplicaState::Uninitialized),
                described: None,
                values: Vec::new(),
                children: Vec::new(),
                present: Vec::new(),
            }),
            events,
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // Every critical section leaves the core consistent.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn is_root(&self) -> bool {
        self.path.is_empty()
    }

    /// The relay of the object at `path` under this one, if a child is there now.
    fn at(self: &Arc<Self>, path: &[u16]) -> Option<Arc<Relay>> {
        let mut relay = Arc::clone(self);
        for &slot in path {
            let next = {
                let inner = relay.lock();
                let slot = usize::from(slot);
                if !inner.present.get(slot).copied().unwrap_or(false) {
                    return None;
                }
                inner.children.get(slot)?.clone()?
            };
            relay = next;
        }
        Some(relay)
    }

    /// Calls slot `slot` of the object at `path` with the encoded `args`: the reply's bytes.
    pub(crate) async fn call(
        self: &Arc<Self>,
        path: &[u16],
        slot: u16,
        args: Bytes,
    ) -> Result<Bytes, SlotError> {
        let relay = self.at(path).ok_or(SlotError::NotConnected)?;
        let (tx, rx) = oneshot::channel();
        let complete: PendingReply = Box::new(move |reply| {
            let _ = tx.send(reply);
        });
        if let Some(complete) = invoke(&mut relay.lock().core, slot, args, complete) {
            complete(Err(SlotError::NotConnected));
        }
        rx.await.map_err(|_| SlotError::ConnectionLost)?
    }

    /// Asks the object at `path` to set property `index` to the encoded `value`: `Ok` once
    /// it was applied (its change, if any, came first), or the refusal.
    pub(crate) async fn write(
        self: &Arc<Self>,
        path: &[u16],
        index: u16,
        value: Bytes,
    ) -> Result<(), SlotError> {
        let relay = self.at(path).ok_or(SlotError::NotConnected)?;
        let (tx, rx) = oneshot::channel();
        let complete: PendingReply = Box::new(move |reply| {
            let _ = tx.send(reply);
        });
        if let Some(complete) = write(&mut relay.lock().core, index, value, complete) {
            complete(Err(SlotError::NotConnected));
        }
        rx.await.map_err(|_| SlotError::ConnectionLost)?.map(drop)
    }

    /// What it holds now, with its children, if its source is linked.
    fn snapshot(&self) -> Option<Snapshot> {
        let inner = self.lock();
        inner.core.link()?;
        let signature = inner.described.as_ref()?.signature;
        let children = inner
            .children
            .iter()
            .zip(&inner.present)
            .map(|(child, &present)| child.as_ref().filter(|_| present)?.snapshot())
            .collect();
        Some(Snapshot {
            signature,
            values: inner.values.clone(),
            children,
        })
    }

    /// The relay of child member `slot` of `api`, made now if it was not yet.
    fn child_entry(
        &self,
        inner: &mut Inner,
        api: &ApiSchema,
        slot: u16,
    ) -> Option<Arc<dyn ReplicaEntry<Outbox>>> {
        let member = api.children.get(usize::from(slot))?;
        let place = inner.children.get_mut(usize::from(slot))?;
        let child = place.get_or_insert_with(|| {
            let mut path = self.path.clone();
            path.push(slot);
            Arc::new(Relay::node(
                format!("{}.{}", self.name, member.name),
                path,
                Some(Arc::new(member.api.clone())),
                Arc::clone(&self.events),
            ))
        });
        Some(Arc::clone(child) as Arc<dyn ReplicaEntry<Outbox>>)
    }

    /// Initializes the children `tree` holds for it (at member `only`, or all).
    fn init_children(
        &self,
        inner: &mut Inner,
        api: &ApiSchema,
        link: &Link,
        tree: &mut ChildTree<'_, Outbox>,
        only: Option<u16>,
    ) {
        let present = init_children(link, tree, api.children.len(), only, |slot| {
            self.child_entry(inner, api, slot)
        });
        let places = inner.present.iter_mut().zip(present).enumerate();
        for (index, (place, is_present)) in places {
            if only.is_none_or(|only| usize::from(only) == index) {
                *place = is_present;
            }
        }
    }

    /// Its API for an init with `signature` and `schema`: the one it knew, or the one the
    /// description (a root's) or its parent's (a child's) gives.
    fn describe(
        &self,
        inner: &Inner,
        signature: u64,
        schema: Option<&Bytes>,
    ) -> Result<Description, ReplicaProtocolError> {
        if let Some(api) = &self.child_api {
            return Ok(Description::New(Described {
                signature,
                schema: Bytes::new(),
                api: Arc::clone(api),
            }));
        }
        let schema = match (schema, &inner.described) {
            (Some(schema), _) => schema.clone(),
            (None, Some(known)) if known.signature == signature => {
                return Ok(Description::Known(Arc::clone(&known.api)))
            }
            (None, _) => return Ok(Description::Missing),
        };
        let bad = |e: String| ReplicaProtocolError::bad_value(&self.name, "schema", e);
        let api: ApiSchema = Encoding::Bincode
            .decode(&schema)
            .map_err(|e| bad(format!("its description does not decode: {e}")))?;
        api.check().map_err(bad)?;
        Ok(Description::New(Described {
            signature,
            schema,
            api: Arc::new(api),
        }))
    }

    fn out_of_range(&self, what: &'static str, index: u16) -> ReplicaProtocolError {
        ReplicaProtocolError::OutOfRange {
            name: self.name.clone(),
            what,
            index,
        }
    }

    fn protocol(&self, what: &'static str) -> ReplicaProtocolError {
        ReplicaProtocolError::bad_value(&self.name, what, "out of order")
    }

    /// It failed or its link went: a root's source is gone; a child is left out of its
    /// parent's tree.
    fn gone(&self, failed: bool) {
        if self.is_root() {
            self.events.lost();
        } else if let (true, Some((&slot, parent))) = (failed, self.path.split_last()) {
            self.events.child_change(parent, slot, None);
        }
    }
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
        children: &mut ChildTree<'_, Outbox>,
    ) -> Result<InitOutcome, ReplicaProtocolError> {
        let mut guard = self.lock();
        let inner = &mut *guard;
        let (api, described) = match self.describe(inner, signature, schema)? {
            Description::Known(api) => (api, None),
            Description::New(described) => (Arc::clone(&described.api), Some(described)),
            Description::Missing => return Ok(InitOutcome::NeedsSchema),
        };
        if api.properties.len() != values.len() {
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
                vec![Bytes::new(); values.len()],
                ReplicaState::Uninitialized,
            );
            inner.children = vec![None; api.children.len()];
            inner.present = vec![false; api.children.len()];
        }
        if let Some(described) = described {
            inner.described = Some(described);
        }
        // The children first, so the tree told on is whole.
        self.init_children(inner, &api, &link, children, None);
        inner.core.commit_init(link, values.clone());
        inner.values = values;
        let schema = inner.described.as_ref().map(|d| d.schema.clone());
        drop(guard);
        if let (true, Some(schema), Some(tree)) = (self.is_root(), schema, self.snapshot()) {
            self.events.init(&schema, tree);
        }
        Ok(InitOutcome::Applied)
    }

    fn on_child_change(&self, link: Link, slot: u16, children: &mut ChildTree<'_, Outbox>) {
        let mut guard = self.lock();
        let Some(api) = guard.described.as_ref().map(|d| Arc::clone(&d.api)) else {
            return;
        };
        if usize::from(slot) >= api.children.len() {
            warn!(source = %self.name, slot, "a child change at a member the API does not have");
            return;
        }
        self.init_children(&mut guard, &api, &link, children, Some(slot));
        let present = guard.present.get(usize::from(slot)).copied();
        let child = guard.children.get(usize::from(slot)).cloned().flatten();
        let child = child.filter(|_| present == Some(true));
        drop(guard);
        let tree = child.and_then(|child| child.snapshot());
        self.events.child_change(&self.path, slot, tree);
    }

    fn on_property_change(&self, index: u16, value: &Bytes) -> Result<(), ReplicaProtocolError> {
        let mut inner = self.lock();
        let Some(described) = &inner.described else {
            return Err(self.protocol("a change before the init"));
        };
        if usize::from(index) >= described.api.properties.len() {
            return Err(self.out_of_range("property", index));
        }
        let changed = inner.core.commit_change(index, value);
        if changed {
            inner.values[usize::from(index)] = value.clone();
        }
        drop(inner);
        if changed {
            self.events.change(&self.path, index, value.clone());
        }
        Ok(())
    }

    fn on_signal(&self, index: u16, args: &[u8]) -> Result<(), ReplicaProtocolError> {
        let inner = self.lock();
        let Some(described) = &inner.described else {
            return Err(self.protocol("a signal before the init"));
        };
        if usize::from(index) >= described.api.signals.len() {
            return Err(self.out_of_range("signal", index));
        }
        drop(inner);
        self.events.signal(&self.path, index, args);
        Ok(())
    }

    fn take_pending(&self, serial: u32) -> Option<PendingReply> {
        self.lock().core.complete_call(serial)
    }

    fn on_link_lost(&self) {
        let (pending, _) = self.lock().core.on_link_lost();
        lose_calls(pending);
        self.gone(false);
    }

    fn on_failed(&self, reason: &str) {
        warn!(source = %self.name, %reason, "cannot relay this source");
        let (pending, _) = self.lock().core.fail(reason.to_owned());
        lose_calls(pending);
        self.gone(true);
    }

    fn on_refused(&self, reason: &str) {
        warn!(source = %self.name, %reason, "the far host refused to serve this source to the proxy");
    }

    fn on_write_refused(&self, index: u16, reason: &str) {
        warn!(source = %self.name, index, %reason, "the far host refused a relayed write");
    }

    fn persist(&self) {}
}
