//! An API as Qt sees it: the Qt type of every member, the wire positions Qt numbers them by
//! (QTRO.md §2.4), the class definition a dynamic Qt replica is sent, and repc's signature.
//!
//! Derived from an [`ApiSchema`]: each Rust type maps to the Qt type a `.rep` file would
//! declare for it (`i32` → `int`, `String` → `QString`, `Vec<T>` → `QList<T>`, a struct →
//! a `POD` gadget, an enum of unit variants → an `ENUM` of the class), so a Qt replica
//! generated from the equivalent `.rep` file has the same signature.

use std::collections::BTreeMap;

use actix_remote_objects_rep as rep;

use crate::values::schema::{AccessFlag, Field, VariantShape};
use crate::values::{ApiSchema, TypeDef, TypeFormat};
use crate::wire::qt::{
    Builtin, QtDefinition, QtEnumDef, QtGadgetDef, QtMethodDef, QtPropertyDef, QtSignalDef, QtType,
    TypeRegistry,
};

/// Why an API cannot be served to (or read from) Qt nodes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QtApiError {
    /// A type with no Qt counterpart.
    #[error("{member}: the type {ty} has no Qt counterpart")]
    Unsupported {
        /// The member that uses it.
        member: String,
        /// The type, as this crate describes it.
        ty: String,
    },
    /// A member Qt's dialect does not carry yet.
    #[error("{0}")]
    NotCarried(String),
}

/// How one Rust type travels as a Qt value.
#[derive(Debug, Clone, PartialEq)]
pub struct QtFormat {
    /// Its shape on this crate's side.
    pub format: TypeFormat,
    /// Its Qt type.
    pub qt: QtType,
}

/// A property.
#[derive(Debug, Clone, PartialEq)]
pub struct QtProperty {
    /// Its name.
    pub name: String,
    /// Its type.
    pub ty: QtFormat,
    /// repc's modifier.
    pub access: rep::Access,
}

/// A signal or a slot.
#[derive(Debug, Clone, PartialEq)]
pub struct QtFunction {
    /// Its name.
    pub name: String,
    /// Its parameters.
    pub params: Vec<(String, QtFormat)>,
    /// What it returns (`None`: `void`).
    pub ret: Option<QtFormat>,
}

/// An enum of the API, as Qt numbers its keys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QtEnum {
    /// Its Rust type's name, the enum's name inside the class.
    pub name: String,
    /// Its keys with their values, by variant index.
    pub keys: Vec<(String, i32)>,
}

/// A gadget (a `POD`) of the API.
#[derive(Debug, Clone, PartialEq)]
pub struct QtGadget {
    /// Its name.
    pub name: String,
    /// Its fields with their types.
    pub fields: Vec<(String, QtFormat)>,
}

/// An API as Qt sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct QtApi {
    /// The type name on the wire.
    pub type_name: String,
    /// repc's signature (40 hex digits).
    pub signature: String,
    /// Properties in API order.
    pub properties: Vec<QtProperty>,
    /// The declared signals, in order (this crate's signal indices).
    pub signals: Vec<QtFunction>,
    /// The declared slots, in order, after the push slots.
    pub slots: Vec<QtFunction>,
    /// The enums its types use.
    pub enums: Vec<QtEnum>,
    /// The gadgets its types use.
    pub gadgets: Vec<QtGadget>,
    /// Its sub-objects, by this crate's child index.
    pub children: Vec<QtChild>,
    /// Qt's properties in position order: values and sub-objects interleaved as a `.rep`
    /// file declares them (an inline API's sub-objects come after its values).
    pub layout: Vec<QtMember>,
    /// The schema it was derived from.
    pub schema: ApiSchema,
}

/// What a Qt property position holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QtMember {
    /// This crate's property `index`.
    Value(u16),
    /// This crate's sub-object `slot` (a `CLASS` member).
    Child(u16),
}

/// A sub-object member (`CLASS name(Type)`), or a model (`MODEL name(roles)`).
#[derive(Debug, Clone, PartialEq)]
pub struct QtChild {
    /// The member's name.
    pub name: String,
    /// The child's API (a model's: this crate's model adapter).
    pub api: std::sync::Arc<QtApi>,
    /// A model: its rows as Qt's model adapter shows them.
    pub model: Option<std::sync::Arc<super::model::ModelFace>>,
}

/// The Qt type name a dynamic replica is told a sub-object property has.
pub(crate) const OBJECT_POINTER: &str = "QObject*";
/// The Qt type name of a model property in a class definition.
pub(crate) const MODEL_POINTER: &str = "QAbstractItemModel*";

/// Where a Qt signal position points.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QtSignal {
    /// The notify signal of this property or sub-object.
    Notify(QtMember),
    /// This declared signal.
    Declared(u16),
}

fn builtin(b: Builtin) -> QtType {
    QtType::Builtin(b)
}

/// The names of the Qt value types this crate's `qt` module defines as serde structs.
const QT_VALUE_TYPES: &[(&str, Builtin)] = &[
    ("QPoint", Builtin::Point),
    ("QPointF", Builtin::PointF),
    ("QSize", Builtin::Size),
    ("QSizeF", Builtin::SizeF),
    ("QRect", Builtin::Rect),
    ("QRectF", Builtin::RectF),
    ("QLine", Builtin::Line),
    ("QLineF", Builtin::LineF),
    ("QColor", Builtin::Color),
    ("QDateTime", Builtin::DateTime),
    ("QDate", Builtin::Date),
    ("QTime", Builtin::Time),
    ("QUrl", Builtin::Url),
    ("QUuid", Builtin::Uuid),
];

/// The serde name of [`crate::qt::values::Variant`], Qt's `QVariant`.
pub(crate) const VARIANT: &str = "QVariant";

/// The built-in Qt value type a named Rust type stands for, if it is one of `qt`'s.
pub(crate) fn qt_value_type(name: &str) -> Option<Builtin> {
    QT_VALUE_TYPES
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, b)| *b)
}

struct Mapper<'a> {
    api: &'a str,
    types: &'a BTreeMap<String, TypeDef>,
    enums: Vec<QtEnum>,
    gadgets: Vec<QtGadget>,
}

