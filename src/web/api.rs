//! The JSON API (schemas in docs/api.md) and its server-sent event stream.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{ConnectInfo, Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use futures_util::Stream;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tokio::sync::broadcast;

use super::WebContext;
use super::auth;
use crate::commands::{CommandSource, parse};
use crate::metrics::{self, Health, Window};
use crate::model::GitHubStatus;
use crate::state::{Change, RepoView, RunSummary, Snapshot, WorkflowView};
use crate::store::{HistoryFilter, StoreError};

fn error(status: StatusCode, message: impl Into<String>) -> Response {
    (status, Json(json!({ "error": message.into() }))).into_response()
}

fn find<'s>(snapshot: &'s Snapshot, owner: &str, name: &str) -> Option<&'s RepoView> {
    snapshot
        .repos
        .values()
        .find(|v| v.repo.is(owner, name))
        .map(|v| &**v)
}

fn not_watched(owner: &str, name: &str) -> Response {
    error(
        StatusCode::NOT_FOUND,
        format!("{owner}/{name} is not a watched repository"),
    )
}

/// One repository in lists.
#[derive(Serialize)]
pub struct RepoSummary<'a> {
    pub id: u64,
    pub full_name: String,
    pub html_url: &'a str,
    pub default_branch: &'a str,
    pub available: bool,
    pub unavailable_reason: Option<&'a str>,
    pub health: &'a Health,
    pub last_run: Option<&'a RunSummary>,
    /// Actions the settings allow.
    pub actions: Vec<&'static str>,
    /// Workflows offered for dispatch.
    pub dispatch: &'a [String],
    /// The buttons these allow, labelled as in Home Assistant (the dashboard draws them).
    pub buttons: Vec<crate::commands::Button>,
}

impl<'a> RepoSummary<'a> {
    pub fn of(v: &'a RepoView) -> Self {
        RepoSummary {
            id: v.repo.id,
            full_name: v.repo.full_name(),
            html_url: &v.repo.html_url,
            default_branch: &v.repo.default_branch,
            available: v.available,
            unavailable_reason: v.unavailable_reason.as_deref(),
            health: &v.health,
            last_run: v.last_run.as_ref(),
            actions: v.policy.allow.iter().map(|a| a.as_str()).collect(),
            dispatch: &v.policy.dispatch,
            buttons: crate::commands::buttons(&v.policy),
        }
    }
}

/// `GET /api/repos`
pub async fn repos(State(ctx): State<Arc<WebContext>>) -> Response {
    let snapshot = ctx.state.snapshot();
    let repos: Vec<RepoSummary> = snapshot
        .repos
        .values()
        .map(|v| RepoSummary::of(v))
        .collect();
    Json(json!({
        "generated_at": Utc::now(),
        "github": &snapshot.github,
        "repositories": repos,
    }))
    .into_response()
}

#[derive(Serialize)]
struct WorkflowStatus<'a> {
    id: u64,
    name: &'a str,
    file: &'a str,
    state: &'a str,
    health: &'a Health,
    last_run: Option<&'a RunSummary>,
}

impl<'a> WorkflowStatus<'a> {
    fn of(w: &'a WorkflowView) -> Self {
        WorkflowStatus {
            id: w.workflow.id,
            name: &w.workflow.name,
            file: w.workflow.file_name(),
            state: &w.workflow.state,
            health: &w.health,
            last_run: w.last_run.as_ref(),
        }
    }
}

/// `GET /api/workflow-status/{owner}/{repo}`: current status, health, each workflow, and a
/// daily trend over the metrics window.
pub async fn workflow_status(
    State(ctx): State<Arc<WebContext>>,
    Path((owner, name)): Path<(String, String)>,
) -> Response {
    let snapshot = ctx.state.snapshot();
    let Some(view) = find(&snapshot, &owner, &name) else {
        return not_watched(&owner, &name);
    };
    match status_report(&ctx, view).await {
        Ok(report) => Json(report).into_response(),
        Err(e) => error(StatusCode::SERVICE_UNAVAILABLE, e.to_string()),
    }
}

