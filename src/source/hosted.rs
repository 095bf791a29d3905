//! The untyped view a host keeps of each source it remotes.

use std::sync::Arc;

use bytes::Bytes;

use actix::Addr;

use super::children::{ChildHub, Place};
use super::{AsSourceState, Hostable, RemoteSource};
use crate::api::{InvokeError, RemoteObject, SlotFuture};
use crate::error::Error;
use crate::outbox::{ConnId, Outbox};
pub(crate) use crate::proto::host::Caller;
use crate::proto::host::ServedSource;
use crate::proto::WriteFuture;
use crate::wire::{ChildInit, Encoding, ObjectInfo, SourceId};

/// What a host needs from a source, without its types.
pub(crate) trait SourceHub: Send + Sync + 'static {
    fn subscribe(
        &self,
        name: &str,
        source: SourceId,
        outbox: &Outbox,
        schema: Option<&Bytes>,
    ) -> Result<(), Error>;
    /// The API's description, encoded (computed once).
    fn schema(&self) -> Result<Bytes, String>;
    fn unsubscribe(&self, conn: ConnId, source: Option<SourceId>);
    fn unsubscribe_all(&self, source: SourceId);
    /// Applies a replica's write, hands back the source's decision on it to run, or says
    /// why not.
    fn set_from_remote(
        &self,
        index: u16,
        value: &[u8],
        enc: Encoding,
    ) -> Result<Option<WriteFuture>, String>;
    /// `caller` is who the call came from.
    fn invoke(
        &self,
        slot: u16,
        args: &[u8],
        enc: Encoding,
        caller: &Caller<'_>,
    ) -> Result<SlotFuture, String>;
    fn subscriber_count(&self) -> usize;
    /// The subscriber count now and after every change.
    fn subscriber_counts(&self) -> tokio::sync::watch::Receiver<usize>;
    /// The name of slot `index`, if it has one (for access policies and logs).
    fn slot_name(&self, index: u16) -> Option<&str>;
    /// The name of property `index`, if it has one.
    fn property_name(&self, index: u16) -> Option<&str>;
    /// The child with id `id` under this source: its path of member names and its node.
    fn find_child(&self, _id: SourceId) -> Option<(String, Arc<dyn ChildHub>)> {
        None
    }
}

/// The name of member `index` of a declared API's `members`.
pub(crate) fn declared_name<T>(
    members: &'static [T],
    index: u16,
    name: fn(&T) -> &'static str,
) -> Option<&'static str> {
    members.get(usize::from(index)).map(name)
}

/// A source actor's address, as calls reach it.
pub(crate) struct Sender<A: actix::Actor> {
    pub(crate) addr: Addr<A>,
    /// The host started the actor with a mailbox calls never fill, so calls go through
    /// this one sender. Otherwise each call gets a fresh clone: an actix sender that finds
    /// the mailbox full parks itself and holds back every later message until the actor
    /// drains one, which would serialize pipelined calls behind task wake-ups (a clone's
    /// park state is its own — and it costs two allocations).
    pub(crate) roomy: bool,
}

struct TypedHub<A: RemoteSource> {
    source: <A::Api as RemoteObject>::SimpleSource,
    addr: Addr<A>,
    roomy: bool,
    /// Told when a call finds the actor gone.
    on_gone: Box<dyn Fn() + Send + Sync>,
    schema: std::sync::OnceLock<Result<Bytes, String>>,
}

/// An API's description encoded for the wire (always bincode: read before values are).
pub(crate) fn encoded_schema<Api: RemoteObject>() -> Result<Bytes, String> {
    let schema = Api::schema().map_err(|e| e.to_string())?;
    crate::wire::Encoding::Bincode
        .encode(&schema)
        .map(Bytes::from)
        .map_err(|e| e.to_string())
}

impl<A: RemoteSource> SourceHub for TypedHub<A> {
    fn subscribe(
        &self,
        name: &str,
        source: SourceId,
        outbox: &Outbox,
        schema: Option<&Bytes>,
    ) -> Result<(), Error> {
        self.source
            .source_state()
            .subscribe(name, source, outbox, schema)
    }
    fn schema(&self) -> Result<Bytes, String> {
        self.schema.get_or_init(encoded_schema::<A::Api>).clone()
    }
    fn unsubscribe(&self, conn: ConnId, source: Option<SourceId>) {
        self.source.source_state().unsubscribe(conn, source)
    }
    fn unsubscribe_all(&self, source: SourceId) {
        self.source.source_state().unsubscribe_all(source)
    }
    fn set_from_remote(
        &self,
        index: u16,
        value: &[u8],
        enc: Encoding,
    ) -> Result<Option<WriteFuture>, String> {
        <A::Api as Hostable<A>>::write(&self.addr, &self.source, index, value, enc)
            .map_err(|e| e.to_string())
    }
    fn invoke(
        &self,
        slot: u16,
        args: &[u8],
        enc: Encoding,
        _caller: &Caller<'_>,
    ) -> Result<SlotFuture, String> {
        if !self.addr.connected() {
            (self.on_gone)();
            return Err(InvokeError::Stopped.to_string());
        }
        let fresh;
        let addr = match self.roomy {
            true => &self.addr,
            false => {
                fresh = self.addr.clone();
                &fresh
            }
        };
        <A::Api as Hostable<A>>::invoke(addr, &self.source, slot, args, enc)
            .map_err(|e| e.to_string())
    }
    fn subscriber_count(&self) -> usize {
        self.source.source_state().subscriber_count()
    }
    fn subscriber_counts(&self) -> tokio::sync::watch::Receiver<usize> {
        self.source.source_state().subscriber_counts()
    }
    fn slot_name(&self, index: u16) -> Option<&str> {
        declared_name(A::Api::SLOTS, index, |s| s.name)
    }
    fn property_name(&self, index: u16) -> Option<&str> {
        declared_name(A::Api::PROPERTIES, index, |p| p.name)
    }
    fn find_child(&self, id: SourceId) -> Option<(String, Arc<dyn ChildHub>)> {
        self.source.source_state().find_child(id)
    }
}