impl Mapper<'_> {
    fn map(&mut self, format: &TypeFormat, member: &str) -> Result<QtFormat, QtApiError> {
        let qt = self.qt_type(format, member, 0)?;
        Ok(QtFormat {
            format: format.clone(),
            qt,
        })
    }

    fn unsupported(&self, format: &TypeFormat, member: &str) -> QtApiError {
        QtApiError::Unsupported {
            member: member.to_owned(),
            ty: format!("{format:?}"),
        }
    }

    fn qt_type(
        &mut self,
        format: &TypeFormat,
        member: &str,
        depth: usize,
    ) -> Result<QtType, QtApiError> {
        use Builtin as B;
        if depth > 32 {
            return Err(self.unsupported(format, member));
        }
        Ok(match format {
            TypeFormat::Bool => builtin(B::Bool),
            TypeFormat::I8 => builtin(B::SChar),
            TypeFormat::I16 => builtin(B::Short),
            TypeFormat::I32 => builtin(B::Int),
            TypeFormat::I64 => builtin(B::LongLong),
            TypeFormat::U8 => builtin(B::UChar),
            TypeFormat::U16 => builtin(B::UShort),
            TypeFormat::U32 => builtin(B::UInt),
            TypeFormat::U64 => builtin(B::ULongLong),
            TypeFormat::F32 => builtin(B::Float),
            TypeFormat::F64 => builtin(B::Double),
            TypeFormat::Char => builtin(B::QChar),
            TypeFormat::Str => builtin(B::String),
            TypeFormat::Bytes => builtin(B::ByteArray),
            // Qt has no optional values: `None` travels as an invalid QVariant.
            TypeFormat::Option(inner) => self.qt_type(inner, member, depth + 1)?,
            TypeFormat::Seq(item) => match item.as_ref() {
                TypeFormat::Str => builtin(B::StringList),
                TypeFormat::Bytes => builtin(B::ByteArrayList),
                TypeFormat::Named(name) if name == VARIANT => builtin(B::VariantList),
                item => QtType::List(Box::new(self.qt_type(item, member, depth + 1)?)),
            },
            TypeFormat::Map(key, value)
                if **key == TypeFormat::Str
                    && matches!(value.as_ref(), TypeFormat::Named(n) if n == VARIANT) =>
            {
                builtin(B::VariantMap)
            }
            TypeFormat::Map(key, value) => QtType::Map {
                hash: false,
                key: Box::new(self.qt_type(key, member, depth + 1)?),
                value: Box::new(self.qt_type(value, member, depth + 1)?),
            },
            TypeFormat::Tuple(items) if items.len() == 2 => QtType::Pair(
                Box::new(self.qt_type(&items[0], member, depth + 1)?),
                Box::new(self.qt_type(&items[1], member, depth + 1)?),
            ),
            TypeFormat::Named(name) => self.named(name, format, member, depth)?,
            _ => return Err(self.unsupported(format, member)),
        })
    }

    fn named(
        &mut self,
        name: &str,
        format: &TypeFormat,
        member: &str,
        depth: usize,
    ) -> Result<QtType, QtApiError> {
        if let Some(b) = qt_value_type(name) {
            return Ok(builtin(b));
        }
        if name == VARIANT {
            return Ok(builtin(Builtin::Variant));
        }
        let def = self
            .types
            .get(name)
            .ok_or_else(|| self.unsupported(format, member))?;
        match def {
            TypeDef::NewtypeStruct(inner) => self.qt_type(inner, member, depth + 1),
            TypeDef::Struct(fields) => {
                if !self.gadgets.iter().any(|g| g.name == name) {
                    // Registered before its fields, so a recursive struct ends here.
                    self.gadgets.push(QtGadget {
                        name: name.to_owned(),
                        fields: Vec::new(),
                    });
                    let mut mapped = Vec::with_capacity(fields.len());
                    for Field {
                        name: field,
                        format,
                    } in fields
                    {
                        let qt = self.qt_type(format, member, depth + 1)?;
                        mapped.push((
                            field.clone(),
                            QtFormat {
                                format: format.clone(),
                                qt,
                            },
                        ));
                    }
                    if let Some(g) = self.gadgets.iter_mut().find(|g| g.name == name) {
                        g.fields = mapped;
                    }
                }
                Ok(QtType::Named(name.to_owned()))
            }
            TypeDef::Enum(variants) if variants.iter().all(|v| v.shape == VariantShape::Unit) => {
                if !self.enums.iter().any(|e| e.name == name) {
                    let keys = variants
                        .iter()
                        .map(|v| (v.name.clone(), v.index as i32))
                        .collect();
                    self.enums.push(QtEnum {
                        name: name.to_owned(),
                        keys,
                    });
                }
                Ok(QtType::Named(format!("{}::{name}", self.api)))
            }
            _ => Err(self.unsupported(format, member)),
        }
    }
}

/// The Qt type a gadget field of shape `format` travels as.
pub(crate) fn field_type(format: &TypeFormat, types: &BTreeMap<String, TypeDef>) -> QtType {
    let mut mapper = Mapper {
        api: "",
        types,
        enums: Vec::new(),
        gadgets: Vec::new(),
    };
    // The API was mapped whole before any value is converted, so this cannot fail; an
    // unmappable field would have refused the API.
    mapper
        .qt_type(format, "", 0)
        .unwrap_or(QtType::Builtin(Builtin::Variant))
}

/// `push` + the name with its first letter in upper case: repc's push method.
fn push_name(property: &str) -> String {
    let mut chars = property.chars();
    match chars.next() {
        Some(first) => format!("push{}{}", first.to_uppercase(), chars.as_str()),
        None => "push".to_owned(),
    }
}

