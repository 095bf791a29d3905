//! Replicated tree models: a `TreeModel` member of a source (rows with children, named by
//! paths), paged through by replicas that fetch the children of the rows they expand and
//! keep every window right through inserts, removals, moves and changes at any depth, in
//! order with the parent's changes; writes the source decides on; a shared current row;
//! re-init after a reconnect; a bounded budget; a stalled replica that gets a reset.

mod support;

use actix::prelude::*;
use actix_remote_objects::model::{
    ModelChange, TreeChange, TreeItem, TreeModel, TreeReplica, TreeRow,
};
use actix_remote_objects::prelude::*;
use support::proxy::FaultProxy;
use support::*;

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Entry {
    pub name: String,
    pub size: u64,
}

fn entry(name: &str) -> Entry {
    Entry {
        name: name.to_owned(),
        size: 0,
    }
}

remote_object! {
    /// A file browser with a tree of entries.
    pub Explorer {
        prop title: String;
        model files: TreeModel<Entry>;
    }
}

use explorer::ReplicaExt as _;

struct ExplorerService(explorer::SimpleSource);

impl Actor for ExplorerService {
    type Context = Context<Self>;
}

impl RemoteSource for ExplorerService {
    type Api = Explorer;
    fn simple_source(&self) -> &explorer::SimpleSource {
        &self.0
    }
}

/// `docs/` with two files and a `drafts/` folder of one; `src/` with one; `README`.
fn sample() -> Vec<TreeItem<Entry>> {
    vec![
        TreeItem::new(
            entry("docs"),
            vec![
                TreeItem::leaf(entry("guide.md")),
                TreeItem::new(entry("drafts"), vec![TreeItem::leaf(entry("idea.md"))]),
                TreeItem::leaf(entry("faq.md")),
            ],
        ),
        TreeItem::new(entry("src"), vec![TreeItem::leaf(entry("lib.rs"))]),
        TreeItem::leaf(entry("README")),
    ]
}

/// A host at `url` (with `config`) serving an explorer whose tree is `roots`.
async fn explorer_host(
    url: &str,
    config: HostConfig,
    roots: Vec<TreeItem<Entry>>,
) -> (Host, explorer::SimpleSource) {
    let host = Host::listen_with(url, config).await.unwrap();
    let state = explorer::SimpleSource::default();
    state.files().reset(roots);
    host.enable_remoting(ExplorerService(state.clone()))
        .await
        .unwrap();
    (host, state)
}

/// A valid replica of the explorer at `url`, on a node with `config`, and its tree.
async fn tree_replica(
    url: &str,
    config: NodeConfig,
) -> (Node, Replica<Explorer>, TreeReplica<Entry>) {
    let node = Node::connect_with(url, config).await.unwrap();
    let replica = node.acquire::<Explorer>();
    replica.wait_for_source(TIMEOUT).await.unwrap();
    let tree = replica.files().expect("the tree came with the init");
    (node, replica, tree)
}

/// The names of the children of `parent`, fetched.
async fn names(tree: &TreeReplica<Entry>, parent: &[usize]) -> Vec<String> {
    let rows = tree.fetch(parent, 0..usize::MAX).await.unwrap();
    rows.into_iter().map(|r| r.value.name).collect()
}

/// The whole tree as the replica fetches it, as `name(children…)` strings.
async fn outline(tree: &TreeReplica<Entry>) -> String {
    let mut out = Vec::new();
    let mut stack = vec![(Vec::new(), 0usize)];
    while let Some((parent, _)) = stack.pop() {
        let rows = tree.fetch(&parent, 0..usize::MAX).await.unwrap();
        for (k, row) in rows.iter().enumerate() {
            let mut path = parent.clone();
            path.push(k);
            out.push(format!("{path:?}={}", row.value.name));
            if row.children > 0 {
                stack.push((path, row.children));
            }
        }
    }
    out.sort();
    out.join(" ")
}

