//! [`TreeModel`]: rows with children that a source holds (a file tree, a table of contents,
//! grouped contacts), and the replicas' connections subscribed to them.
//!
//! As a [`ListModel`](super::ListModel), with a path where a list has an index: one lock
//! covers the tree and the subscribers, each operation changes the tree and queues its diff
//! (naming the parent it is about) before the next can, and a fetch is answered from the
//! tree under the same lock, so every replica applies diffs and answers exactly as the rows
//! stood. A slow replica gets a reset (see `model_subscribers`).

use std::ops::Range;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, Weak};

use bytes::Bytes;
use futures::Stream;
use serde::{Deserialize, Serialize};
use tracing::warn;

use super::children::{next_child_id, Attached, ChildHub, Place};
use super::hosted::SourceHub;
use super::model_subscribers::{ready, ModelSubscribers};
use crate::adapter::{self, ModelRow, PROP_CURRENT, SIG_CHANGED, SIG_INSERTED, SIG_MOVED};
use crate::adapter::{SIG_REMOVED, SIG_RESET, SIG_ROWS, SLOT_FETCH, SLOT_WRITE};
use crate::error::{Error, Kind};
use crate::outbox::{ConnId, Outbox};
use crate::proto::host::Caller;
use crate::proto::model::{moved, MAX_FETCH_ROWS};
use crate::proto::tree::MAX_DEPTH;
use crate::proto::{SlotFuture, WriteFuture};
use crate::wire::{ChildInit, Encoding, Packet, SourceId};

/// Inserts of up to this many rows carry their values; larger ones leave replicas to fetch
/// the rows they show.
const INLINE_INSERT_ROWS: usize = 256;

/// Decides on a replica's write of a row: `Ok` to apply it, or the refusal.
type WritePolicy<T> = dyn Fn(&[usize], &T) -> Result<(), String> + Send + Sync;

/// One row of a [`TreeModel`] and the rows under it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TreeItem<T> {
    /// The row's value.
    pub value: T,
    /// Its children, in order.
    pub children: Vec<TreeItem<T>>,
}

impl<T> TreeItem<T> {
    /// A row without children.
    pub fn leaf(value: T) -> TreeItem<T> {
        TreeItem {
            value,
            children: Vec::new(),
        }
    }

    /// A row with `children`.
    pub fn new(value: T, children: Vec<TreeItem<T>>) -> TreeItem<T> {
        TreeItem { value, children }
    }
}

/// Rows with children that replicas page through: the `model` member of a source declared
/// `model files: TreeModel<Entry>`, reached as `source.files()`.
///
/// A row is named by its path from the root: `&[2]` is the third top-level row, `&[2, 0]`
/// its first child; an operation on the children of a row takes that row's path as
/// `parent` (`&[]` for the top level). Every operation is sent to every replica as one diff,
/// in order with the source's other changes and signals; a replica holds only the rows it
/// fetched (see [`TreeReplica`](crate::model::TreeReplica)). Handles are cheap to clone and
/// share the tree.
///
/// Replicas may write rows only if the source says how it decides on them
/// ([`TreeModel::accept_writes`]); until then every write is refused.
pub struct TreeModel<T: ModelRow> {
    shared: Arc<Shared<T>>,
}

impl<T: ModelRow> Clone for TreeModel<T> {
    fn clone(&self) -> Self {
        TreeModel {
            shared: Arc::clone(&self.shared),
        }
    }
}

impl<T: ModelRow> std::fmt::Debug for TreeModel<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let state = self.shared.lock();
        f.debug_struct("TreeModel")
            .field("top_level_rows", &state.roots.len())
            .field("subscribers", &state.subs.len())
            .finish_non_exhaustive()
    }
}

impl<T: ModelRow> Default for TreeModel<T> {
    fn default() -> Self {
        TreeModel::new(Vec::new())
    }
}

struct Shared<T: ModelRow> {
    state: Mutex<State<T>>,
    /// Told the current row at every change.
    current: tokio::sync::watch::Sender<Option<Vec<usize>>>,
    schema: OnceLock<Result<Bytes, String>>,
    /// Itself, for the markers of lagging subscribers.
    this: Weak<Shared<T>>,
}

struct State<T> {
    roots: Vec<TreeItem<T>>,
    current: Option<Vec<u64>>,
    subs: ModelSubscribers,
    attached: bool,
    accept_writes: Option<Arc<WritePolicy<T>>>,
}

