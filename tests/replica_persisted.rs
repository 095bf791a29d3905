//! Persisted properties: a replica starts from the values it last saw, on a later node (a
//! later run), through the in-memory and the file store; bad or foreign saved values are
//! ignored with a logged error.

mod support;

use actix::prelude::*;
use actix_remote_objects::persist::{FileStore, MemoryStore, PersistedValues};
use actix_remote_objects::prelude::*;
use actix_remote_objects::{Encoding, RemoteObject};
use settings::ReplicaExt;
use support::*;

remote_object! {
    /// A device's settings; the first two survive restarts.
    pub Settings {
        prop volume: u8 = 5, read_write, persisted;
        prop label: String = "unnamed".to_string(), persisted;
        prop uptime: u32;
    }
}

/// The same wire name with one more persisted property: another signature.
mod v2 {
    actix_remote_objects::remote_object! {
        pub Settings {
            prop volume: u8 = 5, read_write, persisted;
            prop label: String = "unnamed".to_string(), persisted;
            prop uptime: u32;
            prop brightness: u8 = 50, persisted;
        }
    }
}

struct SettingsService(settings::SimpleSource);

impl Actor for SettingsService {
    type Context = Context<Self>;
}

impl RemoteSource for SettingsService {
    type Api = Settings;
    fn simple_source(&self) -> &settings::SimpleSource {
        &self.0
    }
}

async fn host() -> (Host, settings::SimpleSource) {
    let host = Host::listen("tcp://127.0.0.1:0").await.unwrap();
    let source = settings::SimpleSource::default();
    host.enable_remoting(SettingsService(source.clone()))
        .await
        .unwrap();
    (host, source)
}

/// A node that can reach nothing: what its replicas show comes from the store alone.
fn offline_node(config: NodeConfig) -> Node {
    Node::new(config)
}

/// Runs one "program": a node with `config` connects, sees the source's values, and exits.
async fn first_run(config: NodeConfig, host: &Host, source: &settings::SimpleSource) {
    source.set_volume(9).unwrap();
    source.set_label("kitchen".into()).unwrap();
    source.set_uptime(77).unwrap();
    let node = Node::connect_with(host.url().unwrap(), config)
        .await
        .unwrap();
    let replica = node.acquire::<Settings>();
    replica.wait_for_source(TIMEOUT).await.unwrap();
    assert_eq!(replica.volume(), 9);
    // Dropping the last handle queues a save too: drop it first, so that the shutdown
    // waits for that save as well (a save left running could overwrite what a test writes
    // to the store next).
    drop(replica);
    node.shutdown().await; // waits for the saves
}

#[actix::test]
async fn a_later_node_starts_from_the_saved_values() {
    let _guard = init();
    let (host, source) = host().await;
    let store = MemoryStore::new();
    first_run(
        NodeConfig::default().persisted_store(store.clone()),
        &host,
        &source,
    )
    .await;

    let saved = store.get("Settings").expect("saved");
    assert_eq!(
        (saved.api.as_str(), saved.signature),
        ("Settings", Settings::signature())
    );
    assert_eq!(
        saved.values.iter().map(|(i, _)| *i).collect::<Vec<_>>(),
        vec![0, 1],
        "only persisted properties"
    );

    let node = offline_node(NodeConfig::default().persisted_store(store));
    let replica = node.acquire::<Settings>();
    assert_eq!(replica.state(), ReplicaState::Default);
    assert_eq!(
        (replica.volume(), replica.label(), replica.uptime()),
        (9, "kitchen".into(), 0)
    );
    host.shutdown().await;
}

