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
//!
//! A deploy that succeeds but fails its health checks ([`super::health`]) `health_failures`
//! times in a row is rolled back too: past that deploy, to the successful one before it
//! (`rollback` with `run_id`), once per deploy (`request_id` `auto-rollback-health-<run>`).
//!
//! When the episode began with our own template deploy — its first failed deploy run ran
//! on the commit a `deploy_template` command wrote (the audit trail says which) — and the
//! repository allows `rollback_template`, the templates are rolled back instead: that
//! commit is what broke the deploys (`request_id` `auto-rollback-template-<good run>`).

use std::collections::HashMap;
use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;

use super::{HealthReport, Switch};
use crate::commands::actions::is_deploy_run;
use crate::commands::{Action, Command, CommandHandle, CommandSource, Params};
use crate::model::{Outcome, Run};
use crate::state::{Change, RepoView, RunSummary, StateHandle};
use crate::store::{CommandLog, RunHistory};

/// A repository's `auto_rollback:`.
#[derive(Debug, Clone, PartialEq)]
pub struct RollbackPolicy {
    /// Failed deploy runs in a row that trigger it.
    pub after: u32,
    /// The least time between two automatic rollbacks of the repository.
    pub cooldown: Duration,
    /// Failed health checks in a row of a deploy not yet proven healthy that roll it back
    /// (0: never).
    pub health_failures: u32,
}

impl Default for RollbackPolicy {
    fn default() -> Self {
        RollbackPolicy {
            after: 3,
            cooldown: Duration::from_secs(3600),
            health_failures: 1,
        }
    }
}

/// The run a rollback answers, for its event.
struct Acted {
    id: u64,
    attempt: u32,
    url: Option<String>,
}

/// The task.
pub struct AutoRollback {
    state: StateHandle,
    history: RunHistory,
    /// Which commits our template deploys wrote.
    audit: CommandLog,
    commands: CommandHandle,
    /// When each repository was last rolled back by us.
    last: HashMap<u64, Instant>,
}

impl AutoRollback {
    pub fn new(
        state: StateHandle,
        history: RunHistory,
        audit: CommandLog,
        commands: CommandHandle,
    ) -> Self {
        AutoRollback {
            state,
            history,
            audit,
            commands,
            last: HashMap::new(),
        }
    }

    pub async fn run(mut self, cancel: CancellationToken) {
        let mut changes = super::Changes::of(&self.state, &cancel);
        while let Some(change) = changes.next().await {
            match change {
                Change::RunCompleted { repo_id, run } => {
                    if let Some(view) = self.state.snapshot().repos.get(&repo_id) {
                        self.consider(view, &run).await;
                    }
                }
                Change::HealthChecked { repo_id, report } => {
                    if let Some(view) = self.state.snapshot().repos.get(&repo_id) {
                        self.consider_health(view, &report).await;
                    }
                }
                _ => {}
            }
        }
    }

    /// A deploy that succeeded but whose health checks failed `health_failures` times in a
    /// row since is undone: rolled back to the successful deploy before it. Once per deploy.
    async fn consider_health(&mut self, view: &RepoView, report: &HealthReport) {
        let Some(policy) = &view.policy.auto_rollback else {
            return;
        };
        let Some(deploy) = &report.unproven_deploy else {
            return;
        };
        if report.ok
            || policy.health_failures == 0
            || deploy.failed_checks != policy.health_failures
        {
            return;
        }
        let workflow = view.policy.deploy_workflow.as_deref().unwrap_or("deploy");
        let why = format!(
            "the health check failed {} time{} after {workflow} #{} ({}): {}",
            deploy.failed_checks,
            if deploy.failed_checks == 1 { "" } else { "s" },
            deploy.run_number,
            &deploy.head_sha[..deploy.head_sha.len().min(7)],
            report.failures.first().map_or("", String::as_str)
        );
        if !self.may_act(view, policy, &why) {
            return;
        }
        self.last.insert(view.repo.id, Instant::now());
        let params = Params {
            request_id: Some(format!("auto-rollback-health-{}", deploy.run_id)),
            run_id: Some(deploy.run_id),
            ..Params::default()
        };
        let run = Acted {
            id: deploy.run_id,
            attempt: 1,
            url: None,
        };
        self.roll_back(view, Action::Rollback, params, run, &why)
            .await;
    }

