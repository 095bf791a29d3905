//! A source for attack tests: calls that wait until released, big signals, and helpers to
//! watch a host's connections and this process's memory.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use actix::prelude::*;
use actix_remote_objects::prelude::*;
use actix_remote_objects::wire::{Encoding, Handshake, Packet};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::raw::RawClient;
use super::{next, TIMEOUT};

remote_object! {
    /// A source whose calls wait until released, and which can emit big signals.
    pub Flood {
        prop count: u64;
        signal blob(bytes: serde_bytes::ByteBuf);
        slot wait() -> u64;
        slot ping() -> u64;
    }
}

pub struct FloodService {
    pub remote: flood::SimpleSource,
    /// How many `wait` calls the source has received.
    pub waiting: Arc<AtomicUsize>,
    pub release: tokio::sync::watch::Receiver<bool>,
}

impl Actor for FloodService {
    type Context = Context<Self>;
}

impl RemoteSource for FloodService {
    type Api = Flood;
    fn simple_source(&self) -> &flood::SimpleSource {
        &self.remote
    }
}

impl Handler<flood::Wait> for FloodService {
    type Result = ResponseFuture<SlotResult<u64>>;
    fn handle(&mut self, _: flood::Wait, _: &mut Context<Self>) -> Self::Result {
        self.waiting.fetch_add(1, Ordering::SeqCst);
        let mut release = self.release.clone();
        Box::pin(async move {
            let _ = release.wait_for(|released| *released).await;
            Ok(1)
        })
    }
}

impl Handler<flood::Ping> for FloodService {
    type Result = SlotResult<u64>;
    fn handle(&mut self, _: flood::Ping, _: &mut Context<Self>) -> SlotResult<u64> {
        Ok(7)
    }
}

pub struct Fixture {
    pub host: Host,
    pub url: String,
    pub source: flood::SimpleSource,
    pub waiting: Arc<AtomicUsize>,
    pub release: tokio::sync::watch::Sender<bool>,
    pub good: Replica<Flood>,
    _node: Node,
}

impl Fixture {
    pub async fn new(config: HostConfig) -> Fixture {
        let host = Host::listen_with("tcp://127.0.0.1:0", config)
            .await
            .unwrap();
        let source = flood::SimpleSource::default();
        let waiting = Arc::new(AtomicUsize::new(0));
        let (release, released) = tokio::sync::watch::channel(false);
        host.enable_remoting(FloodService {
            remote: source.clone(),
            waiting: Arc::clone(&waiting),
            release: released,
        })
        .await
        .unwrap();
        let url = host.url().unwrap().to_owned();
        let node = Node::connect(&url).await.unwrap();
        let good = node.acquire::<Flood>();
        good.wait_for_source(TIMEOUT).await.unwrap();
        Fixture {
            host,
            url,
            source,
            waiting,
            release,
            good,
            _node: node,
        }
    }

    /// The healthy replica still calls and still sees changes.
    pub async fn check_still_serving(&self) {
        assert_eq!(self.good.call(flood::Ping {}).await, Ok(7));
        let before = self.good.properties().count;
        let mut changes = self.good.property_changes();
        self.source.set_count(before + 1).unwrap();
        next(&mut changes).await;
        assert_eq!(self.good.properties().count, before + 1);
    }

    pub async fn wait_for_connections(&self, count: usize) {
        let mut counts = self.host.connection_counts();
        while next(&mut counts).await != count {}
    }

    pub fn addr(&self) -> &str {
        self.url.strip_prefix("tcp://").unwrap()
    }
}

pub fn memory_kib(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with(field)).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

/// Raises this process's open-file limit as far as allowed; returns the soft limit.
pub fn raise_fd_limit() -> u64 {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit and setrlimit only read and write the struct passed to them.
    unsafe {
        libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit);
        limit.rlim_cur = limit.rlim_max;
        libc::setrlimit(libc::RLIMIT_NOFILE, &limit);
        libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit);
    }
    limit.rlim_cur
}

/// Waits until the host closes `stream` (end of file or reset).
pub async fn closed_by_host(stream: &mut TcpStream) {
    let mut buf = [0u8; 4096];
    loop {
        match tokio::time::timeout(TIMEOUT, stream.read(&mut buf))
            .await
            .expect("the host never closed the connection")
        {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
    }
}

pub fn handshake_bytes() -> bytes::Bytes {
    Packet::Handshake(Handshake::ours(Encoding::Bincode)).to_frame()
}

/// Opens `idle` sockets that never send a byte and `slow` ones that have sent part of a
/// handshake.
pub async fn idle_and_slowloris(f: &Fixture, idle: usize, slow: usize) -> Vec<TcpStream> {
    let handshake = handshake_bytes();
    let mut streams = Vec::new();
    for i in 0..idle + slow {
        let mut stream = TcpStream::connect(f.addr()).await.unwrap();
        if i >= idle {
            stream.write_all(&handshake[..3]).await.unwrap();
        }
        streams.push(stream);
    }
    streams
}

/// Acquires Flood on a raw connection and returns its source id.
pub async fn acquire(raw: &mut RawClient) -> u32 {
    raw.send(&Packet::Acquire {
        name: "Flood".into(),
        signature: 0,
    })
    .await;
    match raw.recv().await {
        Some(Packet::Init { source, .. }) => source,
        other => panic!("expected an init, got {other:?}"),
    }
}

/// A raw client that acquired Flood and then never reads, with a small receive buffer.
pub async fn non_reader(url: &str) -> TcpStream {
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let stream = socket
        .connect(url.strip_prefix("tcp://").unwrap().parse().unwrap())
        .await
        .unwrap();
    let mut raw = RawClient::from_stream(stream);
    raw.send(&Packet::Handshake(Handshake::ours(Encoding::Bincode)))
        .await;
    assert!(matches!(raw.recv().await, Some(Packet::Handshake(_))));
    assert!(matches!(raw.recv().await, Some(Packet::ObjectList(_))));
    acquire(&mut raw).await;
    raw.stream
}

pub fn blob() -> serde_bytes::ByteBuf {
    serde_bytes::ByteBuf::from(vec![7u8; 64 * 1024])
}

impl Fixture {
    /// Emits `count` 64 KiB signals, each read by the healthy replica before the next (so it
    /// keeps up while a stalled peer falls behind).
    pub async fn emit_blobs(&self, count: usize) {
        let mut signals = self.good.signals();
        for _ in 0..count {
            self.source.emit_blob(blob()).unwrap();
            next(&mut signals).await;
        }
    }
}
