//! Bounding the slot calls one connection has running: past the bound the host stops
//! reading from that connection, so a node that floods calls (and never reads the replies)
//! is held back by its own socket instead of growing the host's memory.

use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};

use futures::task::AtomicWaker;
use futures::Stream;

use crate::wire::{FrameError, Packet};

/// Counts a connection's running calls against a bound.
#[derive(Clone)]
pub(crate) struct CallGate {
    shared: Arc<Shared>,
}

struct Shared {
    running: AtomicUsize,
    max: usize,
    /// The reader, parked while the bound is reached.
    reader: AtomicWaker,
}

/// One running call; finishing (or dropping) it lets the reader go on.
pub(crate) struct CallSlot {
    shared: Arc<Shared>,
}

impl CallGate {
    pub(crate) fn new(max: usize) -> CallGate {
        CallGate {
            shared: Arc::new(Shared {
                running: AtomicUsize::new(0),
                max,
                reader: AtomicWaker::new(),
            }),
        }
    }

    /// Takes over the count of one call the gated stream let through: it runs until the
    /// slot is dropped. Every `Invoke` the stream yields must be taken over exactly once.
    pub(crate) fn take_slot(&self) -> CallSlot {
        CallSlot {
            shared: Arc::clone(&self.shared),
        }
    }

    /// Wraps a connection's packet stream so that it yields no more calls while the bound is
    /// reached: each `Invoke` it yields counts as running from then on.
    pub(crate) fn gate<S>(&self, inner: S) -> Gated<S> {
        Gated {
            inner,
            shared: Arc::clone(&self.shared),
        }
    }
}

impl Drop for CallSlot {
    fn drop(&mut self) {
        let before = self.shared.running.fetch_sub(1, Ordering::AcqRel);
        if before <= self.shared.max {
            self.shared.reader.wake();
        }
    }
}

/// A stream that pauses while its connection has too many calls running.
pub(crate) struct Gated<S> {
    inner: S,
    shared: Arc<Shared>,
}

impl Shared {
    fn full(&self) -> bool {
        self.running.load(Ordering::Acquire) >= self.max
    }
}

type Item = Result<Packet, FrameError>;

impl<S: Stream<Item = Item> + Unpin> Stream for Gated<S> {
    type Item = Item;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Item>> {
        if self.shared.full() {
            self.shared.reader.register(cx.waker());
            // A call may have finished between the check and the registration.
            if self.shared.full() {
                return Poll::Pending;
            }
        }
        let item = Pin::new(&mut self.inner).poll_next(cx);
        if let Poll::Ready(Some(Ok(Packet::Invoke { .. }))) = &item {
            self.shared.running.fetch_add(1, Ordering::AcqRel);
        }
        item
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::StreamExt;

    #[tokio::test]
    async fn the_stream_pauses_at_the_bound_and_resumes_when_a_call_ends() {
        let invoke = || {
            Ok(Packet::Invoke {
                source: 1,
                slot: 0,
                serial: 0,
                args: bytes::Bytes::new(),
            })
        };
        let packets = vec![Ok(Packet::Ping(1)), invoke(), invoke(), invoke()];
        let gate = CallGate::new(2);
        let mut items = gate.gate(futures::stream::iter(packets));
        assert_eq!(items.next().await.unwrap().unwrap(), Packet::Ping(1));
        items.next().await;
        let first = gate.take_slot();
        items.next().await;
        let _second = gate.take_slot();
        let waker = futures::task::noop_waker();
        let mut cx = Context::from_waker(&waker);
        assert!(Pin::new(&mut items).poll_next(&mut cx).is_pending());
        drop(first);
        assert!(matches!(
            items.next().await,
            Some(Ok(Packet::Invoke { .. }))
        ));
    }
}
