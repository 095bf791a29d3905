//! Who is on the other end of a connection, as the operating system tells it.

use std::fmt;

/// Who is on the other end of an accepted connection, as the operating system tells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum PeerAddr {
    /// A TCP peer's address and port.
    Tcp(std::net::SocketAddr),
    /// A Unix socket peer's credentials (`SO_PEERCRED`), read when it connected.
    Unix(UnixCredentials),
    /// A stream handed to `Host::serve`: the host cannot tell.
    Unknown,
    /// The host's own in-process node (`Host::local_node`): this process.
    InProcess,
}

/// The process on the other end of a Unix socket, as the kernel reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct UnixCredentials {
    /// Its user id.
    pub uid: u32,
    /// Its group id.
    pub gid: u32,
    /// Its process id, where the platform tells it.
    pub pid: Option<i32>,
}

/// What per-peer connection limits count by: an IP address (any port), a user id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum PeerKey {
    Ip(std::net::IpAddr),
    Uid(u32),
}

impl PeerAddr {
    pub(crate) fn key(&self) -> Option<PeerKey> {
        match self {
            PeerAddr::Tcp(addr) => Some(PeerKey::Ip(addr.ip())),
            PeerAddr::Unix(cred) => Some(PeerKey::Uid(cred.uid)),
            PeerAddr::Unknown | PeerAddr::InProcess => None,
        }
    }
}

impl fmt::Display for PeerAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PeerAddr::Tcp(addr) => write!(f, "{addr}"),
            PeerAddr::Unix(c) => write!(f, "uid {} gid {} pid {:?}", c.uid, c.gid, c.pid),
            PeerAddr::Unknown => f.write_str("a stream of unknown origin"),
            PeerAddr::InProcess => f.write_str("this process"),
        }
    }
}
