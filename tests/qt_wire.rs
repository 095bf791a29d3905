//! The Qt Remote Objects 2.0 codec against bytes real Qt 6.4.2 wrote: the golden `QVariant`
//! vectors (made with PyQt6) and four captured sessions (static, dynamic, registry,
//! sub-object and model). Every frame decodes and re-encodes to exactly its bytes.

use actix_remote_objects::wire::qt::{
    Builtin, Order, QVariant, QtPacket, QtType, Reader, TimeSpec, TypeRegistry, UserValue,
};

#[path = "support/mutate.rs"]
#[allow(dead_code)]
mod mutate;

fn data(name: &str) -> String {
    let path = format!("{}/tests/data/qt/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn hex(text: &str) -> Vec<u8> {
    let digits: String = text.split_whitespace().collect();
    (0..digits.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&digits[i..i + 2], 16).expect("hex"))
        .collect()
}

/// The golden vectors, by their label in `qvariant_vectors.txt`.
fn golden(label: &str) -> Vec<u8> {
    let text = data("qvariant_vectors.txt");
    let line = text
        .lines()
        .find(|l| l.starts_with(label) && l[label.len()..].starts_with("  "))
        .unwrap_or_else(|| panic!("no vector {label:?}"));
    hex(&line[label.len()..])
}

#[test]
fn every_golden_vector_is_byte_identical_both_ways() {
    let types = TypeRegistry::new();
    let uuid = [
        0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef, 0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd,
        0xef,
    ];
    let cases = [
        ("int 5", QVariant::Int(5)),
        ("double 1.5", QVariant::Double(1.5)),
        ("bool true", QVariant::Bool(true)),
        ("QString \"hi\"", QVariant::String("hi".into())),
        ("QString \"\"", QVariant::String(String::new())),
        ("QByteArray b\"ab\"", QVariant::ByteArray(b"ab".to_vec())),
        (
            "QVariantList [1,\"a\"]",
            QVariant::List(vec![QVariant::Int(1), QVariant::String("a".into())]),
        ),
        (
            "QVariantMap {\"k\":1}",
            QVariant::Map {
                hash: false,
                entries: vec![("k".into(), QVariant::Int(1))],
            },
        ),
        ("QUrl tcp://h:1", QVariant::Url("tcp://h:1".into())),
        ("QSize(3,4)", QVariant::Size(3, 4)),
        ("QPoint(1,2)", QVariant::Point(1, 2)),
        (
            "QDateTime 2024-01-02T03:04:05.006Z",
            QVariant::DateTime {
                date: 2_460_312,
                time: ((3 * 60 + 4) * 60 + 5) * 1000 + 6,
                spec: TimeSpec::Utc,
            },
        ),
        ("QUuid", QVariant::Uuid(uuid)),
        ("invalid QVariant()", QVariant::Invalid),
        ("float 1.5", QVariant::Float(1.5)),
        ("qint64 5", QVariant::LongLong(5)),
        ("uint 5", QVariant::UInt(5)),
        (
            "QStringList [a,b]",
            QVariant::StringList(vec!["a".into(), "b".into()]),
        ),
    ];
    for (label, value) in cases {
        let bytes = golden(label);
        assert_eq!(
            value.to_bytes(Order::Little, &types).unwrap(),
            bytes,
            "{label} encodes as Qt does"
        );
        let mut r = Reader::new(&bytes, Order::Little);
        assert_eq!(
            QVariant::read(&mut r, &types).unwrap(),
            value,
            "{label} decodes"
        );
        r.finish().unwrap();
    }
    let be = golden("BE int 5 (nested-stream style)");
    assert_eq!(QVariant::Int(5).to_bytes(Order::Big, &types).unwrap(), be);
}

/// Each direction's bytes of a capture, in order (chunks are TCP reads, not packets).
fn streams(name: &str) -> [(String, Vec<u8>); 2] {
    let log: Vec<(f64, String, String)> =
        serde_json::from_str(&data(name)).expect("a capture is a list of chunks");
    ["S>C", "C>S"].map(|dir| {
        let bytes = log
            .iter()
            .filter(|(_, d, _)| d == dir)
            .flat_map(|(_, _, h)| hex(h))
            .collect();
        (dir.to_owned(), bytes)
    })
}

