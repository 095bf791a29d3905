//! The translator between one Qt replica node's connection and one native session with a
//! host, with no I/O: it is fed the packets each side sends and says what to send to each.
//!
//! The host side is an ordinary native connection (so admission, limits, access policies and
//! fan-out apply to Qt nodes as to native ones); this side speaks QtRO 2.0. Qt's sequence
//! (QTRO.md §3.5): the host greets first (Handshake, ObjectList); the replica sends AddObject
//! and gets an InitPacket (or, dynamic, an InitDynamicPacket with the class definition);
//! then a property change is a PropertyChangePacket followed by an InvokePacket of its
//! notify signal, a signal an InvokePacket, and the replica's calls and writes are
//! InvokePackets. Every source is described (`Describe`) before it is offered, so the
//! object list carries repc's signature and every value its Qt type.

mod models;

use rustc_hash::FxHashMap as HashMap;
use std::sync::Arc;

use tracing::{debug, warn};

use super::api::{QtApi, QtHints, QtMember};
use super::convert::{from_qvariant, to_qvariant, Cx};
use super::pending::Pending;
use super::registry_face as face;
use crate::values::{codec, ApiSchema, Value};
use crate::wire::qt::variant::sub_object_kind;
use crate::wire::qt::{
    QVariant, QtObject, QtPacket, SubObject, TypeRegistry, CALL_INVOKE, CALL_WRITE_PROPERTY,
    NO_SERIAL, QT_PROTOCOL,
};
use crate::wire::{ChildInit, Encoding, Handshake, ObjectInfo, Packet, SourceId, NO_REPLY};

/// Why the gateway gave up on the connection.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GatewayError {
    /// The host refused the gateway's handshake, or sent another.
    #[error("the host's handshake: {0}")]
    Handshake(String),
    /// The host asks for authentication, which Qt nodes cannot give.
    #[error("the host requires authentication, which Qt nodes cannot give")]
    Authentication,
    /// The host closed the session.
    #[error("the host refused the connection: {0}")]
    Refused(String),
}

/// Finds the Qt hints of a source's API (its `.rep` file, its enums' values), by the
/// source's name.
pub type RepLookup = Arc<dyn Fn(&str) -> QtHints + Send + Sync>;

/// A source the Qt node acquired, or a sub-object that came with one.
struct Acquired {
    name: String,
    api: Arc<QtApi>,
    /// The Qt replica is a dynamic one: sub-objects go with their class definitions.
    dynamic: bool,
    /// A model: what the gateway knows of it.
    model: Option<models::ModelView>,
}

/// A call the Qt node made that waits for its reply.
struct PendingCall {
    source: SourceId,
    qt_serial: i32,
    /// The slot called (its index is also its Qt method position).
    slot: u16,
}

/// The translator. Feed it with [`HostGateway::from_host`] and [`HostGateway::from_qt`];
/// take what to send with [`HostGateway::take_to_host`] and [`HostGateway::take_to_qt`].
pub struct HostGateway {
    encoding: Encoding,
    /// The `.rep` file a source's API was imported from, by source name.
    hints: RepLookup,
    greeted: bool,
    /// Offered sources not described yet.
    describing: HashMap<String, ObjectInfo>,
    /// The object list after the handshake goes out once every source in it is described.
    first_list: Option<Vec<QtObject>>,
    offered: HashMap<String, (ObjectInfo, Arc<QtApi>)>,
    /// Acquires sent, by name: whether the Qt replica wants the definition.
    acquiring: HashMap<String, bool>,
    acquired: HashMap<SourceId, Acquired>,
    by_name: HashMap<String, SourceId>,
    /// The sub-object at (parent, child slot), for every sub-object shown to the Qt node.
    child_at: super::ChildPlaces,
    calls: Pending<PendingCall>,
    types: TypeRegistry,
    /// This crate's registry, when the host serves one: shown to Qt as Qt's registry.
    registry: Option<RegistryView>,
    to_host: Vec<Packet>,
    to_qt: Vec<QtPacket>,
}

