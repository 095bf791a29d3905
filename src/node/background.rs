//! Errors that happen where no caller is waiting — a reconnect, a host the registry named, a
//! registration made again after the registry restarted. The node or host carries on (it
//! retries, or serves what it can); each error is logged and told to every stream of
//! [`Node::background_errors`](crate::Node::background_errors) and
//! [`Host::background_errors`](crate::Host::background_errors).

use std::fmt;
use std::sync::Arc;

use futures::{Stream, StreamExt};

use crate::error::Error;
use crate::replica::delivery::{Delivered, Subscribers};

/// Something that went wrong in the background. The node or host that tells it goes on:
/// it tries a failed connection again after its backoff, and keeps serving what it can.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum BackgroundError {
    /// A connection the node opens by itself (a host it keeps connected, one the registry
    /// named, a reconnect) could not be opened: nothing listens there, or the stream failed
    /// before the greeting ended.
    ConnectFailed {
        /// The host's URL.
        url: String,
        /// The host was found through the registry, not named by the user.
        via_registry: bool,
        /// What failed.
        error: Arc<Error>,
    },
    /// The host at `url` was reached, but the greeting failed: it speaks another protocol
    /// version or dialect, refused this node's credentials, or TLS failed. Retried, as a
    /// host may be upgraded or reconfigured.
    HandshakeFailed {
        /// The host's URL.
        url: String,
        /// The host was found through the registry, not named by the user.
        via_registry: bool,
        /// What failed ([`Error::is_handshake`], [`Error::is_auth`], [`Error::is_tls`], …).
        error: Arc<Error>,
    },
    /// The host at `url` serves `name` with an API other than the one this node's replica
    /// of it expects; that replica is in
    /// [`ReplicaState::SignatureMismatch`](crate::ReplicaState::SignatureMismatch).
    SignatureMismatch {
        /// The host's URL.
        url: String,
        /// The source's name.
        name: String,
    },
    /// The registry refused to register `name` for this host (another host registered it
    /// first, or the registry's rules forbid it) when the host registered its sources again
    /// after a registry restart or reconnect. The host still serves `name` to nodes that
    /// connect to it directly; the registry sends no one to it.
    RegistrationConflict {
        /// The source's name.
        name: String,
        /// The registry's answer ([`Error::is_registry_conflict`]).
        error: Arc<Error>,
    },
    /// Registering `name` failed for another reason (the registry link dropped mid-call);
    /// the host registers it again when the registry is back.
    RegistrationFailed {
        /// The source's name.
        name: String,
        /// What failed.
        error: Arc<Error>,
    },
    /// A listener of the host failed to accept a connection (typically out of file
    /// descriptors); it goes on accepting after a short pause.
    AcceptFailed {
        /// The URL the listener is bound to.
        url: String,
        /// What failed ([`Error::is_io`]).
        error: Arc<Error>,
    },
    /// This stream's consumer read slower than errors came, and this many were dropped
    /// (they are in the log). Comes just before the next error.
    Lagged(u64),
}

impl fmt::Display for BackgroundError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BackgroundError::ConnectFailed { url, error, .. } => {
                write!(f, "cannot connect to {url}: {error}")
            }
            BackgroundError::HandshakeFailed { url, error, .. } => {
                write!(f, "the greeting with {url} failed: {error}")
            }
            BackgroundError::SignatureMismatch { url, name } => {
                write!(f, "{url} serves {name} with another API than the replica's")
            }
            BackgroundError::RegistrationConflict { name, error } => {
                write!(f, "the registry refused {name}: {error}")
            }
            BackgroundError::RegistrationFailed { name, error } => {
                write!(f, "cannot register {name}: {error}")
            }
            BackgroundError::AcceptFailed { url, error } => {
                write!(f, "the listener on {url} failed to accept: {error}")
            }
            BackgroundError::Lagged(lost) => write!(f, "{lost} background errors dropped"),
        }
    }
}

/// Tells background errors to every stream subscribed; clones share the streams, which end
/// once every clone is gone.
#[derive(Clone)]
pub(crate) struct Reporter {
    streams: Arc<Subscribers<BackgroundError>>,
}

/// How many errors a stream holds for a consumer that fell behind: errors come at most at
/// the pace of backoff retries, so a few hundred is minutes of them.
const STREAM_CAPACITY: usize = 256;

impl Default for Reporter {
    fn default() -> Self {
        Reporter {
            streams: Arc::new(Subscribers::new(STREAM_CAPACITY)),
        }
    }
}

impl Reporter {
    /// Tells `error` to every stream.
    pub(crate) fn report(&self, error: BackgroundError) {
        self.streams.send_all(std::slice::from_ref(&error));
    }

    /// A stream of every error reported from now on.
    pub(crate) fn subscribe(&self) -> impl Stream<Item = BackgroundError> + Unpin + Send + 'static {
        self.streams.subscribe().map(|delivered| match delivered {
            Delivered::Item(error) => error,
            Delivered::Lagged(lost) => BackgroundError::Lagged(lost),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Kind;

    fn conflict(name: &str) -> BackgroundError {
        BackgroundError::RegistrationConflict {
            name: name.into(),
            error: Arc::new(Error::new(Kind::RegistryConflict("taken".into()))),
        }
    }

    #[test]
    fn every_stream_is_told_each_error_and_ends_with_the_reporter() {
        let reporter = Reporter::default();
        let mut first = reporter.subscribe();
        let mut second = reporter.subscribe();
        reporter.report(conflict("a"));
        drop(reporter);
        for stream in [&mut first, &mut second] {
            let got: Vec<String> = futures::executor::block_on_stream(stream)
                .map(|e| e.to_string())
                .collect();
            assert_eq!(got, ["the registry refused a: registry: taken"]);
        }
    }

    #[test]
    fn a_stream_that_falls_behind_is_told_how_many_it_lost() {
        let reporter = Reporter::default();
        let stream = reporter.subscribe();
        for i in 0..STREAM_CAPACITY + 3 {
            reporter.report(conflict(&i.to_string()));
        }
        drop(reporter);
        let got: Vec<BackgroundError> = futures::executor::block_on_stream(stream).collect();
        assert!(matches!(got[0], BackgroundError::Lagged(3)), "{got:?}");
        assert_eq!(got.len(), STREAM_CAPACITY + 1);
    }
}
