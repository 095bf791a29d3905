//! Values without compile-time types: an API's description ([`ApiSchema`]), dynamic
//! [`Value`]s, and their codec. Public as [`crate::dynamic`].

pub mod codec;
mod default;
pub mod diff;
mod dynamic_error;
pub mod schema;
pub mod value;

pub use codec::ValueError;
pub use dynamic_error::DynamicError;
pub use schema::{ApiSchema, MemberSchema, PropertySchema, SchemaError, TypeDef, TypeFormat};
pub use value::{ShapeError, Value};
