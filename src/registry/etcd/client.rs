//! The etcd client's two sides: a host's registrar (a lease kept alive, its sources as keys
//! under it) and a node's follower (the prefix read, then watched).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use etcd_client::{
    Client, Compare, CompareOp, ConnectOptions, EventType, GetOptions, LeaseKeepAliveStream,
    LeaseKeeper, PutOptions, Txn, TxnOp, TxnOpResponse, WatchOptions,
};
use futures::future::BoxFuture;
use futures::FutureExt;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tracing::{debug, error, info, warn};

use super::{Entry, EtcdSettings, MAX_ENTRIES};
use crate::error::{Error, Kind};
use crate::host::{Host, Registration};
use crate::lifecycle::Backoff;
use crate::node::{BackgroundError, Reporter};
use crate::registry::api::{RegistrySnapshot, SourceLocation};
use crate::registry::finder::{host_moves, Watch};
use crate::registry::registrar::registration_error;
use crate::registry::view::Step;
use crate::wire::ObjectInfo;

fn etcd_error(error: etcd_client::Error) -> Error {
    Error::new(Kind::Registry(format!("etcd: {error}")))
}

/// How long to wait before opening a session again after losing one.
fn backoff() -> Backoff {
    Backoff::new(Duration::from_millis(100), Duration::from_secs(5))
}

/// A client of one member of the cluster — the `attempt`th, round the list — with timeouts
/// that notice a member gone quiet. One member at a time, the next after each failure: a
/// dead member costs one failed attempt, where a channel balanced over every member keeps
/// picking it now and then.
async fn connect(settings: &EtcdSettings, attempt: usize) -> Result<Client, Error> {
    let ttl = Duration::from_secs(settings.ttl as u64);
    let mut options = ConnectOptions::new()
        .with_connect_timeout(Duration::from_secs(2))
        .with_timeout(ttl)
        .with_keep_alive(Duration::from_secs(1), Duration::from_secs(2))
        .with_keep_alive_while_idle(true);
    if let Some((name, password)) = &settings.user {
        options = options.with_user(name, password);
    }
    let member = &settings.endpoints[attempt % settings.endpoints.len()];
    Client::connect([member], Some(options))
        .await
        .map_err(etcd_error)
}

