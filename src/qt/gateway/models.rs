//! The host gateway's half for models: a model source is shown to the Qt node as Qt's
//! `QAbstractItemModelAdapter` (see [`crate::qt::model`]). The gateway answers Qt's size
//! requests from the row count it has seen (every diff carries it), turns Qt's row and
//! cache requests into this crate's one-way `fetch`, answered by the model's `rows` signal
//! to this connection alone and in order with its diffs, and each diff into Qt's signal.

use std::sync::Arc;

use bytes::Bytes;
use rustc_hash::FxHashMap as HashMap;
use tracing::{debug, warn};

use super::{Acquired, HostGateway};
use crate::adapter::SLOT_SELECT;
use crate::adapter::{
    PROP_CURRENT, PROP_ROWS, SIG_CHANGED, SIG_INSERTED, SIG_MOVED, SIG_REMOVED, SIG_RESET,
    SIG_ROWS, SLOT_FETCH, SLOT_WRITE,
};
use crate::proto::model::MAX_FETCH_ROWS;
use crate::qt::api::QtChild;
use crate::qt::convert::{from_qvariant, Cx};
use crate::qt::model::{self as qt_model, method, signal, ModelFace};
use crate::values::{codec, Value};
use crate::wire::qt::variant::sub_object_kind;
use crate::wire::qt::{QVariant, QtPacket, SubObject, UserValue, CALL_INVOKE, NO_SERIAL};
use crate::wire::{ChildInit, Packet, SourceId, NO_REPLY};

/// What the gateway knows of a model it shows the Qt node.
pub(super) struct ModelView {
    face: Arc<ModelFace>,
    /// The row count, as of the last diff sent to the Qt node.
    total: u64,
    /// The current row, as of the last change sent to the Qt node.
    current: Option<u64>,
    /// Fetches sent for the Qt node, by request number.
    fetches: HashMap<u32, Fetch>,
    next_request: u32,
}

/// What a fetch's rows answer.
enum Fetch {
    /// A row request: a `DataEntries` reply with `roles` of the cells in `columns`.
    Rows {
        serial: i32,
        roles: Vec<i32>,
        columns: std::ops::RangeInclusive<i32>,
    },
    /// A cache request: a `MetaAndDataEntries` reply with `roles`.
    Cache { serial: i32, roles: Vec<i32> },
    /// An edit of one role of `row`: the row as fetched with the role replaced is written.
    Edit { row: u64, role: usize, value: Value },
}

fn uint(value: Option<&(String, Value)>) -> u64 {
    match value.map(|(_, v)| v) {
        Some(Value::UInt(n)) => *n,
        Some(Value::Int(n)) => u64::try_from(*n).unwrap_or_default(),
        _ => 0,
    }
}

impl HostGateway {
    /// The `QRO_` of model `child` of `parent` (null without `init`); the model is then
    /// shown under `Model::<parent>::<member>`.
    pub(super) fn qt_model(
        &mut self,
        child: &QtChild,
        face: &Arc<ModelFace>,
        parent: (SourceId, &str, u16),
        init: Option<&ChildInit>,
        dynamic: bool,
    ) -> QVariant {
        let (parent, parent_name, slot) = parent;
        let name = format!("Model::{parent_name}::{}", child.name);
        let Some(init) = init else {
            return SubObject::null(name, qt_model::ADAPTER.into(), sub_object_kind::MODEL)
                .into_variant();
        };
        let api = Arc::clone(&child.api);
        let value = |i: u16| {
            let property = api.schema.properties.get(usize::from(i))?;
            let bytes = init.values.get(usize::from(i))?;
            codec::decode(bytes, &property.format, &api.schema.types, self.encoding).ok()
        };
        let total = match value(PROP_ROWS) {
            Some(Value::UInt(n)) => n,
            _ => 0,
        };
        let current = match value(PROP_CURRENT) {
            Some(Value::Option(Some(row))) => match *row {
                Value::UInt(n) => Some(n),
                _ => None,
            },
            _ => None,
        };
        let sub = SubObject::new(
            name.clone(),
            qt_model::ADAPTER.into(),
            sub_object_kind::MODEL,
            None,
            &face.init_values(),
            &self.types,
        );
        self.show_child(
            (parent, slot),
            init.source,
            Acquired {
                name,
                api,
                dynamic,
                model: Some(ModelView {
                    face: Arc::clone(face),
                    total,
                    current,
                    fetches: HashMap::default(),
                    next_request: 1,
                }),
            },
        );
        sub.map(SubObject::into_variant).unwrap_or_else(|error| {
            warn!(%error, "a model Qt cannot take: sent as invalid");
            QVariant::Invalid
        })
    }

