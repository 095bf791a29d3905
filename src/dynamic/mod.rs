//! Dynamic replicas: using a source without its Rust types. A host describes a source's API
//! at run time ([`ApiSchema`]); values travel as [`Value`]s encoded by that description,
//! byte for byte as the typed code encodes them.

pub mod codec;
mod replica;
pub mod schema;
pub mod value;

pub use codec::ValueError;
pub(crate) use replica::DynamicShared;
pub use replica::{DynamicError, DynamicEvent, DynamicReplica};
pub use schema::{ApiSchema, MemberSchema, PropertySchema, SchemaError, TypeDef, TypeFormat};
pub use value::{ShapeError, Value};
