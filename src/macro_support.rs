//! Items the generated code uses; not part of the public API.

pub use crate::api::{
    ArgInfo, ChildInfo, ChildVisitor, InvokeError, PropertyInfo, SetPropertyError, SignalInfo,
    SlotFuture, SlotInfo,
};
pub use crate::proto::WriteFuture;
pub use crate::source::{AsSourceState, Hostable, SourceState};
pub use crate::values::schema::{
    AccessFlag, ApiSchema, ChildSchema, Field, MemberSchema, PropertySchema, SchemaBuilder,
    SchemaError, TypeFormat,
};
pub use crate::wire::{fnv1a, DecodeError, EncodeError, Encoding, FailureKind, RemoteFailure};
pub use actix;
pub use bytes::Bytes;
pub use serde;

use crate::api::Slot;
use actix::{Actor, Addr, Handler};

/// Sends a decoded slot message to a source actor and encodes its outcome.
pub fn call_slot<A, M>(addr: &Addr<A>, msg: M, enc: Encoding) -> SlotFuture
where
    A: Actor<Context = actix::Context<A>> + Handler<M>,
    M: Slot,
{
    // `addr` is a sender of its own where the mailbox could fill (see
    // `source::hosted::Sender`).
    let sent = addr.send(msg);
    Box::pin(async move {
        let failure = |kind, message| RemoteFailure { kind, message };
        match sent.await {
            Ok(Ok(value)) => enc
                .encode_transient(&value)
                .map_err(|e| failure(FailureKind::Source, e.to_string())),
            // Send the source's own words, not our Display prefix, so the caller's
            // `SlotError::Source` reads as the source wrote it.
            Ok(Err(crate::SlotError::Source(reason))) => Err(failure(FailureKind::Source, reason)),
            Ok(Err(error)) => Err(failure(FailureKind::Source, error.to_string())),
            Err(_) => Err(failure(
                FailureKind::Rejected,
                "the source actor has stopped".to_owned(),
            )),
        }
    })
}

/// The signature of an API with `schema` (its declaration hashed as `declared`): see
/// [`ApiSchema::structural_signature`]. Falls back to `declared` for an API whose types
/// cannot be described.
pub fn structural_signature(schema: Result<ApiSchema, SchemaError>, declared: u64) -> u64 {
    match schema
        .map_err(|e| e.to_string())
        .and_then(|schema| schema.structural_signature())
    {
        Ok(signature) => signature,
        Err(error) => {
            tracing::warn!(%error, "cannot describe an API's types; its signature covers its declaration only");
            declared
        }
    }
}

/// The description of child `name` of API `parent`, whose API is `C`. An API nested in
/// itself (directly or further down) is refused: its description would never end.
pub fn child_schema<C: crate::RemoteObject>(
    parent: &'static str,
    name: &'static str,
    optional: bool,
) -> Result<ChildSchema, SchemaError> {
    thread_local! {
        static DESCRIBING: std::cell::RefCell<Vec<&'static str>> = const { std::cell::RefCell::new(Vec::new()) };
    }
    let nested = DESCRIBING.with(|stack| {
        let mut stack = stack.borrow_mut();
        if stack.is_empty() {
            stack.push(parent);
        }
        let nested = stack.contains(&C::NAME);
        stack.push(C::NAME);
        nested
    });
    let api = if nested {
        Err(SchemaError::recursive_child(C::NAME, name))
    } else {
        C::schema()
    };
    DESCRIBING.with(|stack| {
        let mut stack = stack.borrow_mut();
        stack.pop();
        if stack.len() == 1 {
            stack.clear();
        }
    });
    Ok(ChildSchema {
        name: name.to_owned(),
        optional,
        api: api?,
        model: false,
    })
}

/// The description of model member `name`, whose rows are `R`: the model adapter's API
/// with the row type filled in.
pub fn model_schema<R: crate::adapter::ModelRow>(
    name: &'static str,
) -> Result<ChildSchema, SchemaError> {
    Ok(ChildSchema {
        name: name.to_owned(),
        optional: false,
        api: crate::adapter::described::<R>()?,
        model: true,
    })
}

/// The model adapter's wire name, for a model member's [`ChildInfo`].
pub const MODEL_API: &str = crate::adapter::API_NAME;

/// The description of tree model member `name`, whose rows are `R`: the tree adapter's API
/// with the row type filled in.
pub fn tree_schema<R: crate::adapter::ModelRow>(
    name: &'static str,
) -> Result<ChildSchema, SchemaError> {
    Ok(ChildSchema {
        name: name.to_owned(),
        optional: false,
        api: crate::adapter::tree_described::<R>()?,
        model: true,
    })
}

/// The description of table model member `name`, whose rows are `R`.
pub fn table_schema<R: crate::adapter::ModelRow>(
    name: &'static str,
) -> Result<ChildSchema, SchemaError> {
    Ok(ChildSchema {
        name: name.to_owned(),
        optional: false,
        api: crate::adapter::form_described::<R>(crate::adapter::Form::Table)?,
        model: true,
    })
}

/// The table adapter's wire name, for a table model member's [`ChildInfo`].
pub const TABLE_API: &str = crate::adapter::TABLE_API_NAME;

/// The tree adapter's wire name, for a tree model member's [`ChildInfo`].
pub const TREE_API: &str = crate::adapter::TREE_API_NAME;