    /// Whether the switches and the cooldown let an automatic rollback happen now; logs why
    /// not.
    fn may_act(&self, view: &RepoView, policy: &RollbackPolicy, why: &str) -> bool {
        let name = view.repo.full_name();
        if self.state.snapshot().automation_paused || !view.switch_on(Switch::AutoRollback) {
            tracing::info!(
                "auto-rollback: {name}: {why}; not rolling back: switched off or automation paused"
            );
            return false;
        }
        if let Some(at) = self.last.get(&view.repo.id)
            && at.elapsed() < policy.cooldown
        {
            tracing::info!(
                "auto-rollback: {name}: {why}, but the last automatic rollback was {:?} ago (cooldown {:?})",
                at.elapsed(),
                policy.cooldown
            );
            return false;
        }
        true
    }

    /// Issues the repository's `rollback` (or `rollback_template`) command and announces it.
    async fn roll_back(
        &mut self,
        view: &RepoView,
        action: Action,
        params: Params,
        run: Acted,
        why: &str,
    ) {
        let name = view.repo.full_name();
        let command = Command {
            source: CommandSource::Policy,
            owner: view.repo.owner.clone(),
            name: view.repo.name.clone(),
            action,
            params,
        };
        let result = self.commands.execute(command).await;
        if result.ok && !result.duplicate {
            self.state.announce_recovery(
                view.repo.id,
                super::RecoveryEvent {
                    event_type: "rolled_back",
                    repository: name.clone(),
                    run_id: run.id,
                    attempt: run.attempt,
                    reason: why.to_string(),
                    message: result.message.clone(),
                    url: result.url.clone().or(run.url),
                },
            );
        }
        tracing::info!(
            "auto-rollback: {name}: {why}: {}{}",
            result.message,
            if result.duplicate {
                " (already rolled back in this failure episode)"
            } else {
                ""
            }
        );
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
        let why = format!(
            "{deploy} failed {streak} times in a row on {}",
            view.repo.default_branch
        );
        if !self.may_act(view, policy, &why) {
            return;
        }
        // The episode is named by the deploy it returns to: the last good one.
        let runs = self
            .history
            .recent_runs(view.repo.id, 500)
            .await
            .unwrap_or_default();
        let Some((good, first_failed)) = episode(view, &runs) else {
            tracing::warn!(
                "auto-rollback: {name}: {deploy} failed {streak} times in a row, but no successful {deploy} run on {} is known to return to",
                view.repo.default_branch
            );
            return;
        };
        self.last.insert(view.repo.id, Instant::now());
        let run = Acted {
            id: completed.id,
            attempt: completed.attempt,
            url: Some(completed.url.clone()),
        };
        // Our own template deploy began it: undo that commit rather than redeploy.
        if view.policy.allow.contains(&Action::RollbackTemplate)
            && let Some(sha) = first_failed
            && self
                .audit
                .template_deploy_wrote(name.clone(), sha.clone())
                .await
                .unwrap_or(false)
        {
            let why = format!(
                "{why}; the failures began with the template deploy {}",
                &sha[..sha.len().min(7)]
            );
            let params = Params {
                request_id: Some(format!("auto-rollback-template-{good}")),
                ..Params::default()
            };
            self.roll_back(view, Action::RollbackTemplate, params, run, &why)
                .await;
            return;
        }
        let params = Params {
            request_id: Some(format!("auto-rollback-{good}")),
            ..Params::default()
        };
        self.roll_back(view, Action::Rollback, params, run, &why)
            .await;
    }
}

/// The failure episode of the deploy workflow on the default branch, from `runs` (newest
/// first): the id of the newest deploy run with a successful attempt, and the commit of
/// the first failed deploy run after it. Every attempt counts for the good run, unlike the
/// rollback itself (latest attempts): a rollback that re-ran that run and failed must not
/// move the episode to an older deploy, or each failed rollback would start another.
fn episode(view: &RepoView, runs: &[Run]) -> Option<(u64, Option<String>)> {
    let deploys: Vec<&Run> = runs
        .iter()
        .filter(|r| is_deploy_run(&view.policy, &view.repo.default_branch, r))
        .collect();
    let good_at = deploys
        .iter()
        .position(|r| r.outcome() == Some(Outcome::Pass))?;
    let good = deploys[good_at].id;
    let first_failed = deploys[..good_at]
        .iter()
        .rev()
        .find(|r| r.id != good && r.outcome() == Some(Outcome::Fail))
        .map(|r| r.head_sha.clone());
    Some((good, first_failed))
}
