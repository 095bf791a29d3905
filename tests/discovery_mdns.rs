//! Zero-config discovery with mDNS: hosts announce their sources, nodes that know no URL
//! find and use them; sources vanish with their host's goodbye. In one process, on
//! loopback (`tests/process_discovery.rs` crosses network namespaces).

mod support;

use actix_remote_objects::prelude::*;
use actix_remote_objects::NetworkChange;
use support::*;

/// An `mdns:` URL of this test's own: a service name and a UDP port nobody else uses, on
/// loopback only, so tests neither hear each other nor reach the machine's LAN.
fn lan_of_this_test() -> String {
    let port = std::net::UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    format!("mdns:t{:x}?port={port}&interface=lo", fastrand::u32(..))
}

#[actix::test]
async fn a_node_with_no_url_finds_a_host_on_the_lan_and_is_told_when_it_leaves() {
    let _guard = init();
    let lan = lan_of_this_test();
    let host = printer_host(HostConfig::default().registry_url(&lan)).await;

    let node = Node::with_registry(&lan).unwrap();
    let mut changes = node.network_changes();
    let printer = node.acquire::<Printer>();
    printer.wait_for_source(TIMEOUT).await.unwrap();
    assert_eq!(
        printer
            .call(printer::Print {
                doc: "found".into()
            })
            .await,
        Ok(1)
    );
    match next(&mut changes).await {
        NetworkChange::Added { name, location } => {
            assert_eq!(name, "Printer");
            assert_eq!(location.host_url, host.url().unwrap());
            assert_eq!(location.api, "Printer");
        }
        other => panic!("expected Printer added, got {other:?}"),
    }

    host.disable_remoting("Printer").await.unwrap();
    match next(&mut changes).await {
        NetworkChange::Removed { name, .. } => assert_eq!(name, "Printer"),
        other => panic!("expected Printer removed, got {other:?}"),
    }
    assert!(node.network_sources().is_empty());
    host.shutdown().await;
}

#[actix::test]
async fn when_the_host_serving_a_name_leaves_another_serving_it_takes_over() {
    let _guard = init();
    let lan = lan_of_this_test();
    let first = printer_host(HostConfig::default().registry_url(&lan)).await;
    let node = Node::with_registry(&lan).unwrap();
    let mut changes = node.network_changes();
    let printer = node.acquire::<Printer>();
    printer.wait_for_source(TIMEOUT).await.unwrap();
    let served_at = |node: &Node| {
        node.network_sources()
            .get("Printer")
            .map(|l| l.host_url.clone())
    };
    assert_eq!(served_at(&node).as_deref(), first.url());

    // A second host of the name waits its turn; the first leaving hands the name over.
    let second = printer_host(HostConfig::default().registry_url(&lan)).await;
    let (to, mut states) = collector::<StateChanged>();
    printer.subscribe_state(to);
    first.shutdown().await;
    while served_at(&node).as_deref() != second.url() {
        next(&mut changes).await;
    }
    loop {
        let change = next(&mut states).await;
        if change.is_reinit() {
            break;
        }
    }
    // The second host's own count: the replica now talks to it.
    assert_eq!(
        printer
            .call(printer::Print {
                doc: "moved".into()
            })
            .await,
        Ok(1)
    );
    second.shutdown().await;
}

/// Regression: enabling hundreds of sources at once filled mdns-sd's command queue, and
/// `enable_remoting` failed with "try again"; the burst of events a node then gets can fill
/// its subscription, which mdns-sd closes.
#[actix::test]
async fn a_host_announcing_hundreds_of_sources_at_once_is_found_whole() {
    let _guard = init();
    let lan = lan_of_this_test();
    let host = Host::listen_with(
        "tcp://127.0.0.1:0",
        HostConfig::default().registry_url(&lan),
    )
    .await
    .unwrap();
    const SOURCES: usize = 600;
    for i in 0..SOURCES {
        host.enable_remoting_as(PrinterService::new(), &format!("p{i}"))
            .await
            .unwrap();
    }
    let node = Node::with_registry(&lan).unwrap();
    let mut changes = node.network_changes();
    while node.network_sources().len() < SOURCES {
        next(&mut changes).await;
    }
    host.shutdown().await;
}
