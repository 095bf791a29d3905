//! Replicated models (Qt's `MODEL`): a player's playlist of 100 000 tracks that a replica
//! pages through, holding only the rows it fetched, while the source adds, moves and
//! changes tracks; and its library, a tree of artists and their albums, that the replica
//! expands row by row.
//!
//! ```text
//! cargo run --example playlist                # host and replica in one process, narrated
//! cargo run --example playlist host URL       # only the host (prints "listening on URL")
//! ```
//! Then, for instance: `aro model URL Player.playlist size`,
//! `aro model URL Player.playlist rows --first 500 --count 3`, `aro call URL Player shuffle`,
//! `aro model URL Player.library rows --parent 2`, `aro model URL Player.chart rows`.

use std::time::Duration;

use actix::prelude::*;
use actix_remote_objects::model::{ListModel, ModelChange, TableModel, TreeItem, TreeModel};
use actix_remote_objects::prelude::*;
use futures::StreamExt;

#[path = "common/shutdown.rs"]
mod shutdown;
use shutdown::wait_for_termination;

/// One row of the playlist; its fields are the model's roles.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Track {
    pub title: String,
    pub plays: u32,
}

/// One row of the library: an artist (whose children are albums) or an album.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Shelf {
    pub name: String,
    pub tracks: u32,
}

remote_object! {
    /// A music player.
    pub Player {
        /// What it plays, in order.
        model playlist: ListModel<Track>;
        /// Artists, and under each its albums.
        model library: TreeModel<Shelf>;
        /// The first ten tracks, which Qt views show as a table (a column per field).
        model chart: TableModel<Track>;
        /// Moves the first track to the end and counts a play of it.
        slot shuffle();
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

impl Handler<player::Shuffle> for PlayerService {
    type Result = SlotResult<()>;
    fn handle(&mut self, _: player::Shuffle, _: &mut Context<Self>) -> SlotResult<()> {
        let playlist = self.0.playlist();
        let last = playlist.len().saturating_sub(1);
        playlist.move_rows(0..1, last).map_err(SlotError::source)?;
        playlist
            .update_roles(last, &["plays"], |t| t.plays += 1)
            .map_err(SlotError::source)?;
        Ok(())
    }
}

const TRACKS: usize = 100_000;
const ARTISTS: usize = 1_000;

/// Artist `n` and its albums.
fn artist(n: usize) -> TreeItem<Shelf> {
    let albums = (0..n % 4 + 1)
        .map(|a| {
            TreeItem::leaf(Shelf {
                name: format!("album {n}.{a}"),
                tracks: 10,
            })
        })
        .collect();
    let name = format!("artist {n}");
    TreeItem::new(Shelf { name, tracks: 0 }, albums)
}

async fn run_host(url: &str) -> Result<Host, actix_remote_objects::Error> {
    let host = Host::listen(url).await?;
    let state = player::SimpleSource::default();
    state.playlist().extend((0..TRACKS).map(|n| Track {
        title: format!("track {n}"),
        plays: 0,
    }))?;
    // Replicas may rename tracks, never to nothing.
    state.playlist().accept_writes(|_row, track: &Track| {
        if track.title.is_empty() {
            Err("a track needs a title".to_owned())
        } else {
            Ok(())
        }
    });
    state.library().reset((0..ARTISTS).map(artist));
    state.chart().extend((0..10).map(|n| Track {
        title: format!("track {n}"),
        plays: 0,
    }))?;
    host.enable_remoting(PlayerService(state)).await?;
    println!("listening on {}", host.url().unwrap_or(url));
    Ok(host)
}

async fn run_replica(url: &str) -> Result<(), Box<dyn std::error::Error>> {
    let node = Node::connect(url).await?;
    let player = node.acquire::<Player>();
    player.wait_for_source(Duration::from_secs(5)).await?;
    let playlist = player
        .playlist()
        .ok_or("the player came without its playlist")?;
    println!(
        "replica: {} tracks, roles {:?}, none held yet",
        playlist.row_count(),
        playlist.roles()
    );
    let screen = playlist.fetch(0..20).await?;
    println!(
        "replica: fetched the first screen: {:?} … {:?} ({} rows held)",
        screen[0].title,
        screen[19].title,
        playlist.cached_rows()
    );
    let mut changes = playlist.changes();
    player.call(player::Shuffle {}).await?;
    // The slot's diffs came before its reply: the window is already right.
    println!(
        "replica: shuffled; first is now {:?}; diffs {:?}, {:?}",
        playlist.get(0).map(|t| t.title),
        changes.next().await,
        changes.next().await
    );
    playlist
        .write(
            0,
            Track {
                title: "renamed".into(),
                plays: 0,
            },
        )
        .await?;
    println!("replica: renamed track 0: {:?}", playlist.get(0));
    if let Some(ModelChange::Changed { first, .. }) = changes.next().await {
        println!("replica: the source confirmed the change of row {first}");
    }
    let library = player
        .library()
        .ok_or("the player came without its library")?;
    let artists = library.fetch(&[], 0..3).await?;
    let albums = library.fetch(&[2], 0..artists[2].children).await?;
    println!(
        "replica: library of {:?} artists; {} has {} albums: {:?} ({} rows held)",
        library.row_count(&[]),
        artists[2].value.name,
        artists[2].children,
        albums
            .iter()
            .map(|a| a.value.name.as_str())
            .collect::<Vec<_>>(),
        library.cached_rows()
    );
    Ok(())
}

#[actix::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .as_slice()
    {
        [] => {
            let host = run_host("tcp://127.0.0.1:0").await?;
            let url = host.url().ok_or("the host has no URL")?.to_owned();
            run_replica(&url).await?;
            host.shutdown().await;
            println!("done");
        }
        ["host", url] => {
            let host = run_host(url).await?;
            wait_for_termination().await;
            host.shutdown().await;
        }
        _ => {
            eprintln!("usage: playlist [host URL]");
            std::process::exit(2);
        }
    }
    Ok(())
}
