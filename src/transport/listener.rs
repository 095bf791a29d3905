//! Listening sockets.

use std::sync::Arc;

use super::{Endpoint, PeerAddr, Transport};
use crate::error::{Error, Kind};
use crate::security::TlsServer;

/// A bound TCP or Unix listener. A Unix listener removes its socket file when dropped.
pub(crate) enum Listener {
    Tcp(tokio::net::TcpListener),
    /// TCP, each connection then handed to TLS.
    Tls(tokio::net::TcpListener, tokio_rustls::TlsAcceptor),
    // The file is held only for its Drop, which removes it.
    #[cfg(unix)]
    Unix(
        tokio::net::UnixListener,
        #[allow(dead_code)] super::unix::UnixSocketFile,
    ),
}

/// An accepted connection.
pub(crate) enum Incoming {
    /// Ready to serve.
    Ready(Box<dyn Transport>, PeerAddr),
    /// A TCP connection whose TLS handshake is still to run (off the accept loop).
    Tls(tokio::net::TcpStream, PeerAddr, tokio_rustls::TlsAcceptor),
}

async fn tcp_bind(
    addr: &str,
    endpoint: &Endpoint,
) -> Result<(tokio::net::TcpListener, String), Error> {
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| Error::io(format!("listen on {endpoint}"), e))?;
    let local = listener
        .local_addr()
        .map_err(|e| Error::io("read the bound address", e))?;
    Ok((listener, local.to_string()))
}

impl Listener {
    /// Binds `endpoint`; a Unix socket file gets `socket_mode` (e.g. `0o600`), a `tls://`
    /// endpoint needs `tls`.
    pub(crate) async fn bind(
        endpoint: &Endpoint,
        socket_mode: u32,
        tls: Option<&TlsServer>,
    ) -> Result<(Listener, Endpoint), Error> {
        match endpoint {
            Endpoint::Tcp(addr) => {
                let (listener, local) = tcp_bind(addr, endpoint).await?;
                Ok((Listener::Tcp(listener), Endpoint::Tcp(local)))
            }
            Endpoint::Tls(addr) => {
                let tls = tls.ok_or_else(|| {
                    Error::new(Kind::Tls(format!(
                        "listening on {endpoint} needs HostConfig::tls"
                    )))
                })?;
                let (listener, local) = tcp_bind(addr, endpoint).await?;
                let acceptor = tokio_rustls::TlsAcceptor::from(Arc::clone(&tls.config));
                Ok((Listener::Tls(listener, acceptor), Endpoint::Tls(local)))
            }
            Endpoint::Qt(_) => Err(Error::new(Kind::InvalidUrl {
                url: endpoint.to_string(),
                reason:
                    "a host listens for Qt nodes with Host::listen_qt and a tcp:// or local: URL",
            })),
            Endpoint::Custom(_) => Err(Error::new(Kind::InvalidUrl {
                url: endpoint.to_string(),
                reason: "a host does not listen on a connector's scheme: it serves the streams \
                         accepted for it (Host::serve)",
            })),
            #[cfg(unix)]
            Endpoint::Local(path) => {
                let (listener, file) = super::unix::bind(endpoint, path, socket_mode).await?;
                Ok((Listener::Unix(listener, file), endpoint.clone()))
            }
            #[cfg(not(unix))]
            Endpoint::Local(_) => {
                let _ = socket_mode;
                Err(super::local_unsupported(endpoint))
            }
        }
    }

    /// The next connection, with who is on the other end.
    pub(crate) async fn accept(&self) -> std::io::Result<Incoming> {
        match self {
            Listener::Tcp(listener) => {
                let (stream, addr) = listener.accept().await?;
                stream.set_nodelay(true)?;
                Ok(Incoming::Ready(Box::new(stream), PeerAddr::Tcp(addr)))
            }
            Listener::Tls(listener, acceptor) => {
                let (stream, addr) = listener.accept().await?;
                stream.set_nodelay(true)?;
                Ok(Incoming::Tls(stream, PeerAddr::Tcp(addr), acceptor.clone()))
            }
            #[cfg(unix)]
            Listener::Unix(listener, _) => {
                let (stream, peer) = super::unix::accept(listener).await?;
                Ok(Incoming::Ready(stream, peer))
            }
        }
    }
}
