//! The poller: the safety net under webhooks. Resolves the watched repositories, then for each
//! one asks GitHub "anything new?" with conditional requests, so a quiet cycle costs nothing
//! against the rate limit (a 304 is free).
//!
//! Per cycle and repository: the workflow list and the first page of runs, each with its
//! ETag. Only when a page changed does it read more: further pages to close a gap, runs that
//! were running and fell off the first page, and the jobs of runs that just completed. The
//! first visit of a repository imports the metrics window of history once; the store keeps it
//! across restarts (with the ETags), so a restart does not download it again.
//!
//! Requests are sent one after another (GitHub's advice against secondary limits), and the
//! pause between cycles stretches when the hourly budget would not last until its reset.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use serde::de::DeserializeOwned;
use tokio::sync::{Notify, mpsc};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::api::{self, Repo};
use super::client::{Fetched, GitHubClient, GitHubError};
use super::models::{ApiJobList, ApiOwner, ApiRepository, ApiRun, ApiRunList, ApiWorkflowList};
use crate::model::{Event, GitHubStatus, Outcome, Repository, Run, Source};
use crate::settings::{GitHubSettings, RepoSelector};
use crate::store::{Etags, RunHistory, Store};

/// Pages of history read on a repository's first visit (100 runs each).
const INITIAL_IMPORT_PAGES: usize = 10;
/// Extra pages read when a whole first page is new (more runs than a page between polls).
const GAP_FILL_PAGES: u32 = 5;
/// Runs per page in the regular poll.
const POLL_PAGE_SIZE: u32 = 30;

/// Outcome of one cycle, for the bridge's status and for pacing.
#[derive(Debug, Default)]
pub struct CycleReport {
    /// The first problem met, for the bridge entity.
    pub problem: Option<GitHubError>,
    /// Some request got an answer from GitHub (even an error status).
    pub reached: bool,
    /// Requests this cycle that counted against the primary limit.
    pub counted: u64,
    /// Of those, one-off requests (history imports, first fetches) later cycles won't repeat.
    pub one_off: u64,
}

/// Longest pause after repeated failures that stop a cycle (bad token, GitHub unreachable).
const MAX_FAILURE_BACKOFF: Duration = Duration::from_secs(15 * 60);

/// A metadata response kept to answer a 304 from memory: its validator, next page, and the
/// body in its typed form — the few fields we read, not GitHub's whole JSON (a page of 100
/// repositories is ~600 KB of JSON, ~20 KB typed).
struct CachedPage {
    etag: String,
    value: Box<dyn std::any::Any + Send + Sync>,
    next: Option<String>,
}

/// Owns the polling state; run with [`Poller::run`].
pub struct Poller {
    gh: GitHubClient,
    settings: Arc<GitHubSettings>,
    window: Duration,
    /// Reads what the state task stored; the poller writes runs only as events.
    history: RunHistory,
    saved_etags: Etags,
    events: mpsc::Sender<Event>,
    /// Wakes the poller before its interval ends (webhook gap, after a command).
    poll_now: Arc<Notify>,
    /// ETags of lists whose 304 means "nothing to do"; persisted in the store.
    etags: HashMap<String, String>,
    /// ETags that changed this cycle and still need saving.
    dirty_etags: HashMap<String, Option<String>>,
    /// Metadata bodies kept with their ETag so a 304 can be answered from memory.
    cached: HashMap<String, CachedPage>,
    repos: Vec<Repository>,
    unavailable: HashSet<u64>,
    next_discovery: Instant,
    /// ETags and repositories were read from the store.
    loaded: bool,
    /// Counted requests in the current cycle that later cycles will not repeat: history
    /// imports and first fetches of a URL (no ETag yet).
    one_off: u64,
    /// Cycles in a row that stopped early; the pause doubles with each (a bad token must not
    /// hammer GitHub).
    failed_cycles: u32,
}

impl Poller {
    pub fn new(
        gh: GitHubClient,
        settings: Arc<GitHubSettings>,
        window: Duration,
        store: Store,
        events: mpsc::Sender<Event>,
        poll_now: Arc<Notify>,
    ) -> Poller {
        Poller {
            gh,
            settings,
            window,
            history: RunHistory::new(&store),
            saved_etags: Etags::new(&store),
            events,
            poll_now,
            etags: HashMap::new(),
            dirty_etags: HashMap::new(),
            cached: HashMap::new(),
            repos: Vec::new(),
            unavailable: HashSet::new(),
            next_discovery: Instant::now(),
            loaded: false,
            one_off: 0,
            failed_cycles: 0,
        }
    }

