//! The printer's API, shared by the printer example and the tests that drive it across
//! processes (so both sides have the same signature by construction).

use actix_remote_objects::remote_object;
use serde::{Deserialize, Serialize};

/// What the printer is doing.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum Status {
    /// Waiting for a job.
    #[default]
    Idle,
    /// Printing job `job`.
    Printing {
        /// The job number.
        job: u32,
        /// The document's name.
        doc: String,
    },
    /// No paper left.
    OutOfPaper,
}

remote_object! {
    /// A printer shared on the network.
    pub Printer {
        /// Percent of ink left.
        prop ink_level: u8 = 100;
        /// What the printer is doing.
        prop status: Status;
        /// The printer's name; replicas may rename it.
        prop name: String = "office".to_string(), read_write;
        /// The paper ran out.
        signal out_of_paper(tray: u32);
        /// Prints a document and returns its job number.
        slot print(doc: String) -> u32;
    }
}
