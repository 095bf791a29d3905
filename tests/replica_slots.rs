//! Slot calls through a replica: results, each kind of failure, and ordering against the
//! changes a slot makes (contract item 1).

mod support;

use actix::prelude::*;
use actix_remote_objects::prelude::*;
use futures::{FutureExt, StreamExt};
use printer::ReplicaExt;
use support::*;

struct Setup {
    host: Host,
    service: Addr<PrinterService>,
    replica: Replica<Printer>,
    _node: Node,
}

async fn setup(url: &str) -> Setup {
    let host = Host::listen(url).await.unwrap();
    let service = host.enable_remoting(PrinterService::new()).await.unwrap();
    let node = Node::connect(host.url().unwrap()).await.unwrap();
    let replica = node.acquire::<Printer>();
    replica.wait_for_source(TIMEOUT).await.unwrap();
    Setup {
        host,
        service,
        replica,
        _node: node,
    }
}

async fn the_sources_error_reaches_the_caller_as_its_own(url: &str) {
    let _guard = init();
    let s = setup(url).await;
    let result = s
        .replica
        .send(printer::Fail {
            reason: "no toner".into(),
        })
        .await
        .unwrap();
    assert_eq!(result, Err(SlotError::Source("no toner".into())));
    s.host.shutdown().await;
}

async fn a_one_way_call_reaches_the_source_in_order_with_the_others(url: &str) {
    let _guard = init();
    let s = setup(url).await;
    let mut signals = s.replica.signals();
    // `do_send`: nobody waits, so the host runs it and answers nothing.
    s.replica.do_send(printer::Jam { tray: 3 });
    // Through the replica actor as well (`send`, not `call`), so the two queue in order.
    let job = s
        .replica
        .send(printer::Print {
            doc: "after".into(),
        })
        .await;
    assert_eq!(job.unwrap(), Ok(1), "a call after it is answered as usual");
    let printer::Signal::PaperJam(jam) = signals.next().await.unwrap();
    assert_eq!(jam.tray, 3);
    assert_eq!(
        s.replica.status(),
        Status::Printing {
            job: 1,
            doc: "after".into()
        },
        "the one-way call ran before the call sent after it"
    );
    s.host.shutdown().await;
}

async fn an_async_slot_replies_after_its_change_is_visible(url: &str) {
    let _guard = init();
    let s = setup(url).await;
    assert_eq!(s.replica.call(printer::Refill { level: 42 }).await, Ok(42));
    assert_eq!(s.replica.ink_level(), 42);
    s.host.shutdown().await;
}

async fn changes_a_slot_makes_arrive_before_its_reply(url: &str) {
    let _guard = init();
    let s = setup(url).await;
    let mut events = s.replica.events();
    for n in 1..=200u32 {
        let job = s
            .replica
            .call(printer::Print {
                doc: format!("doc {n}"),
            })
            .await
            .unwrap();
        assert_eq!(job, n);
        // The cache and the event stream already hold the change when the reply resolves:
        // no await in between.
        assert_eq!(
            s.replica.status(),
            Status::Printing {
                job,
                doc: format!("doc {n}")
            }
        );
        match events.next().now_or_never() {
            Some(Some(Event::PropertyChanged(printer::PropertyChange::Status(
                Status::Printing { job: j, .. },
            )))) => {
                assert_eq!(j, job)
            }
            other => panic!("the change was not delivered before the reply: {other:?}"),
        }
    }
    s.host.shutdown().await;
}

async fn pipelined_calls_all_complete_in_order_of_their_changes(url: &str) {
    let _guard = init();
    let s = setup(url).await;
    let calls: Vec<_> = (0..500)
        .map(|n| s.replica.send(printer::Print { doc: n.to_string() }))
        .collect();
    let jobs: Vec<u32> = futures::future::join_all(calls)
        .await
        .into_iter()
        .map(|r| r.unwrap().unwrap())
        .collect();
    assert_eq!(jobs, (1..=500).collect::<Vec<_>>());
    assert_eq!(
        s.replica.status(),
        Status::Printing {
            job: 500,
            doc: "499".into()
        }
    );
    s.host.shutdown().await;
}

async fn a_call_pending_when_the_connection_drops_fails_with_connection_lost(url: &str) {
    let _guard = init();
    let s = setup(url).await;
    let released = s.service.send(ArmHold).await.unwrap();
    let call = s.replica.send(printer::Hold {});
    let call = actix::spawn(call);
    // The source now holds the call: the connection goes away under it.
    let _release = released.await.unwrap();
    s.host.shutdown().await;
    assert_eq!(call.await.unwrap().unwrap(), Err(SlotError::ConnectionLost));
    wait_state(&s.replica, ReplicaState::Suspect).await;
}

async fn a_call_without_a_source_fails_at_once_with_not_connected(url: &str) {
    let _guard = init();
    let host = Host::listen(url).await.unwrap();
    let node = Node::connect(host.url().unwrap()).await.unwrap();
    let replica = node.acquire::<Printer>(); // nothing is remoted
    assert_eq!(replica.state(), ReplicaState::Default);
    assert_eq!(
        replica.call(printer::Print { doc: "x".into() }).await,
        Err(SlotError::NotConnected)
    );
    host.shutdown().await;
}

