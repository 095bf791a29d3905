//! `tls://` on both sides, over real sockets with certificates made at test time: a TLS
//! pair (through a reconnect and with heartbeats), mutual TLS with the client certificate's
//! name as the peer's identity, and the failures a user meets, each with a clear error: a
//! certificate from another authority, no client certificate where one is required, and a
//! plain client against a TLS host (and the reverse). The registry advertises `tls://`.

mod support;

use std::time::Duration;

use actix_remote_objects::prelude::*;
use actix_remote_objects::security::{TlsClient, TlsServer};
use support::certs::Pki;
use support::*;

fn host_tls(pki: &Pki) -> TlsServer {
    let host = pki.issue(&["localhost", "127.0.0.1"]);
    TlsServer::new(host.cert_pem.as_bytes(), host.key_pem.as_bytes()).unwrap()
}

fn node_tls(pki: &Pki) -> NodeConfig {
    NodeConfig::default()
        .tls(TlsClient::new(pki.ca_pem.as_bytes()).unwrap())
        .heartbeat(Duration::from_millis(200))
        .reconnect_delays(Duration::from_millis(5), Duration::from_millis(50))
}

/// A host certificate and a server that verifies clients against `pki` (`optional`: a client
/// may also come without one).
fn verifying_tls(pki: &Pki, optional: bool) -> TlsServer {
    let host = pki.issue(&["localhost", "127.0.0.1"]);
    let (cert, key, roots) = (
        host.cert_pem.as_bytes(),
        host.key_pem.as_bytes(),
        pki.ca_pem.as_bytes(),
    );
    let tls = if optional {
        TlsServer::accepting_client_certificates(cert, key, roots)
    } else {
        TlsServer::requiring_client_certificates(cert, key, roots)
    };
    tls.unwrap()
}

/// A node presenting a certificate for `name`, signed by `pki`.
fn certified_node(pki: &Pki, name: &str) -> NodeConfig {
    let client = pki.issue(&[name]);
    let tls = TlsClient::with_certificate(
        pki.ca_pem.as_bytes(),
        client.cert_pem.as_bytes(),
        client.key_pem.as_bytes(),
    )
    .unwrap();
    NodeConfig::default().tls(tls)
}

async fn tls_printer_host(url: &str, config: HostConfig) -> Host {
    let host = Host::listen_with(url, config).await.unwrap();
    host.enable_remoting(PrinterService::new()).await.unwrap();
    host
}

#[actix::test]
async fn a_tls_pair_works_through_a_reconnect() {
    let _guard = init();
    let pki = Pki::new("test CA");
    let config = HostConfig::default().tls(host_tls(&pki));
    let host = tls_printer_host("tls://127.0.0.1:0", config.clone()).await;
    let url = host.url().unwrap().to_owned();
    assert!(url.starts_with("tls://127.0.0.1:"), "{url}");
    let node = Node::connect_with(&url, node_tls(&pki)).await.unwrap();
    let replica = node.acquire::<Printer>();
    replica.wait_for_source(TIMEOUT).await.unwrap();
    assert_eq!(
        replica
            .call(printer::Print {
                doc: "over tls".into()
            })
            .await,
        Ok(1)
    );
    // The host goes away and comes back on the same port: the replica re-initializes.
    host.shutdown().await;
    wait_state(&replica, ReplicaState::Suspect).await;
    let host = tls_printer_host(&url, config).await;
    wait_state(&replica, ReplicaState::Valid).await;
    assert_eq!(
        replica
            .call(printer::Print {
                doc: "again".into()
            })
            .await,
        Ok(1)
    );
    host.shutdown().await;
}

#[actix::test]
async fn mutual_tls_gives_the_host_the_clients_identity() {
    let _guard = init();
    let pki = Pki::new("test CA");
    let tls = verifying_tls(&pki, false);
    let host = tls_printer_host("tls://127.0.0.1:0", HostConfig::default().tls(tls)).await;
    let url = host.url().unwrap();
    let node = Node::connect_with(url, certified_node(&pki, "sensor-7.example"))
        .await
        .unwrap();
    node.acquire::<Printer>()
        .wait_for_source(TIMEOUT)
        .await
        .unwrap();
    let peers = host.peers();
    assert_eq!(peers.len(), 1);
    assert_eq!(peers[0].identity.as_deref(), Some("sensor-7.example"));
    let certificate = peers[0].certificate.as_ref().unwrap();
    assert_eq!(certificate.common_name.as_deref(), Some("sensor-7.example"));

    // Without a client certificate: refused, and the error says TLS.
    let error = Node::connect_with(url, node_tls(&pki)).await.unwrap_err();
    assert!(error.is_tls(), "{error}");
    host.shutdown().await;
}

