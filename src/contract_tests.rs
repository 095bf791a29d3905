//! The contract (DESIGN.md section 6), checked at session level: a real [`HostSession`] and
//! a real [`NodeProtocol`] joined in memory, fed by a real source state and real replicas,
//! with synthetic time. No socket, no timer, no task: every frame moves when the test says,
//! so each step and each deadline is exact.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use futures::FutureExt;
use tokio_util::codec::Decoder;

use crate::error::SlotError;
use crate::outbox::{ConnId, Outbox};
use crate::proto::host::{
    Caller, HostEvent, HostSession, HostSessionConfig, HostSessionError, ServedSource, SourceTable,
};
use crate::proto::node::{
    Greeted, NodeProtocol, NodeSession, NodeSessionConfig, NodeSessionError, ReplicaEntry,
};
use crate::proto::SlotFuture;
use crate::replica::delivery::Delivery;
use crate::replica::shared::ReplicaShared;
use crate::replica::{Event, ReplicaState};
use crate::security::{Peer, PeerAddr};
use crate::source::AsSourceState;
use crate::wire::dialect::NATIVE;
use crate::wire::{
    Encoding, FailureKind, ObjectInfo, Packet, PacketCodec, RemoteFailure, SourceId,
};
use crate::RemoteObject;

crate::remote_object! {
    /// The API every test here serves.
    pub Meter {
        /// A reading, writable by replicas.
        prop reading: u32 = 0, read_write;
        /// A large value, for filling a connection's queue.
        prop blob: Vec<u8>;
        /// Emitted with each step.
        signal stepped(n: u32);
        /// Adds `by` to the reading (the source sets it before replying) and returns it.
        slot add(by: u32) -> u32;
    }
}

const ENC: Encoding = Encoding::Bincode;
const MAX_QUEUED: usize = 64 * 1024 * 1024;

/// A source with no actor: slot calls run at once, setting the property before the reply.
struct MeterSource {
    id: SourceId,
    info: ObjectInfo,
    state: meter::SimpleSource,
}

impl ServedSource<Outbox> for MeterSource {
    fn id(&self) -> SourceId {
        self.id
    }
    fn info(&self) -> &ObjectInfo {
        &self.info
    }
    fn slot_name(&self, index: u16) -> Option<&str> {
        Meter::SLOTS.get(usize::from(index)).map(|s| s.name)
    }
    fn property_name(&self, index: u16) -> Option<&str> {
        Meter::PROPERTIES.get(usize::from(index)).map(|p| p.name)
    }
    fn schema(&self) -> Result<Bytes, String> {
        crate::source::encoded_schema::<Meter>()
    }
    fn subscribe(&self, sink: &Outbox, schema: Option<&Bytes>) -> Result<(), String> {
        let state = self.state.source_state();
        state
            .subscribe(&self.info.name, self.id, sink, schema)
            .map_err(|e| e.to_string())
    }
    fn unsubscribe(&self, conn: ConnId) {
        self.state.source_state().unsubscribe(conn, Some(self.id));
    }
    fn set_from_remote(
        &self,
        index: u16,
        value: &[u8],
        enc: Encoding,
    ) -> Result<Option<crate::proto::WriteFuture>, String> {
        Meter::set_from_remote(&self.state, index, value, enc)
            .map(|()| None)
            .map_err(|e| e.to_string())
    }
    fn invoke(
        &self,
        slot: u16,
        args: &[u8],
        enc: Encoding,
        _: &Caller<'_>,
    ) -> Result<SlotFuture, String> {
        if slot != 0 {
            return Err(format!("no slot has index {slot}"));
        }
        let add: meter::Add = enc.decode(args).map_err(|e| e.to_string())?;
        let reading = self.state.reading() + add.by;
        self.state.set_reading(reading).map_err(|e| e.to_string())?;
        let reply = enc
            .encode(&reading)
            .map(Bytes::from)
            .map_err(|e| RemoteFailure {
                kind: FailureKind::Source,
                message: e.to_string(),
            });
        Ok(Box::pin(async move { reply }))
    }
}

