//! What a change needs from Home Assistant: which integrations to reload, or why only a
//! restart will do. Both configurations are loaded the way `check` loads them (includes and
//! packages merged), so a change anywhere in the includes graph lands on its integration;
//! the loaded configurations are compared per integration, and per platform for platform
//! lists (`sensor: - platform: template`).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write;

use serde::{Deserialize, Serialize};

use crate::validate::references::domains::domain_key;
use crate::validate::yaml::{Kind, Node, Placeholder};

/// `homeassistant:` keys `homeassistant.reload_core_config` applies.
const CORE_RELOADABLE: &[&str] = &[
    "name",
    "latitude",
    "longitude",
    "elevation",
    "radius",
    "unit_system",
    "time_zone",
    "currency",
    "country",
    "language",
    "temperature_unit",
    "customize",
    "customize_domain",
    "customize_glob",
    "internal_url",
    "external_url",
];

/// One integration's (or platform's) configuration, canonical: equal text, equal config.
pub type Fingerprints = BTreeMap<String, String>;

/// The fingerprints of a loaded configuration: `automation`, `sensor@template`,
/// `homeassistant.customize`, …
pub fn fingerprints(config: &Node) -> Fingerprints {
    let mut out = Fingerprints::new();
    let Some(map) = config.as_map() else {
        return out;
    };
    for (k, v) in map {
        let Some(key) = k.as_str() else { continue };
        let Some(domain) = domain_key(key) else {
            continue;
        };
        if domain == "homeassistant" {
            for (sk, sv) in v.as_map().unwrap_or_default() {
                let Some(sub) = sk.as_str() else { continue };
                if sub != "packages" {
                    append(&mut out, format!("homeassistant.{sub}"), sv);
                }
            }
            continue;
        }
        match platform_entries(v) {
            Some(entries) => {
                for (platform, entry) in entries {
                    append(&mut out, format!("{domain}@{platform}"), entry);
                }
            }
            None => append(&mut out, domain.to_string(), v),
        }
    }
    out
}

fn append(out: &mut Fingerprints, key: String, node: &Node) {
    let text = out.entry(key).or_default();
    canonical(node, text);
    text.push(';');
}

/// A list whose every item names a `platform:`; the items by platform.
fn platform_entries(v: &Node) -> Option<Vec<(String, &Node)>> {
    let Kind::Seq(items) = &v.kind else {
        return None;
    };
    let mut out = Vec::new();
    for item in items {
        let platform = item
            .as_map()?
            .iter()
            .find(|(k, _)| k.as_str() == Some("platform"))
            .and_then(|(_, p)| p.as_str())?;
        out.push((platform.to_string(), item));
    }
    (!out.is_empty()).then_some(out)
}

fn canonical(n: &Node, out: &mut String) {
    match &n.kind {
        Kind::Null => out.push('~'),
        Kind::Bool(b) => out.push_str(if *b { "T" } else { "F" }),
        Kind::Int(i) => {
            let _ = write!(out, "i{i}");
        }
        Kind::Float(f) => {
            let _ = write!(out, "f{f}");
        }
        Kind::Date(d) => {
            let _ = write!(out, "d{d:?}");
        }
        Kind::Str(s, _) => {
            let _ = write!(out, "{s:?}");
        }
        Kind::Seq(items) => {
            out.push('[');
            for i in items {
                canonical(i, out);
                out.push(',');
            }
            out.push(']');
        }
        Kind::Map(entries) => {
            out.push('{');
            for (k, v) in entries {
                canonical(k, out);
                out.push(':');
                canonical(v, out);
                out.push(',');
            }
            out.push('}');
        }
        Kind::Tagged(tag, s) => {
            let _ = write!(out, "{}{s:?}", tag.as_str());
        }
        Kind::Placeholder(p) => {
            let _ = match p {
                Placeholder::Secret(s) => write!(out, "!secret {s:?}"),
                Placeholder::EnvVar(s) => write!(out, "!env_var {s:?}"),
                Placeholder::Input(s) => write!(out, "!input {s:?}"),
            };
        }
        // Unknown content differs from everything, itself included: a change we cannot see
        // into is a change.
        Kind::Unknown => {
            let _ = write!(out, "?{}:{}:{}", n.pos.file.0, n.pos.line, n.pos.col);
        }
    }
}

