//! A node's side: browse for the fleet's instances, keep the node's view of the network
//! from them, and tell the node where sources are served.

use std::net::IpAddr;
use std::sync::Arc;

use futures::{Stream, StreamExt};
use mdns_sd::{ServiceDaemon, ServiceEvent, VERIFY_TIMEOUT_DEFAULT};
use tracing::{debug, info, warn};

use super::announce::{daemon_error, start_daemon, when_queued};
use super::{resolve, Discovered, MdnsSettings};
use crate::error::Error;
use crate::node::BackgroundError;
use crate::registry::finder::{host_moves, Watch};
use crate::registry::view::Step;

/// Browses the LAN for a node until dropped.
pub(crate) struct Browser {
    daemon: ServiceDaemon,
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.daemon.shutdown();
    }
}

impl Browser {
    /// Starts browsing as `url` says; what it finds goes into `watch` and, as moves, to
    /// `tell_node` (until that returns false: the node is gone). A registry-found host the
    /// node fails to reach (`failures`) is asked after at once, so a host that crashed
    /// leaves the view within seconds rather than at its records' expiry.
    pub(crate) fn start(
        url: &str,
        watch: Arc<Watch>,
        tell_node: impl Fn(Vec<(String, Option<String>)>) -> bool + Send + 'static,
        failures: impl Stream<Item = BackgroundError> + Unpin + Send + 'static,
    ) -> Result<Browser, Error> {
        let settings = MdnsSettings::parse(url)?;
        let daemon = start_daemon(&settings)?;
        let events = daemon
            .browse(&settings.service_type)
            .map_err(daemon_error)?;
        info!(service = %settings.service_type, "discovering sources with mDNS");
        let follower = Follower {
            daemon: daemon.clone(),
            service_type: settings.service_type,
            discovered: Discovered::default(),
            watch,
        };
        crate::runtime::spawn(follower.run(events, failures, tell_node));
        Ok(Browser { daemon })
    }
}

/// The browsing task's state.
struct Follower {
    daemon: ServiceDaemon,
    service_type: String,
    discovered: Discovered,
    watch: Arc<Watch>,
}

impl Follower {
    async fn run(
        mut self,
        events: mdns_sd::Receiver<ServiceEvent>,
        mut failures: impl Stream<Item = BackgroundError> + Unpin,
        tell_node: impl Fn(Vec<(String, Option<String>)>) -> bool,
    ) {
        let mut events = events.into_stream();
        loop {
            let moved = tokio::select! {
                event = events.next() => match event {
                    Some(event) => self.on_event(event),
                    None => match self.browse_again().await {
                        Some(again) => {
                            events = again.into_stream();
                            continue;
                        }
                        None => break, // the daemon stopped: the node is gone
                    },
                },
                Some(failure) = failures.next() => {
                    self.on_failure(failure);
                    continue;
                }
            };
            if !moved.is_empty() && !tell_node(host_moves(moved)) {
                break;
            }
        }
    }

    /// The daemon ended the subscription: it does so when its queue of events for it is
    /// full (a burst of a thousand announcements read too slowly). Subscribing again replays
    /// what its cache holds; what left meanwhile goes when its records expire. `None` once
    /// the daemon has stopped.
    async fn browse_again(&self) -> Option<mdns_sd::Receiver<ServiceEvent>> {
        match when_queued(|| self.daemon.browse(&self.service_type)).await {
            Ok(events) => {
                warn!(service = %self.service_type, "mDNS events came faster than read; browsing again");
                Some(events)
            }
            Err(_) => None,
        }
    }

    /// What one browse event changed in the view.
    fn on_event(&mut self, event: ServiceEvent) -> Vec<crate::NetworkChange> {
        let changed = match event {
            ServiceEvent::ServiceResolved(service) => {
                let addresses: Vec<IpAddr> =
                    service.addresses.iter().map(|a| a.to_ip_addr()).collect();
                let properties = &service.txt_properties;
                let found = resolve(
                    |key| properties.get_property_val_str(key),
                    &addresses,
                    service.port,
                );
                let Some(found) = found else {
                    debug!(instance = %service.fullname, "an instance that describes no source");
                    return Vec::new();
                };
                match self.discovered.resolved(&service.fullname, found) {
                    Some(changed) => changed,
                    None => {
                        warn!(instance = %service.fullname, limit = super::MAX_INSTANCES,
                            "too many mDNS instances on the LAN; ignoring this one");
                        return Vec::new();
                    }
                }
            }
            ServiceEvent::ServiceRemoved(_, fullname) => {
                self.discovered.removed(&fullname).into_iter().collect()
            }
            _ => return Vec::new(),
        };
        changed
            .into_iter()
            .flat_map(|(name, location)| {
                self.watch
                    .apply(|view| Step::Applied(view.set(&name, location)))
                    .unwrap_or_default()
            })
            .collect()
    }

    /// A host found on the LAN could not be reached: ask whether its instances are still
    /// there (RFC 6762 §10.4); unanswered, mdns-sd removes them.
    fn on_failure(&self, failure: BackgroundError) {
        let BackgroundError::ConnectFailed {
            url,
            via_registry: true,
            ..
        } = failure
        else {
            return;
        };
        for fullname in self.discovered.instances_at(&url) {
            debug!(instance = %fullname, "its host is unreachable; verifying it");
            let daemon = self.daemon.clone();
            crate::runtime::spawn(async move {
                let verify = || daemon.verify(fullname.clone(), VERIFY_TIMEOUT_DEFAULT);
                if let Err(error) = when_queued(verify).await {
                    warn!(%error, "cannot verify an mDNS instance");
                }
            });
        }
    }
}
