//! The translator between one native node session and one Qt host (a `QRemoteObjectHost`),
//! with no I/O: the node speaks this crate's protocol to it as to any host.
//!
//! The Qt host greets first (Handshake, ObjectList); its object list is handed to the node
//! with signature 0 ("unknown": repc's signatures are not this crate's), and the gateway
//! checks repc's signature itself when the node acquires: a typed replica whose API's Qt
//! signature differs from the source's (both non-empty, as Qt decides) gets an init with a
//! signature that is not its own, so it goes to `SignatureMismatch` for good. A typed
//! replica is acquired as Qt's static replicas are; a dynamic one asks for the class
//! definition, from which the gateway derives the schema it hands the node.

mod models;

use std::collections::VecDeque;

use rustc_hash::FxHashMap as HashMap;
use std::sync::Arc;

use bytes::Bytes;
use tracing::{debug, warn};

use super::api::{QtApi, QtApiError, QtMember};
use super::convert::{from_qvariant, to_qvariant, Cx};
use super::pending::Pending;
use super::registry_face as face;
use crate::proto::replica::UNKNOWN_SIGNATURE;
use crate::values::{codec, Value};
use crate::wire::qt::variant::sub_object_kind;
use crate::wire::qt::{
    QVariant, QtDefinition, QtPacket, TypeRegistry, UserValue, CALL_INVOKE, CALL_WRITE_PROPERTY,
    NO_SERIAL, QT_PROTOCOL,
};
use crate::wire::{
    ChildInit, Encoding, FailureKind, Handshake, ObjectInfo, Packet, RemoteFailure, SourceId,
    NO_REPLY,
};

/// The most pings that may await the Qt host's Pong (each answers a write or a call).
pub const MAX_PENDING_PONGS: usize = 4096;

/// How deep sub-objects may nest under a source (Qt's own trees are a level or two).
const MAX_SUB_OBJECT_DEPTH: usize = 16;

/// A typed replica's API, as the node that holds it knows it.
#[derive(Clone)]
pub struct TypedApi {
    /// This crate's signature of it.
    pub signature: u64,
    /// Its Qt face.
    pub qt: Arc<QtApi>,
}

/// Finds the API of the typed replica a node holds under a name.
pub type ApiLookup = Arc<dyn Fn(&str) -> Option<TypedApi> + Send + Sync>;

/// Why the gateway gave up on the connection.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NodeGatewayError {
    /// The Qt host speaks another protocol (Qt 5's `QtRO 1.3`, say).
    #[error("the Qt host speaks {0:?}, not {QT_PROTOCOL:?}")]
    Protocol(String),
    /// The Qt host sent something before its handshake.
    #[error("the Qt host sent a {0} before its handshake")]
    NoHandshake(&'static str),
    /// The node's handshake does not match.
    #[error("the node's handshake: {0}")]
    Handshake(String),
    /// The Qt host goes on sending while it leaves a model's request unanswered: more is
    /// held back for the node than 65 536 packets.
    #[error("the Qt host leaves a model's request unanswered while it sends on")]
    Stalled,
}

/// A source the node acquired.
struct Acquired {
    name: String,
    api: Arc<QtApi>,
    /// The signature the node expects in its packets.
    signature: u64,
    /// A model: what the gateway knows of it.
    model: Option<models::ModelLink>,
}

/// What a Qt host's next Pong answers.
enum PongFor {
    /// The node's ping.
    Ping(u64),
    /// A write the node waits on: Qt applies a write, and sends its change, before it
    /// answers the ping sent after it, so the write is done when the Pong comes.
    Write {
        source: SourceId,
        index: u16,
        serial: u32,
    },
    /// A registry call the node waits on (Qt's registry answers none).
    Reply { source: SourceId, serial: u32 },
}

/// A Qt registry host's registry, shown to the node as this crate's registry.
/// This crate's registry's `fetch_snapshot` slot.
const FETCH_SNAPSHOT: u16 = 2;

struct RegistryFace {
    source: SourceId,
    api: Arc<QtApi>,
    entries: std::collections::BTreeMap<String, (String, String)>,
    /// This gateway's run of the registry, as this crate's registry counts it: the node
    /// sees a fresh epoch per Qt registry connection, and a revision per change.
    epoch: u64,
    revision: u64,
}

struct PendingCall {
    source: SourceId,
    native_serial: u32,
    slot: u16,
}

/// What a reply from the Qt host answers.
enum Awaited {
    /// A slot call of the node's.
    Call(PendingCall),
    /// A request of a model link's.
    Model(models::ModelCall),
}

