//! Replicated models: a `ListModel` member of a source, paged through by replicas that hold a
//! bounded window of rows kept right through every insert, removal, move and change, in order
//! with the parent's changes; writes the source decides on; a shared current row; re-init
//! after a reconnect; and a stalled replica that gets a reset instead of a closed connection.
// Selections are compared with lists of ranges, one range or more.
#![allow(clippy::single_range_in_vec_init)]

mod support;

use actix::prelude::*;
use actix_remote_objects::model::{ListModel, ModelChange, ModelReplica, TableModel};
use actix_remote_objects::prelude::*;
use support::proxy::FaultProxy;
use support::*;

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Track {
    pub title: String,
    pub plays: u32,
}

fn track(n: usize) -> Track {
    Track {
        title: format!("track {n}"),
        plays: 0,
    }
}

remote_object! {
    /// A player with a playlist.
    pub Player {
        prop volume: u8;
        model playlist: ListModel<Track>;
    }
}

use player::ReplicaExt as _;

struct PlayerService(player::SimpleSource);

impl Actor for PlayerService {
    type Context = Context<Self>;
}

impl RemoteSource for PlayerService {
    type Api = Player;
    fn simple_source(&self) -> &player::SimpleSource {
        &self.0
    }
}

/// A host at `url` (with `config`) serving a player whose playlist has `rows` tracks.
async fn player_host(url: &str, config: HostConfig, rows: usize) -> (Host, player::SimpleSource) {
    let host = Host::listen_with(url, config).await.unwrap();
    let state = player::SimpleSource::default();
    state.playlist().extend((0..rows).map(track)).unwrap();
    host.enable_remoting(PlayerService(state.clone()))
        .await
        .unwrap();
    (host, state)
}

/// A valid replica of the player at `url`, on a node with `config`, and its model.
async fn model_replica(
    url: &str,
    config: NodeConfig,
) -> (Node, Replica<Player>, ModelReplica<Track>) {
    let node = Node::connect_with(url, config).await.unwrap();
    let replica = node.acquire::<Player>();
    replica.wait_for_source(TIMEOUT).await.unwrap();
    let model = replica.playlist().expect("the model came with the init");
    (node, replica, model)
}

/// Every row of the model as the replica shows it after fetching them all.
async fn all_rows(model: &ModelReplica<Track>) -> Vec<Track> {
    model.fetch(0..model.row_count()).await.unwrap()
}

async fn a_replica_knows_the_row_count_at_init_and_fetches_rows_it_reads(url: &str) {
    let _guard = init();
    let (host, _state) = player_host(url, HostConfig::default(), 300).await;
    let (_node, _replica, model) = model_replica(host.url().unwrap(), NodeConfig::default()).await;
    assert_eq!(model.row_count(), 300);
    assert_eq!(model.cached_rows(), 0, "only the count comes with the init");
    assert_eq!(model.roles(), ["title", "plays"]);
    assert_eq!(model.source_name(), "Player.playlist");

    // A miss answers at once and asks for the block around it.
    let mut changes = model.changes();
    assert_eq!(model.get(70), None);
    assert_eq!(
        next(&mut changes).await,
        ModelChange::Fetched {
            first: 64,
            count: 64
        }
    );
    assert_eq!(model.get(70), Some(track(70)));
    assert_eq!(model.cached(127), Some(track(127)));
    assert_eq!(model.cached(128), None);

    // An explicit fetch, clipped to the model.
    let rows = model.fetch(290..400).await.unwrap();
    assert_eq!(rows, (290..300).map(track).collect::<Vec<_>>());
    assert_eq!(model.get(1000), None, "past the end there is nothing");
}

