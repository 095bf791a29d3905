//! Where the crate's actors and tasks run: the caller's actix arbiter when there is one, and
//! otherwise — a plain tokio program, a tokio `LocalSet`, a plain `main` — one actix arbiter
//! of the crate's own, on a thread it starts on first use.
//!
//! Inside an actix `System` (`#[actix::main]`, `#[actix::test]`, an actix-web worker) nothing
//! changes: hosts, nodes and replicas run on the arbiter they are created on. Elsewhere the
//! crate's public functions hand their work to its own arbiter and only wait for the result,
//! so they work under any executor. The one thing that cannot move is a caller's actor that
//! is not `Send`: [`crate::Host::enable_remoting`] starts the actor it is given on the current
//! arbiter, and without one it fails with [`crate::Error::is_no_runtime`]; there, give
//! [`crate::Host::enable_remoting_with`] a function that makes the actor (it runs on the
//! crate's thread), or start actors yourself with [`start`].
//!
//! ```
//! use std::time::Duration;
//! use actix::prelude::*;
//! use actix_remote_objects::prelude::*;
//!
//! remote_object! {
//!     pub Lamp {
//!         prop on: bool;
//!         slot toggle() -> bool;
//!     }
//! }
//!
//! struct LampService {
//!     remote: lamp::SimpleSource,
//! }
//! impl Actor for LampService {
//!     type Context = Context<Self>;
//! }
//! impl RemoteSource for LampService {
//!     type Api = Lamp;
//!     fn simple_source(&self) -> &lamp::SimpleSource {
//!         &self.remote
//!     }
//! }
//! impl Handler<lamp::Toggle> for LampService {
//!     type Result = SlotResult<bool>;
//!     fn handle(&mut self, _: lamp::Toggle, _: &mut Context<Self>) -> SlotResult<bool> {
//!         let on = !self.remote.on();
//!         self.remote.set_on(on)?;
//!         Ok(on)
//!     }
//! }
//!
//! #[tokio::main] // no actix System anywhere
//! async fn main() -> Result<(), Box<dyn std::error::Error>> {
//!     let host = Host::listen("tcp://127.0.0.1:0").await?;
//!     host.enable_remoting_with(|| LampService { remote: Default::default() }).await?;
//!
//!     let node = Node::connect(host.url().unwrap()).await?;
//!     let replica = node.acquire::<Lamp>();
//!     replica.wait_for_source(Duration::from_secs(5)).await?;
//!     assert!(replica.call(lamp::Toggle {}).await?);
//!     host.shutdown().await;
//!     Ok(())
//! }
//! ```

use std::future::Future;
use std::sync::OnceLock;
use std::time::Duration;

use actix::{Actor, Addr, Arbiter, ArbiterHandle, Context};

use crate::error::{Error, Kind};

/// The crate's own arbiter, once started.
static OWN: OnceLock<ArbiterHandle> = OnceLock::new();

/// The arbiter the crate runs on when called from this thread: the thread's actix arbiter if
/// it has one, otherwise the crate's own (started on first use; it lives as long as the
/// process).
///
/// # Panics
///
/// If the crate's thread cannot be started (the OS refuses a thread or an event loop), as
/// `std::thread::spawn` does.
pub fn arbiter() -> ArbiterHandle {
    Arbiter::try_current().unwrap_or_else(|| own().clone())
}

/// Starts the actor `make` returns on [`arbiter`]; `make` runs there. For actors of your own
/// in a program without an actix System (to serve one as a source,
/// [`crate::Host::enable_remoting_with`] does this and more).
pub fn start<A, F>(make: F) -> Addr<A>
where
    A: Actor<Context = Context<A>>,
    F: FnOnce() -> A + Send + 'static,
{
    match Arbiter::try_current() {
        Some(_) => make().start(),
        None => A::start_in_arbiter(own(), move |_| make()),
    }
}

/// Whether this thread runs an actix arbiter (so actors can be started right here).
pub(crate) fn on_arbiter() -> bool {
    Arbiter::try_current().is_some()
}

/// The error of a call that must start the caller's own (not `Send`) actor on the current
/// arbiter, made where there is none.
pub(crate) fn no_runtime(what: &'static str) -> Error {
    Error::new(Kind::NoRuntime(what))
}