/// The sources the host serves.
#[derive(Default)]
struct Sources(Mutex<Vec<Arc<MeterSource>>>);

impl Sources {
    fn add(&self, name: &str) -> Arc<MeterSource> {
        let mut sources = self.0.lock().unwrap();
        let source = Arc::new(MeterSource {
            id: sources.len() as SourceId + 1,
            info: ObjectInfo {
                name: name.to_owned(),
                api: Meter::NAME.to_owned(),
                signature: Meter::signature(),
            },
            state: meter::SimpleSource::default(),
        });
        source.state.source_state().use_encoding(ENC).unwrap();
        sources.push(Arc::clone(&source));
        source
    }

    fn infos(&self) -> Vec<ObjectInfo> {
        self.0
            .lock()
            .unwrap()
            .iter()
            .map(|s| s.info.clone())
            .collect()
    }
}

impl SourceTable<Outbox> for Sources {
    fn find(&self, name: &str) -> Option<Arc<dyn ServedSource<Outbox>>> {
        let sources = self.0.lock().unwrap();
        let found = sources.iter().find(|s| s.info.name == name)?;
        Some(Arc::clone(found) as Arc<dyn ServedSource<Outbox>>)
    }
}

/// Decodes the frames queued in an outbox.
fn packets(outbox: &Outbox) -> Vec<Packet> {
    let mut bytes: BytesMut = outbox.drain();
    let mut codec = PacketCodec::default();
    let mut packets = Vec::new();
    while let Some(packet) = codec
        .decode(&mut bytes)
        .expect("the session sent a bad frame")
    {
        packets.push(packet);
    }
    assert!(bytes.is_empty(), "a partial frame was queued");
    packets
}

fn host_config() -> HostSessionConfig {
    HostSessionConfig {
        encoding: ENC,
        dialect: &NATIVE,
        heartbeat: None,
        handshake_timeout: Duration::from_secs(5),
        idle_timeout: None,
        authenticator: None,
        allow_anonymous: false,
        policy: None,
    }
}

fn node_config(heartbeat: Option<Duration>) -> Arc<NodeSessionConfig> {
    Arc::new(NodeSessionConfig {
        encoding: ENC,
        dialect: &NATIVE,
        heartbeat,
        credentials: None,
    })
}

fn handshake() -> Packet {
    Packet::Handshake(crate::wire::Handshake::ours(ENC))
}

fn acquire_meter() -> Packet {
    Packet::Acquire {
        name: "Meter".into(),
        signature: Meter::signature(),
    }
}

/// A host session for an anonymous peer, writing into `out`.
fn host_session(out: &Outbox, config: HostSessionConfig, start: Instant) -> HostSession<Outbox> {
    HostSession::new(
        out.clone(),
        Peer::new(PeerAddr::Unknown),
        Arc::new(config),
        start,
    )
}

/// One host connection and a node's protocol, joined in memory.
struct Link {
    sources: Arc<Sources>,
    host: HostSession<Outbox>,
    /// Host → node.
    to_node: Outbox,
    /// Node → host.
    to_host: Outbox,
    node: NodeProtocol<Outbox>,
    conn: ConnId,
    now: Instant,
}

fn connect(
    node: NodeProtocol<Outbox>,
    sources: Arc<Sources>,
    conn: ConnId,
    start: Instant,
) -> Link {
    let to_node = Outbox::detached(conn, MAX_QUEUED);
    let to_host = Outbox::detached(conn, MAX_QUEUED);
    let host = HostSession::new(
        to_node.clone(),
        Peer::new(PeerAddr::Unknown),
        Arc::new(host_config()),
        start,
    );
    let mut session = NodeSession::new(to_host.clone(), node_config(None));
    let mut link = Link {
        sources,
        host,
        to_node,
        to_host,
        node,
        conn,
        now: start,
    };
    // The greeting: handshakes both ways, then the object list once admitted.
    for packet in packets(&link.to_node) {
        assert!(matches!(session.greet(packet), Ok(Greeted::Handshake)));
    }
    for packet in packets(&link.to_host) {
        let event = link.host.handle(packet, &*link.sources).unwrap();
        assert!(matches!(event, Some(HostEvent::Admitted)));
        // The driver's part: the object list.
        link.to_node
            .push(Packet::ObjectList(link.sources.infos()).to_frame());
    }
    let mut offered = None;
    for packet in packets(&link.to_node) {
        if let Greeted::Open(list) = session.greet(packet).unwrap() {
            offered = Some(list);
        }
    }
    link.node
        .open(session, offered.expect("an object list"), start);
    assert!(link.node.is_open(conn));
    link
}

