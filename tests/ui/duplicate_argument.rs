use actix_remote_objects::remote_object;

remote_object! {
    pub Printer {
        slot print(doc: String, doc: String);
    }
}

fn main() {}