/// The translator; see [`super::gateway::HostGateway`] for the other direction.
pub struct NodeGateway {
    encoding: Encoding,
    lookup: ApiLookup,
    greeted: bool,
    next_source: SourceId,
    /// What the Qt host offers: name → (type name, repc signature).
    offered: HashMap<String, (String, String)>,
    /// Acquires sent, by name: the API when typed, and the id the node will know it by.
    acquiring: HashMap<String, (Option<TypedApi>, SourceId)>,
    acquired: HashMap<SourceId, Acquired>,
    by_name: HashMap<String, SourceId>,
    /// The sub-object at (parent, child slot), for every sub-object handed to the node.
    child_at: super::ChildPlaces,
    /// The sub-objects' APIs the Qt host defined so far, by type name (it defines each
    /// type once, with its first value).
    defined: HashMap<String, Arc<QtApi>>,
    /// Slot calls and the models' requests that await the Qt host's reply, by Qt serial.
    awaited: Pending<Awaited>,
    pongs: VecDeque<PongFor>,
    /// Packets for the node held back until the Qt host answers what they need.
    held: models::Held,
    /// Set when the node acquired a Qt registry host's registry.
    registry: Option<RegistryFace>,
    types: TypeRegistry,
    to_node: Vec<Packet>,
    to_qt: Vec<QtPacket>,
}

impl NodeGateway {
    /// A gateway for a node that encodes values with `encoding`, whose typed replicas'
    /// APIs `lookup` finds.
    pub fn new(encoding: Encoding, lookup: ApiLookup) -> NodeGateway {
        NodeGateway {
            encoding,
            lookup,
            greeted: false,
            next_source: 1,
            offered: HashMap::default(),
            acquiring: HashMap::default(),
            acquired: HashMap::default(),
            by_name: HashMap::default(),
            child_at: HashMap::default(),
            defined: HashMap::default(),
            awaited: Pending::default(),
            pongs: VecDeque::new(),
            held: models::Held::default(),
            registry: None,
            types: TypeRegistry::new(),
            to_node: Vec::new(),
            to_qt: Vec::new(),
        }
    }

    /// What to send the node, in order.
    pub fn take_to_node(&mut self) -> Vec<Packet> {
        std::mem::take(&mut self.to_node)
    }

    /// What to send the Qt host, in order.
    pub fn take_to_qt(&mut self) -> Vec<QtPacket> {
        std::mem::take(&mut self.to_qt)
    }

    /// Whether anything waits to be sent to the Qt host.
    pub fn has_to_qt(&self) -> bool {
        !self.to_qt.is_empty()
    }

    /// The named types to read the Qt host's frames with.
    pub fn types(&self) -> &TypeRegistry {
        &self.types
    }

    /// A packet from the Qt host.
    pub fn from_qt(&mut self, packet: QtPacket) -> Result<(), NodeGatewayError> {
        if !self.greeted {
            return match packet {
                QtPacket::Handshake { protocol } if protocol == QT_PROTOCOL => {
                    self.greeted = true;
                    self.to_node
                        .push(Packet::Handshake(Handshake::ours(self.encoding)));
                    Ok(())
                }
                QtPacket::Handshake { protocol } => Err(NodeGatewayError::Protocol(protocol)),
                other => Err(NodeGatewayError::NoHandshake(other.kind())),
            };
        }
        match packet {
            QtPacket::ObjectList { objects } => {
                let first = self.offered.is_empty();
                let mut infos = Vec::new();
                for o in objects {
                    infos.push(ObjectInfo {
                        name: o.name.clone(),
                        api: o.type_name.clone(),
                        signature: UNKNOWN_SIGNATURE,
                    });
                    self.offered.insert(o.name, (o.type_name, o.signature));
                }
                match (first, infos.len()) {
                    (true, _) => self.emit(Packet::ObjectList(infos)),
                    (false, _) => {
                        for info in infos {
                            self.emit(Packet::AddObject(info));
                        }
                    }
                }
            }
            QtPacket::Init { name, values } => self.on_init(name, None, &values),
            QtPacket::InitDynamic {
                name,
                definition,
                values,
            } => match self.defined_api(&definition, &values, 0) {
                Ok(api) => self.on_init(name, Some(api), &values),
                Err(error) => {
                    warn!(%name, %error, "a Qt source's definition this crate cannot use");
                    self.acquiring.remove(&name);
                    self.emit(Packet::AcquireRefused {
                        name,
                        reason: error.to_string(),
                    });
                }
            },
            QtPacket::RemoveObject { name } => {
                self.offered.remove(&name);
                if let Some(&source) = self.by_name.get(&name) {
                    self.forget(source);
                }
                self.emit(Packet::RemoveObject { name });
            }
            QtPacket::PropertyChange { name, index, value } => self.on_change(&name, index, &value),
            QtPacket::Invoke {
                name, index, args, ..
            } => self.on_signal(&name, index, &args),
            QtPacket::InvokeReply { serial, value, .. } => self.on_reply(serial, &value),
            QtPacket::Pong { .. } => match self.pongs.pop_front() {
                Some(PongFor::Ping(nonce)) => self.emit(Packet::Pong(nonce)),
                Some(PongFor::Write { source, serial, .. }) => {
                    self.emit(Packet::SetPropertyDone { source, serial })
                }
                Some(PongFor::Reply { source, serial }) => self.reply_unit(source, serial),
                None => {}
            },
            other => debug!(kind = other.kind(), "ignored from a Qt host"),
        }
        match self.held.overflowed() {
            true => Err(NodeGatewayError::Stalled),
            false => Ok(()),
        }
    }