#[actix::test]
async fn changes_are_saved_as_they_happen_and_when_the_replica_goes_away() {
    let _guard = init();
    let (host, source) = host().await;
    let store = MemoryStore::new();
    let node = Node::connect_with(
        host.url().unwrap(),
        NodeConfig::default().persisted_store(store.clone()),
    )
    .await
    .unwrap();
    let replica = node.acquire::<Settings>();
    replica.wait_for_source(TIMEOUT).await.unwrap();
    let mut changes = replica.property_changes();
    source.set_volume(2).unwrap();
    next(&mut changes).await;
    node.flush_persisted().await;
    let volume = |store: &MemoryStore| store.get("Settings").unwrap().values[0].1.clone();
    assert_eq!(volume(&store), Encoding::Bincode.encode(&2u8).unwrap());

    // A change the replica never announces (not persisted) does not save; dropping it does.
    store.put(
        "Settings",
        PersistedValues {
            values: vec![],
            ..store.get("Settings").unwrap()
        },
    );
    drop(changes);
    drop(replica);
    node.flush_persisted().await;
    assert_eq!(volume(&store), Encoding::Bincode.encode(&2u8).unwrap());
    host.shutdown().await;
}

#[actix::test]
async fn values_saved_under_another_signature_are_ignored() {
    let _guard = init();
    let (logs, _log_guard) = Logs::capture();
    let (host, source) = host().await;
    let store = MemoryStore::new();
    first_run(
        NodeConfig::default().persisted_store(store.clone()),
        &host,
        &source,
    )
    .await;

    let node = offline_node(NodeConfig::default().persisted_store(store));
    let replica = node.acquire::<v2::Settings>();
    let props = replica.properties();
    assert_eq!(
        (props.volume, props.label.as_str(), props.brightness),
        (5, "unnamed", 50)
    );
    assert!(
        logs.text()
            .contains("ignoring persisted properties saved under another API signature"),
        "{}",
        logs.text()
    );
    host.shutdown().await;
}

#[actix::test]
async fn a_saved_value_that_does_not_decode_restores_nothing() {
    let _guard = init();
    let (logs, _log_guard) = Logs::capture();
    let store = MemoryStore::new();
    store.put(
        "Settings",
        PersistedValues {
            api: "Settings".into(),
            signature: Settings::signature(),
            encoding: "bincode2".into(),
            values: vec![
                (1, Encoding::Bincode.encode(&"den".to_string()).unwrap()),
                (0, vec![0xff, 0xff]),
            ],
        },
    );
    let node = offline_node(NodeConfig::default().persisted_store(store));
    let replica = node.acquire::<Settings>();
    assert_eq!(
        (replica.volume(), replica.label()),
        (5, "unnamed".into()),
        "all or nothing"
    );
    assert!(logs.text().contains("does not decode"), "{}", logs.text());
}

#[actix::test]
async fn a_file_store_survives_a_new_node_and_a_corrupt_file_falls_back_to_defaults() {
    let _guard = init();
    let (logs, _log_guard) = Logs::capture();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("node.store");
    let (host, source) = host().await;
    first_run(
        NodeConfig::default().persisted_store(FileStore::new(&path)),
        &host,
        &source,
    )
    .await;
    let node = offline_node(NodeConfig::default().persisted_store(FileStore::new(&path)));
    assert_eq!(node.acquire::<Settings>().label(), "kitchen");
    // The dropped replica saved what it showed: let that finish before damaging the file.
    node.shutdown().await;

    std::fs::write(&path, b"\x00garbage").unwrap();
    let node = offline_node(NodeConfig::default().persisted_store(FileStore::new(&path)));
    let replica = node.acquire::<Settings>();
    assert_eq!((replica.volume(), replica.label()), (5, "unnamed".into()));
    assert!(logs.text().contains("is corrupt"), "{}", logs.text());
    drop(replica);
    node.shutdown().await;
    host.shutdown().await;
}

#[test]
fn hosts_and_nodes_list_the_schemes_they_support() {
    assert_eq!(Host::supported_schemes(), ["tcp", "tls", "local"]);
    assert_eq!(Node::supported_schemes(), ["tcp", "tls", "local"]);
}
