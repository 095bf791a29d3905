//! Sub-objects (Qt's `CLASS` members): a source held by another source's member, served to
//! replicas with its parent. [`ChildSource`] is the handle a parent's setter takes;
//! [`Attached`] is what the parent keeps; a host session calls a child as a `HostedSource`
//! found under a source the connection acquired.
//!
//! A child has no name of its own on a host. Its state reaches a replica inside its
//! parent's init, and its later changes under an id of its own ([`next_child_id`]) through
//! the same connections as its parent's. To keep one consistent snapshot, an init locks
//! the parent and every child under it (parents first, so there is one lock order) and
//! queues the whole tree as one frame before any of them can change again.

use std::marker::PhantomData;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};

use actix::{Actor, Addr};

use super::fanout::Subscribers;
use super::hosted::{typed_hub, SourceHub};
use super::RemoteSource;
use crate::api::RemoteObject;
use crate::error::Error;
use crate::outbox::{ConnId, Outbox};
use crate::wire::{ChildInit, Encoding, SourceId};

/// The `parent` of a top-level child in a tree collected by [`ChildHub::lock_tree`]: the
/// id its root has on each host, filled in per host by [`for_root`].
pub(crate) const ROOT: SourceId = SourceId::MAX;

/// Where a child hangs: under which source, at which member, and its own id.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Place {
    pub(crate) parent: SourceId,
    pub(crate) slot: u16,
    pub(crate) source: SourceId,
}

impl Place {
    /// The init of a child here, with `signature` and `values`.
    pub(crate) fn init(self, signature: u64, values: Vec<bytes::Bytes>) -> ChildInit {
        ChildInit {
            parent: self.parent,
            slot: self.slot,
            source: self.source,
            signature,
            values,
        }
    }
}

/// A fresh id for a child just attached. Children's ids are unique in the process and
/// have the high bit set, so they never meet a host's own ids (counted from 1).
pub(crate) fn next_child_id() -> SourceId {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed) % (ROOT - 0x8000_0000);
    0x8000_0000 | n
}

/// What a parent needs from a child's state besides serving it.
pub(crate) trait ChildHub: SourceHub {
    /// Locks this source as child `place` and, under it, every child it holds; subscribes
    /// `outboxes` to each under its id, appends each one's init to `inits` (parents first),
    /// and runs `then` while all of them are still locked.
    fn lock_tree(
        &self,
        place: Place,
        outboxes: &[Outbox],
        inits: &mut Vec<ChildInit>,
        then: &mut dyn FnMut(&mut Vec<ChildInit>),
    );
    /// It was detached from its parent: it and every child under it lose every subscriber.
    fn detach_tree(&self);
    /// Marks it as hanging under a source; false if it already does.
    fn attach(&self) -> bool;
    /// Marks it as hanging nowhere.
    fn release(&self);
    /// Whether the source whose state is `state` is this one or a child under it.
    fn contains(&self, state: *const ()) -> bool;
    /// Switches the value encoding (to its parent's), with every child under it.
    fn use_encoding(&self, encoding: Encoding) -> Result<(), Error>;
    /// Its API's wire name.
    fn api_name(&self) -> &str;
    /// Its API's signature.
    fn signature(&self) -> u64;
}

/// A child attached at one member of a parent, under the id its packets carry.
#[derive(Clone)]
pub(crate) struct Attached {
    pub(crate) id: SourceId,
    pub(crate) node: Arc<dyn ChildHub>,
    /// The child's typed `SimpleSource`, for the parent's getter.
    pub(crate) source: Arc<dyn std::any::Any + Send + Sync>,
}

/// A source made to hang under another source's `child` member: an actor of API `Api`
/// and its `SimpleSource`. Give it to the parent's generated setter (`set_tray(child)`);
/// replicas of the parent then see it as `replica.tray()`.
///
/// It handles its slots like any source actor, and its `SimpleSource` changes its
/// properties and emits its signals as usual: every replica of the parent sees them, in
/// order with the parent's own. A child hangs under one member of one source at a time.
pub struct ChildSource<Api: RemoteObject> {
    node: Arc<dyn ChildHub>,
    source: Api::SimpleSource,
    api: PhantomData<fn() -> Api>,
}

impl<Api: RemoteObject> Clone for ChildSource<Api> {
    fn clone(&self) -> Self {
        ChildSource {
            node: Arc::clone(&self.node),
            source: self.source.clone(),
            api: PhantomData,
        }
    }
}

