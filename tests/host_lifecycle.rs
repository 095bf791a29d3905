//! A host's life: listening on TCP and Unix sockets, stale socket files, enabling and
//! disabling sources, shutting down cleanly.

mod support;

use actix_remote_objects::prelude::*;
use support::*;

#[actix::test]
async fn port_zero_is_replaced_by_the_bound_port() {
    let _guard = init();
    let host = Host::listen("tcp://127.0.0.1:0").await.unwrap();
    let url = host.url().unwrap().to_owned();
    let port: u16 = url.rsplit(':').next().unwrap().parse().unwrap();
    assert!(url.starts_with("tcp://127.0.0.1:") && port != 0, "{url}");
    Node::connect(&url).await.unwrap();
    host.shutdown().await;
}

#[actix::test]
async fn a_stale_socket_file_is_replaced_and_removed_on_shutdown() {
    let _guard = init();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("stale.sock");
    // A listener that dies leaves its file behind, as a killed process would.
    drop(std::os::unix::net::UnixListener::bind(&path).unwrap());
    assert!(path.exists());

    let url = format!("local:{}", path.display());
    let host = Host::listen(&url).await.unwrap();
    host.enable_remoting(PrinterService::new()).await.unwrap();
    let node = Node::connect(&url).await.unwrap();
    node.acquire::<Printer>()
        .wait_for_source(TIMEOUT)
        .await
        .unwrap();
    host.shutdown().await;
    assert!(!path.exists(), "shutdown removes the socket file");
}

#[actix::test]
async fn a_live_socket_is_not_stolen() {
    let _guard = init();
    let (url, _dir) = socket_url();
    let first = Host::listen(&url).await.unwrap();
    let error = Host::listen(&url).await.unwrap_err();
    assert!(
        error.is_io() && error.to_string().contains("another process"),
        "{error}"
    );
    Node::connect(&url)
        .await
        .expect("the first host still serves");
    first.shutdown().await;
}

#[actix::test]
async fn bad_urls_are_refused() {
    let _guard = init();
    for url in ["http://127.0.0.1:1", "tcp://127.0.0.1", "local:"] {
        assert!(
            Host::listen(url).await.unwrap_err().is_invalid_url(),
            "{url}"
        );
        assert!(
            Node::connect(url).await.unwrap_err().is_invalid_url(),
            "{url}"
        );
    }
    assert_eq!(Node::supported_schemes(), &["tcp", "tls", "local"]);
}

#[actix::test]
async fn connecting_to_nothing_is_an_io_error() {
    let _guard = init();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("tcp://{}", listener.local_addr().unwrap());
    drop(listener);
    assert!(Node::connect(&url).await.unwrap_err().is_io());
}

async fn disabling_a_source_makes_its_replicas_suspect_once(url: &str) {
    let _guard = init();
    let host = Host::listen(url).await.unwrap();
    host.enable_remoting(PrinterService::new()).await.unwrap();
    let node = Node::connect(host.url().unwrap()).await.unwrap();
    let replica = node.acquire::<Printer>();
    replica.wait_for_source(TIMEOUT).await.unwrap();
    let (to, mut states) = collector::<StateChanged>();
    replica.subscribe_state(to);

    host.disable_remoting("Printer").await.unwrap();
    assert_eq!(
        next(&mut states).await,
        StateChanged {
            old: ReplicaState::Valid,
            new: ReplicaState::Suspect
        }
    );
    assert_eq!(host.subscriber_count("Printer"), None);
    assert_eq!(
        replica.call(printer::Print { doc: "x".into() }).await,
        Err(SlotError::NotConnected)
    );
    assert!(host
        .disable_remoting("Printer")
        .await
        .unwrap_err()
        .is_usage());

    // Enabled again, the same replica initializes again: exactly one Suspect came before.
    host.enable_remoting(PrinterService::new()).await.unwrap();
    assert_eq!(
        next(&mut states).await,
        StateChanged {
            old: ReplicaState::Suspect,
            new: ReplicaState::Valid
        }
    );
    host.shutdown().await;
}

async fn shutdown_closes_connections_and_replicas_keep_their_last_values(url: &str) {
    let _guard = init();
    let host = Host::listen(url).await.unwrap();
    host.enable_remoting(PrinterService::new()).await.unwrap();
    let node = Node::connect(host.url().unwrap()).await.unwrap();
    let replica = node.acquire::<Printer>();
    replica.wait_for_source(TIMEOUT).await.unwrap();
    replica
        .call(printer::Print { doc: "last".into() })
        .await
        .unwrap();

    host.shutdown().await;
    wait_state(&replica, ReplicaState::Suspect).await;
    assert_eq!(
        replica.properties().status,
        Status::Printing {
            job: 1,
            doc: "last".into()
        }
    );
    assert_eq!(host.connection_count(), 0);
    let error = host
        .enable_remoting(PrinterService::new())
        .await
        .unwrap_err();
    assert!(error.is_shutdown(), "{error}");
}

