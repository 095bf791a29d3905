//! The first difference between two descriptions of an API, in words: what a signature
//! mismatch error names, so a user learns *what* differs and not only that two hashes do.

use std::collections::{BTreeMap, HashSet};

use super::schema::{ApiSchema, Field, MemberSchema, TypeDef, TypeFormat, VariantShape};

/// Where `here` (this side's API) first differs from `there` (the source's), or `None` if
/// they describe the same API.
pub fn first_difference(here: &ApiSchema, there: &ApiSchema) -> Option<String> {
    if here.api != there.api {
        return Some(format!(
            "the API is `{}` here and `{}` at the source",
            here.api, there.api
        ));
    }
    let mut types = Types {
        here: &here.types,
        there: &there.types,
        seen: HashSet::new(),
    };
    properties(here, there, &mut types)
        .or_else(|| members("signal", &here.signals, &there.signals, &mut types))
        .or_else(|| members("slot", &here.slots, &there.slots, &mut types))
}

/// Both sides' named types, and the pairs already compared (types may be recursive).
struct Types<'a> {
    here: &'a BTreeMap<String, TypeDef>,
    there: &'a BTreeMap<String, TypeDef>,
    seen: HashSet<String>,
}

/// `things` counted on both sides, if the counts differ (`things` is plural).
fn count(things: &str, here: usize, there: usize) -> Option<String> {
    (here != there).then(|| format!("{here} {things} here and {there} at the source"))
}

fn properties(here: &ApiSchema, there: &ApiSchema, types: &mut Types<'_>) -> Option<String> {
    for (a, b) in here.properties.iter().zip(&there.properties) {
        if a.name != b.name {
            return Some(format!(
                "a property is `{}` here and `{}` at the source",
                a.name, b.name
            ));
        }
        let at = format!("property {}", a.name);
        if a.access != b.access {
            return Some(format!(
                "{at} is {:?} here and {:?} at the source",
                a.access, b.access
            ));
        }
        if a.persisted != b.persisted {
            let persisted = |p| if p { "persisted" } else { "not persisted" };
            return Some(format!(
                "{at} is {} here and {} at the source",
                persisted(a.persisted),
                persisted(b.persisted)
            ));
        }
        if let Some(difference) = format_difference(&at, &a.format, &b.format, types) {
            return Some(difference);
        }
        if a.type_name != b.type_name {
            return Some(format!(
                "{at} is of type `{}` here and `{}` at the source",
                a.type_name, b.type_name
            ));
        }
    }
    count("properties", here.properties.len(), there.properties.len())
}

fn members(
    kind: &str,
    here: &[MemberSchema],
    there: &[MemberSchema],
    types: &mut Types<'_>,
) -> Option<String> {
    for (a, b) in here.iter().zip(there) {
        if a.name != b.name {
            return Some(format!(
                "a {kind} is `{}` here and `{}` at the source",
                a.name, b.name
            ));
        }
        let at = format!("{kind} {}", a.name);
        if let Some(difference) = fields(&at, "argument", &a.args, &b.args, types) {
            return Some(difference);
        }
        let returns = format!("{at} returns");
        if let Some(difference) = format_difference(&returns, &a.returns, &b.returns, types) {
            return Some(difference);
        }
    }
    count(&format!("{kind}s"), here.len(), there.len())
}

fn fields(
    at: &str,
    what: &str,
    here: &[Field],
    there: &[Field],
    types: &mut Types<'_>,
) -> Option<String> {
    for (i, (a, b)) in here.iter().zip(there).enumerate() {
        if a.name != b.name {
            return Some(format!(
                "{at}: {what} {i} is `{}` here and `{}` at the source",
                a.name, b.name
            ));
        }
        let inner = format!("{at}: {what} `{}`", a.name);
        if let Some(difference) = format_difference(&inner, &a.format, &b.format, types) {
            return Some(difference);
        }
    }
    count(&format!("{what}s"), here.len(), there.len()).map(|c| format!("{at}: {c}"))
}

