//! The single owner of the current picture: applies [`Event`]s to the store, recomputes
//! health, and tells sinks what changed.
//!
//! Sources (poller, webhooks) send events over one bounded channel, so changes are applied
//! in order by one task. Sinks read the latest [`Snapshot`] from a `watch` channel and learn
//! *what* changed from a `broadcast` of [`Change`]s; a sink that lags behind simply resyncs
//! from the snapshot.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Serialize;
use tokio::sync::{broadcast, mpsc, watch};
use tokio_util::sync::CancellationToken;

use crate::commands::RepoPolicy;
use crate::deploy::status::TemplateReport;
use crate::metrics::{self, Health, Window};
use crate::model::{Conclusion, Event, GitHubStatus, Outcome, Repository, Run, RunState, Workflow};
use crate::recovery::{Classification, Scope, Switch};
use crate::settings::GitHubSettings;
use crate::store::{Store, StoreError};

/// How often health is recomputed although nothing happened (the window slides).
const RECOMPUTE_EVERY: Duration = Duration::from_secs(60);
/// At least this many recent runs feed streaks and MTTR, even beyond the window.
const MIN_RUNS_FOR_HISTORY: usize = 100;

/// One run attempt, as entities, events and the API show it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunSummary {
    pub id: u64,
    pub attempt: u32,
    pub workflow: String,
    pub workflow_id: u64,
    pub workflow_file: Option<String>,
    pub branch: Option<String>,
    pub sha: String,
    pub event: String,
    pub status: RunState,
    pub run_number: u64,
    pub title: Option<String>,
    pub actor: Option<String>,
    pub url: String,
    pub created_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    pub duration_s: Option<f64>,
    pub queue_s: Option<f64>,
    /// Names of failed jobs, once the jobs are known.
    pub failed_jobs: Vec<String>,
    /// Why it failed (`crate::recovery::classify`), once its jobs are known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failure_class: Option<crate::recovery::FailureClass>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failure_reason: Option<String>,
}

impl RunSummary {
    pub fn of(run: &Run, failed_jobs: Vec<String>) -> RunSummary {
        RunSummary {
            id: run.id,
            attempt: run.attempt,
            workflow: run.workflow_name.clone(),
            workflow_id: run.workflow_id,
            workflow_file: run
                .workflow_path
                .as_deref()
                .map(|p| p.rsplit('/').next().unwrap_or(p).to_string()),
            branch: run.head_branch.clone(),
            sha: run.head_sha.clone(),
            event: run.event.clone(),
            status: run.state(),
            run_number: run.run_number,
            title: run.display_title.clone(),
            actor: run.actor.clone(),
            url: run.html_url.clone(),
            created_at: run.created_at,
            started_at: run.run_started_at,
            finished_at: run.finished_at(),
            duration_s: run.duration_secs(),
            queue_s: run.queue_secs(),
            failed_jobs,
            failure_class: None,
            failure_reason: None,
        }
    }

    /// With its failure's class and reason.
    pub fn with_failure(mut self, failure: Option<crate::recovery::Classification>) -> Self {
        if let Some(f) = failure {
            self.failure_class = Some(f.class);
            self.failure_reason = Some(f.reason);
        }
        self
    }
}

/// A workflow's own health.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WorkflowView {
    pub workflow: Workflow,
    pub health: Health,
    pub last_run: Option<RunSummary>,
}

/// Everything sinks need about one repository.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RepoView {
    pub repo: Repository,
    /// False when GitHub stopped showing the repository (deleted, no access).
    pub available: bool,
    pub unavailable_reason: Option<String>,
    pub health: Health,
    pub last_run: Option<RunSummary>,
    pub workflows: Vec<WorkflowView>,
    #[serde(skip)]
    pub policy: RepoPolicy,
    /// Its history has been imported from GitHub at least once (now or on an earlier run),
    /// so the numbers mean something. Sinks that keep what they publish (MQTT's retained
    /// state) wait for it rather than announce a repository with every value unknown.
    #[serde(skip)]
    pub synced: bool,
    /// Its workflow templates, when a `templates.targets` entry names it and the template
    /// watch has read it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub templates: Option<Arc<TemplateReport>>,
    /// The latest run of its health checks, when it has any.
    pub health_check: Option<Arc<crate::recovery::HealthReport>>,
    /// The policy switches HA set for this repository (unset ones are at their default).
    pub switches: BTreeMap<Switch, bool>,
    /// The quality gate's verdict, when the settings set a gate (the state task judges it
    /// whenever the repository or one of its upstreams changes).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gate: Option<Arc<crate::recovery::GateVerdict>>,
}

