//! [`SourceState`]: a source's property values and the connections subscribed to them.

use std::sync::{Arc, Mutex, MutexGuard};

use bytes::Bytes;
use serde::Serialize;
use tracing::debug;

use crate::api::RemoteObject;
use crate::error::Error;
use crate::outbox::{ConnId, Outbox};
use crate::wire::{Encoding, Packet, SourceId};

/// Values up to this size are copied into an init frame; larger ones are sent from the cache.
const INLINE_LIMIT: usize = 4096;

/// The state behind a generated `SimpleSource`: every property's value, typed and encoded,
/// and the replicas' connections subscribed to it. Cheap to clone; clones share the state.
///
/// One lock covers values and subscribers, so an init snapshot and the changes after it are
/// queued to a connection in the order they happened (DESIGN.md contract items 1 and 2).
pub struct SourceState<Api: RemoteObject> {
    inner: Arc<Mutex<Inner<Api>>>,
}

struct Inner<Api: RemoteObject> {
    props: Api::Properties,
    encoding: Encoding,
    /// `props` encoded with `encoding`; `None` until first needed.
    encoded: Option<Vec<Bytes>>,
    subscribers: Vec<Subscriber>,
}

struct Subscriber {
    source: SourceId,
    outbox: Outbox,
}

impl<Api: RemoteObject> Clone for SourceState<Api> {
    fn clone(&self) -> Self {
        SourceState {
            inner: Arc::clone(&self.inner),
        }
    }
}

impl<Api: RemoteObject> Default for SourceState<Api> {
    fn default() -> Self {
        SourceState::new(Api::Properties::default())
    }
}

impl<Api: RemoteObject> std::fmt::Debug for SourceState<Api> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let inner = self.lock();
        f.debug_struct("SourceState")
            .field("api", &Api::NAME)
            .field("properties", &inner.props)
            .field("subscribers", &inner.subscribers.len())
            .finish()
    }
}