impl Link {
    fn new() -> Link {
        connect(
            NodeProtocol::default(),
            Arc::new(Sources::default()),
            1,
            Instant::now(),
        )
    }

    /// Moves every queued frame across, both ways, until nothing is left; slot calls run
    /// to completion on the way.
    fn pump(&mut self) {
        loop {
            let to_host = packets(&self.to_host);
            let to_node = packets(&self.to_node);
            if to_host.is_empty() && to_node.is_empty() {
                return;
            }
            for packet in to_host {
                if let Some(HostEvent::Call(pending)) =
                    self.host.handle(packet, &*self.sources).unwrap()
                {
                    let outcome = pending
                        .call
                        .now_or_never()
                        .expect("the slot answers at once");
                    pending.reply.send(outcome);
                }
            }
            // As the node's driver does: everything that arrived together, at once.
            self.node.handle_batch(self.conn, to_node).unwrap();
        }
    }

    /// A link whose host serves `Meter` to a replica that is `Valid`.
    fn serving() -> (Link, Arc<MeterSource>, Arc<ReplicaShared<Meter>>) {
        let mut link = Link::new();
        let source = link.sources.add("Meter");
        link.offer(&source);
        let replica = link.replica("Meter");
        link.pump();
        assert_eq!(replica.state(), ReplicaState::Valid);
        (link, source, replica)
    }

    /// The host tells the node it now serves `source` (the host driver's part).
    fn offer(&self, source: &MeterSource) {
        self.to_node
            .push(Packet::AddObject(source.info.clone()).to_frame());
    }

    fn replica(&mut self, name: &str) -> Arc<ReplicaShared<Meter>> {
        let delivery = Delivery {
            capacity: 1024,
            arbiter: actix::Arbiter::current(),
            models: Default::default(),
        };
        let replica = ReplicaShared::<Meter>::new(name.into(), ENC, None, delivery);
        self.node.attach(
            &name.into(),
            Arc::clone(&replica) as Arc<dyn ReplicaEntry<Outbox>>,
        );
        replica
    }
}

/// The events a replica's stream holds now.
fn drain_events(
    events: &mut crate::replica::delivery::QueueReceiver<Event<Meter>>,
) -> Vec<Event<Meter>> {
    use futures::StreamExt;
    let mut seen = Vec::new();
    while let Some(Some(delivered)) = events.next().now_or_never() {
        match delivered {
            crate::replica::delivery::Delivered::Item(event) => seen.push(event),
            crate::replica::delivery::Delivered::Lagged(n) => panic!("lagged by {n}"),
        }
    }
    seen
}

/// Readings and steps as short words, anything else as it debug-prints.
fn described(events: Vec<Event<Meter>>) -> Vec<String> {
    events
        .into_iter()
        .map(|e| match e {
            Event::PropertyChanged(meter::PropertyChange::Reading(r)) => format!("reading {r}"),
            Event::Signal(meter::Signal::Stepped(s)) => format!("stepped {}", s.n),
            other => format!("{other:?}"),
        })
        .collect()
}

fn call_add(
    replica: &ReplicaShared<Meter>,
    by: u32,
) -> Arc<Mutex<Option<Result<Bytes, SlotError>>>> {
    let reply = Arc::new(Mutex::new(None));
    let slot = Arc::clone(&reply);
    let args = Bytes::from(ENC.encode(&meter::Add { by }).unwrap());
    replica.start_call(
        0,
        args,
        Box::new(move |outcome| *slot.lock().unwrap() = Some(outcome)),
    );
    reply
}

