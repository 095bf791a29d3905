//! The fuzz targets of `actix_remote_objects::fuzzing` (packets, values, schemas, dynamic
//! values) on stable Rust: seeds taken from a recorded real session, then a seeded mutation
//! loop over them. cargo-fuzz drives the same targets from `fuzz/` on nightly.
//!
//! `FUZZ_INPUTS=n` sets the number of inputs per target (default 100 000); `FUZZ_SEED=n` the
//! seed. With `ARO_WRITE_CORPUS=dir`, the seeds are also written to `dir/<target>/` (that is
//! how `fuzz/corpus` was made: `ARO_WRITE_CORPUS=fuzz/corpus cargo test --test fuzz_targets`).

mod support;

use std::time::Instant;

use actix_remote_objects::fuzzing;
use actix_remote_objects::wire::{Encoding, Packet};
use bytes::Bytes;
use support::mutate::{setting, Mutator};
use support::recorder::record_printer_session;
use support::*;

/// The seeds for each target, from a real session: every packet, every value and schema
/// inside them, and a sample record.
struct Seeds {
    packets: Vec<Vec<u8>>,
    values: Vec<Vec<u8>>,
    schemas: Vec<Vec<u8>>,
}

fn seeds(frames: Vec<Vec<u8>>) -> Seeds {
    let mut seeds = Seeds {
        packets: Vec::new(),
        values: Vec::new(),
        schemas: Vec::new(),
    };
    for frame in frames {
        let payload = frame[4..].to_vec();
        let packet = Packet::decode(Bytes::from(payload.clone())).expect("recorded frames decode");
        match packet {
            Packet::Invoke { args: v, .. }
            | Packet::SetProperty { value: v, .. }
            | Packet::PropertyChange { value: v, .. }
            | Packet::Signal { args: v, .. }
            | Packet::InvokeReply { outcome: Ok(v), .. } => seeds.values.push(v.to_vec()),
            Packet::Init { values, .. } => seeds.values.extend(values.iter().map(|v| v.to_vec())),
            Packet::InitDynamic { schema, values, .. } => {
                seeds.schemas.push(schema.to_vec());
                seeds.values.extend(values.iter().map(|v| v.to_vec()));
            }
            _ => {}
        }
        seeds.packets.push(payload);
    }
    seeds
}

fn write_corpus(dir: &str, target: &str, inputs: &[Vec<u8>]) {
    let dir = std::path::Path::new(dir).join(target);
    std::fs::create_dir_all(&dir).unwrap();
    for (i, input) in inputs.iter().enumerate() {
        std::fs::write(dir.join(format!("session-{i:03}")), input).unwrap();
    }
}

/// Runs `target` on `inputs` mutations of the seeds; returns the rate.
fn fuzz(name: &str, seeds: &[Vec<u8>], inputs: u64, seed: u64, target: impl Fn(&[u8])) {
    assert!(!seeds.is_empty(), "no seeds for {name}");
    let mut mutator = Mutator::new(seed);
    let started = Instant::now();
    for seed in seeds {
        target(seed);
    }
    for _ in 0..inputs {
        let pick = mutator.below(seeds.len());
        let input = mutator.mutate(&seeds[pick]);
        target(&input);
    }
    let elapsed = started.elapsed().as_secs_f64();
    eprintln!(
        "FIGURE fuzz {name}: {inputs} inputs from {} seeds in {elapsed:.2} s ({:.0} inputs/s), \
         seed {seed:#x}",
        seeds.len(),
        inputs as f64 / elapsed
    );
}

#[actix::test]
async fn the_decoders_survive_mutations_of_a_real_session() {
    let _guard = init();
    let inputs = setting("FUZZ_INPUTS", 100_000);
    let seed = setting("FUZZ_SEED", 0xdec0de);
    let (to_host, to_node) = record_printer_session().await;
    let mut seeds = seeds(to_host.into_iter().chain(to_node).collect());
    let sample = fuzzing::Record {
        name: "sample".into(),
        samples: vec![1, 300, 70_000],
        table: [("a".into(), Some((1, 'x'))), ("b".into(), None)].into(),
        shape: fuzzing::Shape::Labelled {
            label: "nested".into(),
            data: vec![1, 2, 3],
            children: vec![fuzzing::Shape::Circle(2.5), fuzzing::Shape::Empty],
        },
        marks: vec![(); 4],
        wide: -1 << 100,
    };
    seeds
        .values
        .push(Encoding::Bincode.encode(&sample).unwrap());
    assert!(!seeds.schemas.is_empty(), "the session has a dynamic init");

    if let Ok(dir) = std::env::var("ARO_WRITE_CORPUS") {
        write_corpus(&dir, "packet", &seeds.packets);
        write_corpus(&dir, "value", &seeds.values);
        write_corpus(&dir, "schema", &seeds.schemas);
        write_corpus(&dir, "dynamic", &seeds.values);
    }

    fuzz("packet", &seeds.packets, inputs, seed, fuzzing::packet);
    fuzz("value", &seeds.values, inputs, seed + 1, fuzzing::value);
    fuzz("schema", &seeds.schemas, inputs, seed + 2, fuzzing::schema);
    let (formats, types) = fuzzing::sample_schema();
    fuzz("dynamic", &seeds.values, inputs, seed + 3, |data| {
        fuzzing::dynamic(data, &formats, &types)
    });
}
