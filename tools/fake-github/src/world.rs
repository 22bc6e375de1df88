//! The fake's state: owners, repositories, workflows, runs (one entry per attempt),
//! jobs, deployments with their statuses, and commit statuses. Plain data with public fields so tests can
//! build and mutate it directly; the HTTP layer renders it into GitHub's JSON shapes
//! (see `render`).

use chrono::{DateTime, Duration, Utc};
use sha2::{Digest, Sha256};

use crate::git::GitStore;

/// Token accepted by worlds built without an explicit one (`World::with_user`, `demo`).
pub const DEFAULT_TOKEN: &str = "ghp_fakeGitHubToken0000000000000000000000";

/// Everything the fake GitHub knows. Mutate it between polls via `FakeGitHub::with_world`.
#[derive(Debug, Clone)]
pub struct World {
    /// The only token accepted (`Authorization: Bearer <token>` or `token <token>`).
    pub token: String,
    /// Login returned by `GET /user`; its repos are "owner" affiliation for `/user/repos`.
    pub authenticated_user: String,
    /// Users and organizations. Logins not listed here render as users with a derived id.
    pub owners: Vec<Owner>,
    pub repos: Vec<Repo>,
    /// A classic token's OAuth scopes, sent as `x-oauth-scopes`. Without `workflow`, GitHub
    /// refuses any ref update that changes a file under `.github/workflows/`.
    pub token_scopes: Vec<String>,
}

