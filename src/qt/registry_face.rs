//! This crate's registry as Qt's (`QRemoteObjectRegistry`, QTRO.md §1.5 and §3.12), for Qt
//! hosts and nodes that use a Rust `RegistryHost` through its Qt listener.
//!
//! Qt's registry is a source named `Registry` of type `Registry` with no signature: property
//! 0 `sourceLocations` (a `QHash<QString, QRemoteObjectSourceLocationInfo>`, no notify
//! signal), signals `remoteObjectAdded(location)` and `remoteObjectRemoved(location)`, slots
//! `addSource(location)`, `removeSource(location)` and `removeServer(url)`. Both registries
//! send their entries once, at init, and changes as signals after it. A Qt host's
//! entries are kept with a `qt+` URL, so Rust nodes reach it in Qt's dialect; Qt nodes are
//! shown only the entries they can reach (those), with the prefix taken off.

use std::collections::BTreeMap;

use crate::values::{ApiSchema, TypeFormat, Value};
use crate::wire::qt::types::names;
use crate::wire::qt::{Builtin, QVariant, QtType, UserValue};

/// The API name of this crate's registry.
pub const REGISTRY: &str = "Registry";

/// Whether `schema` is this crate's registry's.
pub fn is_native_registry(schema: &ApiSchema) -> bool {
    schema.api == REGISTRY
        && schema
            .properties
            .first()
            .is_some_and(|p| p.name == "snapshot")
        && schema
            .signals
            .iter()
            .map(|s| s.name.as_str())
            .eq(["source_added", "source_removed"])
        && schema.slots.iter().map(|s| s.name.as_str()).eq([
            "add_source",
            "remove_source",
            "fetch_snapshot",
        ])
}

/// The `sources` of this registry's `snapshot` value.
pub fn snapshot_sources(snapshot: &Value) -> Option<&Value> {
    let Value::Struct(fields) = snapshot else {
        return None;
    };
    fields
        .iter()
        .find_map(|(name, value)| (name == "sources").then_some(value))
}

/// The entry one of this registry's signals is about (its arguments: revision, name,
/// location), if Qt nodes can reach it: (name, (type name, Qt URL)).
pub fn qt_location_change(args: &[(String, Value)]) -> Option<(String, (String, String))> {
    let [_, (_, Value::Str(name)), (_, location)] = args else {
        return None;
    };
    let entry = Value::Map(vec![(Value::Str(name.clone()), location.clone())]);
    qt_locations(&entry).into_iter().next()
}

/// One entry as Qt sees it: (name, type name, Qt-dialect URL).
pub type QtLocation = (String, String, String);

/// The entries Qt nodes can reach, from this registry's `sources` value.
pub fn qt_locations(sources: &Value) -> BTreeMap<String, (String, String)> {
    let mut out = BTreeMap::new();
    let Value::Map(entries) = sources else {
        return out;
    };
    for (name, location) in entries {
        let (Value::Str(name), Value::Struct(fields)) = (name, location) else {
            continue;
        };
        let field = |wanted: &str| {
            fields.iter().find_map(|(n, v)| match (n == wanted, v) {
                (true, Value::Str(s)) => Some(s.clone()),
                _ => None,
            })
        };
        if let (Some(api), Some(url)) = (field("api"), field("host_url")) {
            if let Some(qt_url) = url.strip_prefix("qt+") {
                out.insert(name.clone(), (api, qt_url.to_owned()));
            }
        }
    }
    out
}

fn info(type_name: &str, url: &str) -> QVariant {
    QVariant::User {
        ty: QtType::Named(names::LOCATION_INFO.to_owned()),
        value: UserValue::Fields(vec![
            match type_name.is_empty() {
                // A plain QObject source has a null type name.
                true => QVariant::Null(Builtin::String),
                false => QVariant::String(type_name.to_owned()),
            },
            QVariant::Url(url.to_owned()),
        ]),
    }
}