/// The same outline, read from the source's tree.
fn source_outline(model: &TreeModel<Entry>) -> String {
    fn walk(items: &[TreeItem<Entry>], parent: &mut Vec<usize>, out: &mut Vec<String>) {
        for (k, item) in items.iter().enumerate() {
            parent.push(k);
            out.push(format!("{parent:?}={}", item.value.name));
            walk(&item.children, parent, out);
            parent.pop();
        }
    }
    let mut out = Vec::new();
    model.read(|roots| walk(roots, &mut Vec::new(), &mut out));
    out.sort();
    out.join(" ")
}

async fn next_tree(
    changes: &mut (impl futures::Stream<Item = TreeChange> + Unpin),
) -> (Vec<usize>, ModelChange) {
    let change = next(changes).await;
    (change.parent, change.change)
}

async fn a_replica_expands_rows_it_reads_and_knows_their_child_counts(url: &str) {
    let _guard = init();
    let (host, _state) = explorer_host(url, HostConfig::default(), sample()).await;
    let (_node, _replica, tree) = tree_replica(host.url().unwrap(), NodeConfig::default()).await;
    assert_eq!(tree.source_name(), "Explorer.files");
    assert_eq!(
        tree.row_count(&[]),
        Some(3),
        "the top-level count comes with the init"
    );
    assert_eq!(tree.row_count(&[0]), None, "nothing known of docs/ yet");
    assert_eq!(tree.cached_rows(), 0);
    assert_eq!(tree.roles(), ["name", "size"]);

    // A miss answers at once and asks for its siblings.
    let mut changes = tree.changes();
    assert_eq!(tree.get(&[0]), None);
    assert_eq!(
        next_tree(&mut changes).await,
        (vec![], ModelChange::Fetched { first: 0, count: 3 })
    );
    let docs = tree.get(&[0]).unwrap();
    assert_eq!((docs.value.name.as_str(), docs.children), ("docs", 3));
    assert_eq!(tree.row_count(&[2]), Some(0), "README has no children");

    // Expanding docs/drafts/ two levels down.
    assert_eq!(names(&tree, &[0]).await, ["guide.md", "drafts", "faq.md"]);
    assert_eq!(tree.row_count(&[0, 1]), Some(1));
    assert_eq!(names(&tree, &[0, 1]).await, ["idea.md"]);
    assert_eq!(
        tree.cached(&[0, 1, 0]),
        Some(TreeRow {
            value: entry("idea.md"),
            children: 0
        })
    );
    // A parent the source does not have has no children.
    assert!(tree.fetch(&[9, 9], 0..usize::MAX).await.unwrap().is_empty());
}

