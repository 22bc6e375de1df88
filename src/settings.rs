//! Typed settings, loaded in layers and validated once before anything starts.
//!
//! Layers, later wins key by key: built-in defaults < the YAML file given with `--config` <
//! the HA add-on's `/data/options.json` < environment variables
//! (`GITOPS_BRIDGE__MQTT__HOST=…`, `__` separates keys).
//!
//! The layers are merged as JSON values and then deserialised once with
//! `serde_path_to_error`, so every error names the full key (`mqtt.port: invalid type …`).
//! `RawSettings` mirrors the file (every field documented, `deny_unknown_fields`);
//! [`Settings::from_raw`] checks cross-field rules and is the only way to get a [`Settings`].

use std::collections::BTreeSet;
use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;
use serde_json::Value;
use url::Url;

/// Prefix of environment variables that override settings.
pub const ENV_PREFIX: &str = "GITOPS_BRIDGE__";
/// Where the HA Supervisor puts the add-on's options.
pub const ADDON_OPTIONS_PATH: &str = "/data/options.json";

/// A setting that must never reach logs, MQTT or reports. `Debug` prints `***`.
#[derive(Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }
    /// The secret itself; call only where it is handed to the peer that needs it.
    pub fn expose(&self) -> &str {
        &self.0
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.0.is_empty() { "\"\"" } else { "***" })
    }
}

/// What went wrong while loading settings; every variant names the key or file.
#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    #[error("cannot read settings file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("settings file {path} is not valid YAML: {message}")]
    Syntax { path: PathBuf, message: String },
    #[error("setting `{key}`: {message}")]
    Invalid { key: String, message: String },
    #[error("setting `{key}` is required: {hint}")]
    Missing { key: String, hint: String },
}

fn invalid(key: &str, message: impl Into<String>) -> SettingsError {
    SettingsError::Invalid {
        key: key.to_string(),
        message: message.into(),
    }
}

