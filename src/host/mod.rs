//! [`Host`]: a node that listens and shares sources.

mod config;
mod connection;
mod in_flight;
mod registration;
mod supervision;

pub use config::HostConfig;
pub(crate) use registration::{AttachRegistry, Registration, RegistryKind, RegistryLink};
pub use supervision::SupervisedSource;

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use actix::prelude::*;
use futures::{Stream, StreamExt};
use tokio::task::JoinHandle;
use tokio_util::codec::FramedRead;
use tracing::{error, info, warn};

use crate::api::RemoteObject;
use crate::error::{Error, Kind};
use crate::node::{BackgroundError, Node, Reporter};
use crate::outbox::{next_conn_id, ConnId, Outbox};
use crate::proto::host::{HostSessionConfig, ServedSource, SourceTable};
use crate::qt::gateway::HostGateway;
use crate::qt::NativeWire;
use crate::runtime;
use crate::security::Peer;
use crate::source::{AsSourceState, DynamicSource, RemoteSource};
use crate::source::{HostedSource, Sender, SourceHub};
use crate::transport::{Endpoint, Incoming, Listener, PeerAddr, PeerKey, Transport};
use crate::wire::codec::{HandshakeGate, InputBudget};
use crate::wire::{ObjectInfo, Packet, PacketCodec, SourceId};
use config::Limits;
use connection::{Accepted, Close, CloseReason, HostConnection, SourceRemoved};
use in_flight::CallGate;

/// The in-memory stream between a host and its in-process node holds this much each way.
const LOCAL_BUFFER: usize = 256 * 1024;

/// A host: listens on a URL (and/or serves streams handed to it) and shares the sources
/// enabled on it with every node that connects. Cheap to clone.
///
/// A host runs on the actix arbiter it was created on. Call [`Host::shutdown`] to close its
/// connections cleanly and remove its Unix socket file.
///
/// Keep a `Host` (or a clone) for as long as it should serve: once every clone is dropped
/// it stops accepting connections (logged; the next connection attempt is refused), while
/// the connections already open are served until they close.
#[derive(Clone)]
#[must_use = "a Host stops accepting connections once every clone of it is dropped"]
pub struct Host {
    inner: Arc<HostInner>,
}

pub(crate) struct HostInner {
    config: HostConfig,
    /// How each connection's session behaves, from `config`.
    session_config: Arc<HostSessionConfig>,
    /// Partly received frames, across every connection.
    input_budget: Arc<InputBudget>,
    /// TLS handshakes running, for `max_connections`.
    pending_tls: AtomicUsize,
    registrar: std::sync::OnceLock<Arc<dyn Registration>>,
    url: Option<String>,
    tables: Mutex<Tables>,
    /// The number of connected nodes, for watching it change.
    connection_count: tokio::sync::watch::Sender<usize>,
    /// This host's in-process node, once asked for.
    local_node: std::sync::OnceLock<Node>,
    /// Tells [`Host::background_errors`] streams.
    reporter: Reporter,
    /// Its first listener for Qt nodes ([`Host::listen_qt`]).
    qt_url: std::sync::OnceLock<String>,
    /// What its Qt connections translated of the frames it fans out, for the others.
    qt_translations: Arc<crate::qt::driver::Translations>,
}

#[derive(Default)]
struct Tables {
    sources: HashMap<String, Arc<HostedSource>>,
    next_id: SourceId,
    connections: HashMap<ConnId, ConnectionEntry>,
    /// Connections per peer, for `max_connections_per_peer`.
    per_peer: HashMap<PeerKey, usize>,
    acceptor: Option<JoinHandle<()>>,
    /// Listeners for Qt nodes ([`Host::listen_qt`]).
    qt_acceptors: Vec<JoinHandle<()>>,
    shut_down: bool,
}

struct ConnectionEntry {
    outbox: Outbox,
    addr: Addr<HostConnection>,
    writer: JoinHandle<()>,
    /// Set once the node was admitted; only then does it hear about sources.
    announced: bool,
    /// What per-peer limits count it as.
    peer_key: Option<PeerKey>,
    /// Who it is, once admitted.
    peer: Option<Arc<Peer>>,
}

impl Host {
    /// Listens on `url` (`tcp://host:port`, port 0 for any free one, or `local:name`) with
    /// the default configuration.
    pub async fn listen(url: &str) -> Result<Host, Error> {
        Host::listen_with(url, HostConfig::default()).await
    }

    /// Listens on `url` with `config`.
    pub async fn listen_with(url: &str, config: HostConfig) -> Result<Host, Error> {
        let url = url.to_owned();
        runtime::run(move || async move { Host::listen_here(&url, config).await }).await?
    }

