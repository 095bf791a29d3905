//! Sub-objects (Qt's `CLASS` members): a child source comes with its parent's replica, in
//! one snapshot; its changes, signals, slots and writes work like any source's, in order
//! with the parent's; re-pointing a member sends the new child whole, and `None` is allowed.

mod support;

use actix_remote_objects::prelude::*;
use actix_remote_objects::{ChildSource, Event};
use office::ReplicaExt as _;
use support::office_api::*;
use support::*;
use tray::ReplicaExt as _;

/// A host serving an office named "HQ" whose tray holds `sheets`, and its state.
async fn office_host(url: &str, sheets: u32) -> (Host, office::SimpleSource) {
    let host = Host::listen(url).await.unwrap();
    let state = office::SimpleSource::new(office::Properties { name: "HQ".into() });
    state.set_tray(new_tray(sheets)).unwrap();
    host.enable_remoting(OfficeService(state.clone()))
        .await
        .unwrap();
    (host, state)
}

async fn a_replica_comes_with_its_children_in_one_snapshot(url: &str) {
    let _guard = init();
    let (host, _office) = office_host(url, 5).await;
    let node = Node::connect(host.url().unwrap()).await.unwrap();
    let replica = node.acquire::<Office>();
    assert!(replica.tray().is_none(), "no child before the init");
    replica.wait_for_source(TIMEOUT).await.unwrap();
    let tray = replica.tray().expect("the tray came with the office");
    assert_eq!(tray.state(), ReplicaState::Valid);
    assert_eq!((replica.name(), tray.sheets()), ("HQ".to_owned(), 5));
    assert_eq!(tray.source_name(), "Office.tray");
    assert!(replica.spare().is_none(), "the office holds no spare");
}

async fn a_childs_changes_signals_slots_and_writes_work_in_order(url: &str) {
    let _guard = init();
    let (host, office) = office_host(url, 5).await;
    let node = Node::connect(host.url().unwrap()).await.unwrap();
    let replica = node.acquire::<Office>();
    replica.wait_for_source(TIMEOUT).await.unwrap();
    let tray = replica.tray().unwrap();
    let mut events = tray.events();

    // A change and a signal from the child's own source.
    let source_tray = office.tray().unwrap();
    source_tray.source().set_sheets(3).unwrap();
    source_tray.source().emit_ran_out(3).unwrap();
    assert!(matches!(
        next(&mut events).await,
        Event::PropertyChanged(tray::PropertyChange::Sheets(3))
    ));
    assert!(
        matches!(next(&mut events).await, Event::Signal(tray::Signal::RanOut(s)) if s.after == 3)
    );

    // The child's slot, called on its replica.
    assert_eq!(tray.call(tray::Refill { n: 4 }).await, Ok(7));
    assert_eq!(tray.sheets(), 7, "its change came before its reply");

    // A write of the child's read-write property goes through the child's source.
    assert_eq!(tray.set_label("A4".into()).await, Ok("A4".to_owned()));
    assert_eq!(source_tray.source().label(), "A4");

    // A parent slot that changes the child: the child's change is there before the reply.
    replica.call(office::Load { n: 100 }).await.unwrap();
    assert_eq!(tray.sheets(), 100);
}

