//! A host's own in-process node: replicas of its sources in the same process, over an
//! in-memory stream, with the same ordering and states as remote ones.

mod support;

use actix_remote_objects::prelude::*;
use actix_remote_objects::security::SharedSecrets;
use actix_remote_objects::PeerAddr;
use futures::{FutureExt, StreamExt};
use printer::ReplicaExt;
use support::*;

#[actix::test]
async fn a_host_acquires_its_own_source_in_process_with_the_same_ordering() {
    let _guard = init();
    let host = Host::new(HostConfig::default());
    let service = host.enable_remoting(PrinterService::new()).await.unwrap();
    let replica = host.acquire::<Printer>();
    replica.wait_for_source(TIMEOUT).await.unwrap();
    assert_eq!(replica.ink_level(), 100);
    let mut events = replica.events();
    let job = replica
        .call(printer::Print {
            doc: "local".into(),
        })
        .await
        .unwrap();
    // The change the slot made is there with the reply, as over a socket.
    assert_eq!(
        replica.status(),
        Status::Printing {
            job,
            doc: "local".into()
        }
    );
    assert!(matches!(
        events.next().now_or_never(),
        Some(Some(Event::PropertyChanged(
            printer::PropertyChange::Status(_)
        )))
    ));
    // A change the source makes by itself reaches the in-process replica too.
    let refilled = service.send(printer::Refill { level: 7 }).await.unwrap();
    assert_eq!(refilled, Ok(7));
    while replica.ink_level() != 7 {
        next(&mut events).await;
    }
    let peers = host.peers();
    assert_eq!(peers.len(), 1);
    assert_eq!(peers[0].addr, PeerAddr::InProcess);
    assert_eq!(host.local_node().offered_sources().await.unwrap().len(), 1);
    host.shutdown().await;
    wait_state(&replica, ReplicaState::Suspect).await;
}

#[actix::test]
async fn the_in_process_node_needs_no_credentials_on_an_authenticating_host() {
    let _guard = init();
    let secrets = SharedSecrets::new().with("alice", b"alice's 32-byte secret, at least!");
    let host = Host::new(HostConfig::default().authenticator(secrets));
    host.enable_remoting(PrinterService::new()).await.unwrap();
    let replica = host.acquire::<Printer>();
    replica.wait_for_source(TIMEOUT).await.unwrap();
    assert_eq!(replica.properties().name, "office");
    host.shutdown().await;
}
