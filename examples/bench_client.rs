//! The replica side of the Qt Remote Objects anchor benchmark, following
//! `../shared/bench/qtro/src/client.cpp`'s command line and `RESULT` lines (every mode, every
//! key), so `../shared/bench/qtro/run.sh` runs it with `CLIENT_BIN=… HOST_BIN=… LABEL=rust`.
//!
//! ```text
//! bench_client --url URL --mode rtt|rtt_block|pipe|bump|fanout|listen|hold|init|many|reconnect [options]
//! ```
//! `rtt_block` is `rtt` here: async Rust has no nested event loop to block in; each call is
//! awaited before the next, as in `rtt`.

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

use actix_remote_objects::prelude::*;
use futures::StreamExt;
use tokio::io::AsyncBufReadExt;

#[path = "common/bench_api.rs"]
mod bench_api;
use bench::ReplicaExt;
use bench_api::{bench, now_ns, qt_dialect, rss_kib, transport_of, Args, Bench};

const INIT_TIMEOUT: Duration = Duration::from_secs(15);

type Failure = Box<dyn std::error::Error>;

fn fail(message: &str) -> ! {
    eprintln!("CLIENT error: {message}");
    std::process::exit(4);
}

/// Nearest-rank percentile of sorted samples, as `common.h`.
fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let idx = ((p / 100.0 * sorted.len() as f64) as usize).min(sorted.len() - 1);
    sorted[idx]
}

fn sort(v: &mut [f64]) {
    v.sort_by(|a, b| a.total_cmp(b));
}

async fn acquire_init(node: &Node, name: &str) -> Replica<Bench> {
    let replica = node.acquire_named::<Bench>(name);
    if let Err(error) = replica.wait_for_source(INIT_TIMEOUT).await {
        eprintln!(
            "CLIENT acquire {name}: not initialized: {error} (state {:?})",
            replica.state()
        );
        std::process::exit(3);
    }
    replica
}

async fn connect(url: &str) -> Node {
    // Paired with Qt's host: reach it in Qt's dialect.
    let url = match qt_dialect() {
        true => format!("qt+{url}"),
        false => url.to_owned(),
    };
    match Node::connect(&url).await {
        Ok(node) => node,
        Err(error) => fail(&format!("connect {url}: {error}")),
    }
}

async fn mode_rtt(url: &str, tr: &str, a: &Args, mode: &str) -> Result<i32, Failure> {
    let node = connect(url).await;
    let r = acquire_init(&node, "Bench").await;
    let (n, warm) = (a.num("--n", 20000) as i32, a.num("--warm", 2000) as i32);
    let mut lat = Vec::with_capacity(n as usize);
    let mut bad = 0;
    let mut t_measured = now_ns();
    for i in 0..warm + n {
        if i == warm {
            t_measured = now_ns();
        }
        let t0 = now_ns();
        let v = r.call(bench::Echo { v: i }).await?;
        let t1 = now_ns();
        if v != i {
            bad += 1;
        }
        if i >= warm {
            lat.push((t1 - t0) as f64 / 1e3);
        }
    }
    let secs = (now_ns() - t_measured) as f64 / 1e9;
    sort(&mut lat);
    println!(
        "RESULT mode={mode} transport={tr} n={n} warm={warm} median_us={:.1} p99_us={:.1} min_us={:.1} max_us={:.1} \
         calls_per_s={:.0} bad={bad}",
        percentile(&lat, 50.0),
        percentile(&lat, 99.0),
        lat.first().copied().unwrap_or(0.0),
        lat.last().copied().unwrap_or(0.0),
        f64::from(n) / secs
    );
    Ok(if bad > 0 { 5 } else { 0 })
}

/// Issues `n` calls back to back, then waits for all replies; returns (issued at, last reply
/// at, correct replies). The replies are awaited in order, as they arrive: a `join_all` over
/// 100 000 actix requests spends most of its time re-polling futures that tokio's cooperative
/// budget sent back (see docs/PERFORMANCE.md).
async fn pipe_burst(r: &Replica<Bench>, n: i32, base: i32) -> (i64, i64, i32) {
    let calls: Vec<_> = (0..n)
        .map(|i| r.send(bench::Echo { v: base + i }))
        .collect();
    let issued = now_ns();
    let mut ok = 0;
    for (i, call) in calls.into_iter().enumerate() {
        if matches!(call.await, Ok(Ok(v)) if v == base + i as i32) {
            ok += 1;
        }
    }
    (issued, now_ns(), ok)
}

