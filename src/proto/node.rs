//! A node's side of the protocol, with no I/O: [`NodeSession`] (one connection to a host)
//! and [`NodeProtocol`] (a node's sessions and the replicas they feed).
//!
//! The driver opens a connection, feeds the host's first packets to
//! [`NodeSession::greet`] until it is open, then hands the session to the node's
//! [`NodeProtocol`] and feeds it every later packet ([`NodeProtocol::handle`]), each replica
//! that comes and goes, each lost connection, and the time ([`NodeProtocol::handle_timeout`]).
//! Replicas plug in through [`ReplicaEntry`].

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use rustc_hash::FxHashMap;
use tracing::{debug, warn};

use super::replica::{InitRefused, Offered};
use super::{ConnId, FrameSink};
use crate::error::{Error, Kind, SlotError};
use crate::lifecycle::{Liveness, Tick};
use crate::security::{AuthError, Credentials};
use crate::shared_bytes::{decoding_from, SHARE_MIN};
use crate::wire::{
    ChildInit, Dialect, Encoding, FailureKind, Handshake, HandshakeError, ObjectInfo, Packet,
    SourceId, NO_REPLY,
};

/// Where a replica's source is: which connection, under which id, and where to send.
#[derive(Clone)]
pub(crate) struct Link<S> {
    pub(crate) conn: ConnId,
    pub(crate) source: SourceId,
    pub(crate) sink: S,
}

/// A child replica linked by an init or a child change: it hangs at member `slot` of
/// source `parent`, and its source's packets carry `source`.
pub(crate) struct LinkedChild<S> {
    pub(crate) parent: SourceId,
    pub(crate) slot: u16,
    pub(crate) source: SourceId,
    pub(crate) entry: Arc<dyn ReplicaEntry<S>>,
}

/// The sub-objects of one init or child change on their way into replicas: what the host
/// sent, and which child replicas were linked to them.
pub(crate) struct ChildTree<'a, S> {
    inits: &'a [ChildInit],
    /// Which inits were applied: each is used once, so a tree whose entries name each
    /// other as parents (a host's mistake or an attack) cannot loop.
    used: Vec<bool>,
    /// How deep the child being initialized is.
    depth: usize,
    linked: Vec<LinkedChild<S>>,
}

/// Children nested deeper than this are not initialized: a host cannot make a node
/// recurse as deep as its frame allows.
pub(crate) const MAX_CHILD_DEPTH: usize = 64;

impl<'a, S> ChildTree<'a, S> {
    pub(crate) fn new(inits: &'a [ChildInit]) -> Self {
        ChildTree {
            inits,
            used: vec![false; inits.len()],
            depth: 0,
            linked: Vec::new(),
        }
    }

    /// Starts over for the next replica of the same source: each replica of it on the node
    /// holds the whole tree, so every init is there for each of them once.
    fn next_replica(&mut self) {
        self.used.fill(false);
    }
}

/// Initializes the child replicas of the replica linked by `link` from `tree`: each child
/// the source holds at a member (all of them, or `only` that one) goes to the replica
/// `child_of` gives for the member, and its own children to its own. Says which members
/// hold a child (`slots` of them). A child that cannot be initialized fails alone.
pub(crate) fn init_children<S: FrameSink>(
    link: &Link<S>,
    tree: &mut ChildTree<'_, S>,
    slots: usize,
    only: Option<u16>,
    mut child_of: impl FnMut(u16) -> Option<Arc<dyn ReplicaEntry<S>>>,
) -> Vec<bool> {
    let mut present = vec![false; slots];
    if tree.depth >= MAX_CHILD_DEPTH {
        warn!(
            conn = link.conn,
            "children nested too deep; the deeper ones are ignored"
        );
        return present;
    }
    let inits = tree.inits;
    let mine: Vec<usize> = (0..inits.len())
        .filter(|&i| !tree.used[i])
        .filter(|&i| inits[i].parent == link.source && only.is_none_or(|s| s == inits[i].slot))
        .collect();
    for i in mine {
        if std::mem::replace(&mut tree.used[i], true) {
            continue; // applied further down already
        }
        let init = &inits[i];
        let Some(is_present) = present.get_mut(usize::from(init.slot)) else {
            warn!(
                conn = link.conn,
                slot = init.slot,
                "a child at a member the API does not have"
            );
            continue;
        };
        *is_present = true;
        let Some(entry) = child_of(init.slot) else {
            continue;
        };
        let child_link = Link {
            conn: link.conn,
            source: init.source,
            sink: link.sink.clone(),
        };
        tree.depth += 1;
        let outcome = entry.on_init(child_link, init.signature, init.values.clone(), None, tree);
        tree.depth -= 1;
        match outcome {
            Ok(InitOutcome::Applied) => tree.linked.push(LinkedChild {
                parent: link.source,
                slot: init.slot,
                source: init.source,
                entry,
            }),
            Ok(_) => {}
            Err(error) if error.is_bad_value() => {
                warn!(conn = link.conn, %error, "refusing a child's init from the host")
            }
            Err(error) => entry.on_failed(&error.to_string()),
        }
    }
    present
}

/// Whether an init was applied.
pub(crate) enum InitOutcome {
    Applied,
    SignatureMismatch,
    /// A replica without compile-time types got an init without the API's description.
    NeedsSchema,
}

