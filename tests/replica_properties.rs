//! Property values on a replica: defaults, init, changes to recipients and streams,
//! read-write sets, several sources of one API, shared replicas, custom transports.

mod support;

use actix::prelude::*;
use actix_remote_objects::prelude::*;
use printer::ReplicaExt;
use support::*;

async fn a_replica_shows_defaults_until_the_source_appears_then_its_values(url: &str) {
    let _guard = init();
    let host = Host::listen(url).await.unwrap();
    let node = Node::connect(host.url().unwrap()).await.unwrap();
    let replica = node.acquire::<Printer>();
    let (states, mut state_rx) = collector::<StateChanged>();
    replica.subscribe_state(states);
    assert_eq!(
        (replica.state(), replica.ink_level(), replica.name()),
        (ReplicaState::Default, 100, "office".into())
    );

    let service = PrinterService::new();
    service.remote.set_ink_level(7).unwrap();
    service.remote.set_name("lab".into()).unwrap();
    host.enable_remoting(service).await.unwrap();
    replica.wait_for_source(TIMEOUT).await.unwrap();
    assert_eq!((replica.ink_level(), replica.name()), (7, "lab".into()));
    assert_eq!(
        next(&mut state_rx).await,
        StateChanged {
            old: ReplicaState::Default,
            new: ReplicaState::Valid
        }
    );
    host.shutdown().await;
}

async fn the_init_notifies_only_properties_that_differ_from_the_defaults(url: &str) {
    let _guard = init();
    let host = Host::listen(url).await.unwrap();
    let service = PrinterService::new();
    service.remote.set_ink_level(55).unwrap();
    host.enable_remoting(service).await.unwrap();
    let node = Node::connect(host.url().unwrap()).await.unwrap();
    let replica = node.acquire::<Printer>();
    let mut changes = replica.property_changes();
    replica.wait_for_source(TIMEOUT).await.unwrap();
    assert!(matches!(
        next(&mut changes).await,
        printer::PropertyChange::InkLevel(55)
    ));
    // Nothing else was announced: the next change is the one made now.
    replica.call(printer::Refill { level: 56 }).await.unwrap();
    assert!(matches!(
        next(&mut changes).await,
        printer::PropertyChange::InkLevel(56)
    ));
    host.shutdown().await;
}

async fn setters_notify_only_real_changes_and_recipients_receive_them(url: &str) {
    let _guard = init();
    let host = Host::listen(url).await.unwrap();
    let service = PrinterService::new();
    let source = service.remote.clone();
    host.enable_remoting(service).await.unwrap();
    let node = Node::connect(host.url().unwrap()).await.unwrap();
    let replica = node.acquire::<Printer>();
    replica.wait_for_source(TIMEOUT).await.unwrap();
    let (to, mut received) = collector::<printer::PropertyChange>();
    replica.subscribe_properties(to);

    assert!(source.set_ink_level(50).unwrap());
    assert!(
        !source.set_ink_level(50).unwrap(),
        "the same value again is no change"
    );
    assert!(source.set_ink_level(40).unwrap());
    assert!(matches!(
        next(&mut received).await,
        printer::PropertyChange::InkLevel(50)
    ));
    assert!(matches!(
        next(&mut received).await,
        printer::PropertyChange::InkLevel(40)
    ));
    host.shutdown().await;
}

async fn signals_reach_typed_recipients_all_signal_recipients_and_streams(url: &str) {
    let _guard = init();
    let host = Host::listen(url).await.unwrap();
    host.enable_remoting(PrinterService::new()).await.unwrap();
    let node = Node::connect(host.url().unwrap()).await.unwrap();
    let replica = node.acquire::<Printer>();
    replica.wait_for_source(TIMEOUT).await.unwrap();
    let (jams, mut jam_rx) = collector::<printer::PaperJam>();
    let (all, mut all_rx) = collector::<printer::Signal>();
    replica.subscribe::<printer::PaperJam>(jams);
    replica.subscribe_signals(all);
    let mut stream = replica.signals();

    replica.call(printer::Jam { tray: 3 }).await.unwrap();
    assert_eq!(next(&mut jam_rx).await.tray, 3);
    assert!(matches!(next(&mut all_rx).await, printer::Signal::PaperJam(j) if j.tray == 3));
    assert!(matches!(next(&mut stream).await, printer::Signal::PaperJam(j) if j.tray == 3));
    host.shutdown().await;
}

