//! The Qt face of an API and the gateway, deterministically, with no sockets: a Rust API
//! against the `.rep` file it is equivalent to, and a whole Qt session through the
//! translator.

use bytes::Bytes;

use actix_remote_objects::dynamic::ApiSchema;
use actix_remote_objects::qt::api::{QtApi, QtMember, QtSignal};
use actix_remote_objects::qt::gateway::HostGateway;
use actix_remote_objects::wire::qt::{
    QVariant, QtPacket, QtType, SubObject, UserValue, CALL_INVOKE, CALL_WRITE_PROPERTY,
};
use actix_remote_objects::wire::{Encoding, Handshake, ObjectInfo, Packet, NO_REPLY};
use actix_remote_objects::RemoteObject;

#[path = "support/qt_demo.rs"]
#[allow(dead_code)]
mod qt_demo;
use qt_demo::{Demo, Mode, MyPod};

fn demo() -> QtApi {
    QtApi::from_schema(&Demo::schema().unwrap()).unwrap()
}

#[test]
fn an_api_has_the_signature_repc_gives_its_rep_file() {
    let rep = actix_remote_objects_rep::parse(include_str!("qt/demo.rep")).unwrap();
    let repc = actix_remote_objects_rep::signatures(&rep);
    assert_eq!(demo().signature, repc["Demo"]);
}

#[test]
fn wire_positions_follow_qt_ordering_rules() {
    let api = demo();
    // Notify signals for every non-constant property, then the declared ones.
    assert_eq!(api.notify_position(0), Some(0));
    assert_eq!(api.notify_position(3), None, "flag is constant");
    assert_eq!(api.notify_position(4), Some(3));
    assert_eq!(api.signal_position(0), 5);
    assert_eq!(api.signal_at(5), Some(QtSignal::Declared(0)));
    assert_eq!(api.signal_at(3), Some(QtSignal::Notify(QtMember::Value(4))));
    assert_eq!(api.signal_at(6), None);
    // Push methods (count, mode, pod), then the slots.
    assert_eq!(api.slot_at(0), Some(0));
    assert_eq!(api.slot_at(3), Some(3), "add");
    assert!(api.slot_at(6).is_none());
    assert!(api.slot_at(-1).is_none());
    assert_eq!(
        api.method_returns(3).map(|r| r.qt.name()),
        Some("int".into())
    );
    assert_eq!(
        api.method_param(2, 0).map(|p| p.qt.name()),
        Some("MyPod".into())
    );
    assert!(api.method_param(2, 1).is_none());
    let definition = api.definition();
    assert_eq!(definition.signals[3].signature, "modeChanged(Demo::Mode)");
    assert_eq!(definition.methods[2].signature, "pushPod(MyPod)");
    assert_eq!(definition.methods[3].return_type, "int");
    assert_eq!(definition.properties[3].notify, None);
    assert_eq!(
        definition.gadgets[0].properties[1],
        ("name".into(), "QString".into())
    );
    assert_eq!(definition.enums[0].keys[2], ("Auto".into(), 2));
}

/// Offers source `name` of API `schema` to `gateway`, as a host does after greeting it.
fn offer(gateway: &mut HostGateway, name: &str, signature: u64, schema: &ApiSchema) {
    gateway
        .from_host(Packet::Handshake(Handshake::ours(Encoding::Bincode)))
        .unwrap();
    gateway
        .from_host(Packet::ObjectList(vec![ObjectInfo {
            name: name.into(),
            api: schema.api.clone(),
            signature,
        }]))
        .unwrap();
    gateway
        .from_host(Packet::Description {
            name: name.into(),
            schema: Encoding::Bincode.encode(schema).unwrap().into(),
        })
        .unwrap();
}

fn described(gateway: &mut HostGateway) -> Vec<QtPacket> {
    let schema = Encoding::Bincode.encode(&Demo::schema().unwrap()).unwrap();
    gateway
        .from_host(Packet::Handshake(Handshake::ours(Encoding::Bincode)))
        .unwrap();
    gateway
        .from_host(Packet::ObjectList(vec![ObjectInfo {
            name: "Demo".into(),
            api: "Demo".into(),
            signature: Demo::signature(),
        }]))
        .unwrap();
    assert_eq!(
        gateway.take_to_host()[1..],
        [Packet::Describe {
            name: "Demo".into()
        }],
        "every offered source is described first"
    );
    gateway
        .from_host(Packet::Description {
            name: "Demo".into(),
            schema: schema.into(),
        })
        .unwrap();
    gateway.take_to_qt()
}

fn bincode<T: serde::Serialize>(value: &T) -> Bytes {
    Encoding::Bincode.encode(value).unwrap().into()
}

