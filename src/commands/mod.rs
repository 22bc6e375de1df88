//! Commands: what Home Assistant (buttons, automations), the HTTP API or a policy asks us to
//! do on GitHub, and the one executor that does it.
//!
//! Sources (MQTT, the HTTP API, policies) build a [`Command`] and submit it. [`parse`] turns
//! an action name and payload into one, or a rejection that says why. [`actions`] holds one
//! file per action: its metadata and its GitHub call. [`executor`] is the one pipeline
//! every command passes: the repository's [`policy`] (allow-list), dedupe by `request_id`,
//! the action's preconditions, spaced writes, an audit row and a [`CommandResult`].

pub mod actions;
pub mod executor;
pub mod parse;
pub mod policy;

use serde::{Deserialize, Serialize};

pub use actions::{Action, ActionSpec, Button, buttons};
pub use executor::{CommandHandle, Executor, RecordWrite, executor};
pub use policy::{RepoPolicy, Rollback};

/// Permission to build a [`crate::github::GitHubWriter`]. Its field is private to this
/// module, so only `commands` can make one: code elsewhere that wants to change something
/// on GitHub must submit a [`Command`] instead, and so passes the allow-list, dedupe,
/// audit and pacing of the one executor.
///
/// ```compile_fail
/// // Outside `commands`, a WriteAccess cannot be made, so neither can a writer.
/// let access = gitops_bridge::commands::WriteAccess(());
/// ```
pub struct WriteAccess(());

/// Who asked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CommandSource {
    Mqtt,
    /// The HTTP API; the HA user behind ingress when known.
    Http {
        user: Option<String>,
    },
    /// An assistant through the MCP server; the HA user behind ingress when known.
    Mcp {
        user: Option<String>,
    },
    /// A recovery policy of our own.
    Policy,
    /// The `gitops-bridge templates` command line.
    Cli,
    /// The configuration deployer, recording its deployments on GitHub.
    ConfigDeploy,
    /// The quality gate, posting its commit statuses.
    QualityGate,
}

impl CommandSource {
    pub fn label(&self) -> String {
        match self {
            CommandSource::Mqtt => "mqtt".into(),
            CommandSource::Http { user: Some(u) } => format!("http:{u}"),
            CommandSource::Http { user: None } => "http".into(),
            CommandSource::Mcp { user: Some(u) } => format!("mcp:{u}"),
            CommandSource::Mcp { user: None } => "mcp".into(),
            CommandSource::Policy => "policy".into(),
            CommandSource::Cli => "cli".into(),
            CommandSource::ConfigDeploy => "config-deploy".into(),
            CommandSource::QualityGate => "quality-gate".into(),
        }
    }
}

/// The optional JSON body of a command. Everything has a sensible default, so a bare
/// button press (`PRESS`) is a complete command.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Params {
    /// Makes the command idempotent: a second command with the same id does nothing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    /// `dispatch`: the workflow file (`deploy.yml`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workflow: Option<String>,
    /// `dispatch`: the branch or tag to run on (default: the repository's setting or default branch).
    #[serde(default, rename = "ref", skip_serializing_if = "Option::is_none")]
    pub git_ref: Option<String>,
    /// `dispatch`: workflow inputs (at most 25, scalar values).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inputs: Option<serde_json::Map<String, serde_json::Value>>,
    /// `rerun`, `rerun_failed`, `cancel`: the run (default: the latest fitting one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_id: Option<u64>,
    /// `deploy_template`: only this template (default: every template the repository gets).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub template: Option<String>,
    /// `deploy_template`, `rollback_template`: overwrite files edited by hand since our deploy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub force: Option<bool>,
    /// `deploy_config`: deploy exactly this commit (default: the branch head).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commit: Option<String>,
    /// `dispatch`, `deploy_template`, `deploy_config`: go ahead though the repository's
    /// quality gate fails.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ignore_gate: Option<bool>,
    /// The bridge's `coordinate`: which coordinated deployment to start.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deployment: Option<String>,
}

/// What a source (MQTT, HTTP, a policy) hands the executor.
#[derive(Debug, Clone, PartialEq)]
pub enum Request {
    /// An action on a repository.
    Repo(Command),
    /// An action of the bridge itself (`poll`, `validate`, `coordinate`).
    Bridge {
        action: String,
        request_id: Option<String>,
        /// `coordinate`: the deployment to start.
        deployment: Option<String>,
    },
    /// Turn a policy switch on or off: a repository's (`Some((owner, name))`) or the
    /// bridge's.
    Switch {
        repo: Option<(String, String)>,
        key: String,
        on: bool,
    },
    /// Refused by the source before it became a command (a retained MQTT message, say):
    /// the executor audits it and publishes the answer like any other.
    Refused {
        source: CommandSource,
        result: CommandResult,
    },
}

impl Request {
    /// The answer when the executor has no room for this request: every command is
    /// answered, even one that cannot be queued.
    pub fn busy(&self) -> CommandResult {
        const BUSY: &str = "busy: too many commands are waiting; try again in a moment";
        match self {
            Request::Repo(c) => CommandResult::rejected(
                c.params.request_id.clone(),
                c.repo(),
                c.action.to_string(),
                BUSY,
            ),
            Request::Bridge {
                action, request_id, ..
            } => CommandResult::rejected(request_id.clone(), "bridge".into(), action.clone(), BUSY),
            Request::Switch { repo, key, .. } => CommandResult::rejected(
                None,
                repo.as_ref()
                    .map_or("bridge".into(), |(o, n)| format!("{o}/{n}")),
                format!("set_{key}"),
                BUSY,
            ),
            Request::Refused { result, .. } => result.clone(),
        }
    }
}

/// A validated request for one action on one repository.
#[derive(Debug, Clone, PartialEq)]
pub struct Command {
    pub source: CommandSource,
    pub owner: String,
    pub name: String,
    pub action: Action,
    pub params: Params,
}

impl Command {
    pub fn repo(&self) -> String {
        format!("{}/{}", self.owner, self.name)
    }

    /// The result of this command.
    pub fn answer(
        &self,
        ok: bool,
        message: String,
        run_id: Option<u64>,
        url: Option<String>,
    ) -> CommandResult {
        CommandResult {
            request_id: self.params.request_id.clone(),
            repo: self.repo(),
            action: self.action.to_string(),
            ok,
            message,
            run_id,
            url,
            commit: None,
            duplicate: false,
        }
    }
}

/// The answer to every command, published on `<base>/cmd/result` (never retained).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CommandResult {
    pub request_id: Option<String>,
    pub repo: String,
    pub action: String,
    pub ok: bool,
    pub message: String,
    pub run_id: Option<u64>,
    pub url: Option<String>,
    /// The commit a template deploy or rollback wrote (on the branch, or on the branch of
    /// its pull request): what a rollout's wave gate watches the runs of.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commit: Option<String>,
    /// True when this repeats the result of an earlier command with the same `request_id`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub duplicate: bool,
}

impl CommandResult {
    pub fn rejected(
        request_id: Option<String>,
        repo: String,
        action: String,
        message: impl Into<String>,
    ) -> Self {
        CommandResult {
            request_id,
            repo,
            action,
            ok: false,
            message: message.into(),
            run_id: None,
            url: None,
            commit: None,
            duplicate: false,
        }
    }

    /// The same result, naming the commit it wrote.
    pub fn with_commit(mut self, commit: impl Into<String>) -> Self {
        self.commit = Some(commit.into());
        self
    }
}