/// Runs `task` until the returned handle is dropped.
pub(crate) struct AbortOnDrop(JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// A host's sources in etcd.
pub(crate) struct EtcdRegistrar {
    shared: Arc<Shared>,
    _session: AbortOnDrop,
}

struct Shared {
    settings: EtcdSettings,
    /// Tells this host's entries from another's (the lease changes with each session).
    owner: u64,
    reporter: Reporter,
    /// Every source the host serves, to claim again in each new session.
    wanted: Mutex<BTreeMap<String, SourceLocation>>,
    session: watch::Sender<Option<Session>>,
    /// Ends the session when a request in it failed (its member may be gone): the next one,
    /// with the next member, claims everything again.
    restart: tokio::sync::Notify,
}

/// A connection to the cluster, and the lease this host's keys live under.
#[derive(Clone)]
struct Session {
    client: Client,
    lease: i64,
}

impl Shared {
    fn wanted(&self) -> MutexGuard<'_, BTreeMap<String, SourceLocation>> {
        // Each critical section is one map operation.
        self.wanted.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn current(&self) -> Option<Session> {
        self.session.borrow().clone()
    }

    fn endpoints(&self) -> String {
        self.settings.endpoints.join(",")
    }

    /// Claims `name` for this host: creates its key if it does not exist, or moves this
    /// host's own entry (from an earlier session) under the current lease; another host's
    /// entry is a conflict.
    async fn claim(&self, session: &Session, name: &str, at: &SourceLocation) -> Result<(), Error> {
        let key = self.settings.key(name);
        let value = Entry::new(at, self.owner).encode();
        let put = || {
            TxnOp::put(
                key.clone(),
                value.clone(),
                Some(PutOptions::new().with_lease(session.lease)),
            )
        };
        let create = Txn::new()
            .when([Compare::create_revision(key.clone(), CompareOp::Equal, 0)])
            .and_then([put()])
            .or_else([TxnOp::get(key.clone(), None)]);
        let mut client = session.client.clone();
        let created = client.txn(create).await.map_err(etcd_error)?;
        if created.succeeded() {
            return Ok(());
        }
        let existing = created.op_responses().into_iter().find_map(|r| match r {
            TxnOpResponse::Get(get) => get.kvs().first().cloned(),
            _ => None,
        });
        let Some(existing) = existing else {
            return Err(Error::new(Kind::Registry(format!(
                "etcd: {name} vanished while being registered; will retry"
            ))));
        };
        match Entry::decode(existing.value()) {
            Some(entry) if entry.owner == self.owner => {
                // Ours, from a lease that is going: only if no one changed it meanwhile.
                let mine = Txn::new()
                    .when([Compare::mod_revision(
                        key.clone(),
                        CompareOp::Equal,
                        existing.mod_revision(),
                    )])
                    .and_then([put()]);
                match client.txn(mine).await.map_err(etcd_error)?.succeeded() {
                    true => Ok(()),
                    false => Err(conflict(name, "another host, just now")),
                }
            }
            Some(entry) => Err(conflict(name, &entry.host_url)),
            None => Err(conflict(name, "a value that is not a source location")),
        }
    }

    /// Claims every wanted source in `session`; what fails is a background error, and one
    /// that is not a conflict ends the session.
    async fn claim_all(&self, session: &Session) {
        let wanted: Vec<(String, SourceLocation)> = self
            .wanted()
            .iter()
            .map(|(n, l)| (n.clone(), l.clone()))
            .collect();
        for (name, at) in wanted {
            if let Err(error) = self.claim(session, &name, &at).await {
                self.claim_failed(&name, error);
            }
        }
    }

    fn claim_failed(&self, name: &str, error: Error) {
        if !error.is_registry_conflict() {
            self.restart.notify_one();
        }
        self.reporter.report(registration_error(name, error));
    }

    /// Keeps a session open, opening a new one whenever it is lost, until aborted.
    async fn keep_session(self: Arc<Self>) {
        let mut backoff = backoff();
        let mut attempt = 0;
        loop {
            match self.open(attempt).await {
                Ok((session, keeper, responses)) => {
                    backoff.reset();
                    info!(etcd = %self.endpoints(), lease = session.lease, "registering with etcd");
                    self.session.send_replace(Some(session.clone()));
                    self.claim_all(&session).await;
                    let lost = self.keep_alive(keeper, responses).await;
                    self.session.send_replace(None);
                    attempt += 1;
                    warn!(etcd = %self.endpoints(), reason = %lost,
                        "lost the etcd session; registering again when etcd answers");
                }
                Err(error) => {
                    attempt += 1;
                    debug!(etcd = %self.endpoints(), %error, "cannot open an etcd session");
                    self.reporter.report(BackgroundError::ConnectFailed {
                        url: self.endpoints(),
                        via_registry: false,
                        error: Arc::new(error),
                    });
                }
            }
            tokio::time::sleep(backoff.next_delay(fastrand::f64())).await;
        }
    }

    async fn open(
        &self,
        attempt: usize,
    ) -> Result<(Session, LeaseKeeper, LeaseKeepAliveStream), Error> {
        let mut client = connect(&self.settings, attempt).await?;
        let granted = client
            .lease_grant(self.settings.ttl, None)
            .await
            .map_err(etcd_error)?;
        let (keeper, responses) = client
            .lease_keep_alive(granted.id())
            .await
            .map_err(etcd_error)?;
        let lease = granted.id();
        Ok((Session { client, lease }, keeper, responses))
    }

    /// Refreshes the lease three times per time to live; returns why it stopped.
    async fn keep_alive(
        &self,
        mut keeper: LeaseKeeper,
        mut responses: LeaseKeepAliveStream,
    ) -> String {
        let period = Duration::from_secs(self.settings.ttl as u64) / 3;
        loop {
            tokio::select! {
                () = tokio::time::sleep(period) => {}
                () = self.restart.notified() => return "a request in it failed".into(),
            }
            if let Err(error) = keeper.keep_alive().await {
                return error.to_string();
            }
            match tokio::time::timeout(period * 2, responses.message()).await {
                Ok(Ok(Some(answer))) if answer.ttl() > 0 => {}
                Ok(Ok(Some(_))) => return "the lease expired".into(),
                Ok(Ok(None)) => return "the keep-alive stream ended".into(),
                Ok(Err(error)) => return error.to_string(),
                Err(_) => return "no answer to a keep-alive".into(),
            }
        }
    }
}

fn conflict(name: &str, holder: &str) -> Error {
    let message = format!("{name} is already registered in etcd, by {holder}");
    error!(%message, "etcd refused a source");
    Error::new(Kind::RegistryConflict(message))
}

impl EtcdRegistrar {
    /// Attaches a host to etcd as its registration (`HostConfig::registry_url("etcd://…")`).
    pub(crate) fn attach(url: &str, host: &Host) -> Result<Arc<dyn Registration>, Error> {
        let settings = EtcdSettings::parse(url)?;
        let reporter = host
            .downgrade()
            .upgrade()
            .map(|inner| inner.reporter().clone())
            .unwrap_or_default();
        let (session, _) = watch::channel(None);
        let shared = Arc::new(Shared {
            settings,
            owner: fastrand::u64(..),
            reporter,
            wanted: Mutex::new(BTreeMap::new()),
            session,
            restart: tokio::sync::Notify::new(),
        });
        let task = actix::spawn(Arc::clone(&shared).keep_session());
        Ok(Arc::new(EtcdRegistrar {
            shared,
            _session: AbortOnDrop(task),
        }))
    }

    async fn register(&self, info: &ObjectInfo, host_url: &str) -> Result<(), Error> {
        let at = SourceLocation {
            api: info.api.clone(),
            signature: info.signature,
            host_url: host_url.to_owned(),
        };
        self.shared.wanted().insert(info.name.clone(), at.clone());
        // Without a session, the next one claims it.
        let Some(session) = self.shared.current() else {
            return Ok(());
        };
        match self.shared.claim(&session, &info.name, &at).await {
            Err(error) if error.is_registry_conflict() => {
                self.shared.wanted().remove(&info.name);
                Err(error)
            }
            Err(error) => {
                self.shared.claim_failed(&info.name, error);
                Ok(())
            }
            Ok(()) => Ok(()),
        }
    }
}

impl Registration for EtcdRegistrar {
    fn register<'a>(
        &'a self,
        info: &'a ObjectInfo,
        host_url: &'a str,
    ) -> BoxFuture<'a, Result<(), Error>> {
        EtcdRegistrar::register(self, info, host_url).boxed()
    }

    fn unregister(&self, name: &str) {
        self.shared.wanted().remove(name);
        let Some(session) = self.shared.current() else {
            return;
        };
        // Only this host's key: one under its lease.
        let key = self.shared.settings.key(name);
        let delete = Txn::new()
            .when([Compare::lease(key.clone(), CompareOp::Equal, session.lease)])
            .and_then([TxnOp::delete(key, None)]);
        let mut client = session.client;
        actix::spawn(async move {
            if let Err(error) = client.txn(delete).await {
                warn!(%error, "cannot remove a source from etcd; it goes with the lease");
            }
        });
    }

    fn wait(&self, timeout: Duration) -> BoxFuture<'_, Result<(), Error>> {
        let mut session = self.shared.session.subscribe();
        async move {
            match tokio::time::timeout(timeout, session.wait_for(Option::is_some)).await {
                Ok(Ok(_)) => Ok(()),
                Ok(Err(_)) => Err(Error::new(Kind::Shutdown)),
                Err(_) => Err(Error::new(Kind::Registry(format!(
                    "etcd at {} did not answer within {timeout:?}",
                    self.shared.endpoints()
                )))),
            }
        }
        .boxed()
    }

    fn shutdown(&self) -> BoxFuture<'_, ()> {
        async move {
            // Revoking the lease removes every key of this host at once.
            if let Some(mut session) = self.shared.session.send_replace(None) {
                let revoked = tokio::time::timeout(
                    Duration::from_secs(2),
                    session.client.lease_revoke(session.lease),
                )
                .await;
                if !matches!(revoked, Ok(Ok(_))) {
                    warn!("cannot revoke the etcd lease; its keys expire with it");
                }
            }
        }
        .boxed()
    }
}

