//! [`StateCell`]: a replica's state, readable at once and awaitable. A `tokio::sync::watch`
//! would do, but each one embeds eight `Notify`s; a node may hold thousands of replicas.

use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Arc;

use futures::Stream;
use tokio::sync::Notify;

use super::ReplicaState;

const STATES: [ReplicaState; 6] = [
    ReplicaState::Uninitialized,
    ReplicaState::Default,
    ReplicaState::Valid,
    ReplicaState::Suspect,
    ReplicaState::SignatureMismatch,
    ReplicaState::Refused,
];

fn code(state: ReplicaState) -> u8 {
    STATES.iter().position(|s| *s == state).unwrap_or(0) as u8
}

pub(crate) struct StateCell {
    state: AtomicU8,
    changed: Notify,
}

impl StateCell {
    pub(crate) fn new(initial: ReplicaState) -> Arc<StateCell> {
        Arc::new(StateCell {
            state: AtomicU8::new(code(initial)),
            changed: Notify::new(),
        })
    }

    pub(crate) fn get(&self) -> ReplicaState {
        STATES[usize::from(self.state.load(Ordering::Acquire)).min(STATES.len() - 1)]
    }

    pub(crate) fn set(&self, state: ReplicaState) {
        self.state.store(code(state), Ordering::Release);
        self.changed.notify_waiters();
    }

    /// Waits until `pred` holds for the state, and returns that state.
    pub(crate) async fn wait_for(&self, pred: impl Fn(ReplicaState) -> bool) -> ReplicaState {
        loop {
            // Register for the next change before reading, so a change in between is seen.
            let notified = self.changed.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            let state = self.get();
            if pred(state) {
                return state;
            }
            notified.await;
        }
    }

    /// The state now, then every new state (fast changes may be coalesced).
    pub(crate) fn stream(
        self: &Arc<Self>,
    ) -> impl Stream<Item = ReplicaState> + Unpin + Send + 'static {
        let cell = Arc::clone(self);
        Box::pin(futures::stream::unfold(
            (cell, None),
            |(cell, last)| async move {
                let state = match last {
                    None => cell.get(),
                    Some(last) => cell.wait_for(|s| s != last).await,
                };
                Some((state, (cell, Some(state))))
            },
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::StreamExt;

    #[tokio::test]
    async fn waiters_and_streams_see_changes() {
        let cell = StateCell::new(ReplicaState::Default);
        let mut states = cell.stream();
        assert_eq!(states.next().await, Some(ReplicaState::Default));
        let waiter = {
            let cell = Arc::clone(&cell);
            tokio::spawn(async move { cell.wait_for(|s| s == ReplicaState::Valid).await })
        };
        tokio::task::yield_now().await;
        cell.set(ReplicaState::Valid);
        assert_eq!(waiter.await.unwrap(), ReplicaState::Valid);
        assert_eq!(states.next().await, Some(ReplicaState::Valid));
        cell.set(ReplicaState::Suspect);
        assert_eq!(states.next().await, Some(ReplicaState::Suspect));
        for s in STATES {
            cell.set(s);
            assert_eq!(cell.get(), s);
        }
    }
}
