//! The schema decoder: see `actix_remote_objects::fuzzing::schema`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| actix_remote_objects::fuzzing::schema(data));
