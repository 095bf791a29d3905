//! A quick loopback measurement: slot round-trip latency and the rate at which property
//! changes reach a replica, with the host in its own thread (its own actix system) and the
//! replica in this one, over TCP, a Unix socket and TLS. Prints numbers; asserts nothing.
//!
//! `cargo bench --bench loopback`

use std::time::{Duration, Instant};

use actix::prelude::*;
use actix_remote_objects::prelude::*;
use futures::StreamExt;

remote_object! {
    pub Bench {
        prop counter: i32;
        prop level: i32, read_write;
        prop guarded: i32, read_write, checked;
        slot echo(v: i32) -> i32;
        slot start_counter(m: i32, chunk: i32);
    }
}

struct BenchService {
    remote: bench::SimpleSource,
}

impl Actor for BenchService {
    type Context = Context<Self>;
}

impl RemoteSource for BenchService {
    type Api = Bench;
    fn simple_source(&self) -> &bench::SimpleSource {
        &self.remote
    }
}

impl Handler<bench::Echo> for BenchService {
    type Result = SlotResult<i32>;
    fn handle(&mut self, msg: bench::Echo, _: &mut Context<Self>) -> SlotResult<i32> {
        Ok(msg.v)
    }
}

impl Handler<bench::SetGuarded> for BenchService {
    type Result = SlotResult<i32>;
    fn handle(&mut self, write: bench::SetGuarded, _: &mut Context<Self>) -> SlotResult<i32> {
        Ok(write.value)
    }
}

/// Sets `counter` to base+1 … base+m, `chunk` values per turn of the event loop.
#[derive(Message)]
#[rtype(result = "()")]
struct Continue {
    next: i32,
    last: i32,
    chunk: i32,
}

impl Handler<bench::StartCounter> for BenchService {
    type Result = SlotResult<()>;
    fn handle(&mut self, msg: bench::StartCounter, ctx: &mut Context<Self>) -> SlotResult<()> {
        let base = self.remote.counter();
        ctx.notify(Continue {
            next: base + 1,
            last: base + msg.m,
            chunk: msg.chunk,
        });
        Ok(())
    }
}

impl Handler<Continue> for BenchService {
    type Result = ();
    fn handle(&mut self, msg: Continue, ctx: &mut Context<Self>) {
        let end = (msg.next + msg.chunk - 1).min(msg.last);
        for v in msg.next..=end {
            let _ = self.remote.set_counter(v);
        }
        if end < msg.last {
            ctx.notify(Continue {
                next: end + 1,
                ..msg
            });
        }
    }
}

fn start_host(url: &str, config: HostConfig) -> String {
    let (tx, rx) = std::sync::mpsc::channel();
    let url = url.to_owned();
    std::thread::spawn(move || {
        let system = System::new();
        system.block_on(async move {
            let host = Host::listen_with(&url, config).await.expect("listen");
            host.enable_remoting(BenchService {
                remote: Default::default(),
            })
            .await
            .expect("enable");
            tx.send(host.url().expect("url").to_owned())
                .expect("send url");
            std::future::pending::<()>().await;
        });
    });
    rx.recv().expect("the host thread failed")
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() - 1) as f64 * p) as usize]
}

async fn measure(label: &str, url: &str, config: NodeConfig) {
    let node = Node::connect_with(url, config).await.expect("connect");
    let replica = node.acquire::<Bench>();
    replica
        .wait_for_source(Duration::from_secs(5))
        .await
        .expect("valid");

    for v in 0..2_000 {
        replica.call(bench::Echo { v }).await.expect("warm-up");
    }
    let mut samples = Vec::with_capacity(20_000);
    for v in 0..20_000 {
        let start = Instant::now();
        replica.call(bench::Echo { v }).await.expect("echo");
        samples.push(start.elapsed());
    }
    samples.sort();
    println!(
        "{label}: slot round trip median {:.1} us, p99 {:.1} us",
        percentile(&samples, 0.5).as_secs_f64() * 1e6,
        percentile(&samples, 0.99).as_secs_f64() * 1e6
    );

    measure_writes(label, &replica).await;

    let n = 100_000;
    let mut changes = replica.property_changes();
    let start = Instant::now();
    replica
        .call(bench::StartCounter { m: n, chunk: 1000 })
        .await
        .expect("start");
    let mut seen = 0u32;
    while let Some(bench::PropertyChange::Counter(v)) = changes.next().await {
        seen += 1;
        if v == n {
            break;
        }
    }
    let elapsed = start.elapsed();
    println!(
        "{label}: property changes {:.0} /s ({seen} of {n} values seen, {:.1} ms)",
        f64::from(n) / elapsed.as_secs_f64(),
        elapsed.as_secs_f64() * 1e3
    );
}

/// Property writes: fire-and-forget as before the write path went through the source (the
/// rate until the last value shows), then awaited, applied by the host and decided by the
/// source actor (`checked`).
async fn measure_writes(label: &str, replica: &Replica<Bench>) {
    use bench::ReplicaExt;
    let n = 20_000;
    let mut changes = replica.property_changes();
    let start = Instant::now();
    for v in 1..=n {
        replica.set_property(1, &v).expect("write");
    }
    while replica.level() != n {
        changes.next().await;
    }
    let forget = start.elapsed();
    let start = Instant::now();
    for v in 1..=n {
        replica.set_level(n + v).await.expect("write");
    }
    let awaited = start.elapsed();
    let start = Instant::now();
    for v in 1..=n {
        replica.set_guarded(v).await.expect("write");
    }
    let checked = start.elapsed();
    let rate = |d: Duration| f64::from(n) / d.as_secs_f64();
    println!(
        "{label}: writes/s fire-and-forget {:.0}, awaited {:.0}, awaited through the source actor {:.0}",
        rate(forget),
        rate(awaited),
        rate(checked)
    );
}

/// A CA and a host certificate for 127.0.0.1, made now: (host config, node config).
fn tls_configs() -> (HostConfig, NodeConfig) {
    use actix_remote_objects::security::{TlsClient, TlsServer};
    use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};
    let mut ca = CertificateParams::new(Vec::<String>::new()).expect("ca params");
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = CertifiedIssuer::self_signed(ca, KeyPair::generate().expect("key")).expect("ca");
    let key = KeyPair::generate().expect("key");
    let cert = CertificateParams::new(vec!["127.0.0.1".to_owned()])
        .expect("params")
        .signed_by(&key, &ca)
        .expect("cert");
    let server = TlsServer::new(cert.pem().as_bytes(), key.serialize_pem().as_bytes());
    let client = TlsClient::new(ca.pem().as_bytes()).expect("client");
    (
        HostConfig::default().tls(server.expect("server")),
        NodeConfig::default().tls(client),
    )
}

fn main() {
    let tcp = start_host("tcp://127.0.0.1:0", HostConfig::default());
    let dir = std::env::temp_dir().join(format!("aro-bench-{}.sock", std::process::id()));
    let local = start_host(&format!("local:{}", dir.display()), HostConfig::default());
    let (host_tls, node_tls) = tls_configs();
    let tls = start_host("tls://127.0.0.1:0", host_tls);
    System::new().block_on(async {
        measure("tcp", &tcp, NodeConfig::default()).await;
        measure("local", &local, NodeConfig::default()).await;
        measure("tls", &tls, node_tls).await;
    });
}
