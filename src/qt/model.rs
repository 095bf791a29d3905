//! A model as Qt's `QAbstractItemModelAdapter` shows it (QTRO.md §3.13): a sub-object named
//! `Model::<parent>::<member>` whose init holds its roles, which a `QAbstractItemModelReplica`
//! asks for its size and for rows by index paths, and whose changes are the signals of
//! `QAbstractItemModel` (rows inserted, removed, moved, data changed, reset).
//!
//! This crate's models are lists: every index is one row of the root, in column 0. A row's
//! roles are its struct's fields (or the whole row as `display`); a role named like one of
//! Qt's own (`display`, `decoration`, `edit`, `toolTip`, `statusTip`, `whatsThis`) has that
//! role's number, the others `Qt::UserRole + n` in field order, so views that ask for Qt's
//! display role see the field named `display`.

use super::api::{field_type, QtApi, QtFormat};
use super::convert::{to_qvariant, Cx};
use crate::values::{ApiSchema, TypeDef, TypeFormat, Value};
use crate::wire::qt::types::names;
use crate::wire::qt::{Builtin, QVariant, QtType, UserValue};

/// The adapter's type name on the wire.
pub const ADAPTER: &str = "QAbstractItemModelAdapter";

/// The adapter's methods, by Qt position.
pub mod method {
    /// `replicaSizeRequest(IndexList parent)` → `QSize(columns, rows)`.
    pub const SIZE: i32 = 0;
    /// `replicaRowRequest(IndexList start, IndexList end, QList<int> roles)` → `DataEntries`.
    pub const ROWS: i32 = 1;
    /// `replicaHeaderRequest(orientations, sections, roles)` → `QVariantList`.
    pub const HEADER: i32 = 2;
    /// `replicaSetCurrentIndex(IndexList, SelectionFlags)`.
    pub const SET_CURRENT: i32 = 3;
    /// `replicaSetData(IndexList, QVariant, int role)`.
    pub const SET_DATA: i32 = 4;
    /// `replicaCacheRequest(size_t size, QList<int> roles)` → `MetaAndDataEntries`.
    pub const CACHE: i32 = 5;
}

/// The adapter's signals, by Qt position.
pub mod signal {
    /// `dataChanged(IndexList topLeft, IndexList bottomRight, QList<int> roles)`.
    pub const DATA_CHANGED: i32 = 1;
    /// `rowsInserted(IndexList parent, int first, int last)`.
    pub const ROWS_INSERTED: i32 = 2;
    /// `rowsRemoved(IndexList parent, int first, int last)`.
    pub const ROWS_REMOVED: i32 = 3;
    /// `rowsMoved(IndexList srcParent, int srcRow, int count, IndexList dstParent, int dstRow)`.
    pub const ROWS_MOVED: i32 = 4;
    /// `currentChanged(IndexList current, IndexList previous)`.
    pub const CURRENT_CHANGED: i32 = 5;
    /// `modelReset()`.
    pub const MODEL_RESET: i32 = 6;
}

/// `Qt::UserRole`: the first role number of a model's own.
const USER_ROLE: i32 = 0x0100;

/// Qt's own roles that a field may be named after, with their numbers.
const QT_ROLES: &[(&str, i32)] = &[
    ("display", 0),
    ("decoration", 1),
    ("edit", 2),
    ("toolTip", 3),
    ("tool_tip", 3),
    ("statusTip", 4),
    ("status_tip", 4),
    ("whatsThis", 5),
    ("whats_this", 5),
];

/// The item flags of every row: selectable, editable (an edit goes to the source, which
/// takes or refuses it), enabled, never has children.
const ITEM_FLAGS: i32 = 0x01 | 0x02 | 0x20 | 0x80;

/// One role of a model's rows.
#[derive(Debug, Clone, PartialEq)]
pub struct QtRole {
    /// Its Qt role number.
    pub id: i32,
    /// Its name (Qt's `roleNames`).
    pub name: String,
    /// How its values travel.
    pub ty: QtFormat,
}

