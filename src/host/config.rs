//! [`HostConfig`]: how a host listens and talks.

use std::sync::Arc;
use std::time::Duration;

use super::registration::RegistryLink;
use crate::proto::host::HostSessionConfig;
use crate::security::{AccessPolicy, Authenticator, TlsServer};

use crate::wire::{Encoding, DEFAULT_MAX_FRAME_SIZE};

/// Settings for a [`Host`](crate::Host), builder style.
///
/// ```
/// use actix_remote_objects::{Encoding, HostConfig};
/// let config = HostConfig::default().max_frame_size(1 << 20).encoding(Encoding::Bincode);
/// ```
#[derive(Debug, Clone)]
pub struct HostConfig {
    pub(crate) max_frame_size: usize,
    pub(crate) encoding: Encoding,
    pub(crate) heartbeat: Option<Duration>,
    pub(crate) registry: Option<RegistryLink>,
    pub(crate) max_queued_bytes: usize,
    pub(crate) limits: Limits,
    pub(crate) socket_mode: u32,
    pub(crate) authenticator: Option<Shared<dyn Authenticator>>,
    pub(crate) allow_anonymous: bool,
    pub(crate) policy: Option<Shared<dyn AccessPolicy>>,
    pub(crate) registry_node: Option<crate::NodeConfig>,
    pub(crate) tls: Option<TlsServer>,
    pub(crate) name: Option<Arc<str>>,
    pub(crate) advertised_url: Option<String>,
}

/// A shared trait object, printable for `HostConfig`'s `Debug`.
pub(crate) struct Shared<T: ?Sized>(pub(crate) Arc<T>);

impl<T: ?Sized> Clone for Shared<T> {
    fn clone(&self) -> Self {
        Shared(Arc::clone(&self.0))
    }
}

impl<T: ?Sized> std::fmt::Debug for Shared<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("(configured)")
    }
}

/// What one host lets its peers hold (see the setters on [`HostConfig`]).
#[derive(Debug, Clone)]
pub(crate) struct Limits {
    pub(crate) handshake_timeout: Duration,
    pub(crate) idle_timeout: Option<Duration>,
    pub(crate) max_connections: usize,
    pub(crate) max_connections_per_peer: usize,
    pub(crate) max_buffered_input: usize,
    pub(crate) max_calls_in_flight: usize,
    pub(crate) shutdown_timeout: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            handshake_timeout: Duration::from_secs(5),
            idle_timeout: None,
            max_connections: 1024,
            max_connections_per_peer: usize::MAX,
            max_buffered_input: 256 * 1024 * 1024,
            max_calls_in_flight: 1024,
            shutdown_timeout: Duration::from_secs(2),
        }
    }
}

impl Default for HostConfig {
    fn default() -> Self {
        HostConfig {
            max_frame_size: DEFAULT_MAX_FRAME_SIZE,
            encoding: Encoding::default(),
            heartbeat: None,
            registry: None,
            max_queued_bytes: crate::outbox::DEFAULT_MAX_QUEUED,
            limits: Limits::default(),
            socket_mode: 0o600,
            authenticator: None,
            allow_anonymous: false,
            policy: None,
            registry_node: None,
            tls: None,
            name: None,
            advertised_url: None,
        }
    }
}

