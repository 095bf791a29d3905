//! Example binaries as real processes: found (or built), spawned, killed when dropped.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};

use super::TIMEOUT;

/// The path of an example binary, building it if this test runs on its own.
pub fn example(name: &str) -> PathBuf {
    // target/debug/deps/<this test> -> target/debug/examples/<name>
    let mut path = std::env::current_exe().unwrap();
    path.pop();
    path.pop();
    path.push("examples");
    path.push(name);
    if !path.exists() {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let status = Command::new(cargo)
            .args(["build", "--example", name])
            .status()
            .unwrap();
        assert!(status.success(), "cannot build example {name}");
    }
    path
}

/// A child process killed when dropped, so a failing test leaves nothing behind.
pub struct Process(pub Child);

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts an example that prints `listening on URL` first, and returns it with that URL.
pub fn spawn_listening(name: &str, args: &[&str]) -> (Process, String) {
    spawn_listening_program(&example(name), args)
}

/// Starts a program that prints `listening on URL` first, and returns it with that URL.
pub fn spawn_listening_program(program: &std::path::Path, args: &[&str]) -> (Process, String) {
    let mut child = Command::new(program)
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line).unwrap();
    let url = line
        .trim()
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("unexpected {line:?}"))
        .to_owned();
    (Process(child), url)
}

/// Runs an example to completion without blocking the actix arbiter.
pub async fn run(name: &str, args: &[&str]) -> Output {
    let mut command = tokio::process::Command::new(example(name));
    command.args(args).kill_on_drop(true);
    tokio::time::timeout(TIMEOUT * 3, command.output())
        .await
        .expect("the example did not finish")
        .unwrap()
}

/// `aro`, built if this test runs on its own.
pub fn aro() -> PathBuf {
    let mut path = std::env::current_exe().unwrap();
    path.pop();
    path.pop();
    path.push("aro");
    if !path.exists() {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let status = Command::new(cargo)
            .args(["build", "-p", "actix-remote-objects-cli"])
            .status()
            .unwrap();
        assert!(status.success(), "cannot build aro");
    }
    path
}
