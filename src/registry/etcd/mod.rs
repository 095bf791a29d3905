//! A registry kept in etcd, for fleets that outgrow one registry process: a host keeps its
//! sources as keys under a lease it refreshes (a host that dies or is cut off loses them when
//! the lease expires), registers each with a transaction that only creates a key that does
//! not exist (the first host wins, as with the built-in registry), and nodes read the prefix
//! once and then watch it. etcd replicates the keys with Raft, so the registry survives a
//! member's loss. Selected by the URL: `registry_url("etcd://h1:2379,h2:2379,h3:2379")`.
//!
//! Here, with no client: the `etcd://` URL and what a key and its value hold. The client
//! parts ([`EtcdRegistrar`], [`follow`]) need the `etcd` feature.

// Without the client, only the tests use what is here.
#![cfg_attr(not(feature = "etcd"), allow(dead_code))]

#[cfg(feature = "etcd")]
mod client;

#[cfg(feature = "etcd")]
pub(crate) use client::{follow, EtcdRegistrar};

use serde::{Deserialize, Serialize};

use super::api::SourceLocation;
use crate::error::Error;

/// The URL scheme that selects etcd.
pub(crate) const SCHEME: &str = "etcd://";

/// The key prefix when the URL names none.
const DEFAULT_PREFIX: &str = "/aro/sources/";

/// The lease's time to live when the URL says none: how long a host that vanished stays
/// listed.
const DEFAULT_TTL_SECONDS: i64 = 10;

/// The most keys a node reads under the prefix: a store holding more (by mistake or malice)
/// costs it no more.
pub(crate) const MAX_ENTRIES: i64 = 100_000;

/// What an `etcd://` URL configures.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct EtcdSettings {
    /// The cluster's members, as `http://host:port`.
    pub(crate) endpoints: Vec<String>,
    /// Where the entries are, ending in `/`.
    pub(crate) prefix: String,
    /// The host's lease, in seconds.
    pub(crate) ttl: i64,
    /// etcd's own authentication, when the cluster has it on.
    pub(crate) user: Option<(String, String)>,
}

impl std::fmt::Debug for EtcdSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the password.
        f.debug_struct("EtcdSettings")
            .field("endpoints", &self.endpoints)
            .field("prefix", &self.prefix)
            .field("ttl", &self.ttl)
            .field("user", &self.user.as_ref().map(|(name, _)| name))
            .finish()
    }
}

fn invalid(url: &str, reason: &'static str) -> Error {
    // The URL may hold a password: say only its members and what follows.
    Error::invalid_url(url.split('@').next_back().unwrap_or(url), reason)
}

impl EtcdSettings {
    /// Whether `url` selects etcd.
    pub(crate) fn is_etcd(url: &str) -> bool {
        url.starts_with(SCHEME)
    }

    /// Parses `etcd://[USER:PASSWORD@]HOST:PORT[,HOST:PORT…][/PREFIX][?ttl=SECONDS]`.
    pub(crate) fn parse(url: &str) -> Result<EtcdSettings, Error> {
        let rest = url
            .strip_prefix(SCHEME)
            .ok_or_else(|| invalid(url, "expected etcd://"))?;
        let (rest, query) = rest.split_once('?').unwrap_or((rest, ""));
        let (user, rest) = match rest.rsplit_once('@') {
            Some((user, rest)) => {
                let (name, password) = user
                    .split_once(':')
                    .ok_or_else(|| invalid(url, "expected USER:PASSWORD@"))?;
                (Some((name.to_owned(), password.to_owned())), rest)
            }
            None => (None, rest),
        };
        let (members, prefix) = match rest.split_once('/') {
            Some((members, prefix)) => (members, prefix.trim_matches('/')),
            None => (rest, ""),
        };
        let endpoints = members
            .split(',')
            .map(|member| match member.rsplit_once(':') {
                Some((host, port)) if !host.is_empty() && port.parse::<u16>().is_ok() => {
                    Ok(format!("http://{member}"))
                }
                _ => Err(invalid(url, "each member is HOST:PORT")),
            })
            .collect::<Result<Vec<_>, _>>()?;
        let prefix = match prefix {
            "" => DEFAULT_PREFIX.to_owned(),
            prefix => format!("/{prefix}/"),
        };
        let mut ttl = DEFAULT_TTL_SECONDS;
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            match pair.split_once('=') {
                // etcd refuses leases shorter than about 1.5 s; an hour is plenty of grace.
                Some(("ttl", seconds)) => {
                    ttl = seconds
                        .parse()
                        .ok()
                        .filter(|s| (2..=3600).contains(s))
                        .ok_or_else(|| invalid(url, "ttl is 2 to 3600 seconds"))?;
                }
                _ => return Err(invalid(url, "expected ttl=SECONDS")),
            }
        }
        Ok(EtcdSettings {
            endpoints,
            prefix,
            ttl,
            user,
        })
    }

    /// The key of source `name`.
    pub(crate) fn key(&self, name: &str) -> String {
        format!("{}{name}", self.prefix)
    }

    /// The source name a key under the prefix is for.
    pub(crate) fn name_of<'a>(&self, key: &'a [u8]) -> Option<&'a str> {
        let name = std::str::from_utf8(key).ok()?.strip_prefix(&self.prefix)?;
        (!name.is_empty()).then_some(name)
    }
}

