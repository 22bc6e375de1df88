//! The one executor every command goes through, whatever asked for it (MQTT, HTTP, policy):
//! authorisation, validation, GitHub's preconditions, dedupe, spacing, exactly one request,
//! an audit row, and a result.
//!
//! Commands run one at a time on this task, so two commands never race for the same run and
//! mutating calls are naturally serialised; a repository's mutating calls are at least
//! [`WRITE_SPACING`] apart, as GitHub asks. A POST is never retried here: re-running or
//! dispatching twice is worse than failing once, and the result tells the user to try again.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use serde_json::json;
use tokio::sync::{Notify, mpsc, oneshot};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::{Action, Command, CommandResult, CommandSource, Request};
use crate::deploy::TemplateSettings;
use crate::github::api::{self, Repo, Write};
use crate::github::models::ApiRun;
use crate::github::{GitHubClient, GitHubError, GitHubWriter};
use crate::model::Run;
use crate::state::{RepoView, StateHandle};
use crate::store::{CommandLog, CommandRecord, RunHistory, Store};

/// Requests waiting for the executor, per kind; beyond it a request is answered "busy".
pub const COMMAND_QUEUE: usize = 64;
/// The answer when the executor task is gone (the daemon is shutting down).
const STOPPED: &str = "the command executor has stopped";
/// Minimum time between two mutating calls for one repository.
pub const WRITE_SPACING: Duration = Duration::from_secs(1);

/// Submits commands from inside the process (HTTP API, policies) and waits for the result.
#[derive(Clone)]
pub struct CommandHandle {
    tx: mpsc::Sender<(Command, oneshot::Sender<CommandResult>)>,
    /// Fire-and-forget submissions; their results go out on the results channel.
    submissions: mpsc::Sender<Request>,
    /// The configuration deployer's records of its deployments on GitHub.
    deployments: mpsc::Sender<RecordJob>,
}

/// A deployment record to write, and where its answer (the deployment's id) goes.
type RecordJob = (RecordWrite, oneshot::Sender<Result<Option<u64>, String>>);

/// What the daemon records on GitHub besides commands: the configuration deployer's
/// deployments of a commit to its environment and their statuses, and the quality gate's
/// commit statuses. Sent through the executor like every other write (pacing, audit),
/// answered with the id GitHub gave the record.
#[derive(Debug, Clone, PartialEq)]
pub enum RecordWrite {
    Create {
        owner: String,
        name: String,
        sha: String,
        environment: String,
        description: String,
    },
    Status {
        owner: String,
        name: String,
        id: u64,
        state: &'static str,
        description: String,
        log_url: Option<String>,
    },
    /// A commit status (`POST /repos/{o}/{r}/statuses/{sha}`).
    CommitStatus {
        owner: String,
        name: String,
        sha: String,
        state: &'static str,
        description: String,
        context: &'static str,
    },
}

impl CommandHandle {
    /// Queues a request without waiting for it; its result is published with every other
    /// (MQTT's `<base>/cmd/result`). A full queue hands the request back, to be answered
    /// with [`Request::busy`].
    pub fn try_submit(&self, request: Request) -> Result<(), Box<Request>> {
        self.submissions.try_send(request).map_err(|e| match e {
            mpsc::error::TrySendError::Full(r) | mpsc::error::TrySendError::Closed(r) => {
                Box::new(r)
            }
        })
    }

    /// Records a deployment (or one of its statuses) on GitHub; the deployment's id.
    pub async fn record(&self, write: RecordWrite) -> Result<Option<u64>, String> {
        let (tx, rx) = oneshot::channel();
        self.deployments
            .send((write, tx))
            .await
            .map_err(|_| STOPPED.to_string())?;
        rx.await.map_err(|_| STOPPED.to_string())?
    }

    pub async fn execute(&self, command: Command) -> CommandResult {
        let (repo, action, request_id) = (
            command.repo(),
            command.action,
            command.params.request_id.clone(),
        );
        let (tx, rx) = oneshot::channel();
        if self.tx.send((command, tx)).await.is_err() {
            return CommandResult::rejected(request_id, repo, action.to_string(), STOPPED);
        }
        rx.await
            .unwrap_or_else(|_| CommandResult::rejected(None, repo, action.to_string(), STOPPED))
    }
}