fn no_row(path: &[usize]) -> Error {
    Error::new(Kind::InvalidValue(format!(
        "the tree has no row at {path:?}"
    )))
}

fn out_of_range(row: usize, rows: usize) -> Error {
    Error::new(Kind::NoSuchRow { row, rows })
}

/// The children of the row at `parent` (the top level for `[]`).
fn children_of<'a, T>(roots: &'a [TreeItem<T>], parent: &[usize]) -> Option<&'a [TreeItem<T>]> {
    let mut list = roots;
    for &k in parent {
        list = &list.get(k)?.children;
    }
    Some(list)
}

fn children_of_mut<'a, T>(
    roots: &'a mut Vec<TreeItem<T>>,
    parent: &[usize],
) -> Option<&'a mut Vec<TreeItem<T>>> {
    let mut list = roots;
    for &k in parent {
        list = &mut list.get_mut(k)?.children;
    }
    Some(list)
}

fn wire_path(path: &[usize]) -> Vec<u64> {
    path.iter().map(|&k| k as u64).collect()
}

/// A row as it travels: its value and its number of children.
fn item<T>(item: &TreeItem<T>) -> (&T, u64) {
    (&item.value, item.children.len() as u64)
}

impl<T: ModelRow> TreeModel<T> {
    /// A tree whose top-level rows are `roots`.
    pub fn new(roots: Vec<TreeItem<T>>) -> TreeModel<T> {
        let shared = Arc::new_cyclic(|this| Shared {
            state: Mutex::new(State {
                roots,
                current: None,
                subs: ModelSubscribers::new(),
                attached: false,
                accept_writes: None,
            }),
            current: tokio::sync::watch::Sender::new(None),
            schema: OnceLock::new(),
            this: this.clone(),
        });
        TreeModel { shared }
    }

    /// It, attached at a member of a new source.
    pub(crate) fn attachment(&self) -> Attached {
        self.shared.lock().attached = true;
        Attached {
            id: next_child_id(),
            node: Arc::clone(&self.shared) as Arc<dyn ChildHub>,
            source: Arc::new(self.clone()),
        }
    }

    /// The number of children of the row at `parent` (`&[]`: top-level rows), if there is
    /// such a row.
    pub fn len(&self, parent: &[usize]) -> Option<usize> {
        children_of(&self.shared.lock().roots, parent).map(<[_]>::len)
    }

    /// Whether the tree has no rows.
    pub fn is_empty(&self) -> bool {
        self.shared.lock().roots.is_empty()
    }

    /// A copy of the value of the row at `path`, if there is one.
    pub fn get(&self, path: &[usize]) -> Option<T> {
        let (&row, parent) = path.split_last()?;
        let state = self.shared.lock();
        children_of(&state.roots, parent)?
            .get(row)
            .map(|i| i.value.clone())
    }

    /// Runs `read` on the top-level rows (and through them, the whole tree).
    pub fn read<R>(&self, read: impl FnOnce(&[TreeItem<T>]) -> R) -> R {
        read(&self.shared.lock().roots)
    }

    /// The roles of a row: its fields' names if it is a struct, else one, `display`.
    pub fn roles(&self) -> Vec<String> {
        adapter::roles::<T>()
    }

    /// Appends `item` (with its children) to the children of `parent`.
    pub fn push(&self, parent: &[usize], item: TreeItem<T>) -> Result<(), Error> {
        self.insert_many(parent, usize::MAX, [item])
    }

    /// Inserts `item` at `at` among the children of `parent`.
    pub fn insert(&self, parent: &[usize], at: usize, item: TreeItem<T>) -> Result<(), Error> {
        self.insert_many(parent, at, [item])
    }