// ---------------------------------------------------------------------------------------------
// The file as users write it.

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
    Detailed(RawRepositoryPolicy),
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
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawValidate {
    /// The HA configuration directory to validate on start, on change and on request
    /// (`/homeassistant` in the add-on). Unset: no continuous validation.
    pub path: Option<PathBuf>,
    /// Re-validate when files under `path` change.
    pub watch: Option<bool>,
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

// ---------------------------------------------------------------------------------------------
// Validated settings: what the rest of the code sees.

// The policy types belong to the commands they govern; settings hold one per repository.
pub use crate::commands::{Action, RepoPolicy, Rollback};

/// One `github.repositories` entry, validated.
#[derive(Debug, Clone, PartialEq)]
pub enum RepoSelector {
    /// `owner/name`.
    Exact {
        owner: String,
        name: String,
        policy: RepoPolicy,
    },
    /// `owner/*`: every repository of a user or organisation.
    Owner { owner: String, policy: RepoPolicy },
}

impl RepoSelector {
    pub fn owner(&self) -> &str {
        match self {
            RepoSelector::Exact { owner, .. } | RepoSelector::Owner { owner, .. } => owner,
        }
    }
    pub fn policy(&self) -> &RepoPolicy {
        match self {
            RepoSelector::Exact { policy, .. } | RepoSelector::Owner { policy, .. } => policy,
        }
    }
}

#[derive(Debug, Clone)]
pub struct GitHubSettings {
    pub token: Secret,
    pub api_url: Url,
    pub repositories: Vec<RepoSelector>,
    pub poll_interval: Duration,
    pub discovery_interval: Duration,
    pub webhook_secret: Option<Secret>,
    pub allow_unsigned_webhooks: bool,
    pub include_archived: bool,
    pub include_forks: bool,
    pub request_timeout: Duration,
    pub rate_limit_reserve: u32,
}

impl GitHubSettings {
    /// The policy of a repository: an exact entry wins over its `owner/*` entry.
    pub fn policy_for(&self, owner: &str, name: &str) -> Option<&RepoPolicy> {
        let exact = self.repositories.iter().find_map(|s| match s {
            RepoSelector::Exact {
                owner: o,
                name: n,
                policy,
            } if o.eq_ignore_ascii_case(owner) && n.eq_ignore_ascii_case(name) => Some(policy),
            _ => None,
        });
        exact.or_else(|| {
            self.repositories.iter().find_map(|s| match s {
                RepoSelector::Owner { owner: o, policy } if o.eq_ignore_ascii_case(owner) => {
                    Some(policy)
                }
                _ => None,
            })
        })
    }
}

#[derive(Debug, Clone)]
pub struct MqttSettings {
    pub host: String,
    pub port: u16,
    pub username: Option<String>,
    pub password: Option<Secret>,
    pub tls: bool,
    pub ca_file: Option<PathBuf>,
    pub client_id: String,
    pub base_topic: String,
    pub discovery_prefix: String,
    pub birth_topic: String,
    pub keep_alive: Duration,
    /// True when host/credentials were set by hand (the Supervisor must not override them).
    pub host_set_by_user: bool,
}

#[derive(Debug, Clone)]
pub struct StoreSettings {
    pub path: PathBuf,
    pub retention: Duration,
}

/// Continuous validation, when `path` is set.
#[derive(Debug, Clone, Default)]
pub struct ValidateSettings {
    pub path: Option<PathBuf>,
    pub watch: bool,
    pub ignore: Vec<String>,
    pub ignore_codes: Vec<String>,
    pub ignore_files: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct HttpSettings {
    pub listen: Option<String>,
    pub api_token: Option<Secret>,
}

/// Validated settings. Build with [`Settings::load`] or [`Settings::from_raw`].
#[derive(Debug, Clone)]
pub struct Settings {
    pub github: GitHubSettings,
    pub mqtt: MqttSettings,
    pub store: StoreSettings,
    pub metrics_window: Duration,
    pub http: HttpSettings,
    pub validate: ValidateSettings,
    pub log_level: String,
}

/// The history database's file name when `store.path` is not set.
pub const DEFAULT_STORE_FILE: &str = "gitops-bridge.db";
/// The log filter when `log_level` is not set.
pub const DEFAULT_LOG_LEVEL: &str = "info";
/// The levels a `log_level` directive may name.
const LOG_LEVELS: &[&str] = &["trace", "debug", "info", "warn", "error", "off"];

/// A `log_level` is a level (`debug`) or comma-separated `target=level` directives
/// (`gitops_bridge=debug,info`). `tracing`'s own parser takes a lone unknown word as a target
/// name, so `verbose` would silently mean "log nothing": every directive must name a level.
/// Returns the filter with spaces around directives removed (`tracing` refuses them).
fn check_log_level(filter: &str) -> Result<String, String> {
    let bad = |directive: &str| {
        format!(
            "`{directive}` is not a log level; use one of {} (or `target=level`, comma-separated)",
            LOG_LEVELS.join(", ")
        )
    };
    for directive in filter.split(',').map(str::trim) {
        let level = match directive.rsplit_once('=') {
            Some((target, level)) if !target.is_empty() => level,
            Some(_) => return Err(bad(directive)),
            None => directive,
        };
        if !LOG_LEVELS.contains(&level.trim().to_ascii_lowercase().as_str()) {
            return Err(bad(directive));
        }
    }
    let normalised: Vec<&str> = filter.split(',').map(str::trim).collect();
    let normalised = normalised.join(",");
    tracing_subscriber::EnvFilter::try_new(&normalised).map_err(|e| format!("`{filter}`: {e}"))?;
    Ok(normalised)
}

/// Where settings come from; tests and the add-on point these elsewhere.
#[derive(Debug, Clone)]
pub struct Sources {
    pub file: Option<PathBuf>,
    pub addon_options: Option<PathBuf>,
    /// Environment variables to consider (normally `std::env::vars()`).
    pub env: Vec<(String, String)>,
}

impl Sources {
    /// The real sources: the given file, `/data/options.json` if present, the process env.
    pub fn from_process(file: Option<PathBuf>) -> Self {
        Sources {
            file,
            addon_options: Some(PathBuf::from(ADDON_OPTIONS_PATH)),
            env: std::env::vars().collect(),
        }
    }
}

impl Settings {
    /// Loads all layers and validates them.
    pub fn load(sources: &Sources) -> Result<Settings, SettingsError> {
        let raw = load_raw(sources)?;
        let store_unset = raw.store.path.is_none();
        let mut settings = Settings::from_raw(raw)?;
        // Without `store.path`, the history lives next to the settings file (or in the
        // working directory): a path that works on any machine. The add-on sets `/data/…`.
        if store_unset && let Some(dir) = sources.file.as_deref().and_then(|f| f.parent()) {
            settings.store.path = dir.join(DEFAULT_STORE_FILE);
        }
        Ok(settings)
    }

    /// Checks cross-field rules and fills defaults.
    pub fn from_raw(raw: RawSettings) -> Result<Settings, SettingsError> {
        let github = validate_github(raw.github)?;
        let mqtt = validate_mqtt(raw.mqtt)?;
        let store = StoreSettings {
            path: raw
                .store
                .path
                .unwrap_or_else(|| PathBuf::from(DEFAULT_STORE_FILE)),
            retention: raw
                .store
                .retention
                .map_or(Duration::from_secs(90 * 86_400), |d| d.0),
        };
        if store.path.as_os_str().is_empty() {
            return Err(invalid("store.path", "must not be empty"));
        }
        let metrics_window = raw
            .metrics
            .window
            .map_or(Duration::from_secs(7 * 86_400), |d| d.0);
        if metrics_window < Duration::from_secs(3600) {
            return Err(invalid("metrics.window", "must be at least 1h"));
        }
        if store.retention < metrics_window {
            return Err(invalid(
                "store.retention",
                "must be at least `metrics.window`, or metrics would miss runs",
            ));
        }
        let http = HttpSettings {
            listen: match raw.http.listen {
                Some(l) if l.trim().is_empty() => None,
                Some(l) => {
                    l.parse::<std::net::SocketAddr>().map_err(|_| {
                        invalid(
                            "http.listen",
                            format!("`{l}` is not an address like `0.0.0.0:8099`"),
                        )
                    })?;
                    Some(l)
                }
                None => Some("0.0.0.0:8099".to_string()),
            },
            api_token: raw.http.api_token.filter(|t| !t.is_empty()),
        };
        let validate = ValidateSettings {
            path: raw.validate.path.filter(|p| !p.as_os_str().is_empty()),
            watch: raw.validate.watch.unwrap_or(true),
            ignore: raw.validate.ignore,
            ignore_codes: raw.validate.ignore_codes,
            ignore_files: raw.validate.ignore_files,
        };
        if let Some(path) = &validate.path
            && !path.is_dir()
        {
            return Err(invalid(
                "validate.path",
                format!(
                    "{} is not a directory (the one holding configuration.yaml)",
                    path.display()
                ),
            ));
        }
        let log_level = raw
            .log_level
            .unwrap_or_else(|| DEFAULT_LOG_LEVEL.to_string());
        let log_level = check_log_level(&log_level).map_err(|m| invalid("log_level", m))?;
        Ok(Settings {
            github,
            mqtt,
            store,
            metrics_window,
            http,
            validate,
            log_level,
        })
    }
}

fn validate_github(raw: RawGitHub) -> Result<GitHubSettings, SettingsError> {
    let token = match (raw.token.filter(|t| !t.is_empty()), raw.token_file) {
        (Some(t), _) => t,
        (None, Some(path)) => {
            let text = std::fs::read_to_string(&path).map_err(|e| {
                invalid(
                    "github.token_file",
                    format!("cannot read {}: {e}", path.display()),
                )
            })?;
            let text = text.trim();
            if text.is_empty() {
                return Err(invalid(
                    "github.token_file",
                    format!("{} is empty", path.display()),
                ));
            }
            Secret::new(text)
        }
        (None, None) => {
            return Err(SettingsError::Missing {
                key: "github.token".into(),
                hint:
                    "set `github.token` (or `github.token_file`, or GITOPS_BRIDGE__GITHUB__TOKEN) \
                       to a GitHub token that can read Actions"
                        .into(),
            });
        }
    };
    if token
        .expose()
        .chars()
        .any(|c| c.is_whitespace() || c.is_control())
    {
        return Err(invalid(
            "github.token",
            "contains whitespace; paste the token alone",
        ));
    }
    let api_url_text = raw
        .api_url
        .unwrap_or_else(|| "https://api.github.com".to_string());
    let api_url = parse_http_url(&api_url_text, "github.api_url")?;

    if raw.repositories.is_empty() {
        return Err(SettingsError::Missing {
            key: "github.repositories".into(),
            hint: "list at least one repository: `owner/name` or `owner/*`".into(),
        });
    }
    let mut repositories = Vec::new();
    let mut seen = BTreeSet::new();
    for (i, entry) in raw.repositories.into_iter().enumerate() {
        let key = format!("github.repositories[{i}]");
        let selector = validate_repository(entry, &key)?;
        let id = match &selector {
            RepoSelector::Exact { owner, name, .. } => {
                format!("{}/{}", owner.to_lowercase(), name.to_lowercase())
            }
            RepoSelector::Owner { owner, .. } => format!("{}/*", owner.to_lowercase()),
        };
        if !seen.insert(id.clone()) {
            return Err(invalid(&key, format!("`{id}` is listed twice")));
        }
        repositories.push(selector);
    }

    let poll_interval = raw.poll_interval.map_or(Duration::from_secs(60), |d| d.0);
    // Quiet polls are free (304), and pacing stretches the interval when the budget runs low,
    // so a short interval is safe; below a second it would only burn CPU.
    if poll_interval < Duration::from_secs(1) {
        return Err(invalid("github.poll_interval", "must be at least 1s"));
    }
    // Discovery runs inside poll cycles, so it is never more often than polling anyway.
    let discovery_interval = raw
        .discovery_interval
        .map_or(Duration::from_secs(15 * 60), |d| d.0);
    let request_timeout = raw.request_timeout.map_or(Duration::from_secs(30), |d| d.0);
    if request_timeout.is_zero() {
        return Err(invalid("github.request_timeout", "must be more than 0s"));
    }
    Ok(GitHubSettings {
        token,
        api_url,
        repositories,
        poll_interval,
        discovery_interval,
        webhook_secret: raw.webhook_secret.filter(|s| !s.is_empty()),
        allow_unsigned_webhooks: raw.allow_unsigned_webhooks.unwrap_or(false),
        include_archived: raw.include_archived.unwrap_or(false),
        include_forks: raw.include_forks.unwrap_or(true),
        request_timeout,
        rate_limit_reserve: raw.rate_limit_reserve.unwrap_or(100),
    })
}

fn is_owner_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 39
        && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        && !s.starts_with('-')
}

fn is_repo_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 100
        && s != "."
        && s != ".."
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

fn validate_repository(entry: RawRepository, key: &str) -> Result<RepoSelector, SettingsError> {
    let (name, raw_policy) = match entry {
        RawRepository::Name(n) => (n, RawRepositoryPolicy::default()),
        RawRepository::Detailed(p) => (p.name.clone(), p),
    };
    let name = name.trim().to_string();
    let Some((owner, repo)) = name.split_once('/') else {
        return Err(invalid(
            key,
            format!("`{name}` is not `owner/name` or `owner/*`"),
        ));
    };
    if !is_owner_name(owner) {
        return Err(invalid(
            key,
            format!("`{owner}` is not a GitHub user or organisation name"),
        ));
    }
    let mut allow = BTreeSet::new();
    for (j, a) in raw_policy.allow.iter().enumerate() {
        let action = Action::parse(a.trim()).ok_or_else(|| {
            invalid(
                &format!("{key}.allow[{j}]"),
                format!("unknown action `{a}`; allowed: {}", Action::names()),
            )
        })?;
        allow.insert(action);
    }
    for (j, w) in raw_policy.dispatch.iter().enumerate() {
        if !crate::model::is_workflow_file(w) {
            return Err(invalid(
                &format!("{key}.dispatch[{j}]"),
                format!("`{w}` is not a workflow file name like `deploy.yml`"),
            ));
        }
    }
    if !raw_policy.dispatch.is_empty() && !allow.contains(&Action::Dispatch) {
        return Err(invalid(
            &format!("{key}.dispatch"),
            "lists workflows but `dispatch` is not in `allow`; add it there to offer them",
        ));
    }
    if let Some(w) = &raw_policy.deploy_workflow
        && !crate::model::is_workflow_file(w)
    {
        return Err(invalid(
            &format!("{key}.deploy_workflow"),
            format!("`{w}` is not a workflow file name like `deploy.yml`"),
        ));
    }
    if let Some(r) = &raw_policy.rollback {
        if !crate::model::is_workflow_file(&r.workflow) {
            return Err(invalid(
                &format!("{key}.rollback.workflow"),
                format!(
                    "`{}` is not a workflow file name like `rollback.yml`",
                    r.workflow
                ),
            ));
        }
        if r.input.trim().is_empty() {
            return Err(invalid(
                &format!("{key}.rollback.input"),
                "must not be empty",
            ));
        }
    }
    if let Some(r) = &raw_policy.dispatch_ref
        && !crate::model::is_valid_git_ref(r)
    {
        return Err(invalid(
            &format!("{key}.dispatch_ref"),
            format!("`{r}` is not a git ref"),
        ));
    }
    let policy = RepoPolicy {
        allow,
        dispatch: raw_policy.dispatch,
        deploy_workflow: raw_policy.deploy_workflow,
        rollback: raw_policy.rollback.map(|r| Rollback {
            workflow: r.workflow,
            input: r.input,
        }),
        dispatch_ref: raw_policy.dispatch_ref,
    };
    if let Some((_, why)) = policy.unmet_requirement() {
        return Err(invalid(&format!("{key}.allow"), why));
    }
    if repo == "*" {
        Ok(RepoSelector::Owner {
            owner: owner.to_string(),
            policy,
        })
    } else if is_repo_name(repo) {
        Ok(RepoSelector::Exact {
            owner: owner.to_string(),
            name: repo.to_string(),
            policy,
        })
    } else {
        Err(invalid(key, format!("`{repo}` is not a repository name")))
    }
}

fn validate_mqtt(raw: RawMqtt) -> Result<MqttSettings, SettingsError> {
    let host_set_by_user = raw.host.as_deref().is_some_and(|h| !h.trim().is_empty());
    let host = raw
        .host
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".to_string());
    if host.contains("://") || host.contains('/') || host.contains(' ') {
        return Err(invalid(
            "mqtt.host",
            format!("`{host}` is not a host name; write the host alone, e.g. `core-mosquitto`"),
        ));
    }
    let tls = raw.tls.unwrap_or(false);
    let port = raw.port.unwrap_or(if tls { 8883 } else { 1883 });
    if port == 0 {
        return Err(invalid("mqtt.port", "must be 1–65535"));
    }
    if raw.ca_file.is_some() && !tls {
        return Err(invalid("mqtt.ca_file", "is set but `mqtt.tls` is false"));
    }
    if let Some(ca) = &raw.ca_file
        && !ca.is_file()
    {
        return Err(invalid(
            "mqtt.ca_file",
            format!("{} does not exist", ca.display()),
        ));
    }
    if raw.password.as_ref().is_some_and(|p| !p.is_empty()) && raw.username.is_none() {
        return Err(invalid(
            "mqtt.password",
            "is set but `mqtt.username` is not",
        ));
    }
    let base_topic = raw
        .base_topic
        .unwrap_or_else(|| "gitops-bridge".to_string());
    validate_topic_root(&base_topic, "mqtt.base_topic")?;
    let discovery_prefix = raw
        .discovery_prefix
        .unwrap_or_else(|| "homeassistant".to_string());
    validate_topic_root(&discovery_prefix, "mqtt.discovery_prefix")?;
    if base_topic == discovery_prefix {
        return Err(invalid(
            "mqtt.base_topic",
            "must differ from `mqtt.discovery_prefix`",
        ));
    }
    let birth_topic = raw
        .birth_topic
        .unwrap_or_else(|| format!("{discovery_prefix}/status"));
    validate_topic_root(&birth_topic, "mqtt.birth_topic")?;
    let client_id = raw
        .client_id
        .unwrap_or_else(|| format!("{}-{}", base_topic.replace('/', "-"), std::process::id()));
    if client_id.is_empty() || client_id.len() > 128 {
        return Err(invalid("mqtt.client_id", "must be 1–128 characters"));
    }
    let keep_alive = raw.keep_alive.map_or(Duration::from_secs(30), |d| d.0);
    if keep_alive < Duration::from_secs(5) {
        return Err(invalid("mqtt.keep_alive", "must be at least 5s"));
    }
    Ok(MqttSettings {
        host,
        port,
        username: raw.username.filter(|u| !u.is_empty()),
        password: raw.password.filter(|p| !p.is_empty()),
        tls,
        ca_file: raw.ca_file,
        client_id,
        base_topic,
        discovery_prefix,
        birth_topic,
        keep_alive,
        host_set_by_user,
    })
}

fn validate_topic_root(topic: &str, key: &str) -> Result<(), SettingsError> {
    if topic.is_empty()
        || topic.starts_with('/')
        || topic.ends_with('/')
        || topic.contains(['+', '#', '\0'])
        || topic.contains("//")
    {
        return Err(invalid(
            key,
            format!("`{topic}` is not a valid topic (no wildcards, no leading or trailing `/`)"),
        ));
    }
    Ok(())
}

fn parse_http_url(text: &str, key: &str) -> Result<Url, SettingsError> {
    let url =
        Url::parse(text.trim()).map_err(|e| invalid(key, format!("`{text}` is not a URL: {e}")))?;
    if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
        return Err(invalid(
            key,
            format!("`{text}` must be an http(s) URL with a host"),
        ));
    }
    Ok(url)
}

