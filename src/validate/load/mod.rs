//! Loading a configuration the way HA does: includes and tags (`loader`), `!secret`
//! (`secrets`), packages merged into the configuration (`packages`) and blueprints.

pub mod blueprints;
pub mod loader;
pub mod packages;
pub mod secrets;
