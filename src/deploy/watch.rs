//! The daemon's template source: keeps every target repository's [`TemplateReport`] current
//! in the state, which HA shows as one `update` entity per template and a drift sensor.
//!
//! Each watched repository that a `templates.targets` entry names is read every
//! `templates.check_every`, when the watched set is resolved, and right after one of our template
//! commands wrote to it. Reads are conditional on the branch's tree ETag, so a repository
//! that did not change costs one `304` and nothing of the rate limit. Reading only, like
//! the rest of `deploy`; installs go through the command executor.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{broadcast, mpsc};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::auto_update::{self, Rollout};
use super::plan;
use super::status::TemplateReport;
use super::targets::TemplateSettings;
use crate::commands::CommandHandle;
use crate::github::GitHubClient;
use crate::github::api::Repo;
use crate::model::{Event, Repository};
use crate::state::{Change, RepoView, StateHandle};

/// Asks the watch to read one repository again now (after a deploy or rollback).
#[derive(Clone, Debug)]
pub struct Refresh(mpsc::Sender<u64>);

impl Refresh {
    /// Never blocks: a full queue already holds enough reasons to read again.
    pub fn request(&self, repo_id: u64) {
        let _ = self.0.try_send(repo_id);
    }
}

/// What the last read of a repository left behind.
struct Known {
    branch: String,
    etag: Option<String>,
    report: Arc<TemplateReport>,
}

pub struct TemplateWatch {
    gh: GitHubClient,
    templates: Arc<TemplateSettings>,
    state: StateHandle,
    events: mpsc::Sender<Event>,
    refresh: mpsc::Receiver<u64>,
    known: HashMap<u64, Known>,
    /// With `templates.auto_update`: where the policy submits its commands, and how often
    /// its gate polls runs.
    auto: Option<(CommandHandle, Duration)>,
    /// The auto-update rollout under way, if any (one at a time).
    rollout: Option<JoinHandle<Rollout>>,
    /// Why auto-updates stopped: a rollout of this library failed.
    halted: Option<String>,
    /// Updates a rollout already applied: a pull request waiting for its merge shows the
    /// old version until then, and is not proposed again every check.
    applied: HashSet<auto_update::Candidate>,
}

/// The watch and the handle that asks it to read a repository again.
pub fn watch(
    gh: GitHubClient,
    templates: Arc<TemplateSettings>,
    state: StateHandle,
    events: mpsc::Sender<Event>,
) -> (TemplateWatch, Refresh) {
    let (tx, refresh) = mpsc::channel(256);
    (
        TemplateWatch {
            gh,
            templates,
            state,
            events,
            refresh,
            known: HashMap::new(),
            auto: None,
            rollout: None,
            halted: None,
            applied: HashSet::new(),
        },
        Refresh(tx),
    )
}

impl TemplateWatch {
    /// Lets `templates.auto_update` submit deploys through `commands`; its gate polls the
    /// runs every `every`. Without `auto_update` in the settings this changes nothing.
    pub fn with_auto_update(mut self, commands: CommandHandle, every: Duration) -> Self {
        if self.templates.auto_update {
            self.auto = Some((commands, every));
        }
        self
    }