async fn every_operation_reaches_the_window_in_order_with_the_parents_changes(url: &str) {
    let _guard = init();
    let (host, state) = player_host(url, HostConfig::default(), 10).await;
    let (_node, replica, model) = model_replica(host.url().unwrap(), NodeConfig::default()).await;
    assert_eq!(all_rows(&model).await.len(), 10, "the whole model is held");
    let mut changes = model.changes();
    let mut events = replica.events();

    // An actor subscribed gets the same changes, in the same order.
    let (to, mut delivered) = collector::<ModelChange>();
    model.subscribe(to);

    let playlist = state.playlist();
    playlist.insert(2, track(100)).unwrap();
    state.set_volume(7).unwrap();
    playlist.remove_range(0..2).unwrap();
    playlist.move_rows(0..3, 5).unwrap();
    playlist.set(1, track(200)).unwrap();
    playlist
        .update_roles(0, &["plays"], |t| t.plays = 9)
        .unwrap();
    playlist
        .insert_many(usize::MAX, (300..303).map(track))
        .unwrap();

    assert_eq!(
        next(&mut changes).await,
        ModelChange::Inserted { first: 2, count: 1 }
    );
    assert!(matches!(
        next(&mut events).await,
        Event::PropertyChanged(player::PropertyChange::Volume(7))
    ));
    let expected = [
        ModelChange::Removed { first: 0, count: 2 },
        ModelChange::Moved {
            first: 0,
            count: 3,
            to: 5,
        },
        ModelChange::Changed {
            first: 1,
            count: 1,
            roles: Vec::new(),
        },
        ModelChange::Changed {
            first: 0,
            count: 1,
            roles: vec!["plays".to_owned()],
        },
        ModelChange::Inserted { first: 9, count: 3 },
    ];
    for change in expected.clone() {
        assert_eq!(next(&mut changes).await, change);
    }
    let first = ModelChange::Inserted { first: 2, count: 1 };
    for change in std::iter::once(first).chain(expected) {
        assert_eq!(next(&mut delivered).await, change, "the subscribed actor's");
    }
    // What the replica held was kept right through every diff, without a fetch.
    let source_rows = playlist.read(<[Track]>::to_vec);
    let held: Vec<Option<Track>> = (0..model.row_count()).map(|i| model.cached(i)).collect();
    assert_eq!(
        held,
        source_rows.iter().cloned().map(Some).collect::<Vec<_>>()
    );
    assert_eq!(model.row_count(), 12);

    // A reset: the window is emptied; fetching brings the new rows.
    playlist.reset((0..4).map(track));
    assert_eq!(next(&mut changes).await, ModelChange::Reset { rows: 4 });
    assert_eq!(model.cached_rows(), 0);
    assert_eq!(
        all_rows(&model).await,
        (0..4).map(track).collect::<Vec<_>>()
    );
}

async fn writes_are_refused_until_the_source_accepts_them_and_then_decided_by_it(url: &str) {
    let _guard = init();
    let (host, state) = player_host(url, HostConfig::default(), 3).await;
    let (_node, _replica, model) = model_replica(host.url().unwrap(), NodeConfig::default()).await;
    let refused = model.write(1, track(50)).await.unwrap_err();
    assert!(
        refused.to_string().contains("does not accept writes"),
        "{refused}"
    );
    assert_eq!(state.playlist().get(1), Some(track(1)));

    state.playlist().accept_writes(|_row, value: &Track| {
        if value.title.is_empty() {
            Err("a track needs a title".to_owned())
        } else {
            Ok(())
        }
    });
    let untitled = Track {
        title: String::new(),
        plays: 1,
    };
    let refused = model.write(1, untitled).await.unwrap_err();
    assert!(refused.to_string().contains("needs a title"), "{refused}");
    model.write(1, track(50)).await.unwrap();
    assert_eq!(state.playlist().get(1), Some(track(50)));
    assert_eq!(
        model.cached(1),
        Some(track(50)),
        "the change came with its row, before the reply"
    );
    assert_eq!(model.fetch(1..2).await.unwrap(), [track(50)]);
    let error = model.write(9, track(9)).await.unwrap_err();
    assert!(error.to_string().contains("out of range"), "{error}");
}

