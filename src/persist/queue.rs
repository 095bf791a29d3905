//! The node's background save thread: saves run in order, off the actix arbiter, and only
//! the latest values of a source are written when saves pile up.

use std::collections::HashMap;
use std::sync::mpsc;
use std::sync::Arc;

use tracing::warn;

use super::{PersistedStore, PersistedValues, StoreError};

enum Job {
    Save(String, PersistedValues),
    /// Answered once every save queued before it is done.
    Flush(tokio::sync::oneshot::Sender<()>),
}

/// A node's persisted store and its save thread.
pub(crate) struct PersistQueue {
    store: Arc<dyn PersistedStore>,
    jobs: mpsc::Sender<Job>,
}

impl PersistQueue {
    pub(crate) fn start(store: Arc<dyn PersistedStore>) -> Arc<PersistQueue> {
        let (jobs, rx) = mpsc::channel();
        let worker_store = Arc::clone(&store);
        let spawned = std::thread::Builder::new()
            .name("aro-persist".into())
            .spawn(move || run(worker_store.as_ref(), &rx));
        if let Err(error) = spawned {
            warn!(%error, "cannot start the persisted store's save thread; values will not be saved");
        }
        Arc::new(PersistQueue { store, jobs })
    }

    pub(crate) fn load(&self, source: &str) -> Result<Option<PersistedValues>, StoreError> {
        self.store.load(source)
    }

    pub(crate) fn save(&self, source: &str, values: PersistedValues) {
        let _ = self.jobs.send(Job::Save(source.to_owned(), values));
    }

    /// Waits until every save queued so far is done.
    pub(crate) async fn flush(&self) {
        let (tx, rx) = tokio::sync::oneshot::channel();
        if self.jobs.send(Job::Flush(tx)).is_ok() {
            let _ = rx.await;
        }
    }
}

/// Runs until every sender is gone, writing what was queued before that.
fn run(store: &dyn PersistedStore, jobs: &mpsc::Receiver<Job>) {
    while let Ok(first) = jobs.recv() {
        let mut latest: Vec<(String, PersistedValues)> = Vec::new();
        let mut position: HashMap<String, usize> = HashMap::new();
        let mut flushes = Vec::new();
        for job in std::iter::once(first).chain(jobs.try_iter()) {
            match job {
                Job::Save(source, values) => match position.get(&source) {
                    Some(&i) => latest[i].1 = values,
                    None => {
                        position.insert(source.clone(), latest.len());
                        latest.push((source, values));
                    }
                },
                Job::Flush(done) => flushes.push(done),
            }
        }
        for (source, values) in latest {
            if let Err(error) = store.save(&source, &values) {
                warn!(%source, %error, "cannot save persisted properties");
            }
        }
        for done in flushes {
            let _ = done.send(());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::persist::MemoryStore;

    fn values(n: u8) -> PersistedValues {
        PersistedValues {
            api: "A".into(),
            signature: 1,
            encoding: "bincode2".into(),
            values: vec![(0, vec![n])],
        }
    }

    #[tokio::test]
    async fn saves_in_order_and_flush_waits_for_them() {
        let store = MemoryStore::new();
        let queue = PersistQueue::start(Arc::new(store.clone()));
        for n in 0..100 {
            queue.save("a", values(n));
        }
        queue.save("b", values(7));
        queue.flush().await;
        assert_eq!(store.get("a"), Some(values(99)), "the latest value wins");
        assert_eq!(store.get("b"), Some(values(7)));
    }
}