/// The executor task; run with [`Executor::run`].
pub struct Executor {
    /// Reads: fresh GETs for preconditions.
    gh: GitHubClient,
    /// Writes: only here, only through [`Executor::send`].
    writer: GitHubWriter,
    /// The audit trail, and the earlier result of a repeated `request_id`.
    audit: CommandLog,
    history: RunHistory,
    state: StateHandle,
    /// Wakes the poller after a successful command, so the new run shows up soon.
    poll_now: Arc<Notify>,
    submissions: mpsc::Receiver<Request>,
    requests: mpsc::Receiver<(Command, oneshot::Sender<CommandResult>)>,
    deployments: mpsc::Receiver<RecordJob>,
    /// Where `deploy_config` hands its deployments, when `config_deploy` is set.
    config_deploy: Option<crate::config_deploy::ConfigDeployHandle>,
    /// Results for MQTT (`<base>/cmd/result`).
    results: mpsc::Sender<CommandResult>,
    /// Starts a configuration check, when validation is on.
    validate_now: Option<Arc<Notify>>,
    /// The template library and its targets, when `templates:` is set.
    templates: Option<Arc<TemplateSettings>>,
    /// Asks the template watch to read a repository again after we wrote to it.
    template_refresh: Option<crate::deploy::watch::Refresh>,
    last_write: HashMap<u64, Instant>,
    /// Where switch changes go: the state task, which stores and announces them.
    state_events: Option<mpsc::Sender<crate::model::Event>>,
    /// Starts coordinated deployments, when the settings have any.
    coordinator: Option<crate::recovery::CoordinatorHandle>,
}

/// Builds the executor and the handle every source submits through. Results go out on
/// `results`.
pub fn executor(
    gh: GitHubClient,
    store: Store,
    state: StateHandle,
    poll_now: Arc<Notify>,
    results: mpsc::Sender<CommandResult>,
) -> (Executor, CommandHandle) {
    let (submissions_tx, submissions) = mpsc::channel(COMMAND_QUEUE);
    let (tx, requests) = mpsc::channel(COMMAND_QUEUE);
    let (deployments_tx, deployments) = mpsc::channel(COMMAND_QUEUE);
    let executor = Executor {
        deployments,
        config_deploy: None,
        writer: GitHubWriter::new(&gh, super::WriteAccess(())),
        gh,
        audit: CommandLog::new(&store),
        history: RunHistory::new(&store),
        state,
        poll_now,
        submissions,
        requests,
        results,
        validate_now: None,
        templates: None,
        template_refresh: None,
        last_write: HashMap::new(),
        state_events: None,
        coordinator: None,
    };
    (
        executor,
        CommandHandle {
            tx,
            submissions: submissions_tx,
            deployments: deployments_tx,
        },
    )
}

impl Executor {
    /// Lets `<base>/bridge/cmd/validate` start a configuration check.
    pub fn with_validation(mut self, validate_now: Option<Arc<Notify>>) -> Self {
        self.validate_now = validate_now;
        self
    }

    /// Lets `deploy_template` and `rollback_template` work on the settings' targets.
    /// Lets `deploy_template` and `rollback_template` work on the settings' targets;
    /// `refresh` (the daemon's template watch) hears of every repository they wrote to.
    pub fn with_templates(
        mut self,
        templates: Option<Arc<TemplateSettings>>,
        refresh: Option<crate::deploy::watch::Refresh>,
    ) -> Self {
        self.templates = templates;
        self.template_refresh = refresh;
        self
    }

    /// Lets HA's switches turn policies on and off (the state task stores them).
    pub fn with_switches(mut self, state_events: mpsc::Sender<crate::model::Event>) -> Self {
        self.state_events = Some(state_events);
        self
    }

    /// Lets the bridge's `coordinate` start coordinated deployments.
    pub fn with_coordinator(
        mut self,
        coordinator: Option<crate::recovery::CoordinatorHandle>,
    ) -> Self {
        self.coordinator = coordinator;
        self
    }

