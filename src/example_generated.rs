//! What [`remote_object!`](crate::remote_object) generates, for this example API (only in
//! the documentation, as bitflags' `example_generated`):
//!
//! ```
//! use actix_remote_objects::prelude::*;
//!
//! #[derive(Debug, Clone, PartialEq, Default, serde::Serialize, serde::Deserialize)]
//! pub enum Status {
//!     #[default]
//!     Idle,
//!     Printing { job: u32 },
//! }
//!
//! remote_object! {
//!     /// A printer shared on the network.
//!     pub Printer {
//!         /// Percent of ink left.
//!         prop ink_level: u8 = 100;
//!         /// What it is doing.
//!         prop status: Status;
//!         /// Its name: replicas may set it, and the source decides.
//!         prop name: String = "office".to_string(), read_write, checked;
//!         /// Paper ran out in a tray.
//!         signal out_of_paper(tray: u32);
//!         /// Prints a document; returns the job number.
//!         slot print(doc: String) -> u32;
//!     }
//! }
//! # fn main() {}
//! ```
//!
//! [`Printer`] is the API's marker type (it implements [`RemoteObject`](crate::RemoteObject));
//! the module [`printer`] holds the rest: [`printer::Properties`], [`printer::SimpleSource`]
//! (what the source actor holds), [`printer::PropertyChange`], one message per slot
//! ([`printer::Print`]) and per signal ([`printer::OutOfPaper`]), [`printer::Signal`], the
//! write message of the checked property ([`printer::SetName`]) and [`printer::ReplicaExt`]
//! (the typed getters and setters on a `Replica<Printer>`).

use serde::{Deserialize, Serialize};

/// What the printer is doing.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub enum Status {
    /// Waiting for work.
    #[default]
    Idle,
    /// Printing job `job`.
    Printing {
        /// The job's number.
        job: u32,
    },
}

crate::remote_object! {
    /// A printer shared on the network.
    pub Printer {
        /// Percent of ink left.
        prop ink_level: u8 = 100;
        /// What it is doing.
        prop status: Status;
        /// Its name: replicas may set it, and the source decides.
        prop name: String = "office".to_string(), read_write, checked;
        /// Paper ran out in a tray.
        signal out_of_paper(tray: u32);
        /// Prints a document; returns the job number.
        slot print(doc: String) -> u32;
    }
}
