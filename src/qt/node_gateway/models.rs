//! The node gateway's half for models: a Qt host's model (its `QAbstractItemModelAdapter`
//! sub-object) shown to the node as this crate's model adapter, so a `ModelReplica` (or a
//! dynamic replica) pages through it.
//!
//! Qt's side tells less than this crate's, so the gateway asks it: Qt's init has no row
//! count, so the node's init waits for the answer to a size request; Qt's `dataChanged`
//! has no values, so the gateway fetches the changed rows and hands the node a `changed`
//! diff with them in the place the signal came. While such an answer is awaited, every
//! packet for the node after it is held back, so the node sees everything in Qt's order.
//! Should a structural change (an insert, a removal, a move, a reset) come between a
//! `dataChanged` and its rows, the rows fetched may be others: the node is then sent a
//! reset in the change's place, and refetches what it shows.

use std::sync::Arc;

use bytes::Bytes;
use tracing::{debug, warn};

use super::{Acquired, NodeGateway, PongFor};
use crate::adapter::{
    PROP_CURRENT, PROP_ROLES, PROP_ROWS, PROP_SELECTION, SIG_CHANGED, SIG_INSERTED, SIG_MOVED,
    SIG_REMOVED, SIG_RESET, SIG_ROWS, SLOT_FETCH, SLOT_SELECT, SLOT_WRITE,
};
use crate::proto::model::MAX_FETCH_ROWS;
use crate::proto::selection;
use crate::qt::api::{QtApi, QtApiError};
use crate::qt::convert::{to_qvariant, Cx};
use crate::qt::model::{self as qt_model, method, signal, ModelFace};
use crate::values::{codec, Value};
use crate::wire::qt::{QVariant, QtPacket, QtType, SubObject, UserValue, CALL_INVOKE, NO_SERIAL};
use crate::wire::{ChildInit, FailureKind, Packet, RemoteFailure, SourceId, NO_REPLY};

/// `QItemSelectionModel::ClearAndSelect | Current`: how the node's current row is set.
const SELECT_CURRENT: i64 = 0x0003 | 0x0010;
/// `QItemSelectionModel::Current`: the index becomes the current one.
const CURRENT_FLAG: i64 = 0x0010;

/// The most packets held back for the node while the Qt host answers what they wait on.
const MAX_HELD: usize = 65_536;

/// What the gateway knows of a Qt host's model.
pub(super) struct ModelLink {
    /// Its roles, numbered as the Qt host numbers them.
    face: Arc<ModelFace>,
    /// The row count as of the last diff handed to the node.
    total: u64,
}

/// An answer of the Qt host a model waits on.
pub(super) enum ModelCall {
    /// The row count: for the node's init of the model, or for a reset in place `ticket`.
    Size {
        source: SourceId,
        reset: Option<u32>,
    },
    /// The node's fetch `request` (its call `serial`, answered after the rows).
    Rows {
        source: SourceId,
        request: u32,
        first: u64,
        serial: u32,
    },
    /// The rows of a `dataChanged`, for the diff in place `ticket`.
    Changed {
        source: SourceId,
        first: u64,
        roles: Vec<u16>,
        ticket: u32,
        total: u64,
    },
}

/// Packets for the node held back, in order, with places kept for those still awaited.
#[derive(Default)]
pub(super) struct Held {
    /// Answers awaited before the packets can go.
    waiting: usize,
    slots: Vec<Slot>,
    next_ticket: u32,
}

enum Slot {
    Ready(Packet),
    Waiting(u32),
}

impl Held {
    pub(super) fn is_holding(&self) -> bool {
        self.waiting > 0
    }

    pub(super) fn push(&mut self, packet: Packet) {
        self.slots.push(Slot::Ready(packet));
    }

    /// A place for a packet to come, after those held.
    fn reserve(&mut self) -> u32 {
        let ticket = self.next_ticket;
        self.next_ticket = self.next_ticket.wrapping_add(1);
        self.waiting += 1;
        self.slots.push(Slot::Waiting(ticket));
        ticket
    }

