//! The printer from the Qt Remote Objects overview: properties `ink_level` and `status`, a
//! slot `print(doc)` that changes `status` (every replica sees it), and a signal when the
//! paper runs out.
//!
//! ```text
//! cargo run --example printer                 # host and replica in one process, narrated
//! cargo run --example printer host URL        # only the host (prints "listening on URL")
//! cargo run --example printer replica URL     # only a replica: prints three documents
//! ```
//! URL is `tcp://127.0.0.1:PORT` (port 0 picks a free one) or `local:NAME`.

use std::time::Duration;

use actix_remote_objects::prelude::*;
use futures::StreamExt;
use printer::ReplicaExt;

#[path = "common/shutdown.rs"]
mod shutdown;
use shutdown::wait_for_termination;
#[path = "common/printer_api.rs"]
mod printer_api;
use printer_api::*;

#[path = "common/printer_service.rs"]
mod printer_service;
use printer_service::PrinterService;

async fn run_host(url: &str) -> Result<Host, actix_remote_objects::Error> {
    let host = Host::listen(url).await?;
    let service = PrinterService::new(2);
    host.enable_remoting(service).await?;
    println!("listening on {}", host.url().unwrap_or(url));
    Ok(host)
}

async fn run_replica(url: &str) -> Result<(), Box<dyn std::error::Error>> {
    let node = Node::connect(url).await?;
    let replica = node.acquire::<Printer>();
    println!(
        "replica: acquired, state {:?}, ink {}% (the declared default)",
        replica.state(),
        replica.ink_level()
    );
    replica.wait_for_source(Duration::from_secs(5)).await?;
    println!(
        "replica: state {:?}, ink {}%, status {:?}",
        replica.state(),
        replica.ink_level(),
        replica.status()
    );

    let mut signals = replica.signals();
    for doc in ["report.pdf", "slides.pdf", "poster.pdf"] {
        match replica.call(printer::Print { doc: doc.into() }).await {
            Ok(job) => println!(
                "replica: printed {doc} as job {job}; status {:?}, ink {}% (already updated)",
                replica.status(),
                replica.ink_level()
            ),
            Err(error) => println!("replica: {doc} refused: {error}"),
        }
    }
    if let Some(printer::Signal::OutOfPaper(signal)) = signals.next().await {
        println!("replica: signal out_of_paper(tray {})", signal.tray);
    }
    println!("replica: final status {:?}", replica.status());
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
        ["replica", url] => run_replica(url).await?,
        _ => {
            eprintln!("usage: printer [host URL | replica URL]");
            std::process::exit(2);
        }
    }
    Ok(())
}