/// The host sent something a replica cannot apply. A value that does not decode
/// ([`ReplicaProtocolError::is_bad_value`]) is refused alone; anything else breaks the
/// protocol and the node closes that connection.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ReplicaProtocolError {
    #[error("replica {name:?}: {refused}")]
    Init { name: String, refused: InitRefused },
    #[error("replica {name:?}: index {index} is out of range for a {what}")]
    OutOfRange {
        name: String,
        what: &'static str,
        index: u16,
    },
    #[error("replica {name:?}: a {what} that does not decode: {error}")]
    BadValue {
        name: String,
        what: &'static str,
        error: String,
    },
    #[error("dynamic replica {name:?}: {message}")]
    Dynamic { name: String, message: String },
    /// A model diff that does not decode or does not fit the rows: the replica's window
    /// could not be kept right after it.
    #[error("model replica {name:?}: {message}")]
    Model { name: String, message: String },
}

impl ReplicaProtocolError {
    /// The value of one init, change or signal does not decode (malformed, or claiming more
    /// than its bytes hold): that one packet is refused and logged, the connection's other
    /// traffic goes on.
    pub(crate) fn is_bad_value(&self) -> bool {
        matches!(self, ReplicaProtocolError::BadValue { .. })
    }

    pub(crate) fn bad_value(
        name: &str,
        what: &'static str,
        error: impl std::fmt::Display,
    ) -> ReplicaProtocolError {
        ReplicaProtocolError::BadValue {
            name: name.to_owned(),
            what,
            error: error.to_string(),
        }
    }
}

/// A pending slot call: called once with its encoded reply or why there is none.
pub(crate) type PendingReply = Box<dyn FnOnce(Result<Bytes, SlotError>) + Send>;

/// What a node needs from a replica, without its types. The replica layer implements it.
/// A property change or a signal, as a run of them reaches a replica
/// ([`ReplicaEntry::on_updates`]).
pub(crate) struct Update {
    pub(crate) signal: bool,
    pub(crate) index: u16,
    /// The encoded value, or the signal's arguments.
    pub(crate) value: Bytes,
}

impl Update {
    /// A change or signal whose value is small enough to be decoded in a run (a large one is
    /// decoded alone, with its frame named for [`crate::SharedBytes`]), and its source.
    fn of(packet: Packet) -> Result<(SourceId, Update), Packet> {
        match packet {
            Packet::PropertyChange {
                source,
                index,
                value,
            } if value.len() < SHARE_MIN => Ok((
                source,
                Update {
                    signal: false,
                    index,
                    value,
                },
            )),
            Packet::Signal {
                source,
                index,
                args,
            } if args.len() < SHARE_MIN => Ok((
                source,
                Update {
                    signal: true,
                    index,
                    value: args,
                },
            )),
            other => Err(other),
        }
    }

    /// Hands it to `entry` alone.
    pub(crate) fn apply_to<S, E: ReplicaEntry<S> + ?Sized>(
        &self,
        entry: &E,
    ) -> Result<(), ReplicaProtocolError> {
        match self.signal {
            true => entry.on_signal(self.index, &self.value),
            false => entry.on_property_change(self.index, &self.value),
        }
    }
}

