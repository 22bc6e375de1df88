//! The settings file as users write it (see `examples/settings.yaml`): every field
//! documented, `deny_unknown_fields`, nothing validated yet.

use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

use super::Secret;

/// The settings file, as written by the user (see `examples/settings.yaml`).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSettings {
    /// GitHub: token, API URL, which repositories to watch and how often to poll.
    #[serde(default)]
    pub github: RawGitHub,
    /// The MQTT broker Home Assistant listens to.
    #[serde(default)]
    pub mqtt: RawMqtt,
    /// Where history is kept.
    #[serde(default)]
    pub store: RawStore,
    /// Metric windows and health thresholds.
    #[serde(default)]
    pub metrics: RawMetrics,
    /// The HTTP server (webhooks, API, dashboard).
    #[serde(default)]
    pub http: RawHttp,
    /// Continuous validation of a Home Assistant configuration directory (the add-on).
    #[serde(default)]
    pub validate: RawValidate,
    /// Workflow templates and the repositories they are deployed to.
    #[serde(default)]
    pub templates: crate::deploy::RawTemplates,
    /// Deploying the Home Assistant configuration from its repository.
    #[serde(default)]
    pub config_deploy: crate::config_deploy::RawConfigDeploy,
    /// How Home Assistant's API is reached (entity health checks, the configuration
    /// deployment): default the Supervisor's proxy inside the add-on.
    #[serde(default)]
    pub home_assistant: crate::home_assistant::RawHomeAssistant,
    /// Deployments across repositories in order, each waiting for the one before.
    #[serde(default)]
    pub coordinated_deployments: Vec<RawCoordinated>,
    /// Log filter (`info`, `debug`, `gitops_bridge=debug,rumqttc=warn`, …).
    #[serde(default)]
    pub log_level: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawGitHub {
    /// A personal access token (classic: `repo`; fine-grained: Actions read, plus write for commands).
    pub token: Option<Secret>,
    /// A file holding the token (Docker/Kubernetes secrets); used when `token` is not set.
    pub token_file: Option<PathBuf>,
    /// REST API base URL; `https://ghe.example.com/api/v3` for GitHub Enterprise Server.
    pub api_url: Option<String>,
    /// Repositories to watch: `owner/name`, `owner/*`, or a map with per-repository policy.
    #[serde(default)]
    pub repositories: Vec<RawRepository>,
    /// How often to poll (`60s`, `5m`); webhooks make changes arrive sooner.
    pub poll_interval: Option<HumanDuration>,
    /// How often to re-list `owner/*` repositories and refresh repository metadata.
    pub discovery_interval: Option<HumanDuration>,
    /// Secret GitHub signs webhook deliveries with.
    pub webhook_secret: Option<Secret>,
    /// Accept webhooks without a secret. Only for a private network you trust.
    pub allow_unsigned_webhooks: Option<bool>,
    /// Include archived repositories when expanding `owner/*`.
    pub include_archived: Option<bool>,
    /// Include forks when expanding `owner/*`.
    pub include_forks: Option<bool>,
    /// Timeout of one GitHub request (`30s`).
    pub request_timeout: Option<HumanDuration>,
    /// Requests left in the hourly budget below which polling slows down to stretch it.
    pub rate_limit_reserve: Option<u32>,
}