fn format_difference(
    at: &str,
    here: &TypeFormat,
    there: &TypeFormat,
    types: &mut Types<'_>,
) -> Option<String> {
    use TypeFormat::*;
    match (here, there) {
        (Named(a), Named(b)) if a == b => named(at, a, types),
        (Option(a), Option(b)) | (Seq(a), Seq(b)) => format_difference(at, a, b, types),
        (Map(ka, va), Map(kb, vb)) => format_difference(&format!("{at} (key)"), ka, kb, types)
            .or_else(|| format_difference(&format!("{at} (value)"), va, vb, types)),
        (Array(a, n), Array(b, m)) if n == m => format_difference(at, a, b, types),
        (Tuple(a), Tuple(b)) if a.len() == b.len() => a
            .iter()
            .zip(b)
            .enumerate()
            .find_map(|(i, (a, b))| format_difference(&format!("{at}.{i}"), a, b, types)),
        _ if here == there => None,
        _ => Some(format!(
            "{at} is `{}` here and `{}` at the source",
            describe(here),
            describe(there)
        )),
    }
}

/// Compares the definitions of type `name` on both sides (once).
fn named(at: &str, name: &str, types: &mut Types<'_>) -> Option<String> {
    if !types.seen.insert(name.to_owned()) {
        return None;
    }
    let (Some(here), Some(there)) = (types.here.get(name), types.there.get(name)) else {
        return None;
    };
    match (here, there) {
        (TypeDef::Struct(a), TypeDef::Struct(b)) => {
            fields(&format!("{at}: struct {name}"), "field", a, b, types)
        }
        (TypeDef::Enum(a), TypeDef::Enum(b)) => {
            for (i, (va, vb)) in a.iter().zip(b).enumerate() {
                let enum_at = format!("{at}: enum {name}");
                if va.name != vb.name {
                    return Some(format!(
                        "{enum_at} variant {i} is `{}` here and `{}` at the source",
                        va.name, vb.name
                    ));
                }
                let variant_at = format!("{enum_at} variant {}", va.name);
                let difference = match (&va.shape, &vb.shape) {
                    (VariantShape::Unit, VariantShape::Unit) => None,
                    (VariantShape::Newtype(x), VariantShape::Newtype(y)) => {
                        format_difference(&variant_at, x, y, types)
                    }
                    (VariantShape::Tuple(x), VariantShape::Tuple(y)) => format_difference(
                        &variant_at,
                        &TypeFormat::Tuple(x.clone()),
                        &TypeFormat::Tuple(y.clone()),
                        types,
                    ),
                    (VariantShape::Struct(x), VariantShape::Struct(y)) => {
                        fields(&variant_at, "field", x, y, types)
                    }
                    _ => Some(format!(
                        "{variant_at} carries something else here than at the source"
                    )),
                };
                if difference.is_some() {
                    return difference;
                }
            }
            (a.len() != b.len()).then(|| {
                format!(
                    "{at}: enum {name} has {} variants here and {} at the source",
                    a.len(),
                    b.len()
                )
            })
        }
        (TypeDef::NewtypeStruct(a), TypeDef::NewtypeStruct(b)) => {
            format_difference(&format!("{at}: struct {name}"), a, b, types)
        }
        (TypeDef::TupleStruct(a), TypeDef::TupleStruct(b)) => format_difference(
            &format!("{at}: struct {name}"),
            &TypeFormat::Tuple(a.clone()),
            &TypeFormat::Tuple(b.clone()),
            types,
        ),
        (a, b) if a == b => None,
        (a, b) => Some(format!(
            "{at}: `{name}` is {} here and {} at the source",
            kind(a),
            kind(b)
        )),
    }
}

fn kind(def: &TypeDef) -> &'static str {
    match def {
        TypeDef::UnitStruct => "a unit struct",
        TypeDef::NewtypeStruct(_) => "a newtype struct",
        TypeDef::TupleStruct(_) => "a tuple struct",
        TypeDef::Struct(_) => "a struct",
        TypeDef::Enum(_) => "an enum",
    }
}

