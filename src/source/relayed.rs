//! A source served from another network's: its values, changes and signals are the bytes a
//! replica of it received, passed on as they came (never decoded or encoded again), and its
//! calls and writes go back the same way. What a proxy host serves.
//!
//! A relayed source with sub-objects is a tree of [`Node`]s, the children hanging under
//! their parents as any source's do ([`ChildHub`]), each named by its path (the member
//! indices from the root) towards the relay.

use std::sync::{Arc, Mutex, MutexGuard, OnceLock};

use bytes::{BufMut, Bytes};

use super::children::{self, next_child_id, Attached, ChildHub, Place};
use super::fanout::{InitHeader, Subscribers};
use super::hosted::SourceHub;
use crate::error::{Error, Kind};
use crate::outbox::{ConnId, Outbox};
use crate::proto::host::Caller;
use crate::proto::relay::Snapshot;
use crate::proto::{SlotFuture, WriteFuture};
use crate::values::ApiSchema;
use crate::wire::{ChildInit, Encoding, Packet, SourceId};

/// Where calls and writes to a relayed source go: the replica it is relayed from.
pub(crate) trait Upstream: Send + Sync + 'static {
    /// Calls slot `slot` of the object at `path` with the encoded `args`; the reply's
    /// bytes, or the failure.
    fn call(&self, path: &[u16], slot: u16, args: Bytes) -> SlotFuture;
    /// Asks the object at `path` to set property `index` to the encoded `value`: done once
    /// applied there, or its refusal.
    fn write(&self, path: &[u16], index: u16, value: Bytes) -> WriteFuture;
}

/// The relayed source: cheap to clone, clones share it.
#[derive(Clone)]
pub(crate) struct RelayedSource {
    root: Arc<Node>,
}

/// One object of a relayed tree: the source, or a child under it.
struct Node {
    signature: u64,
    /// Its API: decoded once, for the member names policies and logs need and for its
    /// children's APIs.
    api: Arc<ApiSchema>,
    /// The API's description encoded: the root's as the far host sent it (bincode), passed
    /// on to dynamic replicas.
    encoded_schema: OnceLock<Result<Bytes, String>>,
    path: Vec<u16>,
    encoding: Encoding,
    upstream: Arc<dyn Upstream>,
    state: Mutex<State>,
}

struct State {
    values: Vec<Bytes>,
    subscribers: Subscribers,
    /// What each child member holds; each `Attached::source` is the child's [`Node`].
    children: Vec<Option<Attached>>,
    attached: bool,
}

impl RelayedSource {
    /// A source of the API `encoded_schema` describes, holding `tree` (encoded with
    /// `encoding`), answering through `upstream`.
    pub(crate) fn new(
        encoded_schema: Bytes,
        encoding: Encoding,
        tree: Snapshot,
        upstream: Arc<dyn Upstream>,
    ) -> Result<RelayedSource, String> {
        let api: ApiSchema = Encoding::Bincode
            .decode(&encoded_schema)
            .map_err(|e| format!("the far source's description does not decode: {e}"))?;
        api.check()?;
        let root = Node::new(Arc::new(api), Vec::new(), encoding, tree, &upstream)?;
        let _ = root.encoded_schema.set(Ok(encoded_schema));
        Ok(RelayedSource { root })
    }

    /// The API's name.
    pub(crate) fn api(&self) -> &str {
        &self.root.api.api
    }

    pub(crate) fn signature(&self) -> u64 {
        self.root.signature
    }

    /// Whether `other` is this source (a clone of it).
    pub(crate) fn is(&self, other: &RelayedSource) -> bool {
        Arc::ptr_eq(&self.root, &other.root)
    }

    /// The object at `path`, if it holds one there now.
    fn at(&self, path: &[u16]) -> Option<Arc<Node>> {
        let mut node = Arc::clone(&self.root);
        for &slot in path {
            let child = node.child(slot)?;
            node = child;
        }
        Some(node)
    }

    /// Property `index` of the object at `path` changed to `value` at the far source:
    /// passed on as it is.
    pub(crate) fn change(&self, path: &[u16], index: u16, value: Bytes) -> Result<(), Error> {
        match self.at(path) {
            Some(node) => node.change(index, value),
            None => Ok(()), // a child the relay holds and this tree no longer does
        }
    }

    /// The object at `path` emitted signal `index` with `args`: passed on as they are.
    pub(crate) fn signal(&self, path: &[u16], index: u16, args: &[u8]) -> Result<(), Error> {
        match self.at(path) {
            Some(node) => node.signal(index, args),
            None => Ok(()),
        }
    }

    /// Child member `slot` of the object at `parent` holds `child` now, or nothing.
    pub(crate) fn child_change(
        &self,
        parent: &[u16],
        slot: u16,
        child: Option<Snapshot>,
    ) -> Result<(), String> {
        match self.at(parent) {
            Some(node) => node.set_child(slot, child),
            None => Ok(()),
        }
    }

