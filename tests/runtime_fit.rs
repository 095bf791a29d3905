//! The crate outside an actix System: under tokio (multi-thread, current-thread in a
//! `LocalSet`) and with no runtime at all (a plain thread and `futures`' executor). Hosts,
//! nodes and replicas work the same; the one call that needs the caller's arbiter says so.

mod support;

use std::time::Duration;

use actix_remote_objects::prelude::*;
use futures::StreamExt;
use support::*;

/// A whole session: a host on `url` serving the printer (made on the crate's thread), a node
/// connected to it, a replica that becomes valid, a slot call, and the change it made.
async fn a_whole_session(url: &str) {
    let host = Host::listen(url).await.unwrap();
    host.enable_remoting_with(PrinterService::new)
        .await
        .unwrap();
    let node = Node::connect(host.url().unwrap()).await.unwrap();
    let replica = node.acquire::<Printer>();
    replica.wait_for_source(TIMEOUT).await.unwrap();
    let mut changes = replica.property_changes();
    let job = replica
        .call(printer::Print {
            doc: "outside actix".into(),
        })
        .await
        .unwrap();
    assert_eq!(job, 1);
    let change = bounded(changes.next()).await.expect("a change");
    assert!(
        matches!(
            &change,
            printer::PropertyChange::Status(Status::Printing { job: 1, doc }) if doc == "outside actix"
        ),
        "{change:?}"
    );
    host.shutdown().await;
    node.shutdown().await;
}

/// `future`, failing the test after [`TIMEOUT`], on any executor (a thread keeps the time,
/// so no runtime's timer is needed).
async fn bounded<F: std::future::Future>(future: F) -> F::Output {
    let (tx, rx) = futures::channel::oneshot::channel::<()>();
    std::thread::spawn(move || {
        std::thread::sleep(TIMEOUT);
        let _ = tx.send(());
    });
    match futures::future::select(std::pin::pin!(future), rx).await {
        futures::future::Either::Left((output, _)) => output,
        futures::future::Either::Right(_) => panic!("nothing happened within {TIMEOUT:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_host_and_a_replica_work_under_a_multi_threaded_tokio_runtime() {
    let _guard = init();
    let panics = panics_in_process();
    a_whole_session("tcp://127.0.0.1:0").await;
    let (url, _dir) = socket_url();
    a_whole_session(&url).await;
    assert_eq!(panics_in_process(), panics, "a panic off the test's thread");
}

#[tokio::test]
async fn a_host_and_a_replica_work_in_a_tokio_local_set() {
    let _guard = init();
    let panics = panics_in_process();
    tokio::task::LocalSet::new()
        .run_until(a_whole_session("tcp://127.0.0.1:0"))
        .await;
    assert_eq!(panics_in_process(), panics, "a panic off the test's thread");
}

#[test]
fn a_host_and_a_replica_work_with_no_runtime_at_all() {
    let _guard = init();
    let panics = panics_in_process();
    futures::executor::block_on(a_whole_session("tcp://127.0.0.1:0"));
    assert_eq!(panics_in_process(), panics, "a panic off the test's thread");
}

#[test]
fn the_synchronous_calls_work_with_no_runtime_at_all() {
    let _guard = init();
    let panics = panics_in_process();
    // Made, served and acquired from plain synchronous code: no executor until the waits.
    let host = Host::new(HostConfig::default());
    let replica = host.acquire::<Printer>();
    let (ours, theirs) = tokio::io::duplex(64 * 1024);
    host.serve(ours);
    let node = Node::new(NodeConfig::default());
    let remote = node.acquire::<Printer>();
    futures::executor::block_on(async {
        host.enable_remoting_with(PrinterService::new)
            .await
            .unwrap();
        node.connect_stream(theirs).await.unwrap();
        replica.wait_for_source(TIMEOUT).await.unwrap();
        remote.wait_for_source(TIMEOUT).await.unwrap();
        let job = remote.call(printer::Print { doc: "a".into() }).await;
        assert_eq!(job, Ok(1));
        assert_eq!(
            host.connection_count(),
            2,
            "the in-process node and the stream"
        );
        host.shutdown().await;
    });
    assert_eq!(panics_in_process(), panics, "a panic off the test's thread");
}

#[test]
fn a_wait_times_out_with_no_runtime_at_all() {
    let _guard = init();
    let node = Node::new(NodeConfig::default());
    let replica = node.acquire::<Printer>();
    let waited = futures::executor::block_on(replica.wait_for_source(Duration::from_millis(20)));
    let error = waited.unwrap_err();
    assert!(error.is_timeout(), "{error}");
}

#[tokio::test]
async fn enabling_an_actor_outside_an_arbiter_says_what_to_do_instead() {
    let _guard = init();
    let host = Host::listen("tcp://127.0.0.1:0").await.unwrap();
    let error = host
        .enable_remoting(PrinterService::new())
        .await
        .unwrap_err();
    assert!(error.is_no_runtime(), "{error:?}");
    let text = error.to_string();
    assert!(text.contains("Host::enable_remoting_with"), "{text}");
    let error = host
        .enable_remoting_supervised(PrinterService::new)
        .await
        .unwrap_err();
    assert!(error.is_no_runtime(), "{error:?}");
    assert!(host.source_names().is_empty());
    host.shutdown().await;
}

/// Asks an actor which thread it runs on.
struct WhichThread;
impl actix::Message for WhichThread {
    type Result = std::thread::ThreadId;
}
impl actix::Handler<WhichThread> for PrinterService {
    type Result = actix::MessageResult<WhichThread>;
    fn handle(&mut self, _: WhichThread, _: &mut actix::Context<Self>) -> Self::Result {
        actix::MessageResult(std::thread::current().id())
    }
}

#[actix::test]
async fn inside_an_actix_system_everything_runs_on_its_arbiter() {
    let _guard = init();
    let host = Host::listen("tcp://127.0.0.1:0").await.unwrap();
    let service = host.enable_remoting(PrinterService::new()).await.unwrap();
    // Started right here, not on the crate's thread: its handlers see this thread.
    let here = std::thread::current().id();
    let there = service.send(WhichThread).await.unwrap();
    assert_eq!(here, there);
    let made = host.enable_remoting_with(PrinterService::new).await;
    assert!(
        made.unwrap_err().is_usage(),
        "the name is taken: same checks"
    );
    host.shutdown().await;
}
