//! Authentication and access control over real sockets: a shared secret (right, wrong,
//! missing, and a host that cannot prove itself), a policy that hides a source, refuses a
//! slot and refuses a set (each typed on the replica and logged on the host), Unix peer
//! credentials, and a registry that refuses squatters.

mod support;

use std::os::unix::fs::MetadataExt;

use actix_remote_objects::prelude::*;
use actix_remote_objects::registry::RegistrationRules;
use actix_remote_objects::security::{Policy, Rule, SharedSecret, SharedSecrets};
use actix_remote_objects::wire::{Encoding, Handshake, Packet};
use actix_remote_objects::PeerAddr;
use bytes::Bytes;
use printer::ReplicaExt;
use support::raw::RawClient;
use support::*;

fn secrets() -> SharedSecrets {
    SharedSecrets::new()
        .with("alice", b"alice's 32-byte secret, at least!")
        .with("bob", b"bob's own secret, also long enough")
}

fn alice() -> NodeConfig {
    NodeConfig::default().credentials(SharedSecret::new(
        "alice",
        b"alice's 32-byte secret, at least!",
    ))
}

#[actix::test]
async fn a_shared_secret_admits_its_holder_and_the_host_knows_who_it_is() {
    let _guard = init();
    let host = printer_host(HostConfig::default().authenticator(secrets())).await;
    let node = Node::connect_with(host.url().unwrap(), alice())
        .await
        .unwrap();
    let replica = node.acquire::<Printer>();
    replica.wait_for_source(TIMEOUT).await.unwrap();
    assert_eq!(
        replica.call(printer::Print { doc: "hi".into() }).await,
        Ok(1)
    );
    let identities: Vec<_> = host.peers().into_iter().map(|p| p.identity).collect();
    assert_eq!(identities, [Some("alice".to_string())]);
    host.shutdown().await;
}

#[actix::test]
async fn a_wrong_or_missing_secret_is_refused_with_a_clear_error() {
    let _guard = init();
    let (logs, _log_guard) = Logs::capture();
    let host = printer_host(HostConfig::default().authenticator(secrets())).await;
    let url = host.url().unwrap();
    let wrong = NodeConfig::default().credentials(SharedSecret::new("alice", b"a guess"));
    let error = Node::connect_with(url, wrong).await.unwrap_err();
    assert!(error.is_auth(), "{error}");
    assert!(
        error
            .to_string()
            .contains("unknown identity or wrong secret"),
        "{error}"
    );
    let error = Node::connect(url).await.unwrap_err();
    assert!(error.is_auth(), "{error}");
    assert!(
        error
            .to_string()
            .contains("configure NodeConfig::credentials"),
        "{error}"
    );
    // A raw peer that skips the exchange gets nothing.
    let mut raw = RawClient::connect(url).await;
    raw.send(&Packet::Handshake(Handshake::ours(Encoding::Bincode)))
        .await;
    raw.send(&Packet::Acquire {
        name: "Printer".into(),
        signature: 0,
    })
    .await;
    let got = raw.until_closed().await;
    assert!(
        !got.iter()
            .any(|p| matches!(p, Packet::Init { .. } | Packet::ObjectList(_))),
        "{got:?}"
    );
    assert!(logs.text().contains("refused"), "{}", logs.text());
    assert!(host.peers().is_empty());
    host.shutdown().await;
}

#[actix::test]
async fn a_host_that_cannot_prove_the_secret_is_refused() {
    let _guard = init();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("tcp://{}", listener.local_addr().unwrap());
    // An impostor that accepts any answer and proves nothing.
    tokio::spawn(async move {
        let (stream, _) = listener.accept().await.unwrap();
        let mut peer = RawClient::from_stream(stream);
        peer.send(&Packet::Handshake(Handshake::ours(Encoding::Bincode)))
            .await;
        peer.send(&Packet::AuthChallenge {
            method: "hmac-sha256-v1".into(),
            challenge: Bytes::from_static(&[7; 32]),
        })
        .await;
        assert!(matches!(peer.recv().await, Some(Packet::Handshake(_))));
        assert!(matches!(
            peer.recv().await,
            Some(Packet::AuthResponse { .. })
        ));
        peer.send(&Packet::AuthAccepted {
            proof: Bytes::from_static(&[0; 32]),
        })
        .await;
        peer.send(&Packet::ObjectList(vec![])).await;
        peer.until_closed().await;
    });
    let error = Node::connect_with(&url, alice()).await.unwrap_err();
    assert!(error.is_auth(), "{error}");
    assert!(error.to_string().contains("failed to prove"), "{error}");
}