/// A model's rows as Qt sees them.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelFace {
    /// Its roles, in this crate's role order.
    pub roles: Vec<QtRole>,
    /// The rows' shape.
    pub row: TypeFormat,
    /// Whether a row is a struct of its roles (else the row is its one role).
    pub fields: bool,
    /// Shown as a table: one column per field, each cell the field as its display and edit
    /// roles (the fields stay roles too, numbered from `Qt::UserRole`).
    pub table: bool,
}

/// Qt's `DisplayRole` and `EditRole`: a table's cells.
const DISPLAY_ROLE: i32 = 0;
const EDIT_ROLE: i32 = 2;

/// The number Qt knows role `name` (field `index` of a row) by.
fn role_id(name: &str, index: usize) -> i32 {
    QT_ROLES
        .iter()
        .find(|(n, _)| *n == name)
        .map_or(USER_ROLE + index as i32, |(_, id)| *id)
}

impl ModelFace {
    /// The face of the model whose adapter API is `adapter` (this crate's, with its row
    /// type filled in: the `write` slot's `value`).
    pub fn of_adapter(adapter: &ApiSchema) -> Option<ModelFace> {
        let row = adapter
            .slots
            .get(usize::from(crate::adapter::SLOT_WRITE))?
            .args
            .get(1)?
            .format
            .clone();
        let role = |index: usize, name: &str, format: &TypeFormat| QtRole {
            id: role_id(name, index),
            name: name.to_owned(),
            ty: QtFormat {
                format: format.clone(),
                qt: field_type(format, &adapter.types),
            },
        };
        let struct_fields = match &row {
            TypeFormat::Named(name) => match adapter.types.get(name) {
                Some(TypeDef::Struct(fields)) if !fields.is_empty() => Some(fields),
                _ => None,
            },
            _ => None,
        };
        let table = adapter.api == crate::adapter::TABLE_API_NAME && struct_fields.is_some();
        let (roles, fields) = match struct_fields {
            Some(fields) => (
                fields
                    .iter()
                    .enumerate()
                    .map(|(i, f)| {
                        let mut role = role(i, &f.name, &f.format);
                        if table {
                            // The display and edit roles are the cells'.
                            role.id = USER_ROLE + i as i32;
                        }
                        role
                    })
                    .collect(),
                true,
            ),
            None => (vec![role(0, "display", &row)], false),
        };
        Some(ModelFace {
            roles,
            row,
            fields,
            table,
        })
    }

    /// How many columns Qt sees: a table's fields, else one.
    pub fn columns(&self) -> i32 {
        match self.table {
            true => self.roles.len() as i32,
            false => 1,
        }
    }

    /// The field a table's cell in `column` shows as `role`, if it is a cell role.
    pub fn cell_field(&self, column: i32, role: i32) -> Option<usize> {
        let column = usize::try_from(column)
            .ok()
            .filter(|&c| c < self.roles.len())?;
        (self.table && (role == DISPLAY_ROLE || role == EDIT_ROLE)).then_some(column)
    }

    /// A table's column headers (Qt's horizontal `headerData`): its fields' names.
    pub fn header(&self, section: i32) -> Option<&str> {
        let section = usize::try_from(section).ok()?;
        self.table
            .then(|| self.roles.get(section).map(|r| r.name.as_str()))
            .flatten()
    }

    /// Every role's number, in order (Qt's `availableRoles`): a table's cell roles first.
    pub fn role_ids(&self) -> Vec<i32> {
        let cells = match self.table {
            true => vec![DISPLAY_ROLE, EDIT_ROLE],
            false => Vec::new(),
        };
        cells
            .into_iter()
            .chain(self.roles.iter().map(|r| r.id))
            .collect()
    }

    /// The role with Qt number `id`, and its index among the roles.
    pub fn role(&self, id: i32) -> Option<(usize, &QtRole)> {
        self.roles.iter().enumerate().find(|(_, r)| r.id == id)
    }

