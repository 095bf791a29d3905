//! What the crate reports through the [`metrics`] facade, named in one place. Nothing is
//! recorded until the program installs a recorder (a Prometheus exporter, say); until then
//! each report is a few instructions.
//!
//! | metric | kind | labels | what |
//! |---|---|---|---|
//! | `aro_connections_opened_total` | counter | `side` | connections admitted (host) or established (node) |
//! | `aro_connections` | gauge | `side` | connections open now |
//! | `aro_connections_closed_total` | counter | `side`, `reason` | connections closed, by why |
//! | `aro_connections_refused_total` | counter | `reason` | connections a host refused (limits, handshake, authentication, policy) |
//! | `aro_reconnects_total` | counter | | a node's connections re-established after a loss |
//! | `aro_calls_total` | counter | `side` | slot calls a host ran or a replica made |
//! | `aro_call_duration_seconds` | histogram | | a replica's slot call, from the call to the reply |
//! | `aro_call_errors_total` | counter | `kind` | failed replica calls, by [`crate::SlotError`] kind |
//! | `aro_values_coalesced_total` | counter | | property values replaced in a slow peer's queue by newer ones |
//! | `aro_slow_peers_dropped_total` | counter | | connections closed for reading too slowly |
//! | `aro_model_resets_total` | counter | | model replicas sent a reset instead of the diffs they fell behind on |
//! | `aro_write_batch_bytes` | histogram | | the bytes queued for a connection when its writer takes them: one sample per socket write |
//! | `aro_qt_translations_shared_total` | counter | | frames a Qt connection sent as another Qt connection of the host translated the same fanned-out change or signal |
//! | `aro_subscribers` | gauge | `source` | replica connections subscribed to a source, as of its last subscribe or release |
//!
//! `side` is `host` or `node`. Labels never carry what a peer chose (addresses, names it
//! sent); `source` is a name the host serves. [`crate::Host::subscriber_counts`] is the
//! same count as a stream, told at every change.

use metrics::{counter, gauge, histogram};

/// Which end of a connection reports.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Side {
    Host,
    Node,
}

impl Side {
    fn label(self) -> &'static str {
        match self {
            Side::Host => "host",
            Side::Node => "node",
        }
    }
}

pub(crate) fn connection_opened(side: Side) {
    counter!("aro_connections_opened_total", "side" => side.label()).increment(1);
    gauge!("aro_connections", "side" => side.label()).increment(1.0);
}

/// A connection counted by [`connection_opened`] closed, for `reason` (a short, fixed word:
/// metrics labels must not carry unbounded text).
pub(crate) fn connection_closed(side: Side, reason: &'static str) {
    counter!("aro_connections_closed_total", "side" => side.label(), "reason" => reason)
        .increment(1);
    gauge!("aro_connections", "side" => side.label()).decrement(1.0);
}

pub(crate) fn connection_refused(reason: &'static str) {
    counter!("aro_connections_refused_total", "reason" => reason).increment(1);
}

pub(crate) fn reconnected() {
    counter!("aro_reconnects_total").increment(1);
}

pub(crate) fn call_run(side: Side) {
    // Literal labels: the key is built at compile time, so a call allocates nothing here
    // (a label from a variable costs an allocation per report).
    match side {
        Side::Host => counter!("aro_calls_total", "side" => "host").increment(1),
        Side::Node => counter!("aro_calls_total", "side" => "node").increment(1),
    }
}

pub(crate) fn call_done(started: std::time::Instant, error: Option<&'static str>) {
    histogram!("aro_call_duration_seconds").record(started.elapsed().as_secs_f64());
    if let Some(kind) = error {
        counter!("aro_call_errors_total", "kind" => kind).increment(1);
    }
}

pub(crate) fn value_coalesced() {
    counter!("aro_values_coalesced_total").increment(1);
}

pub(crate) fn qt_translation_shared() {
    counter!("aro_qt_translations_shared_total").increment(1);
}

pub(crate) fn slow_peer_dropped() {
    counter!("aro_slow_peers_dropped_total").increment(1);
}

pub(crate) fn model_reset() {
    counter!("aro_model_resets_total").increment(1);
}

/// Source `name` has `count` subscribers. Source names are the host's own (never a
/// peer's), so they are a bounded label.
pub(crate) fn subscribers(name: &str, count: usize) {
    gauge!("aro_subscribers", "source" => name.to_owned()).set(count as f64);
}

pub(crate) fn write_batch(bytes: usize) {
    histogram!("aro_write_batch_bytes").record(bytes as f64);
}
