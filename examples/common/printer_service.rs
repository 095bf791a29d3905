//! The printer's source actor, shared by the printer example and the cross-process tests.

use actix::prelude::*;
use actix_remote_objects::prelude::*;

use super::printer_api::{printer, Printer, Status};

/// The source: owns the printer's state.
pub struct PrinterService {
    remote: printer::SimpleSource,
    sheets_left: u32,
    next_job: u32,
}

impl Actor for PrinterService {
    type Context = Context<Self>;
}

impl RemoteSource for PrinterService {
    type Api = Printer;
    fn simple_source(&self) -> &printer::SimpleSource {
        &self.remote
    }
}

impl Handler<printer::Print> for PrinterService {
    type Result = SlotResult<u32>;

    fn handle(&mut self, msg: printer::Print, _: &mut Context<Self>) -> SlotResult<u32> {
        if self.sheets_left == 0 {
            self.remote.set_status(Status::OutOfPaper)?;
            self.remote.emit_out_of_paper(1)?;
            return Err(SlotError::source("out of paper"));
        }
        self.sheets_left -= 1;
        let job = self.next_job;
        self.next_job += 1;
        // Both changes reach every replica before this call's reply does.
        self.remote
            .set_ink_level(self.remote.ink_level().saturating_sub(10))?;
        self.remote
            .set_status(Status::Printing { job, doc: msg.doc })?;
        Ok(job)
    }
}

impl PrinterService {
    /// A printer with `sheets` sheets of paper.
    pub fn new(sheets: u32) -> Self {
        PrinterService {
            remote: Default::default(),
            sheets_left: sheets,
            next_job: 1,
        }
    }
}
