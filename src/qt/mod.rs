//! Qt Remote Objects' own dialect (QtRO 2.0, Qt 6.2–6.8) over this crate's sessions.
//!
//! A Qt node's packets are translated to and from this crate's: [`api`] gives each API its
//! Qt face (types, wire positions, class definition, repc's signature), [`convert`] carries
//! values between [`Value`](crate::dynamic::Value)s and `QVariant`s, and [`gateway`] is the
//! sans-io translator between one Qt connection and one native session.

pub mod api;
pub mod convert;
pub(crate) mod driver;
pub mod gateway;
