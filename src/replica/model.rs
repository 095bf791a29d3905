//! [`ModelReplica`]: a replica's view of a model member — the row count, a bounded window
//! of rows (the sans-io `proto::model::ModelWindow`), and the fetches under way.

use std::ops::Range;
use std::sync::{Arc, Mutex, MutexGuard};

use bytes::Bytes;
use futures::{Stream, StreamExt};
use rustc_hash::FxHashMap;
use tokio::sync::oneshot;
use tracing::{debug, error};

use super::delivery::{Delivered, Delivery, QueueSender};
use super::shared::{invoke, lose_calls, write, Link};
use super::state_cell::StateCell;
use super::{PendingWrite, ReplicaState};
use crate::adapter::{self, index, Form, ModelRow, PROP_CURRENT, SIG_CHANGED, SIG_INSERTED};
use crate::adapter::{PROP_SELECTION, SLOT_SELECT};
use crate::adapter::{SIG_MOVED, SIG_REMOVED, SIG_RESET, SIG_ROWS, SLOT_FETCH, SLOT_WRITE};
use crate::error::{SlotError, SlotResult};
use crate::outbox::{ConnId, Outbox};
use crate::proto::model::{Applied, Change, Diff, ModelWindow, Request};
use crate::proto::node::{
    ChildTree, InitOutcome, PendingReply, ReplicaEntry, ReplicaProtocolError,
};
use crate::proto::replica::{InitRefused, Offered, ReplicaCore, Transition};
use crate::proto::selection::command;
use crate::wire::{Encoding, Packet, SourceId, NO_REPLY};

/// What changed in a model, as a [`ModelReplica`] shows it (row indices after the change);
/// a message, for [`ModelReplica::subscribe`].
#[derive(Debug, Clone, PartialEq, Eq, actix::Message)]
#[rtype(result = "()")]
#[non_exhaustive]
pub enum ModelChange {
    /// `count` rows were inserted at `first`.
    Inserted {
        /// The first new row.
        first: usize,
        /// How many.
        count: usize,
    },
    /// `count` rows at `first` were removed.
    Removed {
        /// The first removed row.
        first: usize,
        /// How many.
        count: usize,
    },
    /// `count` rows at `first` moved to start at `to` (an index after the move).
    Moved {
        /// Where they were.
        first: usize,
        /// How many.
        count: usize,
        /// Where they start now.
        to: usize,
    },
    /// `count` rows from `first` changed: the roles named in `roles`, or all of them.
    Changed {
        /// The first changed row.
        first: usize,
        /// How many.
        count: usize,
        /// The roles that changed; empty when the whole rows did.
        roles: Vec<String>,
    },
    /// Everything may have changed: the model has `rows` rows, none of them held. Also
    /// sent when the replica re-initializes after a reconnect, and when the source found
    /// this replica too far behind to send it every diff.
    Reset {
        /// The row count now.
        rows: usize,
    },
    /// Rows `first..first + count` arrived from the source and are held.
    Fetched {
        /// The first row that arrived.
        first: usize,
        /// How many.
        count: usize,
    },
    /// The current row is now `row` (set by the source or by a replica, or moved with its
    /// row).
    Current {
        /// The current row, if any.
        row: Option<usize>,
    },
    /// The selected rows are now `ranges` (changed by the source or by a replica, or moved
    /// with their rows).
    Selection {
        /// The selected rows, as sorted, disjoint ranges.
        ranges: Vec<Range<usize>>,
    },
    /// This stream fell behind and dropped changes: read the rows again.
    Lagged,
}

/// How a node's model replicas hold rows (see [`NodeConfig::model_cache_rows`] and
/// [`NodeConfig::model_prefetch_rows`]).
///
/// [`NodeConfig::model_cache_rows`]: crate::NodeConfig::model_cache_rows
/// [`NodeConfig::model_prefetch_rows`]: crate::NodeConfig::model_prefetch_rows
#[derive(Debug, Clone, Copy)]
pub(crate) struct ModelSettings {
    /// The most rows a window holds.
    pub(crate) cache_rows: usize,
    /// Rows fetched from the top at every init and reset.
    pub(crate) prefetch_rows: usize,
}

impl Default for ModelSettings {
    fn default() -> Self {
        // Qt's root cache size; Qt fetches nothing before a view asks.
        ModelSettings {
            cache_rows: 1000,
            prefetch_rows: 0,
        }
    }
}

