//! The crate's metrics in Prometheus' text format: a host and a replica in one process make
//! a few calls, and the metrics are printed — or, with `serve ADDR`, served over HTTP at
//! `http://ADDR/metrics` for a Prometheus server to scrape, until interrupted.
//!
//! ```text
//! cargo run --example metrics                      # print them once
//! cargo run --example metrics serve 127.0.0.1:9100 # and keep serving them
//! ```
//!
//! Any other `metrics` exporter (StatsD, OpenTelemetry…) is installed the same way; the
//! crate reports through the facade and never depends on one. `telemetry` in the crate's
//! docs lists every metric.

use std::time::Duration;

use actix_remote_objects::prelude::*;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[path = "common/printer_api.rs"]
mod printer_api;
use printer_api::*;
#[path = "common/printer_service.rs"]
mod printer_service;
use printer_service::PrinterService;

#[actix::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // First, before anything reports: the crate's counters go to this recorder.
    let prometheus = PrometheusBuilder::new().install_recorder()?;

    let host = Host::listen("tcp://127.0.0.1:0").await?;
    host.enable_remoting(PrinterService::new(2)).await?;
    let node = Node::connect(host.url().unwrap_or_default()).await?;
    let replica = node.acquire::<Printer>();
    replica.wait_for_source(Duration::from_secs(5)).await?;
    for doc in ["a.pdf", "b.pdf", "c.pdf"] {
        // The example's printer has paper for two jobs: the third call fails, and is
        // counted as a failed call.
        let _ = replica.call(printer::Print { doc: doc.into() }).await;
    }

    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.as_slice() {
        [serve, addr] if serve == "serve" => serve_metrics(addr, prometheus).await?,
        _ => print!("{}", prometheus.render()),
    }
    node.shutdown().await;
    host.shutdown().await;
    Ok(())
}

/// Answers every HTTP request on `addr` with the metrics, until interrupted.
async fn serve_metrics(addr: &str, prometheus: PrometheusHandle) -> std::io::Result<()> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    println!(
        "serving metrics at http://{}/metrics",
        listener.local_addr()?
    );
    loop {
        let (mut stream, _) = tokio::select! {
            accepted = listener.accept() => accepted?,
            _ = tokio::signal::ctrl_c() => return Ok(()),
        };
        // The request itself does not matter: every path gets the metrics.
        let mut request = [0u8; 1024];
        let _ = stream.read(&mut request).await?;
        let body = prometheus.render();
        let response = format!(
            "HTTP/1.1 200 OK\r\ncontent-type: text/plain; version=0.0.4\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
            body.len()
        );
        stream.write_all(response.as_bytes()).await?;
    }
}
