//! Qt's types as QtRO names them on the wire: `QMetaType`'s built-in ids and C++ type
//! names such as `QList<int>`, `QMap<QString,int>` or `MyPod`, parsed into a [`QtType`].
//!
//! A value of a built-in type travels as its id and payload; any other type travels as id
//! 65536 followed by its C++ name, and the receiver must know that name to read the payload.
//! [`TypeRegistry`] is what a connection knows: the containers it can parse from the name
//! itself, QtRO's own internal types, and the gadgets (repc `POD`s) and enums of the APIs it
//! serves or replicates.

use std::collections::HashMap;

use super::QtDecodeError;

/// `QMetaType::User`: the id of every type that is not built in; its name follows.
pub const USER_TYPE: u32 = 65_536;

macro_rules! builtins {
    ($($variant:ident = $id:literal, $name:literal, [$($alias:literal),*];)*) => {
        /// A type built into `QMetaType`, with the payload `QDataStream` writes for it.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[allow(missing_docs)]
        pub enum Builtin {
            $($variant,)*
        }

        impl Builtin {
            /// Its `QMetaType` id.
            pub fn id(self) -> u32 {
                match self {
                    $(Builtin::$variant => $id,)*
                }
            }

            /// The built-in type with id `id`, if this crate can read it.
            pub fn from_id(id: u32) -> Option<Builtin> {
                match id {
                    $($id => Some(Builtin::$variant),)*
                    _ => None,
                }
            }

            /// Its normalized C++ name, as `QMetaType` gives it.
            pub fn name(self) -> &'static str {
                match self {
                    $(Builtin::$variant => $name,)*
                }
            }

            /// The built-in type a normalized name (or a common alias such as `qint32`,
            /// `qreal` or `QList<QString>`) stands for.
            pub fn from_name(name: &str) -> Option<Builtin> {
                match name {
                    $($name $(| $alias)* => Some(Builtin::$variant),)*
                    _ => None,
                }
            }
        }
    };
}

builtins! {
    Bool = 1, "bool", [];
    Int = 2, "int", ["qint32", "int32_t"];
    UInt = 3, "uint", ["quint32", "unsigned", "unsigned int", "uint32_t"];
    LongLong = 4, "qlonglong", ["qint64", "long long", "int64_t"];
    ULongLong = 5, "qulonglong", ["quint64", "unsigned long long", "uint64_t"];
    Double = 6, "double", ["qreal"];
    QChar = 7, "QChar", [];
    VariantMap = 8, "QVariantMap", ["QMap<QString,QVariant>"];
    VariantList = 9, "QVariantList", ["QList<QVariant>", "QVector<QVariant>"];
    String = 10, "QString", [];
    StringList = 11, "QStringList", ["QList<QString>", "QVector<QString>"];
    ByteArray = 12, "QByteArray", [];
    Date = 14, "QDate", [];
    Time = 15, "QTime", [];
    DateTime = 16, "QDateTime", [];
    Url = 17, "QUrl", [];
    Rect = 19, "QRect", [];
    RectF = 20, "QRectF", [];
    Size = 21, "QSize", [];
    SizeF = 22, "QSizeF", [];
    Line = 23, "QLine", [];
    LineF = 24, "QLineF", [];
    Point = 25, "QPoint", [];
    PointF = 26, "QPointF", [];
    VariantHash = 28, "QVariantHash", ["QHash<QString,QVariant>"];
    Uuid = 30, "QUuid", [];
    Long = 32, "long", [];
    Short = 33, "short", ["qint16", "int16_t"];
    Char = 34, "char", [];
    ULong = 35, "ulong", ["unsigned long"];
    UShort = 36, "ushort", ["quint16", "unsigned short", "uint16_t"];
    UChar = 37, "uchar", ["quint8", "unsigned char", "uint8_t"];
    Float = 38, "float", [];
    SChar = 40, "signed char", ["qint8", "int8_t"];
    Variant = 41, "QVariant", [];
    ByteArrayList = 49, "QByteArrayList", ["QList<QByteArray>", "QVector<QByteArray>"];
    Color = 4099, "QColor", [];
}