/// The registry as the Qt node was last shown it.
struct RegistryView {
    schema: ApiSchema,
    shown: std::collections::BTreeMap<String, (String, String)>,
}

impl HostGateway {
    /// A gateway whose host encodes values with `encoding`; `hints` finds the `.rep` file a
    /// source's API came from. It greets both sides at once.
    pub fn new(encoding: Encoding, hints: RepLookup) -> HostGateway {
        HostGateway {
            encoding,
            hints,
            greeted: false,
            describing: HashMap::default(),
            first_list: None,
            offered: HashMap::default(),
            acquiring: HashMap::default(),
            acquired: HashMap::default(),
            by_name: HashMap::default(),
            child_at: HashMap::default(),
            calls: Pending::default(),
            types: TypeRegistry::new(),
            registry: None,
            to_host: vec![Packet::Handshake(Handshake::ours(encoding))],
            to_qt: vec![QtPacket::Handshake {
                protocol: QT_PROTOCOL.to_owned(),
            }],
        }
    }

    /// What to send the host, in order.
    pub fn take_to_host(&mut self) -> Vec<Packet> {
        std::mem::take(&mut self.to_host)
    }

    /// What to send the Qt node, in order.
    pub fn take_to_qt(&mut self) -> Vec<QtPacket> {
        std::mem::take(&mut self.to_qt)
    }

    /// Whether anything waits to be sent to the Qt node.
    pub fn has_to_qt(&self) -> bool {
        !self.to_qt.is_empty()
    }

    /// Whether `packet` becomes the same Qt packets on every connection it reaches: a
    /// change or a signal of a plain source this node holds (a model's and the registry's
    /// depend on what each connection was shown).
    pub fn translates_alike(&self, packet: &Packet) -> bool {
        let source = match packet {
            Packet::PropertyChange { source, .. } | Packet::Signal { source, .. } => source,
            _ => return false,
        };
        self.acquired
            .get(source)
            .is_some_and(|a| a.model.is_none() && a.name != face::REGISTRY)
    }

    /// The named types of every source offered, to read the Qt node's frames with.
    pub fn types(&self) -> &TypeRegistry {
        &self.types
    }

    /// A packet from the host.
    pub fn from_host(&mut self, packet: Packet) -> Result<(), GatewayError> {
        match packet {
            Packet::Handshake(handshake) => {
                handshake
                    .check(self.encoding)
                    .map_err(|e| GatewayError::Handshake(e.to_string()))?;
                self.greeted = true;
            }
            Packet::AuthChallenge { .. } => return Err(GatewayError::Authentication),
            Packet::AuthRefused { reason } => return Err(GatewayError::Refused(reason)),
            Packet::ObjectList(objects) => {
                self.first_list = Some(Vec::new());
                for info in objects {
                    self.describe(info);
                }
                self.release_first_list();
            }
            Packet::AddObject(info) => self.describe(info),
            Packet::Description { name, schema } => self.on_description(name, &schema),
            Packet::RemoveObject { name } => self.on_removed(&name),
            Packet::Init {
                name,
                source,
                values,
                children,
                ..
            }
            | Packet::InitDynamic {
                name,
                source,
                values,
                children,
                ..
            } => self.on_init(name, source, &values, &children),
            Packet::AcquireRefused { name, reason } => {
                // Qt has no refusal: its replica waits, as for a source it is never offered.
                warn!(%name, %reason, "the host refused a Qt replica");
                self.acquiring.remove(&name);
            }
            Packet::PropertyChange {
                source,
                index,
                value,
            } => self.on_change(source, index, &value),
            Packet::Signal {
                source,
                index,
                args,
            } => self.on_signal(source, index, &args),
            Packet::InvokeReply {
                serial, outcome, ..
            } => self.on_reply(serial, outcome.ok()),
            Packet::SetPropertyRefused { index, reason, .. } => {
                // Qt's writes are fire-and-forget: its replica keeps the value it had.
                debug!(index, %reason, "a Qt replica's write was refused");
            }
            Packet::Ping(n) => self.to_host.push(Packet::Pong(n)),
            Packet::ChildChange {
                parent,
                slot,
                children,
            } => self.on_child_change(parent, slot, &children),
            Packet::SetPropertyDone { .. } | Packet::Pong(_) => {}
            other => debug!(kind = other.kind_name(), "ignored from the host"),
        }
        Ok(())
    }