#[actix::test]
async fn item_1_changes_and_signals_arrive_in_order_and_a_slot_change_before_its_reply() {
    let (mut link, source, replica) = Link::serving();
    assert_eq!(replica.state(), ReplicaState::Valid);
    let mut events = replica.events();
    source.state.set_reading(1).unwrap();
    source.state.emit_stepped(1).unwrap();
    source.state.set_reading(2).unwrap();
    let reply = call_add(&replica, 5);
    link.pump();
    let seen = described(drain_events(&mut events));
    assert_eq!(seen, ["reading 1", "stepped 1", "reading 2", "reading 7"]);
    let answered = reply.lock().unwrap().take().expect("the reply arrived");
    assert_eq!(ENC.decode::<u32>(&answered.unwrap()).unwrap(), 7);
    assert_eq!(
        replica.read(|p| p.reading),
        7,
        "the change is visible with the reply"
    );
}

/// A batch of changes and signals reaches the replica in one run, in order; a value in it
/// that does not decode is refused alone, and what follows it still arrives.
#[actix::test]
async fn a_run_of_updates_arrives_in_order_and_skips_only_a_bad_value() {
    let (mut link, source, replica) = Link::serving();
    let mut events = replica.events();
    let change = |value: Bytes| Packet::PropertyChange {
        source: source.id,
        index: 0,
        value,
    };
    let reading = |r: u32| change(Bytes::from(ENC.encode(&r).unwrap()));
    let stepped = |n: u32| Packet::Signal {
        source: source.id,
        index: 0,
        args: Bytes::from(ENC.encode(&meter::Stepped { n }).unwrap()),
    };
    let batch = vec![
        reading(1),
        stepped(1),
        change(Bytes::from_static(&[0xff; 9])),
        reading(2),
        Packet::Ping(7),
        stepped(2),
    ];
    link.node.handle_batch(link.conn, batch).unwrap();
    let seen = described(drain_events(&mut events));
    assert_eq!(seen, ["reading 1", "stepped 1", "reading 2", "stepped 2"]);
    assert_eq!(replica.state(), ReplicaState::Valid);
    // The ping in the middle was answered, in its place.
    assert!(packets(&link.to_host).contains(&Packet::Pong(7)));
}

#[actix::test]
async fn item_2_an_init_that_does_not_decode_changes_nothing_and_a_good_one_is_whole() {
    let mut link = Link::new();
    let replica = link.replica("Meter");
    let source = link.sources.add("Meter");
    // An init whose second value is garbage: refused alone, the connection stays.
    let good = ENC.encode(&9u32).unwrap();
    let bad_init = Packet::Init {
        name: "Meter".into(),
        source: source.id,
        signature: Meter::signature(),
        values: vec![Bytes::from(good), Bytes::from_static(&[0xff; 3])],
        children: Vec::new(),
    };
    link.node.handle(link.conn, bad_init).unwrap();
    assert_eq!(replica.state(), ReplicaState::Default);
    assert_eq!(replica.read(|p| p.reading), 0, "no half of the init shows");
    source.state.set_reading(3).unwrap();
    source.state.set_blob(vec![1, 2, 3]).unwrap();
    link.offer(&source);
    link.pump();
    assert_eq!(replica.state(), ReplicaState::Valid);
    assert_eq!(
        replica.read(|p| (p.reading, p.blob.clone())),
        (3, vec![1, 2, 3])
    );
}

#[actix::test]
async fn item_3_a_slow_replica_converges_on_the_final_values_through_coalescing() {
    let (mut link, source, replica) = Link::serving();
    // The node reads nothing while the source changes a lot: past 256 KiB queued, older
    // values of a property give way to newer ones.
    for i in 0..200u32 {
        source.state.set_blob(vec![i as u8; 4096]).unwrap();
        source.state.set_reading(i).unwrap();
    }
    let queued = link.to_node.queued_bytes();
    assert!(
        queued < 200 * 4096,
        "values were coalesced: {queued} bytes queued"
    );
    link.pump();
    assert_eq!(replica.read(|p| p.reading), 199);
    assert_eq!(replica.read(|p| p.blob.clone()), vec![199u8; 4096]);
}