async fn dropping_the_last_handle_releases_the_subscription(url: &str) {
    let _guard = init();
    let host = Host::listen(url).await.unwrap();
    let service = PrinterService::new();
    let source = service.remote.clone();
    host.enable_remoting(service).await.unwrap();
    host.enable_remoting_as(PrinterService::new(), "Other")
        .await
        .unwrap();
    let node = Node::connect(host.url().unwrap()).await.unwrap();
    let replica = node.acquire::<Printer>();
    replica.wait_for_source(TIMEOUT).await.unwrap();
    let second = replica.clone();
    drop(replica);
    second
        .call(printer::Print { doc: "x".into() })
        .await
        .unwrap();
    assert_eq!(source.subscriber_count(), 1, "still held by a clone");

    drop(second);
    // The release and this acquire travel in order over one connection, so once `Other`
    // is initialized the host has processed the release.
    let other = node.acquire_named::<Printer>("Other");
    other.wait_for_source(TIMEOUT).await.unwrap();
    assert_eq!(source.subscriber_count(), 0);
    assert_eq!(host.subscriber_count("Printer"), Some(0));
    host.shutdown().await;
}

async fn a_host_serves_many_nodes_at_once(url: &str) {
    let _guard = init();
    let host = Host::listen(url).await.unwrap();
    let service = host.enable_remoting(PrinterService::new()).await.unwrap();
    let mut replicas = Vec::new();
    for _ in 0..8 {
        let node = Node::connect(host.url().unwrap()).await.unwrap();
        replicas.push((node.acquire::<Printer>(), node));
    }
    for (replica, _) in &replicas {
        replica.wait_for_source(TIMEOUT).await.unwrap();
    }
    replicas[0]
        .0
        .call(printer::Print { doc: "all".into() })
        .await
        .unwrap();
    for (replica, _) in &replicas {
        let mut changes = replica.property_changes();
        if replica.properties().status == Status::Idle {
            next(&mut changes).await;
        }
        assert_eq!(
            replica.properties().status,
            Status::Printing {
                job: 1,
                doc: "all".into()
            }
        );
    }
    assert!(service.connected());
    host.shutdown().await;
}

over_tcp_and_unix!(
    disabling_a_source_makes_its_replicas_suspect_once,
    shutdown_closes_connections_and_replicas_keep_their_last_values,
    dropping_the_last_handle_releases_the_subscription,
    a_host_serves_many_nodes_at_once,
);

#[actix::test]
async fn a_host_whose_handles_are_all_dropped_stops_accepting_and_says_so() {
    let _guard = init();
    let (logs, _log_guard) = Logs::capture();
    let host = Host::listen("tcp://127.0.0.1:0").await.unwrap();
    let url = host.url().unwrap().to_owned();
    drop(host);
    let error = Node::connect(&url).await.unwrap_err();
    assert!(error.is_closed() || error.is_io(), "{error}");
    assert!(
        logs.text().contains("no longer accepting connections"),
        "{}",
        logs.text()
    );
}

#[actix::test]
async fn the_subscriber_count_is_told_as_it_changes() {
    use futures::StreamExt;
    let _guard = init();
    let host = Host::listen("tcp://127.0.0.1:0").await.unwrap();
    host.enable_remoting(PrinterService::new()).await.unwrap();
    assert!(host.subscriber_counts("Nothing").is_none());
    let mut counts = host.subscriber_counts("Printer").unwrap();
    assert_eq!(next(&mut counts).await, 0);
    let node = Node::connect(host.url().unwrap()).await.unwrap();
    let replica = node.acquire::<Printer>();
    assert_eq!(next(&mut counts).await, 1);
    let other = Node::connect(host.url().unwrap()).await.unwrap();
    let second = other.acquire::<Printer>();
    assert_eq!(next(&mut counts).await, 2);
    drop(replica);
    assert_eq!(next(&mut counts).await, 1);
    other.shutdown().await;
    assert_eq!(next(&mut counts).await, 0);
    drop(second);
    assert!(
        futures::poll!(counts.next()).is_pending(),
        "no change, nothing told"
    );
    host.shutdown().await;
}