/// The scopes of [`World`]'s token unless a test says otherwise.
pub fn default_scopes() -> Vec<String> {
    vec!["repo".into(), "workflow".into()]
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OwnerKind {
    User,
    Organization,
}

#[derive(Debug, Clone)]
pub struct Owner {
    pub login: String,
    pub id: u64,
    pub kind: OwnerKind,
}

#[derive(Debug, Clone)]
pub struct Repo {
    pub id: u64,
    /// Owner login (`homelab-demo`), not the full name.
    pub owner: String,
    pub name: String,
    pub default_branch: String,
    pub private: bool,
    pub archived: bool,
    pub fork: bool,
    pub workflows: Vec<Workflow>,
    /// One entry per run *attempt*: a rerun pushes a copy with `attempt + 1` and the same
    /// `id`, so earlier attempts stay readable. Lists show only the latest attempt.
    pub runs: Vec<Run>,
    /// Jobs of all runs and attempts (`run_id` + `attempt` say which).
    pub jobs: Vec<Job>,
    /// Git objects and branches (the Git Data API). The default branch has one commit.
    pub git: GitStore,
    /// Branches a ruleset protects with `pull_request` (no direct pushes), as
    /// `GET rules/branches/{branch}` reports them.
    pub pr_only_branches: Vec<String>,
    pub pulls: Vec<PullRequest>,
    /// When set, a ref update through the API (a push) starts one run per workflow file in
    /// the pushed tree, on the pushed commit, finished with this conclusion: how waves of
    /// a template rollout see the runs their commits triggered.
    pub push_conclusion: Option<String>,
    /// Deployments in creation order (the REST list shows them newest first).
    pub deployments: Vec<Deployment>,
    /// Commit statuses (`POST /repos/{o}/{r}/statuses/{sha}`) of all commits, in creation
    /// order (the REST list shows a commit's newest first).
    pub statuses: Vec<CommitStatus>,
}

/// One commit status (`POST …/statuses/{sha}`). GitHub keeps every one; the combined
/// status of a commit uses the newest per `context` (compared case-insensitively).
#[derive(Debug, Clone)]
pub struct CommitStatus {
    pub id: u64,
    /// 40 lowercase hex digits.
    pub sha: String,
    /// `error`, `failure`, `pending` or `success` (see [`COMMIT_STATES`]).
    pub state: String,
    /// `default` unless the request named one.
    pub context: String,
    pub description: Option<String>,
    pub target_url: Option<String>,
    /// Login of the creator (the authenticated user for statuses made over HTTP).
    pub creator: String,
    pub created_at: DateTime<Utc>,
}

/// The states `POST …/statuses/{sha}` accepts.
pub const COMMIT_STATES: &[&str] = &["error", "failure", "pending", "success"];

/// A deployment (`POST /repos/{o}/{r}/deployments`) and its statuses.
#[derive(Debug, Clone)]
pub struct Deployment {
    pub id: u64,
    pub sha: String,
    /// The `ref` as requested: a branch, tag or sha.
    pub git_ref: String,
    /// `deploy` unless the request named another task.
    pub task: String,
    /// Whatever the request sent as `payload` (`{}` when none).
    pub payload: serde_json::Value,
    /// The environment at creation; `environment` follows later statuses that name one.
    pub original_environment: String,
    pub environment: String,
    pub description: Option<String>,
    /// Login of the creator (also the `sender` of its webhook).
    pub creator: String,
    pub transient_environment: bool,
    pub production_environment: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Oldest first, as they were created.
    pub statuses: Vec<DeploymentStatus>,
}

/// One status of a deployment (`POST …/deployments/{id}/statuses`).
#[derive(Debug, Clone)]
pub struct DeploymentStatus {
    pub id: u64,
    /// `error`, `failure`, `inactive`, `in_progress`, `queued`, `pending` or `success`.
    pub state: String,
    pub creator: String,
    pub description: String,
    pub environment: String,
    /// GitHub keeps `target_url` equal to `log_url` (the newer name of the same thing).
    pub log_url: String,
    pub environment_url: String,
    pub created_at: DateTime<Utc>,
}

/// The states `POST …/statuses` accepts.
pub const DEPLOYMENT_STATES: &[&str] = &[
    "error",
    "failure",
    "inactive",
    "in_progress",
    "queued",
    "pending",
    "success",
];

/// An open or closed pull request.
#[derive(Debug, Clone)]
pub struct PullRequest {
    pub number: u64,
    pub title: String,
    pub body: String,
    /// Branch name in the same repository.
    pub head: String,
    pub base: String,
    /// `open` or `closed`.
    pub state: String,
}

#[derive(Debug, Clone)]
pub struct Workflow {
    pub id: u64,
    pub name: String,
    /// Path in the repo, e.g. `.github/workflows/ci.yml`; its file name also addresses it.
    pub path: String,
    /// `active`, `disabled_manually`, `disabled_inactivity`, …
    pub state: String,
}

#[derive(Debug, Clone)]
pub struct Run {
    pub id: u64,
    pub attempt: u32,
    pub workflow_id: u64,
    pub name: String,
    pub head_branch: String,
    pub head_sha: String,
    pub event: String,
    /// `queued`, `in_progress`, `completed`, `waiting`, `requested`, `pending`.
    pub status: String,
    pub conclusion: Option<String>,
    pub run_number: u64,
    pub display_title: String,
    /// Login of actor and triggering actor; empty means "the repository owner".
    pub actor: String,
    pub created_at: DateTime<Utc>,
    pub run_started_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone)]
pub struct Job {
    pub id: u64,
    pub run_id: u64,
    /// The run attempt this job belongs to.
    pub attempt: u32,
    pub name: String,
    pub status: String,
    pub conclusion: Option<String>,
    pub created_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub completed_at: Option<DateTime<Utc>>,
    pub steps: Vec<Step>,
    /// Its check run's annotations (`GET …/check-runs/{job id}/annotations`): what the
    /// runner or a tool reported, e.g. "The runner has received a shutdown signal…".
    pub annotations: Vec<Annotation>,
}

/// One check-run annotation (`check-annotation` in GitHub's OpenAPI description).
#[derive(Debug, Clone)]
pub struct Annotation {
    /// `notice`, `warning` or `failure`.
    pub level: String,
    pub title: String,
    pub message: String,
    /// The file it is about; GitHub's own runner messages name `.github`.
    pub path: String,
    pub line: u32,
}

impl Annotation {
    /// A message of the runner itself, as GitHub records it: a `failure` on `.github`,
    /// line 1, without a title.
    pub fn runner(message: impl Into<String>) -> Annotation {
        Annotation {
            level: "failure".into(),
            title: String::new(),
            message: message.into(),
            path: ".github".into(),
            line: 1,
        }
    }
}

