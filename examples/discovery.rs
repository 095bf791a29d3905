//! Zero-config discovery on a LAN: a host announces its Printer with mDNS/DNS-SD, and a
//! node that was given no address at all finds it, prints on it, and is told when it goes.
//!
//! ```text
//! cargo run --example discovery                  # host and node in one process, on loopback
//! cargo run --example discovery host [MDNS_URL]  # a host on every address, announced
//! cargo run --example discovery node [MDNS_URL]  # finds a Printer, prints, follows the LAN
//! ```
//!
//! `MDNS_URL` is `mdns:` (the default) or `mdns:NAME?port=N&interface=IF` to keep a fleet,
//! or a test, to itself.

use std::time::Duration;

use actix_remote_objects::prelude::*;
use actix_remote_objects::NetworkChange;
use futures::StreamExt;

#[path = "common/logging.rs"]
mod logging;
#[path = "common/shutdown.rs"]
mod shutdown;
use shutdown::wait_for_termination;
#[path = "common/printer_api.rs"]
mod printer_api;
#[path = "common/printer_service.rs"]
mod printer_service;

use printer_api::{printer, Printer};
use printer_service::PrinterService;

const TIMEOUT: Duration = Duration::from_secs(10);

/// A host announced on `lan`, listening on `listen`.
async fn run_host(lan: &str, listen: &str) -> Result<Host, Box<dyn std::error::Error>> {
    let host = Host::listen_with(listen, HostConfig::default().registry_url(lan)).await?;
    host.enable_remoting(PrinterService::new(100)).await?;
    println!("listening on {}", host.url().unwrap_or("?"));
    Ok(host)
}

/// A node that knows only `lan`: finds the Printer, prints, then reports every change of
/// the LAN until it is stopped.
async fn run_node(lan: &str) -> Result<(), Box<dyn std::error::Error>> {
    let node = Node::with_registry(lan)?;
    let mut changes = node.network_changes();
    let printer = node.acquire::<Printer>();
    printer.wait_for_source(TIMEOUT).await?;
    let at = node
        .network_sources()
        .get("Printer")
        .map(|l| l.host_url.clone())
        .unwrap_or_default();
    println!("found Printer at {at}");
    let job = printer
        .call(printer::Print {
            doc: "found-on-the-lan.pdf".into(),
        })
        .await?;
    println!("printed job {job}");
    while let Some(change) = changes.next().await {
        match change {
            NetworkChange::Added { name, location } => {
                println!("added {name} at {}", location.host_url)
            }
            NetworkChange::Removed { name, location } => {
                println!("removed {name} at {}", location.host_url)
            }
            NetworkChange::Lagged(lost) => println!("missed {lost} changes"),
            other => println!("{other:?}"),
        }
    }
    node.shutdown().await;
    Ok(())
}

async fn demo() -> Result<(), Box<dyn std::error::Error>> {
    // Loopback only, so the demo neither needs nor disturbs a LAN.
    let lan = "mdns:aro-demo?interface=lo";
    let host = run_host(lan, "tcp://127.0.0.1:0").await?;

    let node = Node::with_registry(lan)?;
    let mut changes = node.network_changes();
    let printer = node.acquire::<Printer>();
    printer.wait_for_source(TIMEOUT).await?;
    let job = printer
        .call(printer::Print {
            doc: "found-on-the-lan.pdf".into(),
        })
        .await?;
    println!("the node knew no URL, found the Printer on the LAN, and printed job {job}");

    // Shutting down says goodbye: the node is told at once.
    host.shutdown().await;
    while let Some(change) = changes.next().await {
        println!("the LAN says: {change:?}");
        if matches!(change, NetworkChange::Removed { .. }) {
            break;
        }
    }
    node.shutdown().await;
    println!("done");
    Ok(())
}

#[actix::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    logging::init_logging();
    let args: Vec<String> = std::env::args().skip(1).collect();
    let lan = |i: usize| args.get(i).map(String::as_str).unwrap_or("mdns:");
    match args.first().map(String::as_str) {
        None => demo().await?,
        Some("host") => {
            let host = run_host(lan(1), "tcp://0.0.0.0:0").await?;
            wait_for_termination().await;
            host.shutdown().await;
        }
        Some("node") => run_node(lan(1)).await?,
        Some(other) => return Err(format!("unknown mode {other:?}: host or node").into()),
    }
    Ok(())
}