async fn every_operation_at_any_depth_reaches_the_windows_in_order(url: &str) {
    let _guard = init();
    let (host, state) = explorer_host(url, HostConfig::default(), sample()).await;
    let (_node, replica, tree) = tree_replica(host.url().unwrap(), NodeConfig::default()).await;
    let files = state.files();
    assert_eq!(outline(&tree).await, source_outline(&files), "all held");
    let mut changes = tree.changes();
    let mut events = replica.events();
    let (to, mut delivered) = collector::<TreeChange>();
    tree.subscribe(to);

    files
        .insert(&[], 0, TreeItem::leaf(entry(".gitignore")))
        .unwrap();
    state.set_title("moved".to_owned()).unwrap();
    files
        .push(&[1, 1], TreeItem::leaf(entry("later.md")))
        .unwrap();
    files.move_rows(&[1], 0..1, 2).unwrap();
    files.remove(&[2]).unwrap();
    files.set(&[1, 0], entry("drafts!")).unwrap();
    files
        .update_roles(&[1, 0, 0], &["size"], |e| e.size = 7)
        .unwrap();

    assert_eq!(
        next_tree(&mut changes).await,
        (vec![], ModelChange::Inserted { first: 0, count: 1 })
    );
    assert!(matches!(
        next(&mut events).await,
        Event::PropertyChanged(explorer::PropertyChange::Title(_))
    ));
    let expected = [
        (vec![1, 1], ModelChange::Inserted { first: 1, count: 1 }),
        (
            vec![1],
            ModelChange::Moved {
                first: 0,
                count: 1,
                to: 2,
            },
        ),
        (vec![], ModelChange::Removed { first: 2, count: 1 }),
        (
            vec![1],
            ModelChange::Changed {
                first: 0,
                count: 1,
                roles: vec![],
            },
        ),
        (
            vec![1, 0],
            ModelChange::Changed {
                first: 0,
                count: 1,
                roles: vec!["size".to_owned()],
            },
        ),
    ];
    for want in expected.clone() {
        assert_eq!(next_tree(&mut changes).await, want);
    }
    let first = (vec![], ModelChange::Inserted { first: 0, count: 1 });
    for want in std::iter::once(first).chain(expected) {
        assert_eq!(
            next_tree(&mut delivered).await,
            want,
            "the subscribed actor's"
        );
    }
    // Every window followed, without fetching again: what is held is the source's tree.
    assert_eq!(
        tree.cached(&[1, 0]).map(|r| r.value.name),
        Some("drafts!".to_owned())
    );
    assert_eq!(tree.cached(&[1, 0, 0]).map(|r| r.value.size), Some(7));
    assert_eq!(
        tree.cached(&[1, 0, 1]).map(|r| r.value.name),
        Some("later.md".to_owned())
    );
    assert_eq!(
        tree.row_count(&[1, 0]),
        Some(2),
        "drafts/ has two entries now"
    );
    assert_eq!(
        tree.cached(&[1, 2]).map(|r| r.value.name),
        Some("guide.md".to_owned())
    );
    assert_eq!(outline(&tree).await, source_outline(&files));
}

async fn writes_and_the_current_row_go_through_the_source(url: &str) {
    let _guard = init();
    let (host, state) = explorer_host(url, HostConfig::default(), sample()).await;
    let (_node, _replica, tree) = tree_replica(host.url().unwrap(), NodeConfig::default()).await;
    let files = state.files();
    let refused = tree.write(&[0, 0], entry("x")).await.unwrap_err();
    assert!(
        refused.to_string().contains("does not accept writes"),
        "{refused}"
    );

    files.accept_writes(|path, entry| {
        if entry.name.is_empty() {
            return Err(format!("an empty name at {path:?}"));
        }
        Ok(())
    });
    tree.write(&[0, 1, 0], entry("idea2.md")).await.unwrap();
    assert_eq!(files.get(&[0, 1, 0]), Some(entry("idea2.md")));
    assert_eq!(files.len(&[0, 1]), Some(1), "the children stay");
    let refused = tree.write(&[1, 0], entry("")).await.unwrap_err();
    assert!(
        refused.to_string().contains("an empty name at [1, 0]"),
        "{refused}"
    );

    let mut changes = tree.changes();
    tree.set_current(Some(&[0, 1])).await.unwrap();
    assert_eq!(files.current(), Some(vec![0, 1]));
    let change = next(&mut changes).await;
    assert_eq!(change.current, Some(vec![0, 1]));
    assert_eq!(tree.current(), Some(vec![0, 1]));
    files.set_current(Some(&[2])).unwrap();
    assert_eq!(next(&mut changes).await.current, Some(vec![2]));
    assert!(
        tree.set_current(Some(&[7, 7])).await.is_err(),
        "no such row"
    );
    assert_eq!(files.current(), Some(vec![2]));
    // The current row stays on its row, and goes with it.
    files.insert(&[], 0, TreeItem::leaf(entry("new"))).unwrap();
    assert_eq!(files.current(), Some(vec![3]));
    loop {
        let change = next(&mut changes).await;
        if let ModelChange::Current { .. } = change.change {
            if change.current == Some(vec![3]) {
                break;
            }
        }
    }
    assert_eq!(tree.current(), Some(vec![3]));
    files.set_current(Some(&[1, 1, 0])).unwrap();
    files.remove(&[1]).unwrap();
    assert_eq!(files.current(), None, "removed with docs/");
}

