//! `aro`: inspect and drive actix-remote-objects sources from the command line, in the
//! spirit of `busctl` for D-Bus. Built on dynamic replicas: no compile-time types needed.
//!
//! ```text
//! aro list URL                               sources a host (or registry) offers, with their APIs
//! aro get URL SOURCE [PROPERTY]              property values (and children's) as JSON
//! aro watch URL SOURCE                       property changes and signals until interrupted
//! aro call URL SOURCE SLOT [JSON-ARG]...     call a slot, print its result as JSON
//! aro set URL SOURCE PROPERTY JSON           set a read-write property
//! aro schema URL SOURCE                      a source's API as JSON (what `serve` reads)
//! aro wait URL SOURCE                        wait until a source is up (within --timeout)
//! aro serve URL SCHEMA.json [--name NAME]    serve a mock source of that API
//! ```
//! `aro serve` prints each call and write it receives as one JSON line, answers calls with
//! their result type's default, applies writes, and reads commands from stdin:
//! `set PROPERTY JSON` and `emit SIGNAL [JSON-ARG]...`.
//! A SOURCE may name a sub-object of an offered source: `Office.tray` (and `.member` on).
//! Exit status: 0 on success, 1 when the operation failed (unreachable host, unknown source
//! or member, bad JSON, a refused call), 2 for a bad command line.

use std::process::ExitCode;
use std::time::Duration;

use actix_remote_objects::dynamic::{ApiSchema, DynamicEvent, DynamicReplica, Value};
use actix_remote_objects::prelude::*;
use clap::{Parser, Subcommand};
use futures::StreamExt;
use serde_json::Value as Json;

mod serve;

/// Inspect and drive actix-remote-objects sources: list them, read and watch their
/// properties, call their slots.
#[derive(Parser)]
#[command(name = "aro", version)]
struct Cli {
    /// How long to wait for a host or a source, in seconds.
    #[arg(long, global = true, default_value_t = 5.0)]
    timeout: f64,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// List the sources a host offers, with their APIs (and, for a registry, what the
    /// network offers).
    List {
        /// The host: tcp://HOST:PORT or local:NAME.
        url: String,
    },
    /// Print property values as JSON: one property, or all of them as an object.
    Get {
        /// The host: tcp://HOST:PORT or local:NAME.
        url: String,
        /// The name the source is remoted under.
        source: String,
        /// One property (all if omitted).
        property: Option<String>,
    },
    /// Print the current values, then every property change and signal, until interrupted.
    Watch {
        /// The host: tcp://HOST:PORT or local:NAME.
        url: String,
        /// The name the source is remoted under.
        source: String,
    },
    /// Call a slot with JSON arguments and print its result as JSON.
    Call {
        /// The host: tcp://HOST:PORT or local:NAME.
        url: String,
        /// The name the source is remoted under.
        source: String,
        /// The slot.
        slot: String,
        /// One JSON value per argument, in order (e.g. '"report.pdf"' or '{"x": 1}').
        args: Vec<String>,
    },
    /// Set a read-write property to a JSON value and print it once the source applied it.
    Set {
        /// The host: tcp://HOST:PORT or local:NAME.
        url: String,
        /// The name the source is remoted under.
        source: String,
        /// The property.
        property: String,
        /// Its new value, as JSON.
        value: String,
    },
    /// Wait until a source is offered and initialized (up to --timeout), then print
    /// `Valid`; fails if it does not come in time.
    Wait {
        /// The host: tcp://HOST:PORT or local:NAME.
        url: String,
        /// The name the source is remoted under.
        source: String,
    },
    /// Print a source's API as JSON: the schema `aro serve` reads.
    Schema {
        /// The host: tcp://HOST:PORT or local:NAME.
        url: String,
        /// The name the source is remoted under.
        source: String,
    },
    /// Serve a mock source of the API a JSON schema describes, until interrupted: calls
    /// and writes are printed as JSON lines; stdin takes `set PROPERTY JSON` and
    /// `emit SIGNAL [JSON-ARG]...`.
    Serve {
        /// Where to listen: tcp://HOST:PORT (port 0 for any free one) or local:NAME.
        url: String,
        /// The schema, as `aro schema` prints it.
        schema: std::path::PathBuf,
        /// The name to serve it under (the API's name if omitted).
        #[arg(long)]
        name: Option<String>,
    },
}

/// A failure to report: the message goes to stderr and the exit status is 1.
pub(crate) struct Failure(String);

