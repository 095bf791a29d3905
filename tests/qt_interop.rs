//! Real Qt 6 nodes against a Rust host: a repc-generated C++ replica (built here with CMake
//! from `tests/qt/demo.rep`) and a PyQt6 dynamic replica (`examples/qt/dynamic_replica.py`)
//! of the Rust `Demo` source of `examples/qt_interop.rs`, each in its own process, over TCP
//! and Unix sockets.
//!
//! Needs Qt 6 (`qt6-remoteobjects-dev qt6-base-dev cmake g++ python3-pyqt6
//! python3-pyqt6.qtremoteobjects`): without it each test says so and passes, except under
//! `CI=true`, where `.ci/run` installs it and a missing piece fails.

#[path = "support/qt_demo.rs"]
mod qt_demo;
#[path = "support/qt_programs.rs"]
mod qt_programs;
mod support;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};

use actix_remote_objects::dynamic::Value;
use actix_remote_objects::{Host, HostConfig, NetworkChange, Node, ReplicaState};
use demo::ReplicaExt as _;
use futures::StreamExt;
use qt_demo::{demo, Demo, Mode, MyPod, OtherDemo};
use qt_programs::{cpp_programs, run_to_end, with_qt};
use support::processes::aro;
use support::processes::{example, spawn_listening_program, Process};
use support::*;

/// The Rust demo host, with its native and Qt URLs.
fn start_demo(qt_url: &str) -> (Process, String, String) {
    start_demo_with(&[qt_url])
}

/// The Rust demo host started with `args`, with its native and Qt URLs.
fn start_demo_with(args: &[&str]) -> (Process, String, String) {
    let mut child = Command::new(example("qt_interop"))
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut next = |prefix: &str| {
        let line = lines.next().expect("the host prints its URLs").unwrap();
        line.strip_prefix(prefix)
            .unwrap_or_else(|| panic!("expected {prefix:?}, got {line:?}"))
            .to_owned()
    };
    let native = next("native: ");
    let qt = next("qt: ");
    (Process(child), native, qt)
}

/// The demo's values as a native dynamic replica sees them.
async fn native_values(url: &str) -> (Value, Value, Value) {
    let node = Node::connect(url).await.unwrap();
    let replica = node.acquire_dynamic("Demo");
    replica.wait_for_source(TIMEOUT).await.unwrap();
    let values = (
        replica.property("count").unwrap(),
        replica.property("label").unwrap(),
        replica.property("mode").unwrap(),
    );
    node.shutdown().await;
    values
}

async fn cpp_replica_session(qt_url: &str) {
    let (_host, native, qt) = start_demo(qt_url);
    let out = run_to_end(Command::new(cpp_programs().join("demo_replica")).arg(&qt));
    assert_eq!(
        out.lines().collect::<Vec<_>>(),
        [
            "state 2",
            "init count=5 label=init ratio=1 flag=1 mode=0 pod=7,p",
            "add 5",
            "echo yo!",
            "count 42",
            "mode 2",
            "pod 9,nine",
            "label hi",
            "pinged 99 reset count=0 ratio=1.5",
            "done",
        ],
        "the C++ replica's session"
    );
    // What the Qt replica did reached the source: a native replica sees it too.
    let (count, label, mode) = native_values(&native).await;
    assert_eq!(count, Value::Int(0));
    assert_eq!(label, Value::Str("hi".into()));
    assert_eq!(
        mode,
        Value::Variant {
            name: "Auto".into(),
            value: Box::new(Value::Unit)
        }
    );
}

#[actix::test]
async fn a_repc_cpp_replica_uses_a_rust_source_over_tcp() {
    let _guard = init();
    if with_qt() {
        cpp_replica_session("tcp://127.0.0.1:0").await;
    }
}

fn socket_url(tag: &str) -> String {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"));
    let path = dir.join(format!("qt-{tag}-{}.sock", std::process::id()));
    let _ = std::fs::remove_file(&path);
    format!("local:{}", path.display())
}

