//! What a host does when a source actor goes away: it notices (the actor stopped, or one of
//! its handlers panicked — the panic ends that actor only), withdraws the source so its
//! replicas go `Suspect` and calls fail with a typed error, and, for a source enabled with a
//! factory, starts a new actor and serves it again under the same name.

use std::any::Any;
use std::cell::{Cell, RefCell};
use std::panic::AssertUnwindSafe;
use std::rc::Rc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use actix::prelude::*;
use futures::FutureExt;
use tracing::{error, info, warn};

use super::{Host, HostInner};
use crate::api::RemoteObject;
use crate::error::Error;
use crate::lifecycle::Backoff;
use crate::source::RemoteSource;
use crate::wire::SourceId;

/// How a source actor ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Ended {
    /// It stopped (its context was stopped, or every address to it dropped).
    Stopped,
    /// A handler panicked, with this message.
    Panicked(String),
}

impl std::fmt::Display for Ended {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Ended::Stopped => f.write_str("the source actor stopped"),
            Ended::Panicked(message) => write!(f, "the source actor panicked: {message}"),
        }
    }
}

/// Starts `actor` on the current arbiter and calls `on_end` once it is gone. A panic in one
/// of its handlers is caught here: it ends this actor, not the arbiter's other actors.
pub(crate) fn start_watched<A>(actor: A, on_end: impl FnOnce(Ended) + 'static) -> Addr<A>
where
    A: Actor<Context = Context<A>>,
{
    let mut ctx = Context::new();
    // Room for every call the host lets its connections have in flight, so the one
    // sender calls go through never parks (see `source::hosted`'s roomy hubs).
    ctx.set_mailbox_capacity(SOURCE_MAILBOX);
    let addr = ctx.address();
    let running = ctx.into_future(actor);
    actix::spawn(async move {
        let ended = match AssertUnwindSafe(running).catch_unwind().await {
            Ok(()) => Ended::Stopped,
            Err(panic) => Ended::Panicked(panic_message(panic.as_ref())),
        };
        on_end(ended);
    });
    addr
}

/// The mailbox of a source actor the host starts: calls from every connection fit (actix's
/// default, 16, would make the sender they go through park and retry).
pub(crate) const SOURCE_MAILBOX: usize = 1 << 16;

fn panic_message(panic: &(dyn Any + Send)) -> String {
    match (panic.downcast_ref::<&str>(), panic.downcast_ref::<String>()) {
        (Some(text), _) => (*text).to_owned(),
        (_, Some(text)) => text.clone(),
        _ => "(no message)".to_owned(),
    }
}

/// A source served through a factory: a new actor replaces each one that ends. Cheap to
/// clone; returned by [`Host::enable_remoting_supervised`].
pub struct SupervisedSource<A: Actor> {
    current: Arc<Mutex<Addr<A>>>,
    restarts: Arc<AtomicUsize>,
}

impl<A: Actor> Clone for SupervisedSource<A> {
    fn clone(&self) -> Self {
        SupervisedSource {
            current: Arc::clone(&self.current),
            restarts: Arc::clone(&self.restarts),
        }
    }
}

impl<A: Actor> SupervisedSource<A> {
    /// The address of the actor serving now (a restarted source has a new one).
    pub fn addr(&self) -> Addr<A> {
        self.current
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// How many times a new actor replaced one that ended.
    pub fn restarts(&self) -> usize {
        self.restarts.load(Ordering::Relaxed)
    }
}

impl<A: Actor> std::fmt::Debug for SupervisedSource<A> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SupervisedSource")
            .field("restarts", &self.restarts())
            .finish_non_exhaustive()
    }
}

/// A new actor lives this long before its end counts as unrelated to its start: the restart
/// delay starts again from the shortest.
const HEALTHY_AFTER: Duration = Duration::from_secs(1);

/// Keeps one name served by actors from a factory.
struct Supervisor<A: Actor, F> {
    host: Weak<HostInner>,
    name: String,
    factory: F,
    handle: SupervisedSource<A>,
    backoff: RefCell<Backoff>,
}

