//! Fuzzing a live host: a real session is recorded, then tens of thousands of mutated copies
//! of the node's side of it (lying lengths, flipped bits, cut and spliced frames) are sent to
//! a real host over TCP, one connection each, while a healthy replica keeps calling it. No
//! input may panic or abort the host, and the healthy replica sees nothing but its own work.
//!
//! `FUZZ_INPUTS=n` sets the number of inputs (default 20 000); `FUZZ_SEED=n` the seed.

mod support;

use std::time::Instant;

use actix_remote_objects::prelude::*;
use support::mutate::{setting, Mutator};
use support::recorder::record_printer_session;
use support::*;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

#[actix::test]
async fn mutated_sessions_never_hurt_a_live_host() {
    let _guard = init();
    let inputs = setting("FUZZ_INPUTS", 20_000);
    let seed = setting("FUZZ_SEED", 0x5eed);
    let (to_host, _) = record_printer_session().await;
    assert!(
        to_host.len() > 8,
        "the recorded session has {} frames",
        to_host.len()
    );

    let host = Host::listen_with(
        "tcp://127.0.0.1:0",
        HostConfig::default().max_connections(100_000),
    )
    .await
    .unwrap();
    host.enable_remoting(PrinterService::new()).await.unwrap();
    let queue = print_queue::SimpleSource::default();
    queue
        .jobs()
        .extend((0..100).map(|n| n.to_string()))
        .unwrap();
    host.enable_remoting(PrintQueueService(queue))
        .await
        .unwrap();
    let url = host.url().unwrap().to_owned();
    let node = Node::connect(&url).await.unwrap();
    let good = node.acquire::<Printer>();
    good.wait_for_source(TIMEOUT).await.unwrap();

    let mut mutator = Mutator::new(seed);
    let addr = url.strip_prefix("tcp://").unwrap();
    let started = Instant::now();
    let mut jobs = 0;
    for i in 0..inputs {
        let mutate_handshake = mutator.chance(5);
        let bytes = mutator.session(&to_host, mutate_handshake);
        let mut stream = TcpStream::connect(addr).await.unwrap();
        // The host may close first: that is one of the answers it may give.
        let _ = stream.write_all(&bytes).await;
        drop(stream);
        if i % 200 == 0 {
            // The healthy replica's own work, in order, untouched by the fuzzing.
            jobs += 1;
            let job = good
                .call(printer::Print {
                    doc: format!("job {i}"),
                })
                .await
                .expect("the host stopped serving the healthy replica");
            assert!(job >= jobs, "job {job}");
            assert_eq!(good.state(), ReplicaState::Valid);
        }
    }
    let elapsed = started.elapsed();
    eprintln!(
        "FIGURE fuzz host: {inputs} mutated sessions in {:.1} s ({:.0} inputs/s), seed {seed:#x}, \
         {} recorded frames",
        elapsed.as_secs_f64(),
        inputs as f64 / elapsed.as_secs_f64(),
        to_host.len()
    );
    // The healthy replica and a fresh one agree on the source's state.
    good.call(printer::Print { doc: "last".into() })
        .await
        .unwrap();
    let fresh = Node::connect(&url).await.unwrap().acquire::<Printer>();
    fresh.wait_for_source(TIMEOUT).await.unwrap();
    assert_eq!(fresh.properties().status, good.properties().status);
    host.shutdown().await;
}
