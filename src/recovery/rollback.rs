//! The rollback trigger: after `after` failed runs in a row of a repository's deploy
//! workflow on its default branch, roll back — the repository's own `rollback` command
//! (dispatch its rollback workflow with the last good commit, or re-run the last good
//! deploy), through the one executor as source `policy`.
//!
//! Once per failure episode: the command's `request_id` names the last good deploy run the
//! episode rolls back to, so the executor answers a second trigger in the same episode —
//! after a restart too — as a duplicate, and a rollback that fails as well never loops. A
//! cooldown spaces episodes. Only a run that completes while the daemon watches triggers
//! it: a streak found at start-up is reported, not acted on.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use tokio::sync::broadcast;
use tokio_util::sync::CancellationToken;

use super::Switch;
use crate::commands::actions::is_deploy_run;
use crate::commands::{Action, Command, CommandHandle, CommandSource, Params};
use crate::model::Outcome;
use crate::state::{Change, RepoView, RunSummary, StateHandle};
use crate::store::RunHistory;

/// A repository's `auto_rollback:`.
#[derive(Debug, Clone, PartialEq)]
pub struct RollbackPolicy {
    /// Failed deploy runs in a row that trigger it.
    pub after: u32,
    /// The least time between two automatic rollbacks of the repository.
    pub cooldown: Duration,
}

impl Default for RollbackPolicy {
    fn default() -> Self {
        RollbackPolicy {
            after: 3,
            cooldown: Duration::from_secs(3600),
        }
    }
}

/// The task.
pub struct AutoRollback {
    state: StateHandle,
    history: RunHistory,
    commands: CommandHandle,
    /// When each repository was last rolled back by us.
    last: HashMap<u64, Instant>,
}

impl AutoRollback {
    pub fn new(state: StateHandle, history: RunHistory, commands: CommandHandle) -> Self {
        AutoRollback {
            state,
            history,
            commands,
            last: HashMap::new(),
        }
    }

    pub async fn run(mut self, cancel: CancellationToken) {
        let mut changes = self.state.subscribe();
        loop {
            let change = tokio::select! {
                _ = cancel.cancelled() => return,
                change = changes.recv() => change,
            };
            match change {
                Ok(Change::RunCompleted { repo_id, run }) => {
                    let view = self.state.snapshot().repos.get(&repo_id).cloned();
                    if let Some(view) = view {
                        self.consider(&view, &run).await;
                    }
                }
                Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => {}
                Err(broadcast::error::RecvError::Closed) => return,
            }
        }
    }

    async fn consider(&mut self, view: &RepoView, completed: &RunSummary) {
        let (Some(policy), Some(deploy)) = (
            &view.policy.auto_rollback,
            view.policy.deploy_workflow.as_deref(),
        ) else {
            return;
        };
        if completed.workflow_file.as_deref() != Some(deploy)
            || completed.branch.as_deref() != Some(view.repo.default_branch.as_str())
        {
            return;
        }
        let Some(workflow) = view
            .workflows
            .iter()
            .find(|w| w.workflow.file_name() == deploy)
        else {
            return;
        };
        let streak = workflow.health.failure_streak;
        let name = view.repo.full_name();
        if streak < policy.after {
            return;
        }
        if self.state.snapshot().automation_paused || !view.switch_on(Switch::AutoRollback) {
            tracing::info!(
                "auto-rollback: {name}: {deploy} failed {streak} times in a row; not rolling back: switched off or automation paused"
            );
            return;
        }
        if let Some(at) = self.last.get(&view.repo.id)
            && at.elapsed() < policy.cooldown
        {
            tracing::info!(
                "auto-rollback: {name}: {deploy} failed {streak} times in a row, but the last automatic rollback was {:?} ago (cooldown {:?})",
                at.elapsed(),
                policy.cooldown
            );
            return;
        }
        // The episode is named by the deploy it returns to: the last good one.
        let Some(good) = self.last_good(view).await else {
            tracing::warn!(
                "auto-rollback: {name}: {deploy} failed {streak} times in a row, but no successful {deploy} run on {} is known to return to",
                view.repo.default_branch
            );
            return;
        };
        self.last.insert(view.repo.id, Instant::now());
        let command = Command {
            source: CommandSource::Policy,
            owner: view.repo.owner.clone(),
            name: view.repo.name.clone(),
            action: Action::Rollback,
            params: Params {
                request_id: Some(format!("auto-rollback-{good}")),
                ..Params::default()
            },
        };
        let result = self.commands.execute(command).await;
        if result.ok && !result.duplicate {
            self.state.announce_recovery(
                view.repo.id,
                super::RecoveryEvent {
                    event_type: "rolled_back",
                    repository: name.clone(),
                    run_id: completed.id,
                    attempt: completed.attempt,
                    reason: format!(
                        "{deploy} failed {streak} times in a row on {}",
                        view.repo.default_branch
                    ),
                    message: result.message.clone(),
                    url: result.url.clone().or_else(|| Some(completed.url.clone())),
                },
            );
        }
        tracing::info!(
            "auto-rollback: {name}: {deploy} failed {streak} times in a row on {}: {}{}",
            view.repo.default_branch,
            result.message,
            if result.duplicate {
                " (already rolled back in this failure episode)"
            } else {
                ""
            }
        );
    }

    /// The id of the newest deploy run on the default branch with a successful attempt.
    /// Every attempt counts, unlike the rollback itself (latest attempts): a rollback that
    /// re-ran that run and failed must not move the episode to an older deploy, or each
    /// failed rollback would start another.
    async fn last_good(&self, view: &RepoView) -> Option<u64> {
        let runs = self.history.recent_runs(view.repo.id, 500).await.ok()?;
        runs.iter()
            .filter(|r| is_deploy_run(&view.policy, &view.repo.default_branch, r))
            .find(|r| r.outcome() == Some(Outcome::Pass))
            .map(|r| r.id)
    }
}