#[actix::test]
async fn item_4_a_replica_acquired_before_its_source_exists_initializes_when_it_appears() {
    let mut link = Link::new();
    let replica = link.replica("Meter");
    link.pump();
    assert_eq!(replica.state(), ReplicaState::Default);
    assert!(packets(&link.to_host).is_empty(), "nothing to acquire yet");
    let source = link.sources.add("Meter");
    source.state.set_reading(42).unwrap();
    link.offer(&source);
    link.pump();
    assert_eq!(replica.state(), ReplicaState::Valid);
    assert_eq!(replica.read(|p| p.reading), 42);
}

#[actix::test]
async fn item_5_a_lost_connection_makes_replicas_suspect_fails_calls_and_a_new_one_reinitializes() {
    let (mut link, source, replica) = Link::serving();
    let pending = call_add(&replica, 1);
    // The call is on its way when the connection goes.
    let _ = packets(&link.to_host);
    link.host.close();
    assert_eq!(
        link.node.close(link.conn),
        Some(true),
        "it had initialized a replica"
    );
    assert_eq!(replica.state(), ReplicaState::Suspect);
    assert!(matches!(
        pending.lock().unwrap().take(),
        Some(Err(SlotError::ConnectionLost))
    ));
    assert_eq!(
        replica.read(|p| p.reading),
        0,
        "a suspect replica keeps its values"
    );
    source.state.set_reading(8).unwrap();
    let node = std::mem::take(&mut link.node);
    let mut relinked = connect(node, Arc::clone(&link.sources), 2, link.now);
    relinked.pump();
    assert_eq!(replica.state(), ReplicaState::Valid);
    assert_eq!(
        replica.read(|p| p.reading),
        8,
        "re-initialized to the source's values"
    );
}

/// A link whose host offers `Meter` under a signature other than the replica's.
fn offered_with_another_signature() -> (Link, Arc<MeterSource>, Arc<ReplicaShared<Meter>>) {
    let mut link = Link::new();
    let replica = link.replica("Meter");
    let source = link.sources.add("Meter");
    let other = ObjectInfo {
        signature: Meter::signature() ^ 1,
        ..source.info.clone()
    };
    link.to_node.push(Packet::AddObject(other).to_frame());
    (link, source, replica)
}

#[actix::test]
async fn item_6_a_replica_of_another_signature_never_acquires_and_learns_what_differs() {
    let (mut link, source, replica) = offered_with_another_signature();
    let _ = packets(&link.to_host);
    for packet in packets(&link.to_node) {
        link.node.handle(link.conn, packet).unwrap();
    }
    assert_eq!(
        replica.state(),
        ReplicaState::Default,
        "not final before the answer"
    );
    let asked = packets(&link.to_host);
    assert!(
        matches!(asked.as_slice(), [Packet::Describe { name }] if name == "Meter"),
        "only a description is asked for, nothing acquired: {asked:?}"
    );
    for packet in asked {
        assert!(link.host.handle(packet, &*link.sources).unwrap().is_none());
    }
    for packet in packets(&link.to_node) {
        assert!(matches!(packet, Packet::Description { .. }), "{packet:?}");
        link.node.handle(link.conn, packet).unwrap();
    }
    assert_eq!(replica.state(), ReplicaState::SignatureMismatch);
    assert!(replica.mismatch_difference().is_some());
    assert_eq!(
        source.state.source_state().subscriber_count(),
        0,
        "never subscribed"
    );
    // A connection lost before the answer makes the mismatch final without it.
    let (mut link, _, replica) = offered_with_another_signature();
    for packet in packets(&link.to_node) {
        link.node.handle(link.conn, packet).unwrap();
    }
    link.node.close(link.conn);
    assert_eq!(replica.state(), ReplicaState::SignatureMismatch);
    assert_eq!(replica.mismatch_difference(), None);
}

