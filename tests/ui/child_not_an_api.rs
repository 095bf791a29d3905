use actix_remote_objects::remote_object;

remote_object! {
    pub Tray {
        prop sheets: u32;
    }
}

remote_object! {
    pub Printer {
        child trays: Vec<Tray>;
    }
}

fn main() {}