impl<A, F> Supervisor<A, F>
where
    A: RemoteSource,
    F: Fn() -> A + 'static,
{
    /// Starts an actor from the factory and serves it; returns its address and the info
    /// to register.
    fn launch(self: &Rc<Self>) -> Result<(Addr<A>, crate::wire::ObjectInfo), Error> {
        let host = Host {
            inner: self
                .host
                .upgrade()
                .ok_or_else(|| Error::new(crate::error::Kind::Shutdown))?,
        };
        let actor = (self.factory)();
        let source = actor.simple_source().clone();
        let served: Rc<Cell<Option<SourceId>>> = Rc::new(Cell::new(None));
        let started = Instant::now();
        let me = Rc::clone(self);
        let id = Rc::clone(&served);
        let addr = start_watched(actor, move |ended| me.ended(ended, id.get(), started));
        let (id, info) = host.insert_hosted(addr.clone(), source, &self.name, true)?;
        served.set(Some(id));
        *self
            .handle
            .current
            .lock()
            .unwrap_or_else(|p| p.into_inner()) = addr.clone();
        Ok((addr, info))
    }

    fn ended(self: Rc<Self>, ended: Ended, id: Option<SourceId>, started: Instant) {
        let Some(inner) = self.host.upgrade() else {
            return;
        };
        let Some(id) = id else { return };
        if !inner.withdraw(&self.name, id, &ended) {
            return; // disabled on purpose, or the host is shutting down: not restarted
        }
        let delay = {
            let mut backoff = self.backoff.borrow_mut();
            if started.elapsed() >= HEALTHY_AFTER {
                backoff.reset();
            }
            backoff.next_delay(fastrand::f64())
        };
        info!(name = %self.name, ?delay, "restarting the source");
        actix::spawn(async move {
            tokio::time::sleep(delay).await;
            match self.launch() {
                Ok((_, info)) => {
                    self.handle.restarts.fetch_add(1, Ordering::Relaxed);
                    let host = self.host.upgrade().map(|inner| Host { inner });
                    if let Some(host) = host {
                        if let Err(error) = host.register(&info).await {
                            warn!(name = %self.name, %error, "the restarted source could not be registered");
                        }
                    }
                }
                Err(error) => error!(name = %self.name, %error, "cannot restart the source"),
            }
        });
    }
}

impl Host {
    /// Serves a source made by `factory` under its API's name, and keeps it served: when
    /// its actor stops or one of its handlers panics, the source is withdrawn (replicas go
    /// `Suspect`, calls fail), a new actor is made by `factory` and served under the same
    /// name, and replicas re-initialize to `Valid` with the new actor's values. Restarts of
    /// an actor that ends right after it starts are spaced out, from 10 ms up to 1 s.
    /// [`Host::disable_remoting`] ends it for good.
    pub async fn enable_remoting_supervised<A, F>(
        &self,
        factory: F,
    ) -> Result<SupervisedSource<A>, Error>
    where
        A: RemoteSource,
        F: Fn() -> A + 'static,
    {
        self.enable_remoting_supervised_as(<A::Api as RemoteObject>::NAME, factory)
            .await
    }

    /// Like [`Host::enable_remoting_supervised`], under `name`.
    pub async fn enable_remoting_supervised_as<A, F>(
        &self,
        name: &str,
        factory: F,
    ) -> Result<SupervisedSource<A>, Error>
    where
        A: RemoteSource,
        F: Fn() -> A + 'static,
    {
        if !crate::runtime::on_arbiter() {
            return Err(crate::runtime::no_runtime(
                "Host::enable_remoting_supervised",
            ));
        }
        self.check_name_free(name)?;
        let supervisor = Rc::new(Supervisor {
            host: Arc::downgrade(&self.inner),
            name: name.to_owned(),
            factory,
            handle: SupervisedSource {
                // Replaced by the first actor's address before anyone sees it.
                current: Arc::new(Mutex::new(Context::<A>::new().address())),
                restarts: Arc::new(AtomicUsize::new(0)),
            },
            backoff: RefCell::new(Backoff::new(
                Duration::from_millis(10),
                Duration::from_secs(1),
            )),
        });
        let (_, info) = supervisor.launch()?;
        self.register(&info).await?;
        Ok(supervisor.handle.clone())
    }
}