/// Why a node's reading of the prefix stopped.
enum Stopped {
    /// The node is gone: stop for good.
    NodeGone,
    /// The cluster could not be read: try again.
    Lost(Error),
}

impl From<etcd_client::Error> for Stopped {
    fn from(error: etcd_client::Error) -> Stopped {
        Stopped::Lost(etcd_error(error))
    }
}

impl From<Error> for Stopped {
    fn from(error: Error) -> Stopped {
        Stopped::Lost(error)
    }
}

/// Keeps `watch` up to date from etcd at `url` and tells the node where sources moved, until
/// the returned handle is dropped. The receiver turns true once the prefix was first read.
pub(crate) fn follow(
    url: &str,
    watch: Arc<Watch>,
    tell_node: impl Fn(Vec<(String, Option<String>)>) -> bool + Send + 'static,
    report: impl Fn(BackgroundError) + Send + 'static,
) -> Result<(AbortOnDrop, watch::Receiver<bool>), Error> {
    let settings = EtcdSettings::parse(url)?;
    let (ready, read) = watch::channel(false);
    let task = actix::spawn(async move {
        let mut backoff = backoff();
        let mut attempt = 0;
        loop {
            let read =
                read_then_watch(&settings, attempt, &mut backoff, &watch, &tell_node, &ready);
            let Err(stopped) = read.await;
            attempt += 1;
            match stopped {
                Stopped::NodeGone => return,
                Stopped::Lost(error) => {
                    debug!(%error, "lost etcd; reading it again");
                    report(BackgroundError::ConnectFailed {
                        url: settings.endpoints.join(","),
                        via_registry: false,
                        error: Arc::new(error),
                    });
                }
            }
            tokio::time::sleep(backoff.next_delay(fastrand::f64())).await;
        }
    });
    Ok((AbortOnDrop(task), read))
}

