//! Top-level shape of the configuration: it must be a mapping, its keys valid integration
//! domains (`cv.domain_key`), and every integration and entity platform one that HA or
//! `custom_components/` provides (HA: "Integration error: x - Integration 'x' not found",
//! which `check_config` only reports as a warning).

use crate::validate::codes::Code;
use crate::validate::domains::{self, CustomComponents};
use crate::validate::loader::Loader;
use crate::validate::yaml::{Kind, Node};

/// Checks the merged top level.
pub fn check(config: &Node, loader: &mut Loader, custom: &CustomComponents) {
    let entries = match &config.kind {
        Kind::Map(m) => m,
        Kind::Unknown => return,
        _ => {
            let d = loader
                .at(
                    Code::ConfigInvalid,
                    config.pos,
                    format!(
                        "configuration.yaml must be a mapping of integrations, not a {}",
                        config.type_name()
                    ),
                )
                .with_hint("Home Assistant refuses to start with it");
            loader.push(d);
            return;
        }
    };
    for (k, v) in entries {
        let key = k.key_text().unwrap_or_default().into_owned();
        let Some(domain) = domains::domain_key(&key) else {
            let d = loader
                .at(Code::ConfigInvalidDomain, k.pos, format!("`{key}` is not a valid integration domain"))
                .with_hint("top-level keys are integration domains, optionally followed by a space and a label (`automation manual:`)");
            loader.push(d);
            continue;
        };
        if !domains::is_known_integration(domain, custom) {
            let d = loader
                .at(Code::ConfigUnknownIntegration, k.pos, format!("integration `{domain}` not found"))
                .with_hint(format!(
                    "not part of Home Assistant {} and not in custom_components/ (removed, misspelt, or a custom integration not in the repository)",
                    domains::table_version()
                ));
            loader.push(d);
            continue;
        }
        if domains::is_entity_domain(domain) {
            platforms(domain, v, loader, custom);
        }
    }
}

/// `sensor: - platform: darksky`: the platform is an integration too.
fn platforms(domain: &str, v: &Node, loader: &mut Loader, custom: &CustomComponents) {
    let items: Vec<&Node> = match &v.kind {
        Kind::Seq(s) => s.iter().collect(),
        Kind::Map(_) => vec![v],
        _ => return,
    };
    for item in items {
        let Some(p) = item.get("platform") else {
            continue;
        };
        let Some(name) = p.as_str() else { continue };
        if domains::is_slug_domain(name) && !domains::is_known_integration(name, custom) {
            let d = loader
                .at(Code::ConfigUnknownIntegration, p.pos, format!("platform `{name}` of `{domain}`: integration not found"))
                .with_hint(format!(
                    "not part of Home Assistant {} and not in custom_components/; Home Assistant skips this platform",
                    domains::table_version()
                ));
            loader.push(d);
        }
    }
}