/// One entry of `github.repositories`: a bare name or a map with policy.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum RawRepository {
    Name(String),
    Detailed(Box<RawRepositoryPolicy>),
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRepositoryPolicy {
    /// `owner/name` or `owner/*`.
    pub name: String,
    /// Actions Home Assistant may trigger. Nothing that writes is allowed unless listed.
    #[serde(default)]
    pub allow: Vec<String>,
    /// Workflows (file names) offered for dispatch.
    #[serde(default)]
    pub dispatch: Vec<String>,
    /// The workflow that deploys (file name); used by `rollback` without a rollback workflow.
    pub deploy_workflow: Option<String>,
    /// A workflow that rolls back, and the input that receives the commit to roll back to.
    pub rollback: Option<RawRollback>,
    /// Git ref dispatches run on when a command names none (default: the default branch).
    pub dispatch_ref: Option<String>,
    /// Re-run failed jobs by themselves when the failure looks transient.
    pub auto_retry: Option<RawAutoRetry>,
    /// Roll back by itself after repeated deploy failures.
    pub auto_rollback: Option<RawAutoRollback>,
    /// HTTP checks of what the repository deploys.
    #[serde(default)]
    pub health_checks: Vec<RawHealthCheck>,
    /// How often the health checks run (default 5m); also after each successful deploy.
    pub health_check_every: Option<HumanDuration>,
    /// Upstream workflows: when one succeeds on its default branch, `on_upstream` runs here.
    #[serde(default)]
    pub needs: Vec<RawNeed>,
    /// The workflow dispatched here when a workflow in `needs` succeeds.
    pub on_upstream: Option<RawOnUpstream>,
    /// Targets of the service-level objectives (default: the plan's 95 %, 5m, 1h).
    pub slo: Option<RawSlo>,
    /// A quality gate: SLOs met, health checks passing, upstreams healthy.
    pub quality_gate: Option<RawQualityGate>,
}

/// One entry of `needs:`: an upstream repository's workflow.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawNeed {
    /// `owner/name` of a watched repository.
    pub repository: String,
    /// Its workflow (file name) whose success on its default branch triggers ours.
    pub workflow: String,
}

/// `on_upstream:` of a repository.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawOnUpstream {
    /// The workflow dispatched here (must be listed in `dispatch`).
    pub workflow: String,
    /// The `workflow_dispatch` input that receives the upstream's commit (default
    /// `upstream_sha`; empty: no input).
    pub sha_input: Option<String>,
}

/// `slo:` of a repository.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSlo {
    /// The least success rate over the metrics window, in percent (default 95).
    pub success_rate: Option<f64>,
    /// The 95th-percentile run duration must stay under this (default 5m).
    pub p95_duration: Option<HumanDuration>,
    /// The mean time to recovery must stay under this (default 1h).
    pub mttr: Option<HumanDuration>,
}

/// `quality_gate:` of a repository.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawQualityGate {
    /// Post the verdict as the commit status `gitops-bridge/quality-gate` (default true).
    pub publish: Option<bool>,
    /// Failing health checks fail the gate (default true).
    pub health: Option<bool>,
    /// A failing upstream (`needs`) fails the gate (default true).
    pub upstream: Option<bool>,
    /// Errors in the check of `validate.path` fail the gate (default false).
    pub config_check: Option<bool>,
}

/// One entry of `coordinated_deployments:`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawCoordinated {
    /// What HA and the command call it (`homelab`).
    pub name: String,
    /// The repositories, in order; each waits for the one before to succeed.
    pub steps: Vec<RawCoordinatedStep>,
    /// How long one step's run may take (default 1h).
    pub step_timeout: Option<HumanDuration>,
}

/// One step of a coordinated deployment.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawCoordinatedStep {
    pub repository: String,
    /// The workflow dispatched (default: the repository's `deploy_workflow`).
    pub workflow: Option<String>,
}

/// One entry of `health_checks:`: an HTTP check (`url`) or an HA entity (`entity`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawHealthCheck {
    pub url: Option<String>,
    /// The status that means healthy (default 200).
    pub expect_status: Option<u16>,
    /// An entity of Home Assistant (`binary_sensor.nas_online`).
    pub entity: Option<String>,
    /// The entity's healthy state (default: any but `unavailable` and `unknown`).
    pub state: Option<String>,
    /// How long the answer may take (default 10s).
    pub timeout: Option<HumanDuration>,
}

/// `auto_rollback:` of a repository.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAutoRollback {
    /// Failed runs of `deploy_workflow` in a row on the default branch (default 3).
    pub after: Option<u32>,
    /// The least time between two automatic rollbacks (default 1h).
    pub cooldown: Option<HumanDuration>,
    /// Failed health checks in a row after a successful deploy that roll it back (default
    /// 1; 0: health checks never roll back).
    pub health_failures: Option<u32>,
}

