//! URL schemes of the user's: a node opens their streams with its connector and treats them
//! as `tcp://` hosts (reconnect, heartbeats, registry-found hosts).

mod support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use actix_remote_objects::prelude::*;
use support::proxy::FaultProxy;
use support::*;

/// A node whose `pipe:` URLs name Unix sockets, counting the streams it opens.
fn piped_node(registry: Option<&str>) -> (Node, Arc<AtomicUsize>) {
    let opened = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&opened);
    let config = NodeConfig::default().connector("pipe", move |url: &str| {
        counter.fetch_add(1, Ordering::SeqCst);
        let path = url.trim_start_matches("pipe:").to_owned();
        async move { tokio::net::UnixStream::connect(path).await }
    });
    let node = Node::new(config);
    if let Some(url) = registry {
        node.set_registry_url(url).unwrap();
    }
    (node, opened)
}

#[actix::test]
async fn a_scheme_of_the_users_connects_and_reconnects_through_its_connector() {
    let _guard = init();
    let (local_url, _dir) = socket_url();
    let pipe_url = local_url.replacen("local:", "pipe:", 1);
    let host = Host::listen(&local_url).await.unwrap();
    host.enable_remoting(PrinterService::new()).await.unwrap();
    let (node, opened) = piped_node(None);
    node.connect_to(&pipe_url).await.unwrap();
    let replica = node.acquire::<Printer>();
    replica.wait_for_source(TIMEOUT).await.unwrap();
    assert_eq!(
        replica.call(printer::Print { doc: "a".into() }).await,
        Ok(1)
    );

    host.shutdown().await;
    wait_state(&replica, ReplicaState::Suspect).await;
    let restarted = Host::listen(&local_url).await.unwrap();
    restarted
        .enable_remoting(PrinterService::new())
        .await
        .unwrap();
    wait_state(&replica, ReplicaState::Valid).await;
    assert_eq!(
        replica.call(printer::Print { doc: "b".into() }).await,
        Ok(1)
    );
    assert!(
        opened.load(Ordering::SeqCst) >= 2,
        "reconnected through the connector"
    );
    restarted.shutdown().await;
    node.shutdown().await;
}

#[actix::test]
async fn a_host_registered_under_a_scheme_of_the_users_is_found_and_reached() {
    let _guard = init();
    let registry = RegistryHost::listen("tcp://127.0.0.1:0").await.unwrap();
    let registry_url = registry.url().unwrap().to_owned();
    let (local_url, _dir) = socket_url();
    let pipe_url = local_url.replacen("local:", "pipe:", 1);
    let config = HostConfig::default()
        .registry_url(&registry_url)
        .advertised_url(&pipe_url);
    let host = Host::listen_with(&local_url, config).await.unwrap();
    host.wait_for_registry(TIMEOUT).await.unwrap();
    host.enable_remoting(PrinterService::new()).await.unwrap();

    let (node, opened) = piped_node(Some(&registry_url));
    let replica = node.acquire::<Printer>();
    replica.wait_for_source(TIMEOUT).await.unwrap();
    assert_eq!(
        replica.call(printer::Print { doc: "a".into() }).await,
        Ok(1)
    );
    assert_eq!(node.network_sources()["Printer"].host_url, pipe_url);
    assert_eq!(opened.load(Ordering::SeqCst), 1);
    host.shutdown().await;
    registry.shutdown().await;
    node.shutdown().await;
}

#[actix::test]
async fn a_scheme_without_a_connector_is_an_invalid_url() {
    let _guard = init();
    let (node, _) = piped_node(None);
    let error = node.connect_to("ws://127.0.0.1:9").await.unwrap_err();
    assert!(error.is_invalid_url(), "{error}");
    let error = Host::listen("pipe:/tmp/nowhere").await.unwrap_err();
    assert!(error.is_invalid_url(), "{error}");
    node.shutdown().await;
}

#[actix::test]
async fn the_heartbeat_drops_a_stalled_stream_of_a_connector_and_reconnects() {
    let _guard = init();
    let host = Host::listen("tcp://127.0.0.1:0").await.unwrap();
    host.enable_remoting(PrinterService::new()).await.unwrap();
    let proxy = FaultProxy::start(host.url().unwrap()).await;
    // `tunnel:host:port`: TCP, through the proxy, by a scheme of the test's.
    let config = NodeConfig::default()
        .heartbeat(Duration::from_millis(100))
        .connector("tunnel", |url: &str| {
            let address = url.trim_start_matches("tunnel:").to_owned();
            async move { tokio::net::TcpStream::connect(address).await }
        });
    let node = Node::new(config);
    let tunnel_url = proxy.url().replacen("tcp://", "tunnel:", 1);
    node.connect_to(&tunnel_url).await.unwrap();
    let replica = node.acquire::<Printer>();
    replica.wait_for_source(TIMEOUT).await.unwrap();

    proxy.stall();
    wait_state(&replica, ReplicaState::Suspect).await;
    proxy.pass();
    wait_state(&replica, ReplicaState::Valid).await;
    host.shutdown().await;
    node.shutdown().await;
}