/// One repository's status, workflows and daily trend (the body of `workflow-status`, and
/// the MCP `repository_status` tool).
pub async fn status_report(ctx: &WebContext, view: &RepoView) -> Result<Value, StoreError> {
    let repo_id = view.repo.id;
    let since = Utc::now() - chrono::Duration::from_std(ctx.metrics_window).unwrap_or_default();
    let runs = ctx.history.runs_since(repo_id, since).await?;
    let trend = metrics::daily_trend(
        &runs,
        Window {
            now: Utc::now(),
            length: ctx.metrics_window,
            default_branch: &view.repo.default_branch,
        },
    );
    let workflows: Vec<WorkflowStatus> = view.workflows.iter().map(WorkflowStatus::of).collect();
    Ok(json!({
        "repository": RepoSummary::of(view),
        "window_s": ctx.metrics_window.as_secs(),
        "workflows": workflows,
        "trend": trend,
    }))
}

#[derive(Debug, Deserialize)]
pub struct HistoryQuery {
    workflow: Option<String>,
    branch: Option<String>,
    status: Option<String>,
    page: Option<usize>,
    per_page: Option<usize>,
}

/// `GET /api/workflow-history/{owner}/{repo}?workflow=&branch=&status=&page=&per_page=`
pub async fn workflow_history(
    State(ctx): State<Arc<WebContext>>,
    Path((owner, name)): Path<(String, String)>,
    Query(q): Query<HistoryQuery>,
) -> Response {
    let snapshot = ctx.state.snapshot();
    let Some(view) = find(&snapshot, &owner, &name) else {
        return not_watched(&owner, &name);
    };
    let page = q.page.unwrap_or(1);
    let per_page = q.per_page.unwrap_or(30);
    if page == 0 || !(1..=100).contains(&per_page) {
        return error(
            StatusCode::BAD_REQUEST,
            "page starts at 1; per_page is 1–100",
        );
    }
    let filter = HistoryFilter {
        workflow: q.workflow.filter(|s| !s.is_empty()),
        branch: q.branch.filter(|s| !s.is_empty()),
        status: q.status.filter(|s| !s.is_empty()),
    };
    match history_page(&ctx, view, filter, page, per_page).await {
        Ok(body) => Json(body).into_response(),
        Err(e) => error(StatusCode::SERVICE_UNAVAILABLE, e.to_string()),
    }
}

/// One page of a repository's filtered run history, newest first (`page` from 1).
pub async fn history_page(
    ctx: &WebContext,
    view: &RepoView,
    filter: HistoryFilter,
    page: usize,
    per_page: usize,
) -> Result<Value, StoreError> {
    let offset = page.saturating_sub(1).saturating_mul(per_page);
    let (total, runs) = ctx
        .history
        .run_history(view.repo.id, filter.clone(), per_page, offset)
        .await?;
    let runs: Vec<RunSummary> = runs.iter().map(|r| RunSummary::of(r, Vec::new())).collect();
    Ok(json!({
        "repository": view.repo.full_name(),
        "filters": { "workflow": filter.workflow, "branch": filter.branch, "status": filter.status },
        "page": page,
        "per_page": per_page,
        "total": total,
        "runs": runs,
    }))
}

#[derive(Debug, Deserialize)]
pub struct MetricsQuery {
    /// `24h`, `7d`, `30d`, … (default: `metrics.window`).
    window: Option<String>,
}

/// `GET /api/workflow-metrics?window=`: every repository's and workflow's health, plus totals.
pub async fn workflow_metrics(
    State(ctx): State<Arc<WebContext>>,
    Query(q): Query<MetricsQuery>,
) -> Response {
    let window = match q.window.as_deref().map(humantime::parse_duration) {
        None => ctx.metrics_window,
        Some(Ok(w)) if w >= Duration::from_secs(3600) && w <= Duration::from_secs(366 * 86400) => w,
        Some(_) => {
            return error(
                StatusCode::BAD_REQUEST,
                "window must be a duration from 1h to 366d, like `7d`",
            );
        }
    };
    match metrics_report(&ctx, window).await {
        Ok(report) => Json(report).into_response(),
        Err(e) => error(StatusCode::SERVICE_UNAVAILABLE, e.to_string()),
    }
}

