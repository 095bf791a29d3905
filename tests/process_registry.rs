//! The registry across processes: a registry, two hosts with different sources, and a client
//! that knows only the registry's URL; then one host is killed, then the registry is killed
//! and restarted.

mod support;

#[path = "../examples/common/gps_api.rs"]
#[allow(dead_code)] // the service half is for the example binaries
mod gps_api;
#[path = "../examples/common/printer_api.rs"]
mod printer_api;

use std::collections::BTreeMap;
use std::time::Instant;

use actix_remote_objects::prelude::*;
use actix_remote_objects::SourceLocation;
use gps_api::Gps;
use printer_api::{printer, Printer};
use support::processes::{run, spawn_listening};
use support::{init, next, wait_state, TIMEOUT};

fn free_tcp_url() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    format!("tcp://{}", listener.local_addr().unwrap())
}

async fn registry_until(node: &Node, check: impl Fn(&BTreeMap<String, SourceLocation>) -> bool) {
    let mut changes = node.network_changes();
    while !check(&node.network_sources()) {
        next(&mut changes).await;
    }
}

#[actix::test]
async fn a_client_that_knows_only_the_registry_survives_a_host_death_and_a_registry_restart() {
    let _guard = init();
    let registry_url = free_tcp_url();
    let (mut registry, url) = spawn_listening("registry", &["registry", &registry_url]);
    assert_eq!(url, registry_url);
    let (_printer_host, printer_url) =
        spawn_listening("registry", &["host", &registry_url, "printer"]);
    let (mut gps_host, gps_url) = spawn_listening("registry", &["host", &registry_url, "gps"]);

    let node = Node::with_registry(&registry_url).unwrap();
    let printer = node.acquire::<Printer>();
    let gps = node.acquire::<Gps>();
    printer.wait_for_source(TIMEOUT).await.unwrap();
    gps.wait_for_source(TIMEOUT).await.unwrap();
    let sources = node.network_sources();
    assert_eq!(
        (
            sources["Printer"].host_url.as_str(),
            sources["Gps"].host_url.as_str()
        ),
        (&*printer_url, &*gps_url)
    );
    assert_eq!(
        printer.call(printer::Print { doc: "one".into() }).await,
        Ok(1)
    );

    // A host dies: the registry drops its entry and tells the node; the rest keeps working.
    gps_host.0.kill().unwrap();
    gps_host.0.wait().unwrap();
    registry_until(&node, |s| !s.contains_key("Gps")).await;
    wait_state(&gps, ReplicaState::Suspect).await;
    assert_eq!(
        printer.call(printer::Print { doc: "two".into() }).await,
        Ok(2)
    );

    // The registry dies and comes back on its URL: the printer host registers again, the
    // node re-acquires the registry, and the printer replica worked throughout.
    registry.0.kill().unwrap();
    registry.0.wait().unwrap();
    wait_state(node.registry().unwrap(), ReplicaState::Suspect).await;
    assert_eq!(
        printer
            .call(printer::Print {
                doc: "three".into()
            })
            .await,
        Ok(3)
    );
    let (_registry_again, _) = spawn_listening("registry", &["registry", &registry_url]);
    wait_state(node.registry().unwrap(), ReplicaState::Valid).await;
    registry_until(&node, |s| {
        s.contains_key("Printer") && !s.contains_key("Gps")
    })
    .await;
    assert_eq!(
        printer.call(printer::Print { doc: "four".into() }).await,
        Ok(4)
    );
    node.shutdown().await;
}

#[actix::test]
async fn a_host_process_started_after_the_client_is_found_through_the_registry() {
    let _guard = init();
    let (_registry, registry_url) = spawn_listening("registry", &["registry", "tcp://127.0.0.1:0"]);
    let node = Node::with_registry(&registry_url).unwrap();
    node.wait_for_registry(TIMEOUT).await.unwrap();
    let gps = node.acquire::<Gps>();

    let started = Instant::now();
    let (_host, _) = spawn_listening("registry", &["host", &registry_url, "gps"]);
    gps.wait_for_source(TIMEOUT).await.unwrap();
    eprintln!(
        "host process started -> remote replica Valid through the registry: {:?}",
        started.elapsed()
    );
    node.shutdown().await;
}

#[actix::test]
async fn the_registry_example_client_and_demo_run_as_processes() {
    let _guard = init();
    let (_registry, registry_url) = spawn_listening("registry", &["registry", "tcp://127.0.0.1:0"]);
    let (_printer, _) = spawn_listening("registry", &["host", &registry_url, "printer"]);
    let (_gps, _) = spawn_listening("registry", &["host", &registry_url, "gps"]);
    let output = run("registry", &["client", &registry_url]).await;
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.contains("client: printed job 1"), "{stdout}");
    assert!(stdout.contains("client: position"), "{stdout}");

    let demo = run("registry", &[]).await;
    let stdout = String::from_utf8_lossy(&demo.stdout);
    assert!(demo.status.success(), "{stdout}");
    assert!(
        stdout.contains("after the gps host went away, the network offers Printer at"),
        "{stdout}"
    );
    assert!(stdout.trim_end().ends_with("done"), "{stdout}");
}
