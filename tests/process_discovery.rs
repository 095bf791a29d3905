//! mDNS discovery between real processes in separate network stacks: the test makes two
//! network namespaces joined by a veth pair, runs the discovery example's host in one and
//! its node (and `aro list --mdns`) in the other, so multicast leaves one stack and reaches
//! the other as it would cross a LAN. Where namespaces cannot be made (not root, no `ip`),
//! the same runs on loopback in this namespace, saying why; under `CI=true` that is a
//! failure, as CI runs as root.

mod support;

use std::process::Stdio;

use support::processes::{aro, example};
use support::TIMEOUT;
use tokio::io::{AsyncBufReadExt, BufReader, Lines};
use tokio::process::{Child, ChildStdout, Command};

/// Two network namespaces joined by a veth pair (10.213.0.1 and 10.213.0.2), deleted when
/// dropped.
struct Lan {
    names: [String; 2],
}

const ADDRESSES: [&str; 2] = ["10.213.0.1", "10.213.0.2"];

fn ip(args: &[&str]) -> Result<(), String> {
    let out = std::process::Command::new("ip")
        .args(args)
        .output()
        .map_err(|e| format!("cannot run ip: {e}"))?;
    match out.status.success() {
        true => Ok(()),
        false => Err(format!(
            "ip {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        )),
    }
}

impl Lan {
    fn make() -> Result<Lan, String> {
        // Names of this process and test, short enough for an interface (15 bytes).
        let id = format!("{:x}{:x}", std::process::id() % 0xffff, fastrand::u16(..));
        let lan = Lan {
            names: [format!("aroA{id}"), format!("aroB{id}")],
        };
        let veths = [format!("va{id}"), format!("vb{id}")];
        for name in &lan.names {
            ip(&["netns", "add", name])?;
        }
        ip(&[
            "link", "add", &veths[0], "type", "veth", "peer", "name", &veths[1],
        ])?;
        for ((ns, veth), address) in lan.names.iter().zip(&veths).zip(ADDRESSES) {
            ip(&["link", "set", veth, "netns", ns])?;
            ip(&[
                "-n",
                ns,
                "addr",
                "add",
                &format!("{address}/24"),
                "dev",
                veth,
            ])?;
            ip(&["-n", ns, "link", "set", veth, "up"])?;
            ip(&["-n", ns, "link", "set", "lo", "up"])?;
        }
        Ok(lan)
    }

    /// `program args…` inside namespace `side` (0 or 1).
    fn command(&self, side: usize, program: &std::path::Path, args: &[&str]) -> Command {
        let mut command = Command::new("ip");
        command
            .args(["netns", "exec", &self.names[side]])
            .arg(program)
            .args(args);
        command
    }
}

impl Drop for Lan {
    fn drop(&mut self) {
        for name in &self.names {
            let _ = ip(&["netns", "del", name]);
        }
    }
}

/// Where the test runs: two namespaces, or (falling back) loopback here.
enum Setting {
    Namespaces(Lan),
    Loopback { port: u16 },
}

impl Setting {
    fn get() -> Setting {
        match Lan::make() {
            Ok(lan) => Setting::Namespaces(lan),
            Err(reason) if std::env::var("CI").as_deref() == Ok("true") => {
                panic!("CI=true, and network namespaces cannot be made: {reason}")
            }
            Err(reason) => {
                eprintln!(
                    "skipping the network-namespace part: {reason}; running across \
                     processes on loopback instead"
                );
                let port = std::net::UdpSocket::bind("127.0.0.1:0")
                    .unwrap()
                    .local_addr()
                    .unwrap()
                    .port();
                Setting::Loopback { port }
            }
        }
    }

    /// The mDNS URL both sides use: mDNS's own port in namespaces of their own; a free
    /// port and loopback only here.
    fn mdns_url(&self) -> String {
        match self {
            Setting::Namespaces(_) => "mdns:".into(),
            Setting::Loopback { port } => format!("mdns:aro?port={port}&interface=lo"),
        }
    }

    /// `program args…`, on side `side`.
    fn command(&self, side: usize, program: &std::path::Path, args: &[&str]) -> Command {
        let mut command = match self {
            Setting::Namespaces(lan) => lan.command(side, program, args),
            Setting::Loopback { .. } => {
                let mut command = Command::new(program);
                command.args(args);
                command
            }
        };
        command
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true);
        command
    }

    /// The address the host's side is reached at from the other.
    fn host_address(&self) -> &'static str {
        match self {
            Setting::Namespaces(_) => ADDRESSES[0],
            Setting::Loopback { .. } => "127.0.0.1",
        }
    }
}

