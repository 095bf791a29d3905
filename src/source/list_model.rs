//! [`ListModel`]: the rows a source holds, and the replicas' connections subscribed to them.
//!
//! One lock covers the rows and the subscribers: each operation changes the rows and queues
//! its diff to every subscriber before the next can, and a fetch is answered from the rows
//! and queued under the same lock, so every replica applies diffs and answers to the rows
//! exactly as they stood (see `proto::model`).
//!
//! A slow replica gets a reset instead of the diffs it fell behind on (see
//! `model_subscribers`).

use std::ops::Range;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, Weak};

use bytes::Bytes;
use futures::Stream;
use tracing::warn;

use super::children::{next_child_id, Attached, ChildHub, Place};
use super::hosted::SourceHub;
use super::model_subscribers::{ready, ModelSubscribers, OnCaughtUp};
use crate::adapter::{self, Form, ModelRow, PROP_CURRENT, SIG_CHANGED, SIG_INSERTED, SIG_MOVED};
use crate::adapter::{PROP_SELECTION, SIG_REMOVED, SIG_RESET, SIG_ROWS};
use crate::adapter::{SLOT_FETCH, SLOT_SELECT, SLOT_WRITE};
use crate::error::{Error, Kind};
use crate::outbox::{ConnId, Outbox};
use crate::proto::host::Caller;
use crate::proto::model::MAX_FETCH_ROWS;
use crate::proto::selection::{command, Marks, Moved};
use crate::proto::{SlotFuture, WriteFuture};
use crate::wire::{ChildInit, Encoding, Packet, SourceId};

/// Inserts of up to this many rows carry their values; larger ones leave replicas to fetch
/// the rows they show.
const INLINE_INSERT_ROWS: usize = 256;

/// Decides on a replica's write of a row: `Ok` to apply it, or the refusal.
type WritePolicy<T> = dyn Fn(usize, &T) -> Result<(), String> + Send + Sync;

/// A list of rows that replicas page through: the `model` member of a source (declared
/// `model playlist: ListModel<Track>`, reached as `source.playlist()`).
///
/// Change it like a `Vec`; every operation is sent to every replica as one diff, in order
/// with the source's other changes and signals. Rows a replica never fetched cost it
/// nothing: it holds a window (see [`ModelReplica`](crate::model::ModelReplica)). Handles are
/// cheap to clone and share the rows.
///
/// Replicas may write rows only if the source says how it decides on them
/// ([`ListModel::accept_writes`]); until then every write is refused.
pub struct ListModel<T: ModelRow> {
    shared: Arc<Shared<T>>,
}

impl<T: ModelRow> Clone for ListModel<T> {
    fn clone(&self) -> Self {
        ListModel {
            shared: Arc::clone(&self.shared),
        }
    }
}

impl<T: ModelRow> std::fmt::Debug for ListModel<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let state = self.shared.lock();
        f.debug_struct("ListModel")
            .field("rows", &state.rows.len())
            .field("subscribers", &state.subs.len())
            .finish_non_exhaustive()
    }
}

impl<T: ModelRow> Default for ListModel<T> {
    fn default() -> Self {
        ListModel::new(Vec::new())
    }
}

struct Shared<T: ModelRow> {
    state: Mutex<State<T>>,
    /// Told the current row at every change.
    current: tokio::sync::watch::Sender<Option<usize>>,
    /// Told the selection at every change.
    selection: tokio::sync::watch::Sender<Vec<Range<usize>>>,
    schema: OnceLock<Result<Bytes, String>>,
    /// Served as a list or as a table.
    form: Form,
    /// Itself, for the markers of lagging subscribers.
    this: Weak<Shared<T>>,
}

struct State<T> {
    rows: Vec<T>,
    /// The current row and the selection, which follow their rows.
    marks: Marks,
    subs: ModelSubscribers,
    attached: bool,
    accept_writes: Option<Arc<WritePolicy<T>>>,
}

fn out_of_range(row: usize, rows: usize) -> Error {
    Error::new(Kind::NoSuchRow { row, rows })
}

impl<T: ModelRow> ListModel<T> {
    /// A model holding `rows`.
    pub fn new(rows: Vec<T>) -> ListModel<T> {
        ListModel::of_form(rows, Form::List)
    }