    fn describe(&mut self, info: ObjectInfo) {
        self.to_host.push(Packet::Describe {
            name: info.name.clone(),
        });
        self.describing.insert(info.name.clone(), info);
    }

    fn release_first_list(&mut self) {
        if !self.describing.is_empty() {
            return;
        }
        if let Some(objects) = self.first_list.take() {
            self.to_qt.push(QtPacket::ObjectList { objects });
        }
    }

    fn on_description(&mut self, name: String, schema: &[u8]) {
        let Some(info) = self.describing.remove(&name) else {
            return;
        };
        let schema = Encoding::Bincode
            .decode::<ApiSchema>(schema)
            .map_err(|e| e.to_string());
        let registry = schema
            .as_ref()
            .is_ok_and(|s| name == face::REGISTRY && face::is_native_registry(s));
        let api = schema.and_then(|schema| {
            if registry {
                self.registry = Some(RegistryView {
                    schema: schema.clone(),
                    shown: Default::default(),
                });
            }
            QtApi::for_api(&schema, (self.hints)(&name)).map_err(|e| e.to_string())
        });
        match api {
            Ok(mut api) => {
                if registry {
                    // Qt's registry has no signature, and is typed by its name.
                    api.signature = String::new();
                }
                let types = &mut self.types;
                api.each_api(&mut |api| {
                    for g in &api.gadgets {
                        types
                            .add_gadget(&g.name, g.fields.iter().map(|(n, _)| n.clone()).collect());
                    }
                });
                let object = QtObject {
                    name: name.clone(),
                    type_name: api.type_name.clone(),
                    signature: api.signature.clone(),
                };
                match &mut self.first_list {
                    Some(list) => list.push(object),
                    None => self.to_qt.push(QtPacket::ObjectList {
                        objects: vec![object],
                    }),
                }
                self.offered.insert(name, (info, Arc::new(api)));
            }
            Err(reason) => {
                warn!(%name, %reason, "a source Qt nodes cannot use: not offered to them")
            }
        }
        self.release_first_list();
    }

    fn on_removed(&mut self, name: &str) {
        self.offered.remove(name);
        self.describing.remove(name);
        if let Some(&source) = self.by_name.get(name) {
            self.forget(source);
            self.to_qt.push(QtPacket::RemoveObject {
                name: name.to_owned(),
            });
        }
        self.release_first_list();
    }

    /// Forgets a source shown to the Qt node, with every sub-object under it.
    fn forget(&mut self, source: SourceId) {
        for source in super::take_subtree(&mut self.child_at, source) {
            if let Some(acquired) = self.acquired.remove(&source) {
                self.by_name.remove(&acquired.name);
            }
        }
    }

    /// The Qt values of source `source` (named `name` for the Qt node) in Qt's property
    /// order: its own `values`, and each sub-object found in `tree` as a `QRO_` holding
    /// its own, recursively. Each sub-object is remembered under its Qt name, so its later
    /// packets and the Qt node's calls find it.
    fn qt_object(
        &mut self,
        api: &Arc<QtApi>,
        source: SourceId,
        name: &str,
        values: &[bytes::Bytes],
        tree: &[ChildInit],
        dynamic: bool,
    ) -> Vec<QVariant> {
        let mut out = Vec::with_capacity(api.layout.len());
        for &member in &api.layout {
            out.push(match member {
                QtMember::Value(i) => {
                    match (api.properties.get(i as usize), values.get(i as usize)) {
                        (Some(p), Some(bytes)) => self.to_qt_value(api, &p.ty, bytes, &p.name),
                        _ => QVariant::Invalid,
                    }
                }
                QtMember::Child(slot) => {
                    let init = tree.iter().find(|c| c.parent == source && c.slot == slot);
                    self.qt_child(api, source, name, slot, init, tree, dynamic)
                }
            });
        }
        out
    }

