//! A Rust source that Qt Remote Objects nodes use: the same `Demo` API as Qt's own capture
//! (`tests/data/qt/demo.rep`), served to native nodes and, in Qt's dialect (QtRO 2.0), to
//! C++, QML and PyQt replicas.
//!
//! ```text
//! cargo run --example qt_interop                     # prints "qt: tcp://127.0.0.1:PORT"
//! cargo run --example qt_interop QT_URL REGISTRY_URL  # also registers with a Qt registry
//! /usr/bin/python3 examples/qt/dynamic_replica.py tcp://127.0.0.1:PORT Demo
//! ```
//! (PyQt6 from Debian: `apt-get install python3-pyqt6`.)

use actix::prelude::*;
use actix_remote_objects::prelude::*;

#[path = "common/logging.rs"]
mod logging;
#[path = "common/shutdown.rs"]
mod shutdown;
use shutdown::wait_for_termination;

/// How the demo runs; an enum travels to Qt as its integer.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Mode {
    #[default]
    Off,
    On,
    Auto,
}

/// A plain struct: a `POD` gadget on the Qt side.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct MyPod {
    pub x: i32,
    pub name: String,
}

remote_object! {
    /// The API of Qt's demo capture, in Rust.
    pub Demo {
        /// A counter replicas may push new values to (Qt's READPUSH).
        prop count: i32 = 5, push;
        /// A label replicas write (READWRITE).
        prop label: String = "init".to_owned(), read_write;
        /// A ratio only the source changes.
        prop ratio: f64 = 1.0;
        /// Set once.
        prop flag: bool = true, constant;
        /// An enum.
        prop mode: Mode, push;
        /// A struct.
        prop pod: MyPod = MyPod { x: 7, name: "p".to_owned() }, push;
        /// Emitted by `reset`.
        signal pinged(n: i32, msg: String);
        /// Adds two numbers.
        slot add(a: i32, b: i32) -> i32;
        /// Sets `count` to 0 and emits `pinged(99, "reset")`.
        slot reset();
        /// Echoes a text with a `!`.
        slot echo(s: String) -> String;
    }
}

/// The source actor.
pub struct DemoService(pub demo::SimpleSource);

impl Actor for DemoService {
    type Context = Context<Self>;
}

impl RemoteSource for DemoService {
    type Api = Demo;
    fn simple_source(&self) -> &demo::SimpleSource {
        &self.0
    }
}

impl Handler<demo::Add> for DemoService {
    type Result = SlotResult<i32>;
    fn handle(&mut self, call: demo::Add, _: &mut Context<Self>) -> SlotResult<i32> {
        Ok(call.a.wrapping_add(call.b))
    }
}

impl Handler<demo::Reset> for DemoService {
    type Result = SlotResult<()>;
    fn handle(&mut self, _: demo::Reset, _: &mut Context<Self>) -> SlotResult<()> {
        self.0.set_count(0).map_err(SlotError::source)?;
        self.0
            .set_ratio(self.0.ratio() + 0.5)
            .map_err(SlotError::source)?;
        self.0
            .emit_pinged(99, "reset".to_owned())
            .map_err(SlotError::source)?;
        Ok(())
    }
}

impl Handler<demo::Echo> for DemoService {
    type Result = SlotResult<String>;
    fn handle(&mut self, call: demo::Echo, _: &mut Context<Self>) -> SlotResult<String> {
        Ok(format!("{}!", call.s))
    }
}

#[actix::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    logging::init_logging();
    let qt_url = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "tcp://127.0.0.1:0".to_owned());
    // With a Qt registry host's URL, the sources are registered there, under the URL Qt
    // nodes reach this host at.
    let config = match std::env::args().nth(2) {
        Some(registry) => HostConfig::default().registry_url(format!("qt+{registry}")),
        None => HostConfig::default(),
    };
    let host = Host::listen_with("tcp://127.0.0.1:0", config).await?;
    let qt = host.listen_qt(&qt_url).await?;
    host.enable_remoting(DemoService(demo::SimpleSource::default()))
        .await?;
    println!("native: {}", host.url().unwrap_or_default());
    println!("qt: {qt}");
    wait_for_termination().await;
    host.shutdown().await;
    Ok(())
}
