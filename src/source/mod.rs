//! The source side: the state a source actor holds ([`SourceState`], wrapped by each API's
//! generated `SimpleSource`) and the untyped view of it a host serves from.

mod hosted;
mod serving;
mod state;

pub(crate) use hosted::{encoded_schema, Caller, HostedSource, SourceHub};
pub use serving::{AsSourceState, Hostable, RemoteSource};
pub use state::SourceState;
