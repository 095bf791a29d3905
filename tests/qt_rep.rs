//! `remote_object!(rep = "…")`: Qt's own `demo.rep` (the one its captures were made with)
//! imported as Rust types and an API, whose Qt face is exactly repc's.

use actix_remote_objects::qt::api::{QtApi, QtHints};
use actix_remote_objects::qt::convert::{to_qvariant, Cx};
use actix_remote_objects::wire::qt::QVariant;
use actix_remote_objects::{remote_object, RemoteObject};

remote_object!(rep = "tests/data/qt/demo.rep");

fn qt() -> QtApi {
    let hints = QtHints {
        rep: Demo::qt_rep(),
        enums: Demo::qt_enums(),
    };
    QtApi::for_api(&Demo::schema().unwrap(), hints).unwrap()
}

#[test]
fn an_imported_api_carries_repcs_signature() {
    // repc 6.4.2's signature of demo.rep's Demo (QTRO.md §2.5).
    assert_eq!(qt().signature, "adfb81bfa2d19511208c1f86b89f65b0eb602f0e");
}

#[test]
fn every_construct_becomes_rust() {
    // A POD is a struct, an ENUM an enum whose first key is its default, a class an API.
    let pod = MyPod {
        x: 7,
        name: "p".into(),
    };
    assert_eq!(pod.clone(), pod);
    assert_eq!(Mode::default(), Mode::Off);
    assert_eq!(GlobalEnum::default(), GlobalEnum::GA);
    let source = demo::SimpleSource::default();
    assert_eq!(source.count(), 5, "PROP(int count=5)");
    assert!(source.flag(), "PROP(bool flag=true CONSTANT)");
    let names: Vec<&str> = Demo::SLOTS.iter().map(|s| s.name).collect();
    assert_eq!(
        names,
        [
            "push_count",
            "push_mode",
            "push_pod",
            "add",
            "reset",
            "echo"
        ],
        "READPUSH (and PERSISTED alone) properties get push slots, before the SLOTs"
    );
    let label = Demo::PROPERTIES.iter().find(|p| p.name == "label").unwrap();
    assert_eq!(label.access, actix_remote_objects::Access::ReadWrite);
}

#[test]
fn enums_travel_as_the_values_the_file_gives_their_keys() {
    let api = qt();
    let mode = Demo::schema().unwrap().properties[5].format.clone();
    let value = actix_remote_objects::dynamic::Value::Variant {
        name: "On".into(),
        value: Box::new(actix_remote_objects::dynamic::Value::Unit),
    };
    let qt_mode = &api.properties[5].ty.qt;
    assert_eq!(qt_mode.name(), "Demo::Mode");
    assert_eq!(
        to_qvariant(&value, &mode, qt_mode, &Cx::of(&api)).unwrap(),
        QVariant::Int(3),
        "ENUM Mode {{Off, On=3, Auto}}"
    );
    let definition = api.definition();
    assert_eq!(definition.properties[4].type_name, "QVariantList");
    assert_eq!(definition.methods[5].signature, "echo(QString)");
}

#[path = "../examples/common/bench_api.rs"]
#[allow(dead_code)]
mod bench_api;

#[test]
fn the_benchmark_api_has_the_signature_of_the_qt_benchmark() {
    // tests/qt/bench.rep is the API of Qt's benchmark programs (../shared/bench/qtro).
    let rep = actix_remote_objects_rep::parse(include_str!("qt/bench.rep")).unwrap();
    let repc = actix_remote_objects_rep::signatures(&rep);
    let ours = QtApi::from_schema(&bench_api::Bench::schema().unwrap()).unwrap();
    assert_eq!(ours.signature, repc["Bench"]);
}

mod inline {
    actix_remote_objects::remote_object! {
        /// An inline API with Qt's expressiveness: an enum with explicit values, READPUSH.
        pub Machine {
            /// How it runs.
            enum State { Idle, Running = 3, Done }
            prop phase: State, push;
            prop level: i32 = 1, read_write;
            slot start(at: State) -> bool;
        }
    }
}

