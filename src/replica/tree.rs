//! [`TreeReplica`]: a replica's view of a tree model member — the top-level row count, each
//! row's child count, bounded windows of the rows fetched under each parent (the sans-io
//! `proto::tree::TreeWindow`), and the fetches under way.

use std::ops::Range;
use std::sync::{Arc, Mutex, MutexGuard};

use bytes::Bytes;
use futures::{Stream, StreamExt};
use rustc_hash::FxHashMap;
use tokio::sync::oneshot;
use tracing::{debug, error};

use super::delivery::{Delivered, Delivery, QueueSender};
use super::model::{public_change, ModelChange};
use super::shared::{invoke, lose_calls, write, Link};
use super::state_cell::StateCell;
use super::{PendingWrite, ReplicaState};
use crate::adapter::{self, index, ModelRow, PROP_CURRENT, SIG_CHANGED, SIG_INSERTED};
use crate::adapter::{SIG_MOVED, SIG_REMOVED, SIG_RESET, SIG_ROWS, SLOT_FETCH, SLOT_WRITE};
use crate::error::{SlotError, SlotResult};
use crate::outbox::{ConnId, Outbox};
use crate::proto::model::MAX_FETCH_ROWS;
use crate::proto::node::{
    ChildTree, InitOutcome, PendingReply, ReplicaEntry, ReplicaProtocolError,
};
use crate::proto::replica::{InitRefused, Offered, ReplicaCore, Transition};
use crate::proto::tree::{Item, TreeApplied, TreeDiff, TreeRequest, TreeWindow, MAX_DEPTH};
use crate::wire::{Encoding, Packet, SourceId, NO_REPLY};

/// What changed in a tree model, as a [`TreeReplica`] shows it: a [`ModelChange`] among
/// the children of `parent` (the path of their parent row; empty for the top level). A
/// message, for [`TreeReplica::subscribe`].
#[derive(Debug, Clone, PartialEq, Eq, actix::Message)]
#[rtype(result = "()")]
pub struct TreeChange {
    /// Whose children changed.
    pub parent: Vec<usize>,
    /// What changed among them (row indices are theirs); a `Reset` and `Lagged` have an
    /// empty parent, and a `Current` names the current row's path in `current`.
    pub change: ModelChange,
    /// The current row's path, for a `ModelChange::Current`.
    pub current: Option<Vec<usize>>,
}

/// A row a [`TreeReplica`] fetched: its value and how many children it has.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TreeRow<T> {
    /// The row's value.
    pub value: T,
    /// How many children it has (fetch them with its path as the parent).
    pub children: usize,
}

fn tree_row<T>((value, children): Item<T>) -> TreeRow<T> {
    TreeRow {
        value,
        children: index(children),
    }
}

/// A waiting `fetch` call's part of the rows.
type Waiter<T> = oneshot::Sender<SlotResult<Vec<Item<T>>>>;

pub(crate) struct TreeShared<T: ModelRow> {
    name: String,
    encoding: Encoding,
    delivery: Delivery,
    prefetch_rows: usize,
    inner: Mutex<Inner<T>>,
    state: Arc<StateCell>,
}

struct Inner<T> {
    core: ReplicaCore<Link, PendingReply>,
    window: TreeWindow<T>,
    roles: Vec<String>,
    current: Option<Vec<u64>>,
    waiters: FxHashMap<u32, Waiter<T>>,
    changes: Vec<QueueSender<TreeChange>>,
}

fn local(path: &[u64]) -> Vec<usize> {
    path.iter().map(|&k| index(k)).collect()
}

fn wire(path: &[usize]) -> Vec<u64> {
    path.iter().map(|&k| k as u64).collect()
}