impl QtApi {
    /// The Qt view of `schema`.
    pub fn from_schema(schema: &ApiSchema) -> Result<QtApi, QtApiError> {
        let mut children = Vec::with_capacity(schema.children.len());
        for child in &schema.children {
            if child.model && child.api.api == crate::adapter::TREE_API_NAME {
                return Err(QtApiError::NotCarried(format!(
                    "{}: the tree model {} is not shown to Qt nodes (list models are)",
                    schema.api, child.name
                )));
            }
            let model = match child.model {
                true => Some(std::sync::Arc::new(
                    super::model::ModelFace::of_adapter(&child.api).ok_or_else(|| {
                        QtApiError::NotCarried(format!(
                            "{}: the model {} has no row type",
                            schema.api, child.name
                        ))
                    })?,
                )),
                false => None,
            };
            children.push(QtChild {
                name: child.name.clone(),
                api: std::sync::Arc::new(QtApi::from_schema(&child.api)?),
                model,
            });
        }
        let mut mapper = Mapper {
            api: &schema.api,
            types: &schema.types,
            enums: Vec::new(),
            gadgets: Vec::new(),
        };
        // Push slots come first among the slots, one per READPUSH property, named after it.
        let pushed: Vec<&str> = schema
            .slots
            .iter()
            .map_while(|s| s.name.strip_prefix("push_"))
            .collect();
        let mut properties = Vec::with_capacity(schema.properties.len());
        for p in &schema.properties {
            let access = match p.access {
                AccessFlag::Constant => rep::Access::Constant,
                AccessFlag::ReadWrite => rep::Access::ReadWrite,
                AccessFlag::ReadOnly if pushed.contains(&p.name.as_str()) => rep::Access::ReadPush,
                AccessFlag::ReadOnly => rep::Access::ReadOnly,
            };
            properties.push(QtProperty {
                name: p.name.clone(),
                ty: mapper.map(&p.format, &p.name)?,
                access,
            });
        }
        let mut function = |m: &crate::values::MemberSchema| -> Result<QtFunction, QtApiError> {
            let mut params = Vec::with_capacity(m.args.len());
            for a in &m.args {
                params.push((a.name.clone(), mapper.map(&a.format, &m.name)?));
            }
            let ret = match &m.returns {
                TypeFormat::Unit => None,
                format => Some(mapper.map(format, &m.name)?),
            };
            Ok(QtFunction {
                name: m.name.clone(),
                params,
                ret,
            })
        };
        let signals = schema
            .signals
            .iter()
            .map(&mut function)
            .collect::<Result<Vec<_>, _>>()?;
        let slots = schema.slots[pushed.len()..]
            .iter()
            .map(&mut function)
            .collect::<Result<Vec<_>, _>>()?;
        let layout = (0..properties.len() as u16)
            .map(QtMember::Value)
            .chain((0..children.len() as u16).map(QtMember::Child))
            .collect();
        let mut api = QtApi {
            type_name: schema.api.clone(),
            signature: String::new(),
            properties,
            signals,
            slots,
            enums: mapper.enums,
            gadgets: mapper.gadgets,
            children,
            layout,
            schema: schema.clone(),
        };
        api.signature = api.repc_signature();
        Ok(api)
    }

    /// The push slots' count: the READPUSH properties, which come first among the methods.
    fn push_count(&self) -> usize {
        self.pushed().count()
    }

    fn pushed(&self) -> impl Iterator<Item = (u16, &QtProperty)> {
        self.properties
            .iter()
            .enumerate()
            .filter(|(_, p)| p.access == rep::Access::ReadPush)
            .map(|(i, p)| (i as u16, p))
    }