    /// Fills place `ticket`.
    fn fill(&mut self, ticket: u32, packet: Packet) {
        if let Some(slot) = self
            .slots
            .iter_mut()
            .find(|s| matches!(s, Slot::Waiting(t) if *t == ticket))
        {
            *slot = Slot::Ready(packet);
            self.waiting = self.waiting.saturating_sub(1);
        }
    }

    /// Whether a structural diff of `source` is held after place `ticket`.
    fn reshaped_after(&self, ticket: u32, source: SourceId) -> bool {
        self.slots
            .iter()
            .skip_while(|s| !matches!(s, Slot::Waiting(t) if *t == ticket))
            .any(|s| match s {
                Slot::Ready(Packet::Signal {
                    source: s, index, ..
                }) => {
                    *s == source
                        && matches!(*index, SIG_INSERTED | SIG_REMOVED | SIG_MOVED | SIG_RESET)
                }
                _ => false,
            })
    }

    /// Whether more is held than a Qt host that answers in time leaves: the connection
    /// ends rather than hold without end.
    pub(super) fn overflowed(&self) -> bool {
        self.slots.len() > MAX_HELD
    }
}

/// The name of the row type of a dynamic replica's model `member` of `class`.
pub(super) fn row_type_name(class: &str, member: &str) -> String {
    let mut chars = member.chars();
    let upper: String = chars
        .next()
        .map(|c| c.to_uppercase().collect())
        .unwrap_or_default();
    format!("{class}{upper}{}Row", chars.as_str())
}

fn uint(value: Option<&QVariant>) -> u64 {
    match value {
        Some(QVariant::Int(n)) => u64::try_from(*n).unwrap_or_default(),
        _ => 0,
    }
}

impl NodeGateway {
    /// The API of a model a dynamic replica is shown, from the roles the Qt host announces.
    pub(super) fn announced_model(
        &self,
        sub: &SubObject,
        row: &str,
    ) -> Result<(Arc<QtApi>, Arc<ModelFace>), QtApiError> {
        let values = sub
            .values(&self.types)
            .map_err(|e| QtApiError::NotCarried(format!("{}: {e}", sub.name)))?
            .unwrap_or_default();
        let (face, schema) = ModelFace::of_announced(row, &qt_model::announced_roles(&values));
        let api = QtApi::from_schema(&schema)?;
        Ok((Arc::new(api), Arc::new(face)))
    }

    /// Model `slot` of `parent` from its `QRO_` (whose `values` are its roles): appended to
    /// `tree`, its row count asked for (the node's init waits for it).
    pub(super) fn native_model(
        &mut self,
        api: &Arc<QtApi>,
        face: &ModelFace,
        place: (SourceId, u16),
        sub: &SubObject,
        values: &[QVariant],
        tree: &mut Vec<ChildInit>,
    ) -> Result<(), String> {
        let announced = qt_model::announced_roles(values);
        let face = Arc::new(face.numbered_by(&announced));
        let roles: Vec<String> = face.roles.iter().map(|r| r.name.clone()).collect();
        let encode = |index: u16, value: &Value| {
            let property = &api.schema.properties[usize::from(index)];
            codec::encode(value, &property.format, &api.schema.types, self.encoding)
                .map(Bytes::from)
                .map_err(|e| e.to_string())
        };
        let names = Value::Seq(roles.into_iter().map(Value::Str).collect());
        let values = vec![
            encode(PROP_ROWS, &Value::UInt(0))?,
            encode(PROP_ROLES, &names)?,
            encode(PROP_CURRENT, &Value::Option(None))?,
            // Qt's model protocol shares no selection: replicas see none.
            encode(PROP_SELECTION, &Value::Seq(Vec::new()))?,
        ];
        let source = self.fresh_source();
        tree.push(ChildInit {
            parent: place.0,
            slot: place.1,
            source,
            signature: api.schema.signature,
            values,
        });
        self.child_at.insert(place, source);
        self.by_name.insert(sub.name.clone(), source);
        self.acquired.insert(
            source,
            Acquired {
                name: sub.name.clone(),
                api: Arc::clone(api),
                signature: api.schema.signature,
                model: Some(ModelLink { face, total: 0 }),
            },
        );
        self.held.waiting += 1;
        let size = QtPacket::Invoke {
            name: sub.name.clone(),
            call: CALL_INVOKE,
            index: method::SIZE,
            args: vec![qt_model::index_list(&[])],
            serial: 0,
            property_index: -1,
        };
        self.ask_model(
            size,
            ModelCall::Size {
                source,
                reset: None,
            },
        );
        Ok(())
    }

