use actix::prelude::*;
use actix_remote_objects::prelude::*;

remote_object! {
    pub Printer {
        slot print(doc: String) -> u32;
        slot cancel(job: u32);
    }
}

struct PrinterService {
    remote: printer::SimpleSource,
}

impl Actor for PrinterService {
    type Context = Context<Self>;
}

// Handles `print` but not `cancel`: the source cannot be remoted.
impl Handler<printer::Print> for PrinterService {
    type Result = SlotResult<u32>;
    fn handle(&mut self, _: printer::Print, _: &mut Context<Self>) -> SlotResult<u32> {
        Ok(1)
    }
}

impl RemoteSource for PrinterService {
    type Api = Printer;
    fn simple_source(&self) -> &printer::SimpleSource {
        &self.remote
    }
}

fn main() {}
