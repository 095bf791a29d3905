//! [`ApiSchema`]: a source's API described at run time: every member's name, flags and type,
//! and a structural description of every type used, enough to encode and decode values
//! without the Rust types. Types are traced from their serde implementations with
//! serde-reflection, then converted to this crate's own, sendable description.

use std::collections::BTreeMap;

use serde::{de::DeserializeOwned, Deserialize, Serialize};
use serde_reflection::{
    ContainerFormat, Format, FormatHolder, Samples, Tracer, TracerConfig, VariantFormat,
};

use crate::wire::bounded::{BoundedSeed, Budget};

/// The shape of a value: a primitive, a composite of other shapes, or a named type defined
/// in [`ApiSchema::types`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum TypeFormat {
    /// A struct or enum defined in the schema's `types`.
    Named(String),
    /// `()`.
    Unit,
    /// `bool`.
    Bool,
    /// `i8`.
    I8,
    /// `i16`.
    I16,
    /// `i32`.
    I32,
    /// `i64`.
    I64,
    /// `i128`.
    I128,
    /// `u8`.
    U8,
    /// `u16`.
    U16,
    /// `u32`.
    U32,
    /// `u64`.
    U64,
    /// `u128`.
    U128,
    /// `f32`.
    F32,
    /// `f64`.
    F64,
    /// `char`.
    Char,
    /// A string.
    Str,
    /// A byte string (`serde_bytes`).
    Bytes,
    /// An `Option`.
    Option(Box<TypeFormat>),
    /// A sequence (`Vec`, slices, sets).
    Seq(Box<TypeFormat>),
    /// A map.
    Map(Box<TypeFormat>, Box<TypeFormat>),
    /// A tuple.
    Tuple(Vec<TypeFormat>),
    /// A fixed-size array.
    Array(Box<TypeFormat>, usize),
}

/// A named type's definition.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum TypeDef {
    /// `struct A;`
    UnitStruct,
    /// `struct A(T);`
    NewtypeStruct(TypeFormat),
    /// `struct A(T, U);`
    TupleStruct(Vec<TypeFormat>),
    /// `struct A { x: T }`
    Struct(Vec<Field>),
    /// `enum A { … }`, variants in index order.
    Enum(Vec<Variant>),
}

/// A named field or argument.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Field {
    /// Its name.
    pub name: String,
    /// Its shape.
    pub format: TypeFormat,
}

/// An enum variant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Variant {
    /// Its index on the wire.
    pub index: u32,
    /// Its name.
    pub name: String,
    /// What it carries.
    pub shape: VariantShape,
}

/// What an enum variant carries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum VariantShape {
    /// Nothing.
    Unit,
    /// One value.
    Newtype(TypeFormat),
    /// Several unnamed values.
    Tuple(Vec<TypeFormat>),
    /// Named fields.
    Struct(Vec<Field>),
}

/// A property in a schema.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PropertySchema {
    /// Its name.
    pub name: String,
    /// Its type as written in the definition.
    #[serde(default)]
    pub type_name: String,
    /// Its shape.
    pub format: TypeFormat,
    /// Who may change it.
    pub access: AccessFlag,
    /// Whether it is persisted.
    #[serde(default)]
    pub persisted: bool,
}

/// [`Access`](crate::Access), serializable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum AccessFlag {
    /// Only the source sets it.
    ReadOnly,
    /// Replicas may ask for changes.
    ReadWrite,
    /// Set once.
    Constant,
}

/// A signal or slot in a schema.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemberSchema {
    /// Its name.
    pub name: String,
    /// Its arguments, in order.
    #[serde(default)]
    pub args: Vec<Field>,
    /// What a slot returns (`Unit` for none; always `Unit` for a signal).
    #[serde(default = "unit")]
    pub returns: TypeFormat,
}

