//! The quality gate: one verdict per repository from what the daemon already knows — its
//! service-level objectives ([`super::slo`]), its health checks, the upstream workflows it
//! `needs`, and (where asked) the check of the HA configuration directory — so branch protection and our own commands can ask one question: may this
//! ship? The verdict is computed by the state task ([`evaluate`], pure) whenever a
//! repository or one of its upstreams changes; [`GateStatuses`] posts it to GitHub as the
//! commit status `gitops-bridge/quality-gate`, through the command executor; the executor
//! refuses `dispatch`, `deploy_template` and `deploy_config` while it fails, unless the
//! command says `ignore_gate`.

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use serde::Serialize;
use tokio_util::sync::CancellationToken;

use crate::commands::{CommandHandle, RecordWrite};
use crate::state::{Change, RepoView, StateHandle};

/// The commit status context, what branch protection names as a required check.
pub const CONTEXT: &str = "gitops-bridge/quality-gate";

/// How many commits per repository are remembered as posted (so a verdict is posted once
/// per commit and state, and the memory stays bounded).
const REMEMBERED_COMMITS: usize = 32;

/// A repository's `quality_gate:`.
#[derive(Debug, Clone, PartialEq)]
pub struct GatePolicy {
    /// Post the verdict as a commit status.
    pub publish: bool,
    /// Failing health checks fail the gate.
    pub health: bool,
    /// A failing upstream workflow (`needs`) fails the gate.
    pub upstream: bool,
    /// Errors in the check of the HA configuration directory (`validate.path`) fail the
    /// gate: for the repository that holds that configuration.
    pub config_check: bool,
}

impl Default for GatePolicy {
    fn default() -> Self {
        GatePolicy {
            publish: true,
            health: true,
            upstream: true,
            config_check: false,
        }
    }
}

/// The latest check of the HA configuration directory, as the gate reads it.
#[derive(Debug, Clone, PartialEq)]
pub enum ConfigCheck {
    /// The check ran: its error count and the first error, in a phrase.
    Checked {
        errors: usize,
        first: Option<String>,
    },
    /// The check could not run (the directory is gone, the validator stopped).
    Failed(String),
}

impl ConfigCheck {
    /// The gate's view of a finished check.
    pub fn of(report: &crate::validate::Report) -> ConfigCheck {
        let first = report
            .diagnostics
            .iter()
            .find(|d| d.severity == crate::validate::Severity::Error)
            .map(|d| match d.line {
                0 => format!("{}: {}", d.file, d.message),
                line => format!("{}:{line}: {}", d.file, d.message),
            });
        ConfigCheck::Checked {
            errors: report.summary.errors,
            first,
        }
    }

    /// Why it fails the gate, or `None` when the configuration is clean.
    fn failure(&self) -> Option<String> {
        match self {
            ConfigCheck::Checked { errors: 0, .. } => None,
            ConfigCheck::Checked { errors, first } => Some(format!(
                "HA configuration check: {errors} error{}{}",
                if *errors == 1 { "" } else { "s" },
                first.as_ref().map_or(String::new(), |f| format!(" ({f})"))
            )),
            ConfigCheck::Failed(why) => {
                Some(format!("HA configuration check could not run: {why}"))
            }
        }
    }
}

/// The gate's verdict.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GateVerdict {
    pub passing: bool,
    /// Each failing condition, in a phrase (empty when passing).
    pub failing: Vec<String>,
}

impl GateVerdict {
    /// The commit status state.
    pub fn state(&self) -> &'static str {
        if self.passing { "success" } else { "failure" }
    }

    /// The commit status description (GitHub keeps 140 characters).
    pub fn description(&self) -> String {
        let text = if self.passing {
            "all conditions met".to_string()
        } else {
            format!("failing: {}", self.failing.join("; "))
        };
        crate::text::truncate(&text, 140)
    }
}

/// Judges `view` by its policy; `config` is the latest check of the HA configuration
/// (`None` before the first), `find` looks a watched repository up by owner and name (the
/// upstreams). `None` when the repository has no `quality_gate`.
pub fn evaluate<'a>(
    view: &RepoView,
    config: Option<&ConfigCheck>,
    find: impl Fn(&str, &str) -> Option<&'a RepoView>,
) -> Option<GateVerdict> {
    let policy = view.policy.gate.as_ref()?;
    let mut failing = super::slo::objectives(&view.health, &view.policy.slo).breaches();
    if policy.health
        && let Some(report) = &view.health_check
        && !report.ok
    {
        let first = report.failures.first().map_or("", String::as_str);
        failing.push(format!("health check failing: {first}"));
    }
    if policy.config_check {
        match config {
            None => failing.push("HA configuration not checked yet".to_string()),
            Some(check) => failing.extend(check.failure()),
        }
    }
    if policy.upstream
        && let Some(downstream) = &view.policy.downstream
    {
        for need in &downstream.needs {
            let upstream = need.to_string();
            match find(&need.owner, &need.name) {
                None => failing.push(format!("upstream {upstream} is not known yet")),
                Some(up) if !up.available => {
                    failing.push(format!("upstream {} is unavailable", up.repo.full_name()))
                }
                Some(up) => {
                    let workflow = up
                        .workflows
                        .iter()
                        .find(|w| w.workflow.file_name() == need.workflow);
                    if workflow.is_some_and(|w| w.health.failing) {
                        failing.push(format!(
                            "upstream {upstream} is failing on {}",
                            up.repo.default_branch
                        ));
                    }
                    if up.health_check.as_ref().is_some_and(|r| !r.ok) {
                        failing.push(format!(
                            "upstream {}'s health check is failing",
                            up.repo.full_name()
                        ));
                    }
                }
            }
        }
    }
    Some(GateVerdict {
        passing: failing.is_empty(),
        failing,
    })
}