impl<Api: RemoteObject> SourceState<Api> {
    /// A source holding `props`.
    pub fn new(props: Api::Properties) -> SourceState<Api> {
        let inner = Inner {
            props,
            encoding: Encoding::default(),
            encoded: None,
            subscribers: Vec::new(),
        };
        SourceState {
            inner: Arc::new(Mutex::new(inner)),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner<Api>> {
        // A panic while holding this lock cannot leave the values half-written (every
        // write is a single assignment), so a poisoned lock is still consistent.
        self.inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Runs `read` on the current values.
    pub fn read<R>(&self, read: impl FnOnce(&Api::Properties) -> R) -> R {
        read(&self.lock().props)
    }

    /// Sets property `index` (whose storage `field` returns) to `value`. Replicas are told
    /// only if the encoded value differs from the current one. Returns whether it changed.
    pub fn set<T: Serialize>(
        &self,
        index: u16,
        value: T,
        field: impl FnOnce(&mut Api::Properties) -> &mut T,
    ) -> Result<bool, Error> {
        let mut inner = self.lock();
        // Encode straight into a frame for the (usually only) source id, and cache a slice
        // of it: one buffer per change for both what is sent and what later inits send.
        let encoding = inner.encoding;
        let first = inner.subscribers.first().map_or(0, |s| s.source);
        let (frame, bytes) =
            Packet::value_frame(false, first, index, |out| encoding.encode_into(&value, out))?;
        let encoded = inner.encoded()?;
        let slot = &mut encoded[usize::from(index)];
        if *slot == bytes {
            return Ok(false);
        }
        *slot = bytes.clone();
        *field(&mut inner.props) = value;
        inner.fan_out(Some(index), (first, frame), |source| {
            Packet::PropertyChange {
                source,
                index,
                value: bytes.clone(),
            }
        });
        Ok(true)
    }

    /// Emits signal `index` with `args` (the signal's generated struct) to every subscriber.
    pub fn emit<S: Serialize>(&self, index: u16, args: &S) -> Result<(), Error> {
        let mut inner = self.lock();
        if inner.subscribers.is_empty() {
            return Ok(());
        }
        let encoding = inner.encoding;
        let first = inner.subscribers.first().map_or(0, |s| s.source);
        let (frame, bytes) =
            Packet::value_frame(true, first, index, |out| encoding.encode_into(args, out))?;
        inner.fan_out(None, (first, frame), |source| Packet::Signal {
            source,
            index,
            args: bytes.clone(),
        });
        Ok(())
    }

    /// How many replica connections are subscribed, over every host it is remoted on.
    pub fn subscriber_count(&self) -> usize {
        self.lock().subscribers.len()
    }

    /// Switches the value encoding, re-encoding the values. Refused while replicas are
    /// subscribed with the current one.
    pub(crate) fn use_encoding(&self, encoding: Encoding) -> Result<(), Error> {
        let mut inner = self.lock();
        if inner.encoding != encoding {
            if !inner.subscribers.is_empty() {
                return Err(Error::new(crate::error::Kind::EncodingInUse {
                    api: Api::NAME,
                    current: inner.encoding,
                }));
            }
            inner.encoding = encoding;
            inner.encoded = None;
        }
        inner.encoded().map(|_| ())
    }

    /// Subscribes a connection and queues its init, atomically with respect to changes.
    /// With `schema`, the init is an `InitDynamic` carrying the API's description.
    pub(crate) fn subscribe(
        &self,
        name: &str,
        source: SourceId,
        outbox: &Outbox,
        schema: Option<&Bytes>,
    ) -> Result<(), Error> {
        let mut inner = self.lock();
        // Values are shared with the cache, not copied into the frame: a large property
        // costs nothing to send to one more replica.
        let pieces = Packet::init_frame_segments(
            name,
            source,
            Api::signature(),
            schema,
            inner.encoded()?,
            INLINE_LIMIT,
        );
        if outbox.push_pieces(pieces) {
            inner
                .subscribers
                .retain(|s| !(s.source == source && s.outbox.id() == outbox.id()));
            inner.subscribers.push(Subscriber {
                source,
                outbox: outbox.clone(),
            });
        }
        Ok(())
    }

    /// Removes `conn`'s subscription to `source`, or all of `conn`'s if `source` is `None`.
    pub(crate) fn unsubscribe(&self, conn: ConnId, source: Option<SourceId>) {
        self.lock()
            .subscribers
            .retain(|s| s.outbox.id() != conn || source.is_some_and(|id| id != s.source));
    }

    /// Removes every subscription made under `source` (the source was disabled there).
    pub(crate) fn unsubscribe_all(&self, source: SourceId) {
        self.lock().subscribers.retain(|s| s.source != source);
    }
}

impl<Api: RemoteObject> Inner<Api> {
    fn encoded(&mut self) -> Result<&mut Vec<Bytes>, Error> {
        if self.encoded.is_none() {
            let values = Api::encode_properties(&self.props, self.encoding)?;
            self.encoded = Some(values);
        }
        // Just filled in above.
        Ok(self.encoded.get_or_insert_with(Vec::new))
    }

    /// Queues one frame per distinct source id (normally one) to every subscriber, and drops
    /// subscribers whose connection has gone. A property's frames may coalesce in a slow
    /// subscriber's outbox (`property` is its index).
    /// `ready` is the frame already built for one source id; others are built by `packet`.
    fn fan_out(
        &mut self,
        property: Option<u16>,
        ready: (SourceId, Bytes),
        packet: impl Fn(SourceId) -> Packet,
    ) {
        let mut cached = ready;
        self.subscribers.retain(|sub| {
            let frame = if cached.0 == sub.source {
                cached.1.clone()
            } else {
                let frame = packet(sub.source).to_frame();
                cached = (sub.source, frame.clone());
                frame
            };
            let alive = match property {
                Some(index) => sub.outbox.push_property(sub.source, index, frame),
                None => sub.outbox.push(frame),
            };
            if !alive {
                debug!(
                    conn = sub.outbox.id(),
                    "dropping the subscriber of a closed connection"
                );
            }
            alive
        });
    }
}
