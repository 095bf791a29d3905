//! Fanning one property change out to many connections (criterion): a real host serving N
//! in-memory connections whose far ends only drain bytes, so what is measured is the host's
//! work per change: encode once, queue the same bytes on N connections, write them.
//! `cargo bench --bench fanout`

use std::time::{Duration, Instant};

use actix::prelude::*;
use actix_remote_objects::prelude::*;
use actix_remote_objects::wire::{Encoding, Handshake, Packet, PacketCodec};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use futures::{SinkExt, StreamExt};
use tokio::io::AsyncReadExt;
use tokio_util::codec::{FramedRead, LengthDelimitedCodec};

remote_object! {
    pub Counter {
        prop value: i32;
    }
}

struct CounterService(counter::SimpleSource);

impl Actor for CounterService {
    type Context = Context<Self>;
}

impl RemoteSource for CounterService {
    type Api = Counter;
    fn simple_source(&self) -> &counter::SimpleSource {
        &self.0
    }
}

/// A subscribed connection whose far end reads and discards everything; the returned
/// counter tracks how many bytes it has drained.
async fn drained_subscriber(host: &Host) -> std::sync::Arc<std::sync::atomic::AtomicUsize> {
    let (near, far) = tokio::io::duplex(1 << 20);
    host.serve(near);
    let (mut read, write) = tokio::io::split(far);
    let mut sink = tokio_util::codec::FramedWrite::new(write, LengthDelimitedCodec::new());
    let send = |p: Packet| p.to_frame().slice(4..);
    sink.send(send(Packet::Handshake(Handshake::ours(Encoding::Bincode))))
        .await
        .unwrap();
    sink.send(send(Packet::Acquire {
        name: "Counter".into(),
        signature: 0,
    }))
    .await
    .unwrap();
    // Wait for the init, then drain forever.
    let mut frames = FramedRead::new(&mut read, PacketCodec::default());
    while let Some(Ok(packet)) = frames.next().await {
        if matches!(packet, Packet::Init { .. }) {
            break;
        }
    }
    let drained = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = drained.clone();
    actix::spawn(async move {
        let _sink = sink; // keep the write side open
        let mut buf = vec![0u8; 64 * 1024];
        while let Ok(n) = read.read(&mut buf).await {
            if n == 0 {
                break;
            }
            counter.fetch_add(n, std::sync::atomic::Ordering::Relaxed);
        }
    });
    drained
}

fn fanout(c: &mut Criterion) {
    let mut group = c.benchmark_group("fan-out one change");
    group.measurement_time(Duration::from_secs(3));
    for subscribers in [1usize, 8, 64] {
        group.throughput(Throughput::Elements(subscribers as u64));
        group.bench_with_input(
            BenchmarkId::from_parameter(subscribers),
            &subscribers,
            |b, &n| {
                b.iter_custom(|iters| {
                    System::new().block_on(async move {
                        let host = Host::new(HostConfig::default());
                        let source = counter::SimpleSource::default();
                        host.enable_remoting(CounterService(source.clone()))
                            .await
                            .unwrap();
                        let mut drained = Vec::new();
                        for _ in 0..n {
                            drained.push(drained_subscriber(&host).await);
                        }
                        // Every connection must receive one frame per change: 15 header bytes
                        // and the encoded value.
                        let expected: usize = (1..=iters)
                            .map(|v| 15 + Encoding::Bincode.encode(&(v as i32)).unwrap().len())
                            .sum();
                        let start = Instant::now();
                        for i in 0..iters {
                            source.set_value(i as i32 + 1).unwrap();
                            if i % 1000 == 999 {
                                tokio::task::yield_now().await; // let the writers run
                            }
                        }
                        // Done when every connection has received every byte.
                        while drained
                            .iter()
                            .any(|d| d.load(std::sync::atomic::Ordering::Relaxed) < expected)
                        {
                            tokio::task::yield_now().await;
                        }
                        let elapsed = start.elapsed();
                        host.shutdown().await;
                        elapsed
                    })
                })
            },
        );
    }
    group.finish();
}

criterion_group!(benches, fanout);
criterion_main!(benches);