impl<E: std::fmt::Display> From<E> for Failure {
    fn from(error: E) -> Failure {
        Failure(error.to_string())
    }
}

pub(crate) fn fail<T>(message: impl Into<String>) -> Result<T, Failure> {
    Err(Failure(message.into()))
}

#[actix::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let timeout = Duration::from_secs_f64(cli.timeout.max(0.0));
    let result = match cli.command {
        Command::List { url } => list(&url, timeout).await,
        Command::Get {
            url,
            source,
            property,
        } => get(&url, &source, property.as_deref(), timeout).await,
        Command::Watch { url, source } => watch(&url, &source, timeout).await,
        Command::Call {
            url,
            source,
            slot,
            args,
        } => call(&url, &source, &slot, &args, timeout).await,
        Command::Set {
            url,
            source,
            property,
            value,
        } => set(&url, &source, &property, &value, timeout).await,
        Command::Schema { url, source } => schema(&url, &source, timeout).await,
        Command::Wait { url, source } => wait(&url, &source, timeout).await,
        Command::Serve { url, schema, name } => serve::run(&url, &schema, name.as_deref()).await,
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure(message)) => {
            eprintln!("aro: {message}");
            ExitCode::FAILURE
        }
    }
}

async fn connect(url: &str, timeout: Duration) -> Result<Node, Failure> {
    let config = NodeConfig::default().handshake_timeout(timeout);
    match tokio::time::timeout(timeout, Node::connect_with(url, config)).await {
        Ok(Ok(node)) => Ok(node),
        Ok(Err(error)) => fail(format!("cannot connect to {url}: {error}")),
        Err(_) => fail(format!(
            "cannot connect to {url}: no answer within {timeout:?}"
        )),
    }
}

/// A dynamic replica of `source`, initialized; a clear error if the host does not offer it.
/// `Parent.member` (and further `.member`s) names a child of an offered source.
async fn replica(
    node: &Node,
    url: &str,
    source: &str,
    timeout: Duration,
) -> Result<DynamicReplica, Failure> {
    let offered = node.offered_sources().await?;
    let root = std::iter::once(source)
        .chain(source.rmatch_indices('.').map(|(i, _)| &source[..i]))
        .find(|name| offered.iter().any(|o| o.name == *name));
    let Some(root) = root else {
        let names: Vec<&str> = offered.iter().map(|o| o.name.as_str()).collect();
        return fail(format!(
            "{url} offers no source named {source:?} (it offers: {})",
            names.join(", ")
        ));
    };
    let mut replica = node.acquire_dynamic(root);
    if let Err(error) = replica.wait_for_source(timeout).await {
        return fail(format!(
            "source {root:?} did not initialize: {error} (can its host describe it? see its log)"
        ));
    }
    let path = source[root.len()..].trim_start_matches('.');
    for member in path.split('.').filter(|m| !m.is_empty()) {
        replica = child_of(&replica, member)?;
    }
    Ok(replica)
}

/// The replica of child `member` of `parent`, or why there is none.
fn child_of(parent: &DynamicReplica, member: &str) -> Result<DynamicReplica, Failure> {
    if let Some(child) = parent.child(member) {
        return Ok(child);
    }
    let schema = schema_of(parent)?;
    let name = parent.source_name();
    if schema.children.iter().any(|c| c.name == member) {
        return fail(format!("{name}.{member} holds no source now"));
    }
    let children: Vec<&str> = schema.children.iter().map(|c| c.name.as_str()).collect();
    fail(format!(
        "{name} has no child {member:?} (its children: {})",
        if children.is_empty() {
            "none".to_owned()
        } else {
            children.join(", ")
        }
    ))
}

/// Every property's value, and every child member's (`null` when it holds none), as one
/// JSON object.
fn values_json(replica: &DynamicReplica) -> Result<Json, Failure> {
    let mut all: serde_json::Map<String, Json> = replica
        .properties()?
        .into_iter()
        .map(|(name, value)| (name, value.to_json()))
        .collect();
    for member in &schema_of(replica)?.children {
        let value = match replica.child(&member.name) {
            Some(child) => values_json(&child)?,
            None => Json::Null,
        };
        all.insert(member.name.clone(), value);
    }
    Ok(Json::Object(all))
}

fn schema_of(replica: &DynamicReplica) -> Result<std::sync::Arc<ApiSchema>, Failure> {
    replica
        .schema()
        .ok_or_else(|| Failure("the source's API is unknown".into()))
}