    /// Inserts `items` at `at` (at most their count; `usize::MAX` appends) among the
    /// children of `parent`, as one diff.
    pub fn insert_many(
        &self,
        parent: &[usize],
        at: usize,
        items: impl IntoIterator<Item = TreeItem<T>>,
    ) -> Result<(), Error> {
        let new: Vec<TreeItem<T>> = items.into_iter().collect();
        let mut state = self.shared.lock();
        let state = &mut *state;
        let list = children_of_mut(&mut state.roots, parent).ok_or_else(|| no_row(parent))?;
        let len = list.len();
        let at = if at == usize::MAX { len } else { at };
        if at > len {
            return Err(out_of_range(at, len));
        }
        if new.is_empty() {
            return Ok(());
        }
        if parent.len() >= MAX_DEPTH {
            return Err(Error::new(Kind::InvalidValue(format!(
                "a tree model is at most {MAX_DEPTH} levels deep"
            ))));
        }
        let (first, count, total) = (at as u64, new.len() as u64, (len + new.len()) as u64);
        let inline: Vec<(&T, u64)> = if new.len() <= INLINE_INSERT_ROWS {
            new.iter().map(item).collect()
        } else {
            Vec::new()
        };
        let args = (wire_path(parent), first, count, inline, total);
        let frame = state.subs.frame(SIG_INSERTED, &args)?;
        drop(args);
        list.splice(at..at, new);
        state.subs.fan_out(frame, &self.shared.on_caught_up());
        self.shared.follow(state, parent, |k| {
            Some(if k >= first { k + count } else { k })
        });
        Ok(())
    }

    /// Removes the row at `path` (with its children) and returns it.
    pub fn remove(&self, path: &[usize]) -> Result<TreeItem<T>, Error> {
        let (&row, parent) = path.split_last().ok_or_else(|| no_row(path))?;
        let mut removed = self.remove_range(parent, row..row.saturating_add(1))?;
        removed.pop().ok_or_else(|| no_row(path))
    }

    /// Removes the children of `parent` in `range` (with theirs), as one diff, and returns
    /// them.
    pub fn remove_range(
        &self,
        parent: &[usize],
        range: Range<usize>,
    ) -> Result<Vec<TreeItem<T>>, Error> {
        let mut state = self.shared.lock();
        let state = &mut *state;
        let list = children_of_mut(&mut state.roots, parent).ok_or_else(|| no_row(parent))?;
        let len = list.len();
        if range.start > range.end || range.end > len {
            return Err(out_of_range(range.end.max(range.start), len));
        }
        if range.is_empty() {
            return Ok(Vec::new());
        }
        let (first, count) = (range.start as u64, range.len() as u64);
        let total = (len - range.len()) as u64;
        let frame = state
            .subs
            .frame(SIG_REMOVED, &(wire_path(parent), first, count, total))?;
        let removed = list.drain(range).collect();
        state.subs.fan_out(frame, &self.shared.on_caught_up());
        self.shared.follow(state, parent, |k| match k {
            k if k < first => Some(k),
            k if k < first + count => None,
            k => Some(k - count),
        });
        Ok(removed)
    }

    /// Moves the children of `parent` in `range` so that they start at `to` — an index
    /// among them after the move — as one diff; their own children go with them.
    pub fn move_rows(&self, parent: &[usize], range: Range<usize>, to: usize) -> Result<(), Error> {
        let mut state = self.shared.lock();
        let state = &mut *state;
        let list = children_of_mut(&mut state.roots, parent).ok_or_else(|| no_row(parent))?;
        let len = list.len();
        if range.start > range.end || range.end > len {
            return Err(out_of_range(range.end.max(range.start), len));
        }
        if to.saturating_add(range.len()) > len {
            return Err(out_of_range(to, len));
        }
        if range.is_empty() || range.start == to {
            return Ok(());
        }
        let (first, count) = (range.start as u64, range.len() as u64);
        let args = (wire_path(parent), first, count, to as u64, len as u64);
        let frame = state.subs.frame(SIG_MOVED, &args)?;
        let block: Vec<TreeItem<T>> = list.drain(range).collect();
        list.splice(to..to, block);
        state.subs.fan_out(frame, &self.shared.on_caught_up());
        self.shared
            .follow(state, parent, |k| Some(moved(k, first, count, to as u64)));
        Ok(())
    }

    /// Replaces the value of the row at `path` (its children stay) and returns the old one.
    pub fn set(&self, path: &[usize], value: T) -> Result<T, Error> {
        self.replace(path, value, &[])
    }

    /// Changes the value of the row at `path` with `change`, and sends the whole new value.
    pub fn update<R>(&self, path: &[usize], change: impl FnOnce(&mut T) -> R) -> Result<R, Error> {
        self.update_roles(path, &[], change)
    }

    /// Changes the value of the row at `path` with `change`, telling replicas that only
    /// `roles` (names from [`TreeModel::roles`]) changed; an empty list means all of them.
    pub fn update_roles<R>(
        &self,
        path: &[usize],
        roles: &[&str],
        change: impl FnOnce(&mut T) -> R,
    ) -> Result<R, Error> {
        let mut value = self.get(path).ok_or_else(|| no_row(path))?;
        let out = change(&mut value);
        self.replace(path, value, roles)?;
        Ok(out)
    }