pub(crate) trait ReplicaEntry<S>: Send + Sync {
    fn signature(&self) -> u64;
    fn link(&self) -> Option<(ConnId, SourceId)>;
    /// A host offers the source with `signature`: whether to acquire it.
    fn on_offered(&self, signature: u64) -> Offered;
    /// The host's description of a source whose signature differed at its offer
    /// (bincode-encoded; empty if the host could not describe it): the mismatch is final.
    fn on_description(&self, _schema: &[u8]) {}
    /// An init of the source, with `children`: its sub-objects (and theirs), which it
    /// initializes (before it is `Valid` itself) and records as linked.
    fn on_init(
        &self,
        link: Link<S>,
        signature: u64,
        values: Vec<Bytes>,
        schema: Option<&Bytes>,
        children: &mut ChildTree<'_, S>,
    ) -> Result<InitOutcome, ReplicaProtocolError>;
    /// Child member `slot` of the source behind `link` holds another source now (its tree
    /// in `children`), or none.
    fn on_child_change(&self, _link: Link<S>, _slot: u16, _children: &mut ChildTree<'_, S>) {}
    /// Whether it needs the API's description with its init (a dynamic replica).
    fn wants_schema(&self) -> bool {
        false
    }
    fn on_property_change(&self, index: u16, value: &Bytes) -> Result<(), ReplicaProtocolError>;
    fn on_signal(&self, index: u16, args: &[u8]) -> Result<(), ReplicaProtocolError>;
    /// A run of changes and signals that arrived back to back, in order. A value that does
    /// not decode goes to `bad` and the run goes on; any other error ends it (the replica
    /// then fails). A replica may take its lock once for the whole run.
    fn on_updates(
        &self,
        updates: &[Update],
        bad: &mut dyn FnMut(ReplicaProtocolError),
    ) -> Result<(), ReplicaProtocolError> {
        for update in updates {
            match update.apply_to(self) {
                Err(error) if error.is_bad_value() => bad(error),
                other => other?,
            }
        }
        Ok(())
    }
    /// The pending call `serial` answers, if it is this replica's.
    fn take_pending(&self, serial: u32) -> Option<PendingReply>;
    fn on_link_lost(&self);
    /// The source sent this replica what it cannot hold (an init of the wrong shape, an index
    /// its API does not have): it fails for good and lets go of the source; the connection
    /// and the other replicas on it go on.
    fn on_failed(&self, reason: &str);
    /// The host refused to serve the source to this replica, for `reason`.
    fn on_refused(&self, reason: &str);
    /// The host refused this replica's request to set property `index`.
    fn on_write_refused(&self, index: u16, reason: &str);
    /// Queues a save of the persisted properties (the replica is going away).
    fn persist(&self);
}

/// How every session of one node behaves.
pub(crate) struct NodeSessionConfig {
    pub(crate) encoding: Encoding,
    pub(crate) dialect: &'static dyn Dialect,
    pub(crate) heartbeat: Option<Duration>,
    pub(crate) credentials: Option<Arc<dyn Credentials>>,
}

/// Where the greeting stands.
enum Greeting {
    /// Our handshake sent, the host's awaited.
    AwaitingHandshake,
    /// The host's handshake accepted; an authentication exchange or the object list next.
    /// `exchange` is what this node answered a challenge with, to check the host's proof
    /// (`Some(None)`: it answered anonymously).
    Authenticating {
        exchange: Option<Option<(Bytes, Vec<u8>)>>,
        asked_for: String,
    },
    Open,
}

/// What a packet of the greeting led to.
#[derive(Debug)]
pub(crate) enum Greeted {
    /// The host's handshake is good: its frames may now be full-sized.
    Handshake,
    /// More of the greeting to come.
    Waiting,
    /// The host admitted the node and listed what it offers.
    Open(Vec<ObjectInfo>),
}

/// What a host offers under one name.
struct Offer {
    api: Arc<str>,
    signature: u64,
}

/// One connection to a host.
pub(crate) struct NodeSession<S> {
    conn: ConnId,
    sink: S,
    config: Arc<NodeSessionConfig>,
    greeting: Greeting,
    /// What the host offers, by name (the name shared with the replicas' table once a
    /// replica of it exists).
    offered: HashMap<Arc<str>, Offer>,
    /// The API names offered here, each held once however many sources share it.
    api_names: HashSet<Arc<str>>,
    /// Names whose last acquire here asked for the API's description.
    dynamic_acquires: HashSet<String>,
    /// Names the host refused to describe here: only typed replicas acquire them.
    schema_refused: HashSet<String>,
    /// Names asked to be described (a replica's signature differed), not yet answered.
    describing: HashSet<String>,
    /// Names already reported as served here with another API than a replica's.
    mismatched: HashSet<String>,
    liveness: Option<Liveness>,
    next_tick: Option<Instant>,
    next_ping: u64,
    /// Whether an init was applied on this connection: it did its job at least once.
    initialized: bool,
}

impl<S: FrameSink> NodeSession<S> {
    /// `api`, held once in this session.
    fn api_name(&mut self, api: &str) -> Arc<str> {
        if let Some(held) = self.api_names.get(api) {
            return Arc::clone(held);
        }
        // Names no offer holds any more go before the set outgrows the offers: a host
        // that keeps offering and withdrawing new APIs cannot grow it.
        if self.api_names.len() > 2 * self.offered.len() + 16 {
            self.api_names.retain(|held| Arc::strong_count(held) > 1);
        }
        let held: Arc<str> = api.into();
        self.api_names.insert(Arc::clone(&held));
        held
    }

    /// A session on a connection just opened; sends the node's handshake.
    pub(crate) fn new(sink: S, config: Arc<NodeSessionConfig>) -> NodeSession<S> {
        let session = NodeSession {
            conn: sink.conn(),
            sink,
            greeting: Greeting::AwaitingHandshake,
            offered: HashMap::new(),
            api_names: HashSet::new(),
            dynamic_acquires: HashSet::new(),
            schema_refused: HashSet::new(),
            describing: HashSet::new(),
            mismatched: HashSet::new(),
            liveness: None,
            next_tick: None,
            next_ping: 0,
            initialized: false,
            config,
        };
        session.send(&Packet::Handshake(Handshake::ours(session.config.encoding)));
        session
    }

    pub(crate) fn conn(&self) -> ConnId {
        self.conn
    }

    fn send(&self, packet: &Packet) -> bool {
        self.sink.push(self.config.dialect.encode(packet))
    }

