//! `aro`: inspect and drive actix-remote-objects sources from the command line, in the
//! spirit of `busctl` for D-Bus. Built on dynamic replicas: no compile-time types needed.
//!
//! ```text
//! aro list URL                               sources a host (or registry) offers, with their APIs
//! aro list --mdns [mdns:NAME?…]              sources hosts on the LAN announce (mDNS/DNS-SD)
//! aro get URL SOURCE [PROPERTY]              property values (and children's) as JSON
//! aro watch URL SOURCE                       property changes and signals until interrupted
//! aro call URL SOURCE SLOT [JSON-ARG]...     call a slot, print its result as JSON
//! aro set URL SOURCE PROPERTY JSON           set a read-write property
//! aro schema URL SOURCE                      a source's API as JSON (what `serve` reads)
//! aro wait URL SOURCE                        wait until a source is up (within --timeout)
//! aro model URL SOURCE.MODEL size|rows|watch  a model's row count, rows (--first, --count) or diffs
//!                                            (a tree's: of the children of --parent 0/2)
//! aro monitor URL                            every source's changes and signals, until interrupted
//! aro serve URL SCHEMA.json [--name NAME]    serve a mock source of that API
//! aro completions SHELL                      a completion script for bash, zsh, fish…
//! ```
//! `--json` prints JSON for programs: one document per command, and JSON Lines with an RFC 3339
//! `time` and the `source` for `watch` and `monitor`. URL may be left out when `ARO_URL` is
//! set. Given a registry's URL, the commands that name a source find its host through the
//! registry.
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
use clap::{CommandFactory, Parser, Subcommand};
use futures::StreamExt;
use serde_json::{json, Value as Json};

mod args;
mod output;
mod serve;

use output::Output;

