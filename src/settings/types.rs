//! Validated settings: what the rest of the code sees. Built only by
//! [`super::Settings::from_raw`].

use std::path::PathBuf;
use std::time::Duration;

use url::Url;

use super::{RepoPolicy, Secret};

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
    /// Whether any repository has an automatic policy (`auto_retry`, `auto_rollback`,
    /// `needs`).
    pub fn has_automation(&self) -> bool {
        self.repositories
            .iter()
            .any(|r| r.policy().has_automation())
    }

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
    /// Run the security scan with each check (secrets, HA settings, workflows; offline).
    pub security: bool,
    /// Never reported, before a `.gitops-bridge.yaml` in `path` adds its own.
    pub ignored: crate::validate::IgnoreLists,
}

#[derive(Debug, Clone)]
pub struct HttpSettings {
    pub listen: Option<String>,
    pub api_token: Option<Secret>,
    /// Callers in these networks may use the MCP server without the token: for Home
    /// Assistant's own MCP integration, which can only do OAuth or nothing.
    pub mcp_trusted_networks: Vec<ipnet::IpNet>,
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
    /// `None` when no `templates:` are set.
    pub templates: Option<std::sync::Arc<crate::deploy::TemplateSettings>>,
    /// `None` when `config_deploy.repository` is not set.
    pub config_deploy: Option<std::sync::Arc<crate::config_deploy::ConfigDeploySettings>>,
    /// `coordinated_deployments:`, in the settings' order.
    pub coordinated: Vec<crate::recovery::CoordinatedDeployment>,
    /// Home Assistant's API: `None` when `home_assistant:` is unset outside the add-on
    /// (then nothing may need it).
    pub home_assistant: Option<crate::home_assistant::HaAccess>,
    pub log_level: String,
}

impl Settings {
    /// Whether anything acts by itself: a repository's `auto_retry` / `auto_rollback`, or
    /// `templates.auto_update`. Then the bridge offers the *Automation paused* switch.
    pub fn has_automation(&self) -> bool {
        self.github.has_automation() || self.templates.as_ref().is_some_and(|t| t.auto_update)
    }
}

/// The history database's file name when `store.path` is not set.
pub const DEFAULT_STORE_FILE: &str = "gitops-bridge.db";
/// The log filter when `log_level` is not set.
pub const DEFAULT_LOG_LEVEL: &str = "info";