/// A waiting `fetch` call's part of the rows.
type Waiter<T> = oneshot::Sender<SlotResult<Vec<T>>>;

pub(crate) struct ModelShared<T: ModelRow> {
    name: String,
    /// The signature of its adapter: a list's or a table's.
    signature: u64,
    encoding: Encoding,
    delivery: Delivery,
    prefetch_rows: usize,
    inner: Mutex<Inner<T>>,
    state: Arc<StateCell>,
}

struct Inner<T> {
    core: ReplicaCore<Link, PendingReply>,
    window: ModelWindow<T>,
    roles: Vec<String>,
    current: Option<u64>,
    selection: Vec<Range<usize>>,
    waiters: FxHashMap<u32, Waiter<T>>,
    changes: Vec<QueueSender<ModelChange>>,
}

impl<T: ModelRow> ModelShared<T> {
    /// A replica of a model served as `form` (a list or a table).
    pub(crate) fn new(
        name: String,
        encoding: Encoding,
        delivery: Delivery,
        form: Form,
    ) -> Arc<Self> {
        let settings = delivery.models;
        let defaults = [
            encoding.encode(&0u64),
            encoding.encode(&adapter::roles::<T>()),
            encoding.encode(&None::<u64>),
            encoding.encode(&Vec::<(u64, u64)>::new()),
        ];
        let defaults = defaults
            .into_iter()
            .map(|d| d.map(Bytes::from).unwrap_or_default())
            .collect();
        let signature = adapter::form_signature::<T>(form);
        let core = ReplicaCore::new(signature, defaults, ReplicaState::Default);
        Arc::new(ModelShared {
            name,
            signature,
            encoding,
            delivery,
            prefetch_rows: settings.prefetch_rows,
            inner: Mutex::new(Inner {
                core,
                window: ModelWindow::new(settings.cache_rows),
                roles: adapter::roles::<T>(),
                current: None,
                selection: Vec::new(),
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
            debug!(replica = %self.name, ?old, ?new, "model replica state changed");
            self.state.set(new);
        }
    }

    /// Sends `requests` on the live link, if there is one (else they wait for the next
    /// init, which sends what is under way again).
    fn send(&self, inner: &Inner<T>, requests: &[Request]) {
        let Some(link) = inner.core.link() else {
            return;
        };
        for request in requests {
            let args = match self
                .encoding
                .encode(&(request.id, request.first, request.count))
            {
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

    fn tell(inner: &mut Inner<T>, change: ModelChange) {
        inner.changes.retain(|c| c.push_event(change.clone()));
    }

    fn tell_current(inner: &mut Inner<T>, current: Option<u64>) {
        if std::mem::replace(&mut inner.current, current) != current {
            let row = current.map(index);
            Self::tell(inner, ModelChange::Current { row });
        }
    }

    /// The selection as the source sent it: `(first, count)` pairs.
    fn tell_selection(
        &self,
        inner: &mut Inner<T>,
        value: &[u8],
    ) -> Result<(), ReplicaProtocolError> {
        let pairs: Vec<(u64, u64)> = self.encoding.decode(value).map_err(|error| {
            ReplicaProtocolError::bad_value(&self.name, "model selection", error)
        })?;
        let ranges: Vec<Range<usize>> = pairs
            .into_iter()
            .map(|(first, count)| index(first)..index(first.saturating_add(count)))
            .collect();
        if inner.selection != ranges {
            inner.selection.clone_from(&ranges);
            Self::tell(inner, ModelChange::Selection { ranges });
        }
        Ok(())
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

    fn diff(&self, index: u16, args: &[u8]) -> Result<Diff<T>, ReplicaProtocolError> {
        Ok(match index {
            SIG_INSERTED => {
                let (first, count, rows, total) = self.decode(args)?;
                Diff::Inserted {
                    first,
                    count,
                    rows,
                    total,
                }
            }
            SIG_REMOVED => {
                let (first, count, total) = self.decode(args)?;
                Diff::Removed {
                    first,
                    count,
                    total,
                }
            }
            SIG_MOVED => {
                let (first, count, to, total) = self.decode(args)?;
                Diff::Moved {
                    first,
                    count,
                    to,
                    total,
                }
            }
            SIG_CHANGED => {
                let (first, rows, roles) = self.decode(args)?;
                Diff::Changed { first, rows, roles }
            }
            SIG_RESET => Diff::Reset {
                total: self.decode(args)?,
            },
            SIG_ROWS => {
                let (request, first, rows) = self.decode(args)?;
                Diff::Rows {
                    request,
                    first,
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
        })
    }

    /// What `applied` means for watchers, waiters and the source.
    fn applied(&self, inner: &mut Inner<T>, applied: Applied<T>) {
        if let Some((id, rows)) = applied.answered {
            if let Some(waiter) = inner.waiters.remove(&id) {
                let _ = waiter.send(Ok(rows));
            }
        }
        let reset = matches!(applied.change, Some(Change::Reset { .. }));
        if let Some(change) = applied.change {
            let change = public_change(change, &inner.roles);
            Self::tell(inner, change);
        }
        self.send(inner, &applied.resend);
        if reset {
            self.prefetch(inner);
        }
    }

    fn prefetch(&self, inner: &mut Inner<T>) {
        let requests = inner.window.prefetch(0, self.prefetch_rows as u64);
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

pub(super) fn public_change(change: Change, roles: &[String]) -> ModelChange {
    match change {
        Change::Inserted { first, count } => ModelChange::Inserted {
            first: index(first),
            count: index(count),
        },
        Change::Removed { first, count } => ModelChange::Removed {
            first: index(first),
            count: index(count),
        },
        Change::Moved { first, count, to } => ModelChange::Moved {
            first: index(first),
            count: index(count),
            to: index(to),
        },
        Change::Changed {
            first,
            count,
            roles: changed,
        } => ModelChange::Changed {
            first: index(first),
            count: index(count),
            roles: changed
                .iter()
                .filter_map(|&r| roles.get(usize::from(r)).cloned())
                .collect(),
        },
        Change::Reset { total } => ModelChange::Reset { rows: index(total) },
        Change::Fetched { first, count } => ModelChange::Fetched {
            first: index(first),
            count: index(count),
        },
    }
}

impl<T: ModelRow> ReplicaEntry<Outbox> for ModelShared<T> {
    fn signature(&self) -> u64 {
        self.signature
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
                    "model signature mismatch: the replica will not use this source");
                self.notify_state(transition);
                return Ok(InitOutcome::SignatureMismatch);
            }
            return Err(ReplicaProtocolError::Init {
                name: self.name.clone(),
                refused,
            });
        }
        let bad = |error| ReplicaProtocolError::bad_value(&self.name, "model init", error);
        let decode = |i: u16| &values[usize::from(i)][..];
        let total: u64 = self
            .encoding
            .decode(decode(adapter::PROP_ROWS))
            .map_err(bad)?;
        let roles: Vec<String> = self
            .encoding
            .decode(decode(adapter::PROP_ROLES))
            .map_err(bad)?;
        let current: Option<u64> = self.encoding.decode(decode(PROP_CURRENT)).map_err(bad)?;
        self.tell_selection(&mut inner, decode(PROP_SELECTION))?;
        let applied = inner.core.commit_init(link, values);
        let resend = inner.window.init(total);
        inner.roles = roles;
        self.send(&inner, &resend);
        self.prefetch(&mut inner);
        Self::tell(&mut inner, ModelChange::Reset { rows: index(total) });
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
            let current: Option<u64> = self.encoding.decode(value).map_err(|error| {
                ReplicaProtocolError::bad_value(&self.name, "property value", error)
            })?;
            Self::tell_current(&mut inner, current);
        }
        if index_ == PROP_SELECTION {
            self.tell_selection(&mut inner, value)?;
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
            "the source sent what this model replica cannot hold; it lets go of the source");
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

/// A replica of a model member (`replica.playlist()` for `model playlist: ListModel<T>`):
/// the row count, a window of rows fetched from the source, and what changes.
///
/// Its memory is bounded by the window, not by the model: a replica of a million-row model
/// holds the rows it fetched, at most [`NodeConfig::model_cache_rows`] of them (the rows
/// nearest the last one read stay). Every cached row is kept right as the source inserts,
/// removes, moves and changes rows. It shares its parent replica's connection and state;
/// cheap to clone.
///
/// [`NodeConfig::model_cache_rows`]: crate::NodeConfig::model_cache_rows
pub struct ModelReplica<T: ModelRow> {
    shared: Arc<ModelShared<T>>,
    /// Keeps the parent replica (and with it this one's subscription).
    _parent: Arc<dyn std::any::Any + Send + Sync>,
}

impl<T: ModelRow> Clone for ModelReplica<T> {
    fn clone(&self) -> Self {
        ModelReplica {
            shared: Arc::clone(&self.shared),
            _parent: Arc::clone(&self._parent),
        }
    }
}

impl<T: ModelRow> std::fmt::Debug for ModelReplica<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ModelReplica")
            .field("name", &self.shared.name)
            .field("state", &self.state())
            .field("rows", &self.row_count())
            .finish_non_exhaustive()
    }
}

impl<T: ModelRow> ModelReplica<T> {
    pub(crate) fn new(
        shared: Arc<ModelShared<T>>,
        parent: Arc<dyn std::any::Any + Send + Sync>,
    ) -> Self {
        ModelReplica {
            shared,
            _parent: parent,
        }
    }

    /// Its name: the parent's source name and the member's, `Player.playlist`.
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

    /// The number of rows the model has (as of the last diff this replica applied).
    pub fn row_count(&self) -> usize {
        index(self.shared.lock().window.total())
    }

    /// The roles of a row, as the source declared them.
    pub fn roles(&self) -> Vec<String> {
        self.shared.lock().roles.clone()
    }

    /// Row `row` if this replica holds it. A miss returns `None` at once and asks the
    /// source for the block of rows around it (once while it is on its way); a
    /// [`ModelChange::Fetched`] tells when they arrived.
    pub fn get(&self, row: usize) -> Option<T> {
        let mut inner = self.shared.lock();
        let (value, request) = inner.window.get(row as u64);
        let value = value.cloned();
        if let Some(request) = request {
            self.shared.send(&inner, &[request]);
        }
        value
    }

    /// Row `row` if this replica holds it, without asking for it.
    pub fn cached(&self, row: usize) -> Option<T> {
        self.shared.lock().window.peek(row as u64).cloned()
    }

    /// How many rows this replica holds now.
    pub fn cached_rows(&self) -> usize {
        self.shared.lock().window.cached()
    }

    /// Fetches the rows in `range` (clipped to the model) from the source and resolves to
    /// them, as they were when the source read them; they are held too, as far as the
    /// window's size allows. Fails with `NotConnected` when the replica is not linked, and
    /// `ConnectionLost` if the link fails first.
    pub fn fetch(
        &self,
        range: Range<usize>,
    ) -> impl std::future::Future<Output = SlotResult<Vec<T>>> + Send + 'static {
        let parts = self.start_fetch(range);
        async move {
            let mut rows = Vec::new();
            for part in parts? {
                rows.extend(part.await.map_err(|_| SlotError::ConnectionLost)??);
            }
            Ok(rows)
        }
    }

    fn start_fetch(
        &self,
        range: Range<usize>,
    ) -> SlotResult<Vec<oneshot::Receiver<SlotResult<Vec<T>>>>> {
        let mut inner = self.shared.lock();
        if inner.core.link().is_none() {
            return Err(SlotError::NotConnected);
        }
        let count = range.end.saturating_sub(range.start) as u64;
        let requests = inner.window.fetch(range.start as u64, count);
        let mut parts = Vec::with_capacity(requests.len());
        for request in &requests {
            let (tx, rx) = oneshot::channel();
            inner.waiters.insert(request.id, tx);
            parts.push(rx);
        }
        self.shared.send(&inner, &requests);
        Ok(parts)
    }

    /// Keeps at most `rows` rows from now on (the node's default is
    /// [`NodeConfig::model_cache_rows`](crate::NodeConfig::model_cache_rows)).
    pub fn set_cache_rows(&self, rows: usize) {
        self.shared.lock().window.set_capacity(rows);
    }

    /// Asks the source to replace row `row` with `value`; resolves once the source applied
    /// it (the change is in this replica by then) or refused it (`SlotError::Rejected` or
    /// `SlotError::Source`, with its reason).
    pub fn write(&self, row: usize, value: T) -> PendingWrite<()> {
        let encoding = self.shared.encoding;
        let args = match encoding.encode(&(row as u64, value)) {
            Ok(args) => Bytes::from(args),
            Err(e) => {
                return PendingWrite::new(futures::future::ready(Err(SlotError::Encode(
                    e.to_string(),
                ))))
            }
        };
        self.answered(|core, complete| invoke(core, SLOT_WRITE, args, complete))
    }

    /// The current row (Qt's current index), as the source shares it.
    pub fn current(&self) -> Option<usize> {
        self.shared.lock().current.map(index)
    }

    /// Asks the source to make `row` the current row; resolves once it did (every replica
    /// is told) or refused (a row it does not have).
    pub fn set_current(&self, row: Option<usize>) -> PendingWrite<()> {
        let value = match self.shared.encoding.encode(&row.map(|r| r as u64)) {
            Ok(value) => Bytes::from(value),
            Err(e) => {
                return PendingWrite::new(futures::future::ready(Err(SlotError::Encode(
                    e.to_string(),
                ))))
            }
        };
        self.answered(|core, complete| write(core, PROP_CURRENT, value, complete))
    }

    /// The selected rows (Qt's selection model), as the source shares them: sorted,
    /// disjoint ranges.
    pub fn selection(&self) -> Vec<Range<usize>> {
        self.shared.lock().selection.clone()
    }

    /// Asks the source to add the rows in `range` to the selection; resolves once it did
    /// (every replica is told) or refused (rows it does not have, or a selection of too
    /// many ranges).
    pub fn select(&self, range: Range<usize>) -> PendingWrite<()> {
        self.select_with(range, command::SELECT)
    }

    /// Asks the source to take the rows in `range` out of the selection.
    pub fn deselect(&self, range: Range<usize>) -> PendingWrite<()> {
        self.select_with(range, command::DESELECT)
    }

    /// Asks the source to select the rows in `range` that are not, and deselect the others.
    pub fn toggle(&self, range: Range<usize>) -> PendingWrite<()> {
        self.select_with(range, command::TOGGLE)
    }

    /// Asks the source to select only the rows in `range` (none if it is empty).
    pub fn select_only(&self, range: Range<usize>) -> PendingWrite<()> {
        self.select_with(range, command::CLEAR | command::SELECT)
    }

    fn select_with(&self, range: Range<usize>, how: u8) -> PendingWrite<()> {
        let count = range.end.saturating_sub(range.start) as u64;
        let args = match self
            .shared
            .encoding
            .encode(&(range.start as u64, count, how))
        {
            Ok(args) => Bytes::from(args),
            Err(e) => {
                let refused = SlotError::Encode(e.to_string());
                return PendingWrite::new(futures::future::ready(Err(refused)));
            }
        };
        self.answered(|core, complete| invoke(core, SLOT_SELECT, args, complete))
    }

    /// A request `send` makes (with what completes it), resolving once the source answered.
    fn answered(
        &self,
        send: impl FnOnce(&mut ReplicaCore<Link, PendingReply>, PendingReply) -> Option<PendingReply>,
    ) -> PendingWrite<()> {
        answered(&mut self.shared.lock().core, send)
    }

    /// Delivers what changes from now on to `to`, in order (as [`ModelReplica::changes`]:
    /// an actor that falls behind by the node's event buffer gets [`ModelChange::Lagged`]).
    pub fn subscribe(&self, to: actix::Recipient<ModelChange>) {
        let feed = self.shared.delivery.feed(to);
        self.shared.lock().changes.push(feed);
    }

    /// What changes from now on, in the order the source made the changes: rows inserted,
    /// removed, moved and changed, resets, rows fetched, the current row, the selection. A stream that
    /// falls behind by the node's event buffer gets [`ModelChange::Lagged`].
    pub fn changes(&self) -> impl Stream<Item = ModelChange> + Unpin + Send + 'static {
        let (tx, rx) = self.shared.delivery.stream();
        self.shared.lock().changes.push(tx);
        rx.map(|delivered| match delivered {
            Delivered::Item(change) => change,
            Delivered::Lagged(_) => ModelChange::Lagged,
        })
    }
}

/// A request to the source that `send` makes on `core` (with what completes it), resolving
/// once the source answered; `NotConnected` at once when there is no link.
pub(super) fn answered(
    core: &mut ReplicaCore<Link, PendingReply>,
    send: impl FnOnce(&mut ReplicaCore<Link, PendingReply>, PendingReply) -> Option<PendingReply>,
) -> PendingWrite<()> {
    let (tx, rx) = oneshot::channel();
    let complete: PendingReply = Box::new(move |reply| {
        let _ = tx.send(reply);
    });
    if let Some(complete) = send(core, complete) {
        complete(Err(SlotError::NotConnected));
    }
    PendingWrite::new(async move {
        rx.await.map_err(|_| SlotError::ConnectionLost)??;
        Ok(())
    })
}