#[derive(Debug, Clone)]
pub struct Step {
    pub name: String,
    pub number: u32,
    pub status: String,
    pub conclusion: Option<String>,
    pub started_at: Option<DateTime<Utc>>,
    pub completed_at: Option<DateTime<Utc>>,
}

/// Deterministic 40-hex "commit sha" from a seed, so worlds are reproducible.
pub fn fake_sha(seed: &str) -> String {
    let digest = Sha256::digest(seed.as_bytes());
    hex::encode(digest)[..40].to_string()
}

impl World {
    /// An empty world accepting `token`, authenticated as `octocat`.
    pub fn new(token: impl Into<String>) -> World {
        World {
            token: token.into(),
            authenticated_user: "octocat".to_string(),
            owners: Vec::new(),
            repos: Vec::new(),
            token_scopes: default_scopes(),
        }
    }

    /// An empty world authenticated as `login` (token `DEFAULT_TOKEN`); the user is added
    /// to `owners` with id 1.
    pub fn with_user(login: impl Into<String>) -> World {
        let login = login.into();
        World {
            token: DEFAULT_TOKEN.to_string(),
            authenticated_user: login.clone(),
            owners: vec![Owner::user(login, 1)],
            repos: Vec::new(),
            token_scopes: default_scopes(),
        }
    }

    /// Builder: add an owner.
    pub fn owner(mut self, owner: Owner) -> World {
        self.owners.push(owner);
        self
    }

    /// Builder: add a repository.
    pub fn repo(mut self, repo: Repo) -> World {
        self.repos.push(repo);
        self
    }

    /// Repository by `owner/name` (case-insensitive, like GitHub).
    pub fn repo_mut(&mut self, full_name: &str) -> Option<&mut Repo> {
        self.repos
            .iter_mut()
            .find(|r| r.full_name().eq_ignore_ascii_case(full_name))
    }

    /// Repository by `owner/name` (case-insensitive).
    pub fn find_repo(&self, full_name: &str) -> Option<&Repo> {
        self.repos
            .iter()
            .find(|r| r.full_name().eq_ignore_ascii_case(full_name))
    }

    /// Owner by login (case-insensitive).
    pub fn find_owner(&self, login: &str) -> Option<&Owner> {
        self.owners
            .iter()
            .find(|o| o.login.eq_ignore_ascii_case(login))
    }

    /// Largest id used by any object, so new runs/jobs get ids unique across the world.
    pub fn max_id(&self) -> u64 {
        let mut max = self.owners.iter().map(|o| o.id).max().unwrap_or(0);
        for r in &self.repos {
            max = max.max(r.id);
            max = max.max(r.workflows.iter().map(|w| w.id).max().unwrap_or(0));
            max = max.max(r.runs.iter().map(|x| x.id).max().unwrap_or(0));
            max = max.max(r.jobs.iter().map(|j| j.id).max().unwrap_or(0));
            max = max.max(r.statuses.iter().map(|s| s.id).max().unwrap_or(0));
            for d in &r.deployments {
                max = max.max(d.id);
                max = max.max(d.statuses.iter().map(|s| s.id).max().unwrap_or(0));
            }
        }
        max
    }

    /// The demo homelab; see `demo.rs`.
    pub fn demo(now: DateTime<Utc>) -> World {
        crate::demo::demo_world(now)
    }
}

impl Owner {
    pub fn user(login: impl Into<String>, id: u64) -> Owner {
        Owner {
            login: login.into(),
            id,
            kind: OwnerKind::User,
        }
    }
    pub fn org(login: impl Into<String>, id: u64) -> Owner {
        Owner {
            login: login.into(),
            id,
            kind: OwnerKind::Organization,
        }
    }
}

