//! [`NodeConfig`]: how a node connects and talks.

use crate::proto::node::NodeSessionConfig;
use std::time::Duration;

use std::sync::Arc;

use crate::persist::PersistedStore;
use crate::security::{Credentials, TlsClient};
use crate::wire::{Encoding, DEFAULT_MAX_FRAME_SIZE};

/// Settings for a [`Node`](crate::Node), builder style.
///
/// ```
/// use std::time::Duration;
/// use actix_remote_objects::NodeConfig;
/// let config = NodeConfig::default()
///     .heartbeat(Duration::from_millis(500))
///     .reconnect_delays(Duration::from_millis(5), Duration::from_secs(1));
/// ```
#[derive(Debug, Clone)]
pub struct NodeConfig {
    pub(crate) max_frame_size: usize,
    pub(crate) encoding: Encoding,
    pub(crate) handshake_timeout: Duration,
    pub(crate) reconnect_initial: Duration,
    pub(crate) reconnect_max: Duration,
    /// The eager phase: at most this between attempts, until the delays add up to the
    /// second.
    pub(crate) reconnect_eager: (Duration, Duration),
    pub(crate) heartbeat: Option<Duration>,
    pub(crate) store: Option<StoreHandle>,
    pub(crate) max_queued_bytes: usize,
    pub(crate) event_buffer: usize,
    pub(crate) credentials: Option<CredentialsHandle>,
    pub(crate) tls: Option<TlsClient>,
    pub(crate) name: Option<Arc<str>>,
    pub(crate) models: crate::replica::model::ModelSettings,
    /// Its typed replicas' APIs, for its connections to Qt hosts (one table per node).
    pub(crate) qt_apis: crate::qt::TypedApis,
    /// How to open streams for URL schemes of the user's.
    pub(crate) connectors: crate::transport::Connectors,
}

/// Shared credentials, printable for `NodeConfig`'s `Debug` (without the secret).
#[derive(Clone)]
pub(crate) struct CredentialsHandle(pub(crate) Arc<dyn Credentials>);

impl std::fmt::Debug for CredentialsHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Credentials({})", self.0.method())
    }
}

/// A shared persisted store, printable for `NodeConfig`'s `Debug`.
#[derive(Clone)]
pub(crate) struct StoreHandle(pub(crate) Arc<dyn PersistedStore>);

impl std::fmt::Debug for StoreHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PersistedStore")
    }
}

impl Default for NodeConfig {
    fn default() -> Self {
        NodeConfig {
            max_frame_size: DEFAULT_MAX_FRAME_SIZE,
            encoding: Encoding::default(),
            handshake_timeout: Duration::from_secs(10),
            reconnect_initial: Duration::from_millis(1),
            reconnect_max: Duration::from_millis(500),
            reconnect_eager: (Duration::from_millis(50), Duration::from_secs(5)),
            heartbeat: None,
            store: None,
            max_queued_bytes: crate::outbox::DEFAULT_MAX_QUEUED,
            event_buffer: crate::replica::delivery::DEFAULT_CAPACITY,
            credentials: None,
            tls: None,
            name: None,
            models: Default::default(),
            qt_apis: Default::default(),
            connectors: Default::default(),
        }
    }
}