    /// [`Host::listen_with`], on the current arbiter.
    async fn listen_here(url: &str, config: HostConfig) -> Result<Host, Error> {
        let endpoint = Endpoint::parse(url)?;
        // Check everything that can fail before binding, so that a failed listen leaves no
        // port bound or socket file behind.
        let qt_registry = config.registry.as_ref().is_some_and(|r| r.is_qt());
        registration::check(&config, (!qt_registry).then_some(&endpoint))?;
        let (listener, bound) =
            Listener::bind(&endpoint, config.socket_mode, config.tls.as_ref()).await?;
        let host = Host::build(config, Some(bound.to_string()));
        if let Some(registry) = host.inner.config.registry.clone() {
            host.set_registrar((registry.attach)(&registry.url, &host)?);
        }
        let weak = Arc::downgrade(&host.inner);
        let bound_url = bound.to_string();
        let acceptor = actix::spawn(async move {
            loop {
                let accepted = listener.accept().await;
                let Some(inner) = weak.upgrade() else {
                    info!(url = %bound_url, "every Host handle was dropped: no longer accepting connections");
                    break;
                };
                match accepted {
                    Ok(Incoming::Ready(stream, peer)) => {
                        Host { inner }.serve_from(stream, Peer::new(peer))
                    }
                    Ok(Incoming::Tls(tcp, peer, acceptor)) => {
                        Host { inner }.accept_tls(tcp, peer, acceptor)
                    }
                    Err(error) => {
                        // Typically out of file descriptors: back off instead of spinning.
                        inner.accept_failed(&bound_url, error);
                        drop(inner);
                        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                    }
                }
            }
        });
        host.tables().acceptor = Some(acceptor);
        info!(url = %bound, "host listening");
        Ok(host)
    }

    /// Also listens on `url` (`tcp://…` or `local:…`; a `local:` name that is not a path is,
    /// as for Qt, a socket in the temporary directory) for Qt Remote Objects nodes (Qt 6.2 and
    /// later: C++, QML or PyQt replicas), which speak Qt's own dialect, QtRO 2.0. Every
    /// source this host serves is offered to them too, with repc's signature for its API, and
    /// each Qt connection is served as a native one behind a translator, so this host's
    /// limits and access policy apply to it (with its real peer address). Returns the URL
    /// it listens on (the real port when asked for port 0).
    ///
    /// Qt nodes cannot authenticate and Qt has no built-in TLS: a host with an
    /// [`authenticator`](HostConfig::authenticator), or a `tls://` URL, is refused
    /// ([`Error::is_qt_dialect`]).
    pub async fn listen_qt(&self, url: &str) -> Result<String, Error> {
        let host = self.clone();
        let url = url.to_owned();
        runtime::run(move || async move { host.listen_qt_here(&url).await }).await?
    }

    async fn listen_qt_here(&self, url: &str) -> Result<String, Error> {
        self.check_qt()?;
        let endpoint = Endpoint::parse_qt(url)?;
        if matches!(endpoint, Endpoint::Tls { .. }) {
            return Err(Error::new(crate::error::Kind::QtDialect(
                "Qt has no built-in TLS: listen for Qt nodes on tcp:// or local:".into(),
            )));
        }
        let config = &self.inner.config;
        if config.registry.as_ref().is_some_and(|r| r.is_qt()) {
            registration::check(config, Some(&endpoint))?;
        }
        let (listener, bound) =
            Listener::bind(&endpoint, self.inner.config.socket_mode, None).await?;
        let weak = Arc::downgrade(&self.inner);
        let bound_url = bound.to_string();
        let listening_on = bound_url.clone();
        let acceptor = actix::spawn(async move {
            loop {
                let accepted = listener.accept().await;
                let Some(inner) = weak.upgrade() else {
                    break;
                };
                match accepted {
                    Ok(Incoming::Ready(stream, peer)) => {
                        Host { inner }.serve_qt_from(stream, Peer::new(peer))
                    }
                    Ok(Incoming::Tls(..)) => {}
                    Err(error) => {
                        inner.accept_failed(&listening_on, error);
                        drop(inner);
                        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                    }
                }
            }
        });
        self.tables().qt_acceptors.push(acceptor);
        let _ = self.inner.qt_url.set(bound_url.clone());
        info!(url = %bound_url, "host listening for Qt nodes");
        Ok(bound_url)
    }

    fn check_qt(&self) -> Result<(), Error> {
        if self.inner.config.authenticator.is_some() {
            return Err(Error::new(crate::error::Kind::QtDialect(
                "this host authenticates its nodes, and Qt nodes cannot authenticate".into(),
            )));
        }
        Ok(())
    }

    /// Serves one Qt Remote Objects node over an already-open stream (see
    /// [`Host::listen_qt`]).
    pub fn serve_qt<T: Transport>(&self, stream: T) -> Result<(), Error> {
        self.check_qt()?;
        let host = self.clone();
        runtime::run_blocking(move || {
            host.serve_qt_from(Box::new(stream), Peer::new(PeerAddr::Unknown))
        });
        Ok(())
    }

    /// A Qt connection is a native connection whose packets a translator hands over and
    /// takes, in memory.
    fn serve_qt_from(&self, stream: Box<dyn Transport>, peer: Peer) {
        let encoding = self.inner.config.encoding;
        let max_frame = self.inner.config.max_frame_size;
        let weak = Arc::downgrade(&self.inner);
        let hints: crate::qt::gateway::RepLookup = Arc::new(move |name: &str| {
            let Some(inner) = weak.upgrade() else {
                return Default::default();
            };
            let host = Host { inner };
            let hints = host.tables().sources.get(name).map(|s| s.qt_hints);
            hints.unwrap_or_default()
        });
        let gateway = crate::qt::gateway::HostGateway::new(encoding, hints);
        let shared = Some(Arc::clone(&self.inner.qt_translations));
        let end = crate::qt::driver::start_gateway(gateway, stream, max_frame, shared);
        let session = Arc::clone(&self.inner.session_config);
        self.serve_with(NativeWire::Translated(end), peer, session);
    }

