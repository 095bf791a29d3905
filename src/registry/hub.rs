//! The registry's host-side state: entries by name, each owned by the connection that
//! registered it, so that a host that goes away takes its entries with it.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Mutex, MutexGuard};

use bytes::Bytes;
use tracing::{info, warn};

use super::api::{registry, Registry, RegistrySnapshot, SourceLocation};
use crate::api::{InvokeError, SetPropertyError, SlotFuture};
use crate::error::Error;
use crate::outbox::{ConnId, Outbox};
use crate::security::Peer;
use crate::source::AsSourceState;
use crate::source::{Caller, SourceHub};
use crate::wire::{Encoding, FailureKind, RemoteFailure, SourceId};
use crate::Slot;

/// The owner of the registry host's own sources (connection ids start at 1).
pub(crate) const LOCAL_OWNER: ConnId = 0;

pub(crate) struct RegistryHub {
    source: registry::SimpleSource,
    owners: Mutex<HashMap<String, ConnId>>,
    rules: Mutex<RegistrationRules>,
}

/// Who may register sources in a registry. Open by default (any peer may register any
/// name, as in Qt); a registry on a network anyone reaches should at least require
/// authenticated registrations, and tie the names that matter to the identities that hold
/// them.
///
/// ```
/// use actix_remote_objects::registry::RegistrationRules;
/// let rules = RegistrationRules::authenticated_only().reserve("Printer", ["printer-host"]);
/// ```
#[derive(Debug, Clone, Default)]
pub struct RegistrationRules {
    authenticated_only: bool,
    reserved: BTreeMap<String, BTreeSet<String>>,
}

impl RegistrationRules {
    /// Anyone may register any name that is free.
    pub fn open() -> RegistrationRules {
        RegistrationRules::default()
    }

    /// Only peers that authenticated (see
    /// [`HostConfig::authenticator`](crate::HostConfig::authenticator)) may register.
    pub fn authenticated_only() -> RegistrationRules {
        RegistrationRules {
            authenticated_only: true,
            ..RegistrationRules::default()
        }
    }

    /// Only peers authenticated as one of `identities` may register `name`.
    pub fn reserve<I: IntoIterator<Item = S>, S: Into<String>>(
        mut self,
        name: impl Into<String>,
        identities: I,
    ) -> RegistrationRules {
        self.reserved.insert(
            name.into(),
            identities.into_iter().map(Into::into).collect(),
        );
        self
    }

    /// Why `peer` may not register `name`, if it may not.
    fn check(&self, name: &str, peer: &Peer) -> Result<(), String> {
        let identity = peer.identity.as_deref();
        if self.authenticated_only && identity.is_none() {
            return Err(format!(
                "registration of {name:?} refused: this registry accepts registrations only \
                 from authenticated hosts"
            ));
        }
        match self.reserved.get(name) {
            Some(allowed) if !identity.is_some_and(|i| allowed.contains(i)) => Err(format!(
                "registration of {name:?} refused: the name is reserved for other identities"
            )),
            _ => Ok(()),
        }
    }
}

impl RegistryHub {
    pub(crate) fn new() -> RegistryHub {
        let snapshot = RegistrySnapshot {
            // A new run: revisions start again, under an epoch watchers have not seen.
            epoch: fastrand::u64(..),
            ..RegistrySnapshot::default()
        };
        RegistryHub {
            source: registry::SimpleSource::new(registry::Properties { snapshot }),
            owners: Mutex::new(HashMap::new()),
            rules: Mutex::new(RegistrationRules::default()),
        }
    }

    pub(crate) fn set_rules(&self, rules: RegistrationRules) {
        *self.rules.lock().unwrap_or_else(|p| p.into_inner()) = rules;
    }

    fn check_rules(&self, name: &str, peer: &Peer) -> Result<(), String> {
        let checked = self
            .rules
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .check(name, peer);
        if let Err(reason) = &checked {
            warn!(%name, %peer, %reason, "registration refused");
        }
        checked
    }

    fn owners(&self) -> MutexGuard<'_, HashMap<String, ConnId>> {
        self.owners.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Registers `name` for `owner`; the first owner of a name keeps it.
    pub(crate) fn add(
        &self,
        name: &str,
        location: SourceLocation,
        owner: ConnId,
    ) -> Result<(), String> {
        let mut owners = self.owners();
        if let Some(&current) = owners.get(name) {
            if current != owner {
                let at = self.source.source_state().read(|p| {
                    p.snapshot
                        .sources
                        .get(name)
                        .map_or_else(|| "another host".to_owned(), |l| l.host_url.clone())
                });
                let message = format!("a source named {name:?} is already registered by {at}");
                warn!(%name, refused = %location.host_url, registered = %at, "registration refused: the name is taken");
                return Err(message);
            }
        }
        owners.insert(name.to_owned(), owner);
        info!(%name, host = %location.host_url, "source registered");
        self.change(SOURCE_ADDED, |snapshot| {
            if snapshot.sources.get(name) == Some(&location) {
                return None;
            }
            snapshot.revision += 1;
            snapshot.sources.insert(name.to_owned(), location.clone());
            Some(registry::SourceAdded {
                revision: snapshot.revision,
                name: name.to_owned(),
                location,
            })
        });
        Ok(())
    }

    /// Unregisters `name` if `owner` registered it.
    pub(crate) fn remove(&self, name: &str, owner: ConnId) {
        let mut owners = self.owners();
        if owners.get(name) == Some(&owner) {
            owners.remove(name);
            info!(%name, "source unregistered");
            self.change(SOURCE_REMOVED, |snapshot| removal(snapshot, name));
        }
    }