async fn the_current_row_is_shared_both_ways(url: &str) {
    let _guard = init();
    let (host, state) = player_host(url, HostConfig::default(), 5).await;
    let (_node, _replica, model) = model_replica(host.url().unwrap(), NodeConfig::default()).await;
    let (_other_node, _other, other) =
        model_replica(host.url().unwrap(), NodeConfig::default()).await;
    let mut other_changes = other.changes();
    let mut source_current = state.playlist().current_changes();
    assert_eq!(next(&mut source_current).await, None);

    model.set_current(Some(3)).await.unwrap();
    assert_eq!(
        model.current(),
        Some(3),
        "applied before the write resolved"
    );
    assert_eq!(next(&mut source_current).await, Some(3));
    assert_eq!(
        next(&mut other_changes).await,
        ModelChange::Current { row: Some(3) }
    );
    assert_eq!(other.current(), Some(3));

    state.playlist().set_current(Some(1)).unwrap();
    assert_eq!(
        next(&mut other_changes).await,
        ModelChange::Current { row: Some(1) }
    );
    let refused = model.set_current(Some(5)).await.unwrap_err();
    assert!(refused.to_string().contains("out of range"), "{refused}");
    assert!(state
        .playlist()
        .set_current(Some(5))
        .unwrap_err()
        .is_out_of_range());
}

async fn the_current_row_and_the_selection_stay_on_their_rows(url: &str) {
    let _guard = init();
    let (host, state) = player_host(url, HostConfig::default(), 10).await;
    let (_node, _replica, model) = model_replica(host.url().unwrap(), NodeConfig::default()).await;
    let playlist = state.playlist();
    let mut changes = model.changes();
    playlist.set_current(Some(4)).unwrap();
    playlist.select(2..5).unwrap();
    assert_eq!(
        next(&mut changes).await,
        ModelChange::Current { row: Some(4) }
    );
    assert_eq!(
        next(&mut changes).await,
        ModelChange::Selection { ranges: vec![2..5] }
    );

    // Two rows inserted before them: both move down, after the insert.
    playlist.insert_many(0, [track(100), track(101)]).unwrap();
    assert_eq!(
        next(&mut changes).await,
        ModelChange::Inserted { first: 0, count: 2 }
    );
    assert_eq!(
        next(&mut changes).await,
        ModelChange::Current { row: Some(6) }
    );
    assert_eq!(
        next(&mut changes).await,
        ModelChange::Selection { ranges: vec![4..7] }
    );
    assert_eq!((model.current(), model.selection()), (Some(6), vec![4..7]));
    assert_eq!(playlist.current(), Some(6));
    // The current row removed: no current row; the selection shrinks.
    playlist.remove(6).unwrap();
    assert_eq!(
        next(&mut changes).await,
        ModelChange::Removed { first: 6, count: 1 }
    );
    assert_eq!(next(&mut changes).await, ModelChange::Current { row: None });
    assert_eq!(
        next(&mut changes).await,
        ModelChange::Selection { ranges: vec![4..6] }
    );
    // Moved with their rows.
    playlist.move_rows(4..6, 0).unwrap();
    assert_eq!(
        next(&mut changes).await,
        ModelChange::Moved {
            first: 4,
            count: 2,
            to: 0
        }
    );
    assert_eq!(
        next(&mut changes).await,
        ModelChange::Selection { ranges: vec![0..2] }
    );
    assert_eq!(playlist.selection(), [0..2]);
}

