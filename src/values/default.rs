//! The value each type starts with in a source built at run time: zero, empty, `None`,
//! `false`; a struct of its fields' defaults; an enum's first variant that can be built.

use std::collections::BTreeMap;

use super::schema::{ApiSchema, TypeDef, TypeFormat, VariantShape};
use super::value::Value;

impl ApiSchema {
    /// The value a property (or a slot's result) of `format` starts with when nothing else
    /// is given: `0`, `""`, `false`, `None`, empty sequences and maps, structs of their
    /// fields' defaults, and an enum's first variant that has a finite value. Errors for a
    /// schema that fails [`ApiSchema::check`].
    pub fn default_value(&self, format: &TypeFormat) -> Result<Value, String> {
        self.check()?;
        if let Some(name) = format.names().find(|n| !self.types.contains_key(*n)) {
            return Err(format!("the schema does not define type {name}"));
        }
        let ranks = self.finite_types();
        Ok(Defaults {
            schema: self,
            ranks: &ranks,
        }
        .of(format, usize::MAX))
    }
}

struct Defaults<'a> {
    schema: &'a ApiSchema,
    /// Every named type, with the rank `finite_types` gave it (all are finite: `check`ed).
    ranks: &'a BTreeMap<&'a str, usize>,
}

impl Defaults<'_> {
    /// The default of `format`, built from named types of rank below `below` only. Every
    /// named type is built from lower ranks, so the recursion ends.
    fn of(&self, format: &TypeFormat, below: usize) -> Value {
        use TypeFormat as T;
        match format {
            T::Unit => Value::Unit,
            T::Bool => Value::Bool(false),
            T::I8 | T::I16 | T::I32 | T::I64 => Value::Int(0),
            T::U8 | T::U16 | T::U32 | T::U64 => Value::UInt(0),
            T::I128 => Value::I128(0),
            T::U128 => Value::U128(0),
            T::F32 | T::F64 => Value::Float(0.0),
            T::Char => Value::Char('\0'),
            T::Str => Value::Str(String::new()),
            T::Bytes => Value::Bytes(Vec::new()),
            T::Option(_) => Value::Option(None),
            T::Seq(_) => Value::Seq(Vec::new()),
            T::Map(..) => Value::Map(Vec::new()),
            T::Tuple(items) => Value::Tuple(items.iter().map(|f| self.of(f, below)).collect()),
            T::Array(inner, n) => Value::Seq((0..*n).map(|_| self.of(inner, below)).collect()),
            T::Named(name) => self.named(name, below),
        }
    }

    fn named(&self, name: &str, below: usize) -> Value {
        let (Some(def), Some(&rank)) = (self.schema.types.get(name), self.ranks.get(name)) else {
            // `check` found every named type defined and finite.
            return Value::Unit;
        };
        let rank = rank.min(below.saturating_sub(1));
        let fields = |fields: &[super::schema::Field]| {
            Value::Struct(
                fields
                    .iter()
                    .map(|f| (f.name.clone(), self.of(&f.format, rank)))
                    .collect(),
            )
        };
        match def {
            TypeDef::UnitStruct => Value::Unit,
            TypeDef::NewtypeStruct(inner) => self.of(inner, rank),
            TypeDef::TupleStruct(items) => {
                Value::Tuple(items.iter().map(|f| self.of(f, rank)).collect())
            }
            TypeDef::Struct(list) => fields(list),
            TypeDef::Enum(variants) => {
                let buildable = |f: &TypeFormat| {
                    f.is_finite(&|n: &str| self.ranks.get(n).is_some_and(|&r| r < rank))
                };
                let Some(variant) = variants.iter().find(|v| v.shape.formats().all(buildable))
                else {
                    return Value::Unit;
                };
                let value = match &variant.shape {
                    VariantShape::Unit => Value::Unit,
                    VariantShape::Newtype(inner) => self.of(inner, rank),
                    VariantShape::Tuple(items) => {
                        Value::Tuple(items.iter().map(|f| self.of(f, rank)).collect())
                    }
                    VariantShape::Struct(list) => fields(list),
                };
                Value::Variant {
                    name: variant.name.clone(),
                    value: Box::new(value),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::values::schema::{Field, Variant};

    fn schema(types: Vec<(&str, TypeDef)>) -> ApiSchema {
        ApiSchema {
            api: "T".into(),
            signature: 0,
            properties: vec![],
            signals: vec![],
            slots: vec![],
            types: types.into_iter().map(|(n, d)| (n.to_owned(), d)).collect(),
            children: Vec::new(),
        }
    }

    fn named(name: &str) -> TypeFormat {
        TypeFormat::Named(name.to_owned())
    }

    #[test]
    fn primitives_and_containers_start_empty() {
        let s = schema(vec![]);
        let tuple = TypeFormat::Tuple(vec![
            TypeFormat::U8,
            TypeFormat::Str,
            TypeFormat::Option(Box::new(TypeFormat::Bool)),
        ]);
        assert_eq!(
            s.default_value(&tuple).unwrap(),
            Value::Tuple(vec![
                Value::UInt(0),
                Value::Str(String::new()),
                Value::Option(None)
            ])
        );
    }

    #[test]
    fn an_enum_starts_with_the_first_variant_that_can_be_built() {
        // enum A { X(B), Y }, enum B { P(A) }: A's X needs B, which needs A again; only Y
        // ends, so A starts as Y and B as P(Y).
        let s = schema(vec![
            (
                "A",
                TypeDef::Enum(vec![
                    Variant {
                        index: 0,
                        name: "X".into(),
                        shape: VariantShape::Newtype(named("B")),
                    },
                    Variant {
                        index: 1,
                        name: "Y".into(),
                        shape: VariantShape::Unit,
                    },
                ]),
            ),
            (
                "B",
                TypeDef::Enum(vec![Variant {
                    index: 0,
                    name: "P".into(),
                    shape: VariantShape::Newtype(named("A")),
                }]),
            ),
        ]);
        let y = Value::Variant {
            name: "Y".into(),
            value: Box::new(Value::Unit),
        };
        assert_eq!(s.default_value(&named("A")).unwrap(), y);
        assert_eq!(
            s.default_value(&named("B")).unwrap(),
            Value::Variant {
                name: "P".into(),
                value: Box::new(y)
            }
        );
    }

    #[test]
    fn a_struct_is_its_fields_defaults_and_a_bad_schema_is_refused() {
        let s = schema(vec![(
            "P",
            TypeDef::Struct(vec![Field {
                name: "x".into(),
                format: TypeFormat::F64,
            }]),
        )]);
        assert_eq!(
            s.default_value(&named("P")).unwrap(),
            Value::Struct(vec![("x".into(), Value::Float(0.0))])
        );
        assert!(s.default_value(&named("Missing")).is_err());
    }
}
