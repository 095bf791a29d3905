//! The source side of the Qt Remote Objects anchor benchmark, following
//! `../shared/bench/qtro/src/host.cpp`'s command line and output:
//!
//! ```text
//! bench_host --url tcp://127.0.0.1:PORT | local:NAME
//!            [--blob BYTES] [--counter C] [--objects N] [--lifetime-s S] [--max-connections N]
//! ```
//! Serves `Bench` and, with `--objects N`, `Bench_0 … Bench_{N-1}`; prints
//! `READY pid=… url=… objects=… rss_kib=…` once listening; exits cleanly on SIGTERM/SIGINT or
//! after `--lifetime-s` seconds.

use std::time::Duration;

use actix::prelude::*;
use actix_remote_objects::prelude::*;

#[path = "common/bench_api.rs"]
#[allow(dead_code)] // shared with bench_client
mod bench_api;
use bench_api::{bench, now_ns, qt_dialect, rss_kib, Args, Bench};

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

impl Handler<bench::Bump> for BenchService {
    type Result = SlotResult<()>;
    fn handle(&mut self, _: bench::Bump, _: &mut Context<Self>) -> SlotResult<()> {
        self.remote.set_counter(self.remote.counter() + 1)?;
        Ok(())
    }
}

/// One workload in progress: `step(i)` for i in `next..=m`, `chunk` per event-loop turn.
struct Drive {
    what: &'static str,
    next: i32,
    m: i32,
    chunk: i32,
    base: i32,
    t0: i64,
}

impl BenchService {
    fn step(&self, drive: &Drive, i: i32) {
        let result = match drive.what {
            "props" => self.remote.set_counter(drive.base + i).map(|_| ()),
            _ => self.remote.emit_tick(i),
        };
        if let Err(error) = result {
            eprintln!("HOST step failed: {error}");
        }
    }

    fn run(&mut self, mut drive: Drive, ctx: &mut Context<Self>) {
        let end = if drive.chunk <= 0 {
            drive.m
        } else {
            drive.m.min(drive.next + drive.chunk - 1)
        };
        while drive.next <= end {
            self.step(&drive, drive.next);
            drive.next += 1;
        }
        if drive.next > drive.m {
            let secs = (now_ns() - drive.t0) as f64 / 1e9;
            println!(
                "HOST emitted what={} m={} chunk={} secs={secs:.4} per_s={:.0}",
                drive.what,
                drive.m,
                drive.chunk,
                f64::from(drive.m) / secs
            );
            return;
        }
        // One turn of the event loop, like Qt's zero-interval timer: let the writers run.
        ctx.spawn(
            tokio::task::yield_now()
                .into_actor(self)
                .map(move |(), act, ctx| act.run(drive, ctx)),
        );
    }
}

impl Handler<bench::StartCounter> for BenchService {
    type Result = SlotResult<()>;
    fn handle(&mut self, msg: bench::StartCounter, ctx: &mut Context<Self>) -> SlotResult<()> {
        let drive = Drive {
            what: "props",
            next: 1,
            m: msg.m,
            chunk: msg.chunk,
            base: self.remote.counter(),
            t0: now_ns(),
        };
        self.run(drive, ctx);
        Ok(())
    }
}

impl Handler<bench::StartTicks> for BenchService {
    type Result = SlotResult<()>;
    fn handle(&mut self, msg: bench::StartTicks, ctx: &mut Context<Self>) -> SlotResult<()> {
        let drive = Drive {
            what: "ticks",
            next: 1,
            m: msg.m,
            chunk: msg.chunk,
            base: 0,
            t0: now_ns(),
        };
        self.run(drive, ctx);
        Ok(())
    }
}

fn service(counter: i32, blob: usize) -> Result<BenchService, actix_remote_objects::Error> {
    let remote = bench::SimpleSource::default();
    remote.set_counter(counter)?;
    if blob > 0 {
        remote.set_blob(SharedBytes::from(vec![b'x'; blob]))?;
    }
    Ok(BenchService { remote })
}

async fn terminated(lifetime: Duration) {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
    let term = async {
        match term.as_mut() {
            Some(t) => {
                t.recv().await;
            }
            None => std::future::pending().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term => {}
        _ = tokio::time::sleep(lifetime) => {}
    }
}

#[actix::main]
async fn main() {
    let args = Args::from_env();
    let url = args.str("--url", "tcp://127.0.0.1:46000");
    let objects = args.num("--objects", 0).max(0) as usize;
    let blob = args.num("--blob", 0).max(0) as usize;
    let counter = args.num("--counter", 0) as i32;
    let lifetime = Duration::from_secs(args.num("--lifetime-s", 600).max(1) as u64);
    let mut config = HostConfig::default();
    if args.has("--max-connections") {
        config = config.max_connections(args.num("--max-connections", 1024).max(1) as usize);
    }

    let listening = match qt_dialect() {
        // Qt's programs connect here: serve them in Qt's dialect on that URL.
        true => {
            let host = Host::new(config);
            host.listen_qt(&url).await.map(|_| host)
        }
        false => Host::listen_with(&url, config).await,
    };
    let host = match listening {
        Ok(host) => host,
        Err(error) => {
            eprintln!("HOST listen({url}) failed: {error}");
            std::process::exit(1);
        }
    };
    let enable = async {
        host.enable_remoting(service(counter, blob)?).await?;
        for i in 0..objects {
            host.enable_remoting_as(service(i as i32, 0)?, &format!("Bench_{i}"))
                .await?;
        }
        Ok::<_, actix_remote_objects::Error>(())
    };
    if let Err(error) = enable.await {
        eprintln!("HOST enableRemoting failed: {error}");
        std::process::exit(1);
    }
    println!(
        "READY pid={} url={} objects={} rss_kib={}",
        std::process::id(),
        url,
        1 + objects,
        rss_kib(0)
    );
    terminated(lifetime).await;
    host.shutdown().await;
    println!("HOST exit rss_kib={}", rss_kib(0));
}
