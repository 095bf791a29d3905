//! The registry: hosts register what they enable, nodes find sources by name across hosts,
//! and entries follow hosts and registries as they come and go.

mod support;

use std::collections::BTreeMap;

use actix_remote_objects::prelude::*;
use actix_remote_objects::{NetworkChange, SourceLocation};
use support::proxy::FaultProxy;
use support::*;

async fn registered_host(registry_url: &str) -> Host {
    let config = HostConfig::default().registry_url(registry_url);
    let host = Host::listen_with("tcp://127.0.0.1:0", config)
        .await
        .unwrap();
    host.wait_for_registry(TIMEOUT).await.unwrap();
    host
}

/// Waits until the node's view of the registry satisfies `check`.
async fn registry_until(node: &Node, check: impl Fn(&BTreeMap<String, SourceLocation>) -> bool) {
    let mut changes = node.network_changes();
    while !check(&node.network_sources()) {
        next(&mut changes).await;
    }
}

#[actix::test]
async fn a_node_that_knows_only_the_registry_acquires_from_two_hosts() {
    let _guard = init();
    let registry = RegistryHost::listen("tcp://127.0.0.1:0").await.unwrap();
    let url = registry.url().unwrap().to_owned();
    let (a, b) = (registered_host(&url).await, registered_host(&url).await);
    a.enable_remoting(PrinterService::new()).await.unwrap();
    b.enable_remoting_as(PrinterService::new(), "Backup")
        .await
        .unwrap();

    let node = Node::with_registry(&url).unwrap();
    node.wait_for_registry(TIMEOUT).await.unwrap();
    let (printer, backup) = (
        node.acquire::<Printer>(),
        node.acquire_named::<Printer>("Backup"),
    );
    printer.wait_for_source(TIMEOUT).await.unwrap();
    backup.wait_for_source(TIMEOUT).await.unwrap();
    assert_eq!(
        printer.call(printer::Print { doc: "a".into() }).await,
        Ok(1)
    );
    assert_eq!(backup.call(printer::Print { doc: "b".into() }).await, Ok(1));

    let sources = node.network_sources();
    assert_eq!(sources["Printer"].host_url, a.url().unwrap());
    assert_eq!(sources["Backup"].host_url, b.url().unwrap());
    assert_eq!(sources["Printer"].api, "Printer");
    for host in [a, b] {
        host.shutdown().await;
    }
    registry.shutdown().await;
}

#[actix::test]
async fn nodes_are_told_as_sources_are_enabled_disabled_and_shut_down() {
    let _guard = init();
    let registry = RegistryHost::listen("tcp://127.0.0.1:0").await.unwrap();
    let url = registry.url().unwrap().to_owned();
    let node = Node::with_registry(&url).unwrap();
    node.wait_for_registry(TIMEOUT).await.unwrap();
    let host = registered_host(&url).await;

    host.enable_remoting(PrinterService::new()).await.unwrap();
    registry_until(&node, |s| s.contains_key("Printer")).await;
    host.disable_remoting("Printer").await.unwrap();
    registry_until(&node, |s| !s.contains_key("Printer")).await;
    host.enable_remoting_as(PrinterService::new(), "Again")
        .await
        .unwrap();
    registry_until(&node, |s| s.contains_key("Again")).await;
    host.shutdown().await;
    registry_until(&node, |s| s.is_empty()).await;
    registry.shutdown().await;
}

#[actix::test]
async fn a_registry_host_registers_its_own_sources() {
    let _guard = init();
    let registry = RegistryHost::listen("tcp://127.0.0.1:0").await.unwrap();
    registry
        .enable_remoting(PrinterService::new())
        .await
        .unwrap();
    let node = Node::with_registry(registry.url().unwrap()).unwrap();
    let printer = node.acquire::<Printer>();
    printer.wait_for_source(TIMEOUT).await.unwrap();
    assert_eq!(
        node.network_sources()["Printer"].host_url,
        registry.url().unwrap()
    );
    registry.shutdown().await;
}