/// What HA must do to take a change in.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Impact {
    /// Integrations (and platforms) whose configuration changed.
    pub changed: Vec<String>,
    /// Services to call, in order (`automation.reload`).
    pub reloads: Vec<String>,
    /// Why a restart is needed; empty when reloads suffice.
    pub restart: Vec<String>,
}

impl Impact {
    pub fn needs_restart(&self) -> bool {
        !self.restart.is_empty()
    }

    /// One line for the result: "reloaded automation, script" / "restart: …".
    pub fn describe(&self) -> String {
        if self.needs_restart() {
            format!("restart ({})", self.restart.join("; "))
        } else if self.reloads.is_empty() {
            "nothing to reload".into()
        } else {
            format!("reload {}", self.reloads.join(", "))
        }
    }

    /// The domains whose errors in HA's log fail the health gate.
    pub fn domains(&self) -> BTreeSet<String> {
        self.changed
            .iter()
            .map(|c| {
                let c = c.split('.').next().unwrap_or(c);
                match c.split_once('@') {
                    Some((_, platform)) => platform.to_string(),
                    None => c.to_string(),
                }
            })
            .collect()
    }
}

/// What HA can do now: which integrations it has loaded and which services it offers
/// (`GET /api/config`, `GET /api/services`). An integration is reloadable when HA offers
/// `<integration>.reload`; nothing else is assumed.
pub trait Capabilities {
    fn loaded(&self, integration: &str) -> bool;
    fn offers(&self, service: &str) -> bool;
}