    /// Lets `deploy_config` hand deployments to the configuration deployer.
    pub fn with_config_deploy(
        mut self,
        handle: Option<crate::config_deploy::ConfigDeployHandle>,
    ) -> Self {
        self.config_deploy = handle;
        self
    }

    pub async fn run(mut self, cancel: CancellationToken) {
        loop {
            tokio::select! {
                _ = cancel.cancelled() => break,
                Some(request) = self.submissions.recv() => {
                    let result = match request {
                        Request::Refused { source, result } => {
                            tracing::warn!(
                                "{} {} from {} refused: {}",
                                result.repo, result.action, source.label(), result.message
                            );
                            self.audit_rejection(&source, &result).await;
                            result
                        }
                        Request::Repo(command) => self.execute(command).await,
                        Request::Bridge { action, request_id, deployment } => {
                            self.bridge_command(&action, request_id, deployment.as_deref())
                        }
                        Request::Switch { repo, key, on } => {
                            let result = self.set_switch(repo, &key, on).await;
                            self.audit_switch(&result).await;
                            result
                        }
                    };
                    let _ = self.results.send(result).await;
                }
                Some((command, reply)) = self.requests.recv() => {
                    let result = self.execute(command).await;
                    let _ = self.results.send(result.clone()).await;
                    let _ = reply.send(result);
                }
                Some((write, reply)) = self.deployments.recv() => {
                    let _ = reply.send(self.record(write).await);
                }
                else => break,
            }
        }
        tracing::debug!("command executor stopped");
    }

    /// Turns a policy switch on or off, when the repository's settings configure that policy
    /// (a switch for a policy that is not set would switch nothing).
    async fn set_switch(
        &self,
        repo: Option<(String, String)>,
        key: &str,
        on: bool,
    ) -> CommandResult {
        use crate::recovery::{Scope, Switch};
        let target = repo
            .as_ref()
            .map_or("bridge".to_string(), |(o, n)| format!("{o}/{n}"));
        let mut result = CommandResult::rejected(None, target.clone(), format!("set_{key}"), "");
        let Some(switch) = Switch::parse(key) else {
            result.message = format!(
                "unknown switch `{key}`; known: auto_retry, auto_rollback, downstream (repositories), automation_paused, config_auto_deploy, template_auto_update (bridge)"
            );
            return result;
        };
        if switch == Switch::ConfigAutoDeploy && self.config_deploy.is_none() {
            result.message =
                "configuration deployment is off: set `config_deploy.repository`".into();
            return result;
        }
        if switch == Switch::TemplateAutoUpdate
            && !self.templates.as_ref().is_some_and(|t| t.auto_update)
        {
            result.message = "template auto-update is off: set `templates.auto_update`".into();
            return result;
        }
        let scope = match &repo {
            None if switch.is_bridge() => Scope::Bridge,
            Some((owner, name)) if !switch.is_bridge() => {
                let snapshot = self.state.snapshot();
                let Some(view) = snapshot.repos.values().find(|v| v.repo.is(owner, name)) else {
                    result.message = format!("{target} is not a watched repository");
                    return result;
                };
                if !view.policy.switches().contains(&switch) {
                    result.message =
                        format!("{target} has no `{key}` in its settings; set it there first");
                    return result;
                }
                Scope::Repo(view.repo.id)
            }
            _ => {
                result.message = format!(
                    "`{key}` is a {} switch",
                    if switch.is_bridge() {
                        "bridge"
                    } else {
                        "repository"
                    }
                );
                return result;
            }
        };
        let Some(events) = &self.state_events else {
            result.message = "switches are not available in this mode".into();
            return result;
        };
        if events
            .send(crate::model::Event::Switch { scope, switch, on })
            .await
            .is_err()
        {
            result.message = "the state task has stopped".into();
            return result;
        }
        result.ok = true;
        result.message = format!(
            "{} is {} for {target}",
            switch.name(),
            if on { "on" } else { "off" }
        );
        result
    }