#[test]
fn a_qt_session_translates_both_ways() {
    let mut gateway = HostGateway::new(
        Encoding::Bincode,
        std::sync::Arc::new(|_: &str| Default::default()),
    );
    let greeting = described(&mut gateway);
    assert!(matches!(&greeting[0], QtPacket::Handshake { protocol } if protocol == "QtRO 2.0"));
    let QtPacket::ObjectList { objects } = &greeting[1] else {
        panic!("{greeting:?}")
    };
    assert_eq!(objects[0].signature, demo().signature);

    gateway
        .from_qt(QtPacket::AddObject {
            name: "Demo".into(),
            is_dynamic: true,
        })
        .unwrap();
    assert_eq!(
        gateway.take_to_host(),
        [Packet::Acquire {
            name: "Demo".into(),
            signature: Demo::signature()
        }]
    );
    let pod = MyPod {
        x: 7,
        name: "p".into(),
    };
    let values = vec![
        bincode(&5i32),
        bincode(&"init"),
        bincode(&1.0f64),
        bincode(&true),
        bincode(&Mode::Auto),
        bincode(&pod),
    ];
    gateway
        .from_host(Packet::Init {
            name: "Demo".into(),
            source: 9,
            signature: Demo::signature(),
            values,
            children: Vec::new(),
        })
        .unwrap();
    let init = gateway.take_to_qt();
    let QtPacket::InitDynamic {
        definition, values, ..
    } = &init[0]
    else {
        panic!("{init:?}")
    };
    assert_eq!(definition.type_name, "Demo");
    assert_eq!(values[1], QVariant::String("init".into()));
    assert_eq!(
        values[4],
        QVariant::Int(2),
        "an enum travels as its integer"
    );
    assert_eq!(
        values[5],
        QVariant::User {
            ty: QtType::Named("MyPod".into()),
            value: UserValue::Fields(vec![QVariant::Int(7), QVariant::String("p".into())]),
        }
    );

    // A change: PropertyChange, then the notify signal carrying the value.
    gateway
        .from_host(Packet::PropertyChange {
            source: 9,
            index: 4,
            value: bincode(&Mode::On),
        })
        .unwrap();
    let change = gateway.take_to_qt();
    assert_eq!(
        change,
        [
            QtPacket::PropertyChange {
                name: "Demo".into(),
                index: 4,
                value: QVariant::Int(1)
            },
            QtPacket::Invoke {
                name: "Demo".into(),
                call: CALL_INVOKE,
                index: 3,
                args: vec![QVariant::Int(1)],
                serial: -1,
                property_index: 4
            }
        ]
    );

    // A call with a reply: the Qt serial comes back on the reply.
    gateway
        .from_qt(QtPacket::Invoke {
            name: "Demo".into(),
            call: CALL_INVOKE,
            index: 3,
            args: vec![QVariant::Int(2), QVariant::Int(3)],
            serial: 17,
            property_index: -1,
        })
        .unwrap();
    let Packet::Invoke {
        slot, serial, args, ..
    } = &gateway.take_to_host()[0]
    else {
        panic!()
    };
    assert_eq!((*slot, &args[..]), (3, &bincode(&(2i32, 3i32))[..]));
    gateway
        .from_host(Packet::InvokeReply {
            source: 9,
            serial: *serial,
            outcome: Ok(bincode(&5i32)),
        })
        .unwrap();
    assert_eq!(
        gateway.take_to_qt(),
        [QtPacket::InvokeReply {
            name: "Demo".into(),
            serial: 17,
            value: QVariant::Int(5)
        }]
    );

    // A write of a READWRITE property.
    gateway
        .from_qt(QtPacket::Invoke {
            name: "Demo".into(),
            call: CALL_WRITE_PROPERTY,
            index: 1,
            args: vec![QVariant::String("hi".into())],
            serial: -1,
            property_index: -1,
        })
        .unwrap();
    assert_eq!(
        gateway.take_to_host(),
        [Packet::SetProperty {
            source: 9,
            index: 1,
            serial: NO_REPLY,
            value: bincode(&"hi")
        }]
    );
}

#[test]
fn bad_qt_calls_are_dropped_alone_and_answered_when_a_reply_is_awaited() {
    let mut gateway = HostGateway::new(
        Encoding::Bincode,
        std::sync::Arc::new(|_: &str| Default::default()),
    );
    described(&mut gateway);
    gateway
        .from_qt(QtPacket::AddObject {
            name: "Demo".into(),
            is_dynamic: false,
        })
        .unwrap();
    gateway.take_to_host();
    let values = vec![
        bincode(&5i32),
        bincode(&""),
        bincode(&1.0f64),
        bincode(&true),
        bincode(&Mode::Off),
        bincode(&MyPod::default()),
    ];
    gateway
        .from_host(Packet::Init {
            name: "Demo".into(),
            source: 1,
            signature: 0,
            values,
            children: Vec::new(),
        })
        .unwrap();
    assert!(matches!(gateway.take_to_qt()[0], QtPacket::Init { .. }));
    let call = |index, args: Vec<QVariant>, serial| QtPacket::Invoke {
        name: "Demo".into(),
        call: CALL_INVOKE,
        index,
        args,
        serial,
        property_index: -1,
    };
    for bad in [
        // Too few arguments, a wrong type, an out-of-range integer, a method that is not.
        call(3, vec![QVariant::Int(1)], 4),
        call(3, vec![QVariant::Int(1), QVariant::String("x".into())], 4),
        call(3, vec![QVariant::Int(1), QVariant::LongLong(1 << 40)], 4),
        call(99, vec![], 4),
    ] {
        gateway.from_qt(bad).unwrap();
        assert!(
            gateway.take_to_host().is_empty(),
            "nothing reaches the host"
        );
        assert_eq!(
            gateway.take_to_qt(),
            [QtPacket::InvokeReply {
                name: "Demo".into(),
                serial: 4,
                value: QVariant::Invalid
            }],
            "the caller is not left waiting"
        );
    }
    // A call on a source it never acquired, and a write of a property that does not exist.
    gateway
        .from_qt(QtPacket::Invoke {
            name: "Other".into(),
            call: CALL_INVOKE,
            index: 0,
            args: vec![],
            serial: 1,
            property_index: -1,
        })
        .unwrap();
    gateway
        .from_qt(QtPacket::Invoke {
            name: "Demo".into(),
            call: CALL_WRITE_PROPERTY,
            index: 40,
            args: vec![QVariant::Int(1)],
            serial: -1,
            property_index: -1,
        })
        .unwrap();
    assert!(gateway.take_to_host().is_empty());
}

