//! Qt Remote Objects `.rep` files: the parser ([`parse`]), what a file declares ([`RepFile`]
//! and its parts), and repc's SHA-1 class signature ([`signatures`]).
//!
//! Used by the `remote_object!(rep = "…")` macro to generate Rust APIs from `.rep` files and
//! by `actix-remote-objects` to give those APIs the signature a Qt node expects. The grammar
//! follows Qt 6's `repparser` (QTRO.md §2): `class`, `PROP` with defaults and modifiers,
//! `SIGNAL`, `SLOT`, `ENUM`, `FLAG`, `POD`, `USE_ENUM`, `MODEL`, `CLASS`, comments and
//! `#` directives.
//!
//! ```
//! let file = actix_remote_objects_rep::parse(
//!     "class Counter { PROP(int count=5 READWRITE) SLOT(void reset()) };",
//! )
//! .unwrap();
//! assert_eq!(file.classes[0].properties[0].name, "count");
//! ```

mod model;
mod parser;
mod signature;

pub use model::{
    Access, Class, ClassMember, Enum, Flag, Function, Model, Param, Pod, Property, RepFile,
};
pub use parser::{parse, split_top_level, ParseError};
pub use signature::signatures;