    /// The values of the sub-object Qt's init carries: `availableRoles` and `roleNames`.
    pub fn init_values(&self) -> Vec<QVariant> {
        let cells: &[(i32, &str)] = match self.table {
            true => &[(DISPLAY_ROLE, "display"), (EDIT_ROLE, "edit")],
            false => &[],
        };
        let names = cells
            .iter()
            .map(|&(id, name)| (id, name))
            .chain(self.roles.iter().map(|r| (r.id, r.name.as_str())))
            .map(|(id, name)| {
                (
                    QVariant::Int(id),
                    QVariant::ByteArray(name.as_bytes().to_vec()),
                )
            })
            .collect();
        vec![
            int_list(&self.role_ids()),
            QVariant::User {
                ty: QtType::Map {
                    hash: true,
                    key: Box::new(QtType::Builtin(Builtin::Int)),
                    value: Box::new(QtType::Builtin(Builtin::ByteArray)),
                },
                value: UserValue::Entries(names),
            },
        ]
    }

    /// The values of `roles` (Qt numbers; every role when empty) of `row`'s cell in
    /// `column`.
    fn role_values(&self, row: &Value, column: i32, roles: &[i32], cx: &Cx<'_>) -> Vec<QVariant> {
        let wanted: Vec<i32> = match roles.is_empty() {
            true => self.role_ids(),
            false => roles.to_vec(),
        };
        wanted
            .iter()
            .map(|id| {
                let found = match self.cell_field(column, *id) {
                    Some(field) => self.roles.get(field).map(|role| (field, role)),
                    None => self.role(*id),
                };
                let Some((index, role)) = found else {
                    return QVariant::Invalid;
                };
                let value = match (self.fields, row) {
                    (true, Value::Struct(fields)) => fields.get(index).map(|(_, v)| v),
                    (false, value) => Some(value),
                    _ => None,
                };
                value
                    .and_then(|v| to_qvariant(v, &role.ty.format, &role.ty.qt, cx).ok())
                    .unwrap_or(QVariant::Invalid)
            })
            .collect()
    }

    /// Qt's `IndexValuePair`s of `rows` from row `first` on, in `columns` (clipped to the
    /// face's), with `roles`.
    pub fn entries(
        &self,
        first: u64,
        rows: &[Value],
        columns: std::ops::RangeInclusive<i32>,
        roles: &[i32],
        api: &QtApi,
    ) -> Vec<QVariant> {
        let cx = Cx::of(api);
        let columns = (*columns.start()).max(0)..=(*columns.end()).min(self.columns() - 1);
        let cells = rows
            .iter()
            .enumerate()
            .flat_map(|(i, row)| columns.clone().map(move |column| (i, row, column)));
        cells
            .map(|(i, row, column)| {
                let at = clamp_row(first + i as u64);
                QVariant::User {
                    ty: QtType::Named(names::INDEX_VALUE_PAIR.to_owned()),
                    value: UserValue::Fields(vec![
                        index_list(&[(at, column)]),
                        QVariant::List(self.role_values(row, column, roles, &cx)),
                        QVariant::Bool(false),
                        QVariant::Int(ITEM_FLAGS),
                        QVariant::User {
                            ty: QtType::List(Box::new(QtType::Named(
                                names::INDEX_VALUE_PAIR.to_owned(),
                            ))),
                            value: UserValue::Items(Vec::new()),
                        },
                        QVariant::Size(-1, -1),
                    ]),
                }
            })
            .collect()
    }
}

/// A row number as Qt's `int` (a model past `i32::MAX` rows shows its first ones).
pub fn clamp_row(row: u64) -> i32 {
    i32::try_from(row).unwrap_or(i32::MAX)
}