#[actix::test]
async fn a_second_host_registering_a_taken_name_is_refused_and_the_first_wins() {
    let _guard = init();
    let (logs, _log_guard) = Logs::capture();
    let registry = RegistryHost::listen("tcp://127.0.0.1:0").await.unwrap();
    let url = registry.url().unwrap().to_owned();
    let (first, second) = (registered_host(&url).await, registered_host(&url).await);
    first.enable_remoting(PrinterService::new()).await.unwrap();

    let error = second
        .enable_remoting(PrinterService::new())
        .await
        .unwrap_err();
    assert!(error.is_registry_conflict(), "{error}");
    assert!(
        error.to_string().contains(first.url().unwrap()),
        "names the holder: {error}"
    );
    assert!(
        second.source_names().is_empty(),
        "the refused source is not served"
    );
    assert!(
        logs.text()
            .contains("registration refused: the name is taken"),
        "{}",
        logs.text()
    );

    let node = Node::with_registry(&url).unwrap();
    node.wait_for_registry(TIMEOUT).await.unwrap();
    assert_eq!(
        node.network_sources()["Printer"].host_url,
        first.url().unwrap()
    );
    for host in [first, second] {
        host.shutdown().await;
    }
    registry.shutdown().await;
}

#[actix::test]
async fn a_host_that_loses_its_registry_connection_loses_its_entries_until_it_is_back() {
    let _guard = init();
    let registry = RegistryHost::listen("tcp://127.0.0.1:0").await.unwrap();
    let proxy = FaultProxy::start(registry.url().unwrap()).await;
    let host = registered_host(proxy.url()).await;
    host.enable_remoting(PrinterService::new()).await.unwrap();
    let node = Node::with_registry(registry.url().unwrap()).unwrap();
    registry_until(&node, |s| s.contains_key("Printer")).await;

    proxy.cut();
    registry_until(&node, |s| s.is_empty()).await;
    proxy.pass();
    // The host reconnects to the registry and registers its sources again.
    registry_until(&node, |s| s.contains_key("Printer")).await;
    host.shutdown().await;
    registry.shutdown().await;
}

#[actix::test]
async fn replicas_keep_working_while_the_registry_restarts() {
    let _guard = init();
    let registry = RegistryHost::listen("tcp://127.0.0.1:0").await.unwrap();
    let url = registry.url().unwrap().to_owned();
    let host = registered_host(&url).await;
    host.enable_remoting(PrinterService::new()).await.unwrap();
    let node = Node::with_registry(&url).unwrap();
    let printer = node.acquire::<Printer>();
    printer.wait_for_source(TIMEOUT).await.unwrap();
    let node_registry = node.registry().unwrap().clone();

    registry.shutdown().await;
    wait_state(&node_registry, ReplicaState::Suspect).await;
    assert_eq!(
        printer
            .call(printer::Print {
                doc: "during".into()
            })
            .await,
        Ok(1),
        "the host stayed up"
    );

    let restarted = RegistryHost::listen(&url).await.unwrap();
    // Both the node and the host come back to the new registry; the host registers again.
    wait_state(&node_registry, ReplicaState::Valid).await;
    registry_until(&node, |s| s.contains_key("Printer")).await;
    assert_eq!(printer.state(), ReplicaState::Valid);
    assert_eq!(
        printer
            .call(printer::Print {
                doc: "after".into()
            })
            .await,
        Ok(2)
    );
    host.shutdown().await;
    restarted.shutdown().await;
}

#[actix::test]
async fn a_node_and_a_host_started_before_the_registry_work_once_it_appears() {
    let _guard = init();
    let url = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("tcp://{}", listener.local_addr().unwrap())
    };
    let node = Node::with_registry(&url).unwrap();
    let printer = node.acquire::<Printer>();
    let host = Host::listen_with(
        "tcp://127.0.0.1:0",
        HostConfig::default().registry_url(&url),
    )
    .await
    .unwrap();
    host.enable_remoting(PrinterService::new()).await.unwrap();
    assert_eq!(printer.state(), ReplicaState::Default);

    let registry = RegistryHost::listen(&url).await.unwrap();
    printer.wait_for_source(TIMEOUT).await.unwrap();
    assert_eq!(
        node.network_sources()["Printer"].host_url,
        host.url().unwrap()
    );
    host.shutdown().await;
    registry.shutdown().await;
}

