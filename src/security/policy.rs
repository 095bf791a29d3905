//! Access control: what each peer may see, acquire, call and set on a host.
//!
//! A host without a policy serves everyone everything (as Qt Remote Objects does). Once a
//! policy is set ([`HostConfig::access_policy`](crate::HostConfig::access_policy)), the
//! built-in [`Policy`] denies whatever no rule allows. Refusals reach the replica typed
//! (a `Refused` replica, a `SlotError::Rejected` call, an `Event::WriteRefused`) and are
//! logged on the host.

use std::collections::BTreeSet;
use std::fmt;

use super::Peer;
use super::PeerAddr;

/// Decides, per peer, what it may do on a host. Every method returns why not on refusal;
/// the reason reaches the peer.
pub trait AccessPolicy: Send + Sync + 'static {
    /// Whether the peer may stay connected at all, once it has authenticated (if the host
    /// authenticates).
    fn admit(&self, peer: &Peer) -> Result<(), String>;

    /// Whether the peer may acquire the source remoted as `source`; a refused replica goes
    /// `Refused` with the reason.
    fn may_acquire(&self, peer: &Peer, source: &str) -> Result<(), String>;

    /// Whether the source is in the object lists the peer gets. By default, exactly the
    /// sources it may acquire: the others are hidden, and a replica of one waits as for a
    /// source that does not exist.
    fn may_see(&self, peer: &Peer, source: &str) -> bool {
        self.may_acquire(peer, source).is_ok()
    }

    /// Whether the peer may call `slot` of `source`.
    fn may_call(&self, peer: &Peer, source: &str, slot: &str) -> Result<(), String>;

    /// Whether the peer may set the read-write property `property` of `source`.
    fn may_set(&self, peer: &Peer, source: &str, property: &str) -> Result<(), String>;
}

/// Who a [`Rule`] is for.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Who {
    Anyone,
    Authenticated,
    Identity(String),
    Uid(u32),
    Gid(u32),
}

impl Who {
    fn matches(&self, peer: &Peer) -> bool {
        let creds = match &peer.addr {
            PeerAddr::Unix(creds) => Some(creds),
            _ => None,
        };
        match self {
            Who::Anyone => true,
            Who::Authenticated => peer.identity.is_some(),
            Who::Identity(name) => peer.identity.as_deref() == Some(name.as_str()),
            Who::Uid(uid) => creds.is_some_and(|c| c.uid == *uid),
            Who::Gid(gid) => creds.is_some_and(|c| c.gid == *gid),
        }
    }
}

/// A set of names: all of them, or only these.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Names {
    All,
    Only(BTreeSet<String>),
}

impl Names {
    fn only<I: IntoIterator<Item = S>, S: Into<String>>(names: I) -> Names {
        Names::Only(names.into_iter().map(Into::into).collect())
    }

    fn contains(&self, name: &str) -> bool {
        match self {
            Names::All => true,
            Names::Only(names) => names.contains(name),
        }
    }
}

/// One grant of a [`Policy`]: who it is for, which sources, and what they may do there
/// besides seeing and acquiring them (by default nothing: a read-only view).
///
/// ```
/// use actix_remote_objects::security::Rule;
/// // alice may print and rename printers; everyone who authenticated may watch the GPS.
/// let alice = Rule::identity("alice").sources(["Printer"]).slots(["print"]).properties(["name"]);
/// let watchers = Rule::authenticated().sources(["Gps"]);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    who: Who,
    sources: Names,
    slots: Names,
    properties: Names,
}

impl Rule {
    fn new(who: Who) -> Rule {
        Rule {
            who,
            sources: Names::All,
            slots: Names::Only(BTreeSet::new()),
            properties: Names::Only(BTreeSet::new()),
        }
    }

    /// For every peer, authenticated or not.
    pub fn anyone() -> Rule {
        Rule::new(Who::Anyone)
    }

    /// For every peer that authenticated, whoever it is.
    pub fn authenticated() -> Rule {
        Rule::new(Who::Authenticated)
    }

    /// For the peer that authenticated as `identity` (a shared secret's name, a client
    /// certificate's identity).
    pub fn identity(identity: impl Into<String>) -> Rule {
        Rule::new(Who::Identity(identity.into()))
    }

    /// For peers on a `local:` socket running as user `uid` (their `SO_PEERCRED`).
    pub fn unix_uid(uid: u32) -> Rule {
        Rule::new(Who::Uid(uid))
    }

    /// For peers on a `local:` socket running with group `gid`.
    pub fn unix_gid(gid: u32) -> Rule {
        Rule::new(Who::Gid(gid))
    }

    /// Only these sources (by the name they are remoted under); all by default.
    pub fn sources<I: IntoIterator<Item = S>, S: Into<String>>(mut self, names: I) -> Rule {
        self.sources = Names::only(names);
        self
    }

    /// May call these slots.
    pub fn slots<I: IntoIterator<Item = S>, S: Into<String>>(mut self, names: I) -> Rule {
        self.slots = Names::only(names);
        self
    }

    /// May call every slot.
    pub fn all_slots(mut self) -> Rule {
        self.slots = Names::All;
        self
    }