    /// Handles one packet before the connection is open: the host's handshake, its
    /// authentication exchange if it asks for one, and its object list. An error ends the
    /// connection; it says what the host and this node disagree on.
    pub(crate) fn greet(&mut self, packet: Packet) -> Result<Greeted, Error> {
        let unexpected =
            |kind: &'static str| -> Error { HandshakeError::NotAHandshake { found: kind }.into() };
        match (&mut self.greeting, packet) {
            (Greeting::AwaitingHandshake, Packet::Handshake(theirs)) => {
                theirs.check(self.config.encoding)?;
                self.greeting = Greeting::Authenticating {
                    exchange: None,
                    asked_for: String::new(),
                };
                Ok(Greeted::Handshake)
            }
            (Greeting::AwaitingHandshake, other) => Err(unexpected(other.kind_name())),
            // A host sends its object list once the node is admitted.
            (Greeting::Authenticating { .. }, Packet::ObjectList(offered)) => {
                self.greeting = Greeting::Open;
                Ok(Greeted::Open(offered))
            }
            (
                Greeting::Authenticating {
                    exchange: exchange @ None,
                    asked_for,
                },
                Packet::AuthChallenge { method, challenge },
            ) => {
                let Some(credentials) = self.config.credentials.clone() else {
                    // No credentials: answer anonymously; the host may let us in.
                    let anonymous = Packet::AuthResponse {
                        method: String::new(),
                        response: Bytes::new(),
                    };
                    *asked_for = method;
                    *exchange = Some(None);
                    self.send(&anonymous);
                    return Ok(Greeted::Waiting);
                };
                if credentials.method() != method {
                    let expected = credentials.method().to_owned();
                    return Err(AuthError::WrongMethod {
                        found: method,
                        expected,
                    }
                    .into());
                }
                let response = credentials
                    .respond(&challenge)
                    .map_err(|e| Error::new(Kind::Auth(AuthError::Refused(e))))?;
                *exchange = Some(Some((challenge, response.clone())));
                self.send(&Packet::AuthResponse {
                    method,
                    response: Bytes::from(response),
                });
                Ok(Greeted::Waiting)
            }
            (Greeting::Authenticating { exchange, .. }, Packet::AuthAccepted { proof }) => {
                match (exchange, &self.config.credentials) {
                    (Some(Some((challenge, response))), Some(credentials)) => credentials
                        .check_proof(challenge, response, &proof)
                        .map_err(AuthError::HostNotProven)?,
                    (Some(None), _) => {} // admitted anonymously
                    _ => return Err(unexpected("AuthAccepted")),
                }
                Ok(Greeted::Waiting)
            }
            (
                Greeting::Authenticating {
                    exchange: Some(None),
                    asked_for,
                },
                Packet::AuthRefused { .. },
            ) => Err(AuthError::CredentialsNeeded {
                method: std::mem::take(asked_for),
            }
            .into()),
            (Greeting::Authenticating { .. }, Packet::AuthRefused { reason }) => {
                Err(AuthError::Refused(reason).into())
            }
            (_, other) => Err(unexpected(other.kind_name())),
        }
    }

    /// The greeting is over: from `now` on, heartbeats run (if configured).
    fn open(&mut self, now: Instant) {
        if let Some(interval) = self.config.heartbeat {
            self.liveness = Some(Liveness::new(interval, now));
            self.next_tick = Some(now + Liveness::tick_period(interval));
        }
    }

    /// The host sent something: it is alive.
    fn heard(&mut self, now: Instant) {
        if let Some(liveness) = self.liveness.as_mut() {
            liveness.heard(now);
        }
    }

    /// A heartbeat tick if one is due: false if the host is silent for too long.
    fn tick(&mut self, now: Instant) -> bool {
        let (Some(due), Some(liveness), Some(interval)) =
            (self.next_tick, &self.liveness, self.config.heartbeat)
        else {
            return true;
        };
        if now < due {
            return true;
        }
        self.next_tick = Some(due + Liveness::tick_period(interval));
        match liveness.tick(now) {
            Tick::Ping => {
                self.next_ping += 1;
                self.send(&Packet::Ping(self.next_ping));
                true
            }
            Tick::Dead => false,
        }
    }
}

/// Why a node closes a connection to a host.
#[derive(Debug, thiserror::Error)]
pub(crate) enum NodeSessionError {
    #[error("a host may not send {0} packets after the handshake")]
    UnexpectedPacket(&'static str),
}

/// The replicas (usually one: a typed and a dynamic replica of one source share it) fed by
/// one source on one connection.
struct Linked<S> {
    /// The name of the source, or of the source the child hangs under.
    name: String,
    entries: Vec<Arc<dyn ReplicaEntry<S>>>,
    /// For a child: the source it hangs under, and at which member.
    parent: Option<(SourceId, u16)>,
    /// The children linked under it, by id.
    children: Vec<SourceId>,
}

/// A node's open sessions and its replicas: which replica each source's packets feed, and
/// where to acquire each source.
pub(crate) struct NodeProtocol<S> {
    sessions: HashMap<ConnId, NodeSession<S>>,
    /// Every replica by source name; a typed and a dynamic one may share a name.
    replicas: HashMap<Arc<str>, Vec<Arc<dyn ReplicaEntry<S>>>>,
    /// Which replicas a (connection, source id) pair feeds: looked up for every packet.
    links: FxHashMap<(ConnId, SourceId), Linked<S>>,
    /// Sources a host serves with another API than a replica's, not yet taken by the driver.
    mismatches: Vec<(ConnId, String)>,
    /// The buffer runs of updates are gathered in, kept from one batch to the next.
    run: Vec<Update>,
}

impl<S: FrameSink> Default for NodeProtocol<S> {
    fn default() -> Self {
        NodeProtocol {
            sessions: HashMap::new(),
            replicas: HashMap::new(),
            links: FxHashMap::default(),
            mismatches: Vec::new(),
            run: Vec::new(),
        }
    }
}

impl<S: FrameSink> NodeProtocol<S> {
    /// A session finished its greeting at `now`, with the host offering `offered`.
    pub(crate) fn open(
        &mut self,
        mut session: NodeSession<S>,
        offered: Vec<ObjectInfo>,
        now: Instant,
    ) {
        session.open(now);
        let conn = session.conn;
        self.sessions.insert(conn, session);
        for info in offered {
            self.offer(conn, info);
        }
    }

    #[cfg(test)]
    pub(crate) fn is_open(&self, conn: ConnId) -> bool {
        self.sessions.contains_key(&conn)
    }

    /// How many API names the session on `conn` holds (for tests).
    #[cfg(test)]
    pub(crate) fn held_api_names(&self, conn: ConnId) -> usize {
        self.sessions.get(&conn).map_or(0, |s| s.api_names.len())
    }