    /// The far source re-initialized (after a reconnect) to `tree`: each value that differs
    /// is passed on as a change, each child of another API as a child change.
    pub(crate) fn reinit(&self, tree: Snapshot) -> Result<(), String> {
        self.root.reinit(tree)
    }

    /// The untyped view a host serves.
    pub(crate) fn hub(&self) -> Arc<dyn SourceHub> {
        Arc::clone(&self.root) as Arc<dyn SourceHub>
    }
}

impl Node {
    /// The object of API `api` at `path` holding `tree`, and its children.
    fn new(
        api: Arc<ApiSchema>,
        path: Vec<u16>,
        encoding: Encoding,
        tree: Snapshot,
        upstream: &Arc<dyn Upstream>,
    ) -> Result<Arc<Node>, String> {
        if api.properties.len() != tree.values.len() {
            return Err("the far source's values do not match its description".into());
        }
        let node = Arc::new(Node {
            signature: tree.signature,
            api,
            encoded_schema: OnceLock::new(),
            path,
            encoding,
            upstream: Arc::clone(upstream),
            state: Mutex::new(State {
                values: tree.values,
                subscribers: Subscribers::default(),
                children: Vec::new(),
                attached: false,
            }),
        });
        let mut children = Vec::with_capacity(node.api.children.len());
        for slot in 0..node.api.children.len() {
            let child = tree.children.get(slot).cloned().flatten();
            children.push(node.make_child(slot, child)?);
        }
        node.state().children = children;
        Ok(node)
    }

    /// The node for child member `slot` holding `tree`, attached under a fresh id.
    fn make_child(&self, slot: usize, tree: Option<Snapshot>) -> Result<Option<Attached>, String> {
        let (Some(tree), Some(member)) = (tree, self.api.children.get(slot)) else {
            return Ok(None);
        };
        let mut path = self.path.clone();
        path.push(u16::try_from(slot).map_err(|_| "too many child members")?);
        let api = Arc::new(member.api.clone());
        let child = Node::new(api, path, self.encoding, tree, &self.upstream)?;
        child.state().attached = true;
        Ok(Some(Attached {
            id: next_child_id(),
            node: Arc::clone(&child) as Arc<dyn ChildHub>,
            source: child,
        }))
    }

    fn state(&self) -> MutexGuard<'_, State> {
        // Every critical section assigns whole values.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The child at member `slot`, if it holds one.
    fn child(&self, slot: u16) -> Option<Arc<Node>> {
        let state = self.state();
        let attached = state.children.get(usize::from(slot))?.as_ref()?;
        Arc::clone(&attached.source).downcast::<Node>().ok()
    }

    fn change(&self, index: u16, value: Bytes) -> Result<(), Error> {
        let mut guard = self.state();
        let state = &mut *guard;
        let Some(cached) = state.values.get_mut(usize::from(index)) else {
            return Ok(()); // the relay checked the index against the same description
        };
        state
            .subscribers
            .publish_property(index, cached, |buf| {
                buf.put_slice(&value);
                Ok(())
            })
            .map(drop)
    }

    fn signal(&self, index: u16, args: &[u8]) -> Result<(), Error> {
        self.state().subscribers.publish_signal(index, |buf| {
            buf.put_slice(args);
            Ok(())
        })
    }

    /// Member `slot` holds `tree` now, or nothing: every subscriber gets it whole, in one
    /// child change, as from any source.
    fn set_child(&self, slot: u16, tree: Option<Snapshot>) -> Result<(), String> {
        let new = self.make_child(usize::from(slot), tree)?;
        let mut guard = self.state();
        let state = &mut *guard;
        let Some(place) = state.children.get_mut(usize::from(slot)) else {
            return Err(format!("no child member has index {slot}"));
        };
        if let Some(old) = place.take() {
            old.node.detach_tree();
        }
        let subscribers = &mut state.subscribers;
        match &new {
            Some(child) => {
                let place = Place {
                    parent: children::ROOT,
                    slot,
                    source: child.id,
                };
                let outboxes = subscribers.outboxes();
                let mut inits = Vec::new();
                child
                    .node
                    .lock_tree(place, &outboxes, &mut inits, &mut |inits| {
                        subscribers.push_each(|parent| Packet::ChildChange {
                            parent,
                            slot,
                            children: children::for_root(inits, parent),
                        });
                    });
            }
            None => subscribers.push_each(|parent| Packet::ChildChange {
                parent,
                slot,
                children: Vec::new(),
            }),
        }
        state.children[usize::from(slot)] = new;
        Ok(())
    }

    /// It holds `tree` now (its signature unchanged): what differs is told as changes.
    fn reinit(&self, tree: Snapshot) -> Result<(), String> {
        for (index, value) in tree.values.into_iter().enumerate() {
            let index = u16::try_from(index).map_err(|_| "too many properties")?;
            self.change(index, value).map_err(|e| e.to_string())?;
        }
        for (slot, child) in tree.children.into_iter().enumerate() {
            let slot = u16::try_from(slot).map_err(|_| "too many child members")?;
            match (self.child(slot), child) {
                (Some(node), Some(child)) if node.signature == child.signature => {
                    node.reinit(child)?
                }
                (None, None) => {}
                (_, child) => self.set_child(slot, child)?,
            }
        }
        Ok(())
    }
}

