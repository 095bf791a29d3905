//! A host's side: announce each source it enables, say goodbye when it is disabled or the
//! host shuts down.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use futures::future::BoxFuture;
use futures::FutureExt;
use mdns_sd::{IfKind, ServiceDaemon, ServiceInfo};
use tracing::{debug, info, warn};

use super::{announcement, host_label, MdnsSettings};
use crate::error::{Error, Kind};
use crate::host::{Host, Registration};
use crate::registry::SourceLocation;
use crate::wire::ObjectInfo;

/// How long shutting down waits for each goodbye to be sent.
const GOODBYE_TIMEOUT: Duration = Duration::from_secs(1);

/// Announces a host's sources on the LAN.
pub(crate) struct Announcer {
    daemon: ServiceDaemon,
    settings: MdnsSettings,
    /// The full instance name of each announced source.
    announced: Mutex<HashMap<String, String>>,
}

pub(crate) fn daemon_error(error: mdns_sd::Error) -> Error {
    Error::new(Kind::Registry(format!("mDNS: {error}")))
}

/// How long a command waits for room in the daemon's queue (which is bounded: a host that
/// enables a thousand sources at once fills it faster than the daemon's thread drains it).
const QUEUE_PATIENCE: Duration = Duration::from_secs(5);

/// Runs `command` on the daemon, trying again while its queue is full.
pub(crate) async fn when_queued<T>(
    mut command: impl FnMut() -> mdns_sd::Result<T>,
) -> Result<T, Error> {
    let deadline = tokio::time::Instant::now() + QUEUE_PATIENCE;
    let mut pause = Duration::from_micros(100);
    loop {
        match command() {
            Err(mdns_sd::Error::Again) if tokio::time::Instant::now() < deadline => {
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(Duration::from_millis(20));
            }
            result => return result.map_err(daemon_error),
        }
    }
}

/// Starts an mDNS responder as `settings` say: on the interfaces it names, or every one.
pub(crate) fn start_daemon(settings: &MdnsSettings) -> Result<ServiceDaemon, Error> {
    let daemon = ServiceDaemon::new_with_port(settings.port).map_err(daemon_error)?;
    if !settings.interfaces.is_empty() {
        daemon
            .disable_interface(IfKind::All)
            .map_err(daemon_error)?;
        for name in &settings.interfaces {
            let kind = match name.as_str() {
                "lo" => IfKind::LoopbackV4,
                other => IfKind::Name(other.to_owned()),
            };
            daemon.enable_interface(kind).map_err(daemon_error)?;
        }
    }
    Ok(daemon)
}

impl Announcer {
    /// Attaches a host to mDNS as its registration (`HostConfig::registry_url("mdns:…")`).
    pub(crate) fn attach(url: &str, _host: &Host) -> Result<Arc<dyn Registration>, Error> {
        let settings = MdnsSettings::parse(url)?;
        let daemon = start_daemon(&settings)?;
        info!(service = %settings.service_type, "announcing this host's sources with mDNS");
        Ok(Arc::new(Announcer {
            daemon,
            settings,
            announced: Mutex::new(HashMap::new()),
        }))
    }

    fn announced(&self) -> MutexGuard<'_, HashMap<String, String>> {
        // Each critical section is one map operation.
        self.announced.lock().unwrap_or_else(|p| p.into_inner())
    }

    async fn announce(&self, info: &ObjectInfo, host_url: &str) -> Result<(), Error> {
        let location = SourceLocation {
            api: info.api.clone(),
            signature: info.signature,
            host_url: host_url.to_owned(),
        };
        let records = announcement(&info.name, &location)?;
        let host_name = format!("{}.local.", host_label(host_url));
        let addresses: Vec<std::net::IpAddr> = records.address.into_iter().collect();
        let mut service = ServiceInfo::new(
            &self.settings.service_type,
            &records.instance,
            &host_name,
            &addresses[..],
            records.port,
            &records.properties[..],
        )
        .map_err(daemon_error)?;
        if records.address.is_none() {
            service = service.enable_addr_auto();
        }
        if records.address.is_some_and(|ip| ip.is_loopback()) {
            // A loopback address means nothing elsewhere: announce it only where it works.
            service.set_interfaces(vec![IfKind::LoopbackV4, IfKind::LoopbackV6]);
        }
        // The instance name is unique to this host and source by construction (a hash of
        // both), so there is no one to probe for.
        service.set_requires_probe(false);
        let fullname = service.get_fullname().to_owned();
        when_queued(|| self.daemon.register(service.clone())).await?;
        debug!(name = %info.name, instance = %fullname, "announced with mDNS");
        if let Some(replaced) = self.announced().insert(info.name.clone(), fullname.clone()) {
            if replaced != fullname {
                self.goodbye(&replaced);
            }
        }
        Ok(())
    }

    /// Withdraws one instance: mdns-sd sends its goodbye (records with a TTL of zero). The
    /// answer says when it was sent.
    fn goodbye(&self, fullname: &str) -> Option<mdns_sd::Receiver<mdns_sd::UnregisterStatus>> {
        match self.daemon.unregister(fullname) {
            Ok(status) => Some(status),
            Err(mdns_sd::Error::Again) => {
                // The queue is full: withdraw it as soon as there is room.
                let daemon = self.daemon.clone();
                let fullname = fullname.to_owned();
                crate::runtime::spawn(async move {
                    if let Err(error) = when_queued(|| daemon.unregister(&fullname)).await {
                        warn!(instance = %fullname, %error, "cannot withdraw an mDNS announcement");
                    }
                });
                None
            }
            Err(error) => {
                warn!(instance = %fullname, %error, "cannot withdraw an mDNS announcement");
                None
            }
        }
    }
}

impl Registration for Announcer {
    fn register<'a>(
        &'a self,
        info: &'a ObjectInfo,
        host_url: &'a str,
    ) -> BoxFuture<'a, Result<(), Error>> {
        self.announce(info, host_url).boxed()
    }

    fn unregister(&self, name: &str) {
        let fullname = self.announced().remove(name);
        if let Some(fullname) = fullname {
            self.goodbye(&fullname);
        }
    }

    fn wait(&self, _: Duration) -> BoxFuture<'_, Result<(), Error>> {
        // Announcing needs no one to answer.
        futures::future::ready(Ok(())).boxed()
    }

    fn shutdown(&self) -> BoxFuture<'_, ()> {
        async move {
            let fullnames: Vec<String> = self.announced().drain().map(|(_, f)| f).collect();
            // The daemon answers an unregister once its goodbye is sent: waiting for the
            // answer is waiting for the goodbye.
            for fullname in fullnames {
                if let Some(status) = self.goodbye(&fullname) {
                    let _ = tokio::time::timeout(GOODBYE_TIMEOUT, status.recv_async()).await;
                }
            }
            // Not awaited: its thread answers only at its next wake-up, up to a second on.
            let _ = self.daemon.shutdown();
        }
        .boxed()
    }
}

impl Drop for Announcer {
    /// A host dropped without shutting down still says goodbye (the daemon sends what it was
    /// told in order, then stops).
    fn drop(&mut self) {
        let fullnames: Vec<String> = self.announced().drain().map(|(_, f)| f).collect();
        for fullname in fullnames {
            self.goodbye(&fullname);
        }
        let _ = self.daemon.shutdown();
    }
}
