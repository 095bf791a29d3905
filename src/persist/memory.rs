//! [`MemoryStore`]: a persisted store in memory, for tests.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use super::{PersistedStore, PersistedValues, StoreError};

/// A persisted store that keeps values in memory. Clones share the values, so a test can
/// give one to a node, drop the node, and give it to the next one.
#[derive(Debug, Clone, Default)]
pub struct MemoryStore {
    values: Arc<Mutex<HashMap<String, PersistedValues>>>,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> MemoryStore {
        MemoryStore::default()
    }

    /// What is saved for `source`.
    pub fn get(&self, source: &str) -> Option<PersistedValues> {
        self.values
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(source)
            .cloned()
    }

    /// Replaces what is saved for `source` (for tests that start from given values).
    pub fn put(&self, source: &str, values: PersistedValues) {
        self.values
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(source.to_owned(), values);
    }
}

impl PersistedStore for MemoryStore {
    fn load(&self, source: &str) -> Result<Option<PersistedValues>, StoreError> {
        Ok(self.get(source))
    }

    fn save(&self, source: &str, values: &PersistedValues) -> Result<(), StoreError> {
        self.put(source, values.clone());
        Ok(())
    }
}
