//! Models over Qt's dialect, the API of `tests/qt/playlist.rep` both ways: a repc C++ and a
//! PyQt6 `QAbstractItemModelReplica` (each in its own process) page through a Rust
//! `ListModel` served to Qt nodes — the row count first, then the rows they show by role,
//! an edit through the source, a row inserted — and a Rust `ModelReplica` pages through
//! the `QStandardItemModel` of a repc C++ source (`tests/qt/playlist_host.cpp`).
//!
//! Needs Qt 6, as `tests/qt_interop.rs` does.
// Selections are compared with lists of ranges, one range or more.
#![allow(clippy::single_range_in_vec_init)]

#[path = "support/qt_programs.rs"]
mod qt_programs;
mod support;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use actix::prelude::*;
use actix_remote_objects::model::{ListModel, TableModel};
use actix_remote_objects::prelude::*;
use qt_programs::{cpp_programs, run_python_script, run_to_end, with_qt};
use support::processes::Process;
use support::*;

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Track {
    /// Shown by Qt's views as the display role.
    pub display: String,
    pub plays: i32,
}

remote_object! {
    /// A playlist of tracks.
    pub Playlist {
        prop title: String;
        model tracks: ListModel<Track>;
        slot append(title: String);
    }
}

struct PlaylistService(playlist::SimpleSource);

impl Actor for PlaylistService {
    type Context = Context<Self>;
}

impl RemoteSource for PlaylistService {
    type Api = Playlist;
    fn simple_source(&self) -> &playlist::SimpleSource {
        &self.0
    }
}

impl Handler<playlist::Append> for PlaylistService {
    type Result = SlotResult<()>;
    fn handle(&mut self, msg: playlist::Append, _: &mut Context<Self>) -> SlotResult<()> {
        let row = track(&msg.title, 0);
        self.0.tracks().push(row).map_err(SlotError::source)
    }
}

fn track(display: &str, plays: i32) -> Track {
    Track {
        display: display.into(),
        plays,
    }
}

/// A Rust host serving Playlist "mix" with tracks a, b, c (played 1, 2, 3 times), which
/// takes every edit, to Qt nodes; its URL for them, and the tracks.
async fn playlist_host() -> (Host, String, ListModel<Track>) {
    let host = Host::listen("tcp://127.0.0.1:0").await.unwrap();
    let url = host.listen_qt("tcp://127.0.0.1:0").await.unwrap();
    let state = playlist::SimpleSource::new(playlist::Properties {
        title: "mix".into(),
    });
    let tracks = state.tracks();
    tracks
        .extend([track("a", 1), track("b", 2), track("c", 3)])
        .unwrap();
    tracks.accept_writes(|_, _| Ok(()));
    host.enable_remoting(PlaylistService(state)).await.unwrap();
    (host, url, tracks)
}

#[actix::test]
async fn a_repc_cpp_model_replica_pages_through_a_rust_list_model() {
    let _guard = init();
    if !with_qt() {
        return;
    }
    let (_host, url, tracks) = playlist_host().await;
    let program = cpp_programs().join("playlist_replica");
    let out = actix_rt::task::spawn_blocking(move || run_to_end(Command::new(program).arg(url)))
        .await
        .unwrap();
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines, ["title mix rows a,b,c", "edited B", "done"]);
    assert_eq!(
        tracks.get(1),
        Some(track("B", 2)),
        "the edit kept the other role"
    );
}

#[actix::test]
async fn a_pyqt_model_replica_pages_through_a_rust_list_model() {
    let _guard = init();
    if !with_qt() {
        return;
    }
    let (_host, url, tracks) = playlist_host().await;

    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/qt/model_replica.py");
    let mut child = Command::new("/usr/bin/python3")
        .arg(script)
        .arg(&url)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut process = Process(child);
    let (lines_tx, mut lines) = tokio::sync::mpsc::unbounded_channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if lines_tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut seen = Vec::new();
    let mut selection = tracks.selection_changes();
    while let Some(line) = next_line(&mut lines).await {
        if line == "ready" {
            // The Qt replica showed the edit: a row inserted now reaches it as Qt's.
            assert_eq!(tracks.get(1), Some(track("B", 2)), "the edit went through");
            tracks.push(track("d", 0)).unwrap();
        }
        if line == "selected" {
            // Its selection model's command selected the row here, and made it current.
            while next(&mut selection).await != [2..3] {}
            assert_eq!(tracks.current(), Some(2));
            tracks.push(track("e", 0)).unwrap();
        }
        seen.push(line);
    }
    let status = process.0.wait().unwrap();
    assert!(
        status.success(),
        "the Qt program ended with {status}: {seen:?}"
    );
    assert_eq!(
        seen,
        [
            "rows 3 roles display plays",
            "data a:1,b:2,c:3",
            "edited B",
            "ready",
            "inserted d",
            "selected"
        ]
    );
}