#[test]
fn a_source_qt_cannot_carry_is_not_offered() {
    let mut gateway = HostGateway::new(
        Encoding::Bincode,
        std::sync::Arc::new(|_: &str| Default::default()),
    );
    let mut schema = Demo::schema().unwrap();
    schema.properties[0].format = actix_remote_objects::dynamic::TypeFormat::I128;
    offer(&mut gateway, "Wide", 1, &schema);
    let qt = gateway.take_to_qt();
    assert!(
        matches!(&qt[1], QtPacket::ObjectList { objects } if objects.is_empty()),
        "{qt:?}"
    );
    assert!(gateway
        .from_host(Packet::AuthChallenge {
            method: "hmac".into(),
            challenge: Bytes::new()
        })
        .is_err());
}

#[path = "support/mutate.rs"]
#[allow(dead_code)]
mod mutate;

/// Every frame of the five real Qt captures.
fn captured_frames() -> Vec<Vec<u8>> {
    let mut frames = Vec::new();
    for capture in [
        "capture-static.json",
        "capture-dynamic.json",
        "capture-registry.json",
        "capture-subobject-model.json",
        "capture-subobject-dynamic.json",
    ] {
        let path = format!("{}/tests/data/qt/{capture}", env!("CARGO_MANIFEST_DIR"));
        let log: Vec<(f64, String, String)> =
            serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        for dir in ["S>C", "C>S"] {
            let hex: String = log
                .iter()
                .filter(|(_, d, _)| d == dir)
                .map(|(_, _, h)| h.as_str())
                .collect();
            let bytes: Vec<u8> = (0..hex.len())
                .step_by(2)
                .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
                .collect();
            let mut at = 0;
            while at < bytes.len() {
                let len = u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap()) as usize;
                frames.push(bytes[at + 4..at + 4 + len].to_vec());
                at += 4 + len;
            }
        }
    }
    frames
}

/// A node gateway greeted by a Qt host, whose node holds a typed replica of `api` under
/// `name`.
fn greeted_node_gateway(
    name: &'static str,
    signature: u64,
    api: QtApi,
) -> actix_remote_objects::qt::node_gateway::NodeGateway {
    use actix_remote_objects::qt::node_gateway::{NodeGateway, TypedApi};
    let api = std::sync::Arc::new(api);
    let lookup = std::sync::Arc::new(move |wanted: &str| {
        (wanted == name).then(|| TypedApi {
            signature,
            qt: std::sync::Arc::clone(&api),
        })
    });
    let mut gateway = NodeGateway::new(Encoding::Bincode, lookup);
    gateway
        .from_qt(QtPacket::Handshake {
            protocol: "QtRO 2.0".into(),
        })
        .unwrap();
    gateway
}

/// A node gateway that has greeted a Qt host offering Demo and holds a typed replica of it.
fn node_gateway_with_demo() -> actix_remote_objects::qt::node_gateway::NodeGateway {
    let mut gateway = greeted_node_gateway("Demo", Demo::signature(), demo());
    gateway
        .from_qt(QtPacket::ObjectList {
            objects: vec![actix_remote_objects::wire::qt::QtObject {
                name: "Demo".into(),
                type_name: "Demo".into(),
                signature: demo().signature,
            }],
        })
        .unwrap();
    gateway
        .from_node(Packet::Acquire {
            name: "Demo".into(),
            signature: Demo::signature(),
        })
        .unwrap();
    gateway
}

/// Both gateways take mutations of real Qt traffic — unknown names, wrong types, counts and
/// indices out of range — without a panic: each bad packet is dropped or answered alone.
#[test]
fn the_gateways_survive_mutated_qt_sessions() {
    let inputs = mutate::setting("FUZZ_INPUTS", 20_000);
    let mut mutator = mutate::Mutator::new(mutate::setting("FUZZ_SEED", 0x6a7e));
    let seeds = captured_frames();
    let mut host = HostGateway::new(
        Encoding::Bincode,
        std::sync::Arc::new(|_: &str| Default::default()),
    );
    described(&mut host);
    host.from_qt(QtPacket::AddObject {
        name: "Demo".into(),
        is_dynamic: false,
    })
    .unwrap();
    let mut node = node_gateway_with_demo();
    let mut decoded = 0;
    for i in 0..inputs {
        let seed = &seeds[i as usize % seeds.len()];
        let input = if i < seeds.len() as u64 {
            seed.clone()
        } else {
            mutator.mutate(seed)
        };
        let types = {
            let mut types = demo().registry();
            types.add_gadget("MyPod", vec!["x".into(), "name".into()]);
            types
        };
        let Ok(packet) = QtPacket::decode(&input, &types) else {
            continue;
        };
        decoded += 1;
        if let QtPacket::InitDynamic { definition, .. } = &packet {
            // A hostile class definition is refused or used, never a panic.
            let _ = QtApi::from_definition(definition);
        }
        // Whatever a peer sends, errors end only that connection, never the process.
        let _ = host.from_qt(packet.clone());
        let _ = node.from_qt(packet);
        host.take_to_host();
        host.take_to_qt();
        node.take_to_node();
        node.take_to_qt();
    }
    assert!(
        decoded > seeds.len(),
        "mutations reached the gateways ({decoded})"
    );
}

mod value_types {
    //! Every type of the guide's table, Rust value → QVariant → Rust value, and the bytes Qt
    //! writes for them where a golden vector has them.
    use actix_remote_objects::dynamic::Value;
    use actix_remote_objects::qt::api::QtApi;
    use actix_remote_objects::qt::convert::{from_qvariant, to_qvariant, Cx};
    use actix_remote_objects::qt::values::{
        ByteArray, Color, Date, DateTime, Line, LineF, Point, PointF, Rect, RectF, Size, SizeF,
        Time, Url, Uuid, Variant,
    };
    use actix_remote_objects::wire::qt::{Order, QVariant, TimeSpec, TypeRegistry};
    use actix_remote_objects::{remote_object, RemoteObject};
    use std::collections::{BTreeMap, HashMap};

