//! How a node finds sources through the registry: the registry methods of [`Node`], built on
//! the locator hooks a node exposes.

use std::collections::BTreeMap;
use std::sync::Arc;

use futures::StreamExt;

use super::api::{registry, Registry, SourceLocation};
use super::REGISTRY_NAME;
use crate::error::{Error, Kind};
use crate::node::{Node, NodeConfig};
use crate::replica::Replica;

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
    pub fn set_registry_url(&self, url: &str) -> Result<(), Error> {
        if self.locator().is_some() {
            return Err(Error::new(Kind::Registry(
                "this node already has a registry".into(),
            )));
        }
        self.connect_in_background(url)?;
        let replica = self.acquire_named::<Registry>(REGISTRY_NAME);
        if !self.set_locator(Arc::new(replica.clone())) {
            return Err(Error::new(Kind::Registry(
                "this node already has a registry".into(),
            )));
        }
        let tell_node = self.locations_sink();
        let mut changes = replica.property_changes();
        crate::runtime::spawn(async move {
            while let Some(registry::PropertyChange::Sources(sources)) = changes.next().await {
                if !tell_node(host_urls(sources)) {
                    break;
                }
            }
        });
        Ok(())
    }

    /// Waits until the registry replica is initialized.
    pub async fn wait_for_registry(&self, timeout: std::time::Duration) -> Result<(), Error> {
        match self.registry() {
            Some(registry) => registry.wait_for_source(timeout).await,
            None => Err(Error::new(Kind::NoRegistry)),
        }
    }

    /// The registry replica: its `sources` property lists what the network offers, and its
    /// property changes tell when sources are added and removed.
    pub fn registry(&self) -> Option<&Replica<Registry>> {
        self.locator()?.downcast_ref()
    }

    /// What the network offers, by source name, as the registry last said (empty without a
    /// registry).
    pub fn network_sources(&self) -> BTreeMap<String, SourceLocation> {
        self.registry()
            .map(|r| r.properties().sources)
            .unwrap_or_default()
    }
}

fn host_urls(sources: BTreeMap<String, SourceLocation>) -> BTreeMap<String, String> {
    sources
        .into_iter()
        .map(|(name, location)| (name, location.host_url))
        .collect()
}
