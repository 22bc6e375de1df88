//! The poller against the fake GitHub, driven cycle by cycle: what it asks GitHub, what it
//! costs, and what the state ends up knowing.

mod support;

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use fake_github::{FakeGitHub, Owner, Repo, Run, Workflow, World};
use gitops_bridge::github::{GitHubClient, Poller};
use gitops_bridge::model::RunState;
use gitops_bridge::settings::{GitHubSettings, RepoPolicy, RepoSelector, Secret};
use gitops_bridge::state::{State, StateHandle};
use gitops_bridge::store::Store;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

fn world() -> World {
    let now = Utc::now();
    let h = |n: i64| now - chrono::Duration::hours(n);
    let mins = chrono::Duration::minutes;
    World::new("test-token").owner(Owner::user("octo", 1)).repo(
        support::world::octo_api(100, ["success", "failure", "success"])
            .workflow(Workflow::new(11, "Deploy", ".github/workflows/deploy.yml"))
            .run(Run::completed(1004, 11, "Deploy", "success", h(9), mins(2)))
            .run(Run::completed(1005, 10, "CI", "cancelled", h(5), mins(1))),
    )
}

fn settings(url: &str, repos: Vec<RepoSelector>) -> Arc<GitHubSettings> {
    Arc::new(GitHubSettings {
        token: Secret::new("test-token"),
        api_url: url.parse().unwrap(),
        repositories: repos,
        poll_interval: Duration::from_secs(60),
        discovery_interval: Duration::from_secs(3600),
        webhook_secret: None,
        allow_unsigned_webhooks: false,
        include_archived: false,
        include_forks: true,
        request_timeout: Duration::from_secs(2),
        rate_limit_reserve: 10,
    })
}

fn exact(owner: &str, name: &str) -> RepoSelector {
    RepoSelector::Exact {
        owner: owner.into(),
        name: name.into(),
        policy: RepoPolicy::default(),
    }
}

struct Rig {
    poller: Poller,
    state: StateHandle,
    cancel: CancellationToken,
    store: Store,
}

impl Rig {
    /// Poller + state + store at `path` (in memory when `None`).
    fn new(url: &str, repos: Vec<RepoSelector>, path: Option<&std::path::Path>) -> Rig {
        let (store, worker) = match path {
            Some(p) => Store::open(p).unwrap(),
            None => Store::open_in_memory().unwrap(),
        };
        worker.spawn().unwrap();
        let gh_settings = settings(url, repos);
        let window = Duration::from_secs(7 * 86400);
        let (state, handle, events) = State::new(store.clone(), gh_settings.clone(), window);
        let cancel = CancellationToken::new();
        tokio::spawn(state.run(cancel.clone()));
        let gh = GitHubClient::new(&gh_settings).unwrap();
        let poller = Poller::new(
            gh,
            gh_settings,
            window,
            store.clone(),
            events,
            Arc::new(Notify::new()),
        );
        Rig {
            poller,
            state: handle,
            cancel,
            store,
        }
    }

    async fn cycle(&mut self) -> gitops_bridge::github::poller::CycleReport {
        let report = self.poller.poll_cycle().await.unwrap();
        // Let state apply what the cycle sent.
        tokio::time::sleep(Duration::from_millis(150)).await;
        report
    }
}

impl Drop for Rig {
    fn drop(&mut self) {
        self.cancel.cancel();
    }
}

#[tokio::test]
async fn first_cycle_imports_history_and_computes_health() {
    let gh = FakeGitHub::start(world()).await;
    let mut rig = Rig::new(&gh.url(), vec![exact("octo", "api")], None);
    let report = rig.cycle().await;
    assert!(report.problem.is_none(), "{:?}", report.problem);

    let snapshot = rig.state.snapshot();
    let view = &snapshot.repos[&100];
    assert_eq!(view.repo.full_name(), "octo/api");
    assert_eq!(view.repo.default_branch, "main");
    // Newest run is the cancelled CI run.
    assert_eq!(view.last_run.as_ref().unwrap().status, RunState::Cancelled);
    // Three passes, one failure; the cancelled run does not count.
    assert_eq!(view.health.success_rate, Some(75.0));
    assert!(!view.health.failing);
    assert_eq!(view.workflows.len(), 2);
    assert!(snapshot.github.reachable);
    assert!(snapshot.github.rate_limit.is_some());

    // The history import asked for the window with GitHub's `created` filter.
    let requests = gh.requests();
    assert!(
        requests
            .iter()
            .any(|r| r.path == "/repos/octo/api/actions/runs" && r.query.contains("created="))
    );
    // Every request carries the API version and a user agent.
    assert!(
        requests
            .iter()
            .all(|r| r.header("x-github-api-version") == Some("2022-11-28"))
    );
    assert!(requests.iter().all(|r| {
        r.header("user-agent")
            .is_some_and(|u| u.starts_with("gitops-bridge/"))
    }));
}

#[tokio::test]
async fn a_quiet_cycle_costs_no_counted_requests() {
    let gh = FakeGitHub::start(world()).await;
    let mut rig = Rig::new(&gh.url(), vec![exact("octo", "api")], None);
    rig.cycle().await;
    rig.cycle().await;
    let before = gh.counted_requests();
    gh.clear_requests();
    let report = rig.cycle().await;
    assert_eq!(
        gh.counted_requests() - before,
        0,
        "requests: {:#?}",
        gh.requests()
    );
    assert_eq!(report.counted, 0);
    let requests = gh.requests();
    assert!(!requests.is_empty());
    assert!(requests.iter().all(|r| r.status == 304), "{requests:#?}");
}