    /// An empty model served as `form` (a list or a table).
    pub(crate) fn empty(form: Form) -> ListModel<T> {
        ListModel::of_form(Vec::new(), form)
    }

    fn of_form(rows: Vec<T>, form: Form) -> ListModel<T> {
        let shared = Arc::new_cyclic(|this| Shared {
            state: Mutex::new(State {
                rows,
                marks: Marks::default(),
                subs: ModelSubscribers::new(),
                attached: false,
                accept_writes: None,
            }),
            current: tokio::sync::watch::Sender::new(None),
            selection: tokio::sync::watch::Sender::new(Vec::new()),
            schema: OnceLock::new(),
            form,
            this: this.clone(),
        });
        ListModel { shared }
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

    /// The number of rows.
    pub fn len(&self) -> usize {
        self.shared.lock().rows.len()
    }

    /// Whether it has no rows.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// A copy of row `row`, if there is one.
    pub fn get(&self, row: usize) -> Option<T> {
        self.shared.lock().rows.get(row).cloned()
    }

    /// Runs `read` on the rows.
    pub fn read<R>(&self, read: impl FnOnce(&[T]) -> R) -> R {
        read(&self.shared.lock().rows)
    }

    /// The roles of a row: its fields' names if it is a struct, else one, `display`.
    pub fn roles(&self) -> Vec<String> {
        adapter::roles::<T>()
    }

    /// Appends a row.
    pub fn push(&self, row: T) -> Result<(), Error> {
        self.insert_many(usize::MAX, [row])
    }

    /// Appends rows.
    pub fn extend(&self, rows: impl IntoIterator<Item = T>) -> Result<(), Error> {
        self.insert_many(usize::MAX, rows)
    }

    /// Inserts a row at `at` (at most the row count).
    pub fn insert(&self, at: usize, row: T) -> Result<(), Error> {
        self.insert_many(at, [row])
    }

    /// Inserts rows at `at` (at most the row count; `usize::MAX` appends), as one diff.
    pub fn insert_many(&self, at: usize, rows: impl IntoIterator<Item = T>) -> Result<(), Error> {
        let new: Vec<T> = rows.into_iter().collect();
        let mut state = self.shared.lock();
        let len = state.rows.len();
        let at = if at == usize::MAX { len } else { at };
        if at > len {
            return Err(out_of_range(at, len));
        }
        if new.is_empty() {
            return Ok(());
        }
        let (first, count, total) = (at as u64, new.len() as u64, (len + new.len()) as u64);
        let inline: &[T] = if new.len() <= INLINE_INSERT_ROWS {
            &new
        } else {
            &[]
        };
        let frame = state
            .subs
            .frame(SIG_INSERTED, &(first, count, inline, total))?;
        state.rows.splice(at..at, new);
        state.subs.fan_out(frame, &self.shared.on_caught_up());
        let moved = state.marks.inserted(first, count);
        self.shared.marks_moved(&mut state, moved);
        Ok(())
    }

    /// Removes row `row` and returns it.
    pub fn remove(&self, row: usize) -> Result<T, Error> {
        let mut removed = self.remove_range(row..row.saturating_add(1))?;
        removed.pop().ok_or_else(|| out_of_range(row, self.len()))
    }

    /// Removes the rows in `range`, as one diff, and returns them.
    pub fn remove_range(&self, range: Range<usize>) -> Result<Vec<T>, Error> {
        let mut state = self.shared.lock();
        let len = state.rows.len();
        if range.start > range.end || range.end > len {
            return Err(out_of_range(range.end.max(range.start), len));
        }
        if range.is_empty() {
            return Ok(Vec::new());
        }
        let (first, count) = (range.start as u64, range.len() as u64);
        let total = (len - range.len()) as u64;
        let frame = state.subs.frame(SIG_REMOVED, &(first, count, total))?;
        let removed = state.rows.drain(range).collect();
        state.subs.fan_out(frame, &self.shared.on_caught_up());
        let moved = state.marks.removed(first, count);
        self.shared.marks_moved(&mut state, moved);
        Ok(removed)
    }

    /// Moves the rows in `range` so that they start at `to` — an index in the rows as they
    /// are after the move (so `to + range.len()` is at most the row count) — as one diff.
    pub fn move_rows(&self, range: Range<usize>, to: usize) -> Result<(), Error> {
        let mut state = self.shared.lock();
        let len = state.rows.len();
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
        let frame = state
            .subs
            .frame(SIG_MOVED, &(first, count, to as u64, len as u64))?;
        let block: Vec<T> = state.rows.drain(range).collect();
        state.rows.splice(to..to, block);
        state.subs.fan_out(frame, &self.shared.on_caught_up());
        let moved = state.marks.moved(first, count, to as u64);
        self.shared.marks_moved(&mut state, moved);
        Ok(())
    }

    /// Replaces row `row` with `value` and returns the old row.
    pub fn set(&self, row: usize, value: T) -> Result<T, Error> {
        self.replace(row, value, &[])
    }

    /// Changes row `row` with `change`, and sends the whole new row.
    pub fn update<R>(&self, row: usize, change: impl FnOnce(&mut T) -> R) -> Result<R, Error> {
        self.update_roles(row, &[], change)
    }

    /// Changes row `row` with `change`, telling replicas that only `roles` (names from
    /// [`ListModel::roles`]) changed; an empty list means the whole row.
    pub fn update_roles<R>(
        &self,
        row: usize,
        roles: &[&str],
        change: impl FnOnce(&mut T) -> R,
    ) -> Result<R, Error> {
        let mut value = self.get(row).ok_or_else(|| out_of_range(row, self.len()))?;
        let out = change(&mut value);
        self.replace(row, value, roles)?;
        Ok(out)
    }

    fn replace(&self, row: usize, value: T, roles: &[&str]) -> Result<T, Error> {
        let indices = adapter::role_indices::<T>(roles)?;
        let mut state = self.shared.lock();
        let len = state.rows.len();
        if row >= len {
            return Err(out_of_range(row, len));
        }
        let rows = std::slice::from_ref(&value);
        let frame = state
            .subs
            .frame(SIG_CHANGED, &(row as u64, rows, &indices))?;
        let old = std::mem::replace(&mut state.rows[row], value);
        state.subs.fan_out(frame, &self.shared.on_caught_up());
        Ok(old)
    }

    /// Replaces every row: replicas drop their windows and fetch again. Nothing is current
    /// or selected after it.
    pub fn reset(&self, rows: impl IntoIterator<Item = T>) {
        let rows: Vec<T> = rows.into_iter().collect();
        let mut state = self.shared.lock();
        state.rows = rows;
        state.send_reset(&self.shared.on_caught_up());
        let moved = state.marks.reset();
        self.shared.marks_moved(&mut state, moved);
    }

    /// Removes every row.
    pub fn clear(&self) {
        self.reset([]);
    }

    /// The current row (Qt's current index), shared with every replica: set here or by a
    /// replica. It stays on its row as rows are inserted, removed and moved (and is none
    /// once its row is removed).
    pub fn current(&self) -> Option<usize> {
        self.shared.lock().marks.current.map(adapter::index)
    }

    /// Sets the current row (`None` for none); every replica is told.
    pub fn set_current(&self, row: Option<usize>) -> Result<(), Error> {
        self.shared.set_current(row.map(|r| r as u64))
    }

    /// The current row now and after every change (by the source or a replica).
    pub fn current_changes(&self) -> impl Stream<Item = Option<usize>> + Unpin + Send + 'static {
        crate::runtime::watch_stream(self.shared.current.subscribe())
    }