async fn a_replica_changes_the_selection_through_the_source(url: &str) {
    let _guard = init();
    let (host, state) = player_host(url, HostConfig::default(), 10).await;
    let (_node, _replica, model) = model_replica(host.url().unwrap(), NodeConfig::default()).await;
    let (_other_node, _other, other) =
        model_replica(host.url().unwrap(), NodeConfig::default()).await;
    let mut source_selection = state.playlist().selection_changes();
    assert!(next(&mut source_selection).await.is_empty());
    let mut other_changes = other.changes();

    model.select(1..4).await.unwrap();
    assert_eq!(
        model.selection(),
        [1..4],
        "applied before the call resolved"
    );
    assert_eq!(next(&mut source_selection).await, vec![1..4]);
    model.deselect(2..3).await.unwrap();
    model.toggle(3..6).await.unwrap();
    assert_eq!(model.selection(), [1..2, 4..6]);
    model.select_only(8..9).await.unwrap();
    assert_eq!(state.playlist().selection(), [8..9]);
    loop {
        if next(&mut other_changes).await == (ModelChange::Selection { ranges: vec![8..9] }) {
            break;
        }
    }
    assert_eq!(other.selection(), [8..9], "every replica is told");

    let refused = model.select(9..12).await.unwrap_err();
    assert!(
        refused.to_string().contains("outside the 10 rows"),
        "{refused}"
    );
    assert_eq!(
        state.playlist().selection(),
        [8..9],
        "a refused selection changes nothing"
    );
    state.playlist().reset((0..3).map(track));
    loop {
        if let ModelChange::Selection { ranges } = next(&mut other_changes).await {
            assert!(ranges.is_empty(), "a reset selects nothing");
            break;
        }
    }
}

over_tcp_and_unix!(
    the_current_row_and_the_selection_stay_on_their_rows,
    a_replica_changes_the_selection_through_the_source,
    a_replica_knows_the_row_count_at_init_and_fetches_rows_it_reads,
    every_operation_reaches_the_window_in_order_with_the_parents_changes,
    writes_are_refused_until_the_source_accepts_them_and_then_decided_by_it,
    the_current_row_is_shared_both_ways,
);

#[actix::test]
async fn a_replica_of_a_large_model_holds_only_its_window() {
    let _guard = init();
    let rows = 200_000;
    let (host, _state) = player_host("tcp://127.0.0.1:0", HostConfig::default(), rows).await;
    let config = NodeConfig::default().model_cache_rows(500);
    let (_node, _replica, model) = model_replica(host.url().unwrap(), config).await;
    assert_eq!(model.row_count(), rows);
    // Scroll through the whole model a window at a time.
    let mut at = 0;
    while at < rows {
        let window = model.fetch(at..at + 1000).await.unwrap();
        assert_eq!(window.first(), Some(&track(at)));
        assert!(
            model.cached_rows() <= 500,
            "{} rows held",
            model.cached_rows()
        );
        at += 1000;
    }
    // The rows kept are those around the last window read.
    assert_eq!(model.cached(199_500), Some(track(199_500)));
    assert_eq!(model.cached(0), None);
    model.set_cache_rows(10);
    assert_eq!(model.cached_rows(), 10);
}

#[actix::test]
async fn a_prefetching_replica_holds_the_first_rows_as_soon_as_it_is_initialized() {
    let _guard = init();
    let (host, _state) = player_host("tcp://127.0.0.1:0", HostConfig::default(), 1000).await;
    let node = Node::connect_with(
        host.url().unwrap(),
        NodeConfig::default().model_prefetch_rows(100),
    )
    .await
    .unwrap();
    let replica = node.acquire::<Player>();
    replica.wait_for_source(TIMEOUT).await.unwrap();
    let model = replica.playlist().unwrap();
    let mut changes = model.changes();
    while model.cached_rows() < 100 {
        next(&mut changes).await;
    }
    assert_eq!(model.cached(99), Some(track(99)));
    assert_eq!(model.cached(100), None);
}