    /// A model's signal (a diff, or a fetch's rows) as Qt's.
    pub(super) fn model_signal(&mut self, source: SourceId, index: u16, args: &[u8]) {
        let Some(acquired) = self.acquired.get(&source) else {
            return;
        };
        let api = Arc::clone(&acquired.api);
        let Some(member) = api.schema.signals.get(usize::from(index)) else {
            return;
        };
        let decoded = codec::decode_args(args, &member.args, &api.schema.types, self.encoding);
        let Ok(args) = decoded else {
            warn!(model = %acquired.name, signal = %member.name, "a model's diff did not decode");
            return;
        };
        let name = acquired.name.clone();
        let root = || qt_model::index_list(&[]);
        let row = |n: u64| QVariant::Int(qt_model::clamp_row(n));
        let (first, second) = (uint(args.first()), uint(args.get(1)));
        let (position, qt_args) = match index {
            SIG_INSERTED | SIG_REMOVED => {
                let total = uint(args.get(if index == SIG_INSERTED { 3 } else { 2 }));
                self.set_total(source, total);
                let position = match index {
                    SIG_INSERTED => signal::ROWS_INSERTED,
                    _ => signal::ROWS_REMOVED,
                };
                let last = (first + second).saturating_sub(1);
                (position, vec![root(), row(first), row(last)])
            }
            SIG_MOVED => {
                let to = uint(args.get(2));
                // Qt names the destination before the move; this crate after it.
                let destination = if to > first { to + second } else { to };
                let args = vec![root(), row(first), row(second), root(), row(destination)];
                (signal::ROWS_MOVED, args)
            }
            SIG_CHANGED => {
                let count = match args.get(1).map(|(_, v)| v) {
                    Some(Value::Seq(rows)) => rows.len() as u64,
                    _ => 0,
                };
                let face = self.face(source);
                let roles: Vec<i32> = match (args.get(2).map(|(_, v)| v), face) {
                    (Some(Value::Seq(roles)), Some(face)) => roles
                        .iter()
                        .filter_map(|r| match r {
                            Value::UInt(i) => face.roles.get(*i as usize).map(|r| r.id),
                            _ => None,
                        })
                        .collect(),
                    _ => Vec::new(),
                };
                // Every role changed: named one by one (an empty list makes Qt's replica
                // refetch with no roles, and then mishandle the answer). A table's cells
                // change with their fields.
                let roles = match (roles.is_empty(), self.face(source)) {
                    (true, Some(face)) => face.role_ids(),
                    (false, Some(face)) if face.table => [0, 2].into_iter().chain(roles).collect(),
                    _ => roles,
                };
                let last = (first + count).saturating_sub(1);
                let right = self.face(source).map_or(0, |face| face.columns() - 1);
                let args = vec![
                    qt_model::index_list(&[(qt_model::clamp_row(first), 0)]),
                    qt_model::index_list(&[(qt_model::clamp_row(last), right)]),
                    qt_model::int_list(&roles),
                ];
                (signal::DATA_CHANGED, args)
            }
            SIG_RESET => {
                self.set_total(source, first);
                (signal::MODEL_RESET, Vec::new())
            }
            SIG_ROWS => {
                let rows = match args.get(2) {
                    Some((_, Value::Seq(rows))) => rows.clone(),
                    _ => Vec::new(),
                };
                return self.answer_fetch(source, first as u32, second, &rows);
            }
            _ => return,
        };
        self.to_qt.push(QtPacket::Invoke {
            name,
            call: CALL_INVOKE,
            index: position,
            args: qt_args,
            serial: NO_SERIAL,
            property_index: -1,
        });
    }

    fn view(&mut self, source: SourceId) -> Option<&mut ModelView> {
        self.acquired.get_mut(&source)?.model.as_mut()
    }

