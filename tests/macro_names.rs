//! Regression: an API may be named anything, `A` included (the generated slot dispatch once
//! used `A` for the source actor's type parameter, and such an API did not compile).

mod support;

use actix::prelude::*;
use actix_remote_objects::prelude::*;
use support::*;

remote_object! {
    pub A {
        prop x: u8 = 3;
        slot double(v: u8) -> u8;
    }
}

struct AService(a::SimpleSource);

impl Actor for AService {
    type Context = Context<Self>;
}

impl RemoteSource for AService {
    type Api = A;
    fn simple_source(&self) -> &a::SimpleSource {
        &self.0
    }
}

impl Handler<a::Double> for AService {
    type Result = SlotResult<u8>;
    fn handle(&mut self, msg: a::Double, _: &mut Context<Self>) -> SlotResult<u8> {
        Ok(msg.v * 2)
    }
}

#[actix::test]
async fn an_api_named_a_compiles_and_works() {
    let _guard = init();
    let host = Host::listen("tcp://127.0.0.1:0").await.unwrap();
    host.enable_remoting(AService(Default::default()))
        .await
        .unwrap();
    let node = Node::connect(host.url().unwrap()).await.unwrap();
    let replica = node.acquire::<A>();
    replica.wait_for_source(TIMEOUT).await.unwrap();
    assert_eq!(replica.properties().x, 3);
    assert_eq!(replica.call(a::Double { v: 21 }).await, Ok(42));
    host.shutdown().await;
}