impl Repo {
    /// Public, not archived, not a fork, default branch `main`, no workflows or runs.
    pub fn new(id: u64, owner: impl Into<String>, name: impl Into<String>) -> Repo {
        Repo {
            id,
            owner: owner.into(),
            name: name.into(),
            default_branch: "main".to_string(),
            private: false,
            archived: false,
            fork: false,
            workflows: Vec::new(),
            runs: Vec::new(),
            jobs: Vec::new(),
            git: initial_git("main"),
            pr_only_branches: Vec::new(),
            pulls: Vec::new(),
            push_conclusion: None,
            deployments: Vec::new(),
            statuses: Vec::new(),
        }
    }

    /// Builder: pushes through the API trigger runs that end with `conclusion`.
    pub fn runs_on_push(mut self, conclusion: &str) -> Repo {
        self.push_conclusion = Some(conclusion.to_string());
        self
    }

    /// What GitHub does after a push of `sha` to `branch`, when [`Repo::runs_on_push`] is set:
    /// a `push` run per workflow file of the pushed tree (new files register as workflows),
    /// completed a minute after it was queued.
    pub fn pushed(&mut self, branch: &str, sha: &str) {
        let Some(conclusion) = self.push_conclusion.clone() else {
            return;
        };
        let paths: Vec<String> = self
            .git
            .files_at(sha)
            .map(|files| {
                files
                    .keys()
                    .filter(|p| {
                        p.starts_with(".github/workflows/")
                            && (p.ends_with(".yml") || p.ends_with(".yaml"))
                    })
                    .cloned()
                    .collect()
            })
            .unwrap_or_default();
        let now = Utc::now();
        for path in paths {
            let workflow_id = match self.workflows.iter().find(|w| w.path == path) {
                Some(w) => w.id,
                None => {
                    let id = self.workflows.iter().map(|w| w.id).max().unwrap_or(0) + 1;
                    let name = path.rsplit('/').next().unwrap_or(&path).to_string();
                    self.workflows.push(Workflow::new(id, name, path.clone()));
                    id
                }
            };
            let name = self
                .workflows
                .iter()
                .find(|w| w.id == workflow_id)
                .map(|w| w.name.clone())
                .unwrap_or_default();
            let id = self
                .runs
                .iter()
                .map(|r| r.id)
                .max()
                .unwrap_or(self.id * 1000)
                + 1;
            self.runs.push(
                Run::completed(
                    id,
                    workflow_id,
                    name,
                    &conclusion,
                    now - Duration::seconds(70),
                    Duration::minutes(1),
                )
                .sha(sha)
                .on_branch(branch),
            );
        }
    }

    /// The default branch exists in git even when a test renamed it after [`Repo::new`].
    pub fn ensure_default_branch(&mut self) {
        if !self.git.refs.contains_key(&self.default_branch) {
            let head = self.git.refs.get("main").cloned();
            match head {
                Some(sha) => {
                    self.git.refs.insert(self.default_branch.clone(), sha);
                }
                None => {
                    let branch = self.default_branch.clone();
                    self.git.commit_files(
                        &branch,
                        &[("README.md", Some("# repository\n"))],
                        "Initial commit",
                    );
                }
            }
        }
    }

    /// Builder: commit these files (path, content) on the default branch.
    pub fn files(mut self, files: &[(&str, &str)]) -> Repo {
        let files: Vec<(&str, Option<&str>)> = files.iter().map(|(p, c)| (*p, Some(*c))).collect();
        self.ensure_default_branch();
        let branch = self.default_branch.clone();
        self.git.commit_files(&branch, &files, "Add files");
        self
    }

    pub fn full_name(&self) -> String {
        format!("{}/{}", self.owner, self.name)
    }

    /// Builder: add a workflow.
    pub fn workflow(mut self, wf: Workflow) -> Repo {
        self.workflows.push(wf);
        self
    }

    /// Builder: add a run (attempt).
    pub fn run(mut self, run: Run) -> Repo {
        self.runs.push(run);
        self
    }

    /// Builder: add a job.
    pub fn job(mut self, job: Job) -> Repo {
        self.jobs.push(job);
        self
    }

    /// Builder: add a deployment.
    pub fn deployment(mut self, deployment: Deployment) -> Repo {
        self.deployments.push(deployment);
        self
    }

