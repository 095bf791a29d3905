//! The crate's layering, checked from its source: every module imports only modules of a
//! lower layer (so there is no circle), and the protocol core uses no runtime, actor
//! framework, socket or clock.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Each top-level module of `src/` and its layer, lowest first. A module may import only
/// modules of a strictly lower layer; `lib.rs` re-exports everything.
const LAYERS: &[(&str, u8)] = &[
    // bytes ↔ packets, and the time-free lifecycle policies
    ("wire", 0),
    ("lifecycle", 0),
    // the metrics the crate reports
    ("telemetry", 0),
    // who a peer is, what it may do; byte strings decoded as slices of their frames
    ("security", 1),
    ("shared_bytes", 1),
    ("error", 2),
    // where actors and tasks run: the caller's arbiter or the crate's own
    ("runtime", 3),
    // sockets and URLs; values without types; the sans-io protocol sessions
    ("transport", 3),
    ("values", 3),
    ("proto", 3),
    // a connection's outgoing queue, read batching, persisted values
    ("outbox", 4),
    ("batch", 4),
    ("persist", 4),
    // the model adapter: the API every model is served as
    ("adapter", 5),
    // an API's description
    ("api", 6),
    // Qt's dialect: its types, values and the translator over native sessions (models
    // shown as Qt's model adapter)
    ("qt", 6),
    // source and replica state
    ("source", 7),
    ("replica", 7),
    // the drivers
    ("node", 8),
    ("host", 9),
    // built on hosts and nodes
    ("registry", 10),
    ("macro_support", 11),
    ("fuzzing", 11),
    // the contract, checked at session level with every layer in memory
    ("contract_tests", 12),
    ("lib", 12),
    // documentation only
    ("guide", 12),
    ("example_generated", 12),
];

fn layer(module: &str) -> Option<u8> {
    LAYERS.iter().find(|(m, _)| *m == module).map(|(_, l)| *l)
}

fn rust_files(dir: &Path, into: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("src/ is readable") {
        let path = entry.expect("a directory entry").path();
        if path.is_dir() {
            rust_files(&path, into);
        } else if path.extension().is_some_and(|e| e == "rs") {
            into.push(path);
        }
    }
}

/// The top-level module a file under `src/` belongs to.
fn module_of(src: &Path, file: &Path) -> String {
    let relative = file.strip_prefix(src).expect("a file under src/");
    let first = relative
        .components()
        .next()
        .expect("a path")
        .as_os_str()
        .to_string_lossy()
        .into_owned();
    first.trim_end_matches(".rs").to_owned()
}