    fn face(&self, source: SourceId) -> Option<Arc<ModelFace>> {
        let model = self.acquired.get(&source)?.model.as_ref()?;
        Some(Arc::clone(&model.face))
    }

    fn set_total(&mut self, source: SourceId, total: u64) {
        if let Some(view) = self.view(source) {
            view.total = total;
        }
    }

    /// A model's property change: its current row, which Qt hears of as `currentChanged`.
    pub(super) fn model_change(&mut self, source: SourceId, index: u16, value: &[u8]) {
        if index != PROP_CURRENT {
            return;
        }
        let Some(acquired) = self.acquired.get(&source) else {
            return;
        };
        let Some(property) = acquired.api.schema.properties.get(usize::from(index)) else {
            return;
        };
        let types = &acquired.api.schema.types;
        let current = match codec::decode(value, &property.format, types, self.encoding) {
            Ok(Value::Option(Some(row))) => match *row {
                Value::UInt(n) => Some(n),
                _ => None,
            },
            _ => None,
        };
        let name = acquired.name.clone();
        let Some(view) = self.view(source) else {
            return;
        };
        let previous = std::mem::replace(&mut view.current, current);
        let path = |row: Option<u64>| match row {
            Some(row) => qt_model::index_list(&[(qt_model::clamp_row(row), 0)]),
            None => qt_model::index_list(&[]),
        };
        self.to_qt.push(QtPacket::Invoke {
            name,
            call: CALL_INVOKE,
            index: signal::CURRENT_CHANGED,
            args: vec![path(current), path(previous)],
            serial: NO_SERIAL,
            property_index: -1,
        });
    }

    /// A call of the Qt node's model replica.
    pub(super) fn model_call(
        &mut self,
        source: SourceId,
        index: i32,
        args: &[QVariant],
        serial: i32,
    ) {
        let Some(acquired) = self.acquired.get(&source) else {
            return;
        };
        let Some(view) = acquired.model.as_ref() else {
            return;
        };
        let (total, face) = (view.total, Arc::clone(&view.face));
        let name = acquired.name.clone();
        let reply = |gateway: &mut HostGateway, value| {
            if serial >= 0 {
                gateway.to_qt.push(QtPacket::InvokeReply {
                    name: name.clone(),
                    serial,
                    value,
                });
            }
        };
        match index {
            method::SIZE => {
                // A list's rows have no children: only the root has a size.
                let size = match args.first().and_then(qt_model::read_index_list) {
                    Some(path) if path.is_empty() => {
                        QVariant::Size(face.columns(), qt_model::clamp_row(total))
                    }
                    _ => QVariant::Size(0, 0),
                };
                reply(self, size);
            }
            method::ROWS => {
                let first = args.first().and_then(qt_model::list_row);
                let last = args.get(1).and_then(qt_model::list_row);
                let roles = args.get(2).map(qt_model::read_int_list).unwrap_or_default();
                let column = |arg: Option<&QVariant>| match arg
                    .and_then(qt_model::read_index_list)
                    .as_deref()
                {
                    Some([(_, column)]) => *column,
                    _ => 0,
                };
                let columns = column(args.first())..=column(args.get(1));
                match (first, last) {
                    (Some(first), Some(last)) if last >= first => {
                        let count = (last - first + 1).min(MAX_FETCH_ROWS);
                        let then = Fetch::Rows {
                            serial,
                            roles,
                            columns,
                        };
                        self.fetch(source, first, count, then);
                    }
                    _ => reply(self, qt_model::data_entries(Vec::new())),
                }
            }
            method::CACHE => {
                let size = match args.first() {
                    Some(QVariant::ULongLong(n) | QVariant::ULong(n)) => *n,
                    Some(QVariant::Int(n)) => u64::try_from(*n).unwrap_or_default(),
                    _ => 0,
                };
                let roles = args.get(1).map(qt_model::read_int_list).unwrap_or_default();
                let count = size.min(total).min(MAX_FETCH_ROWS);
                self.fetch(source, 0, count, Fetch::Cache { serial, roles });
            }
            method::HEADER => {
                // One value per (orientation, section, role) asked: a table's columns are
                // headed by its fields' names; a list has no headers of its own.
                let orientations = args
                    .first()
                    .map(qt_model::read_int_list)
                    .unwrap_or_default();
                let sections = args.get(1).map(qt_model::read_int_list).unwrap_or_default();
                let roles = args.get(2).map(qt_model::read_int_list).unwrap_or_default();
                let headers = sections
                    .iter()
                    .enumerate()
                    .map(|(i, &section)| {
                        let horizontal = orientations.get(i) == Some(&HORIZONTAL);
                        let display = roles.get(i) == Some(&0);
                        match face.header(section).filter(|_| horizontal && display) {
                            Some(name) => QVariant::String(name.to_owned()),
                            None => QVariant::Invalid,
                        }
                    })
                    .collect();
                reply(self, QVariant::List(headers));
            }
            method::SET_CURRENT => {
                let row = args.first().and_then(qt_model::list_row);
                self.write_current(source, row);
                // Its selection flags change the source's selection too, as a Qt
                // source's selection model applies them.
                let how = args.get(1).and_then(selection_flags).unwrap_or(0);
                if how != 0 {
                    self.select(source, row, how);
                }
            }
            method::SET_DATA => {
                let (Some(row), Some(value), Some(QVariant::Int(role))) = (
                    args.first().and_then(qt_model::list_row),
                    args.get(1),
                    args.get(2),
                ) else {
                    return warn!(model = %name, "a Qt edit of no row");
                };
                let column = match args.first().and_then(qt_model::read_index_list).as_deref() {
                    Some([(_, column)]) => *column,
                    _ => 0,
                };
                self.edit(source, &face, (row, column), *role, value);
            }
            other => {
                warn!(model = %name, index = other, "a Qt model call that does not exist");
                reply(self, QVariant::Invalid);
            }
        }
    }

