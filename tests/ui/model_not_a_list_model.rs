use actix_remote_objects::prelude::*;

remote_object! {
    pub Player {
        model playlist: Vec<String>;
    }
}

fn main() {}
