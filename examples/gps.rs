//! The GPS from the Qt Remote Objects overview: a source that updates `position`
//! periodically, and replicas that print every position change.
//!
//! ```text
//! cargo run --example gps                  # host and replica in one process, 5 fixes
//! cargo run --example gps host URL         # only the host (prints "listening on URL")
//! cargo run --example gps replica URL [N] [--store PATH]
//!                                          # only a replica: prints N changes (default 5);
//!                                          # with a store, it starts from the last position
//!                                          # it saw in an earlier run (a persisted property)
//! ```

use std::time::Duration;

use actix_remote_objects::persist::FileStore;
use actix_remote_objects::prelude::*;
use futures::StreamExt;
use gps::ReplicaExt;

#[path = "common/logging.rs"]
mod logging;
#[path = "common/shutdown.rs"]
mod shutdown;
use shutdown::wait_for_termination;
#[path = "common/gps_api.rs"]
mod gps_api;
use gps_api::*;

async fn run_host(url: &str) -> Result<Host, actix_remote_objects::Error> {
    let host = Host::listen(url).await?;
    host.enable_remoting(GpsService::new(Duration::from_millis(100)))
        .await?;
    println!("listening on {}", host.url().unwrap_or(url));
    Ok(host)
}

async fn run_replica(
    url: &str,
    count: usize,
    store: Option<&str>,
) -> Result<(), Box<dyn std::error::Error>> {
    let mut config = NodeConfig::default();
    if let Some(path) = store {
        config = config.persisted_store(FileStore::new(path));
    }
    let node = Node::connect_with(url, config).await?;
    let replica = node.acquire::<Gps>();
    let start = replica.position();
    println!(
        "replica: starting from position {:.4}, {:.4}",
        start.latitude, start.longitude
    );
    replica.wait_for_source(Duration::from_secs(5)).await?;
    println!("replica: valid, {} fixes so far", replica.fixes());
    let mut changes = replica.property_changes();
    let mut seen = 0;
    while seen < count {
        match changes.next().await {
            Some(gps::PropertyChange::Position(p)) => {
                seen += 1;
                println!("replica: position {:.4}, {:.4}", p.latitude, p.longitude);
            }
            Some(_) => {}
            None => return Err("the replica went away".into()),
        }
    }
    let last = replica.position();
    println!(
        "replica: last position {:.4}, {:.4} after {} fixes",
        last.latitude,
        last.longitude,
        replica.fixes()
    );
    drop(replica);
    node.shutdown().await; // waits until the persisted position is saved
    Ok(())
}

#[actix::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // Warnings (an unreachable host, a corrupt store file…) go to stderr; RUST_LOG for more.
    logging::init_logging();
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
            run_replica(&url, 5, None).await?;
            host.shutdown().await;
        }
        ["host", url] => {
            let host = run_host(url).await?;
            wait_for_termination().await;
            host.shutdown().await;
        }
        ["replica", url] => run_replica(url, 5, None).await?,
        ["replica", url, n] => run_replica(url, n.parse()?, None).await?,
        ["replica", url, n, "--store", path] => run_replica(url, n.parse()?, Some(path)).await?,
        _ => {
            eprintln!("usage: gps [host URL | replica URL [N [--store PATH]]]");
            std::process::exit(2);
        }
    }
    Ok(())
}