    /// A new replica of `name`: acquires its source wherever it is offered.
    pub(crate) fn attach(&mut self, name: &Arc<str>, entry: Arc<dyn ReplicaEntry<S>>) {
        let held = match self.replicas.get_key_value(&**name) {
            Some((held, _)) => Arc::clone(held),
            None => Arc::clone(name),
        };
        self.replicas
            .entry(Arc::clone(&held))
            .or_default()
            .push(entry);
        // Offers made before the replica existed hold a copy of the name: share one.
        for session in self.sessions.values_mut() {
            if let Some((_, offer)) = session.offered.remove_entry(&**name) {
                session.offered.insert(Arc::clone(&held), offer);
            }
        }
        self.acquire_if_offered(name);
    }

    /// The last handle of a replica dropped: forgets it, and releases the source with the
    /// last replica of that name.
    pub(crate) fn detach(&mut self, name: &str, entry: &Arc<dyn ReplicaEntry<S>>) {
        let Some(entries) = self.replicas.get_mut(name) else {
            return;
        };
        let before = entries.len();
        entries.retain(|e| !Arc::ptr_eq(e, entry));
        if entries.len() == before {
            return; // never attached (a replica refused before it connected)
        }
        let last = entries.is_empty();
        if last {
            self.replicas.remove(name);
        }
        if let Some((conn, source)) = entry.link() {
            if let Some(linked) = self.links.get_mut(&(conn, source)) {
                linked.entries.retain(|e| !Arc::ptr_eq(e, entry));
            }
            if last {
                self.remove_children(conn, source, None);
                self.links.remove(&(conn, source));
                if let Some(session) = self.sessions.get(&conn) {
                    session.send(&Packet::Release { source });
                }
            }
        }
        debug!(%name, "replica released");
    }

    /// A batch of packets arrived on `conn` at `now`.
    pub(crate) fn heard(&mut self, conn: ConnId, now: Instant) {
        if let Some(session) = self.sessions.get_mut(&conn) {
            session.heard(now);
        }
    }

    /// Handles packets that arrived together from the host on `conn`, in order, as
    /// [`NodeProtocol::handle`] would one by one; a run of changes and signals for one
    /// source reaches each of its replicas in one call. An error stops at that packet.
    pub(crate) fn handle_batch(
        &mut self,
        conn: ConnId,
        packets: Vec<Packet>,
    ) -> Result<(), NodeSessionError> {
        let mut run = std::mem::take(&mut self.run);
        let mut run_source = None;
        let mut result = Ok(());
        for packet in packets {
            match Update::of(packet) {
                Ok((source, update)) => {
                    if run_source != Some(source) {
                        self.deliver_run(conn, run_source, &mut run);
                        run_source = Some(source);
                    }
                    run.push(update);
                }
                Err(packet) => {
                    self.deliver_run(conn, run_source.take(), &mut run);
                    result = self.handle(conn, packet);
                    if result.is_err() {
                        break;
                    }
                }
            }
        }
        self.deliver_run(conn, run_source, &mut run);
        self.run = run;
        result
    }

    /// Hands `run` (emptied) to the replicas of `source`, if any.
    fn deliver_run(&mut self, conn: ConnId, source: Option<SourceId>, run: &mut Vec<Update>) {
        let Some(source) = source.filter(|_| !run.is_empty()) else {
            return;
        };
        let refuse = &mut |error: ReplicaProtocolError| {
            warn!(conn, %error, "refusing a value from the host");
        };
        self.deliver(conn, source, |entry| entry.on_updates(run, refuse));
        run.clear();
    }

    /// Handles one packet from the host on `conn`. An error closes that connection (the
    /// driver then calls [`NodeProtocol::close`]).
    pub(crate) fn handle(&mut self, conn: ConnId, packet: Packet) -> Result<(), NodeSessionError> {
        match packet {
            Packet::ObjectList(list) => {
                for info in list {
                    self.offer(conn, info);
                }
            }
            Packet::AddObject(info) => self.offer(conn, info),
            Packet::RemoveObject { name } => {
                if let Some(session) = self.sessions.get_mut(&conn) {
                    session.offered.remove(name.as_str());
                }
                self.unlink(conn, |entry_name| entry_name == name);
            }
            Packet::AcquireRefused { name, reason } => self.refused(conn, name, reason),
            Packet::SetPropertyRefused {
                source,
                index,
                serial,
                reason,
            } => {
                let linked = self.linked(conn, source);
                for entry in linked {
                    entry.on_write_refused(index, &reason);
                }
                if serial != NO_REPLY {
                    if let Some(complete) = linked.iter().find_map(|e| e.take_pending(serial)) {
                        complete(Err(SlotError::Rejected(reason)));
                    }
                }
            }
            Packet::SetPropertyDone { source, serial } => {
                let pending = self
                    .linked(conn, source)
                    .iter()
                    .find_map(|e| e.take_pending(serial));
                match pending {
                    Some(complete) => complete(Ok(Bytes::new())),
                    None => debug!(conn, serial, "an answer to no pending write"),
                }
            }
            Packet::Init {
                name,
                source,
                signature,
                values,
                children,
            } => self.init(conn, name, source, signature, None, values, &children)?,
            Packet::InitDynamic {
                name,
                source,
                signature,
                schema,
                values,
                children,
            } => self.init(
                conn,
                name,
                source,
                signature,
                Some(schema),
                values,
                &children,
            )?,
            Packet::ChildChange {
                parent,
                slot,
                children,
            } => self.child_change(conn, parent, slot, &children),
            Packet::PropertyChange {
                source,
                index,
                value,
            } => decoding_from(std::slice::from_ref(&value), || {
                self.deliver(conn, source, |entry| {
                    entry.on_property_change(index, &value)
                })
            }),
            Packet::Signal {
                source,
                index,
                args,
            } => decoding_from(std::slice::from_ref(&args), || {
                self.deliver(conn, source, |entry| entry.on_signal(index, &args))
            }),
            Packet::InvokeReply {
                source,
                serial,
                outcome,
            } => {
                let pending = self
                    .linked(conn, source)
                    .iter()
                    .find_map(|e| e.take_pending(serial));
                // Only a large reply is worth a handle on its frame (see `SharedBytes`).
                let large = outcome
                    .as_ref()
                    .ok()
                    .filter(|b| b.len() >= SHARE_MIN)
                    .cloned();
                match pending {
                    Some(complete) => decoding_from(large.as_slice(), || {
                        complete(outcome.map_err(|failure| match failure.kind {
                            FailureKind::Source => SlotError::Source(failure.message),
                            FailureKind::Rejected => SlotError::Rejected(failure.message),
                        }))
                    }),
                    None => debug!(conn, serial, "a reply to no pending call"),
                }
            }
            Packet::Description { name, schema } => {
                let asked = self
                    .sessions
                    .get_mut(&conn)
                    .is_some_and(|s| s.describing.remove(&name));
                if !asked {
                    debug!(conn, %name, "a description nobody asked for");
                    return Ok(());
                }
                for entry in self.replicas.get(name.as_str()).into_iter().flatten() {
                    entry.on_description(&schema);
                }
            }
            Packet::Ping(nonce) => {
                if let Some(session) = self.sessions.get(&conn) {
                    session.send(&Packet::Pong(nonce));
                }
            }
            Packet::Pong(_) => {}
            other => return Err(NodeSessionError::UnexpectedPacket(other.kind_name())),
        }
        Ok(())
    }

