//! The `config_deploy:` section: which repository holds Home Assistant's configuration, which
//! folder it is deployed into, and what gates a deployment.

use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

use crate::home_assistant::RawHomeAssistant;
use crate::settings::{HumanDuration, Secret};
use crate::validate::domains::is_entity_id;

/// As the user writes it (see `examples/settings.yaml`).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawConfigDeploy {
    /// `owner/name` of the repository holding the configuration. Unset: the feature is off.
    pub repository: Option<String>,
    /// The branch deployed (default `main`).
    pub branch: Option<String>,
    /// Where git fetches from; default `https://github.com/<repository>.git` (or the GitHub
    /// Enterprise host of `github.api_url`). `file://` and local paths work too.
    pub git_url: Option<String>,
    /// The folder in the repository that holds `configuration.yaml` (default: the root).
    pub source_path: Option<String>,
    /// Home Assistant's configuration folder, written to (`/homeassistant` in the add-on).
    pub path: Option<PathBuf>,
    /// The staging clone and backups (default: `config-deploy` beside the history database).
    pub staging: Option<PathBuf>,
    /// Files never touched, beyond the built-in list (`.storage/`, `secrets.yaml`, …) and the
    /// repository's `.gitignore`: gitignore-style patterns (`www/private/`, `*.bak`).
    #[serde(default)]
    pub exclude: Vec<String>,
    /// Deploy every new commit on the branch by itself (default true); off: only on request.
    pub auto: Option<bool>,
    /// The GitHub deployment environment recorded for each deployment (default
    /// `home-assistant`); deployments GitHub creates for it are deployed too.
    pub environment: Option<String>,
    /// How Home Assistant is reached: default the top-level `home_assistant:`, else the
    /// Supervisor's proxy inside the add-on.
    #[serde(default)]
    pub home_assistant: RawHomeAssistant,
    /// Entities that must not be `unavailable` or `unknown` after a deployment.
    #[serde(default)]
    pub watch_entities: Vec<String>,
    /// How long HA may take to come back and the watched entities to recover (default 2m).
    pub health_timeout: Option<HumanDuration>,
    /// How often the branch is fetched when no webhook says so (default 5m).
    pub poll_interval: Option<HumanDuration>,
    /// The largest file deployed (bytes, default 5 MiB): a bigger one refuses the commit.
    pub max_file_bytes: Option<u64>,
}

/// Checked settings.
#[derive(Debug, Clone)]
pub struct ConfigDeploySettings {
    pub owner: String,
    pub name: String,
    pub branch: String,
    pub git_url: String,
    pub source_path: Option<String>,
    pub target: PathBuf,
    pub staging: PathBuf,
    pub exclude: Vec<String>,
    pub auto: bool,
    pub environment: String,
    pub ha_url: String,
    pub ha_token: Secret,
    pub watch_entities: Vec<String>,
    pub health_timeout: Duration,
    pub poll_interval: Duration,
    pub max_file_bytes: u64,
}

impl ConfigDeploySettings {
    pub fn repository(&self) -> String {
        format!("{}/{}", self.owner, self.name)
    }

