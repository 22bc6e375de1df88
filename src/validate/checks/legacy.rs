//! Syntax Home Assistant removed (an error) or replaced (information, with the modern form).
//!
//! - legacy `platform: template` entities (`sensor: - platform: template`), deprecated in
//!   2025.12 and removed in 2026.6 (core PRs #155355, #169728): the entities are no longer
//!   created;
//! - `service:`/`service_template:` in actions (now `action:`, 2024.8);
//! - `data_template:` (now `data:`);
//! - `platform:` inside triggers (now `trigger:`, 2024.10).

use crate::validate::codes::Code;
use crate::validate::loader::Loader;
use crate::validate::yaml::{Kind, Node};

/// Domains that had a legacy `template` platform.
const LEGACY_TEMPLATE_DOMAINS: &[&str] = &[
    "alarm_control_panel",
    "binary_sensor",
    "cover",
    "fan",
    "light",
    "lock",
    "sensor",
    "switch",
    "vacuum",
    "weather",
];

/// Checks a top-level integration entry (`sensor:` list or mapping of platforms).
pub fn top_level(loader: &mut Loader, domain: &str, value: &Node) {
    if !LEGACY_TEMPLATE_DOMAINS.contains(&domain) {
        return;
    }
    let platforms: Vec<&Node> = match &value.kind {
        Kind::Seq(items) => items.iter().collect(),
        Kind::Map(_) => vec![value],
        _ => return,
    };
    for p in platforms {
        let Some(entries) = p.as_map() else { continue };
        let Some((k, v)) = entries.iter().find(|(k, _)| k.as_str() == Some("platform")) else {
            continue;
        };
        if v.as_str() != Some("template") {
            continue;
        }
        let what = match entries.iter().find(|(k, _)| {
            k.as_str()
                .is_some_and(|s| s.ends_with('s') && s != "platform")
        }) {
            Some((
                k,
                Node {
                    kind: Kind::Map(m), ..
                },
            )) => {
                let names: Vec<String> = m
                    .iter()
                    .filter_map(|(n, _)| n.key_text().map(|s| s.into_owned()))
                    .take(3)
                    .collect();
                format!(
                    " ({} under `{}`: {}{})",
                    m.len(),
                    k.as_str().unwrap_or(""),
                    names.join(", "),
                    if m.len() > 3 { ", …" } else { "" }
                )
            }
            _ => String::new(),
        };
        let d = loader
            .at(
                Code::LegacyTemplateEntity,
                k.pos,
                format!("legacy `platform: template` {domain}{what}: removed in Home Assistant 2026.6, these entities are no longer created"),
            )
            .with_hint(format!("move them to the `template:` integration (`template: - {domain}: - name: …, state: …`); Settings → Repairs offers the migration on 2025.12+"));
        loader.push(d);
    }
}

/// Checks one mapping inside automations, scripts and other action-bearing parts.
pub fn mapping(loader: &mut Loader, n: &Node, is_trigger: bool) {
    let Some(entries) = n.as_map() else { return };
    let has = |key: &str| entries.iter().any(|(k, _)| k.as_str() == Some(key));
    for (k, v) in entries {
        match k.as_str() {
            Some("service")
                if !has("action")
                    && v.as_str()
                        .is_some_and(|s| s.contains('.') || s.contains("{{")) =>
            {
                let val = v.as_str().unwrap_or_default();
                let shown = if val.contains("{{") {
                    "…".to_string()
                } else {
                    val.to_string()
                };
                let d = loader
                    .at(
                        Code::DeprecatedServiceKey,
                        k.pos,
                        "`service:` is the old name of `action:` (Home Assistant 2024.8)",
                    )
                    .with_hint(format!("write `action: {shown}`"));
                loader.push(d);
            }
            Some("service_template") => {
                let d = loader
                    .at(
                        Code::DeprecatedServiceKey,
                        k.pos,
                        "`service_template:` is deprecated",
                    )
                    .with_hint("write `action:`; it accepts templates");
                loader.push(d);
            }
            Some("data_template") => {
                let d = loader
                    .at(
                        Code::DeprecatedDataTemplate,
                        k.pos,
                        "`data_template:` is deprecated",
                    )
                    .with_hint("write `data:`; it accepts templates");
                loader.push(d);
            }
            Some("platform") if is_trigger && !has("trigger") && v.as_str().is_some() => {
                let d = loader
                    .at(
                        Code::DeprecatedTriggerPlatform,
                        k.pos,
                        "`platform:` in a trigger is the old form (Home Assistant 2024.10)",
                    )
                    .with_hint(format!(
                        "write `trigger: {}`",
                        v.as_str().unwrap_or_default()
                    ));
                loader.push(d);
            }
            _ => {}
        }
    }
}
