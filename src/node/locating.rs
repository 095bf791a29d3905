//! Where sources are served, as the node's locator (the registry) last said, and which
//! hosts to connect to because of it.

use std::collections::BTreeMap;

use tracing::warn;

use crate::transport::{Connectors, Endpoint};

/// Source name → host URL.
#[derive(Default)]
pub(crate) struct Locations {
    by_name: BTreeMap<String, String>,
    /// The node's schemes of the user's, which listed URLs may use.
    connectors: Connectors,
}

impl Locations {
    pub(crate) fn new(connectors: Connectors) -> Locations {
        Locations {
            by_name: BTreeMap::new(),
            connectors,
        }
    }

    /// Where `name` is served now (`None`: nowhere).
    pub(crate) fn set(&mut self, name: &str, url: Option<String>) {
        match url {
            Some(url) => {
                self.by_name.insert(name.to_owned(), url);
            }
            None => {
                self.by_name.remove(name);
            }
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.by_name.is_empty()
    }

    /// Whether some source is listed at `endpoint`.
    pub(crate) fn lists(&self, endpoint: &Endpoint) -> bool {
        self.by_name
            .values()
            .any(|url| self.connectors.parse(url).is_ok_and(|e| e == *endpoint))
    }

    /// The hosts that serve `names`, as far as the list says (unusable URLs are logged).
    pub(crate) fn hosts_of<'a>(&self, names: impl Iterator<Item = &'a str>) -> Vec<Endpoint> {
        names
            .filter_map(|name| self.by_name.get(name))
            .filter_map(|url| match self.connectors.parse(url) {
                Ok(endpoint) => Some(endpoint),
                Err(error) => {
                    warn!(%url, %error, "the registry lists a host URL this node cannot use");
                    None
                }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_map_to_their_hosts_and_bad_urls_are_skipped() {
        let mut locations = Locations::default();
        locations.set("A", Some("tcp://127.0.0.1:1".to_owned()));
        locations.set("B", Some("nonsense".to_owned()));
        locations.set("C", Some("tcp://127.0.0.1:3".to_owned()));
        locations.set("C", None);
        let a = Endpoint::parse("tcp://127.0.0.1:1").unwrap();
        assert_eq!(
            locations.hosts_of(["A", "B", "C"].into_iter()),
            std::slice::from_ref(&a)
        );
        assert!(locations.lists(&a));
        assert!(!locations.lists(&Endpoint::parse("tcp://127.0.0.1:2").unwrap()));
    }
}