/// Reads every entry, then applies each change from the revision read on, until it cannot.
async fn read_then_watch(
    settings: &EtcdSettings,
    attempt: usize,
    backoff: &mut Backoff,
    watch: &Watch,
    tell_node: &impl Fn(Vec<(String, Option<String>)>) -> bool,
    ready: &watch::Sender<bool>,
) -> Result<std::convert::Infallible, Stopped> {
    let mut client = connect(settings, attempt).await?;
    let options = GetOptions::new().with_prefix().with_limit(MAX_ENTRIES);
    let read = client.get(settings.prefix.clone(), Some(options)).await?;
    if read.more() {
        warn!(
            limit = MAX_ENTRIES,
            "etcd holds more entries than a node reads; ignoring the rest"
        );
    }
    let revision = read.header().map(|h| h.revision()).unwrap_or(0);
    let sources = read
        .kvs()
        .iter()
        .filter_map(|kv| {
            let name = settings.name_of(kv.key())?;
            Some((name.to_owned(), Entry::decode(kv.value())?.location()))
        })
        .collect();
    let snapshot = RegistrySnapshot {
        epoch: 0,
        revision: u64::try_from(revision).unwrap_or(0),
        sources,
    };
    let changes = watch
        .apply(|view| Step::Applied(view.reset(snapshot)))
        .unwrap_or_default();
    ready.send_replace(true);
    backoff.reset();
    tell(tell_node, changes)?;
    let options = WatchOptions::new()
        .with_prefix()
        .with_start_revision(revision + 1);
    let mut stream = client.watch(settings.prefix.clone(), Some(options)).await?;
    while let Some(response) = stream.message().await? {
        if response.canceled() {
            // Compacted past the revision read: read it all again.
            return Err(Stopped::Lost(Error::new(Kind::Registry(format!(
                "etcd canceled the watch: {}",
                response.cancel_reason()
            )))));
        }
        let mut changes = Vec::new();
        for event in response.events() {
            let Some(kv) = event.kv() else { continue };
            let Some(name) = settings.name_of(kv.key()) else {
                continue;
            };
            let location = match event.event_type() {
                EventType::Put => Entry::decode(kv.value()).map(|entry| entry.location()),
                EventType::Delete => None,
            };
            changes.extend(
                watch
                    .apply(|view| Step::Applied(view.set(name, location)))
                    .unwrap_or_default(),
            );
        }
        tell(tell_node, changes)?;
    }
    Err(Stopped::Lost(Error::new(Kind::Registry(
        "the etcd watch ended".into(),
    ))))
}

/// Tells the node where `changes` moved sources; `Err` once the node is gone.
fn tell(
    tell_node: &impl Fn(Vec<(String, Option<String>)>) -> bool,
    changes: Vec<crate::NetworkChange>,
) -> Result<(), Stopped> {
    match changes.is_empty() || tell_node(host_moves(changes)) {
        true => Ok(()),
        false => Err(Stopped::NodeGone),
    }
}
