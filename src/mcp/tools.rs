//! The tools an assistant sees. Read tools answer from the state snapshot, the run history
//! and the latest validation — the same bodies as the JSON API (`web::api`) — and are marked
//! read-only; `run_command` is the one tool that writes, and it goes through the executor.
//!
//! Descriptions are written for a language model that has never seen gitops-bridge: each
//! says what it returns, what to call first, and what the arguments mean.

use std::sync::Arc;
use std::time::Duration;

use axum::http::request::Parts;
use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::handler::server::tool::Extension;
use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::{CallToolResult, Implementation, ServerCapabilities, ServerConfig};
use rmcp::schemars::{self, JsonSchema};
use rmcp::{ErrorData, ServerHandler, tool, tool_handler, tool_router};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::commands::{Action, CommandSource, parse};
use crate::state::{RepoView, RunSummary};
use crate::store::HistoryFilter;
use crate::web::auth::Caller;
use crate::web::{WebContext, api};

/// How long `rerun: true` waits for a fresh configuration check.
const RERUN_WAIT: Duration = Duration::from_secs(120);

/// The MCP server of one request (stateless: a new one per request, all sharing the
/// daemon's [`WebContext`]).
#[derive(Clone)]
pub struct Bridge {
    ctx: Arc<WebContext>,
    tool_router: ToolRouter<Self>,
}

impl Bridge {
    pub fn new(ctx: Arc<WebContext>) -> Self {
        Bridge {
            ctx,
            tool_router: Self::tool_router(),
        }
    }

    /// The watched repository `owner/repo`, or the tool error that says how to find one.
    fn repository(&self, owner: &str, repo: &str) -> Result<Arc<RepoView>, CallToolResult> {
        let snapshot = self.ctx.state.snapshot();
        snapshot
            .repos
            .values()
            .find(|v| v.repo.is(owner, repo))
            .cloned()
            .ok_or_else(|| {
                failure(format!(
                    "{owner}/{repo} is not a watched repository; `list_repositories` names them"
                ))
            })
    }
}

/// A tool-level error: the assistant sees the message and can correct itself.
fn failure(message: impl Into<String>) -> CallToolResult {
    CallToolResult::structured_error(json!({ "error": message.into() }))
}

fn answer(result: Result<Value, crate::store::StoreError>) -> CallToolResult {
    match result {
        Ok(value) => CallToolResult::structured(value),
        Err(e) => failure(format!("the run history could not be read: {e}")),
    }
}

