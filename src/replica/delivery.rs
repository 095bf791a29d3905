//! Delivering a replica's events to user code without letting a consumer that stops reading
//! grow the node's memory.
//!
//! Every stream and every recipient subscription reads from its own bounded queue. While the
//! consumer keeps up, every event is delivered. Once a queue holds its capacity, it lags:
//! - a property value replaces the older value of the same property still queued (latest
//!   wins, and the order of what remains is kept), so the final value always arrives;
//! - a signal pushes out the oldest queued signal; the signals lost this way are counted and
//!   reported to the consumer as one [`Delivered::Lagged`] before the next event.
//!
//! A queue therefore holds at most its capacity plus one value per property.

use std::collections::VecDeque;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};

use actix::{ArbiterHandle, Message, Recipient};
use futures::{Stream, StreamExt};
use tracing::warn;

/// The default number of events a subscription holds for a consumer that fell behind.
pub(crate) const DEFAULT_CAPACITY: usize = 1024;

/// What a consumer reads from its queue.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Delivered<T> {
    Item(T),
    /// This many signals were dropped because the consumer fell behind.
    Lagged(u64),
}

struct Queue<T> {
    /// Each item with the property it is a value of (`None` for a signal).
    items: VecDeque<(Option<u16>, T)>,
    capacity: usize,
    lost: u64,
    receiver_gone: bool,
    /// The replica is gone: the stream ends once drained.
    sender_gone: bool,
    waker: Option<Waker>,
}

/// The delivering side of a subscription's queue.
pub(crate) struct QueueSender<T> {
    queue: Arc<Mutex<Queue<T>>>,
}

/// The consuming side: a stream of what was delivered.
pub(crate) struct QueueReceiver<T> {
    queue: Arc<Mutex<Queue<T>>>,
}

/// A bounded queue holding `capacity` events before it lags.
pub(crate) fn queue<T>(capacity: usize) -> (QueueSender<T>, QueueReceiver<T>) {
    let queue = Arc::new(Mutex::new(Queue {
        items: VecDeque::new(),
        capacity: capacity.max(1),
        lost: 0,
        receiver_gone: false,
        sender_gone: false,
        waker: None,
    }));
    (
        QueueSender {
            queue: Arc::clone(&queue),
        },
        QueueReceiver { queue },
    )
}

fn lock<T>(queue: &Mutex<Queue<T>>) -> MutexGuard<'_, Queue<T>> {
    // Every critical section leaves the queue consistent.
    queue.lock().unwrap_or_else(|p| p.into_inner())
}

impl<T> QueueSender<T> {
    /// Queues a value of property `index`; false once the consumer is gone.
    pub(crate) fn push_value(&self, index: u16, item: T) -> bool {
        self.push(Some(index), item)
    }

    /// Queues a signal (or another event that cannot coalesce); false once the consumer is
    /// gone.
    pub(crate) fn push_event(&self, item: T) -> bool {
        self.push(None, item)
    }

    fn push(&self, key: Option<u16>, item: T) -> bool {
        let mut q = lock(&self.queue);
        if q.receiver_gone {
            return false;
        }
        if q.items.len() >= q.capacity && !q.make_room(key) {
            return true;
        }
        q.items.push_back((key, item));
        if let Some(waker) = q.waker.take() {
            drop(q);
            waker.wake();
        }
        true
    }
}

impl<T> Queue<T> {
    /// Makes room in a full queue for an item of `key`; false if the item is dropped instead.
    fn make_room(&mut self, key: Option<u16>) -> bool {
        if key.is_some() {
            if let Some(older) = self.items.iter().position(|(k, _)| *k == key) {
                self.items.remove(older);
                return true;
            }
        }
        let oldest_signal = self.items.iter().position(|(k, _)| k.is_none());
        let (room, lost_one) = match (oldest_signal, key) {
            (Some(oldest), _) => {
                self.items.remove(oldest);
                (true, true)
            }
            // Full of values of distinct properties: a signal is the one lost, a value still
            // goes in (one per property at most).
            (None, None) => (false, true),
            (None, Some(_)) => (true, false),
        };
        if lost_one {
            if self.lost == 0 {
                warn!(
                    capacity = self.capacity,
                    "a subscriber fell behind; dropping its oldest signals"
                );
            }
            self.lost += 1;
        }
        room
    }
}

impl<T> Drop for QueueSender<T> {
    fn drop(&mut self) {
        let mut q = lock(&self.queue);
        q.sender_gone = true;
        if let Some(waker) = q.waker.take() {
            drop(q);
            waker.wake();
        }
    }
}

impl<T> Drop for QueueReceiver<T> {
    fn drop(&mut self) {
        let mut q = lock(&self.queue);
        q.receiver_gone = true;
        q.items.clear();
    }
}

