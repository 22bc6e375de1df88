//! gitops-bridge: a homelab's GitOps in Home Assistant.
//!
//! The crate is a library with a thin binary (`src/main.rs`). Its parts, as data flows:
//!
//! - [`validate`]: `gitops-bridge check`, the Home Assistant configuration validator.

pub mod validate;
