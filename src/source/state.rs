//! [`SourceState`]: a source's property values and the connections subscribed to them.

use std::sync::{Arc, Mutex, MutexGuard};

use bytes::Bytes;
use serde::Serialize;

use super::children::{self, Attached, ChildSource, Place};
use super::fanout::{InitHeader, Subscribers};
use super::list_model::ListModel;
use super::tree_model::TreeModel;
use crate::adapter::ModelRow;
use crate::api::{ChildVisitor, RemoteObject};
use crate::error::{Error, Kind};
use crate::outbox::{ConnId, Outbox};
use crate::wire::{ChildInit, EncodeError, Encoding, Packet, SourceId};

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
    /// The source held at each child member, with the id its packets carry.
    children: Vec<Option<Attached>>,
    /// Whether it hangs under another source's child member.
    attached: bool,
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
            children: new_models::<Api>(),
            attached: false,
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

    /// Sets property `index` (whose storage `field` returns) to `value`, which `encode`
    /// encodes. Replicas are told only if the encoded value differs from the current one.
    /// Returns whether it changed.
    pub fn set<T>(
        &self,
        index: u16,
        value: T,
        field: impl FnOnce(&mut Api::Properties) -> &mut T,
        encode: impl FnOnce(&T, Encoding, &mut bytes::BytesMut) -> Result<(), EncodeError>,
    ) -> Result<bool, Error> {
        let mut guard = self.lock();
        let inner = &mut *guard;
        let encoding = inner.encoding;
        let encoded = inner.encoded.fill(&inner.props, encoding)?;
        let Some(current) = encoded.get_mut(usize::from(index)) else {
            return Err(Error::new(Kind::InvalidValue(format!(
                "{} has no property {index}",
                Api::NAME
            ))));
        };
        let changed = inner.subscribers.publish_property(index, current, |out| {
            encode(&value, encoding, out).map_err(Error::from)
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

    /// Changes the values in place with `change` without telling replicas, then emits the
    /// signal that tells them what changed (built by `signal` from the changed values), in
    /// one step: a replica subscribing before gets the signal, one subscribing after gets
    /// the changed values in its init. For a large value that changes a little at a time
    /// (the registry's entries), so a change costs its signal, not a copy of the value.
    /// The values are encoded again only when a replica next subscribes.
    pub(crate) fn change_quietly<S: Serialize>(
        &self,
        change: impl FnOnce(&mut Api::Properties) -> Option<(u16, S)>,
    ) -> Result<(), Error> {
        let mut guard = self.lock();
        let inner = &mut *guard;
        let Some((index, args)) = change(&mut inner.props) else {
            return Ok(());
        };
        inner.encoded = EncodedCache::empty();
        let encoding = inner.encoding;
        inner.subscribers.publish_signal(index, |out| {
            encoding.encode_into(&args, out).map_err(Error::from)
        })
    }

    /// How many replica connections are subscribed, over every host it is remoted on.
    pub fn subscriber_count(&self) -> usize {
        self.lock().subscribers.len()
    }

    /// The subscriber count now and after every change.
    pub(crate) fn subscriber_counts(&self) -> tokio::sync::watch::Receiver<usize> {
        self.lock().subscribers.counts()
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
        inner.encoded.fill(&inner.props, inner.encoding)?;
        for child in inner.children.iter().flatten() {
            child.node.use_encoding(encoding)?;
        }
        Ok(())
    }

    /// Subscribes a connection and queues its init, atomically with respect to changes of
    /// this source and of every child under it. With `schema`, the init is an
    /// `InitDynamic` carrying the API's description.
    pub(crate) fn subscribe(
        &self,
        name: &str,
        source: SourceId,
        outbox: &Outbox,
        schema: Option<&Bytes>,
    ) -> Result<(), Error> {
        let mut guard = self.lock();
        let Inner {
            props,
            encoding,
            encoded,
            subscribers,
            children,
            ..
        } = &mut *guard;
        let values = encoded.fill(props, *encoding)?;
        let header = InitHeader {
            name,
            source,
            signature: Api::signature(),
            schema,
        };
        let outboxes = std::slice::from_ref(outbox);
        let mut inits = Vec::new();
        children::lock_children(
            children,
            children::ROOT,
            outboxes,
            &mut inits,
            &mut |inits| {
                let inits = children::for_root(inits, source);
                subscribers.subscribe(header, values, &inits, outbox);
            },
        );
        Ok(())
    }

    /// Removes `conn`'s subscription to `source`, or all of `conn`'s if `source` is `None`,
    /// and its subscriptions to every child under it.
    pub(crate) fn unsubscribe(&self, conn: ConnId, source: Option<SourceId>) {
        let inner = &mut *self.lock();
        children::unsubscribe(&mut inner.subscribers, &inner.children, conn, source);
    }

    /// Removes every subscription made under `source` (the source was disabled there), and
    /// those connections' subscriptions to every child under it.
    pub(crate) fn unsubscribe_all(&self, source: SourceId) {
        let inner = &mut *self.lock();
        children::unsubscribe_all(&mut inner.subscribers, &inner.children, source);
    }

    /// The source held at child member `index`, if any (and if it is of API `C`).
    pub fn child<C: RemoteObject>(&self, index: u16) -> Option<ChildSource<C>> {
        let inner = self.lock();
        let attached = inner.children.get(usize::from(index))?.as_ref()?;
        ChildSource::of(attached)
    }

    /// The model held at model member `index` (if it is of rows `R`; a new, empty one
    /// that no replica sees otherwise, which the generated code never asks for).
    pub fn model<R: ModelRow>(&self, index: u16) -> ListModel<R> {
        self.model_at(index)
    }

    /// The tree model held at model member `index` (as [`SourceState::model`]).
    pub fn tree<R: ModelRow>(&self, index: u16) -> TreeModel<R> {
        self.model_at(index)
    }

    fn model_at<M: Clone + Default + 'static>(&self, index: u16) -> M {
        let inner = self.lock();
        let model = inner
            .children
            .get(usize::from(index))
            .and_then(Option::as_ref)
            .and_then(|attached| attached.source.downcast_ref::<M>());
        match model {
            Some(model) => model.clone(),
            None => {
                tracing::error!(
                    api = Api::NAME,
                    index,
                    "no model of these rows at this member"
                );
                M::default()
            }
        }
    }

    /// Points child member `index` at `child` (or at none): every subscribed replica gets
    /// the new child's full state (or hears there is none), in order with this source's
    /// other changes. Fails if `child` already hangs under a source, would hang under
    /// itself, or is not of the member's API.
    pub fn set_child<C: RemoteObject>(
        &self,
        index: u16,
        child: Option<ChildSource<C>>,
    ) -> Result<(), Error> {
        let member = Api::CHILDREN
            .get(usize::from(index))
            .ok_or_else(|| bad_child(&format!("#{index}"), "the API has no such child member"))?;
        if member.api != C::NAME {
            return Err(bad_child(member.name, "it is of another API"));
        }
        let current = self.lock().children[usize::from(index)].clone();
        let same = match (&current, &child) {
            (Some(current), Some(child)) => Arc::ptr_eq(&current.node, child.node()),
            (None, None) => true,
            _ => false,
        };
        if same {
            return Ok(()); // nothing changes: replicas hear nothing
        }
        // Held until the child is in place, so no two changes can build a loop between them.
        let _attaching = match &child {
            Some(child) => Some(children::attach(
                child.node(),
                self.state_ptr(),
                member.name,
            )?),
            None => None,
        };
        let attached = child.as_ref().map(ChildSource::attachment);
        let mut guard = self.lock();
        let inner = &mut *guard;
        if let Some(new) = &attached {
            if let Err(error) = new.node.use_encoding(inner.encoding) {
                new.node.release();
                return Err(error);
            }
        }
        let slot = usize::from(index);
        if let Some(old) = inner.children[slot].take() {
            old.node.detach_tree();
            old.node.release();
        }
        let subscribers = &mut inner.subscribers;
        match &attached {
            Some(new) => {
                let place = Place {
                    parent: children::ROOT,
                    slot: index,
                    source: new.id,
                };
                let outboxes = subscribers.outboxes();
                let mut inits = Vec::new();
                new.node
                    .lock_tree(place, &outboxes, &mut inits, &mut |inits| {
                        subscribers.push_each(|parent| Packet::ChildChange {
                            parent,
                            slot: index,
                            children: children::for_root(inits, parent),
                        });
                    });
            }
            None => subscribers.push_each(|parent| Packet::ChildChange {
                parent,
                slot: index,
                children: Vec::new(),
            }),
        }
        inner.children[slot] = attached;
        Ok(())
    }

    /// A child member declared without `Option` that holds no source yet: such a source
    /// cannot be served.
    pub(crate) fn unset_child(&self) -> Option<&'static str> {
        let inner = self.lock();
        Api::CHILDREN
            .iter()
            .zip(&inner.children)
            .find(|(member, child)| !member.optional && child.is_none())
            .map(|(member, _)| member.name)
    }

    /// The address of the state, which identifies this source among others.
    pub(crate) fn state_ptr(&self) -> *const () {
        Arc::as_ptr(&self.inner).cast()
    }

    /// See [`children::ChildHub::lock_tree`].
    pub(crate) fn lock_tree(
        &self,
        place: Place,
        outboxes: &[Outbox],
        inits: &mut Vec<ChildInit>,
        then: &mut dyn FnMut(&mut Vec<ChildInit>),
    ) {
        let mut guard = self.lock();
        let Inner {
            props,
            encoding,
            encoded,
            subscribers,
            children,
            ..
        } = &mut *guard;
        let values = match encoded.fill(props, *encoding) {
            Ok(values) => values.clone(),
            Err(error) => {
                // Its values could not be encoded at all: replicas see it with none, and
                // fail it alone (an init of the wrong size).
                tracing::error!(api = Api::NAME, %error, "cannot encode a child source's values");
                Vec::new()
            }
        };
        let init = place.init(Api::signature(), values);
        children::lock_subtree(subscribers, children, init, outboxes, inits, then);
    }

    /// See [`children::ChildHub::detach_tree`].
    pub(crate) fn detach_tree(&self) {
        let inner = &mut *self.lock();
        children::detach(&mut inner.subscribers, &inner.children);
    }

    /// Marks it as hanging under a source (false if it already does), or as not.
    pub(crate) fn set_attached(&self, attached: bool) -> bool {
        let mut inner = self.lock();
        let was = std::mem::replace(&mut inner.attached, attached);
        !(attached && was)
    }

    /// Whether the source whose state is at `state` is this one or a child under it.
    pub(crate) fn contains(&self, state: *const ()) -> bool {
        if self.state_ptr() == state {
            return true;
        }
        let children: Vec<Attached> = self.lock().children.iter().flatten().cloned().collect();
        children::hold(children, state)
    }

    /// The child with id `id` under this source: its path of member names and its node.
    pub(crate) fn find_child(
        &self,
        id: SourceId,
    ) -> Option<(String, std::sync::Arc<dyn children::ChildHub>)> {
        let children = children::held(&self.lock().children);
        children::find(children, |i| Some(Api::CHILDREN.get(i)?.name), id)
    }
}

