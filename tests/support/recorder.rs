//! Records a real session: a TCP proxy between a node and a host that keeps every byte each
//! way, for the fuzz tests' corpus.

use std::sync::{Arc, Mutex};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

#[derive(Default)]
struct Recorded {
    to_host: Vec<u8>,
    to_node: Vec<u8>,
}

pub struct Recorder {
    url: String,
    recorded: Arc<Mutex<Recorded>>,
}

impl Recorder {
    /// Listens on a free loopback port and forwards one connection to `target` (tcp://).
    pub async fn start(target: &str) -> Recorder {
        let target = target.strip_prefix("tcp://").expect("a tcp URL").to_owned();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("tcp://{}", listener.local_addr().unwrap());
        let recorded = Arc::new(Mutex::new(Recorded::default()));
        let record = Arc::clone(&recorded);
        tokio::spawn(async move {
            let Ok((node, _)) = listener.accept().await else {
                return;
            };
            let host = TcpStream::connect(&target).await.unwrap();
            node.set_nodelay(true).unwrap();
            host.set_nodelay(true).unwrap();
            let (node_read, node_write) = node.into_split();
            let (host_read, host_write) = host.into_split();
            let up = pump(node_read, host_write, Arc::clone(&record), true);
            let down = pump(host_read, node_write, record, false);
            futures::join!(up, down);
        });
        Recorder { url, recorded }
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    /// What went to the host and what went to the node, so far.
    pub fn take(&self) -> (Vec<u8>, Vec<u8>) {
        let recorded = self.recorded.lock().unwrap();
        (recorded.to_host.clone(), recorded.to_node.clone())
    }
}

async fn pump(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    record: Arc<Mutex<Recorded>>,
    to_host: bool,
) {
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = match from.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        {
            let mut recorded = record.lock().unwrap();
            let side = if to_host {
                &mut recorded.to_host
            } else {
                &mut recorded.to_node
            };
            side.extend_from_slice(&buf[..n]);
        }
        if to.write_all(&buf[..n]).await.is_err() {
            return;
        }
    }
}

/// A real session of the printer API, recorded: a node acquires a typed and a dynamic
/// replica through the recorder, calls slots (one fails, one emits a signal), sets a
/// read-write property and watches the changes; and a model replica fetches rows, sees
/// every kind of diff, sets the current row and has a write refused. Returns the frames each
/// way.
pub async fn record_printer_session() -> (Vec<Vec<u8>>, Vec<Vec<u8>>) {
    use actix_remote_objects::dynamic::Value;
    use actix_remote_objects::prelude::*;

    use super::printer_api::{
        print_queue, printer, PrintQueue, PrintQueueService, Printer, PrinterService,
    };
    use super::TIMEOUT;

    let host = Host::listen("tcp://127.0.0.1:0").await.unwrap();
    host.enable_remoting(PrinterService::new()).await.unwrap();
    let queue_state = print_queue::SimpleSource::default();
    let queue = queue_state.jobs();
    queue.extend(["a".to_owned(), "b".to_owned()]).unwrap();
    host.enable_remoting(PrintQueueService(queue_state))
        .await
        .unwrap();
    let recorder = Recorder::start(host.url().unwrap()).await;
    let node = Node::connect(recorder.url()).await.unwrap();
    let typed = node.acquire::<Printer>();
    typed.wait_for_source(TIMEOUT).await.unwrap();
    let dynamic = node.acquire_dynamic("Printer");
    dynamic.wait_for_source(TIMEOUT).await.unwrap();
    let mut changes = typed.property_changes();
    typed
        .call(printer::Print {
            doc: "quarterly report".into(),
        })
        .await
        .unwrap();
    let _ = typed
        .call(printer::Fail {
            reason: "no toner".into(),
        })
        .await;
    typed.call(printer::Jam { tray: 2 }).await.unwrap();
    typed.call(printer::Refill { level: 42 }).await.unwrap();
    let applied = printer::ReplicaExt::set_name(&typed, "lab".to_string()).await;
    assert_eq!(applied.unwrap(), "lab");
    while typed.properties().name != "lab" {
        super::next(&mut changes).await;
    }
    dynamic
        .call("print", vec![Value::Str("from a dynamic replica".into())])
        .await
        .unwrap();
    // The model: a fetch, every kind of diff, the current row, a refused write.
    let queue_replica = node.acquire::<PrintQueue>();
    queue_replica.wait_for_source(TIMEOUT).await.unwrap();
    let model = print_queue::ReplicaExt::jobs(&queue_replica).expect("initialized");
    let mut model_changes = model.changes();
    assert_eq!(model.fetch(0..2).await.unwrap().len(), 2);
    queue.push("c".to_owned()).unwrap();
    queue.move_rows(0..1, 2).unwrap();
    queue.set(0, "B".to_owned()).unwrap();
    queue.remove(1).unwrap();
    model.set_current(Some(0)).await.unwrap();
    assert!(model.write(0, "x".to_owned()).await.is_err());
    queue.reset(["z".to_owned()]);
    loop {
        use actix_remote_objects::model::ModelChange;
        if let ModelChange::Reset { rows: 1 } = super::next(&mut model_changes).await {
            break;
        }
    }
    let (to_host, to_node) = recorder.take();
    node.shutdown().await;
    host.shutdown().await;
    (
        super::mutate::frames(&to_host),
        super::mutate::frames(&to_node),
    )
}