fn print_api(name: &str, schema: &ApiSchema) {
    println!(
        "{name} (API {}, signature {:#018x})",
        schema.api, schema.signature
    );
    for p in &schema.properties {
        let access = match p.access {
            actix_remote_objects::dynamic::schema::AccessFlag::ReadOnly => "read_only",
            actix_remote_objects::dynamic::schema::AccessFlag::ReadWrite => "read_write",
            actix_remote_objects::dynamic::schema::AccessFlag::Constant => "constant",
        };
        let persisted = if p.persisted { ", persisted" } else { "" };
        println!("  prop {}: {} ({access}{persisted})", p.name, p.type_name);
    }
    let args = |args: &[actix_remote_objects::dynamic::schema::Field]| {
        args.iter()
            .map(|a| format!("{}: {}", a.name, a.format))
            .collect::<Vec<_>>()
            .join(", ")
    };
    for s in &schema.signals {
        println!("  signal {}({})", s.name, args(&s.args));
    }
    for s in &schema.slots {
        let returns = match &s.returns {
            actix_remote_objects::dynamic::TypeFormat::Unit => String::new(),
            other => format!(" -> {other}"),
        };
        println!("  slot {}({}){returns}", s.name, args(&s.args));
    }
    for c in &schema.children {
        let api = if c.optional {
            format!("Option<{}>", c.api.api)
        } else {
            c.api.api.clone()
        };
        println!("  child {}: {api}", c.name);
    }
}

async fn list(url: &str, timeout: Duration) -> Result<(), Failure> {
    let node = connect(url, timeout).await?;
    let offered = node.offered_sources().await?;
    if offered.is_empty() {
        println!("{url} offers no sources");
    }
    for info in &offered {
        let replica = node.acquire_dynamic(&info.name);
        match replica.wait_for_source(timeout).await {
            Ok(()) => print_api(&info.name, &*schema_of(&replica)?),
            Err(error) => println!(
                "{} (API {}, signature {:#018x}): cannot describe: {error}",
                info.name, info.api, info.signature
            ),
        }
        if info.name == "Registry" {
            if let Ok(Value::Map(entries)) = replica.property("sources") {
                println!("  the network offers:");
                for (name, location) in entries {
                    let location = location.to_json();
                    println!(
                        "    {} (API {}) at {}",
                        name.to_json().as_str().unwrap_or("?"),
                        location["api"].as_str().unwrap_or("?"),
                        location["host_url"].as_str().unwrap_or("?")
                    );
                }
            }
        }
    }
    node.shutdown().await;
    Ok(())
}

fn pretty(json: &Json) -> String {
    serde_json::to_string_pretty(json).unwrap_or_else(|_| json.to_string())
}

async fn get(
    url: &str,
    source: &str,
    property: Option<&str>,
    timeout: Duration,
) -> Result<(), Failure> {
    let node = connect(url, timeout).await?;
    let replica = replica(&node, url, source, timeout).await?;
    match property {
        Some(name) => match replica.property(name) {
            Ok(value) => println!("{}", pretty(&value.to_json())),
            Err(_) => return unknown_property(source, name, &*schema_of(&replica)?),
        },
        None => println!("{}", pretty(&values_json(&replica)?)),
    }
    node.shutdown().await;
    Ok(())
}

/// The failure for a property `source` does not have, naming the ones it has.
fn unknown_property<T>(source: &str, property: &str, schema: &ApiSchema) -> Result<T, Failure> {
    let names: Vec<&str> = schema.properties.iter().map(|p| p.name.as_str()).collect();
    fail(format!(
        "{source} has no property named {property:?} (its properties: {})",
        names.join(", ")
    ))
}

/// Waits until `source` is initialized, then prints its state: for scripts that must not
/// go on before a source is up.
async fn wait(url: &str, source: &str, timeout: Duration) -> Result<(), Failure> {
    let node = connect(url, timeout).await?;
    // Not `replica()`: the source may be enabled after we ask.
    let replica = node.acquire_dynamic(source);
    match replica.wait_for_source(timeout).await {
        Ok(()) => println!("{:?}", replica.state()),
        Err(error) => return fail(format!("source {source:?} did not come up: {error}")),
    }
    node.shutdown().await;
    Ok(())
}