    /// Every switch change, as for commands (HA's user is not known over MQTT).
    async fn audit_switch(&self, r: &CommandResult) {
        let record = CommandRecord {
            request_id: None,
            received_at: Utc::now(),
            source: CommandSource::Mqtt.label(),
            repo: r.repo.clone(),
            action: r.action.clone(),
            params: "{}".into(),
            ok: r.ok,
            message: r.message.clone(),
            run_id: None,
            url: None,
            finished_at: Utc::now(),
            commit: None,
        };
        let _ = self.audit.record(record).await;
    }

    /// A deployment record on GitHub: paced like every write to that repository, audited
    /// with source `config-deploy`.
    async fn record(&mut self, write: RecordWrite) -> Result<Option<u64>, String> {
        let received_at = Utc::now();
        let source = match &write {
            RecordWrite::CommitStatus { .. } => CommandSource::QualityGate,
            _ => CommandSource::ConfigDeploy,
        };
        let (owner, name, action, params, request) = match &write {
            RecordWrite::Create {
                owner,
                name,
                sha,
                environment,
                description,
            } => (
                owner,
                name,
                "create_deployment",
                json!({ "ref": sha, "environment": environment }),
                api::repos::create_deployment(
                    Repo::new(owner, name),
                    sha,
                    environment,
                    description,
                ),
            ),
            RecordWrite::Status {
                owner,
                name,
                id,
                state,
                description,
                log_url,
            } => (
                owner,
                name,
                "deployment_status",
                json!({ "deployment": id, "state": state }),
                api::repos::deployment_status(
                    Repo::new(owner, name),
                    *id,
                    state,
                    description,
                    log_url.as_deref(),
                ),
            ),
            RecordWrite::CommitStatus {
                owner,
                name,
                sha,
                state,
                description,
                context,
            } => (
                owner,
                name,
                "commit_status",
                json!({ "sha": sha, "state": state, "context": context }),
                api::repos::commit_status(Repo::new(owner, name), sha, state, description, context),
            ),
        };
        let repo = format!("{owner}/{name}");
        let repo_id = self
            .state
            .snapshot()
            .repos
            .values()
            .find(|v| v.repo.is(owner, name))
            .map_or(0, |v| v.repo.id);
        let outcome = self.send(repo_id, request).await;
        let (ok, message, id) = match outcome {
            Ok(body) => {
                let id = body.as_ref().and_then(|b| b["id"].as_u64());
                (true, format!("{action} recorded on GitHub"), id)
            }
            Err(Failure::GitHub(e)) => (false, github_message(&e), None),
            Err(Failure::Refused(m)) => (false, m, None),
        };
        let record = CommandRecord {
            request_id: None,
            received_at,
            source: source.label(),
            repo,
            action: action.into(),
            params: params.to_string(),
            ok,
            message: message.clone(),
            run_id: None,
            url: None,
            finished_at: Utc::now(),
            commit: None,
        };
        let _ = self.audit.record(record).await;
        if ok { Ok(id) } else { Err(message) }
    }

    /// Commands to the bridge itself.
    fn bridge_command(
        &self,
        action: &str,
        request_id: Option<String>,
        deployment: Option<&str>,
    ) -> CommandResult {
        let mut result = CommandResult::rejected(request_id, "bridge".into(), action.into(), "");
        match action {
            "poll" => {
                self.poll_now.notify_one();
                result.ok = true;
                result.message = "polling GitHub now".into();
            }
            "validate" => match &self.validate_now {
                Some(n) => {
                    n.notify_one();
                    result.ok = true;
                    result.message = "checking the configuration now".into();
                }
                None => result.message = "validation is off: set `validate.path`".into(),
            },
            "coordinate" => match &self.coordinator {
                Some(c) => match c.start(deployment) {
                    Ok(message) => {
                        result.ok = true;
                        result.message = message;
                    }
                    Err(message) => result.message = message,
                },
                None => {
                    result.message =
                        "no coordinated deployments: set `coordinated_deployments`".into()
                }
            },
            other => {
                result.message =
                    format!("unknown bridge action `{other}`; known: poll, validate, coordinate")
            }
        }
        result
    }

