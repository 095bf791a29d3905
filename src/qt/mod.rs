//! Qt Remote Objects' own dialect (QtRO 2.0, Qt 6.2–6.8) over this crate's sessions; see
//! the [guide](crate::guide::qt). [`values`] holds the Rust types of Qt's value types.
//!
//! A Qt peer's packets are translated to and from this crate's: `api` gives each API its
//! Qt face (types, wire positions, class definition, repc's signature), `convert` carries
//! values between dynamic values and `QVariant`s, and `gateway` and `node_gateway` are the
//! sans-io translators between one Qt connection and one native session, which `driver`
//! runs. Those are public for this crate's tests and tools only, not a stable API.

#[doc(hidden)]
pub mod api;
#[doc(hidden)]
pub mod convert;
pub(crate) mod driver;
#[doc(hidden)]
pub mod gateway;
#[doc(hidden)]
pub mod model;
#[doc(hidden)]
pub mod node_gateway;
mod pending;
#[doc(hidden)]
pub mod registry_face;
pub mod values;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use crate::values::{ApiSchema, SchemaError};

/// What a connection speaks this crate's protocol over: a byte stream, or the end of a
/// gateway `G` that translates a Qt peer's packets (`driver`).
pub(crate) enum NativeWire<G> {
    Stream(Box<dyn crate::transport::Transport>),
    Translated(driver::NativeEnd<G>),
}

/// Where each sub-object shown across a gateway hangs: (parent, child slot) → its id.
pub(crate) type ChildPlaces =
    rustc_hash::FxHashMap<(crate::wire::SourceId, u16), crate::wire::SourceId>;

/// `root` and every sub-object under it, which are taken out of `places`.
pub(crate) fn take_subtree(
    places: &mut ChildPlaces,
    root: crate::wire::SourceId,
) -> Vec<crate::wire::SourceId> {
    let mut found = vec![root];
    let mut at = 0;
    while let Some(&parent) = found.get(at) {
        let under: Vec<(crate::wire::SourceId, u16)> = places
            .keys()
            .filter(|(p, _)| *p == parent)
            .copied()
            .collect();
        found.extend(under.iter().filter_map(|key| places.remove(key)));
        at += 1;
    }
    found
}

/// The typed replicas' APIs a node holds, by source name, for the gateways of its Qt
/// connections (their Qt faces are computed when a Qt host first needs one).
#[derive(Clone, Default)]
pub(crate) struct TypedApis {
    apis: Arc<Mutex<TypedTable>>,
}

#[derive(Default)]
struct TypedTable {
    /// The signature of the API of the typed replicas held under each name: a small entry,
    /// since a node may hold a hundred thousand replicas and never meet a Qt host.
    by_name: HashMap<Arc<str>, u64>,
    /// Each API, by its signature: one entry however many sources share it.
    apis: HashMap<u64, TypedEntry>,
}

struct TypedEntry {
    schema: fn() -> Result<ApiSchema, SchemaError>,
    hints: api::QtHints,
    /// Its Qt face, computed when a Qt host first needs it.
    qt: Option<Arc<api::QtApi>>,
}

impl std::fmt::Debug for TypedApis {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TypedApis")
    }
}

impl TypedApis {
    /// A typed replica of the API with `signature` and `schema` is held under `name`.
    pub(crate) fn register(
        &self,
        name: &Arc<str>,
        signature: u64,
        schema: fn() -> Result<ApiSchema, SchemaError>,
        hints: api::QtHints,
    ) {
        let mut apis = self.apis.lock().unwrap_or_else(|p| p.into_inner());
        if apis.by_name.get(&**name) != Some(&signature) {
            apis.by_name.insert(Arc::clone(name), signature);
        }
        apis.apis.entry(signature).or_insert(TypedEntry {
            schema,
            hints,
            qt: None,
        });
    }

    /// The API of the typed replica held under `name`, if it has a Qt face.
    pub(crate) fn lookup(&self, name: &str) -> Option<node_gateway::TypedApi> {
        let mut apis = self.apis.lock().unwrap_or_else(|p| p.into_inner());
        let TypedTable { by_name, apis } = &mut *apis;
        let signature = *by_name.get(name)?;
        let entry = apis.get_mut(&signature)?;
        if entry.qt.is_none() {
            let schema = (entry.schema)().ok()?;
            match api::QtApi::for_api(&schema, entry.hints) {
                Ok(qt) => entry.qt = Some(Arc::new(qt)),
                Err(error) => {
                    tracing::warn!(%name, %error, "a replica's API Qt hosts cannot serve");
                    return None;
                }
            }
        }
        Some(node_gateway::TypedApi {
            signature,
            qt: Arc::clone(entry.qt.as_ref()?),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An API with no members (the layering keeps the API macro out of this module).
    fn gauge() -> Result<ApiSchema, SchemaError> {
        Ok(serde_json::from_str(r#"{"api": "Gauge", "signature": 7}"#).expect("a schema"))
    }

    #[test]
    fn sources_of_one_api_share_one_qt_face() {
        let apis = TypedApis::default();
        let hints = api::QtHints {
            rep: None,
            enums: &[],
        };
        for name in ["Left", "Right"] {
            apis.register(&name.into(), 7, gauge, hints);
        }
        let (left, right) = (apis.lookup("Left").unwrap(), apis.lookup("Right").unwrap());
        assert!(Arc::ptr_eq(&left.qt, &right.qt));
        assert!(apis.lookup("Elsewhere").is_none());
        let table = apis.apis.lock().unwrap();
        assert_eq!(table.apis.len(), 1, "one entry per API, not per name");
        assert_eq!(table.by_name.len(), 2);
    }
}