/// A source's API, described at run time. Its JSON form (serde's) is what `aro schema`
/// prints and `aro serve` reads; there, everything but `api`, the members' names, formats
/// and properties' access may be left out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiSchema {
    /// The API's wire name.
    pub api: String,
    /// Its signature.
    #[serde(default)]
    pub signature: u64,
    /// Properties in index order.
    #[serde(default)]
    pub properties: Vec<PropertySchema>,
    /// Signals in index order.
    #[serde(default)]
    pub signals: Vec<MemberSchema>,
    /// Slots in index order.
    #[serde(default)]
    pub slots: Vec<MemberSchema>,
    /// Every named type the members use.
    #[serde(default)]
    pub types: BTreeMap<String, TypeDef>,
    /// Sub-objects in index order, each with its own API.
    #[serde(default)]
    pub children: Vec<ChildSchema>,
}

/// A sub-object member: a source of another API held by this one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChildSchema {
    /// The member's name.
    pub name: String,
    /// Whether the source may hold none.
    #[serde(default)]
    pub optional: bool,
    /// The child's API.
    pub api: ApiSchema,
    /// A model: `api` is the model adapter's, with the row type filled in.
    #[serde(default)]
    pub model: bool,
}

fn unit() -> TypeFormat {
    TypeFormat::Unit
}

/// A type could not be described (a custom `Deserialize` that validates, or a type that
/// needs a self-describing format).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cannot describe type {type_name}: {message}")]
pub struct SchemaError {
    type_name: &'static str,
    message: String,
}

impl SchemaError {
    /// An API whose child member nests the API again, directly or further down: its
    /// description would never end.
    pub(crate) fn recursive_child(api: &'static str, child: &'static str) -> SchemaError {
        SchemaError {
            type_name: api,
            message: format!(
                "child `{child}` nests {api} inside itself; recursive children are not supported"
            ),
        }
    }
}

/// Traces the types of one API; used by the generated `RemoteObject::schema`.
pub struct SchemaBuilder {
    tracer: Tracer,
}

impl Default for SchemaBuilder {
    fn default() -> Self {
        SchemaBuilder {
            tracer: Tracer::new(TracerConfig::default()),
        }
    }
}

impl SchemaBuilder {
    /// The shape of `T`, registering the named types it uses.
    ///
    /// Tracing walks `T`'s serde implementation, taking the first variant of an enum to end a
    /// recursion; a recursive enum whose first variant recurses again is reported as such
    /// (the walk is depth-bounded) instead of overflowing the stack.
    pub fn trace<T: DeserializeOwned>(&mut self) -> Result<TypeFormat, SchemaError> {
        let fail = |message: String| SchemaError {
            type_name: std::any::type_name::<T>(),
            message,
        };
        let samples = Samples::new();
        let budget = Budget::depth_only();
        let seed = BoundedSeed::new(std::marker::PhantomData::<T>, &budget);
        // serde-reflection completes an enum's variants only when it is the traced type
        // itself; one inside a container (`Vec<E>`, `Option<E>`, a map) or a struct's field
        // is completed here, by tracing again while it has variants left (each pass visits
        // the next one). The enums a struct holds are found by a first trace on a tracer
        // of its own, whose registry can be read.
        let mut nested = Vec::new();
        let mut probe = Tracer::new(TracerConfig::default());
        if probe.trace_type_with_seed(&samples, seed.clone()).is_ok() {
            nested = probe
                .registry_unchecked()
                .into_iter()
                .filter(|(_, container)| matches!(container, ContainerFormat::Enum(_)))
                .map(|(name, _)| name)
                .collect();
        }
        let mut traced = self.tracer.trace_type_with_seed(&samples, seed.clone());
        for _ in 0..256 {
            let Ok((format, _)) = &traced else { break };
            let mut names = nested.clone();
            contained_names(format, &mut names);
            let pending = names
                .iter()
                .any(|name| self.tracer.check_incomplete_enum(name).is_some());
            if !pending {
                break;
            }
            traced = self.tracer.trace_type_with_seed(&samples, seed.clone());
        }
        let (mut format, _) = traced.map_err(|e| match budget.exceeded() {
            Some(_) => fail(
                "it is recursive with no base case to stop at: serde-reflection ends a \
                 recursion at the first variant of an enum, so put a variant that does not \
                 recurse first (`enum List { Nil, Cons(Box<List>) }`)"
                    .to_owned(),
            ),
            None => fail(e.to_string()),
        })?;
        format.normalize().map_err(|e| fail(e.to_string()))?;
        convert(&format).map_err(fail)
    }