impl<Api: RemoteObject> std::fmt::Debug for ChildSource<Api> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChildSource")
            .field("api", &Api::NAME)
            .finish_non_exhaustive()
    }
}

impl<Api: RemoteObject> ChildSource<Api> {
    /// Starts `actor` on the current arbiter as a child source.
    ///
    /// # Panics
    ///
    /// Outside an actix arbiter (the actor need not be `Send`, so it cannot be moved to the
    /// crate's own): use [`ChildSource::start_with`] there.
    pub fn start<A>(actor: A) -> ChildSource<Api>
    where
        A: RemoteSource<Api = Api> + Actor<Context = actix::Context<A>>,
    {
        assert!(
            crate::runtime::on_arbiter(),
            "ChildSource::start needs an actix arbiter on this thread; \
             use ChildSource::start_with(|| make_actor()) outside one"
        );
        let source = actor.simple_source().clone();
        ChildSource::new(actor.start(), source)
    }

    /// Makes the actor with `make` where the crate runs its actors (this thread's arbiter,
    /// or the crate's own: see [`crate::runtime`]) and starts it there as a child source.
    pub fn start_with<A, F>(make: F) -> ChildSource<Api>
    where
        A: RemoteSource<Api = Api> + Actor<Context = actix::Context<A>>,
        F: FnOnce() -> A + Send + 'static,
    {
        let (addr, source) = crate::runtime::run_blocking(move || {
            let actor = make();
            let source = actor.simple_source().clone();
            (actor.start(), source)
        });
        ChildSource::new(addr, source)
    }

    /// A child source of an actor started elsewhere; `source` must be the `SimpleSource`
    /// the actor holds (a clone of it).
    pub fn new<A: RemoteSource<Api = Api>>(addr: Addr<A>, source: Api::SimpleSource) -> Self {
        // A child's actor that is gone fails the calls made to it; there is no name of its
        // own to withdraw.
        let node = typed_hub::<A>(addr, source.clone(), Box::new(|| {}));
        ChildSource {
            node,
            source,
            api: PhantomData,
        }
    }

    /// Its state: the same `SimpleSource` its actor holds.
    pub fn source(&self) -> &Api::SimpleSource {
        &self.source
    }

    pub(crate) fn node(&self) -> &Arc<dyn ChildHub> {
        &self.node
    }

    /// A new attachment of it, under a fresh id.
    pub(crate) fn attachment(&self) -> Attached {
        Attached {
            id: next_child_id(),
            node: Arc::clone(&self.node),
            source: Arc::new(self.source.clone()),
        }
    }

    /// The handle of what `attached` holds, if it is of this API.
    pub(crate) fn of(attached: &Attached) -> Option<Self> {
        let source = attached.source.downcast_ref::<Api::SimpleSource>()?;
        Some(ChildSource {
            node: Arc::clone(&attached.node),
            source: source.clone(),
            api: PhantomData,
        })
    }
}

/// One set of member changes at a time in the process: attaching checks that a child does
/// not already hang somewhere and would not hang under itself, and that must not race.
static ATTACHING: Mutex<()> = Mutex::new(());

/// Checks that `node` may hang under the source whose state is `parent` and marks it so.
/// The guard it returns keeps other attachments waiting until the child is in place.
pub(crate) fn attach(
    node: &Arc<dyn ChildHub>,
    parent: *const (),
    member: &str,
) -> Result<std::sync::MutexGuard<'static, ()>, Error> {
    let serialized = ATTACHING.lock().unwrap_or_else(|p| p.into_inner());
    let bad = |reason: &str| {
        Err(Error::new(crate::error::Kind::BadChild {
            member: member.to_owned(),
            reason: reason.to_owned(),
        }))
    };
    if node.contains(parent) {
        return bad("the source would hang under itself");
    }
    if !node.attach() {
        return bad("it already hangs under a source");
    }
    Ok(serialized)
}

/// Locks each child of `children` (the members of source `parent`) in turn, as
/// [`ChildHub::lock_tree`] does, and runs `then` with all of them locked.
pub(crate) fn lock_children(
    children: &[Option<Attached>],
    parent: SourceId,
    outboxes: &[Outbox],
    inits: &mut Vec<ChildInit>,
    then: &mut dyn FnMut(&mut Vec<ChildInit>),
) {
    let Some((first, rest)) = children.split_first() else {
        return then(inits);
    };
    let slot = (children.len() - rest.len() - 1) as u16;
    lock_from(first, rest, slot, parent, outboxes, inits, then);
}

