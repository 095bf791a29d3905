//! The registry kept in etcd: real etcd members started by the test on loopback. Hosts
//! register under a lease, the first host of a name wins, nodes read and watch the prefix;
//! a member's loss changes nothing, and a host cut off loses its entries with its lease.
//! Without the `etcd` program the tests skip, saying so — except under `CI=true`.

#![cfg(feature = "etcd")]

mod support;

use std::process::{Child, Command, Stdio};

use actix_remote_objects::prelude::*;
use actix_remote_objects::{BackgroundError, NetworkChange};
use support::proxy::FaultProxy;
use support::*;

/// A free loopback TCP port (given back just before etcd binds it).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// etcd members on loopback, killed and their data removed when dropped.
struct Cluster {
    members: Vec<Option<Child>>,
    client_ports: Vec<u16>,
    _data: tempfile::TempDir,
}

impl Cluster {
    /// A cluster of `size` members, or `None` (with the reason printed) without `etcd`.
    fn start(size: usize) -> Option<Cluster> {
        if Command::new("etcd").arg("--version").output().is_err() {
            let reason = "the etcd program is not installed (apt-get install etcd-server)";
            if std::env::var("CI").as_deref() == Ok("true") {
                panic!("CI=true, and {reason}");
            }
            eprintln!("skipping: {reason}");
            return None;
        }
        let data = tempfile::tempdir().unwrap();
        let client_ports: Vec<u16> = (0..size).map(|_| free_port()).collect();
        let peer_ports: Vec<u16> = (0..size).map(|_| free_port()).collect();
        let initial: Vec<String> = peer_ports
            .iter()
            .enumerate()
            .map(|(i, port)| format!("m{i}=http://127.0.0.1:{port}"))
            .collect();
        let token = format!("aro-{:x}", fastrand::u64(..));
        let members = (0..size)
            .map(|i| {
                let client = format!("http://127.0.0.1:{}", client_ports[i]);
                let peer = format!("http://127.0.0.1:{}", peer_ports[i]);
                let child = Command::new("etcd")
                    .args(["--name", &format!("m{i}")])
                    .arg("--data-dir")
                    .arg(data.path().join(format!("m{i}")))
                    .args(["--listen-client-urls", &client])
                    .args(["--advertise-client-urls", &client])
                    .args(["--listen-peer-urls", &peer])
                    .args(["--initial-advertise-peer-urls", &peer])
                    .args(["--initial-cluster", &initial.join(",")])
                    .args(["--initial-cluster-token", &token])
                    .args(["--initial-cluster-state", "new"])
                    .args(["--log-level", "error", "--logger", "zap"])
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .spawn()
                    .unwrap();
                Some(child)
            })
            .collect();
        Some(Cluster {
            members,
            client_ports,
            _data: data,
        })
    }

    /// The registry URL naming every member (`query` appended, as `?ttl=2`).
    fn url(&self, query: &str) -> String {
        let members: Vec<String> = self
            .client_ports
            .iter()
            .map(|port| format!("127.0.0.1:{port}"))
            .collect();
        format!("etcd://{}{query}", members.join(","))
    }

    /// Kills member `i` without a word.
    fn kill(&mut self, i: usize) {
        if let Some(mut child) = self.members[i].take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for i in 0..self.members.len() {
            self.kill(i);
        }
    }
}

async fn host_on(url: &str) -> Host {
    let host = Host::listen_with("tcp://127.0.0.1:0", HostConfig::default().registry_url(url))
        .await
        .unwrap();
    host.wait_for_registry(TIMEOUT).await.unwrap();
    host
}

/// Waits until the node's view has `name` served at `url` (`None`: not served).
async fn until_served(
    node: &Node,
    changes: &mut (impl futures::Stream<Item = NetworkChange> + Unpin),
    name: &str,
    url: Option<&str>,
) {
    let served = |node: &Node| node.network_sources().get(name).map(|l| l.host_url.clone());
    while served(node).as_deref() != url {
        next(changes).await;
    }
}