    /// Finishes: every named type traced so far.
    pub fn types(self) -> Result<BTreeMap<String, TypeDef>, SchemaError> {
        let registry = self.tracer.registry().map_err(|e| SchemaError {
            type_name: "(registry)",
            message: e.to_string(),
        })?;
        registry
            .iter()
            .map(|(name, container)| Ok((name.clone(), convert_container(container)?)))
            .collect::<Result<_, String>>()
            .map_err(|message| SchemaError {
                type_name: "(registry)",
                message,
            })
    }
}

fn convert(format: &Format) -> Result<TypeFormat, String> {
    use TypeFormat as T;
    Ok(match format {
        Format::Variable(_) => return Err("a type could not be fully traced".into()),
        Format::TypeName(name) => T::Named(name.clone()),
        Format::Unit => T::Unit,
        Format::Bool => T::Bool,
        Format::I8 => T::I8,
        Format::I16 => T::I16,
        Format::I32 => T::I32,
        Format::I64 => T::I64,
        Format::I128 => T::I128,
        Format::U8 => T::U8,
        Format::U16 => T::U16,
        Format::U32 => T::U32,
        Format::U64 => T::U64,
        Format::U128 => T::U128,
        Format::F32 => T::F32,
        Format::F64 => T::F64,
        Format::Char => T::Char,
        Format::Str => T::Str,
        Format::Bytes => T::Bytes,
        Format::Option(inner) => T::Option(Box::new(convert(inner)?)),
        Format::Seq(inner) => T::Seq(Box::new(convert(inner)?)),
        Format::Map { key, value } => T::Map(Box::new(convert(key)?), Box::new(convert(value)?)),
        Format::Tuple(items) => T::Tuple(items.iter().map(convert).collect::<Result<_, _>>()?),
        Format::TupleArray { content, size } => T::Array(Box::new(convert(content)?), *size),
    })
}

fn convert_fields(fields: &[serde_reflection::Named<Format>]) -> Result<Vec<Field>, String> {
    fields
        .iter()
        .map(|f| {
            Ok(Field {
                name: f.name.clone(),
                format: convert(&f.value)?,
            })
        })
        .collect()
}

fn convert_container(container: &ContainerFormat) -> Result<TypeDef, String> {
    Ok(match container {
        ContainerFormat::UnitStruct => TypeDef::UnitStruct,
        ContainerFormat::NewTypeStruct(inner) => TypeDef::NewtypeStruct(convert(inner)?),
        ContainerFormat::TupleStruct(items) => {
            TypeDef::TupleStruct(items.iter().map(convert).collect::<Result<_, _>>()?)
        }
        ContainerFormat::Struct(fields) => TypeDef::Struct(convert_fields(fields)?),
        ContainerFormat::Enum(variants) => TypeDef::Enum(
            variants
                .iter()
                .map(|(index, v)| {
                    let shape = match &v.value {
                        VariantFormat::Variable(_) => {
                            return Err("an enum variant could not be traced".to_string())
                        }
                        VariantFormat::Unit => VariantShape::Unit,
                        VariantFormat::NewType(inner) => VariantShape::Newtype(convert(inner)?),
                        VariantFormat::Tuple(items) => VariantShape::Tuple(
                            items.iter().map(convert).collect::<Result<_, _>>()?,
                        ),
                        VariantFormat::Struct(fields) => {
                            VariantShape::Struct(convert_fields(fields)?)
                        }
                    };
                    Ok(Variant {
                        index: *index,
                        name: v.name.clone(),
                        shape,
                    })
                })
                .collect::<Result<_, String>>()?,
        ),
    })
}