/// A `QList<int>`.
pub fn int_list(values: &[i32]) -> QVariant {
    QVariant::User {
        ty: QtType::List(Box::new(QtType::Builtin(Builtin::Int))),
        value: UserValue::Items(values.iter().map(|v| QVariant::Int(*v)).collect()),
    }
}

/// The `int`s of a `QList<int>`, or of a list of enums (`QList<Qt::Orientation>`);
/// nothing for anything else.
pub fn read_int_list(value: &QVariant) -> Vec<i32> {
    match value {
        QVariant::User {
            value: UserValue::Items(items),
            ..
        } => items
            .iter()
            .filter_map(|v| match v {
                QVariant::Int(i) => Some(*i),
                QVariant::User {
                    value: UserValue::Enum(n),
                    ..
                } => i32::try_from(*n).ok(),
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    }
}

/// An `IndexList`: a path of (row, column) from the root.
pub fn index_list(path: &[(i32, i32)]) -> QVariant {
    let items = path
        .iter()
        .map(|(row, column)| QVariant::User {
            ty: QtType::Named(names::MODEL_INDEX.to_owned()),
            value: UserValue::Fields(vec![QVariant::Int(*row), QVariant::Int(*column)]),
        })
        .collect();
    QVariant::User {
        ty: QtType::List(Box::new(QtType::Named(names::MODEL_INDEX.to_owned()))),
        value: UserValue::Items(items),
    }
}

/// The path of an `IndexList`, if it is one.
pub fn read_index_list(value: &QVariant) -> Option<Vec<(i32, i32)>> {
    let QVariant::User {
        value: UserValue::Items(items),
        ..
    } = value
    else {
        return None;
    };
    items
        .iter()
        .map(|item| match item {
            QVariant::User {
                value: UserValue::Fields(fields),
                ..
            } => match fields.as_slice() {
                [QVariant::Int(row), QVariant::Int(column)] => Some((*row, *column)),
                _ => None,
            },
            _ => None,
        })
        .collect()
}

/// The row an `IndexList` points at in a list: `Some(row)` for one step from the root
/// (in any column), `None` for the root itself or anything deeper (a list has no children).
pub fn list_row(value: &QVariant) -> Option<u64> {
    match read_index_list(value)?.as_slice() {
        [(row, _)] => u64::try_from(*row).ok(),
        _ => None,
    }
}

/// `DataEntries`: a row request's answer.
pub fn data_entries(entries: Vec<QVariant>) -> QVariant {
    QVariant::User {
        ty: QtType::Named(names::DATA_ENTRIES.to_owned()),
        value: UserValue::Items(entries),
    }
}

/// `MetaAndDataEntries`: a cache request's answer, with the roles and the model's size.
pub fn meta_and_data_entries(
    entries: Vec<QVariant>,
    roles: &[i32],
    columns: i32,
    rows: u64,
) -> QVariant {
    QVariant::User {
        ty: QtType::Named(names::META_AND_DATA_ENTRIES.to_owned()),
        value: UserValue::Fields(vec![
            QVariant::User {
                ty: QtType::List(Box::new(QtType::Named(names::INDEX_VALUE_PAIR.to_owned()))),
                value: UserValue::Items(entries),
            },
            int_list(roles),
            QVariant::Size(columns, clamp_row(rows)),
        ]),
    }
}

/// The roles a Qt host's model announces in its init (`availableRoles`, `roleNames`): each
/// available role's number and name, by number.
pub fn announced_roles(values: &[QVariant]) -> Vec<(i32, String)> {
    let available = values.first().map(read_int_list).unwrap_or_default();
    let names: Vec<(i32, String)> = match values.get(1) {
        Some(QVariant::User {
            value: UserValue::Entries(entries),
            ..
        }) => entries
            .iter()
            .filter_map(|(k, v)| match (k, v) {
                (QVariant::Int(id), QVariant::ByteArray(name)) => {
                    Some((*id, String::from_utf8_lossy(name).into_owned()))
                }
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    };
    let mut roles: Vec<(i32, String)> = available
        .iter()
        .map(|id| {
            let name = names
                .iter()
                .find(|(n, _)| n == id)
                .map(|(_, name)| name.clone());
            (*id, name.unwrap_or_else(|| format!("role{id}")))
        })
        .collect();
    roles.sort();
    roles.dedup_by_key(|(id, _)| *id);
    roles
}

impl ModelFace {
    /// This face with each role numbered as a Qt host names it (`announced`, from its
    /// init); a role the host does not name keeps its number, and reads as invalid.
    pub fn numbered_by(&self, announced: &[(i32, String)]) -> ModelFace {
        let mut face = self.clone();
        for role in &mut face.roles {
            if let Some((id, _)) = announced.iter().find(|(_, name)| *name == role.name) {
                role.id = *id;
            }
        }
        face
    }

    /// A model known only from a Qt host's `announced` roles: rows are structs named
    /// `row_name` with one `QVariant` per role; with the adapter's API for such rows.
    pub fn of_announced(row_name: &str, announced: &[(i32, String)]) -> (ModelFace, ApiSchema) {
        use crate::values::schema::Field;
        let variant = TypeFormat::Named(super::api::VARIANT.to_owned());
        let fields = announced
            .iter()
            .map(|(_, name)| Field {
                name: name.clone(),
                format: variant.clone(),
            })
            .collect();
        let mut types = std::collections::BTreeMap::new();
        types.insert(
            super::api::VARIANT.to_owned(),
            super::api::qt_value_def(super::api::VARIANT),
        );
        types.insert(row_name.to_owned(), TypeDef::Struct(fields));
        let mut schema = crate::adapter::schema_of_rows(TypeFormat::Named(row_name.into()), types);
        schema.signature = schema.structural_signature().unwrap_or_default();
        let face = ModelFace {
            roles: announced
                .iter()
                .map(|(id, name)| QtRole {
                    id: *id,
                    name: name.clone(),
                    ty: QtFormat {
                        format: variant.clone(),
                        qt: QtType::Builtin(Builtin::Variant),
                    },
                })
                .collect(),
            row: TypeFormat::Named(row_name.into()),
            fields: true,
            table: false,
        };
        (face, schema)
    }

    /// A row from the values Qt sent for `roles` (Qt numbers, in the order sent): each of
    /// this face's roles from its value, or its empty value where Qt sent none.
    pub fn row_of(&self, roles: &[i32], values: &[QVariant], api: &QtApi) -> Result<Value, String> {
        let cx = Cx::of(api);
        let value_of = |role: &QtRole| -> Result<Value, String> {
            let sent = roles
                .iter()
                .position(|id| *id == role.id)
                .and_then(|i| values.get(i))
                .unwrap_or(&QVariant::Invalid);
            super::convert::from_qvariant(sent, &role.ty.format, &cx).map_err(|e| e.to_string())
        };
        match self.fields {
            true => self
                .roles
                .iter()
                .map(|role| Ok((role.name.clone(), value_of(role)?)))
                .collect::<Result<Vec<_>, String>>()
                .map(Value::Struct),
            false => self.roles.first().map_or(Ok(Value::Unit), value_of),
        }
    }
}

/// The rows of a `DataEntries` answer from row `first` on, with the values of `roles` each
/// carries, in order: (row, values) for each top-level entry.
pub fn read_entries(value: &QVariant) -> Vec<(i32, Vec<QVariant>)> {
    let QVariant::User {
        value: UserValue::Items(entries),
        ..
    } = value
    else {
        return Vec::new();
    };
    entries
        .iter()
        .filter_map(|entry| match entry {
            QVariant::User {
                value: UserValue::Fields(fields),
                ..
            } => {
                let row = fields.first().and_then(read_index_list)?.first()?.0;
                let data = match fields.get(1)? {
                    QVariant::List(data) => data.clone(),
                    _ => return None,
                };
                Some((row, data))
            }
            _ => None,
        })
        .collect()
}