#[tokio::test]
async fn a_new_completion_is_picked_up_with_its_jobs() {
    let gh = FakeGitHub::start(world()).await;
    let mut rig = Rig::new(&gh.url(), vec![exact("octo", "api")], None);
    rig.cycle().await;
    let mut changes = rig.state.subscribe();

    gh.with_world(|w| {
        let repo = w.repo_mut("octo/api").unwrap();
        let run = Run::completed(
            1006,
            10,
            "CI",
            "failure",
            Utc::now() - chrono::Duration::minutes(10),
            chrono::Duration::minutes(3),
        );
        repo.jobs
            .push(fake_github::Job::for_run(5001, &run, "test"));
        repo.runs.push(run);
    });
    rig.cycle().await;

    let view = rig.state.snapshot().repos[&100].clone();
    assert_eq!(view.last_run.as_ref().unwrap().id, 1006);
    assert_eq!(view.last_run.as_ref().unwrap().status, RunState::Failure);
    assert!(view.health.failing);
    assert_eq!(view.health.failure_streak, 1);

    let mut completed = Vec::new();
    while let Ok(change) = changes.try_recv() {
        if let gitops_bridge::state::Change::RunCompleted { run, .. } = change {
            completed.push(run.id);
        }
    }
    assert_eq!(
        completed,
        vec![1006],
        "exactly the new completion fires an event"
    );
    assert!(
        gh.requests()
            .iter()
            .any(|r| r.path == "/repos/octo/api/actions/runs/1006/attempts/1/jobs"),
        "jobs of the new run were fetched"
    );
}

#[tokio::test]
async fn a_restart_keeps_history_and_does_not_download_it_again() {
    let gh = FakeGitHub::start(world()).await;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("store.db");
    {
        let mut rig = Rig::new(&gh.url(), vec![exact("octo", "api")], Some(&db));
        rig.cycle().await;
        rig.cancel.cancel();
        drop(rig);
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    gh.clear_requests();
    let before = gh.counted_requests();
    let rig = Rig::new(&gh.url(), vec![exact("octo", "api")], Some(&db));
    // Before any request, state already shows the stored history.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let view = rig
        .state
        .snapshot()
        .repos
        .get(&100)
        .cloned()
        .expect("repository loaded from the store");
    assert_eq!(view.health.success_rate, Some(75.0));

    let mut rig = rig;
    rig.cycle().await;
    let requests = gh.requests();
    assert!(
        !requests.iter().any(|r| r.query.contains("created=")),
        "history was imported again: {requests:#?}"
    );
    let runs: Vec<_> = requests
        .iter()
        .filter(|r| r.path == "/repos/octo/api/actions/runs")
        .collect();
    assert!(
        runs.iter()
            .all(|r| r.header("if-none-match").is_some() && r.status == 304),
        "{runs:#?}"
    );
    // Only the repository metadata (kept in memory, not on disk) was counted.
    assert!(gh.counted_requests() - before <= 1);
    let _ = rig.store;
}

#[tokio::test]
async fn owner_wildcard_lists_every_page_and_skips_archived() {
    let mut w = World::new("test-token").owner(Owner::org("homelab", 7));
    for i in 0..130u64 {
        let mut repo = Repo::new(1000 + i, "homelab", format!("repo-{i:03}"));
        repo.archived = i == 5;
        w = w.repo(repo);
    }
    let gh = FakeGitHub::start(w).await;
    let mut rig = Rig::new(
        &gh.url(),
        vec![RepoSelector::Owner {
            owner: "homelab".into(),
            policy: RepoPolicy::default(),
        }],
        None,
    );
    let report = rig.cycle().await;
    assert!(report.problem.is_none(), "{:?}", report.problem);
    let snapshot = rig.state.snapshot();
    assert_eq!(snapshot.repos.len(), 129);
    assert!(
        !snapshot.repos.contains_key(&1005),
        "archived repositories are skipped by default"
    );
    let pages = gh
        .requests()
        .iter()
        .filter(|r| r.path == "/orgs/homelab/repos")
        .count();
    assert_eq!(pages, 2);
}

#[tokio::test]
async fn a_rerun_attempt_is_stored_beside_the_first() {
    let gh = FakeGitHub::start(world()).await;
    let mut rig = Rig::new(&gh.url(), vec![exact("octo", "api")], None);
    rig.cycle().await;
    gh.with_world(|w| {
        let repo = w.repo_mut("octo/api").unwrap();
        let mut again = repo.runs.iter().find(|r| r.id == 1002).unwrap().clone();
        again.attempt = 2;
        again.conclusion = Some("success".into());
        again.run_started_at = Utc::now() - chrono::Duration::minutes(5);
        again.updated_at = Utc::now() - chrono::Duration::minutes(1);
        repo.runs.push(again);
    });
    rig.cycle().await;
    let attempts = rig
        .store
        .call(|db| Ok((db.run(1002, 1)?, db.run(1002, 2)?)))
        .await
        .unwrap();
    assert_eq!(attempts.0.unwrap().state(), RunState::Failure);
    assert_eq!(attempts.1.unwrap().state(), RunState::Success);
    // The re-run fixed the failure: an MTTR now exists.
    assert!(rig.state.snapshot().repos[&100].health.mttr_s.is_some());
}
