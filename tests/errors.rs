//! What errors say and what they let a program tell apart: the OS's i/o kind, the URL of a
//! host that never answered, and chains that print every cause once.

mod support;

use std::error::Error as _;
use std::time::Duration;

use actix_remote_objects::prelude::*;
use actix_remote_objects::Error;
use support::*;
use tokio::net::TcpListener;

/// Every link of an error chain, as printed.
fn chain(error: &Error) -> Vec<String> {
    let mut links = vec![error.to_string()];
    let mut next = error.source();
    while let Some(cause) = next {
        links.push(cause.to_string());
        next = cause.source();
    }
    links
}

/// A chain printed link by link says no cause twice.
fn assert_each_cause_once(error: &Error) {
    let links = chain(error);
    for pair in links.windows(2) {
        assert!(
            !pair[0].contains(&pair[1]),
            "{:?} repeats its cause {:?}",
            pair[0],
            pair[1]
        );
    }
}

/// A port nothing listens on (bound, then closed).
async fn closed_port() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("tcp://{}", listener.local_addr().unwrap());
    drop(listener);
    url
}

#[actix::test]
async fn a_refused_connection_is_told_from_an_address_in_use() {
    let _guard = init();
    let refused = Node::connect(&closed_port().await).await.unwrap_err();
    assert!(refused.is_io(), "{refused}");
    assert_eq!(
        refused.io_kind(),
        Some(std::io::ErrorKind::ConnectionRefused)
    );
    assert_each_cause_once(&refused);

    let host = Host::listen("tcp://127.0.0.1:0").await.unwrap();
    let in_use = Host::listen(host.url().unwrap()).await.unwrap_err();
    assert_eq!(in_use.io_kind(), Some(std::io::ErrorKind::AddrInUse));
    assert!(in_use.to_string().contains(host.url().unwrap()), "{in_use}");
    assert_each_cause_once(&in_use);

    let not_io = Node::connect("nope://x").await.unwrap_err();
    assert_eq!(not_io.io_kind(), None);
    host.shutdown().await;
}

#[actix::test]
async fn a_host_that_never_answers_is_named_in_the_timeout() {
    let _guard = init();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("tcp://{}", listener.local_addr().unwrap());
    // Accepts, then says nothing until the node gives up.
    let silent = tokio::spawn(async move { listener.accept().await.unwrap() });
    let config = NodeConfig::default().handshake_timeout(Duration::from_millis(50));
    let error = Node::connect_with(&url, config).await.unwrap_err();
    assert!(error.is_timeout(), "{error}");
    let text = error.to_string();
    assert!(text.contains(&url), "{text}");
    assert!(text.contains("before the host's handshake"), "{text}");
    drop(silent.await.unwrap());
}

#[actix::test]
async fn a_closed_connection_and_a_refused_handshake_print_each_cause_once() {
    let _guard = init();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("tcp://{}", listener.local_addr().unwrap());
    // Accepts and closes at once.
    let closing = tokio::spawn(async move { drop(listener.accept().await.unwrap()) });
    let error = Node::connect(&url).await.unwrap_err();
    closing.await.unwrap();
    assert_each_cause_once(&error);
    assert!(
        error.source().is_none(),
        "the message holds the cause: {error}"
    );
}