async fn a_member_re_pointed_or_emptied_is_seen_whole_by_a_watching_replica(url: &str) {
    let _guard = init();
    let (host, office) = office_host(url, 5).await;
    let node = Node::connect(host.url().unwrap()).await.unwrap();
    let replica = node.acquire::<Office>();
    replica.wait_for_source(TIMEOUT).await.unwrap();
    let mut events = replica.events();
    let tray = replica.tray().unwrap();
    let mut tray_events = tray.events();

    // A spare appears: it comes whole, with its values.
    office.set_spare(Some(new_tray(9))).unwrap();
    assert!(matches!(
        next(&mut events).await,
        Event::ChildChanged { child: "spare" }
    ));
    let spare = replica.spare().expect("the spare is there");
    assert_eq!((spare.state(), spare.sheets()), (ReplicaState::Valid, 9));

    // The tray is re-pointed at another tray: the same replica shows the new one's values.
    office.set_tray(new_tray(42)).unwrap();
    assert!(matches!(
        next(&mut events).await,
        Event::ChildChanged { child: "tray" }
    ));
    assert!(matches!(
        next(&mut tray_events).await,
        Event::PropertyChanged(tray::PropertyChange::Sheets(42))
    ));
    assert_eq!((tray.state(), tray.sheets()), (ReplicaState::Valid, 42));

    // The spare is taken away: the member shows none, the spare's replica lost its source.
    office.set_spare(None).unwrap();
    assert!(matches!(
        next(&mut events).await,
        Event::ChildChanged { child: "spare" }
    ));
    assert!(replica.spare().is_none());
    assert_eq!(spare.state(), ReplicaState::Suspect);
    assert!(
        spare.call(tray::Refill { n: 1 }).await.is_err(),
        "a detached child cannot be called"
    );

    // The old tray, detached, no longer reaches the replica.
    office.set_name("after".into()).unwrap();
    assert!(matches!(
        next(&mut events).await,
        Event::PropertyChanged(office::PropertyChange::Name(n)) if n == "after"
    ));
    assert_eq!(tray.sheets(), 42);
}

async fn a_detached_child_can_hang_elsewhere_but_never_in_two_places(url: &str) {
    let _guard = init();
    let (_host, office) = office_host(url, 5).await;
    let spare = new_tray(1);
    office.set_spare(Some(spare.clone())).unwrap();
    let other = office::SimpleSource::default();
    let error = other.set_tray(spare.clone()).unwrap_err();
    assert!(error.is_usage(), "{error}");
    assert!(error.to_string().contains("already hangs"), "{error}");
    office.set_spare(None).unwrap();
    other.set_tray(spare.clone()).unwrap();
    other
        .set_tray(spare)
        .expect("setting the child a member holds is no change");
}

async fn a_dynamic_replica_sees_the_children_and_their_changes(url: &str) {
    use actix_remote_objects::dynamic::{DynamicEvent, Value};
    let _guard = init();
    let (host, office) = office_host(url, 5).await;
    let node = Node::connect(host.url().unwrap()).await.unwrap();
    let replica = node.acquire_dynamic("Office");
    replica.wait_for_source(TIMEOUT).await.unwrap();
    let tray = replica
        .child("tray")
        .expect("the tray came with the office");
    assert_eq!(tray.state(), ReplicaState::Valid);
    assert_eq!(tray.property("sheets"), Ok(Value::UInt(5)));
    assert!(replica.child("spare").is_none());
    assert!(replica.child("nothing").is_none());
    assert_eq!(
        tray.call("refill", vec![Value::UInt(2)]).await,
        Ok(Value::UInt(7))
    );
    assert_eq!(tray.property("sheets"), Ok(Value::UInt(7)));

    let mut events = replica.events();
    office.set_spare(Some(new_tray(3))).unwrap();
    assert_eq!(
        next(&mut events).await,
        DynamicEvent::ChildChanged {
            child: "spare".into()
        }
    );
    let spare = replica.child("spare").expect("the spare is there");
    assert_eq!(spare.property("sheets"), Ok(Value::UInt(3)));
}

over_tcp_and_unix!(
    a_dynamic_replica_sees_the_children_and_their_changes,
    a_replica_comes_with_its_children_in_one_snapshot,
    a_childs_changes_signals_slots_and_writes_work_in_order,
    a_member_re_pointed_or_emptied_is_seen_whole_by_a_watching_replica,
    a_detached_child_can_hang_elsewhere_but_never_in_two_places,
);

#[actix::test]
async fn a_source_whose_required_child_is_unset_is_not_served() {
    let _guard = init();
    let host = Host::listen("tcp://127.0.0.1:0").await.unwrap();
    let error = host
        .enable_remoting(OfficeService(office::SimpleSource::default()))
        .await
        .unwrap_err();
    assert!(error.is_usage(), "{error}");
    assert!(error.to_string().contains("tray"), "{error}");
}