    /// Checks the raw section; `None` when it names no repository. `api_url` gives the
    /// default git host, `store_dir` the default staging folder, `fallback` the top-level
    /// `home_assistant:` for what the section's own leaves unset. Errors name the key.
    pub fn from_raw(
        raw: RawConfigDeploy,
        api_url: &str,
        store_dir: &std::path::Path,
        fallback: &RawHomeAssistant,
    ) -> Result<Option<ConfigDeploySettings>, (String, String)> {
        let err = |key: &str, m: String| (format!("config_deploy.{key}"), m);
        let Some(repository) = raw.repository else {
            return Ok(None);
        };
        let (owner, name) = repository
            .split_once('/')
            .filter(|(o, n)| !o.is_empty() && !n.is_empty() && !n.contains('/'))
            .ok_or_else(|| err("repository", format!("`{repository}` is not `owner/name`")))?;
        let branch = raw.branch.unwrap_or_else(|| "main".into());
        if !crate::model::is_valid_git_ref(&branch) || branch.starts_with("refs/") {
            return Err(err("branch", format!("`{branch}` is not a branch name")));
        }
        let git_url = match raw.git_url {
            Some(u) => u,
            None => default_git_url(api_url, owner, name),
        };
        let source_path = match raw.source_path.map(|p| p.trim_matches('/').to_string()) {
            Some(p) if p.is_empty() => None,
            Some(p) if p.split('/').any(|c| c == ".." || c == "." || c.is_empty()) => {
                return Err(err(
                    "source_path",
                    format!("`{p}` is not a folder of the repository"),
                ));
            }
            other => other,
        };
        let target = raw.path.ok_or_else(|| {
            err(
                "path",
                "is required: Home Assistant's configuration folder (`/homeassistant` in the add-on)"
                    .into(),
            )
        })?;
        if !target.is_dir() {
            return Err(err(
                "path",
                format!("{} is not a directory", target.display()),
            ));
        }
        let staging = raw
            .staging
            .unwrap_or_else(|| store_dir.join("config-deploy"));
        if staging.starts_with(&target) {
            return Err(err(
                "staging",
                "must be outside Home Assistant's configuration folder (git never runs there)"
                    .into(),
            ));
        }
        super::ownership::Ownership::built(&raw.exclude).map_err(|e| err("exclude", e))?;
        let ha = raw
            .home_assistant
            .or(fallback)
            .resolve()
            .map_err(|(key, m)| err(&format!("home_assistant.{key}"), m))?;
        let (ha_url, ha_token) = (ha.url, ha.token);
        for e in &raw.watch_entities {
            if !is_entity_id(e) {
                return Err(err("watch_entities", format!("`{e}` is not an entity id")));
            }
        }
        let environment = raw.environment.unwrap_or_else(|| "home-assistant".into());
        if environment.trim().is_empty() {
            return Err(err("environment", "is empty".into()));
        }
        Ok(Some(ConfigDeploySettings {
            owner: owner.to_string(),
            name: name.to_string(),
            branch,
            git_url,
            source_path,
            target,
            staging,
            exclude: raw.exclude,
            auto: raw.auto.unwrap_or(true),
            environment,
            ha_url,
            ha_token,
            watch_entities: raw.watch_entities,
            health_timeout: raw.health_timeout.map_or(Duration::from_secs(120), |d| d.0),
            poll_interval: raw.poll_interval.map_or(Duration::from_secs(300), |d| {
                d.0.max(Duration::from_secs(10))
            }),
            max_file_bytes: raw.max_file_bytes.unwrap_or(5 * 1024 * 1024),
        }))
    }
}

/// `https://github.com/o/r.git` for github.com; for GitHub Enterprise Server
/// (`https://ghe.example.com/api/v3`), the same host without the API path.
fn default_git_url(api_url: &str, owner: &str, name: &str) -> String {
    format!("{}/{owner}/{name}.git", html_base(api_url))
}

/// The web host of the GitHub behind `api_url`: `https://github.com`, or the Enterprise
/// Server's host.
pub fn html_base(api_url: &str) -> String {
    match url::Url::parse(api_url) {
        Ok(u) if u.host_str() == Some("api.github.com") => "https://github.com".to_string(),
        Ok(u) => format!(
            "{}://{}{}",
            u.scheme(),
            u.host_str().unwrap_or("github.com"),
            u.port().map(|p| format!(":{p}")).unwrap_or_default()
        ),
        Err(_) => "https://github.com".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_git_host_follows_the_api_url() {
        assert_eq!(
            default_git_url("https://api.github.com", "o", "r"),
            "https://github.com/o/r.git"
        );
        assert_eq!(
            default_git_url("https://ghe.example.com/api/v3", "o", "r"),
            "https://ghe.example.com/o/r.git"
        );
    }

    #[test]
    fn entity_ids_are_checked_as_ha_does() {
        assert!(is_entity_id("sensor.living_room"));
        assert!(!is_entity_id("sensor"));
        assert!(!is_entity_id("Sensor.x"));
        assert!(!is_entity_id("sensor._x"));
    }
}
