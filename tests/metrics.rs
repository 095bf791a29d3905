//! What the crate reports through the `metrics` facade, read back with metrics-util's
//! debugging recorder. One test, in order: the recorder is process-wide and hands out
//! deltas, so scenarios running side by side would see each other's counts.

mod support;

use std::collections::HashMap;

use actix_remote_objects::prelude::*;
use metrics_util::debugging::{DebugValue, DebuggingRecorder, Snapshotter};
use support::counter_api::*;
use support::raw::RawClient;
use support::*;

/// A metric's name and its labels (`key=value`, sorted).
type Name = (String, Vec<String>);

/// What was reported since the last look: counters' increments, gauges' last values,
/// histograms' samples.
struct Reported(HashMap<Name, DebugValue>);

impl Reported {
    fn counter(&self, name: &str, labels: &[&str]) -> u64 {
        match self.0.get(&key(name, labels)) {
            Some(DebugValue::Counter(n)) => *n,
            None => 0,
            Some(other) => panic!("{name} is not a counter: {other:?}"),
        }
    }

    /// A gauge's last value since the last look (the recorder resets it to 0 on each).
    fn gauge(&self, name: &str, labels: &[&str]) -> f64 {
        match self.0.get(&key(name, labels)) {
            Some(DebugValue::Gauge(value)) => value.into_inner(),
            None => panic!("no gauge {name} {labels:?}"),
            Some(other) => panic!("{name} is not a gauge: {other:?}"),
        }
    }

    fn samples(&self, name: &str) -> usize {
        match self.0.get(&key(name, &[])) {
            Some(DebugValue::Histogram(values)) => values.len(),
            None => 0,
            Some(other) => panic!("{name} is not a histogram: {other:?}"),
        }
    }
}

fn key(name: &str, labels: &[&str]) -> Name {
    let mut labels: Vec<String> = labels.iter().map(|l| l.to_string()).collect();
    labels.sort();
    (name.to_owned(), labels)
}

fn look(snapshotter: &Snapshotter) -> Reported {
    let reported = snapshotter
        .snapshot()
        .into_vec()
        .into_iter()
        .map(|(composite, _, _, value)| {
            let key = composite.key();
            let mut labels: Vec<String> = key
                .labels()
                .map(|l| format!("{}={}", l.key(), l.value()))
                .collect();
            labels.sort();
            ((key.name().to_owned(), labels), value)
        })
        .collect();
    Reported(reported)
}

#[actix::test]
async fn connections_calls_errors_and_slow_peers_are_counted() {
    let _guard = init();
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    recorder
        .install()
        .expect("the only recorder of this test binary");

    // A connection each side, and a call each side.
    let host = Host::listen("tcp://127.0.0.1:0").await.unwrap();
    host.enable_remoting(PrinterService::new()).await.unwrap();
    let node = Node::connect(host.url().unwrap()).await.unwrap();
    let replica = node.acquire::<Printer>();
    replica.wait_for_source(TIMEOUT).await.unwrap();
    assert_eq!(
        replica.call(printer::Print { doc: "a".into() }).await,
        Ok(1)
    );
    let failed = replica
        .call(printer::Fail {
            reason: "no".into(),
        })
        .await;
    assert!(failed.is_err());
    let seen = look(&snapshotter);
    assert_eq!(
        seen.counter("aro_connections_opened_total", &["side=host"]),
        1
    );
    assert_eq!(
        seen.counter("aro_connections_opened_total", &["side=node"]),
        1
    );
    assert_eq!(seen.counter("aro_calls_total", &["side=host"]), 2);
    assert_eq!(seen.counter("aro_calls_total", &["side=node"]), 2);
    assert_eq!(seen.samples("aro_call_duration_seconds"), 2);
    assert_eq!(seen.counter("aro_call_errors_total", &["kind=source"]), 1);
    assert!(seen.samples("aro_write_batch_bytes") > 0);
    assert_eq!(seen.gauge("aro_subscribers", &["source=Printer"]), 1.0);

    // Subscribers per source, up with a second replica and down when it goes.
    let second = Node::connect(host.url().unwrap()).await.unwrap();
    second
        .acquire::<Printer>()
        .wait_for_source(TIMEOUT)
        .await
        .unwrap();
    assert_eq!(
        look(&snapshotter).gauge("aro_subscribers", &["source=Printer"]),
        2.0
    );
    second.shutdown().await;
    let mut connections = host.connection_counts();
    while next(&mut connections).await != 1 {}
    assert_eq!(
        look(&snapshotter).gauge("aro_subscribers", &["source=Printer"]),
        1.0
    );

    // A peer that does not speak the protocol is refused; a node's shutdown closes both ends.
    let mut garbage = RawClient::connect(host.url().unwrap()).await;
    garbage.send_raw(b"GET / HTTP/1.1\r\n\r\n").await;
    garbage.until_closed().await;
    node.shutdown().await;
    let mut closes = host.connection_counts();
    while next(&mut closes).await != 0 {}
    let seen = look(&snapshotter);
    assert_eq!(
        seen.counter("aro_connections_refused_total", &["reason=protocol_error"]),
        1
    );
    assert_eq!(
        seen.counter(
            "aro_connections_closed_total",
            &["side=node", "reason=shutdown"]
        ),
        1
    );
    assert_eq!(
        seen.counter(
            "aro_connections_closed_total",
            &["side=host", "reason=node_closed"]
        ),
        1
    );
    host.shutdown().await;

    // A connection cut under a replica is a reconnect.
    let config = HostConfig::default().max_queued_bytes(256 * 1024);
    let (host, source, proxy, node, replica) = counter_behind_proxy(config).await;
    let mut states = replica.state_changes();
    proxy.sever();
    while next(&mut states).await != ReplicaState::Suspect {}
    while next(&mut states).await != ReplicaState::Valid {}
    assert_eq!(look(&snapshotter).counter("aro_reconnects_total", &[]), 1);

    // A replica that stops reading: values coalesce, then signals overflow its queue.
    proxy.stall();
    let (mut n, mut coalesced) = (0, 0);
    loop {
        for _ in 0..1_000 {
            n += 1;
            source.set_value(n).unwrap();
            source.emit_tick(n).unwrap();
        }
        tokio::task::yield_now().await;
        let seen = look(&snapshotter);
        coalesced += seen.counter("aro_values_coalesced_total", &[]);
        if seen.counter("aro_slow_peers_dropped_total", &[]) == 1 {
            break;
        }
    }
    assert!(
        coalesced > 0,
        "values were coalesced before the queue overflowed"
    );
    host.shutdown().await;
    let _ = node;
}