#[actix::test]
async fn a_policy_hides_a_source_and_refuses_a_slot_and_a_set_each_typed() {
    let _guard = init();
    let (logs, _log_guard) = Logs::capture();
    let policy = Policy::new().allow(
        Rule::identity("alice")
            .sources(["Printer"])
            .slots(["print"]),
    );
    let host = printer_host(
        HostConfig::default()
            .authenticator(secrets())
            .access_policy(policy),
    )
    .await;
    host.enable_remoting_as(PrinterService::new(), "Secret")
        .await
        .unwrap();
    let node = Node::connect_with(host.url().unwrap(), alice())
        .await
        .unwrap();
    let offered: Vec<_> = node
        .offered_sources()
        .await
        .unwrap()
        .into_iter()
        .map(|o| o.name)
        .collect();
    assert_eq!(offered, ["Printer"], "the hidden source is not listed");

    // A replica of the hidden source waits, as for one that does not exist.
    let hidden = node.acquire_named::<Printer>("Secret");
    let replica = node.acquire::<Printer>();
    replica.wait_for_source(TIMEOUT).await.unwrap();
    assert_eq!(
        replica.call(printer::Print { doc: "ok".into() }).await,
        Ok(1)
    );
    match replica.call(printer::Jam { tray: 1 }).await {
        Err(SlotError::Rejected(reason)) => {
            assert!(reason.contains("may not call Printer.jam"), "{reason}")
        }
        other => panic!("expected a rejection, got {other:?}"),
    }
    let mut events = replica.events();
    let refused = replica.set_name("mine".to_string()).await;
    match refused {
        Err(SlotError::Rejected(reason)) => {
            assert!(reason.contains("may not set Printer.name"), "{reason}")
        }
        other => panic!("expected the write refused, got {other:?}"),
    }
    loop {
        match next(&mut events).await {
            Event::WriteRefused { property, reason } => {
                assert_eq!(property, "name");
                assert!(reason.contains("may not set Printer.name"), "{reason}");
                break;
            }
            Event::PropertyChanged(_) => {}
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(
        replica.name(),
        "office",
        "the refused write changed nothing"
    );
    assert_eq!(hidden.state(), ReplicaState::Default, "never offered");
    let text = logs.text();
    for needle in ["slot call refused", "property set refused"] {
        assert!(text.contains(needle), "the log lacks {needle:?}:\n{text}");
    }
    host.shutdown().await;
}

#[actix::test]
async fn a_listed_but_denied_source_refuses_the_replica_with_the_reason() {
    let _guard = init();
    let policy = Policy::new()
        .allow(Rule::anyone().sources(["Printer"]))
        .list_denied_sources();
    let host = printer_host(HostConfig::default().access_policy(policy)).await;
    host.enable_remoting_as(PrinterService::new(), "Secret")
        .await
        .unwrap();
    let node = Node::connect(host.url().unwrap()).await.unwrap();
    let denied = node.acquire_named::<Printer>("Secret");
    let error = denied.wait_for_source(TIMEOUT).await.unwrap_err();
    assert!(error.is_refused(), "{error}");
    assert!(
        error.to_string().contains("may not acquire Secret"),
        "{error}"
    );
    assert_eq!(denied.state(), ReplicaState::Refused);
    let allowed = node.acquire::<Printer>();
    allowed.wait_for_source(TIMEOUT).await.unwrap();
    host.shutdown().await;
}

#[actix::test]
async fn acquiring_a_source_the_policy_denies_is_refused_with_the_reason() {
    let _guard = init();
    let (logs, _log_guard) = Logs::capture();
    let policy = Policy::new().allow(Rule::anyone().sources(["Printer"]));
    let host = printer_host(HostConfig::default().access_policy(policy)).await;
    host.enable_remoting_as(PrinterService::new(), "Secret")
        .await
        .unwrap();
    // A raw node asks for the source it was not told about.
    let mut raw = RawClient::handshaken(host.url().unwrap()).await;
    raw.send(&Packet::Acquire {
        name: "Secret".into(),
        signature: 0,
    })
    .await;
    match raw.recv().await {
        Some(Packet::AcquireRefused { name, reason }) => {
            assert_eq!(name, "Secret");
            assert!(reason.contains("may not acquire Secret"), "{reason}");
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
    assert!(logs.text().contains("acquire refused"), "{}", logs.text());
    host.shutdown().await;
}

#[actix::test]
async fn unix_peer_credentials_are_known_and_can_be_required() {
    let _guard = init();
    let uid = std::fs::metadata("/proc/self").unwrap().uid();
    let (url, _dir) = socket_url();
    let mine = Policy::new().allow(Rule::unix_uid(uid).everything());
    let host = Host::listen_with(&url, HostConfig::default().access_policy(mine))
        .await
        .unwrap();
    host.enable_remoting(PrinterService::new()).await.unwrap();
    let node = Node::connect(&url).await.unwrap();
    let replica = node.acquire::<Printer>();
    replica.wait_for_source(TIMEOUT).await.unwrap();
    match host.peers().first().map(|p| p.addr) {
        Some(PeerAddr::Unix(creds)) => {
            assert_eq!(creds.uid, uid);
            assert_eq!(creds.pid, Some(std::process::id() as i32));
        }
        other => panic!("expected Unix credentials, got {other:?}"),
    }
    host.shutdown().await;

    let (url, _dir) = socket_url();
    let others = Policy::new().allow(Rule::unix_uid(uid + 1).everything());
    let host = Host::listen_with(&url, HostConfig::default().access_policy(others))
        .await
        .unwrap();
    let error = Node::connect(&url).await.unwrap_err();
    assert!(error.is_auth(), "{error}");
    assert!(error.to_string().contains("may not connect"), "{error}");
    host.shutdown().await;
}

#[actix::test]
async fn a_registry_refuses_anonymous_and_unentitled_registrations() {
    let _guard = init();
    let (logs, _log_guard) = Logs::capture();
    let registry = RegistryHost::listen_with(
        "tcp://127.0.0.1:0",
        HostConfig::default()
            .authenticator(secrets())
            .allow_anonymous(),
    )
    .await
    .unwrap();
    registry.set_registration_rules(
        RegistrationRules::authenticated_only().reserve("Printer", ["alice"]),
    );
    let registry_url = registry.url().unwrap().to_owned();
    let host_as = |node: NodeConfig| {
        HostConfig::default()
            .registry_url(&registry_url)
            .registry_node(node)
    };
    // An anonymous squatter, and bob, are refused the name; alice holds it.
    for (who, node) in [
        ("anonymous", NodeConfig::default()),
        (
            "bob",
            NodeConfig::default().credentials(SharedSecret::new(
                "bob",
                b"bob's own secret, also long enough",
            )),
        ),
    ] {
        let squatter = Host::listen_with("tcp://127.0.0.1:0", host_as(node))
            .await
            .unwrap();
        squatter.wait_for_registry(TIMEOUT).await.unwrap();
        let error = squatter
            .enable_remoting(PrinterService::new())
            .await
            .unwrap_err();
        assert!(error.is_registry(), "{who}: {error}");
        squatter.shutdown().await;
    }
    let real = Host::listen_with("tcp://127.0.0.1:0", host_as(alice()))
        .await
        .unwrap();
    real.wait_for_registry(TIMEOUT).await.unwrap();
    real.enable_remoting(PrinterService::new()).await.unwrap();
    // An anonymous reader finds it through the registry.
    let reader = Node::with_registry(&registry_url).unwrap();
    let replica = reader.acquire::<Printer>();
    replica.wait_for_source(TIMEOUT).await.unwrap();
    assert_eq!(
        replica
            .call(printer::Print {
                doc: "found".into()
            })
            .await,
        Ok(1)
    );
    let text = logs.text();
    assert!(text.contains("only from authenticated hosts"), "{text}");
    assert!(text.contains("reserved for other identities"), "{text}");
    real.shutdown().await;
    registry.shutdown().await;
}
