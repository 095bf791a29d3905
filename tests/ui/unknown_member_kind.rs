use actix_remote_objects::remote_object;

remote_object! {
    pub Printer {
        property ink_level: u8;
    }
}

fn main() {}
