//! Where connections come from: URLs, listeners, and the byte streams they yield.
//!
//! `tcp://host:port` is a TCP socket (with `TCP_NODELAY`, since every frame is latency
//! sensitive); `local:name` is a Unix domain socket, at `name` if it is a path and in the
//! user's runtime directory otherwise (`$XDG_RUNTIME_DIR`, or a directory of the user's own
//! in the temporary directory; `QLocalServer` uses the shared temporary directory itself).
//! Any other `AsyncRead + AsyncWrite + Unpin + Send` stream can be used directly.

mod connector;
mod listener;
#[cfg(unix)]
mod unix;

pub use connector::Connector;
pub(crate) use connector::Connectors;
pub(crate) use listener::{Incoming, Listener};

use std::fmt;
use std::path::PathBuf;

use tokio::io::{AsyncRead, AsyncWrite};

use crate::error::{Error, Kind};
pub(crate) use crate::security::peer::PeerKey;
pub use crate::security::peer::{PeerAddr, UnixCredentials};
use crate::security::TlsClient;

/// A byte stream a connection can run over: a socket, a pipe, an in-memory duplex…
pub trait Transport: AsyncRead + AsyncWrite + Unpin + Send + 'static {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send + 'static> Transport for T {}

/// The URL schemes this build can listen on and connect to (`local:` only on Unix).
#[cfg(unix)]
pub const SUPPORTED_SCHEMES: &[&str] = &["tcp", "tls", "local"];
/// The URL schemes this build can listen on and connect to (`local:` only on Unix).
#[cfg(not(unix))]
pub const SUPPORTED_SCHEMES: &[&str] = &["tcp", "tls"];

/// The error for a `local:` URL on a system without Unix sockets.
#[cfg(not(unix))]
pub(crate) fn local_unsupported(endpoint: &Endpoint) -> Error {
    Error::new(Kind::InvalidUrl {
        url: endpoint.to_string(),
        reason: "local: sockets are Unix domain sockets, which this build's system lacks",
    })
}

/// A parsed listen or connect address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Endpoint {
    Tcp(String),
    /// TCP with TLS, by `host:port`.
    Tls(String),
    Local(PathBuf),
    /// A Qt Remote Objects host at the inner endpoint, spoken to in Qt's dialect
    /// (`qt+tcp://host:port`, `qt+local:name`).
    Qt(Box<Endpoint>),
    /// A URL of a scheme a [`Connector`] of the node's opens streams for (the whole URL).
    Custom(String),
}

impl Endpoint {
    /// Whether it is a Qt host, spoken to in Qt's dialect.
    pub(crate) fn is_qt(&self) -> bool {
        matches!(self, Endpoint::Qt(_))
    }

    /// Parses a URL as Qt reads it: a `local:` name that is not a path is a socket in the
    /// temporary directory (`QDir::tempPath()`, where `QLocalServer` puts it), so Qt nodes
    /// and this crate meet at the same file.
    pub(crate) fn parse_qt(url: &str) -> Result<Endpoint, Error> {
        match url.strip_prefix("local:") {
            Some(name) if !name.is_empty() && !name.contains('/') => {
                Ok(Endpoint::Local(std::env::temp_dir().join(name)))
            }
            _ => Endpoint::parse(url),
        }
    }

    pub(crate) fn parse(url: &str) -> Result<Endpoint, Error> {
        let invalid = |reason| {
            Error::new(Kind::InvalidUrl {
                url: url.to_owned(),
                reason,
            })
        };
        let host_port = |rest: &str| {
            let rest = rest.trim_end_matches('/');
            let (host, port) = rest
                .rsplit_once(':')
                .ok_or_else(|| invalid("expected scheme://host:port"))?;
            if host.is_empty() {
                return Err(invalid("the host is empty"));
            }
            port.parse::<u16>()
                .map_err(|_| invalid("the port is not a number from 0 to 65535"))?;
            Ok(rest.to_owned())
        };
        if let Some(inner) = url.strip_prefix("qt+") {
            return match Endpoint::parse_qt(inner)? {
                Endpoint::Tls(_) => Err(invalid(
                    "Qt has no built-in TLS: use qt+tcp:// or qt+local:",
                )),
                inner => Ok(Endpoint::Qt(Box::new(inner))),
            };
        }
        if let Some(rest) = url.strip_prefix("tcp://") {
            Ok(Endpoint::Tcp(host_port(rest)?))
        } else if let Some(rest) = url.strip_prefix("tls://") {
            Ok(Endpoint::Tls(host_port(rest)?))
        } else if let Some(name) = url.strip_prefix("local:") {
            if name.is_empty() {
                return Err(invalid("the socket name is empty"));
            }
            let path = PathBuf::from(name);
            Ok(Endpoint::Local(
                if path.is_absolute() || name.contains('/') {
                    path
                } else {
                    runtime_dir().join(path)
                },
            ))
        } else {
            Err(invalid("the scheme is not tcp://, tls:// or local:"))
        }
    }

    /// Whether its host is an unspecified address (`0.0.0.0`, `[::]`): one to listen on, not
    /// one to hand out.
    pub(crate) fn is_unspecified(&self) -> bool {
        match self {
            Endpoint::Tcp(host_port) | Endpoint::Tls(host_port) => host_port
                .rsplit_once(':')
                .map(|(host, _)| host.trim_start_matches('[').trim_end_matches(']'))
                .and_then(|host| host.parse::<std::net::IpAddr>().ok())
                .is_some_and(|ip| ip.is_unspecified()),
            Endpoint::Qt(inner) => inner.is_unspecified(),
            Endpoint::Local(_) | Endpoint::Custom(_) => false,
        }
    }