    /// Runs one command to completion and records it.
    pub async fn execute(&mut self, command: Command) -> CommandResult {
        let received_at = Utc::now();
        let source = command.source.clone();
        if let Some(id) = command.params.request_id.clone() {
            let earlier = self.audit.by_request_id(id).await;
            if let Ok(Some(earlier)) = earlier {
                tracing::info!(
                    "{} {}: duplicate request_id; not executed again",
                    earlier.repo,
                    earlier.action
                );
                return CommandResult {
                    request_id: earlier.request_id,
                    repo: earlier.repo,
                    action: earlier.action,
                    ok: earlier.ok,
                    message: format!(
                        "duplicate request_id; nothing done. Earlier result: {}",
                        earlier.message
                    ),
                    run_id: earlier.run_id,
                    url: earlier.url,
                    // The commit the earlier one wrote, from the audit trail.
                    commit: earlier.commit,
                    duplicate: true,
                };
            }
        }
        let outcome = self.carry_out(&command).await;
        let (result, reached_github) = match outcome {
            Ok(done) => (done, true),
            Err(Failure::Refused(message)) => (command.answer(false, message, None, None), false),
            Err(Failure::GitHub(e)) => {
                (command.answer(false, github_message(&e), None, None), true)
            }
        };
        if result.ok {
            tracing::info!("{} {}: {}", result.repo, result.action, result.message);
            self.poll_now.notify_one();
        } else {
            tracing::warn!(
                "{} {} failed: {}",
                result.repo,
                result.action,
                result.message
            );
        }
        let record = CommandRecord {
            // Only commands that reached GitHub are deduplicated; a refused one may be fixed
            // and sent again with the same id.
            request_id: if reached_github {
                result.request_id.clone()
            } else {
                None
            },
            received_at,
            source: source.label(),
            repo: result.repo.clone(),
            action: result.action.clone(),
            params: audit_params(&command),
            ok: result.ok,
            message: result.message.clone(),
            run_id: result.run_id,
            url: result.url.clone(),
            finished_at: Utc::now(),
            commit: result.commit.clone(),
        };
        if let Err(e) = self.audit.record(record).await {
            tracing::error!("recording a command in the audit trail: {e}");
        }
        result
    }

    async fn audit_rejection(&self, source: &CommandSource, r: &CommandResult) {
        let record = CommandRecord {
            request_id: None,
            received_at: Utc::now(),
            source: source.label(),
            repo: r.repo.clone(),
            action: r.action.clone(),
            params: json!({ "request_id": r.request_id }).to_string(),
            ok: false,
            message: r.message.clone(),
            run_id: None,
            url: None,
            finished_at: Utc::now(),
            commit: None,
        };
        let _ = self.audit.record(record).await;
    }

    /// Authorises the command against its repository's policy, then hands it to its action.
    async fn carry_out(&mut self, c: &Command) -> Result<CommandResult, Failure> {
        let snapshot = self.state.snapshot();
        let view = snapshot
            .repos
            .values()
            .find(|v| v.repo.is(&c.owner, &c.name))
            .cloned()
            .ok_or_else(|| Failure::Refused(format!("{} is not a watched repository", c.repo())))?;
        if !view.policy.allow.contains(&c.action) {
            return Err(Failure::Refused(format!(
                "`{}` is not allowed for {}; add it to `allow` of this repository in github.repositories",
                c.action,
                view.repo.full_name()
            )));
        }
        let gated = matches!(
            c.action,
            Action::Dispatch | Action::DeployTemplate | Action::DeployConfig
        );
        if gated
            && c.params.ignore_gate != Some(true)
            && let Some(verdict) = view.gate.as_ref().filter(|v| !v.passing)
        {
            return Err(Failure::Refused(format!(
                "the quality gate of {} fails: {}; send {{\"ignore_gate\": true}} to go ahead anyway",
                view.repo.full_name(),
                verdict.failing.join("; ")
            )));
        }
        super::actions::run(self, c, &view).await
    }

    // -- what actions may use ----------------------------------------------------------------

    /// Fresh GETs for preconditions and plans.
    pub(super) fn reader(&self) -> &GitHubClient {
        &self.gh
    }