/// Inspect and drive actix-remote-objects sources: list them, read and watch their
/// properties, call their slots.
#[derive(Parser)]
#[command(name = "aro", version)]
struct Cli {
    /// How long to wait for a host or a source, in seconds.
    #[arg(long, global = true, default_value_t = 5.0)]
    timeout: f64,
    /// Print JSON: one document per command, JSON Lines (with timestamps) for watch and
    /// monitor.
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// List the sources a host offers, with their APIs (and, for a registry, what the
    /// network offers).
    List {
        /// The host: tcp://HOST:PORT or local:NAME (or an mdns: URL, as --mdns).
        url: Option<String>,
        /// List what hosts on the LAN announce with mDNS/DNS-SD (`mdns:`, or the mdns: URL
        /// given), as answered within a second and a half.
        #[arg(long)]
        mdns: bool,
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
    /// Print the current values, then every property change and signal of every source a
    /// host offers, until interrupted.
    Monitor {
        /// The host: tcp://HOST:PORT or local:NAME.
        url: String,
    },
    /// Print a completion script for a shell (e.g. `aro completions bash > /etc/bash_completion.d/aro`).
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
    /// A model member of a source: its row count (`size`), rows as a JSON array (`rows`,
    /// from --first, --count of them), or its diffs until interrupted (`watch`).
    Model {
        /// The host: tcp://HOST:PORT or local:NAME.
        url: String,
        /// The model: the source's name and the member's, `Player.playlist`.
        model: String,
        /// What to print.
        action: ModelAction,
        /// The first row `rows` prints.
        #[arg(long, default_value_t = 0)]
        first: u64,
        /// How many rows `rows` prints (at most).
        #[arg(long, default_value_t = 100)]
        count: u64,
        /// For a tree model: the row whose children `size` and `rows` are about, as its
        /// path of row indices (`2`, `0/3`); the top level if omitted.
        #[arg(long, value_parser = parse_path)]
        parent: Option<Path>,
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

/// What `aro model` prints.
#[derive(Clone, Copy, clap::ValueEnum)]
enum ModelAction {
    /// The row count.
    Size,
    /// Rows, as a JSON array.
    Rows,
    /// The row count, then every diff.
    Watch,
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
    let default_url = std::env::var("ARO_URL").ok();
    let cli = Cli::parse_from(args::with_default_url(
        std::env::args_os().collect(),
        default_url.as_deref(),
    ));
    let timeout = Duration::from_secs_f64(cli.timeout.max(0.0));
    let out = Output {
        json: cli.json,
        name_sources: false,
    };
    let result = match cli.command {
        Command::List { url, mdns } => match (url, mdns) {
            (Some(url), false) if !url.starts_with("mdns:") => list(&url, timeout, out).await,
            (Some(url), _) if url.starts_with("mdns:") => list_lan(&url, timeout, out).await,
            (_, true) => list_lan("mdns:", timeout, out).await,
            (_, false) => fail("list needs a URL, or --mdns"),
        },
        Command::Get {
            url,
            source,
            property,
        } => get(&url, &source, property.as_deref(), timeout, out).await,
        Command::Watch { url, source } => watch(&url, &source, timeout, out).await,
        Command::Monitor { url } => monitor(&url, timeout, out).await,
        Command::Call {
            url,
            source,
            slot,
            args,
        } => call(&url, &source, &slot, &args, timeout, out).await,
        Command::Set {
            url,
            source,
            property,
            value,
        } => set(&url, &source, &property, &value, timeout, out).await,
        Command::Schema { url, source } => schema(&url, &source, timeout, out).await,
        Command::Model {
            url,
            model: name,
            action,
            first,
            count,
            parent,
        } => {
            let rows = first..first.saturating_add(count);
            let at = ModelAt {
                action,
                rows,
                parent,
            };
            model(&url, &name, at, timeout, out).await
        }
        Command::Wait { url, source } => wait(&url, &source, timeout, out).await,
        Command::Serve { url, schema, name } => serve::run(&url, &schema, name.as_deref()).await,
        Command::Completions { shell } => {
            clap_complete::generate(shell, &mut Cli::command(), "aro", &mut std::io::stdout());
            Ok(())
        }
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
    let offered: Vec<String> = node
        .offered_sources()
        .await?
        .into_iter()
        .map(|o| o.name)
        .collect();
    let root = match offered_root(&offered, source) {
        Some(root) => root,
        None if offered.iter().any(|o| o == "Registry") => {
            follow_registry(node, url, source, timeout).await?
        }
        None => {
            return fail(format!(
                "{url} offers no source named {source:?} (it offers: {})",
                offered.join(", ")
            ))
        }
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

/// The part of `source` (itself, or `Parent` of `Parent.member…`) that is in `offered`.
fn offered_root<'a>(offered: &[String], source: &'a str) -> Option<&'a str> {
    std::iter::once(source)
        .chain(source.rmatch_indices('.').map(|(i, _)| &source[..i]))
        .find(|name| offered.iter().any(|o| o == name))
}

/// The entries of a registry replica just initialized: its snapshot's `sources`, as
/// (name, location) pairs.
fn registry_entries(registry: &DynamicReplica) -> Result<Vec<(Value, Value)>, Failure> {
    let Value::Struct(fields) = registry.property("snapshot")? else {
        return Ok(Vec::new());
    };
    Ok(fields
        .into_iter()
        .find_map(|(name, value)| match (name == "sources", value) {
            (true, Value::Map(entries)) => Some(entries),
            _ => None,
        })
        .unwrap_or_default())
}

/// `url` is a registry that does not serve `source` itself: connects `node` to the host the
/// registry lists for it, and returns the offered part of `source`.
async fn follow_registry<'a>(
    node: &Node,
    url: &str,
    source: &'a str,
    timeout: Duration,
) -> Result<&'a str, Failure> {
    let registry = node.acquire_dynamic("Registry");
    registry.wait_for_source(timeout).await?;
    let locations: Vec<(String, String)> = registry_entries(&registry)?
        .into_iter()
        .filter_map(|(name, location)| {
            let name = name.to_json().as_str()?.to_owned();
            let host = location.to_json()["host_url"].as_str()?.to_owned();
            Some((name, host))
        })
        .collect();
    let names: Vec<String> = locations.iter().map(|(name, _)| name.clone()).collect();
    let Some(root) = offered_root(&names, source) else {
        return fail(format!(
            "neither {url} nor the network its registry lists offers a source named {source:?} \
             (the network offers: {})",
            names.join(", ")
        ));
    };
    let Some((_, host)) = locations.iter().find(|(name, _)| name == root) else {
        return fail(format!("the registry lists no host for {root}"));
    };
    node.connect_to(host)
        .await
        .map_err(|e| Failure(format!("the registry places {root} at {host}, but: {e}")))?;
    Ok(root)
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

/// How long `list --mdns` listens: long enough for a second query (sent a second after the
/// first), as a responder that multicast its answer to someone else's query within the last
/// second stays silent for the first (RFC 6762 §6).
const LAN_LISTENING: Duration = Duration::from_millis(1500);

/// What hosts on the LAN announce, as heard within [`LAN_LISTENING`] (or `timeout`, if
/// shorter).
async fn list_lan(url: &str, timeout: Duration, out: Output) -> Result<(), Failure> {
    let node = Node::with_registry(url)?;
    tokio::time::sleep(LAN_LISTENING.min(timeout)).await;
    let sources = node.network_sources();
    if out.json {
        let listed: Vec<Json> = sources
            .iter()
            .map(|(name, at)| {
                json!({
                    "name": name,
                    "api": at.api,
                    "signature": format!("{:#018x}", at.signature),
                    "host_url": at.host_url,
                })
            })
            .collect();
        out.value(&Json::Array(listed));
    } else if sources.is_empty() {
        println!("no host on the LAN announces a source ({url})");
    }
    for (name, at) in sources.iter().filter(|_| !out.json) {
        println!(
            "{name} (API {}, signature {:#018x}) at {}",
            at.api, at.signature, at.host_url
        );
    }
    node.shutdown().await;
    Ok(())
}

async fn list(url: &str, timeout: Duration, out: Output) -> Result<(), Failure> {
    let node = connect(url, timeout).await?;
    let offered = node.offered_sources().await?;
    if offered.is_empty() && !out.json {
        println!("{url} offers no sources");
    }
    let mut listed = Vec::new();
    for info in &offered {
        let replica = node.acquire_dynamic(&info.name);
        let described = replica.wait_for_source(timeout).await;
        let mut entry = json!({
            "name": info.name,
            "api": info.api,
            "signature": format!("{:#018x}", info.signature),
        });
        match &described {
            Ok(()) if out.json => entry["schema"] = serde_json::to_value(&*schema_of(&replica)?)?,
            Ok(()) => print_api(&info.name, &*schema_of(&replica)?),
            Err(error) if out.json => entry["error"] = json!(error.to_string()),
            Err(error) => println!(
                "{} (API {}, signature {:#018x}): cannot describe: {error}",
                info.name, info.api, info.signature
            ),
        }
        if info.name == "Registry" {
            if let Ok(entries) = registry_entries(&replica) {
                let network: serde_json::Map<String, Json> = entries
                    .into_iter()
                    .map(|(name, location)| {
                        let name = name.to_json().as_str().unwrap_or("?").to_owned();
                        (name, location.to_json())
                    })
                    .collect();
                if out.json {
                    entry["network"] = Json::Object(network);
                } else {
                    println!("  the network offers:");
                    for (name, location) in &network {
                        println!(
                            "    {name} (API {}) at {}",
                            location["api"].as_str().unwrap_or("?"),
                            location["host_url"].as_str().unwrap_or("?")
                        );
                    }
                }
            }
        }
        listed.push(entry);
    }
    if out.json {
        out.value(&Json::Array(listed));
    }
    node.shutdown().await;
    Ok(())
}

async fn get(
    url: &str,
    source: &str,
    property: Option<&str>,
    timeout: Duration,
    out: Output,
) -> Result<(), Failure> {
    let node = connect(url, timeout).await?;
    let replica = replica(&node, url, source, timeout).await?;
    match property {
        Some(name) => match replica.property(name) {
            Ok(value) => out.value(&value.to_json()),
            Err(_) => return unknown_property(source, name, &*schema_of(&replica)?),
        },
        None => out.value(&values_json(&replica)?),
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
async fn wait(url: &str, source: &str, timeout: Duration, out: Output) -> Result<(), Failure> {
    let node = connect(url, timeout).await?;
    // Not `replica()`: the source may be enabled after we ask.
    let replica = node.acquire_dynamic(source);
    match replica.wait_for_source(timeout).await {
        Ok(()) if out.json => out.value(&json!({
            "source": source,
            "state": format!("{:?}", replica.state()),
        })),
        Ok(()) => println!("{:?}", replica.state()),
        Err(error) => return fail(format!("source {source:?} did not come up: {error}")),
    }
    node.shutdown().await;
    Ok(())
}

async fn watch(url: &str, source: &str, timeout: Duration, out: Output) -> Result<(), Failure> {
    let node = connect(url, timeout).await?;
    let replica = replica(&node, url, source, timeout).await?;
    follow(vec![(source.to_owned(), replica)], out).await?;
    node.shutdown().await;
    Ok(())
}

/// Every source a host offers, followed as `watch` follows one.
async fn monitor(url: &str, timeout: Duration, out: Output) -> Result<(), Failure> {
    let node = connect(url, timeout).await?;
    let mut replicas = Vec::new();
    for info in node.offered_sources().await? {
        let replica = node.acquire_dynamic(&info.name);
        match replica.wait_for_source(timeout).await {
            Ok(()) => replicas.push((info.name, replica)),
            Err(error) => eprintln!("aro: cannot monitor {}: {error}", info.name),
        }
    }
    if replicas.is_empty() {
        return fail(format!("{url} offers no source to monitor"));
    }
    let out = Output {
        name_sources: true,
        ..out
    };
    follow(replicas, out).await?;
    node.shutdown().await;
    Ok(())
}

/// What a followed source did: an event, or a new state.
enum Happened {
    Event(DynamicEvent),
    State(ReplicaState),
}

/// Prints the current values of `replicas` (each with the name it is followed under), then
/// their events and states as they come, until interrupted.
async fn follow(replicas: Vec<(String, DynamicReplica)>, out: Output) -> Result<(), Failure> {
    let mut streams = Vec::new();
    for (name, replica) in &replicas {
        // Subscribed before the values are printed, so no change falls between.
        let events = replica.events().map(Happened::Event);
        let states = replica.state_changes().skip(1).map(Happened::State);
        let tag = name.clone();
        streams.push(futures::stream::select(events, states).map(move |h| (tag.clone(), h)));
        for (property, value) in replica.properties()? {
            out.property(name, &property, &value.to_json());
        }
    }
    let mut happenings = futures::stream::select_all(streams);
    loop {
        tokio::select! {
            _ = tokio::signal::ctrl_c() => break,
            next = happenings.next() => match next {
                Some((name, Happened::Event(event))) => out.event(&name, &event),
                Some((name, Happened::State(state))) => out.state(&name, state),
                None => break,
            },
        }
    }
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
    out: Output,
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
    out.value(&result.to_json());
    node.shutdown().await;
    Ok(())
}

async fn set(
    url: &str,
    source: &str,
    property: &str,
    value: &str,
    timeout: Duration,
    out: Output,
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
        out.value(&value.to_json());
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
        Ok(Some(value)) => out.value(&value.to_json()),
        _ => {
            return fail(format!(
                "the source did not apply the new value of {property} within {timeout:?}"
            ))
        }
    }
    node.shutdown().await;
    Ok(())
}

async fn schema(url: &str, source: &str, timeout: Duration, out: Output) -> Result<(), Failure> {
    let node = connect(url, timeout).await?;
    let replica = replica(&node, url, source, timeout).await?;
    let schema = schema_of(&replica)?;
    out.value(&serde_json::to_value(&*schema)?);
    node.shutdown().await;
    Ok(())
}

/// The most rows one fetch asks for (the model's own limit).
const FETCH_ROWS: u64 = 4096;

/// A row's path in a tree model, from the root.
type Path = Vec<u64>;

fn parse_path(text: &str) -> Result<Path, String> {
    text.split('/')
        .map(|k| {
            k.parse()
                .map_err(|_| format!("{k:?} is not a row index (a path is `0/3`)"))
        })
        .collect()
}

/// What `aro model` reads, and where.
struct ModelAt {
    action: ModelAction,
    rows: std::ops::Range<u64>,
    /// The parent row, in a tree model.
    parent: Option<Path>,
}

async fn model(
    url: &str,
    name: &str,
    at: ModelAt,
    timeout: Duration,
    out: Output,
) -> Result<(), Failure> {
    let node = connect(url, timeout).await?;
    let replica = replica(&node, url, name, timeout).await?;
    // A model is served as the model adapter's API, a tree as the tree adapter's.
    let parent = match (schema_of(&replica)?.api.as_str(), at.parent) {
        ("ItemModel" | "ItemTable", None) => None,
        ("ItemModel" | "ItemTable", Some(_)) => {
            return fail(format!("{name} is a list: it has no --parent"))
        }
        ("ItemTree", parent) => Some(parent.unwrap_or_default()),
        _ => return fail(format!("{name} is not a model")),
    };
    let top_level = parent.as_ref().is_none_or(Vec::is_empty);
    match at.action {
        ModelAction::Size if top_level => out.value(&replica.property("rows")?.to_json()),
        ModelAction::Size => {
            let (total, _) =
                fetch_part(&replica, &mut replica.events(), parent.as_deref(), 0, 0, 0).await?;
            out.value(&json!(total))
        }
        ModelAction::Rows => {
            let rows = fetch_rows(&replica, parent.as_deref(), at.rows).await?;
            out.value(&Json::Array(rows))
        }
        ModelAction::Watch => follow(vec![(name.to_owned(), replica)], out).await?,
    }
    node.shutdown().await;
    Ok(())
}

/// The model's rows in `rows` (clipped to the model; in a tree, of `parent`'s children,
/// each as `{"value", "children"}`), fetched in parts.
async fn fetch_rows(
    replica: &DynamicReplica,
    parent: Option<&[u64]>,
    rows: std::ops::Range<u64>,
) -> Result<Vec<Json>, Failure> {
    let mut events = replica.events();
    let mut fetched = Vec::new();
    let mut at = rows.start;
    for request in 1u32.. {
        if at >= rows.end {
            break;
        }
        let count = (rows.end - at).min(FETCH_ROWS);
        let (_, part) = fetch_part(replica, &mut events, parent, request, at, count).await?;
        let got = part.len() as u64;
        fetched.extend(part);
        if got < count {
            break; // past the end of the model
        }
        at += got;
    }
    Ok(fetched)
}

/// One fetch: the answer comes as a `rows` signal to this connection, before the call's
/// reply. Returns the parent's child count (in a tree) and the rows.
async fn fetch_part(
    replica: &DynamicReplica,
    events: &mut (impl futures::Stream<Item = DynamicEvent> + Unpin),
    parent: Option<&[u64]>,
    request: u32,
    first: u64,
    count: u64,
) -> Result<(u64, Vec<Json>), Failure> {
    let mut args = vec![
        Value::UInt(request.into()),
        Value::UInt(first),
        Value::UInt(count),
    ];
    // A tree's members name the parent first; its answer carries the count before the rows.
    let (request_at, rows_at) = match parent {
        Some(parent) => {
            args.insert(
                0,
                Value::Seq(parent.iter().map(|&k| Value::UInt(k)).collect()),
            );
            (1, 4)
        }
        None => (0, 2),
    };
    replica.call("fetch", args).await?;
    let answer = loop {
        match events.next().await {
            Some(DynamicEvent::Signal { name, args }) if name == "rows" => {
                if args.get(request_at).map(|(_, v)| v.to_json()) == Some(json!(request)) {
                    break args;
                }
            }
            Some(_) => {}
            None => return fail("the model replica went away"),
        }
    };
    let Some(Json::Array(rows)) = answer.get(rows_at).map(|(_, v)| v.to_json()) else {
        return fail("the source answered a fetch with no rows");
    };
    if parent.is_none() {
        return Ok((0, rows));
    }
    let total = answer
        .get(3)
        .and_then(|(_, v)| v.to_json().as_u64())
        .unwrap_or(0);
    let rows = rows
        .into_iter()
        .map(|row| json!({"value": row[0], "children": row[1]}))
        .collect();
    Ok((total, rows))
}