async fn mode_pipe(url: &str, tr: &str, a: &Args) -> Result<i32, Failure> {
    let node = connect(url).await;
    let r = acquire_init(&node, "Bench").await;
    let (n, warm) = (a.num("--n", 100000) as i32, a.num("--warm", 1000) as i32);
    pipe_burst(&r, warm, 0).await;
    let t0 = now_ns();
    let (issued, end, ok) = pipe_burst(&r, n, warm).await;
    let secs = (end - t0) as f64 / 1e9;
    println!(
        "RESULT mode=pipe transport={tr} n={n} replies={ok} secs={secs:.4} issue_secs={:.4} replies_per_s={:.0}",
        (issued - t0) as f64 / 1e9,
        f64::from(ok) / secs
    );
    Ok(if ok == n { 0 } else { 5 })
}

async fn mode_bump(url: &str, tr: &str, a: &Args) -> Result<i32, Failure> {
    let node = connect(url).await;
    let r = acquire_init(&node, "Bench").await;
    let n = a.num("--n", 100000) as i32;
    let target = r.counter() + n;
    let mut changes = r.property_changes();
    let t0 = now_ns();
    for _ in 0..n {
        r.do_send(bench::Bump {});
    }
    let issued = now_ns();
    let mut seen = 0;
    let mut t_end = 0;
    while let Some(change) = changes.next().await {
        if let bench::PropertyChange::Counter(v) = change {
            seen += 1;
            if v == target {
                t_end = now_ns();
                break;
            }
        }
    }
    if t_end == 0 {
        fail("bump: the replica went away");
    }
    let secs = (t_end - t0) as f64 / 1e9;
    println!(
        "RESULT mode=bump transport={tr} n={n} notifications={seen} secs={secs:.4} issue_secs={:.4} calls_per_s={:.0}",
        (issued - t0) as f64 / 1e9,
        f64::from(n) / secs
    );
    Ok(0)
}

#[derive(Default, Clone, Copy)]
struct Count {
    count: i64,
    last: i32,
    t_first: i64,
    t_done: i64,
}

/// Counts a replica's counter changes (above `base`) or ticks until `target` arrives.
fn count_until(
    r: &Replica<Bench>,
    props: bool,
    base: i32,
    target: i32,
) -> (Rc<RefCell<Count>>, tokio::sync::oneshot::Receiver<()>) {
    let count = Rc::new(RefCell::new(Count::default()));
    let (done_tx, done_rx) = tokio::sync::oneshot::channel();
    let mut events = r.events();
    let c = Rc::clone(&count);
    actix::spawn(async move {
        let mut done_tx = Some(done_tx);
        while let Some(event) = events.next().await {
            let v = match event {
                Event::PropertyChanged(bench::PropertyChange::Counter(v)) if props && v > base => v,
                Event::Signal(bench::Signal::Tick(t)) if !props => t.n,
                _ => continue,
            };
            let mut c = c.borrow_mut();
            if c.count == 0 {
                c.t_first = now_ns();
            }
            c.count += 1;
            c.last = v;
            if v == target {
                c.t_done = now_ns();
                if let Some(tx) = done_tx.take() {
                    let _ = tx.send(());
                }
                break;
            }
        }
    });
    (count, done_rx)
}