#[actix::test]
async fn optional_client_certificates_admit_both_and_name_only_the_certified() {
    let _guard = init();
    let pki = Pki::new("test CA");
    let tls = verifying_tls(&pki, true);
    let host = tls_printer_host("tls://127.0.0.1:0", HostConfig::default().tls(tls)).await;
    let url = host.url().unwrap();
    let anonymous = Node::connect_with(url, node_tls(&pki)).await.unwrap();
    anonymous
        .acquire::<Printer>()
        .wait_for_source(TIMEOUT)
        .await
        .unwrap();
    let named = Node::connect_with(url, certified_node(&pki, "kiosk.example"))
        .await
        .unwrap();
    named
        .acquire::<Printer>()
        .wait_for_source(TIMEOUT)
        .await
        .unwrap();
    let mut identities: Vec<_> = host.peers().into_iter().map(|p| p.identity).collect();
    identities.sort();
    assert_eq!(identities, [None, Some("kiosk.example".to_string())]);
    host.shutdown().await;
}

#[actix::test]
async fn a_certificate_from_another_authority_is_refused() {
    let _guard = init();
    let pki = Pki::new("the host's CA");
    let host = tls_printer_host(
        "tls://127.0.0.1:0",
        HostConfig::default().tls(host_tls(&pki)),
    )
    .await;
    let stranger = Pki::new("another CA");
    let error = Node::connect_with(host.url().unwrap(), node_tls(&stranger))
        .await
        .unwrap_err();
    assert!(error.is_tls(), "{error}");
    assert!(error.to_string().contains("certificate"), "{error}");
    host.shutdown().await;
}

#[actix::test]
async fn plain_and_tls_peers_tell_each_other_what_is_wrong() {
    let _guard = init();
    let (logs, _log_guard) = Logs::capture();
    let pki = Pki::new("test CA");
    let tls_host = tls_printer_host(
        "tls://127.0.0.1:0",
        HostConfig::default().tls(host_tls(&pki)),
    )
    .await;
    // A plain node against the TLS host.
    let plain_url = tls_host.url().unwrap().replace("tls://", "tcp://");
    let error = Node::connect(&plain_url).await.unwrap_err();
    assert!(error.is_tls(), "{error}");
    assert!(error.to_string().contains("tls://"), "{error}");
    // A TLS node against a plain host.
    let plain_host = Host::listen("tcp://127.0.0.1:0").await.unwrap();
    let tls_url = plain_host.url().unwrap().replace("tcp://", "tls://");
    let error = Node::connect_with(&tls_url, node_tls(&pki))
        .await
        .unwrap_err();
    assert!(error.is_tls(), "{error}");
    assert!(logs.text().contains("the bytes are TLS"), "{}", logs.text());
    // A tls:// URL without TLS settings, on either side.
    let error = Node::connect(tls_host.url().unwrap()).await.unwrap_err();
    assert!(error.to_string().contains("NodeConfig::tls"), "{error}");
    let error = Host::listen("tls://127.0.0.1:0").await.unwrap_err();
    assert!(
        error.is_tls() && error.to_string().contains("HostConfig::tls"),
        "{error}"
    );
    tls_host.shutdown().await;
    plain_host.shutdown().await;
}

#[actix::test]
async fn the_registry_works_over_tls_and_advertises_tls_urls() {
    let _guard = init();
    let pki = Pki::new("test CA");
    let registry = RegistryHost::listen_with(
        "tls://127.0.0.1:0",
        HostConfig::default().tls(host_tls(&pki)),
    )
    .await
    .unwrap();
    let registry_url = registry.url().unwrap().to_owned();
    let host = Host::listen_with(
        "tls://127.0.0.1:0",
        HostConfig::default()
            .tls(host_tls(&pki))
            .registry_url(&registry_url)
            .registry_node(node_tls(&pki)),
    )
    .await
    .unwrap();
    host.wait_for_registry(TIMEOUT).await.unwrap();
    host.enable_remoting(PrinterService::new()).await.unwrap();
    let node = Node::new(node_tls(&pki));
    node.set_registry_url(&registry_url).unwrap();
    let replica = node.acquire::<Printer>();
    replica.wait_for_source(TIMEOUT).await.unwrap();
    let listed = node.network_sources();
    assert!(
        listed["Printer"].host_url.starts_with("tls://"),
        "{listed:?}"
    );
    assert_eq!(
        replica
            .call(printer::Print {
                doc: "found".into()
            })
            .await,
        Ok(1)
    );
    host.shutdown().await;
    registry.shutdown().await;
}