/// Every repository's and workflow's health over `window`, plus totals pooled by runs.
pub async fn metrics_report(ctx: &WebContext, window: Duration) -> Result<Value, StoreError> {
    let snapshot = ctx.state.snapshot();
    let now = Utc::now();
    let since = now - chrono::Duration::from_std(window).unwrap_or_default();
    let mut repositories = Vec::new();
    let (mut passed, mut failed, mut runs_total, mut failing, mut running) = (0.0, 0.0, 0u32, 0, 0);
    for view in snapshot.repos.values() {
        let repo_id = view.repo.id;
        let runs = ctx.history.runs_since(repo_id, since).await?;
        let w = Window {
            now,
            length: window,
            default_branch: &view.repo.default_branch,
        };
        let health = metrics::health(&runs, w);
        let workflows: Vec<Value> = view
            .workflows
            .iter()
            .map(|wf| {
                let runs: Vec<_> = runs.iter().filter(|r| r.workflow_id == wf.workflow.id).cloned().collect();
                json!({ "name": wf.workflow.name, "file": wf.workflow.file_name(), "health": metrics::health(&runs, w) })
            })
            .collect();
        if let Some(rate) = health.success_rate {
            // Pool by runs, so a busy repository weighs more than a quiet one.
            let counted = f64::from(health.runs_in_window);
            passed += rate / 100.0 * counted;
            failed += (1.0 - rate / 100.0) * counted;
        }
        runs_total += health.runs_in_window;
        failing += usize::from(health.failing);
        running += usize::from(health.running);
        repositories.push(json!({ "repository": view.repo.full_name(), "health": health, "workflows": workflows }));
    }
    let success_rate =
        (passed + failed > 0.0).then(|| (passed * 1000.0 / (passed + failed)).round() / 10.0);
    Ok(json!({
        "generated_at": now,
        "window_s": window.as_secs(),
        "totals": {
            "repositories": snapshot.repos.len(),
            "runs": runs_total,
            "success_rate": success_rate,
            "failing": failing,
            "running": running,
        },
        "repositories": repositories,
    }))
}

/// `POST /api/repos/{owner}/{repo}/commands/{action}`: the same executor as MQTT commands.
pub async fn command(
    State(ctx): State<Arc<WebContext>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Path((owner, name, action)): Path<(String, String, String)>,
    body: Bytes,
) -> Response {
    let caller = match auth::authorize(&ctx, &headers, peer) {
        Ok(c) => c,
        Err(denied) => return *denied,
    };
    let source = CommandSource::Http {
        user: caller.user(),
    };
    let command = match parse::command(&owner, &name, &action, &body, source) {
        Ok(c) => c,
        Err(rejected) => return (StatusCode::BAD_REQUEST, Json(*rejected)).into_response(),
    };
    let result = ctx.commands.execute(command).await;
    let status = if result.ok {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    (status, Json(result)).into_response()
}

#[derive(Debug, Deserialize)]
pub struct LovelaceQuery {
    title: Option<String>,
}

/// `GET /api/lovelace?title=`: the Lovelace dashboard (YAML) for the repositories watched
/// now, as `gitops-bridge dashboard` prints it, for add-on users who have no command line.
pub async fn lovelace(
    State(ctx): State<Arc<WebContext>>,
    Query(q): Query<LovelaceQuery>,
) -> Response {
    use crate::mqtt::discovery;
    let snapshot = ctx.state.snapshot();
    let bridge = discovery::bridge_config(&ctx.topics, ctx.checks.clone());
    let configs: Vec<discovery::DeviceConfig> = snapshot
        .repos
        .values()
        .map(|v| discovery::repo_config(v, &ctx.topics))
        .collect();
    let repos: Vec<_> = snapshot
        .repos
        .values()
        .map(|v| &**v)
        .zip(&configs)
        .collect();
    let title = q.title.filter(|t| !t.trim().is_empty());
    let dashboard =
        crate::lovelace::dashboard(title.as_deref().unwrap_or("GitOps"), &bridge, &repos);
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "application/yaml; charset=utf-8",
        )],
        crate::lovelace::to_yaml(&dashboard),
    )
        .into_response()
}