    /// The `QRO_` of sub-object `slot` of `parent` (null without `init`).
    #[allow(clippy::too_many_arguments)]
    fn qt_child(
        &mut self,
        api: &Arc<QtApi>,
        parent: SourceId,
        parent_name: &str,
        slot: u16,
        init: Option<&ChildInit>,
        tree: &[ChildInit],
        dynamic: bool,
    ) -> QVariant {
        let Some(child) = api.children.get(slot as usize) else {
            return QVariant::Invalid;
        };
        if let Some(face) = &child.model {
            let (child, face) = (child.clone(), Arc::clone(face));
            return self.qt_model(&child, &face, (parent, parent_name, slot), init, dynamic);
        }
        let name = format!("Class::{parent_name}::{}", child.name);
        let type_name = child.api.type_name.clone();
        let Some(init) = init else {
            return SubObject::null(name, type_name, sub_object_kind::CLASS).into_variant();
        };
        let child_api = Arc::clone(&child.api);
        let values = self.qt_object(&child_api, init.source, &name, &init.values, tree, dynamic);
        let definition = dynamic.then(|| child_api.definition());
        let sub = SubObject::new(
            name.clone(),
            type_name,
            sub_object_kind::CLASS,
            definition.as_ref(),
            &values,
            &self.types,
        );
        self.show_child(
            (parent, slot),
            init.source,
            Acquired {
                name,
                api: child_api,
                dynamic,
                model: None,
            },
        );
        sub.map(SubObject::into_variant).unwrap_or_else(|error| {
            warn!(api = %api.type_name, %error, "a sub-object Qt cannot take: sent as invalid");
            QVariant::Invalid
        })
    }

    /// Remembers sub-object `source`, at `place` (parent, slot), under its Qt name.
    fn show_child(&mut self, place: (SourceId, u16), source: SourceId, child: Acquired) {
        self.child_at.insert(place, source);
        self.by_name.insert(child.name.clone(), source);
        self.acquired.insert(source, child);
    }

    /// Sub-object `slot` of `parent` was replaced by the first of `tree` (or by none): Qt
    /// sees its pointer property change to the new `QRO_`.
    fn on_child_change(&mut self, parent: SourceId, slot: u16, tree: &[ChildInit]) {
        if let Some(old) = self.child_at.remove(&(parent, slot)) {
            self.forget(old);
        }
        let Some(acquired) = self.acquired.get(&parent) else {
            return;
        };
        let (api, name, dynamic) = (
            Arc::clone(&acquired.api),
            acquired.name.clone(),
            acquired.dynamic,
        );
        let init = tree
            .first()
            .filter(|c| c.parent == parent && c.slot == slot);
        let value = self.qt_child(&api, parent, &name, slot, init, tree, dynamic);
        self.push_change(&api, name, QtMember::Child(slot), value);
    }

    /// A property change as Qt sends it: the new value, then its notify signal with it.
    fn push_change(&mut self, api: &QtApi, name: String, member: QtMember, value: QVariant) {
        let position = api.position_of(member);
        self.to_qt.push(QtPacket::PropertyChange {
            name: name.clone(),
            index: position,
            value: value.clone(),
        });
        if let Some(notify) = api.notify_position_of(member) {
            self.to_qt.push(QtPacket::Invoke {
                name,
                call: CALL_INVOKE,
                index: notify,
                args: vec![value],
                serial: NO_SERIAL,
                property_index: position,
            });
        }
    }

    fn to_qt_value(
        &self,
        api: &QtApi,
        ty: &super::api::QtFormat,
        bytes: &[u8],
        member: &str,
    ) -> QVariant {
        let converted = codec::decode(bytes, &ty.format, &api.schema.types, self.encoding)
            .map_err(|e| e.to_string())
            .and_then(|value| {
                to_qvariant(&value, &ty.format, &ty.qt, &Cx::of(api)).map_err(|e| e.to_string())
            });
        converted.unwrap_or_else(|reason| {
            warn!(api = %api.type_name, member, %reason, "a value Qt cannot take: sent as invalid");
            QVariant::Invalid
        })
    }

