//! JSON rendering: every object starts as a copy of a recorded GitHub fixture (see
//! `fixtures/README.md`) and only the fields the `World` knows are overridden, so the
//! key set and nesting are GitHub's own. URLs that point at the API use the fake's base
//! URL; `html_url`s keep `https://github.com/…` like the real API.

use std::sync::OnceLock;

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Map, Value, json};

use crate::world::{
    Annotation, CommitStatus, Deployment, DeploymentStatus, Job, OwnerKind, Repo, Run, Step,
    Workflow, World, combined_state, fake_sha,
};

const LIST_RUNS: &str = include_str!("../fixtures/list-workflow-runs.json");
const GET_RUN: &str = include_str!("../fixtures/get-workflow-run.json");
const LIST_JOBS: &str = include_str!("../fixtures/list-jobs-for-workflow-run.json");
const GET_WORKFLOW: &str = include_str!("../fixtures/get-workflow.json");
const RATE_LIMIT: &str = include_str!("../fixtures/rate-limit.json");
const WEBHOOK_RUN: &str = include_str!("../fixtures/workflow_run.completed.json");
/// Recorded deployment shapes (see `fixtures/README.md`): also compared in tests.
pub const DEPLOYMENT_FIXTURE: &str = include_str!("../fixtures/get-deployment.json");
pub const DEPLOYMENT_STATUS_FIXTURE: &str = include_str!("../fixtures/get-deployment-status.json");
pub const WEBHOOK_DEPLOYMENT_FIXTURE: &str = include_str!("../fixtures/deployment.created.json");
/// Recorded commit status shapes (see `fixtures/README.md`): also compared in tests.
pub const COMMIT_STATUS_FIXTURE: &str = include_str!("../fixtures/create-commit-status.json");
pub const COMBINED_STATUS_FIXTURE: &str =
    include_str!("../fixtures/get-combined-commit-status.json");
/// Also embedded so tests and docs can compare against it; not used for rendering.
pub const LIST_WORKFLOWS_FIXTURE: &str = include_str!("../fixtures/list-repo-workflows.json");
pub const DISPATCH_RESPONSE_FIXTURE: &str =
    include_str!("../fixtures/create-workflow-dispatch.response.json");
pub const VALIDATION_FAILED_FIXTURE: &str = include_str!("../fixtures/422-validation-failed.json");
/// Recorded check-run annotation list (`check-annotation-items`): also compared in tests.
pub const ANNOTATIONS_FIXTURE: &str = include_str!("../fixtures/list-check-run-annotations.json");

/// Parsed fixture objects, parsed once (they are compiled in, so parsing cannot fail
/// unless the files were edited badly — a build-time mistake worth a loud panic in tests).
pub struct Fixtures {
    /// `workflow_runs[0]` of list-workflow-runs.json (shape of list items).
    pub run_list_item: Value,
    /// get-workflow-run.json (adds previous_attempt_url, referenced_workflows).
    pub run: Value,
    /// `jobs[0]` of list-jobs-for-workflow-run.json.
    pub job: Value,
    pub workflow: Value,
    pub rate_limit: Value,
    /// `repository` of the workflow_run webhook: the full repository shape.
    pub repository: Value,
    /// `organization` of the workflow_run webhook (organization-simple).
    pub organization: Value,
    /// `actor` of the REST run (simple-user).
    pub user: Value,
    /// The REST `deployment` example (create, get and list items share it).
    pub deployment: Value,
    /// The REST `deployment-status` example (create, get and list items share it).
    pub deployment_status: Value,
    /// The `deployment` webhook (action `created`).
    pub deployment_webhook: Value,
    /// The REST `status` example (create and list items share it).
    pub commit_status: Value,
    /// The REST `combined-commit-status` example; its `statuses` items are
    /// simple-commit-status objects (no `creator`).
    pub combined_status: Value,
    /// `[0]` of the REST `check-annotation-items` example.
    pub annotation: Value,
}

pub fn fixtures() -> &'static Fixtures {
    static F: OnceLock<Fixtures> = OnceLock::new();
    F.get_or_init(|| {
        let parse =
            |s: &str| -> Value { serde_json::from_str(s).expect("embedded fixture is valid JSON") };
        let list = parse(LIST_RUNS);
        let hook = parse(WEBHOOK_RUN);
        let run_list_item = list["workflow_runs"][0].clone();
        Fixtures {
            user: run_list_item["actor"].clone(),
            run_list_item,
            run: parse(GET_RUN),
            job: parse(LIST_JOBS)["jobs"][0].clone(),
            workflow: parse(GET_WORKFLOW),
            rate_limit: parse(RATE_LIMIT),
            repository: hook["repository"].clone(),
            organization: hook["organization"].clone(),
            deployment: parse(DEPLOYMENT_FIXTURE),
            deployment_status: parse(DEPLOYMENT_STATUS_FIXTURE),
            deployment_webhook: parse(WEBHOOK_DEPLOYMENT_FIXTURE),
            commit_status: parse(COMMIT_STATUS_FIXTURE),
            combined_status: parse(COMBINED_STATUS_FIXTURE),
            annotation: parse(ANNOTATIONS_FIXTURE)[0].clone(),
        }
    })
}

