//! The source side: the state a source actor holds ([`SourceState`], wrapped by each API's
//! generated `SimpleSource`) and the untyped view of it a host serves from.

mod children;
mod dynamic;
mod fanout;
mod hosted;
mod list_model;
mod model_subscribers;
mod relayed;
mod serving;
mod state;
mod tree_model;

pub use children::ChildSource;
pub use dynamic::{DynamicCall, DynamicSource, DynamicWrite};
pub(crate) use hosted::{declared_name, encoded_schema, Caller, HostedSource, Sender, SourceHub};
pub use list_model::ListModel;
pub(crate) use relayed::{RelayedSource, Upstream};
pub use serving::{AsSourceState, Hostable, RemoteSource};
pub use state::SourceState;
pub use tree_model::{TreeItem, TreeModel};