    /// A host with no listener: it serves only the streams given to [`Host::serve`]. With a
    /// registry it registers its sources under [`HostConfig::advertised_url`]; without one it
    /// registers nothing (and says so in the log, as it does for a URL it cannot use).
    pub fn new(config: HostConfig) -> Host {
        let host = Host::build(config, None);
        let Some(registry) = host.inner.config.registry.clone() else {
            return host;
        };
        if host.inner.config.advertised_url.is_none() {
            warn!(registry = %registry.url, "a host with no listener and no HostConfig::advertised_url registers nothing");
            return host;
        }
        if let Err(error) = registration::check(&host.inner.config, None) {
            error!(%error, "this host registers nothing");
            return host;
        }
        let attaching = host.clone();
        match runtime::run_blocking(move || (registry.attach)(&registry.url, &attaching)) {
            Ok(registrar) => host.set_registrar(registrar),
            Err(error) => error!(%error, "this host registers nothing"),
        }
        host
    }

    fn build(config: HostConfig, url: Option<String>) -> Host {
        let (connection_count, _) = tokio::sync::watch::channel(0);
        Host {
            inner: Arc::new(HostInner {
                input_budget: InputBudget::new(config.limits.max_buffered_input),
                session_config: Arc::new(config.session_config()),
                pending_tls: AtomicUsize::new(0),
                config,
                registrar: std::sync::OnceLock::new(),
                url,
                tables: Mutex::new(Tables::default()),
                connection_count,
                local_node: std::sync::OnceLock::new(),
                reporter: Reporter::default(),
                qt_url: std::sync::OnceLock::new(),
                qt_translations: Default::default(),
            }),
        }
    }

