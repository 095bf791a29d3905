//! A registry, two hosts with different sources, and a client that knows only the
//! registry's URL (Qt Remote Objects' registry, with dead hosts removed).
//!
//! ```text
//! cargo run --example registry                       # everything in one process, narrated
//! cargo run --example registry registry URL          # the registry ("listening on URL")
//! cargo run --example registry host REGISTRY printer # a host serving Printer, registered
//! cargo run --example registry host REGISTRY gps     # a host serving Gps, registered
//! cargo run --example registry client REGISTRY       # uses both, found through the registry
//! ```

use std::time::Duration;

use actix_remote_objects::prelude::*;
use futures::StreamExt;

#[path = "common/logging.rs"]
mod logging;
#[path = "common/shutdown.rs"]
mod shutdown;
use shutdown::wait_for_termination;
#[path = "common/gps_api.rs"]
mod gps_api;
#[path = "common/printer_api.rs"]
mod printer_api;
#[path = "common/printer_service.rs"]
mod printer_service;

use gps_api::{gps, Gps, GpsService};
use printer_api::{printer, Printer};
use printer_service::PrinterService;

const TIMEOUT: Duration = Duration::from_secs(5);

async fn run_registry(url: &str) -> Result<RegistryHost, actix_remote_objects::Error> {
    let registry = RegistryHost::listen(url).await?;
    println!("listening on {}", registry.url().unwrap_or(url));
    Ok(registry)
}

async fn run_host(registry: &str, what: &str) -> Result<Host, Box<dyn std::error::Error>> {
    let config = HostConfig::default().registry_url(registry);
    let host = Host::listen_with("tcp://127.0.0.1:0", config).await?;
    host.wait_for_registry(TIMEOUT).await?;
    match what {
        "printer" => drop(host.enable_remoting(PrinterService::new(100)).await?),
        "gps" => drop(
            host.enable_remoting(GpsService::new(Duration::from_millis(100)))
                .await?,
        ),
        other => return Err(format!("unknown source {other:?}: printer or gps").into()),
    }
    println!("listening on {}", host.url().unwrap_or("?"));
    Ok(host)
}

fn describe(node: &Node) -> String {
    let sources: Vec<String> = node
        .network_sources()
        .iter()
        .map(|(name, at)| format!("{name} at {}", at.host_url))
        .collect();
    if sources.is_empty() {
        "nothing".into()
    } else {
        sources.join(", ")
    }
}

async fn run_client(registry: &str) -> Result<(), Box<dyn std::error::Error>> {
    let node = Node::with_registry(registry)?;
    node.wait_for_registry(TIMEOUT).await?;
    let printer = node.acquire::<Printer>();
    let gps = node.acquire::<Gps>();
    printer.wait_for_source(TIMEOUT).await?;
    gps.wait_for_source(TIMEOUT).await?;
    println!("client: the network offers {}", describe(&node));
    let job = printer
        .call(printer::Print {
            doc: "found-through-the-registry.pdf".into(),
        })
        .await?;
    println!("client: printed job {job}");
    let mut positions = gps.property_changes();
    while let Some(change) = positions.next().await {
        if let gps::PropertyChange::Position(p) = change {
            println!("client: position {:.4}, {:.4}", p.latitude, p.longitude);
            break;
        }
    }
    node.shutdown().await;
    Ok(())
}

async fn demo() -> Result<(), Box<dyn std::error::Error>> {
    let registry = run_registry("tcp://127.0.0.1:0").await?;
    let url = registry.url().ok_or("the registry has no URL")?.to_owned();
    let printer_host = run_host(&url, "printer").await?;
    let gps_host = run_host(&url, "gps").await?;
    run_client(&url).await?;

    let node = Node::with_registry(&url)?;
    node.wait_for_registry(TIMEOUT).await?;
    let mut changes = node.network_changes();
    gps_host.shutdown().await;
    if let Some(change) = changes.next().await {
        println!("the registry says: {change:?}");
    }
    println!(
        "after the gps host went away, the network offers {}",
        describe(&node)
    );
    printer_host.shutdown().await;
    registry.shutdown().await;
    println!("done");
    Ok(())
}

#[actix::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    logging::init_logging();
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .as_slice()
    {
        [] => demo().await?,
        ["registry", url] => {
            let registry = run_registry(url).await?;
            wait_for_termination().await;
            registry.shutdown().await;
        }
        ["host", registry, what] => {
            let host = run_host(registry, what).await?;
            wait_for_termination().await;
            host.shutdown().await;
        }
        ["client", registry] => run_client(registry).await?,
        _ => {
            eprintln!(
                "usage: registry [registry URL | host REGISTRY printer|gps | client REGISTRY]"
            );
            std::process::exit(2);
        }
    }
    Ok(())
}
