//! How a node finds sources through the registry: the registry methods of [`Node`], built on
//! the locator hooks a node exposes.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};

use futures::{Stream, StreamExt};
use tracing::{debug, warn};

use super::api::{registry, Registry, SourceLocation};
use super::etcd::EtcdSettings;
use super::mdns::{Browser, MdnsSettings};
use super::view::{NetworkChange, NetworkView, Step};
use super::REGISTRY_NAME;
use crate::error::{Error, Kind};
use crate::node::{Node, NodeConfig};
use crate::replica::delivery::{Delivered, QueueReceiver, Subscribers};
use crate::replica::{Event, Replica};

impl Node {
    /// A node that finds sources through the registry at `url`: acquiring a source connects
    /// to whichever host the registry says serves it. The registry may not be up yet.
    pub fn with_registry(url: &str) -> Result<Node, Error> {
        let node = Node::new(NodeConfig::default());
        node.set_registry_url(url)?;
        Ok(node)
    }

    /// Uses the registry at `url` (kept connected in the background) to find the hosts of
    /// the sources this node acquires. A node has one registry.
    ///
    /// With `mdns:` (`mdns:NAME?port=N&interface=IF`, as the hosts were given) the node
    /// has no registry: it browses the LAN with mDNS/DNS-SD for hosts announcing sources,
    /// and [`Node::network_sources`] and [`Node::network_changes`] tell what it finds.
    pub fn set_registry_url(&self, url: &str) -> Result<(), Error> {
        if self.locator().is_some() {
            return Err(already_has_one());
        }
        if MdnsSettings::is_mdns(url) {
            return self.discover_on_lan(url);
        }
        if EtcdSettings::is_etcd(url) {
            return self.follow_etcd(url);
        }
        self.connect_in_background(url)?;
        let replica = self.acquire_named::<Registry>(REGISTRY_NAME);
        let finder = Arc::new(Finder {
            replica: Some(replica.clone()),
            watch: Arc::new(Watch::new(self.event_buffer())),
            backend: None,
            ready: None,
        });
        let watch = Arc::clone(&finder.watch);
        if !self.set_locator(finder) {
            return Err(already_has_one());
        }
        // Subscribed before the task first runs, so not even the first init can slip by.
        let events = replica.events();
        crate::runtime::spawn(follow(replica, events, watch, self.locations_sink()));
        Ok(())
    }

    /// Finds sources with mDNS instead of a registry.
    fn discover_on_lan(&self, url: &str) -> Result<(), Error> {
        let watch = Arc::new(Watch::new(self.event_buffer()));
        let browser = Browser::start(
            url,
            Arc::clone(&watch),
            self.locations_sink(),
            self.background_errors(),
        )?;
        self.use_finder(Finder {
            replica: None,
            watch,
            backend: Some(Box::new(browser)),
            ready: None,
        })
    }

    /// Finds sources in etcd instead of a registry.
    fn follow_etcd(&self, url: &str) -> Result<(), Error> {
        #[cfg(feature = "etcd")]
        {
            let watch = Arc::new(Watch::new(self.event_buffer()));
            let reporter = self.reporter();
            let (follower, ready) = super::etcd::follow(
                url,
                Arc::clone(&watch),
                self.locations_sink(),
                move |error| reporter.report(error),
            )?;
            self.use_finder(Finder {
                replica: None,
                watch,
                backend: Some(Box::new(follower)),
                ready: Some(ready),
            })
        }
        #[cfg(not(feature = "etcd"))]
        Err(super::etcd::unsupported(url))
    }

    fn use_finder(&self, finder: Finder) -> Result<(), Error> {
        match self.set_locator(Arc::new(finder)) {
            true => Ok(()),
            false => Err(already_has_one()),
        }
    }

    /// Waits until the registry replica is initialized, or etcd's entries were first read
    /// (at once for mDNS discovery, which has no registry to wait for).
    pub async fn wait_for_registry(&self, timeout: std::time::Duration) -> Result<(), Error> {
        let Some(finder) = self.finder() else {
            return Err(Error::new(Kind::NoRegistry));
        };
        if let Some(registry) = &finder.replica {
            return registry.wait_for_source(timeout).await;
        }
        let Some(mut ready) = finder.ready.clone() else {
            return Ok(());
        };
        let read = async move { ready.wait_for(|read| *read).await.map(drop) };
        match crate::runtime::timeout(timeout, read).await {
            Some(Ok(_)) => Ok(()),
            Some(Err(_)) => Err(Error::new(Kind::Shutdown)),
            None => Err(Error::new(Kind::Registry(format!(
                "the registry's store did not answer within {timeout:?}"
            )))),
        }
    }

    /// The registry replica (for its state; its `snapshot` property is what the registry
    /// held when the replica last initialized, not now). `None` without a registry, and
    /// for mDNS discovery.
    pub fn registry(&self) -> Option<&Replica<Registry>> {
        self.finder()?.replica.as_ref()
    }