    remote_object! {
        pub Everything {
            prop b: bool;
            prop i8_: i8;
            prop i16_: i16;
            prop i32_: i32;
            prop i64_: i64;
            prop u8_: u8;
            prop u16_: u16;
            prop u32_: u32;
            prop u64_: u64;
            prop f32_: f32;
            prop f64_: f64;
            prop c: char;
            prop s: String;
            prop bytes: ByteArray;
            prop strings: Vec<String>;
            prop ints: Vec<i32>;
            prop map: BTreeMap<String, i32>;
            prop hash: HashMap<i32, String>;
            prop pair: (i32, String);
            prop maybe: Option<i32>;
            prop point: Point;
            prop pointf: PointF;
            prop size: Size;
            prop sizef: SizeF;
            prop rect: Rect;
            prop rectf: RectF;
            prop line: Line;
            prop linef: LineF;
            prop color: Color;
            prop when: DateTime;
            prop day: Date;
            prop time: Time;
            prop url: Url;
            prop uuid: Uuid;
            prop any: Variant;
            prop list: Vec<Variant>;
            prop vmap: BTreeMap<String, Variant>;
        }
    }

    fn round_trip<T: serde::Serialize>(api: &QtApi, index: usize, value: &T) -> QVariant {
        let p = &api.properties[index];
        let types = &api.schema.types;
        let encoded = actix_remote_objects::wire::Encoding::Bincode
            .encode(value)
            .unwrap();
        let dynamic = actix_remote_objects::dynamic::codec::decode(
            &encoded,
            &p.ty.format,
            types,
            actix_remote_objects::wire::Encoding::Bincode,
        )
        .unwrap();
        let q = to_qvariant(&dynamic, &p.ty.format, &p.ty.qt, &Cx::of(api))
            .unwrap_or_else(|e| panic!("{}: {e}", p.name));
        // Through Qt's bytes and back.
        let registry = TypeRegistry::new();
        let bytes = q.to_bytes(Order::Little, &registry).unwrap();
        let mut reader = actix_remote_objects::wire::qt::Reader::new(&bytes, Order::Little);
        let read = QVariant::read(&mut reader, &registry).unwrap();
        let back: Value = from_qvariant(&read, &p.ty.format, &Cx::of(api))
            .unwrap_or_else(|e| panic!("{}: {e}", p.name));
        assert_eq!(back, dynamic, "{} round-trips", p.name);
        read
    }

    #[test]
    fn every_type_of_the_table_travels_both_ways() {
        let api = QtApi::from_schema(&Everything::schema().unwrap()).unwrap();
        let qt_names: Vec<String> = api.properties.iter().map(|p| p.ty.qt.name()).collect();
        assert_eq!(
            qt_names,
            [
                "bool",
                "signed char",
                "short",
                "int",
                "qlonglong",
                "uchar",
                "ushort",
                "uint",
                "qulonglong",
                "float",
                "double",
                "QChar",
                "QString",
                "QByteArray",
                "QStringList",
                "QList<int>",
                "QMap<QString,int>",
                "QMap<int,QString>",
                "std::pair<int,QString>",
                "int",
                "QPoint",
                "QPointF",
                "QSize",
                "QSizeF",
                "QRect",
                "QRectF",
                "QLine",
                "QLineF",
                "QColor",
                "QDateTime",
                "QDate",
                "QTime",
                "QUrl",
                "QUuid",
                "QVariant",
                "QVariantList",
                "QVariantMap"
            ]
        );
        assert_eq!(round_trip(&api, 0, &true), QVariant::Bool(true));
        assert_eq!(round_trip(&api, 1, &-5i8), QVariant::SChar(-5));
        round_trip(&api, 2, &-300i16);
        assert_eq!(round_trip(&api, 3, &5i32), QVariant::Int(5));
        round_trip(&api, 4, &(1i64 << 40));
        round_trip(&api, 5, &200u8);
        round_trip(&api, 6, &60_000u16);
        round_trip(&api, 7, &4_000_000_000u32);
        round_trip(&api, 8, &u64::MAX);
        assert_eq!(round_trip(&api, 9, &1.5f32), QVariant::Float(1.5));
        round_trip(&api, 10, &2.25f64);
        assert_eq!(round_trip(&api, 11, &'é'), QVariant::QChar(0xe9));
        assert_eq!(round_trip(&api, 12, &"hi"), QVariant::String("hi".into()));
        assert_eq!(
            round_trip(&api, 13, &ByteArray(b"ab".to_vec())),
            QVariant::ByteArray(b"ab".to_vec())
        );
        round_trip(&api, 14, &vec!["a".to_owned(), "b".to_owned()]);
        round_trip(&api, 15, &vec![1i32, 2, 3]);
        round_trip(&api, 16, &BTreeMap::from([("k".to_owned(), 1i32)]));
        round_trip(&api, 17, &HashMap::from([(1i32, "one".to_owned())]));
        round_trip(&api, 18, &(7i32, "seven".to_owned()));
        assert_eq!(round_trip(&api, 19, &None::<i32>), QVariant::Invalid);
        assert_eq!(round_trip(&api, 19, &Some(3i32)), QVariant::Int(3));
        assert_eq!(
            round_trip(&api, 20, &Point { x: 1, y: 2 }),
            QVariant::Point(1, 2)
        );
        round_trip(&api, 21, &PointF { x: 0.5, y: -1.0 });
        assert_eq!(
            round_trip(
                &api,
                22,
                &Size {
                    width: 3,
                    height: 4
                }
            ),
            QVariant::Size(3, 4)
        );
        round_trip(
            &api,
            23,
            &SizeF {
                width: 1.5,
                height: 2.5,
            },
        );
        round_trip(
            &api,
            24,
            &Rect {
                left: 1,
                top: 2,
                right: 10,
                bottom: 20,
            },
        );
        round_trip(
            &api,
            25,
            &RectF {
                x: 0.0,
                y: 1.0,
                width: 2.0,
                height: 3.0,
            },
        );
        round_trip(
            &api,
            26,
            &Line {
                x1: 1,
                y1: 2,
                x2: 3,
                y2: 4,
            },
        );
        round_trip(
            &api,
            27,
            &LineF {
                x1: 1.0,
                y1: 2.0,
                x2: 3.0,
                y2: 4.0,
            },
        );
        round_trip(
            &api,
            28,
            &Color {
                alpha: 65535,
                red: 257,
                green: 514,
                blue: 771,
            },
        );
        // The golden vector's instant: 2024-01-02T03:04:05.006Z.
        assert_eq!(
            round_trip(
                &api,
                29,
                &DateTime {
                    unix_ms: 1_704_164_645_006
                }
            ),
            QVariant::DateTime {
                date: 2_460_312,
                time: 11_045_006,
                spec: TimeSpec::Utc
            }
        );
        round_trip(
            &api,
            30,
            &Date {
                julian_day: 2_460_312,
            },
        );
        round_trip(&api, 31, &Time { ms: 11_045_006 });
        assert_eq!(
            round_trip(
                &api,
                32,
                &Url {
                    url: "tcp://h:1".into()
                }
            ),
            QVariant::Url("tcp://h:1".into())
        );
        round_trip(&api, 33, &Uuid { bytes: [7; 16] });
        round_trip(&api, 34, &Variant::Double(0.5));
        round_trip(
            &api,
            35,
            &vec![Variant::Int(1), Variant::String("a".into())],
        );
        round_trip(
            &api,
            36,
            &BTreeMap::from([("k".to_owned(), Variant::Bool(true))]),
        );
    }
}