impl HostConfig {
    /// A name for this host in its logs (Qt's `setName`): every connection's tracing span
    /// carries it as `host`, so the logs of several hosts in one process tell them apart.
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(Arc::from(name.into()));
        self
    }

    /// The largest frame accepted from a node, in bytes (default 64 MiB). A node announcing
    /// a larger one is disconnected.
    pub fn max_frame_size(mut self, bytes: usize) -> Self {
        self.max_frame_size = bytes;
        self
    }

    /// The value encoding (default [`Encoding::Bincode`]); nodes must use the same.
    pub fn encoding(mut self, encoding: Encoding) -> Self {
        self.encoding = encoding;
        self
    }

    /// Pings each node every half `interval`; a node silent for longer than 1.5 intervals
    /// (a stalled connection that did not close) is dropped within two intervals and its
    /// subscriptions released. Off by default.
    pub fn heartbeat(mut self, interval: Duration) -> Self {
        self.heartbeat = Some(interval);
        self
    }

    /// How many bytes of frames that must arrive (replies, signals, inits) may wait for one
    /// node that reads too slowly before its connection is closed (default 64 MiB); the node
    /// then reconnects and re-initializes. Property values never count against it beyond
    /// one per property: for a slow node they coalesce, latest wins.
    pub fn max_queued_bytes(mut self, bytes: usize) -> Self {
        self.max_queued_bytes = bytes;
        self
    }

    /// How long a new connection has to complete its handshake (default 5 s); one that has
    /// not by then (an idle socket, a peer sending a byte a second) is closed.
    pub fn handshake_timeout(mut self, timeout: Duration) -> Self {
        self.limits.handshake_timeout = timeout;
        self
    }

    /// Closes a connection that sends nothing at all for `timeout` (off by default). A node
    /// with a [heartbeat](crate::NodeConfig::heartbeat) shorter than this is never idle.
    pub fn idle_timeout(mut self, timeout: Duration) -> Self {
        self.limits.idle_timeout = Some(timeout);
        self
    }

    /// The most connections served at once (default 1024); more are refused at once, with a
    /// log line. Keep it below the process's file-descriptor limit (`ulimit -n`), so that
    /// sockets nobody uses cannot lock everyone out.
    pub fn max_connections(mut self, max: usize) -> Self {
        self.limits.max_connections = max;
        self
    }

    /// The most connections served at once from one peer: one IP address over TCP, one user
    /// id over a Unix socket (unlimited by default).
    pub fn max_connections_per_peer(mut self, max: usize) -> Self {
        self.limits.max_connections_per_peer = max;
        self
    }

    /// The most bytes of partly received frames the host holds across all its connections
    /// (default 256 MiB); a connection whose frame would take more is closed.
    pub fn max_buffered_input(mut self, bytes: usize) -> Self {
        self.limits.max_buffered_input = bytes;
        self
    }

    /// The most slot calls one connection may have running at once (default 1024). Past it
    /// the host stops reading from that connection until calls finish: the node's calls
    /// wait in its socket (backpressure), none is refused.
    pub fn max_calls_in_flight(mut self, max: usize) -> Self {
        self.limits.max_calls_in_flight = max.max(1);
        self
    }

    /// How long [`Host::shutdown`](crate::Host::shutdown) waits for connections to flush what
    /// they have queued (default 2 s); past it, the rest is dropped and the sockets closed.
    pub fn shutdown_timeout(mut self, timeout: Duration) -> Self {
        self.limits.shutdown_timeout = timeout;
        self
    }

    /// The permissions of a `local:` socket file (default `0o600`: only this user may
    /// connect; `0o660` lets the file's group in too). The file has them from the moment it
    /// appears.
    pub fn socket_mode(mut self, mode: u32) -> Self {
        self.socket_mode = mode & 0o777;
        self
    }

    /// Requires every node to authenticate right after the handshake, before any other
    /// packet is accepted (see [`security`](crate::security)): e.g.
    /// [`SharedSecrets`](crate::security::SharedSecrets). A node that fails is refused with
    /// the reason and disconnected. None by default: anyone who reaches the port may connect.
    pub fn authenticator(mut self, authenticator: impl Authenticator) -> Self {
        self.authenticator = Some(Shared(Arc::new(authenticator)));
        self
    }

    /// With an [`authenticator`](HostConfig::authenticator), still admits nodes that have no
    /// credentials, as anonymous peers (whose rights the access policy decides): e.g. a
    /// registry that anyone may read but only authenticated hosts may register with. Nodes
    /// with credentials must still prove them. Off by default.
    pub fn allow_anonymous(mut self) -> Self {
        self.allow_anonymous = true;
        self
    }

    /// Decides per peer what it may see, acquire, call and set (see
    /// [`Policy`](crate::security::Policy), which denies whatever it does not allow). None
    /// by default: every peer may do everything.
    pub fn access_policy(mut self, policy: impl AccessPolicy) -> Self {
        self.policy = Some(Shared(Arc::new(policy)));
        self
    }

    /// The certificate (and, for mutual TLS, the client roots) a `tls://` listener serves
    /// with; listening on `tls://` without it fails with
    /// [`Error::is_tls`](crate::Error::is_tls).
    pub fn tls(mut self, tls: TlsServer) -> Self {
        self.tls = Some(tls);
        self
    }

    /// How this host's own node reaches its registry (credentials, TLS roots, heartbeat);
    /// by default a node with this host's encoding and heartbeat.
    pub fn registry_node(mut self, config: crate::NodeConfig) -> Self {
        self.registry_node = Some(config);
        self
    }

    /// The URL this host registers its sources under, instead of the one it listens on: for
    /// a host behind NAT or a port forward, one listening on `0.0.0.0`, or one with no
    /// listener that [`Host::serve`](crate::Host::serve)s streams accepted elsewhere. With a
    /// Qt registry (`qt+…`) it is the address Qt nodes reach this host's Qt listener at
    /// (`tcp://…`). Checked when the host starts: it must name a host and a port peers can
    /// reach.
    pub fn advertised_url(mut self, url: impl Into<String>) -> Self {
        self.advertised_url = Some(url.into());
        self
    }

    pub(crate) fn without_registry(mut self) -> Self {
        self.registry = None;
        self
    }

    /// What every connection's protocol session needs to know.
    pub(crate) fn session_config(&self) -> HostSessionConfig {
        HostSessionConfig {
            encoding: self.encoding,
            dialect: &crate::wire::dialect::NATIVE,
            heartbeat: self.heartbeat,
            handshake_timeout: self.limits.handshake_timeout,
            idle_timeout: self.limits.idle_timeout,
            authenticator: self.authenticator.as_ref().map(|a| Arc::clone(&a.0)),
            allow_anonymous: self.allow_anonymous,
            policy: self.policy.as_ref().map(|p| Arc::clone(&p.0)),
        }
    }
}
