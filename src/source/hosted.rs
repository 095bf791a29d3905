//! The untyped view a host keeps of each source it remotes.

use std::sync::Arc;

use bytes::Bytes;

use actix::Addr;

use crate::api::{
    AsSourceState, Hostable, InvokeError, RemoteObject, RemoteSource, SetPropertyError, SlotFuture,
};
use crate::error::Error;
use crate::outbox::{ConnId, Outbox};
use crate::wire::{Encoding, ObjectInfo, SourceId};

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
    fn set_from_remote(
        &self,
        index: u16,
        value: &[u8],
        enc: Encoding,
    ) -> Result<(), SetPropertyError>;
    /// `caller` is the connection the call came from.
    fn invoke(
        &self,
        slot: u16,
        args: &[u8],
        enc: Encoding,
        caller: ConnId,
    ) -> Result<SlotFuture, InvokeError>;
    fn subscriber_count(&self) -> usize;
}

struct TypedHub<A: RemoteSource> {
    source: <A::Api as RemoteObject>::SimpleSource,
    addr: Addr<A>,
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
    ) -> Result<(), SetPropertyError> {
        A::Api::set_from_remote(&self.source, index, value, enc)
    }
    fn invoke(
        &self,
        slot: u16,
        args: &[u8],
        enc: Encoding,
        _caller: ConnId,
    ) -> Result<SlotFuture, InvokeError> {
        <A::Api as Hostable<A>>::invoke(&self.addr, slot, args, enc)
    }
    fn subscriber_count(&self) -> usize {
        self.source.source_state().subscriber_count()
    }
}

/// One source remoted under one name on one host.
pub(crate) struct HostedSource {
    pub(crate) id: SourceId,
    pub(crate) info: ObjectInfo,
    pub(crate) hub: Box<dyn SourceHub>,
}

impl HostedSource {
    pub(crate) fn new<A: RemoteSource>(
        id: SourceId,
        name: String,
        addr: Addr<A>,
        source: <A::Api as RemoteObject>::SimpleSource,
    ) -> Arc<HostedSource> {
        let info = ObjectInfo {
            name,
            api: A::Api::NAME.to_owned(),
            signature: A::Api::SIGNATURE,
        };
        Arc::new(HostedSource {
            id,
            info,
            hub: Box::new(TypedHub {
                source,
                addr,
                schema: std::sync::OnceLock::new(),
            }),
        })
    }
}

impl HostedSource {
    /// A source served by a hub of the library's own (the registry).
    pub(crate) fn with_hub(
        id: SourceId,
        info: ObjectInfo,
        hub: Box<dyn SourceHub>,
    ) -> Arc<HostedSource> {
        Arc::new(HostedSource { id, info, hub })
    }
}