impl ApiSchema {
    /// The signature of the API this schema describes: a hash of the whole description,
    /// types' structure included, with the `signature` field itself left out. The encoding is
    /// deterministic (ordered maps, fixed-width integers), so a typed API and a schema built
    /// at run time that describe the same API get the same number on any platform.
    pub fn structural_signature(&self) -> Result<u64, String> {
        let unsigned = ApiSchema {
            signature: 0,
            ..self.clone()
        };
        crate::wire::Encoding::Bincode
            .encode(&unsigned)
            .map(|bytes| crate::wire::fnv1a(&bytes))
            .map_err(|e| e.to_string())
    }

    /// A property by name, with its index.
    pub fn property(&self, name: &str) -> Option<(u16, &PropertySchema)> {
        self.properties
            .iter()
            .position(|p| p.name == name)
            .map(|i| (i as u16, &self.properties[i]))
    }

    /// A signal by name, with its index.
    pub fn signal(&self, name: &str) -> Option<(u16, &MemberSchema)> {
        self.signals
            .iter()
            .position(|p| p.name == name)
            .map(|i| (i as u16, &self.signals[i]))
    }

    /// A slot by name, with its index.
    pub fn slot(&self, name: &str) -> Option<(u16, &MemberSchema)> {
        self.slots
            .iter()
            .position(|p| p.name == name)
            .map(|i| (i as u16, &self.slots[i]))
    }
}

impl ApiSchema {
    /// Checks a schema that came from a peer before anything is decoded with it: every named
    /// type it uses is defined, and every type has a finite value (a type that contains
    /// itself with no way out, like `struct A { a: A }`, has none, and no bytes could ever
    /// decode as it).
    pub fn check(&self) -> Result<(), String> {
        let formats = self.properties.iter().map(|p| &p.format).chain(
            self.signals
                .iter()
                .chain(&self.slots)
                .flat_map(|m| m.args.iter().map(|a| &a.format).chain([&m.returns])),
        );
        for format in formats.chain(self.types.values().flat_map(TypeDef::formats)) {
            if let Some(name) = format.names().find(|n| !self.types.contains_key(*n)) {
                return Err(format!(
                    "the schema uses type {name} but does not define it"
                ));
            }
        }
        let finite = self.finite_types();
        match self
            .types
            .keys()
            .find(|name| !finite.contains_key(name.as_str()))
        {
            Some(name) => Err(format!(
                "type {name} is recursive with no finite value (it always contains itself)"
            )),
            None => Ok(()),
        }
    }

    /// The named types that have a finite value, found by fixpoint: a type is finite once
    /// something it can be built from is (an option, a sequence and a map always are). Each
    /// maps to its rank, the order it was found in: a finite type can always be built from
    /// types of lower rank alone, which is what makes [`ApiSchema::default_value`] end.
    pub(crate) fn finite_types(&self) -> BTreeMap<&str, usize> {
        let mut finite = BTreeMap::new();
        loop {
            let before = finite.len();
            for (name, def) in &self.types {
                if !finite.contains_key(name.as_str())
                    && def.is_finite(&|n: &str| finite.contains_key(n))
                {
                    finite.insert(name.as_str(), finite.len());
                }
            }
            if finite.len() == before {
                return finite;
            }
        }
    }
}

impl TypeFormat {
    /// The names of the types this format refers to, directly or inside.
    pub(crate) fn names(&self) -> Box<dyn Iterator<Item = &str> + '_> {
        use TypeFormat as T;
        match self {
            T::Named(name) => Box::new(std::iter::once(name.as_str())),
            T::Option(inner) | T::Seq(inner) | T::Array(inner, _) => inner.names(),
            T::Map(k, v) => Box::new(k.names().chain(v.names())),
            T::Tuple(items) => Box::new(items.iter().flat_map(TypeFormat::names)),
            _ => Box::new(std::iter::empty()),
        }
    }

    /// Whether a value of it can be built from the named types `finite` accepts.
    pub(crate) fn is_finite(&self, finite: &dyn Fn(&str) -> bool) -> bool {
        use TypeFormat as T;
        match self {
            T::Named(name) => finite(name),
            // `None`, `[]` and `{}` end any recursion.
            T::Option(_) | T::Seq(_) | T::Map(..) => true,
            T::Array(_, 0) => true,
            T::Array(inner, _) => inner.is_finite(finite),
            T::Tuple(items) => items.iter().all(|f| f.is_finite(finite)),
            _ => true,
        }
    }
}