#[actix::test]
async fn a_reconnected_replica_re_initializes_its_model_and_fetches_again() {
    let _guard = init();
    let (host, state) = player_host("tcp://127.0.0.1:0", HostConfig::default(), 20).await;
    let proxy = FaultProxy::start(host.url().unwrap()).await;
    let (_node, replica, model) = model_replica(proxy.url(), NodeConfig::default()).await;
    assert_eq!(all_rows(&model).await.len(), 20);
    let mut changes = model.changes();

    proxy.cut();
    wait_state(&replica, ReplicaState::Suspect).await;
    assert_eq!(model.state(), ReplicaState::Suspect);
    let error = model.fetch(0..1).await.unwrap_err();
    assert_eq!(error, SlotError::NotConnected);
    // The source changes while the replica is away.
    state.playlist().remove_range(0..15).unwrap();
    proxy.pass();
    wait_state(&replica, ReplicaState::Valid).await;
    loop {
        if let ModelChange::Reset { rows } = next(&mut changes).await {
            assert_eq!(rows, 5);
            break;
        }
    }
    assert_eq!(model.state(), ReplicaState::Valid);
    assert_eq!(
        model.cached_rows(),
        0,
        "nothing held from before the outage"
    );
    assert_eq!(
        all_rows(&model).await,
        (15..20).map(track).collect::<Vec<_>>()
    );
}

