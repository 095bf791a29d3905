//! The Qt Remote Objects packet decoder: see `actix_remote_objects::fuzzing::qt_packet`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| actix_remote_objects::fuzzing::qt_packet(data));
