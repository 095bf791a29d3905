//! Errors no caller waits for — a background connect that fails, a registry-found host that
//! refuses the greeting, a host serving another API, the registry refusing a source the host
//! registers again — come out of `Node::background_errors` and `Host::background_errors`.

mod support;

use actix_remote_objects::prelude::*;
use actix_remote_objects::security::{SharedSecret, SharedSecrets};
use actix_remote_objects::BackgroundError;
use support::counter_api::Counter;
use support::proxy::FaultProxy;
use support::*;

/// A loopback URL where nothing listens (a port just given up by a listener).
fn nothing_listening() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("tcp://{}", listener.local_addr().unwrap());
    drop(listener);
    url
}

#[actix::test]
async fn each_failed_background_connect_is_reported_and_retried() {
    let _guard = init();
    let url = nothing_listening();
    let node = Node::new(NodeConfig::default());
    let mut errors = node.background_errors();
    node.connect_in_background(&url).unwrap();
    // The first attempt and the retry after the backoff: both told.
    for _ in 0..2 {
        match next(&mut errors).await {
            BackgroundError::ConnectFailed {
                url: failed,
                via_registry,
                error,
            } => {
                assert_eq!(failed, url);
                assert!(!via_registry);
                assert!(error.is_io(), "{error}");
            }
            other => panic!("expected a failed connect, got {other:?}"),
        }
    }
}

#[actix::test]
async fn a_host_found_through_the_registry_that_refuses_the_greeting_is_reported() {
    let _guard = init();
    let registry = RegistryHost::listen("tcp://127.0.0.1:0").await.unwrap();
    let registry_url = registry.url().unwrap().to_owned();
    let secrets = SharedSecrets::new().with("alice", b"alice's 32-byte secret, at least!");
    let config = HostConfig::default()
        .authenticator(secrets)
        .registry_url(&registry_url);
    let host = printer_host(config).await;
    host.wait_for_registry(TIMEOUT).await.unwrap();

    // No credentials: the host is found, reached, and refuses this node.
    let node = Node::with_registry(&registry_url).unwrap();
    let mut errors = node.background_errors();
    let _printer = node.acquire::<Printer>();
    match next(&mut errors).await {
        BackgroundError::HandshakeFailed {
            url,
            via_registry,
            error,
        } => {
            assert_eq!(url, host.url().unwrap());
            assert!(via_registry);
            assert!(error.is_auth(), "{error}");
        }
        other => panic!("expected a refused greeting, got {other:?}"),
    }
    host.shutdown().await;
    registry.shutdown().await;
}

#[actix::test]
async fn a_host_serving_a_name_with_another_api_is_reported() {
    let _guard = init();
    let host = printer_host(HostConfig::default()).await;
    let node = Node::connect(host.url().unwrap()).await.unwrap();
    let mut errors = node.background_errors();
    let wrong = node.acquire_named::<Counter>("Printer");
    wait_state(&wrong, ReplicaState::SignatureMismatch).await;
    match next(&mut errors).await {
        BackgroundError::SignatureMismatch { url, name } => {
            assert_eq!(url, host.url().unwrap());
            assert_eq!(name, "Printer");
        }
        other => panic!("expected a signature mismatch, got {other:?}"),
    }
    host.shutdown().await;
}

#[actix::test]
async fn a_host_reports_a_registry_it_cannot_reach() {
    let _guard = init();
    let registry_url = nothing_listening();
    let config = HostConfig::default().registry_url(&registry_url);
    let host = Host::listen_with("tcp://127.0.0.1:0", config)
        .await
        .unwrap();
    let mut errors = host.background_errors();
    match next(&mut errors).await {
        BackgroundError::ConnectFailed { url, error, .. } => {
            assert_eq!(url, registry_url);
            assert!(error.is_io(), "{error}");
        }
        other => panic!("expected the registry unreachable, got {other:?}"),
    }
    host.shutdown().await;
}

#[actix::test]
async fn a_name_taken_while_the_host_was_cut_from_the_registry_is_reported_on_reconnect() {
    let _guard = init();
    let registry = RegistryHost::listen("tcp://127.0.0.1:0").await.unwrap();
    let registry_url = registry.url().unwrap().to_owned();
    let link = FaultProxy::start(&registry_url).await;
    let first = printer_host(HostConfig::default().registry_url(link.url())).await;
    first.wait_for_registry(TIMEOUT).await.unwrap();
    let mut errors = first.background_errors();

    let watcher = Node::with_registry(&registry_url).unwrap();
    let mut changes = watcher.network_changes();
    let located_at = |url: &str| {
        let sources = watcher.network_sources();
        sources.get("Printer").map(|l| l.host_url.clone()) == Some(url.to_owned())
    };
    while !located_at(first.url().unwrap()) {
        next(&mut changes).await;
    }

    // Cut away, the first host's entries go; a second host takes the name meanwhile.
    link.cut();
    while watcher.network_sources().contains_key("Printer") {
        next(&mut changes).await;
    }
    let second = printer_host(HostConfig::default().registry_url(&registry_url)).await;
    second.wait_for_registry(TIMEOUT).await.unwrap();
    while !located_at(second.url().unwrap()) {
        next(&mut changes).await;
    }

    link.pass();
    loop {
        match next(&mut errors).await {
            // Refused while cut away: the link's reconnect attempts.
            BackgroundError::ConnectFailed { .. } => continue,
            BackgroundError::RegistrationConflict { name, error } => {
                assert_eq!(name, "Printer");
                assert!(error.is_registry_conflict(), "{error}");
                break;
            }
            other => panic!("expected a registration conflict, got {other:?}"),
        }
    }
    assert!(
        located_at(second.url().unwrap()),
        "the first host won it back"
    );
    // It still serves the name to a node that connects to it directly.
    let direct = Node::connect(first.url().unwrap()).await.unwrap();
    let printer = direct.acquire::<Printer>();
    printer.wait_for_source(TIMEOUT).await.unwrap();
    for host in [first, second] {
        host.shutdown().await;
    }
    registry.shutdown().await;
}

#[actix::test]
async fn a_node_the_host_admits_reports_nothing() {
    // With credentials, the host that refused a node without them admits this one: the
    // refusal reported above is the credentials', nothing else's.
    let _guard = init();
    let secrets = SharedSecrets::new().with("alice", b"alice's 32-byte secret, at least!");
    let host = printer_host(HostConfig::default().authenticator(secrets)).await;
    let config = NodeConfig::default().credentials(SharedSecret::new(
        "alice",
        b"alice's 32-byte secret, at least!",
    ));
    let node = Node::new(config);
    let mut errors = node.background_errors();
    node.connect_in_background(host.url().unwrap()).unwrap();
    node.acquire::<Printer>()
        .wait_for_source(TIMEOUT)
        .await
        .unwrap();
    assert!(
        futures::FutureExt::now_or_never(futures::StreamExt::next(&mut errors)).is_none(),
        "an admitted node reported an error"
    );
    host.shutdown().await;
}
