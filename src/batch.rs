//! Batching a stream's ready items, so an actor handles a socket's worth of packets per
//! wake-up instead of paying actix's per-item overhead for each.

use std::pin::Pin;
use std::task::{Context, Poll};

use futures::{Stream, StreamExt};

/// The most items handed over at once.
const MAX_BATCH: usize = 256;

/// Yields, as one `Vec`, every item its inner stream has ready (at least one, at most
/// [`MAX_BATCH`]).
///
/// After a full batch it lets the other tasks on its thread run before the next one (it
/// returns `Pending` once, waking itself at once): items already buffered can come without
/// the socket ever saying "not ready", and a connection that never pauses would otherwise
/// starve the user code that consumes its events (which then falls behind and lags).
pub(crate) struct Batched<S> {
    inner: S,
    ended: bool,
    yield_next: bool,
}

impl<S> Batched<S> {
    pub(crate) fn new(inner: S) -> Self {
        Batched {
            inner,
            ended: false,
            yield_next: false,
        }
    }
}

impl<S: Stream + Unpin> Stream for Batched<S> {
    type Item = Vec<S::Item>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if self.ended {
            return Poll::Ready(None);
        }
        if std::mem::take(&mut self.yield_next) {
            cx.waker().wake_by_ref();
            return Poll::Pending;
        }
        let mut batch = Vec::new();
        while batch.len() < MAX_BATCH {
            match self.inner.poll_next_unpin(cx) {
                Poll::Ready(Some(item)) => batch.push(item),
                Poll::Ready(None) => {
                    self.ended = true;
                    break;
                }
                Poll::Pending => break,
            }
        }
        self.yield_next = batch.len() == MAX_BATCH;
        match (batch.is_empty(), self.ended) {
            (false, _) => Poll::Ready(Some(batch)),
            (true, true) => Poll::Ready(None),
            (true, false) => Poll::Pending,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn batches_ready_items_and_ends() {
        let items = futures::stream::iter(0..600);
        let batches: Vec<Vec<i32>> = Batched::new(items).collect().await;
        assert_eq!(
            batches.iter().map(Vec::len).collect::<Vec<_>>(),
            vec![256, 256, 88]
        );
        assert_eq!(batches.concat(), (0..600).collect::<Vec<_>>());
    }
}