    /// The URL schemes a host can listen on (QtRO's server backends), for checking a URL
    /// before listening.
    pub fn supported_schemes() -> &'static [&'static str] {
        crate::transport::SUPPORTED_SCHEMES
    }

    pub(crate) fn downgrade(&self) -> std::sync::Weak<HostInner> {
        Arc::downgrade(&self.inner)
    }

    /// The URL it listens on, with the real port when it was asked for port 0.
    pub fn url(&self) -> Option<&str> {
        self.inner.url.as_deref()
    }

    /// Serves one node over an already-open stream (a socket accepted elsewhere, a pipe,
    /// an in-memory duplex…). The stream counts against [`HostConfig::max_connections`];
    /// past it, it is closed at once (and logged).
    pub fn serve<T: Transport>(&self, stream: T) {
        let host = self.clone();
        runtime::run_blocking(move || {
            host.serve_from(Box::new(stream), Peer::new(PeerAddr::Unknown))
        });
    }

    /// A node in this process connected to this host over an in-memory stream, made on first
    /// use: its replicas work exactly as remote ones do — the same packets, ordering and
    /// states — with no socket. It is not asked to authenticate (it is this process); the
    /// access policy sees it as [`PeerAddr::InProcess`].
    pub fn local_node(&self) -> Node {
        if let Some(node) = self.inner.local_node.get() {
            return node.clone();
        }
        let host = self.clone();
        runtime::run_blocking(move || host.local_node_here())
    }

    /// [`Host::local_node`], on the current arbiter.
    fn local_node_here(&self) -> Node {
        self.inner
            .local_node
            .get_or_init(|| {
                let config = self.inner.local_node_config();
                let node = Node::new(config);
                let (ours, theirs) = tokio::io::duplex(LOCAL_BUFFER);
                let session = HostSessionConfig {
                    authenticator: None,
                    ..(*self.inner.session_config).clone()
                };
                self.serve_with(
                    NativeWire::Stream(Box::new(ours)),
                    Peer::new(PeerAddr::InProcess),
                    Arc::new(session),
                );
                let connecting = node.clone();
                actix::spawn(async move {
                    if let Err(error) = connecting.connect_stream(theirs).await {
                        warn!(%error, "the in-process node could not connect to its host");
                    }
                });
                node
            })
            .clone()
    }

    /// A replica, in this process, of the source this host serves under `A`'s name (see
    /// [`Host::local_node`]).
    pub fn acquire<A: RemoteObject>(&self) -> crate::Replica<A> {
        self.local_node().acquire::<A>()
    }

    /// A replica, in this process, of the source this host serves under `name`.
    pub fn acquire_named<A: RemoteObject>(&self, name: &str) -> crate::Replica<A> {
        self.local_node().acquire_named::<A>(name)
    }

    /// Runs a TLS handshake off the accept loop (within the handshake timeout, and counted
    /// against `max_connections` while it runs), then serves the connection with the
    /// client certificate's names as the peer's identity.
    fn accept_tls(
        &self,
        tcp: tokio::net::TcpStream,
        addr: PeerAddr,
        acceptor: tokio_rustls::TlsAcceptor,
    ) {
        let limits = &self.inner.config.limits;
        let pending = self.inner.pending_tls.fetch_add(1, Ordering::AcqRel);
        if pending + self.connection_count() >= limits.max_connections {
            self.inner.pending_tls.fetch_sub(1, Ordering::AcqRel);
            warn!(peer = %addr, "refusing a connection: too many connections and TLS handshakes (max_connections)");
            crate::telemetry::connection_refused("limits");
            return;
        }
        let timeout = limits.handshake_timeout;
        let host = self.clone();
        actix::spawn(async move {
            let handshake = tokio::time::timeout(timeout, acceptor.accept(tcp)).await;
            host.inner.pending_tls.fetch_sub(1, Ordering::AcqRel);
            let stream = match handshake {
                Ok(Ok(stream)) => stream,
                Ok(Err(error)) => {
                    warn!(peer = %addr, %error, "TLS handshake failed; closing the connection");
                    crate::telemetry::connection_refused("tls");
                    return;
                }
                Err(_) => {
                    warn!(peer = %addr, timeout_ms = timeout.as_millis() as u64, "no TLS handshake in time; closing the connection");
                    crate::telemetry::connection_refused("tls");
                    return;
                }
            };
            let mut peer = Peer::new(addr);
            let first = stream
                .get_ref()
                .1
                .peer_certificates()
                .and_then(|c| c.first());
            peer.certificate = first.and_then(crate::security::tls::peer_certificate);
            peer.identity = peer
                .certificate
                .as_ref()
                .and_then(|c| c.identity())
                .map(str::to_owned);
            host.serve_from(Box::new(stream), peer);
        });
    }

    fn serve_from(&self, stream: Box<dyn Transport>, peer: Peer) {
        let session = Arc::clone(&self.inner.session_config);
        self.serve_with(NativeWire::Stream(stream), peer, session);
    }

    fn serve_with(
        &self,
        wire: NativeWire<HostGateway>,
        peer: Peer,
        session: Arc<HostSessionConfig>,
    ) {
        let mut tables = self.tables();
        if tables.shut_down {
            return;
        }
        let key = peer.addr.key();
        if let Err(refusal) = tables.admit(key, &self.inner.config.limits) {
            warn!(peer = %peer.addr, %refusal, "refusing a connection");
            crate::telemetry::connection_refused("limits");
            return;
        }
        crate::telemetry::connection_opened(crate::telemetry::Side::Host);
        let id = next_conn_id();
        let inner = Arc::clone(&self.inner);
        let calls = CallGate::new(inner.config.limits.max_calls_in_flight);
        let max_queued = inner.config.max_queued_bytes;
        let (outbox, writer, frames, frame_gate) = match wire {
            NativeWire::Stream(stream) => {
                let (read, write) = tokio::io::split(stream);
                let (outbox, writer) = Outbox::new(id, write, max_queued);
                let (codec, frame_gate) = PacketCodec::new(inner.config.max_frame_size)
                    .with_budget(Arc::clone(&inner.input_budget))
                    .limited_until_open();
                let frames = calls.gate(FramedRead::new(read, codec)).boxed();
                (outbox, actix::spawn(writer), frames, frame_gate)
            }
            // The gateway bounds the Qt peer's frames; its packets arrive decoded.
            NativeWire::Translated(end) => {
                let (outbox, writer) = Outbox::with_writer(id, end.writer, max_queued);
                let frames = calls.gate(end.packets).boxed();
                (
                    outbox,
                    actix::spawn(writer),
                    frames,
                    HandshakeGate::default(),
                )
            }
        };
        let accepted = Accepted {
            id,
            outbox: outbox.clone(),
            peer,
            frame_gate,
            calls,
            session,
        };
        let addr = HostConnection::create(move |ctx| {
            ctx.add_stream(crate::batch::Batched::new(frames));
            HostConnection::new(inner, accepted)
        });
        // When the writer ends (closed, failed, or the node fell too far behind), the
        // connection ends with it.
        let conn = addr.clone();
        let writer = actix::spawn(async move {
            let slow = matches!(writer.await, Ok(crate::outbox::WriterEnd::Overflowed));
            conn.do_send(Close(CloseReason::WriterEnded { slow }));
        });
        tables.connections.insert(
            id,
            ConnectionEntry {
                outbox,
                addr,
                writer,
                announced: false,
                peer_key: key,
                peer: None,
            },
        );
        self.inner
            .connection_count
            .send_replace(tables.connections.len());
    }

    /// Starts `actor` on the current arbiter and remotes it under its API's name.
    ///
    /// The actor's mailbox holds 65 536 messages (actix's default is 16), so that the calls
    /// of every connection fit without parking the sender they go through; the host bounds
    /// the calls in flight itself. An actor that sets a smaller one in `started` still
    /// works, its calls then wait for room.
    ///
    /// Outside an actix arbiter it fails with [`Error::is_no_runtime`] (the actor need not
    /// be `Send`, so it cannot be moved to the crate's own): use
    /// [`Host::enable_remoting_with`] there.
    pub async fn enable_remoting<A: RemoteSource>(&self, actor: A) -> Result<Addr<A>, Error> {
        self.enable_remoting_as(actor, <A::Api as RemoteObject>::NAME)
            .await
    }

    /// Makes the actor with `make` where the host runs its actors, starts it there and
    /// remotes it under its API's name: [`Host::enable_remoting`] for programs without an
    /// actix System (see [`crate::runtime`]); inside one, the two are the same.
    pub async fn enable_remoting_with<A, F>(&self, make: F) -> Result<Addr<A>, Error>
    where
        A: RemoteSource,
        F: FnOnce() -> A + Send + 'static,
    {
        let host = self.clone();
        runtime::run(move || async move { host.enable_remoting(make()).await }).await?
    }

    /// Starts `actor` on the current arbiter and remotes it under `name` (so several
    /// instances of one API can be remoted side by side).
    pub async fn enable_remoting_as<A: RemoteSource>(
        &self,
        actor: A,
        name: &str,
    ) -> Result<Addr<A>, Error> {
        if !runtime::on_arbiter() {
            return Err(runtime::no_runtime("Host::enable_remoting"));
        }
        let source = actor.simple_source().clone();
        self.check_name_free(name)?;
        check_children::<A::Api>(&source)?;
        // Watched, so that a source actor that stops or panics is withdrawn at once.
        let served: Arc<std::sync::OnceLock<SourceId>> = Arc::default();
        let (host, id, watched_name) = (self.downgrade(), Arc::clone(&served), name.to_owned());
        let addr = supervision::start_watched(actor, move |ended| {
            if let (Some(inner), Some(id)) = (host.upgrade(), id.get()) {
                inner.withdraw(&watched_name, *id, &ended);
            }
        });
        let (id, info) = self.insert_hosted(addr.clone(), source, name, true)?;
        let _ = served.set(id);
        if !addr.connected() {
            // It ended while it started, before its id was known.
            self.inner.withdraw(name, id, &supervision::Ended::Stopped);
        }
        self.register(&info).await?;
        Ok(addr)
    }

    /// Remotes an already-started actor under its API's name. `source` must be the
    /// `SimpleSource` the actor holds (a clone of it).
    pub async fn enable_remoting_addr<A: RemoteSource>(
        &self,
        addr: Addr<A>,
        source: <A::Api as RemoteObject>::SimpleSource,
    ) -> Result<(), Error> {
        self.enable_remoting_addr_as(addr, source, <A::Api as RemoteObject>::NAME)
            .await
    }

    /// Remotes an already-started actor under `name`.
    pub async fn enable_remoting_addr_as<A: RemoteSource>(
        &self,
        addr: Addr<A>,
        source: <A::Api as RemoteObject>::SimpleSource,
        name: &str,
    ) -> Result<(), Error> {
        let (_, info) = self.insert_hosted(addr, source, name, false)?;
        let host = self.clone();
        runtime::run(move || async move { host.register(&info).await }).await?
    }

    /// Serves `addr` under `name` at once (registering is the caller's): its id and info.
    /// Serves the source of `addr` under `name`; `roomy`: the host started the actor, with
    /// a mailbox calls never fill.
    fn insert_hosted<A: RemoteSource>(
        &self,
        addr: Addr<A>,
        source: <A::Api as RemoteObject>::SimpleSource,
        name: &str,
        roomy: bool,
    ) -> Result<(SourceId, ObjectInfo), Error> {
        check_children::<A::Api>(&source)?;
        source
            .source_state()
            .use_encoding(self.inner.config.encoding)?;
        let mut tables = self.tables();
        let id = tables.next_id + 1;
        // A call that finds the actor gone withdraws the source (for an actor started
        // elsewhere, that is how the host learns it ended).
        let (host, gone_name) = (self.downgrade(), name.to_owned());
        let on_gone = move || {
            if let Some(inner) = host.upgrade() {
                inner.withdraw(&gone_name, id, &supervision::Ended::Stopped);
            }
        };
        let sender = Sender { addr, roomy };
        let hosted = HostedSource::new(id, name.to_owned(), sender, source, Box::new(on_gone));
        let info = hosted.info.clone();
        insert_source(&self.inner.config, &mut tables, hosted)?;
        Ok((id, info))
    }

    /// Serves `source`, an API described at run time, under its API's name.
    pub async fn enable_remoting_dynamic(&self, source: &DynamicSource) -> Result<(), Error> {
        let name = source.schema().api.clone();
        self.enable_remoting_dynamic_as(source, &name).await
    }

    /// Serves `source` under `name`. One dynamic source can be served under several names
    /// and on several hosts; every replica sees the same values.
    pub async fn enable_remoting_dynamic_as(
        &self,
        source: &DynamicSource,
        name: &str,
    ) -> Result<(), Error> {
        source.use_encoding(self.inner.config.encoding)?;
        let schema = source.schema();
        let info = ObjectInfo {
            name: name.to_owned(),
            api: schema.api.clone(),
            signature: schema.signature,
        };
        self.insert_hub(info.clone(), source.hub(), false)?;
        let host = self.clone();
        runtime::run(move || async move { host.register(&info).await }).await?
    }

    /// Serves a relayed source (a proxy's) under `name`, to be registered like any other
    /// with [`Host::register_relayed`] when `register` (a reverse proxy's, already in its
    /// own registry, is not): what to register.
    pub(crate) fn serve_relayed(
        &self,
        name: &str,
        source: &crate::source::RelayedSource,
        register: bool,
    ) -> Result<Option<ObjectInfo>, Error> {
        let info = ObjectInfo {
            name: name.to_owned(),
            api: source.api().to_owned(),
            signature: source.signature(),
        };
        self.insert_hub(info.clone(), source.hub(), !register)?;
        Ok(register.then_some(info))
    }

    /// Registers the relayed source `info` describes with this host's registry.
    pub(crate) async fn register_relayed(&self, info: ObjectInfo) -> Result<(), Error> {
        let host = self.clone();
        runtime::run(move || async move { host.register(&info).await }).await?
    }

    /// Tells `error` to this host's [`Host::background_errors`] streams.
    pub(crate) fn report(&self, error: BackgroundError) {
        self.inner.reporter.report(error);
    }

    /// The encoding this host's connections use.
    pub(crate) fn encoding(&self) -> crate::wire::Encoding {
        self.inner.config.encoding
    }

    /// Serves a hub of the library's own (the registry) under `info.name`. Such a source is
    /// not registered with a registry.
    pub(crate) fn enable_hub(
        &self,
        info: ObjectInfo,
        hub: Arc<dyn SourceHub>,
    ) -> Result<(), Error> {
        self.insert_hub(info, hub, true)
    }

    fn insert_hub(
        &self,
        info: ObjectInfo,
        hub: Arc<dyn SourceHub>,
        internal: bool,
    ) -> Result<(), Error> {
        let mut tables = self.tables();
        let hosted = HostedSource::with_hub(tables.next_id + 1, info, hub, internal);
        insert_source(&self.inner.config, &mut tables, hosted)
    }

    pub(crate) fn set_registrar(&self, registrar: Arc<dyn Registration>) {
        if self.inner.registrar.set(registrar).is_err() {
            tracing::warn!("a host has one registry; ignoring another");
        }
    }

    /// Registers a newly enabled source; if another host registered its name first, the
    /// source is disabled again here and the conflict returned.
    async fn register(&self, info: &ObjectInfo) -> Result<(), Error> {
        let (Some(registrar), Some(url)) =
            (self.inner.registrar.get(), self.inner.registered_url())
        else {
            return Ok(());
        };
        if let Err(error) = registrar.register(info, &url).await {
            self.remove_source(&info.name);
            return Err(error);
        }
        Ok(())
    }

    /// Stops remoting the source named `name`: its replicas are told it is gone. The source
    /// actor itself keeps running.
    pub async fn disable_remoting(&self, name: &str) -> Result<(), Error> {
        if !self.remove_source(name) {
            return Err(Error::new(Kind::UnknownSource(name.to_owned())));
        }
        if let Some(registrar) = self.inner.registrar.get() {
            registrar.unregister(name);
        }
        info!(%name, "source disabled");
        Ok(())
    }

    /// Stops serving `name` and tells the connected nodes; false if nothing had that name.
    fn remove_source(&self, name: &str) -> bool {
        self.inner.remove_source(name, None)
    }
}