    fn on_init(&mut self, name: String, definition: Option<Arc<QtApi>>, values: &[QVariant]) {
        let Some((typed, source)) = self.acquiring.remove(&name) else {
            debug!(%name, "an init nobody asked for");
            return;
        };
        if let Some(api) = typed
            .as_ref()
            .filter(|t| name == face::REGISTRY && face::is_native_registry(&t.qt.schema))
        {
            let entries = values.first().map(face::read_locations).unwrap_or_default();
            self.registry = Some(RegistryFace {
                source,
                api: Arc::clone(&api.qt),
                entries,
                epoch: fastrand::u64(..),
                revision: 0,
            });
            let signature = api.signature;
            if let Some(value) = self.registry_sources() {
                self.emit(Packet::Init {
                    name: name.clone(),
                    source,
                    signature,
                    values: vec![value],
                    children: Vec::new(),
                });
            }
            self.by_name.insert(name.clone(), source);
            self.acquired.insert(
                source,
                Acquired {
                    name,
                    api: Arc::clone(&api.qt),
                    signature,
                    model: None,
                },
            );
            return;
        }
        let (api, signature) = match (&typed, definition) {
            (Some(typed), _) => (Arc::clone(&typed.qt), typed.signature),
            (None, Some(api)) => {
                let signature = api.schema.signature;
                (api, signature)
            }
            (None, None) => {
                warn!(%name, "a Qt host sent a plain init to a dynamic replica");
                return;
            }
        };
        let types = &mut self.types;
        api.each_api(&mut |api| {
            for g in &api.gadgets {
                types.add_gadget(&g.name, g.fields.iter().map(|(n, _)| n.clone()).collect());
            }
        });
        let mut children = Vec::new();
        let encoded = match self.native_object(&api, source, values, &mut children, 0) {
            Ok(values) => values,
            Err(reason) => {
                warn!(%name, %reason, "a Qt init this replica cannot hold");
                // The replica fails alone: an init whose values do not decode.
                children.clear();
                Vec::new()
            }
        };
        self.emit(match typed {
            Some(_) => Packet::Init {
                name: name.clone(),
                source,
                signature,
                values: encoded,
                children,
            },
            None => Packet::InitDynamic {
                name: name.clone(),
                source,
                signature,
                schema: Encoding::Bincode
                    .encode(&api.schema)
                    .unwrap_or_default()
                    .into(),
                values: encoded,
                children,
            },
        });
        self.by_name.insert(name.clone(), source);
        self.acquired.insert(
            source,
            Acquired {
                name,
                api,
                signature,
                model: None,
            },
        );
    }

    fn native_value(
        &self,
        api: &QtApi,
        format: &crate::values::TypeFormat,
        q: &QVariant,
    ) -> Result<Bytes, String> {
        let value = from_qvariant(q, format, &Cx::of(api)).map_err(|e| e.to_string())?;
        codec::encode(&value, format, &api.schema.types, self.encoding)
            .map(Bytes::from)
            .map_err(|e| e.to_string())
    }