    fn replace(&self, path: &[usize], value: T, roles: &[&str]) -> Result<T, Error> {
        let indices = adapter::role_indices::<T>(roles)?;
        let (&row, parent) = path.split_last().ok_or_else(|| no_row(path))?;
        let mut state = self.shared.lock();
        let state = &mut *state;
        let list = children_of_mut(&mut state.roots, parent).ok_or_else(|| no_row(path))?;
        let Some(target) = list.get_mut(row) else {
            return Err(no_row(path));
        };
        let rows = [(&value, target.children.len() as u64)];
        let args = (wire_path(parent), row as u64, &rows[..], &indices);
        let frame = state.subs.frame(SIG_CHANGED, &args)?;
        let old = std::mem::replace(&mut target.value, value);
        state.subs.fan_out(frame, &self.shared.on_caught_up());
        Ok(old)
    }

    /// Replaces the whole tree: replicas drop their windows and fetch again.
    pub fn reset(&self, roots: impl IntoIterator<Item = TreeItem<T>>) {
        let mut state = self.shared.lock();
        state.roots = roots.into_iter().collect();
        // Nothing is current after a reset, as in Qt.
        state.current = None;
        let total = state.roots.len() as u64;
        match state.subs.frame(SIG_RESET, &total) {
            Ok(frame) => state.subs.fan_out(frame, &self.shared.on_caught_up()),
            Err(error) => warn!(%error, "cannot encode a model reset"),
        }
        self.shared.current_moved(&mut state);
    }

    /// Removes every row.
    pub fn clear(&self) {
        self.reset([]);
    }

    /// The current row (Qt's current index), shared with every replica: set here or by a
    /// replica.
    pub fn current(&self) -> Option<Vec<usize>> {
        let state = self.shared.lock();
        state
            .current
            .as_ref()
            .map(|p| p.iter().map(|&k| adapter::index(k)).collect())
    }

    /// Sets the current row (`None` for none); every replica is told.
    pub fn set_current(&self, path: Option<&[usize]>) -> Result<(), Error> {
        self.shared.set_current(path.map(wire_path))
    }

    /// The current row now and after every change (by the source or a replica).
    pub fn current_changes(
        &self,
    ) -> impl Stream<Item = Option<Vec<usize>>> + Unpin + Send + 'static {
        crate::runtime::watch_stream(self.shared.current.subscribe())
    }

    /// Lets replicas write rows: `decide(path, &value)` is called for each write (outside
    /// the model's lock, so it may read the model) and returns `Ok` to apply it — every
    /// replica then sees the change, the writer before its reply — or the reason to refuse
    /// it, which the writer gets as `SlotError::Rejected`.
    pub fn accept_writes(
        &self,
        decide: impl Fn(&[usize], &T) -> Result<(), String> + Send + Sync + 'static,
    ) {
        self.shared.lock().accept_writes = Some(Arc::new(decide));
    }

    /// How many replica connections are subscribed.
    pub fn subscriber_count(&self) -> usize {
        self.shared.lock().subs.len()
    }
}

/// A path from the wire as indices (one too large for `usize` names no row).
fn local_path(path: &[u64]) -> Vec<usize> {
    path.iter().map(|&k| adapter::index(k)).collect()
}

