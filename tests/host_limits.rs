//! What one peer can make a host hold is bounded: connections that never finish their
//! handshake, frames that announce more than they carry, partly received frames across all
//! connections, connections in total and per peer, bytes queued for a peer that never reads,
//! calls in flight, and the time a shutdown waits. Each attack runs against a real host over
//! loopback while a healthy replica keeps working.
//!
//! What they cost in memory is measured in `host_memory.rs`, a binary of its own.

mod support;

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use actix_remote_objects::prelude::*;
use actix_remote_objects::wire::{Encoding, Packet};
use support::attack::*;
use support::raw::RawClient;
use support::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

#[actix::test]
async fn idle_and_slowloris_connections_are_closed_at_the_handshake_timeout() {
    let _guard = init();
    let (logs, _log_guard) = Logs::capture();
    let f = Fixture::new(HostConfig::default().handshake_timeout(Duration::from_millis(300))).await;
    let mut streams = idle_and_slowloris(&f, 100, 0).await;
    // Slowloris: the handshake a byte at a time, slower than the timeout allows (the pace
    // of the attack, not a synchronization).
    let handshake = handshake_bytes();
    let mut slow = TcpStream::connect(f.addr()).await.unwrap();
    let mut sent = 0;
    while sent < handshake.len() {
        if slow.write_all(&handshake[sent..sent + 1]).await.is_err() {
            break;
        }
        sent += 1;
        f.check_still_serving().await;
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    closed_by_host(&mut slow).await;
    assert!(
        sent < handshake.len(),
        "a slowloris completed its handshake"
    );
    for stream in &mut streams {
        closed_by_host(stream).await;
    }
    f.wait_for_connections(1).await;
    f.check_still_serving().await;
    assert!(logs.text().contains("no handshake in time"));
}

#[actix::test]
async fn the_input_budget_closes_the_connection_that_would_exceed_it() {
    let _guard = init();
    let (logs, _log_guard) = Logs::capture();
    let f = Fixture::new(HostConfig::default().max_buffered_input(1 << 20)).await;
    let mut attackers = Vec::new();
    for _ in 0..3 {
        let mut raw = RawClient::handshaken(&f.url).await;
        let mut bytes = (2u32 << 20).to_be_bytes().to_vec();
        bytes.extend_from_slice(&vec![0u8; 400 * 1024]);
        raw.send_raw(&bytes).await;
        attackers.push(raw);
    }
    // 1.2 MiB of partial frames against a 1 MiB budget: one connection goes.
    let reads = attackers
        .iter_mut()
        .map(|raw| Box::pin(closed_by_host(&mut raw.stream)));
    futures::future::select_all(reads).await;
    assert!(
        logs.text()
            .contains("budget of 1048576 bytes for partly received frames is spent"),
        "{}",
        logs.text()
    );
    f.check_still_serving().await;
}

#[actix::test]
async fn connections_past_the_limits_are_refused_with_a_log_line() {
    let _guard = init();
    let (logs, _log_guard) = Logs::capture();
    // The healthy node holds one of the three.
    let f = Fixture::new(HostConfig::default().max_connections(3)).await;
    let _a = RawClient::handshaken(&f.url).await;
    let _b = RawClient::handshaken(&f.url).await;
    let mut refused = TcpStream::connect(f.addr()).await.unwrap();
    closed_by_host(&mut refused).await;
    assert!(logs.text().contains("(max_connections)"), "{}", logs.text());
    f.check_still_serving().await;

    let f = Fixture::new(HostConfig::default().max_connections_per_peer(2)).await;
    let first = RawClient::handshaken(&f.url).await;
    let mut refused = TcpStream::connect(f.addr()).await.unwrap();
    closed_by_host(&mut refused).await;
    assert!(
        logs.text().contains("(max_connections_per_peer)"),
        "{}",
        logs.text()
    );
    // A slot freed is a slot to take.
    drop(first);
    f.wait_for_connections(1).await;
    let _again = RawClient::handshaken(&f.url).await;
    f.check_still_serving().await;
}

#[actix::test]
async fn a_peer_that_never_reads_is_disconnected_at_the_queue_limit() {
    let _guard = init();
    let (logs, _log_guard) = Logs::capture();
    let f = Fixture::new(HostConfig::default().max_queued_bytes(1 << 20)).await;
    let _stalled = non_reader(&f.url).await;
    let mut counts = f.host.connection_counts();
    assert_eq!(next(&mut counts).await, 2);
    // 25 MiB of signals: more than the queue limit plus every kernel buffer in between.
    f.emit_blobs(400).await;
    // The writer was blocked in a write the peer never reads; the overflow stops it anyway.
    while next(&mut counts).await != 1 {}
    assert!(
        logs.text().contains("the peer reads too slowly"),
        "{}",
        logs.text()
    );
    f.check_still_serving().await;
}

/// A Qt node (raw Qt-dialect frames over a small receive buffer) that acquires `Flood`
/// dynamically, reads until its init arrives, then never reads again.
async fn qt_non_reader(url: &str) -> TcpStream {
    use actix_remote_objects::wire::qt::{QtPacket, TypeRegistry};
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let mut stream = socket
        .connect(url.strip_prefix("tcp://").unwrap().parse().unwrap())
        .await
        .unwrap();
    let types = TypeRegistry::new();
    let add = QtPacket::AddObject {
        name: "Flood".into(),
        is_dynamic: true,
    };
    loop {
        let size = tokio::time::timeout(TIMEOUT, stream.read_u32_le())
            .await
            .expect("the host stopped before the init")
            .unwrap();
        let mut payload = vec![0; size as usize];
        stream.read_exact(&mut payload).await.unwrap();
        match QtPacket::decode(&payload, &types).unwrap() {
            // As a Qt node does: ask once the host has listed what it offers.
            QtPacket::ObjectList { .. } => {
                stream
                    .write_all(&add.to_frame(&types).unwrap())
                    .await
                    .unwrap();
            }
            QtPacket::InitDynamic { .. } => return stream,
            _ => {}
        }
    }
}

#[actix::test]
async fn a_qt_peer_that_never_reads_is_disconnected_at_the_queue_limit() {
    let _guard = init();
    let f = Fixture::new(HostConfig::default().max_queued_bytes(1 << 20)).await;
    let qt_url = f.host.listen_qt("tcp://127.0.0.1:0").await.unwrap();
    let mut stalled = qt_non_reader(&qt_url).await;
    let mut counts = f.host.connection_counts();
    assert_eq!(next(&mut counts).await, 2);
    // The gateway translating for it blocks on the Qt socket; the native queue behind it
    // overflows, and the connection goes.
    f.emit_blobs(400).await;
    while next(&mut counts).await != 1 {}
    f.check_still_serving().await;
    // Its socket too: what was in flight drains, then the host's end is closed.
    let mut rest = Vec::new();
    let end = tokio::time::timeout(TIMEOUT, stalled.read_to_end(&mut rest)).await;
    assert!(end.is_ok(), "the host kept the Qt socket open");
}

#[actix::test]
async fn calls_in_flight_are_bounded_by_backpressure_not_refused() {
    let _guard = init();
    let f = Fixture::new(HostConfig::default().max_calls_in_flight(16)).await;
    let mut raw = RawClient::handshaken(&f.url).await;
    let source = acquire(&mut raw).await;
    let calls: Vec<u8> = (0..5000u32)
        .flat_map(|n| {
            let serial = n + 1; // serial 0 is a one-way call, which gets no reply
            Packet::Invoke {
                source,
                slot: 0, // wait()
                serial,
                args: bytes::Bytes::from(Encoding::Bincode.encode(&()).unwrap()),
            }
            .to_frame()
            .to_vec()
        })
        .collect();
    let (mut read, mut write) = raw.stream.into_split();
    let flood = tokio::spawn(async move { write.write_all(&calls).await.map(|_| write) });
    // Round trips on the healthy connection let the host read whatever it will read.
    for _ in 0..50 {
        f.check_still_serving().await;
    }
    let running = f.waiting.load(Ordering::SeqCst);
    eprintln!("FIGURE calls in flight: 5000 sent, {running} running at a bound of 16");
    assert_eq!(running, 16, "calls running");
    // Released, every call completes: none was refused.
    let mut replies = 0;
    let mut codec = actix_remote_objects::wire::PacketCodec::default();
    let mut buf = bytes::BytesMut::new();
    f.release.send_replace(true);
    while replies < 5000 {
        let mut chunk = [0u8; 65536];
        let n = tokio::time::timeout(TIMEOUT, read.read(&mut chunk))
            .await
            .expect("replies stopped")
            .unwrap();
        assert!(n > 0, "the host closed the connection");
        buf.extend_from_slice(&chunk[..n]);
        use tokio_util::codec::Decoder;
        while let Some(packet) = codec.decode(&mut buf).unwrap() {
            match packet {
                Packet::InvokeReply { outcome: Ok(_), .. } => replies += 1,
                Packet::PropertyChange { .. } => {} // from check_still_serving
                other => panic!("unexpected {other:?}"),
            }
        }
    }
    let _write = flood.await.unwrap().unwrap();
    f.check_still_serving().await;
}

#[actix::test]
async fn shutdown_returns_while_a_peer_stalls_a_full_socket() {
    let _guard = init();
    let f = Fixture::new(
        HostConfig::default()
            .max_queued_bytes(256 << 20)
            .shutdown_timeout(Duration::from_millis(200)),
    )
    .await;
    let _stalled = non_reader(&f.url).await;
    f.emit_blobs(200).await;
    f.check_still_serving().await;
    tokio::time::timeout(TIMEOUT, f.host.shutdown())
        .await
        .expect("shutdown waited on a peer that never reads");
}

#[actix::test]
async fn a_listen_that_fails_after_binding_releases_its_address() {
    let _guard = init();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("tcp://127.0.0.1:{port}");
    let bad = HostConfig::default().registry_url("registry-without-a-scheme");
    let error = Host::listen_with(&url, bad.clone()).await.unwrap_err();
    assert!(error.is_invalid_url(), "{error}");
    let host = Host::listen(&url).await.expect("the port was left bound");
    host.shutdown().await;

    let (local, _dir) = socket_url();
    let error = Host::listen_with(&local, bad).await.unwrap_err();
    assert!(error.is_invalid_url(), "{error}");
    let path = local.strip_prefix("local:").unwrap();
    assert!(
        !std::path::Path::new(path).exists(),
        "the socket file was left"
    );
}

#[actix::test]
async fn the_idle_timeout_closes_silent_peers_and_spares_heartbeating_ones() {
    let _guard = init();
    let (logs, _log_guard) = Logs::capture();
    let host = Host::listen_with(
        "tcp://127.0.0.1:0",
        HostConfig::default().idle_timeout(Duration::from_millis(400)),
    )
    .await
    .unwrap();
    let source = flood::SimpleSource::default();
    host.enable_remoting(FloodService {
        remote: source.clone(),
        waiting: Arc::default(),
        release: tokio::sync::watch::channel(false).1,
    })
    .await
    .unwrap();
    let url = host.url().unwrap();
    let config = NodeConfig::default().heartbeat(Duration::from_millis(100));
    let node = Node::connect_with(url, config).await.unwrap();
    let lively = node.acquire::<Flood>();
    lively.wait_for_source(TIMEOUT).await.unwrap();
    let mut silent = RawClient::handshaken(url).await;
    closed_by_host(&mut silent.stream).await;
    assert!(
        logs.text().contains("the node sent nothing for too long"),
        "{}",
        logs.text()
    );
    assert_eq!(lively.state(), ReplicaState::Valid);
    assert_eq!(lively.call(flood::Ping {}).await, Ok(7));
    host.shutdown().await;
}