/// A format as Rust would spell it, near enough.
fn describe(format: &TypeFormat) -> String {
    use TypeFormat::*;
    match format {
        Named(name) => name.clone(),
        Unit => "()".into(),
        Bool => "bool".into(),
        I8 => "i8".into(),
        I16 => "i16".into(),
        I32 => "i32".into(),
        I64 => "i64".into(),
        I128 => "i128".into(),
        U8 => "u8".into(),
        U16 => "u16".into(),
        U32 => "u32".into(),
        U64 => "u64".into(),
        U128 => "u128".into(),
        F32 => "f32".into(),
        F64 => "f64".into(),
        Char => "char".into(),
        Str => "String".into(),
        Bytes => "bytes".into(),
        Option(inner) => format!("Option<{}>", describe(inner)),
        Seq(inner) => format!("Vec<{}>", describe(inner)),
        Map(k, v) => format!("Map<{}, {}>", describe(k), describe(v)),
        Tuple(items) => format!(
            "({})",
            items.iter().map(describe).collect::<Vec<_>>().join(", ")
        ),
        Array(inner, n) => format!("[{}; {n}]", describe(inner)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::values::schema::{AccessFlag, PropertySchema, Variant};

    fn api(format: TypeFormat, types: BTreeMap<String, TypeDef>) -> ApiSchema {
        ApiSchema {
            api: "Printer".into(),
            signature: 1,
            properties: vec![PropertySchema {
                name: "status".into(),
                type_name: "Status".into(),
                format,
                access: AccessFlag::ReadOnly,
                persisted: false,
            }],
            signals: vec![],
            slots: vec![],
            types,
            children: Vec::new(),
        }
    }

    fn status(variants: &[&str]) -> ApiSchema {
        let variants = variants
            .iter()
            .enumerate()
            .map(|(i, name)| Variant {
                index: i as u32,
                name: (*name).into(),
                shape: VariantShape::Unit,
            })
            .collect();
        let types = BTreeMap::from([("Status".to_owned(), TypeDef::Enum(variants))]);
        api(TypeFormat::Named("Status".into()), types)
    }

    fn point(fields: &[(&str, TypeFormat)]) -> ApiSchema {
        let fields = fields
            .iter()
            .map(|(name, format)| Field {
                name: (*name).into(),
                format: format.clone(),
            })
            .collect();
        let types = BTreeMap::from([("Status".to_owned(), TypeDef::Struct(fields))]);
        api(TypeFormat::Named("Status".into()), types)
    }

    #[test]
    fn the_same_api_has_no_difference() {
        let a = status(&["Idle", "Jammed"]);
        assert_eq!(first_difference(&a, &a.clone()), None);
    }

    #[test]
    fn a_renamed_variant_is_named_with_its_index() {
        let here = status(&["Idle", "Printing", "Jammed"]);
        let there = status(&["Idle", "Printing", "OutOfPaper"]);
        assert_eq!(
            first_difference(&here, &there).as_deref(),
            Some("property status: enum Status variant 2 is `Jammed` here and `OutOfPaper` at the source")
        );
        let more = status(&["Idle", "Printing", "Jammed", "Off"]);
        assert_eq!(
            first_difference(&here, &more).as_deref(),
            Some("property status: enum Status has 3 variants here and 4 at the source")
        );
    }

    #[test]
    fn swapped_added_and_retyped_fields_are_named() {
        use TypeFormat::{U32, U64};
        let here = point(&[("x", U32), ("y", U32)]);
        assert_eq!(
            first_difference(&here, &point(&[("y", U32), ("x", U32)])).as_deref(),
            Some("property status: struct Status: field 0 is `x` here and `y` at the source")
        );
        assert_eq!(
            first_difference(&here, &point(&[("x", U32), ("y", U32), ("z", U32)])).as_deref(),
            Some("property status: struct Status: 2 fields here and 3 at the source")
        );
        assert_eq!(
            first_difference(&here, &point(&[("x", U32), ("y", U64)])).as_deref(),
            Some("property status: struct Status: field `y` is `u32` here and `u64` at the source")
        );
    }

    #[test]
    fn recursive_types_are_compared_once() {
        let list = |leaf: TypeFormat| {
            let node = TypeDef::Struct(vec![
                Field {
                    name: "value".into(),
                    format: leaf,
                },
                Field {
                    name: "next".into(),
                    format: TypeFormat::Option(Box::new(TypeFormat::Named("Status".into()))),
                },
            ]);
            api(
                TypeFormat::Named("Status".into()),
                BTreeMap::from([("Status".to_owned(), node)]),
            )
        };
        assert_eq!(
            first_difference(&list(TypeFormat::U8), &list(TypeFormat::U8)),
            None
        );
        assert!(first_difference(&list(TypeFormat::U8), &list(TypeFormat::I8)).is_some());
    }
}
