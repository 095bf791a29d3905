//! [`DynamicError`]: what a dynamic replica or a dynamic source refuses.

use crate::error::SlotError;
use crate::values::codec::ValueError;

/// A dynamic replica or source refused an operation; nothing was sent.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum DynamicError {
    /// The replica has not been initialized yet: its API is unknown.
    #[error("the replica is not initialized yet")]
    NotInitialized,
    /// The API has no property of that name.
    #[error("no property named {0:?}")]
    UnknownProperty(String),
    /// The API has no slot of that name.
    #[error("no slot named {0:?}")]
    UnknownSlot(String),
    /// The API has no signal of that name.
    #[error("no signal named {0:?}")]
    UnknownSignal(String),
    /// A schema that cannot describe a source (a type it uses is undefined, or has no
    /// finite value).
    #[error("invalid schema: {0}")]
    InvalidSchema(String),
    /// A slot was called (or a signal emitted) with the wrong number of arguments.
    #[error("{slot:?} takes {expected} argument(s), {found} given")]
    ArgumentCount {
        /// The slot or signal.
        slot: String,
        /// How many it takes.
        expected: usize,
        /// How many were given.
        found: usize,
    },
    /// The property is not read-write.
    #[error("property {0:?} is not read-write")]
    NotWritable(String),
    /// A value does not have its type's shape, or a reply did not decode.
    #[error(transparent)]
    Value(#[from] ValueError),
    /// The call itself failed.
    #[error(transparent)]
    Slot(#[from] SlotError),
}

/// A dynamic source's slot handler can use `?` on its own operations: a refusal of the
/// call, with the error's text as the reason.
impl From<DynamicError> for SlotError {
    fn from(error: DynamicError) -> SlotError {
        match error {
            DynamicError::Slot(slot) => slot,
            other => SlotError::Source(other.to_string()),
        }
    }
}