impl RepoView {
    /// Whether `switch` lets its policy act here.
    pub fn switch_on(&self, switch: Switch) -> bool {
        self.switches
            .get(&switch)
            .copied()
            .unwrap_or(switch.default_on())
    }
}

/// The current picture.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    /// Each repository behind its own `Arc`: publishing a snapshot after one repository
    /// changed copies pointers, not every repository's runs and workflows.
    pub repos: BTreeMap<u64, Arc<RepoView>>,
    pub github: GitHubStatus,
    /// The watched set has been resolved against GitHub at least once since start, so a
    /// repository missing from it is really gone (and its entities may be removed).
    pub resolved: bool,
    /// *Automation paused*: no policy acts while it is on.
    pub automation_paused: bool,
    /// *Configuration auto-deploy*: new commits of the configuration are deployed.
    pub config_auto_deploy: bool,
    /// *Template auto-update*: newer template versions are deployed by themselves.
    pub template_auto_update: bool,
    /// The configuration deployer's picture, once it has one.
    pub config_deploy: Option<Arc<crate::config_deploy::ConfigDeployView>>,
    /// Each coordinated deployment's progress, by name.
    pub coordinated: BTreeMap<String, Arc<crate::recovery::CoordinationStatus>>,
}

/// What changed, for sinks that act on changes (MQTT, SSE).
#[derive(Debug, Clone)]
pub enum Change {
    Repo(u64),
    RepoRemoved(Box<Repository>),
    RunCompleted {
        repo_id: u64,
        run: Box<RunSummary>,
    },
    GitHub,
    /// The watched set was resolved (see [`Snapshot::resolved`]).
    Resolved,
    /// A recovery policy acted on a repository.
    Recovery {
        repo_id: u64,
        event: Box<crate::recovery::RecoveryEvent>,
    },
    /// A repository's health checks ran (its view holds the report too; this says when).
    HealthChecked {
        repo_id: u64,
        report: Arc<crate::recovery::HealthReport>,
    },
    /// A coordinated deployment moved on ([`Snapshot::coordinated`]).
    Coordinated,
    /// The configuration deployer's picture changed; `finished`: a deployment that ended.
    ConfigDeploy {
        finished: Option<Box<crate::config_deploy::ConfigDeployment>>,
    },
}

/// Read side of the state, cloned into every sink.
#[derive(Clone)]
pub struct StateHandle {
    snapshot: watch::Receiver<Arc<Snapshot>>,
    changes: broadcast::Sender<Change>,
}

impl StateHandle {
    /// Tells the sinks what a recovery policy did (it changes no state).
    pub fn announce_recovery(&self, repo_id: u64, event: crate::recovery::RecoveryEvent) {
        let _ = self.changes.send(Change::Recovery {
            repo_id,
            event: Box::new(event),
        });
    }

    pub fn snapshot(&self) -> Arc<Snapshot> {
        self.snapshot.borrow().clone()
    }
    pub fn subscribe(&self) -> broadcast::Receiver<Change> {
        self.changes.subscribe()
    }

    /// A picture that never changes, for one-shot commands outside the daemon (the
    /// `templates` CLI submits its deploys to an executor that looks repositories up here).
    pub fn fixed(repos: Vec<RepoView>) -> StateHandle {
        let snapshot = Snapshot {
            repos: repos
                .into_iter()
                .map(|v| (v.repo.id, Arc::new(v)))
                .collect(),
            github: GitHubStatus::default(),
            resolved: true,
            automation_paused: false,
            config_auto_deploy: true,
            template_auto_update: true,
            config_deploy: None,
            coordinated: BTreeMap::new(),
        };
        let (_tx, rx) = watch::channel(Arc::new(snapshot));
        let (changes, _) = broadcast::channel(1);
        StateHandle {
            snapshot: rx,
            changes,
        }
    }
}