impl<T: ModelRow> TreeShared<T> {
    pub(crate) fn new(name: String, encoding: Encoding, delivery: Delivery) -> Arc<Self> {
        let settings = delivery.models;
        let defaults = [
            encoding.encode(&0u64),
            encoding.encode(&adapter::roles::<T>()),
            encoding.encode(&None::<Vec<u64>>),
        ];
        let defaults = defaults
            .into_iter()
            .map(|d| d.map(Bytes::from).unwrap_or_default())
            .collect();
        let signature = adapter::tree_signature::<T>();
        let core = ReplicaCore::new(signature, defaults, ReplicaState::Default);
        Arc::new(TreeShared {
            name,
            encoding,
            delivery,
            prefetch_rows: settings.prefetch_rows,
            inner: Mutex::new(Inner {
                core,
                window: TreeWindow::new(settings.cache_rows),
                roles: adapter::roles::<T>(),
                current: None,
                waiters: FxHashMap::default(),
                changes: Vec::new(),
            }),
            state: StateCell::new(ReplicaState::Default),
        })
    }

    fn lock(&self) -> MutexGuard<'_, Inner<T>> {
        // Every update under this lock is applied whole after the diff was checked.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn notify_state(&self, transition: Transition) {
        if let Some((old, new)) = transition {
            debug!(replica = %self.name, ?old, ?new, "tree replica state changed");
            self.state.set(new);
        }
    }

    /// Sends `requests` on the live link, if there is one (else they wait for the next
    /// init, which sends what is under way again).
    fn send(&self, inner: &Inner<T>, requests: &[TreeRequest]) {
        let Some(link) = inner.core.link() else {
            return;
        };
        for r in requests {
            let args = match self.encoding.encode(&(&r.parent, r.id, r.first, r.count)) {
                Ok(args) => Bytes::from(args),
                Err(error) => {
                    error!(%error, "cannot encode a model fetch");
                    continue;
                }
            };
            let invoke = Packet::Invoke {
                source: link.source,
                slot: SLOT_FETCH,
                serial: NO_REPLY,
                args,
            };
            link.sink.push(invoke.to_frame());
        }
    }

    fn tell(inner: &mut Inner<T>, change: TreeChange) {
        inner.changes.retain(|c| c.push_event(change.clone()));
    }

    fn tell_current(inner: &mut Inner<T>, current: Option<Vec<u64>>) {
        if inner.current == current {
            return;
        }
        inner.current.clone_from(&current);
        let path = current.as_deref().map(local);
        let change = TreeChange {
            parent: Vec::new(),
            change: ModelChange::Current {
                row: path.as_ref().and_then(|p| p.last().copied()),
            },
            current: path,
        };
        Self::tell(inner, change);
    }

    fn decode<A: serde::de::DeserializeOwned>(
        &self,
        args: &[u8],
    ) -> Result<A, ReplicaProtocolError> {
        self.encoding
            .decode(args)
            .map_err(|error| self.broken(error))
    }

    fn broken(&self, error: impl std::fmt::Display) -> ReplicaProtocolError {
        ReplicaProtocolError::Model {
            name: self.name.clone(),
            message: error.to_string(),
        }
    }

    fn diff(&self, index: u16, args: &[u8]) -> Result<TreeDiff<T>, ReplicaProtocolError> {
        let diff = match index {
            SIG_INSERTED => {
                let (parent, first, count, rows, total) = self.decode(args)?;
                TreeDiff::Inserted {
                    parent,
                    first,
                    count,
                    rows,
                    total,
                }
            }
            SIG_REMOVED => {
                let (parent, first, count, total) = self.decode(args)?;
                TreeDiff::Removed {
                    parent,
                    first,
                    count,
                    total,
                }
            }
            SIG_MOVED => {
                let (parent, first, count, to, total) = self.decode(args)?;
                TreeDiff::Moved {
                    parent,
                    first,
                    count,
                    to,
                    total,
                }
            }
            SIG_CHANGED => {
                let (parent, first, rows, roles) = self.decode(args)?;
                TreeDiff::Changed {
                    parent,
                    first,
                    rows,
                    roles,
                }
            }
            SIG_RESET => TreeDiff::Reset {
                total: self.decode(args)?,
            },
            SIG_ROWS => {
                let (parent, request, first, total, rows) = self.decode(args)?;
                TreeDiff::Rows {
                    request,
                    parent,
                    first,
                    total,
                    rows,
                }
            }
            _ => {
                return Err(ReplicaProtocolError::OutOfRange {
                    name: self.name.clone(),
                    what: "signal",
                    index,
                })
            }
        };
        Ok(diff)
    }

    /// What `applied` means for watchers, waiters and the source.
    fn applied(&self, inner: &mut Inner<T>, applied: TreeApplied<T>) {
        if let Some((id, rows)) = applied.answered {
            if let Some(waiter) = inner.waiters.remove(&id) {
                let _ = waiter.send(Ok(rows));
            }
        }
        let mut reset = false;
        if let Some((parent, change)) = applied.change {
            reset = matches!(change, crate::proto::model::Change::Reset { .. });
            let change = TreeChange {
                parent: local(&parent),
                change: public_change(change, &inner.roles),
                current: None,
            };
            Self::tell(inner, change);
        }
        self.send(inner, &applied.resend);
        if reset {
            // The source cleared its current row with the tree.
            Self::tell_current(inner, None);
            self.prefetch(inner);
        }
    }

    fn prefetch(&self, inner: &mut Inner<T>) {
        let requests = inner.window.prefetch(&[], 0, self.prefetch_rows as u64);
        self.send(inner, &requests);
    }

    /// Fails every awaited fetch with `error`.
    fn fail_waiters(inner: &mut Inner<T>, ids: Vec<u32>, error: SlotError) {
        for id in ids {
            if let Some(waiter) = inner.waiters.remove(&id) {
                let _ = waiter.send(Err(error.clone()));
            }
        }
    }
}