    /// The members with a notify signal, in Qt's order: every one but the constants.
    fn notifying(&self) -> impl Iterator<Item = QtMember> + '_ {
        self.layout.iter().copied().filter(|m| match m {
            QtMember::Value(i) => self
                .properties
                .get(*i as usize)
                .is_some_and(|p| p.access != rep::Access::Constant),
            QtMember::Child(_) => true,
        })
    }

    /// The Qt signal position of `member`'s notify signal (none for a constant).
    pub fn notify_position_of(&self, member: QtMember) -> Option<i32> {
        self.notifying().position(|m| m == member).map(|p| p as i32)
    }

    /// The Qt signal position of property `index`'s notify signal (none for a constant).
    pub fn notify_position(&self, index: u16) -> Option<i32> {
        self.notify_position_of(QtMember::Value(index))
    }

    /// The Qt property position of `member`.
    pub fn position_of(&self, member: QtMember) -> i32 {
        self.layout
            .iter()
            .position(|m| *m == member)
            .map_or(-1, |p| p as i32)
    }

    /// What Qt property position `position` holds.
    pub fn member_at(&self, position: i32) -> Option<QtMember> {
        self.layout.get(usize::try_from(position).ok()?).copied()
    }

    /// Calls `visit` with this API and every sub-object's API under it.
    pub fn each_api(&self, visit: &mut dyn FnMut(&QtApi)) {
        visit(self);
        for child in &self.children {
            child.api.each_api(visit);
        }
    }

    /// The Qt signal position of declared signal `index`.
    pub fn signal_position(&self, index: u16) -> i32 {
        (self.notifying().count() + index as usize) as i32
    }

    /// What Qt signal position `position` is.
    pub fn signal_at(&self, position: i32) -> Option<QtSignal> {
        let position = usize::try_from(position).ok()?;
        let notify = self.notifying().count();
        if position < notify {
            return self.notifying().nth(position).map(QtSignal::Notify);
        }
        let declared = position - notify;
        (declared < self.signals.len()).then_some(QtSignal::Declared(declared as u16))
    }

    /// This crate's slot index of Qt method position `position` (the same number: push
    /// slots come first here as push methods do in Qt).
    pub fn slot_at(&self, position: i32) -> Option<u16> {
        let position = usize::try_from(position).ok()?;
        (position < self.push_count() + self.slots.len()).then_some(position as u16)
    }

    /// What the method at Qt position `position` returns (`None`: void or no such method).
    pub fn method_returns(&self, position: i32) -> Option<&QtFormat> {
        let position = usize::try_from(position).ok()?;
        let slot = self.slots.get(position.checked_sub(self.push_count())?)?;
        slot.ret.as_ref()
    }

    /// Parameter `i` of the method at Qt position `position`.
    pub fn method_param(&self, position: i32, i: usize) -> Option<&QtFormat> {
        let position = usize::try_from(position).ok()?;
        let pushes = self.push_count();
        if position < pushes {
            return (i == 0).then(|| self.pushed().nth(position).map(|(_, p)| &p.ty))?;
        }
        self.slots
            .get(position - pushes)?
            .params
            .get(i)
            .map(|(_, f)| f)
    }

    /// The named types its values use, for reading and writing them.
    pub fn registry(&self) -> TypeRegistry {
        let mut types = TypeRegistry::new();
        for g in &self.gadgets {
            types.add_gadget(&g.name, g.fields.iter().map(|(n, _)| n.clone()).collect());
        }
        for e in &self.enums {
            types.add_enum(&format!("{}::{}", self.type_name, e.name), 4);
        }
        types
    }

    /// The class definition a dynamic Qt replica is sent.
    pub fn definition(&self) -> QtDefinition {
        let type_list = |params: &[(String, QtFormat)]| {
            params
                .iter()
                .map(|(_, f)| f.qt.name())
                .collect::<Vec<_>>()
                .join(",")
        };
        let names = |params: &[(String, QtFormat)]| params.iter().map(|(n, _)| n.clone()).collect();
        let mut signals = Vec::new();
        for member in self.notifying() {
            let (name, ty) = self.qt_property(member);
            signals.push(QtSignalDef {
                signature: format!("{name}Changed({ty})"),
                parameters: vec![name.to_owned()],
            });
        }
        for s in &self.signals {
            signals.push(QtSignalDef {
                signature: format!("{}({})", s.name, type_list(&s.params)),
                parameters: names(&s.params),
            });
        }
        let mut methods = Vec::new();
        for (_, p) in self.pushed() {
            methods.push(QtMethodDef {
                signature: format!("{}({})", push_name(&p.name), p.ty.qt.name()),
                return_type: "void".to_owned(),
                parameters: vec![p.name.clone()],
            });
        }
        for s in &self.slots {
            methods.push(QtMethodDef {
                signature: format!("{}({})", s.name, type_list(&s.params)),
                return_type: s.ret.as_ref().map_or("void".to_owned(), |r| r.qt.name()),
                parameters: names(&s.params),
            });
        }
        let properties = self
            .layout
            .iter()
            .map(|&member| {
                let (name, ty) = self.qt_property(member);
                let constant = matches!(member, QtMember::Value(i)
                    if self.properties[i as usize].access == rep::Access::Constant);
                QtPropertyDef {
                    name: name.to_owned(),
                    notify: (!constant).then(|| format!("{name}Changed({ty})")),
                    type_name: ty,
                }
            })
            .collect();
        QtDefinition {
            type_name: self.type_name.clone(),
            enums: self
                .enums
                .iter()
                .map(|e| QtEnumDef {
                    name: e.name.clone(),
                    is_flag: false,
                    is_scoped: false,
                    size: 4,
                    keys: e.keys.clone(),
                })
                .collect(),
            qt_enums: Vec::new(),
            gadgets: self
                .gadgets
                .iter()
                .map(|g| QtGadgetDef {
                    name: g.name.clone(),
                    properties: g
                        .fields
                        .iter()
                        .map(|(n, f)| (n.clone(), f.qt.name()))
                        .collect(),
                    enums: Vec::new(),
                })
                .collect(),
            signals,
            methods,
            properties,
        }
    }

    /// The name and Qt type name of the property at `member`.
    fn qt_property(&self, member: QtMember) -> (&str, String) {
        match member {
            QtMember::Value(i) => {
                let p = &self.properties[i as usize];
                (&p.name, p.ty.qt.name())
            }
            QtMember::Child(slot) => {
                let child = &self.children[slot as usize];
                let ty = match child.model {
                    Some(_) => MODEL_POINTER,
                    None => OBJECT_POINTER,
                };
                (&child.name, ty.into())
            }
        }
    }

    /// The `.rep` file this API is equivalent to (its sub-objects' classes first).
    pub fn to_rep(&self) -> rep::RepFile {
        let mut file = rep::RepFile::default();
        for child in self.children.iter().filter(|c| c.model.is_none()) {
            let theirs = child.api.to_rep();
            for class in theirs.classes {
                if !file.classes.iter().any(|c| c.name == class.name) {
                    file.classes.push(class);
                }
            }
            for pod in theirs.pods {
                if !file.pods.iter().any(|p| p.name == pod.name) {
                    file.pods.push(pod);
                }
            }
        }
        let own = self.own_rep();
        for pod in own.pods {
            if !file.pods.iter().any(|p| p.name == pod.name) {
                file.pods.push(pod);
            }
        }
        file.classes.extend(own.classes);
        file
    }

    /// The `.rep` file of this class alone.
    fn own_rep(&self) -> rep::RepFile {
        let short = |qt: &QtType| {
            // Inside its class, an enum is named without the class.
            let name = qt.name();
            name.strip_prefix(&format!("{}::", self.type_name))
                .map_or(name.clone(), str::to_owned)
        };
        let param = |(name, f): &(String, QtFormat)| rep::Param {
            ty: short(&f.qt),
            name: name.clone(),
            is_const: false,
            is_ref: false,
        };
        let function = |f: &QtFunction| rep::Function {
            name: f.name.clone(),
            params: f.params.iter().map(param).collect(),
            ret: f.ret.as_ref().map_or("void".to_owned(), |r| short(&r.qt)),
            line: 0,
        };
        let properties: Vec<rep::Property> = self
            .properties
            .iter()
            .map(|p| rep::Property {
                ty: short(&p.ty.qt),
                name: p.name.clone(),
                default: None,
                access: p.access,
                persisted: false,
                line: 0,
            })
            .collect();
        rep::RepFile {
            pods: self
                .gadgets
                .iter()
                .map(|g| rep::Pod {
                    name: g.name.clone(),
                    members: g.fields.iter().map(param).collect(),
                    enums: Vec::new(),
                    flags: Vec::new(),
                    line: 0,
                })
                .collect(),
            classes: vec![rep::Class {
                name: self.type_name.clone(),
                members: self
                    .layout
                    .iter()
                    .map(|member| match *member {
                        QtMember::Value(i) => {
                            rep::ClassMember::Property(properties[i as usize].clone())
                        }
                        QtMember::Child(slot) => {
                            let child = &self.children[slot as usize];
                            match &child.model {
                                Some(model) => rep::ClassMember::Model(rep::Model {
                                    name: child.name.clone(),
                                    roles: model.roles.iter().map(|r| r.name.clone()).collect(),
                                    line: 0,
                                }),
                                None => rep::ClassMember::Child {
                                    name: child.name.clone(),
                                    class: child.api.type_name.clone(),
                                    line: 0,
                                },
                            }
                        }
                    })
                    .collect(),
                properties,
                signals: self.signals.iter().map(function).collect(),
                slots: self.slots.iter().map(function).collect(),
                enums: self
                    .enums
                    .iter()
                    .map(|e| rep::Enum {
                        name: e.name.clone(),
                        scoped: false,
                        underlying: None,
                        values: e
                            .keys
                            .iter()
                            .map(|(k, v)| (k.clone(), i64::from(*v)))
                            .collect(),
                        line: 0,
                    })
                    .collect(),
                flags: Vec::new(),
                line: 1,
            }],
            ..rep::RepFile::default()
        }
    }

    fn repc_signature(&self) -> String {
        rep::signatures(&self.to_rep())
            .remove(&self.type_name)
            .unwrap_or_default()
    }
}

