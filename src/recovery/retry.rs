//! Bounded automatic re-runs of transient failures: when a workflow's newest run failed in
//! a class the repository's `auto_retry:` lists, its failed jobs are re-run after a backoff,
//! through the one executor (`rerun_failed`, source `policy`), so the allow-list, the audit
//! trail, pacing and dedupe apply.
//!
//! The bounds: at most `max_retries` re-runs of a run; never a `real` failure (the settings
//! refuse it) or a startup failure (classified `real`); never the same failure twice (the
//! same jobs failing in the same steps as the attempt before); never for a run that is not
//! its workflow's newest any more. Each re-run's `request_id` names the run and attempt, so
//! a restart of the daemon does not re-run it again: the executor answers the duplicate.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::time::Duration;

use tokio::sync::broadcast;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use super::{FailureClass, Switch};
use crate::commands::{Action, Command, CommandHandle, CommandSource, Params};
use crate::model::Job;
use crate::state::{Change, RepoView, RunSummary, StateHandle};
use crate::store::RunHistory;

/// A repository's `auto_retry:`.
#[derive(Debug, Clone, PartialEq)]
pub struct RetryPolicy {
    pub classes: BTreeSet<FailureClass>,
    pub max_retries: u32,
    /// Before the first re-run; doubled for each next one.
    pub backoff: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            classes: [
                FailureClass::Infrastructure,
                FailureClass::Timeout,
                FailureClass::Flaky,
            ]
            .into(),
            max_retries: 2,
            backoff: Duration::from_secs(30),
        }
    }
}

/// What the policy says about a failed run.
#[derive(Debug, Clone, PartialEq)]
pub enum Decision {
    /// Re-run its failed jobs after this wait.
    Retry { after: Duration },
    /// Leave it, for this reason.
    Leave(String),
}

/// A failed job and the step it failed in: two attempts failing the same way have the same
/// set of these.
pub type Failure = BTreeSet<(String, Option<String>)>;

/// How an attempt's jobs failed.
pub fn failure_of(jobs: &[Job]) -> Failure {
    jobs.iter()
        .filter(|j| j.failed())
        .map(|j| (j.name.clone(), j.failed_step.clone()))
        .collect()
}

/// The policy's decision for `run`, its workflow's newest run; `now` and `previous` are how
/// this attempt and the one before it failed (`previous` is `None` for a first attempt).
pub fn decide(
    policy: &RetryPolicy,
    run: &RunSummary,
    now: &Failure,
    previous: Option<&Failure>,
) -> Decision {
    let Some(class) = run.failure_class else {
        return Decision::Leave("not failed, or its jobs are not known yet".into());
    };
    if !policy.classes.contains(&class) {
        return Decision::Leave(format!("a `{class}` failure is not retried here"));
    }
    let retries = run.attempt.saturating_sub(1);
    if retries >= policy.max_retries {
        return Decision::Leave(format!(
            "already re-run {retries} time(s), the most `max_retries` allows"
        ));
    }
    if previous.is_some_and(|p| p == now) {
        return Decision::Leave(
            "the re-run failed the same way as the attempt before; not retried again".into(),
        );
    }
    Decision::Retry {
        after: policy.backoff.saturating_mul(1 << retries.min(16)),
    }
}

/// The request id of the re-run of `run`'s attempt: one per attempt, across restarts.
fn request_id(run: &RunSummary) -> String {
    format!("auto-retry-{}-{}", run.id, run.attempt)
}

/// The task: watches state changes, waits out the backoff, re-checks, then submits.
pub struct AutoRetry {
    state: StateHandle,
    history: RunHistory,
    commands: CommandHandle,
    /// Per repository, the `(run id, attempt)`s already decided, so a state change does not
    /// schedule twice. Only workflows' newest runs are kept: an older run never becomes the
    /// newest again, so the memory stays one entry per workflow.
    seen: HashMap<u64, HashSet<(u64, u32)>>,
}

impl AutoRetry {
    pub fn new(state: StateHandle, history: RunHistory, commands: CommandHandle) -> Self {
        AutoRetry {
            state,
            history,
            commands,
            seen: HashMap::new(),
        }
    }