    /// Drops every entry `owner` registered (its connection is gone).
    fn remove_owner(&self, owner: ConnId) {
        let mut owners = self.owners();
        let gone: Vec<String> = owners
            .iter()
            .filter(|(_, o)| **o == owner)
            .map(|(n, _)| n.clone())
            .collect();
        if gone.is_empty() {
            return;
        }
        for name in &gone {
            owners.remove(name);
            self.change(SOURCE_REMOVED, |snapshot| removal(snapshot, name));
        }
        info!(sources = ?gone, "a registered host went away; its sources are unregistered");
    }

    /// Applies one change to the entries and tells the replicas what it was: signal
    /// `signal` with the arguments `change` returns (none: nothing changed).
    fn change<S: serde::Serialize>(
        &self,
        signal: u16,
        change: impl FnOnce(&mut RegistrySnapshot) -> Option<S>,
    ) {
        let changed = self
            .source
            .source_state()
            .change_quietly(|props| change(&mut props.snapshot).map(|args| (signal, args)));
        if let Err(error) = changed {
            warn!(%error, "cannot publish a change of the registry's entries");
        }
    }

    pub(crate) fn use_encoding(&self, encoding: Encoding) -> Result<(), Error> {
        self.source.source_state().use_encoding(encoding)
    }
}

/// The registry's signals, by index (their order in [`Registry`]).
const SOURCE_ADDED: u16 = 0;
const SOURCE_REMOVED: u16 = 1;

/// Takes `name` out of `snapshot`: the signal saying so, if it was there.
fn removal(snapshot: &mut RegistrySnapshot, name: &str) -> Option<registry::SourceRemoved> {
    let location = snapshot.sources.remove(name)?;
    snapshot.revision += 1;
    Some(registry::SourceRemoved {
        revision: snapshot.revision,
        name: name.to_owned(),
        location,
    })
}

fn reply<T: serde::Serialize>(result: Result<T, String>, enc: Encoding) -> SlotFuture {
    let outcome = result
        .and_then(|value| {
            enc.encode(&value)
                .map(Bytes::from)
                .map_err(|e| e.to_string())
        })
        .map_err(|message| RemoteFailure {
            kind: FailureKind::Source,
            message,
        });
    Box::pin(std::future::ready(outcome))
}

/// Shared between the host (which serves it) and the registry host (which registers its own
/// sources in it directly).
impl SourceHub for std::sync::Arc<RegistryHub> {
    fn subscribe(
        &self,
        name: &str,
        source: SourceId,
        outbox: &Outbox,
        schema: Option<&Bytes>,
    ) -> Result<(), Error> {
        self.source
            .source_state()
            .subscribe(name, source, outbox, schema)
    }

    fn schema(&self) -> Result<Bytes, String> {
        crate::source::encoded_schema::<Registry>()
    }

    fn unsubscribe(&self, conn: ConnId, source: Option<SourceId>) {
        self.source.source_state().unsubscribe(conn, source);
        // A registrant holds a registry replica for as long as it is registered.
        self.remove_owner(conn);
    }

    fn unsubscribe_all(&self, source: SourceId) {
        self.source.source_state().unsubscribe_all(source)
    }

    fn set_from_remote(
        &self,
        _: u16,
        _: &[u8],
        _: Encoding,
    ) -> Result<Option<crate::proto::WriteFuture>, String> {
        Err(SetPropertyError::NotWritable("sources").to_string())
    }

    fn invoke(
        &self,
        slot: u16,
        args: &[u8],
        enc: Encoding,
        caller: &Caller<'_>,
    ) -> Result<SlotFuture, String> {
        let bad = |name, source| InvokeError::BadArguments { slot: name, source }.to_string();
        match slot {
            registry::AddSource::INDEX => {
                let msg: registry::AddSource =
                    enc.decode(args).map_err(|e| bad("add_source", e))?;
                let added = self
                    .check_rules(&msg.name, caller.peer)
                    .and_then(|()| self.add(&msg.name, msg.location, caller.conn));
                Ok(reply(added, enc))
            }
            registry::RemoveSource::INDEX => {
                let msg: registry::RemoveSource =
                    enc.decode(args).map_err(|e| bad("remove_source", e))?;
                self.remove(&msg.name, caller.conn);
                Ok(reply(Ok(()), enc))
            }
            registry::FetchSnapshot::INDEX => {
                let snapshot = self.source.source_state().read(|p| p.snapshot.clone());
                Ok(reply(Ok(snapshot), enc))
            }
            other => Err(InvokeError::UnknownSlot(other).to_string()),
        }
    }

    fn subscriber_count(&self) -> usize {
        self.source.subscriber_count()
    }

    fn subscriber_counts(&self) -> tokio::sync::watch::Receiver<usize> {
        self.source.source_state().subscriber_counts()
    }

    fn slot_name(&self, index: u16) -> Option<&str> {
        use crate::RemoteObject;
        crate::source::declared_name(Registry::SLOTS, index, |s| s.name)
    }

    fn property_name(&self, index: u16) -> Option<&str> {
        use crate::RemoteObject;
        crate::source::declared_name(Registry::PROPERTIES, index, |p| p.name)
    }
}

impl RegistryHub {
    /// What the registry's own object list entry says about it.
    pub(crate) fn info(name: &str) -> crate::wire::ObjectInfo {
        use crate::RemoteObject;
        crate::wire::ObjectInfo {
            name: name.to_owned(),
            api: Registry::NAME.to_owned(),
            signature: Registry::signature(),
        }
    }
}
