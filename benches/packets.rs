//! Encoding and decoding each packet kind (criterion): the per-packet cost of the wire
//! layer, without sockets. `cargo bench --bench packets`

use std::hint::black_box;

use actix_remote_objects::wire::{
    Encoding, FailureKind, Handshake, ObjectInfo, Packet, PacketCodec, RemoteFailure,
};
use bytes::{Bytes, BytesMut};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use tokio_util::codec::Decoder;

fn every_kind() -> Vec<(&'static str, Packet)> {
    let info = ObjectInfo {
        name: "Bench".into(),
        api: "Bench".into(),
        signature: 0x1234_5678_9abc_def0,
    };
    let small = Bytes::from(Encoding::Bincode.encode(&123_456i32).unwrap());
    vec![
        (
            "Handshake",
            Packet::Handshake(Handshake::ours(Encoding::Bincode)),
        ),
        ("ObjectList(10)", Packet::ObjectList(vec![info.clone(); 10])),
        ("AddObject", Packet::AddObject(info)),
        (
            "RemoveObject",
            Packet::RemoveObject {
                name: "Bench".into(),
            },
        ),
        (
            "Acquire",
            Packet::Acquire {
                name: "Bench".into(),
                signature: 1,
            },
        ),
        ("Release", Packet::Release { source: 1 }),
        (
            "Init(2 props)",
            Packet::Init {
                name: "Bench".into(),
                source: 1,
                signature: 1,
                values: vec![small.clone(); 2],
                children: Vec::new(),
            },
        ),
        (
            "Init(1 MiB)",
            Packet::Init {
                name: "Bench".into(),
                source: 1,
                signature: 1,
                values: vec![Bytes::from(vec![7u8; 1 << 20])],
                children: Vec::new(),
            },
        ),
        (
            "Invoke",
            Packet::Invoke {
                source: 1,
                slot: 0,
                serial: 42,
                args: small.clone(),
            },
        ),
        (
            "InvokeReply",
            Packet::InvokeReply {
                source: 1,
                serial: 42,
                outcome: Ok(small.clone()),
            },
        ),
        (
            "InvokeReply(error)",
            Packet::InvokeReply {
                source: 1,
                serial: 42,
                outcome: Err(RemoteFailure {
                    kind: FailureKind::Source,
                    message: "out of paper".into(),
                }),
            },
        ),
        (
            "SetProperty",
            Packet::SetProperty {
                source: 1,
                index: 0,
                serial: 1,
                value: small.clone(),
            },
        ),
        (
            "PropertyChange",
            Packet::PropertyChange {
                source: 1,
                index: 0,
                value: small.clone(),
            },
        ),
        (
            "Signal",
            Packet::Signal {
                source: 1,
                index: 0,
                args: small,
            },
        ),
        ("Ping", Packet::Ping(7)),
        ("Pong", Packet::Pong(7)),
    ]
}

fn encode(c: &mut Criterion) {
    let mut group = c.benchmark_group("encode");
    for (name, packet) in every_kind() {
        group.throughput(Throughput::Elements(1));
        group.bench_function(name, |b| b.iter(|| black_box(&packet).to_frame()));
    }
    group.bench_function("PropertyChange(value_frame, i32 in place)", |b| {
        b.iter(|| {
            Packet::value_frame(false, 1, 0, |out| {
                Encoding::Bincode.encode_into(black_box(&123_456i32), out)
            })
            .unwrap()
        })
    });
    group.finish();
}

fn decode(c: &mut Criterion) {
    let mut group = c.benchmark_group("decode");
    for (name, packet) in every_kind() {
        let frame = packet.to_frame();
        let payload = frame.slice(4..);
        group.throughput(Throughput::Elements(1));
        group.bench_function(name, |b| {
            b.iter(|| Packet::decode(black_box(payload.clone())).unwrap())
        });
    }
    // The framing codec over a buffer of 1000 back-to-back property changes, as a socket
    // read delivers them.
    let stream: Vec<u8> = (0..1000)
        .flat_map(|i: i32| {
            let value = Bytes::from(Encoding::Bincode.encode(&i).unwrap());
            Packet::PropertyChange {
                source: 1,
                index: 0,
                value,
            }
            .to_frame()
            .to_vec()
        })
        .collect();
    group.throughput(Throughput::Elements(1000));
    group.bench_function("codec: 1000 PropertyChange frames", |b| {
        b.iter(|| {
            let mut codec = PacketCodec::default();
            let mut buf = BytesMut::from(&stream[..]);
            let mut n = 0;
            while let Some(packet) = codec.decode(&mut buf).unwrap() {
                black_box(packet);
                n += 1;
            }
            assert_eq!(n, 1000);
        })
    });
    group.finish();
}

#[derive(serde::Serialize, serde::Deserialize)]
enum Status {
    Idle,
    Printing { job: u32, doc: String },
}

#[derive(serde::Serialize, serde::Deserialize)]
struct Sample {
    status: Status,
    samples: Vec<u16>,
    label: Option<String>,
}

/// Decoding user values (every property change, argument list and reply goes through it),
/// bounded by the bytes received.
fn values(c: &mut Criterion) {
    let enc = Encoding::Bincode;
    let mut group = c.benchmark_group("value decode");
    group.throughput(Throughput::Elements(1));
    let int = enc.encode(&123_456u32).unwrap();
    group.bench_function("u32", |b| {
        b.iter(|| enc.decode::<u32>(black_box(&int)).unwrap())
    });
    let text = enc.encode(&"a sixteen b text".to_string()).unwrap();
    group.bench_function("String (16 bytes)", |b| {
        b.iter(|| enc.decode::<String>(black_box(&text)).unwrap())
    });
    let sample = Sample {
        status: Status::Printing {
            job: 7,
            doc: "report.pdf".into(),
        },
        samples: (0..100).collect(),
        label: Some("kitchen".into()),
    };
    let _ = Status::Idle;
    let nested = enc.encode(&sample).unwrap();
    group.bench_function("struct with enum, Vec<u16> of 100, Option<String>", |b| {
        b.iter(|| enc.decode::<Sample>(black_box(&nested)).unwrap())
    });
    let blob = enc
        .encode(&serde_bytes::ByteBuf::from(vec![7u8; 64 * 1024]))
        .unwrap();
    group.bench_function("64 KiB bytes", |b| {
        b.iter(|| {
            enc.decode::<serde_bytes::ByteBuf>(black_box(&blob))
                .unwrap()
        })
    });
    group.finish();
}

criterion_group!(benches, encode, decode, values);
criterion_main!(benches);
