//! The guide: chapters on using the crate, from the concepts to performance. Each chapter's
//! examples are compiled (and most run) as tests.

#[doc = include_str!("../docs/guide/concepts.md")]
pub mod concepts {}

#[doc = include_str!("../docs/guide/lifecycle.md")]
pub mod lifecycle {}

#[doc = include_str!("../docs/guide/properties.md")]
pub mod properties {}

#[doc = include_str!("../docs/guide/signals_and_slots.md")]
pub mod signals_and_slots {}

#[doc = include_str!("../docs/guide/registry.md")]
pub mod registry {}

#[doc = include_str!("../docs/guide/discovery.md")]
pub mod discovery {}

#[doc = include_str!("../docs/guide/models.md")]
pub mod models {}

#[doc = include_str!("../docs/guide/persisted.md")]
pub mod persisted {}

#[doc = include_str!("../docs/guide/dynamic.md")]
pub mod dynamic {}

#[doc = include_str!("../docs/guide/qt.md")]
pub mod qt {}

#[doc = include_str!("../docs/guide/security.md")]
pub mod security {}

#[doc = include_str!("../docs/guide/observability.md")]
pub mod observability {}

#[doc = include_str!("../docs/guide/performance.md")]
pub mod performance {}