    /// What the network offers now, by source name, as the registry said (empty without a
    /// registry).
    pub fn network_sources(&self) -> BTreeMap<String, SourceLocation> {
        self.finder()
            .map(|f| f.watch.view().sources().clone())
            .unwrap_or_default()
    }

    /// Every change of what the network offers from now on, in order: applied to
    /// [`Node::network_sources`] as it was when the stream was made, they give the list as
    /// it is. The registry sends only what changed (one source registered costs the same
    /// however many are). Without a registry the stream ends at once.
    ///
    /// The stream holds up to [`NodeConfig::event_buffer`](crate::NodeConfig::event_buffer)
    /// changes for a consumer that reads slower than the network changes; past that the
    /// oldest are dropped and reported as one [`NetworkChange::Lagged`].
    pub fn network_changes(&self) -> impl Stream<Item = NetworkChange> + Unpin + Send + 'static {
        let receiver = self.finder().map(|f| f.watch.subscribe());
        futures::stream::iter(receiver)
            .flatten()
            .map(|delivered| match delivered {
                Delivered::Item(change) => change,
                Delivered::Lagged(lost) => NetworkChange::Lagged(lost),
            })
    }

    fn finder(&self) -> Option<&Finder> {
        self.locator()?.downcast_ref()
    }
}

fn already_has_one() -> Error {
    Error::new(Kind::Registry("this node already has a registry".into()))
}

/// A node's locator: the registry replica (or the mDNS browser, or the etcd follower), and
/// the view kept from it.
struct Finder {
    replica: Option<Replica<Registry>>,
    watch: Arc<Watch>,
    /// What keeps the view without a registry replica, for as long as the node: dropped, it
    /// stops.
    #[allow(dead_code)]
    backend: Option<Box<dyn std::any::Any + Send + Sync>>,
    /// Turns true once a store's entries were first read.
    ready: Option<tokio::sync::watch::Receiver<bool>>,
}

/// The view, and the streams told of its changes.
pub(super) struct Watch {
    view: Mutex<NetworkView>,
    streams: Subscribers<NetworkChange>,
}

impl Watch {
    fn new(capacity: usize) -> Watch {
        Watch {
            view: Mutex::new(NetworkView::default()),
            streams: Subscribers::new(capacity),
        }
    }

    fn view(&self) -> MutexGuard<'_, NetworkView> {
        self.view.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn subscribe(&self) -> QueueReceiver<NetworkChange> {
        self.streams.subscribe()
    }

    /// Feeds the view one step; what changed goes to the streams (while the view is still
    /// locked, so a stream made meanwhile starts from a list its changes follow).
    pub(super) fn apply(
        &self,
        step: impl FnOnce(&mut NetworkView) -> Step,
    ) -> Option<Vec<NetworkChange>> {
        let mut view = self.view();
        let Step::Applied(changes) = step(&mut view) else {
            return None;
        };
        self.streams.send_all(&changes);
        Some(changes)
    }
}

/// Keeps `watch` up to date from the registry replica's events and tells the node where
/// sources moved, until the node is gone.
async fn follow(
    replica: Replica<Registry>,
    mut events: impl Stream<Item = Event<Registry>> + Unpin,
    watch: Arc<Watch>,
    tell_node: impl Fn(Vec<(String, Option<String>)>) -> bool,
) {
    while let Some(event) = events.next().await {
        let applied = match event {
            Event::PropertyChanged(registry::PropertyChange::Snapshot(snapshot)) => {
                watch.apply(|view| Step::Applied(view.reset(snapshot)))
            }
            Event::Signal(registry::Signal::SourceAdded(added)) => {
                watch.apply(|view| view.added(added))
            }
            Event::Signal(registry::Signal::SourceRemoved(removed)) => {
                watch.apply(|view| view.removed(removed))
            }
            Event::Lagged(_) => None,
            _ => continue,
        };
        let changes = match applied {
            Some(changes) => changes,
            None => match resync(&replica, &watch).await {
                Some(changes) => changes,
                None => continue,
            },
        };
        if !changes.is_empty() && !tell_node(host_moves(changes)) {
            break;
        }
    }
}

/// The view missed a change: it takes a fresh snapshot (later signals it already has are
/// skipped by revision). If the registry cannot be asked now, its next init brings one.
async fn resync(replica: &Replica<Registry>, watch: &Watch) -> Option<Vec<NetworkChange>> {
    debug!("the view of the registry missed a change; fetching a snapshot");
    match replica.call(registry::FetchSnapshot {}).await {
        Ok(snapshot) => watch.apply(|view| Step::Applied(view.reset(snapshot))),
        Err(error) => {
            warn!(%error, "cannot fetch the registry's entries; waiting for its next init");
            None
        }
    }
}

/// Where each changed source is served now (`None`: nowhere).
pub(super) fn host_moves(changes: Vec<NetworkChange>) -> Vec<(String, Option<String>)> {
    changes
        .into_iter()
        .filter_map(|change| match change {
            NetworkChange::Added { name, location } => Some((name, Some(location.host_url))),
            NetworkChange::Removed { name, .. } => Some((name, None)),
            NetworkChange::Lagged(_) => None,
        })
        .collect()
}