#[actix::test]
async fn item_7_bad_packets_cost_the_connection_or_the_one_call() {
    let sources = Sources::default();
    let source = sources.add("Meter");
    let start = Instant::now();
    let fresh = |out: &Outbox| host_session(out, host_config(), start);
    let out = Outbox::detached(1, MAX_QUEUED);

    // Before the handshake, nothing else.
    let mut host = fresh(&out);
    let early = acquire_meter();
    assert!(matches!(
        host.handle(early, &sources),
        Err(HostSessionError::Handshake(_))
    ));

    // A wrong protocol version.
    let mut host = fresh(&out);
    let mut theirs = crate::wire::Handshake::ours(ENC);
    theirs.version += 1;
    assert!(matches!(
        host.handle(Packet::Handshake(theirs), &sources),
        Err(HostSessionError::Handshake(_))
    ));

    // After it: packets only a host sends, an out-of-range property.
    let admitted = || {
        let mut host = fresh(&out);
        host.handle(handshake(), &sources).unwrap();
        host.handle(acquire_meter(), &sources).unwrap();
        host
    };
    let mut host = admitted();
    assert!(matches!(
        host.handle(Packet::ObjectList(vec![]), &sources),
        Err(HostSessionError::UnexpectedPacket("ObjectList"))
    ));
    let mut host = admitted();
    let out_of_range = Packet::SetProperty {
        source: source.id,
        index: 9,
        serial: 1,
        value: Bytes::new(),
    };
    assert!(matches!(
        host.handle(out_of_range, &sources),
        Err(HostSessionError::PropertyOutOfRange { .. })
    ));

    // Arguments that do not decode reject that call alone, and the source is untouched.
    let mut host = admitted();
    let _ = packets(&out);
    let bad_call = Packet::Invoke {
        source: source.id,
        slot: 0,
        serial: 4,
        args: Bytes::from_static(&[0xff]),
    };
    assert!(host.handle(bad_call, &sources).unwrap().is_none());
    match packets(&out).as_slice() {
        [Packet::InvokeReply {
            serial: 4,
            outcome: Err(failure),
            ..
        }] => {
            assert_eq!(failure.kind, FailureKind::Rejected)
        }
        other => panic!("expected a rejected reply, got {other:?}"),
    }
    let write = Packet::SetProperty {
        source: source.id,
        index: 0,
        serial: 2,
        value: Bytes::from(ENC.encode(&5u32).unwrap()),
    };
    host.handle(write, &sources).unwrap();
    assert_eq!(source.state.reading(), 5, "the connection still works");

    // On the node: a packet only a node sends closes; a value that does not decode is
    // refused alone.
    let (mut link, source, replica) = Link::serving();
    let bad_value = Packet::PropertyChange {
        source: source.id,
        index: 0,
        value: Bytes::from_static(&[0xff; 9]),
    };
    link.node.handle(link.conn, bad_value).unwrap();
    assert_eq!(replica.state(), ReplicaState::Valid);
    assert!(matches!(
        link.node
            .handle(link.conn, Packet::Release { source: source.id }),
        Err(NodeSessionError::UnexpectedPacket("Release"))
    ));
}

#[actix::test]
async fn item_8_a_node_that_never_reads_ends_its_connection_at_the_outbox_limit() {
    let sources = Sources::default();
    let source = sources.add("Meter");
    let out = Outbox::detached(1, 64 * 1024);
    let mut host = host_session(&out, host_config(), Instant::now());
    host.handle(handshake(), &sources).unwrap();
    host.handle(acquire_meter(), &sources).unwrap();
    // Signals must all arrive, so they cannot coalesce: past the limit the queue gives up.
    let mut emitted = 0;
    while out.queued_bytes() <= 64 * 1024 {
        source.state.emit_stepped(emitted).unwrap();
        emitted += 1;
        assert!(emitted < 100_000, "the queue never filled");
    }
    source.state.emit_stepped(emitted).unwrap();
    assert!(
        !out.push(Bytes::from_static(b"more")),
        "the outbox refuses once over its limit"
    );
    assert!(
        out.queued_bytes() <= 64 * 1024 + 64,
        "bounded: {}",
        out.queued_bytes()
    );
}