#[actix::test]
async fn a_repc_cpp_replica_uses_a_rust_source_over_a_unix_socket() {
    let _guard = init();
    if with_qt() {
        cpp_replica_session(&socket_url("cpp")).await;
    }
}

async fn pyqt_replica_session(qt_url: &str) {
    let (_host, native, qt) = start_demo(qt_url);
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/qt/dynamic_replica.py");
    let steps = r#"[["push","count",42],["wait","countChanged",42],
        ["write","label","hi"],["wait","labelChanged","hi"],
        ["call","reset"],["wait","pinged",99,"reset"]]"#;
    let out = run_to_end(
        Command::new("/usr/bin/python3")
            .arg(script)
            .arg(&qt)
            .arg("Demo")
            .arg(steps),
    );
    let events: Vec<serde_json::Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l:?}: {e}")))
        .collect();
    let init = events
        .iter()
        .find_map(|e| e.get("init"))
        .expect("the replica initialized");
    assert_eq!(init["count"], 5);
    assert_eq!(init["label"], "init");
    assert_eq!(init["ratio"], 1.0);
    assert_eq!(init["flag"], true);
    assert_eq!(
        init["mode"]["type"], "Demo::Mode",
        "the enum is typed by its class"
    );
    assert_eq!(init["pod"]["type"], "MyPod", "the struct is a gadget");
    let signals: Vec<&serde_json::Value> = events
        .iter()
        .filter(|e| e.get("signal").is_some())
        .collect();
    let saw = |name: &str, args: serde_json::Value| {
        signals
            .iter()
            .any(|s| s["signal"] == name && s["args"] == args)
    };
    assert!(saw("countChanged", serde_json::json!([42])), "{signals:?}");
    assert!(
        saw("labelChanged", serde_json::json!(["hi"])),
        "{signals:?}"
    );
    assert!(saw("ratioChanged", serde_json::json!([1.5])), "{signals:?}");
    assert!(
        saw("pinged", serde_json::json!([99, "reset"])),
        "{signals:?}"
    );
    assert!(events.last().is_some_and(|e| e["done"] == true));
    let (count, label, _) = native_values(&native).await;
    assert_eq!((count, label), (Value::Int(0), Value::Str("hi".into())));
}

#[actix::test]
async fn a_pyqt_dynamic_replica_uses_a_rust_source_over_tcp() {
    let _guard = init();
    if with_qt() {
        pyqt_replica_session("tcp://127.0.0.1:0").await;
    }
}

#[actix::test]
async fn a_pyqt_dynamic_replica_uses_a_rust_source_over_a_unix_socket() {
    let _guard = init();
    if with_qt() {
        pyqt_replica_session(&socket_url("py")).await;
    }
}

/// A Qt host (`tests/qt/demo_host.cpp`) serving the repc-generated Demo source at `url`,
/// with the URL it listens on.
fn start_qt_host(url: &str) -> (Process, String) {
    spawn_listening_program(&cpp_programs().join("demo_host"), &[url])
}

