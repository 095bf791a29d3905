use actix_remote_objects::model::ListModel;
use actix_remote_objects::prelude::*;

/// Lacks serde's traits, Clone and Debug: a model of it is an error saying what a row needs.
pub struct Track {
    pub title: String,
}

remote_object! {
    pub Player {
        model playlist: ListModel<Track>;
    }
}

fn main() {}