    /// Latest attempt of run `id`.
    pub fn latest_run(&self, id: u64) -> Option<&Run> {
        self.runs
            .iter()
            .filter(|r| r.id == id)
            .max_by_key(|r| r.attempt)
    }

    /// Latest attempt of run `id`, mutable.
    pub fn latest_run_mut(&mut self, id: u64) -> Option<&mut Run> {
        self.runs
            .iter_mut()
            .filter(|r| r.id == id)
            .max_by_key(|r| r.attempt)
    }

    /// One entry per run id: its latest attempt.
    pub fn latest_runs(&self) -> Vec<&Run> {
        let mut out: Vec<&Run> = Vec::new();
        for r in &self.runs {
            match out.iter_mut().find(|x| x.id == r.id) {
                Some(slot) if slot.attempt < r.attempt => *slot = r,
                Some(_) => {}
                None => out.push(r),
            }
        }
        out
    }

    /// Deployments newest first (`created_at`, then id), as GitHub lists them.
    pub fn deployments_newest_first(&self) -> Vec<&Deployment> {
        let mut list: Vec<&Deployment> = self.deployments.iter().collect();
        list.sort_by(|a, b| b.created_at.cmp(&a.created_at).then(b.id.cmp(&a.id)));
        list
    }

    /// Deployment by id.
    pub fn find_deployment(&self, id: u64) -> Option<&Deployment> {
        self.deployments.iter().find(|d| d.id == id)
    }

    /// Commit statuses of `sha` (case-insensitive), newest first (`created_at`, then id),
    /// as `GET …/commits/{ref}/statuses` lists them.
    pub fn statuses_newest_first(&self, sha: &str) -> Vec<&CommitStatus> {
        let mut list: Vec<&CommitStatus> = self
            .statuses
            .iter()
            .filter(|s| s.sha.eq_ignore_ascii_case(sha))
            .collect();
        list.sort_by(|a, b| b.created_at.cmp(&a.created_at).then(b.id.cmp(&a.id)));
        list
    }

    /// The newest status of each context (case-insensitive) of `sha`, in the order the
    /// contexts first got a status: the `statuses` of the combined status.
    pub fn latest_statuses(&self, sha: &str) -> Vec<&CommitStatus> {
        let mut out: Vec<&CommitStatus> = Vec::new();
        for s in self.statuses_newest_first(sha).into_iter().rev() {
            match out
                .iter_mut()
                .find(|x| x.context.eq_ignore_ascii_case(&s.context))
            {
                Some(slot) => *slot = s,
                None => out.push(s),
            }
        }
        out
    }

    /// The combined state of `sha`: `failure` if any context's newest status is `error`
    /// or `failure`, else `pending` if any is `pending` or there is none, else `success`.
    pub fn combined_state(&self, sha: &str) -> &'static str {
        combined_state(&self.latest_statuses(sha))
    }

    /// Builder: add a commit status.
    pub fn status(mut self, status: CommitStatus) -> Repo {
        self.statuses.push(status);
        self
    }

    /// The commit a deployment of `git_ref` points at: a 40-hex sha as given, else the
    /// head of that branch (git, else the newest run on it), else a stable fake sha.
    pub fn resolve_ref(&self, git_ref: &str) -> String {
        if git_ref.len() == 40 && git_ref.bytes().all(|b| b.is_ascii_hexdigit()) {
            return git_ref.to_ascii_lowercase();
        }
        let branch = git_ref.strip_prefix("refs/heads/").unwrap_or(git_ref);
        if let Some(sha) = self.git.refs.get(branch) {
            return sha.clone();
        }
        self.latest_runs()
            .into_iter()
            .filter(|r| r.head_branch == branch)
            .max_by_key(|r| (r.created_at, r.id))
            .map(|r| r.head_sha.clone())
            .unwrap_or_else(|| fake_sha(&format!("{}@{branch}", self.full_name())))
    }

    /// Workflow by numeric id or by file name (`ci.yml`), like GitHub's `{workflow_id}`.
    pub fn find_workflow(&self, id_or_file: &str) -> Option<&Workflow> {
        if let Ok(id) = id_or_file.parse::<u64>() {
            return self.workflows.iter().find(|w| w.id == id);
        }
        self.workflows.iter().find(|w| w.file_name() == id_or_file)
    }

    /// Branches known to exist: the default branch plus every branch a run was on.
    pub fn has_branch(&self, branch: &str) -> bool {
        self.default_branch == branch
            || self.git.refs.contains_key(branch)
            || self.runs.iter().any(|r| r.head_branch == branch)
    }
}