    /// The connection `conn` is gone (closed, failed, timed out): its replicas go `Suspect`
    /// and look for their sources on the other connections. Says whether any replica was
    /// initialized through it (`None`: it was not open).
    pub(crate) fn close(&mut self, conn: ConnId) -> Option<bool> {
        let session = self.sessions.remove(&conn)?;
        // Mismatches that waited for a description are final without one.
        for name in &session.describing {
            for entry in self.replicas.get(name.as_str()).into_iter().flatten() {
                entry.on_description(&[]);
            }
        }
        self.unlink(conn, |_| true);
        Some(session.initialized)
    }

    /// The earliest time [`NodeProtocol::handle_timeout`] has something to do.
    /// The sources found served with another API than a replica's since the last call,
    /// each with its connection (once per connection and name).
    pub(crate) fn take_mismatches(&mut self) -> Vec<(ConnId, String)> {
        std::mem::take(&mut self.mismatches)
    }

    pub(crate) fn poll_timeout(&self) -> Option<Instant> {
        self.sessions.values().filter_map(|s| s.next_tick).min()
    }

    /// Sends the heartbeats due at `now`; returns the connections whose host fell silent,
    /// for the driver to close.
    pub(crate) fn handle_timeout(&mut self, now: Instant) -> Vec<ConnId> {
        self.sessions
            .values_mut()
            .filter_map(|session| (!session.tick(now)).then_some(session.conn))
            .collect()
    }

    /// Whether any open connection offers `name`.
    pub(crate) fn is_offered(&self, name: &str) -> bool {
        self.sessions.values().any(|s| s.offered.contains_key(name))
    }

    /// What the connected hosts offer, one entry per name.
    pub(crate) fn offered(&self) -> Vec<ObjectInfo> {
        let mut all: BTreeMap<String, ObjectInfo> = BTreeMap::new();
        for session in self.sessions.values() {
            for (name, offer) in &session.offered {
                all.entry(name.to_string()).or_insert_with(|| ObjectInfo {
                    name: name.to_string(),
                    api: offer.api.to_string(),
                    signature: offer.signature,
                });
            }
        }
        all.into_values().collect()
    }

    /// The names of replicas that have no source: none linked, none offered by an open
    /// connection (`only`: just that name, if so).
    pub(crate) fn unserved<'a>(&'a self, only: Option<&'a str>) -> impl Iterator<Item = &'a str> {
        self.replicas
            .iter()
            .filter(move |(name, _)| only.is_none_or(|only| only == &***name))
            .filter(|(name, entries)| {
                entries.iter().all(|e| e.link().is_none()) && !self.is_offered(name)
            })
            .map(|(name, _)| &**name)
    }

    fn offer(&mut self, conn: ConnId, info: ObjectInfo) {
        let name = match self.replicas.get_key_value(info.name.as_str()) {
            Some((held, _)) => Arc::clone(held),
            None => Arc::from(info.name),
        };
        if let Some(session) = self.sessions.get_mut(&conn) {
            let api = session.api_name(&info.api);
            let offer = Offer {
                api,
                signature: info.signature,
            };
            session.offered.insert(Arc::clone(&name), offer);
        }
        self.acquire_if_offered(&name);
    }