/// `GET /api/validation`: the latest validation report of the HA configuration.
pub async fn validation(State(ctx): State<Arc<WebContext>>) -> Response {
    latest_pass(&ctx, |checked| Ok(Json(&checked.config).into_response()))
}

/// `GET /api/config-deployments`: the configuration deployer's picture — the deployed
/// commit's deployment, the newest one (running or ended), the branch head and the commits
/// not deployed yet. 404 when `config_deploy` is not set, 503 until the deployer has read
/// its branch.
pub async fn config_deployments(State(ctx): State<Arc<WebContext>>) -> Response {
    match &ctx.state.snapshot().config_deploy {
        Some(view) => Json(view.as_ref()).into_response(),
        None if ctx.checks.config_deploy.is_some() => error(
            StatusCode::SERVICE_UNAVAILABLE,
            "the configuration deployer is starting; try again in a moment",
        ),
        None => error(
            StatusCode::NOT_FOUND,
            "configuration deployment is off: set `config_deploy.repository`",
        ),
    }
}

/// `GET /api/security`: the latest security scan of the HA configuration folder, run with
/// each validation. Secret values appear only redacted.
pub async fn security(State(ctx): State<Arc<WebContext>>) -> Response {
    latest_pass(&ctx, |checked| {
        checked
            .security
            .as_ref()
            .map(|report| Json(report).into_response())
            .ok_or("the security scan is off (`validate.security: false`) or could not run; see the log")
    })
}

/// The latest check-and-scan pass through `part`: 404 when validation is off or `part` says
/// what is missing, 202 while the first pass runs.
fn latest_pass(
    ctx: &WebContext,
    part: impl FnOnce(&crate::config_watch::Checked) -> Result<Response, &'static str>,
) -> Response {
    let Some(watch) = &ctx.validation else {
        return error(
            StatusCode::NOT_FOUND,
            "validation is off: set `validate.path`",
        );
    };
    let latest = watch.borrow().clone();
    match latest {
        Some(checked) => part(&checked).unwrap_or_else(|why| error(StatusCode::NOT_FOUND, why)),
        None => (StatusCode::ACCEPTED, Json(json!({ "status": "running" }))).into_response(),
    }
}

/// `POST /api/validation`: validate now.
pub async fn validate_now(
    State(ctx): State<Arc<WebContext>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
) -> Response {
    if let Err(denied) = auth::authorize(&ctx, &headers, peer) {
        return *denied;
    }
    match &ctx.validate_now {
        Some(n) => {
            n.notify_one();
            (StatusCode::ACCEPTED, Json(json!({ "status": "started" }))).into_response()
        }
        None => error(
            StatusCode::NOT_FOUND,
            "validation is off: set `validate.path`",
        ),
    }
}

#[derive(Debug, Deserialize)]
pub struct CommandsQuery {
    limit: Option<usize>,
}

/// `GET /api/commands?limit=`: the audit trail, newest first (input values are never stored).
pub async fn commands(
    State(ctx): State<Arc<WebContext>>,
    Query(q): Query<CommandsQuery>,
) -> Response {
    let limit = q.limit.unwrap_or(50).clamp(1, 500);
    match ctx.audit.recent(limit).await {
        Ok(rows) => {
            let rows: Vec<Value> = rows
                .into_iter()
                .map(|c| {
                    json!({
                        "request_id": c.request_id,
                        "received_at": c.received_at,
                        "finished_at": c.finished_at,
                        "source": c.source,
                        "repo": c.repo,
                        "action": c.action,
                        "params": serde_json::from_str::<Value>(&c.params).unwrap_or(Value::Null),
                        "ok": c.ok,
                        "message": c.message,
                        "run_id": c.run_id,
                        "url": c.url,
                    })
                })
                .collect();
            Json(json!({ "commands": rows })).into_response()
        }
        Err(e) => error(StatusCode::SERVICE_UNAVAILABLE, e.to_string()),
    }
}