#[actix::test]
async fn without_a_registry_waiting_for_one_is_an_error() {
    let _guard = init();
    let node = Node::new(NodeConfig::default());
    assert!(node
        .wait_for_registry(TIMEOUT)
        .await
        .unwrap_err()
        .is_registry());
    assert!(node.network_sources().is_empty());
    let host = Host::listen("tcp://127.0.0.1:0").await.unwrap();
    assert!(host
        .wait_for_registry(TIMEOUT)
        .await
        .unwrap_err()
        .is_registry());
    host.shutdown().await;
}

#[actix::test]
async fn a_host_without_a_listener_registers_under_its_advertised_url() {
    let _guard = init();
    let registry = RegistryHost::listen("tcp://127.0.0.1:0").await.unwrap();
    // The host is reached through a listener of the application's, which hands it the
    // streams it accepts (as behind a port forward, or with sockets from a supervisor).
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let advertised = format!("tcp://{}", listener.local_addr().unwrap());
    let config = HostConfig::default()
        .registry_url(registry.url().unwrap())
        .advertised_url(&advertised);
    let host = Host::new(config);
    let serving = host.clone();
    actix::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            serving.serve(stream);
        }
    });
    host.wait_for_registry(TIMEOUT).await.unwrap();
    host.enable_remoting(PrinterService::new()).await.unwrap();

    let node = Node::with_registry(registry.url().unwrap()).unwrap();
    let printer = node.acquire::<Printer>();
    printer.wait_for_source(TIMEOUT).await.unwrap();
    assert_eq!(
        printer.call(printer::Print { doc: "a".into() }).await,
        Ok(1)
    );
    assert_eq!(node.network_sources()["Printer"].host_url, advertised);
    host.shutdown().await;
    registry.shutdown().await;
}

#[actix::test]
async fn a_host_that_would_register_an_address_nobody_can_reach_does_not_start() {
    let _guard = init();
    let registry = "tcp://127.0.0.1:9"; // never reached: the host is refused before it
    let refused = |config: HostConfig, url: &'static str| async move {
        let error = Host::listen_with(url, config).await.unwrap_err();
        assert!(error.is_invalid_url(), "{error}");
        error.to_string()
    };
    let plain = HostConfig::default().registry_url(registry);
    let message = refused(plain.clone(), "tcp://0.0.0.0:0").await;
    assert!(message.contains("advertised_url"), "{message}");
    for advertised in ["tcp://0.0.0.0:4000", "tcp://[::]:4000", "tcp://127.0.0.1:0"] {
        let config = plain.clone().advertised_url(advertised);
        refused(config, "tcp://127.0.0.1:0").await;
    }
    // With a Qt registry, the host registers its Qt listener: that one is checked.
    let qt = HostConfig::default().registry_url("qt+tcp://127.0.0.1:9");
    let host = Host::listen_with("tcp://127.0.0.1:0", qt).await.unwrap();
    let error = host.listen_qt("tcp://0.0.0.0:0").await.unwrap_err();
    assert!(error.is_invalid_url(), "{error}");
    host.shutdown().await;
    // Without a registry nothing is registered, so an advertised URL is not checked.
    let advertised = HostConfig::default().advertised_url("tcp://127.0.0.1:0");
    let host = Host::listen_with("tcp://127.0.0.1:0", advertised)
        .await
        .unwrap();
    host.shutdown().await;
}

