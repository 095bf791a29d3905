//! A node's view of what the network offers, kept from the registry's snapshot and the
//! changes after it. No I/O: it is fed what the registry replica delivers and says what
//! changed, or that it missed something and needs a fresh snapshot.

use std::collections::BTreeMap;

use super::api::{registry, RegistrySnapshot, SourceLocation};

/// A change of what the network offers, as a node's registry reports it
/// ([`Node::network_changes`](crate::Node::network_changes)). Applied in order to the list
/// before them, the changes give the list after them.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum NetworkChange {
    /// `name` is now served at `location`. A source that moved to another host is first
    /// [`Removed`](NetworkChange::Removed) from its old location.
    Added {
        /// The name the source is remoted under.
        name: String,
        /// Where it is now.
        location: SourceLocation,
    },
    /// `name` is no longer served at `location` (disabled there, or its host went away).
    Removed {
        /// The name the source was remoted under.
        name: String,
        /// Where it was.
        location: SourceLocation,
    },
    /// This stream fell behind (its consumer read slower than the registry changed) and lost
    /// this many changes; [`Node::network_sources`](crate::Node::network_sources) has the
    /// whole list now. Comes just before the next change.
    Lagged(u64),
}

/// What feeding the view one signal did.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Step {
    /// The view changed (or not, for a signal it already had) by these changes.
    Applied(Vec<NetworkChange>),
    /// A change before this one was missed: only a fresh snapshot puts the view right.
    Gap,
}

/// The entries, with the registry run and revision they are as of.
#[derive(Debug, Default)]
pub(crate) struct NetworkView {
    snapshot: RegistrySnapshot,
}

impl NetworkView {
    pub(crate) fn sources(&self) -> &BTreeMap<String, SourceLocation> {
        &self.snapshot.sources
    }

    /// Takes `snapshot` as the whole truth: the changes from the view before it (removals
    /// first, so a source that moved is removed from its old place before it is added).
    pub(crate) fn reset(&mut self, snapshot: RegistrySnapshot) -> Vec<NetworkChange> {
        let before = std::mem::replace(&mut self.snapshot, snapshot).sources;
        let after = &self.snapshot.sources;
        let added: Vec<NetworkChange> = after
            .iter()
            .filter(|(name, location)| before.get(*name) != Some(location))
            .map(|(name, location)| NetworkChange::Added {
                name: name.clone(),
                location: location.clone(),
            })
            .collect();
        before
            .into_iter()
            .filter(|(name, location)| after.get(name) != Some(location))
            .map(|(name, location)| NetworkChange::Removed { name, location })
            .chain(added)
            .collect()
    }

    /// `name` is served at `location` now (`None`: nowhere), as discovery without revisions
    /// (mDNS) says: what changed, the old place removed first.
    pub(crate) fn set(
        &mut self,
        name: &str,
        location: Option<SourceLocation>,
    ) -> Vec<NetworkChange> {
        let sources = &mut self.snapshot.sources;
        if sources.get(name) == location.as_ref() {
            return Vec::new();
        }
        let removed = match &location {
            Some(location) => sources.insert(name.to_owned(), location.clone()),
            None => sources.remove(name),
        };
        let removed = removed.map(|location| NetworkChange::Removed {
            name: name.to_owned(),
            location,
        });
        let added = location.map(|location| NetworkChange::Added {
            name: name.to_owned(),
            location,
        });
        removed.into_iter().chain(added).collect()
    }

    /// `name` was registered at `location`, making revision `revision`.
    pub(crate) fn added(&mut self, signal: registry::SourceAdded) -> Step {
        let registry::SourceAdded {
            revision,
            name,
            location,
        } = signal;
        self.advance(revision, |sources| {
            let old = sources.insert(name.clone(), location.clone());
            if old.as_ref() == Some(&location) {
                return Vec::new();
            }
            let removed = old.map(|location| NetworkChange::Removed {
                name: name.clone(),
                location,
            });
            removed
                .into_iter()
                .chain([NetworkChange::Added { name, location }])
                .collect()
        })
    }

    /// `name` was unregistered, making revision `revision`.
    pub(crate) fn removed(&mut self, signal: registry::SourceRemoved) -> Step {
        let registry::SourceRemoved { revision, name, .. } = signal;
        self.advance(revision, |sources| match sources.remove(&name) {
            Some(location) => vec![NetworkChange::Removed { name, location }],
            None => Vec::new(),
        })
    }