/// A type as it travels: a built-in one, or one known by name.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum QtType {
    /// A `QMetaType` built-in.
    Builtin(Builtin),
    /// `QList<T>` or `QVector<T>` of a type that has no built-in list.
    List(Box<QtType>),
    /// `QMap<K, V>` (`hash: false`) or `QHash<K, V>` (`hash: true`).
    Map {
        /// `QHash` rather than `QMap`.
        hash: bool,
        /// The key type.
        key: Box<QtType>,
        /// The value type.
        value: Box<QtType>,
    },
    /// `std::pair<A, B>` or `QPair<A, B>`.
    Pair(Box<QtType>, Box<QtType>),
    /// Any other name: a gadget, an enum or one of QtRO's own types, resolved by a
    /// [`TypeRegistry`] when a value is read or written.
    Named(String),
}

impl QtType {
    /// Parses a C++ type name (`QMap<QString, QList<int>>`, `const QString &`, `MyPod`);
    /// `const`, references and spaces around punctuation are dropped.
    pub fn parse(name: &str) -> Result<QtType, QtDecodeError> {
        let normalized = normalize(name);
        let mut parser = NameParser {
            text: &normalized,
            at: 0,
            depth: 0,
        };
        let ty = parser.ty()?;
        if parser.at != normalized.len() {
            return Err(QtDecodeError::BadTypeName(name.to_owned()));
        }
        Ok(ty)
    }

    /// Its normalized C++ name, the one QtRO writes after id 65536.
    pub fn name(&self) -> String {
        match self {
            QtType::Builtin(b) => b.name().to_owned(),
            QtType::List(item) => format!("QList<{}>", item.name()),
            QtType::Map { hash, key, value } => format!(
                "{}<{},{}>",
                if *hash { "QHash" } else { "QMap" },
                key.name(),
                value.name()
            ),
            QtType::Pair(a, b) => format!("std::pair<{},{}>", a.name(), b.name()),
            QtType::Named(name) => name.clone(),
        }
    }

    /// The id a `QVariant` of this type carries.
    pub fn id(&self) -> u32 {
        match self {
            QtType::Builtin(b) => b.id(),
            _ => USER_TYPE,
        }
    }
}

/// Drops `const`, `&` and the spaces Qt's normalization removes (`QMap<QString, int>` →
/// `QMap<QString,int>`), keeping the ones inside names such as `unsigned int`.
fn normalize(name: &str) -> String {
    let mut words: Vec<&str> = Vec::new();
    let spaced = name
        .replace('&', " ")
        .replace('<', " < ")
        .replace('>', " > ");
    let spaced = spaced.replace(',', " , ");
    for word in spaced.split_whitespace() {
        if word != "const" {
            words.push(word);
        }
    }
    let mut out = String::new();
    for (i, word) in words.iter().enumerate() {
        let punct = |w: &str| matches!(w, "<" | ">" | ",");
        if i > 0 && !punct(word) && !punct(words[i - 1]) {
            out.push(' ');
        }
        out.push_str(word);
    }
    out
}

/// The nesting of template arguments a type name may have.
const MAX_NAME_DEPTH: usize = 32;

struct NameParser<'a> {
    text: &'a str,
    at: usize,
    depth: usize,
}

