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

remote_object! {
    /// Qt's `READPUSH`: read-only for replicas but for their push slots.
    pub Dial {
        /// Pushed as it comes.
        prop volume: u8, push;
        /// Pushed through the source's judgement: at most 11.
        prop gain: u8, push, checked;
        /// A declared slot, numbered after the push slots.
        slot reset() -> u8;
    }
}

use dial::ReplicaExt as _;

struct DialService(dial::SimpleSource);

impl Actor for DialService {
    type Context = Context<Self>;
}

impl RemoteSource for DialService {
    type Api = Dial;
    fn simple_source(&self) -> &dial::SimpleSource {
        &self.0
    }
}

impl Handler<dial::SetGain> for DialService {
    type Result = SlotResult<u8>;
    fn handle(&mut self, write: dial::SetGain, _: &mut Context<Self>) -> SlotResult<u8> {
        match write.value {
            v if v > 20 => Err(SlotError::source("far too loud")),
            v => Ok(v.min(11)),
        }
    }
}

impl Handler<dial::Reset> for DialService {
    type Result = SlotResult<u8>;
    fn handle(&mut self, _: dial::Reset, _: &mut Context<Self>) -> SlotResult<u8> {
        self.0.set_volume(0).map_err(SlotError::source)?;
        Ok(0)
    }
}

async fn push_slots_set_their_property_applied_or_as_the_source_decides(url: &str) {
    let _guard = init();
    let host = Host::listen(url).await.unwrap();
    host.enable_remoting(DialService(Default::default()))
        .await
        .unwrap();
    let (n1, n2) = (
        Node::connect(host.url().unwrap()).await.unwrap(),
        Node::connect(host.url().unwrap()).await.unwrap(),
    );
    let (a, b) = (n1.acquire::<Dial>(), n2.acquire::<Dial>());
    a.wait_for_source(TIMEOUT).await.unwrap();
    b.wait_for_source(TIMEOUT).await.unwrap();
    let mut seen_by_b = b.property_changes();

    assert_eq!(a.push_volume(7).await, Ok(()));
    assert_eq!(a.volume(), 7, "the change is there when the push resolves");
    assert!(matches!(
        next(&mut seen_by_b).await,
        dial::PropertyChange::Volume(7)
    ));
    assert_eq!(a.push_gain(15).await, Ok(()));
    assert_eq!(a.gain(), 11, "adjusted by the source");
    assert_eq!(
        a.push_gain(30).await,
        Err(SlotError::Source("far too loud".into()))
    );
    assert_eq!(a.gain(), 11);
    assert!(matches!(
        next(&mut seen_by_b).await,
        dial::PropertyChange::Gain(11)
    ));
    // The declared slot still reaches its handler, numbered after the push slots.
    assert_eq!(a.call(dial::Reset {}).await, Ok(0));
    assert_eq!(a.volume(), 0);

    // A dynamic replica sees the push slots in the API and calls them by name.
    let dynamic = n2.acquire_dynamic("Dial");
    dynamic.wait_for_source(TIMEOUT).await.unwrap();
    use actix_remote_objects::dynamic::Value;
    assert_eq!(
        dynamic.call("push_volume", vec![Value::UInt(3)]).await,
        Ok(Value::Unit)
    );
    assert_eq!(dynamic.property("volume"), Ok(Value::UInt(3)));
    host.shutdown().await;
}

#[test]
fn push_slots_come_before_the_declared_slots() {
    let names: Vec<&str> = Dial::SLOTS.iter().map(|s| s.name).collect();
    assert_eq!(names, ["push_volume", "push_gain", "reset"]);
    assert_eq!(<dial::Reset as actix_remote_objects::Slot>::INDEX, 2);
    assert_eq!(
        Dial::PROPERTIES
            .iter()
            .map(|p| p.access)
            .collect::<Vec<_>>(),
        [actix_remote_objects::Access::ReadOnly; 2],
        "a push property is not writable with a set"
    );
}

over_tcp_and_unix!(
    the_source_applies_adjusts_or_refuses_a_write_and_every_replica_agrees,
    an_unchecked_write_is_applied_and_resolves_to_its_value,
    push_slots_set_their_property_applied_or_as_the_source_decides,
);