    /// The selected rows (Qt's selection model), shared with every replica, as sorted,
    /// disjoint ranges: changed here or by a replica, and kept on their rows as rows are
    /// inserted, removed and moved (a range rows are inserted inside grows, as Qt's does).
    pub fn selection(&self) -> Vec<Range<usize>> {
        ranges(&self.shared.lock().marks.selection.ranges())
    }

    /// Adds the rows in `range` to the selection.
    pub fn select(&self, range: Range<usize>) -> Result<(), Error> {
        self.shared.select(range, command::SELECT)
    }

    /// Takes the rows in `range` out of the selection.
    pub fn deselect(&self, range: Range<usize>) -> Result<(), Error> {
        self.shared.select(range, command::DESELECT)
    }

    /// Selects the rows in `range` that were not, and deselects those that were.
    pub fn toggle(&self, range: Range<usize>) -> Result<(), Error> {
        self.shared.select(range, command::TOGGLE)
    }

    /// Makes `ranges` the selection (clipped to the rows).
    pub fn set_selection(&self, ranges: &[Range<usize>]) -> Result<(), Error> {
        let ranges: Vec<Range<u64>> = ranges
            .iter()
            .map(|r| r.start as u64..r.end as u64)
            .collect();
        let mut state = self.shared.lock();
        let rows = state.rows.len() as u64;
        let changed = state.marks.selection.set(&ranges, rows).map_err(invalid)?;
        let moved = Moved {
            current: false,
            selection: changed,
        };
        self.shared.marks_moved(&mut state, moved);
        Ok(())
    }