/// The task that posts verdicts: on the commit of each run that completes (a pull
/// request's head, so branch protection can require the gate) and, when the verdict
/// changes, on the newest commit of the default branch the daemon knows.
pub struct GateStatuses {
    state: StateHandle,
    commands: CommandHandle,
    /// What was posted per repository: (commit, state, description), newest last.
    posted: HashMap<u64, VecDeque<(String, &'static str, String)>>,
    /// When posting last failed per repository: not tried again for a while (a token
    /// without the statuses permission would otherwise be asked on every change).
    failed: HashMap<u64, Instant>,
}

/// How long a repository's failed post waits before the next try.
const RETRY_AFTER: Duration = Duration::from_secs(300);

impl GateStatuses {
    pub fn new(state: StateHandle, commands: CommandHandle) -> Self {
        GateStatuses {
            state,
            commands,
            posted: HashMap::new(),
            failed: HashMap::new(),
        }
    }

    pub async fn run(mut self, cancel: CancellationToken) {
        let mut changes = super::Changes::of(&self.state, &cancel);
        // What is known at start: the default branch's newest commit of each repository.
        let start: Vec<u64> = self.state.snapshot().repos.keys().copied().collect();
        for id in start {
            self.post_head(id).await;
        }
        while let Some(change) = changes.next().await {
            match change {
                Change::Repo(id) => self.post_head(id).await,
                Change::RunCompleted { repo_id, run } => {
                    if let Some(view) = self.state.snapshot().repos.get(&repo_id) {
                        self.post(view, &run.sha).await;
                    }
                }
                _ => {}
            }
        }
    }

    /// Posts the verdict on the newest commit of the default branch with a run.
    async fn post_head(&mut self, repo_id: u64) {
        let snapshot = self.state.snapshot();
        let Some(view) = snapshot.repos.get(&repo_id) else {
            return;
        };
        let branch = view.repo.default_branch.as_str();
        let head = view
            .workflows
            .iter()
            .filter_map(|w| w.last_run.as_ref())
            .filter(|r| r.branch.as_deref() == Some(branch))
            .max_by_key(|r| r.created_at)
            .map(|r| r.sha.clone());
        if let Some(sha) = head {
            self.post(view, &sha).await;
        }
    }

    /// Posts `view`'s verdict on `sha` unless that exact verdict is already there.
    async fn post(&mut self, view: &RepoView, sha: &str) {
        let repo_id = view.repo.id;
        let (Some(policy), Some(verdict)) = (&view.policy.gate, &view.gate) else {
            return;
        };
        if !policy.publish || sha.is_empty() {
            return;
        }
        if self
            .failed
            .get(&repo_id)
            .is_some_and(|at| at.elapsed() < RETRY_AFTER)
        {
            return;
        }
        let (state, description) = (verdict.state(), verdict.description());
        let posted = self.posted.entry(repo_id).or_default();
        if posted
            .iter()
            .any(|(s, st, d)| s == sha && *st == state && *d == description)
        {
            return;
        }
        let write = RecordWrite::CommitStatus {
            owner: view.repo.owner.clone(),
            name: view.repo.name.clone(),
            sha: sha.to_string(),
            state,
            description: description.clone(),
            context: CONTEXT,
        };
        match self.commands.record(write).await {
            Ok(_) => {
                self.failed.remove(&repo_id);
                posted.retain(|(s, _, _)| s != sha);
                posted.push_back((sha.to_string(), state, description));
                if posted.len() > REMEMBERED_COMMITS {
                    posted.pop_front();
                }
            }
            Err(e) => {
                self.failed.insert(repo_id, Instant::now());
                tracing::warn!(
                    "quality gate of {}: posting the commit status on {} failed (next try in {}m): {e}",
                    view.repo.full_name(),
                    &sha[..sha.len().min(7)],
                    RETRY_AFTER.as_secs() / 60
                )
            }
        }
    }
}