impl HostInner {
    /// Stops serving `name` (only if it is the source `only` when given) and tells the
    /// connected nodes; false if nothing was removed.
    fn remove_source(&self, name: &str, only: Option<SourceId>) -> bool {
        let mut tables = self.tables();
        if only.is_some_and(|id| tables.sources.get(name).is_none_or(|s| s.id != id)) {
            return false;
        }
        let Some(hosted) = tables.sources.remove(name) else {
            return false;
        };
        hosted.hub.unsubscribe_all(hosted.id);
        hosted.report_subscribers();
        let frame = Packet::RemoveObject {
            name: name.to_owned(),
        }
        .to_frame();
        for conn in tables.connections.values().filter(|c| c.announced) {
            conn.outbox.push(frame.clone());
            conn.addr.do_send(SourceRemoved(hosted.id));
        }
        true
    }

    /// The actor behind source `id`, served as `name`, has `ended`: withdraws the source
    /// (its replicas go `Suspect`) and unregisters it. False if it was no longer served (the
    /// user disabled it, or the host shut down).
    pub(crate) fn withdraw(&self, name: &str, id: SourceId, ended: &supervision::Ended) -> bool {
        if !self.remove_source(name, Some(id)) {
            return false;
        }
        error!(%name, %ended, "withdrawing the source");
        if let Some(registrar) = self.registrar.get() {
            registrar.unregister(name);
        }
        true
    }
}