mod sub {
    //! sub.rep's Child, and its Parent without the model (and with its member renamed:
    //! `child` is a method of every replica).
    actix_remote_objects::remote_object! {
        pub Child {
            prop value: i32 = 1, push;
        }
    }
    actix_remote_objects::remote_object! {
        pub Parent {
            prop title: String, push;
            child kid: Child;
        }
    }
}

/// The sub-object of the Parent init a real Qt host sent a PyQt6 dynamic replica.
fn captured_dynamic_child() -> actix_remote_objects::wire::qt::SubObject {
    let types = actix_remote_objects::wire::qt::TypeRegistry::new();
    let init = captured_frames()
        .iter()
        .filter_map(|f| QtPacket::decode(f, &types).ok())
        .find_map(|p| match p {
            QtPacket::InitDynamic { name, values, .. } if name == "Parent" => Some(values),
            _ => None,
        })
        .expect("the dynamic capture holds Parent's init");
    match &init[1] {
        QVariant::User {
            value: UserValue::SubObject(sub),
            ..
        } => sub.clone(),
        other => panic!("{other:?}"),
    }
}

/// A Rust source's sub-object goes to a dynamic Qt replica as a Qt host sends it: the same
/// `QRO_`, byte for byte, with the class definition of its type; its changes go under its
/// own name; re-pointing the member sends the new one whole, and `None` a null pointer.
#[test]
fn a_sub_object_travels_to_qt_as_a_qt_host_sends_it() {
    use actix_remote_objects::wire::ChildInit;
    let child_api = QtApi::from_schema(&sub::Child::schema().unwrap()).unwrap();
    assert!(child_api.signature.starts_with("c47bdf70"), "repc's Child");
    let mut gateway = HostGateway::new(
        Encoding::Bincode,
        std::sync::Arc::new(|_: &str| Default::default()),
    );
    let schema = sub::Parent::schema().unwrap();
    offer(&mut gateway, "Parent", sub::Parent::signature(), &schema);
    gateway
        .from_qt(QtPacket::AddObject {
            name: "Parent".into(),
            is_dynamic: true,
        })
        .unwrap();
    let _ = (gateway.take_to_qt(), gateway.take_to_host());
    let child_id = 0x8000_0001;
    let tray = |value: i32| ChildInit {
        parent: 1,
        slot: 0,
        source: child_id,
        signature: sub::Child::signature(),
        values: vec![bincode(&value)],
    };
    gateway
        .from_host(Packet::InitDynamic {
            name: "Parent".into(),
            source: 1,
            signature: sub::Parent::signature(),
            schema: Bytes::new(),
            values: vec![bincode(&"t".to_owned())],
            children: vec![tray(42)],
        })
        .unwrap();
    let qt = gateway.take_to_qt();
    let [QtPacket::InitDynamic {
        values, definition, ..
    }] = &qt[..]
    else {
        panic!("{qt:?}")
    };
    assert_eq!(definition.properties[1].type_name, "QObject*");
    let QVariant::User {
        value: UserValue::SubObject(child),
        ..
    } = &values[1]
    else {
        panic!("{values:?}")
    };
    let qt_host_sent = captured_dynamic_child();
    assert_eq!(child.name, "Class::Parent::kid");
    assert_eq!(
        SubObject {
            name: qt_host_sent.name.clone(),
            ..child.clone()
        },
        qt_host_sent
    );

    // The child's change, under its own name; Qt's write of it goes to the child.
    gateway
        .from_host(Packet::PropertyChange {
            source: child_id,
            index: 0,
            value: bincode(&43),
        })
        .unwrap();
    let qt = gateway.take_to_qt();
    assert!(
        matches!(&qt[0], QtPacket::PropertyChange { name, index: 0, value: QVariant::Int(43) }
            if name == "Class::Parent::kid"),
        "{qt:?}"
    );
    gateway
        .from_qt(QtPacket::Invoke {
            name: "Class::Parent::kid".into(),
            call: CALL_INVOKE,
            index: 0,
            args: vec![QVariant::Int(7)],
            serial: -1,
            property_index: -1,
        })
        .unwrap();
    assert!(matches!(
        &gateway.take_to_host()[..],
        [Packet::Invoke { source, slot: 0, serial: NO_REPLY, .. }] if *source == child_id
    ));

    // Re-pointed, then cleared: the parent's pointer property changes.
    gateway
        .from_host(Packet::ChildChange {
            parent: 1,
            slot: 0,
            children: vec![ChildInit {
                source: child_id + 1,
                ..tray(100)
            }],
        })
        .unwrap();
    let qt = gateway.take_to_qt();
    let QtPacket::PropertyChange {
        name,
        index: 1,
        value:
            QVariant::User {
                value: UserValue::SubObject(new),
                ..
            },
    } = &qt[0]
    else {
        panic!("{qt:?}")
    };
    assert_eq!(name, "Parent");
    assert_eq!(
        new.values(gateway.types()).unwrap(),
        Some(vec![QVariant::Int(100)])
    );
    gateway
        .from_host(Packet::ChildChange {
            parent: 1,
            slot: 0,
            children: Vec::new(),
        })
        .unwrap();
    let qt = gateway.take_to_qt();
    assert!(
        matches!(
            &qt[0],
            QtPacket::PropertyChange {
                value: QVariant::User {
                    value: UserValue::SubObject(SubObject {
                        parameters: None,
                        ..
                    }),
                    ..
                },
                ..
            }
        ),
        "{qt:?}"
    );
    // The old children are gone: their packets reach nobody.
    gateway
        .from_host(Packet::PropertyChange {
            source: child_id,
            index: 0,
            value: bincode(&1),
        })
        .unwrap();
    assert!(gateway.take_to_qt().is_empty());
}

