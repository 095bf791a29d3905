//! Contract item 8: a replica that stops reading must not grow the host's memory without
//! bound. Property values coalesce (latest wins) and the replica converges to the final
//! value once it reads again; signals, which cannot coalesce, follow a bounded policy: past
//! `max_queued_bytes` the connection is closed and the replica re-initializes.
//!
//! Its own test binary, so the process's RSS is this test's alone.

mod support;

use actix_remote_objects::prelude::*;
use counter::ReplicaExt;
use support::counter_api::*;
use support::proxy::FaultProxy;
use support::*;

fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

const CHANGES: u64 = 1_000_000;

async fn stalled_replica(
    config: HostConfig,
) -> (
    Host,
    counter::SimpleSource,
    FaultProxy,
    Node,
    Replica<Counter>,
) {
    let (host, source, proxy, node, replica) = counter_behind_proxy(config).await;
    proxy.stall();
    (host, source, proxy, node, replica)
}

#[actix::test]
async fn a_stalled_replica_costs_bounded_memory_and_converges_and_signals_follow_the_policy() {
    let _guard = init();
    let (logs, _log_guard) = Logs::capture();

    // Properties: a million changes while the replica reads nothing.
    let (host, source, proxy, _node, replica) = stalled_replica(HostConfig::default()).await;
    let before = rss_kib();
    for v in 1..=CHANGES {
        source.set_value(v).unwrap();
        if v % 10_000 == 0 {
            // Let the writer run: it fills the socket, then the queue backs up.
            tokio::task::yield_now().await;
        }
    }
    let grown = rss_kib().saturating_sub(before);
    eprintln!("host RSS grew {grown} KiB over {CHANGES} changes to a stalled replica");
    // Every change queued would be tens of MiB (a frame and a queue entry each).
    assert!(grown < 16 * 1024, "memory grew by {grown} KiB");

    let mut changes = replica.property_changes();
    proxy.pass();
    let mut seen = 0u64;
    while replica.value() != CHANGES {
        next(&mut changes).await;
        seen += 1;
    }
    eprintln!("the replica converged to {CHANGES} after seeing {seen} of {CHANGES} values");
    assert!(seen < CHANGES, "values were coalesced");
    host.shutdown().await;

    // Signals: never dropped silently; past the limit the connection is closed instead.
    let config = HostConfig::default().max_queued_bytes(1024 * 1024);
    let (host, source, proxy, _node, replica) = stalled_replica(config).await;
    let (states, mut state_rx) = collector::<StateChanged>();
    replica.subscribe_state(states);
    let before = rss_kib();
    for n in 1..=CHANGES {
        source.emit_tick(n).unwrap();
        if n % 10_000 == 0 {
            tokio::task::yield_now().await;
        }
    }
    source.set_value(42).unwrap();
    let grown = rss_kib().saturating_sub(before);
    eprintln!("host RSS grew {grown} KiB over {CHANGES} signals to a stalled replica");
    assert!(grown < 16 * 1024, "memory grew by {grown} KiB");
    assert!(
        logs.text()
            .contains("the peer reads too slowly; closing the connection"),
        "{}",
        logs.text()
    );

    proxy.pass();
    assert_eq!(next(&mut state_rx).await.new, ReplicaState::Suspect);
    let back = next(&mut state_rx).await;
    assert!(back.is_reinit(), "{back:?}");
    assert_eq!(replica.value(), 42, "re-initialized with the current value");
    host.shutdown().await;
}
