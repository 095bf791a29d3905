#![deny(unused_must_use)]

use actix_remote_objects::Host;

async fn serve() {
    // Dropped at once: the host would stop accepting connections.
    Host::listen("tcp://127.0.0.1:0").await.unwrap();
}

fn main() {
    let _ = serve();
}
