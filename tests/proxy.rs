//! Proxies between networks: a host re-serves the sources another registry lists, relaying
//! calls, replies, changes and signals as bytes, and withdraws them when they go.

mod support;

use actix_remote_objects::prelude::*;
use actix_remote_objects::{BackgroundError, Event, Proxy, ProxyFilter};
use office::ReplicaExt as _;
use print_queue::ReplicaExt as _;
use printer::ReplicaExt;
use support::office_api::*;
use support::*;
use tray::ReplicaExt as _;

/// A network: its registry, and its URL.
async fn network() -> (RegistryHost, String) {
    let registry = RegistryHost::listen("tcp://127.0.0.1:0").await.unwrap();
    let url = registry.url().unwrap().to_owned();
    (registry, url)
}

/// A network whose one host serves a Printer: its registry, the registry's URL, the host.
async fn network_with_a_printer() -> (RegistryHost, String, Host) {
    let (registry, url) = network().await;
    let host = host_in(&url).await;
    host.enable_remoting(PrinterService::new()).await.unwrap();
    (registry, url, host)
}

/// Where `node`'s network lists the Printer.
fn printer_listed_at(node: &Node) -> Option<String> {
    node.network_sources()
        .get("Printer")
        .map(|l| l.host_url.clone())
}

async fn host_in(registry: &str) -> Host {
    let config = HostConfig::default().registry_url(registry);
    let host = Host::listen_with("tcp://127.0.0.1:0", config)
        .await
        .unwrap();
    host.wait_for_registry(TIMEOUT).await.unwrap();
    host
}

#[actix::test]
async fn a_replica_one_proxy_away_calls_slots_and_sees_changes_signals_and_withdrawal() {
    let _guard = init();
    let (_far_registry, far, source_host) = network_with_a_printer().await;

    let (_near_registry, near) = network().await;
    let proxy_host = host_in(&near).await;
    let _proxy = proxy_host.proxy(&far, ProxyFilter::all()).unwrap();

    let node = Node::with_registry(&near).unwrap();
    let printer = node.acquire::<Printer>();
    printer.wait_for_source(TIMEOUT).await.unwrap();
    assert_eq!(
        node.network_sources()
            .get("Printer")
            .map(|l| l.host_url.as_str()),
        proxy_host.url(),
        "the node reaches it through the proxy"
    );
    assert_eq!(
        printer.call(printer::Print { doc: "a".into() }).await,
        Ok(1)
    );
    assert_eq!(
        printer
            .call(printer::Fail {
                reason: "no toner".into()
            })
            .await,
        Err(SlotError::Source("no toner".into()))
    );

    let mut events = printer.events();
    assert_eq!(printer.call(printer::Refill { level: 40 }).await, Ok(40));
    loop {
        if let Event::PropertyChanged(printer::PropertyChange::InkLevel(40)) =
            next(&mut events).await
        {
            break;
        }
    }
    printer.call(printer::Jam { tray: 2 }).await.unwrap();
    loop {
        if let Event::Signal(printer::Signal::PaperJam(jam)) = next(&mut events).await {
            assert_eq!(jam.tray, 2);
            break;
        }
    }

    // A write goes to the far source and resolves once it applied it.
    assert_eq!(printer.set_name("lab".into()).await, Ok("lab".into()));
    assert_eq!(printer.name(), "lab");

    // The far host goes: the proxy withdraws what it relayed from it.
    source_host.shutdown().await;
    wait_state(&printer, ReplicaState::Suspect).await;
    let mut changes = node.network_changes();
    while node.network_sources().contains_key("Printer") {
        next(&mut changes).await;
    }
}

#[actix::test]
async fn two_proxies_away_over_tcp_and_unix_sockets_a_replica_survives_the_middle_restarting() {
    let _guard = init();
    // The far network, on Unix sockets; the middle and near ones on TCP.
    let (far_url, _far_dir) = socket_url();
    let far_registry = RegistryHost::listen(&far_url).await.unwrap();
    let (source_url, _source_dir) = socket_url();
    let config = HostConfig::default().registry_url(far_registry.url().unwrap());
    let source_host = Host::listen_with(&source_url, config).await.unwrap();
    source_host.wait_for_registry(TIMEOUT).await.unwrap();
    source_host
        .enable_remoting(PrinterService::new())
        .await
        .unwrap();
    let (_middle_registry, middle) = network().await;
    let (_near_registry, near) = network().await;

    let middle_host = host_in(&middle).await;
    let middle_proxy = middle_host
        .proxy(
            far_registry.url().unwrap(),
            ProxyFilter::all().api("Printer"),
        )
        .unwrap();
    let near_host = host_in(&near).await;
    let _near_proxy = near_host.proxy(&middle, ProxyFilter::all()).unwrap();

    let node = Node::with_registry(&near).unwrap();
    let printer = node.acquire::<Printer>();
    printer.wait_for_source(TIMEOUT).await.unwrap();
    assert_eq!(
        printer.call(printer::Print { doc: "a".into() }).await,
        Ok(1)
    );
    let mut events = printer.events();
    printer.call(printer::Refill { level: 7 }).await.unwrap();
    loop {
        if let Event::PropertyChanged(printer::PropertyChange::InkLevel(7)) =
            next(&mut events).await
        {
            break;
        }
    }

    // The middle proxy restarts: the replica goes Suspect, then Valid again through the
    // new one, with the source's state.
    let (to, mut states) = collector::<StateChanged>();
    printer.subscribe_state(to);
    drop(middle_proxy);
    middle_host.shutdown().await;
    let again = host_in(&middle).await;
    let _middle_proxy = again
        .proxy(far_registry.url().unwrap(), ProxyFilter::all())
        .unwrap();
    loop {
        if next(&mut states).await.is_reinit() {
            break;
        }
    }
    assert_eq!(printer.ink_level(), 7);
    assert_eq!(
        printer.call(printer::Print { doc: "b".into() }).await,
        Ok(2),
        "the same source, two proxies away"
    );
}

