//! A replica over a real socket: init, cached reads, changes, signals, slots, setters.

mod support;

use actix::Actor;
use actix_remote_objects::prelude::*;
use printer::ReplicaExt;
use support::*;

async fn host_and_replica(url: &str) -> (Host, Node, Replica<Printer>) {
    let host = Host::listen(url).await.unwrap();
    host.enable_remoting(PrinterService::new()).await.unwrap();
    let node = Node::connect(host.url().unwrap()).await.unwrap();
    let replica = node.acquire::<Printer>();
    (host, node, replica)
}

async fn exercise(url: &str) {
    let _guard = init();
    let (host, _node, replica) = host_and_replica(url).await;
    replica.wait_for_source(TIMEOUT).await.unwrap();
    assert_eq!(replica.state(), ReplicaState::Valid);
    assert_eq!(replica.ink_level(), 100);
    assert_eq!(replica.model(), "LaserJet");

    let mut events = replica.events();
    let job = replica
        .send(printer::Print {
            doc: "report".into(),
        })
        .await
        .unwrap()
        .unwrap();
    assert_eq!(job, 1);
    assert_eq!(
        replica.status(),
        Status::Printing {
            job: 1,
            doc: "report".into()
        }
    );
    match next(&mut events).await {
        Event::PropertyChanged(printer::PropertyChange::Status(s)) => {
            assert_eq!(s, replica.status())
        }
        other => panic!("unexpected {other:?}"),
    }

    replica.call(printer::Jam { tray: 2 }).await.unwrap();
    assert!(matches!(
        next(&mut events).await,
        Event::PropertyChanged(printer::PropertyChange::Status(Status::OutOfPaper))
    ));
    match next(&mut events).await {
        Event::Signal(printer::Signal::PaperJam(j)) => assert_eq!(j.tray, 2),
        other => panic!("unexpected {other:?}"),
    }
    host.shutdown().await;
}

#[actix::test]
async fn works_over_tcp() {
    exercise("tcp://127.0.0.1:0").await;
}

#[actix::test]
async fn works_over_a_unix_socket() {
    let (url, _dir) = socket_url();
    exercise(&url).await;
}

#[actix::test]
async fn a_source_running_on_another_arbiter_thread() {
    let _guard = init();
    let host = Host::listen("tcp://127.0.0.1:0").await.unwrap();
    let arbiter = actix::Arbiter::new();
    let service = PrinterService::new();
    let source = service.remote.clone();
    let addr = PrinterService::start_in_arbiter(&arbiter.handle(), move |_| service);
    host.enable_remoting_addr(addr, source.clone())
        .await
        .unwrap();

    let node = Node::connect(host.url().unwrap()).await.unwrap();
    let replica = node.acquire::<Printer>();
    replica.wait_for_source(TIMEOUT).await.unwrap();
    // The slot runs on the other thread; its change still arrives before its reply.
    assert_eq!(
        replica
            .call(printer::Print {
                doc: "threaded".into()
            })
            .await,
        Ok(1)
    );
    assert_eq!(
        replica.status(),
        Status::Printing {
            job: 1,
            doc: "threaded".into()
        }
    );
    assert_eq!(source.status(), replica.status());
    host.shutdown().await;
    arbiter.stop();
}

/// Regression: waiting for a name no host offers was a bare "timed out after 300ms".
#[actix::test]
async fn waiting_for_a_source_no_host_offers_says_so_and_lists_what_is_offered() {
    let _guard = init();
    let host = Host::listen("tcp://127.0.0.1:0").await.unwrap();
    host.enable_remoting(PrinterService::new()).await.unwrap();
    let node = Node::connect(host.url().unwrap()).await.unwrap();
    let wait = std::time::Duration::from_millis(300);
    let typed = node.acquire_named::<Printer>("Printre");
    let error = typed.wait_for_source(wait).await.unwrap_err();
    assert!(error.is_not_offered() && error.is_timeout(), "{error}");
    assert_eq!(
        error.to_string(),
        "timed out after 300ms: no connected host offers \"Printre\" (they offer: Printer)"
    );
    let dynamic = node.acquire_dynamic("Printre");
    let error = dynamic.wait_for_source(wait).await.unwrap_err();
    assert!(error.is_not_offered(), "{error}");
}
