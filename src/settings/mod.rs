//! Typed settings, loaded in layers and validated once before anything starts.
//!
//! Layers, later wins key by key: built-in defaults < the YAML file given with `--config` <
//! the HA add-on's `/data/options.json` < environment variables
//! (`GITOPS_BRIDGE__MQTT__HOST=…`, `__` separates keys).
//!
//! The layers are merged as JSON values and then deserialised once with
//! `serde_path_to_error`, so every error names the full key (`mqtt.port: invalid type …`).
//! `RawSettings` mirrors the file (every field documented, `deny_unknown_fields`);
//! [`Settings::from_raw`] checks cross-field rules and is the only way to get a [`Settings`].
//!
//! One file per concern: [`schema`] (the file as users write it), [`types`] (the
//! validated settings the rest of the code sees), [`checks`] (validation and cross-field
//! rules), [`defaults`] (what an unset setting means), [`layers`] (file, add-on options, environment), [`supervisor`] (the HA
//! Supervisor's MQTT service).

mod checks;
mod coordination;
pub mod defaults;
mod layers;
pub mod schema;
mod supervisor;
pub mod types;

use std::fmt;
use std::path::PathBuf;

use serde::Deserialize;

// The policy types belong to the commands they govern; settings hold one per repository.
pub use crate::commands::{Action, RepoPolicy, Rollback};
pub use layers::Sources;
pub use schema::*;
pub use supervisor::apply_supervisor_mqtt;
pub use types::*;

/// Prefix of environment variables that override settings.
pub const ENV_PREFIX: &str = "GITOPS_BRIDGE__";
/// Where the HA Supervisor puts the add-on's options.
pub const ADDON_OPTIONS_PATH: &str = "/data/options.json";

/// A setting that must never reach logs, MQTT or reports. `Debug` prints `***`.
#[derive(Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }
    /// The secret itself; call only where it is handed to the peer that needs it.
    pub fn expose(&self) -> &str {
        &self.0
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.0.is_empty() { "\"\"" } else { "***" })
    }
}

/// What went wrong while loading settings; every variant names the key or file.
#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    #[error("cannot read settings file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("settings file {path} is not valid YAML: {message}")]
    Syntax { path: PathBuf, message: String },
    #[error("setting `{key}`: {message}")]
    Invalid { key: String, message: String },
    #[error("setting `{key}` is required: {hint}")]
    Missing { key: String, hint: String },
}

fn invalid(key: &str, message: impl Into<String>) -> SettingsError {
    SettingsError::Invalid {
        key: key.to_string(),
        message: message.into(),
    }
}

impl Settings {
    /// Loads all layers and validates them.
    pub fn load(sources: &Sources) -> Result<Settings, SettingsError> {
        let raw = layers::load_raw(sources)?;
        let store_unset = raw.store.path.is_none();
        let mut settings = Settings::from_raw(raw)?;
        // Without `store.path`, the history lives next to the settings file (or in the
        // working directory): a path that works on any machine. The add-on sets `/data/…`.
        if store_unset && let Some(dir) = sources.file.as_deref().and_then(|f| f.parent()) {
            settings.store.path = dir.join(DEFAULT_STORE_FILE);
        }
        Ok(settings)
    }
}

#[cfg(test)]
mod tests;