fn print_event(event: &DynamicEvent) {
    match event {
        DynamicEvent::PropertyChanged { name, value } => println!("{name} = {}", value.to_json()),
        DynamicEvent::Signal { name, args } => {
            let args: serde_json::Map<String, Json> =
                args.iter().map(|(n, v)| (n.clone(), v.to_json())).collect();
            println!("signal {name} {}", Json::Object(args));
        }
        DynamicEvent::ChildChanged { child } => println!("child {child} changed"),
        DynamicEvent::Lagged { lost } => {
            eprintln!("aro: fell behind the source; {lost} signals were dropped")
        }
        other => eprintln!("aro: {other:?}"),
    }
}

async fn watch(url: &str, source: &str, timeout: Duration) -> Result<(), Failure> {
    let node = connect(url, timeout).await?;
    let replica = replica(&node, url, source, timeout).await?;
    let mut events = replica.events();
    let mut states = replica.state_changes();
    for (name, value) in replica.properties()? {
        println!("{name} = {}", value.to_json());
    }
    loop {
        tokio::select! {
            _ = tokio::signal::ctrl_c() => break,
            event = events.next() => match event {
                Some(event) => print_event(&event),
                None => break,
            },
            state = states.next() => match state {
                Some(ReplicaState::Suspect) => eprintln!("aro: connection to the source lost; reconnecting"),
                Some(ReplicaState::Valid) => {}
                Some(_) => {}
                None => break,
            },
        }
    }
    node.shutdown().await;
    Ok(())
}

pub(crate) fn parse_json(what: &str, text: &str) -> Result<Json, Failure> {
    serde_json::from_str(text)
        .map_err(|e| Failure(format!("{what} is not valid JSON ({e}): {text}")))
}

async fn call(
    url: &str,
    source: &str,
    slot: &str,
    args: &[String],
    timeout: Duration,
) -> Result<(), Failure> {
    let node = connect(url, timeout).await?;
    let replica = replica(&node, url, source, timeout).await?;
    let schema = schema_of(&replica)?;
    let Some((_, member)) = schema.slot(slot) else {
        let names: Vec<&str> = schema.slots.iter().map(|s| s.name.as_str()).collect();
        return fail(format!(
            "{source} has no slot named {slot:?} (its slots: {})",
            names.join(", ")
        ));
    };
    if args.len() != member.args.len() {
        return fail(format!(
            "slot {slot} takes {} argument(s), {} given",
            member.args.len(),
            args.len()
        ));
    }
    let mut values = Vec::with_capacity(args.len());
    for (text, field) in args.iter().zip(&member.args) {
        let json = parse_json(&format!("argument {}", field.name), text)?;
        let value = Value::from_json(&json, &field.format, &schema.types)
            .map_err(|e| Failure(format!("argument {} ({}): {e}", field.name, field.format)))?;
        values.push(value);
    }
    let result = tokio::time::timeout(timeout, replica.call(slot, values))
        .await
        .map_err(|_| Failure(format!("no reply within {timeout:?}")))??;
    println!("{}", pretty(&result.to_json()));
    node.shutdown().await;
    Ok(())
}

async fn set(
    url: &str,
    source: &str,
    property: &str,
    value: &str,
    timeout: Duration,
) -> Result<(), Failure> {
    let node = connect(url, timeout).await?;
    let replica = replica(&node, url, source, timeout).await?;
    let schema = schema_of(&replica)?;
    let Some((_, prop)) = schema.property(property) else {
        return unknown_property(source, property, &schema);
    };
    let json = parse_json("the value", value)?;
    let value = Value::from_json(&json, &prop.format, &schema.types)
        .map_err(|e| Failure(format!("the value ({}): {e}", prop.format)))?;
    if replica.property(property)? == value {
        println!("{}", pretty(&value.to_json()));
        return Ok(());
    }
    let mut events = replica.events();
    replica.set_property(property, &value)?;
    let applied = tokio::time::timeout(timeout, async {
        while let Some(event) = events.next().await {
            if let DynamicEvent::PropertyChanged { name, value } = event {
                if name == property {
                    return Some(value);
                }
            }
        }
        None
    })
    .await;
    match applied {
        Ok(Some(value)) => println!("{}", pretty(&value.to_json())),
        _ => {
            return fail(format!(
                "the source did not apply the new value of {property} within {timeout:?}"
            ))
        }
    }
    node.shutdown().await;
    Ok(())
}

async fn schema(url: &str, source: &str, timeout: Duration) -> Result<(), Failure> {
    let node = connect(url, timeout).await?;
    let replica = replica(&node, url, source, timeout).await?;
    let schema = schema_of(&replica)?;
    println!("{}", serde_json::to_string_pretty(&*schema)?);
    node.shutdown().await;
    Ok(())
}