    /// The API of a dynamic replica from its class definition and init `values`: Qt
    /// defines each sub-object's class with the sub-object's first value, not in the
    /// parent's definition.
    fn defined_api(
        &mut self,
        definition: &QtDefinition,
        values: &[QVariant],
        depth: usize,
    ) -> Result<Arc<QtApi>, QtApiError> {
        if depth > MAX_SUB_OBJECT_DEPTH {
            return Err(QtApiError::NotCarried(format!(
                "sub-objects nested deeper than {MAX_SUB_OBJECT_DEPTH} levels"
            )));
        }
        let api = QtApi::from_definition_with(definition, &mut |position, property| {
            let sub = match values.get(position) {
                Some(QVariant::User {
                    value: UserValue::SubObject(sub),
                    ..
                }) => sub,
                _ => {
                    return Err(QtApiError::NotCarried(format!(
                        "the sub-object {} came without its value",
                        property.name
                    )))
                }
            };
            if sub.kind == sub_object_kind::MODEL {
                let row = models::row_type_name(&definition.type_name, &property.name);
                return self
                    .announced_model(sub, &row)
                    .map(|(api, face)| (api, Some(face)));
            }
            let defined = sub.definition().map_err(|e| {
                QtApiError::NotCarried(format!("the definition of {}: {e}", property.name))
            })?;
            let api = match defined {
                Some(child) => {
                    let types = child.registry(&self.types);
                    let values = sub
                        .values(&types)
                        .map_err(|e| QtApiError::NotCarried(format!("{}: {e}", property.name)))?
                        .unwrap_or_default();
                    let api = self.defined_api(&child, &values, depth + 1)?;
                    self.defined
                        .insert(child.type_name.clone(), Arc::clone(&api));
                    api
                }
                None => match self.defined.get(&sub.type_name) {
                    Some(api) => Arc::clone(api),
                    // A null pointer of a class never defined: an API with no members.
                    None if sub.parameters.is_none() => {
                        let empty = QtDefinition {
                            type_name: sub.type_name.clone(),
                            ..QtDefinition::default()
                        };
                        Arc::new(QtApi::from_definition(&empty)?)
                    }
                    None => {
                        return Err(QtApiError::NotCarried(format!(
                            "the sub-object {} of the undefined class {}",
                            property.name, sub.type_name
                        )))
                    }
                },
            };
            Ok((api, None))
        })?;
        Ok(Arc::new(api))
    }

    /// This crate's values of source `source` from its Qt `values` (in Qt's property
    /// order); each sub-object among them is appended to `tree` (parents first) under an id
    /// of its own, and remembered under its Qt name.
    fn native_object(
        &mut self,
        api: &Arc<QtApi>,
        source: SourceId,
        values: &[QVariant],
        tree: &mut Vec<ChildInit>,
        depth: usize,
    ) -> Result<Vec<Bytes>, String> {
        if values.len() != api.layout.len() {
            return Err(format!(
                "{} values, {} expected",
                values.len(),
                api.layout.len()
            ));
        }
        let mut encoded = Vec::with_capacity(api.properties.len());
        for (&member, value) in api.layout.iter().zip(values) {
            match member {
                QtMember::Value(i) => {
                    let property = &api.properties[i as usize];
                    encoded.push(self.native_value(api, &property.ty.format, value)?);
                }
                QtMember::Child(slot) => {
                    self.native_child(api, source, slot, value, tree, depth)?
                }
            }
        }
        Ok(encoded)
    }

    /// Sub-object `slot` of `parent` from its `QRO_`: appended to `tree` with its own
    /// sub-objects, unless the pointer is null.
    fn native_child(
        &mut self,
        api: &Arc<QtApi>,
        parent: SourceId,
        slot: u16,
        value: &QVariant,
        tree: &mut Vec<ChildInit>,
        depth: usize,
    ) -> Result<(), String> {
        if depth >= MAX_SUB_OBJECT_DEPTH {
            return Err(format!(
                "sub-objects nested deeper than {MAX_SUB_OBJECT_DEPTH} levels"
            ));
        }
        let child = &api.children[slot as usize];
        let sub = match value {
            QVariant::User {
                value: UserValue::SubObject(sub),
                ..
            } => sub,
            QVariant::Invalid => return Ok(()),
            other => return Err(format!("{}: not a sub-object: {other:?}", child.name)),
        };
        let Some(values) = sub
            .values(&self.types)
            .map_err(|e| format!("{}: {e}", child.name))?
        else {
            return Ok(());
        };
        if let Some(face) = &child.model {
            let face = Arc::clone(face);
            return self.native_model(&child.api, &face, (parent, slot), sub, &values, tree);
        }
        let child_api = Arc::clone(&child.api);
        let source = self.fresh_source();
        let at = tree.len();
        tree.push(ChildInit {
            parent,
            slot,
            source,
            signature: child_api.schema.signature,
            values: Vec::new(),
        });
        tree[at].values = self.native_object(&child_api, source, &values, tree, depth + 1)?;
        self.child_at.insert((parent, slot), source);
        self.by_name.insert(sub.name.clone(), source);
        self.acquired.insert(
            source,
            Acquired {
                name: sub.name.clone(),
                signature: child_api.schema.signature,
                api: child_api,
                model: None,
            },
        );
        Ok(())
    }