impl Host {
    /// Waits until this host's registry connection is up (at once for a registry host);
    /// sources enabled after that are registered before `enable_remoting` returns.
    pub async fn wait_for_registry(&self, timeout: std::time::Duration) -> Result<(), Error> {
        let Some(registrar) = self.inner.registrar.get().cloned() else {
            return Err(Error::new(Kind::NoRegistry));
        };
        runtime::run(move || async move { registrar.wait(timeout).await }).await?
    }

    /// The names of the sources remoted here.
    pub fn source_names(&self) -> Vec<String> {
        let mut names: Vec<String> = self.tables().sources.keys().cloned().collect();
        names.sort();
        names
    }

    /// How many replica connections are subscribed to the source named `name`.
    pub fn subscriber_count(&self, name: &str) -> Option<usize> {
        self.tables()
            .sources
            .get(name)
            .map(|s| s.hub.subscriber_count())
    }

    /// How many replica connections are subscribed to the source named `name`, now and
    /// every time it changes (fast changes may be coalesced); `None` if nothing is served
    /// under `name`. A source served on several hosts counts its subscribers on all of them,
    /// and the stream lasts as long as the source's state.
    pub fn subscriber_counts(
        &self,
        name: &str,
    ) -> Option<impl futures::Stream<Item = usize> + Unpin + Send + 'static> {
        let hub = Arc::clone(&self.tables().sources.get(name)?.hub);
        Some(crate::runtime::watch_stream(hub.subscriber_counts()))
    }

    /// The peers connected and admitted now: their addresses or Unix credentials, their
    /// TLS certificates, and who they authenticated as.
    pub fn peers(&self) -> Vec<Peer> {
        self.tables()
            .connections
            .values()
            .filter_map(|c| c.peer.as_deref().cloned())
            .collect()
    }

    /// What goes wrong from now on where no caller waits: the registry refusing a source
    /// when this host registers again after a registry restart
    /// ([`BackgroundError::RegistrationConflict`]), a registration that failed, the registry
    /// unreachable (the host's link to it reports
    /// [`BackgroundError::ConnectFailed`]/[`HandshakeFailed`](BackgroundError::HandshakeFailed)),
    /// a listener failing to accept. The host carries on; this stream is for showing it, or
    /// alerting on it. It holds a few hundred errors for a consumer that reads slower than
    /// they come, then reports [`BackgroundError::Lagged`]; it ends when the host is gone.
    pub fn background_errors(
        &self,
    ) -> impl Stream<Item = BackgroundError> + Unpin + Send + 'static {
        self.inner.reporter.subscribe()
    }

    /// How many nodes are connected.
    pub fn connection_count(&self) -> usize {
        self.tables().connections.len()
    }

    /// The number of connected nodes, now and every time it changes (fast changes may be
    /// coalesced).
    pub fn connection_counts(&self) -> impl futures::Stream<Item = usize> + Unpin + Send + 'static {
        crate::runtime::watch_stream(self.inner.connection_count.subscribe())
    }

    /// Stops listening, removes the Unix socket file, tells every node its sources are gone,
    /// flushes and closes every connection, and waits until they are closed.
    pub async fn shutdown(&self) {
        let host = self.clone();
        // Only if the crate's runtime thread is gone, and then there is nothing left to stop.
        let _ = runtime::run(move || async move { host.shutdown_here().await }).await;
    }

    /// [`Host::shutdown`], on the current arbiter.
    async fn shutdown_here(&self) {
        let (mut connections, acceptor) = {
            let mut tables = self.tables();
            tables.shut_down = true;
            let names: Vec<String> = tables.sources.keys().cloned().collect();
            for name in names {
                if let Some(hosted) = tables.sources.remove(&name) {
                    hosted.hub.unsubscribe_all(hosted.id);
                    hosted.report_subscribers();
                }
            }
            self.inner.connection_count.send_replace(0);
            tables.per_peer.clear();
            for qt in tables.qt_acceptors.drain(..) {
                qt.abort();
            }
            (
                std::mem::take(&mut tables.connections),
                tables.acceptor.take(),
            )
        };
        if let Some(registrar) = self.inner.registrar.get() {
            registrar.shutdown().await;
        }
        if let Some(node) = self.inner.local_node.get() {
            node.shutdown().await;
        }
        if let Some(acceptor) = acceptor {
            acceptor.abort();
            // Dropping the listener (inside the task) removes the socket file.
            let _ = acceptor.await;
        }
        for conn in connections.values() {
            conn.outbox.close();
            conn.addr.do_send(Close(CloseReason::Shutdown));
        }
        // Flushing waits on each peer; one that stops reading must not hold the shutdown.
        let mut writers: Vec<_> = connections.values_mut().map(|c| &mut c.writer).collect();
        let grace = self.inner.config.limits.shutdown_timeout;
        let flushed = tokio::time::timeout(grace, futures::future::join_all(writers.iter_mut()));
        if flushed.await.is_err() {
            warn!(timeout = ?grace, "connections did not flush in time; dropping what they queued");
            for conn in connections.values() {
                conn.outbox.abort();
            }
            for conn in connections.values_mut() {
                if !conn.writer.is_finished() {
                    let _ = (&mut conn.writer).await;
                }
            }
        }
        match self.url() {
            Some(url) => info!(%url, "host shut down"),
            None => info!("host shut down"),
        }
    }

    fn tables(&self) -> MutexGuard<'_, Tables> {
        self.inner.tables()
    }

    fn check_name_free(&self, name: &str) -> Result<(), Error> {
        if self.tables().shut_down {
            return Err(Error::new(Kind::Shutdown));
        }
        if self.tables().sources.contains_key(name) {
            return Err(Error::new(Kind::DuplicateName(name.to_owned())));
        }
        Ok(())
    }
}