/// What a source actor answered to a `checked` write: the value to set (through `set`, so
/// every replica sees it in order) or its refusal, as the replica will read it.
pub fn apply_write<T>(
    answer: Result<crate::SlotResult<T>, actix::MailboxError>,
    set: impl FnOnce(T) -> Result<bool, crate::Error>,
) -> Result<(), String> {
    match answer {
        Ok(Ok(value)) => set(value).map(|_| ()).map_err(|e| e.to_string()),
        Ok(Err(crate::SlotError::Source(reason))) => Err(reason),
        Ok(Err(error)) => Err(error.to_string()),
        Err(_) => Err("the source actor has stopped".to_owned()),
    }
}

/// A push slot's outcome as its reply: `()` once the value was set, or the refusal.
pub fn pushed(outcome: Result<(), String>, enc: Encoding) -> Result<Bytes, RemoteFailure> {
    let failure = |message| RemoteFailure {
        kind: FailureKind::Source,
        message,
    };
    outcome.map_err(failure).and_then(|()| {
        enc.encode(&())
            .map(Bytes::from)
            .map_err(|e| failure(e.to_string()))
    })
}

/// Decodes a value of property `index` for the generated `decode_property`.
pub fn decode<T: serde::de::DeserializeOwned>(
    bytes: &[u8],
    enc: Encoding,
) -> Result<T, DecodeError> {
    enc.decode(bytes)
}

/// Encodes one value for the generated `encode_properties`.
pub fn encode<T: serde::Serialize>(value: &T, enc: Encoding) -> Result<Bytes, EncodeError> {
    enc.encode(value).map(Bytes::from)
}

/// A source actor that handles slot message `M`: the bound the generated code puts on a
/// source, so that a missing handler is reported in these words rather than as a bound of
/// the crate's private traits.
#[diagnostic::on_unimplemented(
    message = "the source actor `{Self}` has no handler for the slot message `{M}`",
    label = "`{Self}` does not implement `Handler<{M}>`",
    note = "a source handles every slot of its API: add `impl Handler<{M}> for {Self}` with \
            `type Result = SlotResult<R>`, R being the slot's return type (`()` for none)"
)]
pub trait HandlesSlot<M: actix::Message>: Handler<M> {}

#[diagnostic::do_not_recommend]
impl<A: Actor + Handler<M>, M: actix::Message> HandlesSlot<M> for A {}

/// A source actor that handles write message `M` of a `checked` property.
#[diagnostic::on_unimplemented(
    message = "the source actor `{Self}` has no handler for `{M}`, the writes of a checked property",
    label = "`{Self}` does not implement `Handler<{M}>`",
    note = "a `checked` property's writes reach the source as messages: add `impl Handler<{M}> \
            for {Self}` with `type Result = SlotResult<T>` (T the property's type), returning \
            the value to set, or an error to refuse the write"
)]
pub trait HandlesWrite<M: actix::Message>: Handler<M> {}

#[diagnostic::do_not_recommend]
impl<A: Actor + Handler<M>, M: actix::Message> HandlesWrite<M> for A {}

/// What a property's type must be, as one trait: the generated code reaches a property's
/// value only through these methods, so a type that lacks a bound is one error, at the
/// type, in these words (rustc reports the identical obligation once), instead of one per
/// derive and helper, spanning the whole macro call.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be the type of a property",
    label = "a property's type needs `Serialize`, `DeserializeOwned`, `Clone`, `Debug`, `Default`, `Send` and `Sync`",
    note = "for a type of your own: `#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]`"
)]
pub trait PropertyType: Sized {
    /// A copy of the value.
    fn clone_value(&self) -> Self;
    /// The value before the source sets one, when the API declares no default.
    fn default_value() -> Self;
    /// The value, for `Debug`.
    fn fmt_value(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result;
    /// The value, encoded.
    fn encode_value(&self, enc: Encoding) -> Result<Bytes, EncodeError>;
    /// The value, encoded onto `out`.
    fn encode_value_into(
        &self,
        enc: Encoding,
        out: &mut bytes::BytesMut,
    ) -> Result<(), EncodeError>;
    /// A value from its encoding.
    fn decode_value(bytes: &[u8], enc: Encoding) -> Result<Self, DecodeError>;
    /// The type's structural description.
    fn trace_value(builder: &mut SchemaBuilder) -> Result<TypeFormat, SchemaError>;
}

#[diagnostic::do_not_recommend]
impl<T> PropertyType for T
where
    T: serde::Serialize
        + serde::de::DeserializeOwned
        + Clone
        + std::fmt::Debug
        + Default
        + Send
        + Sync
        + 'static,
{
    fn clone_value(&self) -> Self {
        self.clone()
    }
    fn default_value() -> Self {
        T::default()
    }
    fn fmt_value(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(self, f)
    }
    fn encode_value(&self, enc: Encoding) -> Result<Bytes, EncodeError> {
        encode(self, enc)
    }
    fn encode_value_into(
        &self,
        enc: Encoding,
        out: &mut bytes::BytesMut,
    ) -> Result<(), EncodeError> {
        enc.encode_into(self, out)
    }
    fn decode_value(bytes: &[u8], enc: Encoding) -> Result<Self, DecodeError> {
        decode(bytes, enc)
    }
    fn trace_value(builder: &mut SchemaBuilder) -> Result<TypeFormat, SchemaError> {
        builder.trace::<T>()
    }
}

/// `Debug` by a function: for the generated `Debug` impls, which format each property
/// through [`PropertyType::fmt_value`].
pub struct DebugWith<F: Fn(&mut std::fmt::Formatter<'_>) -> std::fmt::Result>(pub F);

impl<F: Fn(&mut std::fmt::Formatter<'_>) -> std::fmt::Result> std::fmt::Debug for DebugWith<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        (self.0)(f)
    }
}