fn lock_from(
    first: &Option<Attached>,
    rest: &[Option<Attached>],
    slot: u16,
    parent: SourceId,
    outboxes: &[Outbox],
    inits: &mut Vec<ChildInit>,
    then: &mut dyn FnMut(&mut Vec<ChildInit>),
) {
    let mut next = |inits: &mut Vec<ChildInit>| match rest.split_first() {
        None => then(inits),
        Some((second, rest)) => lock_from(second, rest, slot + 1, parent, outboxes, inits, then),
    };
    match first {
        None => next(inits),
        Some(child) => {
            let place = Place {
                parent,
                slot,
                source: child.id,
            };
            child.node.lock_tree(place, outboxes, inits, &mut next);
        }
    }
}

/// What [`ChildHub::lock_tree`] does for a child whose init is `init` while its state is
/// locked: subscribes `outboxes` to it, appends its init, then locks its `children` in turn.
pub(crate) fn lock_subtree(
    subscribers: &mut Subscribers,
    children: &[Option<Attached>],
    init: ChildInit,
    outboxes: &[Outbox],
    inits: &mut Vec<ChildInit>,
    then: &mut dyn FnMut(&mut Vec<ChildInit>),
) {
    let source = init.source;
    for outbox in outboxes {
        subscribers.add(source, outbox);
    }
    inits.push(init);
    lock_children(children, source, outboxes, inits, then);
}

/// `inits` for the root whose id is `root` on one host.
pub(crate) fn for_root(inits: &[ChildInit], root: SourceId) -> Vec<ChildInit> {
    inits
        .iter()
        .map(|init| ChildInit {
            parent: if init.parent == ROOT {
                root
            } else {
                init.parent
            },
            ..init.clone()
        })
        .collect()
}

/// Removes `conn`'s subscription to `source` (all of its, if `None`) from `subscribers`,
/// and its subscriptions to every child in `children` and under them.
pub(crate) fn unsubscribe(
    subscribers: &mut Subscribers,
    children: &[Option<Attached>],
    conn: ConnId,
    source: Option<SourceId>,
) {
    subscribers.unsubscribe(conn, source);
    for child in children.iter().flatten() {
        child.node.unsubscribe(conn, None);
    }
}

/// Removes every subscription made under `source` (the source was disabled there), and
/// those connections' subscriptions to every child in `children` and under them.
pub(crate) fn unsubscribe_all(
    subscribers: &mut Subscribers,
    children: &[Option<Attached>],
    source: SourceId,
) {
    let conns = subscribers.conns_of(source);
    subscribers.unsubscribe_all(source);
    for child in children.iter().flatten() {
        for &conn in &conns {
            child.node.unsubscribe(conn, None);
        }
    }
}

/// Drops every subscriber of a source detached from its parent, and of each child in
/// `children` and under them.
pub(crate) fn detach(subscribers: &mut Subscribers, children: &[Option<Attached>]) {
    subscribers.clear();
    for child in children.iter().flatten() {
        child.node.detach_tree();
    }
}

/// Whether the source whose state is `state` is one of `children` or under them. Takes
/// them out of their parent's lock: each child locks its own.
pub(crate) fn hold(children: Vec<Attached>, state: *const ()) -> bool {
    children.iter().any(|c| c.node.contains(state))
}

/// The child with id `id` among `children` (each with the index of its member, named by
/// `member`) or under them: its path of member names and its node. Takes them out of
/// their parent's lock.
pub(crate) fn find<'a>(
    children: Vec<(usize, Attached)>,
    member: impl Fn(usize) -> Option<&'a str>,
    id: SourceId,
) -> Option<(String, Arc<dyn ChildHub>)> {
    for (i, child) in children {
        let name = member(i).unwrap_or("?");
        if child.id == id {
            return Some((name.to_owned(), child.node));
        }
        if let Some((path, node)) = child.node.find_child(id) {
            return Some((format!("{name}.{path}"), node));
        }
    }
    None
}

/// The children a member holds, with their members' indices, taken out of the lock.
pub(crate) fn held(children: &[Option<Attached>]) -> Vec<(usize, Attached)> {
    let held = children.iter().enumerate();
    held.filter_map(|(i, c)| Some((i, c.clone()?))).collect()
}
