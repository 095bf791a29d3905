//! The office API of the tests: an office holding trays, sub-objects (Qt's `CLASS`
//! members), and their source actors.

use actix::prelude::*;
use actix_remote_objects::prelude::*;
use actix_remote_objects::ChildSource;

remote_object! {
    /// A paper tray.
    pub Tray {
        prop sheets: u32;
        prop label: String, read_write;
        signal ran_out(after: u32);
        slot refill(n: u32) -> u32;
    }
}

remote_object! {
    /// An office with one tray it always has and a spare it may have.
    pub Office {
        prop name: String;
        child tray: Tray;
        child spare: Option<Tray>;
        /// Loads `n` sheets into the tray, then answers.
        slot load(n: u32);
    }
}

pub struct TrayService(pub tray::SimpleSource);

impl Actor for TrayService {
    type Context = Context<Self>;
}

impl RemoteSource for TrayService {
    type Api = Tray;
    fn simple_source(&self) -> &tray::SimpleSource {
        &self.0
    }
}

impl Handler<tray::Refill> for TrayService {
    type Result = SlotResult<u32>;
    fn handle(&mut self, msg: tray::Refill, _: &mut Context<Self>) -> SlotResult<u32> {
        let sheets = self.0.sheets() + msg.n;
        self.0.set_sheets(sheets).map_err(SlotError::source)?;
        Ok(sheets)
    }
}

/// A tray holding `sheets`, its actor started.
pub fn new_tray(sheets: u32) -> ChildSource<Tray> {
    let state = tray::SimpleSource::new(tray::Properties {
        sheets,
        ..Default::default()
    });
    ChildSource::start(TrayService(state))
}

pub struct OfficeService(pub office::SimpleSource);

impl Actor for OfficeService {
    type Context = Context<Self>;
}

impl RemoteSource for OfficeService {
    type Api = Office;
    fn simple_source(&self) -> &office::SimpleSource {
        &self.0
    }
}

impl Handler<office::Load> for OfficeService {
    type Result = SlotResult<()>;
    fn handle(&mut self, msg: office::Load, _: &mut Context<Self>) -> SlotResult<()> {
        let tray = self.0.tray().ok_or_else(|| SlotError::source("no tray"))?;
        tray.source().set_sheets(msg.n).map_err(SlotError::source)?;
        Ok(())
    }
}