/// This crate's shape of a Qt type named in a class definition, with the named types it
/// needs added to `types`.
fn format_of(
    qt: &QtType,
    types: &mut BTreeMap<String, TypeDef>,
    enums: &BTreeMap<String, String>,
    depth: usize,
) -> Result<TypeFormat, QtApiError> {
    use Builtin as B;
    let unsupported = || QtApiError::Unsupported {
        member: "a member".into(),
        ty: qt.name(),
    };
    if depth > 32 {
        return Err(unsupported());
    }
    let value_type = |types: &mut BTreeMap<String, TypeDef>, name: &str| {
        types
            .entry(name.to_owned())
            .or_insert_with(|| qt_value_def(name));
        TypeFormat::Named(name.to_owned())
    };
    Ok(match qt {
        QtType::Builtin(b) => match b {
            B::Bool => TypeFormat::Bool,
            B::Int => TypeFormat::I32,
            B::UInt => TypeFormat::U32,
            B::LongLong | B::Long => TypeFormat::I64,
            B::ULongLong | B::ULong => TypeFormat::U64,
            B::Double => TypeFormat::F64,
            B::Float => TypeFormat::F32,
            B::Short => TypeFormat::I16,
            B::UShort => TypeFormat::U16,
            B::SChar | B::Char => TypeFormat::I8,
            B::UChar => TypeFormat::U8,
            B::QChar => TypeFormat::Char,
            B::String => TypeFormat::Str,
            B::ByteArray => TypeFormat::Bytes,
            B::StringList => TypeFormat::Seq(Box::new(TypeFormat::Str)),
            B::ByteArrayList => TypeFormat::Seq(Box::new(TypeFormat::Bytes)),
            B::Variant | B::VariantList | B::VariantMap | B::VariantHash => {
                let variant = value_type(types, VARIANT);
                match b {
                    B::Variant => variant,
                    B::VariantList => TypeFormat::Seq(Box::new(variant)),
                    _ => TypeFormat::Map(Box::new(TypeFormat::Str), Box::new(variant)),
                }
            }
            other => match QT_VALUE_TYPES.iter().find(|(_, v)| v == other) {
                Some((name, _)) => value_type(types, name),
                None => return Err(unsupported()),
            },
        },
        QtType::List(item) => TypeFormat::Seq(Box::new(format_of(item, types, enums, depth + 1)?)),
        QtType::Map { key, value, .. } => TypeFormat::Map(
            Box::new(format_of(key, types, enums, depth + 1)?),
            Box::new(format_of(value, types, enums, depth + 1)?),
        ),
        QtType::Pair(a, b) => TypeFormat::Tuple(vec![
            format_of(a, types, enums, depth + 1)?,
            format_of(b, types, enums, depth + 1)?,
        ]),
        QtType::Named(name) => {
            // `Demo::Mode`, `DemoSource::Mode` and `Mode` all name the class's enum `Mode`.
            let short = name.rsplit("::").next().unwrap_or(name);
            if let Some(enum_name) = enums.get(short) {
                TypeFormat::Named(enum_name.clone())
            } else if types.contains_key(short) {
                TypeFormat::Named(short.to_owned())
            } else {
                return Err(unsupported());
            }
        }
    })
}

/// The schema of one of `values`' Qt value types, as its Rust struct serializes.
pub(crate) fn qt_value_def(name: &str) -> TypeDef {
    use crate::values::schema::Variant as V;
    let field = |name: &str, format: TypeFormat| Field {
        name: name.to_owned(),
        format,
    };
    let fields = |names: &[&str], format: TypeFormat| {
        TypeDef::Struct(names.iter().map(|n| field(n, format.clone())).collect())
    };
    match name {
        "QPoint" => fields(&["x", "y"], TypeFormat::I32),
        "QPointF" => fields(&["x", "y"], TypeFormat::F64),
        "QSize" => fields(&["width", "height"], TypeFormat::I32),
        "QSizeF" => fields(&["width", "height"], TypeFormat::F64),
        "QRect" => fields(&["left", "top", "right", "bottom"], TypeFormat::I32),
        "QRectF" => fields(&["x", "y", "width", "height"], TypeFormat::F64),
        "QLine" => fields(&["x1", "y1", "x2", "y2"], TypeFormat::I32),
        "QLineF" => fields(&["x1", "y1", "x2", "y2"], TypeFormat::F64),
        "QColor" => fields(&["alpha", "red", "green", "blue"], TypeFormat::U16),
        "QDateTime" => fields(&["unix_ms"], TypeFormat::I64),
        "QDate" => fields(&["julian_day"], TypeFormat::I64),
        "QTime" => fields(&["ms"], TypeFormat::I64),
        "QUrl" => fields(&["url"], TypeFormat::Str),
        "QUuid" => TypeDef::Struct(vec![field(
            "bytes",
            TypeFormat::Array(Box::new(TypeFormat::U8), 16),
        )]),
        _ => {
            let variant = |index: u32, name: &str, shape| V {
                index,
                name: name.to_owned(),
                shape,
            };
            let me = || TypeFormat::Named(VARIANT.to_owned());
            TypeDef::Enum(vec![
                variant(0, "Invalid", VariantShape::Unit),
                variant(1, "Bool", VariantShape::Newtype(TypeFormat::Bool)),
                variant(2, "Int", VariantShape::Newtype(TypeFormat::I64)),
                variant(3, "Double", VariantShape::Newtype(TypeFormat::F64)),
                variant(4, "String", VariantShape::Newtype(TypeFormat::Str)),
                variant(
                    5,
                    "Bytes",
                    VariantShape::Newtype(TypeFormat::Seq(Box::new(TypeFormat::U8))),
                ),
                variant(
                    6,
                    "List",
                    VariantShape::Newtype(TypeFormat::Seq(Box::new(me()))),
                ),
                variant(
                    7,
                    "Map",
                    VariantShape::Newtype(TypeFormat::Map(
                        Box::new(TypeFormat::Str),
                        Box::new(me()),
                    )),
                ),
            ])
        }
    }
}