#[actix::test]
async fn a_proxy_relays_only_what_its_filter_accepts_and_a_proxy_back_makes_no_loop() {
    let _guard = init();
    let (_far_registry, far, source_host) = network_with_a_printer().await;
    source_host
        .enable_remoting_as(PrinterService::new(), "Spare")
        .await
        .unwrap();

    let (_near_registry, near) = network().await;
    let proxy_host = host_in(&near).await;
    let _proxy = proxy_host
        .proxy(&far, ProxyFilter::all().name("Printer"))
        .unwrap();
    let node = Node::with_registry(&near).unwrap();
    node.acquire::<Printer>()
        .wait_for_source(TIMEOUT)
        .await
        .unwrap();
    let offered: Vec<String> = node
        .offered_sources()
        .await
        .unwrap()
        .into_iter()
        .map(|o| o.name)
        .filter(|name| name != "Registry")
        .collect();
    assert_eq!(offered, ["Printer"], "Spare is filtered out");

    // A proxy the other way, from the near network back into the far one: the far registry
    // already has Printer (first registration wins), so it is not served there again.
    let back_host = host_in(&far).await;
    let mut refused = back_host.background_errors();
    let _back = back_host.proxy(&near, ProxyFilter::all()).unwrap();
    match next(&mut refused).await {
        BackgroundError::RegistrationConflict { name, .. } => assert_eq!(name, "Printer"),
        other => panic!("expected the name refused, got {other:?}"),
    }
    let far_node = Node::with_registry(&far).unwrap();
    far_node.wait_for_registry(TIMEOUT).await.unwrap();
    assert_eq!(printer_listed_at(&far_node).as_deref(), source_host.url());
}

#[actix::test]
async fn a_reverse_proxy_serves_its_networks_sources_to_a_node_that_reaches_only_the_registry() {
    let _guard = init();
    let (registry, url, source_host) = network_with_a_printer().await;
    let _out = registry.reverse_proxy(ProxyFilter::all()).unwrap();

    // From outside: only the registry host's address is known.
    let outsider = Node::connect(&url).await.unwrap();
    let printer = outsider.acquire::<Printer>();
    printer.wait_for_source(TIMEOUT).await.unwrap();
    assert_eq!(
        printer.call(printer::Print { doc: "out".into() }).await,
        Ok(1)
    );
    // Not registered twice: the network still lists the source at its own host.
    let inside = Node::with_registry(&url).unwrap();
    inside.wait_for_registry(TIMEOUT).await.unwrap();
    assert_eq!(printer_listed_at(&inside).as_deref(), source_host.url());
}

#[actix::test]
async fn when_the_other_registry_goes_away_what_came_through_it_is_withdrawn() {
    let _guard = init();
    let (far_registry, far, _source_host) = network_with_a_printer().await;
    let (_near_registry, near) = network().await;
    let proxy_host = host_in(&near).await;
    let _proxy = proxy_host.proxy(&far, ProxyFilter::all()).unwrap();
    let node = Node::with_registry(&near).unwrap();
    let printer = node.acquire::<Printer>();
    printer.wait_for_source(TIMEOUT).await.unwrap();

    far_registry.shutdown().await;
    wait_state(&printer, ReplicaState::Suspect).await;
    let mut changes = node.network_changes();
    while node.network_sources().contains_key("Printer") {
        next(&mut changes).await;
    }
}

/// A far network whose host serves an office (its tray holding 5 sheets), and a near one
/// whose host proxies it.
struct OfficeAway {
    office: office::SimpleSource,
    /// The near network's registry.
    near: String,
    _running: (RegistryHost, Host, RegistryHost, Host, Proxy),
}

async fn an_office_one_proxy_away() -> OfficeAway {
    let (far_registry, far) = network().await;
    let source_host = host_in(&far).await;
    let office = office::SimpleSource::new(office::Properties { name: "HQ".into() });
    office.set_tray(new_tray(5)).unwrap();
    source_host
        .enable_remoting(OfficeService(office.clone()))
        .await
        .unwrap();
    let (near_registry, near) = network().await;
    let proxy_host = host_in(&near).await;
    let proxy = proxy_host.proxy(&far, ProxyFilter::all()).unwrap();
    OfficeAway {
        office,
        near,
        _running: (far_registry, source_host, near_registry, proxy_host, proxy),
    }
}