    /// Selects nothing.
    pub fn clear_selection(&self) {
        // Clearing always fits.
        let _ = self.shared.select(0..0, command::CLEAR);
    }

    /// The selection now and after every change (by the source, a replica, or the rows
    /// moving under it).
    pub fn selection_changes(
        &self,
    ) -> impl Stream<Item = Vec<Range<usize>>> + Unpin + Send + 'static {
        crate::runtime::watch_stream(self.shared.selection.subscribe())
    }

    /// Lets replicas write rows: `decide(row, &value)` is called for each write (outside
    /// the model's lock, so it may read the model) and returns `Ok` to apply it — every
    /// replica then sees the change, the writer before its reply — or the reason to refuse
    /// it, which the writer gets as `SlotError::Rejected`.
    pub fn accept_writes(
        &self,
        decide: impl Fn(usize, &T) -> Result<(), String> + Send + Sync + 'static,
    ) {
        self.shared.lock().accept_writes = Some(Arc::new(decide));
    }

    /// How many replica connections are subscribed.
    pub fn subscriber_count(&self) -> usize {
        self.shared.lock().subs.len()
    }
}

impl<T: ModelRow> Shared<T> {
    fn lock(&self) -> MutexGuard<'_, State<T>> {
        // Every change is checked before it is made, and made in one step: a poisoned
        // lock still holds consistent rows.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn set_current(&self, row: Option<u64>) -> Result<(), Error> {
        let mut state = self.lock();
        let len = state.rows.len();
        if let Some(row) = row.filter(|&r| r >= len as u64) {
            return Err(out_of_range(adapter::index(row), len));
        }
        let changed = std::mem::replace(&mut state.marks.current, row) != row;
        let moved = Moved {
            current: changed,
            selection: false,
        };
        self.marks_moved(&mut state, moved);
        Ok(())
    }

    /// Applies selection `command` to the rows in `range`.
    fn select(&self, range: Range<usize>, how: u8) -> Result<(), Error> {
        let mut state = self.lock();
        let rows = state.rows.len() as u64;
        let (first, count) = (range.start as u64, range.len() as u64);
        let changed = state
            .marks
            .selection
            .apply(first, count, how, rows)
            .map_err(invalid)?;
        let moved = Moved {
            current: false,
            selection: changed,
        };
        self.marks_moved(&mut state, moved);
        Ok(())
    }

    /// Tells every replica, after what was queued so far, the marks that `moved` says
    /// changed, and the watchers here.
    fn marks_moved(&self, state: &mut State<T>, moved: Moved) {
        if moved.current {
            let current = state.marks.current;
            state.send_property(PROP_CURRENT, &current, &self.on_caught_up());
            self.current.send_replace(current.map(adapter::index));
        }
        if moved.selection {
            let pairs = state.marks.selection.pairs();
            state.send_property(PROP_SELECTION, &pairs, &self.on_caught_up());
            self.selection
                .send_replace(ranges(&state.marks.selection.ranges()));
        }
    }

    /// The subscriber on `conn` under `source` caught up with what was queued when it fell
    /// behind: it gets one reset, and every diff from here on.
    fn caught_up(&self, conn: ConnId, source: SourceId) {
        let mut state = self.lock();
        let total = state.rows.len() as u64;
        let frames = [
            state.subs.frame(SIG_RESET, &total),
            state
                .subs
                .property_frame(PROP_CURRENT, &state.marks.current),
            state
                .subs
                .property_frame(PROP_SELECTION, &state.marks.selection.pairs()),
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

    /// Answers fetch `request` of the connection `conn`: the rows from `first` on, as they
    /// are now, queued to that connection only.
    fn answer_fetch(
        &self,
        conn: ConnId,
        request: u32,
        first: u64,
        count: u64,
    ) -> Result<(), String> {
        let state = self.lock();
        let Some(sub) = state.subs.answering(conn)? else {
            return Ok(());
        };
        let len = state.rows.len();
        let start = usize::try_from(first).unwrap_or(len).min(len);
        let count = usize::try_from(count.min(MAX_FETCH_ROWS)).unwrap_or(0);
        let end = start.saturating_add(count).min(len);
        let rows = &state.rows[start..end];
        let encoding = state.subs.encoding;
        let frame = Packet::value_frame(true, sub.source, SIG_ROWS, |out| {
            encoding.encode_into(&(request, start as u64, rows), out)
        })
        .map_err(|e| e.to_string())?;
        sub.outbox.push(frame);
        Ok(())
    }

    /// Applies a replica's write of row `row`, if the source accepts it.
    fn write(&self, row: u64, value: T) -> Result<(), String> {
        let decide = self.lock().accept_writes.clone();
        let Some(decide) = decide else {
            return Err("the model does not accept writes".to_owned());
        };
        let row = usize::try_from(row).map_err(|_| format!("no row {row}"))?;
        decide(row, &value)?;
        let model = ListModel {
            shared: self.this.upgrade().ok_or("the model is gone")?,
        };
        model.set(row, value).map(|_| ()).map_err(|e| e.to_string())
    }
}

/// Wire row ranges as indices.
fn ranges(ranges: &[Range<u64>]) -> Vec<Range<usize>> {
    ranges
        .iter()
        .map(|r| adapter::index(r.start)..adapter::index(r.end))
        .collect()
}

fn invalid(error: impl std::fmt::Display) -> Error {
    Error::new(Kind::InvalidValue(error.to_string()))
}

impl<T: ModelRow> State<T> {
    /// Queues property `index`'s new `value` to every subscriber, in order with the diffs.
    fn send_property<V: serde::Serialize>(
        &mut self,
        index: u16,
        value: &V,
        on_caught_up: &OnCaughtUp,
    ) {
        match self.subs.property_frame(index, value) {
            Ok(frame) => self.subs.fan_out(frame, on_caught_up),
            Err(error) => warn!(%error, "cannot encode a model's property"),
        }
    }

    /// Tells every subscriber the rows were replaced.
    fn send_reset(&mut self, on_caught_up: &OnCaughtUp) {
        let total = self.rows.len() as u64;
        match self.subs.frame(SIG_RESET, &total) {
            Ok(frame) => self.subs.fan_out(frame, on_caught_up),
            Err(error) => warn!(%error, "cannot encode a model reset"),
        }
    }

    /// The values of the adapter's properties, for an init.
    fn init_values(&self) -> Result<Vec<Bytes>, Error> {
        let enc = self.subs.encoding;
        Ok(vec![
            Bytes::from(enc.encode(&(self.rows.len() as u64))?),
            Bytes::from(enc.encode(&adapter::roles::<T>())?),
            Bytes::from(enc.encode(&self.marks.current)?),
            Bytes::from(enc.encode(&self.marks.selection.pairs())?),
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
                let schema = adapter::form_described::<T>(self.form).map_err(|e| e.to_string())?;
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
        let row: Option<u64> = enc.decode(value).map_err(|e| e.to_string())?;
        self.set_current(row).map_err(|e| e.to_string())?;
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
                let (request, first, count): (u32, u64, u64) =
                    enc.decode(args).map_err(|e| e.to_string())?;
                let answered = self.answer_fetch(caller.conn, request, first, count);
                Ok(ready(answered, enc))
            }
            SLOT_WRITE => {
                let (row, value): (u64, T) = enc.decode(args).map_err(|e| e.to_string())?;
                Ok(ready(self.write(row, value), enc))
            }
            SLOT_SELECT => {
                let (first, count, how): (u64, u64, u8) =
                    enc.decode(args).map_err(|e| e.to_string())?;
                let range = adapter::index(first)..adapter::index(first.saturating_add(count));
                let selected = self.select(range, how).map_err(|e| e.to_string());
                Ok(ready(selected, enc))
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
            signature: adapter::form_signature::<T>(self.form),
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
            .use_encoding(encoding, self.form.api_name())
    }

    fn api_name(&self) -> &'static str {
        self.form.api_name()
    }

    fn signature(&self) -> u64 {
        adapter::form_signature::<T>(self.form)
    }
}