/// `GET /healthz`: the process serves HTTP and all its tasks run. Liveness only,
/// deliberately: a broker or GitHub outage must not get the container restarted, but a dead
/// task must (503 with the task named).
pub async fn healthz(State(ctx): State<Arc<WebContext>>) -> Response {
    let dead = ctx.tasks.dead();
    if dead.is_empty() {
        Json(json!({ "status": "ok", "version": env!("CARGO_PKG_VERSION") })).into_response()
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({ "status": "failed", "dead_tasks": dead, "version": env!("CARGO_PKG_VERSION") })),
        )
            .into_response()
    }
}

// -- server-sent events ---------------------------------------------------------------------

#[derive(Serialize)]
struct SnapshotEvent<'a> {
    github: &'a GitHubStatus,
    repositories: Vec<RepoSummary<'a>>,
}

fn snapshot_event(snapshot: &Snapshot) -> SseEvent {
    let body = SnapshotEvent {
        github: &snapshot.github,
        repositories: snapshot
            .repos
            .values()
            .map(|v| RepoSummary::of(v))
            .collect(),
    };
    SseEvent::default()
        .event("snapshot")
        .data(serde_json::to_string(&body).unwrap_or_default())
}

/// Turns a state change into an SSE event, or `None` when there is nothing to send.
fn change_event(ctx: &WebContext, change: Change) -> Option<SseEvent> {
    let snapshot = ctx.state.snapshot();
    let (name, data) = match change {
        Change::Repo(id) => (
            "repo",
            serde_json::to_string(&RepoSummary::of(snapshot.repos.get(&id)?)).ok()?,
        ),
        Change::RepoRemoved(repo) => (
            "removed",
            json!({ "id": repo.id, "full_name": repo.full_name() }).to_string(),
        ),
        Change::RunCompleted { repo_id, run } => {
            let repo = snapshot.repos.get(&repo_id)?;
            (
                "run",
                json!({ "repository": repo.repo.full_name(), "run": run }).to_string(),
            )
        }
        Change::Recovery { event, .. } => ("recovery", serde_json::to_string(&event).ok()?),
        Change::ConfigDeploy { finished } => (
            "config_deployment",
            json!({ "view": snapshot.config_deploy, "finished": finished }).to_string(),
        ),
        // The repository's own `repo` event carries the report.
        Change::HealthChecked { .. } => return None,
        Change::Coordinated => (
            "coordinated",
            serde_json::to_string(&snapshot.coordinated).ok()?,
        ),
        Change::GitHub | Change::Resolved => {
            ("github", serde_json::to_string(&snapshot.github).ok()?)
        }
    };
    Some(SseEvent::default().event(name).data(data))
}

/// `GET /api/events`: a `snapshot` first, then `repo`, `run`, `removed` and `github` events as
/// they happen. A client that falls behind gets a fresh `snapshot`.
pub async fn events(
    State(ctx): State<Arc<WebContext>>,
) -> Sse<impl Stream<Item = Result<SseEvent, Infallible>>> {
    let rx = ctx.state.subscribe();
    let first = snapshot_event(&ctx.state.snapshot());
    let stream = futures_util::stream::unfold(
        (ctx, rx, Some(first)),
        |(ctx, mut rx, pending)| async move {
            if let Some(event) = pending {
                return Some((Ok(event), (ctx, rx, None)));
            }
            loop {
                let next = tokio::select! {
                    // The stream ends with the daemon, so shutdown never waits for a browser.
                    _ = ctx.shutdown.cancelled() => return None,
                    next = rx.recv() => next,
                };
                match next {
                    Ok(change) => {
                        if let Some(event) = change_event(&ctx, change) {
                            return Some((Ok(event), (ctx, rx, None)));
                        }
                    }
                    Err(broadcast::error::RecvError::Lagged(_)) => {
                        let event = snapshot_event(&ctx.state.snapshot());
                        return Some((Ok(event), (ctx, rx, None)));
                    }
                    Err(broadcast::error::RecvError::Closed) => return None,
                }
            }
        },
    );
    Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
}