#[actix::test]
async fn children_go_suspect_with_their_parent_and_come_back_with_it() {
    let _guard = init();
    let (host, office) = office_host("tcp://127.0.0.1:0", 5).await;
    let proxy = support::proxy::FaultProxy::start(host.url().unwrap()).await;
    let node = Node::connect(proxy.url()).await.unwrap();
    let replica = node.acquire::<Office>();
    replica.wait_for_source(TIMEOUT).await.unwrap();
    let tray = replica.tray().unwrap();
    proxy.cut();
    wait_state(&replica, ReplicaState::Suspect).await;
    wait_state(&tray, ReplicaState::Suspect).await;
    // Changed while the replica was away: the re-init carries it.
    office.tray().unwrap().source().set_sheets(6).unwrap();
    proxy.pass();
    wait_state(&replica, ReplicaState::Valid).await;
    assert_eq!(
        tray.state(),
        ReplicaState::Valid,
        "back before its parent is"
    );
    assert_eq!(tray.sheets(), 6);
}

remote_object! {
    pub Folder {
        prop title: String;
        child sub: Option<Folder>;
    }
}

remote_object! {
    /// The office's members without its children.
    pub Bare as "Office" {
        prop name: String;
        slot load(n: u32);
    }
}

#[test]
fn an_api_nested_in_itself_is_refused_by_its_description() {
    let error = Folder::schema().unwrap_err();
    assert!(error.to_string().contains("recursive"), "{error}");
}

#[test]
fn the_description_and_the_signature_cover_the_children() {
    let schema = Office::schema().unwrap();
    let names: Vec<(&str, bool)> = schema
        .children
        .iter()
        .map(|c| (c.name.as_str(), c.optional))
        .collect();
    assert_eq!(names, [("tray", false), ("spare", true)]);
    assert_eq!(schema.children[0].api, Tray::schema().unwrap());
    assert_ne!(
        Bare::signature(),
        Office::signature(),
        "the same members without the children are another API"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_child_made_outside_an_actix_system_serves_its_slots() {
    let _guard = init();
    let host = Host::listen("tcp://127.0.0.1:0").await.unwrap();
    let tray = ChildSource::start_with(|| TrayService(tray::SimpleSource::default()));
    let state = office::SimpleSource::default();
    state.set_tray(tray).unwrap();
    host.enable_remoting_with(move || OfficeService(state))
        .await
        .unwrap();
    let node = Node::connect(host.url().unwrap()).await.unwrap();
    let replica = node.acquire::<Office>();
    replica.wait_for_source(TIMEOUT).await.unwrap();
    let tray = replica.tray().expect("the tray came with the office");
    assert_eq!(tray.call(tray::Refill { n: 3 }).await, Ok(3));
    host.shutdown().await;
}

#[actix::test]
async fn a_dynamic_replica_joining_a_typed_one_on_the_same_node_sees_the_children() {
    // Regression: the first replica of a source used up the children of an init, so the
    // second on the same node came without them.
    use actix_remote_objects::dynamic::{DynamicEvent, Value};
    let _guard = init();
    let (host, office) = office_host("tcp://127.0.0.1:0", 5).await;
    let node = Node::connect(host.url().unwrap()).await.unwrap();
    let typed = node.acquire::<Office>();
    typed.wait_for_source(TIMEOUT).await.unwrap();
    let replica = node.acquire_dynamic("Office");
    replica.wait_for_source(TIMEOUT).await.unwrap();
    let tray = replica
        .child("tray")
        .expect("the tray came with the office");
    assert_eq!(tray.property("sheets"), Ok(Value::UInt(5)));
    assert_eq!(typed.tray().map(|t| t.sheets()), Some(5));

    // A child change reaches both.
    let mut events = typed.events();
    let mut dynamic_events = replica.events();
    office.set_spare(Some(new_tray(9))).unwrap();
    assert!(matches!(
        next(&mut events).await,
        Event::ChildChanged { child: "spare" }
    ));
    loop {
        if let DynamicEvent::ChildChanged { child } = next(&mut dynamic_events).await {
            assert_eq!(child, "spare");
            break;
        }
    }
    assert_eq!(typed.spare().map(|t| t.sheets()), Some(9));
    let spare = replica.child("spare").expect("the spare is there for both");
    assert_eq!(spare.property("sheets"), Ok(Value::UInt(9)));
}
