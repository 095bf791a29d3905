//! [`Subscribers`]: the replica connections subscribed to one source's state, and how a
//! change, a signal or an init reaches them. Shared by typed sources ([`SourceState`]) and
//! dynamic ones, which differ only in how values are held and encoded.
//!
//! [`SourceState`]: super::SourceState

use bytes::{Bytes, BytesMut};
use tracing::debug;

use crate::error::Error;
use crate::outbox::{ConnId, Outbox};
use crate::wire::{ChildInit, InitFrame, Packet, SourceId};

/// Values up to this size are copied into an init frame; larger ones are sent from the cache.
const INLINE_LIMIT: usize = 4096;

/// Change and signal frames up to this size are copied into each subscriber's queue
/// (cheaper than sharing one buffer between them and counting references to it).
const COPY_FRAMES_UP_TO: usize = 1024;

/// The connections subscribed to a source, each under the id the source has there.
#[derive(Default)]
pub(crate) struct Subscribers {
    list: Vec<Subscriber>,
    /// The number of subscribers, for whoever watches it (made on the first ask).
    count: Option<tokio::sync::watch::Sender<usize>>,
    /// The buffer small change and signal frames are encoded in, kept from one to the next.
    scratch: BytesMut,
}

struct Subscriber {
    source: SourceId,
    outbox: Outbox,
}

/// What an init carries besides the values.
#[derive(Clone, Copy)]
pub(crate) struct InitHeader<'a> {
    pub(crate) name: &'a str,
    pub(crate) source: SourceId,
    pub(crate) signature: u64,
    /// The API's description, for a dynamic acquire.
    pub(crate) schema: Option<&'a Bytes>,
}

