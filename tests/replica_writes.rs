//! Writes go through the source: a `checked` property's write reaches the source actor,
//! which applies, adjusts or refuses it, and the writer's setter resolves to what was
//! applied or why not; every replica sees the same values, in order.

mod support;

use actix::prelude::*;
use actix_remote_objects::prelude::*;
use support::*;

remote_object! {
    pub Thermostat {
        /// The temperature to hold: the source keeps it between 10 and 30.
        prop target: i32 = 20, read_write, checked;
        /// Applied as written, by the host.
        prop label: String, read_write;
    }
}

use thermostat::ReplicaExt;

struct ThermostatService(thermostat::SimpleSource);

impl Actor for ThermostatService {
    type Context = Context<Self>;
}

impl RemoteSource for ThermostatService {
    type Api = Thermostat;
    fn simple_source(&self) -> &thermostat::SimpleSource {
        &self.0
    }
}

impl Handler<thermostat::SetTarget> for ThermostatService {
    type Result = SlotResult<i32>;
    fn handle(&mut self, write: thermostat::SetTarget, _: &mut Context<Self>) -> SlotResult<i32> {
        if write.value > 30 {
            return Err(SlotError::source("above 30 degrees"));
        }
        Ok(write.value.max(10))
    }
}

async fn two_replicas(url: &str) -> (Host, Node, Node, Replica<Thermostat>, Replica<Thermostat>) {
    let host = Host::listen(url).await.unwrap();
    host.enable_remoting(ThermostatService(Default::default()))
        .await
        .unwrap();
    let (n1, n2) = (
        Node::connect(host.url().unwrap()).await.unwrap(),
        Node::connect(host.url().unwrap()).await.unwrap(),
    );
    let (a, b) = (n1.acquire::<Thermostat>(), n2.acquire::<Thermostat>());
    a.wait_for_source(TIMEOUT).await.unwrap();
    b.wait_for_source(TIMEOUT).await.unwrap();
    (host, n1, n2, a, b)
}

async fn the_source_applies_adjusts_or_refuses_a_write_and_every_replica_agrees(url: &str) {
    let _guard = init();
    let (host, _n1, _n2, a, b) = two_replicas(url).await;
    let mut seen_by_b = b.property_changes();
    assert_eq!(a.set_target(25).await, Ok(25), "applied");
    assert_eq!(
        a.target(),
        25,
        "the change is there when the write resolves"
    );
    assert_eq!(a.set_target(5).await, Ok(10), "adjusted by the source");
    assert_eq!(
        a.set_target(40).await,
        Err(SlotError::Rejected("above 30 degrees".into())),
        "refused with the source's reason"
    );
    assert_eq!(a.target(), 10);
    // The other replica saw exactly what was applied, in order.
    for expected in [25, 10] {
        let change = next(&mut seen_by_b).await;
        assert!(
            matches!(change, thermostat::PropertyChange::Target(t) if t == expected),
            "{change:?}"
        );
    }
    assert_eq!(b.target(), 10);
    host.shutdown().await;
}

async fn an_unchecked_write_is_applied_and_resolves_to_its_value(url: &str) {
    let _guard = init();
    let (host, _n1, _n2, a, b) = two_replicas(url).await;
    let mut seen_by_b = b.property_changes();
    assert_eq!(a.set_label("hall".into()).await, Ok("hall".into()));
    assert!(matches!(
        next(&mut seen_by_b).await,
        thermostat::PropertyChange::Label(l) if l == "hall"
    ));
    host.shutdown().await;
}

over_tcp_and_unix!(
    the_source_applies_adjusts_or_refuses_a_write_and_every_replica_agrees,
    an_unchecked_write_is_applied_and_resolves_to_its_value,
);