mod listed {
    //! A list model of strings: one role, `display`.
    actix_remote_objects::remote_object! {
        pub Names {
            model names: ListModel<String>;
        }
    }
    use actix_remote_objects::model::ListModel;
}

/// The reply a Qt host sent to a `QAbstractItemModelReplica`'s first row request.
fn captured_data_entries() -> QVariant {
    let types = actix_remote_objects::wire::qt::TypeRegistry::new();
    captured_frames()
        .iter()
        .filter_map(|f| QtPacket::decode(f, &types).ok())
        .find_map(|p| match p {
            QtPacket::InvokeReply { value, .. } if format!("{value:?}").contains("DataEntries") => {
                Some(value)
            }
            _ => None,
        })
        .expect("the model capture holds a row reply")
}

/// A model is shown to Qt as Qt's model adapter: its size at once, its rows on request in
/// Qt's `DataEntries` (as a Qt host sends them, but for the item flags), and each diff as
/// `QAbstractItemModel`'s signal, a move's destination numbered as Qt numbers it.
#[test]
fn a_model_travels_to_qt_as_qts_model_adapter() {
    use actix_remote_objects::qt::model::{index_list, int_list, method, signal};
    use actix_remote_objects::wire::ChildInit;
    let schema = listed::Names::schema().unwrap();
    let adapter = &schema.children[0].api;
    let mut gateway = HostGateway::new(
        Encoding::Bincode,
        std::sync::Arc::new(|_: &str| Default::default()),
    );
    offer(&mut gateway, "Names", listed::Names::signature(), &schema);
    gateway
        .from_qt(QtPacket::AddObject {
            name: "Names".into(),
            is_dynamic: false,
        })
        .unwrap();
    let _ = (gateway.take_to_qt(), gateway.take_to_host());
    let model_id = 0x8000_0007;
    gateway
        .from_host(Packet::Init {
            name: "Names".into(),
            source: 1,
            signature: listed::Names::signature(),
            values: Vec::new(),
            children: vec![ChildInit {
                parent: 1,
                slot: 0,
                source: model_id,
                signature: adapter.signature,
                values: vec![
                    bincode(&3u64),
                    bincode(&vec!["display".to_owned()]),
                    bincode(&None::<u64>),
                ],
            }],
        })
        .unwrap();
    let qt = gateway.take_to_qt();
    let QtPacket::Init { values, .. } = &qt[0] else {
        panic!("{qt:?}")
    };
    let QVariant::User {
        value: UserValue::SubObject(model),
        ..
    } = &values[0]
    else {
        panic!("{values:?}")
    };
    assert_eq!(
        (model.name.as_str(), model.type_name.as_str(), model.kind),
        ("Model::Names::names", "QAbstractItemModelAdapter", 1)
    );
    let call = |index: i32, args: Vec<QVariant>, serial: i32| QtPacket::Invoke {
        name: "Model::Names::names".into(),
        call: CALL_INVOKE,
        index,
        args,
        serial,
        property_index: -1,
    };

    // The size is answered at once; rows are fetched, and answered with Qt's entries.
    gateway
        .from_qt(call(method::SIZE, vec![index_list(&[])], 1))
        .unwrap();
    assert!(matches!(
        &gateway.take_to_qt()[..],
        [QtPacket::InvokeReply {
            serial: 1,
            value: QVariant::Size(1, 3),
            ..
        }]
    ));
    let (start, end) = (index_list(&[(0, 0)]), index_list(&[(0, 0)]));
    gateway
        .from_qt(call(method::ROWS, vec![start, end, int_list(&[0])], 2))
        .unwrap();
    let host = gateway.take_to_host();
    let [Packet::Invoke {
        source,
        slot: 0,
        args,
        ..
    }] = &host[..]
    else {
        panic!("{host:?}")
    };
    assert_eq!(*source, model_id);
    let (request, first, count): (u32, u64, u64) = Encoding::Bincode.decode(args).unwrap();
    assert_eq!((first, count), (0, 1));
    gateway
        .from_host(Packet::Signal {
            source: model_id,
            index: 5,
            args: bincode(&(request, 0u64, vec!["a".to_owned()])),
        })
        .unwrap();
    let qt = gateway.take_to_qt();
    let [QtPacket::InvokeReply {
        serial: 2, value, ..
    }] = &qt[..]
    else {
        panic!("{qt:?}")
    };
    // Qt's host marks a QStandardItem drag-and-drop-able (175); this crate's rows are
    // selectable, editable, enabled, without children (163).
    let as_qt_sent = format!("{value:?}").replace("Int(163)", "Int(175)");
    assert_eq!(as_qt_sent, format!("{:?}", captured_data_entries()));

    // Diffs: an insert, and a move of row 0 to after the row that was at 1.
    gateway
        .from_host(Packet::Signal {
            source: model_id,
            index: 0,
            args: bincode(&(3u64, 2u64, Vec::<String>::new(), 5u64)),
        })
        .unwrap();
    gateway
        .from_host(Packet::Signal {
            source: model_id,
            index: 2,
            args: bincode(&(0u64, 1u64, 1u64, 5u64)),
        })
        .unwrap();
    let qt = gateway.take_to_qt();
    let signals: Vec<(i32, &[QVariant])> = qt
        .iter()
        .filter_map(|p| match p {
            QtPacket::Invoke { index, args, .. } => Some((*index, args.as_slice())),
            _ => None,
        })
        .collect();
    assert_eq!(signals[0].0, signal::ROWS_INSERTED);
    assert_eq!(signals[0].1[1..], [QVariant::Int(3), QVariant::Int(4)]);
    assert_eq!(signals[1].0, signal::ROWS_MOVED);
    assert_eq!(
        signals[1].1[1..3],
        [QVariant::Int(0), QVariant::Int(1)],
        "row 0, one row"
    );
    assert_eq!(signals[1].1[4], QVariant::Int(2), "before the row now at 2");
    gateway
        .from_qt(call(method::SIZE, vec![index_list(&[])], 3))
        .unwrap();
    assert!(matches!(
        &gateway.take_to_qt()[..],
        [QtPacket::InvokeReply {
            value: QVariant::Size(1, 5),
            ..
        }]
    ));
}