/// Compares the configuration HA has (`before`) with the one deployed (`after`); `files`
/// are the paths written or deleted (for what lives outside the configuration tree:
/// blueprints, custom integrations, themes).
pub fn impact(
    before: &Fingerprints,
    after: &Fingerprints,
    files: &[String],
    ha: &dyn Capabilities,
) -> Impact {
    let mut reloads = BTreeSet::new();
    let mut restart = Vec::new();
    let mut changed = Vec::new();
    let keys: BTreeSet<&String> = before.keys().chain(after.keys()).collect();
    for key in keys {
        let (old, new) = (before.get(key), after.get(key));
        if old == new {
            continue;
        }
        changed.push(key.clone());
        if let Some(sub) = key.strip_prefix("homeassistant.") {
            if CORE_RELOADABLE.contains(&sub) {
                reloads.insert("homeassistant.reload_core_config".to_string());
            } else {
                restart.push(format!("`homeassistant: {sub}` is read at start"));
            }
            continue;
        }
        let integration = match key.split_once('@') {
            Some((_, platform)) => platform,
            None => key.as_str(),
        };
        let reload = format!("{integration}.reload");
        if ha.offers(&reload) {
            reloads.insert(reload);
        } else if new.is_some() && !ha.loaded(integration) {
            restart.push(format!(
                "`{integration}` is new: HA loads integrations at start"
            ));
        } else {
            restart.push(match key.split_once('@') {
                Some((domain, p)) => format!("{domain} platform `{p}` cannot be reloaded"),
                None => format!("`{integration}` cannot be reloaded"),
            });
        }
    }
    for f in files {
        let top: Vec<&str> = f.splitn(3, '/').collect();
        match top.as_slice() {
            ["custom_components", name, ..] => {
                restart.push(format!("custom integration `{name}` changed"));
            }
            [
                "blueprints",
                kind @ ("automation" | "script" | "template"),
                ..,
            ] if ha.offers(&format!("{kind}.reload")) => {
                reloads.insert(format!("{kind}.reload"));
            }
            ["themes", ..] if ha.offers("frontend.reload_themes") => {
                reloads.insert("frontend.reload_themes".to_string());
            }
            _ => {}
        }
    }
    restart.dedup();
    // Core config first: it can change what the rest reads (customize).
    let mut reloads: Vec<String> = reloads.into_iter().collect();
    reloads.sort_by_key(|r| (r != "homeassistant.reload_core_config", r.clone()));
    Impact {
        changed,
        reloads,
        restart,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(files: &[(&str, &str)]) -> Fingerprints {
        let dir = tempfile::tempdir().unwrap();
        for (p, c) in files {
            let path = dir.path().join(p);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, c).unwrap();
        }
        let mut fp = None;
        let opts = crate::validate::CheckOptions::new(dir.path());
        crate::validate::check_with(&opts, &mut |l| fp = Some(fingerprints(l.config))).unwrap();
        fp.unwrap()
    }

    /// An HA with these integrations loaded; every one but `systemmonitor` and `http`
    /// offers a reload, as HA's own do.
    struct Ha(&'static [&'static str]);

    impl Capabilities for Ha {
        fn loaded(&self, integration: &str) -> bool {
            self.0.contains(&integration)
        }
        fn offers(&self, service: &str) -> bool {
            let (d, s) = service.split_once('.').unwrap();
            (s == "reload" && self.loaded(d) && !["http", "systemmonitor"].contains(&d))
                || service == "homeassistant.reload_core_config"
        }
    }

    const ALL: Ha = Ha(&[
        "automation",
        "script",
        "template",
        "http",
        "systemmonitor",
        "homeassistant",
    ]);

    #[test]
    fn an_included_automation_change_is_an_automation_reload() {
        let base = "automation: !include automations.yaml\nhttp:\n  server_port: 8123\n";
        let before = load(&[
            ("configuration.yaml", base),
            (
                "automations.yaml",
                "- alias: a\n  triggers: []\n  actions: []\n",
            ),
        ]);
        let after = load(&[
            ("configuration.yaml", base),
            (
                "automations.yaml",
                "- alias: b\n  triggers: []\n  actions: []\n",
            ),
        ]);
        let i = impact(&before, &after, &["automations.yaml".into()], &ALL);
        assert_eq!(i.reloads, vec!["automation.reload"]);
        assert!(!i.needs_restart(), "{i:?}");
    }

    #[test]
    fn http_and_platforms_that_cannot_reload_need_a_restart() {
        let before = load(&[(
            "configuration.yaml",
            "http:\n  server_port: 8123\nsensor:\n  - platform: template\n    sensors: {}\n  - platform: systemmonitor\n    resources: []\n",
        )]);
        let after = load(&[(
            "configuration.yaml",
            "http:\n  server_port: 8124\nsensor:\n  - platform: template\n    sensors: {a: {value_template: x}}\n  - platform: systemmonitor\n    resources: []\n",
        )]);
        let i = impact(&before, &after, &[], &ALL);
        assert_eq!(i.reloads, vec!["template.reload"]);
        assert_eq!(i.restart, vec!["`http` cannot be reloaded"]);
    }

    #[test]
    fn a_package_change_lands_on_its_integration_and_new_integrations_restart() {
        let conf = "homeassistant:\n  packages: !include_dir_named packages\n";
        let before = load(&[
            ("configuration.yaml", conf),
            ("packages/p.yaml", "script:\n  s:\n    sequence: []\n"),
        ]);
        let after = load(&[
            ("configuration.yaml", conf),
            (
                "packages/p.yaml",
                "script:\n  s:\n    sequence: [{delay: 1}]\ninput_boolean:\n  x: {}\n",
            ),
        ]);
        let i = impact(&before, &after, &[], &ALL);
        assert_eq!(i.reloads, vec!["script.reload"]);
        assert_eq!(
            i.restart,
            vec!["`input_boolean` is new: HA loads integrations at start"]
        );
    }

    #[test]
    fn core_settings_reload_and_custom_integrations_restart() {
        let before = load(&[("configuration.yaml", "homeassistant:\n  name: A\n")]);
        let after = load(&[("configuration.yaml", "homeassistant:\n  name: B\n")]);
        let i = impact(
            &before,
            &after,
            &["custom_components/x/sensor.py".into()],
            &ALL,
        );
        assert_eq!(i.reloads, vec!["homeassistant.reload_core_config"]);
        assert_eq!(i.restart, vec!["custom integration `x` changed"]);
    }
}