    /// Acquires `name` wherever it is offered, once for every entry that wants it: a dynamic
    /// acquire if any entry needs the API's description (and the host has not refused to
    /// describe it on that connection).
    fn acquire_if_offered(&mut self, name: &str) {
        let Some(entries) = self.replicas.get(name) else {
            return;
        };
        for session in self.sessions.values_mut() {
            let Some(info) = session.offered.get(name) else {
                continue;
            };
            let no_schema = session.schema_refused.contains(name);
            let mut mismatched = false;
            let wanting: Vec<&Arc<dyn ReplicaEntry<S>>> = entries
                .iter()
                .filter(|e| !(no_schema && e.wants_schema()))
                .filter(|e| e.link().is_none())
                .filter(|e| match e.on_offered(info.signature) {
                    Offered::Acquire => true,
                    Offered::Skip => false,
                    Offered::Mismatch => {
                        mismatched = true;
                        false
                    }
                })
                .collect();
            if mismatched && session.mismatched.insert(name.to_owned()) {
                self.mismatches.push((session.conn, name.to_owned()));
            }
            if mismatched && session.describing.insert(name.to_owned()) {
                // To say what differs, not only that two hashes do.
                session.send(&Packet::Describe {
                    name: name.to_owned(),
                });
            }
            if wanting.is_empty() {
                return;
            }
            debug!(conn = session.conn, %name, "acquiring");
            let dynamic = wanting.iter().any(|e| e.wants_schema());
            let packet = match wanting.first() {
                Some(typed) if !dynamic => Packet::Acquire {
                    name: name.to_owned(),
                    signature: typed.signature(),
                },
                _ => Packet::AcquireDynamic {
                    name: name.to_owned(),
                },
            };
            if dynamic {
                session.dynamic_acquires.insert(name.to_owned());
            } else {
                session.dynamic_acquires.remove(name);
            }
            session.send(&packet);
            return;
        }
    }

