//! `local:` sockets: Unix domain sockets whose files are owner-only from the moment they
//! exist, in a directory of the user's own, replacing only stale sockets. Unix only.

use std::io::ErrorKind;
use std::os::unix::fs::{DirBuilderExt, FileTypeExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use tracing::{info, warn};

use super::{Endpoint, PeerAddr, Transport, UnixCredentials};
use crate::error::Error;

/// Binds `local:path` (the endpoint), its socket file given `mode`.
pub(crate) async fn bind(
    endpoint: &Endpoint,
    path: &Path,
    mode: u32,
) -> Result<(tokio::net::UnixListener, UnixSocketFile), Error> {
    let fail = |e| Error::io(format!("listen on {endpoint}"), e);
    if path.parent() == Some(super::private_temp_dir().as_path()) {
        ensure_private_dir(&super::private_temp_dir()).map_err(fail)?;
    }
    remove_stale_socket(path).await?;
    let listener = bind_with_mode(path, mode).map_err(fail)?;
    Ok((listener, UnixSocketFile(path.to_owned())))
}

/// The next connection, with the peer's credentials.
pub(crate) async fn accept(
    listener: &tokio::net::UnixListener,
) -> std::io::Result<(Box<dyn Transport>, PeerAddr)> {
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

/// Connects to the socket at `path`.
pub(crate) async fn connect(path: &Path) -> Result<Box<dyn Transport>, Error> {
    let stream = tokio::net::UnixStream::connect(path)
        .await
        .map_err(|e| Error::io(format!("connect to local:{}", path.display()), e))?;
    Ok(Box::new(stream))
}

/// This user's id, for the per-user socket directory.
pub(crate) fn user_id() -> String {
    // SAFETY: getuid has no preconditions and cannot fail.
    unsafe { libc::getuid() }.to_string()
}

/// Removes the socket file it names when dropped (if it is still a socket).
pub(crate) struct UnixSocketFile(PathBuf);

impl Drop for UnixSocketFile {
    fn drop(&mut self) {
        if !is_socket(&self.0) {
            return; // replaced by something else since: not ours to remove
        }
        if let Err(e) = std::fs::remove_file(&self.0) {
            if e.kind() != ErrorKind::NotFound {
                warn!(path = %self.0.display(), error = %e, "cannot remove the socket file");
            }
        }
    }
}

fn is_socket(path: &Path) -> bool {
    std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_socket())
}

/// Binds a Unix socket at `path` whose file has `mode` from the start: it is bound under a
/// unique name beside `path`, given its mode, then renamed into place, so nobody the mode
/// excludes can connect in between.
fn bind_with_mode(path: &Path, mode: u32) -> std::io::Result<tokio::net::UnixListener> {
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty());
    let dir = dir.unwrap_or(Path::new("."));
    let name = path.file_name().unwrap_or_default().to_string_lossy();
    let staging = dir.join(format!(
        ".{name}.{}.{}",
        std::process::id(),
        fastrand::u64(..)
    ));
    let listener = tokio::net::UnixListener::bind(&staging)?;
    let placed = std::fs::set_permissions(&staging, std::fs::Permissions::from_mode(mode))
        .and_then(|()| std::fs::rename(&staging, path));
    if let Err(error) = placed {
        let _ = std::fs::remove_file(&staging);
        return Err(error);
    }
    Ok(listener)
}

/// Creates the per-user socket directory owner-only, or checks that it is one: owned by this
/// user, not a symlink, and closed to everyone else.
fn ensure_private_dir(dir: &Path) -> std::io::Result<()> {
    match std::fs::DirBuilder::new().mode(0o700).create(dir) {
        Ok(()) => return Ok(()),
        Err(e) if e.kind() == ErrorKind::AlreadyExists => {}
        Err(e) => return Err(e),
    }
    let meta = std::fs::symlink_metadata(dir)?;
    // SAFETY: getuid has no preconditions and cannot fail.
    let uid = unsafe { libc::getuid() };
    if !meta.is_dir() || meta.uid() != uid || meta.mode() & 0o077 != 0 {
        return Err(std::io::Error::new(
            ErrorKind::PermissionDenied,
            format!(
                "{} is not a directory of this user's own (owner-only); refusing to use it",
                dir.display()
            ),
        ));
    }
    Ok(())
}

/// A socket file nobody listens on is left over from a dead process: remove it. One that
/// answers belongs to a live host, so binding must fail rather than steal it. Anything that
/// is not a socket (a regular file, a directory, a symlink) is never touched.
async fn remove_stale_socket(path: &Path) -> Result<(), Error> {
    let meta = match std::fs::symlink_metadata(path) {
        Ok(meta) => meta,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(Error::io(format!("inspect {}", path.display()), e)),
    };
    if !meta.file_type().is_socket() {
        return Err(Error::io(
            format!("listen on local:{}", path.display()),
            std::io::Error::new(
                ErrorKind::AlreadyExists,
                "the path exists and is not a socket; refusing to replace it",
            ),
        ));
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
