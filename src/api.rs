//! The traits an API definition implements. The [`remote_object!`](crate::remote_object)
//! macro writes these impls; users name the traits only in bounds.

use std::fmt::Debug;

use actix::Message;
use bytes::Bytes;
use serde::{de::DeserializeOwned, Serialize};

use crate::error::SlotResult;
use crate::wire::{DecodeError, EncodeError, Encoding};

/// Who may change a property.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Access {
    /// Only the source sets it; replicas see every change.
    ReadOnly,
    /// A replica may ask for a change, which the source applies and re-broadcasts.
    ReadWrite,
    /// Set when the source is created, sent once at init.
    Constant,
}

/// A property as declared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PropertyInfo {
    /// Its name.
    pub name: &'static str,
    /// Its Rust type, as written in the definition.
    pub type_name: &'static str,
    /// Who may change it.
    pub access: Access,
    /// Whether a node's persisted store saves it.
    pub persisted: bool,
}

/// A signal or slot argument as declared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ArgInfo {
    /// Its name.
    pub name: &'static str,
    /// Its Rust type, as written in the definition.
    pub type_name: &'static str,
}

/// A signal as declared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SignalInfo {
    /// Its name.
    pub name: &'static str,
    /// Its arguments, in order.
    pub args: &'static [ArgInfo],
}

/// A slot as declared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SlotInfo {
    /// Its name.
    pub name: &'static str,
    /// Its arguments, in order.
    pub args: &'static [ArgInfo],
    /// Its return type, as written (`()` when it returns nothing).
    pub returns: &'static str,
}

/// A sub-object as declared (`child tray: Tray`): a member holding another API's source.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChildInfo {
    /// Its name.
    pub name: &'static str,
    /// The child API's wire name.
    pub api: &'static str,
    /// Declared `Option<…>`: the source may hold none.
    pub optional: bool,
    /// A model (`model playlist: ListModel<Track>`, a `TableModel` or a `TreeModel`): `api`
    /// is the model adapter's (the list's, the table's or the tree's).
    pub model: bool,
}

/// Something done with the API of one child member, whose type only the generated code
/// knows: [`RemoteObject::visit_child`] calls [`ChildVisitor::visit`] with it.
pub trait ChildVisitor {
    /// What the visit gives back.
    type Output;
    /// Called with the child's API.
    fn visit<C: RemoteObject>(self) -> Self::Output;
    /// Called for a model member, with its row type.
    fn visit_model<R: crate::adapter::ModelRow>(self) -> Self::Output;
    /// Called for a table model member (a list shown as a table), with its row type.
    fn visit_table<R: crate::adapter::ModelRow>(self) -> Self::Output;
    /// Called for a tree model member, with its row type.
    fn visit_tree<R: crate::adapter::ModelRow>(self) -> Self::Output;
}

