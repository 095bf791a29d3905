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
//! A queue therefore holds at most its capacity plus one value per property, counting the
//! few items the consumer takes out at once (up to [`DRAIN_BATCH`], a quarter of the
//! capacity at most) to read them without a lock each.
//!
//! While the consumer keeps up (the normal case) a push costs a lock and an append: where
//! each property's value and each signal sits is only indexed once the queue is full, and
//! forgotten again once it has been drained.

use std::collections::VecDeque;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};

use actix::{ArbiterHandle, Message, Recipient};
use futures::{Stream, StreamExt};
use rustc_hash::FxHashMap;
use tracing::warn;

/// The default number of events a subscription holds for a consumer that fell behind.
pub(crate) const DEFAULT_CAPACITY: usize = 16_384;

/// The most items a consumer takes out of its queue per lock.
const DRAIN_BATCH: usize = 64;

/// What a consumer reads from its queue.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Delivered<T> {
    Item(T),
    /// This many signals were dropped because the consumer fell behind.
    Lagged(u64),
}

struct Queue<T> {
    /// Queued items in order, each with the property it is a value of (`None` for a
    /// signal); `None` slots were dropped (coalesced or lost) and are skipped.
    items: VecDeque<Option<(Option<u16>, T)>>,
    /// The sequence number of `items[0]`.
    front_seq: u64,
    /// Whether `values` and `signals` are kept: only from the moment the queue is first
    /// full until it is next drained, since only a full queue drops anything.
    indexed: bool,
    /// Where each property's queued value is, by sequence number (while `indexed`).
    values: FxHashMap<u16, u64>,
    /// Where the queued signals are, oldest first (while `indexed`).
    signals: VecDeque<u64>,
    /// How many of `items` are not dropped.
    live: usize,
    /// How many items the consumer took out at its last lock: it holds no more than that
    /// until it next locks (it locks only once it has handed them all on).
    taken: usize,
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
    /// Items taken out of the queue in one lock, not yet handed to the consumer.
    taken: VecDeque<T>,
}

