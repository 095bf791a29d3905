//! Sub-objects (Qt's `CLASS` members): an office holds a paper tray it always has and a
//! spare it may have, each a source of its own API. A replica of the office comes with
//! replicas of its trays; swapping them re-points both members, and the replica sees each
//! new tray whole.
//!
//! ```text
//! cargo run --example office                  # host and replica in one process, narrated
//! cargo run --example office host URL         # only the host (prints "listening on URL")
//! ```
//! Then, for instance: `aro get URL Office`, `aro call URL Office.tray refill 5`,
//! `aro call URL Office swap`.

use std::time::Duration;

use actix::prelude::*;
use actix_remote_objects::prelude::*;
use actix_remote_objects::ChildSource;

#[path = "common/shutdown.rs"]
mod shutdown;
use shutdown::wait_for_termination;

remote_object! {
    /// A paper tray.
    pub Tray {
        /// Sheets of paper in it.
        prop sheets: u32;
        /// What is written on it.
        prop label: String, read_write;
        /// Adds `n` sheets; returns how many there are now.
        slot refill(n: u32) -> u32;
    }
}

remote_object! {
    /// An office and its trays.
    pub Office {
        /// The office's name.
        prop name: String;
        /// The tray in use: always one.
        child tray: Tray;
        /// A spare tray, if there is one.
        child spare: Option<Tray>;
        /// Puts the spare in use and keeps the tray in use as the spare.
        slot swap();
    }
}

use office::ReplicaExt as _;
use tray::ReplicaExt as _;

struct TrayService(tray::SimpleSource);

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
        let sheets = self.0.sheets().saturating_add(msg.n);
        self.0.set_sheets(sheets).map_err(SlotError::source)?;
        Ok(sheets)
    }
}

/// A tray source holding `sheets`, labelled `label`.
fn new_tray(label: &str, sheets: u32) -> ChildSource<Tray> {
    let state = tray::SimpleSource::new(tray::Properties {
        sheets,
        label: label.to_owned(),
    });
    ChildSource::start(TrayService(state))
}

struct OfficeService(office::SimpleSource);

impl Actor for OfficeService {
    type Context = Context<Self>;
}

impl RemoteSource for OfficeService {
    type Api = Office;
    fn simple_source(&self) -> &office::SimpleSource {
        &self.0
    }
}

impl Handler<office::Swap> for OfficeService {
    type Result = SlotResult<()>;
    fn handle(&mut self, _: office::Swap, _: &mut Context<Self>) -> SlotResult<()> {
        let (Some(in_use), Some(spare)) = (self.0.tray(), self.0.spare()) else {
            return Err(SlotError::source("there is no spare tray to swap in"));
        };
        // A tray hangs in one place at a time: free the spare before it goes in use.
        self.0.set_spare(None).map_err(SlotError::source)?;
        self.0.set_tray(spare).map_err(SlotError::source)?;
        self.0.set_spare(Some(in_use)).map_err(SlotError::source)?;
        Ok(())
    }
}

async fn run_host(url: &str) -> Result<Host, actix_remote_objects::Error> {
    let host = Host::listen(url).await?;
    let office = office::SimpleSource::new(office::Properties {
        name: "HQ".to_owned(),
    });
    office.set_tray(new_tray("A4", 10))?;
    office.set_spare(Some(new_tray("A3", 50)))?;
    host.enable_remoting(OfficeService(office)).await?;
    println!("listening on {}", host.url().unwrap_or(url));
    Ok(host)
}

async fn run_replica(url: &str) -> Result<(), Box<dyn std::error::Error>> {
    let node = Node::connect(url).await?;
    let office = node.acquire::<Office>();
    office.wait_for_source(Duration::from_secs(5)).await?;
    let tray = office.tray().ok_or("the office came without its tray")?;
    println!(
        "replica: {} uses tray {:?} with {} sheets",
        office.name(),
        tray.label(),
        tray.sheets()
    );
    let sheets = tray.call(tray::Refill { n: 5 }).await?;
    println!("replica: refilled the tray: {sheets} sheets");

    office.call(office::Swap {}).await?;
    // The reply comes after the re-pointed members (contract item 1): already swapped.
    let spare = office.spare().ok_or("the swap left no spare")?;
    println!(
        "replica: swapped; in use {:?} with {} sheets, spare {:?} with {} sheets",
        tray.label(),
        tray.sheets(),
        spare.label(),
        spare.sheets()
    );
    Ok(())
}

#[actix::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .as_slice()
    {
        [] => {
            let host = run_host("tcp://127.0.0.1:0").await?;
            let url = host.url().ok_or("the host has no URL")?.to_owned();
            run_replica(&url).await?;
            host.shutdown().await;
            println!("done");
        }
        ["host", url] => {
            let host = run_host(url).await?;
            wait_for_termination().await;
            host.shutdown().await;
        }
        _ => {
            eprintln!("usage: office [host URL]");
            std::process::exit(2);
        }
    }
    Ok(())
}
