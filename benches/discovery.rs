//! Finding sources at scale (issue 17's figures), with real hosts, nodes and registries on
//! loopback in one process:
//! - 10 000 sources on 100 hosts registered: how long registering takes, and how long a
//!   node that joins then takes to know all of them;
//! - one more source registered: how long until each of 100 watching nodes is told, and the
//!   bytes one node receives for it;
//! - a node acquiring 1 000 sources it found through the registry, and through mDNS.
//!
//! The built-in registry always; etcd too when built with `--features etcd` and the `etcd`
//! program is installed. `cargo bench --bench discovery [--features etcd]`.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix::prelude::*;
use actix_remote_objects::prelude::*;
use actix_remote_objects::{NetworkChange, ProxyFilter};
use futures::StreamExt;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

remote_object! {
    pub Counter {
        prop value: i32;
        slot bump() -> i32;
    }
}

struct CounterService(counter::SimpleSource);

impl Actor for CounterService {
    type Context = Context<Self>;
}

impl RemoteSource for CounterService {
    type Api = Counter;
    fn simple_source(&self) -> &counter::SimpleSource {
        &self.0
    }
}

impl Handler<counter::Bump> for CounterService {
    type Result = SlotResult<i32>;
    fn handle(&mut self, _: counter::Bump, _: &mut Context<Self>) -> SlotResult<i32> {
        let value = self.0.value() + 1;
        self.0
            .set_value(value)
            .map_err(|e| SlotError::source(e.to_string()))?;
        Ok(value)
    }
}

fn counter() -> CounterService {
    CounterService(counter::SimpleSource::default())
}

const HOSTS: usize = 100;
const SOURCES_PER_HOST: usize = 100;
const NODES: usize = 100;
const ACQUIRED: usize = 1_000;
const WAIT: Duration = Duration::from_secs(120);

/// A TCP relay that counts the bytes flowing from `target` to its clients.
async fn counting_relay(target: String) -> (String, Arc<AtomicU64>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("tcp://{}", listener.local_addr().unwrap());
    let counted = Arc::new(AtomicU64::new(0));
    let total = Arc::clone(&counted);
    actix::spawn(async move {
        while let Ok((client, _)) = listener.accept().await {
            let Ok(upstream) = tokio::net::TcpStream::connect(&target).await else {
                continue;
            };
            let (mut client_read, mut client_write) = client.into_split();
            let (mut up_read, mut up_write) = upstream.into_split();
            actix::spawn(async move {
                let _ = tokio::io::copy(&mut client_read, &mut up_write).await;
            });
            let total = Arc::clone(&total);
            actix::spawn(async move {
                let mut buffer = vec![0; 64 * 1024];
                while let Ok(n) = up_read.read(&mut buffer).await {
                    if n == 0 || client_write.write_all(&buffer[..n]).await.is_err() {
                        break;
                    }
                    total.fetch_add(n as u64, Ordering::Relaxed);
                }
            });
        }
    });
    (url, counted)
}

/// Waits until `node` knows `count` sources.
async fn knows(node: &Node, count: usize) {
    let mut changes = node.network_changes();
    while node.network_sources().len() < count {
        tokio::time::timeout(WAIT, changes.next())
            .await
            .expect("the node never learned every source");
    }
}