    /// An id for a source the node has not seen yet.
    fn fresh_source(&mut self) -> SourceId {
        let source = self.next_source;
        self.next_source = self.next_source.wrapping_add(1).max(1);
        source
    }

    /// Forgets a source handed to the node, with every sub-object under it.
    fn forget(&mut self, source: SourceId) {
        for source in super::take_subtree(&mut self.child_at, source) {
            if let Some(acquired) = self.acquired.remove(&source) {
                self.by_name.remove(&acquired.name);
            }
        }
    }

    /// The registry's entries, encoded as this crate's `snapshot`.
    fn registry_sources(&self) -> Option<Bytes> {
        let face = self.registry.as_ref()?;
        let format = face::snapshot_format(&face.api.schema)?;
        let value = face::snapshot_value(face.epoch, face.revision, &face.entries);
        codec::encode(&value, format, &face.api.schema.types, self.encoding)
            .map(Bytes::from)
            .ok()
    }

    /// A Qt registry's signal (`index`, with `args`) or change of `sourceLocations`
    /// (`change`): the node sees this crate's signal for each entry that changed.
    fn on_registry(&mut self, index: Option<i32>, args: &[QVariant], change: Option<&QVariant>) {
        let Some(registry) = self.registry.as_mut() else {
            return;
        };
        let mut after = registry.entries.clone();
        if let Some(locations) = change {
            after = face::read_locations(locations);
        }
        match (index, args.first().and_then(face::read_location)) {
            (Some(0), Some((name, api, url))) => {
                after.insert(name, (api, url));
            }
            (Some(1), Some((name, _, _))) => {
                after.remove(&name);
            }
            _ => {}
        }
        let (added, removed) = face::diff(&registry.entries, &after);
        registry.entries = after;
        for (signal, location) in removed
            .into_iter()
            .map(|l| (1u16, l))
            .chain(added.into_iter().map(|l| (0u16, l)))
        {
            self.registry_signal(signal, location);
        }
    }

    /// This crate's registry signal `signal` (0 added, 1 removed) for `location`, as the
    /// change after the last.
    fn registry_signal(&mut self, signal: u16, (name, api, url): face::QtLocation) {
        let Some(registry) = self.registry.as_mut() else {
            return;
        };
        registry.revision += 1;
        let values = [
            Value::UInt(registry.revision),
            Value::Str(name),
            face::location_of(&api, &url),
        ];
        let (source, qt) = (registry.source, Arc::clone(&registry.api));
        let Some(member) = qt.schema.signals.get(usize::from(signal)) else {
            return;
        };
        match codec::encode_args(&values, &member.args, &qt.schema.types, self.encoding) {
            Ok(args) => self.emit(Packet::Signal {
                source,
                index: signal,
                args: args.into(),
            }),
            Err(error) => warn!(%error, "a Qt registry entry that does not fit"),
        }
    }

    fn is_registry(&self, name: &str) -> bool {
        name == face::REGISTRY && self.registry.is_some()
    }

    fn on_change(&mut self, name: &str, index: i32, value: &QVariant) {
        if self.is_registry(name) {
            return self.on_registry(None, &[], Some(value));
        }
        let Some(&source) = self.by_name.get(name) else {
            return;
        };
        let Some(acquired) = self.acquired.get(&source) else {
            return;
        };
        if acquired.model.is_some() {
            // A model adapter's own properties (its roles) do not change in Qt 6.
            return debug!(%name, index, "a Qt model's property change, ignored");
        }
        let api = Arc::clone(&acquired.api);
        let (index, property) = match api.member_at(index) {
            Some(QtMember::Value(i)) => (i, &api.properties[i as usize]),
            Some(QtMember::Child(slot)) => return self.child_changed(source, slot, value),
            None => {
                warn!(%name, index, "a Qt change of a property that does not exist");
                return;
            }
        };
        match self.native_value(&api, &property.ty.format, value) {
            Ok(value) => self.emit(Packet::PropertyChange {
                source,
                index,
                value,
            }),
            Err(reason) => {
                warn!(%name, property = %property.name, %reason, "a Qt change this replica cannot hold")
            }
        }
    }

