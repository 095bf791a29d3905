//! A node facing a host that misbehaves: the replica never shows half an init (contract
//! item 2), and bad input closes that connection with a typed, logged error (item 7).

mod support;

use actix_remote_objects::dynamic::schema::{AccessFlag, Field};
use actix_remote_objects::dynamic::{ApiSchema, PropertySchema, TypeDef, TypeFormat, Value};
use actix_remote_objects::prelude::*;
use actix_remote_objects::wire::{Encoding, Handshake, ObjectInfo, Packet, PROTOCOL_VERSION};
use actix_remote_objects::RemoteObject;
use bytes::Bytes;
use printer::ReplicaExt;
use std::collections::BTreeMap;
use support::raw::RawClient;
use support::*;
use tokio::net::TcpListener;

/// A fake host: accepts one node, shakes hands, offers the printer, and returns the
/// connection once the node asks for it.
async fn fake_host() -> (String, tokio::task::JoinHandle<RawClient>) {
    fake_host_of::<Printer>().await
}

/// A fake host offering API `A` under its own name.
async fn fake_host_of<A: RemoteObject>() -> (String, tokio::task::JoinHandle<RawClient>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("tcp://{}", listener.local_addr().unwrap());
    let task = tokio::spawn(async move {
        let (stream, _) = listener.accept().await.unwrap();
        let mut peer = RawClient::from_stream(stream);
        peer.send(&Packet::Handshake(Handshake::ours(Encoding::Bincode)))
            .await;
        assert!(matches!(peer.recv().await, Some(Packet::Handshake(_))));
        let info = ObjectInfo {
            name: A::NAME.into(),
            api: A::NAME.into(),
            signature: A::signature(),
        };
        peer.send(&Packet::ObjectList(vec![info])).await;
        assert!(matches!(
            peer.recv().await,
            Some(Packet::Acquire { .. } | Packet::AcquireDynamic { .. })
        ));
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
async fn an_init_with_one_bad_value_changes_nothing_and_the_connection_goes_on() {
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
        signature: Printer::signature(),
        values,
        children: Vec::new(),
    })
    .await;
    // The node refuses that one init and lets go of the source.
    assert_eq!(peer.recv().await, Some(Packet::Release { source: 1 }));
    // The good first value was not applied either: all or nothing.
    assert_eq!(replica.state(), ReplicaState::Default);
    assert_eq!(
        (replica.ink_level(), replica.name()),
        (100, "office".to_string())
    );
    assert!(
        logs.text().contains("refusing an init from the host"),
        "{}",
        logs.text()
    );
    // The same connection still carries a good init.
    peer.send(&Packet::Init {
        name: "Printer".into(),
        source: 2,
        signature: Printer::signature(),
        values: good_values(),
        children: Vec::new(),
    })
    .await;
    replica.wait_for_source(TIMEOUT).await.unwrap();
    assert_eq!(replica.ink_level(), 5);
}

remote_object! {
    /// Strings in every direction, for values that lie about their length.
    pub Texts {
        prop text: String;
        signal said(text: String);
        slot echo(text: String) -> String;
    }
}

#[actix::test]
async fn values_that_claim_more_than_they_hold_are_refused_one_by_one() {
    let _guard = init();
    let (logs, _log_guard) = Logs::capture();
    let (url, host) = fake_host_of::<Texts>().await;
    let node = Node::connect(&url).await.unwrap();
    let replica = node.acquire::<Texts>();
    let mut peer = host.await.unwrap();
    let mut events = replica.events();

    for (round, lie) in lying_strings().into_iter().enumerate() {
        let source = round as u32 + 1;
        // An init carrying the lie is refused alone.
        peer.send(&Packet::Init {
            name: "Texts".into(),
            source,
            signature: Texts::signature(),
            values: vec![lie.clone()],
            children: Vec::new(),
        })
        .await;
        assert_eq!(peer.recv().await, Some(Packet::Release { source }));
        peer.send(&Packet::Init {
            name: "Texts".into(),
            source,
            signature: Texts::signature(),
            values: vec![encoded(&format!("good {round}"))],
            children: Vec::new(),
        })
        .await;
        replica.wait_for_source(TIMEOUT).await.unwrap();

        // So are a change, a signal and a reply.
        peer.send(&Packet::PropertyChange {
            source,
            index: 0,
            value: lie.clone(),
        })
        .await;
        peer.send(&Packet::Signal {
            source,
            index: 0,
            args: lie.clone(),
        })
        .await;
        let call = replica.call(texts::Echo { text: "hi".into() });
        let answer = async {
            let Some(Packet::Invoke { serial, .. }) = peer.recv().await else {
                panic!("expected the call")
            };
            peer.send(&Packet::InvokeReply {
                source,
                serial,
                outcome: Ok(lie.clone()),
            })
            .await;
            // Then good traffic on the same connection, in order.
            peer.send(&Packet::Signal {
                source,
                index: 0,
                args: encoded(&(format!("said {round}"),)),
            })
            .await;
            peer.send(&Packet::PropertyChange {
                source,
                index: 0,
                value: encoded(&format!("changed {round}")),
            })
            .await;
        };
        let (reply, ()) = futures::join!(call, answer);
        assert!(matches!(reply, Err(SlotError::Decode(_))), "{reply:?}");
        // The refused change and signal left no event; the good ones follow in order.
        let mut seen = Vec::new();
        while seen.len() < 2 {
            match next(&mut events).await {
                Event::Signal(texts::Signal::Said(said)) => seen.push(said.text),
                Event::PropertyChanged(texts::PropertyChange::Text(text)) => {
                    if text != format!("good {round}") {
                        seen.push(text)
                    }
                }
                other => panic!("unexpected {other:?}"),
            }
        }
        assert_eq!(seen, [format!("said {round}"), format!("changed {round}")]);
        assert_eq!(replica.state(), ReplicaState::Valid);
        // Withdraw the source and offer it again, so the next round starts with an init.
        peer.send(&Packet::RemoveObject {
            name: "Texts".into(),
        })
        .await;
        peer.send(&Packet::ObjectList(vec![ObjectInfo {
            name: "Texts".into(),
            api: "Texts".into(),
            signature: Texts::signature(),
        }]))
        .await;
        assert!(matches!(peer.recv().await, Some(Packet::Acquire { .. })));
    }
    let text = logs.text();
    assert!(text.contains("refusing a value from the host"), "{text}");
    assert!(!text.contains("closing the connection"), "{text}");
}

#[actix::test]
async fn an_init_with_too_few_values_fails_that_replica_and_the_connection_goes_on() {
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
        signature: Printer::signature(),
        values,
        children: Vec::new(),
    })
    .await;
    // The replica lets go of the source; the node says so and keeps the connection.
    assert_eq!(peer.recv().await, Some(Packet::Release { source: 1 }));
    let error = replica.wait_for_source(TIMEOUT).await.unwrap_err();
    assert!(error.is_signature_mismatch(), "{error}");
    assert!(
        error
            .to_string()
            .contains("the init carries 3 values, the API has 4 properties"),
        "{error}"
    );
    assert_eq!(replica.ink_level(), 100, "nothing of the init shows");
    peer.send(&Packet::Ping(7)).await;
    assert_eq!(
        peer.recv().await,
        Some(Packet::Pong(7)),
        "the connection goes on"
    );
    assert!(logs.text().contains("cannot hold"), "{}", logs.text());
}