/// `name(type,type)` → (`name`, [`type`, `type`]).
fn split_signature(signature: &str) -> Option<(&str, Vec<&str>)> {
    let (name, rest) = signature.split_once('(')?;
    let inner = rest.strip_suffix(')')?;
    let params = match inner.is_empty() {
        true => Vec::new(),
        false => rep::split_top_level(inner),
    };
    Some((name, params))
}

impl QtApi {
    /// The API a Qt host describes in a class definition (for a dynamic replica of a Qt
    /// source), with a schema of this crate's own derived from it: gadgets as structs,
    /// enums as enums (by their keys' values where those are distinct and not negative),
    /// `QVariant` as [`Variant`](crate::qt::values::Variant), push methods as `push_<name>`
    /// slots. A property with neither a push method nor constancy is taken as writable; a
    /// Qt source refuses writes to the others without a word, as Qt does.
    pub fn from_definition(def: &QtDefinition) -> Result<QtApi, QtApiError> {
        QtApi::from_definition_with(def, &mut |_, p| {
            Err(QtApiError::NotCarried(format!(
                "{}: the sub-object {} comes without its API",
                def.type_name, p.name
            )))
        })
    }

    /// [`QtApi::from_definition`] for a class with sub-objects: `child(position, property)`
    /// gives the API of the sub-object (or model) property at Qt position `position` (Qt
    /// sends it with the sub-object's value, not in the parent's definition).
    pub fn from_definition_with(
        def: &QtDefinition,
        child: &mut ChildApis<'_>,
    ) -> Result<QtApi, QtApiError> {
        use crate::values::schema::{ChildSchema, MemberSchema, PropertySchema, Variant as V};
        let mut types = BTreeMap::new();
        let mut enum_names = BTreeMap::new();
        let mut enums = Vec::new();
        let all_enums = def
            .enums
            .iter()
            .chain(def.gadgets.iter().flat_map(|g| g.enums.iter()));
        for e in all_enums {
            let values: Vec<i32> = e.keys.iter().map(|(_, v)| *v).collect();
            let mut sorted = values.clone();
            sorted.sort_unstable();
            sorted.dedup();
            let by_value = sorted.len() == values.len() && values.iter().all(|v| *v >= 0);
            let variants = e
                .keys
                .iter()
                .enumerate()
                .map(|(i, (key, value))| V {
                    index: if by_value { *value as u32 } else { i as u32 },
                    name: key.clone(),
                    shape: VariantShape::Unit,
                })
                .collect::<Vec<_>>();
            let mut ordered = variants.clone();
            ordered.sort_by_key(|v| v.index);
            types.insert(e.name.clone(), TypeDef::Enum(ordered));
            enum_names.insert(e.name.clone(), e.name.clone());
            enums.push(QtEnum {
                name: e.name.clone(),
                keys: e.keys.clone(),
            });
        }
        // Gadgets may use each other: declare them all before mapping their fields.
        for g in &def.gadgets {
            types.insert(g.name.clone(), TypeDef::Struct(Vec::new()));
        }
        let mut gadgets = Vec::new();
        for g in &def.gadgets {
            let mut fields = Vec::new();
            let mut qt_fields = Vec::new();
            for (name, ty) in &g.properties {
                let qt = parse_type(ty)?;
                let format = format_of(&qt, &mut types, &enum_names, 0)?;
                fields.push(Field {
                    name: name.clone(),
                    format: format.clone(),
                });
                qt_fields.push((name.clone(), QtFormat { format, qt }));
            }
            types.insert(g.name.clone(), TypeDef::Struct(fields));
            gadgets.push(QtGadget {
                name: g.name.clone(),
                fields: qt_fields,
            });
        }
        let mut map = |ty: &str| -> Result<QtFormat, QtApiError> {
            let qt = parse_type(ty)?;
            // A property's enum type may be written with the source's C++ class
            // (`DemoSource::Mode`): it travels under the API's type name.
            let qt = match &qt {
                QtType::Named(n) if enum_names.contains_key(n.rsplit("::").next().unwrap_or(n)) => {
                    QtType::Named(format!(
                        "{}::{}",
                        def.type_name,
                        n.rsplit("::").next().unwrap_or(n)
                    ))
                }
                _ => qt,
            };
            let format = format_of(&qt, &mut types, &enum_names, 0)?;
            Ok(QtFormat { format, qt })
        };
        let mut properties = Vec::new();
        let mut children = Vec::new();
        let mut layout = Vec::new();
        for (position, p) in def.properties.iter().enumerate() {
            if p.type_name.ends_with('*') {
                layout.push(QtMember::Child(children.len() as u16));
                let (api, model) = child(position, p)?;
                children.push(QtChild {
                    name: p.name.clone(),
                    api,
                    model,
                });
                continue;
            }
            layout.push(QtMember::Value(properties.len() as u16));
            let ty = map(&p.type_name)?;
            let push = push_name(&p.name);
            let pushed = def
                .methods
                .iter()
                .any(|m| split_signature(&m.signature).is_some_and(|(n, _)| n == push));
            let access = match (&p.notify, pushed) {
                (None, _) => rep::Access::Constant,
                (Some(_), true) => rep::Access::ReadPush,
                (Some(_), false) => rep::Access::ReadWrite,
            };
            properties.push(QtProperty {
                name: p.name.clone(),
                ty,
                access,
            });
        }
        let notifies: Vec<&str> = def
            .properties
            .iter()
            .filter_map(|p| p.notify.as_deref())
            .collect();
        let mut signals = Vec::new();
        for s in &def.signals {
            if notifies.contains(&s.signature.as_str()) {
                continue;
            }
            let (name, params) = function_params(&s.signature, &s.parameters, &mut map)?;
            signals.push(QtFunction {
                name: name.to_owned(),
                params,
                ret: None,
            });
        }
        // Push methods first (one per READPUSH property, in property order), then slots.
        let push_methods: Vec<String> = properties
            .iter()
            .filter(|p| p.access == rep::Access::ReadPush)
            .map(|p| push_name(&p.name))
            .collect();
        let leading_pushes = def
            .methods
            .iter()
            .zip(&push_methods)
            .take_while(|(m, push)| {
                split_signature(&m.signature).is_some_and(|(n, _)| n == push.as_str())
            })
            .count();
        if leading_pushes < push_methods.len() {
            // Push methods elsewhere: take them as ordinary slots and the properties as
            // writable, so positions stay as the host numbers them.
            for p in properties.iter_mut() {
                if p.access == rep::Access::ReadPush {
                    p.access = rep::Access::ReadWrite;
                }
            }
        }
        let first_slot = if leading_pushes == push_methods.len() {
            leading_pushes
        } else {
            0
        };
        let mut slots = Vec::new();
        for m in &def.methods[first_slot..] {
            let (name, params) = function_params(&m.signature, &m.parameters, &mut map)?;
            let ret = match m.return_type.as_str() {
                "void" | "" => None,
                ty => Some(map(ty)?),
            };
            slots.push(QtFunction {
                name: name.to_owned(),
                params,
                ret,
            });
        }
        let member = |f: &QtFunction| MemberSchema {
            name: f.name.clone(),
            args: f
                .params
                .iter()
                .map(|(n, t)| Field {
                    name: n.clone(),
                    format: t.format.clone(),
                })
                .collect(),
            returns: f
                .ret
                .as_ref()
                .map_or(TypeFormat::Unit, |r| r.format.clone()),
        };
        let mut schema_slots: Vec<MemberSchema> = properties
            .iter()
            .filter(|p| p.access == rep::Access::ReadPush)
            .map(|p| MemberSchema {
                name: format!("push_{}", p.name),
                args: vec![Field {
                    name: p.name.clone(),
                    format: p.ty.format.clone(),
                }],
                returns: TypeFormat::Unit,
            })
            .collect();
        schema_slots.extend(slots.iter().map(member));
        let mut schema = ApiSchema {
            api: def.type_name.clone(),
            signature: 0,
            properties: properties
                .iter()
                .map(|p| PropertySchema {
                    name: p.name.clone(),
                    type_name: p.ty.qt.name(),
                    format: p.ty.format.clone(),
                    access: match p.access {
                        rep::Access::Constant => AccessFlag::Constant,
                        rep::Access::ReadWrite => AccessFlag::ReadWrite,
                        _ => AccessFlag::ReadOnly,
                    },
                    persisted: false,
                })
                .collect(),
            signals: signals.iter().map(member).collect(),
            slots: schema_slots,
            types,
            children: children
                .iter()
                .map(|c| ChildSchema {
                    name: c.name.clone(),
                    // A Qt sub-object is a pointer, which may be null.
                    optional: c.model.is_none(),
                    api: c.api.schema.clone(),
                    model: c.model.is_some(),
                })
                .collect(),
        };
        schema.signature = schema.structural_signature().unwrap_or_default();
        let mut api = QtApi {
            type_name: def.type_name.clone(),
            signature: String::new(),
            properties,
            signals,
            slots,
            enums,
            gadgets,
            children,
            layout,
            schema,
        };
        api.signature = api.repc_signature();
        Ok(api)
    }
}