impl RepoView {
    /// A repository known only from GitHub's metadata: no runs yet.
    pub fn bare(repo: Repository, policy: RepoPolicy) -> RepoView {
        let window = Window {
            now: Utc::now(),
            length: Duration::from_secs(86_400),
            default_branch: &repo.default_branch,
        };
        let health = metrics::health(&[], window);
        RepoView {
            repo,
            available: true,
            unavailable_reason: None,
            health,
            last_run: None,
            workflows: Vec::new(),
            policy,
            synced: false,
            templates: None,
            health_check: None,
            switches: BTreeMap::new(),
            gate: None,
        }
    }
}

/// The owning task; run with [`State::run`].
pub struct State {
    store: Store,
    github: Arc<GitHubSettings>,
    window: Duration,
    events: mpsc::Receiver<Event>,
    current: Snapshot,
    /// When each repository's numbers next change with time alone (a run leaves the
    /// window); `None` when only new events can change them.
    due: HashMap<u64, Option<DateTime<Utc>>>,
    snapshot_tx: watch::Sender<Arc<Snapshot>>,
    changes: broadcast::Sender<Change>,
    /// The template watch's last report per repository, kept across recomputes.
    templates: HashMap<u64, Arc<TemplateReport>>,
    /// Switch states by scope, as stored.
    switches: HashMap<Scope, BTreeMap<Switch, bool>>,
    /// The latest health-check report per repository, kept across recomputes.
    health_checks: HashMap<u64, Arc<crate::recovery::HealthReport>>,
    /// Whether any repository has a quality gate to judge.
    gates: bool,
    /// The latest check of the HA configuration directory, for gates with `config_check`.
    config_check: Option<crate::recovery::ConfigCheck>,
}

impl State {
    /// Builds the state task, its read handle, and the sender sources use.
    pub fn new(
        store: Store,
        github: Arc<GitHubSettings>,
        window: Duration,
    ) -> (State, StateHandle, mpsc::Sender<Event>) {
        let (events_tx, events) = mpsc::channel(1024);
        let (snapshot_tx, snapshot) = watch::channel(Arc::new(Snapshot::default()));
        let (changes, _) = broadcast::channel(4096);
        let handle = StateHandle {
            snapshot,
            changes: changes.clone(),
        };
        let state = State {
            store,
            window,
            events,
            current: Snapshot::default(),
            due: HashMap::new(),
            snapshot_tx,
            changes,
            templates: HashMap::new(),
            switches: HashMap::new(),
            health_checks: HashMap::new(),
            gates: github
                .repositories
                .iter()
                .any(|r| r.policy().gate.is_some()),
            config_check: None,
            github,
        };
        (state, handle, events_tx)
    }

    /// Loads what the store knows, so entities show history before GitHub answers.
    pub async fn load(&mut self) -> Result<(), StoreError> {
        for (scope, key, on) in self.store.call(|db| db.switches()).await? {
            if let Some(switch) = Switch::parse(&key) {
                self.switches
                    .entry(Scope::from_id(scope))
                    .or_default()
                    .insert(switch, on);
            }
        }
        self.current.automation_paused = self.bridge_switch(Switch::AutomationPaused);
        self.current.config_auto_deploy = self.bridge_switch(Switch::ConfigAutoDeploy);
        self.current.template_auto_update = self.bridge_switch(Switch::TemplateAutoUpdate);
        let repos = self.store.call(|db| db.watched_repositories()).await?;
        for repo in repos {
            let id = repo.id;
            let (view, due) = self.compute(repo, true, None).await?;
            self.due.insert(id, due);
            self.current.repos.insert(id, Arc::new(view));
        }
        self.publish_snapshot();
        Ok(())
    }