// ---------------------------------------------------------------------------------------------
// Layering.

fn load_raw(sources: &Sources) -> Result<RawSettings, SettingsError> {
    let mut merged = Value::Object(Default::default());
    if let Some(path) = &sources.file {
        let text = std::fs::read_to_string(path).map_err(|source| SettingsError::Read {
            path: path.clone(),
            source,
        })?;
        let value: Value = if text.trim().is_empty() {
            Value::Object(Default::default())
        } else {
            serde_yaml_ng::from_str(&text).map_err(|e| SettingsError::Syntax {
                path: path.clone(),
                message: e.to_string(),
            })?
        };
        if !value.is_object() {
            return Err(SettingsError::Syntax {
                path: path.clone(),
                message: "the top level must be a mapping of settings".into(),
            });
        }
        merge(&mut merged, value);
    }
    if let Some(path) = &sources.addon_options
        && path.is_file()
    {
        let text = std::fs::read_to_string(path).map_err(|source| SettingsError::Read {
            path: path.clone(),
            source,
        })?;
        let value: Value = serde_json::from_str(&text).map_err(|e| SettingsError::Syntax {
            path: path.clone(),
            message: e.to_string(),
        })?;
        let mut options = addon_options_to_settings(value);
        union_repositories(&merged, &mut options);
        merge(&mut merged, options);
    }
    for (name, value) in &sources.env {
        let Some(path) = name.strip_prefix(ENV_PREFIX) else {
            continue;
        };
        let keys: Vec<String> = path.split("__").map(|k| k.to_lowercase()).collect();
        if keys.iter().any(|k| k.is_empty()) {
            return Err(invalid(
                name,
                "empty key segment in environment variable name",
            ));
        }
        let mut overlay = env_value(value);
        for key in keys.iter().rev() {
            let mut map = serde_json::Map::new();
            map.insert(key.clone(), overlay);
            overlay = Value::Object(map);
        }
        merge(&mut merged, overlay);
    }
    serde_path_to_error::deserialize(merged).map_err(|e| {
        let key = e.path().to_string();
        invalid(
            if key == "." { "(top level)" } else { &key },
            e.inner().to_string(),
        )
    })
}