/// RFC 3339 with whole seconds and `Z`, GitHub's usual timestamp form.
pub fn ts(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

fn ts_opt(t: Option<DateTime<Utc>>) -> Value {
    t.map(|t| Value::String(ts(t))).unwrap_or(Value::Null)
}

/// GitHub's legacy global node id: base64("0<len>:<Type><id>"), e.g. `MDQ6VXNlcjE=`.
pub fn node_id(kind: &str, id: u64) -> String {
    base64(format!("0{}:{}{}", kind.len(), kind, id).as_bytes())
}

fn base64(input: &[u8]) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(input.len().div_ceil(3) * 4);
    for chunk in input.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(T[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Percent-encode one URL path segment (names with spaces in badge URLs).
pub fn encode_segment(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Replace substrings in every string value of a JSON tree (fixture URLs → ours).
fn rewrite(v: &mut Value, pairs: &[(&str, &str)]) {
    match v {
        Value::String(s) => {
            for (from, to) in pairs {
                if s.contains(from) {
                    *s = s.replace(from, to);
                }
            }
        }
        Value::Array(a) => a.iter_mut().for_each(|x| rewrite(x, pairs)),
        Value::Object(m) => m.values_mut().for_each(|x| rewrite(x, pairs)),
        _ => {}
    }
}

fn obj(v: &mut Value) -> &mut Map<String, Value> {
    v.as_object_mut().expect("fixture object")
}

/// Id and type of a login: from `World::owners`, else a user with a stable derived id
/// (bots — logins ending in `[bot]` — get type `Bot`).
pub fn account(world: &World, login: &str) -> (String, u64, &'static str) {
    if let Some(o) = world.find_owner(login) {
        let kind = match o.kind {
            OwnerKind::User => "User",
            OwnerKind::Organization => "Organization",
        };
        return (o.login.clone(), o.id, kind);
    }
    let id = if login == world.authenticated_user {
        1
    } else {
        // FNV-1a: stable across runs and platforms.
        let mut h: u64 = 0xcbf29ce484222325;
        for b in login.bytes() {
            h = (h ^ u64::from(b)).wrapping_mul(0x100000001b3);
        }
        10_000_000 + h % 90_000_000
    };
    let kind = if login.ends_with("[bot]") {
        "Bot"
    } else {
        "User"
    };
    (login.to_string(), id, kind)
}

/// simple-user object (`actor`, `owner`, `GET /users/{login}`).
pub fn user_json(world: &World, login: &str, base: &str) -> Value {
    let (login, id, kind) = account(world, login);
    let mut v = fixtures().user.clone();
    let m = obj(&mut v);
    for (k, val) in m.iter_mut() {
        if let Value::String(s) = val
            && k.ends_with("url")
        {
            *s = s
                .replace("https://api.github.com", base)
                .replace("octocat", &login);
        }
    }
    m.insert("login".into(), json!(login));
    m.insert("id".into(), json!(id));
    m.insert(
        "node_id".into(),
        json!(node_id(
            if kind == "Organization" {
                "Organization"
            } else {
                kind
            },
            id
        )),
    );
    m.insert(
        "avatar_url".into(),
        json!(format!("https://avatars.githubusercontent.com/u/{id}?v=4")),
    );
    m.insert(
        "html_url".into(),
        json!(format!("https://github.com/{login}")),
    );
    m.insert("type".into(), json!(kind));
    v
}

/// `GET /orgs/{org}`: the organization-simple fixture plus `type` and `html_url`
/// (organization-full has them; no full example exists in the fixtures).
pub fn org_json(login: &str, id: u64, base: &str) -> Value {
    let mut v = fixtures().organization.clone();
    rewrite(
        &mut v,
        &[("https://api.github.com", base), ("octo-org", login)],
    );
    let m = obj(&mut v);
    m.insert("login".into(), json!(login));
    m.insert("id".into(), json!(id));
    m.insert("node_id".into(), json!(node_id("Organization", id)));
    m.insert(
        "avatar_url".into(),
        json!(format!("https://avatars.githubusercontent.com/u/{id}?v=4")),
    );
    m.insert(
        "html_url".into(),
        json!(format!("https://github.com/{login}")),
    );
    m.insert("type".into(), json!("Organization"));
    v
}

fn repo_overrides(v: &mut Value, world: &World, repo: &Repo, base: &str, fixture_name: &str) {
    let full = repo.full_name();
    rewrite(
        v,
        &[
            ("https://api.github.com", base),
            ("http://api.github.com", base),
            (fixture_name, &full),
        ],
    );
    let m = obj(v);
    m.insert("id".into(), json!(repo.id));
    m.insert("node_id".into(), json!(node_id("Repository", repo.id)));
    m.insert("name".into(), json!(repo.name));
    m.insert("full_name".into(), json!(full));
    m.insert("owner".into(), user_json(world, &repo.owner, base));
    m.insert("private".into(), json!(repo.private));
    m.insert("fork".into(), json!(repo.fork));
    m.insert(
        "html_url".into(),
        json!(format!("https://github.com/{full}")),
    );
    m.insert("url".into(), json!(format!("{base}/repos/{full}")));
    m.insert("description".into(), Value::Null);
}

/// Full repository object (`GET /repos/{o}/{r}` and repo lists), from the webhook's
/// `repository`, which carries default_branch/archived/visibility.
pub fn repo_json(world: &World, repo: &Repo, base: &str) -> Value {
    let mut v = fixtures().repository.clone();
    repo_overrides(&mut v, world, repo, base, "octo-org/octo-repo");
    let last_activity = repo.runs.iter().map(|r| r.updated_at).max();
    let m = obj(&mut v);
    m.insert("default_branch".into(), json!(repo.default_branch));
    m.insert("archived".into(), json!(repo.archived));
    m.insert(
        "visibility".into(),
        json!(if repo.private { "private" } else { "public" }),
    );
    if let Some(t) = last_activity {
        m.insert("pushed_at".into(), json!(ts(t)));
        m.insert("updated_at".into(), json!(ts(t)));
    }
    v
}

/// The minimal repository embedded in runs (`repository`, `head_repository`).
fn run_repo_json(
    world: &World,
    repo: &Repo,
    base: &str,
    fixture: &Value,
    fixture_name: &str,
) -> Value {
    let mut v = fixture.clone();
    repo_overrides(&mut v, world, repo, base, fixture_name);
    v
}

pub fn workflow_json(repo: &Repo, wf: &Workflow, base: &str) -> Value {
    let full = repo.full_name();
    let mut v = fixtures().workflow.clone();
    let m = obj(&mut v);
    m.insert("id".into(), json!(wf.id));
    m.insert("node_id".into(), json!(node_id("Workflow", wf.id)));
    m.insert("name".into(), json!(wf.name));
    m.insert("path".into(), json!(wf.path));
    m.insert("state".into(), json!(wf.state));
    m.insert(
        "url".into(),
        json!(format!("{base}/repos/{full}/actions/workflows/{}", wf.id)),
    );
    m.insert(
        "html_url".into(),
        json!(format!(
            "https://github.com/{full}/blob/{}/{}",
            repo.default_branch, wf.path
        )),
    );
    m.insert(
        "badge_url".into(),
        json!(format!(
            "https://github.com/{full}/workflows/{}/badge.svg",
            encode_segment(&wf.name)
        )),
    );
    v
}

/// A workflow run attempt. `single` selects the get-run shape (with
/// `previous_attempt_url` and `referenced_workflows`) over the list-item shape.
pub fn run_json(world: &World, repo: &Repo, run: &Run, base: &str, single: bool) -> Value {
    let f = fixtures();
    let full = repo.full_name();
    let api = format!("{base}/repos/{full}");
    let mut v = if single {
        f.run.clone()
    } else {
        f.run_list_item.clone()
    };
    let repository = run_repo_json(world, repo, base, &v["repository"], "octocat/Hello-World");
    let head_repository = run_repo_json(
        world,
        repo,
        base,
        &v["head_repository"],
        "octo-org/octo-repo",
    );
    let actor = if run.actor.is_empty() {
        repo.owner.as_str()
    } else {
        run.actor.as_str()
    };
    let actor_json = user_json(world, actor, base);
    let wf = repo.workflows.iter().find(|w| w.id == run.workflow_id);
    let wf_path = wf
        .map(|w| w.path.clone())
        .unwrap_or_else(|| ".github/workflows/unknown.yml".into());
    let check_suite_id = run.id * 10 + u64::from(run.attempt);
    let (author_name, author_email) = {
        let (login, id, _) = account(world, actor);
        (
            login.clone(),
            format!("{id}+{login}@users.noreply.github.com"),
        )
    };

    let m = obj(&mut v);
    m.insert("id".into(), json!(run.id));
    m.insert("name".into(), json!(run.name));
    m.insert("node_id".into(), json!(node_id("Workflow Run", run.id)));
    m.insert("check_suite_id".into(), json!(check_suite_id));
    m.insert(
        "check_suite_node_id".into(),
        json!(node_id("CheckSuite", check_suite_id)),
    );
    m.insert("head_branch".into(), json!(run.head_branch));
    m.insert("head_sha".into(), json!(run.head_sha));
    m.insert(
        "path".into(),
        json!(format!("{wf_path}@{}", run.head_branch)),
    );
    m.insert("run_number".into(), json!(run.run_number));
    m.insert("run_attempt".into(), json!(run.attempt));
    m.insert("event".into(), json!(run.event));
    m.insert("display_title".into(), json!(run.display_title));
    m.insert("status".into(), json!(run.status));
    m.insert("conclusion".into(), json!(run.conclusion));
    m.insert("workflow_id".into(), json!(run.workflow_id));
    m.insert(
        "url".into(),
        json!(format!("{api}/actions/runs/{}", run.id)),
    );
    m.insert(
        "html_url".into(),
        json!(format!("https://github.com/{full}/actions/runs/{}", run.id)),
    );
    m.insert("pull_requests".into(), json!([]));
    m.insert("created_at".into(), json!(ts(run.created_at)));
    m.insert("updated_at".into(), json!(ts(run.updated_at)));
    m.insert("run_started_at".into(), json!(ts(run.run_started_at)));
    m.insert("actor".into(), actor_json.clone());
    m.insert("triggering_actor".into(), actor_json);
    m.insert(
        "jobs_url".into(),
        json!(format!("{api}/actions/runs/{}/jobs", run.id)),
    );
    m.insert(
        "logs_url".into(),
        json!(format!("{api}/actions/runs/{}/logs", run.id)),
    );
    m.insert(
        "check_suite_url".into(),
        json!(format!("{api}/check-suites/{check_suite_id}")),
    );
    m.insert(
        "artifacts_url".into(),
        json!(format!("{api}/actions/runs/{}/artifacts", run.id)),
    );
    m.insert(
        "cancel_url".into(),
        json!(format!("{api}/actions/runs/{}/cancel", run.id)),
    );
    m.insert(
        "rerun_url".into(),
        json!(format!("{api}/actions/runs/{}/rerun", run.id)),
    );
    m.insert(
        "workflow_url".into(),
        json!(format!("{api}/actions/workflows/{}", run.workflow_id)),
    );
    if m.contains_key("previous_attempt_url") {
        let prev = (run.attempt > 1)
            .then(|| format!("{api}/actions/runs/{}/attempts/{}", run.id, run.attempt - 1));
        m.insert("previous_attempt_url".into(), json!(prev));
    }
    if m.contains_key("referenced_workflows") {
        m.insert("referenced_workflows".into(), json!([]));
    }
    m.insert(
        "head_commit".into(),
        json!({
            "id": run.head_sha,
            "tree_id": fake_sha(&format!("tree-{}", run.head_sha)),
            "message": run.display_title,
            "timestamp": ts(run.created_at - chrono::Duration::seconds(3)),
            "author": { "name": author_name, "email": author_email },
            "committer": { "name": "GitHub", "email": "noreply@github.com" }
        }),
    );
    m.insert("repository".into(), repository);
    m.insert("head_repository".into(), head_repository);
    v
}

fn step_json(s: &Step) -> Value {
    json!({
        "name": s.name,
        "status": s.status,
        "conclusion": s.conclusion,
        "number": s.number,
        "started_at": ts_opt(s.started_at),
        "completed_at": ts_opt(s.completed_at),
    })
}

/// One annotation of a job's check run, in the shape of the REST example; a runner's own
/// message has no columns (`null`), as GitHub records it.
pub fn annotation_json(repo: &Repo, job: &Job, a: &Annotation) -> Value {
    let sha = repo
        .runs
        .iter()
        .find(|r| r.id == job.run_id && r.attempt == job.attempt)
        .map(|r| r.head_sha.clone())
        .unwrap_or_default();
    let mut v = fixtures().annotation.clone();
    let m = obj(&mut v);
    m.insert("path".into(), json!(a.path));
    m.insert("start_line".into(), json!(a.line));
    m.insert("end_line".into(), json!(a.line));
    m.insert("start_column".into(), Value::Null);
    m.insert("end_column".into(), Value::Null);
    m.insert("annotation_level".into(), json!(a.level));
    m.insert("title".into(), json!(a.title));
    m.insert("message".into(), json!(a.message));
    m.insert("raw_details".into(), json!(""));
    m.insert(
        "blob_href".into(),
        json!(format!(
            "https://github.com/{}/blob/{sha}/{}",
            repo.full_name(),
            a.path
        )),
    );
    v
}

/// A job, from the REST job example plus `run_attempt` and `created_at`, which real
/// responses carry (the example lacks them; see fixtures/README.md).
pub fn job_json(repo: &Repo, job: &Job, base: &str) -> Value {
    let full = repo.full_name();
    let api = format!("{base}/repos/{full}");
    let run = repo
        .runs
        .iter()
        .find(|r| r.id == job.run_id && r.attempt == job.attempt)
        .or_else(|| repo.latest_run(job.run_id));
    let head_sha = run.map(|r| r.head_sha.clone()).unwrap_or_default();
    let head_branch = run.map(|r| r.head_branch.clone()).unwrap_or_default();
    let workflow_name = run
        .and_then(|r| repo.workflows.iter().find(|w| w.id == r.workflow_id))
        .map(|w| w.name.clone())
        .or_else(|| run.map(|r| r.name.clone()))
        .unwrap_or_default();
    let has_runner = job.started_at.is_some();

    let mut v = fixtures().job.clone();
    let m = obj(&mut v);
    m.insert("id".into(), json!(job.id));
    m.insert("run_id".into(), json!(job.run_id));
    m.insert(
        "run_url".into(),
        json!(format!("{api}/actions/runs/{}", job.run_id)),
    );
    m.insert("run_attempt".into(), json!(job.attempt));
    m.insert("node_id".into(), json!(node_id("Workflow Job", job.id)));
    m.insert("head_sha".into(), json!(head_sha));
    m.insert(
        "url".into(),
        json!(format!("{api}/actions/jobs/{}", job.id)),
    );
    m.insert(
        "html_url".into(),
        json!(format!(
            "https://github.com/{full}/actions/runs/{}/job/{}",
            job.run_id, job.id
        )),
    );
    m.insert("status".into(), json!(job.status));
    m.insert("conclusion".into(), json!(job.conclusion));
    m.insert("created_at".into(), json!(ts(job.created_at)));
    m.insert(
        "started_at".into(),
        json!(ts(job.started_at.unwrap_or(job.created_at))),
    );
    m.insert("completed_at".into(), ts_opt(job.completed_at));
    m.insert("name".into(), json!(job.name));
    m.insert(
        "steps".into(),
        Value::Array(job.steps.iter().map(step_json).collect()),
    );
    m.insert(
        "check_run_url".into(),
        json!(format!("{api}/check-runs/{}", job.id)),
    );
    m.insert("labels".into(), json!(["ubuntu-latest"]));
    if has_runner {
        m.insert("runner_id".into(), json!(job.id % 1000 + 1));
        m.insert(
            "runner_name".into(),
            json!(format!("GitHub Actions {}", job.id % 1000 + 1)),
        );
        m.insert("runner_group_id".into(), json!(2));
        m.insert("runner_group_name".into(), json!("GitHub Actions"));
    } else {
        for k in [
            "runner_id",
            "runner_name",
            "runner_group_id",
            "runner_group_name",
        ] {
            m.insert(k.into(), Value::Null);
        }
    }
    m.insert("workflow_name".into(), json!(workflow_name));
    m.insert("head_branch".into(), json!(head_branch));
    v
}

/// A deployment, from the REST `deployment` example.
pub fn deployment_json(world: &World, repo: &Repo, d: &Deployment, base: &str) -> Value {
    let api = format!("{base}/repos/{}", repo.full_name());
    let mut v = fixtures().deployment.clone();
    let m = obj(&mut v);
    m.insert("url".into(), json!(format!("{api}/deployments/{}", d.id)));
    m.insert("id".into(), json!(d.id));
    m.insert("node_id".into(), json!(node_id("Deployment", d.id)));
    m.insert("sha".into(), json!(d.sha));
    m.insert("ref".into(), json!(d.git_ref));
    m.insert("task".into(), json!(d.task));
    m.insert("payload".into(), d.payload.clone());
    m.insert("original_environment".into(), json!(d.original_environment));
    m.insert("environment".into(), json!(d.environment));
    m.insert("description".into(), json!(d.description));
    m.insert("creator".into(), user_json(world, &d.creator, base));
    m.insert("created_at".into(), json!(ts(d.created_at)));
    m.insert("updated_at".into(), json!(ts(d.updated_at)));
    m.insert(
        "statuses_url".into(),
        json!(format!("{api}/deployments/{}/statuses", d.id)),
    );
    m.insert("repository_url".into(), json!(api));
    m.insert(
        "transient_environment".into(),
        json!(d.transient_environment),
    );
    m.insert(
        "production_environment".into(),
        json!(d.production_environment),
    );
    v
}

/// A deployment status, from the REST `deployment-status` example.
pub fn deployment_status_json(
    world: &World,
    repo: &Repo,
    d: &Deployment,
    st: &DeploymentStatus,
    base: &str,
) -> Value {
    let api = format!("{base}/repos/{}", repo.full_name());
    let deployment_url = format!("{api}/deployments/{}", d.id);
    let mut v = fixtures().deployment_status.clone();
    let m = obj(&mut v);
    m.insert(
        "url".into(),
        json!(format!("{deployment_url}/statuses/{}", st.id)),
    );
    m.insert("id".into(), json!(st.id));
    m.insert("node_id".into(), json!(node_id("DeploymentStatus", st.id)));
    m.insert("state".into(), json!(st.state));
    m.insert("creator".into(), user_json(world, &st.creator, base));
    m.insert("description".into(), json!(st.description));
    m.insert("environment".into(), json!(st.environment));
    m.insert("target_url".into(), json!(st.log_url));
    m.insert("created_at".into(), json!(ts(st.created_at)));
    m.insert("updated_at".into(), json!(ts(st.created_at)));
    m.insert("deployment_url".into(), json!(deployment_url));
    m.insert("repository_url".into(), json!(api));
    m.insert("environment_url".into(), json!(st.environment_url));
    m.insert("log_url".into(), json!(st.log_url));
    v
}

/// The `deployment` webhook delivery body (action `created`), from octokit's example:
/// `{action, deployment, workflow, workflow_run, repository, sender}`. `workflow` and
/// `workflow_run` are null, as for a deployment made through the REST API. The
/// `deployment` is the REST shape, which adds `transient_environment` and
/// `production_environment` to the example's (other recorded deliveries carry them).
pub fn deployment_webhook_json(world: &World, repo: &Repo, d: &Deployment, base: &str) -> Value {
    let mut v = fixtures().deployment_webhook.clone();
    let m = obj(&mut v);
    m.insert("action".into(), json!("created"));
    m.insert("deployment".into(), deployment_json(world, repo, d, base));
    m.insert("workflow".into(), Value::Null);
    m.insert("workflow_run".into(), Value::Null);
    m.insert("repository".into(), repo_json(world, repo, base));
    m.insert("sender".into(), user_json(world, &d.creator, base));
    v
}

/// The fields a commit status shares with the simple-commit-status of combined statuses.
/// `url` is the commit's `…/statuses/{sha}` (GitHub's own, not one per status) and
/// `avatar_url` the creator's avatar.
fn fill_status_fields(
    m: &mut Map<String, Value>,
    world: &World,
    repo: &Repo,
    st: &CommitStatus,
    base: &str,
) {
    let (_, creator_id, _) = account(world, &st.creator);
    m.insert(
        "url".into(),
        json!(format!(
            "{base}/repos/{}/statuses/{}",
            repo.full_name(),
            st.sha
        )),
    );
    m.insert(
        "avatar_url".into(),
        json!(format!(
            "https://avatars.githubusercontent.com/u/{creator_id}?v=4"
        )),
    );
    m.insert("id".into(), json!(st.id));
    m.insert("node_id".into(), json!(node_id("Status", st.id)));
    m.insert("state".into(), json!(st.state));
    m.insert("description".into(), json!(st.description));
    m.insert("target_url".into(), json!(st.target_url));
    m.insert("context".into(), json!(st.context));
    m.insert("created_at".into(), json!(ts(st.created_at)));
    m.insert("updated_at".into(), json!(ts(st.created_at)));
}

/// A commit status (`POST …/statuses/{sha}`, `GET …/commits/{ref}/statuses` items), from
/// the REST `status` example; `creator` is the user who posted it.
pub fn commit_status_json(world: &World, repo: &Repo, st: &CommitStatus, base: &str) -> Value {
    let mut v = fixtures().commit_status.clone();
    let m = obj(&mut v);
    fill_status_fields(m, world, repo, st, base);
    m.insert("creator".into(), user_json(world, &st.creator, base));
    v
}

/// `GET …/commits/{ref}/status`, from the REST `combined-commit-status` example. `latest`
/// is the newest status per context (all of them, for `state`); `page` the ones of this
/// page (GitHub paginates `statuses`), `total_count` counts all contexts. `commit_url` is
/// `…/commits/{sha}` and `url` `…/commits/{sha}/status` (the example lacks `/commits`).
pub fn combined_status_json(
    world: &World,
    repo: &Repo,
    sha: &str,
    latest: &[&CommitStatus],
    page: &[&CommitStatus],
    base: &str,
) -> Value {
    let f = fixtures();
    let api = format!("{base}/repos/{}", repo.full_name());
    let mut v = f.combined_status.clone();
    let item = v["statuses"][0].clone();
    let repository = run_repo_json(world, repo, base, &v["repository"], "octocat/Hello-World");
    let statuses: Vec<Value> = page
        .iter()
        .map(|st| {
            let mut s = item.clone();
            fill_status_fields(obj(&mut s), world, repo, st, base);
            s
        })
        .collect();
    let m = obj(&mut v);
    m.insert("state".into(), json!(combined_state(latest)));
    m.insert("statuses".into(), json!(statuses));
    m.insert("sha".into(), json!(sha));
    m.insert("total_count".into(), json!(latest.len()));
    m.insert("repository".into(), repository);
    m.insert("commit_url".into(), json!(format!("{api}/commits/{sha}")));
    m.insert("url".into(), json!(format!("{api}/commits/{sha}/status")));
    v
}

/// `GET /rate_limit`: the example with `resources.core` (and `rate`, which API version
/// 2026-03-10 drops) from the live counters; other buckets keep the example's numbers.
pub fn rate_limit_json(limit: u32, remaining: u32, reset: i64, include_rate: bool) -> Value {
    let mut v = fixtures().rate_limit.clone();
    let core = json!({
        "limit": limit,
        "used": limit.saturating_sub(remaining),
        "remaining": remaining,
        "reset": reset,
    });
    if let Some(res) = v["resources"].as_object_mut() {
        for (name, bucket) in res.iter_mut() {
            if name == "core" {
                *bucket = core.clone();
            } else if let Some(b) = bucket.as_object_mut() {
                b.insert("reset".into(), json!(reset));
            }
        }
    }
    let m = obj(&mut v);
    if include_rate {
        m.insert("rate".into(), core);
    } else {
        m.remove("rate");
    }
    v
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;
    use crate::world::{CommitStatus, Deployment, DeploymentStatus};

    fn keys(v: &Value) -> BTreeSet<String> {
        v.as_object().expect("an object").keys().cloned().collect()
    }

    fn parse(s: &str) -> Value {
        serde_json::from_str(s).expect("fixture is JSON")
    }

    /// A runner's annotation has the recorded example's keys and GitHub's runner form.
    #[test]
    fn annotation_shape_matches_the_recorded_example() {
        let run = Run::completed(
            7,
            1,
            "CI",
            "failure",
            Utc::now(),
            chrono::Duration::minutes(1),
        );
        let job = Job::for_run(70, &run, "test");
        let repo = Repo::new(1, "octo", "app").run(run);
        let a = Annotation::runner("The runner has received a shutdown signal.");
        let got = annotation_json(&repo, &job, &a);
        assert_eq!(keys(&got), keys(&parse(ANNOTATIONS_FIXTURE)[0]));
        assert_eq!(got["annotation_level"], "failure");
        assert_eq!(got["path"], ".github");
        assert_eq!(got["message"], "The runner has received a shutdown signal.");
        assert!(
            got["blob_href"]
                .as_str()
                .unwrap()
                .starts_with("https://github.com/octo/app/blob/")
        );
    }

    /// Rendered deployments, statuses and the `deployment` webhook have the key sets of
    /// the recorded examples (nested users and repository included).
    #[test]
    fn deployment_shapes_match_recorded_examples() {
        let t = DateTime::parse_from_rfc3339("2025-03-10T12:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let mut d = Deployment::new(30, fake_sha("d"), "staging", "octo", t);
        d.statuses.push(DeploymentStatus {
            id: 31,
            state: "success".into(),
            creator: "octo".into(),
            description: "done".into(),
            environment: "staging".into(),
            log_url: "https://ci.example/31".into(),
            environment_url: String::new(),
            created_at: t,
        });
        let repo = Repo::new(20, "octo", "app").deployment(d);
        let world = World::with_user("octo").repo(repo);
        let repo = &world.repos[0];
        let d = &repo.deployments[0];
        let base = "http://127.0.0.1:1";

        let rest = parse(DEPLOYMENT_FIXTURE);
        let got = deployment_json(&world, repo, d, base);
        assert_eq!(keys(&got), keys(&rest));
        assert_eq!(keys(&got["creator"]), keys(&rest["creator"]));
        assert_eq!(got["node_id"], node_id("Deployment", 30));
        assert_eq!(
            got["statuses_url"],
            format!("{base}/repos/octo/app/deployments/30/statuses")
        );
        assert_eq!(got["production_environment"], false);

        let rest = parse(DEPLOYMENT_STATUS_FIXTURE);
        let got = deployment_status_json(&world, repo, d, &d.statuses[0], base);
        assert_eq!(keys(&got), keys(&rest));
        assert_eq!(keys(&got["creator"]), keys(&rest["creator"]));
        assert_eq!(got["target_url"], got["log_url"]);
        assert_eq!(
            got["deployment_url"],
            format!("{base}/repos/octo/app/deployments/30")
        );

        let hook = parse(WEBHOOK_DEPLOYMENT_FIXTURE);
        let got = deployment_webhook_json(&world, repo, d, base);
        assert_eq!(keys(&got), keys(&hook));
        assert_eq!(got["action"], "created");
        assert_eq!(keys(&got["repository"]), keys(&hook["repository"]));
        assert_eq!(keys(&got["sender"]), keys(&hook["sender"]));
        assert_eq!(
            keys(&got["deployment"]["creator"]),
            keys(&hook["deployment"]["creator"])
        );
        // The hook's deployment is the REST shape: the example's keys plus the two
        // environment flags (which octokit's gh-pages delivery example also carries).
        let mut expected = keys(&hook["deployment"]);
        expected.extend([
            "transient_environment".into(),
            "production_environment".into(),
        ]);
        assert_eq!(keys(&got["deployment"]), expected);
        assert_eq!(got["deployment"], deployment_json(&world, repo, d, base));
    }

    /// Rendered commit statuses and the combined status have the key sets of the recorded
    /// examples (nested creator, simple statuses and repository included).
    #[test]
    fn commit_status_shapes_match_recorded_examples() {
        let t = DateTime::parse_from_rfc3339("2025-03-10T12:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let sha = fake_sha("c");
        let repo = Repo::new(20, "octo", "app")
            .status(
                CommitStatus::new(40, &sha, "pending", "ci/build", "octo", t)
                    .description("building"),
            )
            .status(
                CommitStatus::new(41, &sha, "success", "ci/build", "octo", t)
                    .target_url("https://ci.example/41"),
            )
            .status(CommitStatus::new(42, &sha, "failure", "lint", "octo", t));
        let world = World::with_user("octo").repo(repo);
        let repo = &world.repos[0];
        let base = "http://127.0.0.1:1";

        let rest = parse(COMMIT_STATUS_FIXTURE);
        let got = commit_status_json(&world, repo, &repo.statuses[1], base);
        assert_eq!(keys(&got), keys(&rest));
        assert_eq!(keys(&got["creator"]), keys(&rest["creator"]));
        assert_eq!(got["node_id"], node_id("Status", 41));
        assert_eq!(got["url"], format!("{base}/repos/octo/app/statuses/{sha}"));
        assert_eq!(got["description"], Value::Null);
        assert_eq!(got["target_url"], "https://ci.example/41");
        assert_eq!(got["creator"]["login"], "octo");
        assert_eq!(got["avatar_url"], got["creator"]["avatar_url"]);

        let rest = parse(COMBINED_STATUS_FIXTURE);
        let latest = repo.latest_statuses(&sha);
        let got = combined_status_json(&world, repo, &sha, &latest, &latest, base);
        assert_eq!(keys(&got), keys(&rest));
        assert_eq!(keys(&got["repository"]), keys(&rest["repository"]));
        assert_eq!(
            keys(&got["repository"]["owner"]),
            keys(&rest["repository"]["owner"])
        );
        let items = got["statuses"].as_array().unwrap();
        assert_eq!(items.len(), 2);
        for item in items {
            assert_eq!(keys(item), keys(&rest["statuses"][0]));
        }
        assert_eq!(items[0]["id"], 41);
        assert_eq!(items[1]["id"], 42);
        assert_eq!(got["state"], "failure");
        assert_eq!(got["total_count"], 2);
        assert_eq!(got["sha"], sha);
        assert_eq!(got["repository"]["full_name"], "octo/app");
        assert_eq!(
            got["url"],
            format!("{base}/repos/octo/app/commits/{sha}/status")
        );
    }

    #[test]
    fn combined_state_follows_the_newest_status_per_context() {
        let t = Utc::now();
        let s =
            |id, state: &str, ctx: &str| CommitStatus::new(id, "a".repeat(40), state, ctx, "o", t);
        let sha = "a".repeat(40);
        let repo = Repo::new(1, "o", "r");
        assert_eq!(repo.combined_state(&sha), "pending");
        let repo = repo
            .status(s(2, "failure", "CI"))
            .status(s(3, "success", "ci"));
        // Contexts compare case-insensitively: the newer success replaces the failure.
        assert_eq!(repo.latest_statuses(&sha).len(), 1);
        assert_eq!(repo.combined_state(&sha), "success");
        let repo = repo.status(s(4, "pending", "deploy"));
        assert_eq!(repo.combined_state(&sha), "pending");
        let repo = repo.status(s(5, "error", "lint"));
        assert_eq!(repo.combined_state(&sha), "failure");
        assert_eq!(repo.combined_state(&"b".repeat(40)), "pending");
    }

    #[test]
    fn node_ids_match_github_examples() {
        assert_eq!(node_id("User", 1), "MDQ6VXNlcjE=");
        assert_eq!(
            node_id("Repository", 1296269),
            "MDEwOlJlcG9zaXRvcnkxMjk2MjY5"
        );
        assert_eq!(node_id("Workflow", 161335), "MDg6V29ya2Zsb3cxNjEzMzU=");
        assert_eq!(node_id("CheckSuite", 42), "MDEwOkNoZWNrU3VpdGU0Mg==");
        assert_eq!(node_id("Deployment", 1), "MDEwOkRlcGxveW1lbnQx");
        assert_eq!(
            node_id("DeploymentStatus", 1),
            "MDE2OkRlcGxveW1lbnRTdGF0dXMx"
        );
        assert_eq!(node_id("Status", 1), "MDY6U3RhdHVzMQ==");
    }
}