impl<T: ModelRow> Shared<T> {
    fn lock(&self) -> MutexGuard<'_, State<T>> {
        // Every change is checked before it is made, and made in one step: a poisoned
        // lock still holds a consistent tree.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn set_current(&self, path: Option<Vec<u64>>) -> Result<(), Error> {
        let mut state = self.lock();
        if let Some(path) = &path {
            let local = local_path(path);
            let (&row, parent) = local.split_last().ok_or_else(|| no_row(&local))?;
            let exists = children_of(&state.roots, parent).is_some_and(|l| row < l.len());
            if !exists {
                return Err(no_row(&local));
            }
        }
        if state.current == path {
            return Ok(());
        }
        state.current = path;
        self.current_moved(&mut state);
        Ok(())
    }

    /// Keeps the current row on its row after a change of `parent`'s children that moved
    /// child `k` to `to(k)` (or removed it: `None`).
    fn follow(&self, state: &mut State<T>, parent: &[usize], to: impl Fn(u64) -> Option<u64>) {
        let depth = parent.len();
        let Some(current) = &mut state.current else {
            return;
        };
        let below = current.len() > depth
            && current[..depth]
                .iter()
                .zip(parent)
                .all(|(&a, &b)| a == b as u64);
        if !below {
            return;
        }
        match to(current[depth]) {
            Some(k) if k == current[depth] => return,
            Some(k) => current[depth] = k,
            None => state.current = None,
        }
        self.current_moved(state);
    }

    /// Tells every replica the current row, after what was queued so far, and the
    /// watchers here.
    fn current_moved(&self, state: &mut State<T>) {
        let current = state.current.clone();
        match state.subs.property_frame(PROP_CURRENT, &current) {
            Ok(frame) => state.subs.fan_out(frame, &self.on_caught_up()),
            Err(error) => warn!(%error, "cannot encode a model's current row"),
        }
        self.current
            .send_replace(current.as_deref().map(local_path));
    }

    /// The subscriber on `conn` under `source` caught up: one reset, then every diff.
    fn caught_up(&self, conn: ConnId, source: SourceId) {
        let mut state = self.lock();
        let total = state.roots.len() as u64;
        let frames = [
            state.subs.frame(SIG_RESET, &total),
            state.subs.property_frame(PROP_CURRENT, &state.current),
        ];
        match frames.into_iter().collect::<Result<Vec<_>, _>>() {
            Ok(frames) => state.subs.caught_up(conn, source, &frames),
            Err(error) => warn!(%error, "cannot encode a model reset"),
        }
    }

    /// What a lagging subscriber's marker does once its connection drained to it.
    fn on_caught_up(&self) -> impl Fn(ConnId, SourceId) -> Box<dyn FnOnce() + Send> + Sync {
        let this = self.this.clone();
        move |conn, source| {
            let this = this.clone();
            Box::new(move || {
                if let Some(model) = this.upgrade() {
                    model.caught_up(conn, source);
                }
            })
        }
    }

    /// Answers fetch `request` of the connection `conn`: the children of `parent` from
    /// `first` on, as they are now (none, and a count of 0, if there is no such row),
    /// queued to that connection only.
    fn answer_fetch(
        &self,
        conn: ConnId,
        parent: &[u64],
        request: u32,
        first: u64,
        count: u64,
    ) -> Result<(), String> {
        let state = self.lock();
        let Some(sub) = state.subs.answering(conn)? else {
            return Ok(());
        };
        let list = children_of(&state.roots, &local_path(parent)).unwrap_or(&[]);
        let len = list.len();
        let start = usize::try_from(first).unwrap_or(len).min(len);
        let count = usize::try_from(count.min(MAX_FETCH_ROWS)).unwrap_or(0);
        let end = start.saturating_add(count).min(len);
        let rows: Vec<(&T, u64)> = list[start..end].iter().map(item).collect();
        let encoding = state.subs.encoding;
        let args = (parent, request, start as u64, len as u64, rows);
        let frame = Packet::value_frame(true, sub.source, SIG_ROWS, |out| {
            encoding.encode_into(&args, out)
        })
        .map_err(|e| e.to_string())?;
        sub.outbox.push(frame);
        Ok(())
    }

    /// Applies a replica's write of the row at `path`, if the source accepts it.
    fn write(&self, path: &[u64], value: T) -> Result<(), String> {
        let decide = self.lock().accept_writes.clone();
        let Some(decide) = decide else {
            return Err("the model does not accept writes".to_owned());
        };
        let path = local_path(path);
        decide(&path, &value)?;
        let model = TreeModel {
            shared: self.this.upgrade().ok_or("the model is gone")?,
        };
        model
            .set(&path, value)
            .map(|_| ())
            .map_err(|e| e.to_string())
    }
}

impl<T: ModelRow> State<T> {
    /// The values of the adapter's properties, for an init.
    fn init_values(&self) -> Result<Vec<Bytes>, Error> {
        let enc = self.subs.encoding;
        Ok(vec![
            Bytes::from(enc.encode(&(self.roots.len() as u64))?),
            Bytes::from(enc.encode(&adapter::roles::<T>())?),
            Bytes::from(enc.encode(&self.current)?),
        ])
    }
}

impl<T: ModelRow> SourceHub for Shared<T> {
    fn subscribe(
        &self,
        _name: &str,
        _source: SourceId,
        _outbox: &Outbox,
        _schema: Option<&Bytes>,
    ) -> Result<(), Error> {
        Err(Error::new(Kind::InvalidValue(
            "a model is served as a member of a source, not on its own".to_owned(),
        )))
    }