impl<T: ModelRow> ReplicaEntry<Outbox> for TreeShared<T> {
    fn signature(&self) -> u64 {
        adapter::tree_signature::<T>()
    }

    fn link(&self) -> Option<(ConnId, SourceId)> {
        self.lock().core.link().map(|l| (l.conn, l.source))
    }

    fn on_offered(&self, signature: u64) -> Offered {
        self.lock().core.on_offered(signature)
    }

    fn on_init(
        &self,
        link: Link,
        signature: u64,
        values: Vec<Bytes>,
        _schema: Option<&Bytes>,
        _children: &mut ChildTree<'_, Outbox>,
    ) -> Result<InitOutcome, ReplicaProtocolError> {
        let mut inner = self.lock();
        if let Err((refused, transition)) = inner.core.check_init(signature, values.len()) {
            if let InitRefused::SignatureMismatch { local, remote } = refused {
                error!(replica = %self.name, local, remote,
                    "tree model signature mismatch: the replica will not use this source");
                self.notify_state(transition);
                return Ok(InitOutcome::SignatureMismatch);
            }
            return Err(ReplicaProtocolError::Init {
                name: self.name.clone(),
                refused,
            });
        }
        let bad = |error| ReplicaProtocolError::bad_value(&self.name, "model init", error);
        let value = |i: u16| &values[usize::from(i)][..];
        let total: u64 = self
            .encoding
            .decode(value(adapter::PROP_ROWS))
            .map_err(bad)?;
        let roles: Vec<String> = self
            .encoding
            .decode(value(adapter::PROP_ROLES))
            .map_err(bad)?;
        let current: Option<Vec<u64>> = self.encoding.decode(value(PROP_CURRENT)).map_err(bad)?;
        if current.as_ref().is_some_and(|p| p.len() > MAX_DEPTH) {
            return Err(self.broken("a current row nested too deep"));
        }
        let applied = inner.core.commit_init(link, values);
        let resend = inner.window.init(total);
        inner.roles = roles;
        self.send(&inner, &resend);
        self.prefetch(&mut inner);
        let reset = TreeChange {
            parent: Vec::new(),
            change: ModelChange::Reset { rows: index(total) },
            current: None,
        };
        Self::tell(&mut inner, reset);
        Self::tell_current(&mut inner, current);
        self.notify_state(applied.transition);
        Ok(InitOutcome::Applied)
    }

