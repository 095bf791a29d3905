//! Host and replica in separate processes: the example binaries, spawned for real, on TCP
//! and Unix sockets, and a host process killed under its replica.

mod support;

#[path = "../examples/common/printer_api.rs"]
mod printer_api;
#[path = "../examples/common/printer_service.rs"]
mod printer_service;

use actix_remote_objects::prelude::*;
use printer_api::{printer, Printer, Status};
use support::processes::{run, spawn_listening, Process};
use support::{init, wait_state, TIMEOUT};

fn spawn_host(name: &str, url: &str) -> (Process, String) {
    spawn_listening(name, &["host", url])
}

async fn drive_host_process(url: &str) {
    let (mut host, url) = spawn_host("printer", url);
    let node = Node::connect(&url).await.unwrap();
    let replica = node.acquire::<Printer>();
    replica.wait_for_source(TIMEOUT).await.unwrap();
    assert_eq!(replica.properties().ink_level, 100);
    assert_eq!(
        replica
            .call(printer::Print {
                doc: "from the test".into()
            })
            .await,
        Ok(1)
    );
    let props = replica.properties();
    assert_eq!(
        (props.ink_level, props.status),
        (
            90,
            Status::Printing {
                job: 1,
                doc: "from the test".into()
            }
        )
    );

    // Kill the host process outright: the replica notices and keeps its last values.
    host.0.kill().unwrap();
    host.0.wait().unwrap();
    wait_state(&replica, ReplicaState::Suspect).await;
    assert_eq!(replica.properties().ink_level, 90);
    assert_eq!(
        replica.call(printer::Print { doc: "late".into() }).await,
        Err(SlotError::NotConnected)
    );
}

#[actix::test]
async fn a_replica_drives_a_host_process_over_tcp_then_survives_its_death() {
    let _guard = init();
    drive_host_process("tcp://127.0.0.1:0").await;
}

#[actix::test]
async fn a_replica_drives_a_host_process_over_a_unix_socket() {
    let _guard = init();
    let (url, _dir) = support::socket_url();
    drive_host_process(&url).await;
}

#[actix::test]
async fn a_replica_process_drives_a_host_in_this_process() {
    let _guard = init();
    let host = Host::listen("tcp://127.0.0.1:0").await.unwrap();
    host.enable_remoting(printer_service::PrinterService::new(2))
        .await
        .unwrap();
    let output = run("printer", &["replica", host.url().unwrap()]).await;
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.contains("printed report.pdf as job 1"), "{stdout}");
    assert!(
        stdout.contains("poster.pdf refused: the source failed the call: out of paper"),
        "{stdout}"
    );
    assert!(stdout.contains("signal out_of_paper(tray 1)"), "{stdout}");
    host.shutdown().await;
}

#[actix::test]
async fn the_printer_demo_runs_and_exits_cleanly() {
    let _guard = init();
    let output = run("printer", &[]).await;
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}");
    assert!(stdout.trim_end().ends_with("done"), "{stdout}");
}

#[actix::test]
async fn the_playlist_demo_pages_through_a_model_and_exits_cleanly() {
    let _guard = init();
    let output = run("playlist", &[]).await;
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}");
    for line in [
        "replica: 100000 tracks, roles [\"title\", \"plays\"], none held yet",
        "replica: fetched the first screen: \"track 0\" … \"track 19\" (20 rows held)",
        "replica: shuffled; first is now Some(\"track 1\"); diffs Some(Moved { first: 0, count: 1, to: 99999 }), Some(Changed { first: 99999, count: 1, roles: [\"plays\"] })",
        "replica: the source confirmed the change of row 0",
        "replica: library of Some(1000) artists; artist 2 has 3 albums: [\"album 2.0\", \"album 2.1\", \"album 2.2\"] (6 rows held)",
    ] {
        assert!(stdout.lines().any(|l| l == line), "no {line:?} in:\n{stdout}");
    }
    assert!(stdout.trim_end().ends_with("done"), "{stdout}");
}

#[actix::test]
async fn the_metrics_example_prints_the_crates_metrics_for_prometheus() {
    let _guard = init();
    let output = run("metrics", &[]).await;
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}");
    for line in [
        "aro_calls_total{side=\"host\"} 3",
        "aro_calls_total{side=\"node\"} 3",
        "aro_call_errors_total{kind=\"source\"} 1",
        "aro_connections{side=\"host\"} 1",
        "aro_call_duration_seconds_count 3",
    ] {
        assert!(
            stdout.lines().any(|l| l == line),
            "no {line:?} in:\n{stdout}"
        );
    }
}

