//! A counter API: one property and one signal, for flooding a replica with both.

use actix::prelude::*;
use actix_remote_objects::prelude::*;

remote_object! {
    pub Counter {
        prop value: u64;
        signal tick(n: u64);
    }
}

pub struct CounterService(pub counter::SimpleSource);

impl Actor for CounterService {
    type Context = Context<Self>;
}

impl RemoteSource for CounterService {
    type Api = Counter;
    fn simple_source(&self) -> &counter::SimpleSource {
        &self.0
    }
}