/// `auto_retry:` of a repository.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAutoRetry {
    /// Failure classes to re-run (default `infrastructure`, `timeout`, `flaky`).
    pub classes: Option<Vec<String>>,
    /// Re-runs of one run at most (default 2).
    pub max_retries: Option<u32>,
    /// Wait before the first re-run, doubled for each next one (default 30s).
    pub backoff: Option<HumanDuration>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRollback {
    pub workflow: String,
    #[serde(default = "default_rollback_input")]
    pub input: String,
}

fn default_rollback_input() -> String {
    "rollback_to".to_string()
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawMqtt {
    /// Broker host. In the add-on it comes from the Supervisor unless set here.
    pub host: Option<String>,
    pub port: Option<u16>,
    pub username: Option<String>,
    pub password: Option<Secret>,
    /// Connect with TLS (system roots, or `ca_file`).
    pub tls: Option<bool>,
    /// PEM file with the CA that signed the broker's certificate.
    pub ca_file: Option<PathBuf>,
    /// MQTT client id; must be unique on the broker.
    pub client_id: Option<String>,
    /// Root of our own topics.
    pub base_topic: Option<String>,
    /// Home Assistant's discovery prefix.
    pub discovery_prefix: Option<String>,
    /// Topic Home Assistant announces itself on (`online` after a start).
    pub birth_topic: Option<String>,
    pub keep_alive: Option<HumanDuration>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawStore {
    /// SQLite database file.
    pub path: Option<PathBuf>,
    /// Runs older than this are deleted (`90d`).
    pub retention: Option<HumanDuration>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawMetrics {
    /// Window for success rate, durations, MTTR and runs per day (`7d`).
    pub window: Option<HumanDuration>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawHttp {
    /// Address the HTTP server listens on; empty to turn it off.
    pub listen: Option<String>,
    /// Bearer token required for mutating API calls from outside HA ingress.
    pub api_token: Option<Secret>,
    /// Networks whose MCP requests need no token (HA's own MCP integration cannot send one).
    pub mcp_trusted_networks: Option<Vec<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawValidate {
    /// The HA configuration directory to validate on start, on change and on request
    /// (`/homeassistant` in the add-on). Unset: no continuous validation.
    pub path: Option<PathBuf>,
    /// Re-validate when files under `path` change.
    pub watch: Option<bool>,
    /// Also run the security scan (`gitops-bridge scan`) with each check.
    pub security: Option<bool>,
    /// Entity ids and actions never reported as unknown (`*` wildcards allowed).
    #[serde(default)]
    pub ignore: Vec<String>,
    /// Diagnostic codes never reported (`file-unreachable`).
    #[serde(default)]
    pub ignore_codes: Vec<String>,
    /// Files never reported, relative to `path` (`*` wildcards allowed).
    #[serde(default)]
    pub ignore_files: Vec<String>,
}

impl RawValidate {
    /// The three ignore lists, in the one shape `check` takes them.
    pub fn ignore_lists(self) -> crate::validate::IgnoreLists {
        crate::validate::IgnoreLists {
            ignore: self.ignore,
            ignore_codes: self.ignore_codes,
            ignore_files: self.ignore_files,
        }
    }
}

/// A duration written as `60s`, `5m`, `7d`, or a number of seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HumanDuration(pub Duration);

impl<'de> Deserialize<'de> for HumanDuration {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Repr {
            Seconds(u64),
            Text(String),
        }
        match Repr::deserialize(d)? {
            Repr::Seconds(s) => Ok(HumanDuration(Duration::from_secs(s))),
            // A bare number in a string (`"60"`, as the add-on UI saves it) is seconds.
            Repr::Text(t) if t.trim().parse::<u64>().is_ok() => Ok(HumanDuration(
                Duration::from_secs(t.trim().parse().unwrap_or(0)),
            )),
            Repr::Text(t) => humantime::parse_duration(t.trim())
                .map(HumanDuration)
                .map_err(|e| {
                    serde::de::Error::custom(format!(
                        "`{t}` is not a duration ({e}); write e.g. `60s`, `5m`, `7d`"
                    ))
                }),
        }
    }
}
