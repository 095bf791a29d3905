//! Connection lifecycle policies, with no sockets and no clock: when to retry a lost
//! connection ([`Backoff`]) and when a silent peer counts as gone ([`Liveness`]). The
//! actors feed them the time and act on their answers.

mod backoff;
mod liveness;

pub(crate) use backoff::Backoff;
pub(crate) use liveness::{Liveness, Tick};