/// Collapses `Result<CallToolResult, CallToolResult>` (early tool errors) for the SDK.
fn done(result: Result<CallToolResult, CallToolResult>) -> Result<CallToolResult, ErrorData> {
    Ok(result.unwrap_or_else(|error| error))
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct RepoArgs {
    /// The repository owner (user or organisation), as `list_repositories` gives it.
    pub owner: String,
    /// The repository name, without the owner.
    pub repo: String,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct HistoryArgs {
    /// The repository owner (user or organisation).
    pub owner: String,
    /// The repository name, without the owner.
    pub repo: String,
    /// Only runs of this workflow: its file (`ci.yml`) or its name.
    #[serde(default)]
    pub workflow: Option<String>,
    /// Only runs on this branch.
    #[serde(default)]
    pub branch: Option<String>,
    /// Only runs with this status or conclusion: `success`, `failure`, `cancelled`,
    /// `in_progress`, `queued`, …
    #[serde(default)]
    pub status: Option<String>,
    /// Page number, from 1 (default 1).
    #[serde(default)]
    pub page: Option<usize>,
    /// Runs per page, 1–50 (default 10).
    #[serde(default)]
    pub per_page: Option<usize>,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct RunArgs {
    /// The repository owner (user or organisation).
    pub owner: String,
    /// The repository name, without the owner.
    pub repo: String,
    /// The workflow run id (`id` in `run_history` or `last_run`).
    pub run_id: u64,
    /// The attempt (default: the latest stored one).
    #[serde(default)]
    pub attempt: Option<u32>,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct MetricsArgs {
    /// The window to measure over, as a duration from `1h` to `366d` (`24h`, `7d`, `30d`);
    /// default: the daemon's `metrics.window`.
    #[serde(default)]
    pub window: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct CheckArgs {
    /// Run a fresh pass now and wait for it (up to two minutes) instead of returning the
    /// latest one, which the daemon keeps current as files change.
    #[serde(default)]
    pub rerun: bool,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct CommandArgs {
    /// The repository owner (user or organisation).
    pub owner: String,
    /// The repository name, without the owner.
    pub repo: String,
    /// What to do. Only the actions listed in the repository's `actions` (from
    /// `list_repositories`) are allowed; any other is refused.
    #[schemars(schema_with = "action_schema")]
    pub action: String,
    /// `rerun`, `rerun_failed`, `cancel`: the run (default: the latest fitting one).
    #[serde(default)]
    pub run_id: Option<u64>,
    /// `dispatch`: the workflow file to run (`deploy.yml`); one of the repository's `dispatch`.
    #[serde(default)]
    pub workflow: Option<String>,
    /// `dispatch`: the branch or tag to run on (default: the repository's default branch).
    #[serde(default, rename = "ref")]
    pub git_ref: Option<String>,
    /// `dispatch`: the workflow's inputs (at most 25, scalar values).
    #[serde(default)]
    pub inputs: Option<serde_json::Map<String, Value>>,
    /// `deploy_template`: only this template id (default: every template it gets).
    #[serde(default)]
    pub template: Option<String>,
    /// `deploy_template`, `rollback_template`: overwrite files edited by hand since.
    #[serde(default)]
    pub force: Option<bool>,
    /// Makes the command idempotent: sending the same id again returns the first result
    /// and does nothing on GitHub. Recommended when retrying.
    #[serde(default)]
    pub request_id: Option<String>,
}

/// The action names, from the one list of actions, so the schema never goes stale.
fn action_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    let names: Vec<&str> = Action::ALL.iter().map(|a| a.as_str()).collect();
    let mut schema = serde_json::Map::new();
    schema.insert("type".into(), json!("string"));
    schema.insert("enum".into(), json!(names));
    schemars::Schema::from(schema)
}

#[tool_router]
impl Bridge {
    #[tool(
        description = "List every GitHub repository gitops-bridge watches: its health (level \
            healthy/warning/critical/unknown, score 0-100, success rate %, failure streak, \
            MTTR), its last workflow run (status, branch, commit, URL, failed job names), \
            whether it is failing or running now, and the command `actions` its settings \
            allow. Also GitHub's reachability and API budget. Call this first: the other \
            tools take the `owner` and `repo` it returns.",
        annotations(
            title = "List repositories",
            read_only_hint = true,
            open_world_hint = false
        )
    )]
    async fn list_repositories(&self) -> Result<CallToolResult, ErrorData> {
        let snapshot = self.ctx.state.snapshot();
        let repositories: Vec<api::RepoSummary> = snapshot
            .repos
            .values()
            .map(|v| api::RepoSummary::of(v))
            .collect();
        Ok(CallToolResult::structured(json!({
            "github": &snapshot.github,
            "repositories": repositories,
        })))
    }

    #[tool(
        description = "One repository in detail: its summary as in `list_repositories`, each \
            workflow with its own health and last run, and a daily trend (runs, failures, \
            success rate, median duration) over the metrics window.",
        annotations(
            title = "Repository status",
            read_only_hint = true,
            open_world_hint = false
        )
    )]
    async fn repository_status(
        &self,
        Parameters(args): Parameters<RepoArgs>,
    ) -> Result<CallToolResult, ErrorData> {
        let result = async {
            let view = self.repository(&args.owner, &args.repo)?;
            Ok(answer(api::status_report(&self.ctx, &view).await))
        };
        done(result.await)
    }

    #[tool(
        description = "A repository's workflow runs, newest first, from the stored history \
            (no GitHub request): id, attempt, workflow, branch, commit, event, status, \
            timing and URL. Filter by workflow, branch or status; page through with `page`. \
            For why a run failed, pass its id to `run_jobs`.",
        annotations(title = "Run history", read_only_hint = true, open_world_hint = false)
    )]
    async fn run_history(
        &self,
        Parameters(args): Parameters<HistoryArgs>,
    ) -> Result<CallToolResult, ErrorData> {
        let result = async {
            let view = self.repository(&args.owner, &args.repo)?;
            let page = args.page.unwrap_or(1);
            let per_page = args.per_page.unwrap_or(10);
            if page == 0 || !(1..=50).contains(&per_page) {
                return Err(failure("`page` starts at 1 and `per_page` is 1–50"));
            }
            let filter = HistoryFilter {
                workflow: args.workflow.filter(|s| !s.is_empty()),
                branch: args.branch.filter(|s| !s.is_empty()),
                status: args.status.filter(|s| !s.is_empty()),
            };
            Ok(answer(
                api::history_page(&self.ctx, &view, filter, page, per_page).await,
            ))
        };
        done(result.await)
    }

    #[tool(
        description = "The jobs of one workflow run: each job's name, status, conclusion, \
            timing, runner and URL, and `failed_jobs`, the names of those that failed — \
            usually the answer to \"why did it fail\". Jobs are stored for runs the daemon \
            has looked into (failed and recent runs).",
        annotations(title = "Run jobs", read_only_hint = true, open_world_hint = false)
    )]
    async fn run_jobs(
        &self,
        Parameters(args): Parameters<RunArgs>,
    ) -> Result<CallToolResult, ErrorData> {
        let result = async {
            let view = self.repository(&args.owner, &args.repo)?;
            let history = &self.ctx.history;
            let unreadable = |e: crate::store::StoreError| {
                failure(format!("the run history could not be read: {e}"))
            };
            let Some(run) = history
                .latest_attempt(args.run_id)
                .await
                .map_err(unreadable)?
                .filter(|r| r.repo_id == view.repo.id)
            else {
                return Err(failure(format!(
                    "run {} of {} is not in the stored history; `run_history` lists them",
                    args.run_id,
                    view.repo.full_name()
                )));
            };
            let attempt = args.attempt.unwrap_or(run.attempt);
            let jobs = history.jobs(run.id, attempt).await.map_err(unreadable)?;
            let failed: Vec<&str> = jobs
                .iter()
                .filter(|j| {
                    j.conclusion
                        .as_ref()
                        .is_some_and(|c| c.outcome() == crate::model::Outcome::Fail)
                })
                .map(|j| j.name.as_str())
                .collect();
            let jobs: Vec<Value> = jobs
                .iter()
                .map(|j| {
                    json!({
                        "id": j.id,
                        "name": j.name,
                        "status": j.status.as_str(),
                        "conclusion": j.conclusion.as_ref().map(|c| c.as_str()),
                        "started_at": j.started_at,
                        "completed_at": j.completed_at,
                        "runner": j.runner_name,
                        "url": j.html_url,
                    })
                })
                .collect();
            Ok(CallToolResult::structured(json!({
                "repository": view.repo.full_name(),
                "run": RunSummary::of(&run, failed.iter().map(|s| s.to_string()).collect()),
                "attempt": attempt,
                "failed_jobs": failed,
                "jobs": jobs,
            })))
        };
        done(result.await)
    }

    #[tool(
        description = "Health metrics of every repository and workflow over a window: \
            success rate, p50/p95 duration, queue time, failure streak, MTTR, runs per day, \
            health score and level, plus totals across repositories.",
        annotations(
            title = "Workflow metrics",
            read_only_hint = true,
            open_world_hint = false
        )
    )]
    async fn workflow_metrics(
        &self,
        Parameters(args): Parameters<MetricsArgs>,
    ) -> Result<CallToolResult, ErrorData> {
        let window = match args.window.as_deref().map(humantime::parse_duration) {
            None => self.ctx.metrics_window,
            Some(Ok(w)) if (3600..=366 * 86400).contains(&w.as_secs()) => w,
            Some(_) => {
                return Ok(failure(
                    "`window` must be a duration from 1h to 366d, like `7d`",
                ));
            }
        };
        Ok(answer(api::metrics_report(&self.ctx, window).await))
    }

    #[tool(
        description = "The Home Assistant configuration check: every finding of gitops-bridge's \
            offline validator (YAML syntax, includes, !secret references, schema and \
            reference errors) with file, line, rule, severity and a hint. `rerun: true` \
            checks again now. Errors mean HA would refuse or misread the configuration.",
        annotations(
            title = "Configuration check",
            read_only_hint = true,
            open_world_hint = false
        )
    )]
    async fn configuration_check(
        &self,
        Parameters(args): Parameters<CheckArgs>,
    ) -> Result<CallToolResult, ErrorData> {
        Ok(self
            .latest_pass(args.rerun, |checked| {
                serde_json::to_value(&checked.config).ok()
            })
            .await)
    }

    #[tool(
        description = "The security scan of the Home Assistant configuration folder: secrets \
            written in plain text instead of `!secret`, exposed credentials and unsafe \
            settings, with file, line and fix. Secret values are redacted. `rerun: true` \
            scans again now.",
        annotations(
            title = "Security scan",
            read_only_hint = true,
            open_world_hint = false
        )
    )]
    async fn security_scan(
        &self,
        Parameters(args): Parameters<CheckArgs>,
    ) -> Result<CallToolResult, ErrorData> {
        Ok(self
            .latest_pass(args.rerun, |checked| {
                checked
                    .security
                    .as_ref()
                    .and_then(|r| serde_json::to_value(r).ok())
            })
            .await)
    }

    #[tool(
        description = "Act on GitHub for a repository: `rerun` a run, `rerun_failed` (only its \
            failed jobs), `cancel` a running one, `dispatch` a workflow, `rollback` (the \
            repository's configured rollback), `deploy_template` / `rollback_template` \
            (its workflow templates). Only actions in the repository's `actions` list are \
            allowed; others are refused with the reason. Returns the command's result: ok, \
            a message, and the run or URL it touched. Every command is audited.",
        annotations(
            title = "Run a command",
            read_only_hint = false,
            destructive_hint = true,
            idempotent_hint = false,
            open_world_hint = true
        )
    )]
    async fn run_command(
        &self,
        Extension(parts): Extension<Parts>,
        Parameters(args): Parameters<CommandArgs>,
    ) -> Result<CallToolResult, ErrorData> {
        let user = parts.extensions.get::<Caller>().and_then(Caller::user);
        let body = json!({
            "request_id": args.request_id,
            "workflow": args.workflow,
            "ref": args.git_ref,
            "inputs": args.inputs,
            "run_id": args.run_id,
            "template": args.template,
            "force": args.force,
        });
        // Unset fields are left out, as a hand-written command body would leave them.
        let body: serde_json::Map<String, Value> = body
            .as_object()
            .into_iter()
            .flatten()
            .filter(|(_, v)| !v.is_null())
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let payload = serde_json::to_vec(&body).unwrap_or_default();
        let source = CommandSource::Mcp { user };
        let result = match parse::command(&args.owner, &args.repo, &args.action, &payload, source) {
            Ok(command) => self.ctx.commands.execute(command).await,
            Err(rejected) => *rejected,
        };
        let value = serde_json::to_value(&result).unwrap_or_default();
        Ok(if result.ok {
            CallToolResult::structured(value)
        } else {
            CallToolResult::structured_error(value)
        })
    }
}