#[actix::test]
async fn a_source_with_sub_objects_is_relayed_whole_with_its_childrens_calls_writes_and_changes() {
    let _guard = init();
    let away = an_office_one_proxy_away().await;
    let (office, node) = (&away.office, Node::with_registry(&away.near).unwrap());
    let replica = node.acquire::<Office>();
    replica.wait_for_source(TIMEOUT).await.unwrap();
    let tray = replica.tray().expect("the tray came with the office");
    assert_eq!((replica.name(), tray.sheets()), ("HQ".to_owned(), 5));
    assert_eq!(tray.state(), ReplicaState::Valid);
    assert!(replica.spare().is_none());

    // The child's own changes and signals, relayed.
    let mut tray_events = tray.events();
    let source_tray = office.tray().unwrap();
    source_tray.source().set_sheets(3).unwrap();
    source_tray.source().emit_ran_out(3).unwrap();
    assert!(matches!(
        next(&mut tray_events).await,
        Event::PropertyChanged(tray::PropertyChange::Sheets(3))
    ));
    assert!(matches!(
        next(&mut tray_events).await,
        Event::Signal(tray::Signal::RanOut(s)) if s.after == 3
    ));

    // The child's slot and a write of its property reach the far child.
    assert_eq!(tray.call(tray::Refill { n: 4 }).await, Ok(7));
    assert_eq!(tray.sheets(), 7, "its change came before its reply");
    assert_eq!(tray.set_label("A4".into()).await, Ok("A4".to_owned()));
    assert_eq!(source_tray.source().label(), "A4");

    // Members re-pointed and emptied at the far source are seen whole.
    let mut events = replica.events();
    office.set_spare(Some(new_tray(9))).unwrap();
    assert!(matches!(
        next(&mut events).await,
        Event::ChildChanged { child: "spare" }
    ));
    let spare = replica.spare().expect("the spare is there");
    assert_eq!((spare.state(), spare.sheets()), (ReplicaState::Valid, 9));
    assert_eq!(spare.call(tray::Refill { n: 1 }).await, Ok(10));

    office.set_tray(new_tray(42)).unwrap();
    assert!(matches!(
        next(&mut events).await,
        Event::ChildChanged { child: "tray" }
    ));
    assert_eq!(tray.sheets(), 42);
    assert_eq!(
        tray.call(tray::Refill { n: 1 }).await,
        Ok(43),
        "the new tray answers"
    );

    office.set_spare(None).unwrap();
    assert!(matches!(
        next(&mut events).await,
        Event::ChildChanged { child: "spare" }
    ));
    assert!(replica.spare().is_none());
    assert_eq!(spare.state(), ReplicaState::Suspect);
}

#[actix::test]
async fn a_dynamic_replica_one_proxy_away_sees_the_children() {
    use actix_remote_objects::dynamic::Value;
    let _guard = init();
    let away = an_office_one_proxy_away().await;
    let node = Node::with_registry(&away.near).unwrap();
    let replica = node.acquire_dynamic("Office");
    replica.wait_for_source(TIMEOUT).await.unwrap();
    let tray = replica
        .child("tray")
        .expect("the tray came with the office");
    assert_eq!(tray.property("sheets"), Ok(Value::UInt(5)));
    assert_eq!(
        tray.call("refill", vec![Value::UInt(2)]).await,
        Ok(Value::UInt(7))
    );
    assert_eq!(away.office.tray().map(|t| t.source().sheets()), Some(7));
}

#[actix::test]
async fn a_model_one_proxy_away_is_paged_through_and_follows_the_far_rows() {
    use actix_remote_objects::model::ModelChange;
    let _guard = init();
    let (_far_registry, far) = network().await;
    let source_host = host_in(&far).await;
    let queue = print_queue::SimpleSource::default();
    queue
        .jobs()
        .extend((0..300).map(|n| n.to_string()))
        .unwrap();
    source_host
        .enable_remoting(PrintQueueService(queue.clone()))
        .await
        .unwrap();
    let (_near_registry, near) = network().await;
    let proxy_host = host_in(&near).await;
    let _proxy = proxy_host.proxy(&far, ProxyFilter::all()).unwrap();

    let node = Node::with_registry(&near).unwrap();
    let replica = node.acquire::<PrintQueue>();
    replica.wait_for_source(TIMEOUT).await.unwrap();
    let jobs = replica.jobs().expect("the model came with the init");
    assert_eq!(jobs.row_count(), 300);
    let rows = jobs.fetch(250..260).await.unwrap();
    assert_eq!(rows, (250..260).map(|n| n.to_string()).collect::<Vec<_>>());

    let mut changes = jobs.changes();
    queue.jobs().push("last".into()).unwrap();
    assert_eq!(
        next(&mut changes).await,
        ModelChange::Inserted {
            first: 300,
            count: 1
        }
    );
    assert_eq!(jobs.row_count(), 301);
    assert_eq!(jobs.fetch(300..301).await.unwrap(), ["last"]);
}