impl Tables {
    /// Counts a new connection from `peer`, or says why the limits refuse it.
    fn admit(&mut self, peer: Option<PeerKey>, limits: &Limits) -> Result<(), String> {
        if self.connections.len() >= limits.max_connections {
            return Err(format!(
                "{} connections already, the most this host serves (max_connections)",
                self.connections.len()
            ));
        }
        if let Some(key) = peer {
            let count = self.per_peer.entry(key).or_default();
            if *count >= limits.max_connections_per_peer {
                return Err(format!(
                    "{count} connections from this peer already, the most it may hold \
                     (max_connections_per_peer)"
                ));
            }
            *count += 1;
        }
        Ok(())
    }

    fn release_peer(&mut self, peer: Option<PeerKey>) {
        let Some(key) = peer else { return };
        if let Some(count) = self.per_peer.get_mut(&key) {
            *count -= 1;
            if *count == 0 {
                self.per_peer.remove(&key);
            }
        }
    }
}

/// Whether the access policy (if any) lets `peer` see and acquire `source`.
fn may_see(config: &HostConfig, peer: &Peer, source: &str) -> bool {
    match &config.policy {
        Some(policy) => policy.0.may_see(peer, source),
        None => true,
    }
}

/// Adds a source to the tables and tells the connected nodes (that may see it) about it.
/// Refuses a source whose child member declared without `Option` holds nothing.
fn check_children<Api: RemoteObject>(source: &Api::SimpleSource) -> Result<(), Error>
where
    Api::SimpleSource: crate::source::AsSourceState<Api>,
{
    match source.source_state().unset_child() {
        None => Ok(()),
        Some(member) => Err(Error::new(Kind::BadChild {
            member: member.to_owned(),
            reason: "it holds no source yet (set it before the source is served)".to_owned(),
        })),
    }
}

