//! Allocations per call on the host path (issue 15): a counting global allocator tells each
//! thread's allocations apart, the host runs on a thread of its own (its own actix system)
//! and a replica on this one pipelines slot calls to it over loopback TCP and a Unix
//! socket. Prints allocations and bytes per call on each side, and the rate; asserts
//! nothing.
//!
//! `cargo bench --bench allocations`; with `ARO_ALLOC_SITES=host` (or `replica`), also
//! where that side's allocations come from (a backtrace of one allocation in 64, grouped by
//! the frames of this crate, actix and tokio it went through).

use std::alloc::{GlobalAlloc, Layout, System as SystemAlloc};
use std::cell::Cell;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use actix::prelude::*;
use actix_remote_objects::prelude::*;

/// Which counters a thread's allocations go to: the replica's (0), the host's (1) or any
/// other thread's (2).
const REPLICA: usize = 0;
const HOST: usize = 1;
const OTHER: usize = 2;

thread_local! {
    static SIDE: Cell<usize> = const { Cell::new(OTHER) };
    /// Inside the sampler: its own allocations are not sampled.
    static SAMPLING: Cell<bool> = const { Cell::new(false) };
}

/// Sampled allocation sites of the host, while `SITES_ON` (counts by call path).
static SITES: std::sync::Mutex<Option<std::collections::HashMap<String, u64>>> =
    std::sync::Mutex::new(None);
static SITES_ON: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
/// The side whose allocations are sampled.
static SITES_OF: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(HOST);

static ALLOCATIONS: [AtomicU64; 3] = [const { AtomicU64::new(0) }; 3];
static BYTES: [AtomicU64; 3] = [const { AtomicU64::new(0) }; 3];

/// The system allocator, counting each allocation (and reallocation) for its thread's side.
struct Counting;

fn count(size: usize) {
    if SAMPLING.try_with(Cell::get).unwrap_or(true) {
        return; // the sampler's own
    }
    // `try_with`: a thread being torn down has no side any more.
    let side = SIDE.try_with(Cell::get).unwrap_or(OTHER);
    let n = ALLOCATIONS[side].fetch_add(1, Ordering::Relaxed);
    BYTES[side].fetch_add(size as u64, Ordering::Relaxed);
    let sampled = side == SITES_OF.load(Ordering::Relaxed);
    if sampled && n.is_multiple_of(64) && SITES_ON.load(Ordering::Relaxed) {
        sample();
    }
}

/// Records where this allocation comes from: the frames of the crates that matter.
fn sample() {
    if SAMPLING.try_with(|s| s.replace(true)).unwrap_or(true) {
        return;
    }
    let trace = std::backtrace::Backtrace::force_capture().to_string();
    let path: Vec<&str> = trace
        .lines()
        .map(str::trim)
        .filter(|l| {
            !l.starts_with("at ")
                && (l.contains("actix_remote_objects::")
                    || l.contains("actix::")
                    || l.contains("tokio::sync"))
        })
        .map(|l| l.split_once(": ").map_or(l, |(_, f)| f))
        .take(3)
        .collect();
    if let Ok(mut sites) = SITES.lock() {
        *sites
            .get_or_insert_with(Default::default)
            .entry(path.join(" < "))
            .or_default() += 1;
    }
    SAMPLING.with(|s| s.set(false));
}

