//! Recovery: what a failed run's failure is ([`classify`]), so policies can tell a runner
//! that went away from a test that failed; the bounded automatic re-run of transient
//! failures ([`retry`]); and the rollback after repeated deploy failures ([`rollback`]). The classification travels with the run's state (MQTT, the API,
//! MCP); every re-run is a command through the one executor.

pub mod classify;
pub mod retry;
pub mod rollback;
pub mod switches;

pub use classify::{Classification, FailureClass, classify};
pub use retry::{AutoRetry, RetryPolicy};
pub use rollback::{AutoRollback, RollbackPolicy};
pub use switches::{Scope, Switch};