    /// The host refused an acquire of `name`. A refused dynamic acquire refuses the replicas
    /// that need the API's description; typed replicas of the same source then ask for
    /// themselves (the host may serve them, or refuse them too).
    fn refused(&mut self, conn: ConnId, name: String, reason: String) {
        warn!(conn, %name, %reason, "the host refused to serve a replica");
        let session = self.sessions.get_mut(&conn);
        let dynamic = session.is_some_and(|s| {
            let dynamic = s.dynamic_acquires.remove(&name);
            if dynamic {
                s.schema_refused.insert(name.clone());
            }
            dynamic
        });
        for entry in self.replicas.get(name.as_str()).into_iter().flatten() {
            if !dynamic || entry.wants_schema() {
                entry.on_refused(&reason);
            }
        }
        if dynamic {
            self.acquire_if_offered(&name);
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn init(
        &mut self,
        conn: ConnId,
        name: String,
        source: SourceId,
        signature: u64,
        schema: Option<Bytes>,
        values: Vec<Bytes>,
        children: &[ChildInit],
    ) -> Result<(), NodeSessionError> {
        let Some(session) = self.sessions.get_mut(&conn) else {
            return Ok(());
        };
        let sink = session.sink.clone();
        let entries = self
            .replicas
            .get(name.as_str())
            .cloned()
            .unwrap_or_default();
        let mut applied = Vec::new();
        let mut failed = Vec::new();
        let mut needs_schema = false;
        let mut mismatched = false;
        let mut tree = ChildTree::new(children);
        for entry in &entries {
            tree.next_replica();
            let link = Link {
                conn,
                source,
                sink: sink.clone(),
            };
            match entry.on_init(link, signature, values.clone(), schema.as_ref(), &mut tree) {
                Ok(InitOutcome::Applied) => applied.push(Arc::clone(entry)),
                Ok(InitOutcome::NeedsSchema) => needs_schema = true,
                Ok(InitOutcome::SignatureMismatch) => mismatched = true,
                // That replica stays as it was (contract item 2); the others go on.
                Err(error) if error.is_bad_value() => {
                    warn!(conn, %error, "refusing an init from the host")
                }
                Err(error) => {
                    entry.on_failed(&error.to_string());
                    failed.push(Arc::clone(entry));
                }
            }
        }
        let emptied = self.links.get_mut(&(conn, source)).is_some_and(|linked| {
            // A re-init a linked replica cannot hold: it lets go of the source.
            linked
                .entries
                .retain(|e| !failed.iter().any(|f| Arc::ptr_eq(e, f)));
            linked.entries.is_empty()
        });
        if emptied {
            for entry in self.remove_children(conn, source, None) {
                entry.on_link_lost();
            }
            self.links.remove(&(conn, source));
        }
        let Some(session) = self.sessions.get_mut(&conn) else {
            return Ok(());
        };
        if mismatched && session.mismatched.insert(name.clone()) {
            self.mismatches.push((conn, name.clone()));
        }
        if needs_schema {
            session.dynamic_acquires.insert(name.clone());
            session.send(&Packet::AcquireDynamic { name: name.clone() });
        }
        if applied.is_empty() && !needs_schema {
            // Released while the init was on its way, or no replica can use this source.
            session.send(&Packet::Release { source });
            return Ok(());
        }
        if !applied.is_empty() {
            session.initialized = true;
            let linked = self.links.entry((conn, source)).or_insert_with(|| Linked {
                name: name.clone(),
                entries: Vec::new(),
                parent: None,
                children: Vec::new(),
            });
            for entry in applied {
                if !linked.entries.iter().any(|e| Arc::ptr_eq(e, &entry)) {
                    linked.entries.push(entry);
                }
            }
            let before = self.remove_children(conn, source, None);
            self.link_children(conn, &name, tree.linked, before);
        }
        Ok(())
    }

    /// Child member `slot` of `parent` holds another source, or none.
    fn child_change(&mut self, conn: ConnId, parent: SourceId, slot: u16, children: &[ChildInit]) {
        let (Some(session), Some(linked)) =
            (self.sessions.get(&conn), self.links.get(&(conn, parent)))
        else {
            debug!(conn, parent, "a child change for a source no replica holds");
            return;
        };
        let (name, entries, sink) = (
            linked.name.clone(),
            linked.entries.clone(),
            session.sink.clone(),
        );
        let mut tree = ChildTree::new(children);
        for entry in entries {
            tree.next_replica();
            let link = Link {
                conn,
                source: parent,
                sink: sink.clone(),
            };
            entry.on_child_change(link, slot, &mut tree);
        }
        let before = self.remove_children(conn, parent, Some(slot));
        self.link_children(conn, &name, tree.linked, before);
    }

    /// Unlinks the children under `parent` (at member `slot` only, if given), and theirs;
    /// returns their replicas.
    fn remove_children(
        &mut self,
        conn: ConnId,
        parent: SourceId,
        slot: Option<u16>,
    ) -> Vec<Arc<dyn ReplicaEntry<S>>> {
        let Some(linked) = self.links.get_mut(&(conn, parent)) else {
            return Vec::new();
        };
        let mut gone = std::mem::take(&mut linked.children);
        if let Some(slot) = slot {
            // Keep the children at other members.
            let links = &self.links;
            let (at_slot, others): (Vec<SourceId>, Vec<SourceId>) =
                gone.into_iter().partition(|id| {
                    links
                        .get(&(conn, *id))
                        .is_some_and(|l| l.parent.is_some_and(|(_, s)| s == slot))
                });
            if let Some(linked) = self.links.get_mut(&(conn, parent)) {
                linked.children = others;
            }
            gone = at_slot;
        }
        let mut removed = Vec::new();
        while let Some(id) = gone.pop() {
            if let Some(linked) = self.links.remove(&(conn, id)) {
                removed.extend(linked.entries);
                gone.extend(linked.children);
            }
        }
        removed
    }

    /// Links the children an init or a child change linked; the replicas in `before` that
    /// are not linked again lost their source.
    fn link_children(
        &mut self,
        conn: ConnId,
        name: &str,
        linked: Vec<LinkedChild<S>>,
        before: Vec<Arc<dyn ReplicaEntry<S>>>,
    ) {
        for child in &linked {
            let entry = self
                .links
                .entry((conn, child.source))
                .or_insert_with(|| Linked {
                    name: name.to_owned(),
                    entries: Vec::new(),
                    parent: Some((child.parent, child.slot)),
                    children: Vec::new(),
                });
            if !entry.entries.iter().any(|e| Arc::ptr_eq(e, &child.entry)) {
                entry.entries.push(Arc::clone(&child.entry));
            }
        }
        // Then each under its parent (a child's own children were linked before it).
        for child in &linked {
            if let Some(parent) = self.links.get_mut(&(conn, child.parent)) {
                if !parent.children.contains(&child.source) {
                    parent.children.push(child.source);
                }
            }
        }
        for entry in before {
            if !linked.iter().any(|c| Arc::ptr_eq(&c.entry, &entry)) {
                entry.on_link_lost();
            }
        }
    }

    /// Hands a change or signal to every replica the source feeds. A value that does not
    /// decode is refused alone (logged); a replica that cannot hold what came fails and lets
    /// go of the source (the last one releases it); the connection goes on either way.
    fn deliver(
        &mut self,
        conn: ConnId,
        source: SourceId,
        mut apply: impl FnMut(&Arc<dyn ReplicaEntry<S>>) -> Result<(), ReplicaProtocolError>,
    ) {
        let mut failed = Vec::new();
        for entry in self.linked(conn, source) {
            match apply(entry) {
                Ok(()) => {}
                Err(error) if error.is_bad_value() => {
                    warn!(conn, %error, "refusing a value from the host")
                }
                Err(error) => {
                    entry.on_failed(&error.to_string());
                    failed.push(Arc::clone(entry));
                }
            }
        }
        if failed.is_empty() {
            return;
        }
        let Some(linked) = self.links.get_mut(&(conn, source)) else {
            return;
        };
        linked
            .entries
            .retain(|e| !failed.iter().any(|f| Arc::ptr_eq(e, f)));
        // A child is released with its parent, not on its own.
        if linked.entries.is_empty() && linked.parent.is_none() {
            self.remove_children(conn, source, None);
            self.links.remove(&(conn, source));
            if let Some(session) = self.sessions.get(&conn) {
                session.send(&Packet::Release { source });
            }
        }
    }

    /// The replicas a source's packets go to (empty, and logged, for none).
    fn linked(&self, conn: ConnId, source: SourceId) -> &[Arc<dyn ReplicaEntry<S>>] {
        match self.links.get(&(conn, source)) {
            Some(linked) => &linked.entries,
            None => {
                debug!(conn, source, "a packet for a source no replica holds");
                &[]
            }
        }
    }

    /// Tells the replicas linked through `conn` (and matching `which`) that their source is
    /// gone, then looks for their sources on the other connections.
    fn unlink(&mut self, conn: ConnId, which: impl Fn(&str) -> bool) {
        let gone: Vec<(ConnId, SourceId)> = self
            .links
            .iter()
            .filter(|((c, _), linked)| *c == conn && which(&linked.name))
            .map(|(k, _)| *k)
            .collect();
        let mut names = Vec::with_capacity(gone.len());
        for key in gone {
            if let Some(linked) = self.links.remove(&key) {
                for entry in &linked.entries {
                    entry.on_link_lost();
                }
                names.push(linked.name);
            }
        }
        for name in names {
            self.acquire_if_offered(&name);
        }
    }
}
