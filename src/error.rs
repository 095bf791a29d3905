//! The public error types: [`Error`] for operations on hosts, nodes and replicas, and
//! [`SlotError`] for a remote slot call.

use std::fmt;
use std::time::Duration;

use crate::wire::{DecodeError, EncodeError, FrameError, HandshakeError};

/// A failed operation on a [`Host`](crate::Host), [`Node`](crate::Node) or
/// [`Replica`](crate::Replica). Tell cases apart with the `is_*` predicates.
pub struct Error {
    kind: Kind,
}

/// The private kinds behind [`Error`]; the variants can grow without breaking users.
#[derive(Debug, thiserror::Error)]
pub(crate) enum Kind {
    #[error("invalid URL {url:?}: {reason}")]
    InvalidUrl { url: String, reason: &'static str },
    #[error("i/o error on {context}: {source}")]
    Io {
        context: String,
        source: std::io::Error,
    },
    #[error("handshake refused: {0}")]
    Handshake(#[from] HandshakeError),
    #[error("protocol error: {0}")]
    Protocol(#[from] FrameError),
    /// The peer's first bytes are not this protocol's framing at all.
    #[error("the peer is not an actix-remote-objects peer: {0}")]
    NotAPeer(String),
    #[error("the connection closed {0}")]
    Closed(&'static str),
    #[error("timed out after {0:?}")]
    Timeout(Duration),
    /// A host that accepted the connection and then said nothing in time.
    #[error("no answer from {peer} within {timeout:?} {waiting_for}: is it an actix-remote-objects host?")]
    HandshakeTimeout {
        peer: String,
        timeout: Duration,
        waiting_for: &'static str,
    },
    /// Waited for a source that no connected host offers.
    #[error("timed out after {timeout:?}: no connected host offers {name:?} ({})", offered_list(.offered))]
    NotOffered {
        name: String,
        timeout: Duration,
        offered: Vec<String>,
    },
    #[error("{0}")]
    Encode(#[from] EncodeError),
    #[error("{0}")]
    Decode(#[from] DecodeError),
    /// A dynamic value that does not encode as its type.
    #[error("{0}")]
    InvalidValue(String),
    #[error(
        "API signature mismatch for {api:?}: this side has {local:#018x}, the source has \
         {remote:#018x}{}", difference.as_ref().map(|d| format!(" ({d})")).unwrap_or_default()
    )]
    SignatureMismatch {
        api: String,
        local: u64,
        remote: u64,
        /// What differs, in words, when the source could describe itself.
        difference: Option<String>,
    },
    #[error("a source named {0:?} is already remoted on this host")]
    DuplicateName(String),
    #[error("no source named {0:?} is remoted on this host")]
    UnknownSource(String),
    #[error("property {0:?} is not read-write")]
    NotWritable(&'static str),
    #[error("source {api:?} is already remoted with the {current} encoding")]
    EncodingInUse {
        api: String,
        current: crate::wire::Encoding,
    },
    /// A child source given to a member cannot go there: it already hangs under a source,
    /// it would hang under itself, or it is of another API.
    #[error("cannot set child {member:?}: {reason}")]
    BadChild { member: String, reason: String },
    #[error("the replica is not connected to its source")]
    NotConnected,
    /// A model operation named a row the model does not have.
    #[error("row {row} is out of range: the model has {rows} rows")]
    NoSuchRow { row: usize, rows: usize },
    #[error("the host refused to serve {name:?}: {reason}")]
    Refused { name: String, reason: String },
    #[error("authentication: {0}")]
    Auth(#[from] crate::security::AuthError),
    #[error("TLS: {0}")]
    Tls(String),
    #[error("registry: {0}")]
    RegistryConflict(String),
    #[error("registry: {0}")]
    Registry(String),
    #[error("this node has no registry")]
    NoRegistry,
    #[error("the host or node has shut down")]
    Shutdown,
    /// A call that starts the caller's own actor, made where no actix arbiter runs.
    #[error(
        "{0} starts the actor it is given on the current actix arbiter, and none runs on this \
         thread: use Host::enable_remoting_with(|| make_actor()), which makes and starts it \
         on the crate's runtime thread, or run inside an actix System (#[actix::main])"
    )]
    NoRuntime(&'static str),
    /// Something Qt Remote Objects' dialect cannot carry (authentication, TLS, a type).
    #[error("Qt dialect: {0}")]
    QtDialect(String),
}

impl From<crate::security::TlsError> for Error {
    fn from(error: crate::security::TlsError) -> Error {
        Error::new(Kind::Tls(error.to_string()))
    }
}

impl Error {
    pub(crate) fn new(kind: Kind) -> Error {
        Error { kind }
    }

    /// `url` cannot be used, for `reason`.
    pub(crate) fn invalid_url(url: impl Into<String>, reason: &'static str) -> Error {
        Error::new(Kind::InvalidUrl {
            url: url.into(),
            reason,
        })
    }

    pub(crate) fn io(context: impl Into<String>, source: std::io::Error) -> Error {
        Error::new(Kind::Io {
            context: context.into(),
            source,
        })
    }

    /// The URL could not be parsed or names an unsupported scheme.
    pub fn is_invalid_url(&self) -> bool {
        matches!(self.kind, Kind::InvalidUrl { .. })
    }

    /// A socket operation failed (refused, reset, address in use…).
    pub fn is_io(&self) -> bool {
        matches!(self.kind, Kind::Io { .. })
    }

    /// The peer's handshake named another protocol, version or encoding.
    pub fn is_handshake(&self) -> bool {
        matches!(self.kind, Kind::Handshake(_))
    }

    /// The peer sent bytes that break the protocol (or does not speak it at all).
    pub fn is_protocol(&self) -> bool {
        matches!(self.kind, Kind::Protocol(_) | Kind::NotAPeer(_))
    }

    /// The peer does not speak this protocol at all (an HTTP server, say): its first bytes
    /// are no frame of ours.
    pub fn is_not_a_peer(&self) -> bool {
        matches!(self.kind, Kind::NotAPeer(_))
    }

    /// The connection closed before the operation finished.
    pub fn is_closed(&self) -> bool {
        matches!(self.kind, Kind::Closed(_))
    }

    /// The operation did not finish in the time it was given.
    pub fn is_timeout(&self) -> bool {
        matches!(
            self.kind,
            Kind::Timeout(_) | Kind::NotOffered { .. } | Kind::HandshakeTimeout { .. }
        )
    }

    /// A wait for a source timed out and no connected host offers it (the message lists
    /// what they offer); also [`Error::is_timeout`].
    pub fn is_not_offered(&self) -> bool {
        matches!(self.kind, Kind::NotOffered { .. })
    }

    /// A value could not be encoded or decoded.
    pub fn is_codec(&self) -> bool {
        matches!(
            self.kind,
            Kind::Encode(_) | Kind::Decode(_) | Kind::InvalidValue(_)
        )
    }

    /// The replica's API signature differs from the source's.
    pub fn is_signature_mismatch(&self) -> bool {
        matches!(self.kind, Kind::SignatureMismatch { .. })
    }

    /// A name is already taken, unknown, or a property may not be set from here.
    pub fn is_usage(&self) -> bool {
        matches!(
            self.kind,
            Kind::DuplicateName(_)
                | Kind::UnknownSource(_)
                | Kind::NotWritable(_)
                | Kind::EncodingInUse { .. }
                | Kind::BadChild { .. }
        )
    }

    /// The registry refused a source because another host registered its name first.
    pub fn is_registry_conflict(&self) -> bool {
        matches!(self.kind, Kind::RegistryConflict(_))
    }

    /// The registry could not be reached or used, or none was configured.
    pub fn is_registry(&self) -> bool {
        matches!(
            self.kind,
            Kind::RegistryConflict(_) | Kind::Registry(_) | Kind::NoRegistry
        )
    }

    /// The host refused to serve a replica (its access policy denies this peer, or it cannot
    /// describe the source to a dynamic replica); the message carries the host's reason.
    pub fn is_refused(&self) -> bool {
        matches!(self.kind, Kind::Refused { .. })
    }

    /// Authentication failed: the host refused this node, asked for credentials it lacks,
    /// or could not prove itself.
    pub fn is_auth(&self) -> bool {
        matches!(self.kind, Kind::Auth(_))
    }

    /// TLS failed or is misconfigured: a certificate that does not verify, a key that does
    /// not parse, a plain connection to a TLS host.
    pub fn is_tls(&self) -> bool {
        matches!(self.kind, Kind::Tls(_))
    }

    /// The replica has no live source to send to.
    pub fn is_not_connected(&self) -> bool {
        matches!(self.kind, Kind::NotConnected)
    }

    /// A model operation named a row (or range) the model does not have.
    pub fn is_out_of_range(&self) -> bool {
        matches!(self.kind, Kind::NoSuchRow { .. })
    }

    /// Qt Remote Objects' dialect cannot carry what was asked (Qt nodes have no
    /// authentication and no built-in TLS; some types have no Qt counterpart).
    pub fn is_qt_dialect(&self) -> bool {
        matches!(self.kind, Kind::QtDialect(_))
    }

    /// The host or node was shut down.
    pub fn is_shutdown(&self) -> bool {
        matches!(self.kind, Kind::Shutdown)
    }

    /// A call that starts the caller's actor was made outside an actix arbiter (see
    /// [`crate::runtime`] for what to do instead).
    pub fn is_no_runtime(&self) -> bool {
        matches!(self.kind, Kind::NoRuntime(_))
    }

    /// The operating system's error kind, for an i/o failure: tells a refused connection
    /// (`ConnectionRefused`) from an address in use (`AddrInUse`), a missing socket file
    /// (`NotFound`) or a denied one (`PermissionDenied`).
    pub fn io_kind(&self) -> Option<std::io::ErrorKind> {
        match &self.kind {
            Kind::Io { source, .. } => Some(source.kind()),
            _ => None,
        }
    }
}

impl<T: Into<Kind>> From<T> for Error {
    fn from(kind: T) -> Error {
        Error::new(kind.into())
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.kind, f)
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.kind, f)
    }
}

/// No source: every kind's message already includes its cause's text, and an error chain
/// printed link by link (anyhow's `{:#}`, tracing's error fields) would say it twice. The
/// cause's details that matter are predicates and [`Error::io_kind`].
impl std::error::Error for Error {}

/// Why a slot call made through a replica produced no value.
///
/// A source's handler returns `Err(SlotError::source(...))` to refuse a call; the caller
/// receives it as [`SlotError::Source`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SlotError {
    /// The replica had no live source when the call was made; nothing was sent.
    #[error("not connected to the source")]
    NotConnected,
    /// The connection was lost after the call was sent and before its reply arrived; the
    /// source may or may not have run it.
    #[error("the connection was lost before the reply arrived")]
    ConnectionLost,
    /// The source's handler returned an error.
    #[error("the source failed the call: {0}")]
    Source(String),
    /// The host refused the call before the source saw it (unknown slot, arguments that did
    /// not decode, the source gone).
    #[error("the host rejected the call: {0}")]
    Rejected(String),
    /// The arguments could not be encoded; nothing was sent.
    #[error("cannot encode the arguments: {0}")]
    Encode(String),
    /// The reply arrived but did not decode as the slot's return type.
    #[error("cannot decode the reply: {0}")]
    Decode(String),
}

impl SlotError {
    /// The error a source's handler returns to refuse a call, with a reason for the caller.
    pub fn source(reason: impl fmt::Display) -> SlotError {
        SlotError::Source(reason.to_string())
    }

    /// Its kind in one fixed word, for metrics labels.
    pub(crate) fn kind_label(&self) -> &'static str {
        match self {
            SlotError::NotConnected => "not_connected",
            SlotError::ConnectionLost => "connection_lost",
            SlotError::Source(_) => "source",
            SlotError::Rejected(_) => "rejected",
            SlotError::Encode(_) => "encode",
            SlotError::Decode(_) => "decode",
        }
    }
}

impl From<Error> for SlotError {
    /// Lets a handler use `?` on a setter or an emit: the caller sees it as the source's error.
    fn from(error: Error) -> SlotError {
        SlotError::Source(error.to_string())
    }
}

/// What a slot message resolves to: the slot's return value or why there is none.
pub type SlotResult<T> = Result<T, SlotError>;

/// What the connected hosts offer, in words, for [`Kind::NotOffered`].
fn offered_list(offered: &[String]) -> String {
    if offered.is_empty() {
        "they offer nothing".to_owned()
    } else {
        format!("they offer: {}", offered.join(", "))
    }
}