/// Runs the figures against the registry at `registry_url` (`backend` names it).
async fn measure(backend: &str, registry_url: &str) {
    println!("\n{backend}");
    // 10 000 sources on 100 hosts.
    let started = Instant::now();
    let mut hosts = Vec::new();
    for h in 0..HOSTS {
        let config = HostConfig::default().registry_url(registry_url);
        let host = Host::listen_with("tcp://127.0.0.1:0", config)
            .await
            .unwrap();
        host.wait_for_registry(WAIT).await.unwrap();
        for s in 0..SOURCES_PER_HOST {
            host.enable_remoting_as(counter(), &format!("c{h}-{s}"))
                .await
                .unwrap();
        }
        hosts.push(host);
    }
    let registering = started.elapsed();
    let total = HOSTS * SOURCES_PER_HOST;
    let joined = Instant::now();
    let late = Node::with_registry(registry_url).unwrap();
    knows(&late, total).await;
    println!(
        "  {total} sources on {HOSTS} hosts: registered in {:.2} s; a node joining knows \
         them all after {:.1} ms",
        registering.as_secs_f64(),
        joined.elapsed().as_secs_f64() * 1e3
    );

    // One more source, told to 100 nodes; one of them through a byte-counting relay.
    let mut nodes = Vec::new();
    for _ in 0..NODES - 1 {
        let node = Node::with_registry(registry_url).unwrap();
        knows(&node, total).await;
        nodes.push(node);
    }
    // The relay stands where the registry (or the etcd member) is, for one node.
    let relayable = ["tcp://", "etcd://"]
        .into_iter()
        .find_map(|scheme| Some((scheme, registry_url.strip_prefix(scheme)?)));
    let counted_bytes = if let Some((scheme, address)) = relayable {
        let (relayed, bytes) = counting_relay(address.to_owned()).await;
        let relayed = relayed.replacen("tcp://", scheme, 1);
        let node = Node::with_registry(&relayed).unwrap();
        knows(&node, total).await;
        nodes.push(node);
        Some(bytes)
    } else {
        None
    };
    let before = counted_bytes.as_ref().map(|b| b.load(Ordering::Relaxed));
    let mut streams: Vec<_> = nodes.iter().map(|n| n.network_changes()).collect();
    let registered = Instant::now();
    hosts[0]
        .enable_remoting_as(counter(), "one-more")
        .await
        .unwrap();
    let mut latencies = Vec::new();
    for stream in &mut streams {
        loop {
            let change = tokio::time::timeout(WAIT, stream.next()).await.unwrap();
            if let Some(NetworkChange::Added { name, .. }) = change {
                if name == "one-more" {
                    break;
                }
            }
        }
        latencies.push(registered.elapsed());
    }
    latencies.sort();
    let bytes = counted_bytes.map(|b| b.load(Ordering::Relaxed) - before.unwrap_or(0));
    println!(
        "  one more source: {} nodes told within {:.2} ms (median {:.2} ms){}",
        latencies.len(),
        latencies.last().unwrap().as_secs_f64() * 1e3,
        latencies[latencies.len() / 2].as_secs_f64() * 1e3,
        bytes.map_or(String::new(), |b| format!("; {b} bytes to one node"))
    );
    drop(streams);
    drop(nodes);

    // 1 000 sources acquired by a node that found them through the registry.
    let node = Node::with_registry(registry_url).unwrap();
    knows(&node, total).await;
    let started = Instant::now();
    let replicas: Vec<_> = (0..ACQUIRED)
        .map(|i| node.acquire_named::<Counter>(&format!("c{}-{}", i % HOSTS, i / HOSTS)))
        .collect();
    for replica in &replicas {
        replica.wait_for_source(WAIT).await.unwrap();
    }
    println!(
        "  a node acquiring {ACQUIRED} sources found through it: all valid after {:.1} ms",
        started.elapsed().as_secs_f64() * 1e3
    );
    for host in hosts {
        host.shutdown().await;
    }
}

/// A node acquiring 1 000 sources it found with mDNS, on loopback.
async fn measure_mdns() {
    println!("\nmDNS (loopback)");
    let port = std::net::UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let lan = format!("mdns:bench?port={port}&interface=lo");
    let mut hosts = Vec::new();
    for h in 0..10 {
        let config = HostConfig::default().registry_url(&lan);
        let host = Host::listen_with("tcp://127.0.0.1:0", config)
            .await
            .unwrap();
        for s in 0..ACQUIRED / 10 {
            host.enable_remoting_as(counter(), &format!("m{h}-{s}"))
                .await
                .unwrap();
        }
        hosts.push(host);
    }
    let started = Instant::now();
    let node = Node::with_registry(&lan).unwrap();
    let replicas: Vec<_> = (0..ACQUIRED)
        .map(|i| node.acquire_named::<Counter>(&format!("m{}-{}", i % 10, i / 10)))
        .collect();
    for replica in &replicas {
        replica.wait_for_source(WAIT).await.unwrap();
    }
    println!(
        "  a node acquiring {ACQUIRED} sources on 10 hosts it found with mDNS: all valid \
         after {:.1} ms",
        started.elapsed().as_secs_f64() * 1e3
    );
    for host in hosts {
        host.shutdown().await;
    }
}

