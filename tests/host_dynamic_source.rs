//! A `DynamicSource`: an API built at run time, served to typed replicas of a matching API
//! (byte for byte: they decode its values, signals and replies) and to dynamic ones; its
//! calls and writes handled by a closure or an actor.

mod support;

use actix::prelude::*;
use actix_remote_objects::dynamic::{
    ApiSchema, DynamicCall, DynamicEvent, DynamicSource, DynamicWrite, Value,
};
use actix_remote_objects::prelude::*;
use support::printer_api::{printer, Printer, Status};
use support::*;

use printer::ReplicaExt;

fn printer_schema() -> ApiSchema {
    Printer::schema().expect("the printer API describes itself")
}

fn printing(job: u64, doc: &str) -> Value {
    Value::Variant {
        name: "Printing".into(),
        value: Box::new(Value::Struct(vec![
            ("job".into(), Value::UInt(job)),
            ("doc".into(), Value::Str(doc.into())),
        ])),
    }
}

/// A dynamic printer whose `print` slot is a closure that sets the status and answers 7,
/// and whose `jam` slot emits the signal.
fn dynamic_printer() -> DynamicSource {
    let source = DynamicSource::new(printer_schema()).unwrap();
    source.with_call_handler(|call: DynamicCall| async move {
        match (call.slot.as_str(), call.args.as_slice()) {
            ("print", [(_, Value::Str(doc))]) => {
                call.source
                    .set("status", printing(7, doc))
                    .map_err(SlotError::source)?;
                Ok(Value::UInt(7))
            }
            ("jam", [(_, tray)]) => {
                call.source
                    .emit("paper_jam", vec![tray.clone()])
                    .map_err(SlotError::source)?;
                Ok(Value::Unit)
            }
            ("fail", [(_, Value::Str(reason))]) => Err(SlotError::source(reason)),
            (other, _) => Err(SlotError::source(format!("{other} is not mocked"))),
        }
    })
}

async fn a_typed_replica_works_against_a_dynamic_source(url: &str) {
    let _guard = init();
    let host = Host::listen(url).await.unwrap();
    let source = dynamic_printer();
    source.set("ink_level", Value::UInt(42)).unwrap();
    source.set("model", Value::Str("Mock".into())).unwrap();
    host.enable_remoting_dynamic(&source).await.unwrap();

    let node = Node::connect(host.url().unwrap()).await.unwrap();
    let replica = node.acquire::<Printer>();
    replica.wait_for_source(TIMEOUT).await.unwrap();
    assert_eq!(replica.ink_level(), 42, "the init decoded as the typed API");
    assert_eq!(replica.model(), "Mock");
    assert_eq!(
        replica.status(),
        Status::Idle,
        "an enum's default is its first variant"
    );

    let mut changes = replica.property_changes();
    let mut signals = replica.signals();
    assert_eq!(
        replica
            .call(printer::Print {
                doc: "a.pdf".into()
            })
            .await,
        Ok(7),
        "the closure's answer, encoded as the slot's u32"
    );
    let change = next(&mut changes).await;
    assert!(
        matches!(&change, printer::PropertyChange::Status(Status::Printing { job: 7, doc }) if doc == "a.pdf"),
        "{change:?}"
    );
    replica.call(printer::Jam { tray: 3 }).await.unwrap();
    assert!(matches!(next(&mut signals).await, printer::Signal::PaperJam(j) if j.tray == 3));
    assert_eq!(
        replica
            .call(printer::Fail {
                reason: "no toner".into()
            })
            .await,
        Err(SlotError::Source("no toner".into()))
    );
    // An unchecked write is applied, and the source holds it.
    assert_eq!(replica.set_name("hall".into()).await, Ok("hall".into()));
    assert_eq!(source.get("name").unwrap(), Value::Str("hall".into()));
    host.shutdown().await;
}