    /// Sends the Qt host `call` (an Invoke waiting for its reply), for `then`.
    fn ask_model(&mut self, mut call: QtPacket, then: ModelCall) {
        let serial = self.await_reply(super::Awaited::Model(then));
        if let QtPacket::Invoke { serial: s, .. } = &mut call {
            *s = serial;
        }
        self.to_qt.push(call);
    }

    /// A signal of the Qt host's model: a diff for the node, or the start of one.
    pub(super) fn model_signal(&mut self, source: SourceId, position: i32, args: &[QVariant]) {
        let Some((name, face, total)) = self.link(source) else {
            return;
        };
        let top = |i: usize| match args.get(i).and_then(qt_model::read_index_list) {
            Some(path) => path.is_empty(),
            None => false,
        };
        let diff = match position {
            signal::ROWS_INSERTED | signal::ROWS_REMOVED if top(0) => {
                let (first, last) = (uint(args.get(1)), uint(args.get(2)));
                let count = (last + 1).saturating_sub(first);
                if position == signal::ROWS_INSERTED {
                    let total = total + count;
                    self.set_total(source, total);
                    let none = Value::Seq(Vec::new());
                    let values = [
                        Value::UInt(first),
                        Value::UInt(count),
                        none,
                        Value::UInt(total),
                    ];
                    (SIG_INSERTED, values.to_vec())
                } else {
                    let total = total.saturating_sub(count);
                    self.set_total(source, total);
                    (
                        SIG_REMOVED,
                        vec![Value::UInt(first), Value::UInt(count), Value::UInt(total)],
                    )
                }
            }
            signal::ROWS_MOVED if top(0) && top(3) => {
                let (first, count, to) = (uint(args.get(1)), uint(args.get(2)), uint(args.get(4)));
                // Qt names the destination before the move; this crate after it.
                let to = if to > first {
                    to.saturating_sub(count)
                } else {
                    to
                };
                let values = [Value::UInt(first), Value::UInt(count), Value::UInt(to)];
                (SIG_MOVED, [&values[..], &[Value::UInt(total)]].concat())
            }
            signal::DATA_CHANGED => return self.data_changed(source, &name, &face, total, args),
            signal::CURRENT_CHANGED => {
                let current = args.first().and_then(qt_model::list_row);
                let value = Value::Option(current.map(|r| Box::new(Value::UInt(r))));
                return self.model_property(source, PROP_CURRENT, &value);
            }
            signal::MODEL_RESET | LAYOUT_CHANGED => {
                let ticket = self.held.reserve();
                let size = size_request(&name);
                return self.ask_model(
                    size,
                    ModelCall::Size {
                        source,
                        reset: Some(ticket),
                    },
                );
            }
            other => return debug!(model = %name, signal = other, "a Qt model signal, ignored"),
        };
        if let Some(packet) = self.model_diff(source, diff.0, &diff.1) {
            self.emit(packet);
        }
    }

    /// `dataChanged(topLeft, bottomRight, roles)`: the rows are fetched, for a `changed`
    /// diff in this place.
    fn data_changed(
        &mut self,
        source: SourceId,
        name: &str,
        face: &ModelFace,
        total: u64,
        args: &[QVariant],
    ) {
        let (Some(first), Some(last)) = (
            args.first().and_then(qt_model::list_row),
            args.get(1).and_then(qt_model::list_row),
        ) else {
            return;
        };
        let roles: Vec<u16> = args
            .get(2)
            .map(qt_model::read_int_list)
            .unwrap_or_default()
            .iter()
            .filter_map(|id| face.role(*id).map(|(i, _)| i as u16))
            .collect();
        let ticket = self.held.reserve();
        let fetch = rows_request(name, face, first, last.max(first));
        self.ask_model(
            fetch,
            ModelCall::Changed {
                source,
                first,
                roles,
                ticket,
                total,
            },
        );
    }