    pub async fn run(mut self, cancel: CancellationToken) {
        let mut changes = self.state.subscribe();
        let mut tick = tokio::time::interval(self.templates.check_every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = cancel.cancelled() => break,
                _ = tick.tick() => {
                    self.check_all().await;
                    self.roll_out();
                }
                Some(id) = self.refresh.recv() => self.check_id(id).await,
                done = async { self.rollout.as_mut().expect("guarded").await }, if self.rollout.is_some() => {
                    self.rollout = None;
                    match done {
                        Ok(Rollout::Done) => tracing::info!("auto-update: rollout finished"),
                        Ok(Rollout::Failed { reason }) => self.halt(reason),
                        Err(e) => self.halt(format!("the rollout stopped: {e}")),
                    }
                }
                change = changes.recv() => match change {
                    Ok(Change::Resolved) => {
                        self.check_all().await;
                        self.roll_out();
                    }
                    Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => {}
                    Err(broadcast::error::RecvError::Closed) => break,
                },
            }
        }
        if let Some(r) = self.rollout.take() {
            r.abort();
        }
        tracing::debug!("template watch stopped");
    }

    /// Starts an auto-update rollout of every update the last reads found, unless one is
    /// under way or an earlier one failed.
    fn roll_out(&mut self) {
        let Some((commands, every)) = &self.auto else {
            return;
        };
        if self.rollout.is_some() || self.halted.is_some() {
            return;
        }
        let snapshot = self.state.snapshot();
        // The bridge's *Automation paused* switch stops this policy too, and its own
        // *Template auto-update* switch stops it alone.
        if snapshot.automation_paused || !snapshot.template_auto_update {
            return;
        }
        let candidates: Vec<auto_update::Candidate> = snapshot
            .repos
            .values()
            .filter_map(|v| Some((v, self.known.get(&v.repo.id)?)))
            .flat_map(|(v, k)| auto_update::candidates(v, &k.report))
            .filter(|c| !self.applied.contains(c))
            .collect();
        if candidates.is_empty() {
            return;
        }
        tracing::info!(
            "auto-update: {} template update{} to apply",
            candidates.len(),
            if candidates.len() == 1 { "" } else { "s" }
        );
        self.applied.extend(candidates.iter().cloned());
        let (commands, every) = (commands.clone(), *every);
        let (gh, templates) = (self.gh.clone(), self.templates.clone());
        self.rollout = Some(tokio::spawn(async move {
            auto_update::rollout(&commands, &gh, &templates, candidates, every).await
        }));
    }

    fn halt(&mut self, reason: String) {
        tracing::warn!(
            "auto-update stopped: {reason}. Fix the cause, then deploy by hand or restart with a new library"
        );
        self.halted = Some(reason);
    }

    async fn check_all(&mut self) {
        let snapshot = self.state.snapshot();
        if !snapshot.resolved {
            return;
        }
        for view in snapshot.repos.values() {
            self.check(view).await;
        }
        // Repositories no longer watched take their report with them.
        self.known.retain(|id, _| snapshot.repos.contains_key(id));
    }

    async fn check_id(&mut self, id: u64) {
        let view = self.state.snapshot().repos.get(&id).cloned();
        if let Some(view) = view {
            self.check(&view).await;
        }
    }

    /// Reads one repository and tells the state when its report changed.
    async fn check(&mut self, view: &RepoView) {
        let id = view.repo.id;
        if !view.available {
            return;
        }
        let known = self
            .known
            .get(&id)
            .and_then(|k| Some((k.branch.as_str(), k.etag.as_deref()?)));
        match read(&self.gh, &self.templates, &view.repo, known).await {
            Reading::NotTargeted => {
                if self.known.remove(&id).is_some() {
                    self.send(id, None).await;
                }
            }
            Reading::Unchanged => {}
            Reading::Read { report, etag } => {
                let branch = report.branch.clone();
                self.remember(id, branch, etag, report).await;
            }
            Reading::Failed { branch, error } => {
                tracing::warn!(
                    "reading the workflow templates of {}: {error}",
                    view.repo.full_name()
                );
                // Keep what we knew; say why it may be stale. The next read starts afresh.
                let mut report = self
                    .known
                    .get(&id)
                    .map(|k| (*k.report).clone())
                    .unwrap_or_else(|| TemplateReport {
                        branch: branch.clone(),
                        ..TemplateReport::default()
                    });
                report.error = Some(error);
                self.remember(id, branch, None, report).await;
            }
        }
    }

    async fn remember(
        &mut self,
        id: u64,
        branch: String,
        etag: Option<String>,
        report: TemplateReport,
    ) {
        let unchanged = self.known.get(&id).is_some_and(|k| *k.report == report);
        let report = Arc::new(report);
        self.known.insert(
            id,
            Known {
                branch,
                etag,
                report: report.clone(),
            },
        );
        if !unchanged {
            self.send(id, Some(report)).await;
        }
    }

    async fn send(&self, repo_id: u64, report: Option<Arc<TemplateReport>>) {
        let _ = self.events.send(Event::Templates { repo_id, report }).await;
    }
}

/// What one read of a repository found.
#[derive(Debug)]
pub enum Reading {
    /// No `templates.targets` entry names it.
    NotTargeted,
    /// Its branch's tree has the ETag we had.
    Unchanged,
    Read {
        report: TemplateReport,
        etag: Option<String>,
    },
    Failed {
        branch: String,
        error: String,
    },
}

/// Reads `repo`'s templates from its target branch. `known` is the branch and tree ETag of
/// the last read: the same branch unchanged answers [`Reading::Unchanged`] for free.
pub async fn read(
    gh: &GitHubClient,
    templates: &TemplateSettings,
    repo: &Repository,
    known: Option<(&str, &str)>,
) -> Reading {
    // The branch first, the templates rendered only when the tree changed: most reads
    // are a 304 and need neither.
    let Some(branch) = templates.branch_of(&repo.owner, &repo.name) else {
        return Reading::NotTargeted;
    };
    let branch = branch.unwrap_or(&repo.default_branch).to_string();
    let etag = known.filter(|(b, _)| *b == branch).map(|(_, e)| e);
    match plan::read_target_if_changed(gh, Repo::from(repo), &branch, etag).await {
        Ok(None) => Reading::Unchanged,
        Ok(Some((target, etag))) => match templates.assignment(&repo.owner, &repo.name) {
            Ok(Some(assignment)) => {
                let p = plan::plan(&target, &assignment.templates, None);
                Reading::Read {
                    report: TemplateReport::of(&branch, &p, &assignment),
                    etag,
                }
            }
            Ok(None) => Reading::NotTargeted,
            // No ETag kept: the next read tries again in full.
            Err(error) => Reading::Failed { branch, error },
        },
        Err(e) => Reading::Failed {
            error: format!("reading {branch}: {e}"),
            branch,
        },
    }
}
