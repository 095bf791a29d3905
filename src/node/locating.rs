//! Where sources are served, as the node's locator (the registry) last said, and which
//! hosts to connect to because of it.

use std::collections::{BTreeMap, HashMap};

use tracing::warn;

use crate::transport::{Connectors, Endpoint};

/// Source name → host URL.
#[derive(Default)]
pub(crate) struct Locations {
    by_name: BTreeMap<String, String>,
    /// How many names each URL serves: a reconnect decision looks at each host once, not at
    /// each of its (maybe thousands of) sources.
    names_per_url: HashMap<String, usize>,
    /// The node's schemes of the user's, which listed URLs may use.
    connectors: Connectors,
}

impl Locations {
    pub(crate) fn new(connectors: Connectors) -> Locations {
        Locations {
            by_name: BTreeMap::new(),
            names_per_url: HashMap::new(),
            connectors,
        }
    }

    /// Where `name` is served now (`None`: nowhere).
    pub(crate) fn set(&mut self, name: &str, url: Option<String>) {
        let old = match url {
            Some(url) => {
                *self.names_per_url.entry(url.clone()).or_default() += 1;
                self.by_name.insert(name.to_owned(), url)
            }
            None => self.by_name.remove(name),
        };
        if let Some(old) = old {
            if let Some(count) = self.names_per_url.get_mut(&old) {
                *count -= 1;
                if *count == 0 {
                    self.names_per_url.remove(&old);
                }
            }
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.by_name.is_empty()
    }

    /// Whether some source is listed at `endpoint`.
    pub(crate) fn lists(&self, endpoint: &Endpoint) -> bool {
        self.names_per_url
            .keys()
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
        // A host stays listed while any of its names is, and not after.
        locations.set("A2", Some("tcp://127.0.0.1:1".to_owned()));
        locations.set("A", Some("tcp://127.0.0.1:9".to_owned()));
        assert!(locations.lists(&a));
        locations.set("A2", None);
        assert!(!locations.lists(&a));
        assert!(!locations.lists(&Endpoint::parse("tcp://127.0.0.1:2").unwrap()));
    }
}