impl Deployment {
    /// A deployment of `sha` (also its `ref`) to `environment` by `creator`, created at
    /// `at`, with GitHub's defaults: task `deploy`, empty payload, no description, not
    /// transient, production exactly when the environment is `production`, no statuses.
    pub fn new(
        id: u64,
        sha: impl Into<String>,
        environment: impl Into<String>,
        creator: impl Into<String>,
        at: DateTime<Utc>,
    ) -> Deployment {
        let sha = sha.into();
        let environment = environment.into();
        Deployment {
            id,
            git_ref: sha.clone(),
            sha,
            task: "deploy".to_string(),
            payload: serde_json::json!({}),
            original_environment: environment.clone(),
            production_environment: environment == "production",
            environment,
            description: None,
            creator: creator.into(),
            transient_environment: false,
            created_at: at,
            updated_at: at,
            statuses: Vec::new(),
        }
    }

    /// The newest status, if any.
    pub fn latest_status(&self) -> Option<&DeploymentStatus> {
        self.statuses.last()
    }
}

/// The combined state of the newest status per context (see [`Repo::combined_state`]).
pub fn combined_state(latest: &[&CommitStatus]) -> &'static str {
    if latest
        .iter()
        .any(|s| s.state == "error" || s.state == "failure")
    {
        "failure"
    } else if latest.is_empty() || latest.iter().any(|s| s.state == "pending") {
        "pending"
    } else {
        "success"
    }
}

impl CommitStatus {
    /// A status of `sha` in `context` by `creator` at `at`, without description or
    /// target URL.
    pub fn new(
        id: u64,
        sha: impl Into<String>,
        state: impl Into<String>,
        context: impl Into<String>,
        creator: impl Into<String>,
        at: DateTime<Utc>,
    ) -> CommitStatus {
        CommitStatus {
            id,
            sha: sha.into().to_ascii_lowercase(),
            state: state.into(),
            context: context.into(),
            description: None,
            target_url: None,
            creator: creator.into(),
            created_at: at,
        }
    }

    /// Builder: set the description.
    pub fn description(mut self, description: impl Into<String>) -> CommitStatus {
        self.description = Some(description.into());
        self
    }

    /// Builder: set the target URL.
    pub fn target_url(mut self, url: impl Into<String>) -> CommitStatus {
        self.target_url = Some(url.into());
        self
    }
}

impl Workflow {
    /// `path` may be a bare file name (`ci.yml`); it is placed under `.github/workflows/`.
    pub fn new(id: u64, name: impl Into<String>, path: impl Into<String>) -> Workflow {
        let path = path.into();
        let path = if path.contains('/') {
            path
        } else {
            format!(".github/workflows/{path}")
        };
        Workflow {
            id,
            name: name.into(),
            path,
            state: "active".to_string(),
        }
    }

    pub fn file_name(&self) -> &str {
        self.path.rsplit('/').next().unwrap_or(&self.path)
    }
}

impl Run {
    fn base(id: u64, workflow_id: u64, name: String, created_at: DateTime<Utc>) -> Run {
        Run {
            id,
            attempt: 1,
            workflow_id,
            display_title: name.clone(),
            name,
            head_branch: "main".to_string(),
            head_sha: fake_sha(&format!("run-{id}")),
            event: "push".to_string(),
            status: "queued".to_string(),
            conclusion: None,
            run_number: id,
            actor: String::new(),
            created_at,
            run_started_at: created_at,
            updated_at: created_at,
        }
    }