    /// Asks the model for `count` rows from `first` on, for `then`.
    fn fetch(&mut self, source: SourceId, first: u64, count: u64, then: Fetch) {
        let Some(acquired) = self.acquired.get(&source) else {
            return;
        };
        let api = Arc::clone(&acquired.api);
        let Some(view) = self.view(source) else {
            return;
        };
        let request = view.next_request;
        view.next_request = view.next_request.wrapping_add(1).max(1);
        view.fetches.insert(request, then);
        let values = [
            Value::UInt(request.into()),
            Value::UInt(first),
            Value::UInt(count),
        ];
        let slot = &api.schema.slots[usize::from(SLOT_FETCH)];
        match codec::encode_args(&values, &slot.args, &api.schema.types, self.encoding) {
            Ok(args) => self.to_host.push(Packet::Invoke {
                source,
                slot: SLOT_FETCH,
                serial: NO_REPLY,
                args: args.into(),
            }),
            Err(error) => warn!(%error, "a model fetch that does not encode"),
        }
    }

    /// The rows of fetch `request`, from `first` on.
    fn answer_fetch(&mut self, source: SourceId, request: u32, first: u64, rows: &[Value]) {
        let Some(acquired) = self.acquired.get(&source) else {
            return;
        };
        let (name, api) = (acquired.name.clone(), Arc::clone(&acquired.api));
        let Some(view) = self.view(source) else {
            return;
        };
        let (face, total) = (Arc::clone(&view.face), view.total);
        let Some(fetch) = view.fetches.remove(&request) else {
            return debug!(model = %name, request, "rows nobody asked for");
        };
        let (serial, value) = match fetch {
            Fetch::Rows {
                serial,
                roles,
                columns,
            } => (
                serial,
                qt_model::data_entries(face.entries(first, rows, columns, &roles, &api)),
            ),
            Fetch::Cache { serial, roles } => {
                let roles = match roles.is_empty() {
                    true => face.role_ids(),
                    false => roles,
                };
                let columns = 0..=face.columns() - 1;
                let entries = face.entries(first, rows, columns, &roles, &api);
                let reply = qt_model::meta_and_data_entries(entries, &roles, face.columns(), total);
                (serial, reply)
            }
            Fetch::Edit { row, role, value } => {
                return match rows.first() {
                    Some(Value::Struct(fields)) if row == first => {
                        let mut fields = fields.clone();
                        if let Some(field) = fields.get_mut(role) {
                            field.1 = value;
                        }
                        self.write_row(source, row, Value::Struct(fields));
                    }
                    _ => debug!(model = %name, row, "an edited row that is gone"),
                };
            }
        };
        if serial >= 0 {
            self.to_qt.push(QtPacket::InvokeReply {
                name,
                serial,
                value,
            });
        }
    }

