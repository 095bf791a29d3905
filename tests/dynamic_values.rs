//! Dynamic values against every shape of type, both directions, without a network: typed
//! bytes decode to the right `Value`, a `Value` built from JSON encodes to the bytes the typed
//! code decodes, and re-encoding is byte-identical.

use std::collections::{BTreeMap, HashMap};

use actix_remote_objects::dynamic::{codec, TypeFormat, Value};
use actix_remote_objects::{remote_object, Encoding, RemoteObject};
use serde::{Deserialize, Serialize};
use serde_json::json;

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Point {
    pub x: f64,
    pub y: f64,
    pub label: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub enum Shape {
    #[default]
    Empty,
    Circle(f32),
    Segment(Point, Point),
    Box {
        corner: Point,
        size: (u16, u16),
    },
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Marker;

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Meters(pub u32);

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Rgb(pub u8, pub u8, pub u8);

remote_object! {
    pub Shapes {
        prop flag: bool;
        prop small: i8;
        prop wide: i128;
        prop huge: u128;
        prop ratio: f32;
        prop precise: f64;
        prop letter: char = 'x';
        prop text: String;
        prop blob: serde_bytes::ByteBuf;
        prop maybe: Option<u64>;
        prop list: Vec<i32>;
        prop table: BTreeMap<String, u16>;
        prop index: HashMap<u32, bool>;
        prop pair: (u8, String);
        prop triple: [u8; 3];
        prop point: Point;
        prop shape: Shape;
        prop marker: Marker;
        prop distance: Meters;
        prop color: Rgb;
        signal moved(from: Point, to: Point);
        slot scale(shape: Shape, by: f64) -> Shape;
    }
}

fn enc() -> Encoding {
    Encoding::Bincode
}

fn encodings() -> Vec<Encoding> {
    vec![
        Encoding::Bincode,
        #[cfg(feature = "postcard")]
        Encoding::Postcard,
    ]
}

/// Typed value → bytes → dynamic Value (checked against `expected` JSON) → JSON → Value →
/// bytes (identical) → typed value (equal).
fn round_trip<T>(property: &str, typed: T, expected: serde_json::Value)
where
    T: Serialize + for<'de> Deserialize<'de> + PartialEq + std::fmt::Debug,
{
    let schema = Shapes::schema().unwrap();
    let (_, prop) = schema.property(property).unwrap();
    for enc in encodings() {
        let bytes = enc.encode(&typed).unwrap();

        let value = codec::decode(&bytes, &prop.format, &schema.types, enc).unwrap();
        assert_eq!(
            value.to_json(),
            expected,
            "{property} ({enc}): typed -> dynamic"
        );

        let from_json = Value::from_json(&expected, &prop.format, &schema.types).unwrap();
        let again = codec::encode(&from_json, &prop.format, &schema.types, enc).unwrap();
        assert_eq!(again, bytes, "{property} ({enc}): dynamic -> same bytes");
        assert_eq!(
            enc.decode::<T>(&again).unwrap(),
            typed,
            "{property} ({enc}): dynamic -> typed"
        );
    }
}

#[test]
fn the_schema_describes_every_member_and_type() {
    let schema = Shapes::schema().unwrap();
    assert_eq!(
        (schema.api.as_str(), schema.signature),
        ("Shapes", Shapes::signature())
    );
    assert_eq!(schema.properties.len(), 20);
    assert_eq!(schema.properties[0].format, TypeFormat::Bool);
    assert_eq!(schema.property("blob").unwrap().1.format, TypeFormat::Bytes);
    assert_eq!(
        schema.property("triple").unwrap().1.format,
        TypeFormat::Array(Box::new(TypeFormat::U8), 3)
    );
    for name in ["Point", "Shape", "Marker", "Meters", "Rgb"] {
        assert!(schema.types.contains_key(name), "{name} is described");
    }
    let (_, scale) = schema.slot("scale").unwrap();
    assert_eq!(
        scale
            .args
            .iter()
            .map(|a| a.name.as_str())
            .collect::<Vec<_>>(),
        ["shape", "by"]
    );
    assert_eq!(scale.returns, TypeFormat::Named("Shape".into()));
}

#[test]
fn primitives() {
    round_trip("flag", true, json!(true));
    round_trip("small", -7i8, json!(-7));
    round_trip("wide", i128::MIN, json!(i128::MIN.to_string()));
    round_trip("huge", u128::MAX, json!(u128::MAX.to_string()));
    round_trip("ratio", 0.5f32, json!(0.5));
    round_trip("precise", -1.25e10f64, json!(-1.25e10));
    round_trip("letter", 'λ', json!("λ"));
    round_trip("text", "héllo".to_string(), json!("héllo"));
    round_trip(
        "blob",
        serde_bytes::ByteBuf::from(vec![0u8, 255, 7]),
        json!([0, 255, 7]),
    );
}

#[test]
fn options_sequences_maps_tuples_and_arrays() {
    round_trip("maybe", Some(5u64), json!(5));
    round_trip("maybe", None::<u64>, json!(null));
    round_trip("list", vec![1i32, -2, 3], json!([1, -2, 3]));
    round_trip(
        "table",
        BTreeMap::from([("a".to_string(), 1u16), ("b".to_string(), 2)]),
        json!({"a": 1, "b": 2}),
    );
    round_trip("index", HashMap::from([(9u32, true)]), json!([[9, true]]));
    round_trip("pair", (3u8, "three".to_string()), json!([3, "three"]));
    round_trip("triple", [1u8, 2, 3], json!([1, 2, 3]));
}

#[test]
fn structs_enums_and_named_wrappers() {
    let p = |x, y| Point { x, y, label: None };
    round_trip(
        "point",
        Point {
            x: 1.0,
            y: 2.0,
            label: Some("a".into()),
        },
        json!({"x": 1.0, "y": 2.0, "label": "a"}),
    );
    round_trip("shape", Shape::Empty, json!("Empty"));
    round_trip("shape", Shape::Circle(2.5), json!({"Circle": 2.5}));
    round_trip(
        "shape",
        Shape::Segment(p(0.0, 0.0), p(1.0, 1.0)),
        json!({"Segment": [{"x": 0.0, "y": 0.0, "label": null}, {"x": 1.0, "y": 1.0, "label": null}]}),
    );
    round_trip(
        "shape",
        Shape::Box {
            corner: p(3.0, 4.0),
            size: (5, 6),
        },
        json!({"Box": {"corner": {"x": 3.0, "y": 4.0, "label": null}, "size": [5, 6]}}),
    );
    round_trip("marker", Marker, json!(null));
    round_trip("distance", Meters(12), json!(12));
    round_trip("color", Rgb(1, 2, 3), json!([1, 2, 3]));
}

#[test]
fn slot_and_signal_arguments_encode_as_their_messages() {
    let schema = Shapes::schema().unwrap();
    let (_, scale) = schema.slot("scale").unwrap();
    let args = [
        Value::from_json(
            &json!({"Circle": 1.5}),
            &scale.args[0].format,
            &schema.types,
        )
        .unwrap(),
        Value::Float(2.0),
    ];
    let bytes = codec::encode_args(&args, &scale.args, &schema.types, enc()).unwrap();
    let typed: shapes::Scale = enc().decode(&bytes).unwrap();
    assert_eq!((typed.shape, typed.by), (Shape::Circle(1.5), 2.0));

    let (_, moved) = schema.signal("moved").unwrap();
    let signal = shapes::Moved {
        from: Point::default(),
        to: Point {
            x: 1.0,
            ..Default::default()
        },
    };
    let decoded = codec::decode_args(
        &enc().encode(&signal).unwrap(),
        &moved.args,
        &schema.types,
        enc(),
    )
    .unwrap();
    assert_eq!(decoded[0].0, "from");
    assert_eq!(
        decoded[1].1.to_json(),
        json!({"x": 1.0, "y": 0.0, "label": null})
    );
}

#[test]
fn values_of_the_wrong_shape_are_typed_errors_naming_where() {
    let schema = Shapes::schema().unwrap();
    let format = &schema.property("shape").unwrap().1.format;
    let cases = [
        (json!("Triangle"), "$"),
        (json!({"Circle": "big"}), "$.Circle"),
        (
            json!({"Box": {"corner": {"x": 1.0, "y": 2.0}, "size": [1]}}),
            "$.Box.size",
        ),
        (
            json!({"Box": {"corner": {"x": 1.0}, "size": [1, 2]}}),
            "$.Box.corner.y",
        ),
    ];
    for (json, path) in cases {
        let error = Value::from_json(&json, format, &schema.types).unwrap_err();
        assert_eq!(error.path, path, "{json}: {error}");
    }
    let small = &schema.property("small").unwrap().1.format;
    assert!(
        Value::from_json(&json!(300), small, &schema.types).is_err(),
        "300 does not fit an i8"
    );
    // Encoding a hand-built value of the wrong shape is refused before anything is written.
    let error = codec::encode(&Value::Str("no".into()), format, &schema.types, enc()).unwrap_err();
    assert!(matches!(error, codec::ValueError::Shape(_)), "{error}");
}

#[test]
fn bytes_that_do_not_decode_are_errors_not_panics() {
    let schema = Shapes::schema().unwrap();
    let format = &schema.property("shape").unwrap().1.format;
    for bytes in [
        &[][..],
        &[9][..],
        &[3, 1][..],
        &[255, 255, 255, 255, 255][..],
    ] {
        assert!(
            codec::decode(bytes, format, &schema.types, enc()).is_err(),
            "{bytes:?}"
        );
    }
}

/// A recursive type: the decoder must refuse too-deep nesting instead of overflowing.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Tree {
    pub children: Vec<Tree>,
    pub label: Option<Box<Tree>>,
}

remote_object! {
    pub Forest {
        prop tree: Tree;
        prop shape: Shape;
    }
}

#[test]
fn random_bytes_never_panic_the_dynamic_decoder() {
    let schema = Forest::schema().unwrap();
    let mut rng = fastrand::Rng::with_seed(0xf00d);
    for property in &schema.properties {
        for _ in 0..20_000 {
            let bytes: Vec<u8> = (0..rng.usize(0..48)).map(|_| rng.u8(..)).collect();
            let _ = codec::decode(&bytes, &property.format, &schema.types, enc());
        }
    }
    // Deep nesting, as a hostile peer would send it: `label: Some(Tree { label: Some(…) })`.
    let deep: Vec<u8> = std::iter::repeat_n([0u8, 1u8], 100_000).flatten().collect();
    let (_, tree) = schema.property("tree").unwrap();
    assert!(codec::decode(&deep, &tree.format, &schema.types, enc()).is_err());
}

/// Regression: an enum held by a struct's field (a model row of `QVariant`s) was traced to
/// its first variant only, and describing the API failed with "missing variants".
#[test]
fn an_enum_in_a_structs_field_is_traced_to_every_variant() {
    #[derive(Deserialize)]
    #[allow(dead_code)]
    enum Mood {
        Calm,
        Loud(u8),
        Named { name: String },
    }
    #[derive(Deserialize)]
    #[allow(dead_code)]
    struct Row {
        title: String,
        mood: Mood,
    }
    let mut builder = actix_remote_objects::dynamic::schema::SchemaBuilder::default();
    builder.trace::<Row>().unwrap();
    let types = builder.types().expect("every variant traced");
    let variants = types
        .iter()
        .find_map(|(name, def)| match def {
            actix_remote_objects::dynamic::TypeDef::Enum(v) if name.ends_with("Mood") => Some(v),
            _ => None,
        })
        .expect("the enum is described");
    assert_eq!(variants.len(), 3);
}
