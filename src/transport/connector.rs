//! URL schemes of the user's (Qt's `registerExternalSchema`): a node given a [`Connector`]
//! for a scheme opens streams to its URLs through it, and then treats them as it treats
//! `tcp://` hosts (reconnect, heartbeats, hosts found in a registry).

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;

use futures::future::BoxFuture;
use futures::FutureExt;

use super::{Endpoint, Transport};
use crate::error::{Error, Kind};

/// Opens a byte stream to a URL of one scheme: a WebSocket, a serial line, an SSH tunnel…
///
/// Any `Fn(&str) -> impl Future<Output = io::Result<impl Transport>>` is one; see
/// [`NodeConfig::connector`](crate::NodeConfig::connector).
pub trait Connector: Send + Sync + 'static {
    /// Opens a stream to `url` (the whole URL, scheme included).
    fn connect(&self, url: &str) -> BoxFuture<'static, std::io::Result<Box<dyn Transport>>>;
}

impl<F, Fut, T> Connector for F
where
    F: Fn(&str) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = std::io::Result<T>> + Send + 'static,
    T: Transport,
{
    fn connect(&self, url: &str) -> BoxFuture<'static, std::io::Result<Box<dyn Transport>>> {
        let opening = self(url);
        async move { Ok(Box::new(opening.await?) as Box<dyn Transport>) }.boxed()
    }
}

/// A node's connectors, by scheme.
#[derive(Clone, Default)]
pub(crate) struct Connectors(Arc<HashMap<String, Arc<dyn Connector>>>);

impl std::fmt::Debug for Connectors {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_set().entries(self.0.keys()).finish()
    }
}

impl Connectors {
    /// These connectors and `connector` for `scheme` (replacing one for the same scheme).
    pub(crate) fn with(&self, scheme: String, connector: Arc<dyn Connector>) -> Connectors {
        let mut map = (*self.0).clone();
        map.insert(scheme, connector);
        Connectors(Arc::new(map))
    }

    /// Parses `url`: a URL of one of these schemes (or `qt+` one, for a Qt host reached
    /// through it), else one of the built-in schemes.
    pub(crate) fn parse(&self, url: &str) -> Result<Endpoint, Error> {
        let (qt, inner) = match url.strip_prefix("qt+") {
            Some(inner) => (true, inner),
            None => (false, url),
        };
        let Some(scheme) = inner.split_once(':').map(|(scheme, _)| scheme) else {
            return Endpoint::parse(url);
        };
        if !self.0.contains_key(scheme) {
            return Endpoint::parse(url);
        }
        let custom = Endpoint::Custom(inner.to_owned());
        Ok(match qt {
            true => Endpoint::Qt(Box::new(custom)),
            false => custom,
        })
    }

    /// Opens a stream to `url`, a URL [`Connectors::parse`] made an `Endpoint::Custom` of.
    pub(crate) async fn connect(&self, url: &str) -> Result<Box<dyn Transport>, Error> {
        let scheme = url.split_once(':').map_or(url, |(scheme, _)| scheme);
        let Some(connector) = self.0.get(scheme) else {
            return Err(Error::new(Kind::InvalidUrl {
                url: url.to_owned(),
                reason: "no connector for this scheme (NodeConfig::connector)",
            }));
        };
        (connector.connect(url).await).map_err(|e| Error::io(format!("connect to {url}"), e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_pipe() -> Connectors {
        let pipe = |_: &str| async { Ok(tokio::io::duplex(64).0) };
        Connectors::default().with("pipe".into(), Arc::new(pipe))
    }

    #[test]
    fn urls_of_a_connectors_scheme_are_its_own_and_others_parse_as_ever() {
        let connectors = with_pipe();
        let custom = Endpoint::Custom("pipe:/run/x".into());
        assert_eq!(connectors.parse("pipe:/run/x").unwrap(), custom);
        assert_eq!(
            connectors.parse("qt+pipe:/run/x").unwrap(),
            Endpoint::Qt(Box::new(custom))
        );
        assert_eq!(
            connectors.parse("tcp://127.0.0.1:1").unwrap(),
            Endpoint::parse("tcp://127.0.0.1:1").unwrap()
        );
        assert!(connectors.parse("ws://h:1").unwrap_err().is_invalid_url());
        assert!(Connectors::default()
            .parse("pipe:/run/x")
            .unwrap_err()
            .is_invalid_url());
    }

    #[tokio::test]
    async fn a_custom_url_opens_through_its_connector_and_only_there() {
        let connectors = with_pipe();
        assert!(connectors.connect("pipe:/run/x").await.is_ok());
        let error = Connectors::default().connect("pipe:/run/x").await;
        assert!(error.err().is_some_and(|e| e.is_invalid_url()));
    }
}