#[actix::test]
async fn gps_host_and_replica_processes() {
    let _guard = init();
    let (_host, url) = spawn_host("gps", "tcp://127.0.0.1:0");
    let output = run("gps", &["replica", &url, "3"]).await;
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}");
    assert_eq!(stdout.matches("replica: position").count(), 3, "{stdout}");
}

async fn kill_and_restart(url: &str) {
    let (mut host, url) = spawn_host("printer", url);
    let node = Node::connect(&url).await.unwrap();
    let replica = node.acquire::<Printer>();
    replica.wait_for_source(TIMEOUT).await.unwrap();
    assert_eq!(
        replica
            .call(printer::Print {
                doc: "before".into()
            })
            .await,
        Ok(1)
    );
    let (to, mut states) = support::collector::<StateChanged>();
    replica.subscribe_state(to);

    let killed = std::time::Instant::now();
    host.0.kill().unwrap();
    host.0.wait().unwrap();
    let (_restarted, again) = spawn_host("printer", &url);
    assert_eq!(again, url);
    assert_eq!(support::next(&mut states).await.new, ReplicaState::Suspect);
    let valid = support::next(&mut states).await;
    eprintln!(
        "{url}: host killed and restarted: Valid again after {:?}",
        killed.elapsed()
    );
    assert!(valid.is_reinit(), "{valid:?}");
    // The new process starts from scratch, and the replica shows its values.
    let props = replica.properties();
    assert_eq!((props.ink_level, props.status), (100, Status::Idle));
    assert_eq!(
        replica
            .call(printer::Print {
                doc: "after".into()
            })
            .await,
        Ok(1)
    );
}

#[actix::test]
async fn a_killed_and_restarted_host_process_over_tcp() {
    let _guard = init();
    // A fixed port is needed to restart on the same address: take a free one first.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    kill_and_restart(&format!("tcp://127.0.0.1:{port}")).await;
}

#[actix::test]
async fn a_killed_and_restarted_host_process_over_a_unix_socket() {
    let _guard = init();
    // The killed process leaves its socket file behind; the restarted one replaces it.
    let (url, _dir) = support::socket_url();
    kill_and_restart(&url).await;
}

/// The "starting from" and "last position" coordinates a gps replica run printed.
fn positions(stdout: &str) -> (String, String) {
    let after = |prefix: &str| {
        let line = stdout
            .lines()
            .find(|l| l.starts_with(prefix))
            .unwrap_or_else(|| panic!("no {prefix:?} in {stdout}"));
        line[prefix.len()..]
            .split(" after")
            .next()
            .unwrap()
            .to_owned()
    };
    (
        after("replica: starting from position "),
        after("replica: last position "),
    )
}

#[actix::test]
async fn a_second_run_of_a_replica_process_starts_from_the_first_runs_values() {
    let _guard = init();
    let (_host, url) = spawn_host("gps", "tcp://127.0.0.1:0");
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("gps.store");
    let store = store.to_str().unwrap();

    let first = run("gps", &["replica", &url, "2", "--store", store]).await;
    let first_out = String::from_utf8_lossy(&first.stdout);
    assert!(first.status.success(), "{first_out}");
    let (start, last) = positions(&first_out);
    assert_eq!(
        start, "0.0000, 0.0000",
        "nothing saved yet: the declared default"
    );

    let second = run("gps", &["replica", &url, "1", "--store", store]).await;
    let second_out = String::from_utf8_lossy(&second.stdout);
    assert!(second.status.success(), "{second_out}");
    assert_eq!(
        positions(&second_out).0,
        last,
        "the second run starts where the first ended"
    );
}

#[actix::test]
async fn a_replica_process_with_a_corrupt_store_starts_from_the_defaults() {
    let _guard = init();
    let (_host, url) = spawn_host("gps", "tcp://127.0.0.1:0");
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("gps.store");
    std::fs::write(&store, b"AROSTORE\x01\x00\x00\x00torn").unwrap();
    let output = run(
        "gps",
        &["replica", &url, "1", "--store", store.to_str().unwrap()],
    )
    .await;
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stdout}\n{stderr}");
    assert_eq!(positions(&stdout).0, "0.0000, 0.0000");
    assert!(stderr.contains("is corrupt"), "{stderr}");
    // The run replaced the torn file with good values.
    let again = run(
        "gps",
        &["replica", &url, "1", "--store", store.to_str().unwrap()],
    )
    .await;
    assert_ne!(
        positions(&String::from_utf8_lossy(&again.stdout)).0,
        "0.0000, 0.0000"
    );
}