    /// Qt's `setData(index, value, role)`: a row of one role is written at once; a role of
    /// a larger row replaces that field of the row as the model holds it.
    fn edit(
        &mut self,
        source: SourceId,
        face: &ModelFace,
        (row, column): (u64, i32),
        role: i32,
        value: &QVariant,
    ) {
        let Some(acquired) = self.acquired.get(&source) else {
            return;
        };
        // A table's cell is its column's field; any other role is the field of its name.
        let found = match face.cell_field(column, role) {
            Some(field) => face.roles.get(field).map(|r| (field, r)),
            None => face.role(role),
        };
        let Some((index, qt_role)) = found else {
            return warn!(model = %acquired.name, role, "a Qt edit of a role the rows do not have");
        };
        let value = match from_qvariant(value, &qt_role.ty.format, &Cx::of(&acquired.api)) {
            Ok(value) => value,
            Err(error) => {
                return warn!(model = %acquired.name, %error, "a Qt edit that does not fit")
            }
        };
        match face.fields {
            false => self.write_row(source, row, value),
            true => self.fetch(
                source,
                row,
                1,
                Fetch::Edit {
                    row,
                    role: index,
                    value,
                },
            ),
        }
    }

    fn write_row(&mut self, source: SourceId, row: u64, value: Value) {
        let Some(acquired) = self.acquired.get(&source) else {
            return;
        };
        let api = &acquired.api;
        let slot = &api.schema.slots[usize::from(SLOT_WRITE)];
        let values = [Value::UInt(row), value];
        match codec::encode_args(&values, &slot.args, &api.schema.types, self.encoding) {
            Ok(args) => self.to_host.push(Packet::Invoke {
                source,
                slot: SLOT_WRITE,
                serial: NO_REPLY,
                args: args.into(),
            }),
            Err(error) => warn!(model = %acquired.name, %error, "a Qt edit that does not fit"),
        }
    }

    /// A Qt replica's selection command on `row` (none: on no row, which only a clear
    /// does anything to), as the source's `select` slot.
    fn select(&mut self, source: SourceId, row: Option<u64>, how: u8) {
        let Some(acquired) = self.acquired.get(&source) else {
            return;
        };
        let (first, count): (u64, u64) = match row {
            Some(row) => (row, 1),
            None => (0, 0),
        };
        let args = (first, count, how);
        match self.encoding.encode(&args) {
            Ok(args) => self.to_host.push(Packet::Invoke {
                source,
                slot: SLOT_SELECT,
                serial: NO_REPLY,
                args: Bytes::from(args),
            }),
            Err(error) => warn!(model = %acquired.name, %error, "a selection that does not fit"),
        }
    }

    fn write_current(&mut self, source: SourceId, row: Option<u64>) {
        let Some(acquired) = self.acquired.get(&source) else {
            return;
        };
        let api = &acquired.api;
        let Some(property) = api.schema.properties.get(usize::from(PROP_CURRENT)) else {
            return;
        };
        let value = Value::Option(row.map(|r| Box::new(Value::UInt(r))));
        match codec::encode(&value, &property.format, &api.schema.types, self.encoding) {
            Ok(value) => self.to_host.push(Packet::SetProperty {
                source,
                index: PROP_CURRENT,
                serial: NO_REPLY,
                value: Bytes::from(value),
            }),
            Err(error) => warn!(model = %acquired.name, %error, "a current row that does not fit"),
        }
    }
}

/// The bits of Qt's `QItemSelectionModel::SelectionFlags` this crate's selection applies
/// (clear, select, deselect, toggle), from the flags a Qt replica sent.
fn selection_flags(flags: &QVariant) -> Option<u8> {
    let bits = match flags {
        QVariant::User {
            value: UserValue::Enum(bits),
            ..
        } => *bits,
        QVariant::Int(bits) => i64::from(*bits),
        QVariant::UInt(bits) => i64::from(*bits),
        _ => return None,
    };
    Some((bits & i64::from(crate::proto::selection::command::ALL)) as u8)
}

/// `Qt::Horizontal`, in a header request's orientations.
const HORIZONTAL: i32 = 1;