async fn writes_are_checked_by_the_source_and_every_replica_agrees(url: &str) {
    let _guard = init();
    let host = Host::listen(url).await.unwrap();
    let source = DynamicSource::new(printer_schema())
        .unwrap()
        .with_write_check(|write: DynamicWrite| async move {
            match write.value {
                Value::Str(name) if name.is_empty() => Err(SlotError::source("a name is needed")),
                Value::Str(name) => Ok(Value::Str(name.to_uppercase())),
                other => Ok(other),
            }
        });
    host.enable_remoting_dynamic(&source).await.unwrap();
    let (n1, n2) = (
        Node::connect(host.url().unwrap()).await.unwrap(),
        Node::connect(host.url().unwrap()).await.unwrap(),
    );
    let typed = n1.acquire::<Printer>();
    let dynamic = n2.acquire_dynamic("Printer");
    typed.wait_for_source(TIMEOUT).await.unwrap();
    dynamic.wait_for_source(TIMEOUT).await.unwrap();
    let mut seen = dynamic.events();

    assert_eq!(
        typed.set_name("lab".into()).await,
        Ok("LAB".into()),
        "adjusted"
    );
    assert_eq!(
        typed.set_name(String::new()).await,
        Err(SlotError::Rejected("a name is needed".into())),
        "refused with the source's reason"
    );
    assert_eq!(typed.name(), "LAB");
    let event = next(&mut seen).await;
    assert!(
        matches!(&event, DynamicEvent::PropertyChanged { name, value, .. } if name == "name" && *value == Value::Str("LAB".into())),
        "{event:?}"
    );
    assert_eq!(dynamic.property("name").unwrap(), Value::Str("LAB".into()));
    host.shutdown().await;
}

/// Answers `print` with the length of the document.
struct Spooler;

impl Actor for Spooler {
    type Context = Context<Self>;
}

impl Handler<DynamicCall> for Spooler {
    type Result = Result<Value, SlotError>;
    fn handle(&mut self, call: DynamicCall, _: &mut Context<Self>) -> Self::Result {
        match call.args.first() {
            Some((_, Value::Str(doc))) => Ok(Value::UInt(doc.len() as u64)),
            _ => Err(SlotError::source("unexpected call")),
        }
    }
}

async fn an_actor_handles_the_calls_of_a_dynamic_replica(url: &str) {
    let _guard = init();
    let host = Host::listen(url).await.unwrap();
    let source = DynamicSource::new(printer_schema())
        .unwrap()
        .with_call_recipient(Spooler.start().recipient());
    host.enable_remoting_dynamic_as(&source, "spooler")
        .await
        .unwrap();
    let node = Node::connect(host.url().unwrap()).await.unwrap();
    let replica = node.acquire_dynamic("spooler");
    replica.wait_for_source(TIMEOUT).await.unwrap();
    assert_eq!(
        replica
            .call("print", vec![Value::Str("four".into())])
            .await
            .unwrap(),
        Value::UInt(4)
    );
    assert_eq!(source.subscriber_count(), 1);
    host.shutdown().await;
}

async fn a_dynamic_source_that_differs_is_a_named_signature_mismatch(url: &str) {
    let _guard = init();
    let host = Host::listen(url).await.unwrap();
    let mut schema = printer_schema();
    schema.properties[2].name = "title".into();
    let source = DynamicSource::new(schema).unwrap();
    host.enable_remoting_dynamic(&source).await.unwrap();
    let node = Node::connect(host.url().unwrap()).await.unwrap();
    let replica = node.acquire::<Printer>();
    let error = replica.wait_for_source(TIMEOUT).await.unwrap_err();
    assert!(error.is_signature_mismatch(), "{error}");
    assert!(
        error.to_string().contains("title"),
        "names the difference: {error}"
    );
    host.shutdown().await;
}

over_tcp_and_unix!(
    a_typed_replica_works_against_a_dynamic_source,
    writes_are_checked_by_the_source_and_every_replica_agrees,
    an_actor_handles_the_calls_of_a_dynamic_replica,
    a_dynamic_source_that_differs_is_a_named_signature_mismatch,
);

#[test]
fn its_signature_is_the_typed_apis_and_a_bad_value_changes_nothing() {
    let source = DynamicSource::new(printer_schema()).unwrap();
    assert_eq!(source.schema().signature, Printer::signature());
    let refused = source.set("ink_level", Value::Str("full".into()));
    assert!(refused.is_err(), "{refused:?}");
    assert_eq!(source.get("ink_level").unwrap(), Value::UInt(0));
    assert!(
        source.emit("paper_jam", vec![]).is_err(),
        "one argument is needed"
    );
    assert!(source.set("nonexistent", Value::Unit).is_err());
}