fn frames(stream: &[u8]) -> Vec<&[u8]> {
    let mut out = Vec::new();
    let mut at = 0;
    while at < stream.len() {
        let len = u32::from_le_bytes(stream[at..at + 4].try_into().unwrap()) as usize;
        out.push(&stream[at..at + 4 + len]);
        at += 4 + len;
    }
    assert_eq!(at, stream.len(), "the capture ends at a frame's end");
    out
}

/// What the captured APIs need registered: demo.rep's POD.
fn capture_types() -> TypeRegistry {
    let mut types = TypeRegistry::new();
    types.add_gadget("MyPod", vec!["x".into(), "name".into()]);
    types
}

/// Decodes every frame of a capture, checks it re-encodes to its bytes, and returns them.
fn decode_capture(name: &str) -> Vec<(String, QtPacket)> {
    let types = capture_types();
    let mut packets = Vec::new();
    for (dir, stream) in streams(name) {
        for frame in frames(&stream) {
            let packet = QtPacket::decode(&frame[4..], &types)
                .unwrap_or_else(|e| panic!("{name} {dir}: {e}: {frame:02x?}"));
            let types = match &packet {
                QtPacket::InitDynamic { definition, .. } => definition.registry(&types),
                _ => types.clone(),
            };
            assert_eq!(
                &packet.to_frame(&types).unwrap()[..],
                frame,
                "{name} {dir}: {packet:?} re-encodes to its bytes"
            );
            packets.push((dir.clone(), packet));
        }
    }
    packets
}

fn count(packets: &[(String, QtPacket)], kind: &str) -> usize {
    packets.iter().filter(|(_, p)| p.kind() == kind).count()
}

#[test]
fn the_static_capture_decodes_to_its_last_byte() {
    let packets = decode_capture("capture-static.json");
    let (_, handshake) = &packets[0];
    assert_eq!(
        handshake,
        &QtPacket::Handshake {
            protocol: "QtRO 2.0".into()
        }
    );
    let init = packets
        .iter()
        .find_map(|(_, p)| match p {
            QtPacket::Init { values, .. } => Some(values.clone()),
            _ => None,
        })
        .expect("an init");
    assert_eq!(init.len(), 7);
    assert_eq!(init[0], QVariant::Int(5));
    assert_eq!(init[1], QVariant::String("init".into()));
    assert_eq!(
        init[6],
        QVariant::User {
            ty: QtType::Named("MyPod".into()),
            value: UserValue::Fields(vec![QVariant::Int(7), QVariant::String("p".into())]),
        }
    );
    assert!(count(&packets, "InvokeReplyPacket") >= 2);
    assert!(count(&packets, "PropertyChangePacket") > 5);
    assert!(packets.iter().any(|(dir, p)| dir == "C>S"
        && matches!(
            p,
            QtPacket::Invoke {
                call: 2,
                index: 1,
                ..
            }
        )));
}

#[test]
fn the_dynamic_capture_carries_a_whole_definition() {
    let packets = decode_capture("capture-dynamic.json");
    let (definition, values) = packets
        .iter()
        .find_map(|(_, p)| match p {
            QtPacket::InitDynamic {
                definition, values, ..
            } => Some((definition.clone(), values.clone())),
            _ => None,
        })
        .expect("an InitDynamic");
    assert_eq!(definition.type_name, "Demo");
    assert_eq!(definition.enums[0].keys[1], ("On".to_owned(), 3));
    assert_eq!(definition.gadgets[0].name, "MyPod");
    assert_eq!(definition.methods[3].signature, "add(int,int)");
    assert_eq!(definition.methods[3].return_type, "int");
    assert_eq!(definition.properties[3].notify, None, "flag is CONSTANT");
    assert_eq!(definition.properties[5].type_name, "DemoSource::Mode");
    assert_eq!(values.len(), 7);
}