    /// Polls until cancelled.
    pub async fn run(mut self, cancel: CancellationToken) {
        loop {
            let report = tokio::select! {
                // Shutdown wins over a cycle in flight; the store keeps what was processed.
                _ = cancel.cancelled() => break,
                report = self.poll_cycle() => report,
            };
            let Some(report) = report else { break };
            let pause = self.pause(&report);
            tracing::debug!(?pause, "next poll");
            tokio::select! {
                _ = cancel.cancelled() => break,
                _ = tokio::time::sleep(pause) => {}
                // A nudge never bypasses a rate-limit wait.
                _ = self.poll_now.notified(), if self.gh.blocked_until().is_none() => {}
            }
        }
        tracing::debug!("poller stopped");
    }

    /// One cycle: resolve repositories when due, poll each, report GitHub's status to state.
    /// `None` when state has stopped listening.
    pub async fn poll_cycle(&mut self) -> Option<CycleReport> {
        if !self.loaded {
            self.load().await;
        }
        let counted_before = self.gh.counted_requests();
        self.one_off = 0;
        let mut report = self.cycle().await;
        report.counted = self.gh.counted_requests() - counted_before;
        report.one_off = self.one_off;
        self.save_etags().await;
        let status = GitHubStatus {
            reachable: report.reached,
            error: report.problem.as_ref().map(ToString::to_string),
            rate_limit: self.gh.rate_limit(),
            last_poll: Some(Utc::now()),
        };
        self.events.send(Event::GitHub(status)).await.ok()?;
        if report.problem.as_ref().is_some_and(stops_cycle) {
            self.failed_cycles = self.failed_cycles.saturating_add(1);
        } else {
            self.failed_cycles = 0;
        }
        Some(report)
    }

    async fn load(&mut self) {
        self.loaded = true;
        let stored = match self.saved_etags.load().await {
            Ok(etags) => self
                .history
                .watched_repositories()
                .await
                .map(|repos| (etags, repos)),
            Err(e) => Err(e),
        };
        match stored {
            Ok((etags, repos)) => {
                self.etags = etags.into_iter().collect();
                self.repos = repos;
            }
            Err(e) => tracing::warn!("cannot read ETags and repositories from the store: {e}"),
        }
    }

    /// The pause before the next cycle: the configured interval, stretched so the remaining
    /// budget lasts until it resets, or until a rate-limit block ends.
    fn pause(&self, report: &CycleReport) -> Duration {
        let interval = self.settings.poll_interval;
        let now = Utc::now();
        if let Some(until) = self.gh.blocked_until() {
            return (until - now)
                .to_std()
                .unwrap_or(interval)
                .max(Duration::from_secs(1));
        }
        if self.failed_cycles > 0 {
            let factor = 1u32 << self.failed_cycles.min(10);
            return (interval * factor).min(MAX_FAILURE_BACKOFF.max(interval));
        }
        let Some(rate) = self.gh.rate_limit() else {
            return interval;
        };
        let to_reset = (rate.reset - now).to_std().unwrap_or_default();
        let reserve = self.settings.rate_limit_reserve;
        if rate.remaining <= reserve {
            tracing::warn!(
                remaining = rate.remaining,
                reset = %rate.reset,
                "GitHub budget at its reserve; pausing polls until it resets"
            );
            return to_reset.max(interval);
        }
        // Assume the next cycle costs what the last one did, history imports aside; a quiet
        // one (all 304) costs nothing.
        let cost = report.counted.saturating_sub(report.one_off);
        if cost == 0 {
            return interval;
        }
        let cycles = u64::from(rate.remaining - reserve) / cost;
        if cycles == 0 {
            return to_reset.max(interval);
        }
        let stretched = to_reset / cycles.min(u32::MAX as u64) as u32;
        interval.max(stretched)
    }

