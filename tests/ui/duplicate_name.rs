use actix_remote_objects::remote_object;

remote_object! {
    pub Printer {
        prop status: u8;
        slot status(x: u8);
    }
}

fn main() {}