/// A node gateway holding a typed replica of `listed::Names` from a Qt host whose model has
/// 3 rows: the gateway, and the model's source id on the node.
fn node_gateway_with_names() -> (
    actix_remote_objects::qt::node_gateway::NodeGateway,
    actix_remote_objects::wire::SourceId,
) {
    use actix_remote_objects::qt::model::method;
    use actix_remote_objects::wire::qt::variant::sub_object_kind;
    let schema = listed::Names::schema().unwrap();
    let api = QtApi::from_schema(&schema).unwrap();
    let face = api.children[0].model.clone().unwrap();
    let mut gateway = greeted_node_gateway("Names", listed::Names::signature(), api);
    gateway
        .from_node(Packet::Acquire {
            name: "Names".into(),
            signature: listed::Names::signature(),
        })
        .unwrap();
    let _ = (gateway.take_to_node(), gateway.take_to_qt());
    let roles = actix_remote_objects::wire::qt::SubObject::new(
        "Model::Names::names".into(),
        "QAbstractItemModelAdapter".into(),
        sub_object_kind::MODEL,
        None,
        &face.init_values(),
        gateway.types(),
    )
    .unwrap();
    gateway
        .from_qt(QtPacket::Init {
            name: "Names".into(),
            values: vec![roles.into_variant()],
        })
        .unwrap();
    assert!(
        gateway.take_to_node().is_empty(),
        "the init waits for the row count"
    );
    let qt = gateway.take_to_qt();
    let [QtPacket::Invoke {
        index: method::SIZE,
        serial,
        ..
    }] = &qt[..]
    else {
        panic!("{qt:?}")
    };
    let reply = |serial: i32, value: QVariant| QtPacket::InvokeReply {
        name: "Model::Names::names".into(),
        serial,
        value,
    };
    gateway
        .from_qt(reply(*serial, QVariant::Size(1, 3)))
        .unwrap();
    let node = gateway.take_to_node();
    let [Packet::Init { children, .. }] = &node[..] else {
        panic!("{node:?}")
    };
    let model = children[0].source;
    assert_eq!(
        Encoding::Bincode
            .decode::<u64>(&children[0].values[0])
            .unwrap(),
        3
    );

    (gateway, model)
}