impl<A: RemoteSource> ChildHub for TypedHub<A> {
    fn lock_tree(
        &self,
        place: Place,
        outboxes: &[Outbox],
        inits: &mut Vec<ChildInit>,
        then: &mut dyn FnMut(&mut Vec<ChildInit>),
    ) {
        self.source
            .source_state()
            .lock_tree(place, outboxes, inits, then)
    }
    fn detach_tree(&self) {
        self.source.source_state().detach_tree()
    }
    fn attach(&self) -> bool {
        self.source.source_state().set_attached(true)
    }
    fn release(&self) {
        self.source.source_state().set_attached(false);
    }
    fn contains(&self, state: *const ()) -> bool {
        self.source.source_state().contains(state)
    }
    fn use_encoding(&self, encoding: Encoding) -> Result<(), Error> {
        self.source.source_state().use_encoding(encoding)
    }
    fn api_name(&self) -> &'static str {
        A::Api::NAME
    }
    fn signature(&self) -> u64 {
        A::Api::signature()
    }
}

/// The hub of actor `addr` serving `source`, as a child.
pub(crate) fn typed_hub<A: RemoteSource>(
    addr: Addr<A>,
    source: <A::Api as RemoteObject>::SimpleSource,
    on_gone: Box<dyn Fn() + Send + Sync>,
) -> Arc<dyn ChildHub> {
    Arc::new(TypedHub {
        source,
        addr,
        roomy: false,
        on_gone,
        schema: std::sync::OnceLock::new(),
    })
}

/// One source remoted under one name on one host.
pub(crate) struct HostedSource {
    pub(crate) id: SourceId,
    pub(crate) info: ObjectInfo,
    pub(crate) hub: Arc<dyn SourceHub>,
    /// Served by the library itself (the registry): never registered anywhere.
    pub(crate) internal: bool,
    /// What its API says of its Qt face (a `.rep` file, enum values), for Qt nodes.
    pub(crate) qt_hints: crate::qt::api::QtHints,
}

impl HostedSource {
    /// Reports the source's subscriber count (over every host that serves it).
    pub(crate) fn report_subscribers(&self) {
        crate::telemetry::subscribers(&self.info.name, self.hub.subscriber_count());
    }

    pub(crate) fn new<A: RemoteSource>(
        id: SourceId,
        name: String,
        sender: Sender<A>,
        source: <A::Api as RemoteObject>::SimpleSource,
        on_gone: Box<dyn Fn() + Send + Sync>,
    ) -> Arc<HostedSource> {
        let Sender { addr, roomy } = sender;
        let info = ObjectInfo {
            name,
            api: A::Api::NAME.to_owned(),
            signature: A::Api::signature(),
        };
        Arc::new(HostedSource {
            id,
            info,
            hub: Arc::new(TypedHub {
                source,
                addr,
                roomy,
                on_gone,
                schema: std::sync::OnceLock::new(),
            }),
            internal: false,
            qt_hints: crate::qt::api::QtHints {
                rep: A::Api::qt_rep(),
                enums: A::Api::qt_enums(),
            },
        })
    }

    /// A source served by a hub without an actor behind it: the registry (`internal`, never
    /// registered anywhere) or a dynamic source.
    pub(crate) fn with_hub(
        id: SourceId,
        info: ObjectInfo,
        hub: Arc<dyn SourceHub>,
        internal: bool,
    ) -> Arc<HostedSource> {
        Arc::new(HostedSource {
            id,
            info,
            hub,
            internal,
            qt_hints: Default::default(),
        })
    }
}

impl ServedSource<Outbox> for HostedSource {
    fn id(&self) -> SourceId {
        self.id
    }
    fn info(&self) -> &ObjectInfo {
        &self.info
    }
    fn slot_name(&self, index: u16) -> Option<&str> {
        self.hub.slot_name(index)
    }
    fn property_name(&self, index: u16) -> Option<&str> {
        self.hub.property_name(index)
    }
    fn schema(&self) -> Result<Bytes, String> {
        self.hub.schema()
    }
    fn subscribe(&self, sink: &Outbox, schema: Option<&Bytes>) -> Result<(), String> {
        let subscribed = self
            .hub
            .subscribe(&self.info.name, self.id, sink, schema)
            .map_err(|e| e.to_string());
        self.report_subscribers();
        subscribed
    }
    fn unsubscribe(&self, conn: ConnId) {
        self.hub.unsubscribe(conn, Some(self.id));
        self.report_subscribers();
    }
    fn find_child(&self, id: SourceId) -> Option<Arc<dyn ServedSource<Outbox>>> {
        let (path, node) = self.hub.find_child(id)?;
        let info = ObjectInfo {
            name: format!("{}.{path}", self.info.name),
            api: node.api_name().to_owned(),
            signature: node.signature(),
        };
        // Never in a host's table, so never subscribed to as a source of its own.
        Some(HostedSource::with_hub(id, info, node, self.internal))
    }
    fn set_from_remote(
        &self,
        index: u16,
        value: &[u8],
        enc: Encoding,
    ) -> Result<Option<WriteFuture>, String> {
        self.hub.set_from_remote(index, value, enc)
    }
    fn invoke(
        &self,
        slot: u16,
        args: &[u8],
        enc: Encoding,
        caller: &Caller<'_>,
    ) -> Result<SlotFuture, String> {
        self.hub.invoke(slot, args, enc, caller)
    }
}