#[test]
fn the_registry_capture_carries_locations() {
    let packets = decode_capture("capture-registry.json");
    let adds: Vec<_> = packets
        .iter()
        .filter_map(|(dir, p)| match p {
            QtPacket::Invoke { args, index: 0, .. } if dir == "C>S" => Some(args[0].clone()),
            _ => None,
        })
        .collect();
    assert_eq!(adds.len(), 3, "the host registers three sources");
    let QVariant::User {
        value: UserValue::Fields(pair),
        ..
    } = &adds[1]
    else {
        panic!("a location is a pair: {:?}", adds[1]);
    };
    assert_eq!(pair[0], QVariant::String("Extra".into()));
    let QVariant::User {
        value: UserValue::Fields(info),
        ..
    } = &pair[1]
    else {
        panic!("location info")
    };
    assert_eq!(
        info[0],
        QVariant::Null(Builtin::String),
        "a plain QObject registers a null type name"
    );
    assert_eq!(info[1], QVariant::Url("tcp://127.0.0.1:65221".into()));
}

/// A dynamic replica's init (PyQt6 `acquireDynamic` of sub.rep's Parent from a repc C++
/// source): its sub-object comes with the class definition of its type, big-endian.
#[test]
fn a_dynamic_sub_object_comes_with_its_class_definition() {
    let packets = decode_capture("capture-subobject-dynamic.json");
    let Some((
        _,
        QtPacket::InitDynamic {
            definition, values, ..
        },
    )) = packets
        .iter()
        .find(|(_, p)| p.kind() == "InitDynamicPacket")
    else {
        panic!("an InitDynamicPacket")
    };
    let kinds: Vec<(&str, &str)> = definition
        .properties
        .iter()
        .map(|p| (p.name.as_str(), p.type_name.as_str()))
        .collect();
    assert_eq!(
        kinds,
        [
            ("title", "QString"),
            ("child", "QObject*"),
            ("items", "QAbstractItemModel*")
        ]
    );
    let QVariant::User {
        value: UserValue::SubObject(child),
        ..
    } = &values[1]
    else {
        panic!("{:?}", values[1])
    };
    let child_definition = child
        .definition()
        .unwrap()
        .expect("sent with the first value");
    assert_eq!(child_definition.type_name, "Child");
    assert_eq!(child_definition.properties[0].name, "value");
    assert_eq!(
        child.values(&TypeRegistry::new()).unwrap(),
        Some(vec![QVariant::Int(42)])
    );
    // Written back, it is the same bytes.
    let again = actix_remote_objects::wire::qt::SubObject::new(
        child.name.clone(),
        child.type_name.clone(),
        child.kind,
        Some(&child_definition),
        &[QVariant::Int(42)],
        &TypeRegistry::new(),
    )
    .unwrap();
    assert_eq!(&again, child);
}

/// A sub-object's value count is checked against the bytes it came in before anything is
/// read or allocated for it; a negative one is refused.
#[test]
fn a_sub_object_claiming_more_values_than_it_holds_is_refused() {
    use actix_remote_objects::wire::qt::{QtDecodeError, SubObject};
    let sub = |parameters: Vec<u8>| SubObject {
        name: "Class::P::c".into(),
        type_name: "C".into(),
        kind: 0,
        class_definition: None,
        parameters: Some(parameters),
    };
    let types = TypeRegistry::new();
    let huge = sub(vec![0x7f, 0xff, 0xff, 0xff, 0, 0, 0, 2, 0, 0, 0, 0, 1]);
    assert!(matches!(
        huge.values(&types),
        Err(QtDecodeError::CountTooLarge { .. })
    ));
    let negative = sub(vec![0xff, 0xff, 0xff, 0xff]);
    assert!(negative.values(&types).is_err());
    let null = SubObject {
        parameters: None,
        ..sub(Vec::new())
    };
    assert_eq!(null.values(&types), Ok(None));
}

