use actix_remote_objects::remote_object;

remote_object! {
    pub Printer {
        prop serial: String, constant, push;
    }
}

fn main() {}
