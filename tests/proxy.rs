//! Proxies between networks: a host re-serves the sources another registry lists, relaying
//! calls, replies, changes and signals as bytes, and withdraws them when they go.

mod support;

use actix_remote_objects::prelude::*;
use actix_remote_objects::{BackgroundError, Event, ProxyFilter};
use printer::ReplicaExt;
use support::*;

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