#[actix::test]
async fn host_heartbeats_ping_every_half_interval_and_drop_a_silent_node_to_the_tick() {
    let start = Instant::now();
    let interval = Duration::from_millis(100);
    let out = Outbox::detached(1, MAX_QUEUED);
    let config = HostSessionConfig {
        heartbeat: Some(interval),
        ..host_config()
    };
    let mut host = host_session(&out, config, start);
    let sources = Sources::default();
    let ms = |n| start + Duration::from_millis(n);
    // No ping while the node is still greeting: only the handshake deadline.
    assert_eq!(host.poll_timeout(), Some(ms(5000)));
    host.handle(handshake(), &sources).unwrap();
    let _ = packets(&out);
    assert_eq!(host.poll_timeout(), Some(ms(50)));
    host.handle_timeout(ms(49)).unwrap();
    assert!(packets(&out).is_empty(), "nothing before the tick");
    host.handle_timeout(ms(50)).unwrap();
    assert!(matches!(packets(&out).as_slice(), [Packet::Ping(1)]));
    assert_eq!(host.poll_timeout(), Some(ms(100)));
    host.handle_timeout(ms(100)).unwrap();
    // Silent for exactly 1.5 intervals is still alive; past it, at the next tick, dead.
    host.handle_timeout(ms(150)).unwrap();
    assert_eq!(packets(&out).len(), 2);
    assert!(matches!(
        host.handle_timeout(ms(200)),
        Err(HostSessionError::HeartbeatLost)
    ));
    // A node that answers stays.
    let config = HostSessionConfig {
        heartbeat: Some(interval),
        ..host_config()
    };
    let mut host = host_session(&out, config, start);
    host.handle(handshake(), &sources).unwrap();
    for tick in 1..=10 {
        host.heard(ms(tick * 50 - 1));
        host.handle_timeout(ms(tick * 50)).unwrap();
    }
}

#[actix::test]
async fn node_heartbeats_close_exactly_the_silent_connection() {
    let start = Instant::now();
    let interval = Duration::from_millis(100);
    let sources = Arc::new(Sources::default());
    let mut node = NodeProtocol::<Outbox>::default();
    let out = Outbox::detached(3, MAX_QUEUED);
    let mut session = NodeSession::new(out.clone(), node_config(Some(interval)));
    session.greet(handshake()).unwrap();
    assert!(matches!(
        session.greet(Packet::ObjectList(vec![])),
        Ok(Greeted::Open(_))
    ));
    node.open(session, vec![], start);
    let _ = (packets(&out), sources);
    let ms = |n| start + Duration::from_millis(n);
    assert_eq!(node.poll_timeout(), Some(ms(50)));
    assert!(node.handle_timeout(ms(50)).is_empty());
    assert!(matches!(packets(&out).as_slice(), [Packet::Ping(1)]));
    node.heard(3, ms(120));
    assert!(node.handle_timeout(ms(100)).is_empty());
    assert!(node.handle_timeout(ms(150)).is_empty());
    assert!(
        node.handle_timeout(ms(250)).is_empty(),
        "heard at 120: 130 ms of silence"
    );
    assert_eq!(node.handle_timeout(ms(300)), [3], "180 ms of silence");
}

#[actix::test]
async fn the_handshake_and_idle_timeouts_fall_on_their_deadlines() {
    let start = Instant::now();
    let out = Outbox::detached(1, MAX_QUEUED);
    let sources = Sources::default();
    let mut host = host_session(&out, host_config(), start);
    let deadline = start + Duration::from_secs(5);
    assert_eq!(host.poll_timeout(), Some(deadline));
    host.handle_timeout(deadline - Duration::from_nanos(1))
        .unwrap();
    assert!(matches!(
        host.handle_timeout(deadline),
        Err(HostSessionError::HandshakeTimeout(_))
    ));

    let idle = Duration::from_secs(2);
    let config = HostSessionConfig {
        idle_timeout: Some(idle),
        ..host_config()
    };
    let mut host = host_session(&out, config, start);
    host.handle(handshake(), &sources).unwrap();
    assert!(host.is_admitted());
    assert_eq!(host.poll_timeout(), Some(start + idle));
    host.heard(start + Duration::from_secs(1));
    assert_eq!(host.poll_timeout(), Some(start + Duration::from_secs(3)));
    host.handle_timeout(start + Duration::from_secs(2)).unwrap();
    assert!(matches!(
        host.handle_timeout(start + Duration::from_secs(3)),
        Err(HostSessionError::Idle(_))
    ));
}

