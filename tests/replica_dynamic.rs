//! Dynamic replicas over real sockets: no compile-time types, the API from the host.

mod support;

use actix::prelude::*;
use actix_remote_objects::dynamic::{DynamicError, DynamicEvent, DynamicReplica, Value};
use actix_remote_objects::prelude::*;
use printer::ReplicaExt;
use serde_json::json;
use support::*;

async fn host(url: &str) -> (Host, Addr<PrinterService>) {
    let host = Host::listen(url).await.unwrap();
    let service = host.enable_remoting(PrinterService::new()).await.unwrap();
    (host, service)
}

async fn dynamic(host: &Host) -> (Node, DynamicReplica) {
    let node = Node::connect(host.url().unwrap()).await.unwrap();
    let replica = node.acquire_dynamic("Printer");
    replica.wait_for_source(TIMEOUT).await.unwrap();
    (node, replica)
}

async fn introspects_reads_and_calls(url: &str) {
    let _guard = init();
    let (host, _) = host(url).await;
    let node = Node::connect(host.url().unwrap()).await.unwrap();
    let replica = node.acquire_dynamic("Printer");
    assert_eq!(replica.state(), ReplicaState::Uninitialized);
    assert_eq!(
        replica.property("ink_level"),
        Err(DynamicError::NotInitialized)
    );
    replica.wait_for_source(TIMEOUT).await.unwrap();

    let schema = replica.schema().unwrap();
    let names: Vec<&str> = schema.properties.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["ink_level", "status", "name", "model"]);
    assert_eq!(schema.slot("print").unwrap().1.args[0].name, "doc");
    assert_eq!(replica.property("ink_level").unwrap(), Value::UInt(100));
    assert_eq!(replica.property("status").unwrap().to_json(), json!("Idle"));

    let mut events = replica.events();
    let job = replica
        .call("print", vec![Value::Str("report".into())])
        .await
        .unwrap();
    assert_eq!(job, Value::UInt(1));
    // The change the slot made arrived before its reply, as for typed replicas.
    assert_eq!(
        replica.property("status").unwrap().to_json(),
        json!({"Printing": {"job": 1, "doc": "report"}})
    );
    match next(&mut events).await {
        DynamicEvent::PropertyChanged { name, .. } => assert_eq!(name, "status"),
        other => panic!("unexpected {other:?}"),
    }
    replica.call("jam", vec![Value::UInt(2)]).await.unwrap();
    next(&mut events).await; // status: OutOfPaper
    assert_eq!(
        next(&mut events).await,
        DynamicEvent::Signal {
            name: "paper_jam".into(),
            args: vec![("tray".into(), Value::UInt(2))]
        }
    );
    host.shutdown().await;
}

async fn refuses_bad_calls_without_sending_anything(url: &str) {
    let _guard = init();
    let (host, _) = host(url).await;
    let (_node, replica) = dynamic(&host).await;
    assert_eq!(
        replica.call("paint", vec![]).await,
        Err(DynamicError::UnknownSlot("paint".into()))
    );
    assert_eq!(
        replica.call("print", vec![]).await,
        Err(DynamicError::ArgumentCount {
            slot: "print".into(),
            expected: 1,
            found: 0
        })
    );
    let wrong = replica
        .call("print", vec![Value::UInt(5)])
        .await
        .unwrap_err();
    assert!(matches!(wrong, DynamicError::Value(_)), "{wrong}");
    assert_eq!(
        replica.set_property("ink_level", &Value::UInt(1)),
        Err(DynamicError::NotWritable("ink_level".into()))
    );
    assert_eq!(
        replica.set_property("colour", &Value::Unit),
        Err(DynamicError::UnknownProperty("colour".into()))
    );
    assert!(matches!(
        replica.set_property("name", &Value::UInt(1)),
        Err(DynamicError::Value(_))
    ));
    // None of those reached the source: the first real print is job 1.
    assert_eq!(
        replica
            .call("print", vec![Value::Str("first".into())])
            .await,
        Ok(Value::UInt(1))
    );
    host.shutdown().await;
}

async fn sets_read_write_properties(url: &str) {
    let _guard = init();
    let (host, _) = host(url).await;
    let (_node, replica) = dynamic(&host).await;
    let mut events = replica.events();
    replica
        .set_property("name", &Value::Str("lab".into()))
        .unwrap();
    assert_eq!(
        next(&mut events).await,
        DynamicEvent::PropertyChanged {
            name: "name".into(),
            value: Value::Str("lab".into())
        }
    );
    assert_eq!(replica.property("name").unwrap(), Value::Str("lab".into()));
    host.shutdown().await;
}