/// The Qt program's next line, or `None` once it ended.
async fn next_line(lines: &mut tokio::sync::mpsc::UnboundedReceiver<String>) -> Option<String> {
    tokio::time::timeout(TIMEOUT, lines.recv())
        .await
        .expect("the Qt program goes on")
}

/// The repc C++ source of Playlist (`tests/qt/playlist_host.cpp`), with its URL.
fn qt_playlist_host() -> (Process, String) {
    support::processes::spawn_listening_program(
        &cpp_programs().join("playlist_host"),
        &["tcp://127.0.0.1:0"],
    )
}

#[actix::test]
async fn a_rust_model_replica_pages_through_a_qt_sources_model() {
    use playlist::ReplicaExt as _;
    let _guard = init();
    if !with_qt() {
        return;
    }
    let (_qt_host, url) = qt_playlist_host();
    let node = Node::connect(&format!("qt+{url}")).await.unwrap();
    let replica = node.acquire::<Playlist>();
    replica.wait_for_source(TIMEOUT).await.unwrap();
    assert_eq!(
        replica.state(),
        ReplicaState::Valid,
        "repc's signature matched"
    );
    let tracks = replica.tracks().expect("the model came with the init");
    assert_eq!(tracks.row_count(), 3, "the row count is known at init");
    assert_eq!(
        tracks.fetch(0..3).await.unwrap(),
        [track("a", 1), track("b", 2), track("c", 3)]
    );

    // A write goes to the Qt model role by role; its dataChanged comes back with the row.
    let mut changes = tracks.changes();
    assert_eq!(tracks.write(1, track("B", 2)).await, Ok(()));
    while tracks.cached(1) != Some(track("B", 2)) {
        next(&mut changes).await;
    }

    // A row the Qt source appends.
    assert_eq!(
        replica.call(playlist::Append { title: "d".into() }).await,
        Ok(())
    );
    while tracks.row_count() != 4 {
        next(&mut changes).await;
    }
    assert_eq!(tracks.fetch(3..4).await.unwrap(), [track("d", 0)]);

    // Qt selects one row at a time (`replicaSetCurrentIndex`); a range is refused here.
    let refused = tracks.select(0..2).await.unwrap_err();
    assert!(
        refused.to_string().contains("one existing row at a time"),
        "{refused}"
    );
    assert_eq!(tracks.select(1..2).await, Ok(()));
    assert!(
        tracks.selection().is_empty(),
        "Qt's protocol shares no selection"
    );
    node.shutdown().await;
}

#[actix::test]
async fn aro_reads_a_qt_sources_model() {
    let _guard = init();
    if !with_qt() {
        return;
    }
    let (_qt_host, url) = qt_playlist_host();
    let url = format!("qt+{url}");
    let aro = move |action: &str| {
        let out = Command::new(support::processes::aro())
            .args(["model", &url, "Playlist.tracks", action])
            .output()
            .unwrap();
        assert!(out.status.success(), "aro model {action}: {out:?}");
        serde_json::from_slice::<serde_json::Value>(&out.stdout).unwrap()
    };
    let (size, rows) = actix_rt::task::spawn_blocking(move || (aro("size"), aro("rows")))
        .await
        .unwrap();
    assert_eq!(size, serde_json::json!(3));
    // A dynamic replica's rows are structs of the roles the Qt model announces.
    assert_eq!(
        rows[1],
        serde_json::json!({"display": {"String": "b"}, "plays": {"Int": 2}})
    );
}

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Line {
    pub item: String,
    pub count: i32,
    pub price: f64,
}

remote_object! {
    /// A sheet of lines, shown as a table.
    pub Sheet {
        model cells: TableModel<Line>;
    }
}

struct SheetService(sheet::SimpleSource);

impl Actor for SheetService {
    type Context = Context<Self>;
}

impl RemoteSource for SheetService {
    type Api = Sheet;
    fn simple_source(&self) -> &sheet::SimpleSource {
        &self.0
    }
}

#[actix::test]
async fn a_pyqt_model_replica_reads_a_rust_table_model_as_a_table() {
    let _guard = init();
    if !with_qt() {
        return;
    }
    let host = Host::listen("tcp://127.0.0.1:0").await.unwrap();
    let url = host.listen_qt("tcp://127.0.0.1:0").await.unwrap();
    let state = sheet::SimpleSource::default();
    let line = |item: &str, count, price| Line {
        item: item.into(),
        count,
        price,
    };
    let cells = state.cells();
    cells
        .extend([line("pen", 3, 1.5), line("ink", 1, 9.0)])
        .unwrap();
    cells.accept_writes(|_, _| Ok(()));
    host.enable_remoting(SheetService(state)).await.unwrap();

    let out = run_python_script("table_replica.py", url).await;
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines,
        [
            "size 2x3",
            "headers item,count,price",
            "cells pen,3,1.5 | ink,1,9.0",
            "edited ink,1,42.0",
        ]
    );
    assert_eq!(
        cells.get(1),
        Some(line("ink", 1, 42.0)),
        "the cell's edit went through the source"
    );
}