    pub async fn run(mut self, cancel: CancellationToken) {
        let mut changes = self.state.subscribe();
        let mut waiting: JoinSet<(u64, u64, u32)> = JoinSet::new();
        // Failures that happened while the daemon was down are decided too.
        self.consider_all(&mut waiting).await;
        loop {
            tokio::select! {
                _ = cancel.cancelled() => return,
                Some(Ok((repo_id, run_id, attempt))) = waiting.join_next() => {
                    self.submit(repo_id, run_id, attempt).await;
                }
                change = changes.recv() => match change {
                    Ok(Change::Repo(id)) => {
                        if let Some(view) = self.state.snapshot().repos.get(&id).cloned() {
                            self.consider(&view, &mut waiting).await;
                        }
                    }
                    Ok(_) => {}
                    Err(broadcast::error::RecvError::Lagged(_)) => {
                        self.consider_all(&mut waiting).await;
                    }
                    Err(broadcast::error::RecvError::Closed) => return,
                },
            }
        }
    }

    async fn consider_all(&mut self, waiting: &mut JoinSet<(u64, u64, u32)>) {
        let snapshot = self.state.snapshot();
        for view in snapshot.repos.values() {
            self.consider(view, waiting).await;
        }
    }

    /// Schedules a re-run of each workflow's newest run the policy wants re-run.
    async fn consider(&mut self, view: &RepoView, waiting: &mut JoinSet<(u64, u64, u32)>) {
        let Some(policy) = &view.policy.auto_retry else {
            return;
        };
        let newest: HashSet<(u64, u32)> = view
            .workflows
            .iter()
            .filter_map(|w| w.last_run.as_ref())
            .map(|r| (r.id, r.attempt))
            .collect();
        self.seen
            .entry(view.repo.id)
            .or_default()
            .retain(|key| newest.contains(key));
        // Switched off (or everything paused): failures now are left; turned on again, the
        // newest failure is considered at the next change.
        if !self.may_act(view) {
            return;
        }
        for run in view.workflows.iter().filter_map(|w| w.last_run.as_ref()) {
            let seen = self.seen.entry(view.repo.id).or_default();
            if run.failure_class.is_none() || !seen.insert((run.id, run.attempt)) {
                continue;
            }
            let (now, previous) = self.failures(run).await;
            match decide(policy, run, &now, previous.as_ref()) {
                Decision::Retry { after } => {
                    tracing::info!(
                        "auto-retry: {} run {} attempt {} failed ({}); re-running its failed jobs in {after:?}",
                        view.repo.full_name(),
                        run.id,
                        run.attempt,
                        run.failure_reason.as_deref().unwrap_or("no reason known")
                    );
                    let key = (view.repo.id, run.id, run.attempt);
                    waiting.spawn(async move {
                        tokio::time::sleep(after).await;
                        key
                    });
                }
                Decision::Leave(why) => tracing::info!(
                    "auto-retry: {} run {} attempt {} left as it is: {why}",
                    view.repo.full_name(),
                    run.id,
                    run.attempt
                ),
            }
        }
    }

    /// The repository's *Auto-retry* switch is on and automation is not paused.
    fn may_act(&self, view: &RepoView) -> bool {
        !self.state.snapshot().automation_paused && view.switch_on(Switch::AutoRetry)
    }

    /// How this attempt and the one before failed, from the stored jobs.
    async fn failures(&self, run: &RunSummary) -> (Failure, Option<Failure>) {
        let now = self
            .history
            .jobs(run.id, run.attempt)
            .await
            .map(|j| failure_of(&j))
            .unwrap_or_default();
        let previous = if run.attempt > 1 {
            self.history
                .jobs(run.id, run.attempt - 1)
                .await
                .ok()
                .map(|j| failure_of(&j))
        } else {
            None
        };
        (now, previous)
    }