/// An API: the marker type `remote_object!` generates. It knows the API's wire identity,
/// its members, and how to encode and decode its values without any connection.
pub trait RemoteObject: Sized + Send + Sync + 'static {
    /// The wire name, as given in the definition.
    const NAME: &'static str;
    /// A stable hash of the definition as written: the names, type names, order and flags of
    /// every member. Replicas and sources compare [`RemoteObject::signature`], which also
    /// covers what those types are.
    const SIGNATURE: u64;
    /// The properties, in index order.
    const PROPERTIES: &'static [PropertyInfo];
    /// The signals, in index order.
    const SIGNALS: &'static [SignalInfo];
    /// The slots, in index order.
    const SLOTS: &'static [SlotInfo];
    /// The sub-objects, in index order.
    const CHILDREN: &'static [ChildInfo];

    /// Every property's value: the source's state and the replica's cache.
    type Properties: Clone + Default + Debug + Send + Sync + 'static;
    /// One property's new value, named by the property.
    type PropertyChange: Clone + Debug + Send + Message<Result = ()> + 'static;
    /// One emitted signal with its arguments.
    type Signal: Clone + Debug + Send + Message<Result = ()> + 'static;
    /// The generated `SimpleSource`, which a source actor holds.
    type SimpleSource: Clone + Send + Sync + 'static;

    /// Encodes every property, in index order.
    fn encode_properties(
        props: &Self::Properties,
        enc: Encoding,
    ) -> Result<Vec<Bytes>, EncodeError>;
    /// Decodes a full snapshot; the caller has checked there is one value per property.
    fn decode_properties(values: &[Bytes], enc: Encoding) -> Result<Self::Properties, DecodeError>;
    /// Decodes one property's value; `None` for an index out of range.
    fn decode_property(
        index: u16,
        value: &[u8],
        enc: Encoding,
    ) -> Option<Result<Self::PropertyChange, DecodeError>>;
    /// Stores a change into a set of properties.
    fn apply_change(props: &mut Self::Properties, change: Self::PropertyChange);
    /// The current value of property `index` as a change; `None` for an index out of range.
    fn property_change(props: &Self::Properties, index: u16) -> Option<Self::PropertyChange>;
    /// Decodes one signal's arguments; `None` for an index out of range.
    fn decode_signal(
        index: u16,
        args: &[u8],
        enc: Encoding,
    ) -> Option<Result<Self::Signal, DecodeError>>;
    /// The API described at run time, with every type it uses traced from its serde impls.
    fn schema() -> Result<crate::values::ApiSchema, crate::values::SchemaError>;

    /// For an API imported from a `.rep` file: the file's text and the class's name, which
    /// give Qt nodes repc's exact signature and types.
    #[doc(hidden)]
    fn qt_rep() -> Option<(&'static str, &'static str)> {
        None
    }

    /// The enums declared inside the API, with the Qt value of each key.
    #[doc(hidden)]
    fn qt_enums() -> &'static [(&'static str, &'static [(&'static str, i32)])] {
        &[]
    }

    /// The signature a replica and its source must share: a hash of the whole
    /// [`schema`](RemoteObject::schema) — every member, and the structure of every type the
    /// API uses (field names and types, variants and their payloads, recursively) — so a
    /// struct changed on one side is a mismatch, not values shown under the wrong names.
    /// Computed once per API (generated with a cache); falls back to
    /// [`SIGNATURE`](RemoteObject::SIGNATURE) for an API whose types cannot be traced.
    fn signature() -> u64;

    /// Calls `visitor` with the API of child `index`; `None` for an index out of range.
    fn visit_child<V: ChildVisitor>(index: u16, visitor: V) -> Option<V::Output>;

    /// Applies a replica's request to set property `index` through the source's setter.
    fn set_from_remote(
        source: &Self::SimpleSource,
        index: u16,
        value: &[u8],
        enc: Encoding,
    ) -> Result<(), SetPropertyError>;
}

/// A replica's request to set a property was refused.
#[derive(Debug, thiserror::Error)]
pub enum SetPropertyError {
    /// No property has that index.
    #[error("no property has index {0}")]
    UnknownProperty(u16),
    /// The property is not read-write.
    #[error("property {0:?} is not read-write")]
    NotWritable(&'static str),
    /// The value did not decode as the property's type.
    #[error(transparent)]
    Decode(#[from] DecodeError),
    /// The source could not re-encode the value.
    #[error("{0}")]
    Source(String),
    /// The property is `checked`: its writes go to the source actor (`Hostable::write`).
    #[error("property {0:?} is checked by its source")]
    Checked(&'static str),
}

/// A slot's message: its fields are the slot's arguments, sent to a source actor (which
/// handles it) or to a replica (which forwards it).
pub trait Slot:
    Message<Result = SlotResult<Self::Output>> + Serialize + DeserializeOwned + Send + 'static
{
    /// The API it belongs to.
    type Api: RemoteObject;
    /// What the slot returns (`()` for none).
    type Output: Serialize + DeserializeOwned + Send + 'static;
    /// Its index in the definition.
    const INDEX: u16;
}

/// A signal's own message type, for subscribing to one signal only.
pub trait SignalType: Clone + Send + Message<Result = ()> + 'static {
    /// The API it belongs to.
    type Api: RemoteObject;
    /// This signal, if `signal` is one.
    fn from_signal(signal: &<Self::Api as RemoteObject>::Signal) -> Option<Self>;
}

pub use crate::proto::SlotFuture;

/// Why a host could not hand an invocation to the source.
#[derive(Debug, thiserror::Error)]
pub enum InvokeError {
    /// No slot has that index.
    #[error("no slot has index {0}")]
    UnknownSlot(u16),
    /// The arguments did not decode as the slot's message.
    #[error("arguments of slot {slot:?} do not decode: {source}")]
    BadArguments {
        /// The slot's name.
        slot: &'static str,
        /// Why.
        source: DecodeError,
    },
    /// The source actor has stopped; the host withdraws the source.
    #[error("the source actor has stopped")]
    Stopped,
}

impl From<Access> for crate::values::schema::AccessFlag {
    fn from(access: Access) -> crate::values::schema::AccessFlag {
        match access {
            Access::ReadOnly => crate::values::schema::AccessFlag::ReadOnly,
            Access::ReadWrite => crate::values::schema::AccessFlag::ReadWrite,
            Access::Constant => crate::values::schema::AccessFlag::Constant,
        }
    }
}
