//! `aro` as a real binary against the printer example running as a real host process.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(20);

/// The printer example binary, next to this package's binary in the workspace target dir.
fn printer_example() -> PathBuf {
    example("printer")
}

/// An example binary of the library, built if it is not yet.
fn example(name: &str) -> PathBuf {
    let mut path = PathBuf::from(env!("CARGO_BIN_EXE_aro"));
    path.pop();
    path.push("examples");
    path.push(name);
    if !path.exists() {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let status = Command::new(cargo)
            .args(["build", "-p", "actix-remote-objects", "--example", name])
            .status()
            .unwrap();
        assert!(status.success(), "cannot build the {name} example");
    }
    path
}

/// A printer host process, killed when dropped.
struct PrinterHost {
    child: Child,
    url: String,
}

impl PrinterHost {
    fn start() -> PrinterHost {
        PrinterHost::of("printer")
    }

    /// The host of example `name` (which prints "listening on URL").
    fn of(name: &str) -> PrinterHost {
        let mut child = Command::new(example(name))
            .args(["host", "tcp://127.0.0.1:0"])
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let url = line
            .trim()
            .strip_prefix("listening on ")
            .unwrap()
            .to_owned();
        PrinterHost { child, url }
    }
}

impl Drop for PrinterHost {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn aro(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_aro"))
        .args(args)
        .output()
        .unwrap()
}

fn ok(args: &[&str]) -> String {
    let output = aro(args);
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "aro {args:?} failed: {}\n{stdout}",
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

fn failing(args: &[&str]) -> String {
    let output = aro(args);
    assert_eq!(
        output.status.code(),
        Some(1),
        "aro {args:?} should fail: {}",
        String::from_utf8_lossy(&output.stdout)
    );
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn json(text: &str) -> serde_json::Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

#[test]
fn list_shows_every_source_with_its_api() {
    let host = PrinterHost::start();
    let out = ok(&["list", &host.url]);
    assert!(
        out.starts_with("Printer (API Printer, signature 0x"),
        "{out}"
    );
    for line in [
        "  prop ink_level: u8 (read_only)",
        "  prop status: Status (read_only)",
        "  prop name: String (read_write)",
        "  signal out_of_paper(tray: u32)",
        "  slot print(doc: String) -> u32",
    ] {
        assert!(
            out.lines().any(|l| l == line),
            "{line:?} missing from:\n{out}"
        );
    }
}

#[test]
fn get_call_and_set_read_and_change_the_source() {
    let host = PrinterHost::start();
    let url = host.url.as_str();
    assert_eq!(
        json(&ok(&["get", url, "Printer"])),
        serde_json::json!({"ink_level": 100, "status": "Idle", "name": "office"})
    );
    assert_eq!(json(&ok(&["get", url, "Printer", "ink_level"])), 100);
    assert_eq!(
        json(&ok(&["call", url, "Printer", "print", "\"report.pdf\""])),
        1
    );
    assert_eq!(
        json(&ok(&["get", url, "Printer", "status"])),
        serde_json::json!({"Printing": {"job": 1, "doc": "report.pdf"}})
    );
    assert_eq!(json(&ok(&["get", url, "Printer", "ink_level"])), 90);
    assert_eq!(
        json(&ok(&["set", url, "Printer", "name", "\"lab\""])),
        "lab"
    );
    assert_eq!(json(&ok(&["get", url, "Printer", "name"])), "lab");
}

#[test]
fn sub_objects_are_shown_read_and_called_by_their_path() {
    let host = PrinterHost::of("office");
    let url = host.url.as_str();
    let listed = ok(&["list", url]);
    assert!(listed.contains("child tray: Tray"), "{listed}");
    assert!(listed.contains("child spare: Option<Tray>"), "{listed}");
    assert_eq!(
        json(&ok(&["get", url, "Office"])),
        serde_json::json!({
            "name": "HQ",
            "tray": {"sheets": 10, "label": "A4"},
            "spare": {"sheets": 50, "label": "A3"},
        })
    );
    assert_eq!(json(&ok(&["call", url, "Office.tray", "refill", "5"])), 15);
    assert_eq!(json(&ok(&["get", url, "Office.tray", "sheets"])), 15);
    ok(&["call", url, "Office", "swap"]);
    assert_eq!(json(&ok(&["get", url, "Office.tray", "label"])), "A3");
    assert_eq!(
        json(&ok(&["set", url, "Office.spare", "label", "\"old\""])),
        "old"
    );
    assert_eq!(ok(&["wait", url, "Office"]).trim(), "Valid");
    let error = failing(&["--timeout", "0.3", "wait", url, "Nowhere"]);
    assert!(
        error.contains("source \"Nowhere\" did not come up"),
        "{error}"
    );
    let error = failing(&["get", url, "Office.tray", "colour"]);
    assert!(
        error.contains("has no property named \"colour\" (its properties: sheets, label)"),
        "{error}"
    );
    let error = failing(&["get", url, "Office.drawer"]);
    assert!(
        error.contains("no child \"drawer\" (its children: tray, spare)"),
        "{error}"
    );
}

#[test]
fn a_model_is_read_by_size_and_rows() {
    let host = PrinterHost::of("playlist");
    let url = host.url.as_str();
    assert_eq!(
        json(&ok(&["model", url, "Player.playlist", "size"])),
        100_000
    );
    assert_eq!(
        json(&ok(&[
            "model",
            url,
            "Player.playlist",
            "rows",
            "--first",
            "500",
            "--count",
            "2"
        ])),
        serde_json::json!([
            {"title": "track 500", "plays": 0},
            {"title": "track 501", "plays": 0},
        ])
    );
    // More than one fetch's worth, clipped at the end of the model.
    let tail = json(&ok(&[
        "model",
        url,
        "Player.playlist",
        "rows",
        "--first",
        "95000",
        "--count",
        "9000",
    ]));
    assert_eq!(tail.as_array().map(Vec::len), Some(5000));
    assert_eq!(tail[4999]["title"], "track 99999");
    ok(&["call", url, "Player", "shuffle"]);
    assert_eq!(
        json(&ok(&[
            "model",
            url,
            "Player.playlist",
            "rows",
            "--first",
            "99999",
            "--count",
            "5"
        ])),
        serde_json::json!([{"title": "track 0", "plays": 1}])
    );
    let error = failing(&["model", url, "Player", "size"]);
    assert!(error.contains("Player is not a model"), "{error}");
}

#[test]
fn a_tree_model_is_read_by_parent() {
    let host = PrinterHost::of("playlist");
    let url = host.url.as_str();
    let model = "Player.library";
    assert_eq!(json(&ok(&["model", url, model, "size"])), 1000);
    assert_eq!(
        json(&ok(&["model", url, model, "size", "--parent", "3"])),
        4
    );
    assert_eq!(
        json(&ok(&[
            "model", url, model, "rows", "--first", "2", "--count", "1"
        ])),
        serde_json::json!([{"value": {"name": "artist 2", "tracks": 0}, "children": 3}])
    );
    assert_eq!(
        json(&ok(&["model", url, model, "rows", "--parent", "1"])),
        serde_json::json!([
            {"value": {"name": "album 1.0", "tracks": 10}, "children": 0},
            {"value": {"name": "album 1.1", "tracks": 10}, "children": 0},
        ])
    );
    let none = json(&ok(&["model", url, model, "rows", "--parent", "1/0"]));
    assert_eq!(none, serde_json::json!([]), "an album has no children");
    let error = failing(&["model", url, "Player.playlist", "size", "--parent", "1"]);
    assert!(error.contains("is a list: it has no --parent"), "{error}");
}

#[test]
fn a_table_model_is_read_as_a_list() {
    let host = PrinterHost::of("playlist");
    let url = host.url.as_str();
    assert_eq!(json(&ok(&["model", url, "Player.chart", "size"])), 10);
    assert_eq!(
        json(&ok(&["model", url, "Player.chart", "rows", "--first", "9"])),
        serde_json::json!([{"title": "track 9", "plays": 0}])
    );
    let error = failing(&["model", url, "Player.chart", "rows", "--parent", "0"]);
    assert!(error.contains("is a list: it has no --parent"), "{error}");
}

#[test]
fn watch_prints_changes_and_signals_as_they_happen() {
    let host = PrinterHost::start();
    let mut watch = Command::new(env!("CARGO_BIN_EXE_aro"))
        .args(["watch", &host.url, "Printer"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let rx = lines_of(&mut watch);
    let next = || rx.recv_timeout(WAIT).expect("aro watch printed nothing");
    let initial: Vec<String> = (0..3).map(|_| next()).collect();
    assert_eq!(
        initial,
        ["ink_level = 100", "status = \"Idle\"", "name = \"office\""]
    );

    // The example's printer has paper for two jobs; the third runs out.
    for doc in ["\"a\"", "\"b\""] {
        ok(&["call", &host.url, "Printer", "print", doc]);
    }
    failing(&["call", &host.url, "Printer", "print", "\"c\""]);
    let mut lines = Vec::new();
    while !lines
        .iter()
        .any(|l: &String| l.starts_with("signal out_of_paper"))
    {
        lines.push(next());
    }
    assert!(
        lines.contains(&"status = {\"Printing\":{\"doc\":\"a\",\"job\":1}}".to_string()),
        "{lines:#?}"
    );
    assert!(lines.contains(&"ink_level = 80".to_string()), "{lines:#?}");
    assert!(
        lines.contains(&"signal out_of_paper {\"tray\":1}".to_string()),
        "{lines:#?}"
    );
    let _ = watch.kill();
    let _ = watch.wait();
}

#[test]
fn mistakes_are_clear_messages_with_a_failing_exit_status() {
    let host = PrinterHost::start();
    let url = host.url.as_str();
    let unreachable = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("tcp://{}", listener.local_addr().unwrap())
    };
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (vec!["list", &unreachable], "cannot connect to"),
        (vec!["get", "http://nowhere", "Printer"], "invalid URL"),
        (
            vec!["get", url, "Scanner"],
            "offers no source named \"Scanner\" (it offers: Printer)",
        ),
        (
            vec!["get", url, "Printer", "colour"],
            "no property named \"colour\" (its properties: ink_level, status, name)",
        ),
        (
            vec!["call", url, "Printer", "scan"],
            "has no slot named \"scan\" (its slots: print)",
        ),
        (
            vec!["call", url, "Printer", "print"],
            "takes 1 argument(s), 0 given",
        ),
        (
            vec!["call", url, "Printer", "print", "{oops"],
            "argument doc is not valid JSON",
        ),
        (
            vec!["call", url, "Printer", "print", "42"],
            "argument doc (String): at $: expected a string, found a number",
        ),
        (
            vec!["set", url, "Printer", "ink_level", "5"],
            "property \"ink_level\" is not read-write",
        ),
        (
            vec!["set", url, "Printer", "name", "nope"],
            "the value is not valid JSON",
        ),
    ];
    for (args, expected) in cases {
        let stderr = failing(&args);
        assert!(
            stderr.contains(expected),
            "aro {args:?}: expected {expected:?} in {stderr:?}"
        );
    }
}

#[test]
fn every_subcommand_has_help() {
    for sub in [
        &[][..],
        &["list"],
        &["get"],
        &["watch"],
        &["call"],
        &["set"],
        &["schema"],
        &["serve"],
        &["wait"],
        &["monitor"],
        &["completions"],
    ] {
        let mut args: Vec<&str> = sub.to_vec();
        args.push("--help");
        let out = ok(&args);
        assert!(out.contains("Usage: aro"), "aro {args:?}:\n{out}");
    }
    assert_eq!(
        aro(&["frobnicate"]).status.code(),
        Some(2),
        "a bad command line exits 2"
    );
}

/// Starts `registry` example processes (as `args`) and returns them with their URLs.
fn registry_example(args: &[&str]) -> (Child, String) {
    let mut path = printer_example();
    path.set_file_name("registry");
    let mut child = Command::new(path)
        .args(args)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    (
        child,
        line.trim()
            .strip_prefix("listening on ")
            .unwrap()
            .to_owned(),
    )
}

#[test]
fn list_on_a_registry_shows_what_the_network_offers() {
    let (mut registry, registry_url) = registry_example(&["registry", "tcp://127.0.0.1:0"]);
    let (mut printer, printer_url) = registry_example(&["host", &registry_url, "printer"]);
    let out = ok(&["list", &registry_url]);
    assert!(out.contains("Registry (API Registry"), "{out}");
    assert!(
        out.contains("  slot add_source(name: String, location: SourceLocation)"),
        "{out}"
    );
    assert!(
        out.contains(&format!("    Printer (API Printer) at {printer_url}")),
        "{out}"
    );
    for child in [&mut printer, &mut registry] {
        let _ = child.kill();
        let _ = child.wait();
    }
}

/// Lines a child prints, as they come.
fn lines_of(child: &mut Child) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    let stdout = child.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

/// Kills a child when dropped.
struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn a_mock_served_from_a_schema_works_with_the_typed_example_replica() {
    use std::io::Write;
    let host = PrinterHost::start();
    let dir = tempfile::tempdir().unwrap();
    let schema_file = dir.path().join("printer.json");
    std::fs::write(&schema_file, ok(&["schema", &host.url, "Printer"])).unwrap();
    drop(host);

    let mut mock = Killed(
        Command::new(env!("CARGO_BIN_EXE_aro"))
            .args(["serve", "tcp://127.0.0.1:0"])
            .arg(&schema_file)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let printed = lines_of(&mut mock.0);
    let next = || {
        printed
            .recv_timeout(WAIT)
            .expect("aro serve printed nothing")
    };
    let first = next();
    let url = first
        .strip_prefix("serving Printer (API Printer) at ")
        .unwrap_or_else(|| panic!("{first}"))
        .to_owned();
    assert_eq!(
        json(&ok(&["get", &url, "Printer"])),
        serde_json::json!({"ink_level": 0, "status": "Idle", "name": ""}),
        "every property starts at its type's default"
    );

    // The example's typed replica prints three documents, then waits for out_of_paper.
    let replica = Command::new(printer_example())
        .args(["replica", &url])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    for doc in ["report.pdf", "slides.pdf", "poster.pdf"] {
        assert_eq!(
            json(&next()),
            serde_json::json!({"call": "print", "args": {"doc": doc}})
        );
    }
    let stdin = mock.0.stdin.as_mut().unwrap();
    writeln!(stdin, "set ink_level 55").unwrap();
    writeln!(stdin, "emit out_of_paper 2").unwrap();
    let output = replica.wait_with_output().unwrap();
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{text}");
    assert!(text.contains("printed report.pdf as job 0"), "{text}");
    assert!(text.contains("signal out_of_paper(tray 2)"), "{text}");
    // Commands are taken in order: the set came before the signal the replica saw.
    assert_eq!(json(&ok(&["get", &url, "Printer", "ink_level"])), 55);

    assert_eq!(
        json(&ok(&["set", &url, "Printer", "name", "\"lab\""])),
        "lab"
    );
    assert_eq!(
        json(&next()),
        serde_json::json!({"write": "name", "value": "lab"})
    );
    writeln!(mock.0.stdin.as_mut().unwrap(), "set nothing 1").unwrap();
}

#[test]
fn json_output_is_one_document_per_command() {
    let host = PrinterHost::start();
    let listed = json(&ok(&["--json", "list", &host.url]));
    let printer = &listed[0];
    assert_eq!(printer["name"], "Printer");
    assert_eq!(printer["api"], "Printer");
    assert!(printer["signature"].as_str().unwrap().starts_with("0x"));
    assert_eq!(printer["schema"]["api"], "Printer", "{listed}");

    let values = ok(&["--json", "get", &host.url, "Printer"]);
    assert_eq!(values.lines().count(), 1, "one line: {values}");
    assert_eq!(json(&values)["ink_level"], 100);
    assert_eq!(
        json(&ok(&[
            "--json", "call", &host.url, "Printer", "print", "\"a\""
        ])),
        1
    );
    let waited = json(&ok(&["--json", "wait", &host.url, "Printer"]));
    assert_eq!(
        waited,
        serde_json::json!({"source": "Printer", "state": "Valid"})
    );
}

#[test]
fn json_watch_prints_json_lines_with_time_and_source() {
    let host = PrinterHost::start();
    let mut watch = Killed(
        Command::new(env!("CARGO_BIN_EXE_aro"))
            .args(["--json", "watch", &host.url, "Printer"])
            .stdout(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let rx = lines_of(&mut watch.0);
    let next = || json(&rx.recv_timeout(WAIT).expect("aro watch printed nothing"));
    let first = next();
    assert_eq!(first["source"], "Printer");
    assert_eq!(first["property"], "ink_level");
    assert_eq!(first["value"], 100);
    let time = first["time"].as_str().expect("a timestamp");
    assert!(humantime::parse_rfc3339(time).is_ok(), "{time}");
    for _ in 0..2 {
        next();
    }
    ok(&["call", &host.url, "Printer", "print", "\"a\""]);
    let change = next();
    assert_eq!(change["source"], "Printer");
    assert!(change["property"].is_string(), "{change}");
}

#[test]
fn monitor_follows_every_source_of_a_host() {
    let host = PrinterHost::start();
    let mut monitor = Killed(
        Command::new(env!("CARGO_BIN_EXE_aro"))
            .args(["monitor", &host.url])
            .stdout(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let rx = lines_of(&mut monitor.0);
    let next = || rx.recv_timeout(WAIT).expect("aro monitor printed nothing");
    let initial: Vec<String> = (0..3).map(|_| next()).collect();
    assert_eq!(
        initial,
        [
            "Printer.ink_level = 100",
            "Printer.status = \"Idle\"",
            "Printer.name = \"office\""
        ]
    );
    ok(&["set", &host.url, "Printer", "name", "\"lab\""]);
    assert_eq!(next(), "Printer.name = \"lab\"");
}

#[test]
fn a_registry_url_leads_to_the_host_of_the_source() {
    let (registry, registry_url) = registry_example(&["registry", "tcp://127.0.0.1:0"]);
    let _registry = Killed(registry);
    let (printer, _) = registry_example(&["host", &registry_url, "printer"]);
    let _printer = Killed(printer);
    let values = json(&ok(&["get", &registry_url, "Printer"]));
    assert!(values.get("status").is_some(), "{values}");
    let stderr = failing(&["get", &registry_url, "Scanner"]);
    assert!(stderr.contains("the network offers: Printer"), "{stderr}");
}

#[test]
fn the_url_comes_from_aro_url_when_left_out() {
    let host = PrinterHost::start();
    let output = Command::new(env!("CARGO_BIN_EXE_aro"))
        .args(["get", "Printer", "ink_level"])
        .env("ARO_URL", &host.url)
        .output()
        .unwrap();
    assert!(output.status.success(), "{output:?}");
    assert_eq!(String::from_utf8_lossy(&output.stdout).trim(), "100");
}

#[test]
fn completions_are_generated_for_each_shell() {
    for shell in ["bash", "zsh", "fish"] {
        let script = ok(&["completions", shell]);
        assert!(script.contains("monitor"), "{shell}: {script}");
    }
}