#[test]
fn an_inline_enum_carries_its_qt_values_and_the_signature_follows_them() {
    let hints = QtHints {
        rep: None,
        enums: inline::Machine::qt_enums(),
    };
    let api = QtApi::for_api(&inline::Machine::schema().unwrap(), hints).unwrap();
    let rep = actix_remote_objects_rep::parse(
        "class Machine\n{\n    ENUM State {Idle, Running=3, Done}\n    PROP(State phase READPUSH)\n\
         PROP(int level READWRITE)\n    SLOT(bool start(State at))\n};\n",
    )
    .unwrap();
    assert_eq!(
        api.signature,
        actix_remote_objects_rep::signatures(&rep)["Machine"],
        "the .rep file that says the same has the same signature"
    );
    let running = actix_remote_objects::dynamic::Value::Variant {
        name: "Running".into(),
        value: Box::new(actix_remote_objects::dynamic::Value::Unit),
    };
    let p = &api.properties[0];
    assert_eq!(
        to_qvariant(&running, &p.ty.format, &p.ty.qt, &Cx::of(&api)).unwrap(),
        QVariant::Int(3)
    );
    assert_eq!(inline::State::default(), inline::State::Idle);
}

mod with_members {
    //! A file with a CLASS (between two PROPs) and a MODEL.
    actix_remote_objects::remote_object!(rep = "tests/qt/office.rep");
    actix_remote_objects::remote_object!(rep = "tests/qt/playlist.rep");
}

fn qt_of<A: RemoteObject>() -> QtApi {
    let hints = QtHints {
        rep: A::qt_rep(),
        enums: A::qt_enums(),
    };
    QtApi::for_api(&A::schema().unwrap(), hints).unwrap()
}

fn repc_signatures(file: &str) -> std::collections::BTreeMap<String, String> {
    let text = std::fs::read_to_string(format!("{}/{file}", env!("CARGO_MANIFEST_DIR"))).unwrap();
    actix_remote_objects_rep::signatures(&actix_remote_objects_rep::parse(&text).unwrap())
}

#[test]
fn a_class_member_imports_as_an_optional_sub_object_in_the_files_order() {
    use actix_remote_objects::qt::api::QtMember;
    use with_members::office::ReplicaExt as _;
    let office = qt_of::<with_members::Office>();
    assert_eq!(
        office.signature,
        repc_signatures("tests/qt/office.rep")["Office"]
    );
    assert_eq!(
        office.layout,
        [QtMember::Value(0), QtMember::Child(0), QtMember::Value(1)],
        "name, tray, floors: as the file declares them"
    );
    assert_eq!(
        office.children[0].api.signature,
        repc_signatures("tests/qt/office.rep")["Tray"]
    );
    let schema = with_members::Office::schema().unwrap();
    assert!(
        schema.children[0].optional,
        "a Qt sub-object is a pointer, maybe null"
    );
    // The generated getters exist for the sub-object.
    let _getter = |r: &actix_remote_objects::Replica<with_members::Office>| r.tray().is_some();
}

#[test]
fn a_model_member_imports_as_a_list_model_of_a_row_of_its_roles() {
    use actix_remote_objects::qt::values::Variant;
    let playlist = qt_of::<with_members::Playlist>();
    assert_eq!(
        playlist.signature,
        repc_signatures("tests/qt/playlist.rep")["Playlist"]
    );
    let face = playlist.children[0].model.as_ref().expect("a model");
    let roles: Vec<(i32, &str)> = face.roles.iter().map(|r| (r.id, r.name.as_str())).collect();
    assert_eq!(
        roles,
        [(0, "display"), (257, "plays")],
        "Qt's display role by its name"
    );
    let row = with_members::PlaylistTracksRow {
        display: Variant::String("a".into()),
        plays: Variant::Int(1),
    };
    let source = with_members::playlist::SimpleSource::default();
    source.tracks().push(row.clone()).unwrap();
    assert_eq!(source.tracks().get(0), Some(row));
}