    async fn cycle(&mut self) -> CycleReport {
        let mut report = CycleReport::default();
        if Instant::now() >= self.next_discovery {
            match self.discover().await {
                Ok(repos) => {
                    report.reached = true;
                    self.next_discovery = Instant::now() + self.settings.discovery_interval;
                    self.repos = repos.clone();
                    if self
                        .events
                        .send(Event::RepositoriesResolved(repos))
                        .await
                        .is_err()
                    {
                        return report;
                    }
                }
                Err(e) => {
                    report.reached |= !e.is_unreachable();
                    tracing::warn!("resolving repositories: {e}");
                    let stop = stops_cycle(&e);
                    report.problem = Some(e);
                    if stop {
                        return report;
                    }
                }
            }
        }
        for repo in self.repos.clone() {
            match self.poll_repo(&repo).await {
                Ok(()) => {
                    report.reached = true;
                    if self.unavailable.remove(&repo.id) {
                        tracing::info!("{} answers again", repo.full_name());
                        let _ = self
                            .events
                            .send(Event::RepositoryAvailable { repo_id: repo.id })
                            .await;
                    }
                }
                Err(e @ (GitHubError::NotFound { .. } | GitHubError::Forbidden { .. })) => {
                    report.reached = true;
                    if self.unavailable.insert(repo.id) {
                        tracing::warn!("{}: {e}", repo.full_name());
                        let _ = self
                            .events
                            .send(Event::RepositoryUnavailable {
                                repo_id: repo.id,
                                reason: e.to_string(),
                            })
                            .await;
                    }
                    report.problem.get_or_insert(e);
                }
                Err(e) => {
                    report.reached |= !e.is_unreachable();
                    tracing::warn!("polling {}: {e}", repo.full_name());
                    let stop = stops_cycle(&e);
                    report.problem.get_or_insert(e);
                    if stop {
                        break;
                    }
                }
            }
        }
        report
    }

    // -- repositories -----------------------------------------------------------------------

    /// Resolves `github.repositories` to repositories. Any error other than "this exact
    /// repository is gone" aborts the pass and keeps the previous set: a flaky GitHub must
    /// never make entities disappear.
    async fn discover(&mut self) -> Result<Vec<Repository>, GitHubError> {
        let mut found: Vec<Repository> = Vec::new();
        for selector in self.settings.repositories.clone() {
            match &selector {
                RepoSelector::Exact { owner, name, .. } => {
                    let url = self.gh.url(&api::repos::repository(Repo::new(owner, name)));
                    match self.get_cached::<ApiRepository>(&url).await {
                        Ok(repo) => found.push(repo.into_model()),
                        Err(e @ (GitHubError::NotFound { .. } | GitHubError::Forbidden { .. })) => {
                            // Keep a repository we knew, shown as unavailable; an unknown one
                            // cannot be watched without its id.
                            match self.known(owner, name) {
                                Some(previous) => found.push(previous),
                                None => tracing::error!("{owner}/{name}: {e}"),
                            }
                        }
                        Err(e) => return Err(e),
                    }
                }
                RepoSelector::Owner { owner, .. } => {
                    let repos = self.owner_repositories(owner).await?;
                    found.extend(
                        repos
                            .into_iter()
                            .filter(|r| {
                                (self.settings.include_archived || !r.archived)
                                    && (self.settings.include_forks || !r.fork)
                            })
                            .map(ApiRepository::into_model),
                    );
                }
            }
        }
        let mut seen = HashSet::new();
        found.retain(|r| seen.insert(r.id));
        Ok(found)
    }

    fn known(&self, owner: &str, name: &str) -> Option<Repository> {
        self.repos.iter().find(|r| r.is(owner, name)).cloned()
    }

    /// Every repository of a user or organisation, all pages. For the token's own user the
    /// private ones too (`/user/repos`), which `/users/{name}/repos` would not list.
    async fn owner_repositories(&mut self, owner: &str) -> Result<Vec<ApiRepository>, GitHubError> {
        let account: ApiOwner = self
            .get_cached(&self.gh.url(&api::repos::account(owner)))
            .await?;
        let first = if account.kind.as_deref() == Some("Organization") {
            self.gh.url(&api::repos::organisation_repositories(owner))
        } else {
            let me: ApiOwner = self
                .get_cached(&self.gh.url(&api::repos::authenticated_user()))
                .await?;
            if me.login.eq_ignore_ascii_case(owner) {
                self.gh.url(&api::repos::own_repositories())
            } else {
                self.gh.url(&api::repos::user_repositories(owner))
            }
        };
        let mut repos = Vec::new();
        let mut next = Some(first);
        let mut pages = 0;
        while let Some(url) = next.take() {
            let (page, link): (Vec<ApiRepository>, _) = self.get_cached_page(&url).await?;
            repos.extend(
                page.into_iter()
                    .filter(|r| r.owner.login.eq_ignore_ascii_case(owner)),
            );
            pages += 1;
            // A user with thousands of repositories is real; a loop in Link headers is not.
            if pages >= 100 {
                break;
            }
            next = link;
        }
        Ok(repos)
    }

    // -- one repository -----------------------------------------------------------------------