    /// May set these read-write properties.
    pub fn properties<I: IntoIterator<Item = S>, S: Into<String>>(mut self, names: I) -> Rule {
        self.properties = Names::only(names);
        self
    }

    /// May set every read-write property.
    pub fn all_properties(mut self) -> Rule {
        self.properties = Names::All;
        self
    }

    /// May do everything on its sources.
    pub fn everything(self) -> Rule {
        self.all_slots().all_properties()
    }

    fn covers(&self, peer: &Peer, source: &str) -> bool {
        self.who.matches(peer) && self.sources.contains(source)
    }
}

/// An access policy of [`Rule`]s: whatever no rule allows is denied, including connecting
/// at all for a peer no rule is for.
///
/// ```
/// use actix_remote_objects::security::{Policy, Rule};
/// use actix_remote_objects::HostConfig;
/// let policy = Policy::new()
///     .allow(Rule::identity("alice").everything())
///     .allow(Rule::anyone().sources(["Gps"]));
/// let config = HostConfig::default().access_policy(policy);
/// ```
#[derive(Debug, Clone, Default)]
pub struct Policy {
    rules: Vec<Rule>,
    list_denied: bool,
}

impl Policy {
    /// A policy that denies everything until rules allow it.
    pub fn new() -> Policy {
        Policy::default()
    }

    /// Adds a grant.
    pub fn allow(mut self, rule: Rule) -> Policy {
        self.rules.push(rule);
        self
    }

    /// Lists every source to every admitted peer, and refuses acquires of the ones it may not
    /// have with the reason (so its replicas fail at once, `Refused`), instead of hiding them.
    pub fn list_denied_sources(mut self) -> Policy {
        self.list_denied = true;
        self
    }

    fn denied(peer: &Peer, what: fmt::Arguments<'_>) -> String {
        format!("access denied: {peer} may not {what}")
    }
}

impl AccessPolicy for Policy {
    fn admit(&self, peer: &Peer) -> Result<(), String> {
        if self.rules.iter().any(|r| r.who.matches(peer)) {
            Ok(())
        } else {
            Err(Policy::denied(peer, format_args!("connect")))
        }
    }

    fn may_acquire(&self, peer: &Peer, source: &str) -> Result<(), String> {
        if self.rules.iter().any(|r| r.covers(peer, source)) {
            Ok(())
        } else {
            Err(Policy::denied(peer, format_args!("acquire {source}")))
        }
    }

    fn may_see(&self, peer: &Peer, source: &str) -> bool {
        self.list_denied || self.may_acquire(peer, source).is_ok()
    }

    fn may_call(&self, peer: &Peer, source: &str, slot: &str) -> Result<(), String> {
        if self
            .rules
            .iter()
            .any(|r| r.covers(peer, source) && r.slots.contains(slot))
        {
            Ok(())
        } else {
            Err(Policy::denied(peer, format_args!("call {source}.{slot}")))
        }
    }

    fn may_set(&self, peer: &Peer, source: &str, property: &str) -> Result<(), String> {
        if self
            .rules
            .iter()
            .any(|r| r.covers(peer, source) && r.properties.contains(property))
        {
            Ok(())
        } else {
            Err(Policy::denied(
                peer,
                format_args!("set {source}.{property}"),
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::security::UnixCredentials;

    fn named(identity: &str) -> Peer {
        let mut peer = Peer::new(PeerAddr::Unknown);
        peer.identity = Some(identity.to_owned());
        peer
    }

    #[test]
    fn an_empty_policy_denies_everything() {
        let policy = Policy::new();
        let peer = named("alice");
        assert!(policy.admit(&peer).is_err());
        assert!(policy.may_acquire(&peer, "Printer").is_err());
    }

    #[test]
    fn rules_grant_only_what_they_name() {
        let policy = Policy::new()
            .allow(
                Rule::identity("alice")
                    .sources(["Printer"])
                    .slots(["print"])
                    .properties(["name"]),
            )
            .allow(Rule::authenticated().sources(["Gps"]));
        let alice = named("alice");
        let bob = named("bob");
        let stranger = Peer::new(PeerAddr::Unknown);
        assert!(policy.admit(&alice).is_ok() && policy.admit(&bob).is_ok());
        assert!(policy.admit(&stranger).is_err());
        assert!(policy.may_acquire(&alice, "Printer").is_ok());
        assert!(policy.may_call(&alice, "Printer", "print").is_ok());
        assert!(policy.may_call(&alice, "Printer", "cancel").is_err());
        assert!(policy.may_set(&alice, "Printer", "name").is_ok());
        assert!(policy.may_acquire(&bob, "Printer").is_err());
        assert!(policy.may_acquire(&bob, "Gps").is_ok());
        let refused = policy.may_set(&bob, "Gps", "position").unwrap_err();
        assert!(refused.contains("\"bob\"") && refused.contains("may not set Gps.position"));
    }

    #[test]
    fn unix_credentials_can_be_required() {
        let policy = Policy::new().allow(Rule::unix_uid(1000).everything());
        let creds = |uid| {
            Peer::new(PeerAddr::Unix(UnixCredentials {
                uid,
                gid: 100,
                pid: Some(1),
            }))
        };
        assert!(policy.may_call(&creds(1000), "X", "y").is_ok());
        assert!(policy.admit(&creds(0)).is_err());
    }
}