over_tcp_and_unix!(
    a_replica_expands_rows_it_reads_and_knows_their_child_counts,
    every_operation_at_any_depth_reaches_the_windows_in_order,
    writes_and_the_current_row_go_through_the_source,
);

/// A wide tree: `roots` top-level rows of `children` children each.
fn wide(roots: usize, children: usize) -> Vec<TreeItem<Entry>> {
    (0..roots)
        .map(|i| {
            let kids = (0..children)
                .map(|j| TreeItem::leaf(entry(&format!("{i}/{j}"))))
                .collect();
            TreeItem::new(entry(&i.to_string()), kids)
        })
        .collect()
}

#[actix::test]
async fn a_replica_holds_at_most_its_budget_over_all_parents() {
    let _guard = init();
    let (host, _state) =
        explorer_host("tcp://127.0.0.1:0", HostConfig::default(), wide(100, 500)).await;
    let config = NodeConfig::default().model_cache_rows(600);
    let (_node, _replica, tree) = tree_replica(host.url().unwrap(), config).await;
    for parent in 0..20 {
        // Not counted yet (the top-level rows were not fetched for this): the answer
        // tells how many there are.
        let rows = tree.fetch(&[parent], 0..usize::MAX).await.unwrap();
        assert_eq!(rows.len(), 500, "the answer is whole");
        assert!(
            tree.cached_rows() <= 600,
            "{} rows held",
            tree.cached_rows()
        );
    }
    assert_eq!(
        tree.cached(&[19, 499]).map(|r| r.value.name),
        Some("19/499".to_owned()),
        "the newest window stays"
    );
    assert_eq!(tree.cached(&[0, 0]), None, "the oldest went first");
}

#[actix::test]
async fn a_reconnected_replica_re_initializes_its_tree_and_fetches_again() {
    let _guard = init();
    let (host, state) = explorer_host("tcp://127.0.0.1:0", HostConfig::default(), sample()).await;
    let proxy = FaultProxy::start(host.url().unwrap()).await;
    let (_node, replica, tree) = tree_replica(proxy.url(), NodeConfig::default()).await;
    outline(&tree).await;
    let mut changes = tree.changes();

    proxy.cut();
    wait_state(&replica, ReplicaState::Suspect).await;
    assert_eq!(
        tree.fetch(&[], 0..1).await.unwrap_err(),
        SlotError::NotConnected
    );
    state.files().remove(&[0]).unwrap();
    proxy.pass();
    wait_state(&replica, ReplicaState::Valid).await;
    loop {
        if let (_, ModelChange::Reset { rows }) = next_tree(&mut changes).await {
            assert_eq!(rows, 2);
            break;
        }
    }
    assert_eq!(tree.cached_rows(), 0, "nothing held from before the outage");
    assert_eq!(tree.row_count(&[0]), None);
    assert_eq!(outline(&tree).await, source_outline(&state.files()));
}