impl TypeDef {
    /// Every format the definition holds.
    fn formats(&self) -> Box<dyn Iterator<Item = &TypeFormat> + '_> {
        match self {
            TypeDef::UnitStruct => Box::new(std::iter::empty()),
            TypeDef::NewtypeStruct(inner) => Box::new(std::iter::once(inner)),
            TypeDef::TupleStruct(items) => Box::new(items.iter()),
            TypeDef::Struct(fields) => Box::new(fields.iter().map(|f| &f.format)),
            TypeDef::Enum(variants) => Box::new(variants.iter().flat_map(|v| v.shape.formats())),
        }
    }

    fn is_finite(&self, finite: &dyn Fn(&str) -> bool) -> bool {
        match self {
            TypeDef::Enum(variants) => variants
                .iter()
                .any(|v| v.shape.formats().all(|f| f.is_finite(finite))),
            other => other.formats().all(|f| f.is_finite(finite)),
        }
    }
}

impl VariantShape {
    pub(crate) fn formats(&self) -> Box<dyn Iterator<Item = &TypeFormat> + '_> {
        match self {
            VariantShape::Unit => Box::new(std::iter::empty()),
            VariantShape::Newtype(inner) => Box::new(std::iter::once(inner)),
            VariantShape::Tuple(items) => Box::new(items.iter()),
            VariantShape::Struct(fields) => Box::new(fields.iter().map(|f| &f.format)),
        }
    }
}

impl std::fmt::Display for TypeFormat {
    /// Rust-like: `u8`, `Option<String>`, `Vec<Point>`, `Map<String, u16>`, `(u8, bool)`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        use TypeFormat as T;
        match self {
            T::Named(name) => f.write_str(name),
            T::Unit => f.write_str("()"),
            T::Bool => f.write_str("bool"),
            T::I8 => f.write_str("i8"),
            T::I16 => f.write_str("i16"),
            T::I32 => f.write_str("i32"),
            T::I64 => f.write_str("i64"),
            T::I128 => f.write_str("i128"),
            T::U8 => f.write_str("u8"),
            T::U16 => f.write_str("u16"),
            T::U32 => f.write_str("u32"),
            T::U64 => f.write_str("u64"),
            T::U128 => f.write_str("u128"),
            T::F32 => f.write_str("f32"),
            T::F64 => f.write_str("f64"),
            T::Char => f.write_str("char"),
            T::Str => f.write_str("String"),
            T::Bytes => f.write_str("Bytes"),
            T::Option(inner) => write!(f, "Option<{inner}>"),
            T::Seq(inner) => write!(f, "Vec<{inner}>"),
            T::Map(k, v) => write!(f, "Map<{k}, {v}>"),
            T::Tuple(items) => {
                f.write_str("(")?;
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{item}")?;
                }
                f.write_str(")")
            }
            T::Array(inner, n) => write!(f, "[{inner}; {n}]"),
        }
    }
}

/// The named types a format reaches through containers (not through other named types).
fn contained_names(format: &Format, into: &mut Vec<String>) {
    match format {
        Format::TypeName(name) => into.push(name.clone()),
        Format::Option(inner) | Format::Seq(inner) => contained_names(inner, into),
        Format::TupleArray { content, .. } => contained_names(content, into),
        Format::Map { key, value } => {
            contained_names(key, into);
            contained_names(value, into);
        }
        Format::Tuple(items) => items.iter().for_each(|f| contained_names(f, into)),
        _ => {}
    }
}