async fn mode_fanout(url: &str, tr: &str, a: &Args) -> Result<i32, Failure> {
    let props = a.str("--what", "props") == "props";
    let (k, m, chunk) = (
        a.num("--k", 1) as usize,
        a.num("--m", 100000) as i32,
        a.num("--chunk", 1000) as i32,
    );
    let mut nodes = Vec::new();
    let mut reps = Vec::new();
    for _ in 0..k {
        let node = connect(url).await;
        reps.push(acquire_init(&node, "Bench").await);
        nodes.push(node);
    }
    let base = if props { reps[0].counter() } else { 0 };
    let target = base + m;
    let counters: Vec<_> = reps
        .iter()
        .map(|r| count_until(r, props, base, target))
        .collect();
    let t0 = now_ns();
    if props {
        reps[0].call(bench::StartCounter { m, chunk }).await?;
    } else {
        reps[0].call(bench::StartTicks { m, chunk }).await?;
    }
    let mut done = 0;
    let mut receivers = Vec::new();
    let mut counts = Vec::new();
    for (count, rx) in counters {
        counts.push(count);
        receivers.push(rx);
    }
    for rx in receivers {
        if tokio::time::timeout(Duration::from_secs(240), rx)
            .await
            .is_ok_and(|r| r.is_ok())
        {
            done += 1;
        }
    }
    if done < k {
        eprintln!("CLIENT fanout: only {done}/{k} replicas reached the final value");
    }
    let now = now_ns();
    let (mut max_secs, mut sum_rate, mut min_rate, mut sum) = (0f64, 0f64, f64::MAX, 0i64);
    let (mut min_count, mut max_count) = (i64::MAX, 0i64);
    for count in &counts {
        let c = *count.borrow();
        let s = ((if c.t_done != 0 { c.t_done } else { now }) - t0) as f64 / 1e9;
        max_secs = max_secs.max(s);
        sum_rate += c.count as f64 / s;
        min_rate = min_rate.min(c.count as f64 / s);
        sum += c.count;
        min_count = min_count.min(c.count);
        max_count = max_count.max(c.count);
    }
    println!(
        "RESULT mode=fanout what={} transport={tr} k={k} procs=1 m={m} chunk={chunk} done={done} min_seen={min_count} \
         max_seen={max_count} coalesced={} secs={max_secs:.4} per_replica_per_s={:.0} min_replica_per_s={min_rate:.0} \
         total_per_s={:.0}",
        if props { "props" } else { "ticks" },
        if min_count < i64::from(m) { "yes" } else { "no" },
        sum_rate / k as f64,
        sum as f64 / max_secs
    );
    Ok(if done == k { 0 } else { 5 })
}

/// Appends `line` to the file the harness watches to know the listeners are ready.
fn append_line(path: &str, line: &str) -> Result<(), Failure> {
    use std::io::Write;
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .open(path)?;
    writeln!(f, "{line}")?;
    Ok(())
}

