use actix_remote_objects::remote_object;

remote_object! {
    pub Printer {
        signal jammed(tray: u32) -> bool;
    }
}

fn main() {}