/// The API of a sub-object, and for a model its rows.
pub type ChildApi = (
    std::sync::Arc<QtApi>,
    Option<std::sync::Arc<super::model::ModelFace>>,
);

/// Finds the API of the sub-object property at a Qt position of a class definition.
pub type ChildApis<'a> = dyn FnMut(usize, &QtPropertyDef) -> Result<ChildApi, QtApiError> + 'a;

/// A function's parameters: name and type, in order.
type Params = Vec<(String, QtFormat)>;

/// A signal's or method's name and parameters from its normalized signature and parameter
/// names (an unnamed one is `argN`), each type mapped by `map`.
fn function_params<'s>(
    signature: &'s str,
    names: &[String],
    map: &mut impl FnMut(&str) -> Result<QtFormat, QtApiError>,
) -> Result<(&'s str, Params), QtApiError> {
    let (name, types) = split_signature(signature)
        .ok_or_else(|| QtApiError::NotCarried(format!("the member {signature}")))?;
    let mut params = Vec::with_capacity(types.len());
    for (i, ty) in types.iter().enumerate() {
        let pname = names
            .get(i)
            .filter(|n| !n.is_empty())
            .cloned()
            .unwrap_or_else(|| format!("arg{i}"));
        params.push((pname, map(ty)?));
    }
    Ok((name, params))
}

fn parse_type(name: &str) -> Result<QtType, QtApiError> {
    QtType::parse(name).map_err(|_| QtApiError::Unsupported {
        member: "a member".into(),
        ty: name.to_owned(),
    })
}

/// The `.rep` file an API was imported from: its text and the class's name.
pub type RepHint = (&'static str, &'static str);

/// What an API says of its Qt face beyond its schema (both generated by `remote_object!`).
#[derive(Debug, Clone, Copy, Default)]
pub struct QtHints {
    /// The `.rep` file it was imported from.
    pub rep: Option<RepHint>,
    /// Its inline enums, with the Qt value of each key.
    pub enums: &'static [(&'static str, &'static [(&'static str, i32)])],
}

