//! Recovery and coordination: what a failed run's failure is ([`classify`]), so policies
//! can tell a runner that went away from a test that failed; the bounded automatic re-run
//! of transient failures ([`retry`]); the rollback after repeated deploy failures
//! ([`rollback`]); health checks ([`health`]); service-level objectives ([`slo`]) and the
//! quality gate built on them ([`gate`]); runs triggered by upstream repositories
//! ([`downstream`]) and deployments across repositories in order ([`coordinate`]); and
//! the switches that turn each on and off ([`switches`]). Every write to GitHub is a
//! command through the one executor.

pub mod classify;
pub mod coordinate;
pub mod downstream;
pub mod gate;
pub mod health;
pub mod retry;
pub mod rollback;
pub mod slo;
pub mod switches;

use tokio::sync::broadcast;
use tokio_util::sync::CancellationToken;

use crate::state::{Change, StateHandle};

pub use classify::{Classification, FailureClass, classify};
pub use coordinate::{CoordinatedDeployment, CoordinationStatus, Coordinator, CoordinatorHandle};
pub use downstream::{Downstream, DownstreamPolicy, Need};
pub use gate::{ConfigCheck, GatePolicy, GateStatuses, GateVerdict};
pub use health::{Check, EntityCheck, HealthPolicy, HealthReport, HealthWatch, HttpCheck};
pub use retry::{AutoRetry, RetryPolicy};
pub use rollback::{AutoRollback, RollbackPolicy};
pub use slo::SloTargets;
pub use switches::{Scope, Switch};

/// The state changes an event-driven policy acts on, one at a time, until its `cancel`
/// fires or the state task ends. A policy that falls behind skips what it missed; each
/// looks at the newest state when it acts.
pub(crate) struct Changes {
    rx: broadcast::Receiver<Change>,
    cancel: CancellationToken,
}

impl Changes {
    pub(crate) fn of(state: &StateHandle, cancel: &CancellationToken) -> Changes {
        Changes {
            rx: state.subscribe(),
            cancel: cancel.clone(),
        }
    }

    /// The next change; `None` once cancelled or the state task has ended.
    pub(crate) async fn next(&mut self) -> Option<Change> {
        loop {
            let change = tokio::select! {
                _ = self.cancel.cancelled() => return None,
                change = self.rx.recv() => change,
            };
            match change {
                Ok(change) => return Some(change),
                Err(broadcast::error::RecvError::Lagged(_)) => {}
                Err(broadcast::error::RecvError::Closed) => return None,
            }
        }
    }
}

/// What a policy did, for HA's *Recovery* event entity and the API's event stream.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct RecoveryEvent {
    /// One of [`RECOVERY_EVENT_TYPES`].
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

/// The event types of the *Recovery* entity: an automatic re-run, an automatic rollback,
/// a downstream dispatch, and a coordinated deployment's step started, failed (the
/// deployment stops), or the last one succeeded.
pub const RECOVERY_EVENT_TYPES: [&str; 6] = [
    "re_run",
    "rolled_back",
    "dispatched_downstream",
    "coordinated_dispatched",
    "coordinated_failed",
    "coordinated_succeeded",
];