    /// Applies events until cancelled or every sender is gone.
    pub async fn run(mut self, cancel: CancellationToken) {
        if let Err(e) = self.load().await {
            tracing::error!("loading history: {e}");
        }
        let mut tick = tokio::time::interval(RECOMPUTE_EVERY);
        tick.tick().await;
        loop {
            tokio::select! {
                _ = cancel.cancelled() => break,
                event = self.events.recv() => match event {
                    Some(event) => {
                        if let Err(e) = self.apply(event).await {
                            tracing::error!("applying an update: {e}");
                        }
                    }
                    None => break,
                },
                _ = tick.tick() => {
                    if let Err(e) = self.recompute_due().await {
                        tracing::error!("recomputing health: {e}");
                    }
                }
            }
        }
        tracing::debug!("state stopped");
    }

    /// Applies one event (public for `discovery`, which drives the state by hand).
    pub async fn apply(&mut self, event: Event) -> Result<(), StoreError> {
        match event {
            Event::RepositoriesResolved(repos) => self.resolved(repos).await?,
            Event::RepositoryUpdated(repo) => {
                let r = repo.clone();
                self.store.call(move |db| db.upsert_repository(&r)).await?;
                if self.current.repos.contains_key(&repo.id) {
                    self.refresh(repo.id).await?;
                }
            }
            Event::RepositoryUnavailable { repo_id, reason } => {
                if let Some(view) = self.current.repos.get_mut(&repo_id) {
                    let view = Arc::make_mut(view);
                    view.available = false;
                    view.unavailable_reason = Some(reason);
                    self.changed(repo_id);
                }
            }
            Event::RepositoryAvailable { repo_id } => {
                if let Some(view) = self.current.repos.get_mut(&repo_id) {
                    let view = Arc::make_mut(view);
                    view.available = true;
                    view.unavailable_reason = None;
                    self.changed(repo_id);
                }
            }
            Event::Workflows { repo_id, workflows } => {
                if !self.current.repos.contains_key(&repo_id) {
                    return Ok(());
                }
                self.store
                    .call(move |db| db.replace_workflows(repo_id, &workflows))
                    .await?;
                self.refresh(repo_id).await?;
            }
            Event::Runs {
                repo_id,
                runs,
                initial,
                ..
            } => {
                if !self.current.repos.contains_key(&repo_id) {
                    tracing::debug!(repo_id, "runs of a repository we do not watch; ignored");
                    return Ok(());
                }
                let changes = self
                    .store
                    .call(move |db| {
                        let changes = db.upsert_runs(&runs)?;
                        if initial {
                            db.mark_synced(repo_id)?;
                        }
                        Ok(changes)
                    })
                    .await?;
                // The first import marks the repository synced even when it brought no
                // runs: its (empty) history is now known.
                if changes.is_empty() && !initial {
                    return Ok(());
                }
                self.refresh(repo_id).await?;
                if !initial {
                    for change in changes.iter().filter(|c| c.completed_now()) {
                        let run = Box::new(RunSummary::of(&change.run, Vec::new()));
                        let _ = self.changes.send(Change::RunCompleted { repo_id, run });
                    }
                }
            }
            Event::Jobs { repo_id, jobs } => {
                if !self.current.repos.contains_key(&repo_id) {
                    return Ok(());
                }
                self.store
                    .call(move |db| db.upsert_jobs(repo_id, &jobs))
                    .await?;
                self.refresh(repo_id).await?;
            }
            Event::Templates { repo_id, report } => {
                match &report {
                    Some(r) => self.templates.insert(repo_id, r.clone()),
                    None => self.templates.remove(&repo_id),
                };
                if let Some(view) = self.current.repos.get_mut(&repo_id)
                    && view.templates != report
                {
                    Arc::make_mut(view).templates = report;
                    self.changed(repo_id);
                }
            }
            Event::HealthCheck { repo_id, report } => {
                self.health_checks.insert(repo_id, report.clone());
                if let Some(view) = self.current.repos.get_mut(&repo_id) {
                    Arc::make_mut(view).health_check = Some(report.clone());
                    self.changed(repo_id);
                    let _ = self.changes.send(Change::HealthChecked { repo_id, report });
                }
            }
            Event::Coordinated(status) => {
                self.current
                    .coordinated
                    .insert(status.name.clone(), Arc::new(*status));
                self.publish_snapshot();
                let _ = self.changes.send(Change::Coordinated);
            }
            Event::ConfigChecked(check) => {
                if self.config_check.as_ref() == Some(&check) {
                    return Ok(());
                }
                self.config_check = Some(check);
                let gated: Vec<u64> = self
                    .current
                    .repos
                    .values()
                    .filter(|v| v.policy.gate.as_ref().is_some_and(|g| g.config_check))
                    .map(|v| v.repo.id)
                    .collect();
                for id in gated {
                    self.changed(id);
                }
            }
            Event::Switch { scope, switch, on } => {
                let key = switch.key();
                self.store
                    .call(move |db| db.set_switch(scope.as_id(), key, on))
                    .await?;
                self.switches.entry(scope).or_default().insert(switch, on);
                match scope {
                    Scope::Bridge => {
                        self.current.automation_paused =
                            self.bridge_switch(Switch::AutomationPaused);
                        self.current.config_auto_deploy =
                            self.bridge_switch(Switch::ConfigAutoDeploy);
                        self.current.template_auto_update =
                            self.bridge_switch(Switch::TemplateAutoUpdate);
                        self.publish_snapshot();
                        let _ = self.changes.send(Change::GitHub);
                    }
                    Scope::Repo(repo_id) => {
                        if let Some(view) = self.current.repos.get_mut(&repo_id) {
                            Arc::make_mut(view).switches.insert(switch, on);
                            self.changed(repo_id);
                        }
                    }
                }
            }
            Event::ConfigDeploy { view, finished } => {
                self.current.config_deploy = Some(view);
                self.publish_snapshot();
                let _ = self.changes.send(Change::ConfigDeploy { finished });
            }
            Event::GitHub(status) => {
                if status != self.current.github {
                    self.current.github = status;
                    self.publish_snapshot();
                    let _ = self.changes.send(Change::GitHub);
                }
            }
        }
        Ok(())
    }