/// The code of a file without its comments (doc links name modules without importing them).
fn code(text: &str) -> String {
    text.lines()
        .map(|line| match line.find("//") {
            Some(at) => &line[..at],
            None => line,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The top-level modules `code` names after `crate::`, including inside `use crate::{…}`.
fn imported_modules(code: &str) -> Vec<String> {
    let mut found = Vec::new();
    let mut rest = code;
    while let Some(at) = rest.find("crate::") {
        rest = &rest[at + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            let mut depth = 1;
            let mut end = 0;
            for (i, c) in group.char_indices() {
                match c {
                    '{' => depth += 1,
                    '}' => depth -= 1,
                    _ => {}
                }
                if depth == 0 {
                    end = i;
                    break;
                }
            }
            let mut depth = 0;
            let mut item = String::new();
            for c in group[..end].chars().chain(std::iter::once(',')) {
                match c {
                    '{' => depth += 1,
                    '}' => depth -= 1,
                    ',' if depth == 0 => {
                        let name: String = item
                            .trim()
                            .chars()
                            .take_while(|c| c.is_alphanumeric() || *c == '_')
                            .collect();
                        if !name.is_empty() {
                            found.push(name);
                        }
                        item.clear();
                        continue;
                    }
                    _ => {}
                }
                item.push(c);
            }
        } else {
            let name: String = rest
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            found.push(name);
        }
    }
    found
}

/// The items `lib.rs` re-exports at the crate root (`pub use module::{A, B}`), by the
/// module they come from.
fn root_reexports(lib: &str) -> BTreeMap<String, String> {
    let mut items = BTreeMap::new();
    for statement in lib.split(';') {
        let statement = statement.trim();
        let Some(path) = statement.strip_prefix("pub use ") else {
            continue;
        };
        let Some((module, rest)) = path.split_once("::") else {
            continue;
        };
        let names = rest.trim_start_matches('{').trim_end_matches('}');
        for name in names.split(',') {
            let name = name.rsplit("::").next().unwrap_or(name).trim();
            if !name.is_empty() {
                items.insert(name.to_owned(), module.to_owned());
            }
        }
    }
    items
}

fn sources() -> (PathBuf, Vec<PathBuf>) {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    files.sort();
    (src, files)
}

#[test]
fn every_module_imports_only_lower_layers() {
    let (src, files) = sources();
    let lib = std::fs::read_to_string(src.join("lib.rs")).expect("src/lib.rs");
    let root_items = root_reexports(&code(&lib));
    let mut violations = Vec::new();
    let mut unknown = BTreeMap::new();
    for file in &files {
        let module = module_of(&src, file);
        let Some(own) = layer(&module) else {
            unknown.insert(module, file.display().to_string());
            continue;
        };
        let text = std::fs::read_to_string(file).expect("a readable source file");
        for imported in imported_modules(&code(&text)) {
            // An item re-exported at the crate root counts as an import of its module.
            let imported = root_items.get(&imported).cloned().unwrap_or(imported);
            if imported == module || module == "lib" || imported == "actix_remote_objects_macros" {
                continue; // itself, the crate root, or the macro crate
            }
            match layer(&imported) {
                Some(theirs) if theirs < own => {}
                Some(theirs) => violations.push(format!(
                    "{} (layer {own}) imports {imported} (layer {theirs})",
                    file.strip_prefix(&src).unwrap_or(file).display()
                )),
                None => violations.push(format!(
                    "{} imports crate::{imported}, which is not in LAYERS",
                    file.strip_prefix(&src).unwrap_or(file).display()
                )),
            }
        }
    }
    assert!(
        unknown.is_empty(),
        "modules missing from LAYERS: {unknown:?}"
    );
    assert!(
        violations.is_empty(),
        "imports against the layering:\n{}",
        violations.join("\n")
    );
}

#[test]
fn the_import_scanner_sees_grouped_and_nested_imports() {
    let found = imported_modules(
        "use crate::wire::{Packet};\nuse crate::{host::{A, B}, node, error::Error};\n let x = crate::api::Y;",
    );
    assert_eq!(found, ["wire", "host", "node", "error", "api"]);
    assert!(imported_modules(&code("// see crate::host\n")).is_empty());
    let root = root_reexports("pub use host::{Host, HostConfig};\npub use error::Error;");
    assert_eq!(root.get("HostConfig").map(String::as_str), Some("host"));
    assert_eq!(root.get("Error").map(String::as_str), Some("error"));
}

#[test]
fn the_protocol_core_uses_no_runtime_actors_sockets_or_clock() {
    let (src, files) = sources();
    let forbidden = [
        "tokio",
        "actix",
        "Instant::now",
        "SystemTime",
        "std::net",
        "std::thread",
        "std::fs",
        "fastrand",
    ];
    let mut found = Vec::new();
    for file in files.iter().filter(|f| module_of(&src, f) == "proto") {
        let text = code(&std::fs::read_to_string(file).expect("a readable source file"));
        for word in forbidden {
            if text.contains(word) {
                found.push(format!("{} uses {word}", file.display()));
            }
        }
    }
    assert!(
        files.iter().any(|f| module_of(&src, f) == "proto"),
        "no src/proto found"
    );
    assert!(found.is_empty(), "{}", found.join("\n"));
}
