//! A counter API: one property and one signal, for flooding a replica with both.

use actix::prelude::*;
use actix_remote_objects::prelude::*;

remote_object! {
    pub Counter {
        prop value: u64;
        signal tick(n: u64);
    }
}

pub struct CounterService(pub counter::SimpleSource);

impl Actor for CounterService {
    type Context = Context<Self>;
}

impl RemoteSource for CounterService {
    type Api = Counter;
    fn simple_source(&self) -> &counter::SimpleSource {
        &self.0
    }
}

/// A host on loopback TCP (with `config`) serving a counter, and a valid replica of it on a
/// node connected through a fault proxy, so a test can stall or cut the connection.
pub async fn counter_behind_proxy(
    config: HostConfig,
) -> (
    Host,
    counter::SimpleSource,
    super::proxy::FaultProxy,
    Node,
    Replica<Counter>,
) {
    let host = Host::listen_with("tcp://127.0.0.1:0", config)
        .await
        .unwrap();
    let source = counter::SimpleSource::default();
    host.enable_remoting(CounterService(source.clone()))
        .await
        .unwrap();
    let proxy = super::proxy::FaultProxy::start(host.url().unwrap()).await;
    let node = Node::connect(proxy.url()).await.unwrap();
    let replica = node.acquire::<Counter>();
    replica.wait_for_source(super::TIMEOUT).await.unwrap();
    (host, source, proxy, node, replica)
}
