//! What a `.rep` file declares.

/// A parsed `.rep` file, every declaration in file order within its kind.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RepFile {
    /// `#` lines, verbatim (Qt copies them into its generated headers).
    pub directives: Vec<String>,
    /// Top-level `POD`s.
    pub pods: Vec<Pod>,
    /// Top-level `ENUM`s.
    pub enums: Vec<Enum>,
    /// Top-level `FLAG`s.
    pub flags: Vec<Flag>,
    /// `USE_ENUM(Name)` lines (enums defined elsewhere).
    pub used_enums: Vec<String>,
    /// `class`es.
    pub classes: Vec<Class>,
}

/// A property's modifier: who may change it, and how a replica does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// `CONSTANT`: set once, at the source's construction.
    Constant,
    /// `READONLY`: the source changes it.
    ReadOnly,
    /// `READPUSH` (the default): replicas ask the source with a `push` method.
    ReadPush,
    /// `READWRITE`: replicas write it.
    ReadWrite,
    /// `SOURCEONLYSETTER`: like `READONLY` for replicas, with a public setter on the source.
    SourceOnlySetter,
}

/// `PROP(Type name=default FLAGS)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Property {
    /// Its C++ type, as written.
    pub ty: String,
    /// Its name.
    pub name: String,
    /// Its default, verbatim (a C++ initializer).
    pub default: Option<String>,
    /// Its modifier.
    pub access: Access,
    /// `PERSISTED` (which repc takes only alone: the property is then `READPUSH`).
    pub persisted: bool,
    /// Where it is declared (1-based line).
    pub line: usize,
}

/// A parameter of a signal or slot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Param {
    /// Its type without `const` or `&` (`QString` for `const QString &s`).
    pub ty: String,
    /// Its name (`__repc_variable_N` when the file gives none).
    pub name: String,
    /// Declared `const`.
    pub is_const: bool,
    /// Declared as a reference.
    pub is_ref: bool,
}

/// `SIGNAL(name(args))` or `SLOT(Ret name(args))`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Function {
    /// Its name.
    pub name: String,
    /// Its parameters.
    pub params: Vec<Param>,
    /// Its return type (`void` for signals and for slots without one).
    pub ret: String,
    /// Where it is declared (1-based line).
    pub line: usize,
}

/// `ENUM [class] Name [: type] {A, B=5}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Enum {
    /// Its name.
    pub name: String,
    /// `enum class`.
    pub scoped: bool,
    /// The underlying type, if given.
    pub underlying: Option<String>,
    /// Its keys and values (values counted on from the previous one, as in C++).
    pub values: Vec<(String, i64)>,
    /// Where it is declared (1-based line).
    pub line: usize,
}

/// `FLAG(FlagsName EnumName)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Flag {
    /// The flags type's name.
    pub name: String,
    /// The enum it combines.
    pub enum_name: String,
    /// Where it is declared (1-based line).
    pub line: usize,
}

/// `POD Name(Type a, Type b)`, or the brace form with enums and flags.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pod {
    /// Its name.
    pub name: String,
    /// Its members, as (type, name).
    pub members: Vec<Param>,
    /// Enums declared inside it.
    pub enums: Vec<Enum>,
    /// Flags declared inside it.
    pub flags: Vec<Flag>,
    /// Where it is declared (1-based line).
    pub line: usize,
}

/// `MODEL name(role, …)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Model {
    /// The property's name.
    pub name: String,
    /// The roles it shares, by name (at least one).
    pub roles: Vec<String>,
    /// Where it is declared (1-based line).
    pub line: usize,
}

/// A member of a class that holds a property slot in API order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClassMember {
    /// `PROP`.
    Property(Property),
    /// `MODEL`.
    Model(Model),
    /// `CLASS name(Type)`: a sub-object of another class in the file.
    Child {
        /// The property's name.
        name: String,
        /// The child's class.
        class: String,
        /// Where it is declared (1-based line).
        line: usize,
    },
}

impl ClassMember {
    /// The member's name.
    pub fn name(&self) -> &str {
        match self {
            ClassMember::Property(p) => &p.name,
            ClassMember::Model(m) => &m.name,
            ClassMember::Child { name, .. } => name,
        }
    }
}

/// `class Name { … }`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Class {
    /// Its name, the API's type name on the wire.
    pub name: String,
    /// `PROP`s, `MODEL`s and `CLASS`es in declaration order (the property order on the wire).
    pub members: Vec<ClassMember>,
    /// The `PROP`s alone, in order.
    pub properties: Vec<Property>,
    /// `SIGNAL`s in order.
    pub signals: Vec<Function>,
    /// `SLOT`s in order.
    pub slots: Vec<Function>,
    /// Enums declared inside it.
    pub enums: Vec<Enum>,
    /// Flags declared inside it.
    pub flags: Vec<Flag>,
    /// Where it is declared (1-based line).
    pub line: usize,
}
