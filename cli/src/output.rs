//! How `aro` prints: text for people, or JSON for programs (`--json`: one JSON document, or
//! JSON Lines with timestamps for the commands that stream events).

use actix_remote_objects::dynamic::DynamicEvent;
use actix_remote_objects::ReplicaState;
use serde_json::{json, Value as Json};

/// The output format the command line chose.
#[derive(Clone, Copy)]
pub(crate) struct Output {
    pub(crate) json: bool,
    /// Text lines name their source (`aro monitor`, which watches several).
    pub(crate) name_sources: bool,
}

impl Output {
    /// A JSON result: pretty for people, one line for programs.
    pub(crate) fn value(self, value: &Json) {
        if self.json {
            println!("{value}");
        } else {
            println!(
                "{}",
                serde_json::to_string_pretty(value).unwrap_or_else(|_| value.to_string())
            );
        }
    }

    /// A property's value as `source` has it now or after a change.
    pub(crate) fn property(self, source: &str, name: &str, value: &Json) {
        if self.json {
            self.line(source, json!({ "property": name, "value": value }));
        } else {
            println!("{}{name} = {value}", self.prefix(source, "."));
        }
    }

    /// One event of a watched source.
    pub(crate) fn event(self, source: &str, event: &DynamicEvent) {
        match event {
            DynamicEvent::PropertyChanged { name, value } => {
                self.property(source, name, &value.to_json())
            }
            DynamicEvent::Signal { name, args } => {
                let args: serde_json::Map<String, Json> =
                    args.iter().map(|(n, v)| (n.clone(), v.to_json())).collect();
                if self.json {
                    self.line(source, json!({ "signal": name, "args": args }));
                } else {
                    println!(
                        "{}signal {name} {}",
                        self.prefix(source, ": "),
                        Json::Object(args)
                    );
                }
            }
            DynamicEvent::ChildChanged { child } => {
                if self.json {
                    self.line(source, json!({ "child": child.to_string() }));
                } else {
                    println!("{}child {child} changed", self.prefix(source, ": "));
                }
            }
            DynamicEvent::Lagged { lost } => {
                if self.json {
                    self.line(source, json!({ "lagged": lost }));
                }
                eprintln!("aro: fell behind the source; {lost} signals were dropped");
            }
            other => eprintln!("aro: {other:?}"),
        }
    }

    /// A watched source's new state (text output tells only of a lost connection).
    pub(crate) fn state(self, source: &str, state: ReplicaState) {
        if self.json {
            self.line(source, json!({ "state": format!("{state:?}") }));
        } else if state == ReplicaState::Suspect {
            eprintln!(
                "aro: {}connection to the source lost; reconnecting",
                self.prefix(source, ": ")
            );
        }
    }

    /// `source` and `separator` when text lines name their source.
    fn prefix(self, source: &str, separator: &str) -> String {
        if self.name_sources {
            format!("{source}{separator}")
        } else {
            String::new()
        }
    }

    /// One JSON Lines record: `fields`, with the time and the source it is about.
    fn line(self, source: &str, mut fields: Json) {
        if let Json::Object(map) = &mut fields {
            let now = humantime::format_rfc3339_millis(std::time::SystemTime::now());
            map.insert("time".into(), Json::String(now.to_string()));
            map.insert("source".into(), Json::String(source.to_owned()));
        }
        println!("{fields}");
    }
}