impl Bridge {
    /// The latest check-and-scan pass through `part`, after a fresh one when asked.
    async fn latest_pass(
        &self,
        rerun: bool,
        part: impl FnOnce(&crate::config_watch::Checked) -> Option<Value>,
    ) -> CallToolResult {
        let Some(watch) = &self.ctx.validation else {
            return failure("the configuration check is off: set `validate.path`");
        };
        let mut watch = watch.clone();
        if rerun && let Some(now) = &self.ctx.validate_now {
            watch.mark_unchanged();
            now.notify_one();
            if tokio::time::timeout(RERUN_WAIT, watch.changed())
                .await
                .is_err()
            {
                return failure("the check did not finish within two minutes; try again");
            }
        }
        let latest = watch.borrow().clone();
        match latest {
            None => failure("the first check is still running; try again in a moment"),
            Some(checked) => match part(&checked) {
                Some(value) => CallToolResult::structured(value),
                None => failure("the security scan is off (`validate.security: false`)"),
            },
        }
    }
}

#[tool_handler(router = self.tool_router)]
impl ServerHandler for Bridge {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
            .with_server_info(Implementation::new(
                "gitops-bridge",
                env!("CARGO_PKG_VERSION"),
            ))
            .with_instructions(
                "gitops-bridge watches a homelab's GitHub repositories and their Actions runs \
                 for Home Assistant. Start with `list_repositories`; use `run_history` and \
                 `run_jobs` to explain failures, `workflow_metrics` for trends, \
                 `configuration_check` and `security_scan` for the HA configuration. \
                 `run_command` changes things on GitHub: say what you will do before calling it.",
            )
    }
}