impl<T> Stream for QueueReceiver<T> {
    type Item = Delivered<T>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Delivered<T>>> {
        let mut q = lock(&self.queue);
        if q.lost > 0 {
            let lost = std::mem::take(&mut q.lost);
            return Poll::Ready(Some(Delivered::Lagged(lost)));
        }
        match q.items.pop_front() {
            Some((_, item)) => Poll::Ready(Some(Delivered::Item(item))),
            None if q.sender_gone => Poll::Ready(None),
            None => {
                q.waker = Some(cx.waker().clone());
                Poll::Pending
            }
        }
    }
}

/// Feeds a recipient from a bounded queue: one message at a time, each sent when the
/// recipient's actor has handled the one before (so its mailbox never grows either).
/// Returns the queue's sender; it refuses items once the actor is gone.
pub(crate) fn feed<M>(
    recipient: Recipient<M>,
    capacity: usize,
    arbiter: &ArbiterHandle,
) -> QueueSender<M>
where
    M: Message<Result = ()> + Send + 'static,
{
    let (sender, mut receiver) = queue(capacity);
    arbiter.spawn(async move {
        while let Some(delivered) = receiver.next().await {
            match delivered {
                Delivered::Item(message) => {
                    if recipient.send(message).await.is_err() {
                        break; // the actor stopped: dropping the receiver ends the feed
                    }
                }
                Delivered::Lagged(lost) => {
                    warn!(lost, "a recipient fell behind; signals were dropped");
                }
            }
        }
    });
    sender
}

/// Where a node's subscriptions run and how much they hold: shared by its replicas.
#[derive(Clone)]
pub(crate) struct Delivery {
    pub(crate) capacity: usize,
    pub(crate) arbiter: ArbiterHandle,
}

impl Delivery {
    pub(crate) fn feed<M>(&self, recipient: Recipient<M>) -> QueueSender<M>
    where
        M: Message<Result = ()> + Send + 'static,
    {
        feed(recipient, self.capacity, &self.arbiter)
    }

    pub(crate) fn stream<T>(&self) -> (QueueSender<T>, QueueReceiver<T>) {
        queue(self.capacity)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn drain<T>(rx: &mut QueueReceiver<T>) -> Vec<Delivered<T>> {
        let waker = futures::task::noop_waker();
        let mut cx = Context::from_waker(&waker);
        let mut out = Vec::new();
        while let Poll::Ready(Some(item)) = Pin::new(&mut *rx).poll_next(&mut cx) {
            out.push(item);
        }
        out
    }

    #[test]
    fn a_consumer_that_keeps_up_gets_everything() {
        let (tx, mut rx) = queue(4);
        for i in 0..3 {
            tx.push_value(0, i);
        }
        assert_eq!(
            drain(&mut rx),
            vec![Delivered::Item(0), Delivered::Item(1), Delivered::Item(2)]
        );
    }

    #[test]
    fn a_lagging_queue_coalesces_values_and_counts_lost_signals() {
        let (tx, mut rx) = queue(3);
        tx.push_event("s1");
        tx.push_value(0, "a1");
        tx.push_event("s2");
        // Full: a value of property 0 replaces its older value, at the back.
        tx.push_value(0, "a2");
        // A value of another property pushes out the oldest signal.
        tx.push_value(1, "b1");
        // A signal pushes out the oldest signal.
        tx.push_event("s3");
        assert_eq!(
            drain(&mut rx),
            vec![
                Delivered::Lagged(2),
                Delivered::Item("a2"),
                Delivered::Item("b1"),
                Delivered::Item("s3"),
            ]
        );
    }

    #[test]
    fn a_queue_full_of_values_drops_the_new_signal_and_keeps_every_property() {
        let (tx, mut rx) = queue(2);
        tx.push_value(0, 0);
        tx.push_value(1, 1);
        tx.push_event(9);
        tx.push_value(2, 2); // one value per property always fits
        assert_eq!(
            drain(&mut rx),
            vec![
                Delivered::Lagged(1),
                Delivered::Item(0),
                Delivered::Item(1),
                Delivered::Item(2),
            ]
        );
    }

    #[test]
    fn memory_stays_bounded_however_long_the_consumer_sleeps() {
        let (tx, rx) = queue(16);
        for i in 0..1_000_000u32 {
            if i % 2 == 0 {
                tx.push_event(i);
            } else {
                tx.push_value((i % 5) as u16, i);
            }
        }
        assert!(lock(&rx.queue).items.len() <= 16 + 5);
    }

    #[test]
    fn the_stream_ends_once_the_replica_is_gone_and_drained() {
        let (tx, mut rx) = queue(2);
        tx.push_event(1);
        drop(tx);
        assert_eq!(drain(&mut rx), vec![Delivered::Item(1)]);
        let waker = futures::task::noop_waker();
        let mut cx = Context::from_waker(&waker);
        assert_eq!(Pin::new(&mut rx).poll_next(&mut cx), Poll::Ready(None));
    }

    #[test]
    fn a_dropped_receiver_refuses_more() {
        let (tx, rx) = queue::<u8>(2);
        drop(rx);
        assert!(!tx.push_event(1));
    }
}