/// `sourceLocations` as Qt streams it.
pub fn locations_value(locations: &BTreeMap<String, (String, String)>) -> QVariant {
    QVariant::User {
        ty: QtType::parse(names::LOCATIONS).unwrap_or(QtType::Named(names::LOCATIONS.to_owned())),
        value: UserValue::Entries(
            locations
                .iter()
                .map(|(name, (api, url))| (QVariant::String(name.clone()), info(api, url)))
                .collect(),
        ),
    }
}

/// One location (a signal's or a slot's argument) as Qt streams it.
pub fn location_value(name: &str, api: &str, url: &str) -> QVariant {
    QVariant::User {
        ty: QtType::parse(names::LOCATION).unwrap_or(QtType::Named(names::LOCATION.to_owned())),
        value: UserValue::Fields(vec![QVariant::String(name.to_owned()), info(api, url)]),
    }
}

/// A location Qt sent: (name, type name, URL).
pub fn read_location(q: &QVariant) -> Option<QtLocation> {
    let QVariant::User {
        value: UserValue::Fields(pair),
        ..
    } = q
    else {
        return None;
    };
    let [QVariant::String(name), QVariant::User {
        value: UserValue::Fields(info),
        ..
    }] = pair.as_slice()
    else {
        return None;
    };
    let type_name = match info.first()? {
        QVariant::String(t) => t.clone(),
        _ => String::new(),
    };
    let QVariant::Url(url) = info.get(1)? else {
        return None;
    };
    Some((name.clone(), type_name, url.clone()))
}

/// The arguments of this registry's `add_source` for a Qt host's location.
pub fn add_source_args(location: &QtLocation) -> Vec<Value> {
    let (name, api, url) = location;
    vec![Value::Str(name.clone()), location_of(api, url)]
}

/// What changed between two views: (added, removed), each as locations.
pub fn diff(
    before: &BTreeMap<String, (String, String)>,
    after: &BTreeMap<String, (String, String)>,
) -> (Vec<QtLocation>, Vec<QtLocation>) {
    let entry = |(n, (a, u)): (&String, &(String, String))| (n.clone(), a.clone(), u.clone());
    let added = after
        .iter()
        .filter(|(n, v)| before.get(*n) != Some(v))
        .map(entry)
        .collect();
    let removed = before
        .iter()
        .filter(|(n, v)| after.get(*n) != Some(v))
        .map(entry)
        .collect();
    (added, removed)
}

/// The `snapshot` property's format in this registry's schema.
pub fn snapshot_format(schema: &ApiSchema) -> Option<&TypeFormat> {
    schema.properties.first().map(|p| &p.format)
}

/// A Qt registry's `sourceLocations` as this registry's entries: name → (type, Qt URL).
pub fn read_locations(q: &QVariant) -> BTreeMap<String, (String, String)> {
    let mut out = BTreeMap::new();
    if let QVariant::User {
        value: UserValue::Entries(entries),
        ..
    } = q
    {
        for (name, info) in entries {
            let pair = QVariant::User {
                ty: QtType::Named(names::LOCATION.to_owned()),
                value: UserValue::Fields(vec![name.clone(), info.clone()]),
            };
            if let Some((name, api, url)) = read_location(&pair) {
                out.insert(name, (api, url));
            }
        }
    }
    out
}

/// One of this registry's locations for an entry of a Qt registry (its URL a `qt+` one).
pub fn location_of(api: &str, url: &str) -> Value {
    Value::Struct(vec![
        ("api".into(), Value::Str(api.to_owned())),
        ("signature".into(), Value::UInt(0)),
        ("host_url".into(), Value::Str(format!("qt+{url}"))),
    ])
}

/// This registry's `snapshot` value for the entries a Qt registry lists, as of `revision`
/// of the run `epoch`.
pub fn snapshot_value(
    epoch: u64,
    revision: u64,
    entries: &BTreeMap<String, (String, String)>,
) -> Value {
    let sources = entries
        .iter()
        .map(|(name, (api, url))| (Value::Str(name.clone()), location_of(api, url)))
        .collect();
    Value::Struct(vec![
        ("epoch".into(), Value::UInt(epoch)),
        ("revision".into(), Value::UInt(revision)),
        ("sources".into(), Value::Map(sources)),
    ])
}
