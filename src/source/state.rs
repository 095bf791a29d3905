//! [`SourceState`]: a source's property values and the connections subscribed to them.

use std::sync::{Arc, Mutex, MutexGuard};

use bytes::Bytes;
use serde::Serialize;

use super::fanout::{InitHeader, Subscribers};
use crate::api::RemoteObject;
use crate::error::Error;
use crate::outbox::{ConnId, Outbox};
use crate::wire::{Encoding, SourceId};

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
    /// `props` encoded with `encoding`.
    encoded: EncodedCache<Api>,
    subscribers: Subscribers,
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
            encoded: EncodedCache::empty(),
            subscribers: Subscribers::default(),
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
        let mut guard = self.lock();
        let inner = &mut *guard;
        let encoding = inner.encoding;
        let encoded = inner.encoded.fill(&inner.props, encoding)?;
        let changed =
            inner
                .subscribers
                .publish_property(index, &mut encoded[usize::from(index)], |out| {
                    encoding.encode_into(&value, out).map_err(Error::from)
                })?;
        if changed {
            *field(&mut inner.props) = value;
        }
        Ok(changed)
    }

    /// Emits signal `index` with `args` (the signal's generated struct) to every subscriber.
    pub fn emit<S: Serialize>(&self, index: u16, args: &S) -> Result<(), Error> {
        let mut inner = self.lock();
        let encoding = inner.encoding;
        inner.subscribers.publish_signal(index, |out| {
            encoding.encode_into(args, out).map_err(Error::from)
        })
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
                    api: Api::NAME.to_owned(),
                    current: inner.encoding,
                }));
            }
            inner.encoding = encoding;
            inner.encoded = EncodedCache::empty();
        }
        let inner = &mut *inner;
        inner.encoded.fill(&inner.props, inner.encoding).map(|_| ())
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
        let mut guard = self.lock();
        let inner = &mut *guard;
        let values = inner.encoded.fill(&inner.props, inner.encoding)?;
        let header = InitHeader {
            name,
            source,
            signature: Api::signature(),
            schema,
        };
        inner.subscribers.subscribe(header, values, outbox);
        Ok(())
    }

    /// Removes `conn`'s subscription to `source`, or all of `conn`'s if `source` is `None`.
    pub(crate) fn unsubscribe(&self, conn: ConnId, source: Option<SourceId>) {
        self.lock().subscribers.unsubscribe(conn, source);
    }

    /// Removes every subscription made under `source` (the source was disabled there).
    pub(crate) fn unsubscribe_all(&self, source: SourceId) {
        self.lock().subscribers.unsubscribe_all(source);
    }
}

/// The properties encoded with the source's encoding, made when first needed.
struct EncodedCache<Api> {
    values: Option<Vec<Bytes>>,
    api: std::marker::PhantomData<fn() -> Api>,
}

impl<Api: RemoteObject> EncodedCache<Api> {
    fn empty() -> Self {
        EncodedCache {
            values: None,
            api: std::marker::PhantomData,
        }
    }

    fn fill(
        &mut self,
        props: &Api::Properties,
        encoding: Encoding,
    ) -> Result<&mut Vec<Bytes>, Error> {
        if self.values.is_none() {
            self.values = Some(Api::encode_properties(props, encoding)?);
        }
        // Just filled in above.
        Ok(self.values.get_or_insert_with(Vec::new))
    }
}