    async fn resolved(&mut self, repos: Vec<Repository>) -> Result<(), StoreError> {
        let ids: Vec<u64> = repos.iter().map(|r| r.id).collect();
        let to_store = repos.clone();
        self.store
            .call(move |db| {
                for r in &to_store {
                    db.upsert_repository(r)?;
                }
                db.set_watched(&ids)
            })
            .await?;
        let removed: Vec<u64> = self
            .current
            .repos
            .keys()
            .copied()
            .filter(|id| !repos.iter().any(|r| r.id == *id))
            .collect();
        for id in removed {
            if let Some(view) = self.current.repos.remove(&id) {
                tracing::info!("no longer watching {}", view.repo.full_name());
                self.publish_snapshot();
                let _ = self
                    .changes
                    .send(Change::RepoRemoved(Box::new(view.repo.clone())));
            }
        }
        for repo in repos {
            let id = repo.id;
            let (available, reason) = self.current.repos.get(&id).map_or((true, None), |v| {
                (v.available, v.unavailable_reason.clone())
            });
            let (view, due) = self.compute(repo, available, reason).await?;
            self.due.insert(id, due);
            self.replace(id, view);
        }
        if !self.current.resolved {
            tracing::info!(
                "watching {} {}",
                self.current.repos.len(),
                if self.current.repos.len() == 1 {
                    "repository"
                } else {
                    "repositories"
                }
            );
            self.current.resolved = true;
            self.publish_snapshot();
            let _ = self.changes.send(Change::Resolved);
        }
        Ok(())
    }