async fn rust_replica_of_a_qt_source(listen: &str) {
    let (mut qt_host, url) = start_qt_host(listen);
    let node = Node::connect(&format!("qt+{url}")).await.unwrap();
    let replica = node.acquire::<Demo>();
    replica.wait_for_source(TIMEOUT).await.unwrap();
    assert_eq!(
        replica.state(),
        ReplicaState::Valid,
        "repc's signature matched"
    );
    assert_eq!(
        (
            replica.count(),
            replica.label(),
            replica.ratio(),
            replica.flag()
        ),
        (5, "init".to_owned(), 1.0, true)
    );
    assert_eq!(replica.mode(), Mode::Off);
    assert_eq!(
        replica.pod(),
        MyPod {
            x: 7,
            name: "p".into()
        }
    );
    assert_eq!(replica.call(demo::Add { a: 2, b: 3 }).await, Ok(5));
    assert_eq!(
        replica.call(demo::Echo { s: "yo".into() }).await,
        Ok("yo!".to_owned())
    );
    // Push slots and writes resolve once the Qt source applied them.
    assert_eq!(replica.push_count(42).await, Ok(()));
    assert_eq!(replica.count(), 42);
    assert_eq!(replica.push_mode(Mode::Auto).await, Ok(()));
    assert_eq!(replica.mode(), Mode::Auto);
    let nine = MyPod {
        x: 9,
        name: "nine".into(),
    };
    assert_eq!(replica.push_pod(nine.clone()).await, Ok(()));
    assert_eq!(replica.pod(), nine);
    assert_eq!(replica.set_label("hi".into()).await, Ok("hi".to_owned()));
    let mut signals = replica.signals();
    assert_eq!(replica.call(demo::Reset {}).await, Ok(()));
    let demo::Signal::Pinged(ping) = next(&mut signals).await;
    assert_eq!((ping.n, ping.msg.as_str()), (99, "reset"));
    assert_eq!((replica.count(), replica.ratio()), (0, 1.5));

    // The Qt host dies: Suspect, values kept; it comes back: Valid with its new values.
    let mut states = replica.state_changes();
    let _ = qt_host.0.kill();
    let _ = qt_host.0.wait();
    while next(&mut states).await != ReplicaState::Suspect {}
    assert_eq!(replica.count(), 0, "values are kept while Suspect");
    let (_again, _) = start_qt_host(&url);
    while next(&mut states).await != ReplicaState::Valid {}
    assert_eq!(replica.count(), 5, "re-initialized from the restarted host");
    node.shutdown().await;
}

#[actix::test]
async fn a_rust_typed_replica_uses_a_qt_source_over_tcp() {
    let _guard = init();
    if with_qt() {
        rust_replica_of_a_qt_source("tcp://127.0.0.1:0").await;
    }
}

#[actix::test]
async fn a_rust_typed_replica_uses_a_qt_source_over_a_unix_socket() {
    let _guard = init();
    if with_qt() {
        rust_replica_of_a_qt_source(&socket_url("qt-host")).await;
    }
}

#[actix::test]
async fn a_rust_dynamic_replica_uses_a_qt_source_from_its_definition() {
    let _guard = init();
    if !with_qt() {
        return;
    }
    let (_qt_host, url) = start_qt_host("tcp://127.0.0.1:0");
    let node = Node::connect(&format!("qt+{url}")).await.unwrap();
    let replica = node.acquire_dynamic("Demo");
    replica.wait_for_source(TIMEOUT).await.unwrap();
    let schema = replica.schema().expect("the definition became a schema");
    let slots: Vec<&str> = schema.slots.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(
        slots,
        [
            "push_count",
            "push_mode",
            "push_pod",
            "add",
            "reset",
            "echo"
        ]
    );
    assert_eq!(replica.property("count").unwrap(), Value::Int(5));
    assert_eq!(
        replica.property("pod").unwrap(),
        Value::Struct(vec![
            ("x".into(), Value::Int(7)),
            ("name".into(), Value::Str("p".into()))
        ])
    );
    assert_eq!(
        replica
            .call("add", vec![Value::Int(2), Value::Int(3)])
            .await
            .unwrap(),
        Value::Int(5)
    );
    let mut events = replica.events();
    replica.call("reset", vec![]).await.unwrap();
    let mut saw_ping = false;
    while !saw_ping {
        let event = tokio::time::timeout(TIMEOUT, events.next())
            .await
            .expect("events come")
            .expect("the stream goes on");
        saw_ping = format!("{event:?}").contains("pinged");
    }
    assert_eq!(replica.property("count").unwrap(), Value::Int(0));
    node.shutdown().await;
}

#[actix::test]
async fn signatures_that_differ_are_a_mismatch_each_way() {
    let _guard = init();
    if !with_qt() {
        return;
    }
    // A Rust replica of another API against the Qt source.
    let (_qt_host, url) = start_qt_host("tcp://127.0.0.1:0");
    let node = Node::connect(&format!("qt+{url}")).await.unwrap();
    let other = node.acquire::<OtherDemo>();
    let mut states = other.state_changes();
    while next(&mut states).await != ReplicaState::SignatureMismatch {}
    node.shutdown().await;
    // A Qt replica of another API against the Rust source, and of its own API.
    let (_host, _native, qt) = start_demo("tcp://127.0.0.1:0");
    let out = run_to_end(Command::new(cpp_programs().join("other_replica")).arg(&qt));
    assert_eq!(out.trim(), "state 4", "Qt's SignatureMismatch");
}