impl SourceHub for Node {
    fn subscribe(
        &self,
        name: &str,
        source: SourceId,
        outbox: &Outbox,
        schema: Option<&Bytes>,
    ) -> Result<(), Error> {
        let mut guard = self.state();
        let State {
            values,
            subscribers,
            children,
            ..
        } = &mut *guard;
        let header = InitHeader {
            name,
            source,
            signature: self.signature,
            schema,
        };
        let outboxes = std::slice::from_ref(outbox);
        let mut inits = Vec::new();
        children::lock_children(
            children,
            children::ROOT,
            outboxes,
            &mut inits,
            &mut |inits| {
                let inits = children::for_root(inits, source);
                subscribers.subscribe(header, values, &inits, outbox);
            },
        );
        Ok(())
    }

    fn schema(&self) -> Result<Bytes, String> {
        let encode = || {
            let encoded = Encoding::Bincode.encode(&*self.api);
            encoded.map(Bytes::from).map_err(|e| e.to_string())
        };
        self.encoded_schema.get_or_init(encode).clone()
    }

    fn unsubscribe(&self, conn: ConnId, source: Option<SourceId>) {
        let state = &mut *self.state();
        children::unsubscribe(&mut state.subscribers, &state.children, conn, source);
    }

    fn unsubscribe_all(&self, source: SourceId) {
        let state = &mut *self.state();
        children::unsubscribe_all(&mut state.subscribers, &state.children, source);
    }

    fn set_from_remote(
        &self,
        index: u16,
        value: &[u8],
        enc: Encoding,
    ) -> Result<Option<WriteFuture>, String> {
        if enc != self.encoding {
            return Err("a write in another encoding than the far source's".into());
        }
        // Answered once the far source applied it (its change relayed first).
        let value = Bytes::copy_from_slice(value);
        Ok(Some(self.upstream.write(&self.path, index, value)))
    }

    fn invoke(
        &self,
        slot: u16,
        args: &[u8],
        enc: Encoding,
        _caller: &Caller<'_>,
    ) -> Result<SlotFuture, String> {
        if enc != self.encoding {
            return Err("a call in another encoding than the far source's".into());
        }
        if usize::from(slot) >= self.api.slots.len() {
            return Err(format!("no slot has index {slot}"));
        }
        let args = Bytes::copy_from_slice(args);
        Ok(self.upstream.call(&self.path, slot, args))
    }

    fn subscriber_count(&self) -> usize {
        self.state().subscribers.len()
    }

    fn subscriber_counts(&self) -> tokio::sync::watch::Receiver<usize> {
        self.state().subscribers.counts()
    }

    fn slot_name(&self, index: u16) -> Option<&str> {
        let slot = self.api.slots.get(usize::from(index));
        slot.map(|s| s.name.as_str())
    }

    fn property_name(&self, index: u16) -> Option<&str> {
        let property = self.api.properties.get(usize::from(index));
        property.map(|p| p.name.as_str())
    }

    fn find_child(&self, id: SourceId) -> Option<(String, Arc<dyn ChildHub>)> {
        let children = children::held(&self.state().children);
        let member = |i: usize| Some(self.api.children.get(i)?.name.as_str());
        children::find(children, member, id)
    }
}

impl ChildHub for Node {
    fn lock_tree(
        &self,
        place: Place,
        outboxes: &[Outbox],
        inits: &mut Vec<ChildInit>,
        then: &mut dyn FnMut(&mut Vec<ChildInit>),
    ) {
        let mut guard = self.state();
        let State {
            values,
            subscribers,
            children,
            ..
        } = &mut *guard;
        let init = place.init(self.signature, values.clone());
        children::lock_subtree(subscribers, children, init, outboxes, inits, then);
    }

    fn detach_tree(&self) {
        let state = &mut *self.state();
        children::detach(&mut state.subscribers, &state.children);
    }

    fn attach(&self) -> bool {
        !std::mem::replace(&mut self.state().attached, true)
    }

    fn release(&self) {
        self.state().attached = false;
    }

    fn contains(&self, state: *const ()) -> bool {
        if std::ptr::eq(self as *const Node as *const (), state) {
            return true;
        }
        let children: Vec<Attached> = self.state().children.iter().flatten().cloned().collect();
        children::hold(children, state)
    }

    fn use_encoding(&self, encoding: Encoding) -> Result<(), Error> {
        if encoding == self.encoding {
            return Ok(());
        }
        // Its values are the far source's bytes: they cannot be encoded again.
        Err(Error::new(Kind::EncodingInUse {
            api: self.api.api.clone(),
            current: self.encoding,
        }))
    }

    fn api_name(&self) -> &str {
        &self.api.api
    }

    fn signature(&self) -> u64 {
        self.signature
    }
}