#[actix::test]
async fn a_stalled_replica_gets_a_reset_instead_of_a_closed_connection() {
    let _guard = init();
    // A connection limit a stream of signals would pass long before this test ends.
    let config = HostConfig::default().max_queued_bytes(4 * 1024 * 1024);
    let (host, state) = player_host("tcp://127.0.0.1:0", config, 0).await;
    let proxy = FaultProxy::start(host.url().unwrap()).await;
    let (_node, replica, model) = model_replica(proxy.url(), NodeConfig::default()).await;
    let mut states = replica.state_changes();
    assert_eq!(next(&mut states).await, ReplicaState::Valid);
    let mut changes = model.changes();

    proxy.stall();
    // 40 MiB of inserts, each carrying its row, while the replica reads nothing.
    let playlist = state.playlist();
    let title = "x".repeat(1000);
    let rows = 40_000;
    for n in 0..rows {
        let row = Track {
            title: title.clone(),
            plays: n as u32,
        };
        playlist.push(row).unwrap();
        if n % 1000 == 0 {
            // Let the writer run: it fills the socket, then the queue backs up.
            tokio::task::yield_now().await;
        }
    }
    state.set_volume(3).unwrap();
    // Marks changed during the stall reach it after its reset.
    playlist.set_current(Some(7)).unwrap();
    playlist.select(10..20).unwrap();
    proxy.pass();

    // The replica reads what was queued before it fell behind, then a reset; once more
    // each time the host's queue backed up again (the socket's buffers took some first),
    // until the last reset brings it to the source's row count.
    let (mut inserts, mut resets) = (0, 0);
    loop {
        match next(&mut changes).await {
            ModelChange::Inserted { count, .. } => inserts += count,
            ModelChange::Reset { rows: total } => {
                resets += 1;
                if total == rows {
                    break;
                }
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    loop {
        match next(&mut changes).await {
            ModelChange::Selection { ranges } if ranges == [10..20] => break,
            ModelChange::Current { .. } | ModelChange::Selection { .. } => {}
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(model.current(), Some(7));
    eprintln!("the stalled replica saw {inserts} of {rows} inserts and {resets} resets");
    assert!(inserts < rows, "diffs were replaced by the reset");
    assert_eq!(model.row_count(), rows);
    assert_eq!(proxy.connections(), 1, "the connection was never closed");
    let last = model.fetch(rows - 1..rows).await.unwrap();
    assert_eq!(last[0].plays, (rows - 1) as u32);
    // Diffs flow again, and the parent's change after the stall came through.
    playlist.remove(0).unwrap();
    assert_eq!(
        next(&mut changes).await,
        ModelChange::Fetched {
            first: rows - 1,
            count: 1
        }
    );
    assert_eq!(
        next(&mut changes).await,
        ModelChange::Removed { first: 0, count: 1 }
    );
    assert_eq!(replica.volume(), 3);
    assert_eq!(replica.state(), ReplicaState::Valid);
    drop(states);
}

#[actix::test]
async fn a_dynamic_replica_sees_a_model_as_a_child_and_fetches_its_rows() {
    use actix_remote_objects::dynamic::{DynamicEvent, Value};
    let _guard = init();
    let (host, state) = player_host("tcp://127.0.0.1:0", HostConfig::default(), 3).await;
    let node = Node::connect(host.url().unwrap()).await.unwrap();
    let replica = node.acquire_dynamic("Player");
    replica.wait_for_source(TIMEOUT).await.unwrap();
    let schema = replica.schema().expect("described");
    assert!(schema.children[0].model, "the schema says it is a model");
    let playlist = replica
        .child("playlist")
        .expect("the model came with the player");
    assert_eq!(playlist.property("rows"), Ok(Value::UInt(3)));
    let mut events = playlist.events();
    playlist
        .call(
            "fetch",
            vec![Value::UInt(7), Value::UInt(1), Value::UInt(5)],
        )
        .await
        .unwrap();
    let DynamicEvent::Signal { name, args } = next(&mut events).await else {
        panic!("the rows came as a signal");
    };
    assert_eq!(name, "rows");
    assert_eq!(args[0].1, Value::UInt(7));
    let rows = args[2].1.to_json();
    assert_eq!(rows[0]["title"], "track 1");
    assert_eq!(
        rows.as_array().map(Vec::len),
        Some(2),
        "clipped to the model"
    );

    state.playlist().push(track(3)).unwrap();
    let DynamicEvent::Signal { name, args } = next(&mut events).await else {
        panic!("the insert came as a signal");
    };
    assert_eq!(name, "inserted");
    assert_eq!(args[3], ("total".to_owned(), Value::UInt(4)));
}

mod as_table {
    use super::*;

    remote_object! {
        /// The same player, its playlist shown as a table.
        pub Player {
            prop volume: u8;
            model playlist: TableModel<Track>;
        }
    }
}

struct TablePlayerService(as_table::player::SimpleSource);

impl Actor for TablePlayerService {
    type Context = Context<Self>;
}

impl RemoteSource for TablePlayerService {
    type Api = as_table::Player;
    fn simple_source(&self) -> &as_table::player::SimpleSource {
        &self.0
    }
}

#[actix::test]
async fn a_table_model_is_a_list_to_rust_replicas_under_an_api_of_its_own() {
    use as_table::player::ReplicaExt as _;
    let _guard = init();
    let host = Host::listen("tcp://127.0.0.1:0").await.unwrap();
    let state = as_table::player::SimpleSource::default();
    let table: TableModel<Track> = state.playlist();
    table.extend((0..5).map(track)).unwrap();
    host.enable_remoting(TablePlayerService(state))
        .await
        .unwrap();
    let node = Node::connect(host.url().unwrap()).await.unwrap();

    let replica = node.acquire::<as_table::Player>();
    replica.wait_for_source(TIMEOUT).await.unwrap();
    let rows = replica.playlist().expect("initialized");
    assert_eq!(rows.fetch(1..3).await.unwrap(), [track(1), track(2)]);
    assert_eq!(rows.roles(), ["title", "plays"], "its columns");

    // A replica that takes it for a list does not match: the forms are told apart.
    let as_list = node.acquire::<Player>();
    let error = as_list.wait_for_source(TIMEOUT).await.unwrap_err();
    assert!(error.is_signature_mismatch(), "{error}");

    let dynamic = node.acquire_dynamic("Player");
    dynamic.wait_for_source(TIMEOUT).await.unwrap();
    let schema = dynamic.schema().expect("described");
    assert_eq!(schema.children[0].api.api, "ItemTable");
}