impl NameParser<'_> {
    fn ty(&mut self) -> Result<QtType, QtDecodeError> {
        let bad = || QtDecodeError::BadTypeName(self.text.to_owned());
        self.depth += 1;
        if self.depth > MAX_NAME_DEPTH {
            return Err(bad());
        }
        let start = self.at;
        let rest = &self.text[start..];
        let end = rest.find(['<', '>', ',']).unwrap_or(rest.len());
        let head = rest[..end].trim();
        if head.is_empty() {
            return Err(bad());
        }
        self.at += end;
        let mut args = Vec::new();
        if self.text[self.at..].starts_with('<') {
            self.at += 1;
            loop {
                args.push(self.ty()?);
                match self.text[self.at..].chars().next() {
                    Some(',') => self.at += 1,
                    Some('>') => {
                        self.at += 1;
                        break;
                    }
                    _ => return Err(bad()),
                }
            }
        }
        self.depth -= 1;
        let full = &self.text[start..self.at];
        if let Some(builtin) = Builtin::from_name(full) {
            return Ok(QtType::Builtin(builtin));
        }
        let mut args = args.into_iter();
        let two = |args: &mut std::vec::IntoIter<QtType>| match (args.next(), args.next()) {
            (Some(a), Some(b)) if args.len() == 0 => Ok((Box::new(a), Box::new(b))),
            _ => Err(bad()),
        };
        match (head, args.len()) {
            (_, 0) => Ok(QtType::Named(head.to_owned())),
            ("QList" | "QVector", 1) => Ok(QtType::List(Box::new(args.next().ok_or_else(bad)?))),
            ("QMap" | "QHash", 2) => {
                let (key, value) = two(&mut args)?;
                Ok(QtType::Map {
                    hash: head == "QHash",
                    key,
                    value,
                })
            }
            ("std::pair" | "QPair", 2) => {
                let (a, b) = two(&mut args)?;
                Ok(QtType::Pair(a, b))
            }
            _ => Err(QtDecodeError::UnknownType(full.to_owned())),
        }
    }
}

/// What a named type is, so that its payload can be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NamedType {
    /// A gadget (a repc `POD`): each of its properties as one whole `QVariant`, in order.
    Gadget {
        /// Its properties' names, in order.
        fields: Vec<String>,
    },
    /// An enum or a flag: its integer, `size` bytes wide.
    Enum {
        /// 1, 2 or 4.
        size: u8,
    },
    /// A plain struct of bare fields in order (QtRO's own types).
    Fields(Vec<QtType>),
    /// Another name for a type.
    Alias(QtType),
    /// `QRemoteObjectPackets::QRO_`: a sub-object, whose parameters are present unless it
    /// is null.
    SubObject,
}

/// The named types a connection can read and write.
#[derive(Debug, Clone)]
pub struct TypeRegistry {
    named: HashMap<String, NamedType>,
}

/// Qt Remote Objects' own types, as Qt 6 names them on the wire.
pub mod names {
    /// A sub-object or model property.
    pub const QRO: &str = "QRemoteObjectPackets::QRO_";
    /// A sequence of gadgets.
    pub const QSQ: &str = "QRemoteObjectPackets::QSQ_";
    /// An associative container of gadgets.
    pub const QAS: &str = "QRemoteObjectPackets::QAS_";
    /// A registry entry's details: type name and host URL.
    pub const LOCATION_INFO: &str = "QRemoteObjectSourceLocationInfo";
    /// One registry entry.
    pub const LOCATION: &str = "std::pair<QString,QRemoteObjectSourceLocationInfo>";
    /// The registry's whole map.
    pub const LOCATIONS: &str = "QHash<QString,QRemoteObjectSourceLocationInfo>";
    /// A model index as a path from the root.
    pub const INDEX_LIST: &str = "QList<ModelIndex>";
    /// One row position in a model path.
    pub const MODEL_INDEX: &str = "ModelIndex";
    /// One item's data in a model reply.
    pub const INDEX_VALUE_PAIR: &str = "IndexValuePair";
    /// A model row reply.
    pub const DATA_ENTRIES: &str = "DataEntries";
    /// A model cache reply.
    pub const META_AND_DATA_ENTRIES: &str = "MetaAndDataEntries";
}

impl Default for TypeRegistry {
    fn default() -> TypeRegistry {
        TypeRegistry::new()
    }
}

