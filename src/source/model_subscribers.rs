//! The replica connections subscribed to a model (a list or a tree), and how its diffs
//! reach them: encoded once, queued to each in order, and a reset instead of diffs for one
//! that fell behind.
//!
//! A slow replica: diffs cannot be coalesced like property values, and dropping one would
//! leave the replica's window wrong. So once a subscriber's connection lags (more is queued
//! than the point where property values start to coalesce, 256 KiB), the model stops
//! sending it diffs and queues a marker; when the connection's writer reaches the marker
//! (the peer read everything before it), the model sends that subscriber one reset, and
//! diffs again from there. Its connection stays open.

use bytes::{Bytes, BytesMut};
use serde::Serialize;
use tracing::{debug, warn};

use crate::error::{Error, Kind};
use crate::outbox::{ConnId, Outbox};
use crate::wire::{Encoding, Packet, SourceId};

/// Called when a lagging subscriber's connection drained to its marker: the model sends it
/// a reset (through [`ModelSubscribers::caught_up`]).
pub(super) type OnCaughtUp = dyn Fn(ConnId, SourceId) -> Box<dyn FnOnce() + Send> + Sync;

/// A replica connection subscribed to the model, under the id the model has there.
pub(super) struct Subscriber {
    pub(super) source: SourceId,
    pub(super) outbox: Outbox,
    /// Fell behind: gets no diffs until its connection drains to the marker queued then.
    lagging: bool,
}

/// Every subscriber of one model, and the encoding they share.
pub(super) struct ModelSubscribers {
    list: Vec<Subscriber>,
    pub(super) encoding: Encoding,
    /// The number of subscribers, for whoever watches it (made on the first ask).
    count: Option<tokio::sync::watch::Sender<usize>>,
}

impl ModelSubscribers {
    pub(super) fn new() -> ModelSubscribers {
        ModelSubscribers {
            list: Vec::new(),
            encoding: Encoding::default(),
            count: None,
        }
    }

    pub(super) fn len(&self) -> usize {
        self.list.len()
    }

    /// Signal `index` with `args`, if anyone listens (empty otherwise).
    pub(super) fn frame<A: Serialize + ?Sized>(
        &self,
        index: u16,
        args: &A,
    ) -> Result<Bytes, Error> {
        let Some(first) = self.list.first() else {
            return Ok(Bytes::new());
        };
        let encoding = self.encoding;
        let frame = Packet::value_frame(true, first.source, index, |out| {
            encoding.encode_into(args, out)
        })?;
        Ok(frame)
    }

    /// Queues `frame` to every subscriber that keeps up; one that fell behind gets a
    /// marker instead (made by `on_caught_up`), and a reset once its connection drains to
    /// it.
    pub(super) fn fan_out(&mut self, frame: Bytes, on_caught_up: &OnCaughtUp) {
        if frame.is_empty() {
            return;
        }
        let before = self.list.len();
        self.list.retain_mut(|sub| {
            if sub.lagging {
                return true;
            }
            if sub.outbox.is_lagging() {
                warn!(
                    conn = sub.outbox.id(),
                    "a model replica reads too slowly; it gets a reset once it catches up"
                );
                sub.lagging = true;
                let marker = on_caught_up(sub.outbox.id(), sub.source);
                return sub.outbox.push_marker(marker);
            }
            sub.outbox.push(with_source(&frame, sub.source))
        });
        if self.list.len() != before {
            self.counted();
        }
    }

    /// Property `index`'s new `value`, if anyone listens (empty otherwise): queued with
    /// [`ModelSubscribers::fan_out`], so in order with the diffs (a model's properties are
    /// marks on its rows, which must not overtake the diffs that move them).
    pub(super) fn property_frame<V: Serialize + ?Sized>(
        &self,
        index: u16,
        value: &V,
    ) -> Result<Bytes, Error> {
        let Some(first) = self.list.first() else {
            return Ok(Bytes::new());
        };
        let encoding = self.encoding;
        let frame = Packet::value_frame(false, first.source, index, |out| {
            encoding.encode_into(value, out)
        })?;
        Ok(frame)
    }

