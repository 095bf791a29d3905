//! A change fanned out to several Qt connections of one host is translated once and the
//! translation shared: every Qt node still sees every change and signal, in order, among
//! the packets meant for it alone. Raw Qt-dialect clients over loopback TCP.

mod support;

use actix_remote_objects::prelude::*;
use actix_remote_objects::wire::qt::{QVariant, QtPacket, TypeRegistry, QT_PROTOCOL};
use metrics_util::debugging::{DebugValue, DebuggingRecorder};
use support::counter_api::*;
use support::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// A raw Qt node holding a replica of `Counter`.
struct QtClient {
    stream: TcpStream,
    types: TypeRegistry,
}

impl QtClient {
    /// Connects and acquires `Counter` (dynamically or not), once the host lists it.
    async fn acquiring(url: &str, is_dynamic: bool) -> QtClient {
        let stream = TcpStream::connect(url.strip_prefix("tcp://").unwrap())
            .await
            .unwrap();
        let mut client = QtClient {
            stream,
            types: TypeRegistry::new(),
        };
        loop {
            match client.recv().await {
                QtPacket::Handshake { protocol } => assert_eq!(protocol, QT_PROTOCOL),
                QtPacket::ObjectList { .. } => {
                    let name = "Counter".into();
                    client.send(QtPacket::AddObject { name, is_dynamic }).await;
                }
                QtPacket::Init { .. } | QtPacket::InitDynamic { .. } => return client,
                other => panic!("before the init: {other:?}"),
            }
        }
    }

    async fn send(&mut self, packet: QtPacket) {
        let frame = packet.to_frame(&self.types).unwrap();
        self.stream.write_all(&frame).await.unwrap();
    }

    async fn recv(&mut self) -> QtPacket {
        let size = tokio::time::timeout(TIMEOUT, self.stream.read_u32_le())
            .await
            .expect("the host went quiet")
            .unwrap();
        let mut payload = vec![0; size as usize];
        self.stream.read_exact(&mut payload).await.unwrap();
        QtPacket::decode(&payload, &self.types).unwrap()
    }

    /// Reads until `changes` values and as many ticks arrived, and the pong to the ping
    /// it sent after the first tick; the values and the ticks, in order.
    async fn watch(&mut self, changes: usize) -> (Vec<QVariant>, Vec<QVariant>) {
        let (mut values, mut ticks, mut ponged) = (Vec::new(), Vec::new(), false);
        while values.len() < changes || ticks.len() < changes || !ponged {
            match self.recv().await {
                QtPacket::PropertyChange { value, .. } => values.push(value),
                // A property's notify signal carries its property's position.
                QtPacket::Invoke {
                    property_index: -1,
                    mut args,
                    ..
                } => {
                    ticks.push(args.remove(0));
                    if ticks.len() == 1 {
                        let name = "Counter".into();
                        self.send(QtPacket::Ping { name }).await;
                    }
                }
                QtPacket::Invoke { .. } => {}
                QtPacket::Pong { .. } => ponged = true,
                other => panic!("unexpected {other:?}"),
            }
        }
        (values, ticks)
    }
}

#[actix::test]
async fn qt_nodes_of_one_host_share_the_translation_of_each_fanned_out_frame() {
    let _guard = init();
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    recorder
        .install()
        .expect("the only recorder of this test binary");
    let host = Host::listen("tcp://127.0.0.1:0").await.unwrap();
    let source = counter::SimpleSource::default();
    host.enable_remoting(CounterService(source.clone()))
        .await
        .unwrap();
    let url = host.listen_qt("tcp://127.0.0.1:0").await.unwrap();
    let mut dynamic = QtClient::acquiring(&url, true).await;
    let mut fixed = QtClient::acquiring(&url, false).await;
    const CHANGES: u64 = 200;
    for n in 1..=CHANGES {
        source.set_value(n).unwrap();
        source.emit_tick(n).unwrap();
    }
    let expected: Vec<QVariant> = (1..=CHANGES).map(QVariant::ULongLong).collect();
    for client in [&mut dynamic, &mut fixed] {
        let (values, ticks) = client.watch(CHANGES as usize).await;
        assert_eq!(values, expected);
        assert_eq!(ticks, expected);
    }
    let shared: u64 = snapshotter
        .snapshot()
        .into_vec()
        .into_iter()
        .filter(|(key, ..)| key.key().name() == "aro_qt_translations_shared_total")
        .map(|(.., value)| match value {
            DebugValue::Counter(n) => n,
            other => panic!("not a counter: {other:?}"),
        })
        .sum();
    eprintln!("FIGURE Qt translations shared: {shared} of {}", 2 * CHANGES);
    assert!(
        shared > 0,
        "each Qt connection translated every frame itself"
    );
}