/// One listener process of the multi-process fan-out: `--conns` connections (one node each,
/// default 1) that each count the updates; with `--trigger`, this process starts the workload
/// once `--k` processes have written their ready line.
async fn mode_listen(url: &str, tr: &str, a: &Args) -> Result<i32, Failure> {
    let props = a.str("--what", "props") == "props";
    let (k, m, chunk) = (
        a.num("--k", 1) as usize,
        a.num("--m", 100000) as i32,
        a.num("--chunk", 1000) as i32,
    );
    let conns = a.num("--conns", 1).max(1) as usize;
    let ready_file = a.str("--ready-file", "");
    let mut nodes = Vec::new();
    let mut listeners = Vec::new();
    for _ in 0..conns {
        let node = connect(url).await;
        let r = acquire_init(&node, "Bench").await;
        let base = if props { r.counter() } else { 0 };
        let (count, done) = count_until(&r, props, base, base + m);
        listeners.push((r, count, done));
        nodes.push(node);
    }
    append_line(&ready_file, &format!("ready {}", std::process::id()))?;
    if a.has("--trigger") {
        let deadline = now_ns() + 30_000_000_000;
        while now_ns() < deadline {
            let lines = std::fs::read_to_string(&ready_file)
                .map(|s| s.lines().count())
                .unwrap_or(0);
            if lines >= k {
                break;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        println!("TRIGGER t0_ns={}", now_ns());
        let r = &listeners[0].0;
        if props {
            r.call(bench::StartCounter { m, chunk }).await?;
        } else {
            r.call(bench::StartTicks { m, chunk }).await?;
        }
    }
    let mut all_done = true;
    for (_, count, done) in listeners {
        let ok = tokio::time::timeout(Duration::from_secs(240), done)
            .await
            .is_ok_and(|r| r.is_ok());
        all_done &= ok;
        let c = *count.borrow();
        println!(
            "LISTEN_DONE what={} transport={tr} pid={} count={} last={} t_first_ns={} t_done_ns={}",
            if props { "props" } else { "ticks" },
            std::process::id(),
            c.count,
            c.last,
            c.t_first,
            c.t_done
        );
    }
    Ok(if all_done { 0 } else { 5 })
}

/// Holds `--conns` connections (one node each) open, each with a replica of `Bench` when
/// `--acquire 1`, writes `ready PID RSS_KIB` to `--ready-file`, and waits to be killed: how
/// much a connection and a subscription cost the host (`benches/scaling.sh`).
async fn mode_hold(url: &str, a: &Args) -> Result<i32, Failure> {
    let conns = a.num("--conns", 1).max(1) as usize;
    let acquire = a.num("--acquire", 0) != 0;
    let mut held = Vec::new();
    for _ in 0..conns {
        let node = connect(url).await;
        let replica = match acquire {
            true => Some(acquire_init(&node, "Bench").await),
            false => None,
        };
        held.push((node, replica));
    }
    append_line(
        &a.str("--ready-file", ""),
        &format!("ready {} {}", std::process::id(), rss_kib(0)),
    )?;
    std::future::pending::<()>().await;
    Ok(0)
}

async fn mode_init(url: &str, tr: &str, a: &Args) -> Result<i32, Failure> {
    let blob_expect = a.num("--blob-expect", -1);
    let reps = a.num("--reps", 20);
    let gap = Duration::from_millis(a.num("--gap-ms", 100) as u64);
    let t0 = now_ns();
    let node = connect(url).await;
    let mut r = acquire_init(&node, "Bench").await;
    let cold_ms = (now_ns() - t0) as f64 / 1e6;
    let blob_len = |r: &Replica<Bench>| r.with_properties(|p| p.blob.len()) as i64;
    if blob_expect >= 0 && blob_len(&r) != blob_expect {
        fail("blob size mismatch (cold)");
    }
    let mut warm = Vec::new();
    for _ in 0..reps {
        drop(r); // the last handle: the node releases the source
        tokio::time::sleep(gap).await;
        let t1 = now_ns();
        r = acquire_init(&node, "Bench").await;
        warm.push((now_ns() - t1) as f64 / 1e6);
        if blob_expect >= 0 && blob_len(&r) != blob_expect {
            fail("blob size mismatch (warm)");
        }
    }
    sort(&mut warm);
    println!(
        "RESULT mode=init transport={tr} blob={} cold_ms={cold_ms:.3} warm_median_ms={:.3} warm_min_ms={:.3} \
         warm_max_ms={:.3} reps={reps} gap_ms={}",
        blob_len(&r),
        percentile(&warm, 50.0),
        warm.first().copied().unwrap_or(0.0),
        warm.last().copied().unwrap_or(0.0),
        gap.as_millis()
    );
    Ok(0)
}

async fn mode_many(url: &str, tr: &str, a: &Args) -> Result<i32, Failure> {
    let n = a.num("--objects", 1000) as usize;
    let host_pid = a.num("--host-pid", 0) as u32;
    let node = connect(url).await;
    let _first = acquire_init(&node, "Bench").await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    let (rss0, host_rss0) = (
        rss_kib(0),
        if host_pid != 0 { rss_kib(host_pid) } else { -1 },
    );
    let t0 = now_ns();
    let reps: Vec<Replica<Bench>> = (0..n)
        .map(|i| node.acquire_named::<Bench>(&format!("Bench_{i}")))
        .collect();
    let issued = now_ns();
    let mut inited = 0;
    for r in &reps {
        if r.wait_for_source(Duration::from_secs(120)).await.is_ok() {
            inited += 1;
        }
    }
    if inited < n {
        eprintln!("CLIENT many: only {inited}/{n} initialized");
    }
    let ms = (now_ns() - t0) as f64 / 1e6;
    let bad = reps
        .iter()
        .enumerate()
        .filter(|(i, r)| r.counter() != *i as i32)
        .count();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let (rss1, host_rss1) = (
        rss_kib(0),
        if host_pid != 0 { rss_kib(host_pid) } else { -1 },
    );
    println!(
        "RESULT mode=many transport={tr} objects={n} initialized={inited} bad={bad} acquire_all_ms={ms:.1} \
         issue_ms={:.1} client_rss_1rep_kib={rss0} client_rss_kib={rss1} client_kib_per_replica={:.1} \
         host_rss_before_kib={host_rss0} host_rss_kib={host_rss1}",
        (issued - t0) as f64 / 1e6,
        (rss1 - rss0) as f64 / n as f64
    );
    Ok(if inited == n && bad == 0 { 0 } else { 5 })
}

/// A host process this client starts, kills and restarts.
struct HostProcess {
    child: tokio::process::Child,
    ready_at: tokio::sync::watch::Receiver<i64>,
}

fn start_host(bin: &str, url: &str, counter: i32) -> Result<HostProcess, Failure> {
    let mut child = tokio::process::Command::new(bin)
        .args([
            "--url",
            url,
            "--counter",
            &counter.to_string(),
            "--lifetime-s",
            "120",
        ])
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()?;
    let stdout = child.stdout.take().ok_or("no stdout")?;
    let (tx, ready_at) = tokio::sync::watch::channel(0);
    actix::spawn(async move {
        let mut lines = tokio::io::BufReader::new(stdout).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            if line.contains("READY") {
                let _ = tx.send(now_ns());
            }
        }
    });
    Ok(HostProcess { child, ready_at })
}

async fn mode_reconnect(url: &str, tr: &str, a: &Args) -> Result<i32, Failure> {
    let bin = a.str("--host-bin", "");
    let (rounds, down_ms) = (a.num("--rounds", 5) as i32, a.num("--down-ms", 0) as u64);
    let mut host = start_host(&bin, url, 1)?;
    if tokio::time::timeout(Duration::from_secs(10), host.ready_at.wait_for(|t| *t != 0))
        .await
        .is_err()
    {
        fail("host did not start");
    }
    let node = connect(url).await;
    let r = acquire_init(&node, "Bench").await;
    if r.counter() != 1 {
        fail("unexpected initial counter");
    }
    let (mut detect, mut ready, mut valid, mut current) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let mut failures = 0;
    for g in 2..rounds + 2 {
        let mut states = r.state_changes();
        states.next().await; // the current state
        let t_kill = now_ns();
        host.child.start_kill()?;
        host.child.wait().await?;
        if down_ms > 0 {
            tokio::time::sleep(Duration::from_millis(down_ms)).await;
        }
        host = start_host(&bin, url, g)?;
        let (mut t_suspect, mut t_valid) = (0, 0);
        let wait = async {
            loop {
                if r.state() == ReplicaState::Valid
                    && r.counter() == g
                    && *host.ready_at.borrow() != 0
                {
                    return;
                }
                tokio::select! {
                    state = states.next() => match state {
                        Some(ReplicaState::Valid) if t_valid == 0 => t_valid = now_ns(),
                        Some(ReplicaState::Valid) | None => {}
                        Some(_) if t_suspect == 0 => t_suspect = now_ns(),
                        Some(_) => {}
                    },
                    _ = host.ready_at.changed() => {}
                    _ = tokio::time::sleep(Duration::from_millis(1)) => {}
                }
            }
        };
        let ok = tokio::time::timeout(Duration::from_secs(15), wait)
            .await
            .is_ok();
        let t_cur = now_ns();
        if !ok {
            failures += 1;
            continue;
        }
        let ms = |t: i64| (t - t_kill) as f64 / 1e6;
        detect.push(ms(t_suspect));
        ready.push(ms(*host.ready_at.borrow()));
        valid.push(ms(if t_valid != 0 { t_valid } else { t_cur }));
        current.push(ms(t_cur));
    }
    let _ = host.child.start_kill();
    for v in [&mut detect, &mut ready, &mut valid, &mut current] {
        sort(v);
    }
    println!(
        "RESULT mode=reconnect transport={tr} rounds={rounds} down_ms={down_ms} failures={failures} detect_ms={:.2} \
         host_ready_ms={:.2} valid_ms={:.2} current_ms={:.2} valid_min_ms={:.2} valid_max_ms={:.2}",
        percentile(&detect, 50.0),
        percentile(&ready, 50.0),
        percentile(&valid, 50.0),
        percentile(&current, 50.0),
        valid.first().copied().unwrap_or(0.0),
        valid.last().copied().unwrap_or(0.0)
    );
    Ok(if failures > 0 { 5 } else { 0 })
}

#[actix::main]
async fn main() {
    let a = Args::from_env();
    let url = a.str("--url", "tcp://127.0.0.1:46000");
    let tr = transport_of(&url);
    let mode = a.str("--mode", "rtt");
    let lifetime = Duration::from_secs(a.num("--lifetime-s", 300).max(1) as u64);
    actix::spawn(async move {
        tokio::time::sleep(lifetime).await;
        eprintln!("CLIENT lifetime exceeded");
        std::process::exit(9);
    });
    let result = match mode.as_str() {
        "rtt" | "rtt_block" => mode_rtt(&url, tr, &a, &mode).await,
        "pipe" => mode_pipe(&url, tr, &a).await,
        "bump" => mode_bump(&url, tr, &a).await,
        "fanout" => mode_fanout(&url, tr, &a).await,
        "listen" => mode_listen(&url, tr, &a).await,
        "hold" => mode_hold(&url, &a).await,
        "init" => mode_init(&url, tr, &a).await,
        "many" => mode_many(&url, tr, &a).await,
        "reconnect" => mode_reconnect(&url, tr, &a).await,
        other => {
            eprintln!("unknown mode {other}");
            std::process::exit(2);
        }
    };
    match result {
        Ok(code) => std::process::exit(code),
        Err(error) => fail(&error.to_string()),
    }
}
