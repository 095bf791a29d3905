//! What the logs say: every connection's lines sit in a span naming the connection, its peer
//! and the host's or node's name (Qt's `setName`), every closed connection says why, and
//! fields are values, not `Debug` dumps.

mod support;

use actix_remote_objects::prelude::*;
use support::*;

#[actix::test]
async fn connection_logs_carry_who_and_why() {
    let _guard = init();
    let (logs, _capture) = Logs::capture();
    let host = Host::listen_with("tcp://127.0.0.1:0", HostConfig::default().name("printers"))
        .await
        .unwrap();
    host.enable_remoting(PrinterService::new()).await.unwrap();
    let url = host.url().unwrap().to_owned();
    let node = Node::connect_with(&url, NodeConfig::default().name("dashboard"))
        .await
        .unwrap();
    let replica = node.acquire::<Printer>();
    replica.wait_for_source(TIMEOUT).await.unwrap();
    node.shutdown().await;
    let mut counts = host.connection_counts();
    while next(&mut counts).await != 0 {}
    host.shutdown().await;

    let text = logs.text();
    let line = |needle: &str| {
        text.lines()
            .find(|l| l.contains(needle))
            .unwrap_or_else(|| panic!("no {needle:?} in:\n{text}"))
            .to_owned()
    };
    let host_side = line("connection closed: the node closed the connection");
    assert!(host_side.contains("connection{conn="), "{host_side}");
    assert!(host_side.contains("host=\"printers\""), "{host_side}");
    assert!(host_side.contains("peer=127.0.0.1:"), "{host_side}");
    assert!(host_side.contains("reason=\"node_closed\""), "{host_side}");
    let node_side = line("connection to host closed");
    assert!(node_side.contains("node=\"dashboard\""), "{node_side}");
    assert!(node_side.contains(&format!("url={url}")), "{node_side}");
    assert!(node_side.contains("reason=\"shutdown\""), "{node_side}");
    let shut = line("host shut down");
    assert!(shut.contains(&format!("url={url}")), "{shut}");
    assert!(
        !text.contains("Some("),
        "a field printed as an Option:\n{text}"
    );
}