/// The Qt type a `.rep` file's type names, with a class's enums and flags named as Qt sends
/// them (`Demo::Mode`).
fn rep_qt_type(ty: &str, class: &rep::Class) -> Result<QtType, QtApiError> {
    fn scoped(qt: QtType, class: &rep::Class) -> QtType {
        match qt {
            QtType::Named(name) => {
                let short = name.rsplit("::").next().unwrap_or(&name).to_owned();
                let in_class = class.enums.iter().any(|e| e.name == short)
                    || class.flags.iter().any(|f| f.name == short);
                QtType::Named(match in_class {
                    true => format!("{}::{short}", class.name),
                    false => short,
                })
            }
            QtType::List(item) => QtType::List(Box::new(scoped(*item, class))),
            QtType::Map { hash, key, value } => QtType::Map {
                hash,
                key: Box::new(scoped(*key, class)),
                value: Box::new(scoped(*value, class)),
            },
            QtType::Pair(a, b) => {
                QtType::Pair(Box::new(scoped(*a, class)), Box::new(scoped(*b, class)))
            }
            builtin => builtin,
        }
    }
    Ok(scoped(parse_type(ty)?, class))
}

impl QtApi {
    /// The Qt view of `schema` with its `hints`: the values its inline enums give their
    /// keys, and, for an API imported from a `.rep` file, that file's Qt types, modifiers,
    /// enum values and repc's signature of the class.
    pub fn for_api(schema: &ApiSchema, hints: QtHints) -> Result<QtApi, QtApiError> {
        let mut api = QtApi::from_schema(schema)?;
        if !hints.enums.is_empty() {
            for (name, keys) in hints.enums {
                if let Some(ours) = api.enums.iter_mut().find(|e| e.name == *name) {
                    ours.keys = keys.iter().map(|(k, v)| ((*k).to_owned(), *v)).collect();
                }
            }
            api.signature = api.repc_signature();
        }
        match hints.rep {
            Some((text, class_name)) => api.with_rep(text, class_name),
            None => Ok(api),
        }
    }

    /// This API with the Qt types, modifiers, enum values, property order and signature of
    /// class `class_name` of the `.rep` file `text` (and its sub-objects with theirs).
    fn with_rep(self, text: &str, class_name: &str) -> Result<QtApi, QtApiError> {
        let mut api = self;
        let bad =
            |what: String| QtApiError::NotCarried(format!("{class_name}'s .rep file: {what}"));
        let file = rep::parse(text).map_err(|e| bad(e.to_string()))?;
        let class = file
            .classes
            .iter()
            .find(|c| c.name == class_name)
            .ok_or_else(|| bad("no such class".into()))?;
        let child_classes: Vec<&str> = class
            .members
            .iter()
            .filter_map(|m| match m {
                rep::ClassMember::Child { class, .. } => Some(class.as_str()),
                rep::ClassMember::Model(_) => Some(""),
                rep::ClassMember::Property(_) => None,
            })
            .collect();
        if class.properties.len() != api.properties.len()
            || child_classes.len() != api.children.len()
            || class.signals.len() != api.signals.len()
            || class.slots.len() != api.slots.len()
        {
            return Err(bad("it does not declare this API's members".into()));
        }
        for (child, child_class) in api.children.iter_mut().zip(&child_classes) {
            if child.model.is_some() {
                continue;
            }
            let theirs = QtApi::clone(&child.api).with_rep(text, child_class)?;
            child.api = std::sync::Arc::new(theirs);
        }
        let (mut values, mut children) = (0u16, 0u16);
        api.layout = class
            .members
            .iter()
            .map(|m| match m {
                rep::ClassMember::Property(_) => {
                    values += 1;
                    QtMember::Value(values - 1)
                }
                _ => {
                    children += 1;
                    QtMember::Child(children - 1)
                }
            })
            .collect();
        for (p, rp) in api.properties.iter_mut().zip(&class.properties) {
            p.access = rp.access;
            p.ty.qt = rep_qt_type(&rp.ty, class)?;
        }
        let functions = api
            .signals
            .iter_mut()
            .zip(&class.signals)
            .chain(api.slots.iter_mut().zip(&class.slots));
        for (f, rf) in functions {
            for ((_, ty), rp) in f.params.iter_mut().zip(&rf.params) {
                ty.qt = rep_qt_type(&rp.ty, class)?;
            }
            if let Some(ret) = &mut f.ret {
                ret.qt = rep_qt_type(&rf.ret, class)?;
            }
        }
        for g in &mut api.gadgets {
            if let Some(pod) = file.pods.iter().find(|p| p.name == g.name) {
                for ((_, ty), member) in g.fields.iter_mut().zip(&pod.members) {
                    ty.qt = rep_qt_type(&member.ty, class)?;
                }
            }
        }
        let all_enums = file
            .enums
            .iter()
            .chain(&class.enums)
            .chain(file.pods.iter().flat_map(|p| p.enums.iter()));
        for e in all_enums {
            if let Some(ours) = api.enums.iter_mut().find(|ours| ours.name == e.name) {
                ours.keys = e
                    .values
                    .iter()
                    .map(|(k, v)| (k.clone(), i32::try_from(*v).unwrap_or_default()))
                    .collect();
            }
        }
        api.signature = rep::signatures(&file)
            .remove(class_name)
            .unwrap_or_default();
        Ok(api)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_source_with_a_tree_model_is_not_shown_to_qt_nodes_and_says_why() {
        let child = |api| crate::values::schema::ChildSchema {
            name: "files".to_owned(),
            optional: false,
            api,
            model: true,
        };
        let schema = ApiSchema {
            api: "Explorer".to_owned(),
            signature: 0,
            properties: Vec::new(),
            signals: Vec::new(),
            slots: Vec::new(),
            types: Default::default(),
            children: vec![child(crate::adapter::tree_described::<String>().unwrap())],
        };
        let refused = QtApi::from_schema(&schema).unwrap_err();
        assert!(
            matches!(&refused, QtApiError::NotCarried(why) if why.contains("tree model files")),
            "{refused:?}"
        );
        let mut listed = schema;
        listed.children = vec![child(crate::adapter::described::<String>().unwrap())];
        assert!(QtApi::from_schema(&listed).is_ok(), "a list model is");
    }
}