    /// Why no peer could connect to this address if it were handed out (registered with a
    /// registry), if it could not: it names no host or no port.
    pub(crate) fn unreachable_by_peers(&self) -> Option<&'static str> {
        if self.is_unspecified() {
            return Some("an unspecified address (0.0.0.0, [::]) is no address a peer can reach");
        }
        let port = match self {
            Endpoint::Tcp(host_port) | Endpoint::Tls(host_port) => host_port.rsplit_once(':'),
            Endpoint::Qt(inner) => return inner.unreachable_by_peers(),
            Endpoint::Local(_) | Endpoint::Custom(_) => None,
        };
        port.is_some_and(|(_, port)| port == "0")
            .then_some("port 0 is no port a peer can reach")
    }

    /// Connects; a `tls://` endpoint needs `tls`, a URL of the user's a connector.
    pub(crate) async fn connect(
        &self,
        tls: Option<&TlsClient>,
        connectors: &Connectors,
    ) -> Result<Box<dyn Transport>, Error> {
        match self {
            Endpoint::Tcp(addr) => Ok(Box::new(tcp_connect(addr, self).await?)),
            Endpoint::Tls(addr) => {
                let tls = tls.ok_or_else(|| {
                    Error::new(Kind::Tls(format!(
                        "connecting to {self} needs NodeConfig::tls"
                    )))
                })?;
                let tcp = tcp_connect(addr, self).await?;
                let host = addr.rsplit_once(':').map_or(addr.as_str(), |(h, _)| h);
                Ok(Box::new(tls.connect(host, tcp).await?))
            }
            Endpoint::Qt(inner) => Box::pin(inner.connect(tls, connectors)).await,
            Endpoint::Custom(url) => connectors.connect(url).await,
            #[cfg(unix)]
            Endpoint::Local(path) => unix::connect(path).await,
            #[cfg(not(unix))]
            Endpoint::Local(_) => Err(local_unsupported(self)),
        }
    }
}

/// Where `local:name` sockets live when `name` is not a path: the per-user runtime directory
/// (`$XDG_RUNTIME_DIR`), or else a directory of this user's own in the temporary directory
/// (created owner-only when a host first listens there), never the shared temporary
/// directory itself, where anyone could plant or take a name.
pub(crate) fn runtime_dir() -> PathBuf {
    match std::env::var_os("XDG_RUNTIME_DIR").map(PathBuf::from) {
        Some(dir) if dir.is_absolute() => dir,
        _ => private_temp_dir(),
    }
}

/// `$TMPDIR/actix-remote-objects-<uid>`.
pub(crate) fn private_temp_dir() -> PathBuf {
    #[cfg(unix)]
    let user = unix::user_id();
    #[cfg(not(unix))]
    let user = std::env::var("USERNAME").unwrap_or_else(|_| "user".to_owned());
    std::env::temp_dir().join(format!("actix-remote-objects-{user}"))
}

async fn tcp_connect(addr: &str, endpoint: &Endpoint) -> Result<tokio::net::TcpStream, Error> {
    let stream = tokio::net::TcpStream::connect(addr)
        .await
        .map_err(|e| Error::io(format!("connect to {endpoint}"), e))?;
    stream
        .set_nodelay(true)
        .map_err(|e| Error::io("set TCP_NODELAY", e))?;
    Ok(stream)
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Endpoint::Tcp(addr) => write!(f, "tcp://{addr}"),
            Endpoint::Tls(addr) => write!(f, "tls://{addr}"),
            Endpoint::Local(path) => write!(f, "local:{}", path.display()),
            Endpoint::Qt(inner) => write!(f, "qt+{inner}"),
            Endpoint::Custom(url) => f.write_str(url),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_tcp_and_local() {
        assert_eq!(
            Endpoint::parse("tcp://127.0.0.1:0").unwrap(),
            Endpoint::Tcp("127.0.0.1:0".into())
        );
        assert_eq!(
            Endpoint::parse("tls://localhost:5050").unwrap(),
            Endpoint::Tls("localhost:5050".into())
        );
        assert_eq!(
            Endpoint::parse("local:/tmp/x.sock").unwrap(),
            Endpoint::Local("/tmp/x.sock".into())
        );
        assert_eq!(
            Endpoint::parse("local:x").unwrap(),
            Endpoint::Local(runtime_dir().join("x"))
        );
        assert_ne!(runtime_dir(), std::env::temp_dir(), "never the shared /tmp");
        // Qt's dialect finds local: names where QLocalServer puts them.
        assert_eq!(
            Endpoint::parse("qt+local:x").unwrap(),
            Endpoint::Qt(Box::new(Endpoint::Local(std::env::temp_dir().join("x"))))
        );
        assert_eq!(
            Endpoint::parse("qt+local:/run/y.sock").unwrap(),
            Endpoint::Qt(Box::new(Endpoint::Local("/run/y.sock".into())))
        );
    }

    #[test]
    fn refuses_bad_urls() {
        for url in [
            "",
            "http://x:1",
            "tcp://",
            "tcp://host",
            "tcp://:5",
            "tcp://h:99999",
            "local:",
        ] {
            assert!(Endpoint::parse(url).unwrap_err().is_invalid_url(), "{url}");
        }
    }
}