/// Two definitions of one API whose return type is spelled the same (`Value`) but means
/// different types: the declarations hash alike, the signatures (which cover what the types
/// are) do not.
mod wide_api {
    use super::*;
    pub type Value = u64;
    remote_object! {
        pub Wide as "Probe" {
            slot get() -> Value;
        }
    }
    pub struct WideService(pub wide::SimpleSource);
    impl Actor for WideService {
        type Context = Context<Self>;
    }
    impl RemoteSource for WideService {
        type Api = Wide;
        fn simple_source(&self) -> &wide::SimpleSource {
            &self.0
        }
    }
    impl Handler<wide::Get> for WideService {
        type Result = SlotResult<u64>;
        fn handle(&mut self, _: wide::Get, _: &mut Context<Self>) -> SlotResult<u64> {
            Ok(u64::MAX)
        }
    }
}

mod narrow_api {
    use super::*;
    pub type Value = u32;
    remote_object! {
        pub Narrow as "Probe" {
            slot get() -> Value;
        }
    }
}

async fn a_type_that_means_another_under_the_same_name_is_a_signature_mismatch(url: &str) {
    let _guard = init();
    use actix_remote_objects::RemoteObject;
    assert_eq!(wide_api::Wide::SIGNATURE, narrow_api::Narrow::SIGNATURE);
    assert_ne!(wide_api::Wide::signature(), narrow_api::Narrow::signature());
    let host = Host::listen(url).await.unwrap();
    host.enable_remoting(wide_api::WideService(Default::default()))
        .await
        .unwrap();
    let node = Node::connect(host.url().unwrap()).await.unwrap();
    let replica = node.acquire::<narrow_api::Narrow>();
    let error = replica.wait_for_source(TIMEOUT).await.unwrap_err();
    assert!(error.is_signature_mismatch(), "{error}");
    assert_eq!(
        replica.call(narrow_api::narrow::Get {}).await,
        Err(SlotError::NotConnected),
        "nothing is called on a source that means other types"
    );
    host.shutdown().await;
}

over_tcp_and_unix!(
    the_sources_error_reaches_the_caller_as_its_own,
    a_one_way_call_reaches_the_source_in_order_with_the_others,
    an_async_slot_replies_after_its_change_is_visible,
    changes_a_slot_makes_arrive_before_its_reply,
    pipelined_calls_all_complete_in_order_of_their_changes,
    a_call_pending_when_the_connection_drops_fails_with_connection_lost,
    a_call_without_a_source_fails_at_once_with_not_connected,
    a_type_that_means_another_under_the_same_name_is_a_signature_mismatch,
);

mod tight {
    use super::*;

    remote_object! {
        /// Counts its calls.
        pub Counter {
            slot next() -> u32;
        }
    }

    /// A source whose mailbox holds one message: calls past it wait for room.
    pub struct TightCounter {
        pub remote: counter::SimpleSource,
        pub calls: u32,
    }

    impl Actor for TightCounter {
        type Context = Context<Self>;
        fn started(&mut self, ctx: &mut Context<Self>) {
            ctx.set_mailbox_capacity(1);
        }
    }

    impl RemoteSource for TightCounter {
        type Api = Counter;
        fn simple_source(&self) -> &counter::SimpleSource {
            &self.remote
        }
    }

    impl Handler<counter::Next> for TightCounter {
        type Result = SlotResult<u32>;
        fn handle(&mut self, _: counter::Next, _: &mut Context<Self>) -> SlotResult<u32> {
            self.calls += 1;
            Ok(self.calls)
        }
    }
}

/// Pipelined calls to `source` (as the host serves it): every one answered, in order.
async fn all_pipelined_calls_are_answered(host: &Host) {
    let node = Node::connect(host.url().unwrap()).await.unwrap();
    let replica = node.acquire::<tight::Counter>();
    replica.wait_for_source(TIMEOUT).await.unwrap();
    let calls = (0..500).map(|_| replica.call(tight::counter::Next {}));
    let replies: Vec<u32> = futures::future::join_all(calls)
        .await
        .into_iter()
        .map(Result::unwrap)
        .collect();
    assert_eq!(replies, (1..=500).collect::<Vec<_>>());
}

/// The host gives the actors it starts a mailbox calls never fill, and calls go through one
/// sender; an actor that shrinks it, and one started elsewhere with actix's own, still get
/// every call, each waiting for room.
#[actix::test]
async fn pipelined_calls_reach_a_source_whose_mailbox_is_small() {
    let _guard = init();
    let host = Host::listen("tcp://127.0.0.1:0").await.unwrap();
    let counter = || tight::TightCounter {
        remote: Default::default(),
        calls: 0,
    };
    host.enable_remoting(counter()).await.unwrap();
    all_pipelined_calls_are_answered(&host).await;
    host.shutdown().await;

    let host = Host::listen("tcp://127.0.0.1:0").await.unwrap();
    let actor = counter();
    let source = actor.remote.clone();
    host.enable_remoting_addr(actor.start(), source)
        .await
        .unwrap();
    all_pipelined_calls_are_answered(&host).await;
    host.shutdown().await;
}