/// Runs the future `make` returns on the crate's arbiter and waits for its output from
/// wherever the caller is (any executor). On an arbiter already, it just runs it.
pub(crate) async fn run<T, F, Fut>(make: F) -> Result<T, Error>
where
    F: FnOnce() -> Fut + Send + 'static,
    Fut: Future<Output = T> + 'static,
    T: Send + 'static,
{
    if on_arbiter() {
        return Ok(make().await);
    }
    let (tx, rx) = futures::channel::oneshot::channel();
    // The future need not be `Send`: it is made and run on the crate's thread.
    own().spawn_fn(move || {
        actix::spawn(async move {
            let _ = tx.send(make().await);
        });
    });
    rx.await.map_err(|_| Error::new(Kind::Shutdown))
}

/// Runs `work` on the crate's arbiter and blocks this thread until it is done: for the few
/// synchronous functions that must start tasks. On an arbiter already, it just calls it.
pub(crate) fn run_blocking<T, F>(work: F) -> T
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    if on_arbiter() {
        return work();
    }
    let (tx, rx) = std::sync::mpsc::sync_channel(1);
    own().spawn_fn(move || {
        let _ = tx.send(work());
    });
    match rx.recv() {
        Ok(value) => value,
        // Only if `work` panicked on the crate's thread: the panic belongs to the caller.
        Err(_) => panic!("actix-remote-objects: work handed to its runtime thread panicked"),
    }
}

/// Spawns a task where [`arbiter`] says, not waiting for it.
pub(crate) fn spawn(task: impl Future<Output = ()> + Send + 'static) {
    if on_arbiter() {
        actix::spawn(task);
    } else {
        own().spawn(task);
    }
}

/// `future`, or `None` once `duration` has passed: tokio's timer when the caller runs on a
/// tokio runtime, otherwise a timer on the crate's arbiter, so awaiting it needs no
/// particular executor.
pub(crate) async fn timeout<F: Future>(duration: Duration, future: F) -> Option<F::Output> {
    if tokio::runtime::Handle::try_current().is_ok() {
        return tokio::time::timeout(duration, future).await.ok();
    }
    let (tx, rx) = futures::channel::oneshot::channel::<()>();
    own().spawn(async move {
        tokio::time::sleep(duration).await;
        let _ = tx.send(());
    });
    let future = std::pin::pin!(future);
    match futures::future::select(future, rx).await {
        futures::future::Either::Left((output, _)) => Some(output),
        futures::future::Either::Right(_) => None,
    }
}

fn own() -> &'static ArbiterHandle {
    OWN.get_or_init(|| match start_own() {
        Ok(handle) => handle,
        Err(error) => panic!("actix-remote-objects cannot start its runtime thread: {error}"),
    })
}

/// Starts the crate's thread: an actix System of its own, running until the process ends.
fn start_own() -> std::io::Result<ArbiterHandle> {
    let (tx, rx) = std::sync::mpsc::sync_channel(1);
    std::thread::Builder::new()
        .name("actix-remote-objects".into())
        .spawn(move || {
            let runtime = match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(runtime) => runtime,
                Err(error) => {
                    let _ = tx.send(Err(error));
                    return;
                }
            };
            let system = actix::System::with_tokio_rt(move || runtime);
            system.block_on(async {
                let _ = tx.send(Ok(Arbiter::current()));
            });
            if let Err(error) = system.run() {
                tracing::error!(%error, "the actix-remote-objects runtime thread stopped");
            }
        })?;
    rx.recv()
        .map_err(|_| std::io::Error::other("the runtime thread ended before it started"))?
}

/// A watch channel's value now and after every change, as a stream.
pub(crate) fn watch_stream<T: Clone + Send + Sync + 'static>(
    rx: tokio::sync::watch::Receiver<T>,
) -> impl futures::Stream<Item = T> + Unpin + Send + 'static {
    Box::pin(futures::stream::unfold(
        (rx, true),
        |(mut rx, first)| async move {
            if !first && rx.changed().await.is_err() {
                return None;
            }
            let value = rx.borrow_and_update().clone();
            Some((value, (rx, false)))
        },
    ))
}