/// A host that offers and withdraws source after source, each with an API name of its own,
/// leaves the node holding only the names still offered (and a few).
#[actix::test]
async fn a_node_forgets_the_api_names_of_withdrawn_offers() {
    let mut link = Link::new();
    for i in 0..10_000 {
        let name = format!("source{i}");
        let info = crate::wire::ObjectInfo {
            name: name.clone(),
            api: format!("Api{i}"),
            signature: 1,
        };
        link.node
            .handle(link.conn, Packet::AddObject(info))
            .unwrap();
        link.node
            .handle(link.conn, Packet::RemoveObject { name })
            .unwrap();
    }
    let held = link.node.held_api_names(link.conn);
    assert!(held <= 32, "{held} API names held for no offer");
}

#[actix::test]
async fn a_node_refuses_a_host_that_greets_wrongly_and_says_why() {
    let greet = |packets: Vec<Packet>| {
        let out = Outbox::detached(5, MAX_QUEUED);
        let mut session = NodeSession::new(out, node_config(None));
        let mut last = None;
        for packet in packets {
            last = Some(session.greet(packet));
        }
        last.expect("a packet")
    };
    let mut newer = crate::wire::Handshake::ours(ENC);
    newer.version += 1;
    let error = greet(vec![Packet::Handshake(newer)]).unwrap_err();
    assert!(error.is_handshake(), "{error}");
    let error = greet(vec![Packet::ObjectList(vec![])]).unwrap_err();
    assert!(
        error.is_handshake(),
        "an object list before the handshake: {error}"
    );
    let challenge = Packet::AuthChallenge {
        method: "hmac-sha256".into(),
        challenge: Bytes::from_static(&[1; 32]),
    };
    let refused = Packet::AuthRefused {
        reason: "who are you".into(),
    };
    let error = greet(vec![handshake(), challenge, refused]).unwrap_err();
    assert!(error.is_auth(), "{error}");
    assert!(error.to_string().contains("credentials"), "{error}");
    let accepted_unasked = Packet::AuthAccepted {
        proof: Bytes::new(),
    };
    assert!(greet(vec![handshake(), accepted_unasked]).is_err());
    let open = greet(vec![handshake(), Packet::ObjectList(vec![])]).unwrap();
    assert!(matches!(open, Greeted::Open(list) if list.is_empty()));
}

#[actix::test]
async fn a_one_way_call_runs_and_nothing_is_answered() {
    let (mut link, source, replica) = Link::serving();
    let args = Bytes::from(ENC.encode(&meter::Add { by: 4 }).unwrap());
    assert!(replica.send_one_way(0, args.clone()));
    let sent = packets(&link.to_host);
    assert!(matches!(
        sent.as_slice(),
        [Packet::Invoke {
            serial: crate::wire::NO_REPLY,
            ..
        }]
    ));
    for packet in sent {
        let Some(HostEvent::Call(pending)) = link.host.handle(packet, &*link.sources).unwrap()
        else {
            panic!("the call runs");
        };
        pending
            .reply
            .send(pending.call.now_or_never().expect("at once"));
    }
    assert_eq!(source.state.reading(), 4);
    let answered = packets(&link.to_node);
    assert!(
        answered
            .iter()
            .all(|p| !matches!(p, Packet::InvokeReply { .. })),
        "no reply: {answered:?}"
    );
    // Nor for one the host rejects.
    let rejected = Packet::Invoke {
        source: 99,
        slot: 0,
        serial: crate::wire::NO_REPLY,
        args,
    };
    assert!(link
        .host
        .handle(rejected, &*link.sources)
        .unwrap()
        .is_none());
    assert!(packets(&link.to_node).is_empty());
    // Without a source the call is dropped, and the caller's code is told.
    link.host.close();
    link.node.close(link.conn);
    assert!(!replica.send_one_way(0, Bytes::new()));
}