    /// The Qt host pointed sub-object property `slot` of `parent` at another object (or
    /// at none): the node gets the new sub-object whole.
    fn child_changed(&mut self, parent: SourceId, slot: u16, value: &QVariant) {
        if let Some(old) = self.child_at.remove(&(parent, slot)) {
            self.forget(old);
        }
        let Some(api) = self.acquired.get(&parent).map(|a| Arc::clone(&a.api)) else {
            return;
        };
        let mut children = Vec::new();
        match self.native_child(&api, parent, slot, value, &mut children, 0) {
            Ok(()) => self.emit(Packet::ChildChange {
                parent,
                slot,
                children,
            }),
            Err(reason) => {
                warn!(api = %api.type_name, slot, %reason, "a Qt sub-object this replica cannot hold")
            }
        }
    }

    fn on_signal(&mut self, name: &str, position: i32, args: &[QVariant]) {
        if self.is_registry(name) {
            return self.on_registry(Some(position), args, None);
        }
        let Some(&source) = self.by_name.get(name) else {
            return;
        };
        let Some(acquired) = self.acquired.get(&source) else {
            return;
        };
        if acquired.model.is_some() {
            return self.model_signal(source, position, args);
        }
        let api = &acquired.api;
        // Notify signals repeat the property change that came just before: nothing more.
        let Some(super::api::QtSignal::Declared(index)) = api.signal_at(position) else {
            return;
        };
        let signal = &api.schema.signals[index as usize];
        let values: Result<Vec<Value>, _> = args
            .iter()
            .zip(&signal.args)
            .map(|(q, field)| from_qvariant(q, &field.format, &Cx::of(api)))
            .collect();
        let encoded = values.map_err(|e| e.to_string()).and_then(|values| {
            if values.len() != signal.args.len() {
                return Err(format!(
                    "{} arguments, {} expected",
                    values.len(),
                    signal.args.len()
                ));
            }
            codec::encode_args(&values, &signal.args, &api.schema.types, self.encoding)
                .map_err(|e| e.to_string())
        });
        match encoded {
            Ok(args) => self.emit(Packet::Signal {
                source,
                index,
                args: args.into(),
            }),
            Err(reason) => {
                warn!(%name, signal = %signal.name, %reason, "a Qt signal this replica cannot hold")
            }
        }
    }

    fn on_reply(&mut self, serial: i32, value: &QVariant) {
        // A Qt serial is positive; anything else answers nothing.
        let call = match u32::try_from(serial)
            .ok()
            .and_then(|s| self.awaited.take(s))
        {
            Some(Awaited::Model(call)) => return self.model_reply(call, value),
            Some(Awaited::Call(call)) => call,
            None => return,
        };
        let Some(acquired) = self.acquired.get(&call.source) else {
            return;
        };
        let api = &acquired.api;
        let returns = &api.schema.slots[call.slot as usize].returns;
        let outcome = match returns {
            crate::values::TypeFormat::Unit => {
                codec::encode(&Value::Unit, returns, &api.schema.types, self.encoding)
                    .map(Bytes::from)
                    .map_err(|e| e.to_string())
            }
            format => self.native_value(api, format, value),
        };
        self.emit(Packet::InvokeReply {
            source: call.source,
            serial: call.native_serial,
            outcome: outcome.map_err(|reason| RemoteFailure {
                kind: FailureKind::Source,
                message: format!("the Qt source's reply: {reason}"),
            }),
        });
    }

    /// A packet from the node.
    pub fn from_node(&mut self, packet: Packet) -> Result<(), NodeGatewayError> {
        match packet {
            Packet::Handshake(handshake) => handshake
                .check(self.encoding)
                .map_err(|e| NodeGatewayError::Handshake(e.to_string()))?,
            Packet::Acquire { name, .. } => self.acquire(name, true),
            Packet::AcquireDynamic { name } => self.acquire(name, false),
            Packet::Release { source } => {
                if let Some(name) = self.acquired.get(&source).map(|a| a.name.clone()) {
                    self.forget(source);
                    self.to_qt.push(QtPacket::RemoveObject { name });
                }
            }
            Packet::Invoke {
                source,
                slot,
                serial,
                args,
            } => self.invoke(source, slot, serial, &args),
            Packet::SetProperty {
                source,
                index,
                serial,
                value,
            } => self.write(source, index, serial, &value),
            Packet::Describe { name } => self.emit(Packet::Description {
                name,
                schema: Bytes::new(),
            }),
            Packet::Ping(nonce) => self.ping(PongFor::Ping(nonce)),
            Packet::Pong(_) => {}
            other => debug!(kind = other.kind_name(), "ignored from the node"),
        }
        Ok(())
    }