    fn on_property_change(&self, index_: u16, value: &Bytes) -> Result<(), ReplicaProtocolError> {
        let mut inner = self.lock();
        if !inner.core.has_property(index_) {
            return Err(ReplicaProtocolError::OutOfRange {
                name: self.name.clone(),
                what: "property",
                index: index_,
            });
        }
        if index_ == PROP_CURRENT {
            let current: Option<Vec<u64>> = self.encoding.decode(value).map_err(|error| {
                ReplicaProtocolError::bad_value(&self.name, "property value", error)
            })?;
            if current.as_ref().is_some_and(|p| p.len() > MAX_DEPTH) {
                return Err(self.broken("a current row nested too deep"));
            }
            Self::tell_current(&mut inner, current);
        }
        inner.core.commit_change(index_, value);
        Ok(())
    }

    fn on_signal(&self, index: u16, args: &[u8]) -> Result<(), ReplicaProtocolError> {
        let diff = self.diff(index, args)?;
        let mut inner = self.lock();
        let applied = inner.window.apply(diff).map_err(|e| self.broken(e))?;
        self.applied(&mut inner, applied);
        Ok(())
    }

    fn take_pending(&self, serial: u32) -> Option<PendingReply> {
        self.lock().core.complete_call(serial)
    }

    fn on_link_lost(&self) {
        let mut inner = self.lock();
        let (pending, transition) = inner.core.on_link_lost();
        let awaited = inner.window.link_lost();
        Self::fail_waiters(&mut inner, awaited, SlotError::ConnectionLost);
        self.notify_state(transition);
        drop(inner);
        lose_calls(pending);
    }

    fn on_failed(&self, reason: &str) {
        let mut inner = self.lock();
        let (pending, transition) = inner.core.fail(reason.to_owned());
        error!(replica = %self.name, %reason,
            "the source sent what this tree replica cannot hold; it lets go of the source");
        let awaited = inner.window.link_lost();
        Self::fail_waiters(&mut inner, awaited, SlotError::ConnectionLost);
        self.notify_state(transition);
        drop(inner);
        lose_calls(pending);
    }

    fn on_refused(&self, reason: &str) {
        let transition = self.lock().core.on_refused(reason.to_owned());
        self.notify_state(transition);
    }

    fn on_write_refused(&self, index: u16, reason: &str) {
        debug!(replica = %self.name, index, %reason, "the host refused a model write");
    }

    fn persist(&self) {}
}

/// A replica of a tree model member (`replica.files()` for `model files: TreeModel<T>`):
/// the top-level row count, windows of rows fetched from the source under any parent, each
/// with its child count, and what changes.
///
/// Rows are named by paths, as on the source's [`TreeModel`](crate::model::TreeModel). Its
/// memory is bounded by its windows, not by the tree: it holds the rows it fetched, at most
/// [`NodeConfig::model_cache_rows`] of them over all parents (the windows read least
/// recently go first). Every cached row is kept right as the source changes the tree. It
/// shares its parent replica's connection and state; cheap to clone.
///
/// [`NodeConfig::model_cache_rows`]: crate::NodeConfig::model_cache_rows
pub struct TreeReplica<T: ModelRow> {
    shared: Arc<TreeShared<T>>,
    /// Keeps the parent replica (and with it this one's subscription).
    _parent: Arc<dyn std::any::Any + Send + Sync>,
}

impl<T: ModelRow> Clone for TreeReplica<T> {
    fn clone(&self) -> Self {
        TreeReplica {
            shared: Arc::clone(&self.shared),
            _parent: Arc::clone(&self._parent),
        }
    }
}

impl<T: ModelRow> std::fmt::Debug for TreeReplica<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TreeReplica")
            .field("name", &self.shared.name)
            .field("state", &self.state())
            .field("top_level_rows", &self.row_count(&[]))
            .finish_non_exhaustive()
    }
}