    /// Applies the change that made `revision` if it is the next one; one the view already
    /// has (a snapshot taken after it) changes nothing.
    fn advance(
        &mut self,
        revision: u64,
        apply: impl FnOnce(&mut BTreeMap<String, SourceLocation>) -> Vec<NetworkChange>,
    ) -> Step {
        let next = self.snapshot.revision.saturating_add(1);
        if revision < next {
            return Step::Applied(Vec::new());
        }
        if revision > next {
            return Step::Gap;
        }
        self.snapshot.revision = revision;
        Step::Applied(apply(&mut self.snapshot.sources))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(url: &str) -> SourceLocation {
        SourceLocation {
            api: "Printer".into(),
            signature: 1,
            host_url: url.into(),
        }
    }

    fn snapshot(revision: u64, entries: &[(&str, &str)]) -> RegistrySnapshot {
        RegistrySnapshot {
            epoch: 7,
            revision,
            sources: entries
                .iter()
                .map(|(name, url)| (name.to_string(), at(url)))
                .collect(),
        }
    }

    fn added(revision: u64, name: &str, url: &str) -> registry::SourceAdded {
        registry::SourceAdded {
            revision,
            name: name.into(),
            location: at(url),
        }
    }

    fn removed(revision: u64, name: &str, url: &str) -> registry::SourceRemoved {
        registry::SourceRemoved {
            revision,
            name: name.into(),
            location: at(url),
        }
    }

    fn add(name: &str, url: &str) -> NetworkChange {
        NetworkChange::Added {
            name: name.into(),
            location: at(url),
        }
    }

    fn remove(name: &str, url: &str) -> NetworkChange {
        NetworkChange::Removed {
            name: name.into(),
            location: at(url),
        }
    }

    #[test]
    fn a_location_set_without_revisions_reports_the_move_removal_first() {
        let mut view = NetworkView::default();
        assert_eq!(view.set("A", Some(at("tcp://a"))), [add("A", "tcp://a")]);
        assert_eq!(view.set("A", Some(at("tcp://a"))), []);
        assert_eq!(
            view.set("A", Some(at("tcp://b"))),
            [remove("A", "tcp://a"), add("A", "tcp://b")]
        );
        assert_eq!(view.set("A", None), [remove("A", "tcp://b")]);
        assert_eq!(view.set("A", None), []);
    }

    #[test]
    fn a_snapshot_reports_what_differs_from_the_view_removals_first() {
        let mut view = NetworkView::default();
        assert_eq!(
            view.reset(snapshot(2, &[("A", "tcp://a"), ("B", "tcp://b")])),
            [add("A", "tcp://a"), add("B", "tcp://b")]
        );
        // B moved, A stayed, C is new, and nothing else is reported.
        assert_eq!(
            view.reset(snapshot(
                5,
                &[("A", "tcp://a"), ("B", "tcp://c"), ("C", "tcp://c")]
            )),
            [
                remove("B", "tcp://b"),
                add("B", "tcp://c"),
                add("C", "tcp://c")
            ]
        );
        assert_eq!(view.reset(snapshot(0, &[])).len(), 3);
        assert!(view.sources().is_empty());
    }

    #[test]
    fn signals_apply_in_revision_order_and_old_ones_change_nothing() {
        let mut view = NetworkView::default();
        view.reset(snapshot(3, &[("A", "tcp://a")]));
        assert_eq!(view.added(added(3, "Z", "tcp://z")), Step::Applied(vec![]));
        assert_eq!(
            view.added(added(4, "B", "tcp://b")),
            Step::Applied(vec![add("B", "tcp://b")])
        );
        assert_eq!(
            view.added(added(5, "B", "tcp://c")),
            Step::Applied(vec![remove("B", "tcp://b"), add("B", "tcp://c")])
        );
        assert_eq!(
            view.removed(removed(6, "A", "tcp://a")),
            Step::Applied(vec![remove("A", "tcp://a")])
        );
        assert_eq!(view.sources().keys().collect::<Vec<_>>(), ["B"]);
    }

    #[test]
    fn a_missed_revision_is_a_gap_that_only_a_snapshot_closes() {
        let mut view = NetworkView::default();
        view.reset(snapshot(1, &[]));
        assert_eq!(view.added(added(3, "B", "tcp://b")), Step::Gap);
        assert!(view.sources().is_empty(), "a gap changes nothing");
        view.reset(snapshot(3, &[("A", "tcp://a"), ("B", "tcp://b")]));
        assert_eq!(view.added(added(3, "B", "tcp://b")), Step::Applied(vec![]));
        assert_eq!(
            view.removed(removed(4, "B", "tcp://b")),
            Step::Applied(vec![remove("B", "tcp://b")])
        );
    }
}
