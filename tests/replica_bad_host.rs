//! A node facing a host that misbehaves: the replica never shows half an init (contract
//! item 2), and bad input closes that connection with a typed, logged error (item 7).

mod support;

use actix_remote_objects::prelude::*;
use actix_remote_objects::wire::{Encoding, Handshake, ObjectInfo, Packet, PROTOCOL_VERSION};
use actix_remote_objects::RemoteObject;
use bytes::Bytes;
use printer::ReplicaExt;
use support::raw::RawClient;
use support::*;
use tokio::net::TcpListener;

/// A fake host: accepts one node, shakes hands, offers the printer, and returns the
/// connection once the node asks for it.
async fn fake_host() -> (String, tokio::task::JoinHandle<RawClient>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("tcp://{}", listener.local_addr().unwrap());
    let task = tokio::spawn(async move {
        let (stream, _) = listener.accept().await.unwrap();
        let mut peer = RawClient::from_stream(stream);
        peer.send(&Packet::Handshake(Handshake::ours(Encoding::Bincode)))
            .await;
        assert!(matches!(peer.recv().await, Some(Packet::Handshake(_))));
        let info = ObjectInfo {
            name: "Printer".into(),
            api: "Printer".into(),
            signature: Printer::SIGNATURE,
        };
        peer.send(&Packet::ObjectList(vec![info])).await;
        assert!(matches!(peer.recv().await, Some(Packet::Acquire { .. })));
        peer
    });
    (url, task)
}

fn encoded<T: serde::Serialize>(value: &T) -> Bytes {
    Bytes::from(Encoding::Bincode.encode(value).unwrap())
}

fn good_values() -> Vec<Bytes> {
    vec![
        encoded(&5u8),
        encoded(&Status::OutOfPaper),
        encoded(&"lab".to_string()),
        encoded(&"X1".to_string()),
    ]
}

#[actix::test]
async fn an_init_with_one_bad_value_changes_nothing_and_closes_the_connection() {
    let _guard = init();
    let (logs, _log_guard) = Logs::capture();
    let (url, host) = fake_host().await;
    let node = Node::connect(&url).await.unwrap();
    let replica = node.acquire::<Printer>();
    let mut peer = host.await.unwrap();

    let mut values = good_values();
    values[1] = Bytes::from_static(&[0xee]); // no such `Status` variant
    peer.send(&Packet::Init {
        name: "Printer".into(),
        source: 1,
        signature: Printer::SIGNATURE,
        values,
    })
    .await;
    peer.until_closed().await;

    // The good first value was not applied either: all or nothing.
    assert_eq!(replica.state(), ReplicaState::Default);
    assert_eq!(
        (replica.ink_level(), replica.name()),
        (100, "office".to_string())
    );
    assert!(
        logs.text().contains("closing the connection to the host"),
        "{}",
        logs.text()
    );
}

#[actix::test]
async fn an_init_with_too_few_values_is_refused() {
    let _guard = init();
    let (logs, _log_guard) = Logs::capture();
    let (url, host) = fake_host().await;
    let node = Node::connect(&url).await.unwrap();
    let replica = node.acquire::<Printer>();
    let mut peer = host.await.unwrap();
    let mut values = good_values();
    values.pop();
    peer.send(&Packet::Init {
        name: "Printer".into(),
        source: 1,
        signature: Printer::SIGNATURE,
        values,
    })
    .await;
    peer.until_closed().await;
    assert_eq!(
        (replica.state(), replica.ink_level()),
        (ReplicaState::Default, 100)
    );
    assert!(
        logs.text()
            .contains("the init carries 3 values, the API has 4 properties"),
        "{}",
        logs.text()
    );
}

#[actix::test]
async fn a_good_init_then_an_out_of_range_change_closes_the_connection() {
    let _guard = init();
    let (logs, _log_guard) = Logs::capture();
    let (url, host) = fake_host().await;
    let node = Node::connect(&url).await.unwrap();
    let replica = node.acquire::<Printer>();
    let mut peer = host.await.unwrap();
    let init = Packet::Init {
        name: "Printer".into(),
        source: 1,
        signature: Printer::SIGNATURE,
        values: good_values(),
    };
    peer.send(&init).await;
    replica.wait_for_source(TIMEOUT).await.unwrap();
    assert_eq!(replica.ink_level(), 5);

    peer.send(&Packet::PropertyChange {
        source: 1,
        index: 42,
        value: encoded(&1u8),
    })
    .await;
    peer.until_closed().await;
    wait_state(&replica, ReplicaState::Suspect).await;
    assert_eq!(replica.ink_level(), 5, "the last good values stay readable");
    assert!(
        logs.text()
            .contains("index 42 is out of range for a property"),
        "{}",
        logs.text()
    );
}

#[actix::test]
async fn a_host_with_another_protocol_version_is_refused_with_a_clear_error() {
    let _guard = init();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("tcp://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        let (stream, _) = listener.accept().await.unwrap();
        let mut peer = RawClient::from_stream(stream);
        let mut ours = Handshake::ours(Encoding::Bincode);
        ours.version = PROTOCOL_VERSION + 7;
        peer.send(&Packet::Handshake(ours)).await;
        peer.until_closed().await;
    });
    let error = Node::connect(&url).await.unwrap_err();
    assert!(error.is_handshake(), "{error}");
    assert!(
        error
            .to_string()
            .contains(&format!("version {}", PROTOCOL_VERSION + 7)),
        "{error}"
    );
}

#[actix::test]
async fn a_host_that_sends_garbage_instead_of_a_handshake_is_a_protocol_error() {
    let _guard = init();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("tcp://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        let (stream, _) = listener.accept().await.unwrap();
        let mut peer = RawClient::from_stream(stream);
        peer.send_raw(b"SSH-2.0-OpenSSH_9.2\r\n").await;
        peer.until_closed().await;
    });
    let error = Node::connect(&url).await.unwrap_err();
    assert!(error.is_protocol(), "{error}");
}
