use actix_remote_objects::prelude::*;

/// Lacks serde's traits, Clone, Debug and Default: a property of it is one error, at the
/// type, saying what a property's type needs.
pub struct Reading {
    pub celsius: f64,
}

remote_object! {
    pub Thermometer {
        prop name: String, read_write;
        prop reading: Reading, read_write, checked;
        signal alarm(level: u8);
        slot reset() -> u32;
    }
}

fn main() {}
