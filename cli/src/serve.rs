//! `aro serve`: a mock source from a JSON schema, for front-end developers who need a
//! source before it exists. Calls and writes are printed as JSON lines on stdout; stdin
//! drives the mock (`set PROPERTY JSON`, `emit SIGNAL [JSON-ARG]...`).

use std::path::Path;

use actix_remote_objects::dynamic::{ApiSchema, DynamicCall, DynamicSource, DynamicWrite, Value};
use actix_remote_objects::Host;
use serde_json::{json, Value as Json};
use tokio::io::AsyncBufReadExt;

use crate::{fail, parse_json, Failure};

pub(crate) async fn run(url: &str, path: &Path, name: Option<&str>) -> Result<(), Failure> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| Failure(format!("cannot read {}: {e}", path.display())))?;
    let schema: ApiSchema = serde_json::from_str(&text)
        .map_err(|e| Failure(format!("{} is not a schema: {e}", path.display())))?;
    let source = DynamicSource::new(schema)?
        .with_call_handler(answer_call)
        .with_write_check(|write: DynamicWrite| async move {
            println!(
                "{}",
                json!({ "write": write.property, "value": write.value.to_json() })
            );
            Ok(write.value)
        });
    let name = name.unwrap_or(&source.schema().api).to_owned();
    let host = Host::listen(url).await?;
    host.enable_remoting_dynamic_as(&source, &name).await?;
    println!(
        "serving {name} (API {}) at {}",
        source.schema().api,
        host.url().unwrap_or(url)
    );
    let mut lines = tokio::io::BufReader::new(tokio::io::stdin()).lines();
    let mut stdin_open = true;
    loop {
        tokio::select! {
            _ = tokio::signal::ctrl_c() => break,
            line = lines.next_line(), if stdin_open => match line {
                Ok(Some(line)) => {
                    if let Err(Failure(message)) = command(&source, &line) {
                        eprintln!("aro: {message}");
                    }
                }
                // Without a terminal (a script, `< /dev/null`) the mock keeps serving.
                _ => stdin_open = false,
            },
        }
    }
    host.shutdown().await;
    Ok(())
}

/// Prints the call and answers with the default of the slot's result type.
async fn answer_call(call: DynamicCall) -> Result<Value, actix_remote_objects::SlotError> {
    let args: serde_json::Map<String, Json> = call
        .args
        .iter()
        .map(|(name, value)| (name.clone(), value.to_json()))
        .collect();
    println!("{}", json!({ "call": call.slot, "args": args }));
    let schema = call.source.schema();
    let returns = schema
        .slot(&call.slot)
        .map(|(_, slot)| slot.returns.clone())
        .unwrap_or(actix_remote_objects::dynamic::TypeFormat::Unit);
    schema
        .default_value(&returns)
        .map_err(actix_remote_objects::SlotError::source)
}

/// One line of stdin: `set PROPERTY JSON` or `emit SIGNAL [JSON-ARG]...`.
fn command(source: &DynamicSource, line: &str) -> Result<(), Failure> {
    let line = line.trim();
    if line.is_empty() {
        return Ok(());
    }
    let (verb, rest) = line.split_once(char::is_whitespace).unwrap_or((line, ""));
    let (member, rest) = rest
        .trim_start()
        .split_once(char::is_whitespace)
        .unwrap_or((rest.trim(), ""));
    let schema = source.schema();
    match verb {
        "set" => {
            let Some((_, property)) = schema.property(member) else {
                return fail(format!("no property named {member:?}"));
            };
            let json = parse_json("the value", rest)?;
            let value = Value::from_json(&json, &property.format, &schema.types)
                .map_err(|e| Failure(format!("the value ({}): {e}", property.format)))?;
            source.set(member, value)?;
        }
        "emit" => {
            let Some((_, signal)) = schema.signal(member) else {
                return fail(format!("no signal named {member:?}"));
            };
            let jsons = serde_json::Deserializer::from_str(rest)
                .into_iter::<Json>()
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| Failure(format!("the arguments are not JSON ({e}): {rest}")))?;
            if jsons.len() != signal.args.len() {
                return fail(format!(
                    "signal {member} takes {} argument(s), {} given",
                    signal.args.len(),
                    jsons.len()
                ));
            }
            let mut args = Vec::with_capacity(jsons.len());
            for (json, field) in jsons.iter().zip(&signal.args) {
                let value = Value::from_json(json, &field.format, &schema.types).map_err(|e| {
                    Failure(format!("argument {} ({}): {e}", field.name, field.format))
                })?;
                args.push(value);
            }
            source.emit(member, args)?;
        }
        other => {
            return fail(format!(
                "unknown command {other:?}: expected `set` or `emit`"
            ))
        }
    }
    Ok(())
}