/// A child process and its output lines.
struct Running {
    child: Child,
    lines: Lines<BufReader<ChildStdout>>,
}

impl Running {
    fn start(mut command: Command) -> Running {
        let mut child = command.spawn().unwrap();
        let stdout = child.stdout.take().unwrap();
        Running {
            child,
            lines: BufReader::new(stdout).lines(),
        }
    }

    /// The next line that `wanted` accepts (within `patience`), skipping others.
    async fn line(
        &mut self,
        wanted: impl Fn(&str) -> bool,
        patience: std::time::Duration,
    ) -> String {
        let reading = async {
            while let Some(line) = self.lines.next_line().await.unwrap() {
                if wanted(&line) {
                    return line;
                }
            }
            panic!("the process ended without the line wanted");
        };
        tokio::time::timeout(patience, reading)
            .await
            .expect("timed out waiting for a line")
    }

    /// Asks the process to stop (SIGTERM): it shuts down cleanly.
    fn terminate(&self) {
        let pid = self.child.id().unwrap() as libc::pid_t;
        // SAFETY: signalling a child of this process by its pid.
        unsafe { libc::kill(pid, libc::SIGTERM) };
    }
}

/// Starts the discovery example's host on side 0: its port.
async fn start_host(setting: &Setting) -> (Running, u16) {
    let url = setting.mdns_url();
    let mut host = Running::start(setting.command(0, &example("discovery"), &["host", &url]));
    let line = host.line(|l| l.starts_with("listening on "), TIMEOUT).await;
    let port = line.rsplit(':').next().unwrap().parse().unwrap();
    (host, port)
}

#[tokio::test]
async fn a_node_in_another_network_finds_the_host_and_sees_it_say_goodbye() {
    let setting = Setting::get();
    let (host, port) = start_host(&setting).await;
    let at = format!("tcp://{}:{port}", setting.host_address());

    let url = setting.mdns_url();
    let mut node = Running::start(setting.command(1, &example("discovery"), &["node", &url]));
    node.line(|l| l == format!("found Printer at {at}"), TIMEOUT)
        .await;
    node.line(|l| l == "printed job 1", TIMEOUT).await;

    // aro, from the node's side, lists it too.
    let listed = setting
        .command(1, &aro(), &["list", "--mdns", &url])
        .output()
        .await
        .unwrap();
    let listed = String::from_utf8_lossy(&listed.stdout).into_owned();
    assert!(
        listed.contains("Printer (API Printer") && listed.contains(&at),
        "{listed}"
    );

    // A clean shutdown says goodbye: the node is told at once.
    host.terminate();
    node.line(|l| l == format!("removed Printer at {at}"), TIMEOUT)
        .await;
}

#[tokio::test]
async fn a_crashed_host_leaves_the_view_of_a_node_that_used_it() {
    let setting = Setting::get();
    let (mut host, port) = start_host(&setting).await;
    let at = format!("tcp://{}:{port}", setting.host_address());

    let url = setting.mdns_url();
    let mut node = Running::start(setting.command(1, &example("discovery"), &["node", &url]));
    node.line(|l| l == "printed job 1", TIMEOUT).await;

    // Killed: no goodbye. The node's reconnect fails, it asks after the host's records,
    // and no one answering, they are dropped (RFC 6762 §10.4) — well before their TTL.
    host.child.kill().await.unwrap();
    node.line(|l| l == format!("removed Printer at {at}"), TIMEOUT * 3)
        .await;
}
