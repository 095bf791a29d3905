use actix_remote_objects::remote_object;

remote_object! {
    pub Gps {
        prop position: (f64, f64), persisted, read_only, persisted;
    }
}

fn main() {}