#[cfg(feature = "etcd")]
async fn measure_etcd() {
    if std::process::Command::new("etcd")
        .arg("--version")
        .output()
        .is_err()
    {
        println!("\netcd: skipped (the etcd program is not installed)");
        return;
    }
    let free = || {
        std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port()
    };
    let (client, peer) = (free(), free());
    let data = tempfile::tempdir().unwrap();
    let mut etcd = std::process::Command::new("etcd")
        .args(["--name", "bench", "--data-dir"])
        .arg(data.path())
        .args([
            "--listen-client-urls",
            &format!("http://127.0.0.1:{client}"),
        ])
        .args([
            "--advertise-client-urls",
            &format!("http://127.0.0.1:{client}"),
        ])
        .args(["--listen-peer-urls", &format!("http://127.0.0.1:{peer}")])
        .args([
            "--initial-advertise-peer-urls",
            &format!("http://127.0.0.1:{peer}"),
        ])
        .args([
            "--initial-cluster",
            &format!("bench=http://127.0.0.1:{peer}"),
        ])
        .args(["--log-level", "error", "--logger", "zap"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    measure("etcd (one member)", &format!("etcd://127.0.0.1:{client}")).await;
    let _ = etcd.kill();
    let _ = etcd.wait();
}

/// Call round trips, and one change told to 100 replicas, with the node next to the
/// source's host and with one proxy between them.
async fn measure_proxy_hop() {
    println!("\nan extra proxy hop");
    let registry = RegistryHost::listen("tcp://127.0.0.1:0").await.unwrap();
    let far = registry.url().unwrap().to_owned();
    let config = HostConfig::default().registry_url(&far);
    let source_host = Host::listen_with("tcp://127.0.0.1:0", config)
        .await
        .unwrap();
    source_host.wait_for_registry(WAIT).await.unwrap();
    let source = counter::SimpleSource::default();
    source_host
        .enable_remoting(CounterService(source.clone()))
        .await
        .unwrap();
    let proxy_host = Host::listen("tcp://127.0.0.1:0").await.unwrap();
    let _proxy = proxy_host.proxy(&far, ProxyFilter::all()).unwrap();
    for (label, url) in [
        ("direct", source_host.url().unwrap().to_owned()),
        ("through a proxy", proxy_host.url().unwrap().to_owned()),
    ] {
        let node = Node::connect(&url).await.unwrap();
        let replica = node.acquire::<Counter>();
        replica.wait_for_source(WAIT).await.unwrap();
        let mut rtts: Vec<Duration> = Vec::new();
        for _ in 0..2_000 {
            let started = Instant::now();
            replica.call(counter::Bump {}).await.unwrap();
            rtts.push(started.elapsed());
        }
        rtts.sort();
        // One change, told to 100 replicas on 100 nodes.
        let nodes: Vec<Node> = futures::future::join_all((0..NODES).map(|_| Node::connect(&url)))
            .await
            .into_iter()
            .map(Result::unwrap)
            .collect();
        let replicas: Vec<_> = nodes.iter().map(|n| n.acquire::<Counter>()).collect();
        for replica in &replicas {
            replica.wait_for_source(WAIT).await.unwrap();
        }
        let mut streams: Vec<_> = replicas.iter().map(|r| r.property_changes()).collect();
        let changed = Instant::now();
        source.set_value(-1).unwrap();
        for stream in &mut streams {
            tokio::time::timeout(WAIT, stream.next()).await.unwrap();
        }
        println!(
            "  {label}: call round trip median {:.1} µs (p99 {:.1} µs); one change told to \
             {NODES} replicas within {:.2} ms",
            rtts[rtts.len() / 2].as_secs_f64() * 1e6,
            rtts[rtts.len() * 99 / 100].as_secs_f64() * 1e6,
            changed.elapsed().as_secs_f64() * 1e3
        );
        source.set_value(0).unwrap();
        drop(streams);
        drop(replicas);
        for node in nodes {
            node.shutdown().await;
        }
    }
}

#[actix::main]
async fn main() {
    measure_proxy_hop().await;
    let registry = RegistryHost::listen("tcp://127.0.0.1:0").await.unwrap();
    let url = registry.url().unwrap().to_owned();
    measure("built-in registry", &url).await;
    registry.shutdown().await;
    #[cfg(feature = "etcd")]
    measure_etcd().await;
    measure_mdns().await;
}
