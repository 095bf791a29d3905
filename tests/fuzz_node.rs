//! Fuzzing a node from a hostile host: a real session is recorded, then tens of thousands of
//! mutated copies of the host's side of it (handshakes, object lists, inits with schemas,
//! changes, signals, replies, model diffs and fetched rows) are fed to a node holding a
//! typed and a dynamic replica of a printer and of a print queue (a model), one
//! Unix socket pair each. No input may panic or abort the node, and afterwards it still
//! connects to a real host and initializes a replica.
//!
//! `FUZZ_INPUTS=n` sets the number of inputs (default 20 000); `FUZZ_SEED=n` the seed.

mod support;

use std::time::Instant;

use actix_remote_objects::prelude::*;
use support::mutate::{setting, Mutator};
use support::recorder::record_printer_session;
use support::*;
use tokio::io::AsyncWriteExt;

#[actix::test]
async fn mutated_sessions_never_hurt_a_node() {
    let _guard = init();
    let inputs = setting("FUZZ_INPUTS", 20_000);
    let seed = setting("FUZZ_SEED", 0xf00d);
    let (_, to_node) = record_printer_session().await;
    assert!(
        to_node.len() > 8,
        "the recorded session has {} frames",
        to_node.len()
    );

    let mut mutator = Mutator::new(seed);
    let started = Instant::now();
    let mut node = Node::new(NodeConfig::default());
    let acquire = |node: &Node| {
        (
            node.acquire::<Printer>(),
            node.acquire_dynamic("Printer"),
            node.acquire::<PrintQueue>(),
            node.acquire_dynamic("PrintQueue"),
        )
    };
    let mut replicas = acquire(&node);
    let mut established = 0;
    for i in 0..inputs {
        if i % 500 == 0 {
            // A replica may rightly end in SignatureMismatch: start over now and then.
            node.shutdown().await;
            node = Node::new(NodeConfig::default());
            replicas = acquire(&node);
        }
        let mutate_handshake = mutator.chance(5);
        let bytes = mutator.session(&to_node, mutate_handshake);
        let (ours, mut theirs) = tokio::net::UnixStream::pair().unwrap();
        let _ = theirs.write_all(&bytes).await;
        drop(theirs);
        if node.connect_stream(ours).await.is_ok() {
            established += 1;
        }
    }
    let elapsed = started.elapsed();
    eprintln!(
        "FIGURE fuzz node: {inputs} mutated sessions in {:.1} s ({:.0} inputs/s), seed {seed:#x}, \
         {} recorded frames, {established} got past the handshake",
        elapsed.as_secs_f64(),
        inputs as f64 / elapsed.as_secs_f64(),
        to_node.len()
    );
    let _ = replicas.0.state();
    let _ = replicas.1.state();
    let _ = (replicas.2.state(), replicas.3.state());

    // The node still works with a real host.
    let host = Host::listen("tcp://127.0.0.1:0").await.unwrap();
    host.enable_remoting_as(PrinterService::new(), "Fresh")
        .await
        .unwrap();
    node.connect_to(host.url().unwrap()).await.unwrap();
    let fresh = node.acquire_named::<Printer>("Fresh");
    fresh.wait_for_source(TIMEOUT).await.unwrap();
    assert_eq!(fresh.call(printer::Print { doc: "ok".into() }).await, Ok(1));
    host.shutdown().await;
}