    async fn poll_repo(&mut self, repo: &Repository) -> Result<(), GitHubError> {
        let base = Repo::from(repo);

        let url = self.gh.url(&api::actions::workflows(base));
        if let Some((list, etag)) = self.get_if_changed::<ApiWorkflowList>(&url).await? {
            let workflows = list
                .workflows
                .into_iter()
                .map(|w| w.into_model(repo.id))
                .collect();
            self.emit(Event::Workflows {
                repo_id: repo.id,
                workflows,
            })
            .await;
            self.remember_etag(&url, etag);
        }

        let repo_id = repo.id;
        let synced = self.history.is_synced(repo_id).await.unwrap_or(false);
        if !synced {
            let before = self.gh.counted_requests();
            let imported = self.import_history(repo).await;
            self.one_off += self.gh.counted_requests() - before;
            imported?;
        }

        let url = self.gh.url(&api::actions::runs(base, POLL_PAGE_SIZE, None));
        let Some((page, etag)) = self.get_if_changed::<ApiRunList>(&url).await? else {
            return Ok(());
        };
        let mut runs: Vec<Run> = page
            .workflow_runs
            .into_iter()
            .map(|r| r.into_model(repo.id))
            .collect();

        // Everything on the first page is new: more runs happened than a page holds.
        let ids: Vec<u64> = runs.iter().map(|r| r.id).collect();
        let known = self.history.known_run_ids(ids).await.unwrap_or_default();
        if synced && known.is_empty() && runs.len() as u32 == POLL_PAGE_SIZE {
            runs.extend(self.fill_gap(base, &runs).await?);
        }

        // Runs we saw running that fell off the first page: ask for each directly.
        let listed: HashSet<u64> = runs.iter().map(|r| r.id).collect();
        let active = self
            .history
            .active_run_ids(repo_id)
            .await
            .unwrap_or_default();
        for (id, _) in active.into_iter().filter(|(id, _)| !listed.contains(id)) {
            let url = self.gh.url(&api::actions::run(base, id));
            match self.gh.get_json::<ApiRun>(&url).await {
                Ok(run) => runs.push(run.into_model(repo.id)),
                // Deleted runs stay as stored; nothing else to learn.
                Err(GitHubError::NotFound { .. }) => {}
                Err(e) => return Err(e),
            }
        }

        let keys: Vec<(u64, u32)> = runs.iter().map(|r| (r.id, r.attempt)).collect();
        let before = self.history.run_states(keys).await.unwrap_or_default();
        // Each run completed since the last look, and whether it failed.
        let completed_now: Vec<(u64, u32, bool)> = runs
            .iter()
            .filter(|r| {
                r.is_completed()
                    && before
                        .get(&(r.id, r.attempt))
                        .is_none_or(|s| s != "completed")
            })
            .map(|r| (r.id, r.attempt, r.outcome() == Some(Outcome::Fail)))
            .collect();
        self.emit(Event::Runs {
            repo_id,
            runs,
            source: Source::Poll,
            initial: !synced,
        })
        .await;
        self.remember_etag(&url, etag);

        if synced {
            for (id, attempt, failed) in completed_now {
                let url = self.gh.url(&api::actions::attempt_jobs(base, id, attempt));
                let list: ApiJobList = self.gh.get_json(&url).await?;
                let mut jobs: Vec<_> = list
                    .jobs
                    .into_iter()
                    .map(|j| j.into_model(Some(attempt)))
                    .collect();
                if failed {
                    super::annotations::add_runner_messages(&self.gh, base, &mut jobs).await;
                }
                self.emit(Event::Jobs { repo_id, jobs }).await;
            }
        }
        Ok(())
    }

    /// First visit: the metrics window of history, once.
    async fn import_history(&mut self, repo: &Repository) -> Result<(), GitHubError> {
        let since = Utc::now() - chrono::Duration::from_std(self.window).unwrap_or_default();
        let mut next = Some(self.gh.url(&api::actions::runs_created_since(
            Repo::from(repo),
            since.date_naive(),
        )));
        let mut runs = Vec::new();
        for _ in 0..INITIAL_IMPORT_PAGES {
            let Some(url) = next.take() else { break };
            match self.gh.get::<ApiRunList>(&url, None).await? {
                Fetched::Modified { value, next: n, .. } => {
                    runs.extend(
                        value
                            .workflow_runs
                            .into_iter()
                            .map(|r| r.into_model(repo.id)),
                    );
                    next = n;
                }
                Fetched::NotModified => break,
            }
        }
        tracing::info!(
            "{}: imported {} runs of history",
            repo.full_name(),
            runs.len()
        );
        self.emit(Event::Runs {
            repo_id: repo.id,
            runs,
            source: Source::Poll,
            initial: true,
        })
        .await;
        Ok(())
    }

