//! Shared test infrastructure: a panic guard (actix swallows actor panics), log capture,
//! and a printer API with its source actor.
#![allow(dead_code)]

pub mod attack;
pub mod certs;
pub mod counter_api;
pub mod mutate;
pub mod office_api;
pub mod printer_api;
pub mod processes;
pub mod proxy;
pub mod raw;
pub mod recorder;

use std::cell::Cell;
use std::io::Write;
use std::sync::{Arc, Mutex, Once};
use std::time::Duration;

#[allow(unused_imports)]
pub use printer_api::*;

/// Generous: only a broken implementation waits this long.
pub const TIMEOUT: Duration = Duration::from_secs(10);

thread_local! {
    static PANICS: Cell<usize> = const { Cell::new(0) };
}

/// Panics on any thread, for code that runs off the test's thread (the crate's runtime
/// thread).
static PANICS_IN_PROCESS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// How many panics have happened on any thread of this test binary since [`init`] ran.
pub fn panics_in_process() -> usize {
    PANICS_IN_PROCESS.load(std::sync::atomic::Ordering::SeqCst)
}

/// Fails the test on drop if any code on this thread panicked, such as an actor handler
/// (actix catches those, so the test would otherwise pass).
pub struct PanicGuard {
    before: usize,
    expected: usize,
}

impl PanicGuard {
    /// The test provokes exactly `n` panics (a handler that panics on purpose).
    pub fn expecting_panics(mut self, n: usize) -> PanicGuard {
        self.expected = n;
        self
    }
}

impl Drop for PanicGuard {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            let panics = PANICS.with(Cell::get) - self.before;
            assert_eq!(
                panics, self.expected,
                "{panics} panic(s) happened during the test, {} expected (see stderr)",
                self.expected
            );
        }
    }
}

/// Call first in every test.
pub fn init() -> PanicGuard {
    static HOOK: Once = Once::new();
    HOOK.call_once(|| {
        let default = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            PANICS.with(|p| p.set(p.get() + 1));
            PANICS_IN_PROCESS.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            default(info);
        }));
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
            .with_test_writer()
            .try_init();
    });
    PanicGuard {
        before: PANICS.with(Cell::get),
        expected: 0,
    }
}

/// Log lines captured on this thread while the returned guard lives.
#[derive(Clone, Default)]
pub struct Logs(Arc<Mutex<Vec<u8>>>);

impl Logs {
    pub fn capture() -> (Logs, tracing::subscriber::DefaultGuard) {
        let logs = Logs::default();
        let writer = logs.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::DEBUG)
            .with_ansi(false)
            .with_writer(move || writer.clone())
            .finish();
        (logs.clone(), tracing::subscriber::set_default(subscriber))
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

impl Write for Logs {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// A fresh Unix socket path in a directory removed when the returned guard drops.
pub fn socket_url() -> (String, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("host.sock");
    (format!("local:{}", path.display()), dir)
}

/// Waits for the next item of a stream, failing the test after [`TIMEOUT`].
pub async fn next<S: futures::Stream + Unpin>(stream: &mut S) -> S::Item {
    use futures::StreamExt;
    tokio::time::timeout(TIMEOUT, stream.next())
        .await
        .expect("timed out waiting for an event")
        .expect("the stream ended")
}

/// Waits until the replica reaches `state`.
pub async fn wait_state<A: actix_remote_objects::RemoteObject>(
    replica: &actix_remote_objects::Replica<A>,
    state: actix_remote_objects::ReplicaState,
) {
    let mut states = replica.state_changes();
    loop {
        if next(&mut states).await == state {
            return;
        }
    }
}

/// Runs each named `async fn name(url: &str)` as two tests, `name::tcp` and `name::unix`,
/// against a host listening on loopback TCP and on a Unix socket.
#[macro_export]
macro_rules! over_tcp_and_unix {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[actix::test]
            async fn tcp() {
                super::$name("tcp://127.0.0.1:0").await
            }

            #[actix::test]
            async fn unix() {
                let (url, _dir) = $crate::support::socket_url();
                super::$name(&url).await
            }
        }
    )*};
}

/// Encoded strings (bincode) whose length prefix claims far more than follows: u64 varints
/// (2^62, just past `isize::MAX`, `u64::MAX`) and a u128 varint. Before values were decoded
/// within the bytes received, the first aborted a process allocating 4 EiB and the others
/// panicked ("capacity overflow").
pub fn lying_strings() -> Vec<bytes::Bytes> {
    let mut lies = Vec::new();
    for claim in [1u64 << 62, (isize::MAX as u64) + 1, u64::MAX] {
        let mut bytes = vec![0xfd];
        bytes.extend_from_slice(&claim.to_le_bytes());
        bytes.extend_from_slice(b"short");
        lies.push(bytes::Bytes::from(bytes));
    }
    let mut bytes = vec![0xfe];
    bytes.extend_from_slice(&u128::MAX.to_le_bytes());
    bytes.extend_from_slice(b"short");
    lies.push(bytes::Bytes::from(bytes));
    lies
}