#[actix::test]
async fn hosts_register_in_etcd_the_first_of_a_name_wins_and_nodes_find_them() {
    let _guard = init();
    let Some(cluster) = Cluster::start(1) else {
        return;
    };
    let url = cluster.url("");
    let node = Node::with_registry(&url).unwrap();
    node.wait_for_registry(TIMEOUT).await.unwrap();
    let mut changes = node.network_changes();

    let first = host_on(&url).await;
    first.enable_remoting(PrinterService::new()).await.unwrap();
    let printer = node.acquire::<Printer>();
    printer.wait_for_source(TIMEOUT).await.unwrap();
    assert_eq!(
        printer.call(printer::Print { doc: "a".into() }).await,
        Ok(1)
    );
    until_served(&node, &mut changes, "Printer", first.url()).await;

    // The name is taken: a second host is refused it, and serves nothing under it.
    let second = host_on(&url).await;
    let refused = second.enable_remoting(PrinterService::new()).await;
    assert!(
        refused.as_ref().is_err_and(|e| e.is_registry_conflict()),
        "{refused:?}"
    );
    // Once the first lets it go, the second may have it.
    first.disable_remoting("Printer").await.unwrap();
    until_served(&node, &mut changes, "Printer", None).await;
    second.enable_remoting(PrinterService::new()).await.unwrap();
    until_served(&node, &mut changes, "Printer", second.url()).await;

    // Shutting down revokes the lease: every key of the host goes at once.
    second.shutdown().await;
    until_served(&node, &mut changes, "Printer", None).await;
    first.shutdown().await;
}

#[actix::test]
async fn with_one_of_three_members_killed_registrations_and_lookups_go_on() {
    let _guard = init();
    let Some(mut cluster) = Cluster::start(3) else {
        return;
    };
    let url = cluster.url("?ttl=2");
    let host = host_on(&url).await;
    host.enable_remoting(PrinterService::new()).await.unwrap();
    let node = Node::with_registry(&url).unwrap();
    node.wait_for_registry(TIMEOUT).await.unwrap();
    let mut changes = node.network_changes();
    until_served(&node, &mut changes, "Printer", host.url()).await;

    cluster.kill(0);
    // A registration made now reaches the two members left, and the node hears of it.
    let other = host_on(&url).await;
    other
        .enable_remoting_as(PrinterService::new(), "Backup")
        .await
        .unwrap();
    until_served(&node, &mut changes, "Backup", other.url()).await;
    // The first host's lease lives on through the members left: its entry stays.
    let backup = node.acquire_named::<Printer>("Backup");
    backup.wait_for_source(TIMEOUT).await.unwrap();
    assert_eq!(
        node.network_sources()
            .get("Printer")
            .map(|l| l.host_url.as_str()),
        host.url()
    );
    for host in [host, other] {
        host.shutdown().await;
    }
}

#[actix::test]
async fn a_host_cut_off_from_etcd_loses_its_entries_with_its_lease_and_registers_again() {
    let _guard = init();
    let Some(cluster) = Cluster::start(1) else {
        return;
    };
    let direct = cluster.url("?ttl=2");
    let port = cluster.client_ports[0];
    let link = FaultProxy::start(&format!("tcp://127.0.0.1:{port}")).await;
    let through_link = format!("etcd://{}?ttl=2", link.url().trim_start_matches("tcp://"));
    let host = host_on(&through_link).await;
    host.enable_remoting(PrinterService::new()).await.unwrap();
    let mut errors = host.background_errors();

    let node = Node::with_registry(&direct).unwrap();
    node.wait_for_registry(TIMEOUT).await.unwrap();
    let mut changes = node.network_changes();
    until_served(&node, &mut changes, "Printer", host.url()).await;

    // Silence, as from a crashed host: the lease runs out and etcd drops the entry.
    link.stall();
    until_served(&node, &mut changes, "Printer", None).await;

    // Cut off for good, the host tells that it cannot reach etcd.
    link.cut();
    loop {
        if let BackgroundError::ConnectFailed { url, .. } = next(&mut errors).await {
            assert_eq!(
                url,
                format!("http://{}", link.url().trim_start_matches("tcp://"))
            );
            break;
        }
    }
    // Back, it opens a new session and claims its source again.
    link.pass();
    until_served(&node, &mut changes, "Printer", host.url()).await;
    host.shutdown().await;
}

/// The registry example, built with etcd like this test (cheap: the library is built so).
fn registry_example_with_etcd() -> std::path::PathBuf {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let status = Command::new(cargo)
        .args(["build", "--example", "registry", "--features", "etcd"])
        .status()
        .unwrap();
    assert!(
        status.success(),
        "cannot build the registry example with etcd"
    );
    support::processes::example("registry")
}

#[actix::test]
async fn a_killed_host_process_loses_its_entries_when_its_lease_expires() {
    let _guard = init();
    let Some(cluster) = Cluster::start(1) else {
        return;
    };
    let url = cluster.url("?ttl=2");
    let node = Node::with_registry(&url).unwrap();
    node.wait_for_registry(TIMEOUT).await.unwrap();
    let mut changes = node.network_changes();

    let program = registry_example_with_etcd();
    let (host, host_url) =
        support::processes::spawn_listening_program(&program, &["host", &url, "printer"]);
    until_served(&node, &mut changes, "Printer", Some(&host_url)).await;

    // SIGKILL: no revoke, no goodbye; only the lease running out removes the entry.
    drop(host);
    until_served(&node, &mut changes, "Printer", None).await;
}
