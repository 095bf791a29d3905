//! The model adapter: the fixed API every model is served as, a child source of the source
//! that holds it (as Qt serves a model as a `QAbstractItemModelAdapter` sub-object).
//!
//! Its members, by wire index:
//! - properties: `rows: u64` (the row count at init; diffs carry it after), `roles:
//!   Vec<String>` (constant), `current: Option<u64>` (read-write: the shared current row),
//!   `selection: Vec<(u64, u64)>` (the selected rows as `(first, count)` ranges);
//! - signals: `inserted(first, count, rows, total)`, `removed(first, count, total)`,
//!   `moved(first, count, to, total)`, `changed(first, rows, roles)`, `reset(total)`, and
//!   `rows(request, first, rows)` — a fetch's answer, sent to the connection that asked
//!   only;
//! - slots: `fetch(request, first, count)` (one-way: answered by `rows`, in order with the
//!   diffs), `write(row, value)` (the source accepts or refuses it), `select(first, count,
//!   command)` (Qt's selection flags: clear 1, select 2, deselect 4, toggle 8).
//!
//! Rows travel as the row type itself, so the schema is the adapter's with the row type
//! filled in, and dynamic replicas decode rows like any value.
//!
//! A tree model is served as the tree adapter, `ItemTree`: the same members at the same
//! indices, each signal (but `reset`) and slot naming the parent it is about first (a
//! path of row indices from the root, `[]` for the root's rows), rows travelling as
//! `(row, children)`, `current` a path, and the `rows` answer carrying the parent's child
//! count before its rows.

use std::any::TypeId;
use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

use crate::values::schema::{
    AccessFlag, ApiSchema, Field, MemberSchema, PropertySchema, SchemaBuilder, SchemaError,
    TypeDef, TypeFormat,
};

use serde::{de::DeserializeOwned, Serialize};

/// What a model's rows must be: a serde type, cloned into replicas' windows.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be the row type of a model",
    label = "a model's rows need `Serialize`, `DeserializeOwned`, `Clone`, `Debug`, `Send` and `Sync`",
    note = "for a type of your own: `#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]`"
)]
pub trait ModelRow:
    Serialize + DeserializeOwned + Clone + std::fmt::Debug + Send + Sync + 'static
{
}

#[diagnostic::do_not_recommend]
impl<T> ModelRow for T where
    T: Serialize + DeserializeOwned + Clone + std::fmt::Debug + Send + Sync + 'static
{
}

/// A row index from the wire as a `usize` (saturating where `usize` is smaller).
pub(crate) fn index(row: u64) -> usize {
    usize::try_from(row).unwrap_or(usize::MAX)
}

/// The adapter's wire name.
pub(crate) const API_NAME: &str = "ItemModel";
/// The tree adapter's wire name.
pub(crate) const TREE_API_NAME: &str = "ItemTree";
/// The table adapter's wire name: the list adapter's members, for a list shown as a table.
pub(crate) const TABLE_API_NAME: &str = "ItemTable";

/// Property indices.
pub(crate) const PROP_ROWS: u16 = 0;
pub(crate) const PROP_ROLES: u16 = 1;
pub(crate) const PROP_CURRENT: u16 = 2;
/// The number of properties.
pub(crate) const PROP_SELECTION: u16 = 3;
/// The number of properties (a tree's adapter has no `selection`).
pub(crate) const PROPERTIES: usize = 4;

/// Signal indices.
pub(crate) const SIG_INSERTED: u16 = 0;
pub(crate) const SIG_REMOVED: u16 = 1;
pub(crate) const SIG_MOVED: u16 = 2;
pub(crate) const SIG_CHANGED: u16 = 3;
pub(crate) const SIG_RESET: u16 = 4;
pub(crate) const SIG_ROWS: u16 = 5;

/// Slot indices.
pub(crate) const SLOT_FETCH: u16 = 0;
pub(crate) const SLOT_WRITE: u16 = 1;
pub(crate) const SLOT_SELECT: u16 = 2;

/// The names of the properties and slots, by index (for access policies and logs).
pub(crate) const PROPERTY_NAMES: [&str; PROPERTIES] = ["rows", "roles", "current", "selection"];
pub(crate) const SLOT_NAMES: [&str; 3] = ["fetch", "write", "select"];

/// The role a row that is not a struct has: itself.
const WHOLE_ROW_ROLE: &str = "display";

/// The adapter's description with rows of type `R`.
pub(crate) fn schema<R: ModelRow>() -> Result<ApiSchema, SchemaError> {
    form_schema::<R>(Form::List)
}