#[actix::test]
async fn a_watcher_is_told_each_change_in_the_order_it_happened() {
    let _guard = init();
    let registry = RegistryHost::listen("tcp://127.0.0.1:0").await.unwrap();
    let url = registry.url().unwrap().to_owned();
    let node = Node::with_registry(&url).unwrap();
    node.wait_for_registry(TIMEOUT).await.unwrap();
    let mut changes = node.network_changes();
    let host = registered_host(&url).await;
    let at = |_: &str| SourceLocation {
        api: "Printer".into(),
        signature: Printer::signature(),
        host_url: host.url().unwrap().to_owned(),
    };
    let added = |name: &str| NetworkChange::Added {
        name: name.into(),
        location: at(name),
    };
    let removed = |name: &str| NetworkChange::Removed {
        name: name.into(),
        location: at(name),
    };

    host.enable_remoting(PrinterService::new()).await.unwrap();
    host.enable_remoting_as(PrinterService::new(), "Backup")
        .await
        .unwrap();
    host.disable_remoting("Printer").await.unwrap();
    assert_eq!(next(&mut changes).await, added("Printer"));
    assert_eq!(next(&mut changes).await, added("Backup"));
    assert_eq!(next(&mut changes).await, removed("Printer"));
    host.shutdown().await;
    assert_eq!(next(&mut changes).await, removed("Backup"));
    assert!(node.network_sources().is_empty());
    registry.shutdown().await;
}

#[actix::test]
async fn one_more_registration_sends_the_change_not_the_whole_list() {
    let _guard = init();
    let registry = RegistryHost::listen("tcp://127.0.0.1:0").await.unwrap();
    for i in 0..200 {
        registry
            .enable_remoting_as(PrinterService::new(), &format!("Printer{i:03}"))
            .await
            .unwrap();
    }
    let proxy = FaultProxy::start(registry.url().unwrap()).await;
    let node = Node::with_registry(proxy.url()).unwrap();
    node.wait_for_registry(TIMEOUT).await.unwrap();
    assert_eq!(node.network_sources().len(), 200);
    let list_bytes = proxy.bytes_from_host();

    registry
        .enable_remoting_as(PrinterService::new(), "OneMore")
        .await
        .unwrap();
    registry_until(&node, |s| s.contains_key("OneMore")).await;
    let change_bytes = proxy.bytes_from_host() - list_bytes;
    assert!(
        change_bytes * 20 < list_bytes,
        "one registration cost {change_bytes} bytes; the list of 200 cost {list_bytes}"
    );
    registry.shutdown().await;
}

#[actix::test]
async fn a_view_that_fell_behind_the_registry_catches_up_from_a_snapshot() {
    let _guard = init();
    let (logs, _log_guard) = Logs::capture();
    let registry = RegistryHost::listen("tcp://127.0.0.1:0").await.unwrap();
    // Room for one event: a burst of registrations overflows the node's registry replica.
    let node = Node::new(NodeConfig::default().event_buffer(1));
    node.set_registry_url(registry.url().unwrap()).unwrap();
    node.wait_for_registry(TIMEOUT).await.unwrap();

    for i in 0..100 {
        registry
            .enable_remoting_as(PrinterService::new(), &format!("Printer{i:03}"))
            .await
            .unwrap();
    }
    registry_until(&node, |s| s.len() == 100).await;
    assert!(
        logs.text().contains("fetching a snapshot"),
        "the burst did not overflow the view: {}",
        logs.text()
    );
    registry.shutdown().await;
}

#[cfg(not(feature = "etcd"))]
#[actix::test]
async fn an_etcd_url_in_a_build_without_etcd_is_refused_saying_why() {
    let _guard = init();
    let config = HostConfig::default().registry_url("etcd://127.0.0.1:2379");
    let refused = Host::listen_with("tcp://127.0.0.1:0", config).await;
    let error = refused.expect_err("the host started");
    assert!(error.is_invalid_url(), "{error}");
    assert!(error.to_string().contains("`etcd` feature"), "{error}");
    let node = Node::with_registry("etcd://127.0.0.1:2379");
    assert!(node.is_err_and(|e| e.is_invalid_url()));
}