    /// After the wait: still the workflow's newest run, still this failed attempt? Then
    /// re-run it through the executor.
    async fn submit(&self, repo_id: u64, run_id: u64, attempt: u32) {
        let snapshot = self.state.snapshot();
        let Some(view) = snapshot.repos.get(&repo_id) else {
            return;
        };
        let current = view
            .workflows
            .iter()
            .filter_map(|w| w.last_run.as_ref())
            .find(|r| r.id == run_id);
        if !self.may_act(view) {
            tracing::info!(
                "auto-retry: {} run {run_id}: switched off or paused during the backoff; not re-run",
                view.repo.full_name()
            );
            return;
        }
        let Some(run) = current.filter(|r| r.attempt == attempt && r.failure_class.is_some())
        else {
            tracing::info!(
                "auto-retry: {} run {run_id} attempt {attempt} is no longer its workflow's newest failure; not re-run",
                view.repo.full_name()
            );
            return;
        };
        let command = Command {
            source: CommandSource::Policy,
            owner: view.repo.owner.clone(),
            name: view.repo.name.clone(),
            action: Action::RerunFailed,
            params: Params {
                request_id: Some(request_id(run)),
                run_id: Some(run.id),
                ..Params::default()
            },
        };
        let result = self.commands.execute(command).await;
        tracing::info!(
            "auto-retry: {} run {run_id} attempt {attempt}: {} ({})",
            view.repo.full_name(),
            if result.ok { "re-run" } else { "not re-run" },
            result.message
        );
        if result.ok && !result.duplicate {
            self.state.announce_recovery(
                repo_id,
                super::RecoveryEvent {
                    event_type: "re_run",
                    repository: view.repo.full_name(),
                    run_id,
                    attempt,
                    reason: run
                        .failure_reason
                        .clone()
                        .unwrap_or_else(|| "a transient failure".into()),
                    message: result.message.clone(),
                    url: Some(run.url.clone()),
                },
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Conclusion, Run, Status};
    use chrono::Utc;

    fn failed(attempt: u32, class: Option<FailureClass>) -> RunSummary {
        let run = Run {
            id: 9,
            attempt,
            repo_id: 1,
            workflow_id: 2,
            workflow_name: "CI".into(),
            workflow_path: None,
            head_branch: Some("main".into()),
            head_sha: "abc".into(),
            event: "push".into(),
            status: Status::Completed,
            conclusion: Some(Conclusion::Failure),
            run_number: 9,
            display_title: None,
            actor: None,
            html_url: String::new(),
            created_at: Utc::now(),
            run_started_at: None,
            updated_at: Utc::now(),
        };
        let mut summary = RunSummary::of(&run, vec!["test".into()]);
        summary.failure_class = class;
        summary
    }

    fn failure(step: &str) -> Failure {
        [("test".to_string(), Some(step.to_string()))].into()
    }

    #[test]
    fn transient_failures_are_retried_with_a_doubling_backoff_up_to_the_bound() {
        let policy = RetryPolicy::default();
        let infra = Some(FailureClass::Infrastructure);
        assert_eq!(
            decide(&policy, &failed(1, infra), &failure("Set up job"), None),
            Decision::Retry {
                after: Duration::from_secs(30)
            }
        );
        assert_eq!(
            decide(
                &policy,
                &failed(2, infra),
                &failure("Checkout"),
                Some(&failure("Set up job"))
            ),
            Decision::Retry {
                after: Duration::from_secs(60)
            }
        );
        assert!(matches!(
            decide(&policy, &failed(3, infra), &failure("Cache"), Some(&failure("Checkout"))),
            Decision::Leave(why) if why.contains("max_retries")
        ));
    }

    #[test]
    fn real_unlisted_and_repeated_failures_are_left() {
        let policy = RetryPolicy::default();
        assert!(matches!(
            decide(&policy, &failed(1, Some(FailureClass::Real)), &failure("Run tests"), None),
            Decision::Leave(why) if why.contains("`real`")
        ));
        assert!(matches!(
            decide(
                &policy,
                &failed(1, Some(FailureClass::Unknown)),
                &Failure::new(),
                None
            ),
            Decision::Leave(_)
        ));
        assert!(matches!(
            decide(&policy, &failed(1, None), &Failure::new(), None),
            Decision::Leave(_)
        ));
        let same = failure("Set up job");
        assert!(matches!(
            decide(&policy, &failed(2, Some(FailureClass::Infrastructure)), &same, Some(&same)),
            Decision::Leave(why) if why.contains("same way")
        ));
    }
}