    /// Tells the template watch that `repo_id`'s templates changed.
    pub(super) fn templates_written(&self, repo_id: u64) {
        if let Some(r) = &self.template_refresh {
            r.request(repo_id);
        }
    }

    pub(super) fn config_deployer(&self) -> Option<&crate::config_deploy::ConfigDeployHandle> {
        self.config_deploy.as_ref()
    }

    pub(super) fn templates(&self) -> Option<&Arc<TemplateSettings>> {
        self.templates.as_ref()
    }

    /// The stored runs of a repository: latest attempt of each, newest first.
    pub(super) async fn recent_runs(&self, repo_id: u64) -> Result<Vec<Run>, Failure> {
        let runs = self
            .history
            .recent_runs(repo_id, 500)
            .await
            .map_err(|e| Failure::Refused(format!("reading run history: {e}")))?;
        Ok(crate::metrics::latest_attempts(&runs)
            .into_iter()
            .cloned()
            .collect())
    }

    /// The run as GitHub sees it now: the store may be a poll interval behind.
    pub(super) async fn fresh_run(&self, view: &RepoView, run_id: u64) -> Result<Run, Failure> {
        let url = self
            .gh
            .url(&api::actions::run(Repo::from(&view.repo), run_id));
        match self.gh.get_json::<ApiRun>(&url).await {
            Ok(run) => {
                let run = run.into_model(view.repo.id);
                if run.repo_id != view.repo.id {
                    return Err(Failure::Refused(format!(
                        "run {run_id} belongs to another repository"
                    )));
                }
                Ok(run)
            }
            Err(GitHubError::NotFound { .. }) => Err(Failure::Refused(format!(
                "run {run_id} does not exist in {}",
                view.repo.full_name()
            ))),
            Err(e) => Err(Failure::GitHub(e)),
        }
    }

    /// The command's one write, spaced from the repository's previous one, never retried.
    /// Returns GitHub's JSON answer, if any.
    pub(super) async fn send(
        &mut self,
        repo_id: u64,
        write: Write,
    ) -> Result<Option<serde_json::Value>, Failure> {
        if let Some(last) = self.last_write.get(&repo_id) {
            tokio::time::sleep_until(*last + WRITE_SPACING).await;
        }
        self.last_write.insert(repo_id, Instant::now());
        tracing::debug!("{} {}", write.method(), write.path());
        self.writer.send(write).await.map_err(Failure::GitHub)
    }
}

/// Why a command did not succeed.
pub(super) enum Failure {
    /// Refused before any write reached GitHub.
    Refused(String),
    /// GitHub refused or failed the request.
    GitHub(GitHubError),
}

/// A GitHub error as a command result message: what happened and what to do.
fn github_message(e: &GitHubError) -> String {
    match e {
        GitHubError::Forbidden { message, .. } => format!(
            "GitHub refused (403 {message}); the token needs Actions write access (classic: `repo` scope)"
        ),
        GitHubError::NotFound { .. } => {
            "GitHub answered 404: the run or workflow is gone, or the token cannot see it".into()
        }
        GitHubError::Conflict { message, .. } => format!("GitHub refused: {message} (409)"),
        GitHubError::Unprocessable { message, .. } => {
            format!("GitHub refused the request: {message} (422)")
        }
        GitHubError::Server { status, .. } => format!(
            "GitHub failed ({status}); not retried automatically, check the run on GitHub and try again"
        ),
        GitHubError::RateLimited { until, .. } => {
            format!(
                "GitHub rate limit reached; try again after {}",
                until.format("%H:%M:%S UTC")
            )
        }
        other => format!("{other}; not retried automatically"),
    }
}

/// What was asked, for the audit trail: input names, never their values.
fn audit_params(c: &Command) -> String {
    let inputs: Vec<&String> = c.params.inputs.iter().flat_map(|m| m.keys()).collect();
    json!({
        "request_id": c.params.request_id,
        "workflow": c.params.workflow,
        "ref": c.params.git_ref,
        "run_id": c.params.run_id,
        "inputs": inputs,
        "template": c.params.template,
        "force": c.params.force,
        "commit": c.params.commit,
    })
    .to_string()
}
