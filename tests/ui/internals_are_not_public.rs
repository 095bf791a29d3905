// What the generated code uses is not part of the crate's public paths.
use actix_remote_objects::{AsSourceState, Hostable, SlotCall, SourceState};

fn main() {}