/// The children of a new source: an empty model at each model member, none elsewhere.
fn new_models<Api: RemoteObject>() -> Vec<Option<Attached>> {
    struct NewModel;
    impl ChildVisitor for NewModel {
        type Output = Option<Attached>;
        fn visit<C: RemoteObject>(self) -> Option<Attached> {
            None
        }
        fn visit_model<R: ModelRow>(self) -> Option<Attached> {
            Some(ListModel::<R>::default().attachment())
        }
        fn visit_table<R: ModelRow>(self) -> Option<Attached> {
            Some(ListModel::<R>::empty(crate::adapter::Form::Table).attachment())
        }
        fn visit_tree<R: ModelRow>(self) -> Option<Attached> {
            Some(TreeModel::<R>::default().attachment())
        }
    }
    (0..Api::CHILDREN.len())
        .map(|i| {
            let model = Api::CHILDREN[i].model;
            model
                .then(|| Api::visit_child(i as u16, NewModel).flatten())
                .flatten()
        })
        .collect()
}

fn bad_child(member: &str, reason: &str) -> Error {
    Error::new(crate::error::Kind::BadChild {
        member: member.to_owned(),
        reason: reason.to_owned(),
    })
}

impl<Api: RemoteObject> Drop for Inner<Api> {
    fn drop(&mut self) {
        // The children outlive their parent's state: free them to hang elsewhere.
        for child in self.children.iter().flatten() {
            child.node.detach_tree();
            child.node.release();
        }
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