#[actix::test]
async fn a_stalled_tree_replica_gets_a_reset_instead_of_a_closed_connection() {
    let _guard = init();
    let config = HostConfig::default().max_queued_bytes(4 * 1024 * 1024);
    let (host, state) = explorer_host("tcp://127.0.0.1:0", config, sample()).await;
    let proxy = FaultProxy::start(host.url().unwrap()).await;
    let (_node, replica, tree) = tree_replica(proxy.url(), NodeConfig::default()).await;
    let mut changes = tree.changes();

    proxy.stall();
    // 40 MiB of inserts under docs/drafts/, each carrying its row, read by nobody.
    let files = state.files();
    let name = "x".repeat(1000);
    let rows = 40_000;
    for n in 0..rows {
        let row = Entry {
            name: name.clone(),
            size: n as u64,
        };
        files.push(&[0, 1], TreeItem::leaf(row)).unwrap();
        if n % 1000 == 0 {
            tokio::task::yield_now().await;
        }
    }
    proxy.pass();
    let (mut inserts, mut resets) = (0, 0);
    loop {
        match next_tree(&mut changes).await {
            (parent, ModelChange::Inserted { count, .. }) => {
                assert_eq!(parent, [0, 1]);
                inserts += count;
            }
            (_, ModelChange::Reset { .. }) => {
                resets += 1;
                // The last reset: the drafts/ folder as the source has it.
                let drafts = tree.fetch(&[0], 1..2).await.unwrap();
                if drafts[0].children == rows + 1 {
                    break;
                }
            }
            (_, ModelChange::Fetched { .. }) => {}
            other => panic!("unexpected {other:?}"),
        }
    }
    eprintln!("the stalled tree replica saw {inserts} of {rows} inserts and {resets} resets");
    assert!(inserts < rows, "diffs were replaced by the reset");
    assert_eq!(proxy.connections(), 1, "the connection was never closed");
    assert_eq!(replica.state(), ReplicaState::Valid);
    let last = tree.fetch(&[0, 1], rows..rows + 1).await.unwrap();
    assert_eq!(last[0].value.size, (rows - 1) as u64);
}

#[actix::test]
async fn a_dynamic_replica_sees_a_tree_as_a_child_and_fetches_children() {
    use actix_remote_objects::dynamic::{DynamicEvent, Value};
    let _guard = init();
    let (host, _state) = explorer_host("tcp://127.0.0.1:0", HostConfig::default(), sample()).await;
    let node = Node::connect(host.url().unwrap()).await.unwrap();
    let replica = node.acquire_dynamic("Explorer");
    replica.wait_for_source(TIMEOUT).await.unwrap();
    let schema = replica.schema().expect("described");
    assert!(schema.children[0].model, "the schema says it is a model");
    assert_eq!(schema.children[0].api.api, "ItemTree");
    let files = replica
        .child("files")
        .expect("the tree came with the explorer");
    assert_eq!(files.property("rows"), Ok(Value::UInt(3)));
    let mut events = files.events();
    let parent = Value::Seq(vec![Value::UInt(0)]);
    files
        .call(
            "fetch",
            vec![parent, Value::UInt(4), Value::UInt(1), Value::UInt(5)],
        )
        .await
        .unwrap();
    let DynamicEvent::Signal { name, args } = next(&mut events).await else {
        panic!("the rows came as a signal");
    };
    assert_eq!(name, "rows");
    assert_eq!(
        args[3],
        ("total".to_owned(), Value::UInt(3)),
        "docs/ has 3 children"
    );
    let rows = args[4].1.to_json();
    assert_eq!(rows[0][0]["name"], "drafts");
    assert_eq!(rows[0][1], 1, "each row with its child count");
    assert_eq!(rows.as_array().map(Vec::len), Some(2));
}

#[actix::test]
async fn a_fetch_of_children_not_yet_counted_asks_again_for_the_rest() {
    let _guard = init();
    let (host, _state) =
        explorer_host("tcp://127.0.0.1:0", HostConfig::default(), wide(2, 5000)).await;
    let (_node, _replica, tree) = tree_replica(host.url().unwrap(), NodeConfig::default()).await;
    assert_eq!(tree.row_count(&[1]), None);
    let rows = tree.fetch(&[1], 10..usize::MAX).await.unwrap();
    assert_eq!(rows.len(), 4990, "past the first part of 4 096 rows");
    assert_eq!(rows[4989].value.name, "1/4999");
    assert_eq!(tree.row_count(&[1]), Some(5000));
}
