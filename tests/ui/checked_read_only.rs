use actix_remote_objects::remote_object;

remote_object! {
    pub Printer {
        prop ink_level: u8 = 100, read_only, checked;
    }
}

fn main() {}