/// An environment value: YAML flow syntax for lists/maps/numbers/bools, else a plain string.
fn env_value(text: &str) -> Value {
    let trimmed = text.trim();
    if (trimmed.starts_with('[') || trimmed.starts_with('{'))
        && let Ok(v) = serde_yaml_ng::from_str::<Value>(trimmed)
    {
        return v;
    }
    match trimmed {
        "true" => Value::Bool(true),
        "false" => Value::Bool(false),
        _ => trimmed
            .parse::<u64>()
            .map(Value::from)
            .unwrap_or_else(|_| Value::String(text.to_string())),
    }
}

/// The add-on's options use the same keys as the file; empty strings and nulls mean "not set"
/// (the Supervisor writes every optional key), so they are dropped before merging.
fn addon_options_to_settings(value: Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.into_iter()
                .filter_map(|(k, v)| {
                    let v = addon_options_to_settings(v);
                    match &v {
                        Value::Null => None,
                        Value::String(s) if s.is_empty() => None,
                        Value::Array(a) if a.is_empty() => None,
                        _ => Some((k, v)),
                    }
                })
                .collect(),
        ),
        Value::Array(items) => {
            Value::Array(items.into_iter().map(addon_options_to_settings).collect())
        }
        other => other,
    }
}

/// The add-on's Repositories option adds to the settings file's list instead of replacing
/// it, so per-repository policy written in the file is not lost; a name listed in both keeps
/// the file's entry (which may carry `allow` and friends).
fn union_repositories(file: &Value, options: &mut Value) {
    let Some(from_file) = file
        .pointer("/github/repositories")
        .and_then(Value::as_array)
    else {
        return;
    };
    let Some(from_options) = options
        .pointer_mut("/github/repositories")
        .and_then(Value::as_array_mut)
    else {
        return;
    };
    let name = |v: &Value| {
        v.as_str()
            .or_else(|| v.get("name").and_then(Value::as_str))
            .map(|s| s.trim().to_ascii_lowercase())
    };
    let mut merged = from_file.clone();
    for entry in from_options.drain(..) {
        if !from_file
            .iter()
            .any(|f| name(f).is_some() && name(f) == name(&entry))
        {
            merged.push(entry);
        }
    }
    *from_options = merged;
}

