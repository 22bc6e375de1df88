//! Recovery: what a failed run's failure is ([`classify`]), so policies can tell a runner
//! that went away from a test that failed; the bounded automatic re-run of transient
//! failures ([`retry`]); and the rollback after repeated deploy failures ([`rollback`]). The classification travels with the run's state (MQTT, the API,
//! MCP); every re-run is a command through the one executor.

pub mod classify;
pub mod health;
pub mod retry;
pub mod rollback;
pub mod switches;

pub use classify::{Classification, FailureClass, classify};
pub use health::{HealthPolicy, HealthReport, HealthWatch, HttpCheck};
pub use retry::{AutoRetry, RetryPolicy};
pub use rollback::{AutoRollback, RollbackPolicy};
pub use switches::{Scope, Switch};

/// What a policy did, for HA's *Recovery* event entity and the API's event stream.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct RecoveryEvent {
    /// `re_run` (auto-retry) or `rolled_back` (auto-rollback).
    pub event_type: &'static str,
    pub repository: String,
    /// The run acted on: the failed run re-run, or the run whose failure triggered the rollback.
    pub run_id: u64,
    pub attempt: u32,
    /// Why, in a sentence.
    pub reason: String,
    /// The command's answer.
    pub message: String,
    pub url: Option<String>,
}

/// The event types of the *Recovery* entity.
pub const RECOVERY_EVENT_TYPES: [&str; 2] = ["re_run", "rolled_back"];