/// The adapter's description with rows of shape `row`, whose named types are `types` (a
/// model known only from a peer's description of its rows).
pub(crate) fn schema_of_rows(row: TypeFormat, types: BTreeMap<String, TypeDef>) -> ApiSchema {
    schema_of(Form::List, row, types)
}

/// A list's adapter or a tree's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Form {
    /// `ItemModel`: rows by index.
    List,
    /// `ItemTable`: a list whose rows' fields are shown as columns (to Qt: a table).
    Table,
    /// `ItemTree`: rows by path, each with its child count; every signal and slot names
    /// the parent it is about first.
    Tree,
}

fn schema_of(form: Form, row: TypeFormat, types: BTreeMap<String, TypeDef>) -> ApiSchema {
    let u64_ = TypeFormat::U64;
    let path = TypeFormat::Seq(Box::new(u64_.clone()));
    // A tree's rows travel with their number of children.
    let item = match form {
        Form::List | Form::Table => row.clone(),
        Form::Tree => TypeFormat::Tuple(vec![row.clone(), u64_.clone()]),
    };
    let rows = TypeFormat::Seq(Box::new(item));
    let field = |name: &str, format: &TypeFormat| Field {
        name: name.to_owned(),
        format: format.clone(),
    };
    let property = |name: &str, type_name: &str, format, access| PropertySchema {
        name: name.to_owned(),
        type_name: type_name.to_owned(),
        format,
        access,
        persisted: false,
    };
    let member = |name: &str, args: Vec<Field>| {
        let parent = (form == Form::Tree && name != "reset").then(|| field("parent", &path));
        MemberSchema {
            name: name.to_owned(),
            args: parent.into_iter().chain(args).collect(),
            returns: TypeFormat::Unit,
        }
    };
    let (current_type, current) = match form {
        Form::List | Form::Table => ("Option<u64>", u64_.clone()),
        Form::Tree => ("Option<Vec<u64>>", path.clone()),
    };
    let mut properties = vec![
        property("rows", "u64", u64_.clone(), AccessFlag::ReadOnly),
        property(
            "roles",
            "Vec<String>",
            TypeFormat::Seq(Box::new(TypeFormat::Str)),
            AccessFlag::Constant,
        ),
        property(
            "current",
            current_type,
            TypeFormat::Option(Box::new(current)),
            AccessFlag::ReadWrite,
        ),
    ];
    let (first, count, total) = (
        field("first", &u64_),
        field("count", &u64_),
        field("total", &u64_),
    );
    let request = field("request", &TypeFormat::U32);
    let answer = match form {
        Form::List | Form::Table => vec![request.clone(), first.clone(), field("rows", &rows)],
        Form::Tree => vec![
            request.clone(),
            first.clone(),
            total.clone(),
            field("rows", &rows),
        ],
    };
    let signals = vec![
        member(
            "inserted",
            vec![
                first.clone(),
                count.clone(),
                field("rows", &rows),
                total.clone(),
            ],
        ),
        member("removed", vec![first.clone(), count.clone(), total.clone()]),
        member(
            "moved",
            vec![
                first.clone(),
                count.clone(),
                field("to", &u64_),
                total.clone(),
            ],
        ),
        member(
            "changed",
            vec![
                first.clone(),
                field("rows", &rows),
                field("roles", &TypeFormat::Seq(Box::new(TypeFormat::U16))),
            ],
        ),
        member("reset", vec![total]),
        member("rows", answer),
    ];
    let mut slots = vec![
        member("fetch", vec![request, first.clone(), count.clone()]),
        member("write", vec![field("row", &u64_), field("value", &row)]),
    ];
    if form != Form::Tree {
        // The selected rows as (first, count) ranges, changed through `select`.
        let ranges = TypeFormat::Seq(Box::new(TypeFormat::Tuple(vec![
            u64_.clone(),
            u64_.clone(),
        ])));
        properties.push(property(
            "selection",
            "Vec<(u64, u64)>",
            ranges,
            AccessFlag::ReadOnly,
        ));
        let how = field("command", &TypeFormat::U8);
        slots.push(member("select", vec![first, count, how]));
    }
    ApiSchema {
        api: form.api_name().to_owned(),
        signature: 0,
        properties,
        signals,
        slots,
        types,
        children: Vec::new(),
    }
}

impl Form {
    /// The adapter's wire name.
    pub(crate) fn api_name(self) -> &'static str {
        match self {
            Form::List => API_NAME,
            Form::Table => TABLE_API_NAME,
            Form::Tree => TREE_API_NAME,
        }
    }
}

/// The adapter's signature with rows of type `R`: its schema's structural hash, computed
/// once per row type.
pub(crate) fn signature<R: ModelRow>() -> u64 {
    form_signature::<R>(Form::List)
}