async fn a_read_write_property_set_on_the_replica_is_applied_and_rebroadcast(url: &str) {
    let _guard = init();
    let host = Host::listen(url).await.unwrap();
    let service = PrinterService::new();
    let source = service.remote.clone();
    host.enable_remoting(service).await.unwrap();
    let node = Node::connect(host.url().unwrap()).await.unwrap();
    let (a, b) = (
        node.acquire::<Printer>(),
        Node::connect(host.url().unwrap())
            .await
            .unwrap()
            .acquire::<Printer>(),
    );
    a.wait_for_source(TIMEOUT).await.unwrap();
    b.wait_for_source(TIMEOUT).await.unwrap();
    let mut b_changes = b.property_changes();

    assert_eq!(a.set_name("reception".into()).await, Ok("reception".into()));
    assert_eq!(
        a.name(),
        "reception",
        "the change is there when the write resolves"
    );
    assert!(
        matches!(next(&mut b_changes).await, printer::PropertyChange::Name(n) if n == "reception")
    );
    assert_eq!(source.name(), "reception");
    host.shutdown().await;
}

async fn a_read_only_property_cannot_be_set_from_a_replica(url: &str) {
    let _guard = init();
    let host = Host::listen(url).await.unwrap();
    host.enable_remoting(PrinterService::new()).await.unwrap();
    let node = Node::connect(host.url().unwrap()).await.unwrap();
    let replica = node.acquire::<Printer>();
    replica.wait_for_source(TIMEOUT).await.unwrap();
    // `ReplicaExt` has no `set_ink_level`; the untyped entry point refuses it too.
    let error = replica.set_property(0, &1u8).unwrap_err();
    assert!(
        error.is_usage() && error.to_string().contains("ink_level"),
        "{error}"
    );
    host.shutdown().await;
}

async fn two_instances_of_one_api_under_two_names(url: &str) {
    let _guard = init();
    let host = Host::listen(url).await.unwrap();
    let (left, right) = (PrinterService::new(), PrinterService::new());
    left.remote.set_name("left".into()).unwrap();
    right.remote.set_name("right".into()).unwrap();
    host.enable_remoting_as(left, "Left").await.unwrap();
    host.enable_remoting_as(right, "Right").await.unwrap();
    let error = host
        .enable_remoting_as(PrinterService::new(), "Left")
        .await
        .unwrap_err();
    assert!(error.is_usage(), "{error}");

    let node = Node::connect(host.url().unwrap()).await.unwrap();
    let (l, r) = (
        node.acquire_named::<Printer>("Left"),
        node.acquire_named::<Printer>("Right"),
    );
    l.wait_for_source(TIMEOUT).await.unwrap();
    r.wait_for_source(TIMEOUT).await.unwrap();
    assert_eq!((l.name(), r.name()), ("left".into(), "right".into()));
    assert_eq!(l.call(printer::Print { doc: "a".into() }).await, Ok(1));
    assert_eq!(
        r.call(printer::Print { doc: "b".into() }).await,
        Ok(1),
        "separate sources, separate counters"
    );
    assert_eq!(
        host.source_names(),
        vec!["Left".to_owned(), "Right".to_owned()]
    );
    host.shutdown().await;
}