/// The sampled side's most frequent allocation sites, during the measured calls.
fn print_sites() {
    let Ok(mut sites) = SITES.lock() else {
        return;
    };
    let mut sites: Vec<(String, u64)> = sites.take().unwrap_or_default().into_iter().collect();
    sites.sort_by_key(|site| std::cmp::Reverse(site.1));
    let total: u64 = sites.iter().map(|s| s.1).sum();
    println!("allocation sites (sampled, share of the side's allocations):");
    for (path, n) in sites.iter().take(16) {
        println!("  {:5.1}%  {path}", 100.0 * *n as f64 / total.max(1) as f64);
    }
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count(layout.size());
        // SAFETY: the caller's contract for `alloc` is passed on unchanged.
        unsafe { SystemAlloc.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: as above, for `dealloc`.
        unsafe { SystemAlloc.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count(new_size);
        // SAFETY: as above, for `realloc`.
        unsafe { SystemAlloc.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

fn snapshot() -> [(u64, u64); 3] {
    std::array::from_fn(|i| {
        (
            ALLOCATIONS[i].load(Ordering::Relaxed),
            BYTES[i].load(Ordering::Relaxed),
        )
    })
}

remote_object! {
    pub Bench {
        slot echo(v: i32) -> i32;
    }
}

struct BenchService(bench::SimpleSource);

impl Actor for BenchService {
    type Context = Context<Self>;
}

impl RemoteSource for BenchService {
    type Api = Bench;
    fn simple_source(&self) -> &bench::SimpleSource {
        &self.0
    }
}

impl Handler<bench::Echo> for BenchService {
    type Result = SlotResult<i32>;
    fn handle(&mut self, msg: bench::Echo, _: &mut Context<Self>) -> SlotResult<i32> {
        Ok(msg.v)
    }
}

fn start_host(url: &str) -> String {
    let (tx, rx) = std::sync::mpsc::channel();
    let url = url.to_owned();
    std::thread::spawn(move || {
        SIDE.with(|side| side.set(HOST));
        let system = System::new();
        system.block_on(async move {
            let host = Host::listen(&url).await.expect("listen");
            let source = BenchService(bench::SimpleSource::default());
            host.enable_remoting(source).await.expect("enable");
            tx.send(host.url().expect("url").to_owned())
                .expect("send url");
            std::future::pending::<()>().await;
        });
    });
    rx.recv().expect("the host thread failed")
}

/// `calls` echo calls, `window` of them in flight at a time.
async fn pipelined(replica: &Replica<Bench>, calls: i32, window: i32) -> Duration {
    let start = Instant::now();
    let mut v = 0;
    while v < calls {
        let batch = (v..(v + window).min(calls)).map(|v| replica.call(bench::Echo { v }));
        for reply in futures::future::join_all(batch).await {
            reply.expect("echo");
        }
        v += window;
    }
    start.elapsed()
}

async fn measure(label: &str, url: &str) {
    let node = Node::connect(url).await.expect("connect");
    let replica = node.acquire::<Bench>();
    replica
        .wait_for_source(Duration::from_secs(5))
        .await
        .expect("valid");
    // Warm up: buffers grown, caches filled.
    pipelined(&replica, 20_000, 1000).await;

    let calls = 100_000;
    let sites = match std::env::var("ARO_ALLOC_SITES").as_deref() {
        Ok("replica") => Some(REPLICA),
        Ok(_) => Some(HOST),
        Err(_) => None,
    };
    SITES_OF.store(sites.unwrap_or(HOST), Ordering::Relaxed);
    let sites = sites.is_some();
    SITES_ON.store(sites, Ordering::Relaxed);
    let before = snapshot();
    let elapsed = pipelined(&replica, calls, 1000).await;
    let after = snapshot();
    SITES_ON.store(false, Ordering::Relaxed);
    let per_call = |side: usize| {
        let n = f64::from(calls);
        (
            (after[side].0 - before[side].0) as f64 / n,
            (after[side].1 - before[side].1) as f64 / n,
        )
    };
    let (host, host_bytes) = per_call(HOST);
    let (replica_side, replica_bytes) = per_call(REPLICA);
    let (other, _) = per_call(OTHER);
    println!(
        "{label}: {calls} pipelined calls (1 000 in flight) at {:.0}/s; allocations per call: \
         host {host:.2} ({host_bytes:.0} B), replica {replica_side:.2} ({replica_bytes:.0} B), \
         other threads {other:.2}",
        f64::from(calls) / elapsed.as_secs_f64()
    );
    if sites {
        print_sites();
    }
    node.shutdown().await;
}

fn main() {
    SIDE.with(|side| side.set(REPLICA));
    let tcp = start_host("tcp://127.0.0.1:0");
    let dir = std::env::temp_dir().join(format!("aro-alloc-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let unix = start_host(&format!("local:{}", dir.join("bench.sock").display()));
    System::new().block_on(async move {
        measure("tcp", &tcp).await;
        measure("local", &unix).await;
    });
    let _ = std::fs::remove_dir_all(&dir);
}