/// The tree adapter's signature with rows of type `R`.
pub(crate) fn tree_signature<R: ModelRow>() -> u64 {
    form_signature::<R>(Form::Tree)
}

/// The signature of the adapter of `form` with rows of type `R`, computed once per row
/// type and form.
pub(crate) fn form_signature<R: ModelRow>(form: Form) -> u64 {
    static SIGNATURES: Mutex<Option<HashMap<(TypeId, Form), u64>>> = Mutex::new(None);
    let mut cache = SIGNATURES.lock().unwrap_or_else(|p| p.into_inner());
    let cache = cache.get_or_insert_with(HashMap::new);
    *cache.entry((TypeId::of::<R>(), form)).or_insert_with(|| {
        let hashed = form_schema::<R>(form)
            .map_err(|e| e.to_string())
            .and_then(|schema| schema.structural_signature());
        hashed.unwrap_or_else(|error| {
            // Like an API whose types cannot be described: the signature covers the name.
            tracing::warn!(%error, "cannot describe a model's row type");
            let name = format!("{form:?}{}", std::any::type_name::<R>());
            crate::wire::fnv1a(name.as_bytes())
        })
    })
}

fn form_schema<R: ModelRow>(form: Form) -> Result<ApiSchema, SchemaError> {
    let mut b = SchemaBuilder::default();
    let row = b.trace::<R>()?;
    Ok(schema_of(form, row, b.types()?))
}

/// The adapter's description with rows of type `R`, carrying its signature.
pub(crate) fn described<R: ModelRow>() -> Result<ApiSchema, SchemaError> {
    let mut schema = schema::<R>()?;
    schema.signature = signature::<R>();
    Ok(schema)
}

/// The tree adapter's description with rows of type `R`, carrying its signature.
pub(crate) fn tree_described<R: ModelRow>() -> Result<ApiSchema, SchemaError> {
    form_described::<R>(Form::Tree)
}

/// The description of the adapter of `form` with rows of type `R`, carrying its signature.
pub(crate) fn form_described<R: ModelRow>(form: Form) -> Result<ApiSchema, SchemaError> {
    let mut schema = form_schema::<R>(form)?;
    schema.signature = form_signature::<R>(form);
    Ok(schema)
}

/// The roles of rows of type `R`: a struct's field names, in order; one role for any
/// other type.
pub(crate) fn roles<R: ModelRow>() -> Vec<String> {
    let mut b = SchemaBuilder::default();
    let fields = b.trace::<R>().ok().and_then(|format| {
        let TypeFormat::Named(name) = format else {
            return None;
        };
        match b.types().ok()?.remove(&name)? {
            TypeDef::Struct(fields) => Some(fields.into_iter().map(|f| f.name).collect()),
            _ => None,
        }
    });
    fields.unwrap_or_else(|| vec![WHOLE_ROW_ROLE.to_owned()])
}

/// The indices of `roles` among the roles of rows of type `R`, for a change of only these.
pub(crate) fn role_indices<R: ModelRow>(roles: &[&str]) -> Result<Vec<u16>, crate::Error> {
    if roles.is_empty() {
        return Ok(Vec::new());
    }
    let known = self::roles::<R>();
    roles
        .iter()
        .map(|role| {
            let index = known.iter().position(|k| k == role).ok_or_else(|| {
                crate::error::Error::new(crate::error::Kind::InvalidValue(format!(
                    "a row has no role {role:?} (its roles: {})",
                    known.join(", ")
                )))
            })?;
            Ok(index as u16)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
    struct Track {
        title: String,
        plays: u32,
    }

    #[test]
    fn a_structs_fields_are_its_roles_and_anything_else_has_one() {
        assert_eq!(roles::<Track>(), ["title", "plays"]);
        assert_eq!(roles::<String>(), ["display"]);
    }

    #[test]
    fn the_schema_names_every_member_at_its_index_and_the_row_type() {
        let schema = described::<Track>().unwrap();
        assert_eq!(schema.property("current").map(|p| p.0), Some(PROP_CURRENT));
        assert_eq!(schema.signal("rows").map(|s| s.0), Some(SIG_ROWS));
        assert_eq!(schema.signal("reset").map(|s| s.0), Some(SIG_RESET));
        assert_eq!(schema.slot("write").map(|s| s.0), Some(SLOT_WRITE));
        assert!(schema.types.keys().any(|name| name.ends_with("Track")));
        assert_ne!(signature::<Track>(), signature::<String>());
        assert_eq!(signature::<Track>(), schema.signature);
    }
}