    /// A finished run: queued 10 s, then ran for `duration`.
    pub fn completed(
        id: u64,
        workflow_id: u64,
        name: impl Into<String>,
        conclusion: &str,
        created_at: DateTime<Utc>,
        duration: Duration,
    ) -> Run {
        let mut r = Run::base(id, workflow_id, name.into(), created_at);
        r.status = "completed".to_string();
        r.conclusion = Some(conclusion.to_string());
        r.run_started_at = created_at + Duration::seconds(10);
        r.updated_at = r.run_started_at + duration;
        r
    }

    /// A running run: queued 10 s, started, no conclusion.
    pub fn in_progress(
        id: u64,
        workflow_id: u64,
        name: impl Into<String>,
        created_at: DateTime<Utc>,
    ) -> Run {
        let mut r = Run::base(id, workflow_id, name.into(), created_at);
        r.status = "in_progress".to_string();
        r.run_started_at = created_at + Duration::seconds(10);
        r.updated_at = r.run_started_at;
        r
    }

    /// A queued run (`run_started_at` = `created_at`, as GitHub reports before start).
    pub fn queued(
        id: u64,
        workflow_id: u64,
        name: impl Into<String>,
        created_at: DateTime<Utc>,
    ) -> Run {
        Run::base(id, workflow_id, name.into(), created_at)
    }

    pub fn on_branch(mut self, branch: impl Into<String>) -> Run {
        self.head_branch = branch.into();
        self
    }
    pub fn attempt(mut self, attempt: u32) -> Run {
        self.attempt = attempt;
        self
    }
    pub fn sha(mut self, sha: impl Into<String>) -> Run {
        self.head_sha = sha.into();
        self
    }
    pub fn event(mut self, event: impl Into<String>) -> Run {
        self.event = event.into();
        self
    }
    pub fn actor(mut self, login: impl Into<String>) -> Run {
        self.actor = login.into();
        self
    }
    pub fn title(mut self, title: impl Into<String>) -> Run {
        self.display_title = title.into();
        self
    }
    pub fn number(mut self, run_number: u64) -> Run {
        self.run_number = run_number;
        self
    }

    pub fn is_completed(&self) -> bool {
        self.status == "completed"
    }
}

impl Job {
    /// A job of `run` (same attempt) whose status/conclusion/times follow the run's:
    /// created when the run started, started 5 s later, completed 1 s before the run's
    /// `updated_at` when the run is completed. Add steps with `.step(..)`.
    pub fn for_run(id: u64, run: &Run, name: impl Into<String>) -> Job {
        let created = run.run_started_at;
        let (started, completed) = match run.status.as_str() {
            "completed" => {
                let done = (run.updated_at - Duration::seconds(1)).max(created);
                (Some((created + Duration::seconds(5)).min(done)), Some(done))
            }
            "in_progress" => (Some(created + Duration::seconds(5)), None),
            _ => (None, None),
        };
        Job {
            id,
            run_id: run.id,
            attempt: run.attempt,
            name: name.into(),
            status: run.status.clone(),
            conclusion: run.conclusion.clone(),
            created_at: created,
            started_at: started,
            completed_at: completed,
            steps: Vec::new(),
            annotations: Vec::new(),
        }
    }

    /// Builder: append a step (numbered automatically).
    pub fn step(mut self, mut step: Step) -> Job {
        step.number = self.steps.len() as u32 + 1;
        self.steps.push(step);
        self
    }
}

impl Step {
    pub fn new(
        name: impl Into<String>,
        status: &str,
        conclusion: Option<&str>,
        started_at: Option<DateTime<Utc>>,
        completed_at: Option<DateTime<Utc>>,
    ) -> Step {
        Step {
            name: name.into(),
            number: 0,
            status: status.to_string(),
            conclusion: conclusion.map(str::to_string),
            started_at,
            completed_at,
        }
    }
}

/// A repository's first commit: a README on `branch`, as GitHub's "Initialize this
/// repository" makes it.
fn initial_git(branch: &str) -> GitStore {
    let mut g = GitStore::default();
    g.commit_files(
        branch,
        &[("README.md", Some("# repository\n"))],
        "Initial commit",
    );
    g
}