    fn on_init(
        &mut self,
        name: String,
        source: SourceId,
        values: &[bytes::Bytes],
        children: &[ChildInit],
    ) {
        let Some(wants_definition) = self.acquiring.remove(&name) else {
            debug!(%name, "an init nobody asked for");
            return;
        };
        let Some((_, api)) = self.offered.get(&name) else {
            return;
        };
        let api = Arc::clone(api);
        let values = match self.registry_init(&name, values) {
            Some(locations) => vec![locations],
            None => self.qt_object(&api, source, &name, values, children, wants_definition),
        };
        self.to_qt.push(match wants_definition {
            true => QtPacket::InitDynamic {
                name: name.clone(),
                definition: api.definition(),
                values,
            },
            false => QtPacket::Init {
                name: name.clone(),
                values,
            },
        });
        self.by_name.insert(name.clone(), source);
        self.acquired.insert(
            source,
            Acquired {
                name,
                api,
                dynamic: wants_definition,
                model: None,
            },
        );
    }

    /// The registry's entries, as Qt's `sourceLocations`, when `name` is the registry.
    fn registry_init(&mut self, name: &str, values: &[bytes::Bytes]) -> Option<QVariant> {
        let view = self.registry.as_mut().filter(|_| name == face::REGISTRY)?;
        let sources = face::snapshot_format(&view.schema)?;
        let value =
            codec::decode(values.first()?, sources, &view.schema.types, self.encoding).ok()?;
        view.shown = face::qt_locations(face::snapshot_sources(&value)?);
        Some(face::locations_value(&view.shown))
    }

    /// A change of the registry's entries (signal `index` of this registry, with `args`):
    /// Qt's signal for it, if Qt nodes can reach the source. As in Qt, `sourceLocations`
    /// is not re-sent: each Qt node updates its own copy from the signal.
    fn registry_signal(&mut self, source: SourceId, index: u16, args: &[u8]) -> bool {
        let is_registry = self
            .acquired
            .get(&source)
            .is_some_and(|a| a.name == face::REGISTRY);
        let Some(view) = self.registry.as_mut().filter(|_| is_registry) else {
            return false;
        };
        let Some(signal) = view.schema.signals.get(usize::from(index)) else {
            return true;
        };
        let Ok(args) = codec::decode_args(args, &signal.args, &view.schema.types, self.encoding)
        else {
            warn!(signal = %signal.name, "a registry signal's arguments did not decode");
            return true;
        };
        let Some((name, (api, url))) = face::qt_location_change(&args) else {
            return true;
        };
        let changed = match index {
            0 => view
                .shown
                .insert(name.clone(), (api.clone(), url.clone()))
                .is_none(),
            _ => view.shown.remove(&name).is_some(),
        };
        if changed {
            self.to_qt.push(QtPacket::Invoke {
                name: face::REGISTRY.to_owned(),
                call: CALL_INVOKE,
                index: i32::from(index),
                args: vec![face::location_value(&name, &api, &url)],
                serial: NO_SERIAL,
                property_index: -1,
            });
        }
        true
    }

    fn on_change(&mut self, source: SourceId, index: u16, value: &[u8]) {
        let Some(acquired) = self.acquired.get(&source) else {
            return;
        };
        if acquired.model.is_some() {
            return self.model_change(source, index, value);
        }
        let Some(property) = acquired.api.properties.get(index as usize) else {
            return;
        };
        let value = self.to_qt_value(&acquired.api, &property.ty, value, &property.name);
        let (api, name) = (Arc::clone(&acquired.api), acquired.name.clone());
        self.push_change(&api, name, QtMember::Value(index), value);
    }