    /// Sends the Qt host `write`, done for the node (write `serial` of property `index` of
    /// `source`) once the Qt host answers the ping sent after it.
    fn write_to_qt(&mut self, write: QtPacket, source: SourceId, index: u16, serial: u32) {
        self.to_qt.push(write);
        if serial != NO_REPLY {
            self.ping(PongFor::Write {
                source,
                index,
                serial,
            });
        }
    }

    fn ping(&mut self, answers: PongFor) {
        if self.pongs.len() >= MAX_PENDING_PONGS {
            // A Qt host that stopped answering: what waits on it is refused, not queued.
            warn!(
                pending = self.pongs.len(),
                "too many pings awaiting the Qt host"
            );
            let reason = "too many writes and calls await the Qt host".to_owned();
            return match answers {
                PongFor::Ping(_) => {}
                PongFor::Write {
                    source,
                    index,
                    serial,
                } => self.emit(Packet::SetPropertyRefused {
                    source,
                    index,
                    serial,
                    reason,
                }),
                PongFor::Reply { source, serial } => self.emit(Packet::InvokeReply {
                    source,
                    serial,
                    outcome: Err(RemoteFailure {
                        kind: FailureKind::Rejected,
                        message: reason,
                    }),
                }),
            };
        }
        // Qt's host answers a ping for any name.
        let name = self.by_name.keys().next().cloned().unwrap_or_default();
        self.pongs.push_back(answers);
        self.to_qt.push(QtPacket::Ping { name });
    }

    fn acquire(&mut self, name: String, typed: bool) {
        let source = self.fresh_source();
        let api = if typed { (self.lookup)(&name) } else { None };
        if let (Some(api), Some((_, offered))) = (&api, self.offered.get(&name)) {
            // As Qt decides: an empty signature on either side accepts.
            if !offered.is_empty() && !api.qt.signature.is_empty() && *offered != api.qt.signature {
                warn!(%name, ours = %api.qt.signature, theirs = %offered, "repc signatures differ");
                // An init whose signature is not the replica's: it mismatches, for good.
                self.emit(Packet::Init {
                    name,
                    source,
                    signature: api.signature ^ 1,
                    values: Vec::new(),
                    children: Vec::new(),
                });
                return;
            }
        }
        if let Some(api) = &api {
            let types = &mut self.types;
            api.qt.each_api(&mut |api| {
                for g in &api.gadgets {
                    types.add_gadget(&g.name, g.fields.iter().map(|(n, _)| n.clone()).collect());
                }
            });
        }
        let is_dynamic = api.is_none();
        self.acquiring.insert(name.clone(), (api, source));
        self.to_qt.push(QtPacket::AddObject { name, is_dynamic });
    }

    fn reply_unit(&mut self, source: SourceId, serial: u32) {
        let Ok(unit) = codec::encode(
            &Value::Unit,
            &crate::values::TypeFormat::Unit,
            &Default::default(),
            self.encoding,
        ) else {
            return;
        };
        self.emit(Packet::InvokeReply {
            source,
            serial,
            outcome: Ok(unit.into()),
        });
    }

    /// This registry's `add_source` / `remove_source`, as Qt's `addSource` / `removeSource`
    /// of a location whose URL is the Qt one; `fetch_snapshot` is answered here, from the
    /// entries the Qt registry sent.
    fn registry_call(&mut self, source: SourceId, slot: u16, serial: u32, args: &[u8]) {
        if slot == FETCH_SNAPSHOT {
            if let (Some(snapshot), true) = (self.registry_sources(), serial != NO_REPLY) {
                self.emit(Packet::InvokeReply {
                    source,
                    serial,
                    outcome: Ok(snapshot),
                });
            }
            return;
        }
        let Some(registry) = self.registry.as_ref() else {
            return;
        };
        let api = Arc::clone(&registry.api);
        let Some(member) = api.schema.slots.get(slot as usize) else {
            return;
        };
        let Ok(values) = codec::decode_args(args, &member.args, &api.schema.types, self.encoding)
        else {
            return;
        };
        let text = |v: Option<&Value>, field: &str| match v {
            Some(Value::Struct(fields)) => fields.iter().find_map(|(n, v)| match v {
                Value::Str(s) if n == field => Some(s.clone()),
                _ => None,
            }),
            _ => None,
        };
        let name = match values.first() {
            Some((_, Value::Str(name))) => name.clone(),
            _ => return,
        };
        let location = match slot {
            0 => {
                let location = values.get(1).map(|(_, v)| v);
                let url = text(location, "host_url").unwrap_or_default();
                let url = url.strip_prefix("qt+").unwrap_or(&url).to_owned();
                Some((text(location, "api").unwrap_or_default(), url))
            }
            _ => registry.entries.get(&name).cloned(),
        };
        if let Some((type_name, url)) = location {
            self.to_qt.push(QtPacket::Invoke {
                name: face::REGISTRY.to_owned(),
                call: CALL_INVOKE,
                index: i32::from(slot),
                args: vec![face::location_value(&name, &type_name, &url)],
                serial: NO_SERIAL,
                property_index: -1,
            });
        }
        if serial != NO_REPLY {
            self.ping(PongFor::Reply { source, serial });
        }
    }

