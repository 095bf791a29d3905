//! The printer API of the tests, and its source actor.

use actix::prelude::*;
use actix_remote_objects::model::ListModel;
use actix_remote_objects::prelude::*;
use serde::{Deserialize, Serialize};
use tokio::sync::oneshot;

/// What the printer is doing.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum Status {
    #[default]
    Idle,
    Printing {
        job: u32,
        doc: String,
    },
    OutOfPaper,
}

remote_object! {
    /// A printer shared on the network.
    pub Printer {
        /// Percent of ink left.
        prop ink_level: u8 = 100, read_only;
        /// What it is doing.
        prop status: Status = Status::Idle;
        /// Its name; replicas may rename it.
        prop name: String = "office".to_string(), read_write;
        /// Its model, fixed.
        prop model: String = "LaserJet".to_string(), constant;
        /// Paper ran out in a tray.
        signal paper_jam(tray: u32);
        /// Prints a document, returning the job number.
        slot print(doc: String) -> u32;
        /// Always fails with the given reason.
        slot fail(reason: String) -> u32;
        /// Replies only when the test releases it.
        slot hold() -> u32;
        /// Jams a tray.
        slot jam(tray: u32);
        /// Sets the ink level, from an async handler.
        slot refill(level: u8) -> u8;
    }
}

remote_object! {
    /// The documents waiting to print: a model, for sessions that carry model traffic.
    pub PrintQueue {
        model jobs: ListModel<String>;
    }
}

pub struct PrintQueueService(pub print_queue::SimpleSource);

impl Actor for PrintQueueService {
    type Context = Context<Self>;
}

impl RemoteSource for PrintQueueService {
    type Api = PrintQueue;
    fn simple_source(&self) -> &print_queue::SimpleSource {
        &self.0
    }
}

pub struct PrinterService {
    pub remote: printer::SimpleSource,
    pub next_job: u32,
    /// Where `hold` parks its reply; the test takes the sender to release it.
    pub held: Option<oneshot::Sender<oneshot::Sender<u32>>>,
}

impl PrinterService {
    pub fn new() -> Self {
        PrinterService {
            remote: Default::default(),
            next_job: 1,
            held: None,
        }
    }
}

impl Actor for PrinterService {
    type Context = Context<Self>;
}

impl RemoteSource for PrinterService {
    type Api = Printer;
    fn simple_source(&self) -> &printer::SimpleSource {
        &self.remote
    }
}

impl Handler<printer::Print> for PrinterService {
    type Result = SlotResult<u32>;
    fn handle(&mut self, msg: printer::Print, _: &mut Context<Self>) -> SlotResult<u32> {
        let job = self.next_job;
        self.next_job += 1;
        self.remote
            .set_status(Status::Printing { job, doc: msg.doc })?;
        Ok(job)
    }
}

impl Handler<printer::Fail> for PrinterService {
    type Result = SlotResult<u32>;
    fn handle(&mut self, msg: printer::Fail, _: &mut Context<Self>) -> SlotResult<u32> {
        Err(SlotError::source(msg.reason))
    }
}

impl Handler<printer::Hold> for PrinterService {
    type Result = ResponseFuture<SlotResult<u32>>;
    fn handle(&mut self, _: printer::Hold, _: &mut Context<Self>) -> Self::Result {
        let (tx, rx) = oneshot::channel();
        if let Some(notify) = self.held.take() {
            let _ = notify.send(tx);
        }
        Box::pin(async move {
            rx.await
                .map_err(|_| SlotError::source("released without a value"))
        })
    }
}

impl Handler<printer::Jam> for PrinterService {
    type Result = SlotResult<()>;
    fn handle(&mut self, msg: printer::Jam, _: &mut Context<Self>) -> SlotResult<()> {
        self.remote.set_status(Status::OutOfPaper)?;
        self.remote.emit_paper_jam(msg.tray)?;
        Ok(())
    }
}

impl Handler<printer::Refill> for PrinterService {
    type Result = ResponseActFuture<Self, SlotResult<u8>>;
    fn handle(&mut self, msg: printer::Refill, _: &mut Context<Self>) -> Self::Result {
        Box::pin(
            async move {
                tokio::task::yield_now().await;
                msg.level
            }
            .into_actor(self)
            .map(|level, act, _| {
                act.remote.set_ink_level(level)?;
                Ok(level)
            }),
        )
    }
}

/// Arms `hold`: the next call parks, and the returned receiver yields the sender that
/// releases it.
#[derive(Message)]
#[rtype(result = "oneshot::Receiver<oneshot::Sender<u32>>")]
pub struct ArmHold;

impl Handler<ArmHold> for PrinterService {
    type Result = MessageResult<ArmHold>;
    fn handle(&mut self, _: ArmHold, _: &mut Context<Self>) -> Self::Result {
        let (tx, rx) = oneshot::channel();
        self.held = Some(tx);
        MessageResult(rx)
    }
}

/// Collects what a subscriber actor receives.
pub struct Collector<M: Message<Result = ()> + Send + 'static> {
    pub tx: futures::channel::mpsc::UnboundedSender<M>,
}

impl<M: Message<Result = ()> + Send + Unpin + 'static> Actor for Collector<M> {
    type Context = Context<Self>;
}

impl<M: Message<Result = ()> + Send + Unpin + 'static> Handler<M> for Collector<M> {
    type Result = ();
    fn handle(&mut self, msg: M, _: &mut Context<Self>) {
        let _ = self.tx.unbounded_send(msg);
    }
}

/// A recipient that forwards into a stream the test reads.
pub fn collector<M: Message<Result = ()> + Send + Unpin + 'static>(
) -> (Recipient<M>, futures::channel::mpsc::UnboundedReceiver<M>) {
    let (tx, rx) = futures::channel::mpsc::unbounded();
    (Collector { tx }.start().recipient(), rx)
}

/// A host on a free loopback port, configured with `config`, serving a `PrinterService`.
pub async fn printer_host(config: HostConfig) -> Host {
    let host = Host::listen_with("tcp://127.0.0.1:0", config)
        .await
        .unwrap();
    host.enable_remoting(PrinterService::new()).await.unwrap();
    host
}
