//! A quick loopback measurement: slot round-trip latency and the rate at which property
//! changes reach a replica, with the host in its own thread (its own actix system) and the
//! replica in this one, over TCP and a Unix socket. Prints numbers; asserts nothing.
//!
//! `cargo bench --bench loopback`

use std::time::{Duration, Instant};

use actix::prelude::*;
use actix_remote_objects::prelude::*;
use futures::StreamExt;

remote_object! {
    pub Bench {
        prop counter: i32;
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

fn start_host(url: &str) -> String {
    let (tx, rx) = std::sync::mpsc::channel();
    let url = url.to_owned();
    std::thread::spawn(move || {
        let system = System::new();
        system.block_on(async move {
            let host = Host::listen(&url).await.expect("listen");
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

async fn measure(label: &str, url: &str) {
    let node = Node::connect(url).await.expect("connect");
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

fn main() {
    let tcp = start_host("tcp://127.0.0.1:0");
    let dir = std::env::temp_dir().join(format!("aro-bench-{}.sock", std::process::id()));
    let local = start_host(&format!("local:{}", dir.display()));
    System::new().block_on(async {
        measure("tcp", &tcp).await;
        measure("local", &local).await;
    });
}