/// A key's value: where the source is, and which host process wrote it (so a host that
/// comes back with a new lease knows its own entry from another host's).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Entry {
    pub(crate) api: String,
    pub(crate) signature: u64,
    pub(crate) host_url: String,
    pub(crate) owner: u64,
}

impl Entry {
    pub(crate) fn new(location: &SourceLocation, owner: u64) -> Entry {
        Entry {
            api: location.api.clone(),
            signature: location.signature,
            host_url: location.host_url.clone(),
            owner,
        }
    }

    pub(crate) fn encode(&self) -> Vec<u8> {
        // A struct of strings and integers always serializes.
        serde_json::to_vec(self).unwrap_or_default()
    }

    /// A value read from the store; `None` if it is not one (anyone with access may write
    /// anything under the prefix).
    pub(crate) fn decode(value: &[u8]) -> Option<Entry> {
        serde_json::from_slice(value).ok()
    }

    pub(crate) fn location(&self) -> SourceLocation {
        SourceLocation {
            api: self.api.clone(),
            signature: self.signature,
            host_url: self.host_url.clone(),
        }
    }
}

/// Without the `etcd` feature, an `etcd://` URL is refused with the reason.
#[cfg(not(feature = "etcd"))]
pub(crate) fn unsupported(url: &str) -> Error {
    invalid(
        url,
        "this build has no etcd client: enable the `etcd` feature",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_etcd_url_names_members_prefix_lease_and_user() {
        let plain = EtcdSettings::parse("etcd://127.0.0.1:2379").unwrap();
        assert_eq!(plain.endpoints, ["http://127.0.0.1:2379"]);
        assert_eq!((plain.prefix.as_str(), plain.ttl), ("/aro/sources/", 10));
        let all = EtcdSettings::parse("etcd://me:p@ss@a:1,b:2,[::1]:3/fleet/one?ttl=3").unwrap();
        assert_eq!(
            all.endpoints,
            ["http://a:1", "http://b:2", "http://[::1]:3"]
        );
        assert_eq!((all.prefix.as_str(), all.ttl), ("/fleet/one/", 3));
        assert_eq!(all.user, Some(("me".into(), "p@ss".into())));
        assert!(
            !format!("{all:?}").contains("p@ss"),
            "the password stays out of logs"
        );
        for bad in [
            "etcd://",
            "etcd://a",
            "etcd://a:x",
            "etcd://a:1?ttl=1",
            "etcd://a:1?lease=3",
            "etcd://nopassword@a:1",
            "tcp://a:1",
        ] {
            let error = EtcdSettings::parse(bad).unwrap_err();
            assert!(error.is_invalid_url(), "{bad}");
        }
        let secret = EtcdSettings::parse("etcd://u:secret@a:x").unwrap_err();
        assert!(!secret.to_string().contains("secret"), "{secret}");
    }

    #[test]
    fn keys_and_values_read_back_and_strangers_are_not_entries() {
        let settings = EtcdSettings::parse("etcd://a:1").unwrap();
        let key = settings.key("Printer");
        assert_eq!(settings.name_of(key.as_bytes()), Some("Printer"));
        assert_eq!(settings.name_of(b"/aro/sources/"), None);
        assert_eq!(settings.name_of(b"/elsewhere/Printer"), None);
        assert_eq!(settings.name_of(&[0xff, 0xfe]), None);
        let location = SourceLocation {
            api: "Printer".into(),
            signature: 7,
            host_url: "tcp://10.0.0.1:5000".into(),
        };
        let entry = Entry::new(&location, 42);
        assert_eq!(Entry::decode(&entry.encode()), Some(entry.clone()));
        assert_eq!(entry.location(), location);
        assert_eq!(Entry::decode(b"{\"api\": 1}"), None);
        assert_eq!(Entry::decode(b"\xff"), None);
    }
}