    /// A Qt host's answer for a model.
    pub(super) fn model_reply(&mut self, call: ModelCall, value: &QVariant) {
        match call {
            ModelCall::Size { source, reset } => {
                let total = match value {
                    QVariant::Size(_, rows) => u64::try_from(*rows).unwrap_or_default(),
                    _ => 0,
                };
                self.set_total(source, total);
                match reset {
                    None => self.held.waiting = self.held.waiting.saturating_sub(1),
                    Some(ticket) => {
                        if let Some(p) = self.model_diff(source, SIG_RESET, &[Value::UInt(total)]) {
                            self.held.fill(ticket, p);
                        }
                    }
                }
            }
            ModelCall::Rows {
                source,
                request,
                first,
                serial,
            } => {
                let rows = self.rows_of(source, value);
                self.answer_fetch(source, request, first, rows, serial);
            }
            ModelCall::Changed {
                source,
                first,
                roles,
                ticket,
                total,
            } => {
                let packet = if self.held.reshaped_after(ticket, source) {
                    self.model_diff(source, SIG_RESET, &[Value::UInt(total)])
                } else {
                    let rows = Value::Seq(self.rows_of(source, value));
                    let roles =
                        Value::Seq(roles.into_iter().map(|r| Value::UInt(r.into())).collect());
                    self.model_diff(source, SIG_CHANGED, &[Value::UInt(first), rows, roles])
                };
                match packet {
                    Some(packet) => self.held.fill(ticket, packet),
                    None => self.held.fill(ticket, Packet::Pong(0)),
                }
            }
        }
        self.release_held();
    }

    /// The node's fetch `request`: the `rows` signal, then (for a call that waits) its reply.
    fn answer_fetch(
        &mut self,
        source: SourceId,
        request: u32,
        first: u64,
        rows: Vec<Value>,
        serial: u32,
    ) {
        let values = [
            Value::UInt(request.into()),
            Value::UInt(first),
            Value::Seq(rows),
        ];
        if let Some(packet) = self.model_diff(source, SIG_ROWS, &values) {
            self.emit(packet);
        }
        if serial != NO_REPLY {
            self.reply_unit(source, serial);
        }
    }

    /// Once nothing is awaited, the held packets go to the node, each model's init with
    /// the row count the Qt host gave.
    fn release_held(&mut self) {
        if self.held.is_holding() {
            return;
        }
        let slots = std::mem::take(&mut self.held.slots);
        for slot in slots {
            let Slot::Ready(mut packet) = slot else {
                continue;
            };
            if let Packet::Init { children, .. } | Packet::InitDynamic { children, .. } =
                &mut packet
            {
                for child in children.iter_mut() {
                    if let Some(rows) = self.encoded_total(child.source) {
                        if let Some(value) = child.values.get_mut(usize::from(PROP_ROWS)) {
                            *value = rows;
                        }
                    }
                }
            }
            if !matches!(packet, Packet::Pong(0)) {
                self.to_node.push(packet);
            }
        }
    }

    fn encoded_total(&self, source: SourceId) -> Option<Bytes> {
        let acquired = self.acquired.get(&source)?;
        let total = acquired.model.as_ref()?.total;
        let property = acquired.api.schema.properties.get(usize::from(PROP_ROWS))?;
        let types = &acquired.api.schema.types;
        codec::encode(&Value::UInt(total), &property.format, types, self.encoding)
            .ok()
            .map(Bytes::from)
    }

    /// The rows of a `DataEntries` answer, in this crate's shape.
    fn rows_of(&self, source: SourceId, value: &QVariant) -> Vec<Value> {
        let Some(acquired) = self.acquired.get(&source) else {
            return Vec::new();
        };
        let Some(link) = acquired.model.as_ref() else {
            return Vec::new();
        };
        let ids = link.face.role_ids();
        qt_model::read_entries(value)
            .iter()
            .filter_map(|(_, data)| match link.face.row_of(&ids, data, &acquired.api) {
                Ok(row) => Some(row),
                Err(reason) => {
                    warn!(model = %acquired.name, %reason, "a Qt model row this replica cannot hold");
                    None
                }
            })
            .collect()
    }