mod imported {
    //! The same API imported from the .rep file the Qt programs are built from.
    actix_remote_objects::remote_object!(rep = "tests/qt/demo.rep");
}

#[actix::test]
async fn an_api_imported_from_the_rep_file_talks_to_the_qt_source_built_from_it() {
    let _guard = init();
    if !with_qt() {
        return;
    }
    use imported::demo::ReplicaExt as _;
    let (_qt_host, url) = start_qt_host("tcp://127.0.0.1:0");
    let node = Node::connect(&format!("qt+{url}")).await.unwrap();
    let replica = node.acquire::<imported::Demo>();
    replica.wait_for_source(TIMEOUT).await.unwrap();
    assert_eq!(replica.state(), ReplicaState::Valid);
    assert_eq!((replica.count(), replica.label()), (5, "init".to_owned()));
    assert_eq!(
        replica.pod(),
        imported::MyPod {
            x: 7,
            name: "p".into()
        }
    );
    assert_eq!(replica.push_mode(imported::Mode::Auto).await, Ok(()));
    assert_eq!(replica.mode(), imported::Mode::Auto);
    assert_eq!(
        replica.call(imported::demo::Add { a: 40, b: 2 }).await,
        Ok(42)
    );
    node.shutdown().await;
}

#[actix::test]
async fn a_qt_replica_reconnects_to_a_restarted_rust_host() {
    let _guard = init();
    if !with_qt() {
        return;
    }
    let (host, _, qt) = start_demo("tcp://127.0.0.1:0");
    let mut replica = Command::new(cpp_programs().join("demo_replica"))
        .arg(&qt)
        .arg("reconnect")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut states = BufReader::new(replica.stdout.take().unwrap()).lines();
    let mut wait_for = |wanted: &str| loop {
        let line = states
            .next()
            .expect("the replica reports its state")
            .unwrap();
        if line == wanted {
            return;
        }
    };
    wait_for("state 2");
    drop(host); // killed: the Qt replica goes Suspect …
    wait_for("state 3");
    // … and, retrying every 250 ms as Qt does, is Valid again once the host is back.
    let (_again, _, _) = start_demo(&qt);
    wait_for("state 2");
    let status = replica.wait().unwrap();
    assert!(status.success(), "the Qt replica saw the re-init: {status}");
}

#[actix::test]
async fn qt_hosts_and_nodes_use_a_rust_registry() {
    let _guard = init();
    if !with_qt() {
        return;
    }
    let registry = actix_remote_objects::RegistryHost::listen("tcp://127.0.0.1:0")
        .await
        .unwrap();
    let qt_registry = registry
        .host()
        .listen_qt("tcp://127.0.0.1:0")
        .await
        .unwrap();
    // A Qt host registers its source with the Rust registry …
    let (_qt_host, _) = spawn_listening_program(
        &cpp_programs().join("demo_host"),
        &["tcp://127.0.0.1:0", &qt_registry],
    );
    // … a Rust node finds it there and reaches it in Qt's dialect …
    let node = Node::with_registry(registry.host().url().unwrap()).unwrap();
    let replica = node.acquire::<Demo>();
    replica.wait_for_source(TIMEOUT).await.unwrap();
    assert_eq!(replica.count(), 5);
    assert_eq!(replica.call(demo::Add { a: 1, b: 2 }).await, Ok(3));
    node.shutdown().await;
    // … and so does a Qt node, through Qt's registry API served by the Rust registry.
    // The registry runs on this thread: wait for the Qt program off it.
    let mut replica = Command::new(cpp_programs().join("demo_replica"));
    replica.arg(format!("registry={qt_registry}"));
    let out = tokio::task::spawn_blocking(move || run_to_end(&mut replica))
        .await
        .unwrap();
    assert!(out.ends_with("done\n"), "{out}");
    assert!(out.contains("add 5\n"), "{out}");
}

