//! What we know about HA's integrations offline: the table generated from HA core
//! (`ha_integrations.tsv`, see `scripts/gen-ha-data.py`) plus the repository's own
//! `custom_components/`.
//!
//! Used for package merging (list or dict), for telling entity ids from other dotted
//! strings, for the services of each integration, and for top-level key checks.

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::OnceLock;

const TABLE: &str = include_str!("ha_integrations.tsv");

/// How `homeassistant: packages:` merges an integration's configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Merge {
    /// Lists are concatenated (platform integrations, `automation`, `template`…).
    List,
    /// Mappings are merged recursively; a repeated scalar key is a conflict.
    Dict,
}

/// One built-in integration.
#[derive(Debug)]
pub struct Integration {
    pub merge: Merge,
    /// Ids of this domain's entities look like `<domain>.<object_id>`.
    pub entity: bool,
    /// Service names from its `services.yaml`.
    pub services: HashSet<&'static str>,
}

/// The built-in integrations (HA core).
pub fn builtin() -> &'static HashMap<&'static str, Integration> {
    static T: OnceLock<HashMap<&'static str, Integration>> = OnceLock::new();
    T.get_or_init(|| {
        TABLE
            .lines()
            .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
            .filter_map(|l| {
                let mut cols = l.split('\t');
                let domain = cols.next()?;
                let merge = if cols.next()? == "list" {
                    Merge::List
                } else {
                    Merge::Dict
                };
                let entity = cols.next()? == "y";
                let services = cols
                    .next()
                    .unwrap_or("")
                    .split(',')
                    .filter(|s| !s.is_empty())
                    .collect();
                Some((
                    domain,
                    Integration {
                        merge,
                        entity,
                        services,
                    },
                ))
            })
            .collect()
    })
}

/// Version of HA the table was generated from (first comment line).
pub fn table_version() -> &'static str {
    TABLE
        .lines()
        .next()
        .and_then(|l| l.rsplit("==").next())
        .unwrap_or("unknown")
}

/// Domains whose actions are created at run time from configuration or devices, so their
/// names cannot be checked against `services.yaml` (`notify.mobile_app_x`, `tts.x_say`,
/// `script.<key>`, `esphome.<node>_<action>`…).
pub const DYNAMIC_ACTION_DOMAINS: &[&str] = &[
    "notify",
    "tts",
    "script",
    "shell_command",
    "rest_command",
    "python_script",
    "pyscript",
    "esphome",
    "media_extractor",
    "intent_script",
    "command_line",
    "mqtt_statestream",
    "homeassistant_alerts",
    "device_tracker",
    "google_assistant_sdk",
    "scene",
];

/// `cv.domain_key`: `"light groups"` -> `light`; `None` when the key is not a valid domain
/// key (`"hue "`, `"Light"`).
pub fn domain_key(key: &str) -> Option<&str> {
    let domain = match key.split_once(' ') {
        Some((d, label)) => {
            if label.trim().is_empty() {
                return None;
            }
            d
        }
        None => key,
    };
    is_slug_domain(domain).then_some(domain)
}

/// HA's `_DOMAIN` shape: lowercase, digits, single underscores, not starting or ending
/// with `_`.
pub fn is_slug_domain(d: &str) -> bool {
    !d.is_empty()
        && d.bytes()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'_')
        && !d.starts_with('_')
        && !d.ends_with('_')
        && !d.contains("__")
}

/// HA's `VALID_ENTITY_ID` (`homeassistant/core.py`).
pub fn is_entity_id(s: &str) -> bool {
    let Some((d, o)) = s.split_once('.') else {
        return false;
    };
    is_slug_domain(d)
        && !o.is_empty()
        && o.bytes()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'_')
        && !o.starts_with('_')
        && !o.ends_with('_')
}

/// Integrations the repository ships in `custom_components/<domain>/`.
#[derive(Debug, Default)]
pub struct CustomComponents {
    pub domains: HashSet<String>,
    /// Services from each custom integration's `services.yaml` (when present).
    pub services: HashMap<String, HashSet<String>>,
}

impl CustomComponents {
    pub fn scan(root: &Path) -> Self {
        let mut out = CustomComponents::default();
        let Ok(rd) = std::fs::read_dir(root.join("custom_components")) else {
            return out;
        };
        for e in rd.filter_map(Result::ok) {
            if !e.path().is_dir() {
                continue;
            }
            let name = e.file_name().to_string_lossy().into_owned();
            if name.starts_with('.') || name == "__pycache__" {
                continue;
            }
            if let Ok(text) = std::fs::read_to_string(e.path().join("services.yaml")) {
                let parsed =
                    crate::validate::yaml::parse(&text, crate::validate::source::FileId(u32::MAX));
                if let Some(m) = parsed.root.as_ref().and_then(|r| r.as_map()) {
                    let names = m
                        .iter()
                        .filter_map(|(k, _)| k.as_str().map(str::to_string))
                        .collect();
                    out.services.insert(name.clone(), names);
                }
            }
            out.domains.insert(name);
        }
        out
    }
}

/// Is this a domain HA or the repository provides?
pub fn is_known_integration(domain: &str, custom: &CustomComponents) -> bool {
    builtin().contains_key(domain) || custom.domains.contains(domain)
}

/// Is this a domain whose ids are entity ids? Unknown domains count when a custom
/// integration provides them (they may create entities of their own domain).
pub fn is_entity_domain(domain: &str) -> bool {
    builtin().get(domain).is_some_and(|i| i.entity)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_has_the_core_domains() {
        let t = builtin();
        assert!(t.len() > 1000);
        assert_eq!(t["automation"].merge, Merge::List);
        assert_eq!(t["script"].merge, Merge::Dict);
        assert_eq!(t["sensor"].merge, Merge::List);
        assert_eq!(t["input_boolean"].merge, Merge::Dict);
        assert!(t["light"].services.contains("turn_on"));
        assert!(t["light"].entity && t["input_boolean"].entity && !t["http"].entity);
        assert!(table_version().starts_with("20"));
    }

    #[test]
    fn keys_and_ids() {
        assert_eq!(domain_key("light groups"), Some("light"));
        assert_eq!(domain_key("automation"), Some("automation"));
        assert_eq!(domain_key("hue "), None);
        assert_eq!(domain_key("Light"), None);
        assert!(is_entity_id("sensor.temp_1"));
        assert!(!is_entity_id("sensor.Temp"));
        assert!(!is_entity_id("sensor._x"));
        assert!(!is_entity_id("sensor"));
        assert!(!is_entity_id("sensor.x.y"));
    }
}
