use actix_remote_objects::remote_object;

remote_object! {
    pub Printer {
        prop state: u8;
    }
}

fn main() {}