#[test]
fn the_sub_object_and_model_capture_decodes_nested_big_endian_parameters() {
    let packets = decode_capture("capture-subobject-model.json");
    let QtPacket::Init { values, .. } = &packets
        .iter()
        .find(|(_, p)| p.kind() == "InitPacket")
        .expect("an init")
        .1
    else {
        unreachable!()
    };
    let subs: Vec<_> = values
        .iter()
        .filter_map(|v| match v {
            QVariant::User {
                value: UserValue::SubObject(sub),
                ..
            } => Some(sub.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(subs[0].name, "Class::Parent::child");
    assert_eq!(subs[1].type_name, "QAbstractItemModelAdapter");
    let types = TypeRegistry::new();
    let params = |raw: &[u8]| {
        let mut r = Reader::new(raw, Order::Big);
        let n = r.i32("count").unwrap();
        let values: Vec<_> = (0..n)
            .map(|_| QVariant::read(&mut r, &types).unwrap())
            .collect();
        r.finish().unwrap();
        values
    };
    assert_eq!(
        params(subs[0].parameters.as_ref().unwrap()),
        [QVariant::Int(42)]
    );
    let model = params(subs[1].parameters.as_ref().unwrap());
    assert_eq!(model.len(), 2, "availableRoles and roleNames");
    let replies: Vec<_> = packets
        .iter()
        .filter_map(|(_, p)| match p {
            QtPacket::InvokeReply { value, .. } => Some(value.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(replies[0], QVariant::Size(1, 3));
    assert!(
        matches!(&replies[1], QVariant::User { ty: QtType::Named(n), .. } if n == "DataEntries")
    );
}

#[test]
fn hostile_frames_are_refused_without_panicking() {
    let types = capture_types();
    for (_, stream) in streams("capture-static.json") {
        for frame in frames(&stream) {
            let payload = &frame[4..];
            for cut in 0..payload.len() {
                // Any strict prefix fails (or, rarely, is itself a whole packet): never a panic.
                let _ = QtPacket::decode(&payload[..cut], &types);
            }
            for i in 0..payload.len() {
                let mut bad = payload.to_vec();
                bad[i] ^= 0xff;
                let _ = QtPacket::decode(&bad, &types);
            }
        }
    }
    // A list that claims four billion items in a few bytes.
    let claim = [6u8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xfe];
    assert!(QtPacket::decode(&claim, &types).is_err());
    // Lists nested a thousand deep.
    let mut nested = Vec::new();
    for _ in 0..1000 {
        nested.extend_from_slice(&[9, 0, 0, 0, 0, 1, 0, 0, 0]);
    }
    nested.extend_from_slice(&[0, 0, 0, 0, 1]);
    let mut r = Reader::new(&nested, Order::Little);
    assert!(QVariant::read(&mut r, &types).is_err());
}

/// The Qt decoder under a seeded mutation loop over every frame Qt 6.4.2 sent or received in
/// the five captured sessions (`FUZZ_INPUTS`, `FUZZ_SEED` as in `tests/fuzz_targets.rs`).
#[test]
fn the_qt_decoder_survives_mutations_of_real_qt_sessions() {
    let inputs = mutate::setting("FUZZ_INPUTS", 100_000);
    let seed = mutate::setting("FUZZ_SEED", 0x9e_c0de);
    let mut seeds = Vec::new();
    for capture in [
        "capture-static.json",
        "capture-dynamic.json",
        "capture-registry.json",
        "capture-subobject-model.json",
        "capture-subobject-dynamic.json",
    ] {
        for (_, stream) in streams(capture) {
            seeds.extend(frames(&stream).iter().map(|f| f[4..].to_vec()));
        }
    }
    if let Ok(dir) = std::env::var("ARO_WRITE_CORPUS") {
        let dir = std::path::Path::new(&dir).join("qt_packet");
        std::fs::create_dir_all(&dir).unwrap();
        for (i, s) in seeds.iter().enumerate() {
            std::fs::write(dir.join(format!("qt-{i:03}")), s).unwrap();
        }
    }
    let mut mutator = mutate::Mutator::new(seed);
    for s in &seeds {
        actix_remote_objects::fuzzing::qt_packet(s);
    }
    let started = std::time::Instant::now();
    for _ in 0..inputs {
        let pick = mutator.below(seeds.len());
        let input = mutator.mutate(&seeds[pick]);
        actix_remote_objects::fuzzing::qt_packet(&input);
    }
    eprintln!(
        "FIGURE fuzz qt_packet: {inputs} inputs from {} seeds in {:.2} s",
        seeds.len(),
        started.elapsed().as_secs_f64()
    );
}