    /// Reads further pages until one holds a run we know.
    async fn fill_gap(
        &mut self,
        base: Repo<'_>,
        first_page: &[Run],
    ) -> Result<Vec<Run>, GitHubError> {
        let repo_id = first_page.first().map_or(0, |r| r.repo_id);
        let mut out = Vec::new();
        for page in 2..2 + GAP_FILL_PAGES {
            let url = self
                .gh
                .url(&api::actions::runs(base, POLL_PAGE_SIZE, Some(page)));
            let list: ApiRunList = self.gh.get_json(&url).await?;
            let runs: Vec<Run> = list
                .workflow_runs
                .into_iter()
                .map(|r| r.into_model(repo_id))
                .collect();
            let ids: Vec<u64> = runs.iter().map(|r| r.id).collect();
            let done = runs.len() < POLL_PAGE_SIZE as usize
                || !self
                    .history
                    .known_run_ids(ids)
                    .await
                    .unwrap_or_default()
                    .is_empty();
            out.extend(runs);
            if done {
                break;
            }
        }
        Ok(out)
    }

    // -- HTTP helpers -----------------------------------------------------------------------

    /// Conditional GET against a persisted ETag: `None` when unchanged.
    async fn get_if_changed<T: DeserializeOwned>(
        &mut self,
        url: &str,
    ) -> Result<Option<(T, Option<String>)>, GitHubError> {
        let etag = self.etags.get(url).cloned();
        if etag.is_none() {
            // A first fetch: later cycles ask conditionally, so it is not a recurring cost.
            self.one_off += 1;
        }
        match self.gh.get::<T>(url, etag.as_deref()).await? {
            Fetched::NotModified => Ok(None),
            Fetched::Modified { value, etag, .. } => Ok(Some((value, etag))),
        }
    }

    /// Conditional GET answered from memory on 304 (metadata we need every time).
    async fn get_cached<T>(&mut self, url: &str) -> Result<T, GitHubError>
    where
        T: DeserializeOwned + Clone + Send + Sync + 'static,
    {
        Ok(self.get_cached_page(url).await?.0)
    }

    async fn get_cached_page<T>(&mut self, url: &str) -> Result<(T, Option<String>), GitHubError>
    where
        T: DeserializeOwned + Clone + Send + Sync + 'static,
    {
        // Only a body we hold (of this type) makes a conditional request worth it.
        let etag = self
            .cached
            .get(url)
            .filter(|c| c.value.is::<T>())
            .map(|c| c.etag.clone());
        if etag.is_none() {
            self.one_off += 1;
        }
        match self.gh.get::<T>(url, etag.as_deref()).await? {
            Fetched::Modified { value, etag, next } => {
                match etag {
                    Some(etag) => {
                        let page = CachedPage {
                            etag,
                            value: Box::new(value.clone()),
                            next: next.clone(),
                        };
                        self.cached.insert(url.to_string(), page);
                    }
                    None => {
                        self.cached.remove(url);
                    }
                }
                Ok((value, next))
            }
            Fetched::NotModified => self
                .cached
                .get(url)
                .and_then(|page| {
                    let value = page.value.downcast_ref::<T>()?;
                    Some((value.clone(), page.next.clone()))
                })
                .ok_or_else(|| GitHubError::Malformed {
                    url: url.to_string(),
                    message: "304 for a page we hold no copy of".into(),
                }),
        }
    }

    fn remember_etag(&mut self, url: &str, etag: Option<String>) {
        match &etag {
            Some(e) => self.etags.insert(url.to_string(), e.clone()),
            None => self.etags.remove(url),
        };
        self.dirty_etags.insert(url.to_string(), etag);
    }

    async fn save_etags(&mut self) {
        if self.dirty_etags.is_empty() {
            return;
        }
        let dirty: Vec<(String, Option<String>)> = self.dirty_etags.drain().collect();
        if let Err(e) = self.saved_etags.save(dirty).await {
            tracing::warn!("saving ETags: {e}");
        }
    }

    async fn emit(&self, event: Event) {
        if self.events.send(event).await.is_err() {
            tracing::debug!("state has stopped; dropping event");
        }
    }
}

/// Errors after which the rest of the cycle would fail the same way.
fn stops_cycle(e: &GitHubError) -> bool {
    matches!(
        e,
        GitHubError::Unauthorized { .. } | GitHubError::RateLimited { .. }
    ) || e.is_unreachable()
}