    /// The model adapter's signal `index` with `values`, encoded for the node.
    fn model_diff(&self, source: SourceId, index: u16, values: &[Value]) -> Option<Packet> {
        let acquired = self.acquired.get(&source)?;
        let api = &acquired.api;
        let member = api.schema.signals.get(usize::from(index))?;
        match codec::encode_args(values, &member.args, &api.schema.types, self.encoding) {
            Ok(args) => Some(Packet::Signal {
                source,
                index,
                args: args.into(),
            }),
            Err(error) => {
                warn!(model = %acquired.name, %error, "a Qt model diff this replica cannot hold");
                None
            }
        }
    }

    fn model_property(&mut self, source: SourceId, index: u16, value: &Value) {
        let Some(acquired) = self.acquired.get(&source) else {
            return;
        };
        let api = &acquired.api;
        let Some(property) = api.schema.properties.get(usize::from(index)) else {
            return;
        };
        if let Ok(value) = codec::encode(value, &property.format, &api.schema.types, self.encoding)
        {
            self.emit(Packet::PropertyChange {
                source,
                index,
                value: value.into(),
            });
        }
    }

    fn link(&self, source: SourceId) -> Option<(String, Arc<ModelFace>, u64)> {
        let acquired = self.acquired.get(&source)?;
        let link = acquired.model.as_ref()?;
        Some((acquired.name.clone(), Arc::clone(&link.face), link.total))
    }

    fn set_total(&mut self, source: SourceId, total: u64) {
        if let Some(link) = self
            .acquired
            .get_mut(&source)
            .and_then(|a| a.model.as_mut())
        {
            link.total = total;
        }
    }

    /// The node's call of a model: a fetch, or a write of a row.
    pub(super) fn model_invoke(&mut self, source: SourceId, slot: u16, serial: u32, args: &[u8]) {
        let Some(acquired) = self.acquired.get(&source) else {
            return;
        };
        let api = Arc::clone(&acquired.api);
        let Some(member) = api.schema.slots.get(usize::from(slot)) else {
            return;
        };
        let Ok(values) = codec::decode_args(args, &member.args, &api.schema.types, self.encoding)
        else {
            return warn!(model = %acquired.name, "a model call that does not decode");
        };
        let Some((name, face, total)) = self.link(source) else {
            return;
        };
        let number = |i: usize| match values.get(i).map(|(_, v)| v) {
            Some(Value::UInt(n)) => *n,
            _ => 0,
        };
        match slot {
            SLOT_FETCH => {
                let (request, first) = (number(0) as u32, number(1));
                let count = number(2)
                    .min(MAX_FETCH_ROWS)
                    .min(total.saturating_sub(first));
                if count == 0 {
                    return self.answer_fetch(source, request, first, Vec::new(), serial);
                }
                let fetch = rows_request(&name, &face, first, first + count - 1);
                self.ask_model(
                    fetch,
                    ModelCall::Rows {
                        source,
                        request,
                        first,
                        serial,
                    },
                );
            }
            SLOT_WRITE => {
                let row = number(0);
                let Some((_, value)) = values.get(1) else {
                    return;
                };
                let cx = Cx::of(&api);
                for (i, role) in face.roles.iter().enumerate() {
                    let field = match (face.fields, value) {
                        (true, Value::Struct(fields)) => fields.get(i).map(|(_, v)| v),
                        (false, value) => Some(value),
                        _ => None,
                    };
                    let Some(q) =
                        field.and_then(|v| to_qvariant(v, &role.ty.format, &role.ty.qt, &cx).ok())
                    else {
                        continue;
                    };
                    self.to_qt.push(QtPacket::Invoke {
                        name: name.clone(),
                        call: CALL_INVOKE,
                        index: method::SET_DATA,
                        args: vec![
                            qt_model::index_list(&[(qt_model::clamp_row(row), 0)]),
                            q,
                            QVariant::Int(role.id),
                        ],
                        serial: NO_SERIAL,
                        property_index: -1,
                    });
                }
                if serial != NO_REPLY {
                    self.ping(PongFor::Reply { source, serial });
                }
            }
            SLOT_SELECT => {
                // Qt selects through `replicaSetCurrentIndex(index, flags)`: one row at a
                // time, which also becomes the current row.
                let (first, count, how) = (number(0), number(1), number(2) as u8);
                if count != 1 || how & !selection::command::ALL != 0 || first >= total {
                    let reason = "a Qt source selects one existing row at a time".to_owned();
                    return self.refuse_call(source, serial, reason);
                }
                let flags = QVariant::User {
                    ty: QtType::Named("QItemSelectionModel::SelectionFlags".into()),
                    value: UserValue::Enum(i64::from(how) | CURRENT_FLAG),
                };
                self.to_qt.push(QtPacket::Invoke {
                    name: name.clone(),
                    call: CALL_INVOKE,
                    index: method::SET_CURRENT,
                    args: vec![
                        qt_model::index_list(&[(qt_model::clamp_row(first), 0)]),
                        flags,
                    ],
                    serial: NO_SERIAL,
                    property_index: -1,
                });
                if serial != NO_REPLY {
                    self.ping(PongFor::Reply { source, serial });
                }
            }
            _ => {}
        }
    }

