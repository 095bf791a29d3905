//! The postcard encoding end to end (cargo feature `postcard`), and peers that disagree on
//! the encoding refusing each other with a clear error.
#![cfg(feature = "postcard")]

mod support;

use actix_remote_objects::prelude::*;
use actix_remote_objects::Encoding;
use printer::ReplicaExt;
use support::*;

#[actix::test]
async fn a_host_and_a_node_speak_postcard() {
    let _guard = init();
    let host = Host::listen_with(
        "tcp://127.0.0.1:0",
        HostConfig::default().encoding(Encoding::Postcard),
    )
    .await
    .unwrap();
    host.enable_remoting(PrinterService::new()).await.unwrap();
    let node = Node::connect_with(
        host.url().unwrap(),
        NodeConfig::default().encoding(Encoding::Postcard),
    )
    .await
    .unwrap();
    let replica = node.acquire::<Printer>();
    replica.wait_for_source(TIMEOUT).await.unwrap();
    assert_eq!(
        replica.call(printer::Print { doc: "p".into() }).await,
        Ok(1)
    );
    assert_eq!(
        replica.status(),
        Status::Printing {
            job: 1,
            doc: "p".into()
        }
    );
    host.shutdown().await;
}

#[actix::test]
async fn peers_with_different_encodings_refuse_each_other() {
    let _guard = init();
    let host = Host::listen_with(
        "tcp://127.0.0.1:0",
        HostConfig::default().encoding(Encoding::Postcard),
    )
    .await
    .unwrap();
    let error = Node::connect(host.url().unwrap()).await.unwrap_err();
    assert!(error.is_handshake(), "{error}");
    assert!(
        error.to_string().contains("postcard1") && error.to_string().contains("bincode2"),
        "{error}"
    );
    host.shutdown().await;
}