#[actix::test]
async fn a_qt_node_waiting_on_a_rust_registry_is_told_when_a_qt_host_registers() {
    let _guard = init();
    if !with_qt() {
        return;
    }
    let registry = actix_remote_objects::RegistryHost::listen("tcp://127.0.0.1:0")
        .await
        .unwrap();
    let qt_registry = registry
        .host()
        .listen_qt("tcp://127.0.0.1:0")
        .await
        .unwrap();
    let mut watchers = registry.host().subscriber_counts("Registry").unwrap();
    // The Qt node first, with nothing registered: it learns of Demo only from the
    // registry's signal, which the Rust registry sends as Qt's `remoteObjectAdded`.
    let mut replica = Command::new(cpp_programs().join("demo_replica"));
    replica.arg(format!("registry={qt_registry}"));
    let replica = tokio::task::spawn_blocking(move || run_to_end(&mut replica));
    while next(&mut watchers).await == 0 {}
    let (_qt_host, _) = spawn_listening_program(
        &cpp_programs().join("demo_host"),
        &["tcp://127.0.0.1:0", &qt_registry],
    );
    let out = replica.await.unwrap();
    assert!(out.ends_with("done\n"), "{out}");
    assert!(out.contains("add 5\n"), "{out}");
}

#[actix::test]
async fn a_plain_qobject_source_of_pyqt_is_used_from_its_definition() {
    let _guard = init();
    if !with_qt() {
        return;
    }
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/qt/plain_source.py");
    let mut command = Command::new("/usr/bin/python3");
    command
        .arg(&script)
        .arg("tcp://127.0.0.1:0")
        .stdout(Stdio::piped());
    let mut child = command.spawn().unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let _python = Process(child);
    let url = format!("qt+{}", line.trim().strip_prefix("listening on ").unwrap());

    // A Rust dynamic replica: the API comes from Qt's class definition (no signature).
    let node = Node::connect(&url).await.unwrap();
    let replica = node.acquire_dynamic("Plain");
    replica.wait_for_source(TIMEOUT).await.unwrap();
    assert_eq!(replica.property("count").unwrap(), Value::Int(5));
    assert_eq!(
        replica
            .call("add", vec![Value::Int(2), Value::Int(3)])
            .await
            .unwrap(),
        Value::Int(5)
    );
    let mut events = replica.events();
    replica
        .set_property("label", &Value::Str("hi".into()))
        .unwrap();
    replica.call("reset", vec![]).await.unwrap();
    loop {
        let event = tokio::time::timeout(TIMEOUT, events.next())
            .await
            .expect("events come")
            .expect("the stream goes on");
        if format!("{event:?}").contains("pinged") {
            break;
        }
    }
    assert_eq!(replica.property("count").unwrap(), Value::Int(0));
    assert_eq!(
        replica.property("label").unwrap(),
        Value::Str("hi".into()),
        "the write was applied before the reset that came after it"
    );
    let schema = replica.schema().unwrap();
    assert_eq!(
        schema.signals[0].args[1].name, "arg1",
        "PyQt names no parameters"
    );
    // The same node holds a replica from a native Rust host beside the Qt one.
    let (_rust_host, native, _) = start_demo("tcp://127.0.0.1:0");
    node.connect_to(&native).await.unwrap();
    let demo = node.acquire::<Demo>();
    demo.wait_for_source(TIMEOUT).await.unwrap();
    assert_eq!(demo.call(demo::Add { a: 1, b: 1 }).await, Ok(2));
    assert_eq!(
        replica.state(),
        ReplicaState::Valid,
        "the Qt host's replica goes on"
    );
    node.shutdown().await;

    // `aro` against the Qt host.
    let aro = aro();
    let out = Command::new(&aro)
        .args(["get", &url, "Plain", "label"])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "\"hi\"");
    let out = Command::new(&aro)
        .args(["call", &url, "Plain", "add", "40", "2"])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "42");
}

