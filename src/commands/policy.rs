//! What a repository's settings allow commands to do there, validated (the settings'
//! `github.repositories` entries hold one each).

use std::collections::BTreeSet;

use super::Action;

/// What a watched repository (or `owner/*` group) may do.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RepoPolicy {
    pub allow: BTreeSet<Action>,
    /// Workflow files offered for `dispatch`.
    pub dispatch: Vec<String>,
    /// The workflow whose last success `rollback` re-runs (when no `rollback` workflow).
    pub deploy_workflow: Option<String>,
    pub rollback: Option<Rollback>,
    /// The ref `dispatch` runs on by default (else the default branch).
    pub dispatch_ref: Option<String>,
    /// Re-run failed jobs of transient failures by themselves (`rerun_failed` must be
    /// allowed).
    pub auto_retry: Option<crate::recovery::RetryPolicy>,
    /// Roll back after repeated failures of `deploy_workflow` (`rollback` must be allowed).
    pub auto_rollback: Option<crate::recovery::RollbackPolicy>,
    /// HTTP checks of what the repository deploys.
    pub health: Option<crate::recovery::HealthPolicy>,
    /// Upstream workflows (`needs`) and what their success dispatches here.
    pub downstream: Option<crate::recovery::DownstreamPolicy>,
    /// Targets of the service-level objectives.
    pub slo: crate::recovery::SloTargets,
    /// The quality gate, when the settings set one.
    pub gate: Option<crate::recovery::GatePolicy>,
}

/// A workflow that rolls back when dispatched with the commit to return to.
#[derive(Debug, Clone, PartialEq)]
pub struct Rollback {
    pub workflow: String,
    /// The `workflow_dispatch` input that receives the commit SHA.
    pub input: String,
}

impl RepoPolicy {
    /// Whether any automatic policy acts on this repository.
    pub fn has_automation(&self) -> bool {
        !self.switches().is_empty()
    }

    /// The switches of the automatic policies these settings configure: what HA shows and
    /// may turn on and off for this repository.
    pub fn switches(&self) -> Vec<crate::recovery::Switch> {
        use crate::recovery::Switch;
        let configured = [
            (Switch::AutoRetry, self.auto_retry.is_some()),
            (Switch::AutoRollback, self.auto_rollback.is_some()),
            (Switch::Downstream, self.downstream.is_some()),
        ];
        configured
            .into_iter()
            .filter_map(|(switch, set)| set.then_some(switch))
            .collect()
    }

    /// Each allowed action's requirement on the rest of the policy; the first unmet one.
    pub fn unmet_requirement(&self) -> Option<(Action, &'static str)> {
        self.allow.iter().find_map(|a| {
            let requires = a.spec().requires?;
            requires(self).err().map(|why| (*a, why))
        })
    }
}