    /// Recomputes the repositories whose numbers the sliding window has changed: those
    /// with a run (or a recovery) leaving the window since their last computation. The
    /// others are untouched, so a quiet minute costs nothing, whatever the repository count.
    async fn recompute_due(&mut self) -> Result<(), StoreError> {
        let now = Utc::now();
        let ids: Vec<u64> = self
            .current
            .repos
            .keys()
            .copied()
            .filter(|id| {
                self.due
                    .get(id)
                    .is_none_or(|due| due.is_some_and(|t| t <= now))
            })
            .collect();
        for id in ids {
            self.refresh(id).await?;
        }
        Ok(())
    }

    /// Recomputes one repository's view and announces it if it changed.
    async fn refresh(&mut self, repo_id: u64) -> Result<(), StoreError> {
        let Some(view) = self.current.repos.get(&repo_id) else {
            return Ok(());
        };
        let (repo, available, reason) = (
            view.repo.clone(),
            view.available,
            view.unavailable_reason.clone(),
        );
        let (view, due) = self.compute(repo, available, reason).await?;
        self.due.insert(repo_id, due);
        self.replace(repo_id, view);
        Ok(())
    }

    fn replace(&mut self, id: u64, view: RepoView) {
        if self.current.repos.get(&id).map(|v| &**v) != Some(&view) {
            self.current.repos.insert(id, Arc::new(view));
            self.changed(id);
        }
    }

    fn changed(&mut self, repo_id: u64) {
        let downstreams = self.regate(repo_id);
        self.publish_snapshot();
        let _ = self.changes.send(Change::Repo(repo_id));
        for id in downstreams {
            let _ = self.changes.send(Change::Repo(id));
        }
    }

    /// Judges the quality gates a change of `repo_id` can move: its own and those of the
    /// repositories that need it. The other repositories whose verdict changed.
    fn regate(&mut self, repo_id: u64) -> Vec<u64> {
        if !self.gates {
            return Vec::new();
        }
        let Some(changed) = self.current.repos.get(&repo_id) else {
            return Vec::new();
        };
        let needs_it = |v: &RepoView| {
            v.policy
                .downstream
                .as_ref()
                .is_some_and(|d| d.needs.iter().any(|n| changed.repo.is(&n.owner, &n.name)))
        };
        let affected: Vec<u64> = self
            .current
            .repos
            .values()
            .filter(|v| v.policy.gate.is_some() && (v.repo.id == repo_id || needs_it(v)))
            .map(|v| v.repo.id)
            .collect();
        let mut moved = Vec::new();
        for id in affected {
            let repos = &self.current.repos;
            let config = self.config_check.as_ref();
            let verdict = crate::recovery::gate::evaluate(&repos[&id], config, |owner, name| {
                repos
                    .values()
                    .find(|v| v.repo.is(owner, name))
                    .map(|v| &**v)
            });
            if repos[&id].gate.as_deref() == verdict.as_ref() {
                continue;
            }
            if let Some(view) = self.current.repos.get_mut(&id) {
                Arc::make_mut(view).gate = verdict.map(Arc::new);
            }
            if id != repo_id {
                moved.push(id);
            }
        }
        moved
    }

    fn publish_snapshot(&self) {
        self.snapshot_tx
            .send_replace(Arc::new(self.current.clone()));
    }

