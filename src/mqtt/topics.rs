//! Topic and identifier naming, in one place so every part agrees.
//!
//! Our topics live under `mqtt.base_topic` (default `gitops-bridge`); discovery configs under
//! `mqtt.discovery_prefix` (default `homeassistant`). Device and unique ids start with a node
//! id derived from the base topic, so two bridges on one broker never collide.

use crate::commands::Action;
use crate::model::Repository;
use crate::settings::MqttSettings;

#[derive(Debug, Clone)]
pub struct Topics {
    pub base: String,
    pub prefix: String,
    pub birth: String,
    /// `gitops_bridge` for base topic `gitops-bridge`: prefix of device and unique ids.
    pub node: String,
}

impl Topics {
    pub fn new(settings: &MqttSettings) -> Topics {
        Topics {
            base: settings.base_topic.clone(),
            prefix: settings.discovery_prefix.clone(),
            birth: settings.birth_topic.clone(),
            node: slug(&settings.base_topic),
        }
    }

    pub fn bridge_availability(&self) -> String {
        format!("{}/bridge/availability", self.base)
    }
    pub fn bridge_state(&self) -> String {
        format!("{}/bridge/state", self.base)
    }
    pub fn bridge_validation(&self) -> String {
        format!("{}/bridge/validation", self.base)
    }
    /// The security scan's summary (same shape as the validation's).
    pub fn bridge_security(&self) -> String {
        format!("{}/bridge/security", self.base)
    }
    /// The configuration deployment's state (retained): deployed, latest, last deployment.
    pub fn bridge_configuration(&self) -> String {
        format!("{}/bridge/configuration", self.base)
    }
    /// Each configuration deployment that ended (never retained).
    pub fn bridge_configuration_events(&self) -> String {
        format!("{}/bridge/configuration/events", self.base)
    }
    pub fn bridge_cmd(&self, action: &str) -> String {
        format!("{}/bridge/cmd/{action}", self.base)
    }
    pub fn cmd_result(&self) -> String {
        format!("{}/cmd/result", self.base)
    }

    pub fn repo_root(&self, owner: &str, name: &str) -> String {
        format!("{}/repo/{owner}/{name}", self.base)
    }
    pub fn repo_state(&self, repo: &Repository) -> String {
        format!("{}/state", self.repo_root(&repo.owner, &repo.name))
    }
    pub fn repo_events(&self, repo: &Repository) -> String {
        format!("{}/events", self.repo_root(&repo.owner, &repo.name))
    }
    /// What the recovery policies did (events, never retained).
    pub fn repo_recovery(&self, repo: &Repository) -> String {
        format!("{}/recovery", self.repo_root(&repo.owner, &repo.name))
    }
    pub fn repo_availability(&self, repo: &Repository) -> String {
        format!("{}/availability", self.repo_root(&repo.owner, &repo.name))
    }
    pub fn repo_cmd(&self, repo: &Repository, action: Action) -> String {
        format!(
            "{}/cmd/{}",
            self.repo_root(&repo.owner, &repo.name),
            action.as_str()
        )
    }
    /// Where HA turns a repository's policy switch on or off.
    pub fn repo_switch_set(&self, repo: &Repository, key: &str) -> String {
        format!("{}/set/{key}", self.repo_root(&repo.owner, &repo.name))
    }
    /// Where HA turns a bridge switch on or off.
    pub fn bridge_switch_set(&self, key: &str) -> String {
        format!("{}/bridge/set/{key}", self.base)
    }
    /// Subscription filters for every switch's set topic.
    pub fn switch_set_filters(&self) -> [String; 2] {
        [
            format!("{}/repo/+/+/set/+", self.base),
            format!("{}/bridge/set/+", self.base),
        ]
    }
    /// `(owner, name, key)` of a repository switch's set topic.
    pub fn parse_repo_switch_set<'t>(&self, topic: &'t str) -> Option<(&'t str, &'t str, &'t str)> {
        let rest = topic.strip_prefix(&self.base)?.strip_prefix("/repo/")?;
        let mut parts = rest.split('/');
        let (owner, name, set, key) = (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
        (set == "set" && parts.next().is_none()).then_some((owner, name, key))
    }
    /// Subscription filter for every repository's commands.
    pub fn repo_cmd_filter(&self) -> String {
        format!("{}/repo/+/+/cmd/+", self.base)
    }
    /// `(owner, name, action)` of a repository command topic.
    pub fn parse_repo_cmd<'t>(&self, topic: &'t str) -> Option<(&'t str, &'t str, &'t str)> {
        let rest = topic.strip_prefix(&self.base)?.strip_prefix("/repo/")?;
        let mut parts = rest.split('/');
        let (owner, name, cmd, action) =
            (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
        (cmd == "cmd" && parts.next().is_none()).then_some((owner, name, action))
    }

    pub fn repo_device_id(&self, repo_id: u64) -> String {
        format!("{}_repo_{repo_id}", self.node)
    }
    pub fn bridge_device_id(&self) -> String {
        format!("{}_bridge", self.node)
    }
    pub fn device_config(&self, device_id: &str) -> String {
        format!("{}/device/{device_id}/config", self.prefix)
    }
    pub fn device_config_filter(&self) -> String {
        format!("{}/device/+/config", self.prefix)
    }
    /// The device id of a device config topic.
    pub fn parse_device_config<'t>(&self, topic: &'t str) -> Option<&'t str> {
        topic
            .strip_prefix(&self.prefix)?
            .strip_prefix("/device/")?
            .strip_suffix("/config")
            .filter(|id| !id.contains('/'))
    }
}

pub use crate::text::slug;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_satisfy_home_assistants_entity_id_rules() {
        assert_eq!(slug("octo-org/api"), "octo_org_api");
        assert_eq!(slug("Octo--Org/.dotfiles_"), "octo_org_dotfiles");
        assert_eq!(slug("___"), "unnamed");
        assert_eq!(slug("gitops-bridge"), "gitops_bridge");
    }

    #[test]
    fn command_topics_round_trip() {
        let t = Topics {
            base: "gb".into(),
            prefix: "homeassistant".into(),
            birth: "homeassistant/status".into(),
            node: "gb".into(),
        };
        assert_eq!(
            t.parse_repo_cmd("gb/repo/octo/api/cmd/rerun"),
            Some(("octo", "api", "rerun"))
        );
        assert_eq!(t.parse_repo_cmd("gb/repo/octo/api/state"), None);
        assert_eq!(t.parse_repo_cmd("gb/repo/octo/api/cmd/rerun/x"), None);
        assert_eq!(
            t.parse_device_config("homeassistant/device/gb_repo_1/config"),
            Some("gb_repo_1")
        );
        assert_eq!(t.parse_device_config("homeassistant/sensor/x/config"), None);
    }
}