    fn on_signal(&mut self, source: SourceId, index: u16, args: &[u8]) {
        if self.registry_signal(source, index, args) {
            return;
        }
        let Some(acquired) = self.acquired.get(&source) else {
            return;
        };
        if acquired.model.is_some() {
            return self.model_signal(source, index, args);
        }
        let api = &acquired.api;
        let Some(signal) = api.schema.signals.get(index as usize) else {
            return;
        };
        let decoded = codec::decode_args(args, &signal.args, &api.schema.types, self.encoding);
        let Ok(decoded) = decoded else {
            warn!(api = %api.type_name, signal = %signal.name, "a signal's arguments did not decode");
            return;
        };
        let qt_signal = &api.signals[index as usize];
        let args = decoded
            .iter()
            .zip(&qt_signal.params)
            .map(|((_, value), (_, ty))| {
                to_qvariant(value, &ty.format, &ty.qt, &Cx::of(api)).unwrap_or_else(|e| {
                    warn!(signal = %signal.name, reason = %e, "an argument Qt cannot take");
                    QVariant::Invalid
                })
            })
            .collect();
        self.to_qt.push(QtPacket::Invoke {
            name: acquired.name.clone(),
            call: CALL_INVOKE,
            index: api.signal_position(index),
            args,
            serial: NO_SERIAL,
            property_index: -1,
        });
    }

    fn on_reply(&mut self, serial: u32, value: Option<bytes::Bytes>) {
        let Some(call) = self.calls.take(serial) else {
            return;
        };
        let Some(acquired) = self.acquired.get(&call.source) else {
            return;
        };
        let api = &acquired.api;
        let ret = api.method_returns(i32::from(call.slot));
        // A void slot's reply, and a failed call's (Qt has no errors), is an invalid QVariant.
        let value = match (ret, value) {
            (Some(ret), Some(bytes)) => self.to_qt_value(api, ret, &bytes, "a slot's result"),
            _ => QVariant::Invalid,
        };
        self.to_qt.push(QtPacket::InvokeReply {
            name: acquired.name.clone(),
            serial: call.qt_serial,
            value,
        });
    }

    /// A packet from the Qt node. Returns an error only for what ends the connection; a bad
    /// call is dropped alone (logged), as Qt's host drops one it cannot place.
    pub fn from_qt(&mut self, packet: QtPacket) -> Result<(), GatewayError> {
        match packet {
            QtPacket::AddObject { name, is_dynamic } => match self.offered.get(&name) {
                Some((info, _)) => {
                    self.acquiring.insert(name.clone(), is_dynamic);
                    self.to_host.push(Packet::Acquire {
                        name,
                        signature: info.signature,
                    });
                }
                None => warn!(%name, "a Qt node asked for a source this host does not offer it"),
            },
            QtPacket::RemoveObject { name } => {
                // Only a source the Qt node acquired is released; its sub-objects go with it.
                let root = self
                    .by_name
                    .get(&name)
                    .copied()
                    .filter(|s| !self.child_at.values().any(|child| child == s));
                if let Some(source) = root {
                    self.forget(source);
                    self.to_host.push(Packet::Release { source });
                }
            }
            QtPacket::Invoke {
                name,
                call,
                index,
                args,
                serial,
                ..
            } => self.on_invoke(&name, call, index, &args, serial),
            QtPacket::Ping { name } => self.to_qt.push(QtPacket::Pong { name }),
            other => debug!(kind = other.kind(), "ignored from a Qt node"),
        }
        Ok(())
    }

    fn on_invoke(&mut self, name: &str, call: i32, index: i32, args: &[QVariant], serial: i32) {
        let Some(&source) = self.by_name.get(name) else {
            warn!(%name, "a Qt node called a source it did not acquire");
            return;
        };
        let Some(acquired) = self.acquired.get(&source) else {
            return;
        };
        if acquired.model.is_some() {
            return self.model_call(source, index, args, serial);
        }
        let api = Arc::clone(&acquired.api);
        if name == face::REGISTRY && self.registry.is_some() {
            return self.registry_call(&api, source, index, args);
        }
        match call {
            CALL_INVOKE => self.call_slot(&api, source, index, args, serial),
            CALL_WRITE_PROPERTY => self.write_property(&api, source, index, args),
            other => warn!(%name, call = other, "a Qt call of an unknown kind"),
        }
    }

