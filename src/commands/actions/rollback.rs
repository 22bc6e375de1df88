//! `rollback`: deploys the last known good commit again. With a rollback workflow, it is
//! dispatched with that commit as its input; without one, the most recent successful run
//! of the deploy workflow is re-run. With `run_id`, that deploy run is the one undone: the
//! target is the newest successful deploy before it of another commit (a deploy that
//! succeeded but left things unhealthy is the last good one otherwise).

use serde_json::json;

use super::{Action, ActionSpec};
use crate::commands::executor::{Executor, Failure};
use crate::commands::policy::RepoPolicy;
use crate::commands::{Command, CommandResult};
use crate::model::{Outcome, Run};
use crate::state::RepoView;

pub(super) static SPEC: ActionSpec = ActionSpec {
    action: Action::Rollback,
    name: "rollback",
    label: "Roll back",
    button_key: "roll_back",
    icon: "mdi:undo-variant",
    symbol: "⤺",
    hint: "Deploys the last successfully deployed commit again",
    confirm: Some("Really roll back?"),
    per_workflow: false,
    requires: Some(knows_how),
};

/// Rolling back needs a rollback workflow or a deploy workflow to re-run.
fn knows_how(policy: &RepoPolicy) -> Result<(), &'static str> {
    if policy.rollback.is_none() && policy.deploy_workflow.is_none() {
        return Err(
            "allows `rollback` but names neither `rollback.workflow` nor `deploy_workflow`",
        );
    }
    Ok(())
}

/// Whether `run` is a run of the deploy workflow (`deploy_workflow`, or any workflow without
/// one) on `branch` (any branch when it is unknown): what a rollback returns to, and what
/// the rollback trigger (`recovery::rollback`) counts.
pub fn is_deploy_run(policy: &RepoPolicy, branch: &str, run: &Run) -> bool {
    let on_branch = branch.is_empty() || run.head_branch.as_deref() == Some(branch);
    let of_deploy = match &policy.deploy_workflow {
        Some(file) => run
            .workflow_path
            .as_deref()
            .is_some_and(|p| p.rsplit('/').next() == Some(file)),
        None => true,
    };
    on_branch && of_deploy
}

pub(super) async fn run(
    x: &mut Executor,
    c: &Command,
    view: &RepoView,
) -> Result<CommandResult, Failure> {
    let policy = &view.policy;
    let runs = x.recent_runs(view.repo.id).await?;
    let branch = &view.repo.default_branch;
    let of = policy.deploy_workflow.as_deref().unwrap_or("any workflow");
    let deploys = runs.iter().filter(|r| is_deploy_run(policy, branch, r));
    let good = match c.params.run_id {
        None => deploys
            .clone()
            .find(|r| r.outcome() == Some(Outcome::Pass))
            .ok_or_else(|| {
                Failure::Refused(format!(
                    "no successful run of {of} on {branch} is known; nothing to roll back to"
                ))
            })?,
        Some(undo) => {
            // Newest first: everything after the undone run is older than it.
            let mut older = deploys.clone().skip_while(|r| r.id != undo);
            let undone = older.next().ok_or_else(|| {
                Failure::Refused(format!(
                    "run {undo} is not a known run of {of} on {branch}; only a deploy can be undone"
                ))
            })?;
            older
                .filter(|r| r.head_sha != undone.head_sha)
                .find(|r| r.outcome() == Some(Outcome::Pass))
                .ok_or_else(|| {
                    Failure::Refused(format!(
                        "no successful run of {of} on {branch} before #{} is known; nothing to roll back to",
                        undone.run_number
                    ))
                })?
        }
    }
    .clone();
    let short = &good.head_sha[..good.head_sha.len().min(7)];
    match &policy.rollback {
        Some(rollback) => {
            let mut inputs = serde_json::Map::new();
            inputs.insert(rollback.input.clone(), json!(good.head_sha));
            let note = format!(
                "rolling back to {short} from {} #{}",
                good.workflow_name, good.run_number
            );
            super::dispatch::dispatch_workflow(
                x,
                c,
                view,
                &rollback.workflow,
                None,
                inputs,
                Some(note),
            )
            .await
        }
        None => {
            let mut rerun = c.clone();
            rerun.params.run_id = Some(good.id);
            let mut result = super::rerun::rerun(x, &rerun, view, false).await?;
            result.action = Action::Rollback.to_string();
            result.message = format!("{}, the last successful deploy ({short})", result.message);
            Ok(result)
        }
    }
}
