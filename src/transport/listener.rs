//! Listening sockets.

use std::io::ErrorKind;
use std::path::PathBuf;

use tracing::{info, warn};

use super::{Endpoint, PeerAddr, Transport, UnixCredentials};
use crate::error::Error;

/// A bound TCP or Unix listener. A Unix listener removes its socket file when dropped.
pub(crate) enum Listener {
    Tcp(tokio::net::TcpListener),
    // The file is held only for its Drop, which removes it.
    Unix(tokio::net::UnixListener, #[allow(dead_code)] UnixSocketFile),
}

/// Removes the socket file it names when dropped.
pub(crate) struct UnixSocketFile(PathBuf);

impl Drop for UnixSocketFile {
    fn drop(&mut self) {
        if let Err(e) = std::fs::remove_file(&self.0) {
            if e.kind() != ErrorKind::NotFound {
                warn!(path = %self.0.display(), error = %e, "cannot remove the socket file");
            }
        }
    }
}

impl Listener {
    pub(crate) async fn bind(endpoint: &Endpoint) -> Result<(Listener, Endpoint), Error> {
        match endpoint {
            Endpoint::Tcp(addr) => {
                let listener = tokio::net::TcpListener::bind(addr.as_str())
                    .await
                    .map_err(|e| Error::io(format!("listen on {endpoint}"), e))?;
                let local = listener
                    .local_addr()
                    .map_err(|e| Error::io("read the bound address", e))?;
                Ok((Listener::Tcp(listener), Endpoint::Tcp(local.to_string())))
            }
            Endpoint::Local(path) => {
                remove_stale_socket(path).await?;
                let listener = tokio::net::UnixListener::bind(path)
                    .map_err(|e| Error::io(format!("listen on {endpoint}"), e))?;
                Ok((
                    Listener::Unix(listener, UnixSocketFile(path.clone())),
                    endpoint.clone(),
                ))
            }
        }
    }

    /// The next connection, with who is on the other end.
    pub(crate) async fn accept(&self) -> std::io::Result<(Box<dyn Transport>, PeerAddr)> {
        match self {
            Listener::Tcp(listener) => {
                let (stream, addr) = listener.accept().await?;
                stream.set_nodelay(true)?;
                Ok((Box::new(stream), PeerAddr::Tcp(addr)))
            }
            Listener::Unix(listener, _) => {
                let (stream, _) = listener.accept().await?;
                let peer = match stream.peer_cred() {
                    Ok(cred) => PeerAddr::Unix(UnixCredentials {
                        uid: cred.uid(),
                        gid: cred.gid(),
                        pid: cred.pid(),
                    }),
                    Err(error) => {
                        warn!(%error, "cannot read the credentials of a Unix socket peer");
                        PeerAddr::Unknown
                    }
                };
                Ok((Box::new(stream), peer))
            }
        }
    }
}

/// A socket file nobody listens on is left over from a dead process: remove it. One that
/// answers belongs to a live host, so binding must fail rather than steal it.
async fn remove_stale_socket(path: &PathBuf) -> Result<(), Error> {
    if !path.exists() {
        return Ok(());
    }
    match tokio::net::UnixStream::connect(path).await {
        Ok(_) => Err(Error::io(
            format!("listen on local:{}", path.display()),
            std::io::Error::new(ErrorKind::AddrInUse, "another process is listening on it"),
        )),
        Err(_) => {
            info!(path = %path.display(), "replacing a stale socket file");
            std::fs::remove_file(path)
                .map_err(|e| Error::io(format!("remove stale {}", path.display()), e))
        }
    }
}