impl<T: ModelRow> TreeReplica<T> {
    pub(crate) fn new(
        shared: Arc<TreeShared<T>>,
        parent: Arc<dyn std::any::Any + Send + Sync>,
    ) -> Self {
        TreeReplica {
            shared,
            _parent: parent,
        }
    }

    /// Its name: the parent's source name and the member's, `Explorer.files`.
    pub fn source_name(&self) -> &str {
        &self.shared.name
    }

    /// Its state, as a replica's: `Valid` while linked to the source.
    pub fn state(&self) -> ReplicaState {
        self.shared.state.get()
    }

    /// Its state now and after every change.
    pub fn state_changes(&self) -> impl Stream<Item = ReplicaState> + Unpin + Send + 'static {
        self.shared.state.stream()
    }

    /// The number of children of the row at `parent` (`&[]`: the top-level rows, always
    /// known once initialized), if this replica knows it: once it holds that row, or
    /// fetched its children.
    pub fn row_count(&self, parent: &[usize]) -> Option<usize> {
        self.shared
            .lock()
            .window
            .row_count(&wire(parent))
            .map(index)
    }

    /// The roles of a row, as the source declared them.
    pub fn roles(&self) -> Vec<String> {
        self.shared.lock().roles.clone()
    }

    /// The row at `path` if this replica holds it. A miss returns `None` at once and asks
    /// the source for the block of its siblings around it (once while it is on its way);
    /// a `ModelChange::Fetched` under its parent tells when they arrived.
    pub fn get(&self, path: &[usize]) -> Option<TreeRow<T>> {
        let mut inner = self.shared.lock();
        let (row, request) = inner.window.get(&wire(path));
        let row = row.cloned().map(tree_row);
        if let Some(request) = request {
            self.shared.send(&inner, &[request]);
        }
        row
    }

    /// The row at `path` if this replica holds it, without asking for it.
    pub fn cached(&self, path: &[usize]) -> Option<TreeRow<T>> {
        self.shared
            .lock()
            .window
            .peek(&wire(path))
            .cloned()
            .map(tree_row)
    }

    /// How many rows this replica holds now, over all parents.
    pub fn cached_rows(&self) -> usize {
        self.shared.lock().window.cached()
    }

    /// Fetches the children of `parent` in `range` (clipped to them) from the source and
    /// resolves to them, as they were when the source read them; they are held too, as far
    /// as the budget allows. A parent the source does not have has no children. Fails with
    /// `NotConnected` when the replica is not linked, and `ConnectionLost` if the link
    /// fails first.
    pub fn fetch(
        &self,
        parent: &[usize],
        range: Range<usize>,
    ) -> impl std::future::Future<Output = SlotResult<Vec<TreeRow<T>>>> + Send + 'static {
        let (this, parent) = (self.clone(), parent.to_vec());
        async move {
            let mut rows = Vec::new();
            let mut at = range.start;
            loop {
                let (parts, counted) = this.start_fetch(&parent, at..range.end)?;
                let before = rows.len();
                for part in parts {
                    let part = part.await.map_err(|_| SlotError::ConnectionLost)??;
                    rows.extend(part.into_iter().map(tree_row));
                }
                // Children not counted when asked: the first part came; ask for the rest.
                let got = rows.len() - before;
                if counted || got == 0 || got < MAX_FETCH_ROWS as usize {
                    return Ok(rows);
                }
                at = at.saturating_add(got);
                if at >= range.end {
                    return Ok(rows);
                }
            }
        }
    }

    /// The fetches for `range` of `parent`'s children, and whether their number was known
    /// (else only the first part is asked for).
    #[allow(clippy::type_complexity)]
    fn start_fetch(
        &self,
        parent: &[usize],
        range: Range<usize>,
    ) -> SlotResult<(Vec<oneshot::Receiver<SlotResult<Vec<Item<T>>>>>, bool)> {
        if parent.len() >= MAX_DEPTH {
            return Err(SlotError::Encode(format!(
                "a tree model is at most {MAX_DEPTH} levels deep"
            )));
        }
        let mut inner = self.shared.lock();
        if inner.core.link().is_none() {
            return Err(SlotError::NotConnected);
        }
        let parent = wire(parent);
        let counted = inner.window.row_count(&parent).is_some();
        let count = range.end.saturating_sub(range.start) as u64;
        let requests = inner.window.fetch(&parent, range.start as u64, count);
        let mut parts = Vec::with_capacity(requests.len());
        for request in &requests {
            let (tx, rx) = oneshot::channel();
            inner.waiters.insert(request.id, tx);
            parts.push(rx);
        }
        self.shared.send(&inner, &requests);
        Ok((parts, counted))
    }

    /// Keeps at most `rows` rows over all parents from now on (the node's default is
    /// [`NodeConfig::model_cache_rows`](crate::NodeConfig::model_cache_rows)).
    pub fn set_cache_rows(&self, rows: usize) {
        self.shared.lock().window.set_capacity(rows);
    }

    /// Asks the source to replace the value of the row at `path` with `value` (its
    /// children stay); resolves once the source applied it (the change is in this replica
    /// by then) or refused it (`SlotError::Rejected` or `SlotError::Source`, with its
    /// reason).
    pub fn write(&self, path: &[usize], value: T) -> PendingWrite<()> {
        let Some((&row, parent)) = path.split_last() else {
            let refused = SlotError::Encode("the root is not a row".to_owned());
            return PendingWrite::new(futures::future::ready(Err(refused)));
        };
        let args = match self
            .shared
            .encoding
            .encode(&(wire(parent), row as u64, value))
        {
            Ok(args) => Bytes::from(args),
            Err(e) => {
                let refused = SlotError::Encode(e.to_string());
                return PendingWrite::new(futures::future::ready(Err(refused)));
            }
        };
        self.answered(|core, complete| invoke(core, SLOT_WRITE, args, complete))
    }

    /// The current row's path (Qt's current index), as the source shares it.
    pub fn current(&self) -> Option<Vec<usize>> {
        self.shared.lock().current.as_deref().map(local)
    }

    /// Asks the source to make the row at `path` the current row; resolves once it did
    /// (every replica is told) or refused (a row it does not have).
    pub fn set_current(&self, path: Option<&[usize]>) -> PendingWrite<()> {
        let value = match self.shared.encoding.encode(&path.map(wire)) {
            Ok(value) => Bytes::from(value),
            Err(e) => {
                let refused = SlotError::Encode(e.to_string());
                return PendingWrite::new(futures::future::ready(Err(refused)));
            }
        };
        self.answered(|core, complete| write(core, PROP_CURRENT, value, complete))
    }

    /// A request `send` makes (with what completes it), resolving once the source answered.
    fn answered(
        &self,
        send: impl FnOnce(&mut ReplicaCore<Link, PendingReply>, PendingReply) -> Option<PendingReply>,
    ) -> PendingWrite<()> {
        super::model::answered(&mut self.shared.lock().core, send)
    }

    /// Delivers what changes from now on to `to`, in order (as [`TreeReplica::changes`]).
    pub fn subscribe(&self, to: actix::Recipient<TreeChange>) {
        let feed = self.shared.delivery.feed(to);
        self.shared.lock().changes.push(feed);
    }

    /// What changes from now on, in the order the source made the changes, each under the
    /// parent whose children changed: rows inserted, removed, moved and changed, resets,
    /// rows fetched, the current row. A stream that falls behind by the node's event buffer
    /// gets `ModelChange::Lagged`.
    pub fn changes(&self) -> impl Stream<Item = TreeChange> + Unpin + Send + 'static {
        let (tx, rx) = self.shared.delivery.stream();
        self.shared.lock().changes.push(tx);
        rx.map(|delivered| match delivered {
            Delivered::Item(change) => change,
            Delivered::Lagged(_) => TreeChange {
                parent: Vec::new(),
                change: ModelChange::Lagged,
                current: None,
            },
        })
    }
}