impl TypeRegistry {
    /// QtRO's own types and nothing else.
    pub fn new() -> TypeRegistry {
        use Builtin::*;
        let b = QtType::Builtin;
        let named = |n: &str| QtType::Named(n.to_owned());
        let list = |t: QtType| QtType::List(Box::new(t));
        let mut registry = TypeRegistry {
            named: HashMap::new(),
        };
        let mut add = |name: &str, ty: NamedType| {
            registry.named.insert(name.to_owned(), ty);
        };
        add(names::QRO, NamedType::SubObject);
        add(
            names::QSQ,
            NamedType::Fields(vec![b(ByteArray), b(ByteArray), b(ByteArray)]),
        );
        add(
            names::QAS,
            NamedType::Fields(vec![b(ByteArray), b(ByteArray), b(ByteArray), b(ByteArray)]),
        );
        add(
            names::LOCATION_INFO,
            NamedType::Fields(vec![b(String), b(Url)]),
        );
        add(
            "QRemoteObjectSourceLocation",
            NamedType::Alias(QtType::Pair(
                Box::new(b(String)),
                Box::new(named(names::LOCATION_INFO)),
            )),
        );
        add(
            "QRemoteObjectSourceLocations",
            NamedType::Alias(QtType::Map {
                hash: true,
                key: Box::new(b(String)),
                value: Box::new(named(names::LOCATION_INFO)),
            }),
        );
        add(names::MODEL_INDEX, NamedType::Fields(vec![b(Int), b(Int)]));
        add(
            names::INDEX_VALUE_PAIR,
            NamedType::Fields(vec![
                list(named(names::MODEL_INDEX)),
                b(VariantList),
                b(Bool),
                b(Int),
                list(named(names::INDEX_VALUE_PAIR)),
                b(Size),
            ]),
        );
        add(
            names::DATA_ENTRIES,
            NamedType::Alias(list(named(names::INDEX_VALUE_PAIR))),
        );
        add(
            names::META_AND_DATA_ENTRIES,
            NamedType::Fields(vec![
                list(named(names::INDEX_VALUE_PAIR)),
                list(b(Int)),
                b(Size),
            ]),
        );
        // Enums of Qt's own that QtRO's model adapter sends in containers.
        for name in [
            "Qt::Orientation",
            "Qt::ItemFlags",
            "QItemSelectionModel::SelectionFlags",
        ] {
            add(name, NamedType::Enum { size: 4 });
        }
        registry
    }

    /// Adds a gadget (a repc `POD`) with its property names, in order.
    pub fn add_gadget(&mut self, name: &str, fields: Vec<String>) {
        self.named
            .insert(name.to_owned(), NamedType::Gadget { fields });
    }

    /// Adds an enum or flag of `size` bytes.
    pub fn add_enum(&mut self, name: &str, size: u8) {
        self.named.insert(name.to_owned(), NamedType::Enum { size });
    }

    /// What `name` is, if known.
    pub fn get(&self, name: &str) -> Option<&NamedType> {
        self.named.get(name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_parse_and_print_normalized() {
        let cases = [
            ("int", "int"),
            ("qint32", "int"),
            ("QList<int>", "QList<int>"),
            ("QVector<double>", "QList<double>"),
            ("QMap<QString, int>", "QMap<QString,int>"),
            ("const QString &", "QString"),
            ("QList<QString>", "QStringList"),
            ("QHash<QString,QVariant>", "QVariantHash"),
            (
                "QList<QMap<int, QList<MyPod>>>",
                "QList<QMap<int,QList<MyPod>>>",
            ),
            ("unsigned int", "uint"),
            ("signed char", "signed char"),
            (names::LOCATION, names::LOCATION),
            ("Demo::Mode", "Demo::Mode"),
        ];
        for (given, printed) in cases {
            assert_eq!(QtType::parse(given).unwrap().name(), printed, "{given}");
        }
    }

    #[test]
    fn malformed_names_are_refused() {
        for bad in [
            "",
            "QList<",
            "QList<int",
            "QMap<int>",
            "QList<int,int>",
            "a<b>",
            "<>",
        ] {
            assert!(QtType::parse(bad).is_err(), "{bad:?}");
        }
        let deep = format!("{}int{}", "QList<".repeat(100), ">".repeat(100));
        assert!(QtType::parse(&deep).is_err());
    }

    #[test]
    fn builtin_ids_match_qmetatype() {
        assert_eq!(Builtin::from_id(38), Some(Builtin::Float));
        assert_eq!(Builtin::from_name("QColor").map(Builtin::id), Some(0x1003));
        assert_eq!(Builtin::from_id(65_536), None);
    }
}
