//! The `Demo` API of `tests/qt/demo.rep` (and of `examples/qt_interop.rs`) in Rust: its Qt
//! face has the signature repc gives that file, so Qt replicas and sources built from it
//! and Rust ones interoperate.

use actix_remote_objects::remote_object;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Mode {
    #[default]
    Off,
    On,
    Auto,
}

#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct MyPod {
    pub x: i32,
    pub name: String,
}

remote_object! {
    pub Demo {
        prop count: i32 = 5, push;
        prop label: String, read_write;
        prop ratio: f64;
        prop flag: bool = true, constant;
        prop mode: Mode, push;
        prop pod: MyPod, push;
        signal pinged(n: i32, msg: String);
        slot add(a: i32, b: i32) -> i32;
        slot reset();
        slot echo(s: String) -> String;
    }
}

remote_object! {
    /// Another API under Demo's wire name: its signature differs from Demo's.
    pub OtherDemo as "Demo" {
        prop count: i32 = 5, push;
        slot add(a: i32, c: i32) -> i32;
    }
}
