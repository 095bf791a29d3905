//! The traits that make an actor a source: [`RemoteSource`] names its API and hands over its
//! `SimpleSource`; [`Hostable`] (generated) dispatches slot calls to it.

use actix::{Actor, Addr};

use super::SourceState;
use crate::api::{InvokeError, RemoteObject, SetPropertyError, SlotFuture};
use crate::proto::WriteFuture;
use crate::wire::Encoding;

/// Gives the library the shared state behind a generated `SimpleSource`.
pub trait AsSourceState<Api: RemoteObject> {
    /// The shared state.
    fn source_state(&self) -> &SourceState<Api>;
}

/// Implemented by an API for every actor type that handles all its slots; a host uses it to
/// dispatch invocations. A source actor that lacks a slot handler fails this bound, so
/// enabling it does not compile.
pub trait Hostable<A: Actor>: RemoteObject<SimpleSource: AsSourceState<Self>> {
    /// Decodes the arguments of slot `slot` and sends the message to the actor; a push
    /// slot (Qt's `READPUSH`) is applied to `source` instead, or, for a `checked` property,
    /// decided by the actor's `Set…` handler.
    fn invoke(
        addr: &Addr<A>,
        source: &Self::SimpleSource,
        slot: u16,
        args: &[u8],
        enc: Encoding,
    ) -> Result<SlotFuture, InvokeError>;

    /// Applies a replica's write of property `index`: at once (`Ok(None)`), or, for a
    /// `checked` property, through the actor's handler of its `Set…` message (`Ok(Some)`).
    fn write(
        addr: &Addr<A>,
        source: &Self::SimpleSource,
        index: u16,
        value: &[u8],
        enc: Encoding,
    ) -> Result<Option<WriteFuture>, SetPropertyError>;
}

/// An actor that is the source of an API: it names the API and hands the host its
/// `SimpleSource`, the state replicas mirror.
///
/// ```ignore
/// impl RemoteSource for PrinterService {
///     type Api = Printer;
///     fn simple_source(&self) -> &printer::SimpleSource { &self.remote }
/// }
/// ```
pub trait RemoteSource: Actor<Context = actix::Context<Self>> {
    /// The API it implements.
    type Api: RemoteObject + Hostable<Self>;
    /// The state the host serves to replicas.
    fn simple_source(&self) -> &<Self::Api as RemoteObject>::SimpleSource;
}