    fn schema(&self) -> Result<Bytes, String> {
        self.schema
            .get_or_init(|| {
                let schema = adapter::tree_described::<T>().map_err(|e| e.to_string())?;
                Encoding::Bincode
                    .encode(&schema)
                    .map(Bytes::from)
                    .map_err(|e| e.to_string())
            })
            .clone()
    }

    fn unsubscribe(&self, conn: ConnId, source: Option<SourceId>) {
        self.lock().subs.unsubscribe(conn, source);
    }

    fn unsubscribe_all(&self, source: SourceId) {
        self.lock().subs.unsubscribe_all(source);
    }

    fn set_from_remote(
        &self,
        index: u16,
        value: &[u8],
        enc: Encoding,
    ) -> Result<Option<WriteFuture>, String> {
        if index != PROP_CURRENT {
            let name = adapter::PROPERTY_NAMES.get(usize::from(index));
            return Err(match name {
                Some(name) => format!("property {name:?} is not read-write"),
                None => format!("no property has index {index}"),
            });
        }
        let path: Option<Vec<u64>> = enc.decode(value).map_err(|e| e.to_string())?;
        if path.as_ref().is_some_and(|p| p.len() > MAX_DEPTH) {
            return Err("a path nested too deep".to_owned());
        }
        self.set_current(path).map_err(|e| e.to_string())?;
        Ok(None)
    }

    fn invoke(
        &self,
        slot: u16,
        args: &[u8],
        enc: Encoding,
        caller: &Caller<'_>,
    ) -> Result<SlotFuture, String> {
        match slot {
            SLOT_FETCH => {
                let (parent, request, first, count): (Vec<u64>, u32, u64, u64) =
                    enc.decode(args).map_err(|e| e.to_string())?;
                let answered = self.answer_fetch(caller.conn, &parent, request, first, count);
                Ok(ready(answered, enc))
            }
            SLOT_WRITE => {
                let (parent, row, value): (Vec<u64>, u64, T) =
                    enc.decode(args).map_err(|e| e.to_string())?;
                let mut path = parent;
                path.push(row);
                Ok(ready(self.write(&path, value), enc))
            }
            _ => Err(format!("no slot has index {slot}")),
        }
    }

    fn subscriber_count(&self) -> usize {
        self.lock().subs.len()
    }

    fn subscriber_counts(&self) -> tokio::sync::watch::Receiver<usize> {
        self.lock().subs.counts()
    }

    fn slot_name(&self, index: u16) -> Option<&str> {
        adapter::SLOT_NAMES.get(usize::from(index)).copied()
    }

    fn property_name(&self, index: u16) -> Option<&str> {
        adapter::PROPERTY_NAMES.get(usize::from(index)).copied()
    }
}

impl<T: ModelRow> ChildHub for Shared<T> {
    fn lock_tree(
        &self,
        place: Place,
        outboxes: &[Outbox],
        inits: &mut Vec<ChildInit>,
        then: &mut dyn FnMut(&mut Vec<ChildInit>),
    ) {
        let mut state = self.lock();
        let values = state.init_values().unwrap_or_else(|error| {
            // Replicas see it with no values and fail it alone (an init of the wrong size).
            tracing::error!(%error, "cannot encode a model's init");
            Vec::new()
        });
        state.subs.subscribe(place.source, outboxes);
        inits.push(ChildInit {
            parent: place.parent,
            slot: place.slot,
            source: place.source,
            signature: adapter::tree_signature::<T>(),
            values,
        });
        then(inits);
    }

    fn detach_tree(&self) {
        self.lock().subs.clear();
    }

    fn attach(&self) -> bool {
        !std::mem::replace(&mut self.lock().attached, true)
    }

    fn release(&self) {
        self.lock().attached = false;
    }

    fn contains(&self, state: *const ()) -> bool {
        std::ptr::eq(self as *const Self as *const (), state)
    }

    fn use_encoding(&self, encoding: Encoding) -> Result<(), Error> {
        self.lock()
            .subs
            .use_encoding(encoding, adapter::TREE_API_NAME)
    }

    fn api_name(&self) -> &'static str {
        adapter::TREE_API_NAME
    }

    fn signature(&self) -> u64 {
        adapter::tree_signature::<T>()
    }
}
