//! A consumer that stops reading cannot grow a node's memory: every stream and recipient
//! subscription holds a bounded number of events; past it property values coalesce (the
//! latest wins, so the final value still arrives) and the oldest signals are dropped and
//! reported as `Event::Lagged`.

mod support;

use actix::prelude::*;
use actix_remote_objects::prelude::*;
use counter::ReplicaExt;
use support::counter_api::*;
use support::*;

const CAPACITY: usize = 64;
const ROUNDS: u64 = 20_000;

async fn setup() -> (Host, counter::SimpleSource, Node, Replica<Counter>) {
    let host = Host::listen("tcp://127.0.0.1:0").await.unwrap();
    let source = counter::SimpleSource::default();
    host.enable_remoting(CounterService(source.clone()))
        .await
        .unwrap();
    let config = NodeConfig::default().event_buffer(CAPACITY);
    let node = Node::connect_with(host.url().unwrap(), config)
        .await
        .unwrap();
    let replica = node.acquire::<Counter>();
    replica.wait_for_source(TIMEOUT).await.unwrap();
    (host, source, node, replica)
}

/// Changes the value and emits a tick, `ROUNDS` times, and waits until a reader that keeps
/// up has seen the last change (so every subscription has been offered everything).
async fn produce(source: &counter::SimpleSource, replica: &Replica<Counter>) {
    let mut keeping_up = replica.property_changes();
    for n in 1..=ROUNDS {
        source.set_value(n).unwrap();
        source.emit_tick(n).unwrap();
        // Give the node a turn now and then, as a real workload would.
        if n % 1000 == 0 {
            while !matches!(next(&mut keeping_up).await, counter::PropertyChange::Value(v) if v == n)
            {
            }
        }
    }
}

#[actix::test]
async fn an_unread_stream_lags_instead_of_growing_and_still_converges() {
    let _guard = init();
    let (host, source, _node, replica) = setup().await;
    let mut lagging = replica.events();
    produce(&source, &replica).await;

    let mut lost = 0;
    let mut events = 0;
    let mut last_value = None;
    while last_value != Some(ROUNDS) {
        match next(&mut lagging).await {
            Event::Lagged(n) => lost += n,
            Event::PropertyChanged(counter::PropertyChange::Value(v)) => last_value = Some(v),
            Event::Signal(_) => {}
            other => panic!("unexpected {other:?}"),
        }
        events += 1;
    }
    eprintln!("FIGURE lagging stream: {events} events read after {ROUNDS} changes and {ROUNDS} signals; {lost} signals reported lost");
    // What it held: its capacity, one value per property, and the lag report.
    assert!(events <= CAPACITY + 2, "{events} events were queued");
    assert!(lost > 0 && lost < ROUNDS, "{lost} signals lost");
    assert_eq!(replica.value(), ROUNDS);
    host.shutdown().await;
}

/// An actor that handles nothing until released, then counts what it got.
struct Stuck {
    release: tokio::sync::watch::Receiver<bool>,
    got: futures::channel::mpsc::UnboundedSender<counter::PropertyChange>,
}

impl Actor for Stuck {
    type Context = Context<Self>;
}

impl Handler<counter::PropertyChange> for Stuck {
    type Result = AtomicResponse<Self, ()>;
    fn handle(&mut self, change: counter::PropertyChange, _: &mut Context<Self>) -> Self::Result {
        let _ = self.got.unbounded_send(change);
        let mut release = self.release.clone();
        // Atomic: the actor takes no other message until this one is done.
        AtomicResponse::new(Box::pin(
            async move {
                let _ = release.wait_for(|released| *released).await;
            }
            .into_actor(self),
        ))
    }
}

#[actix::test]
async fn a_stuck_recipient_gets_a_bounded_backlog_and_the_final_value() {
    let _guard = init();
    let (host, source, _node, replica) = setup().await;
    let (release, released) = tokio::sync::watch::channel(false);
    let (got, mut received) = futures::channel::mpsc::unbounded();
    let stuck = Stuck {
        release: released,
        got,
    }
    .start();
    replica.subscribe_properties(stuck.recipient());
    produce(&source, &replica).await;
    release.send_replace(true);
    let mut count = 0;
    loop {
        count += 1;
        if matches!(
            next(&mut received).await,
            counter::PropertyChange::Value(ROUNDS)
        ) {
            break;
        }
    }
    eprintln!("FIGURE stuck recipient: {count} messages handled after {ROUNDS} changes");
    // Before bounding, every one of the changes waited in the actor's mailbox.
    assert!(count <= CAPACITY + 2, "{count} messages reached the actor");
    host.shutdown().await;
}