impl NodeConfig {
    /// A name for this node in its logs (Qt's `setName`): every connection's tracing span
    /// carries it as `node`.
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(Arc::from(name.into()));
        self
    }

    /// How many events each event stream and each recipient subscription of a replica holds
    /// for a consumer that reads slower than the source produces (default 16 384). Past it,
    /// property values coalesce (the latest wins) and the oldest signals are dropped and
    /// reported ([`Event::Lagged`](crate::Event::Lagged)): a consumer that stops reading
    /// cannot grow the node's memory.
    pub fn event_buffer(mut self, events: usize) -> Self {
        self.event_buffer = events.max(1);
        self
    }

    /// The most rows each model replica holds (default 1 000, Qt's): past it, the rows
    /// farthest from the last one read are dropped. A replica's memory is bounded by this,
    /// not by its model's size. [`ModelReplica::set_cache_rows`] changes one replica's.
    ///
    /// [`ModelReplica::set_cache_rows`]: crate::model::ModelReplica::set_cache_rows
    pub fn model_cache_rows(mut self, rows: usize) -> Self {
        self.models.cache_rows = rows;
        self
    }

    /// How many rows from the top a model replica fetches as soon as it is initialized
    /// (and after every reset), before anyone asks (default 0: like Qt, only the row count
    /// comes with the init).
    pub fn model_prefetch_rows(mut self, rows: usize) -> Self {
        self.models.prefetch_rows = rows;
        self
    }

    /// The largest frame accepted from a host, in bytes (default 64 MiB).
    pub fn max_frame_size(mut self, bytes: usize) -> Self {
        self.max_frame_size = bytes;
        self
    }

    /// The value encoding (default [`Encoding::Bincode`]); hosts must use the same.
    pub fn encoding(mut self, encoding: Encoding) -> Self {
        self.encoding = encoding;
        self
    }

    /// How long to wait for a host's handshake after connecting (default 10 s).
    pub fn handshake_timeout(mut self, timeout: Duration) -> Self {
        self.handshake_timeout = timeout;
        self
    }

    /// The delay before the first reconnect attempt after a connection is lost, and the
    /// most it grows to, doubling per failed attempt, with jitter (each shortened by up to
    /// half; defaults 1 ms and 500 ms: a host restarted at once is back within a few
    /// milliseconds, and a host dead for long sees two to four attempts a second). The
    /// delays start again from `initial` only after a connection initialized a replica or
    /// stayed up for a second: a host that accepts and then drops every connection is
    /// retried no faster than one that refuses them. See also
    /// [`NodeConfig::reconnect_eagerly`].
    pub fn reconnect_delays(mut self, initial: Duration, max: Duration) -> Self {
        self.reconnect_initial = initial;
        self.reconnect_max = max;
        self
    }

    /// For the first `during` of an outage, the delays between reconnect attempts grow no
    /// longer than `every` (kept between the initial delay and the maximum of
    /// [`NodeConfig::reconnect_delays`]); after that they grow to the maximum. Defaults
    /// 50 ms for 5 s: a host back within seconds — a restart, a redeploy — is found within
    /// 50 ms of listening again, and only a longer outage backs off. `during` zero turns
    /// the phase off.
    pub fn reconnect_eagerly(mut self, every: Duration, during: Duration) -> Self {
        self.reconnect_eager = (every, during);
        self
    }

    /// Pings each host every half `interval`; a host silent for longer than 1.5 intervals
    /// (a stalled connection that did not close) is dropped within two intervals, its
    /// replicas become `Suspect`, and the node reconnects. Off by default.
    pub fn heartbeat(mut self, interval: Duration) -> Self {
        self.heartbeat = Some(interval);
        self
    }

    /// How many bytes of outgoing frames may wait for one host that reads too slowly
    /// before the connection is closed (default 64 MiB).
    pub fn max_queued_bytes(mut self, bytes: usize) -> Self {
        self.max_queued_bytes = bytes;
        self
    }

    /// How this node proves who it is to hosts that authenticate (see
    /// [`security`](crate::security)), e.g. a [`SharedSecret`](crate::security::SharedSecret).
    /// A host asking for another scheme, or failing to prove itself in return, is refused.
    /// None by default: a host that requires authentication refuses this node.
    pub fn credentials(mut self, credentials: impl Credentials) -> Self {
        self.credentials = Some(CredentialsHandle(Arc::new(credentials)));
        self
    }

    /// How to reach `tls://` hosts: the roots their certificates must chain to, and this
    /// node's own certificate for hosts that require one. A `tls://` URL without it fails
    /// with [`Error::is_tls`](crate::Error::is_tls).
    pub fn tls(mut self, tls: TlsClient) -> Self {
        self.tls = Some(tls);
        self
    }

    /// Opens the streams to URLs of `scheme` (`"ws"` for `ws://…`) with `connector` — a
    /// WebSocket, a serial line, an SSH tunnel, any byte stream (Qt's
    /// `registerExternalSchema`). Such URLs then work wherever a `tcp://` one does:
    /// [`Node::connect_to`](crate::Node::connect_to) and its background form, reconnecting,
    /// heartbeats, hosts a registry lists (hosts register them with
    /// [`HostConfig::advertised_url`](crate::HostConfig::advertised_url)), and Qt hosts
    /// behind a `qt+` prefix.
    ///
    /// ```
    /// use actix_remote_objects::NodeConfig;
    /// // `pipe:/run/printer.sock`: a Unix socket, reached by a scheme of our own.
    /// let config = NodeConfig::default().connector("pipe", |url: &str| {
    ///     let path = url.trim_start_matches("pipe:").to_owned();
    ///     async move { tokio::net::UnixStream::connect(path).await }
    /// });
    /// ```
    pub fn connector(mut self, scheme: &str, connector: impl crate::transport::Connector) -> Self {
        self.connectors = self
            .connectors
            .with(scheme.to_owned(), std::sync::Arc::new(connector));
        self
    }

    /// Where replicas keep their persisted properties between runs (see
    /// [`persist`](crate::persist)): a replica acquired on this node starts from the values it
    /// last saw, and saves them whenever they change. None by default.
    pub fn persisted_store(mut self, store: impl PersistedStore) -> Self {
        self.store = Some(StoreHandle(Arc::new(store)));
        self
    }

    /// What every connection's protocol session needs to know.
    pub(crate) fn session_config(&self) -> Arc<NodeSessionConfig> {
        Arc::new(NodeSessionConfig {
            encoding: self.encoding,
            dialect: &crate::wire::dialect::NATIVE,
            heartbeat: self.heartbeat,
            credentials: self.credentials.as_ref().map(|c| Arc::clone(&c.0)),
        })
    }
}