async fn handles_of_one_source_share_one_subscription(url: &str) {
    let _guard = init();
    let host = Host::listen(url).await.unwrap();
    host.enable_remoting(PrinterService::new()).await.unwrap();
    let node = Node::connect(host.url().unwrap()).await.unwrap();
    let first = node.acquire::<Printer>();
    let second = node.acquire::<Printer>();
    first.wait_for_source(TIMEOUT).await.unwrap();
    assert_eq!(
        second.state(),
        ReplicaState::Valid,
        "the second handle shares the first's init"
    );
    assert_eq!(host.subscriber_count("Printer"), Some(1));
    assert_eq!(second.call(printer::Print { doc: "x".into() }).await, Ok(1));
    assert_eq!(
        first.status(),
        Status::Printing {
            job: 1,
            doc: "x".into()
        }
    );
    host.shutdown().await;
}

#[actix::test]
async fn host_and_node_over_an_in_memory_duplex_stream() {
    let _guard = init();
    let host = Host::new(HostConfig::default());
    host.enable_remoting(PrinterService::new()).await.unwrap();
    let (host_end, node_end) = tokio::io::duplex(64 * 1024);
    host.serve(host_end);
    let node = Node::new(NodeConfig::default());
    node.connect_stream(node_end).await.unwrap();
    let replica = node.acquire::<Printer>();
    replica.wait_for_source(TIMEOUT).await.unwrap();
    assert_eq!(
        replica.call(printer::Print { doc: "mem".into() }).await,
        Ok(1)
    );
    assert_eq!(
        replica.status(),
        Status::Printing {
            job: 1,
            doc: "mem".into()
        }
    );
    host.shutdown().await;
}

// `remote_object!` generates a module that refers to `super`: use it at module level.
remote_object! {
    pub Blob {
        prop data: Vec<u8>;
    }
}
struct BlobService(blob::SimpleSource);
impl Actor for BlobService {
    type Context = Context<Self>;
}
impl RemoteSource for BlobService {
    type Api = Blob;
    fn simple_source(&self) -> &blob::SimpleSource {
        &self.0
    }
}

#[actix::test]
async fn a_large_property_initializes_in_one_piece() {
    let _guard = init();
    let (url, _dir) = socket_url();
    let host = Host::listen(&url).await.unwrap();
    let source = blob::SimpleSource::default();
    let data: Vec<u8> = (0..16 * 1024 * 1024).map(|i| (i % 251) as u8).collect();
    source.set_data(data.clone()).unwrap();
    host.enable_remoting(BlobService(source)).await.unwrap();
    let node = Node::connect(&url).await.unwrap();
    let replica = node.acquire::<Blob>();
    replica.wait_for_source(TIMEOUT).await.unwrap();
    assert!(replica.with_properties(|p| p.data == data));
    host.shutdown().await;
}

over_tcp_and_unix!(
    a_replica_shows_defaults_until_the_source_appears_then_its_values,
    the_init_notifies_only_properties_that_differ_from_the_defaults,
    setters_notify_only_real_changes_and_recipients_receive_them,
    signals_reach_typed_recipients_all_signal_recipients_and_streams,
    a_read_write_property_set_on_the_replica_is_applied_and_rebroadcast,
    a_read_only_property_cannot_be_set_from_a_replica,
    two_instances_of_one_api_under_two_names,
    handles_of_one_source_share_one_subscription,
);

#[actix::test]
async fn a_replica_acquired_on_another_thread_works_on_the_nodes_arbiter() {
    let _guard = init();
    let host = Host::listen("tcp://127.0.0.1:0").await.unwrap();
    host.enable_remoting(PrinterService::new()).await.unwrap();
    let node = Node::connect(host.url().unwrap()).await.unwrap();
    // A plain thread has no actix arbiter: the replica's actor runs on the node's.
    let elsewhere = node.clone();
    let replica = std::thread::spawn(move || elsewhere.acquire::<Printer>())
        .join()
        .unwrap();
    replica.wait_for_source(TIMEOUT).await.unwrap();
    assert_eq!(
        replica
            .send(printer::Print {
                doc: "from a thread".into()
            })
            .await
            .unwrap(),
        Ok(1)
    );
    host.shutdown().await;
}