#[actix::test]
async fn an_out_of_range_change_fails_that_replica_and_the_connection_goes_on() {
    let _guard = init();
    let (logs, _log_guard) = Logs::capture();
    let (url, host) = fake_host().await;
    let node = Node::connect(&url).await.unwrap();
    let replica = node.acquire::<Printer>();
    let mut peer = host.await.unwrap();
    let init = Packet::Init {
        name: "Printer".into(),
        source: 1,
        signature: Printer::signature(),
        values: good_values(),
        children: Vec::new(),
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
    assert_eq!(peer.recv().await, Some(Packet::Release { source: 1 }));
    wait_state(&replica, ReplicaState::SignatureMismatch).await;
    assert_eq!(replica.ink_level(), 5, "the last good values stay readable");
    peer.send(&Packet::Ping(8)).await;
    assert_eq!(
        peer.recv().await,
        Some(Packet::Pong(8)),
        "the connection goes on"
    );
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

/// A schema with one property of `format`, encoded as a host sends it.
fn schema_with(format: TypeFormat, types: BTreeMap<String, TypeDef>) -> ApiSchema {
    ApiSchema {
        api: "Texts".into(),
        signature: Texts::signature(),
        properties: vec![PropertySchema {
            name: "text".into(),
            type_name: "?".into(),
            format,
            access: AccessFlag::ReadOnly,
            persisted: false,
        }],
        signals: vec![],
        slots: vec![],
        types,
        children: Vec::new(),
    }
}

/// A schema whose property is an `Option<Option<…<()>>>` 100 000 levels deep, built as bytes:
/// building it as a value would itself overflow the test's stack.
fn deep_schema() -> Bytes {
    let shallow = schema_with(
        TypeFormat::Option(Box::new(TypeFormat::Unit)),
        BTreeMap::new(),
    );
    let option_tag = encoded(&TypeFormat::Option(Box::new(TypeFormat::Unit)))[0];
    let unit_tag = encoded(&TypeFormat::Unit)[0];
    let bytes = encoded(&shallow);
    let at = bytes
        .windows(2)
        .position(|w| w == [option_tag, unit_tag])
        .unwrap();
    let mut deep = bytes[..at].to_vec();
    deep.extend(std::iter::repeat_n(option_tag, 100_000));
    deep.extend_from_slice(&bytes[at + 1..]);
    Bytes::from(deep)
}

#[actix::test]
async fn a_dynamic_replica_refuses_hostile_schemas_and_values_alone() {
    let _guard = init();
    let (logs, _log_guard) = Logs::capture();
    let (url, host) = fake_host_of::<Texts>().await;
    let node = Node::connect(&url).await.unwrap();
    let replica = node.acquire_dynamic("Texts");
    let mut peer = host.await.unwrap();

    let mut claims_2_40_units = vec![0xfd];
    claims_2_40_units.extend_from_slice(&(1u64 << 40).to_le_bytes());
    let recursive: BTreeMap<String, TypeDef> = [(
        "A".to_string(),
        TypeDef::Struct(vec![Field {
            name: "a".into(),
            format: TypeFormat::Named("A".into()),
        }]),
    )]
    .into();
    let hostile = [
        (deep_schema(), Bytes::from_static(&[0])),
        (
            encoded(&schema_with(
                TypeFormat::Seq(Box::new(TypeFormat::Unit)),
                BTreeMap::new(),
            )),
            Bytes::from(claims_2_40_units),
        ),
        (
            encoded(&schema_with(
                TypeFormat::Array(Box::new(TypeFormat::Unit), 1 << 40),
                BTreeMap::new(),
            )),
            Bytes::new(),
        ),
        (
            encoded(&schema_with(TypeFormat::Named("A".into()), recursive)),
            Bytes::new(),
        ),
        (
            encoded(&schema_with(
                TypeFormat::Named("Missing".into()),
                BTreeMap::new(),
            )),
            Bytes::new(),
        ),
    ];
    for (source, (schema, value)) in hostile.into_iter().enumerate() {
        let source = source as u32 + 1;
        peer.send(&Packet::InitDynamic {
            name: "Texts".into(),
            source,
            signature: Texts::signature(),
            schema,
            values: vec![value],
            children: Vec::new(),
        })
        .await;
        assert_eq!(peer.recv().await, Some(Packet::Release { source }));
        assert_eq!(replica.state(), ReplicaState::Uninitialized);
    }
    let text = logs.text();
    for needle in [
        "nested deeper than 256 levels",
        "more elements than its bytes hold",
        "type A is recursive with no finite value",
        "uses type Missing but does not define it",
    ] {
        assert!(text.contains(needle), "the log lacks {needle:?}:\n{text}");
    }
    // The connection still works.
    peer.send(&Packet::InitDynamic {
        name: "Texts".into(),
        source: 9,
        signature: Texts::signature(),
        schema: encoded(&schema_with(TypeFormat::Str, BTreeMap::new())),
        values: vec![encoded(&"fine".to_string())],
        children: Vec::new(),
    })
    .await;
    replica.wait_for_source(TIMEOUT).await.unwrap();
    assert_eq!(replica.property("text").unwrap(), Value::Str("fine".into()));
}

remote_object! {
    /// An API nested in itself: a host can send children as deep as its frame allows.
    pub Folder {
        prop title: String;
        child sub: Option<Folder>;
    }
}

#[actix::test]
async fn children_that_loop_or_nest_without_end_are_cut_off_not_followed() {
    use actix_remote_objects::wire::ChildInit;
    use folder::ReplicaExt as _;
    let _guard = init();
    let (logs, _log_guard) = Logs::capture();
    let (url, host) = fake_host_of::<Folder>().await;
    let node = Node::connect(&url).await.unwrap();
    let replica = node.acquire::<Folder>();
    let mut peer = host.await.unwrap();
    let title = encoded(&"t".to_string());
    // A chain 100 000 deep under the root (id 1), and an entry that is its own parent.
    let mut children: Vec<ChildInit> = (0..100_000u32)
        .map(|i| ChildInit {
            parent: if i == 0 { 1 } else { 0x8000_0000 + i - 1 },
            slot: 0,
            source: 0x8000_0000 + i,
            signature: Folder::signature(),
            values: vec![title.clone()],
        })
        .collect();
    children.push(ChildInit {
        parent: 7,
        slot: 0,
        source: 7,
        signature: Folder::signature(),
        values: vec![title.clone()],
    });
    peer.send(&Packet::Init {
        name: "Folder".into(),
        source: 1,
        signature: Folder::signature(),
        values: vec![title.clone()],
        children,
    })
    .await;
    replica.wait_for_source(TIMEOUT).await.unwrap();
    let mut depth = 0;
    let mut folder = replica.sub();
    while let Some(sub) = folder {
        assert_eq!(sub.state(), ReplicaState::Valid);
        depth += 1;
        folder = sub.sub();
    }
    assert_eq!(depth, 64, "nesting is cut off at a fixed depth");
    assert!(
        logs.text().contains("children nested too deep"),
        "{}",
        logs.text()
    );
}

/// Regression: an HTTP server read as "frame of 1213486160 bytes exceeds the maximum".
#[actix::test]
async fn a_host_that_speaks_http_is_not_a_peer() {
    use tokio::io::AsyncWriteExt;
    let _guard = init();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("tcp://{}", listener.local_addr().unwrap());
    let server = tokio::spawn(async move {
        let (mut stream, _) = listener.accept().await.unwrap();
        stream
            .write_all(b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n\r\n")
            .await
            .unwrap();
        stream
    });
    let error = Node::connect(&url).await.unwrap_err();
    assert!(error.is_not_a_peer() && error.is_protocol(), "{error}");
    assert_eq!(
        error.to_string(),
        "the peer is not an actix-remote-objects peer: it began with \"HTTP\" (an HTTP server)"
    );
    drop(server.await.unwrap());
}