/// A Qt host's model reaches the node whole and in Qt's order: the init waits for the row
/// count, a `dataChanged` for its rows (the packets after it are held), and a change whose
/// rows may have moved under it (an insert came first) becomes a reset in its place.
#[test]
fn a_qt_hosts_model_reaches_the_node_in_order() {
    use actix_remote_objects::qt::model::{data_entries, index_list, int_list, method, signal};
    use actix_remote_objects::qt::node_gateway::NodeGateway;
    let (mut gateway, model) = node_gateway_with_names();
    let schema = listed::Names::schema().unwrap();
    let face = QtApi::from_schema(&schema).unwrap().children[0]
        .model
        .clone()
        .unwrap();
    let reply = |serial: i32, value: QVariant| QtPacket::InvokeReply {
        name: "Model::Names::names".into(),
        serial,
        value,
    };
    let qt_signal = |index: i32, args: Vec<QVariant>| QtPacket::Invoke {
        name: "Model::Names::names".into(),
        call: CALL_INVOKE,
        index,
        args,
        serial: -1,
        property_index: -1,
    };
    let entry = |row: i32, text: &str| {
        let row_value = actix_remote_objects::dynamic::Value::Str(text.into());
        face.entries(
            row as u64,
            &[row_value],
            0..=0,
            &[0],
            &QtApi::from_schema(&schema.children[0].api).unwrap(),
        )
    };
    let changed = |row: i32| {
        qt_signal(
            signal::DATA_CHANGED,
            vec![
                index_list(&[(row, 0)]),
                index_list(&[(row, 0)]),
                int_list(&[0]),
            ],
        )
    };
    let asked = |gateway: &mut NodeGateway| match &gateway.take_to_qt()[..] {
        [QtPacket::Invoke {
            index: method::ROWS,
            serial,
            ..
        }] => *serial,
        other => panic!("{other:?}"),
    };
    let signals = |packets: Vec<Packet>| -> Vec<u16> {
        packets
            .iter()
            .map(|p| match p {
                Packet::Signal { source, index, .. } if *source == model => *index,
                other => panic!("{other:?}"),
            })
            .collect()
    };

    // A change: its rows are fetched, and it reaches the node with them.
    gateway.from_qt(changed(1)).unwrap();
    let serial = asked(&mut gateway);
    gateway
        .from_qt(reply(serial, data_entries(entry(1, "B"))))
        .unwrap();
    let node = gateway.take_to_node();
    let [Packet::Signal { index: 3, args, .. }] = &node[..] else {
        panic!("{node:?}")
    };
    let (first, rows, roles): (u64, Vec<String>, Vec<u16>) =
        Encoding::Bincode.decode(args).unwrap();
    assert_eq!((first, rows, roles), (1, vec!["B".to_owned()], vec![0]));

    // A change, then an insert before its rows came: a reset in the change's place.
    gateway.from_qt(changed(2)).unwrap();
    let serial = asked(&mut gateway);
    gateway
        .from_qt(qt_signal(
            signal::ROWS_INSERTED,
            vec![index_list(&[]), QVariant::Int(0), QVariant::Int(0)],
        ))
        .unwrap();
    assert!(gateway.take_to_node().is_empty(), "held behind the change");
    gateway
        .from_qt(reply(serial, data_entries(entry(2, "C"))))
        .unwrap();
    assert_eq!(
        signals(gateway.take_to_node()),
        [4, 0],
        "reset, then the insert"
    );
}

/// A Qt host that stops answering pings cannot make the node gateway queue without end:
/// past `MAX_PENDING_PONGS` writes awaiting it, a write is refused at once.
#[test]
fn writes_awaiting_a_silent_qt_host_are_bounded() {
    use actix_remote_objects::qt::node_gateway::MAX_PENDING_PONGS;
    let mut gateway = node_gateway_with_demo();
    let types = {
        let mut types = demo().registry();
        types.add_gadget("MyPod", vec!["x".into(), "name".into()]);
        types
    };
    let init = captured_frames()
        .iter()
        .filter_map(|f| QtPacket::decode(f, &types).ok())
        .find(|p| matches!(p, QtPacket::Init { name, .. } if name == "Demo"))
        .expect("the static capture holds Demo's init");
    gateway.from_qt(init).unwrap();
    let node = gateway.take_to_node();
    let source = node
        .iter()
        .find_map(|p| match p {
            Packet::Init { source, .. } => Some(*source),
            _ => None,
        })
        .expect("the node got the init");
    for serial in 1..=MAX_PENDING_PONGS as u32 + 1 {
        gateway
            .from_node(Packet::SetProperty {
                source,
                index: 1,
                serial,
                value: bincode(&"x".to_owned()),
            })
            .unwrap();
    }
    let refused: Vec<u32> = gateway
        .take_to_node()
        .iter()
        .filter_map(|p| match p {
            Packet::SetPropertyRefused {
                serial, index: 1, ..
            } => Some(*serial),
            _ => None,
        })
        .collect();
    assert_eq!(refused, [MAX_PENDING_PONGS as u32 + 1]);
}

/// A Qt host that goes on sending while it leaves a model's rows unanswered cannot make
/// the gateway hold packets without end: the connection ends.
#[test]
fn a_qt_host_stalling_a_model_ends_its_connection() {
    use actix_remote_objects::qt::model::{index_list, int_list, signal};
    use actix_remote_objects::qt::node_gateway::NodeGatewayError;
    let (mut gateway, _) = node_gateway_with_names();
    let changed = QtPacket::Invoke {
        name: "Model::Names::names".into(),
        call: CALL_INVOKE,
        index: signal::DATA_CHANGED,
        args: vec![index_list(&[(0, 0)]), index_list(&[(0, 0)]), int_list(&[0])],
        serial: -1,
        property_index: -1,
    };
    let mut sent = 0;
    let outcome = loop {
        sent += 1;
        if let Err(error) = gateway.from_qt(changed.clone()) {
            break error;
        }
        assert!(sent < 1_000_000, "the gateway holds without end");
        let _ = gateway.take_to_qt();
    };
    assert_eq!(outcome, NodeGatewayError::Stalled);
    assert!(
        gateway.take_to_node().is_empty(),
        "nothing held was let through"
    );
}
