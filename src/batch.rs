//! Batching a stream's ready items, so an actor handles a socket's worth of packets per
//! wake-up instead of paying actix's per-item overhead for each.

use std::pin::Pin;
use std::task::{Context, Poll};

use futures::{Stream, StreamExt};

/// The most items handed over at once.
const MAX_BATCH: usize = 256;

/// Yields, as one `Vec`, every item its inner stream has ready (at least one, at most
/// [`MAX_BATCH`]).
pub(crate) struct Batched<S> {
    inner: S,
    ended: bool,
}

impl<S> Batched<S> {
    pub(crate) fn new(inner: S) -> Self {
        Batched {
            inner,
            ended: false,
        }
    }
}

impl<S: Stream + Unpin> Stream for Batched<S> {
    type Item = Vec<S::Item>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if self.ended {
            return Poll::Ready(None);
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
