//! Qt sub-objects (`CLASS` members) both ways, with the API imported from
//! `tests/qt/office.rep`, whose Office holds a Tray between two properties: a repc C++
//! replica of a Rust Office source, and a Rust typed and dynamic replica of the repc C++
//! Office source (`tests/qt/office_host.cpp`), each in its own process. The sub-object's
//! values come with its parent's init; its changes, signals, slots and writes go under its
//! own name; pointing the member at another object sends the new one whole.
//!
//! Needs Qt 6, as `tests/qt_interop.rs` does.

#[path = "support/qt_programs.rs"]
mod qt_programs;
mod support;

use std::process::Command;

use actix::prelude::*;
use actix_remote_objects::dynamic::Value;
use actix_remote_objects::prelude::*;
use actix_remote_objects::{ChildSource, Event};
use qt_programs::{cpp_programs, run_python_script, run_to_end, with_qt};
use support::processes::spawn_listening_program;
use support::*;

mod api {
    //! The Office and Tray APIs of the .rep file the Qt programs are built from.
    actix_remote_objects::remote_object!(rep = "tests/qt/office.rep");
}

use api::office::ReplicaExt as _;
use api::tray::ReplicaExt as _;
use api::{Office, Tray};

struct TrayService(api::tray::SimpleSource);

impl Actor for TrayService {
    type Context = Context<Self>;
}

impl RemoteSource for TrayService {
    type Api = Tray;
    fn simple_source(&self) -> &api::tray::SimpleSource {
        &self.0
    }
}

impl Handler<api::tray::Refill> for TrayService {
    type Result = SlotResult<i32>;
    fn handle(&mut self, msg: api::tray::Refill, _: &mut Context<Self>) -> SlotResult<i32> {
        let sheets = self.0.sheets() + msg.n;
        self.0.set_sheets(sheets).map_err(SlotError::source)?;
        self.0.emit_ranOut(sheets).map_err(SlotError::source)?;
        Ok(sheets)
    }
}

fn new_tray(sheets: i32) -> ChildSource<Tray> {
    let state = api::tray::SimpleSource::new(api::tray::Properties {
        sheets,
        ..Default::default()
    });
    ChildSource::start(TrayService(state))
}

struct OfficeService(api::office::SimpleSource);

impl Actor for OfficeService {
    type Context = Context<Self>;
}

impl RemoteSource for OfficeService {
    type Api = Office;
    fn simple_source(&self) -> &api::office::SimpleSource {
        &self.0
    }
}

impl Handler<api::office::SwapTray> for OfficeService {
    type Result = SlotResult<()>;
    fn handle(&mut self, _: api::office::SwapTray, _: &mut Context<Self>) -> SlotResult<()> {
        self.0
            .set_tray(Some(new_tray(100)))
            .map_err(SlotError::source)
    }
}

/// A Rust host serving Office "HQ" (3 floors, a tray of 5 sheets) to Qt nodes at `qt_url`;
/// the URL it listens on.
async fn rust_office_host(qt_url: &str) -> (Host, String) {
    let host = Host::listen("tcp://127.0.0.1:0").await.unwrap();
    let url = host.listen_qt(qt_url).await.unwrap();
    let state = api::office::SimpleSource::new(api::office::Properties {
        name: "HQ".into(),
        floors: 3,
    });
    state.set_tray(Some(new_tray(5))).unwrap();
    host.enable_remoting(OfficeService(state)).await.unwrap();
    (host, url)
}

#[actix::test]
async fn a_repc_cpp_replica_uses_the_sub_object_of_a_rust_source() {
    let _guard = init();
    if !with_qt() {
        return;
    }
    let (_host, url) = rust_office_host("tcp://127.0.0.1:0").await;
    let program = cpp_programs().join("office_replica");
    let out = actix_rt::task::spawn_blocking(move || run_to_end(Command::new(program).arg(url)))
        .await
        .unwrap();
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines,
        [
            "init name=HQ floors=3 sheets=5",
            "refill 9 sheets=9 ranOut=9",
            "label A4",
            "swapped sheets=100 label=",
            "done"
        ]
    );
}

#[actix::test]
async fn a_rust_typed_replica_uses_the_sub_object_of_a_qt_source() {
    let _guard = init();
    if !with_qt() {
        return;
    }
    let (_qt_host, url) =
        spawn_listening_program(&cpp_programs().join("office_host"), &["tcp://127.0.0.1:0"]);
    let node = Node::connect(&format!("qt+{url}")).await.unwrap();
    let office = node.acquire::<Office>();
    office.wait_for_source(TIMEOUT).await.unwrap();
    assert_eq!(
        office.state(),
        ReplicaState::Valid,
        "repc's signature matched"
    );
    assert_eq!((office.name(), office.floors()), ("HQ".to_owned(), 3));
    let tray = office.tray().expect("the tray came with the office");
    assert_eq!(tray.state(), ReplicaState::Valid);
    assert_eq!(tray.sheets(), 5);

    // The sub-object's slot, its change, and a write of its property, under its own name.
    let mut events = tray.events();
    assert_eq!(tray.call(api::tray::Refill { n: 4 }).await, Ok(9));
    assert!(matches!(
        next(&mut events).await,
        Event::PropertyChanged(api::tray::PropertyChange::Sheets(9))
    ));
    assert_eq!(tray.set_label("A4".into()).await, Ok("A4".to_owned()));
    assert_eq!(tray.label(), "A4");

    // The Qt source points its member at another tray: the replica gets it whole.
    let mut changes = office.events();
    assert_eq!(office.call(api::office::SwapTray {}).await, Ok(()));
    loop {
        if let Some(tray) = office.tray().filter(|t| t.sheets() == 100) {
            assert_eq!(tray.state(), ReplicaState::Valid);
            break;
        }
        next(&mut changes).await;
    }
    node.shutdown().await;
}

#[actix::test]
async fn a_rust_dynamic_replica_reads_a_qt_sub_object_from_its_definition() {
    let _guard = init();
    if !with_qt() {
        return;
    }
    let (_qt_host, url) =
        spawn_listening_program(&cpp_programs().join("office_host"), &["tcp://127.0.0.1:0"]);
    let node = Node::connect(&format!("qt+{url}")).await.unwrap();
    let office = node.acquire_dynamic("Office");
    office.wait_for_source(TIMEOUT).await.unwrap();
    let schema = office.schema().expect("the definition became a schema");
    let children: Vec<(&str, &str)> = schema
        .children
        .iter()
        .map(|c| (c.name.as_str(), c.api.api.as_str()))
        .collect();
    assert_eq!(children, [("tray", "Tray")]);
    assert_eq!(office.property("floors").unwrap(), Value::Int(3));
    let tray = office.child("tray").expect("the tray came with the office");
    assert_eq!(tray.property("sheets").unwrap(), Value::Int(5));
    assert_eq!(
        tray.call("refill", vec![Value::Int(4)]).await.unwrap(),
        Value::Int(9)
    );
    node.shutdown().await;
}

#[actix::test]
async fn a_pyqt_dynamic_replica_uses_the_sub_object_of_a_rust_source() {
    let _guard = init();
    if !with_qt() {
        return;
    }
    let (_host, url) = rust_office_host("tcp://127.0.0.1:0").await;
    let out = run_python_script("dynamic_office.py", url).await;
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines,
        [
            "office name tray floors floors=3",
            "tray Tray sheets=5",
            "sheets 9"
        ]
    );
}