#[actix::test]
async fn a_rust_node_on_a_qt_registry_is_told_as_sources_come_and_go() {
    let _guard = init();
    if !with_qt() {
        return;
    }
    let (_registry, registry) = spawn_listening_program(
        &cpp_programs().join("registry_host"),
        &["tcp://127.0.0.1:0"],
    );
    let node = Node::with_registry(&format!("qt+{registry}")).unwrap();
    node.wait_for_registry(TIMEOUT).await.unwrap();
    let mut changes = node.network_changes();
    // Qt's `remoteObjectAdded` and `remoteObjectRemoved` reach the node as its changes. (Qt's
    // registry says nothing when a host goes away, QTRO.md §1.5: a source is disabled here.)
    let config = HostConfig::default().registry_url(format!("qt+{registry}"));
    let host = Host::listen_with("tcp://127.0.0.1:0", config)
        .await
        .unwrap();
    let qt_url = host.listen_qt("tcp://127.0.0.1:0").await.unwrap();
    host.enable_remoting(PrinterService::new()).await.unwrap();
    let NetworkChange::Added { name, location } = next(&mut changes).await else {
        panic!("Printer is added first");
    };
    assert_eq!(name, "Printer");
    assert_eq!(location.host_url, format!("qt+{qt_url}"));
    assert_eq!(node.network_sources()["Printer"], location);
    host.disable_remoting("Printer").await.unwrap();
    assert_eq!(
        next(&mut changes).await,
        NetworkChange::Removed { name, location }
    );
    assert!(node.network_sources().is_empty());
    host.shutdown().await;
}

#[actix::test]
async fn a_rust_host_registers_with_a_qt_registry_where_rust_and_qt_nodes_find_it() {
    let _guard = init();
    if !with_qt() {
        return;
    }
    let (_registry, registry) = spawn_listening_program(
        &cpp_programs().join("registry_host"),
        &["tcp://127.0.0.1:0"],
    );
    let (_host, _, _) = start_demo_with(&["tcp://127.0.0.1:0", &registry]);
    // A Rust node reads Qt's registry and reaches the Rust host in Qt's dialect …
    let node = Node::with_registry(&format!("qt+{registry}")).unwrap();
    let replica = node.acquire::<Demo>();
    replica.wait_for_source(TIMEOUT).await.unwrap();
    assert_eq!(replica.call(demo::Add { a: 20, b: 22 }).await, Ok(42));
    node.shutdown().await;
    // … and a Qt node finds it there too.
    let mut qt_node = Command::new(cpp_programs().join("demo_replica"));
    qt_node.arg(format!("registry={registry}"));
    let out = tokio::task::spawn_blocking(move || run_to_end(&mut qt_node))
        .await
        .unwrap();
    assert!(out.ends_with("done\n"), "{out}");
}

#[actix::test]
async fn a_qt_replicas_heartbeat_finds_a_stopped_rust_host_and_its_return() {
    let _guard = init();
    if !with_qt() {
        return;
    }
    let (host, _, qt) = start_demo("tcp://127.0.0.1:0");
    let mut replica = Command::new(cpp_programs().join("demo_replica"))
        .arg(&qt)
        .arg("heartbeat")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(replica.stdout.take().unwrap()).lines();
    let mut wait_for = |wanted: &str| loop {
        let line = lines
            .next()
            .expect("the replica reports its state")
            .unwrap();
        if line == wanted {
            return;
        }
        assert!(
            !line.starts_with("steady"),
            "the Rust host answered every ping: {line}"
        );
    };
    wait_for("steady suspects=0");
    let signal = |name: &str| {
        let pid = host.0.id().to_string();
        let status = Command::new("kill").args([name, &pid]).status().unwrap();
        assert!(status.success(), "kill {name} {pid}");
    };
    signal("-STOP"); // the host answers no ping: the Qt replica goes Suspect …
    wait_for("state 3");
    signal("-CONT"); // … and is Valid again once its pings are answered.
    wait_for("state 2");
    let status = replica.wait().unwrap();
    assert!(status.success(), "the Qt replica came back: {status}");
}
