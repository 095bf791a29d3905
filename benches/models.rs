//! Replicated models over loopback TCP, as issue 13 asks for them: a 1 M-row list acquired
//! (to the row count) and its first window of 100 rows; 100 000 single-row appends fanned
//! out to 8 replicas; a 1 000-row window scrolled through the whole model; and the replica
//! side's memory beside the model's size. Prints one `FIGURE` line per figure.
//! `cargo bench --bench models` (`MODEL_ROWS=n` for another model size).

use std::time::{Duration, Instant};

use actix::prelude::*;
use actix_remote_objects::model::ListModel;
use actix_remote_objects::prelude::*;

#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Track {
    pub title: String,
    pub plays: u32,
}

remote_object! {
    pub Player {
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

const TIMEOUT: Duration = Duration::from_secs(60);

fn track(n: usize) -> Track {
    Track {
        title: format!("track number {n}"),
        plays: n as u32,
    }
}

fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        .unwrap_or(0)
}

fn setting(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

async fn host_with(rows: usize) -> (Host, player::SimpleSource) {
    let host = Host::listen("tcp://127.0.0.1:0").await.unwrap();
    let state = player::SimpleSource::default();
    state.playlist().extend((0..rows).map(track)).unwrap();
    host.enable_remoting(PlayerService(state.clone()))
        .await
        .unwrap();
    (host, state)
}

async fn acquire_and_scroll(url: &str, rows: usize) {
    let node = Node::connect(url).await.unwrap();
    let started = Instant::now();
    let replica = node.acquire::<Player>();
    replica.wait_for_source(TIMEOUT).await.unwrap();
    let model = replica.playlist().unwrap();
    let to_count = started.elapsed();
    assert_eq!(model.row_count(), rows);
    let started = Instant::now();
    let first = model.fetch(0..100).await.unwrap();
    let to_window = started.elapsed();
    assert_eq!(first.len(), 100);
    println!(
        "FIGURE model acquire {rows} rows: row count in {:.2} ms, first 100 rows in {:.2} ms",
        to_count.as_secs_f64() * 1e3,
        to_window.as_secs_f64() * 1e3
    );

    let before = rss_kib();
    let started = Instant::now();
    let mut at = 0;
    while at < rows {
        let window = model.fetch(at..at + 1000).await.unwrap();
        at += window.len().max(1);
    }
    let secs = started.elapsed().as_secs_f64();
    println!(
        "FIGURE model scroll {rows} rows in 1000-row windows: {:.0} rows/s ({:.2} s); \
         replica holds {} rows, RSS +{} KiB while scrolling",
        rows as f64 / secs,
        secs,
        model.cached_rows(),
        rss_kib().saturating_sub(before)
    );
    node.shutdown().await;
}

async fn fan_out(appends: usize, replicas: usize) {
    let (host, state) = host_with(0).await;
    let mut models = Vec::new();
    let mut nodes = Vec::new();
    for _ in 0..replicas {
        let node = Node::connect(host.url().unwrap()).await.unwrap();
        let replica = node.acquire::<Player>();
        replica.wait_for_source(TIMEOUT).await.unwrap();
        let model = replica.playlist().unwrap();
        let changes = model.changes();
        models.push((model, changes, replica));
        nodes.push(node);
    }
    let playlist = state.playlist();
    let started = Instant::now();
    for n in 0..appends {
        playlist.push(track(n)).unwrap();
        if n % 1024 == 0 {
            tokio::task::yield_now().await;
        }
    }
    for (model, changes, _) in &mut models {
        while model.row_count() < appends {
            let next = tokio::time::timeout(TIMEOUT, futures::StreamExt::next(changes)).await;
            assert!(next.is_ok(), "a replica stopped hearing of appends");
        }
    }
    let secs = started.elapsed().as_secs_f64();
    println!(
        "FIGURE model fan-out {appends} single-row appends to {replicas} replicas: {:.0} row-inserts/s \
         per replica ({:.2} s)",
        appends as f64 / secs,
        secs
    );
    for node in nodes {
        node.shutdown().await;
    }
    host.shutdown().await;
}

#[actix::main]
async fn main() {
    let rows = setting("MODEL_ROWS", 1_000_000);
    let baseline = rss_kib();
    let (host, _state) = host_with(rows).await;
    println!(
        "FIGURE model source of {rows} rows: process RSS +{} KiB",
        rss_kib().saturating_sub(baseline)
    );
    acquire_and_scroll(host.url().unwrap(), rows).await;
    host.shutdown().await;
    // The same replica work on a model a hundred times smaller: its memory should match.
    let small = (rows / 100).max(1000);
    let (host, _state) = host_with(small).await;
    acquire_and_scroll(host.url().unwrap(), small).await;
    host.shutdown().await;
    fan_out(100_000, 8).await;
}
