//! A source actor that stops or panics is noticed: its source is withdrawn (replicas go
//! `Suspect`, calls fail), the host and its other sources go on, and a source enabled with
//! a factory is restarted and its replicas re-initialize with the new actor's values.

mod support;

use actix::prelude::*;
use actix_remote_objects::prelude::*;
use futures::StreamExt;
use support::*;

remote_object! {
    pub Crashy {
        prop count: u32;
        slot bump() -> u32;
        slot crash();
        slot stop();
    }
}

struct CrashyService(crashy::SimpleSource);

impl Actor for CrashyService {
    type Context = Context<Self>;
}

impl RemoteSource for CrashyService {
    type Api = Crashy;
    fn simple_source(&self) -> &crashy::SimpleSource {
        &self.0
    }
}

impl Handler<crashy::Bump> for CrashyService {
    type Result = SlotResult<u32>;
    fn handle(&mut self, _: crashy::Bump, _: &mut Context<Self>) -> SlotResult<u32> {
        let count = self.0.count() + 1;
        self.0.set_count(count)?;
        Ok(count)
    }
}

impl Handler<crashy::Crash> for CrashyService {
    type Result = SlotResult<()>;
    fn handle(&mut self, _: crashy::Crash, _: &mut Context<Self>) -> SlotResult<()> {
        panic!("the source crashes on purpose");
    }
}

impl Handler<crashy::Stop> for CrashyService {
    type Result = SlotResult<()>;
    fn handle(&mut self, _: crashy::Stop, ctx: &mut Context<Self>) -> SlotResult<()> {
        ctx.stop();
        Ok(())
    }
}

async fn wait_for_state(replica: &Replica<Crashy>, wanted: ReplicaState) {
    let mut states = replica.state_changes();
    let reached = async {
        while let Some(state) = states.next().await {
            if state == wanted {
                return;
            }
        }
    };
    tokio::time::timeout(TIMEOUT, reached)
        .await
        .unwrap_or_else(|_| panic!("never {wanted:?}; {:?}", replica.state()));
}

#[actix::test]
async fn a_source_actor_that_stops_is_withdrawn_and_its_replicas_go_suspect() {
    let _guard = init();
    let host = Host::listen("tcp://127.0.0.1:0").await.unwrap();
    host.enable_remoting(CrashyService(Default::default()))
        .await
        .unwrap();
    let node = Node::connect(host.url().unwrap()).await.unwrap();
    let replica = node.acquire::<Crashy>();
    replica.wait_for_source(TIMEOUT).await.unwrap();
    assert_eq!(replica.call(crashy::Bump {}).await, Ok(1));
    let _ = replica.call(crashy::Stop {}).await;
    wait_for_state(&replica, ReplicaState::Suspect).await;
    assert_eq!(
        replica.properties().count,
        1,
        "a suspect replica keeps its values"
    );
    assert_eq!(
        replica.call(crashy::Bump {}).await,
        Err(SlotError::NotConnected)
    );
    assert!(host.source_names().is_empty(), "{:?}", host.source_names());
    host.shutdown().await;
}

#[actix::test]
async fn a_panicking_handler_withdraws_its_source_alone() {
    let _guard = init().expecting_panics(1);
    let host = Host::listen("tcp://127.0.0.1:0").await.unwrap();
    host.enable_remoting(CrashyService(Default::default()))
        .await
        .unwrap();
    host.enable_remoting_as(CrashyService(Default::default()), "Steady")
        .await
        .unwrap();
    let node = Node::connect(host.url().unwrap()).await.unwrap();
    let crashing = node.acquire::<Crashy>();
    let steady = node.acquire_named::<Crashy>("Steady");
    crashing.wait_for_source(TIMEOUT).await.unwrap();
    steady.wait_for_source(TIMEOUT).await.unwrap();
    // The source is withdrawn as the panic ends its actor, before the call's outcome is
    // known: the call fails as any call pending on a source that went away.
    let failed = crashing.call(crashy::Crash {}).await;
    assert_eq!(failed, Err(SlotError::ConnectionLost));
    wait_for_state(&crashing, ReplicaState::Suspect).await;
    // The host, the connection and the other source go on.
    assert_eq!(steady.call(crashy::Bump {}).await, Ok(1));
    assert_eq!(steady.state(), ReplicaState::Valid);
    assert_eq!(host.source_names(), ["Steady"]);
    host.shutdown().await;
}

#[actix::test]
async fn a_supervised_source_is_restarted_and_its_replicas_reinitialize() {
    let _guard = init().expecting_panics(1);
    let host = Host::listen("tcp://127.0.0.1:0").await.unwrap();
    let supervised = host
        .enable_remoting_supervised(|| CrashyService(Default::default()))
        .await
        .unwrap();
    let first = supervised.addr();
    let node = Node::connect(host.url().unwrap()).await.unwrap();
    let replica = node.acquire::<Crashy>();
    replica.wait_for_source(TIMEOUT).await.unwrap();
    assert_eq!(replica.call(crashy::Bump {}).await, Ok(1));
    assert_eq!(replica.call(crashy::Bump {}).await, Ok(2));
    let mut states = replica.state_changes();
    let _ = replica.call(crashy::Crash {}).await;
    // Suspect while the source is down, then Valid again with the new actor's values.
    let seen = tokio::time::timeout(TIMEOUT, async {
        let mut seen = Vec::new();
        while let Some(state) = states.next().await {
            seen.push(state);
            if seen.contains(&ReplicaState::Suspect) && state == ReplicaState::Valid {
                return seen;
            }
        }
        seen
    })
    .await
    .expect("the replica re-initializes");
    assert!(seen.contains(&ReplicaState::Suspect), "{seen:?}");
    assert_eq!(
        replica.properties().count,
        0,
        "the restarted source's values"
    );
    assert_eq!(replica.call(crashy::Bump {}).await, Ok(1));
    assert_eq!(supervised.restarts(), 1);
    assert!(!first.connected(), "the first actor is gone");
    assert!(supervised.addr().connected());
    // Disabling withdraws it like any source.
    host.disable_remoting("Crashy").await.unwrap();
    wait_for_state(&replica, ReplicaState::Suspect).await;
    assert!(host.source_names().is_empty());
    host.shutdown().await;
}

#[actix::test]
async fn an_actor_started_elsewhere_that_stopped_is_withdrawn_at_the_next_call() {
    let _guard = init();
    let host = Host::listen("tcp://127.0.0.1:0").await.unwrap();
    let state = crashy::SimpleSource::default();
    let addr = CrashyService(state.clone()).start();
    host.enable_remoting_addr(addr.clone(), state)
        .await
        .unwrap();
    let node = Node::connect(host.url().unwrap()).await.unwrap();
    let replica = node.acquire::<Crashy>();
    replica.wait_for_source(TIMEOUT).await.unwrap();
    // Stopped by its owner, not through a replica: the host cannot watch an actor it did
    // not start, so it learns at the next call.
    addr.send(crashy::Stop {}).await.unwrap().unwrap();
    drop(addr);
    // The host withdraws the source as the call finds the actor gone, so the call fails
    // as a call pending on a source that went away.
    let failed = replica.call(crashy::Bump {}).await;
    assert_eq!(failed, Err(SlotError::ConnectionLost));
    wait_for_state(&replica, ReplicaState::Suspect).await;
    assert!(host.source_names().is_empty());
    host.shutdown().await;
}