    fn invoke(&mut self, source: SourceId, slot: u16, serial: u32, args: &[u8]) {
        if self.registry.as_ref().is_some_and(|r| r.source == source) {
            return self.registry_call(source, slot, serial, args);
        }
        let Some(acquired) = self.acquired.get(&source) else {
            return;
        };
        if acquired.model.is_some() {
            return self.model_invoke(source, slot, serial, args);
        }
        let api = &acquired.api;
        let Some(member) = api.schema.slots.get(slot as usize) else {
            return;
        };
        let position = i32::from(slot);
        let decoded = codec::decode_args(args, &member.args, &api.schema.types, self.encoding);
        let qargs: Result<Vec<QVariant>, String> =
            decoded.map_err(|e| e.to_string()).and_then(|values| {
                values
                    .iter()
                    .enumerate()
                    .map(|(i, (_, v))| {
                        let ty = api
                            .method_param(position, i)
                            .ok_or_else(|| format!("no parameter {i}"))?;
                        to_qvariant(v, &ty.format, &ty.qt, &Cx::of(api)).map_err(|e| e.to_string())
                    })
                    .collect()
            });
        let qargs = match qargs {
            Ok(args) => args,
            Err(reason) => {
                warn!(api = %api.type_name, slot = %member.name, %reason, "a call Qt cannot carry");
                if serial != NO_REPLY {
                    self.emit(Packet::InvokeReply {
                        source,
                        serial,
                        outcome: Err(RemoteFailure {
                            kind: FailureKind::Rejected,
                            message: reason,
                        }),
                    });
                }
                return;
            }
        };
        let qt_serial = if serial == NO_REPLY {
            NO_SERIAL
        } else {
            // The field, not `await_reply`: `acquired` still borrows the rest of self.
            self.awaited.insert(Awaited::Call(PendingCall {
                source,
                native_serial: serial,
                slot,
            })) as i32
        };
        self.to_qt.push(QtPacket::Invoke {
            name: acquired.name.clone(),
            call: CALL_INVOKE,
            index: i32::from(slot),
            args: qargs,
            serial: qt_serial,
            property_index: -1,
        });
    }

    fn write(&mut self, source: SourceId, index: u16, serial: u32, value: &[u8]) {
        let Some(acquired) = self.acquired.get(&source) else {
            return;
        };
        if acquired.model.is_some() {
            return self.model_write(source, index, serial, value);
        }
        let api = &acquired.api;
        let Some(property) = api.properties.get(index as usize) else {
            return;
        };
        let q = codec::decode(value, &property.ty.format, &api.schema.types, self.encoding)
            .map_err(|e| e.to_string())
            .and_then(|v| {
                to_qvariant(&v, &property.ty.format, &property.ty.qt, &Cx::of(api))
                    .map_err(|e| e.to_string())
            });
        match q {
            Ok(q) => {
                let write = QtPacket::Invoke {
                    name: acquired.name.clone(),
                    call: CALL_WRITE_PROPERTY,
                    index: api.position_of(QtMember::Value(index)),
                    args: vec![q],
                    serial: NO_SERIAL,
                    property_index: -1,
                };
                self.write_to_qt(write, source, index, serial);
            }
            Err(reason) => self.emit(Packet::SetPropertyRefused {
                source,
                index,
                serial,
                reason,
            }),
        }
    }

    /// Keeps `awaited` until the Qt host's reply; the Qt serial to send it under.
    fn await_reply(&mut self, awaited: Awaited) -> i32 {
        // Positive, and below i32::MAX: no table here holds two billion calls.
        self.awaited.insert(awaited) as i32
    }

    /// Sends `packet` to the node, after the packets held back, if any.
    fn emit(&mut self, packet: Packet) {
        match self.held.is_holding() {
            true => self.held.push(packet),
            false => self.to_node.push(packet),
        }
    }

    /// The signature the node expects for `source` (for tests).
    pub fn signature_of(&self, source: SourceId) -> Option<u64> {
        self.acquired.get(&source).map(|a| a.signature)
    }
}
