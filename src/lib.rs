//! gitops-bridge: a homelab's GitOps in Home Assistant.
//!
//! The crate is a library with a thin binary (`src/main.rs`). Its parts, as data flows:
//!
//! - [`settings`]: layered, validated settings (file < add-on options < environment).
//! - [`model`]: the domain types every part shares, and the [`model::Event`]s sources emit.
//! - [`store`]: SQLite history (runs by id and attempt, jobs, ETags) on its own thread.
//! - [`metrics`]: pure health functions (success rate, durations, MTTR, health score).
//! - [`validate`]: `gitops-bridge check`, the Home Assistant configuration validator.

pub mod metrics;
pub mod model;
pub mod settings;
pub mod store;
pub mod validate;