    /// The subscriber on `conn` under `source` caught up with what was queued when it fell
    /// behind: it gets `frames` (a reset, and the model's marks as they are now), and every
    /// diff from here on.
    pub(super) fn caught_up(&mut self, conn: ConnId, source: SourceId, frames: &[Bytes]) {
        let Some(sub) = self
            .list
            .iter_mut()
            .find(|s| s.source == source && s.outbox.id() == conn && s.lagging)
        else {
            return;
        };
        sub.lagging = false;
        debug!(conn, "a model replica caught up; sending it a reset");
        crate::telemetry::model_reset();
        let outbox = sub.outbox.clone();
        let pushed = frames
            .iter()
            .filter(|f| !f.is_empty())
            .all(|frame| outbox.push(with_source(frame, source)));
        if !pushed {
            self.list.retain(|s| s.outbox.id() != conn);
            self.counted();
        }
    }

    /// The subscriber on `conn` that a fetch's answer goes to: an error if the connection
    /// has not acquired the model, `None` while it lags (it gets a reset, after which it
    /// asks again).
    pub(super) fn answering(&self, conn: ConnId) -> Result<Option<&Subscriber>, String> {
        match self.list.iter().find(|s| s.outbox.id() == conn) {
            None => Err("the connection has not acquired this model".to_owned()),
            Some(sub) if sub.lagging => Ok(None),
            Some(sub) => Ok(Some(sub)),
        }
    }

    /// Subscribes each of `outboxes` under `source` (again, if it was).
    pub(super) fn subscribe(&mut self, source: SourceId, outboxes: &[Outbox]) {
        for outbox in outboxes {
            self.list
                .retain(|s| !(s.source == source && s.outbox.id() == outbox.id()));
            self.list.push(Subscriber {
                source,
                outbox: outbox.clone(),
                lagging: false,
            });
        }
        self.counted();
    }

    /// Unsubscribes connection `conn` (only under `source`, if given).
    pub(super) fn unsubscribe(&mut self, conn: ConnId, source: Option<SourceId>) {
        self.list
            .retain(|s| s.outbox.id() != conn || source.is_some_and(|id| id != s.source));
        self.counted();
    }

    /// Unsubscribes every connection under `source`.
    pub(super) fn unsubscribe_all(&mut self, source: SourceId) {
        self.list.retain(|s| s.source != source);
        self.counted();
    }

    pub(super) fn clear(&mut self) {
        self.list.clear();
        self.counted();
    }

    /// The number of subscribers now and after every change.
    pub(super) fn counts(&mut self) -> tokio::sync::watch::Receiver<usize> {
        let len = self.list.len();
        self.count
            .get_or_insert_with(|| tokio::sync::watch::Sender::new(len))
            .subscribe()
    }

    /// Encodes for `encoding` from now on; refused while replicas of another use it.
    pub(super) fn use_encoding(&mut self, encoding: Encoding, api: &str) -> Result<(), Error> {
        if self.encoding != encoding && !self.list.is_empty() {
            return Err(Error::new(Kind::EncodingInUse {
                api: api.to_owned(),
                current: self.encoding,
            }));
        }
        self.encoding = encoding;
        Ok(())
    }

    /// Tells the watchers of the subscriber count, if any, that it may have changed.
    fn counted(&self) {
        if let Some(count) = &self.count {
            let len = self.list.len();
            count.send_if_modified(|n| std::mem::replace(n, len) != len);
        }
    }
}

/// `frame` (a signal or change frame built for some source id) for `source`.
fn with_source(frame: &Bytes, source: SourceId) -> Bytes {
    const SOURCE_AT: usize = 4 + 1;
    if frame.get(SOURCE_AT..SOURCE_AT + 4) == Some(&source.to_le_bytes()[..]) {
        return frame.clone();
    }
    let mut copy = BytesMut::from(&frame[..]);
    copy[SOURCE_AT..SOURCE_AT + 4].copy_from_slice(&source.to_le_bytes());
    copy.freeze()
}

/// A slot's immediate outcome as the reply future a hub returns.
pub(super) fn ready(outcome: Result<(), String>, enc: Encoding) -> crate::proto::SlotFuture {
    use crate::wire::{FailureKind, RemoteFailure};
    let outcome = outcome
        .map_err(|message| RemoteFailure {
            kind: FailureKind::Source,
            message,
        })
        .and_then(|()| {
            enc.encode(&()).map(Bytes::from).map_err(|e| RemoteFailure {
                kind: FailureKind::Source,
                message: e.to_string(),
            })
        });
    Box::pin(futures::future::ready(outcome))
}