    async fn compute(
        &self,
        repo: Repository,
        available: bool,
        unavailable_reason: Option<String>,
    ) -> Result<(RepoView, Option<DateTime<Utc>>), StoreError> {
        let now = Utc::now();
        let window_start = now - chrono::Duration::from_std(self.window).unwrap_or_default();
        let repo_id = repo.id;
        let (runs, workflows, last_failed_jobs, synced) = self
            .store
            .call(move |db| {
                let synced = db.is_synced(repo_id)?;
                let mut runs = db.runs_since(repo_id, window_start)?;
                if runs.len() < MIN_RUNS_FOR_HISTORY {
                    runs = db.recent_runs(repo_id, MIN_RUNS_FOR_HISTORY)?;
                }
                let workflows = db.workflows(repo_id)?;
                // Failed job names of the last run, and of each workflow's last run.
                let latest = metrics::latest_attempts(&runs);
                let mut wanted: Vec<&Run> = latest.first().copied().into_iter().collect();
                wanted.extend(
                    workflows
                        .iter()
                        .filter_map(|w| latest.iter().copied().find(|r| r.workflow_id == w.id)),
                );
                // And why they failed, from those jobs and what passed on the commit before.
                let mut failed: HashMap<(u64, u32), (Vec<String>, Option<Classification>)> =
                    HashMap::new();
                for run in wanted
                    .into_iter()
                    .filter(|r| r.outcome() == Some(Outcome::Fail))
                {
                    let jobs = db.jobs(run.id, run.attempt)?;
                    let names = jobs
                        .iter()
                        .filter(|j| {
                            j.conclusion
                                .as_ref()
                                .is_some_and(|c| c.outcome() == Outcome::Fail)
                        })
                        .map(|j| j.name.clone())
                        .collect();
                    let passed: HashSet<String> = db
                        .jobs_passed_on_commit(repo_id, &run.head_sha, (run.id, run.attempt))?
                        .into_iter()
                        .collect();
                    // Before its jobs are fetched, a failed run has no class yet.
                    let class = (!jobs.is_empty()
                        || run.conclusion == Some(Conclusion::StartupFailure))
                    .then(|| crate::recovery::classify(run, &jobs, &passed))
                    .flatten();
                    failed.insert((run.id, run.attempt), (names, class));
                }
                Ok((runs, workflows, failed, synced))
            })
            .await?;
        let window = Window {
            now,
            length: self.window,
            default_branch: &repo.default_branch,
        };
        let summary = |run: &Run| {
            let (jobs, class) = last_failed_jobs
                .get(&(run.id, run.attempt))
                .cloned()
                .unwrap_or_default();
            RunSummary::of(run, jobs).with_failure(class)
        };
        let mut by_workflow: BTreeMap<u64, Vec<Run>> = BTreeMap::new();
        for run in &runs {
            by_workflow
                .entry(run.workflow_id)
                .or_default()
                .push(run.clone());
        }
        let mut workflow_views: Vec<WorkflowView> = workflows
            .iter()
            .map(|w| {
                let runs = by_workflow.remove(&w.id).unwrap_or_default();
                WorkflowView {
                    workflow: w.clone(),
                    health: metrics::health(&runs, window),
                    last_run: metrics::last_run(&runs).map(summary),
                }
            })
            .collect();
        // Runs of workflows GitHub no longer lists (deleted or renamed files) still count.
        for (id, runs) in by_workflow {
            let last = metrics::last_run(&runs).map(summary);
            let name = last
                .as_ref()
                .map_or_else(|| format!("workflow {id}"), |r| r.workflow.clone());
            workflow_views.push(WorkflowView {
                workflow: Workflow {
                    id,
                    repo_id,
                    name,
                    path: last
                        .as_ref()
                        .and_then(|r| r.workflow_file.clone())
                        .unwrap_or_default(),
                    state: "unknown".into(),
                },
                health: metrics::health(&runs, window),
                last_run: last,
            });
        }
        let policy = self
            .github
            .policy_for(&repo.owner, &repo.name)
            .cloned()
            .unwrap_or_default();
        let due = metrics::next_change(&runs, window);
        let view = RepoView {
            health: metrics::health(&runs, window),
            last_run: metrics::last_run(&runs).map(summary),
            workflows: workflow_views,
            repo,
            available,
            unavailable_reason,
            policy,
            synced,
            templates: self.templates.get(&repo_id).cloned(),
            health_check: self.health_checks.get(&repo_id).cloned(),
            switches: self
                .switches
                .get(&Scope::Repo(repo_id))
                .cloned()
                .unwrap_or_default(),
            // Judged again by `changed`; kept so an unchanged repository stays unchanged.
            gate: self
                .current
                .repos
                .get(&repo_id)
                .and_then(|v| v.gate.clone()),
        };
        Ok((view, due))
    }

    /// A bridge switch's state, its default when never set.
    fn bridge_switch(&self, switch: Switch) -> bool {
        self.switches
            .get(&Scope::Bridge)
            .and_then(|s| s.get(&switch))
            .copied()
            .unwrap_or(switch.default_on())
    }
}