    fn call_slot(
        &mut self,
        api: &QtApi,
        source: SourceId,
        index: i32,
        args: &[QVariant],
        serial: i32,
    ) {
        let Some(slot) = api.slot_at(index) else {
            warn!(api = %api.type_name, index, "a Qt node called a method that does not exist");
            return self.reply_invalid(source, serial);
        };
        let member = &api.schema.slots[slot as usize];
        if args.len() != member.args.len() {
            warn!(api = %api.type_name, slot = %member.name, given = args.len(),
                expected = member.args.len(), "a Qt call with the wrong number of arguments");
            return self.reply_invalid(source, serial);
        }
        let values: Result<Vec<Value>, _> = args
            .iter()
            .zip(&member.args)
            .map(|(q, field)| from_qvariant(q, &field.format, &Cx::of(api)))
            .collect();
        let encoded = values.map_err(|e| e.to_string()).and_then(|values| {
            codec::encode_args(&values, &member.args, &api.schema.types, self.encoding)
                .map_err(|e| e.to_string())
        });
        let args = match encoded {
            Ok(args) => args,
            Err(reason) => {
                warn!(api = %api.type_name, slot = %member.name, %reason, "a Qt call's arguments do not fit");
                return self.reply_invalid(source, serial);
            }
        };
        let native_serial = if serial < 0 {
            NO_REPLY
        } else {
            self.calls.insert(PendingCall {
                source,
                qt_serial: serial,
                slot,
            })
        };
        self.to_host.push(Packet::Invoke {
            source,
            slot,
            serial: native_serial,
            args: args.into(),
        });
    }

    /// Qt's registry methods: `addSource(location)` and `removeSource(location)` as this
    /// registry's slots; `removeServer(url)` needs nothing (a host's entries go with its
    /// connection).
    fn registry_call(&mut self, api: &QtApi, source: SourceId, index: i32, args: &[QVariant]) {
        let Some(location) = args.first().and_then(face::read_location) else {
            if index != 2 {
                warn!(index, "a Qt registry call without a location");
            }
            return;
        };
        let (slot, values) = match index {
            0 => (0u16, face::add_source_args(&location)),
            1 => (1u16, vec![Value::Str(location.0.clone())]),
            _ => return,
        };
        let member = &api.schema.slots[slot as usize];
        match codec::encode_args(&values, &member.args, &api.schema.types, self.encoding) {
            Ok(args) => self.to_host.push(Packet::Invoke {
                source,
                slot,
                serial: NO_REPLY,
                args: args.into(),
            }),
            Err(error) => warn!(%error, "a Qt registry call that does not fit"),
        }
    }

    fn reply_invalid(&mut self, source: SourceId, serial: i32) {
        if serial < 0 {
            return;
        }
        if let Some(acquired) = self.acquired.get(&source) {
            self.to_qt.push(QtPacket::InvokeReply {
                name: acquired.name.clone(),
                serial,
                value: QVariant::Invalid,
            });
        }
    }

    fn write_property(&mut self, api: &QtApi, source: SourceId, index: i32, args: &[QVariant]) {
        let property = match api.member_at(index) {
            Some(QtMember::Value(i)) => api.properties.get(i as usize).map(|p| (i, p)),
            _ => None,
        };
        let (Some((index, property)), [value]) = (property, args) else {
            warn!(api = %api.type_name, index, "a Qt write of a property that does not exist");
            return;
        };
        let encoded = from_qvariant(value, &property.ty.format, &Cx::of(api))
            .map_err(|e| e.to_string())
            .and_then(|v| {
                codec::encode(&v, &property.ty.format, &api.schema.types, self.encoding)
                    .map_err(|e| e.to_string())
            });
        match encoded {
            Ok(value) => self.to_host.push(Packet::SetProperty {
                source,
                index,
                serial: NO_REPLY,
                value: value.into(),
            }),
            Err(reason) => {
                warn!(api = %api.type_name, property = %property.name, %reason, "a Qt write that does not fit")
            }
        }
    }
}