    /// Answers the node's call `serial` on `source` with a refusal.
    fn refuse_call(&mut self, source: SourceId, serial: u32, reason: String) {
        warn!(%reason, "a model call a Qt source cannot take");
        if serial == NO_REPLY {
            return;
        }
        self.emit(Packet::InvokeReply {
            source,
            serial,
            outcome: Err(RemoteFailure {
                kind: FailureKind::Source,
                message: reason,
            }),
        });
    }

    /// The node's write of a model's property: its current row.
    pub(super) fn model_write(&mut self, source: SourceId, index: u16, serial: u32, value: &[u8]) {
        let Some(acquired) = self.acquired.get(&source) else {
            return;
        };
        let api = &acquired.api;
        let decoded = api
            .schema
            .properties
            .get(usize::from(index))
            .filter(|_| index == PROP_CURRENT)
            .and_then(|p| codec::decode(value, &p.format, &api.schema.types, self.encoding).ok());
        let Some(current) = decoded else {
            return self.emit(Packet::SetPropertyRefused {
                source,
                index,
                serial,
                reason: "a model's only writable property is its current row".into(),
            });
        };
        let path = match current {
            Value::Option(Some(row)) => match *row {
                Value::UInt(row) => vec![(qt_model::clamp_row(row), 0)],
                _ => Vec::new(),
            },
            _ => Vec::new(),
        };
        let flags = QVariant::User {
            ty: QtType::Named("QItemSelectionModel::SelectionFlags".into()),
            value: UserValue::Enum(SELECT_CURRENT),
        };
        let write = QtPacket::Invoke {
            name: acquired.name.clone(),
            call: CALL_INVOKE,
            index: method::SET_CURRENT,
            args: vec![qt_model::index_list(&path), flags],
            serial: NO_SERIAL,
            property_index: -1,
        };
        self.write_to_qt(write, source, index, serial);
    }
}

/// `layoutChanged(parents, hint)`: rows were reordered; the node is sent a reset.
const LAYOUT_CHANGED: i32 = 9;

fn size_request(name: &str) -> QtPacket {
    QtPacket::Invoke {
        name: name.to_owned(),
        call: CALL_INVOKE,
        index: method::SIZE,
        args: vec![qt_model::index_list(&[])],
        serial: 0,
        property_index: -1,
    }
}

/// A request for rows `first..=last` with every role of `face`.
fn rows_request(name: &str, face: &ModelFace, first: u64, last: u64) -> QtPacket {
    let at = |row: u64| qt_model::index_list(&[(qt_model::clamp_row(row), 0)]);
    QtPacket::Invoke {
        name: name.to_owned(),
        call: CALL_INVOKE,
        index: method::ROWS,
        args: vec![at(first), at(last), qt_model::int_list(&face.role_ids())],
        serial: 0,
        property_index: -1,
    }
}