async fn shares_one_subscription_with_a_typed_replica(url: &str) {
    let _guard = init();
    let (host, _) = host(url).await;
    let node = Node::connect(host.url().unwrap()).await.unwrap();
    let typed = node.acquire::<Printer>();
    typed.wait_for_source(TIMEOUT).await.unwrap();
    let dynamic = node.acquire_dynamic("Printer");
    dynamic.wait_for_source(TIMEOUT).await.unwrap();
    assert_eq!(host.subscriber_count("Printer"), Some(1));

    // Calls from both, interleaved: each reply reaches its own caller.
    let (a, b) = futures::join!(
        typed.call(printer::Print {
            doc: "typed".into()
        }),
        dynamic.call("print", vec![Value::Str("dynamic".into())])
    );
    let jobs = {
        let mut jobs = vec![
            a.unwrap() as u64,
            match b.unwrap() {
                Value::UInt(j) => j,
                other => panic!("{other:?}"),
            },
        ];
        jobs.sort();
        jobs
    };
    assert_eq!(jobs, [1, 2]);
    // Both see the same state.
    let mut changes = dynamic.events();
    typed.call(printer::Refill { level: 7 }).await.unwrap();
    assert_eq!(typed.ink_level(), 7);
    assert_eq!(
        next(&mut changes).await,
        DynamicEvent::PropertyChanged {
            name: "ink_level".into(),
            value: Value::UInt(7)
        }
    );

    // Dropping one keeps the subscription for the other; dropping both releases it.
    drop(typed);
    assert_eq!(
        dynamic
            .call("print", vec![Value::Str("after".into())])
            .await,
        Ok(Value::UInt(3))
    );
    assert_eq!(host.subscriber_count("Printer"), Some(1));
    drop(dynamic);
    let other = node.acquire_named::<Printer>("Other");
    host.enable_remoting_as(PrinterService::new(), "Other")
        .await
        .unwrap();
    other.wait_for_source(TIMEOUT).await.unwrap();
    assert_eq!(host.subscriber_count("Printer"), Some(0));
    host.shutdown().await;
}

over_tcp_and_unix!(
    introspects_reads_and_calls,
    refuses_bad_calls_without_sending_anything,
    sets_read_write_properties,
    shares_one_subscription_with_a_typed_replica,
);

#[actix::test]
async fn a_dynamic_replica_survives_a_reconnect() {
    let _guard = init();
    let (host, _) = host("tcp://127.0.0.1:0").await;
    let proxy = support::proxy::FaultProxy::start(host.url().unwrap()).await;
    let node = Node::connect(proxy.url()).await.unwrap();
    let replica = node.acquire_dynamic("Printer");
    replica.wait_for_source(TIMEOUT).await.unwrap();
    proxy.cut();
    wait_state_dynamic(&replica, ReplicaState::Suspect).await;
    assert_eq!(
        replica.call("print", vec![Value::Str("x".into())]).await,
        Err(DynamicError::Slot(SlotError::NotConnected))
    );
    proxy.pass();
    wait_state_dynamic(&replica, ReplicaState::Valid).await;
    assert_eq!(
        replica.call("print", vec![Value::Str("x".into())]).await,
        Ok(Value::UInt(1))
    );
    host.shutdown().await;
}

async fn wait_state_dynamic(replica: &DynamicReplica, state: ReplicaState) {
    let mut states = replica.state_changes();
    while next(&mut states).await != state {}
}

#[actix::test]
async fn a_connected_node_knows_what_its_host_offers() {
    let _guard = init();
    let (host, _) = host("tcp://127.0.0.1:0").await;
    host.enable_remoting_as(PrinterService::new(), "Backup")
        .await
        .unwrap();
    let node = Node::connect(host.url().unwrap()).await.unwrap();
    let offered = node.offered_sources().await.unwrap();
    let names: Vec<&str> = offered.iter().map(|o| o.name.as_str()).collect();
    assert_eq!(names, ["Backup", "Printer"]);
    assert!(offered.iter().all(|o| o.api == "Printer"));
    host.shutdown().await;
}

/// serde-reflection ends a recursion at an enum's first variant; this one recurses there.
#[derive(Debug, Clone, PartialEq, Default, serde::Serialize, serde::Deserialize)]
pub enum Chain {
    Link(Box<Chain>),
    #[default]
    End,
}

remote_object! {
    pub Chained {
        prop chain: Chain;
    }
}

struct ChainService(chained::SimpleSource);

impl Actor for ChainService {
    type Context = Context<Self>;
}

impl RemoteSource for ChainService {
    type Api = Chained;
    fn simple_source(&self) -> &chained::SimpleSource {
        &self.0
    }
}

/// Describing this API once overflowed the host's stack (a dynamic acquire killed the
/// host); now the dynamic replica is refused with the reason, and typed replicas still work.
#[actix::test]
async fn a_type_that_cannot_be_described_refuses_the_dynamic_replica_with_the_reason() {
    let _guard = init();
    let host = Host::listen("tcp://127.0.0.1:0").await.unwrap();
    let source = chained::SimpleSource::default();
    host.enable_remoting(ChainService(source.clone()))
        .await
        .unwrap();
    let node = Node::connect(host.url().unwrap()).await.unwrap();
    let dynamic = node.acquire_dynamic("Chained");
    let error = dynamic.wait_for_source(TIMEOUT).await.unwrap_err();
    assert!(error.is_refused(), "{error}");
    assert!(error.to_string().contains("recursive"), "{error}");
    assert_eq!(dynamic.state(), ReplicaState::Refused);

    let typed = node.acquire::<Chained>();
    typed.wait_for_source(TIMEOUT).await.unwrap();
    source.set_chain(Chain::Link(Box::new(Chain::End))).unwrap();
    let mut changes = typed.property_changes();
    if typed.properties().chain != Chain::Link(Box::new(Chain::End)) {
        next(&mut changes).await;
    }
    assert_eq!(typed.properties().chain, Chain::Link(Box::new(Chain::End)));
    host.shutdown().await;
}
