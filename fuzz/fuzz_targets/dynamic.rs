//! Dynamic values by their schema: see `actix_remote_objects::fuzzing::dynamic`.
#![no_main]

use std::sync::OnceLock;

use actix_remote_objects::dynamic::{TypeDef, TypeFormat};

type Schema = (Vec<TypeFormat>, std::collections::BTreeMap<String, TypeDef>);

static SCHEMA: OnceLock<Schema> = OnceLock::new();

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let (formats, types) = SCHEMA.get_or_init(actix_remote_objects::fuzzing::sample_schema);
    actix_remote_objects::fuzzing::dynamic(data, formats, types);
});