fn insert_source(
    config: &HostConfig,
    tables: &mut Tables,
    hosted: Arc<HostedSource>,
) -> Result<(), Error> {
    let name = hosted.info.name.clone();
    if tables.shut_down {
        return Err(Error::new(Kind::Shutdown));
    }
    if tables.sources.contains_key(&name) {
        return Err(Error::new(Kind::DuplicateName(name)));
    }
    tables.next_id = hosted.id;
    let frame = Packet::AddObject(hosted.info.clone()).to_frame();
    for conn in tables.connections.values().filter(|c| c.announced) {
        if conn
            .peer
            .as_ref()
            .is_none_or(|peer| may_see(config, peer, &name))
        {
            conn.outbox.push(frame.clone());
        }
    }
    info!(%name, api = %hosted.info.api, "source enabled");
    tables.sources.insert(name, hosted);
    Ok(())
}

impl HostInner {
    /// The URL this host registers its sources under: the advertised one, its own, or for a Qt registry
    /// (`qt+…`), the URL of its listener for Qt nodes — the one they can use.
    pub(crate) fn registered_url(&self) -> Option<String> {
        if let Some(advertised) = &self.config.advertised_url {
            return Some(advertised.clone());
        }
        let qt_registry = self.config.registry.as_ref().is_some_and(|r| r.is_qt());
        match qt_registry {
            true => self.qt_url.get().cloned(),
            false => self.url.clone(),
        }
    }

    /// What this host serves, for registering it all again.
    pub(crate) fn source_infos(&self) -> Vec<ObjectInfo> {
        self.tables()
            .sources
            .values()
            .filter(|s| !s.internal)
            .map(|s| s.info.clone())
            .collect()
    }

    /// A node configuration that speaks this host's encoding (for its in-process node).
    fn local_node_config(&self) -> crate::NodeConfig {
        crate::NodeConfig::default().encoding(self.config.encoding)
    }

    /// The configuration of the node a host uses to reach its registry.
    /// Where this host's background errors go.
    pub(crate) fn reporter(&self) -> &Reporter {
        &self.reporter
    }

    /// A listener bound to `url` failed to accept a connection.
    fn accept_failed(&self, url: &str, error: std::io::Error) {
        let error = Arc::new(Error::io(format!("accepting on {url}"), error));
        warn!(%error, "accept failed");
        self.reporter.report(BackgroundError::AcceptFailed {
            url: url.to_owned(),
            error,
        });
    }

    pub(crate) fn registry_node_config(&self) -> crate::NodeConfig {
        if let Some(config) = &self.config.registry_node {
            return config.clone().encoding(self.config.encoding);
        }
        let mut config = crate::NodeConfig::default().encoding(self.config.encoding);
        if let Some(interval) = self.config.heartbeat {
            config = config.heartbeat(interval);
        }
        config
    }

    fn tables(&self) -> MutexGuard<'_, Tables> {
        // Every critical section is a few map operations: a panic cannot leave them torn.
        self.tables
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn source_by_name(&self, name: &str) -> Option<Arc<HostedSource>> {
        self.tables().sources.get(name).cloned()
    }

    /// Sends the object list to a connection that was admitted; from now on it hears about
    /// sources as they come and go (under the same lock, so nothing is missed). A source the
    /// access policy does not let the peer acquire is left out.
    fn announce_to(&self, id: ConnId, peer: Arc<Peer>) {
        let mut tables = self.tables();
        let list: Vec<_> = tables
            .sources
            .values()
            .filter(|s| self.may_see(&peer, &s.info.name))
            .map(|s| s.info.clone())
            .collect();
        if let Some(conn) = tables.connections.get_mut(&id) {
            conn.outbox.push(Packet::ObjectList(list).to_frame());
            conn.announced = true;
            conn.peer = Some(peer);
        }
    }

    fn may_see(&self, peer: &Peer, source: &str) -> bool {
        may_see(&self.config, peer, source)
    }

    fn forget_connection(&self, id: ConnId) {
        let mut tables = self.tables();
        if let Some(entry) = tables.connections.remove(&id) {
            tables.release_peer(entry.peer_key);
            self.connection_count.send_replace(tables.connections.len());
        }
    }
}

impl SourceTable<Outbox> for HostInner {
    fn find(&self, name: &str) -> Option<Arc<dyn ServedSource<Outbox>>> {
        self.source_by_name(name)
            .map(|hosted| hosted as Arc<dyn ServedSource<Outbox>>)
    }
}

impl std::fmt::Debug for Host {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Host")
            .field("url", &self.inner.url)
            .finish_non_exhaustive()
    }
}
