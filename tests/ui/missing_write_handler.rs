use actix::prelude::*;
use actix_remote_objects::prelude::*;

remote_object! {
    pub Thermostat {
        prop target: i32 = 20, read_write, checked;
    }
}

struct ThermostatService(thermostat::SimpleSource);

impl Actor for ThermostatService {
    type Context = Context<Self>;
}

// A `checked` property's writes go to the source: without a handler of `SetTarget` this
// does not compile.
impl RemoteSource for ThermostatService {
    type Api = Thermostat;
    fn simple_source(&self) -> &thermostat::SimpleSource {
        &self.0
    }
}

fn main() {}