/// Deep merge: maps merge key by key, anything else is replaced.
fn merge(base: &mut Value, overlay: Value) {
    match (base, overlay) {
        (Value::Object(b), Value::Object(o)) => {
            for (k, v) in o {
                match b.get_mut(&k) {
                    Some(existing) => merge(existing, v),
                    None => {
                        b.insert(k, v);
                    }
                }
            }
        }
        (slot, v) => *slot = v,
    }
}

// ---------------------------------------------------------------------------------------------
// HA Supervisor: MQTT service discovery.

/// MQTT service data from the Supervisor (`GET /services/mqtt`).
#[derive(Debug, Deserialize)]
struct SupervisorMqtt {
    host: String,
    #[serde(deserialize_with = "port_from_string_or_number")]
    port: u16,
    #[serde(default)]
    ssl: bool,
    username: Option<String>,
    password: Option<Secret>,
}

#[derive(Debug, Deserialize)]
struct SupervisorEnvelope {
    result: String,
    data: Option<SupervisorMqtt>,
    message: Option<String>,
}

fn port_from_string_or_number<'de, D: serde::Deserializer<'de>>(d: D) -> Result<u16, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Repr {
        N(u16),
        S(String),
    }
    match Repr::deserialize(d)? {
        Repr::N(n) => Ok(n),
        Repr::S(s) => s.trim().parse().map_err(serde::de::Error::custom),
    }
}

