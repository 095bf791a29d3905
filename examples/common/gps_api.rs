//! The GPS's API and source actor, shared by the gps and registry examples and the tests.

use std::time::Duration;

use actix::prelude::*;
use actix_remote_objects::prelude::*;
use serde::{Deserialize, Serialize};

/// A position fix.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct Position {
    /// Degrees north.
    pub latitude: f64,
    /// Degrees east.
    pub longitude: f64,
}

remote_object! {
    /// A GPS receiver shared on the network.
    pub Gps {
        /// The latest fix; a replica with a persisted store starts from the last one it saw.
        prop position: Position, persisted;
        /// Fixes taken so far.
        prop fixes: u64;
    }
}

/// The source: takes a fix on a timer.
pub struct GpsService {
    remote: gps::SimpleSource,
    interval: Duration,
}

impl Actor for GpsService {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        ctx.run_interval(self.interval, |act, _| {
            let n = act.remote.fixes() + 1;
            // A walk along the Seine, one step per fix.
            let position = Position {
                latitude: 48.8566 + n as f64 * 1e-4,
                longitude: 2.3522 + n as f64 * 2e-4,
            };
            if let Err(error) = act
                .remote
                .set_position(position)
                .and_then(|_| act.remote.set_fixes(n))
            {
                eprintln!("gps: cannot publish the fix: {error}");
            }
        });
    }
}

impl RemoteSource for GpsService {
    type Api = Gps;
    fn simple_source(&self) -> &gps::SimpleSource {
        &self.remote
    }
}

impl GpsService {
    /// A GPS taking a fix every `interval`.
    pub fn new(interval: Duration) -> Self {
        GpsService {
            remote: Default::default(),
            interval,
        }
    }
}