/// A bounded queue holding `capacity` events before it lags.
pub(crate) fn queue<T>(capacity: usize) -> (QueueSender<T>, QueueReceiver<T>) {
    let queue = Arc::new(Mutex::new(Queue {
        items: VecDeque::new(),
        front_seq: 0,
        indexed: false,
        values: FxHashMap::default(),
        signals: VecDeque::new(),
        live: 0,
        taken: 0,
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
        QueueReceiver {
            queue,
            taken: VecDeque::new(),
        },
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
        if q.live + q.taken >= q.capacity && !q.make_room(key) {
            return true;
        }
        q.append(key, item);
        if let Some(waker) = q.waker.take() {
            drop(q);
            waker.wake();
        }
        true
    }
}

impl<T> Queue<T> {
    fn append(&mut self, key: Option<u16>, item: T) {
        if self.indexed {
            let seq = self.front_seq + self.items.len() as u64;
            self.index(key, seq);
        }
        self.items.push_back(Some((key, item)));
        self.live += 1;
    }

    fn index(&mut self, key: Option<u16>, seq: u64) {
        match key {
            Some(index) => {
                self.values.insert(index, seq);
            }
            None => self.signals.push_back(seq),
        }
    }

    /// Indexes every queued item: the queue just became full.
    fn build_index(&mut self) {
        self.values.clear();
        self.signals.clear();
        for i in 0..self.items.len() {
            if let Some((key, _)) = &self.items[i] {
                let key = *key;
                self.index(key, self.front_seq + i as u64);
            }
        }
        self.indexed = true;
    }

    /// Drops the item at `seq`, if it is still queued.
    fn drop_at(&mut self, seq: u64) {
        let Some(slot) = self.items.get_mut((seq - self.front_seq) as usize) else {
            return;
        };
        if slot.take().is_some() {
            self.live -= 1;
        }
        // A consumer that never reads pops nothing: compact once most slots are empty, so
        // dropped items leave no slots behind (amortized O(1)).
        let dropped = self.items.len() - self.live;
        if dropped > 1024 && dropped > self.live {
            self.compact();
        }
    }

    fn compact(&mut self) {
        self.items.retain(Option::is_some);
        self.build_index();
    }

    /// Makes room in a full queue for an item of `key`; false if the item is dropped instead.
    fn make_room(&mut self, key: Option<u16>) -> bool {
        if !self.indexed {
            self.build_index();
        }
        if let Some(older) = key.and_then(|index| self.values.remove(&index)) {
            self.drop_at(older);
            return true;
        }
        let lost_one = match (self.signals.pop_front(), key) {
            (Some(oldest), _) => {
                self.drop_at(oldest);
                true
            }
            // Full of values of distinct properties: a signal is the one lost, a value still
            // goes in (one per property at most).
            (None, None) => {
                self.note_loss();
                return false;
            }
            (None, Some(_)) => false,
        };
        if lost_one {
            self.note_loss();
        }
        true
    }

    fn note_loss(&mut self) {
        if self.lost == 0 {
            warn!(
                capacity = self.capacity,
                "a subscriber fell behind; dropping its oldest signals"
            );
        }
        self.lost += 1;
    }

    /// The oldest queued item.
    fn pop(&mut self) -> Option<T> {
        while let Some(slot) = self.items.pop_front() {
            let seq = self.front_seq;
            self.front_seq += 1;
            let Some((key, item)) = slot else { continue };
            self.live -= 1;
            if !self.indexed {
                return Some(item);
            }
            if self.items.is_empty() {
                self.forget_index();
                return Some(item);
            }
            match key {
                Some(index) => {
                    if self.values.get(&index) == Some(&seq) {
                        self.values.remove(&index);
                    }
                }
                None => {
                    if self.signals.front() == Some(&seq) {
                        self.signals.pop_front();
                    }
                }
            }
            return Some(item);
        }
        None
    }

    fn forget_index(&mut self) {
        self.values.clear();
        self.signals.clear();
        self.indexed = false;
    }

    /// Moves some of the oldest queued items to `into` (empty): up to [`DRAIN_BATCH`], and
    /// no more than a quarter of the capacity, so a consumer that keeps up does not look
    /// like one that lags.
    fn pop_batch(&mut self, into: &mut VecDeque<T>) {
        let most = (self.capacity / 4).clamp(1, DRAIN_BATCH);
        while into.len() < most {
            match self.pop() {
                Some(item) => into.push_back(item),
                None => break,
            }
        }
        self.taken = into.len();
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
        q.forget_index();
        q.live = 0;
    }
}

// Nothing of `T` is ever pinned: items are moved in and out of plain queues.
impl<T> Unpin for QueueReceiver<T> {}

impl<T> Stream for QueueReceiver<T> {
    type Item = Delivered<T>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Delivered<T>>> {
        let this = self.get_mut();
        // Items already taken are older than anything still queued, and than the signals
        // the queue dropped since: they go first, without a lock.
        if let Some(item) = this.taken.pop_front() {
            return Poll::Ready(Some(Delivered::Item(item)));
        }
        let mut q = lock(&this.queue);
        if q.lost > 0 {
            let lost = std::mem::take(&mut q.lost);
            return Poll::Ready(Some(Delivered::Lagged(lost)));
        }
        q.pop_batch(&mut this.taken);
        match this.taken.pop_front() {
            Some(item) => Poll::Ready(Some(Delivered::Item(item))),
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

/// Streams that one producer feeds alike (a node's network changes, its background errors):
/// each gets every event, or once it falls behind a count of what it lost; one whose
/// consumer went away is forgotten at the next send.
pub(crate) struct Subscribers<T> {
    senders: Mutex<Vec<QueueSender<T>>>,
    capacity: usize,
}

impl<T: Clone> Subscribers<T> {
    /// Subscribers whose queues each hold `capacity` events before they lag.
    pub(crate) fn new(capacity: usize) -> Subscribers<T> {
        Subscribers {
            senders: Mutex::new(Vec::new()),
            capacity,
        }
    }

    /// A new stream, told every event sent from now on.
    pub(crate) fn subscribe(&self) -> QueueReceiver<T> {
        let (sender, receiver) = queue(self.capacity);
        self.senders().push(sender);
        receiver
    }

    /// Sends `events`, in order, to every stream.
    pub(crate) fn send_all(&self, events: &[T]) {
        if events.is_empty() {
            return;
        }
        self.senders()
            .retain(|s| events.iter().all(|e| s.push_event(e.clone())));
    }

    fn senders(&self) -> MutexGuard<'_, Vec<QueueSender<T>>> {
        // Pushing leaves the list consistent whatever panics.
        self.senders.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Where a node's subscriptions run and how much they hold: shared by its replicas.
#[derive(Clone)]
pub(crate) struct Delivery {
    pub(crate) capacity: usize,
    pub(crate) arbiter: ArbiterHandle,
    /// How model replicas hold rows.
    pub(crate) models: super::model::ModelSettings,
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
        let q = lock(&rx.queue);
        assert!(q.live <= 16 + 5, "{} queued", q.live);
        assert!(q.items.len() < 2 * 1024 + 64, "{} slots", q.items.len());
    }

    #[test]
    fn a_queue_that_keeps_up_indexes_nothing() {
        let (tx, mut rx) = queue(8);
        for i in 0..100u32 {
            tx.push_value((i % 3) as u16, i);
            tx.push_event(i);
            assert_eq!(drain(&mut rx).len(), 2);
        }
        let q = lock(&rx.queue);
        assert!(!q.indexed && q.values.is_empty() && q.signals.is_empty());
    }

    #[test]
    fn a_queue_drained_after_lagging_coalesces_again_when_next_full() {
        let (tx, mut rx) = queue(2);
        for round in 0..3 {
            tx.push_value(0, round * 10);
            tx.push_event(round * 10 + 1);
            tx.push_value(0, round * 10 + 2); // full: replaces the first value
            assert_eq!(
                drain(&mut rx),
                vec![
                    Delivered::Item(round * 10 + 1),
                    Delivered::Item(round * 10 + 2)
                ],
                "round {round}"
            );
            assert!(!lock(&rx.queue).indexed, "round {round}");
        }
    }

    #[test]
    fn items_taken_in_one_lock_come_before_a_later_lag_report() {
        let (tx, mut rx) = queue(8);
        tx.push_event(1);
        tx.push_event(2);
        let waker = futures::task::noop_waker();
        let mut cx = Context::from_waker(&waker);
        // The first poll takes both out of the queue (a quarter of its capacity); they still
        // count against it, so the queue fills after six more and then lags.
        assert_eq!(
            Pin::new(&mut rx).poll_next(&mut cx),
            Poll::Ready(Some(Delivered::Item(1)))
        );
        for i in 3..10 {
            tx.push_event(i);
        }
        let mut expected = vec![Delivered::Item(2), Delivered::Lagged(1)];
        expected.extend((4..10).map(Delivered::Item));
        assert_eq!(drain(&mut rx), expected);
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