/// Inside the add-on (`SUPERVISOR_TOKEN` set), fills MQTT host and credentials from the
/// Supervisor unless the user set `mqtt.host` by hand. Returns whether it did.
pub async fn apply_supervisor_mqtt(
    mqtt: &mut MqttSettings,
    supervisor_url: &str,
    token: Option<&str>,
) -> Result<bool, SettingsError> {
    let Some(token) = token.filter(|t| !t.is_empty()) else {
        return Ok(false);
    };
    if mqtt.host_set_by_user {
        return Ok(false);
    }
    let url = format!("{}/services/mqtt", supervisor_url.trim_end_matches('/'));
    let supervisor_error = |message: String| SettingsError::Invalid {
        key: "mqtt.host".into(),
        message: format!(
            "not set, and the Supervisor's MQTT service could not be read ({message}); \
             install the Mosquitto add-on or set `mqtt.host` by hand"
        ),
    };
    let response = reqwest::Client::new()
        .get(&url)
        .bearer_auth(token)
        .timeout(Duration::from_secs(10))
        .send()
        .await
        .map_err(|e| supervisor_error(e.to_string()))?;
    let status = response.status();
    let body: SupervisorEnvelope = response
        .json()
        .await
        .map_err(|e| supervisor_error(format!("HTTP {status}: {e}")))?;
    let data = match (body.result.as_str(), body.data) {
        ("ok", Some(data)) => data,
        _ => {
            return Err(supervisor_error(
                body.message.unwrap_or_else(|| format!("HTTP {status}")),
            ));
        }
    };
    mqtt.host = data.host;
    mqtt.port = data.port;
    mqtt.tls = data.ssl;
    mqtt.username = data.username.filter(|u| !u.is_empty());
    mqtt.password = data.password.filter(|p| !p.is_empty());
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sources(yaml: &str, env: &[(&str, &str)]) -> (tempfile::TempDir, Sources) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("settings.yaml");
        std::fs::write(&path, yaml).unwrap();
        let s = Sources {
            file: Some(path),
            addon_options: None,
            env: env
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        };
        (dir, s)
    }

    const MINIMAL: &str = "github:\n  token: ghp_abc\n  repositories: [octo-org/api]\n";

    #[test]
    fn minimal_file_gets_documented_defaults() {
        let (_d, s) = sources(MINIMAL, &[]);
        let st = Settings::load(&s).unwrap();
        assert_eq!(st.github.api_url.as_str(), "https://api.github.com/");
        assert_eq!(st.github.poll_interval, Duration::from_secs(60));
        assert_eq!(st.mqtt.port, 1883);
        assert_eq!(st.mqtt.base_topic, "gitops-bridge");
        assert_eq!(st.mqtt.discovery_prefix, "homeassistant");
        assert_eq!(st.mqtt.birth_topic, "homeassistant/status");
        assert_eq!(st.metrics_window, Duration::from_secs(7 * 86400));
        // History next to the settings file, wherever it is: never `/data` off the add-on.
        let file = s.file.as_deref().unwrap();
        assert_eq!(
            st.store.path,
            file.parent().unwrap().join("gitops-bridge.db")
        );
        assert!(
            st.github
                .policy_for("octo-org", "api")
                .unwrap()
                .allow
                .is_empty()
        );
    }

    #[test]
    fn unknown_key_is_named_with_its_path() {
        let (_d, s) = sources(&format!("{MINIMAL}mqtt:\n  prot: 1883\n"), &[]);
        let err = Settings::load(&s).unwrap_err().to_string();
        assert!(err.contains("mqtt"), "{err}");
        assert!(err.contains("unknown field `prot`"), "{err}");
    }

    #[test]
    fn wrong_type_names_the_key() {
        let (_d, s) = sources(&format!("{MINIMAL}mqtt:\n  port: seventeen\n"), &[]);
        let err = Settings::load(&s).unwrap_err().to_string();
        assert!(err.contains("mqtt.port"), "{err}");
    }

    #[test]
    fn missing_token_says_how_to_set_it() {
        let (_d, s) = sources("github:\n  repositories: [a/b]\n", &[]);
        let err = Settings::load(&s).unwrap_err().to_string();
        assert!(err.contains("github.token"), "{err}");
        assert!(err.contains("GITOPS_BRIDGE__GITHUB__TOKEN"), "{err}");
    }

    #[test]
    fn bad_url_and_bad_repository_are_rejected() {
        let (_d, s) = sources(&format!("{MINIMAL}  api_url: ftp://x\n"), &[]);
        assert!(
            Settings::load(&s)
                .unwrap_err()
                .to_string()
                .contains("github.api_url")
        );
        let (_d, s) = sources("github:\n  token: t\n  repositories: [just-a-name]\n", &[]);
        let err = Settings::load(&s).unwrap_err().to_string();
        assert!(err.contains("github.repositories[0]"), "{err}");
    }

    #[test]
    fn env_overrides_file_and_parses_numbers() {
        let (_d, s) = sources(
            MINIMAL,
            &[
                ("GITOPS_BRIDGE__MQTT__PORT", "8883"),
                ("GITOPS_BRIDGE__MQTT__HOST", "broker.lan"),
                ("GITOPS_BRIDGE__GITHUB__REPOSITORIES", "[a/b, c/*]"),
                ("UNRELATED", "x"),
            ],
        );
        let st = Settings::load(&s).unwrap();
        assert_eq!(st.mqtt.port, 8883);
        assert_eq!(st.mqtt.host, "broker.lan");
        assert!(st.mqtt.host_set_by_user);
        assert_eq!(st.github.repositories.len(), 2);
    }

    #[test]
    fn addon_options_override_file_key_by_key_and_blank_means_unset() {
        let (dir, mut s) = sources(
            &format!("{MINIMAL}mqtt:\n  host: from-file\n  username: u\n"),
            &[],
        );
        let opts = dir.path().join("options.json");
        std::fs::write(
            &opts,
            r#"{"mqtt":{"host":"","port":1884},"log_level":"debug"}"#,
        )
        .unwrap();
        s.addon_options = Some(opts);
        let st = Settings::load(&s).unwrap();
        assert_eq!(st.mqtt.host, "from-file");
        assert_eq!(st.mqtt.port, 1884);
        assert_eq!(st.mqtt.username.as_deref(), Some("u"));
        assert_eq!(st.log_level, "debug");
    }

    #[test]
    fn addon_repositories_add_to_the_files_list() {
        let yaml =
            "github:\n  token: t\n  repositories:\n    - name: octo/api\n      allow: [rerun]\n";
        let (dir, mut s) = sources(yaml, &[]);
        let opts = dir.path().join("options.json");
        std::fs::write(
            &opts,
            r#"{"github":{"repositories":["octo/api","octo/web"],"poll_interval":"90"}}"#,
        )
        .unwrap();
        s.addon_options = Some(opts);
        let st = Settings::load(&s).unwrap();
        assert_eq!(st.github.repositories.len(), 2);
        assert!(
            st.github
                .policy_for("octo", "api")
                .unwrap()
                .allow
                .contains(&Action::Rerun)
        );
        assert_eq!(
            st.github.poll_interval,
            Duration::from_secs(90),
            "a bare number is seconds"
        );
    }

    #[test]
    fn policy_rules() {
        let yaml = "github:\n  token: t\n  repositories:\n    - octo/*\n    - name: octo/api\n      allow: [rerun, dispatch]\n      dispatch: [deploy.yml]\n";
        let (_d, s) = sources(yaml, &[]);
        let st = Settings::load(&s).unwrap();
        let p = st.github.policy_for("octo", "api").unwrap();
        assert!(p.allow.contains(&Action::Dispatch));
        assert!(
            st.github
                .policy_for("octo", "other")
                .unwrap()
                .allow
                .is_empty()
        );
        assert!(st.github.policy_for("someone", "else").is_none());

        let bad = "github:\n  token: t\n  repositories:\n    - name: octo/api\n      allow: [rerun, deploy]\n";
        let (_d, s) = sources(bad, &[]);
        let err = Settings::load(&s).unwrap_err().to_string();
        assert!(
            err.contains("github.repositories[0].allow[1]") && err.contains("deploy"),
            "{err}"
        );

        let bad =
            "github:\n  token: t\n  repositories:\n    - name: octo/api\n      allow: [rollback]\n";
        let (_d, s) = sources(bad, &[]);
        assert!(Settings::load(&s).is_err());
    }

    #[test]
    fn secrets_do_not_show_in_debug_output() {
        let (_d, s) = sources(
            &format!("{MINIMAL}mqtt:\n  username: u\n  password: hunter2\n"),
            &[],
        );
        let st = Settings::load(&s).unwrap();
        let dump = format!("{st:?}");
        assert!(
            !dump.contains("ghp_abc") && !dump.contains("hunter2"),
            "{dump}"
        );
    }

    /// A stand-in for the Supervisor answering `GET /services/mqtt` once with `body`.
    async fn supervisor(status: u16, body: &'static str) -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let app = axum::Router::new().route(
            "/services/mqtt",
            axum::routing::get(move |headers: axum::http::HeaderMap| async move {
                let authorised = headers.get("authorization").and_then(|v| v.to_str().ok())
                    == Some("Bearer sup-token");
                let code = if authorised { status } else { 401 };
                (axum::http::StatusCode::from_u16(code).unwrap(), body)
            }),
        );
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        url
    }

    fn mqtt_defaults() -> MqttSettings {
        validate_mqtt(RawMqtt::default()).unwrap()
    }

    #[tokio::test]
    async fn the_supervisor_provides_the_broker_unless_set_by_hand() {
        // The documented answer, with the port as a string.
        let url = supervisor(
            200,
            r#"{"result":"ok","data":{"addon":"core_mosquitto","host":"core-mosquitto","port":"1883","ssl":false,"username":"addons","password":"pw","protocol":"3.1.1"}}"#,
        )
        .await;
        let mut mqtt = mqtt_defaults();
        assert!(
            apply_supervisor_mqtt(&mut mqtt, &url, Some("sup-token"))
                .await
                .unwrap()
        );
        assert_eq!((mqtt.host.as_str(), mqtt.port), ("core-mosquitto", 1883));
        assert_eq!(mqtt.username.as_deref(), Some("addons"));
        assert_eq!(mqtt.password.as_ref().map(Secret::expose), Some("pw"));

        let mut by_hand = mqtt_defaults();
        by_hand.host_set_by_user = true;
        by_hand.host = "broker.lan".into();
        assert!(
            !apply_supervisor_mqtt(&mut by_hand, &url, Some("sup-token"))
                .await
                .unwrap()
        );
        assert_eq!(by_hand.host, "broker.lan");

        let mut outside = mqtt_defaults();
        assert!(
            !apply_supervisor_mqtt(&mut outside, &url, None)
                .await
                .unwrap()
        );
    }

    #[tokio::test]
    async fn no_mqtt_service_is_a_clear_error() {
        let url = supervisor(
            400,
            r#"{"result":"error","message":"No mqtt service available"}"#,
        )
        .await;
        let mut mqtt = mqtt_defaults();
        let err = apply_supervisor_mqtt(&mut mqtt, &url, Some("sup-token"))
            .await
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("mqtt.host")
                && err.contains("No mqtt service available")
                && err.contains("Mosquitto"),
            "{err}"
        );
    }

    #[test]
    fn log_levels_must_name_a_level() {
        for good in [
            "info",
            "DEBUG",
            "gitops_bridge=debug,info",
            "warn, rumqttc=off",
        ] {
            assert!(check_log_level(good).is_ok(), "{good}");
        }
        for bad in ["verbose", "info,loud", "gitops_bridge=chatty", "=debug", ""] {
            let e = check_log_level(bad).unwrap_err();
            assert!(
                e.contains("trace, debug, info, warn, error, off"),
                "{bad}: {e}"
            );
        }
    }

    #[test]
    fn durations_accept_text_and_seconds() {
        let (_d, s) = sources(
            &format!("{MINIMAL}  poll_interval: 2m\nmetrics:\n  window: 86400\n"),
            &[],
        );
        let st = Settings::load(&s).unwrap();
        assert_eq!(st.github.poll_interval, Duration::from_secs(120));
        assert_eq!(st.metrics_window, Duration::from_secs(86400));
        let (_d, s) = sources(&format!("{MINIMAL}  poll_interval: soon\n"), &[]);
        let err = Settings::load(&s).unwrap_err().to_string();
        assert!(err.contains("github.poll_interval"), "{err}");
    }
}