impl Subscribers {
    pub(crate) fn len(&self) -> usize {
        self.list.len()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    /// The number of subscribers now and after every change.
    pub(crate) fn counts(&mut self) -> tokio::sync::watch::Receiver<usize> {
        let len = self.list.len();
        self.count
            .get_or_insert_with(|| tokio::sync::watch::Sender::new(len))
            .subscribe()
    }

    /// Tells the watchers of the count, if any, that it may have changed.
    fn counted(&self) {
        if let Some(count) = &self.count {
            let len = self.list.len();
            count.send_if_modified(|n| std::mem::replace(n, len) != len);
        }
    }

    /// Runs `change` on the list, and tells the count's watchers if its length changed.
    fn changing(&mut self, change: impl FnOnce(&mut Vec<Subscriber>)) {
        let before = self.list.len();
        change(&mut self.list);
        if self.list.len() != before {
            self.counted();
        }
    }

    /// Queues an init of `values` and `children` to `outbox` and subscribes it. The caller
    /// holds the lock that changes take (and its children's), so the init and the changes
    /// after it are queued in order.
    pub(crate) fn subscribe(
        &mut self,
        header: InitHeader<'_>,
        values: &[Bytes],
        children: &[ChildInit],
        outbox: &Outbox,
    ) {
        // Values are shared with the cache, not copied into the frame: a large property
        // costs nothing to send to one more replica.
        let frame = InitFrame {
            name: header.name,
            source: header.source,
            signature: header.signature,
            schema: header.schema,
        };
        let pieces = Packet::init_frame_segments(frame, values, children, INLINE_LIMIT);
        if outbox.push_pieces(pieces) {
            self.add(header.source, outbox);
        }
    }

    /// Subscribes `outbox` under `source` without an init (a child's comes in its
    /// parent's).
    pub(crate) fn add(&mut self, source: SourceId, outbox: &Outbox) {
        self.changing(|list| {
            list.retain(|s| !(s.source == source && s.outbox.id() == outbox.id()));
            list.push(Subscriber {
                source,
                outbox: outbox.clone(),
            });
        });
    }

    /// Every subscribed outbox, once each.
    pub(crate) fn outboxes(&self) -> Vec<Outbox> {
        let mut outboxes: Vec<Outbox> = Vec::with_capacity(self.list.len());
        for sub in &self.list {
            if !outboxes.iter().any(|o| o.id() == sub.outbox.id()) {
                outboxes.push(sub.outbox.clone());
            }
        }
        outboxes
    }

    /// The connections subscribed under `source`.
    pub(crate) fn conns_of(&self, source: SourceId) -> Vec<ConnId> {
        self.list
            .iter()
            .filter(|s| s.source == source)
            .map(|s| s.outbox.id())
            .collect()
    }

    /// Removes every subscription.
    pub(crate) fn clear(&mut self) {
        self.changing(Vec::clear);
    }

    /// Queues the frame `packet` builds for each subscriber's source id (built once per
    /// id) to every subscriber.
    pub(crate) fn push_each(&mut self, packet: impl Fn(SourceId) -> Packet) {
        let mut built: Option<(SourceId, Bytes)> = None;
        self.changing(|list| {
            list.retain(|sub| {
                let frame = match &built {
                    Some((source, frame)) if *source == sub.source => frame.clone(),
                    _ => {
                        let frame = packet(sub.source).to_frame();
                        built = Some((sub.source, frame.clone()));
                        frame
                    }
                };
                sub.outbox.push(frame)
            })
        });
    }

    /// Removes `conn`'s subscription to `source`, or all of `conn`'s if `source` is `None`.
    pub(crate) fn unsubscribe(&mut self, conn: ConnId, source: Option<SourceId>) {
        self.changing(|list| {
            list.retain(|s| s.outbox.id() != conn || source.is_some_and(|id| id != s.source))
        });
    }

    /// Removes every subscription made under `source` (the source was disabled there).
    pub(crate) fn unsubscribe_all(&mut self, source: SourceId) {
        self.changing(|list| list.retain(|s| s.source != source));
    }

    /// Publishes property `index`, whose cached encoding is `cached`, as the bytes `encode`
    /// writes. Nothing is sent if they equal the cached ones; returns whether it changed.
    pub(crate) fn publish_property(
        &mut self,
        index: u16,
        cached: &mut Bytes,
        encode: impl FnOnce(&mut BytesMut) -> Result<(), Error>,
    ) -> Result<bool, Error> {
        // Encode straight into a frame for the (usually only) source id.
        let first = self.first_source();
        let mut frame = self.frame_buffer();
        Packet::write_value_frame(&mut frame, false, first, index, encode)?;
        let value = &frame[Packet::VALUE_FRAME_HEADER..];
        if cached[..] == *value {
            self.keep_buffer(frame);
            return Ok(false);
        }
        let ready = if frame.len() <= COPY_FRAMES_UP_TO {
            // Copied to the cache and to each connection: no buffer shared, no count kept.
            *cached = Bytes::copy_from_slice(value);
            Ready::Copied(frame)
        } else {
            // Large: one buffer for what is sent and what later inits send.
            let frame = frame.freeze();
            *cached = Packet::value_of_frame(&frame);
            Ready::Shared(frame)
        };
        // Only for subscribers that know the source under another id (rare).
        let packet = |source, value: &[u8]| Packet::PropertyChange {
            source,
            index,
            value: Bytes::copy_from_slice(value),
        };
        self.fan_out(Some(index), first, ready, packet);
        Ok(true)
    }

    /// Emits signal `index` with the arguments `encode` writes.
    pub(crate) fn publish_signal(
        &mut self,
        index: u16,
        encode: impl FnOnce(&mut BytesMut) -> Result<(), Error>,
    ) -> Result<(), Error> {
        if self.list.is_empty() {
            return Ok(());
        }
        let first = self.first_source();
        let mut frame = self.frame_buffer();
        Packet::write_value_frame(&mut frame, true, first, index, encode)?;
        let ready = match frame.len() <= COPY_FRAMES_UP_TO {
            true => Ready::Copied(frame),
            false => Ready::Shared(frame.freeze()),
        };
        // Only for subscribers that know the source under another id (rare).
        let packet = |source, value: &[u8]| Packet::Signal {
            source,
            index,
            args: Bytes::copy_from_slice(value),
        };
        self.fan_out(None, first, ready, packet);
        Ok(())
    }

    fn first_source(&self) -> SourceId {
        self.list.first().map_or(0, |s| s.source)
    }

    /// Keeps `frame`'s buffer for the next frame, unless a large value made it large: an
    /// unchanged 16 MiB value must not leave 16 MiB behind.
    fn keep_buffer(&mut self, frame: BytesMut) {
        if frame.capacity() <= 4 * COPY_FRAMES_UP_TO {
            self.scratch = frame;
        }
    }

    /// The buffer a frame is encoded in: the one the last small frame used, emptied.
    fn frame_buffer(&mut self) -> BytesMut {
        let mut frame = std::mem::take(&mut self.scratch);
        frame.clear();
        frame
    }

    /// Queues one frame per distinct source id (normally one) to every subscriber, and drops
    /// subscribers whose connection has gone. A property's frames may coalesce in a slow
    /// subscriber's outbox (`property` is its index).
    /// `ready` is the frame already built for source id `first`: a small one is copied into
    /// each outbox; a large one is shared, and moved to the last subscriber (one replica: no
    /// reference count at all). Frames for other ids are built by `packet`, given the
    /// value.
    fn fan_out(
        &mut self,
        property: Option<u16>,
        first: SourceId,
        ready: Ready,
        packet: impl Fn(SourceId, &[u8]) -> Packet,
    ) {
        let mut ready = ready;
        // A small frame for writers that take frames one by one: one copy for all of them.
        let mut shared_copy: Option<Bytes> = None;
        let mut other: Option<(SourceId, Bytes)> = None;
        let list = &mut self.list;
        let before = list.len();
        let mut left = before;
        list.retain(|sub| {
            left -= 1;
            let key = property.map(|index| (sub.source, index));
            let frame = match (&mut ready, &other) {
                (Ready::Copied(frame), _) if sub.source == first && sub.outbox.gathers_frames() => {
                    return keep(sub, sub.outbox.push_copy(key, frame));
                }
                (Ready::Copied(frame), _) if sub.source == first => shared_copy
                    .get_or_insert_with(|| Bytes::copy_from_slice(frame))
                    .clone(),
                (Ready::Shared(frame), _) if sub.source == first && left == 0 => {
                    std::mem::take(frame)
                }
                (Ready::Shared(frame), _) if sub.source == first => frame.clone(),
                (_, Some((source, frame))) if *source == sub.source => frame.clone(),
                (ready, _) => {
                    let frame = packet(sub.source, ready.value()).to_frame();
                    other = Some((sub.source, frame.clone()));
                    frame
                }
            };
            let alive = match property {
                Some(index) => sub.outbox.push_property(sub.source, index, frame),
                None => sub.outbox.push(frame),
            };
            keep(sub, alive)
        });
        if list.len() != before {
            self.counted();
        }
        if let Ready::Copied(frame) = ready {
            self.keep_buffer(frame);
        }
    }
}

/// Whether to keep `sub`: its connection took the frame.
fn keep(sub: &Subscriber, alive: bool) -> bool {
    if !alive {
        debug!(
            conn = sub.outbox.id(),
            "dropping the subscriber of a closed connection"
        );
    }
    alive
}

/// A frame built for the first subscriber's source id.
enum Ready {
    /// Small: copied into each connection's queue.
    Copied(BytesMut),
    /// Large: shared by every connection.
    Shared(Bytes),
}

impl Ready {
    fn value(&self) -> &[u8] {
        let frame: &[u8] = match self {
            Ready::Copied(frame) => frame,
            Ready::Shared(frame) => frame,
        };
        &frame[Packet::VALUE_FRAME_HEADER.min(frame.len())..]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::{Encoding, PacketCodec};
    use tokio_util::codec::Decoder;

    fn packets(outbox: &Outbox) -> Vec<Packet> {
        let mut bytes = outbox.drain();
        let mut codec = PacketCodec::default();
        std::iter::from_fn(|| codec.decode(&mut bytes).unwrap()).collect()
    }

    /// Each subscriber gets the frame for the id the source has on its connection, whether
    /// that frame was the one built, a copy of it, or moved to the last subscriber.
    #[test]
    fn every_subscriber_gets_its_own_source_id_and_the_same_values() {
        for ids in [
            vec![1],
            vec![1, 1],
            vec![1, 2, 1],
            vec![2, 1],
            vec![1, 2, 2, 1, 3],
        ] {
            let mut subs = Subscribers::default();
            let outboxes: Vec<Outbox> = (0..ids.len())
                .map(|i| Outbox::detached(i as ConnId, 1 << 20))
                .collect();
            for (id, outbox) in ids.iter().zip(&outboxes) {
                subs.add(*id, outbox);
            }
            subs.publish_signal(4, |out| {
                Encoding::Bincode
                    .encode_into(&77u32, out)
                    .map_err(Error::from)
            })
            .unwrap();
            let mut cached = Bytes::new();
            subs.publish_property(2, &mut cached, |out| {
                Encoding::Bincode
                    .encode_into(&"on", out)
                    .map_err(Error::from)
            })
            .unwrap();
            let args = Bytes::from(Encoding::Bincode.encode(&77u32).unwrap());
            let value = Bytes::from(Encoding::Bincode.encode(&"on").unwrap());
            assert_eq!(cached, value);
            for (id, outbox) in ids.iter().zip(&outboxes) {
                assert_eq!(
                    packets(outbox),
                    vec![
                        Packet::Signal {
                            source: *id,
                            index: 4,
                            args: args.clone()
                        },
                        Packet::PropertyChange {
                            source: *id,
                            index: 2,
                            value: value.clone()
                        }
                    ],
                    "subscribers {ids:?}"
                );
            }
        }
    }

    /// Writers that take frames one by one (Qt translations, which share their work per
    /// frame) all get the same buffer for a small change; the others get copies.
    #[test]
    fn a_small_change_reaches_one_by_one_writers_as_one_shared_frame() {
        let mut subs = Subscribers::default();
        let gathering = Outbox::detached(1, 1 << 20);
        let one_by_one = [
            Outbox::detached_one_by_one(2, 1 << 20),
            Outbox::detached_one_by_one(3, 1 << 20),
        ];
        subs.add(1, &one_by_one[0]);
        subs.add(1, &gathering);
        subs.add(1, &one_by_one[1]);
        let mut cached = Bytes::new();
        subs.publish_property(0, &mut cached, |out| {
            Encoding::Bincode
                .encode_into(&5u32, out)
                .map_err(Error::from)
        })
        .unwrap();
        let [a, b] = one_by_one.map(|o| o.queued_pieces());
        assert_eq!(a, b);
        assert_eq!(a[0].as_ptr(), b[0].as_ptr(), "one buffer for both");
        assert_eq!(gathering.queued_pieces(), a);
    }

    /// Setting a large property to the value it has sends nothing and keeps nothing of it.
    #[test]
    fn an_unchanged_large_value_leaves_no_large_buffer_behind() {
        let mut subs = Subscribers::default();
        let outbox = Outbox::detached(1, 1 << 26);
        subs.add(1, &outbox);
        let big = vec![7u8; 1 << 20];
        let encode = |out: &mut BytesMut| {
            Encoding::Bincode
                .encode_into(&serde_bytes::Bytes::new(&big), out)
                .map_err(Error::from)
        };
        let mut cached = Bytes::new();
        assert!(subs.publish_property(0, &mut cached, encode).unwrap());
        assert!(!subs.publish_property(0, &mut cached, encode).unwrap());
        assert!(
            subs.scratch.capacity() <= 4 * COPY_FRAMES_UP_TO,
            "{} bytes kept",
            subs.scratch.capacity()
        );
    }
}
